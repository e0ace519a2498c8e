//! Counters of what the network front and the sessions accepted, refused, dropped and
//! closed, shared by every task through one `Arc<Counters>` ([`crate::Server::counters`]).
//!
//! Names follow Prometheus conventions (`_total` for monotonic counters, plain names for
//! gauges) so that an exporter can publish [`Counters::metrics`] as they are.

// Peer-controlled codes are looked up here: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::sync::atomic::{AtomicU64, Ordering};

use shared::protocol::close;
use tokio::sync::Notify;

/// Sessions that ended, by the close code the server chose (1006 when the transport
/// was gone and no close frame could be sent).
#[derive(Debug, Default)]
pub struct CloseCounts {
    /// One counter per row of [`close::TABLE`]; codes outside it land in `other`.
    by_code: [AtomicU64; close::TABLE.len()],
    other: AtomicU64,
}

impl CloseCounts {
    pub fn record(&self, code: u16) {
        match close::TABLE.iter().position(|c| c.code == code) {
            Some(i) => {
                if let Some(counter) = self.by_code.get(i) {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => {
                self.other.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Sessions closed with `code` so far.
    pub fn get(&self, code: u16) -> u64 {
        close::TABLE
            .iter()
            .position(|c| c.code == code)
            .and_then(|i| self.by_code.get(i))
            .map_or_else(|| self.other.load(Ordering::Relaxed), load)
    }
}

/// Why a TCP connection was refused at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The connection cap was reached (answered with HTTP 503).
    Capacity,
    /// The peer's address opened connections faster than its quota (HTTP 429).
    RateLimited,
    /// The peer's address holds its cap of open connections (HTTP 429).
    PerAddress,
}

impl Refusal {
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Capacity => "capacity",
            Refusal::RateLimited => "rate_limited",
            Refusal::PerAddress => "per_address",
        }
    }
}

/// Why the rooms API refused a request; each is counted (`tickwire_api_refusals_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiRefusal {
    /// Seat reservations from one address came faster than `--api-join-rate` (429).
    JoinRateLimited,
    /// Room creations from one address came faster than `--api-create-rate` (429).
    CreateRateLimited,
    /// Room deletions from one address came faster than `--api-delete-rate` (429).
    DeleteRateLimited,
    /// The address holds its allowance of unused reservations (429).
    ReservationCap,
    /// An admin action on an exposed server without an admin token (403).
    AdminLocked,
    /// The admin token was missing or wrong (401).
    Unauthorized,
    /// A room spec out of range or malformed (400).
    InvalidRoom,
    /// The entity budget (`--max-entities`) or the room cap (`--max-rooms`) is spent (503).
    Capacity,
    /// The room has no free seat (409).
    RoomFull,
}

impl ApiRefusal {
    pub const ALL: [ApiRefusal; 9] = [
        ApiRefusal::JoinRateLimited,
        ApiRefusal::CreateRateLimited,
        ApiRefusal::DeleteRateLimited,
        ApiRefusal::ReservationCap,
        ApiRefusal::AdminLocked,
        ApiRefusal::Unauthorized,
        ApiRefusal::InvalidRoom,
        ApiRefusal::Capacity,
        ApiRefusal::RoomFull,
    ];

    /// The `reason` label of its counter.
    pub fn label(self) -> &'static str {
        match self {
            ApiRefusal::JoinRateLimited => "join_rate_limited",
            ApiRefusal::CreateRateLimited => "create_rate_limited",
            ApiRefusal::DeleteRateLimited => "delete_rate_limited",
            ApiRefusal::ReservationCap => "reservation_cap",
            ApiRefusal::AdminLocked => "admin_locked",
            ApiRefusal::Unauthorized => "unauthorized",
            ApiRefusal::InvalidRoom => "invalid_room",
            ApiRefusal::Capacity => "capacity",
            ApiRefusal::RoomFull => "room_full",
        }
    }
}

