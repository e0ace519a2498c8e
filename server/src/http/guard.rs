//! Per-address guards of the open rooms API: how often one address may create, close
//! and reserve, and how many reservations it may hold unused, so that one peer can
//! neither exhaust the server nor lock a room it does not play in.
//!
//! Requests that carry the admin token are not limited here: the admin is the
//! operator's matchmaker or backend, which reserves seats for many players from one
//! address. Addresses are keyed like the connection limiter's ([`ip_key`]: IPv6 by /64).

// Peer addresses and room ids flow through here: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::Quota;

use crate::control::config::GuardSettings;
use crate::obs::counters::{ApiRefusal, Counters};
use crate::transport::limits::{IpLimiter, ip_key};

/// An unused reservation, as the ledger remembers it.
#[derive(Debug)]
struct Held {
    nonce: String,
    room: String,
    expires: Instant,
}

/// Unused reservations by address, and the address of each by nonce.
#[derive(Debug, Default)]
struct Ledger {
    by_ip: HashMap<IpAddr, Vec<Held>>,
    ip_of: HashMap<String, IpAddr>,
}

impl Ledger {
    /// Drops `ip`'s expired reservations; returns how many expired.
    fn expire(&mut self, ip: IpAddr, now: Instant) -> usize {
        let Some(held) = self.by_ip.get_mut(&ip) else {
            return 0;
        };
        let before = held.len();
        let ip_of = &mut self.ip_of;
        held.retain(|h| {
            let live = h.expires > now;
            if !live {
                ip_of.remove(&h.nonce);
            }
            live
        });
        let expired = before - held.len();
        if held.is_empty() {
            self.by_ip.remove(&ip);
        }
        expired
    }
}

/// The API's per-address guards.
#[derive(Debug)]
pub struct ApiGuard {
    settings: GuardSettings,
    joins: IpLimiter,
    creates: IpLimiter,
    deletes: IpLimiter,
    ledger: Mutex<Ledger>,
    counters: Arc<Counters>,
    /// When the limiters last forgot quiet addresses.
    pruned_at: Mutex<Instant>,
}

/// How often the rate limiters forget addresses that have been quiet.
const LIMITER_PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// A per-minute quota whose burst is the rate itself; `None` for 0 (unlimited).
fn per_minute(rate: u32) -> Option<Quota> {
    NonZeroU32::new(rate).map(Quota::per_minute)
}

impl ApiGuard {
    pub fn new(settings: GuardSettings, counters: Arc<Counters>) -> ApiGuard {
        let joins = NonZeroU32::new(settings.join_rate).map(|rate| {
            Quota::per_second(rate)
                .allow_burst(NonZeroU32::new(settings.join_burst).unwrap_or(rate))
        });
        ApiGuard {
            settings,
            joins: IpLimiter::with_quota(joins),
            creates: IpLimiter::with_quota(per_minute(settings.create_per_minute)),
            deletes: IpLimiter::with_quota(per_minute(settings.delete_per_minute)),
            ledger: Mutex::new(Ledger::default()),
            counters,
            pruned_at: Mutex::new(Instant::now()),
        }
    }

    /// Whether room creation, deletion and player-naming joins are refused for lack of
    /// an admin token on an exposed address.
    pub fn admin_locked(&self) -> bool {
        self.settings.admin_locked
    }

    fn limited(&self, limiter: &IpLimiter, ip: IpAddr, why: ApiRefusal) -> Result<(), ApiRefusal> {
        if limiter.check(ip) { Ok(()) } else { Err(why) }
    }

    /// One room creation by `ip`.
    pub fn create(&self, ip: IpAddr) -> Result<(), ApiRefusal> {
        self.limited(&self.creates, ip, ApiRefusal::CreateRateLimited)
    }

    /// One room deletion by `ip`.
    pub fn delete(&self, ip: IpAddr) -> Result<(), ApiRefusal> {
        self.limited(&self.deletes, ip, ApiRefusal::DeleteRateLimited)
    }

    /// Admits one reservation by `ip` in `room` and holds it as unused until
    /// [`ApiGuard::used`], [`ApiGuard::cancel`] or `expires`.
    pub fn reserve(
        &self,
        ip: IpAddr,
        room: &str,
        nonce: &str,
        expires: Instant,
        now: Instant,
    ) -> Result<(), ApiRefusal> {
        self.join_rate(ip)?;
        self.hold(ip, room, nonce, expires, now)
    }

    /// One reservation by `ip` against the join rate. In a cluster the node a request
    /// reaches checks the rate, and the node hosting the room [`ApiGuard::hold`]s it:
    /// the token is used there.
    pub fn join_rate(&self, ip: IpAddr) -> Result<(), ApiRefusal> {
        self.limited(&self.joins, ip, ApiRefusal::JoinRateLimited)
    }

