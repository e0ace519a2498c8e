//! A room: one World, one tick loop, run by the server's room workers.
//!
//! - [`core`]: the room without IO ([`core::RoomCore`]): World, schedule, seats,
//!   inputs and replication, driven by calls that take time as data.
//! - `driver`: what owns a core and wires it to sessions over bounded channels, with
//!   metrics; `job`: one turn of a room on a worker (pacing, lateness, parking when
//!   idle, the room's end).
//! - [`pool`]: the fixed set of worker threads that run every room's due ticks in
//!   deadline order, by [`schedule`] (the order and pacing without threads or clocks).
//! - [`replication`]: snapshot encoding, with [`budget`] (per-client byte budgets);
//!   [`stats`]: tick timing and summaries. The game itself is a
//!   [`crate::engine::Game`] (the arena: [`crate::games::arena`]).
//!
//! This module holds what the rest of the server sees of a room: [`RoomHandle`] (joins,
//! reservations, kicks, seats, roster, stats) and [`spawn`].
//!
//! An idle room (no session, no player held for a resume, no reservation) does not
//! tick: it is parked out of the schedule until a command through its [`RoomHandle`]
//! wakes it, or it is closed. Its tick number continues from where it stopped.

// Validated peer input drives this module: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

#[cfg(test)]
mod any_game;
pub mod budget;
pub mod core;
mod driver;
#[cfg(test)]
mod golden;
#[cfg(test)]
mod harness;
mod inputs;
mod job;
pub mod pool;
pub mod replication;
pub mod schedule;
pub mod stats;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use shared::protocol::{Intent, PlayerName, SnapshotSettings, Welcome};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

pub use self::driver::OutboundReceiver;
use self::driver::{Command, Connection, Outbound};
use self::pool::{RoomPool, Waker};
use self::stats::RoomStats;
use crate::control::config::RoomSettings;
use crate::engine::Game;
use crate::obs::metrics::RoomMetrics;

/// Messages a session may have queued for the room: input frames (one each), snapshot
/// settings, desync reports. Two full `Input`s of `MAX_INPUT_FRAMES` and as much again
/// for jitter and the rest; more only means the client is flooding. (Tokio allocates a
/// channel's slots 32 at a time, so up to 32 costs no more memory than 16.)
pub const INPUT_QUEUE: usize = 32;

/// Joins, reservations and kicks waiting for the room loop to pick them up.
const COMMAND_QUEUE: usize = 256;

/// What a room is made of.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// The room's id (what `/ws?room=` and the API take).
    pub id: String,
    pub settings: RoomSettings,
    /// The game the room runs (the one `settings.game` names).
    pub game: Arc<dyn Game>,
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

    /// The `Welcome` of a joined session, but for its `resume_token`, which the session
    /// signs.
    pub fn welcome(&self, joined: &Joined) -> Welcome {
        let settings = &self.settings;
        let schema = self.game.replication().schema().clone();
        // The radius in the unit of the game's motions, as the replicator compares it.
        let aoi_radius = schema.layout().map_or(0, |l| {
            replication::aoi_radius_steps(&l, settings.aoi_radius)
        });
        Welcome {
            client_id: joined.client_id,
            entity: joined.entity,
            tick_rate: settings.tick_rate,
            snapshot_rate: settings.snapshot_rate,
            map: settings.map.info().clone(),
            aoi_radius: u32::try_from(aoi_radius).unwrap_or(u32::MAX),
            packing: settings.delta_packing(),
            settings: settings.default_settings(),
            room: self.id.clone(),
            player: joined.player.clone(),
            resume_token: String::new(),
            resume_grace_s: u16::try_from(self.resume_grace.as_secs()).unwrap_or(u16::MAX),
            schema,
            resumed: joined.resumed,
        }
    }

    /// The grace period in ticks of this room (at least one).
    fn grace_ticks(&self) -> u32 {
        let ticks = self.resume_grace.as_secs_f64() * f64::from(self.settings.tick_rate);
        (ticks.ceil() as u32).max(1)
    }
}

/// What a session hands its room, already decoded and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomInput {
    /// One frame of an `Input`: the intent of the tick numbered `seq`. A session hands
    /// a bundle over frame by frame, so a message stays small in the channel.
    Frame { seq: u32, intent: Intent },
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
    /// An operator removed the player (`POST /api/rooms/{id}/kick`).
    Kicked,
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
    #[error("could not start the room workers: {0}")]
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

