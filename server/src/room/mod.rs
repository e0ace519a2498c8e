//! A room: one World, one tick loop, on its own thread.
//!
//! The loop is the only owner of the World. Sessions reach it through bounded channels:
//! a shared command channel for joining and reserving seats, and per session an input
//! channel (session → room) and an outbound channel of encoded bytes (room → session).
//! The loop only ever `try_recv`s and `try_send`s, so no socket and no session can make
//! a tick wait; a full outbound queue costs that client one snapshot, nothing more.
//!
//! Seats: the room is the one authority on who holds a seat. A seat is held by a
//! connected player, by a player whose connection was lost (for the resume grace
//! period, frozen: no input), or by a reservation (a join token not used yet, until it
//! expires). Players are known by their player id: a resume, or a join token naming a
//! player already in the room, takes back that player's entity (and closes its old
//! session, if any), so one player never has two entities or two sessions.
//!
//! A dedicated OS thread (rather than a tokio task) keeps simulation time off the async
//! workers that serve sockets, and lets the kernel schedule busy rooms side by side.

// Validated peer input drives this module: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod budget;
pub mod game;
pub mod replication;
pub mod stats;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bevy_ecs::prelude::*;
use bytes::Bytes;
use cpu_time::ThreadTime;
use governor::clock::FakeRelativeClock;
use shared::protocol::{Input, PlayerName, SnapshotSettings, Welcome};
use shared::quant::pos_to_q;
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use self::game::{GameCounters, Player, SimClock};
use self::replication::{ClientReplication, Replicator};
use self::stats::{RoomStats, TickTimer};
use crate::config::{RoomSettings, SnapshotMode};
use crate::metrics::RoomMetrics;

/// Inputs a session may have queued for the room. A client sends one per tick, so a
/// few ticks of slack absorb network jitter; more only means the client is flooding.
pub const INPUT_QUEUE: usize = 16;

/// Joins and reservations waiting for the room loop to pick them up.
const COMMAND_QUEUE: usize = 256;

/// What a room is made of.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// The room's id (what `/ws?room=` and the API take).
    pub id: String,
    pub settings: RoomSettings,
    /// The seed actually used (the settings' or a random one).
    pub seed: u64,
    pub stats_interval: Duration,
    /// How long a player whose connection was lost is kept for a resume.
    pub resume_grace: Duration,
}

impl RoomConfig {
    /// Clamps what a client asked for to this room's limits.
    pub fn clamp(&self, asked: SnapshotSettings) -> SnapshotSettings {
        self.settings.clamp(asked)
    }

    /// The grace period in ticks of this room (at least one).
    fn grace_ticks(&self) -> u32 {
        let ticks = self.resume_grace.as_secs_f64() * f64::from(self.settings.tick_rate);
        (ticks.ceil() as u32).max(1)
    }
}

/// What a session hands its room, already decoded and validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomInput {
    Input(Input),
    /// Settings already clamped with [`RoomConfig::clamp`].
    Settings(SnapshotSettings),
    /// The client's view failed a checksum at this tick.
    Desync(u32),
    /// The session ends for good (the client closed it, or broke the protocol): free the
    /// seat now instead of holding it for a resume.
    Leave,
}

/// Why the room ended a session itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kick {
    /// Another session took over this player.
    Replaced,
    /// The room was closed.
    RoomClosed,
    /// The server is shutting down.
    Shutdown,
}

/// The room's end of a session's outbound queue, bounded in messages and in bytes.
#[derive(Debug)]
struct Outbound {
    tx: mpsc::Sender<Bytes>,
    queued: Arc<AtomicUsize>,
    max_bytes: usize,
    /// Messages refused because the queue was full, for the session's slow-client check.
    skipped: Arc<AtomicU64>,
}

enum Push {
    Queued,
    Full,
    Closed,
}

impl Outbound {
    fn push(&self, bytes: Bytes) -> Push {
        let len = bytes.len();
        if self.queued.load(Ordering::Relaxed) + len > self.max_bytes {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return Push::Full;
        }
        match self.tx.try_send(bytes) {
            Ok(()) => {
                self.queued.fetch_add(len, Ordering::Relaxed);
                Push::Queued
            }
            Err(TrySendError::Full(_)) => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                Push::Full
            }
            Err(TrySendError::Closed(_)) => Push::Closed,
        }
    }
}

/// The session's end of its outbound queue.
#[derive(Debug)]
pub struct OutboundReceiver {
    rx: mpsc::Receiver<Bytes>,
    queued: Arc<AtomicUsize>,
    skipped: Arc<AtomicU64>,
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

/// Why a room could not take a player or reserve a seat.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("the room is full")]
    Full,
    #[error("the room has closed")]
    Closed,
    #[error("cannot resume: {0}")]
    ResumeFailed(&'static str),
    #[error("could not start the room thread: {0}")]
    Spawn(#[source] std::io::Error),
}

/// How a session wants into the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinKind {
    /// A new player without a token (the server made up its id).
    Anonymous { player: String },
    /// A join token's seat; consumes the reservation `nonce` if the room holds it. A
    /// player id already in the room takes back that player.
    Token { player: String, nonce: String },
    /// A resume token: take back `player` (net id `entity`) of session generation `generation`.
    Resume {
        player: String,
        entity: u32,
        generation: u64,
    },
}

/// What the room answered a join with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    pub client_id: u32,
    /// Net id of the player entity.
    pub entity: u32,
    pub player: String,
    /// Session generation of this player: a resume token names it, and only the newest
    /// generation's token is honoured.
    pub generation: u64,
    /// An existing player was taken back (resume or takeover) rather than spawned.
    pub resumed: bool,
}

