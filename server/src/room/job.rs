//! One room as a worker runs it ([`pool::Job`](super::pool::Job)): a turn is one tick of
//! the [`Driver`] (lateness against the deadline it was due at, `tick_once`, timings and
//! metrics, the periodic report), then the deadline of the next one; an idle room parks
//! instead, and a closed room (or all of them, at shutdown) ends: its sessions are told
//! why, its seats published, and the room dropped.
//!
//! A new room builds its core (World, schedule, replication: ~180 KiB once ticked) only
//! when the first command comes; until then it holds its channels and published state
//! and nothing else, so rooms nobody uses cost little.
//!
//! Only the worker running a turn touches the job, so the room's World stays owned by
//! its tick loop alone, whichever thread that loop runs on this tick.

use std::time::{Duration, Instant};

use cpu_time::ThreadTime;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;
use tracing::info;

use std::sync::Arc;

use super::driver::{Driver, Parts};
use super::pool::{Job, Turn};
use super::schedule::next_deadline;
use super::stats::RoomStats;
use super::{Kick, RoomConfig};
use crate::obs::metrics::RoomMetrics;

/// Makes (or finds again) a room's metric handles.
pub(super) type Register = Box<dyn Fn() -> RoomMetrics + Send>;

/// A room's driver with its pacing and lifetime.
pub(super) struct RoomJob {
    config: Arc<RoomConfig>,
    /// Until the first command: what the driver will be made of.
    pending: Option<Parts>,
    /// From the first command on.
    driver: Option<Driver>,
    period: Duration,
    report_at: Instant,
    shutdown: CancellationToken,
    close: CancellationToken,
    /// Dropped with the job: whoever waits for the room's end ([`super::RoomDone`]).
    _done: oneshot::Sender<()>,
    register: Register,
    /// Whether the room is parked, for whoever watches ([`super::RoomHandle::parked`]).
    parked: watch::Sender<bool>,
}

impl RoomJob {
    pub(super) fn new(
        parts: Parts,
        shutdown: CancellationToken,
        close: CancellationToken,
        done: oneshot::Sender<()>,
        register: Register,
        parked: watch::Sender<bool>,
    ) -> RoomJob {
        let config = parts.config.clone();
        let settings = &config.settings;
        let period = Duration::from_secs_f64(1.0 / f64::from(settings.tick_rate));
        info!(
            room = %config.id,
            tick_rate = settings.tick_rate,
            snapshot_rate = settings.snapshot_rate,
            max_players = settings.max_players,
            "room started"
        );
        RoomJob {
            report_at: Instant::now() + config.stats_interval,
            config,
            pending: Some(parts),
            driver: None,
            period,
            shutdown,
            close,
            _done: done,
            register,
            parked,
        }
    }

    /// What the end of a room does: every session is told why, seats are published.
    fn end(&mut self) {
        let why = if self.shutdown.is_cancelled() {
            Kick::Shutdown
        } else {
            Kick::RoomClosed
        };
        if let Some(driver) = &mut self.driver {
            driver.kick_all(why);
            driver.publish_seats();
        }
        info!(room = %self.config.id, reason = ?why, "room stopped");
    }

    /// The driver, built now if a first command came; `None` while nobody asked.
    fn built<'a>(
        pending: &mut Option<Parts>,
        driver: &'a mut Option<Driver>,
    ) -> Option<&'a mut Driver> {
        if driver.is_none() {
            match pending.take() {
                Some(parts) if parts.asked() => *driver = Some(Driver::new(parts)),
                other => *pending = other,
            }
        }
        driver.as_mut()
    }
}