    /// Holds reservation `nonce` by `ip` in `room` as unused until [`ApiGuard::used`],
    /// [`ApiGuard::cancel`] or `expires`, unless `ip` holds its allowance already.
    pub fn hold(
        &self,
        ip: IpAddr,
        room: &str,
        nonce: &str,
        expires: Instant,
        now: Instant,
    ) -> Result<(), ApiRefusal> {
        let key = ip_key(ip);
        let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        let expired = ledger.expire(key, now);
        self.counters.reservations_expired(expired);
        let held = ledger.by_ip.get(&key).map_or(&[][..], Vec::as_slice);
        let in_room = held.iter().filter(|h| h.room == room).count();
        let cap = |n: u32| if n == 0 { usize::MAX } else { n as usize };
        if in_room >= cap(self.settings.room_reservations)
            || held.len() >= cap(self.settings.reservations)
        {
            return Err(ApiRefusal::ReservationCap);
        }
        ledger.by_ip.entry(key).or_default().push(Held {
            nonce: nonce.to_owned(),
            room: room.to_owned(),
            expires,
        });
        ledger.ip_of.insert(nonce.to_owned(), key);
        Ok(())
    }

    /// The reservation `nonce` was not granted after all (the room refused it).
    pub fn cancel(&self, nonce: &str) {
        self.forget(nonce);
    }

    /// The join token of reservation `nonce` was used: it no longer counts as unused.
    pub fn used(&self, nonce: &str) {
        self.forget(nonce);
    }

    fn forget(&self, nonce: &str) {
        let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        let Some(ip) = ledger.ip_of.remove(nonce) else {
            return;
        };
        if let Some(held) = ledger.by_ip.get_mut(&ip) {
            held.retain(|h| h.nonce != nonce);
            if held.is_empty() {
                ledger.by_ip.remove(&ip);
            }
        }
    }

    /// Forgets expired reservations (counting them as never used) and, once a minute,
    /// the addresses the limiters no longer need; called every second or so.
    pub fn prune(&self, now: Instant) {
        let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        let ips: Vec<IpAddr> = ledger.by_ip.keys().copied().collect();
        let expired: usize = ips.into_iter().map(|ip| ledger.expire(ip, now)).sum();
        drop(ledger);
        self.counters.reservations_expired(expired);
        let mut pruned_at = self.pruned_at.lock().unwrap_or_else(|e| e.into_inner());
        if now.saturating_duration_since(*pruned_at) >= LIMITER_PRUNE_INTERVAL {
            *pruned_at = now;
            let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
            ledger.by_ip.shrink_to_fit();
            ledger.ip_of.shrink_to_fit();
            drop(ledger);
            for limiter in [&self.joins, &self.creates, &self.deletes] {
                limiter.prune();
            }
        }
    }

    /// Unused reservations held, over all addresses.
    pub fn unused(&self) -> usize {
        self.ledger
            .lock()
            .map_or(0, |l| l.by_ip.values().map(Vec::len).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> GuardSettings {
        GuardSettings {
            ip_max_connections: 0,
            join_rate: 1000,
            join_burst: 1000,
            create_per_minute: 2,
            delete_per_minute: 0,
            room_reservations: 2,
            reservations: 3,
            admin_locked: false,
        }
    }

    #[test]
    fn unused_reservations_are_capped_per_room_and_in_all() {
        let counters = Arc::new(Counters::default());
        let g = ApiGuard::new(settings(), counters.clone());
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let now = Instant::now();
        let later = now + Duration::from_secs(15);
        assert!(g.reserve(a, "r1", "n1", later, now).is_ok());
        assert!(g.reserve(a, "r1", "n2", later, now).is_ok());
        assert_eq!(
            g.reserve(a, "r1", "n3", later, now),
            Err(ApiRefusal::ReservationCap)
        );
        // Another address is not affected.
        assert!(g.reserve(b, "r1", "n4", later, now).is_ok());
        // Another room is, up to the total.
        assert!(g.reserve(a, "r2", "n5", later, now).is_ok());
        assert_eq!(
            g.reserve(a, "r2", "n6", later, now),
            Err(ApiRefusal::ReservationCap)
        );
        // A used reservation frees its place.
        g.used("n1");
        assert!(g.reserve(a, "r1", "n7", later, now).is_ok());
        // Expired ones too, and they are counted.
        let after = later + Duration::from_secs(1);
        assert!(
            g.reserve(a, "r1", "n8", after + Duration::from_secs(15), after)
                .is_ok()
        );
        assert_eq!(
            counters
                .reservations_expired_total
                .load(std::sync::atomic::Ordering::Relaxed),
            3
        );
        g.prune(after + Duration::from_secs(60));
        assert_eq!(g.unused(), 0);
        assert_eq!(
            counters
                .reservations_expired_total
                .load(std::sync::atomic::Ordering::Relaxed),
            5
        );
    }

    #[test]
    fn creations_are_rate_limited_per_address() {
        let g = ApiGuard::new(settings(), Arc::new(Counters::default()));
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "::1".parse().unwrap());
        assert!(g.create(a).is_ok() && g.create(a).is_ok());
        assert_eq!(g.create(a), Err(ApiRefusal::CreateRateLimited));
        assert!(g.create(b).is_ok());
        // 0 is unlimited.
        assert!((0..100).all(|_| g.delete(a).is_ok()));
    }
}