/// A seat in a room: everything a session needs to play.
#[derive(Debug)]
pub struct Seat {
    /// The `Welcome` to send, but for its `resume_token`, which the session signs.
    pub welcome: Welcome,
    pub joined: Joined,
    /// Towards the room; `try_send` only, a full queue means the input is dropped.
    pub inputs: mpsc::Sender<RoomInput>,
    /// Encoded server messages from the room.
    pub outbound: OutboundReceiver,
    /// Why the room ended this session, if it did (read once `outbound` has ended).
    pub kick: oneshot::Receiver<Kick>,
}

/// A session's channels, as the room holds them.
struct Connection {
    inputs: mpsc::Receiver<RoomInput>,
    outbound: Outbound,
    kick: oneshot::Sender<Kick>,
}

enum Command {
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
        }
    }
}

/// Seats of a room as its loop last published them.
#[derive(Debug, Default)]
pub struct Occupancy {
    /// Players with a connected session.
    pub players: AtomicU32,
    /// Players whose connection was lost, kept for a resume.
    pub held: AtomicU32,
    /// Join tokens not used yet.
    pub reserved: AtomicU32,
}

/// Counts of [`Occupancy`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Seats {
    pub players: u32,
    pub held: u32,
    pub reserved: u32,
}

impl Seats {
    /// Seats taken, held or reserved.
    pub fn taken(&self) -> u32 {
        self.players + self.held + self.reserved
    }
}

/// The async side's view of a room. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RoomHandle {
    commands: mpsc::Sender<Command>,
    tick: Arc<AtomicU32>,
    stats: watch::Receiver<RoomStats>,
    config: Arc<RoomConfig>,
    occupancy: Arc<Occupancy>,
    close: CancellationToken,
}

impl RoomHandle {
    /// Asks the room for a seat.
    pub async fn join(
        &self,
        kind: JoinKind,
        name: PlayerName,
        outbound_capacity: usize,
    ) -> Result<Seat, RoomError> {
        let (inputs_tx, inputs_rx) = mpsc::channel(INPUT_QUEUE);
        let (outbound_tx, outbound_rx) = mpsc::channel(outbound_capacity.max(1));
        let (kick_tx, kick_rx) = oneshot::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let skipped = Arc::new(AtomicU64::new(0));
        let (reply_tx, reply_rx) = oneshot::channel();
        self.commands
            .send(Command::Join {
                kind,
                name,
                conn: Connection {
                    inputs: inputs_rx,
                    outbound: Outbound {
                        tx: outbound_tx,
                        queued: queued.clone(),
                        max_bytes: self.config.settings.outbound_queue_bytes,
                        skipped: skipped.clone(),
                    },
                    kick: kick_tx,
                },
                reply: reply_tx,
            })
            .await
            .map_err(|_| RoomError::Closed)?;
        let joined = reply_rx.await.map_err(|_| RoomError::Closed)??;
        let settings = &self.config.settings;
        Ok(Seat {
            welcome: Welcome {
                client_id: joined.client_id,
                entity: joined.entity,
                tick_rate: settings.tick_rate,
                snapshot_rate: settings.snapshot_rate,
                map: settings.map.info().clone(),
                aoi_radius: u32::try_from(pos_to_q(settings.aoi_radius)).unwrap_or(u32::MAX),
                packing: settings.packing,
                settings: settings.default_settings(),
                room: self.config.id.clone(),
                player: joined.player.clone(),
                resume_token: String::new(),
                resume_grace_s: u16::try_from(self.config.resume_grace.as_secs())
                    .unwrap_or(u16::MAX),
                resumed: joined.resumed,
            },
            joined,
            inputs: inputs_tx,
            outbound: OutboundReceiver {
                rx: outbound_rx,
                queued,
                skipped,
            },
            kick: kick_rx,
        })
    }

    /// Reserves a seat for `player` until `ttl` from now (a join token's lifetime); a
    /// player already in the room needs none and is always granted.
    pub async fn reserve(
        &self,
        player: String,
        nonce: String,
        ttl: Duration,
    ) -> Result<(), RoomError> {
        let (reply, reply_rx) = oneshot::channel();
        self.commands
            .send(Command::Reserve {
                player,
                nonce,
                expires: Instant::now() + ttl,
                reply,
            })
            .await
            .map_err(|_| RoomError::Closed)?;
        reply_rx.await.map_err(|_| RoomError::Closed)?
    }

    /// The room's id.
    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// The newest tick the room has simulated.
    pub fn current_tick(&self) -> u32 {
        self.tick.load(Ordering::Relaxed)
    }

    /// Tick summaries, updated once per stats interval.
    pub fn stats(&self) -> watch::Receiver<RoomStats> {
        self.stats.clone()
    }

    pub fn config(&self) -> &RoomConfig {
        &self.config
    }

    /// Seats as of the room's last tick.
    pub fn seats(&self) -> Seats {
        Seats {
            players: self.occupancy.players.load(Ordering::Relaxed),
            held: self.occupancy.held.load(Ordering::Relaxed),
            reserved: self.occupancy.reserved.load(Ordering::Relaxed),
        }
    }

    /// Stops the room: its sessions are closed with [`Kick::RoomClosed`] after the
    /// current tick.
    pub fn close(&self) {
        self.close.cancel();
    }

    pub fn is_closed(&self) -> bool {
        self.close.is_cancelled() || self.commands.is_closed()
    }
}