impl Job for RoomJob {
    fn turn(&mut self, scheduled: Instant) -> Turn {
        if self.shutdown.is_cancelled() || self.close.is_cancelled() {
            self.end();
            return Turn::Ended;
        }
        let was_parked = *self.parked.borrow();
        let Some(driver) = Self::built(&mut self.pending, &mut self.driver) else {
            if let Some(parts) = &self.pending {
                parts.publish_empty();
            }
            self.parked.send_replace(true);
            return Turn::Park;
        };
        if was_parked {
            // A parked room's series may have been dropped as idle by the exporter
            // (metrics::IDLE_TIMEOUT): handles of dropped series would record into the
            // void, so take them again (the same ones if the series are still there).
            driver.metrics = (self.register)();
            self.parked.send_replace(false);
        }
        let started = Instant::now();
        let cpu = ThreadTime::now();
        // How far this tick starts from its schedule: the room's tick jitter.
        let lateness = started.saturating_duration_since(scheduled);
        if lateness > self.period {
            driver.core.timer.current.late_ticks += 1;
        }
        driver.tick_once(started);
        let took = started.elapsed();
        driver.core.timer.record_tick(took, cpu.elapsed(), lateness);
        let metrics = &driver.metrics;
        metrics.tick_seconds.record(took.as_secs_f64());
        metrics.tick_lateness_seconds.record(lateness.as_secs_f64());

        if started >= self.report_at {
            self.report_at = started + driver.core.config().stats_interval;
            driver.report();
        }
        if driver.is_idle() {
            // What the room publishes stays true while it is parked: seats were
            // published by the tick; the window so far is reported (and logged), then
            // replaced by an empty summary, since a parked room sends and spends
            // nothing (the API derives its load from the summary).
            if driver.core.timer.current.ticks > 0 || driver.stats.borrow().clients > 0 {
                self.report_at = started + driver.core.config().stats_interval;
                driver.report();
                let tick = driver.stats.borrow().tick;
                driver.stats.send_replace(RoomStats {
                    tick,
                    ..RoomStats::unreported()
                });
            }
            self.parked.send_replace(true);
            return Turn::Park;
        }
        Turn::Next(next_deadline(scheduled, self.period, Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;

    use super::*;
    use crate::room::driver::tests::{connection, parts};
    use crate::room::driver::{Command, Connection};
    use crate::room::harness::{anon, name};
    use crate::room::{Joined, RoomError, RoomInput};

    struct Room {
        job: RoomJob,
        commands: mpsc::Sender<Command>,
        shutdown: CancellationToken,
        close: CancellationToken,
        parked: watch::Receiver<bool>,
        done: oneshot::Receiver<()>,
    }

    fn room() -> Room {
        let (parts, commands, _) = parts();
        let (shutdown, close) = (CancellationToken::new(), CancellationToken::new());
        let (done_tx, done) = oneshot::channel();
        let (parked_tx, parked) = watch::channel(false);
        let job = RoomJob::new(
            parts,
            shutdown.clone(),
            close.clone(),
            done_tx,
            Box::new(RoomMetrics::noop),
            parked_tx,
        );
        Room {
            job,
            commands,
            shutdown,
            close,
            parked,
            done,
        }
    }

    /// Queues a reservation for `player` that expires at `expires`.
    fn reserve(
        room: &Room,
        player: &str,
        expires: Instant,
    ) -> oneshot::Receiver<Result<(), RoomError>> {
        let (reply, answer) = oneshot::channel();
        room.commands
            .try_send(Command::Reserve {
                player: player.into(),
                nonce: "n".into(),
                expires,
                reply,
            })
            .unwrap();
        answer
    }

    fn tick(room: &Room) -> Option<u32> {
        room.job.driver.as_ref().map(|d| d.core.current_tick())
    }

    /// A session's kick reason, and what must stay open for it to count as connected.
    struct Session {
        kick: oneshot::Receiver<Kick>,
        ends: (mpsc::Sender<RoomInput>, mpsc::Receiver<bytes::Bytes>),
        _answer: oneshot::Receiver<Result<Joined, RoomError>>,
    }

    /// Queues a join of `player`.
    fn join(room: &Room, player: &str) -> Session {
        let (conn, inputs, outbound) = connection();
        let (kick, kick_rx) = oneshot::channel();
        let (reply, answer) = oneshot::channel();
        room.commands
            .try_send(Command::Join {
                kind: anon(player),
                name: name(player),
                conn: Connection { kick, ..conn },
                reply,
            })
            .unwrap();
        Session {
            kick: kick_rx,
            ends: (inputs, outbound),
            _answer: answer,
        }
    }

    /// A new room parks without building its World; the first command builds it and
    /// it ticks while a player is in, parks once the player left, and a later
    /// command wakes it with its tick numbers going on.
    #[test]
    fn an_idle_room_parks_and_a_command_wakes_it() {
        let mut r = room();
        let t0 = Instant::now();
        assert_eq!(r.job.turn(t0), Turn::Park);
        assert!(*r.parked.borrow());
        assert_eq!(tick(&r), None, "nothing asked: no World built");

        let period = Duration::from_secs_f64(1.0 / 60.0);
        let session = join(&r, "ada");
        assert_eq!(r.job.turn(t0), Turn::Next(t0 + period));
        assert!(!*r.parked.borrow());
        assert_eq!(tick(&r), Some(1));
        assert_eq!(
            r.job.turn(t0 + period),
            Turn::Next(t0 + 2 * period),
            "held by the player"
        );
        // The player leaves for good: nothing holds the room any more.
        session.ends.0.try_send(RoomInput::Leave).unwrap();
        drop(session);
        assert_eq!(r.job.turn(t0 + 2 * period), Turn::Park);
        assert!(*r.parked.borrow());
        assert_eq!(tick(&r), Some(3));

        let woken = Instant::now();
        let mut answer = reserve(&r, "bob", woken + Duration::from_secs(60));
        assert_eq!(r.job.turn(woken), Turn::Next(woken + period));
        assert!(answer.try_recv().unwrap().is_ok());
        assert_eq!(tick(&r), Some(4), "ticks continue");
    }

    /// A closed room's sessions learn it was closed; at shutdown, that the server is
    /// going away. Either way the room ends and says so.
    #[test]
    fn an_ending_room_kicks_its_sessions_with_the_reason() {
        for (shutdown, why) in [(false, Kick::RoomClosed), (true, Kick::Shutdown)] {
            let mut r = room();
            let mut session = join(&r, "ada");
            assert!(matches!(r.job.turn(Instant::now()), Turn::Next(_)));
            let seats = r.job.driver.as_ref().unwrap().core.seats();
            assert_eq!(seats.players, 1);
            if shutdown {
                r.shutdown.cancel();
            } else {
                r.close.cancel();
            }
            assert_eq!(r.job.turn(Instant::now()), Turn::Ended);
            assert_eq!(session.kick.try_recv(), Ok(why));
            assert_eq!(
                r.done.try_recv(),
                Err(oneshot::error::TryRecvError::Empty),
                "the room is not dropped yet"
            );
            drop(r.job);
            assert_eq!(
                r.done.try_recv(),
                Err(oneshot::error::TryRecvError::Closed),
                "the completion handle resolves once the room is dropped"
            );
        }
    }
}
