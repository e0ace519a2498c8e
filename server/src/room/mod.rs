//! A room: one World, one tick loop, on its own thread.
//!
//! The loop is the only owner of the World. Sessions reach it through bounded channels:
//! a shared command channel for joining, and per session an input channel (session →
//! room) and an outbound channel of encoded bytes (room → session). The loop only ever
//! `try_recv`s and `try_send`s, so no socket and no session can make a tick wait; a full
//! outbound queue costs that client one snapshot, nothing more.
//!
//! A dedicated OS thread (rather than a tokio task) keeps simulation time off the async
//! workers that serve sockets, and lets the kernel schedule busy rooms side by side.

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
use shared::map::Map;
use shared::protocol::{Input, Packing, PlayerName, SnapshotSettings, Welcome};
use shared::quant::pos_to_q;
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use self::game::{GameCounters, Player, SimClock};
use self::replication::{ClientReplication, Replicator};
use self::stats::{RoomStats, TickTimer};
use crate::config::SnapshotMode;

/// Inputs a session may have queued for the room. A client sends one per tick, so a
/// few ticks of slack absorb network jitter; more only means the client is flooding.
pub const INPUT_QUEUE: usize = 16;

/// Joins waiting for the room loop to pick them up.
const COMMAND_QUEUE: usize = 256;

/// What a room is made of.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    pub name: String,
    pub tick_rate: u16,
    pub snapshot_rate: u16,
    pub drones: u32,
    pub max_players: u32,
    pub map: Arc<Map>,
    pub seed: u64,
    pub stats_interval: Duration,
    pub snapshots: SnapshotMode,
    pub aoi_radius: f64,
    pub packing: Packing,
    /// Budget a client gets until it asks, and the range it may ask for (bytes/s).
    pub client_budget: u32,
    pub min_client_budget: u32,
    pub max_client_budget: u32,
    pub outbound_queue_bytes: usize,
}

impl RoomConfig {
    /// Clamps what a client asked for to this room's limits.
    pub fn clamp(&self, asked: SnapshotSettings) -> SnapshotSettings {
        SnapshotSettings {
            rate: asked.rate.clamp(1, self.snapshot_rate),
            max_bytes_per_sec: asked
                .max_bytes_per_sec
                .clamp(self.min_client_budget, self.max_client_budget),
        }
    }

    fn default_settings(&self) -> SnapshotSettings {
        SnapshotSettings {
            rate: self.snapshot_rate,
            max_bytes_per_sec: self.client_budget,
        }
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

/// Why a room could not take a player.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("the room is full")]
    Full,
    #[error("the room has closed")]
    Closed,
    #[error("could not start the room thread: {0}")]
    Spawn(#[source] std::io::Error),
}

/// A seat in a room: everything a session needs to play.
#[derive(Debug)]
pub struct Seat {
    pub welcome: Welcome,
    /// Towards the room; `try_send` only, a full queue means the input is dropped.
    pub inputs: mpsc::Sender<RoomInput>,
    /// Encoded server messages from the room.
    pub outbound: OutboundReceiver,
}

enum Command {
    Join {
        name: PlayerName,
        inputs: mpsc::Receiver<RoomInput>,
        outbound: Outbound,
        reply: oneshot::Sender<Result<(u32, u32), RoomError>>,
    },
}

/// The async side's view of a room. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RoomHandle {
    commands: mpsc::Sender<Command>,
    tick: Arc<AtomicU32>,
    stats: watch::Receiver<RoomStats>,
    config: Arc<RoomConfig>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Join { name, .. } => f
                .debug_struct("Join")
                .field("name", name)
                .finish_non_exhaustive(),
        }
    }
}

