//! The room workers: a fixed set of OS threads that run every room's ticks, each due tick
//! in deadline order ([`Schedule`]).
//!
//! A room is a [`Job`] in a slot: waiting in the schedule, running on one worker, or
//! parked (idle, out of the schedule until woken). A worker takes the earliest room
//! whose deadline has come, runs one turn of it *outside the lock*, and puts it back at
//! the deadline the turn returns. A room is taken out of the schedule while it runs, so
//! it runs on one worker at a time and the job (and the room's World in it) moves
//! between workers but is never shared; a room that runs long holds back only itself
//! while another worker serves the rest.
//!
//! With nothing due, a worker sleeps on the condition variable until the earliest
//! deadline. Whoever makes an earlier deadline (a [`Waker`] waking a parked room, a new
//! room) or takes one away from the watch (a worker starting a turn while more rooms
//! wait) notifies a sleeping worker, so the next deadline is always watched; busy
//! workers need no notification, they look at the schedule after every turn.
//!
//! Fixed threads rather than one per room: 2 cores preempting 40 room threads made ticks
//! start up to 14 ms late, and an idle room's thread cost its stack and wake-ups.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::Instant;

use super::schedule::Schedule;

/// What a turn of a room decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Run the room again at this deadline.
    Next(Instant),
    /// The room is idle: keep it out of the schedule until it is woken.
    Park,
    /// The room has ended: drop it.
    Ended,
}

/// A room as the workers see it.
pub trait Job: Send {
    /// Runs the room's tick that was due at `scheduled` (or ends the room).
    fn turn(&mut self, scheduled: Instant) -> Turn;
}

/// Where a room is.
enum Slot {
    /// In the schedule, waiting for its deadline.
    Waiting(Box<dyn Job>),
    /// Out of the schedule until woken.
    Parked(Box<dyn Job>),
    /// On a worker; `woken` if a wake came meanwhile (it must not park then).
    Running { woken: bool },
}

#[derive(Default)]
struct State {
    schedule: Schedule<u64>,
    slots: HashMap<u64, Slot>,
    next_id: u64,
    /// No more rooms come: workers exit once the last room has ended.
    closing: bool,
    /// Workers waiting on the condition variable. Busy workers look at the schedule
    /// again after each turn, so only sleepers ever need a notification.
    sleepers: usize,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled when a deadline earlier than the watched one may exist, or at close.
    changed: Condvar,
}

impl Shared {
    /// Tells a sleeping worker, if any, that the schedule changed under its watch.
    fn notify(&self, state: &State) {
        if state.sleepers > 0 {
            self.changed.notify_one();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a job panicked on a worker; the state itself is only
        // changed by the short sections below, which do not panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts a parked room back in the schedule, due now; a running one is told not to
    /// park. Waiting rooms are due soon anyway.
    fn wake(&self, id: u64) {
        let mut state = self.lock();
        let state = &mut *state;
        match state.slots.remove(&id) {
            Some(Slot::Parked(job)) => {
                state.schedule.insert(Instant::now(), id);
                state.slots.insert(id, Slot::Waiting(job));
                self.notify(state);
            }
            Some(Slot::Running { .. }) => {
                state.slots.insert(id, Slot::Running { woken: true });
            }
            Some(waiting @ Slot::Waiting(_)) => {
                state.slots.insert(id, waiting);
            }
            None => {}
        }
    }

    fn work(&self) {
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            if let Some((scheduled, id)) = state.schedule.pop_due(now) {
                let job = match state.slots.insert(id, Slot::Running { woken: false }) {
                    Some(Slot::Waiting(job)) => job,
                    other => {
                        // Not reachable: only waiting rooms are in the schedule.
                        state.slots.remove(&id);
                        if let Some(other) = other {
                            state.slots.insert(id, other);
                        }
                        continue;
                    }
                };
                if !state.schedule.is_empty() {
                    // This worker is busy for a while: another one watches the rest.
                    self.notify(&state);
                }
                drop(state);
                let mut job = job;
                // A panic in one room's tick ends that room (its sessions' queues close
                // with it), not the worker, which every other room needs.
                let turn =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.turn(scheduled)))
                        .unwrap_or_else(|_| {
                            tracing::error!("a room's tick panicked: the room is ended");
                            Turn::Ended
                        });
                state = self.lock();
                let woken = matches!(state.slots.remove(&id), Some(Slot::Running { woken: true }));
                match turn {
                    Turn::Next(deadline) => {
                        state.schedule.insert(deadline, id);
                        state.slots.insert(id, Slot::Waiting(job));
                    }
                    // Woken while running, or the pool is closing (a room parking now
                    // must still see that it was closed): due again at once.
                    Turn::Park if woken || state.closing => {
                        state.schedule.insert(Instant::now(), id);
                        state.slots.insert(id, Slot::Waiting(job));
                    }
                    Turn::Park => {
                        state.slots.insert(id, Slot::Parked(job));
                    }
                    Turn::Ended => {
                        // The room's World and buffers are freed off the lock.
                        drop(state);
                        drop(job);
                        state = self.lock();
                    }
                }
                // This worker loops and watches the earliest deadline itself, including
                // the one it just inserted: no one else needs waking.
            } else if state.closing && state.slots.is_empty() {
                self.changed.notify_all();
                return;
            } else {
                state.sleepers += 1;
                state = match state.schedule.next_deadline() {
                    Some(deadline) => {
                        let wait = deadline.saturating_duration_since(now);
                        self.changed
                            .wait_timeout(state, wait)
                            .unwrap_or_else(|e| e.into_inner())
                            .0
                    }
                    None => self.changed.wait(state).unwrap_or_else(|e| e.into_inner()),
                };
                state.sleepers -= 1;
            }
        }
    }
}