/// A player in the room, as its loop last published the roster.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RosterEntry {
    pub player_id: String,
    /// The name of its latest `Hello`.
    pub name: String,
    /// False while the player is held for a resume (its connection was lost).
    pub connected: bool,
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
    /// The players, published by the loop whenever they change.
    roster: watch::Receiver<Arc<[RosterEntry]>>,
    config: Arc<RoomConfig>,
    occupancy: Arc<Occupancy>,
    close: CancellationToken,
    parked: watch::Receiver<bool>,
    /// Puts the room back in the schedule if it was parked: every command is followed
    /// by a wake, sent after the command is queued so the room cannot park past it.
    waker: Waker,
}

impl RoomHandle {
    /// Queues `command` and wakes the room.
    async fn send(&self, command: Command) -> Result<(), RoomError> {
        let sent = self.commands.send(command).await;
        self.waker.wake();
        sent.map_err(|_| RoomError::Closed)
    }

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
        self.send(Command::Join {
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
        .await?;
        let joined = reply_rx.await.map_err(|_| RoomError::Closed)??;
        Ok(Seat {
            welcome: self.config.welcome(&joined),
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
        self.send(Command::Reserve {
            player,
            nonce,
            expires: Instant::now() + ttl,
            reply,
        })
        .await?;
        reply_rx.await.map_err(|_| RoomError::Closed)?
    }

    /// Removes `player` from the room at once, connected or held for a resume: its
    /// session (if any) is closed with [`Kick::Kicked`], its entity despawned and its
    /// seat freed. Answers once the room has done it: whether the player was there.
    pub async fn kick(&self, player: String) -> Result<bool, RoomError> {
        let (reply, reply_rx) = oneshot::channel();
        self.send(Command::Kick { player, reply }).await?;
        reply_rx.await.map_err(|_| RoomError::Closed)
    }

    /// The players in the room (connected or held), as of the room's last change of
    /// them. Reads what the loop published: never waits for the room.
    pub fn roster(&self) -> Arc<[RosterEntry]> {
        self.roster.borrow().clone()
    }

    /// The room's id.
    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// The newest tick the room has simulated.
    pub fn current_tick(&self) -> u32 {
        self.tick.load(Ordering::Relaxed)
    }

    /// Whether the room is parked: idle, not ticking until a command wakes it.
    pub fn parked(&self) -> watch::Receiver<bool> {
        self.parked.clone()
    }

    /// Tick summaries, updated once per stats interval (and when the room parks).
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
    /// current tick (at once if it was parked).
    pub fn close(&self) {
        self.close.cancel();
        self.waker.wake();
    }

    pub fn is_closed(&self) -> bool {
        self.close.is_cancelled() || self.commands.is_closed()
    }
}

/// Resolves once a room has ended: its sessions were told why and its World dropped.
#[derive(Debug)]
pub struct RoomDone(oneshot::Receiver<()>);

impl RoomDone {
    pub async fn wait(self) {
        // The room drops the sender when it ends; nothing is ever sent.
        let _ = self.0.await;
    }
}

/// Starts a room on `pool`. It ends when `shutdown` is cancelled or the room is closed
/// ([`RoomHandle::close`]; at shutdown, [`RoomPool::close`] wakes parked rooms to see
/// it); the returned [`RoomDone`] says when. `metrics` makes the room's metric handles
/// (again, after the room was parked).
pub fn spawn(
    config: RoomConfig,
    shutdown: CancellationToken,
    metrics: impl Fn() -> RoomMetrics + Send + 'static,
    pool: &RoomPool,
) -> (RoomHandle, RoomDone) {
    let (commands_tx, commands_rx) = mpsc::channel(COMMAND_QUEUE);
    let (stats_tx, stats_rx) = watch::channel(RoomStats::unreported());
    let (roster_tx, roster_rx) = watch::channel(Arc::from(Vec::new()));
    let (done_tx, done_rx) = oneshot::channel();
    let (parked_tx, parked_rx) = watch::channel(false);
    let tick = Arc::new(AtomicU32::new(0));
    let occupancy = Arc::new(Occupancy::default());
    let close = CancellationToken::new();
    let config = Arc::new(config);
    let parts = driver::Parts {
        config: config.clone(),
        commands: commands_rx,
        tick: tick.clone(),
        stats: stats_tx,
        occupancy: occupancy.clone(),
        roster: roster_tx,
        metrics: metrics(),
    };
    let job = job::RoomJob::new(
        parts,
        shutdown,
        close.clone(),
        done_tx,
        Box::new(metrics),
        parked_tx,
    );
    let waker = pool.add(Box::new(job));
    let handle = RoomHandle {
        commands: commands_tx,
        tick,
        stats: stats_rx,
        roster: roster_rx,
        config,
        occupancy,
        close,
        parked: parked_rx,
        waker,
    };
    (handle, RoomDone(done_rx))
}
