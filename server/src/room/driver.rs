//! The room driver: a [`RoomCore`] wired to its sessions by bounded channels, with
//! metrics and tick summaries; [`Driver::tick_once`] is one tick of it. The room workers
//! pace it ([`super::job`], [`super::pool`]).
//!
//! The driver is the only owner of the core (and so of the World); one worker at a
//! time holds the driver. Sessions and the API
//! reach it through a shared command channel (joins, reservations, kicks) and per
//! session an input channel (session → room) and an outbound channel of encoded bytes
//! (room → session).
//! The loop only ever `try_recv`s and `try_send`s, so no socket and no session can make
//! a tick wait; a full outbound queue costs that client one snapshot, nothing more.
//!
//! Room workers are OS threads (rather than tokio tasks): simulation time stays off the
//! async workers that serve sockets.

// Validated peer input drives this module: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use cpu_time::ThreadTime;
use shared::protocol::PlayerName;
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::info;

use super::core::{Delivery, InputOutcome, RoomCore, Sent};
use super::stats::RoomStats;
use super::{JoinKind, Joined, Kick, Occupancy, RoomConfig, RoomError, RoomInput, RosterEntry};
use crate::obs::metrics::RoomMetrics;

/// The room's end of a session's outbound queue, bounded in messages and in bytes.
#[derive(Debug)]
pub(super) struct Outbound {
    pub(super) tx: mpsc::Sender<Bytes>,
    pub(super) queued: Arc<AtomicUsize>,
    pub(super) max_bytes: usize,
    /// Messages refused because the queue was full, for the session's slow-client check.
    pub(super) skipped: Arc<AtomicU64>,
}

impl Outbound {
    fn push(&self, bytes: Bytes) -> Delivery {
        let len = bytes.len();
        if self.queued.load(Ordering::Relaxed) + len > self.max_bytes {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return Delivery::Full;
        }
        match self.tx.try_send(bytes) {
            Ok(()) => {
                self.queued.fetch_add(len, Ordering::Relaxed);
                Delivery::Queued
            }
            Err(TrySendError::Full(_)) => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                Delivery::Full
            }
            Err(TrySendError::Closed(_)) => Delivery::Closed,
        }
    }
}

/// The session's end of its outbound queue.
#[derive(Debug)]
pub struct OutboundReceiver {
    pub(super) rx: mpsc::Receiver<Bytes>,
    pub(super) queued: Arc<AtomicUsize>,
    pub(super) skipped: Arc<AtomicU64>,
}

impl OutboundReceiver {
    /// The next encoded message; `None` once the room has dropped this client.
    pub async fn recv(&mut self) -> Option<Bytes> {
        let bytes = self.rx.recv().await?;
        self.queued.fetch_sub(bytes.len(), Ordering::Relaxed);
        Some(bytes)
    }

    /// Messages the room could not queue so far because this queue was full.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
}

/// A session's channels, as the room holds them.
pub(super) struct Connection {
    pub(super) inputs: mpsc::Receiver<RoomInput>,
    pub(super) outbound: Outbound,
    pub(super) kick: oneshot::Sender<Kick>,
}

impl Connection {
    /// Whether the session, whose outbound queue just closed, said `Leave` first: a
    /// session that ends on purpose sends it and then drops its queues, and the room may
    /// notice the dropped queue before reading the leave.
    fn left_before_closing(&mut self) -> bool {
        while let Ok(input) = self.inputs.try_recv() {
            if input == RoomInput::Leave {
                return true;
            }
        }
        false
    }
}

pub(super) enum Command {
    Join {
        kind: JoinKind,
        name: PlayerName,
        conn: Connection,
        reply: oneshot::Sender<Result<Joined, RoomError>>,
    },
    Reserve {
        player: String,
        nonce: String,
        expires: Instant,
        reply: oneshot::Sender<Result<(), RoomError>>,
    },
    /// Remove a player at once; answers whether it was in the room.
    Kick {
        player: String,
        reply: oneshot::Sender<bool>,
    },
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Join { kind, name, .. } => f
                .debug_struct("Join")
                .field("kind", kind)
                .field("name", name)
                .finish_non_exhaustive(),
            Command::Reserve { player, .. } => f
                .debug_struct("Reserve")
                .field("player", player)
                .finish_non_exhaustive(),
            Command::Kick { player, .. } => f
                .debug_struct("Kick")
                .field("player", player)
                .finish_non_exhaustive(),
        }
    }
}

/// What a driver is made of, but for its core (World, schedule, replication): what a
/// room that nobody has asked anything of yet keeps, since the core costs most of a
/// room's memory once built (see [`super::job`]).
pub(super) struct Parts {
    pub(super) config: Arc<RoomConfig>,
    pub(super) commands: mpsc::Receiver<Command>,
    pub(super) tick: Arc<AtomicU32>,
    pub(super) stats: watch::Sender<RoomStats>,
    pub(super) occupancy: Arc<Occupancy>,
    pub(super) roster: watch::Sender<Arc<[RosterEntry]>>,
    pub(super) metrics: RoomMetrics,
}