/// Wakes one room of a pool (a command arrived for it, or it was closed). Cheap to
/// clone; does nothing once the pool is gone.
#[derive(Debug, Clone)]
pub struct Waker {
    shared: Weak<Shared>,
    id: u64,
}

impl Waker {
    pub fn wake(&self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.wake(self.id);
        }
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// The workers and the rooms they run.
#[derive(Debug)]
pub struct RoomPool {
    shared: Arc<Shared>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// The priority room workers ask for: about nice -11 on Linux.
///
/// A worker is busy for as long as ticks are due, so the kernel's fair scheduler ranks
/// it below threads that mostly sleep (sessions, other processes) and preempts it
/// mid-tick whenever one of them wakes: with a thread per room each tick was such a
/// sleeper and ran at once. The higher weight gives the ticks the cores when they are
/// due; it needs CAP_SYS_NICE (or root), and without it the workers run at the
/// ordinary priority.
const WORKER_PRIORITY: u8 = 74;

/// Raises the calling worker's priority ([`WORKER_PRIORITY`]); says once if it cannot.
fn raise_priority(worker: usize) {
    let asked = thread_priority::ThreadPriorityValue::try_from(WORKER_PRIORITY)
        .map(thread_priority::ThreadPriority::Crossplatform);
    let result = asked.map(thread_priority::set_current_thread_priority);
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) if worker == 0 => {
            tracing::warn!(error = ?e, "room workers keep the ordinary priority (raising it needs CAP_SYS_NICE): ticks may start late on a busy machine");
        }
        Ok(Err(_)) => {}
        Err(e) => tracing::warn!(error = %e, "invalid room worker priority"),
    }
}

impl RoomPool {
    /// Starts `workers` threads (at least one).
    pub fn new(workers: usize) -> std::io::Result<RoomPool> {
        let shared = Arc::new(Shared::default());
        let pool = RoomPool {
            shared: shared.clone(),
            workers: Mutex::new(Vec::new()),
        };
        for n in 0..workers.max(1) {
            let shared = shared.clone();
            let thread = std::thread::Builder::new()
                .name(format!("room-worker-{n}"))
                .spawn(move || {
                    raise_priority(n);
                    shared.work()
                })?;
            pool.handles().push(thread);
        }
        Ok(pool)
    }