/// Starts a room on its own thread. The thread ends when `shutdown` is cancelled or the
/// room is closed ([`RoomHandle::close`]); the returned handle joins it.
pub fn spawn(
    config: RoomConfig,
    shutdown: CancellationToken,
    metrics: RoomMetrics,
) -> Result<(RoomHandle, JoinHandle<()>), RoomError> {
    let (commands_tx, commands_rx) = mpsc::channel(COMMAND_QUEUE);
    let (stats_tx, stats_rx) = watch::channel(RoomStats::default());
    let tick = Arc::new(AtomicU32::new(0));
    let occupancy = Arc::new(Occupancy::default());
    let close = CancellationToken::new();
    let config = Arc::new(config);
    let handle = RoomHandle {
        commands: commands_tx,
        tick: tick.clone(),
        stats: stats_rx,
        config: config.clone(),
        occupancy: occupancy.clone(),
        close: close.clone(),
    };
    let thread = std::thread::Builder::new()
        .name(format!("room-{}", config.id))
        .spawn(move || {
            let mut room = Room::new(config, commands_rx, tick, stats_tx, occupancy, metrics);
            room.run(&shutdown, &close);
        })
        .map_err(RoomError::Spawn)?;
    Ok((handle, thread))
}

struct Client {
    id: u32,
    player: String,
    entity: Entity,
    net_id: u32,
    /// `None` while the player is held for a resume.
    conn: Option<Connection>,
    /// While held: the tick at which the player is removed.
    held_until: u32,
    generation: u64,
    last_seq: u32,
    replication: ClientReplication,
}

/// Sizes of a room's structures (see [`Room::footprint`]).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Footprint {
    /// Live game entities (with a net id).
    entities: usize,
    /// Every entity the World holds, bevy's own included.
    ecs_entities: usize,
    /// Removal messages bevy keeps for despawned components.
    removal_messages: usize,
    clients: usize,
    reservations: usize,
    /// Entities held in all clients' baselines.
    held_views: usize,
    /// Entities waiting for a client's byte budget, over all clients.
    pending: usize,
    /// Slots of the replicator's room-wide buffers.
    replicator_slots: usize,
}

struct Reservation {
    player: String,
    nonce: String,
    expires: Instant,
}

struct Room {
    world: World,
    schedule: Schedule,
    replicator: Replicator,
    commands: mpsc::Receiver<Command>,
    clients: Vec<Client>,
    reservations: Vec<Reservation>,
    next_client_id: u32,
    tick: Arc<AtomicU32>,
    timer: TickTimer,
    stats: watch::Sender<RoomStats>,
    occupancy: Arc<Occupancy>,
    metrics: RoomMetrics,
    config: Arc<RoomConfig>,
    grace_ticks: u32,
    /// Simulation time for the per-client snapshot rate limiters.
    rate_clock: FakeRelativeClock,
    rate_clock_ns: u64,
}

impl Room {
    fn new(
        config: Arc<RoomConfig>,
        commands: mpsc::Receiver<Command>,
        tick: Arc<AtomicU32>,
        stats: watch::Sender<RoomStats>,
        occupancy: Arc<Occupancy>,
        metrics: RoomMetrics,
    ) -> Room {
        let s = &config.settings;
        let mut world = game::new_world(s.map.clone(), s.tick_rate, s.drones, config.seed);
        let info = s.map.info();
        let replicator = Replicator::new(
            &mut world,
            s.snapshots,
            s.packing,
            s.tick_rate,
            s.aoi_radius,
            (info.width, info.height),
        );
        Room {
            world,
            schedule: game::new_schedule(),
            replicator,
            commands,
            clients: Vec::new(),
            reservations: Vec::new(),
            next_client_id: 0,
            tick,
            timer: TickTimer::default(),
            stats,
            occupancy,
            metrics,
            grace_ticks: config.grace_ticks(),
            config,
            rate_clock: FakeRelativeClock::default(),
            rate_clock_ns: 0,
        }
    }

    fn name(&self) -> &str {
        &self.config.id
    }

    fn run(&mut self, shutdown: &CancellationToken, close: &CancellationToken) {
        let tick_rate = self.config.settings.tick_rate;
        let period = Duration::from_secs_f64(1.0 / f64::from(tick_rate));
        let stats_interval = self.config.stats_interval;
        let mut deadline = Instant::now();
        let mut report_at = Instant::now() + stats_interval;
        info!(
            room = %self.name(),
            tick_rate,
            snapshot_rate = self.config.settings.snapshot_rate,
            max_players = self.config.settings.max_players,
            "room started"
        );
        while !shutdown.is_cancelled() && !close.is_cancelled() {
            let started = Instant::now();
            let cpu = ThreadTime::now();
            // How far this tick starts from its schedule: the room's tick jitter.
            let lateness = started.saturating_duration_since(deadline);
            if lateness > period {
                self.timer.current.late_ticks += 1;
            }
            self.tick_once(started);
            let took = started.elapsed();
            self.timer.record_tick(took, cpu.elapsed(), lateness);
            self.metrics.tick_seconds.record(took.as_secs_f64());
            self.metrics
                .tick_lateness_seconds
                .record(lateness.as_secs_f64());

            if started >= report_at {
                report_at = started + stats_interval;
                self.report();
            }
            deadline += period;
            let now = Instant::now();
            if deadline > now {
                std::thread::sleep(deadline - now);
            } else if now.duration_since(deadline) > period * 10 {
                // Far behind (the machine stalled): resynchronise instead of bursting
                // through a backlog of ticks.
                deadline = now;
            }
        }
        let why = if shutdown.is_cancelled() {
            Kick::Shutdown
        } else {
            Kick::RoomClosed
        };
        for client in &mut self.clients {
            if let Some(conn) = client.conn.take() {
                let _ = conn.kick.send(why);
            }
        }
        self.publish_seats();
        info!(room = %self.name(), reason = ?why, "room stopped");
    }