impl Parts {
    /// Whether someone asked the room something (a join, reservation or kick).
    pub(super) fn asked(&self) -> bool {
        !self.commands.is_empty()
    }

    /// Publishes the metrics of a room without players (all seats free), as a built
    /// room's tick would.
    pub(super) fn publish_empty(&self) {
        self.metrics.players.set(0.0);
        self.metrics.held.set(0.0);
        self.metrics.reserved.set(0.0);
        self.metrics.touch(self.config.settings.max_players);
    }
}

/// The room's side of its channels; see the module docs.
pub(super) struct Driver {
    pub(super) core: RoomCore,
    commands: mpsc::Receiver<Command>,
    /// Sessions by client id: only connected clients have one.
    conns: HashMap<u32, Connection>,
    tick: Arc<AtomicU32>,
    pub(super) stats: watch::Sender<RoomStats>,
    occupancy: Arc<Occupancy>,
    roster: watch::Sender<Arc<[RosterEntry]>>,
    /// The core's roster version last published on `roster`.
    roster_version: u64,
    pub(super) metrics: RoomMetrics,
}

impl Driver {
    /// Builds the core.
    pub(super) fn new(parts: Parts) -> Driver {
        Driver {
            core: RoomCore::new(parts.config),
            commands: parts.commands,
            conns: HashMap::new(),
            tick: parts.tick,
            stats: parts.stats,
            occupancy: parts.occupancy,
            roster: parts.roster,
            roster_version: 0,
            metrics: parts.metrics,
        }
    }

    fn name(&self) -> &str {
        &self.core.config().id
    }

    /// Ends every session with `why` (the room is ending).
    pub(super) fn kick_all(&mut self, why: Kick) {
        for (_, conn) in self.conns.drain() {
            let _ = conn.kick.send(why);
        }
    }

    /// Nothing for the room to do until someone asks: no session, no player held for a
    /// resume, no reservation, no command queued. Such a room parks (no ticks) until a
    /// [`super::RoomHandle`] command wakes it.
    pub(super) fn is_idle(&self) -> bool {
        self.conns.is_empty() && self.core.seats().taken() == 0 && self.commands.is_empty()
    }

    pub(super) fn tick_once(&mut self, now: Instant) {
        self.core.expire(now);
        self.run_commands();
        // The core counts the input frames it drops in its window; the window only
        // closes between ticks, so the difference is this tick's.
        let dropped_before = self.core.timer.current.inputs_dropped;
        self.drain_inputs();
        let tick = self.core.step(now);
        self.metrics.inputs_dropped.increment(
            self.core
                .timer
                .current
                .inputs_dropped
                .saturating_sub(dropped_before),
        );
        self.tick.store(tick, Ordering::Relaxed);
        // Published before the snapshots go out, so that whoever sees a snapshot sees
        // seats at least as new as it.
        self.publish_seats();
        if self.core.snapshot_due(tick) {
            let started = Instant::now();
            let cpu = ThreadTime::now();
            self.replicate(now);
            self.core
                .timer
                .record_replication(started.elapsed(), cpu.elapsed());
        }
        self.publish_seats();
    }