impl RoomHandle {
    /// Asks the room for a seat.
    pub async fn join(
        &self,
        name: PlayerName,
        outbound_capacity: usize,
    ) -> Result<Seat, RoomError> {
        let (inputs_tx, inputs_rx) = mpsc::channel(INPUT_QUEUE);
        let (outbound_tx, outbound_rx) = mpsc::channel(outbound_capacity.max(1));
        let queued = Arc::new(AtomicUsize::new(0));
        let skipped = Arc::new(AtomicU64::new(0));
        let (reply_tx, reply_rx) = oneshot::channel();
        self.commands
            .send(Command::Join {
                name,
                inputs: inputs_rx,
                outbound: Outbound {
                    tx: outbound_tx,
                    queued: queued.clone(),
                    max_bytes: self.config.outbound_queue_bytes,
                    skipped: skipped.clone(),
                },
                reply: reply_tx,
            })
            .await
            .map_err(|_| RoomError::Closed)?;
        let (client_id, entity) = reply_rx.await.map_err(|_| RoomError::Closed)??;
        Ok(Seat {
            welcome: Welcome {
                client_id,
                entity,
                tick_rate: self.config.tick_rate,
                snapshot_rate: self.config.snapshot_rate,
                map: self.config.map.info().clone(),
                aoi_radius: u32::try_from(pos_to_q(self.config.aoi_radius)).unwrap_or(u32::MAX),
                packing: self.config.packing,
                settings: self.config.default_settings(),
            },
            inputs: inputs_tx,
            outbound: OutboundReceiver {
                rx: outbound_rx,
                queued,
                skipped,
            },
        })
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
}

/// Starts a room on its own thread. The thread ends when `shutdown` is cancelled; the
/// returned handle joins it.
pub fn spawn(
    config: RoomConfig,
    shutdown: CancellationToken,
) -> Result<(RoomHandle, JoinHandle<()>), RoomError> {
    let (commands_tx, commands_rx) = mpsc::channel(COMMAND_QUEUE);
    let (stats_tx, stats_rx) = watch::channel(RoomStats::default());
    let tick = Arc::new(AtomicU32::new(0));
    let config = Arc::new(config);
    let handle = RoomHandle {
        commands: commands_tx,
        tick: tick.clone(),
        stats: stats_rx,
        config: config.clone(),
    };
    let thread = std::thread::Builder::new()
        .name(format!("room-{}", config.name))
        .spawn(move || {
            let mut room = Room::new(config.clone(), commands_rx, tick, stats_tx);
            room.run(&config, &shutdown);
        })
        .map_err(RoomError::Spawn)?;
    Ok((handle, thread))
}

struct Client {
    id: u32,
    entity: Entity,
    net_id: u32,
    inputs: mpsc::Receiver<RoomInput>,
    outbound: Outbound,
    last_seq: u32,
    replication: ClientReplication,
}

struct Room {
    world: World,
    schedule: Schedule,
    replicator: Replicator,
    commands: mpsc::Receiver<Command>,
    clients: Vec<Client>,
    next_client_id: u32,
    max_players: u32,
    tick_rate: u16,
    snapshot_rate: u16,
    tick: Arc<AtomicU32>,
    timer: TickTimer,
    stats: watch::Sender<RoomStats>,
    name: String,
    config: Arc<RoomConfig>,
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
    ) -> Room {
        let mut world = game::new_world(
            config.map.clone(),
            config.tick_rate,
            config.drones,
            config.seed,
        );
        let info = config.map.info();
        let replicator = Replicator::new(
            &mut world,
            config.snapshots,
            config.packing,
            config.tick_rate,
            config.aoi_radius,
            (info.width, info.height),
        );
        Room {
            world,
            schedule: game::new_schedule(),
            replicator,
            commands,
            clients: Vec::new(),
            next_client_id: 0,
            max_players: config.max_players,
            tick_rate: config.tick_rate,
            snapshot_rate: config.snapshot_rate,
            tick,
            timer: TickTimer::default(),
            stats,
            name: config.name.clone(),
            config,
            rate_clock: FakeRelativeClock::default(),
            rate_clock_ns: 0,
        }
    }