    fn handles(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.workers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a room, due at once; returns what wakes it.
    pub fn add(&self, job: Box<dyn Job>) -> Waker {
        let mut state = self.shared.lock();
        state.next_id += 1;
        let id = state.next_id;
        state.schedule.insert(Instant::now(), id);
        state.slots.insert(id, Slot::Waiting(job));
        self.shared.notify(&state);
        Waker {
            shared: Arc::downgrade(&self.shared),
            id,
        }
    }

    /// Rooms in the pool (waiting, running or parked).
    pub fn len(&self) -> usize {
        self.shared.lock().slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// No more rooms come: every parked room is woken (to see that it was closed), and
    /// the workers exit once every room has ended. Returns the workers' threads to join.
    pub fn close(&self) -> Vec<JoinHandle<()>> {
        let parked: Vec<u64> = {
            let mut state = self.shared.lock();
            state.closing = true;
            state
                .slots
                .iter()
                .filter(|(_, slot)| matches!(slot, Slot::Parked(_)))
                .map(|(id, _)| *id)
                .collect()
        };
        for id in parked {
            self.shared.wake(id);
        }
        self.shared.changed.notify_all();
        std::mem::take(&mut *self.handles())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// A room that reports each turn on a channel and parks, runs on or ends as told.
    struct Fake {
        name: &'static str,
        turns: mpsc::Sender<(&'static str, Instant)>,
        park: Arc<AtomicBool>,
        end: Arc<AtomicBool>,
        ran: Arc<AtomicU32>,
    }

    impl Job for Fake {
        fn turn(&mut self, scheduled: Instant) -> Turn {
            if self.end.load(Ordering::SeqCst) {
                let _ = self.turns.send((self.name, scheduled));
                return Turn::Ended;
            }
            self.ran.fetch_add(1, Ordering::SeqCst);
            let _ = self.turns.send((self.name, scheduled));
            if self.park.load(Ordering::SeqCst) {
                Turn::Park
            } else {
                Turn::Next(scheduled + Duration::from_millis(1))
            }
        }
    }

    fn fake(
        name: &'static str,
        turns: &mpsc::Sender<(&'static str, Instant)>,
    ) -> (Fake, Arc<AtomicBool>, Arc<AtomicBool>, Arc<AtomicU32>) {
        let (park, end, ran) = (Arc::default(), Arc::default(), Arc::default());
        let job = Fake {
            name,
            turns: turns.clone(),
            park: Arc::clone(&park),
            end: Arc::clone(&end),
            ran: Arc::clone(&ran),
        };
        (job, park, end, ran)
    }

    const WAIT: Duration = Duration::from_secs(10);

    /// A parked room runs no turn until woken; woken, it runs at once (due now), and
    /// closing the pool ends it and lets the workers exit.
    #[test]
    fn a_parked_room_runs_only_when_woken() {
        let pool = RoomPool::new(2).unwrap();
        let (tx, rx) = mpsc::channel();
        let (job, park, end, ran) = fake("a", &tx);
        park.store(true, Ordering::SeqCst);
        let waker = pool.add(Box::new(job));
        assert_eq!(
            rx.recv_timeout(WAIT).unwrap().0,
            "a",
            "a new room runs once"
        );
        // Parked: a second room runs many turns while `a` runs none.
        let (other, _, other_end, other_ran) = fake("b", &tx);
        pool.add(Box::new(other));
        while other_ran.load(Ordering::SeqCst) < 20 {
            rx.recv_timeout(WAIT).unwrap();
        }
        assert_eq!(ran.load(Ordering::SeqCst), 1, "a parked room does not run");
        other_end.store(true, Ordering::SeqCst);

        let before = Instant::now();
        waker.wake();
        let (name, scheduled) = loop {
            let turn = rx.recv_timeout(WAIT).unwrap();
            if turn.0 == "a" {
                break turn;
            }
        };
        assert_eq!(name, "a");
        assert!(
            scheduled >= before,
            "woken, it is due from now: no catch-up"
        );
        assert_eq!(ran.load(Ordering::SeqCst), 2);

        end.store(true, Ordering::SeqCst);
        for worker in pool.close() {
            worker.join().unwrap();
        }
        assert!(pool.is_empty(), "every room ended before the workers exit");
    }

    /// A room whose tick panics is ended; the worker lives on and runs the others (one
    /// worker here, so a dead one would stop them all), and the pool still closes.
    #[test]
    fn a_panicking_room_ends_and_the_worker_carries_on() {
        struct Panics;
        impl Job for Panics {
            fn turn(&mut self, _: Instant) -> Turn {
                panic!("a bug in a game's system");
            }
        }
        let pool = RoomPool::new(1).unwrap();
        pool.add(Box::new(Panics));
        let (tx, rx) = mpsc::channel();
        let (job, _, end, ran) = fake("b", &tx);
        pool.add(Box::new(job));
        while ran.load(Ordering::SeqCst) < 5 {
            rx.recv_timeout(WAIT).unwrap();
        }
        end.store(true, Ordering::SeqCst);
        for worker in pool.close() {
            worker.join().unwrap();
        }
        assert!(pool.is_empty(), "the panicked room's slot is gone too");
    }
}
