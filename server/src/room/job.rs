//! One room as a worker runs it ([`pool::Job`](super::pool::Job)): a turn is one tick of
//! the [`Driver`] (lateness against the deadline it was due at, `tick_once`, timings and
//! metrics, the periodic report), then the deadline of the next one; an idle room parks
//! instead, and a closed room (or all of them, at shutdown) ends: its sessions are told
//! why, its seats published, and the room dropped.
//!
//! Only the worker running a turn touches the job, so the room's World stays owned by
//! its tick loop alone, whichever thread that loop runs on this tick.

use std::time::{Duration, Instant};

use cpu_time::ThreadTime;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::Kick;
use super::driver::Driver;
use super::pool::{Job, Turn};
use super::schedule::next_deadline;
use crate::obs::metrics::RoomMetrics;

/// Makes (or finds again) a room's metric handles.
pub(super) type Register = Box<dyn Fn() -> RoomMetrics + Send>;

/// A room's driver with its pacing and lifetime.
pub(super) struct RoomJob {
    driver: Driver,
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
        driver: Driver,
        shutdown: CancellationToken,
        close: CancellationToken,
        done: oneshot::Sender<()>,
        register: Register,
        parked: watch::Sender<bool>,
    ) -> RoomJob {
        let config = driver.core.config();
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
            driver,
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
        self.driver.kick_all(why);
        self.driver.publish_seats();
        info!(room = %self.driver.core.config().id, reason = ?why, "room stopped");
    }
}

impl Job for RoomJob {
    fn turn(&mut self, scheduled: Instant) -> Turn {
        if self.shutdown.is_cancelled() || self.close.is_cancelled() {
            self.end();
            return Turn::Ended;
        }
        if self.parked.send_replace(false) {
            // A parked room's series may have been dropped as idle by the exporter
            // (metrics::IDLE_TIMEOUT): handles of dropped series would record into the
            // void, so take them again (the same ones if the series are still there).
            self.driver.metrics = (self.register)();
        }
        let started = Instant::now();
        let cpu = ThreadTime::now();
        // How far this tick starts from its schedule: the room's tick jitter.
        let lateness = started.saturating_duration_since(scheduled);
        if lateness > self.period {
            self.driver.core.timer.current.late_ticks += 1;
        }
        self.driver.tick_once(started);
        let took = started.elapsed();
        self.driver
            .core
            .timer
            .record_tick(took, cpu.elapsed(), lateness);
        let metrics = &self.driver.metrics;
        metrics.tick_seconds.record(took.as_secs_f64());
        metrics.tick_lateness_seconds.record(lateness.as_secs_f64());

        if started >= self.report_at {
            self.report_at = started + self.driver.core.config().stats_interval;
            self.driver.report();
        }
        if self.driver.is_idle() {
            // What the room publishes stays true while it is parked: seats were
            // published by the tick; a summary that still counts clients is replaced.
            if self.driver.stats.borrow().clients > 0 {
                self.report_at = started + self.driver.core.config().stats_interval;
                self.driver.report();
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
    use crate::room::driver::tests::{connection, driver};
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
        let (driver, commands) = driver();
        let (shutdown, close) = (CancellationToken::new(), CancellationToken::new());
        let (done_tx, done) = oneshot::channel();
        let (parked_tx, parked) = watch::channel(false);
        let job = RoomJob::new(
            driver,
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

    /// A session's kick reason, and what must stay open for it to count as connected.
    struct Session {
        kick: oneshot::Receiver<Kick>,
        _ends: (mpsc::Sender<RoomInput>, mpsc::Receiver<bytes::Bytes>),
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
            _ends: (inputs, outbound),
            _answer: answer,
        }
    }

    /// An idle room parks after its tick; a command makes it tick again, from the same
    /// tick number on, and a reservation keeps it ticking.
    #[test]
    fn an_idle_room_parks_and_a_command_wakes_it() {
        let mut r = room();
        let t0 = Instant::now();
        assert_eq!(r.job.turn(t0), Turn::Park);
        assert!(*r.parked.borrow());
        assert_eq!(r.job.driver.core.current_tick(), 1);

        let (reply, mut answer) = oneshot::channel();
        r.commands
            .try_send(Command::Reserve {
                player: "ada".into(),
                nonce: "n".into(),
                expires: t0 + Duration::from_secs(60),
                reply,
            })
            .unwrap();
        let woken = Instant::now();
        let period = Duration::from_secs_f64(1.0 / 60.0);
        assert_eq!(r.job.turn(woken), Turn::Next(woken + period));
        assert!(!*r.parked.borrow());
        assert!(answer.try_recv().unwrap().is_ok());
        assert_eq!(r.job.driver.core.current_tick(), 2, "ticks continue");
        assert_eq!(
            r.job.turn(woken + period),
            Turn::Next(woken + 2 * period),
            "held by the reservation"
        );
    }

    /// A closed room's sessions learn it was closed; at shutdown, that the server is
    /// going away. Either way the room ends and says so.
    #[test]
    fn an_ending_room_kicks_its_sessions_with_the_reason() {
        for (shutdown, why) in [(false, Kick::RoomClosed), (true, Kick::Shutdown)] {
            let mut r = room();
            let mut session = join(&r, "ada");
            assert!(matches!(r.job.turn(Instant::now()), Turn::Next(_)));
            assert_eq!(r.job.driver.core.seats().players, 1);
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
