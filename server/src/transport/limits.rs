//! Rate limits: new connections per peer address, connections open per peer address,
//! messages per session, and a throttle for the log lines that refusals produce.
//!
//! All of them are GCRA limiters from `governor`, on the wall clock: they protect the
//! server's sockets and CPU, which live in real time (the room's snapshot limiters, by
//! contrast, run on simulation time).

// Peer-controlled addresses and message counts flow through this module.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The key a peer address is limited under: IPv4 addresses one by one, IPv6 by /64
/// (one subscriber's usual allocation, so rotating addresses within it gains nothing).
/// IPv4-mapped IPv6 addresses (a dual-stack listener) count as their IPv4 address.
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !0u128 << 64)),
        },
    }
}

/// New connections per peer address ([`ip_key`]), or no limit at all.
#[derive(Debug)]
pub struct IpLimiter {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

impl IpLimiter {
    /// `per_second` connections per address with bursts of `burst`; no limit when
    /// `per_second` is 0.
    pub fn new(per_second: u32, burst: u32) -> IpLimiter {
        IpLimiter::with_quota(NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(rate);
            Quota::per_second(rate).allow_burst(burst)
        }))
    }

    /// A limiter of `quota` per address; no limit for `None`.
    pub fn with_quota(quota: Option<Quota>) -> IpLimiter {
        IpLimiter {
            limiter: quota.map(RateLimiter::keyed),
        }
    }

    /// Whether `ip` may open one more connection now (consumes a cell if so).
    pub fn check(&self, ip: IpAddr) -> bool {
        self.limiter
            .as_ref()
            .is_none_or(|l| l.check_key(&ip_key(ip)).is_ok())
    }

    /// Forgets addresses whose state is back to "fresh" and returns the memory; called
    /// periodically so that the map holds only recently active addresses.
    pub fn prune(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// Addresses currently remembered.
    pub fn len(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Connections open per peer address ([`ip_key`]), against a cap.
#[derive(Debug)]
pub struct AddressSlots {
    cap: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in [`AddressSlots`], given back when dropped.
#[derive(Debug)]
pub struct AddressSlot {
    slots: Arc<AddressSlots>,
    key: IpAddr,
}

impl AddressSlots {
    /// At most `cap` connections per address; no cap when 0.
    pub fn new(cap: usize) -> Arc<AddressSlots> {
        Arc::new(AddressSlots {
            cap,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more connection from `ip`, unless it holds `cap` already.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        if self.cap == 0 {
            return Some(AddressSlot {
                slots: self.clone(),
                key: ip_key(ip),
            });
        }
        let key = ip_key(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            slots: self.clone(),
            key,
        })
    }

    /// Addresses with at least one connection open.
    pub fn len(&self) -> usize {
        self.open.lock().map_or(0, |o| o.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if self.slots.cap == 0 {
            return;
        }
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Per-session message limits, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLimits {
    /// Messages per second a session may send (its inputs, pings and requests).
    pub per_second: NonZeroU32,
    /// Messages a session may send at once above the steady rate.
    pub burst: NonZeroU32,
    /// Sending `flood_factor` times `per_second` for `flood_window` is flooding.
    pub flood_factor: u32,
    pub flood_window: Duration,
}

/// What to do with one client message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Within the quota.
    Accept,
    /// Over the quota: drop it (and count it).
    Drop,
    /// Over the quota for long enough to be abuse: close the session.
    Flood,
}

/// The two limiters of a session, and the one flood rule.
///
/// `quota` admits `per_second` messages with a burst of `burst`; the others are dropped
/// (and counted). `flood` sees every message, admitted or dropped: a bucket that holds
/// `F · rate · W` messages and drains at `F · rate` per second (`F` the flood factor,
/// `W` the flood window). A message that finds it full closes the session with 1008.
/// So a burst of up to `F · rate · W` messages at once (a tab catching up after a
/// stall) is only dropped, sending at up to `F` times the rate is never closed, and
/// sending at `x > F` times the rate is closed after `F · W / (x − F)` seconds (after
/// `W` at twice `F`). PROTOCOL.md states the same rule.
#[derive(Debug)]
pub struct MessageLimiter<C: Clock = DefaultClock> {
    quota: Direct<C>,
    flood: Direct<C>,
}

type Direct<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

impl MessageLimiter {
    pub fn new(limits: &MessageLimits) -> MessageLimiter {
        MessageLimiter::with_clock(limits, &DefaultClock::default())
    }
}

impl<C: Clock + Clone> MessageLimiter<C> {
    pub fn with_clock(limits: &MessageLimits, clock: &C) -> MessageLimiter<C> {
        let rate = f64::from(limits.per_second.get());
        let factor = f64::from(limits.flood_factor);
        let drain = to_nonzero(factor * rate);
        let bucket = to_nonzero(factor * rate * limits.flood_window.as_secs_f64());
        let quota = Quota::per_second(limits.per_second).allow_burst(limits.burst);
        MessageLimiter {
            quota: RateLimiter::direct_with_clock(quota, clock.clone()),
            flood: RateLimiter::direct_with_clock(
                Quota::per_second(drain).allow_burst(bucket),
                clock.clone(),
            ),
        }
    }

    pub fn admit(&self) -> Admission {
        if self.flood.check().is_err() {
            Admission::Flood
        } else if self.quota.check().is_ok() {
            Admission::Accept
        } else {
            Admission::Drop
        }
    }
}

fn to_nonzero(x: f64) -> NonZeroU32 {
    // Saturating float-to-int cast: limits beyond u32 are effectively "no limit".
    NonZeroU32::new(x.round() as u32).unwrap_or(NonZeroU32::MIN)
}

/// Lets one log line through per interval, so that a flood of refusals cannot turn into
/// a flood of log lines. Counts what it held back.
#[derive(Debug)]
pub struct LogThrottle {
    epoch: Instant,
    interval_ms: u64,
    /// Milliseconds since `epoch` before which nothing is logged.
    next_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl LogThrottle {
    pub fn new(interval: Duration) -> LogThrottle {
        LogThrottle {
            epoch: Instant::now(),
            interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
            next_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(lines held back since the last one)` if a line may be logged now.
    pub fn allow(&self) -> Option<u64> {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next_ms.load(Ordering::Relaxed);
        if now >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now.saturating_add(self.interval_ms),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use std::net::Ipv4Addr;

    #[test]
    fn ipv6_is_keyed_by_slash_64_and_mapped_ipv4_by_address() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key(c));
        assert_eq!(ip_key(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(ip_key(mapped), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(ip_key(v4), v4);
    }

    #[test]
    fn ip_limiter_counts_per_key_and_prunes() {
        let limiter = IpLimiter::new(1, 2);
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8::2".parse().unwrap();
        let other: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(limiter.check(a));
        assert!(limiter.check(same_64));
        assert!(!limiter.check(a), "the /64 shares one burst of 2");
        assert!(limiter.check(other));
        assert_eq!(limiter.len(), 2);
        limiter.prune();
        // Both keys are still limited (not fresh), so pruning keeps them.
        assert_eq!(limiter.len(), 2);

        let unlimited = IpLimiter::new(0, 0);
        assert!((0..1000).all(|_| unlimited.check(a)));
        assert!(unlimited.is_empty());
    }

    fn limits() -> MessageLimits {
        MessageLimits {
            per_second: NonZeroU32::new(120).unwrap(),
            burst: NonZeroU32::new(10).unwrap(),
            flood_factor: 10,
            flood_window: Duration::from_secs(2),
        }
    }

    /// Sends `per_tick` messages every 1/60 s of fake time for `seconds`; returns the
    /// verdict counts and the time of the first flood verdict.
    fn drive(per_tick: u32, seconds: u32) -> (usize, usize, Option<Duration>) {
        let clock = FakeRelativeClock::default();
        let limiter = MessageLimiter::with_clock(&limits(), &clock);
        let (mut accepted, mut dropped) = (0, 0);
        let tick = Duration::from_nanos(1_000_000_000 / 60);
        for t in 0..seconds * 60 {
            for _ in 0..per_tick {
                match limiter.admit() {
                    Admission::Accept => accepted += 1,
                    Admission::Drop => dropped += 1,
                    Admission::Flood => return (accepted, dropped, Some(tick * t)),
                }
            }
            clock.advance(tick);
        }
        (accepted, dropped, None)
    }

    #[test]
    fn one_input_per_tick_is_never_limited() {
        assert_eq!(drive(1, 10), (600, 0, None));
    }

    #[test]
    fn ten_inputs_per_tick_are_dropped_to_the_quota_but_not_closed() {
        // Ten times the tick rate is five times the quota: the surplus is dropped.
        let (accepted, dropped, flood) = drive(10, 10);
        assert_eq!(flood, None);
        assert!((1200..=1212).contains(&accepted), "{accepted}");
        assert_eq!(accepted + dropped, 6000);
    }

    #[test]
    fn up_to_the_flood_factor_is_never_closed() {
        // 20 per tick at 60 Hz = 1,200/s = 10 × 120/s: exactly the flood factor.
        let (accepted, dropped, flood) = drive(20, 30);
        assert_eq!(flood, None);
        assert!(accepted < dropped);
    }

    #[test]
    fn above_the_flood_factor_is_closed_after_fw_over_x_minus_f_seconds() {
        // 40 per tick = 20 × the rate: closed after F·W/(x − F) = 10·2/10 = 2 s.
        let flood = drive(40, 10).2.unwrap();
        assert!(
            (Duration::from_millis(1950)..=Duration::from_millis(2050)).contains(&flood),
            "{flood:?}"
        );
        // 30 per tick = 15 ×: after 10·2/5 = 4 s.
        let flood = drive(30, 10).2.unwrap();
        assert!(
            (Duration::from_millis(3950)..=Duration::from_millis(4050)).contains(&flood),
            "{flood:?}"
        );
        // Far above, sooner.
        let flood = drive(400, 10).2.unwrap();
        assert!(flood < Duration::from_millis(200), "{flood:?}");
    }

    #[test]
    fn a_burst_of_the_whole_bucket_is_dropped_one_more_is_closed() {
        // F · rate · W = 10 · 120 · 2 = 2,400 messages at one instant.
        let clock = FakeRelativeClock::default();
        let limiter = MessageLimiter::with_clock(&limits(), &clock);
        let verdicts: Vec<Admission> = (0..2_400).map(|_| limiter.admit()).collect();
        assert!(verdicts.iter().all(|v| *v != Admission::Flood));
        assert_eq!(
            verdicts.iter().filter(|v| **v == Admission::Accept).count(),
            10
        );
        assert_eq!(limiter.admit(), Admission::Flood);
        // A burst a browser tab produces after a stall (1,100 messages in 20 ms) passes.
        let clock = FakeRelativeClock::default();
        let limiter = MessageLimiter::with_clock(&limits(), &clock);
        for i in 0..1_100 {
            if i % 55 == 0 {
                clock.advance(Duration::from_millis(1));
            }
            assert_ne!(limiter.admit(), Admission::Flood, "message {i}");
        }
    }

    #[test]
    fn log_throttle_lets_one_line_through_per_interval() {
        let throttle = LogThrottle::new(Duration::from_secs(3600));
        assert_eq!(throttle.allow(), Some(0));
        assert_eq!(throttle.allow(), None);
        assert_eq!(throttle.allow(), None);
        let zero = LogThrottle::new(Duration::ZERO);
        assert_eq!(zero.allow(), Some(0));
        assert_eq!(zero.allow(), Some(0));
    }
}