    fn run_commands(&mut self) {
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Reserve {
                    player,
                    nonce,
                    expires,
                    reply,
                } => {
                    let granted = self.core.reserve(player, nonce, expires);
                    // Seats first: whoever hears the answer sees the seat it took.
                    self.publish_seats();
                    let _ = reply.send(granted);
                }
                Command::Join {
                    kind,
                    name,
                    conn,
                    reply,
                } => match self.core.join(kind, name) {
                    Ok(joined) => {
                        let id = joined.client_id;
                        if joined.resumed {
                            self.metrics.resumes.increment(1);
                        }
                        if let Some(old) = self.conns.insert(id, conn) {
                            let _ = old.kick.send(Kick::Replaced);
                        }
                        self.publish_seats();
                        if reply.send(Ok(joined)).is_err() {
                            // The session gave up while waiting: treat it as a lost
                            // connection (held, so a resume can still find it).
                            self.conns.remove(&id);
                            self.core.lost(id);
                        }
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                },
                Command::Kick { player, reply } => {
                    let kicked = self.core.kick(&player);
                    if let Some(id) = kicked
                        && let Some(conn) = self.conns.remove(&id)
                    {
                        // The reason first: the session reads it once its outbound queue
                        // ends, which dropping `conn` does.
                        let _ = conn.kick.send(Kick::Kicked);
                    }
                    self.publish_seats();
                    let _ = reply.send(kicked.is_some());
                }
            }
        }
    }

    /// Hands every session's queued inputs to the core.
    fn drain_inputs(&mut self) {
        let core = &mut self.core;
        let metrics = &self.metrics;
        self.conns.retain(|&id, conn| {
            loop {
                match conn.inputs.try_recv() {
                    Ok(input) => match core.input(id, input) {
                        // Dropped frames are counted by the core (see `tick_once`).
                        InputOutcome::Applied | InputOutcome::Stale | InputOutcome::Unknown => {}
                        InputOutcome::Keyframe => metrics.desyncs.increment(1),
                        InputOutcome::Left => break false,
                    },
                    Err(TryRecvError::Empty) => break true,
                    Err(TryRecvError::Disconnected) => {
                        core.lost(id);
                        break false;
                    }
                }
            }
        });
    }

    fn replicate(&mut self, now: Instant) {
        let conns = &self.conns;
        let sent: Sent = self.core.replicate(now, |id, bytes| match conns.get(&id) {
            Some(conn) => conn.outbound.push(bytes),
            None => Delivery::Closed,
        });
        for id in &sent.closed {
            let left = self
                .conns
                .remove(id)
                .is_some_and(|mut conn| conn.left_before_closing());
            if left {
                self.core.leave(*id);
            } else {
                self.core.lost(*id);
            }
        }
        self.metrics.snapshots_sent.increment(sent.snapshots);
        self.metrics.snapshots_skipped.increment(sent.dropped);
        self.metrics.bytes_out.increment(sent.bytes);
        self.metrics.keyframes.increment(sent.keyframes);
    }

    pub(super) fn publish_seats(&mut self) {
        // The roster only when it changed: the API reads it without asking the room.
        let version = self.core.roster_version();
        if version != self.roster_version {
            self.roster_version = version;
            self.roster.send_replace(self.core.roster().into());
        }
        let seats = self.core.seats();
        self.occupancy
            .players
            .store(seats.players, Ordering::Relaxed);
        self.occupancy.held.store(seats.held, Ordering::Relaxed);
        self.occupancy
            .reserved
            .store(seats.reserved, Ordering::Relaxed);
        self.metrics.players.set(f64::from(seats.players));
        self.metrics.held.set(f64::from(seats.held));
        self.metrics.reserved.set(f64::from(seats.reserved));
        self.metrics.touch(self.core.config().settings.max_players);
    }

    pub(super) fn report(&mut self) {
        let (s, counters) = self.core.finish_window();
        info!(
            room = %self.name(),
            tick = s.tick,
            clients = s.clients,
            entities = s.entities,
            ticks = s.ticks,
            tick_ms_p50 = s.tick_ms_p50,
            tick_ms_p99 = s.tick_ms_p99,
            tick_ms_max = s.tick_ms_max,
            lateness_ms_p99 = s.lateness_ms_p99,
            replication_ms_p99 = s.replication_ms_p99,
            tick_cpu_ms_p99 = s.tick_cpu_ms_p99,
            replication_cpu_ms_p99 = s.replication_cpu_ms_p99,
            late_ticks = s.late_ticks,
            snapshots_sent = s.snapshots_sent,
            snapshots_dropped = s.snapshots_dropped,
            keyframes = s.keyframes,
            desyncs = s.desyncs,
            in_view_mean = s.in_view_mean(),
            bytes_per_snapshot = s.bytes_per_snapshot(),
            kib_out = s.bytes_out / 1024,
            inputs_dropped = s.inputs_dropped,
            staleness_ms_p99 = s.staleness_ms_p99,
            radius_m_mean = s.radius_m_mean(),
            budget_skipped = s.budget_skipped,
            game = %counters
                .iter()
                .map(|(name, n)| format!("{name}={n}"))
                .collect::<Vec<_>>()
                .join(" "),
            "tick summary"
        );
        self.stats.send_replace(s);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::room::harness::{anon, config, name, settings};

    /// The parts of a driver of a 60 Hz room of 4 seats, its command queue, and its
    /// published roster.
    pub(in crate::room) fn parts() -> (
        Parts,
        mpsc::Sender<Command>,
        watch::Receiver<Arc<[RosterEntry]>>,
    ) {
        let (tx, commands) = mpsc::channel(16);
        let (stats, _) = watch::channel(RoomStats::default());
        let (roster, roster_rx) = watch::channel(Arc::from(Vec::new()));
        let parts = Parts {
            config: Arc::new(config(settings(60, 20, 4))),
            commands,
            tick: Arc::default(),
            stats,
            occupancy: Arc::default(),
            roster,
            metrics: RoomMetrics::noop(),
        };
        (parts, tx, roster_rx)
    }

    fn driver() -> (Driver, mpsc::Sender<Command>) {
        let (parts, tx, _) = parts();
        (Driver::new(parts), tx)
    }

    /// Joins `player` through the command channel; returns the session's ends.
    fn joined(
        driver: &mut Driver,
        tx: &mpsc::Sender<Command>,
        player: &str,
    ) -> (mpsc::Sender<RoomInput>, mpsc::Receiver<Bytes>) {
        let (conn, inputs, outbound) = connection();
        let (reply, mut answer) = oneshot::channel();
        tx.try_send(Command::Join {
            kind: anon(player),
            name: name(player),
            conn,
            reply,
        })
        .unwrap();
        driver.run_commands();
        answer.try_recv().unwrap().unwrap();
        (inputs, outbound)
    }

    /// A session's ends of its channels.
    pub(in crate::room) fn connection()
    -> (Connection, mpsc::Sender<RoomInput>, mpsc::Receiver<Bytes>) {
        let (itx, irx) = mpsc::channel(crate::room::INPUT_QUEUE);
        let (otx, orx) = mpsc::channel(64);
        let (ktx, _) = oneshot::channel();
        let conn = Connection {
            inputs: irx,
            outbound: Outbound {
                tx: otx,
                queued: Arc::default(),
                max_bytes: 1 << 20,
                skipped: Arc::default(),
            },
            kick: ktx,
        };
        (conn, itx, orx)
    }

    /// A session that leaves sends `Leave` and drops its queues; when the room notices
    /// the closed outbound queue first (while sending a snapshot), it still frees the
    /// seat at once rather than holding the player for a resume.
    #[test]
    fn a_leave_is_honoured_when_the_closed_queue_is_seen_first() {
        let (mut driver, tx) = driver();
        let (inputs, outbound) = joined(&mut driver, &tx, "ada");
        inputs.try_send(RoomInput::Leave).unwrap();
        drop((inputs, outbound));
        // Up to the client's turn for a snapshot, without reading its queued inputs.
        while !driver.core.snapshot_due(driver.core.current_tick()) {
            driver.core.step(Instant::now());
        }
        driver.replicate(Instant::now());
        assert_eq!(driver.core.seats(), Default::default(), "freed, not held");
    }

    /// A kick removes the player at once (no hold), tells its session why before its
    /// queue ends, publishes the smaller roster, and a second kick finds nobody.
    #[test]
    fn a_kick_frees_the_seat_and_tells_the_session() {
        let (parts, tx, roster_rx) = parts();
        let mut driver = Driver::new(parts);
        let (_bystander_inputs, _bystander_out) = joined(&mut driver, &tx, "bob");
        let (conn, _inputs, mut outbound) = connection();
        let (kick_tx, mut kick_rx) = oneshot::channel();
        let conn = Connection {
            kick: kick_tx,
            ..conn
        };
        let (reply, mut answer) = oneshot::channel();
        tx.try_send(Command::Join {
            kind: anon("ada"),
            name: name("Ada"),
            conn,
            reply,
        })
        .unwrap();
        driver.tick_once(Instant::now());
        answer.try_recv().unwrap().unwrap();
        let names: Vec<_> = roster_rx.borrow().iter().map(|e| e.name.clone()).collect();
        assert_eq!(names, ["bob", "Ada"]);

        let kick = |player: &str| {
            let (reply, answer) = oneshot::channel();
            tx.try_send(Command::Kick {
                player: player.into(),
                reply,
            })
            .unwrap();
            answer
        };
        let mut first = kick("ada");
        driver.tick_once(Instant::now());
        assert_eq!(first.try_recv(), Ok(true));
        assert_eq!(kick_rx.try_recv(), Ok(Kick::Kicked));
        let end = loop {
            if let Err(e) = outbound.try_recv() {
                break e;
            }
        };
        assert_eq!(end, TryRecvError::Disconnected, "the session's queue ended");
        let seats = driver.core.seats();
        assert_eq!((seats.players, seats.held), (1, 0), "freed, not held");
        let left: Vec<_> = roster_rx
            .borrow()
            .iter()
            .map(|e| (e.player_id.clone(), e.connected))
            .collect();
        assert_eq!(left, [("bob".to_owned(), true)]);

        let mut second = kick("ada");
        driver.tick_once(Instant::now());
        assert_eq!(second.try_recv(), Ok(false));
    }

    /// A session lost without a `Leave` is held for a resume.
    #[test]
    fn a_closed_queue_without_leave_holds_the_player() {
        let (mut driver, tx) = driver();
        let (inputs, outbound) = joined(&mut driver, &tx, "ada");
        drop((inputs, outbound));
        driver.tick_once(Instant::now());
        let seats = driver.core.seats();
        assert_eq!((seats.players, seats.held), (0, 1));
    }
}