/// Every counter of the server. All fields are plain atomics, updated with `Relaxed`
/// ordering: they are statistics, nothing synchronises through them.
#[derive(Debug, Default)]
pub struct Counters {
    /// TCP connections accepted by the listener (refused ones included).
    pub connections_accepted_total: AtomicU64,
    /// Connections refused at accept because the connection cap was reached.
    pub connections_refused_capacity_total: AtomicU64,
    /// Connections refused at accept by the per-address rate limiter.
    pub connections_refused_rate_limited_total: AtomicU64,
    /// Connections refused at accept because their address held `--ip-max-connections`.
    pub connections_refused_per_address_total: AtomicU64,
    /// API requests refused, by [`ApiRefusal`].
    pub api_refusals_total: [AtomicU64; ApiRefusal::ALL.len()],
    /// Seat reservations whose token was not used within its lifetime.
    pub reservations_expired_total: AtomicU64,
    /// Refused connections dropped without an HTTP answer because too many refusals
    /// were already being answered.
    pub connections_dropped_overload_total: AtomicU64,
    /// HTTP connections closed because a request head did not arrive in time.
    pub http_header_timeouts_total: AtomicU64,
    /// Requests to `/ws` that were not a valid WebSocket upgrade (HTTP 400/426).
    pub upgrades_rejected_total: AtomicU64,
    /// Connections holding a slot of the connection cap (gauge).
    pub connections_open: AtomicU64,
    /// WebSocket sessions running (gauge).
    pub sessions_open: AtomicU64,
    /// WebSocket sessions started.
    pub sessions_total: AtomicU64,
    /// Sessions ended, by close code.
    pub session_closes_total: CloseCounts,
    /// Client messages dropped by the per-session rate limiter.
    pub client_messages_rate_limited_total: AtomicU64,
    /// Client messages dropped because the room's input queue for the session was full.
    pub client_messages_queue_full_total: AtomicU64,
    /// WebSocket pings the server sent.
    pub pings_sent_total: AtomicU64,
    /// WebSocket payload bytes received from clients (binary and text messages).
    pub bytes_in_total: AtomicU64,
    /// WebSocket payload bytes sent to clients (every binary message).
    pub bytes_out_total: AtomicU64,
    /// Sessions that took back a player (resume token, or a join token naming a player
    /// already in the room).
    pub resumes_total: AtomicU64,
    /// Players removed by an operator (`POST /api/rooms/{id}/kick`), counted by the node
    /// hosting the room.
    pub kicks_total: AtomicU64,
    /// Woken on the rare events (a session ended, a connection refused or timed out),
    /// for [`Counters::until`].
    events: Notify,
}

fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

impl Counters {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn dec(gauge: &AtomicU64) {
        // A gauge never goes below zero; `fetch_update` keeps it so even if a decrement
        // were ever paired wrongly.
        let _ = gauge.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
    }

    /// Counts a refused connection; returns the total refused for that reason.
    pub fn refused(&self, why: Refusal) -> u64 {
        let counter = match why {
            Refusal::Capacity => &self.connections_refused_capacity_total,
            Refusal::RateLimited => &self.connections_refused_rate_limited_total,
            Refusal::PerAddress => &self.connections_refused_per_address_total,
        };
        let total = counter.fetch_add(1, Ordering::Relaxed) + 1;
        self.events.notify_waiters();
        total
    }

    /// Counts a refused API request.
    pub fn api_refused(&self, why: ApiRefusal) {
        if let Some(c) = ApiRefusal::ALL
            .iter()
            .position(|&r| r == why)
            .and_then(|i| self.api_refusals_total.get(i))
        {
            Counters::inc(c);
        }
        self.events.notify_waiters();
    }

    /// Counts seat reservations that expired unused.
    pub fn reservations_expired(&self, n: usize) {
        if n > 0 {
            Counters::add(&self.reservations_expired_total, n);
            self.events.notify_waiters();
        }
    }

    /// API requests refused for `why` so far.
    pub fn api_refusals(&self, why: ApiRefusal) -> u64 {
        ApiRefusal::ALL
            .iter()
            .position(|&r| r == why)
            .and_then(|i| self.api_refusals_total.get(i))
            .map_or(0, load)
    }

    /// Counts a connection dropped for sending its request head too slowly.
    pub fn header_timed_out(&self) {
        Counters::inc(&self.http_header_timeouts_total);
        self.events.notify_waiters();
    }

    /// Counts a session that ended with `code` (and is no longer open).
    pub fn session_closed(&self, code: u16) {
        Counters::dec(&self.sessions_open);
        self.session_closes_total.record(code);
        self.events.notify_waiters();
    }

    /// Waits until `condition` holds. It is checked now and after every session end,
    /// refusal and header timeout, so a test can await "the session was closed with
    /// 4006" without polling.
    pub async fn until(&self, mut condition: impl FnMut(&Counters) -> bool) {
        loop {
            let notified = self.events.notified();
            tokio::pin!(notified);
            // Registered before the check, so an event between the two is not missed.
            notified.as_mut().enable();
            if condition(self) {
                return;
            }
            notified.await;
        }
    }