    fn tick_once(&mut self, now: Instant) {
        let tick = {
            let mut clock = self.world.resource_mut::<SimClock>();
            clock.tick = clock.tick.wrapping_add(1);
            clock.tick
        };
        // The limiters see simulation time: exactly tick / tick_rate seconds (rounded up to
        // the nanosecond so that, say, 3 ticks at 60 Hz are a full 50 ms).
        let ns =
            (u64::from(tick) * 1_000_000_000).div_ceil(u64::from(self.config.settings.tick_rate));
        self.rate_clock
            .advance(Duration::from_nanos(ns.saturating_sub(self.rate_clock_ns)));
        self.rate_clock_ns = ns.max(self.rate_clock_ns);
        self.reservations.retain(|r| r.expires > now);
        self.run_commands(tick);
        self.drain_inputs(tick);
        self.step_world();
        self.tick.store(tick, Ordering::Relaxed);
        if self.is_snapshot_tick(tick) {
            let started = Instant::now();
            let cpu = ThreadTime::now();
            self.replicate(tick, now);
            self.timer
                .record_replication(started.elapsed(), cpu.elapsed());
        }
        self.publish_seats();
    }

    /// Runs the game's systems once, then does the end-of-frame upkeep that bevy's `App`
    /// would: a World driven by hand keeps every removal message (one per component of
    /// each despawned entity) until `clear_trackers` rotates their double buffer, so
    /// without it a room's memory grows with every projectile and drone that ever died.
    /// Change ticks are checked too, so change detection stays right however long the
    /// room runs.
    fn step_world(&mut self) {
        self.schedule.run(&mut self.world);
        self.world.clear_trackers();
        if let Some(check) = self.world.check_change_ticks() {
            self.schedule.check_change_ticks(check);
        }
    }

    /// Spreads `snapshot_rate` snapshots evenly over each second of ticks, also when
    /// the rates do not divide.
    fn is_snapshot_tick(&self, tick: u32) -> bool {
        let s = &self.config.settings;
        let (sr, tr) = (u64::from(s.snapshot_rate), u64::from(s.tick_rate));
        let t = u64::from(tick);
        t * sr / tr != t.saturating_sub(1) * sr / tr
    }

    fn publish_seats(&mut self) {
        let players = self.clients.iter().filter(|c| c.conn.is_some()).count() as u32;
        let held = self.clients.len() as u32 - players;
        let reserved = self.reservations.len() as u32;
        self.occupancy.players.store(players, Ordering::Relaxed);
        self.occupancy.held.store(held, Ordering::Relaxed);
        self.occupancy.reserved.store(reserved, Ordering::Relaxed);
        self.metrics.players.set(f64::from(players));
        self.metrics.held.set(f64::from(held));
        self.metrics.reserved.set(f64::from(reserved));
        self.metrics.touch(self.config.settings.max_players);
    }

    #[cfg(test)]
    fn seats_now(&self) -> (u32, u32, u32) {
        let o = &self.occupancy;
        (
            o.players.load(Ordering::Relaxed),
            o.held.load(Ordering::Relaxed),
            o.reserved.load(Ordering::Relaxed),
        )
    }

    /// What this room holds, by structure: the memory guard compares these over time.
    #[cfg(test)]
    fn footprint(&mut self) -> Footprint {
        let removal_messages = self
            .world
            .removed_components()
            .iter()
            .map(|(_, messages)| messages.len())
            .sum();
        let (held_views, pending) = self
            .clients
            .iter()
            .map(|c| c.replication.sizes())
            .fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
        Footprint {
            entities: self.world.query::<&game::NetId>().iter(&self.world).count(),
            ecs_entities: self.world.entities().count_spawned() as usize,
            removal_messages,
            clients: self.clients.len(),
            reservations: self.reservations.len(),
            held_views,
            pending,
            replicator_slots: self.replicator.capacity(),
        }
    }

    /// Seats a new player would leave free.
    fn has_free_seat(&self) -> bool {
        self.clients.len() + self.reservations.len() < self.config.settings.max_players as usize
    }

