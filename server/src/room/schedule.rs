//! When rooms tick, without threads or clocks: the deadlines of the rooms waiting for a
//! worker, earliest first, and the rule that paces one room's ticks. Time is data here
//! (every call takes `now`), so the order rooms run in is tested without sleeping; the
//! threads that act on it are [`super::pool`].

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// How many periods a room may fall behind before it gives up catching up: beyond it
/// (the machine stalled), its next tick is due now instead of a burst of overdue ticks.
pub const MAX_BEHIND: u32 = 10;

/// The deadline of a room's next tick, after the tick due at `scheduled` ran and ended at
/// `now`: one period on from its schedule (not from when it ran, so lateness does not
/// accumulate into drift), unless it fell more than [`MAX_BEHIND`] periods behind.
pub fn next_deadline(scheduled: Instant, period: Duration, now: Instant) -> Instant {
    let next = scheduled + period;
    if now.saturating_duration_since(next) > period * MAX_BEHIND {
        now
    } else {
        next
    }
}

/// One waiting room: its deadline, then the order it was inserted in (rooms due at the
/// same instant run first come, first served), then its key, which takes no part in
/// the order.
#[derive(Debug)]
struct Due<K> {
    deadline: Instant,
    seq: u64,
    key: K,
}

impl<K> PartialEq for Due<K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<K> Eq for Due<K> {}

impl<K> PartialOrd for Due<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for Due<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

/// Rooms waiting for their next tick, by deadline. A room being run is not in it (a
/// worker took it out), so no other worker can take it, and a room that runs long holds
/// back nothing but itself.
#[derive(Debug)]
pub struct Schedule<K> {
    heap: BinaryHeap<Reverse<Due<K>>>,
    seq: u64,
}

impl<K> Default for Schedule<K> {
    fn default() -> Self {
        Schedule {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<K> Schedule<K> {
    /// Adds room `key`, due at `deadline`. The caller inserts each room at most once.
    pub fn insert(&mut self, deadline: Instant, key: K) {
        self.seq += 1;
        self.heap.push(Reverse(Due {
            deadline,
            seq: self.seq,
            key,
        }));
    }

    /// Takes out the room whose deadline is earliest, if that deadline has come by
    /// `now`: its key and the deadline it was due at (for its lateness).
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, K)> {
        if self.next_deadline()? > now {
            return None;
        }
        let Reverse(due) = self.heap.pop()?;
        Some((due.deadline, due.key))
    }

    /// The earliest deadline waiting: until when a worker with nothing due may sleep.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(due)| due.deadline)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Everything due by `now`, in the order workers would take it.
    fn drain(schedule: &mut Schedule<&'static str>, now: Instant) -> Vec<&'static str> {
        std::iter::from_fn(|| schedule.pop_due(now).map(|(_, k)| k)).collect()
    }

    #[test]
    fn due_rooms_run_in_deadline_order_and_others_wait() {
        let t0 = Instant::now();
        let mut s = Schedule::default();
        s.insert(t0 + 3 * MS, "c");
        s.insert(t0 + MS, "a");
        s.insert(t0 + 9 * MS, "later");
        s.insert(t0 + 2 * MS, "b");
        s.insert(t0 + 2 * MS, "b2");
        assert_eq!(s.pop_due(t0), None, "nothing is due yet");
        assert_eq!(s.next_deadline(), Some(t0 + MS));
        assert_eq!(drain(&mut s, t0 + 5 * MS), ["a", "b", "b2", "c"]);
        assert_eq!(s.len(), 1);
        assert_eq!(s.next_deadline(), Some(t0 + 9 * MS));
        assert_eq!(s.pop_due(t0 + 9 * MS), Some((t0 + 9 * MS, "later")));
        assert!(s.is_empty());
    }

    /// Two rooms at 60 Hz on one worker, driven by a fake clock: room `slow` takes 5 ms a
    /// tick, `quick` 0.1 ms. `quick` starts at most one `slow` tick late, never later,
    /// and neither drifts from its schedule.
    #[test]
    fn a_slow_room_delays_another_by_at_most_its_own_tick() {
        let period = Duration::from_micros(16_667);
        let cost = |key: &str| match key {
            "slow" => 5 * MS,
            _ => MS / 10,
        };
        let t0 = Instant::now();
        let mut s = Schedule::default();
        s.insert(t0, "slow");
        s.insert(t0 + MS, "quick");
        let mut now = t0;
        let mut worst = Duration::ZERO;
        let mut ticks = std::collections::HashMap::new();
        while now < t0 + Duration::from_secs(1) {
            match s.pop_due(now) {
                Some((deadline, key)) => {
                    let lateness = now - deadline;
                    if key == "quick" {
                        worst = worst.max(lateness);
                    }
                    now += cost(key);
                    *ticks.entry(key).or_insert(0) += 1;
                    s.insert(next_deadline(deadline, period, now), key);
                }
                None => now = s.next_deadline().unwrap(),
            }
        }
        assert!(worst <= 5 * MS, "quick was {worst:?} late");
        assert!(
            worst > Duration::ZERO,
            "the rooms never collided: test nothing"
        );
        assert_eq!(ticks["slow"], 60);
        assert_eq!(ticks["quick"], 60);
    }

    /// With two workers, a room that runs long is out of the schedule: the other worker
    /// takes the next room at its deadline.
    #[test]
    fn a_running_room_blocks_nothing() {
        let t0 = Instant::now();
        let mut s = Schedule::default();
        s.insert(t0, "busy");
        s.insert(t0 + MS, "other");
        // Worker 1 takes `busy` at t0 and is still running it at t0 + 1 ms.
        assert_eq!(s.pop_due(t0), Some((t0, "busy")));
        // Worker 2 finds `other` due on time.
        assert_eq!(s.pop_due(t0 + MS), Some((t0 + MS, "other")));
    }

    #[test]
    fn pacing_keeps_the_schedule_and_resyncs_after_a_stall() {
        let t0 = Instant::now();
        let period = 10 * MS;
        // On time or a little late: one period on from the schedule, not from `now`.
        assert_eq!(next_deadline(t0, period, t0 + 2 * MS), t0 + period);
        assert_eq!(next_deadline(t0, period, t0 + 50 * MS), t0 + period);
        // Exactly MAX_BEHIND periods behind still catches up.
        let limit = t0 + period + period * MAX_BEHIND;
        assert_eq!(next_deadline(t0, period, limit), t0 + period);
        // Beyond: the next tick is due now, no burst.
        let stalled = limit + MS;
        assert_eq!(next_deadline(t0, period, stalled), stalled);
    }
}