    /// Every counter, named and labelled like a Prometheus metric.
    pub fn metrics(&self) -> Vec<Metric> {
        let plain = |name: &'static str, value: &AtomicU64, gauge: bool| Metric {
            name,
            labels: Vec::new(),
            value: load(value),
            gauge,
        };
        let labelled = |name: &'static str, key: &'static str, label: &str, value: u64| Metric {
            name,
            labels: vec![(key, label.to_owned())],
            value,
            gauge: false,
        };
        let mut out = vec![
            plain(
                "tickwire_connections_accepted_total",
                &self.connections_accepted_total,
                false,
            ),
            labelled(
                "tickwire_connections_refused_total",
                "reason",
                "capacity",
                load(&self.connections_refused_capacity_total),
            ),
            labelled(
                "tickwire_connections_refused_total",
                "reason",
                "rate_limited",
                load(&self.connections_refused_rate_limited_total),
            ),
            labelled(
                "tickwire_connections_refused_total",
                "reason",
                "per_address",
                load(&self.connections_refused_per_address_total),
            ),
            plain(
                "tickwire_reservations_expired_total",
                &self.reservations_expired_total,
                false,
            ),
            plain(
                "tickwire_connections_dropped_overload_total",
                &self.connections_dropped_overload_total,
                false,
            ),
            plain(
                "tickwire_http_header_timeouts_total",
                &self.http_header_timeouts_total,
                false,
            ),
            plain(
                "tickwire_upgrades_rejected_total",
                &self.upgrades_rejected_total,
                false,
            ),
            plain("tickwire_connections_open", &self.connections_open, true),
            plain("tickwire_sessions_open", &self.sessions_open, true),
            plain("tickwire_sessions_total", &self.sessions_total, false),
            plain(
                "tickwire_client_messages_rate_limited_total",
                &self.client_messages_rate_limited_total,
                false,
            ),
            plain(
                "tickwire_client_messages_queue_full_total",
                &self.client_messages_queue_full_total,
                false,
            ),
            plain("tickwire_pings_sent_total", &self.pings_sent_total, false),
            plain("tickwire_bytes_in_total", &self.bytes_in_total, false),
            plain("tickwire_bytes_out_total", &self.bytes_out_total, false),
            plain("tickwire_resumes_total", &self.resumes_total, false),
            plain("tickwire_kicks_total", &self.kicks_total, false),
        ];
        for (why, counter) in ApiRefusal::ALL.iter().zip(&self.api_refusals_total) {
            out.push(labelled(
                "tickwire_api_refusals_total",
                "reason",
                why.label(),
                load(counter),
            ));
        }
        for (row, counter) in close::TABLE.iter().zip(&self.session_closes_total.by_code) {
            out.push(labelled(
                "tickwire_session_closes_total",
                "code",
                &row.code.to_string(),
                load(counter),
            ));
        }
        out.push(labelled(
            "tickwire_session_closes_total",
            "code",
            "other",
            load(&self.session_closes_total.other),
        ));
        out
    }
}

/// One counter or gauge of [`Counters::metrics`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub value: u64,
    /// A gauge (goes up and down) rather than a counter.
    pub gauge: bool,
}

impl std::fmt::Display for Metric {
    /// `name{label="value"} value`, as in the Prometheus text format.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)?;
        if !self.labels.is_empty() {
            f.write_str("{")?;
            for (i, (k, v)) in self.labels.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{k}=\"{v}\"")?;
            }
            f.write_str("}")?;
        }
        write!(f, " {}", self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_are_counted_by_code() {
        let c = Counters::default();
        c.session_closes_total.record(close::INVALID_INPUT);
        c.session_closes_total.record(close::INVALID_INPUT);
        c.session_closes_total.record(4999);
        c.session_closes_total.record(0);
        assert_eq!(c.session_closes_total.get(close::INVALID_INPUT), 2);
        assert_eq!(c.session_closes_total.get(close::TOO_SLOW), 0);
        // Untracked codes share `other`.
        assert_eq!(c.session_closes_total.get(4999), 2);
        let metrics: Vec<String> = c.metrics().iter().map(ToString::to_string).collect();
        assert!(metrics.contains(&r#"tickwire_session_closes_total{code="4007"} 2"#.to_owned()));
    }

    #[tokio::test]
    async fn until_wakes_on_events() {
        let c = std::sync::Arc::new(Counters::default());
        Counters::inc(&c.sessions_open);
        let waiter = tokio::spawn({
            let c = c.clone();
            async move {
                c.until(|c| c.session_closes_total.get(close::TOO_SLOW) == 1)
                    .await
            }
        });
        c.session_closed(close::TOO_SLOW);
        waiter.await.unwrap();
        assert_eq!(load(&c.sessions_open), 0);
    }

    #[test]
    fn gauges_do_not_underflow() {
        let c = Counters::default();
        Counters::dec(&c.sessions_open);
        assert_eq!(load(&c.sessions_open), 0);
        Counters::inc(&c.sessions_open);
        Counters::dec(&c.sessions_open);
        assert_eq!(load(&c.sessions_open), 0);
    }
}