    fn run_commands(&mut self, tick: u32) {
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Reserve {
                    player,
                    nonce,
                    expires,
                    reply,
                } => {
                    let result = if self.clients.iter().any(|c| c.player == player) {
                        Ok(())
                    } else if self.has_free_seat() {
                        self.reservations.push(Reservation {
                            player,
                            nonce,
                            expires,
                        });
                        Ok(())
                    } else {
                        Err(RoomError::Full)
                    };
                    let _ = reply.send(result);
                }
                Command::Join {
                    kind,
                    name,
                    conn,
                    reply,
                } => {
                    let result = self.join(kind, name, conn, tick);
                    match result {
                        Ok((index, joined)) => {
                            if reply.send(Ok(joined)).is_err() {
                                // The session gave up while waiting: treat it as a lost
                                // connection (held, so a resume can still find it).
                                self.detach(index, tick, None);
                            }
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                    }
                }
            }
        }
    }

    /// Seats a session: a new player, or an existing one taken back.
    fn join(
        &mut self,
        kind: JoinKind,
        name: PlayerName,
        conn: Connection,
        tick: u32,
    ) -> Result<(usize, Joined), RoomError> {
        let existing =
            |room: &Room, player: &str| room.clients.iter().position(|c| c.player == player);
        let (player, index) = match kind {
            JoinKind::Resume {
                player,
                entity,
                generation,
            } => {
                let index = existing(self, &player).ok_or(RoomError::ResumeFailed(
                    "the player is gone (grace period over)",
                ))?;
                let client = self
                    .clients
                    .get(index)
                    .ok_or(RoomError::ResumeFailed("gone"))?;
                if client.net_id != entity || client.generation != generation {
                    return Err(RoomError::ResumeFailed(
                        "stale resume token (a newer session took this player)",
                    ));
                }
                (player, Some(index))
            }
            JoinKind::Token { player, nonce } => {
                let reserved = self.reservations.iter().position(|r| r.nonce == nonce);
                let index = existing(self, &player);
                match (index, reserved) {
                    (_, Some(r)) => {
                        self.reservations.swap_remove(r);
                    }
                    (Some(_), None) => {}
                    (None, None) if self.has_free_seat() => {}
                    (None, None) => return Err(RoomError::Full),
                }
                // A reservation for the same player that is still waiting is now moot.
                self.reservations.retain(|r| r.player != player);
                (player, index)
            }
            JoinKind::Anonymous { player } => {
                if !self.has_free_seat() {
                    return Err(RoomError::Full);
                }
                (player, None)
            }
        };
        let settings = self.config.settings.default_settings();
        match index {
            Some(index) => {
                let Some(client) = self.clients.get_mut(index) else {
                    return Err(RoomError::ResumeFailed("gone"));
                };
                if let Some(old) = client.conn.take() {
                    let _ = old.kick.send(Kick::Replaced);
                }
                client.conn = Some(conn);
                client.generation += 1;
                client.last_seq = 0;
                client.replication = ClientReplication::new(settings, &self.rate_clock);
                if let Some(mut p) = self.world.get_mut::<Player>(client.entity) {
                    p.input = Input::default();
                    p.name = name.into_string();
                }
                self.metrics.resumes.increment(1);
                info!(room = %self.config.id, client = client.id, player = %client.player, generation = client.generation, "player taken back");
                let joined = Joined {
                    client_id: client.id,
                    entity: client.net_id,
                    player,
                    generation: client.generation,
                    resumed: true,
                };
                Ok((index, joined))
            }
            None => {
                self.next_client_id = self.next_client_id.wrapping_add(1);
                let id = self.next_client_id;
                let (entity, net_id) = game::spawn_player(&mut self.world, id, name.into_string());
                self.clients.push(Client {
                    id,
                    player: player.clone(),
                    entity,
                    net_id: net_id.0,
                    conn: Some(conn),
                    held_until: 0,
                    generation: 1,
                    last_seq: 0,
                    replication: ClientReplication::new(settings, &self.rate_clock),
                });
                let _ = tick;
                Ok((
                    self.clients.len() - 1,
                    Joined {
                        client_id: id,
                        entity: net_id.0,
                        player,
                        generation: 1,
                        resumed: false,
                    },
                ))
            }
        }
    }

    /// The session of client `index` is gone: hold its player for a resume (frozen), or
    /// with `kick` set, tell the session why first.
    fn detach(&mut self, index: usize, tick: u32, kick: Option<Kick>) {
        let grace = self.grace_ticks;
        if let Some(client) = self.clients.get_mut(index) {
            if let Some(conn) = client.conn.take()
                && let Some(why) = kick
            {
                let _ = conn.kick.send(why);
            }
            client.held_until = tick.saturating_add(grace);
            if let Some(mut p) = self.world.get_mut::<Player>(client.entity) {
                p.input = Input::default();
            }
            info!(room = %self.config.id, client = client.id, player = %client.player, "connection lost; player held for a resume");
        }
    }

    fn drain_inputs(&mut self, tick: u32) {
        let mut i = 0;
        while let Some(client) = self.clients.get_mut(i) {
            let Some(conn) = client.conn.as_mut() else {
                if tick >= client.held_until {
                    self.remove_client(i, "grace period over");
                } else {
                    i += 1;
                }
                continue;
            };
            let mut latest = None;
            let mut gone = None;
            loop {
                match conn.inputs.try_recv() {
                    Ok(RoomInput::Input(input)) if input.seq > client.last_seq => {
                        client.last_seq = input.seq;
                        latest = Some(input);
                    }
                    Ok(RoomInput::Input(_)) => {
                        self.timer.current.inputs_dropped += 1;
                        self.metrics.inputs_dropped.increment(1);
                    }
                    Ok(RoomInput::Settings(settings)) => {
                        client.replication.set_settings(settings, &self.rate_clock)
                    }
                    Ok(RoomInput::Desync(_)) => {
                        client.replication.reset();
                        self.timer.current.desyncs += 1;
                        self.metrics.desyncs.increment(1);
                    }
                    Ok(RoomInput::Leave) => {
                        gone = Some(true);
                        break;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        gone = Some(false);
                        break;
                    }
                }
            }
            match gone {
                Some(true) => {
                    self.remove_client(i, "left");
                    continue;
                }
                Some(false) => {
                    self.detach(i, tick, None);
                    i += 1;
                    continue;
                }
                None => {}
            }
            if let (Some(input), Some(mut player)) =
                (latest, self.world.get_mut::<Player>(client.entity))
            {
                player.input = input;
            }
            i += 1;
        }
    }

    /// Whether the session of client `index`, whose outbound queue just closed, said
    /// `Leave` first: a session that ends on purpose sends it and then drops its queues,
    /// and the room may notice the dropped queue before reading the leave.
    fn left_before_closing(&mut self, index: usize) -> bool {
        let Some(conn) = self.clients.get_mut(index).and_then(|c| c.conn.as_mut()) else {
            return false;
        };
        while let Ok(input) = conn.inputs.try_recv() {
            if input == RoomInput::Leave {
                return true;
            }
        }
        false
    }

    fn remove_client(&mut self, index: usize, why: &str) {
        if index < self.clients.len() {
            let client = self.clients.swap_remove(index);
            self.world.despawn(client.entity);
            info!(room = %self.config.id, client = client.id, player = %client.player, why, "player removed");
        }
    }

    fn replicate(&mut self, tick: u32, now: Instant) {
        if let Err(e) = self.replicator.prepare(&self.world) {
            warn!(room = %self.config.id, error = %e, "snapshot preparation failed");
            return;
        }
        self.timer.current.entities = self.replicator.entity_count();
        let (mut sent, mut skipped, mut bytes_out, mut keyframes) = (0u64, 0u64, 0u64, 0u64);
        let mut i = 0;
        let mut lost = Vec::new();
        while let Some(client) = self.clients.get_mut(i) {
            let Some(conn) = client.conn.as_ref() else {
                i += 1;
                continue;
            };
            let stats = &mut self.timer.current;
            let (bytes, delta) = match self.replicator.mode() {
                SnapshotMode::Full => match self.replicator.full_for(tick, client.last_seq) {
                    Ok(bytes) => (bytes, None),
                    Err(e) => {
                        warn!(room = %self.config.id, error = %e, "snapshot encoding failed");
                        i += 1;
                        continue;
                    }
                },
                SnapshotMode::Delta => {
                    if !client.replication.due() {
                        stats.rate_skipped += 1;
                        i += 1;
                        continue;
                    }
                    match self.replicator.delta_for(
                        &mut client.replication,
                        client.net_id,
                        tick,
                        client.last_seq,
                        &mut stats.staleness_ms,
                        now,
                    ) {
                        Ok(Some((bytes, delta))) => (bytes, Some(delta)),
                        Ok(None) => {
                            stats.budget_skipped += 1;
                            i += 1;
                            continue;
                        }
                        Err(e) => {
                            warn!(room = %self.config.id, error = %e, "snapshot encoding failed");
                            i += 1;
                            continue;
                        }
                    }
                }
            };
            let len = bytes.len() as u64;
            match conn.outbound.push(bytes) {
                Push::Queued => {
                    self.replicator
                        .commit(&mut client.replication, tick, len as usize);
                    stats.snapshots_sent += 1;
                    stats.bytes_out += len;
                    sent += 1;
                    bytes_out += len;
                    if let Some(d) = delta {
                        stats.keyframes += u64::from(d.keyframe);
                        keyframes += u64::from(d.keyframe);
                        stats.in_view += d.in_view as u64;
                        stats.moving_in_view += d.moving_in_view as u64;
                        stats.created += d.created as u64;
                        stats.changed += d.changed as u64;
                        stats.removed += d.removed as u64;
                        stats.deferred += d.deferred as u64;
                        stats.payload_bytes += d.payload_bytes as u64;
                        stats.radius_q_sum += d.radius_q.max(0) as u64;
                    }
                }
                // The baseline stays as it was: the next delta covers this one too.
                Push::Full => {
                    stats.snapshots_dropped += 1;
                    skipped += 1;
                }
                Push::Closed => lost.push(i),
            }
            i += 1;
        }
        // Highest index first: removing a client moves the last one into its place.
        for index in lost.into_iter().rev() {
            if self.left_before_closing(index) {
                self.remove_client(index, "left");
            } else {
                self.detach(index, tick, None);
            }
        }
        self.metrics.snapshots_sent.increment(sent);
        self.metrics.snapshots_skipped.increment(skipped);
        self.metrics.bytes_out.increment(bytes_out);
        self.metrics.keyframes.increment(keyframes);
    }

    fn report(&mut self) {
        self.timer.current.tick = self.world.resource::<SimClock>().tick;
        self.timer.current.clients = self.clients.iter().filter(|c| c.conn.is_some()).count();
        let s = self.timer.finish();
        let counters = std::mem::take(&mut *self.world.resource_mut::<GameCounters>());
        info!(
            room = %self.config.id,
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
            shots = counters.shots,
            kills = counters.kills,
            "tick summary"
        );
        self.stats.send_replace(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::map::Map;
    use shared::protocol::{Hello, PROTOCOL_VERSION};

    fn settings(tick_rate: u16, snapshot_rate: u16, max_players: u32) -> RoomSettings {
        RoomSettings {
            name: "t".into(),
            map: Arc::new(Map::from_json(shared::map::DEFAULT_ARENA_JSON).unwrap()),
            max_players,
            tick_rate,
            snapshot_rate,
            drones: 0,
            aoi_radius: 48.0,
            private: false,
            snapshots: SnapshotMode::Delta,
            packing: shared::protocol::Packing::Bits,
            client_budget: 32_768,
            min_client_budget: 2_048,
            max_client_budget: 262_144,
            outbound_queue_bytes: 1 << 20,
            seed: Some(1),
        }
    }

    fn room(s: RoomSettings) -> (Room, mpsc::Sender<Command>) {
        let (tx, rx) = mpsc::channel(16);
        let (stx, _) = watch::channel(RoomStats::default());
        let cfg = RoomConfig {
            id: "t".into(),
            settings: s,
            seed: 1,
            stats_interval: Duration::from_secs(1),
            resume_grace: Duration::from_secs(1),
        };
        let room = Room::new(
            Arc::new(cfg),
            rx,
            Arc::new(AtomicU32::new(0)),
            stx,
            Arc::new(Occupancy::default()),
            RoomMetrics::noop(),
        );
        (room, tx)
    }

    fn name(n: &str) -> PlayerName {
        Hello {
            protocol_version: PROTOCOL_VERSION,
            name: n.into(),
            ..Hello::default()
        }
        .validate()
        .unwrap()
    }

    /// A session's ends of a connection.
    struct Session {
        inputs: mpsc::Sender<RoomInput>,
        outbound: mpsc::Receiver<Bytes>,
        kick: oneshot::Receiver<Kick>,
    }

    impl Session {
        /// Reads what the room queued, as a healthy client does.
        fn drain(&mut self) {
            while self.outbound.try_recv().is_ok() {}
        }
    }

    fn connection() -> (Connection, Session) {
        let (itx, irx) = mpsc::channel(INPUT_QUEUE);
        let (otx, orx) = mpsc::channel(64);
        let (ktx, krx) = oneshot::channel();
        (
            Connection {
                inputs: irx,
                outbound: Outbound {
                    tx: otx,
                    queued: Arc::default(),
                    max_bytes: 1 << 20,
                    skipped: Arc::default(),
                },
                kick: ktx,
            },
            Session {
                inputs: itx,
                outbound: orx,
                kick: krx,
            },
        )
    }

    /// Sends a join, runs one tick, returns the answer and the session.
    fn join(
        room: &mut Room,
        tx: &mpsc::Sender<Command>,
        kind: JoinKind,
    ) -> (Result<Joined, RoomError>, Session) {
        let (conn, session) = connection();
        let (reply, mut rx) = oneshot::channel();
        tx.try_send(Command::Join {
            kind,
            name: name("p"),
            conn,
            reply,
        })
        .unwrap();
        room.tick_once(Instant::now());
        (rx.try_recv().unwrap(), session)
    }

    fn reserve(
        room: &mut Room,
        tx: &mpsc::Sender<Command>,
        player: &str,
        nonce: &str,
    ) -> Result<(), RoomError> {
        let (reply, mut rx) = oneshot::channel();
        tx.try_send(Command::Reserve {
            player: player.into(),
            nonce: nonce.into(),
            expires: Instant::now() + Duration::from_secs(60),
            reply,
        })
        .unwrap();
        room.tick_once(Instant::now());
        rx.try_recv().unwrap()
    }

    fn anon(p: &str) -> JoinKind {
        JoinKind::Anonymous { player: p.into() }
    }

    fn token(p: &str, nonce: &str) -> JoinKind {
        JoinKind::Token {
            player: p.into(),
            nonce: nonce.into(),
        }
    }

    fn players(room: &mut Room) -> usize {
        room.world.query::<&Player>().iter(&room.world).count()
    }

    #[test]
    fn snapshot_ticks_are_spread_evenly() {
        let (room, _) = room(settings(60, 20, 1));
        let ticks: Vec<u32> = (1..=60).filter(|&t| room.is_snapshot_tick(t)).collect();
        assert_eq!(ticks.len(), 20);
        assert!(ticks.windows(2).all(|w| w[1] - w[0] == 3));
        let (room, _) = self::room(settings(60, 7, 1));
        assert_eq!((1..=600).filter(|&t| room.is_snapshot_tick(t)).count(), 70);
        let (room, _) = self::room(settings(60, 60, 1));
        assert!((1..=60).all(|t| room.is_snapshot_tick(t)));
    }

    #[test]
    fn reservations_hold_seats_until_used() {
        let (mut room, tx) = room(settings(60, 20, 2));
        assert!(reserve(&mut room, &tx, "ada", "n1").is_ok());
        let (first, _s1) = join(&mut room, &tx, anon("x"));
        assert!(first.is_ok());
        // One player and one reservation: the second anonymous join finds no seat...
        let (second, _s2) = join(&mut room, &tx, anon("y"));
        assert!(matches!(second, Err(RoomError::Full)));
        assert!(matches!(
            reserve(&mut room, &tx, "bob", "n2"),
            Err(RoomError::Full)
        ));
        // ...but the reserved player gets in.
        let (ada, _s3) = join(&mut room, &tx, token("ada", "n1"));
        assert!(!ada.unwrap().resumed);
        assert_eq!(room.seats_now(), (2, 0, 0));
        // A player already in the room needs no seat to reserve.
        assert!(reserve(&mut room, &tx, "ada", "n3").is_ok());
        assert_eq!(players(&mut room), 2);
    }

    #[test]
    fn lost_players_are_held_then_resumed_or_removed() {
        let (mut room, tx) = room(settings(60, 20, 4));
        let (joined, session) = join(&mut room, &tx, anon("ada"));
        let joined = joined.unwrap();
        drop(session);
        room.tick_once(Instant::now());
        assert_eq!(room.seats_now(), (0, 1, 0), "held, not removed");
        assert_eq!(players(&mut room), 1);

        // A stale generation is refused; the right one takes the same entity back.
        let stale = JoinKind::Resume {
            player: "ada".into(),
            entity: joined.entity,
            generation: joined.generation + 1,
        };
        assert!(matches!(
            join(&mut room, &tx, stale).0,
            Err(RoomError::ResumeFailed(_))
        ));
        let resume = JoinKind::Resume {
            player: "ada".into(),
            entity: joined.entity,
            generation: joined.generation,
        };
        let (again, mut session) = join(&mut room, &tx, resume.clone());
        let again = again.unwrap();
        assert_eq!(
            (again.entity, again.client_id, again.resumed),
            (joined.entity, joined.client_id, true)
        );
        assert_eq!(again.generation, joined.generation + 1);
        assert_eq!(players(&mut room), 1, "never two entities");
        // The old token is void now.
        assert!(matches!(
            join(&mut room, &tx, resume).0,
            Err(RoomError::ResumeFailed(_))
        ));

        // A join token naming the player takes it over: the old session is told.
        let (over, _s) = join(&mut room, &tx, token("ada", "n"));
        assert_eq!(over.unwrap().entity, joined.entity);
        assert_eq!(session.kick.try_recv(), Ok(Kick::Replaced));
        assert_eq!(players(&mut room), 1);

        // Lost again: after the grace period (one second, 60 ticks) the player is gone.
        let (_, s) = join(&mut room, &tx, anon("bob"));
        s.inputs.try_send(RoomInput::Leave).unwrap();
        room.tick_once(Instant::now());
        assert_eq!(
            players(&mut room),
            1,
            "a player who leaves is removed at once"
        );
        drop(_s);
        for _ in 0..=room.grace_ticks {
            room.tick_once(Instant::now());
        }
        assert_eq!(players(&mut room), 0);
        assert_eq!(room.seats_now(), (0, 0, 0));
    }

    /// A session that leaves sends `Leave` and drops its queues; when the room notices
    /// the closed outbound queue first (while sending a snapshot), it still frees the
    /// seat at once rather than holding the player for a resume.
    #[test]
    fn a_leave_is_honoured_when_the_closed_queue_is_seen_first() {
        let (mut room, tx) = room(settings(60, 20, 4));
        let (joined, session) = join(&mut room, &tx, anon("ada"));
        joined.unwrap();
        session.inputs.try_send(RoomInput::Leave).unwrap();
        drop(session);
        let tick = room.world.resource::<SimClock>().tick;
        room.replicate(tick, Instant::now());
        room.publish_seats();
        assert_eq!(room.seats_now(), (0, 0, 0), "freed, not held");
        assert_eq!(players(&mut room), 0);
    }

    /// Spawns `n` short-lived projectiles (one to four ticks), as a crowd firing would.
    fn spawn_projectiles(room: &mut Room, n: u32) {
        use self::game::{Facing, Motion, NetIds, Projectile, Trajectory};
        let tick = room.world.resource::<SimClock>().tick;
        let spawns = room.config.settings.map.spawns().to_vec();
        for k in 0..n {
            let (x, y) = spawns[k as usize % spawns.len()];
            let id = room.world.resource_mut::<NetIds>().allocate();
            let (vx, vy) = (8.0, 3.0);
            room.world.spawn((
                id,
                Motion(shared::movement::Kinematics { x, y, vx, vy }),
                Trajectory::start(tick, x, y, vx, vy),
                Facing(0),
                Projectile {
                    owner: id,
                    shooter: Entity::PLACEHOLDER,
                    expires_at: tick + 1 + k % 4,
                },
            ));
        }
    }

    /// `rounds` ticks of churn: ten projectiles per tick, and a visitor who joins while
    /// the previous one goes (every other one leaves; the others lose their connection
    /// and are held for the grace period, then removed).
    fn churn(
        room: &mut Room,
        tx: &mpsc::Sender<Command>,
        steady: &mut [Session],
        rounds: u32,
        joins: &mut u32,
    ) {
        let mut visitor: Option<Session> = None;
        for _ in 0..rounds {
            spawn_projectiles(room, 10);
            if let Some(v) = visitor.take()
                && joins.is_multiple_of(2)
            {
                v.inputs.try_send(RoomInput::Leave).unwrap();
            }
            *joins += 1;
            let (joined, session) = join(room, tx, anon(&format!("visitor{joins}")));
            joined.unwrap();
            visitor = Some(session);
            steady.iter_mut().for_each(Session::drain);
            let f = room.footprint();
            // At most two ticks of removals (the double buffer): ten projectiles and a
            // player per tick, a few components each, plus drones shot down.
            assert!(
                f.removal_messages < 400,
                "removal messages pile up: {f:?} after {joins} joins"
            );
        }
    }

    /// Lets every visitor go and the projectiles expire.
    fn quiesce(room: &mut Room, steady: &mut [Session]) -> Footprint {
        for _ in 0..=room.grace_ticks + 10 {
            room.tick_once(Instant::now());
            steady.iter_mut().for_each(Session::drain);
        }
        room.footprint()
    }

    /// The memory guard: after 100,000 projectiles and 10,000 joins and leaves, what the
    /// room holds is what it held after the first tenth of that, i.e. bounded by the live
    /// state rather than by how many entities and players have come and gone.
    #[test]
    fn memory_is_bounded_by_live_state_under_churn() {
        let mut s = settings(60, 20, 64);
        s.drones = 30;
        let (mut room, tx) = room(s);
        let mut steady: Vec<Session> = (0..4)
            .map(|k| {
                let (joined, session) = join(&mut room, &tx, anon(&format!("steady{k}")));
                joined.unwrap();
                session
            })
            .collect();
        let mut joins = 0;
        churn(&mut room, &tx, &mut steady, 1_000, &mut joins);
        let warm = quiesce(&mut room, &mut steady);
        churn(&mut room, &tx, &mut steady, 9_000, &mut joins);
        let after = quiesce(&mut room, &mut steady);
        assert_eq!(joins, 10_000);

        assert_eq!(warm.clients, 4, "{warm:?}");
        assert_eq!(
            after.clients, 4,
            "only the steady players remain: {after:?}"
        );
        assert_eq!(after.reservations, 0);
        assert_eq!(
            after.entities, warm.entities,
            "4 players and 30 drones, however many came and went"
        );
        assert_eq!(after.entities, 34);
        assert_eq!(after.ecs_entities, warm.ecs_entities);
        assert!(after.held_views <= 4 * after.entities, "{after:?}");
        // Ticks here run faster than real time, so byte budgets (which fill with the
        // wall clock) hold some changes back: never more than what is in view.
        assert!(after.pending <= after.held_views, "{after:?}");
        assert!(after.removal_messages < 400, "{after:?}");
        // The shared buffers grow to the largest crowd, which churn does not raise.
        assert!(
            after.replicator_slots <= warm.replicator_slots * 2,
            "{warm:?} → {after:?}"
        );
    }
}