    fn run(&mut self, config: &RoomConfig, shutdown: &CancellationToken) {
        let period = Duration::from_secs_f64(1.0 / f64::from(self.tick_rate));
        let mut deadline = Instant::now();
        let mut report_at = Instant::now() + config.stats_interval;
        info!(room = %self.name, tick_rate = self.tick_rate, snapshot_rate = self.snapshot_rate, "room started");
        while !shutdown.is_cancelled() {
            let started = Instant::now();
            let cpu = ThreadTime::now();
            if started.saturating_duration_since(deadline) > period {
                self.timer.current.late_ticks += 1;
            }
            self.tick_once();
            self.timer.record_tick(started.elapsed(), cpu.elapsed());

            if started >= report_at {
                report_at = started + config.stats_interval;
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
        info!(room = %self.name, "room stopped");
    }

    fn tick_once(&mut self) {
        let tick = {
            let mut clock = self.world.resource_mut::<SimClock>();
            clock.tick = clock.tick.wrapping_add(1);
            clock.tick
        };
        // The limiters see simulation time: exactly tick / tick_rate seconds (rounded up to
        // the nanosecond so that, say, 3 ticks at 60 Hz are a full 50 ms).
        let ns = (u64::from(tick) * 1_000_000_000).div_ceil(u64::from(self.tick_rate));
        self.rate_clock
            .advance(Duration::from_nanos(ns.saturating_sub(self.rate_clock_ns)));
        self.rate_clock_ns = ns.max(self.rate_clock_ns);
        self.accept_joins();
        self.drain_inputs();
        self.schedule.run(&mut self.world);
        self.tick.store(tick, Ordering::Relaxed);
        if self.is_snapshot_tick(tick) {
            let started = Instant::now();
            let cpu = ThreadTime::now();
            self.replicate(tick);
            self.timer
                .record_replication(started.elapsed(), cpu.elapsed());
        }
    }

    /// Spreads `snapshot_rate` snapshots evenly over each second of ticks, also when
    /// the rates do not divide.
    fn is_snapshot_tick(&self, tick: u32) -> bool {
        let (sr, tr) = (u64::from(self.snapshot_rate), u64::from(self.tick_rate));
        let t = u64::from(tick);
        t * sr / tr != t.saturating_sub(1) * sr / tr
    }

    fn accept_joins(&mut self) {
        while let Ok(Command::Join {
            name,
            inputs,
            outbound,
            reply,
        }) = self.commands.try_recv()
        {
            if self.clients.len() >= self.max_players as usize {
                let _ = reply.send(Err(RoomError::Full));
                continue;
            }
            self.next_client_id = self.next_client_id.wrapping_add(1);
            let id = self.next_client_id;
            let (entity, net_id) = game::spawn_player(&mut self.world, id, name.into_string());
            if reply.send(Ok((id, net_id.0))).is_err() {
                // The session gave up while waiting; do not leave a ghost player behind.
                self.world.despawn(entity);
                continue;
            }
            self.clients.push(Client {
                id,
                entity,
                net_id: net_id.0,
                inputs,
                outbound,
                last_seq: 0,
                replication: ClientReplication::new(
                    self.config.default_settings(),
                    &self.rate_clock,
                ),
            });
        }
    }

    fn drain_inputs(&mut self) {
        let mut i = 0;
        while let Some(client) = self.clients.get_mut(i) {
            let mut latest = None;
            let mut gone = false;
            loop {
                match client.inputs.try_recv() {
                    Ok(RoomInput::Input(input)) if input.seq > client.last_seq => {
                        client.last_seq = input.seq;
                        latest = Some(input);
                    }
                    Ok(RoomInput::Input(_)) => self.timer.current.inputs_dropped += 1,
                    Ok(RoomInput::Settings(settings)) => {
                        client.replication.set_settings(settings, &self.rate_clock)
                    }
                    Ok(RoomInput::Desync(_)) => {
                        client.replication.reset();
                        self.timer.current.desyncs += 1;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        gone = true;
                        break;
                    }
                }
            }
            if gone {
                self.remove_client(i);
                continue;
            }
            if let (Some(input), Some(mut player)) =
                (latest, self.world.get_mut::<Player>(client.entity))
            {
                player.input = input;
            }
            i += 1;
        }
    }

    fn remove_client(&mut self, index: usize) {
        if index < self.clients.len() {
            let client = self.clients.swap_remove(index);
            self.world.despawn(client.entity);
            info!(room = %self.name, client = client.id, "client left");
        }
    }

    fn replicate(&mut self, tick: u32) {
        if let Err(e) = self.replicator.prepare(&self.world) {
            warn!(room = %self.name, error = %e, "snapshot preparation failed");
            return;
        }
        self.timer.current.entities = self.replicator.entity_count();
        let mut i = 0;
        while let Some(client) = self.clients.get_mut(i) {
            let stats = &mut self.timer.current;
            let (bytes, delta) = match self.replicator.mode() {
                SnapshotMode::Full => match self.replicator.full_for(tick, client.last_seq) {
                    Ok(bytes) => (bytes, None),
                    Err(e) => {
                        warn!(room = %self.name, error = %e, "snapshot encoding failed");
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
                    ) {
                        Ok((bytes, delta)) => (bytes, Some(delta)),
                        Err(e) => {
                            warn!(room = %self.name, error = %e, "snapshot encoding failed");
                            i += 1;
                            continue;
                        }
                    }
                }
            };
            let len = bytes.len() as u64;
            match client.outbound.push(bytes) {
                Push::Queued => {
                    self.replicator.commit(&mut client.replication, tick);
                    stats.snapshots_sent += 1;
                    stats.bytes_out += len;
                    if let Some(d) = delta {
                        stats.keyframes += u64::from(d.keyframe);
                        stats.in_view += d.in_view as u64;
                        stats.moving_in_view += d.moving_in_view as u64;
                        stats.created += d.created as u64;
                        stats.changed += d.changed as u64;
                        stats.removed += d.removed as u64;
                        stats.deferred += d.deferred as u64;
                        stats.payload_bytes += d.payload_bytes as u64;
                    }
                }
                // The baseline stays as it was: the next delta covers this one too.
                Push::Full => stats.snapshots_dropped += 1,
                Push::Closed => {
                    self.remove_client(i);
                    continue;
                }
            }
            i += 1;
        }
    }

    fn report(&mut self) {
        self.timer.current.tick = self.world.resource::<SimClock>().tick;
        self.timer.current.clients = self.clients.len();
        let s = self.timer.finish();
        let counters = std::mem::take(&mut *self.world.resource_mut::<GameCounters>());
        info!(
            room = %self.name,
            tick = s.tick,
            clients = s.clients,
            entities = s.entities,
            ticks = s.ticks,
            tick_ms_p50 = s.tick_ms_p50,
            tick_ms_p99 = s.tick_ms_p99,
            tick_ms_max = s.tick_ms_max,
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

    #[test]
    fn snapshot_ticks_are_spread_evenly() {
        let mk = |sr, tr| {
            let (_tx, rx) = mpsc::channel(1);
            let (stx, _) = watch::channel(RoomStats::default());
            let map = Arc::new(Map::from_json(shared::map::DEFAULT_ARENA_JSON).unwrap());
            let cfg = RoomConfig {
                name: "t".into(),
                tick_rate: tr,
                snapshot_rate: sr,
                drones: 0,
                max_players: 1,
                map,
                seed: 1,
                stats_interval: Duration::from_secs(1),
                snapshots: SnapshotMode::Delta,
                aoi_radius: 48.0,
                packing: Packing::Bits,
                client_budget: 32_768,
                min_client_budget: 2_048,
                max_client_budget: 262_144,
                outbound_queue_bytes: 1 << 20,
            };
            Room::new(Arc::new(cfg), rx, Arc::new(AtomicU32::new(0)), stx)
        };
        let room = mk(20, 60);
        let ticks: Vec<u32> = (1..=60).filter(|&t| room.is_snapshot_tick(t)).collect();
        assert_eq!(ticks.len(), 20);
        assert!(ticks.windows(2).all(|w| w[1] - w[0] == 3));
        let room = mk(7, 60);
        assert_eq!((1..=600).filter(|&t| room.is_snapshot_tick(t)).count(), 70);
        let room = mk(60, 60);
        assert!((1..=60).all(|t| room.is_snapshot_tick(t)));
    }
}
