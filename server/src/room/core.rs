//! The room core: a room's World, schedule, seats and replication, with no IO.
//!
//! [`RoomCore`] reads no clock, owns no channel and starts no thread: time comes in as
//! data (`now` for reservations and byte budgets, the tick count for the simulation),
//! sessions are client ids, and snapshot bytes leave through a sink the caller passes to
//! [`RoomCore::tick`], which answers whether the bytes were taken. The driver
//! (`room/driver.rs`) wraps it with a thread, tick pacing, channels and metrics; the
//! tests drive it in memory (`room/harness.rs`).
//!
//! Seats: the core is the one authority on who holds a seat. A seat is held by a
//! connected player, by a player whose connection was lost (for the resume grace
//! period, frozen: no input), or by a reservation (a join token not used yet, until it
//! expires). Players are known by their player id: a resume, or a join token naming a
//! player already in the room, takes back that player's entity, so one player never
//! has two entities.

// Validated peer input drives this module: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy_ecs::prelude::*;
use bytes::Bytes;
use governor::clock::FakeRelativeClock;
use shared::protocol::PlayerName;
use tracing::{info, warn};

use super::inputs::{InputQueue, Pushed};
use super::replication::{ClientReplication, DeltaStats, Replicator};
use super::stats::{RoomStats, TickTimer};
use super::{JoinKind, Joined, RoomConfig, RoomError, RoomInput, RosterEntry, Seats};
use crate::control::config::SnapshotMode;
use crate::engine::{self, Game, SimClock};

/// What became of bytes handed to the sink of [`RoomCore::tick`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for the client: the snapshot is now the client's baseline.
    Queued,
    /// The client's queue is full: this snapshot is lost to it, and the next delta
    /// covers it too (the baseline stays as it was).
    Full,
    /// The client's session is gone; the caller tells the core with
    /// [`RoomCore::lost`] or [`RoomCore::leave`].
    Closed,
}

/// What one call of [`RoomCore::input`] did, for the caller's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputOutcome {
    /// Applied (an input for the next tick, or new snapshot settings).
    Applied,
    /// An input no newer than the last one applied: dropped.
    Stale,
    /// A desync report: the client's next snapshot is a keyframe.
    Keyframe,
    /// The client left: the seat is free.
    Left,
    /// No such client (already removed).
    Unknown,
}

/// What the snapshot part of a tick sent, for the caller's metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    pub snapshots: u64,
    /// Snapshots the sink refused with [`Delivery::Full`].
    pub dropped: u64,
    pub bytes: u64,
    pub keyframes: u64,
    /// Clients whose sink answered [`Delivery::Closed`], in ascending order.
    pub closed: Vec<u32>,
    /// Whether this tick built snapshots (some client's turn came): the kept world was
    /// brought up to date.
    pub replicated: bool,
}

/// Connected clients a room serves on one phase before it spreads newcomers over the
/// others: below that, the shared part of a snapshot tick (bringing the quantised world
/// up to date) costs more than the per-client work a second phase would take off it.
pub const TURN_SHARE: usize = 16;

/// Whether `tick` is on the cadence of `config`'s snapshot rate (see
/// [`RoomCore::is_snapshot_tick`]).
fn on_cadence(config: &RoomConfig, tick: u32) -> bool {
    let s = &config.settings;
    let (sr, tr) = (u64::from(s.snapshot_rate), u64::from(s.tick_rate));
    let t = u64::from(tick);
    t * sr / tr != t.saturating_sub(1) * sr / tr
}

/// Whether it is a client's turn at `tick`: connected, and `tick` on the room's cadence
/// ([`RoomCore::is_snapshot_tick`]) shifted by the client's phase, chosen when it joined
/// and kept. In a crowded room a snapshot tick thus builds a share of the clients'
/// snapshots instead of all of them, so that tick is shorter and the room's bytes leave
/// in smaller bursts.
fn turn_at(config: &RoomConfig, tick: u32) -> impl Fn(&Client) -> bool + '_ {
    move |c| c.connected && on_cadence(config, tick.wrapping_add(c.phase))
}

struct Client {
    id: u32,
    player: String,
    /// The name of the player's latest `Hello`, for the roster.
    name: String,
    entity: Entity,
    net_id: u32,
    /// False while the player is held for a resume.
    connected: bool,
    /// While held: the tick at which the player is removed.
    held_until: u32,
    generation: u64,
    /// The newest generation whose session has sent anything (or was made by a join
    /// token, which voids the older sessions on purpose). The sessions after it may have
    /// been lost before their client received their Welcome (and resume token), so a
    /// token of this generation or later still takes the player back.
    heard_generation: u64,
    /// Input frames received and not applied yet; one is applied per tick.
    inputs: InputQueue,
    /// Which of the room's snapshot phases this client's snapshots go on, for good
    /// ([`turn_at`]).
    phase: u32,
    replication: ClientReplication,
}

struct Reservation {
    player: String,
    nonce: String,
    expires: Instant,
}

/// Sizes of a room's structures (see [`RoomCore::footprint`]).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// Live game entities (with a net id).
    pub entities: usize,
    /// Every entity the World holds, bevy's own included.
    pub ecs_entities: usize,
    /// Removal messages bevy keeps for despawned components.
    pub removal_messages: usize,
    pub clients: usize,
    pub reservations: usize,
    /// Entities held in all clients' baselines.
    pub held_views: usize,
    /// Entities waiting for a client's byte budget, over all clients.
    pub pending: usize,
    /// Slots of the replicator's room-wide buffers.
    pub replicator_slots: usize,
}

/// A room without IO; see the module docs.
pub struct RoomCore {
    /// The game this room runs.
    game: std::sync::Arc<dyn Game>,
    world: World,
    schedule: Schedule,
    replicator: Replicator,
    clients: Vec<Client>,
    reservations: Vec<Reservation>,
    next_client_id: u32,
    config: Arc<RoomConfig>,
    grace_ticks: u32,
    /// Simulation time for the per-client snapshot rate limiters.
    rate_clock: FakeRelativeClock,
    rate_clock_ns: u64,
    /// Bumped whenever the roster changes (a player joins, is taken back, lost or
    /// removed), so the driver republishes it only then.
    roster_version: u64,
    /// Counters and timings since the last [`RoomCore::finish_window`]; the driver
    /// records the timings it measures here too.
    pub timer: TickTimer,
}

impl std::fmt::Debug for RoomCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomCore")
            .field("id", &self.config.id)
            .field("tick", &self.current_tick())
            .field("seats", &self.seats())
            .finish_non_exhaustive()
    }
}

impl RoomCore {
    pub fn new(config: Arc<RoomConfig>) -> RoomCore {
        let s = &config.settings;
        let game = config.game.clone();
        let mut world = engine::new_world(game.as_ref(), s, config.seed);
        let info = s.map.info();
        #[expect(
            clippy::expect_used,
            reason = "a game's schema is its code, not peer data: \
                      games::tests::every_game_declares_a_valid_schema checks every game"
        )]
        let replicator = Replicator::new(
            &mut world,
            &game.replication(),
            s.snapshots,
            s.delta_packing(),
            s.tick_rate,
            s.aoi_radius,
            (info.width, info.height),
        )
        .expect("a game's schema is valid");
        RoomCore {
            world,
            schedule: engine::new_schedule(game.as_ref()),
            game,
            replicator,
            clients: Vec::new(),
            reservations: Vec::new(),
            next_client_id: 0,
            grace_ticks: config.grace_ticks(),
            config,
            rate_clock: FakeRelativeClock::default(),
            rate_clock_ns: 0,
            roster_version: 0,
            timer: TickTimer::default(),
        }
    }

    pub fn config(&self) -> &RoomConfig {
        &self.config
    }

    /// The newest tick simulated (0 before the first).
    pub fn current_tick(&self) -> u32 {
        self.world.resource::<SimClock>().tick
    }

    /// The grace period of a lost player, in ticks.
    pub fn grace_ticks(&self) -> u32 {
        self.grace_ticks
    }

    /// Seats taken now.
    pub fn seats(&self) -> Seats {
        let players = self.clients.iter().filter(|c| c.connected).count() as u32;
        Seats {
            players,
            held: self.clients.len() as u32 - players,
            reserved: self.reservations.len() as u32,
        }
    }

    /// The players in the room, connected or held, in the order they joined (but for
    /// removals, which move the last one into the gap).
    pub fn roster(&self) -> Vec<RosterEntry> {
        self.clients
            .iter()
            .map(|c| RosterEntry {
                player_id: c.player.clone(),
                name: c.name.clone(),
                connected: c.connected,
            })
            .collect()
    }

    /// Changes whenever [`RoomCore::roster`] may have.
    pub fn roster_version(&self) -> u64 {
        self.roster_version
    }

    /// Seats a new player would leave free.
    fn has_free_seat(&self) -> bool {
        self.clients.len() + self.reservations.len() < self.config.settings.max_players as usize
    }

    fn index_of(&self, client_id: u32) -> Option<usize> {
        self.clients.iter().position(|c| c.id == client_id)
    }

    /// Reserves a seat for `player` until `expires` (a join token's lifetime); a player
    /// already in the room needs none and is always granted.
    pub fn reserve(
        &mut self,
        player: String,
        nonce: String,
        expires: Instant,
    ) -> Result<(), RoomError> {
        if self.clients.iter().any(|c| c.player == player) {
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
        }
    }

    /// Seats a session: a new player, or an existing one taken back (a resume, or a join
    /// token naming a player already in the room). A client id that had a session keeps
    /// its id: the caller replaces that session with the new one.
    pub fn join(&mut self, kind: JoinKind, name: PlayerName) -> Result<Joined, RoomError> {
        let existing =
            |core: &RoomCore, player: &str| core.clients.iter().position(|c| c.player == player);
        // `takeover`: a join token naming a player in the room, which voids older tokens.
        let (player, index, takeover) = match kind {
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
                // The newest generation's token, or an older one no session since has
                // been heard from: a connection lost between the server's resume and the
                // client's receipt of its Welcome leaves the client with the older token.
                let current = (client.heard_generation..=client.generation).contains(&generation);
                if client.net_id != entity || !current {
                    return Err(RoomError::ResumeFailed(
                        "stale resume token (a newer session took this player)",
                    ));
                }
                (player, Some(index), false)
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
                (player, index, true)
            }
            JoinKind::Anonymous { player } => {
                if !self.has_free_seat() {
                    return Err(RoomError::Full);
                }
                (player, None, false)
            }
        };
        let settings = self.config.settings.default_settings();
        self.roster_version += 1;
        match index {
            Some(index) => {
                let Some(client) = self.clients.get_mut(index) else {
                    return Err(RoomError::ResumeFailed("gone"));
                };
                client.connected = true;
                client.generation += 1;
                if takeover {
                    // A join token takes the player over on purpose: older tokens go.
                    client.heard_generation = client.generation;
                }
                client.inputs.reset();
                client.replication = ClientReplication::new(settings, &self.rate_clock);
                client.name = name.as_str().to_owned();
                self.game
                    .rejoin(&mut self.world, client.entity, name.into_string());
                info!(room = %self.config.id, client = client.id, player = %client.player, generation = client.generation, "player taken back");
                Ok(Joined {
                    client_id: client.id,
                    entity: client.net_id,
                    player,
                    generation: client.generation,
                    resumed: true,
                })
            }
            None => {
                self.next_client_id = self.next_client_id.wrapping_add(1);
                let id = self.next_client_id;
                let phase = self.quietest_phase();
                let display = name.as_str().to_owned();
                let (entity, net_id) =
                    self.game
                        .spawn_player(&mut self.world, id, name.into_string());
                self.clients.push(Client {
                    id,
                    player: player.clone(),
                    name: display,
                    entity,
                    net_id: net_id.0,
                    connected: true,
                    held_until: 0,
                    generation: 1,
                    heard_generation: 1,
                    inputs: InputQueue::default(),
                    phase,
                    replication: ClientReplication::new(settings, &self.rate_clock),
                });
                Ok(Joined {
                    client_id: id,
                    entity: net_id.0,
                    player,
                    generation: 1,
                    resumed: false,
                })
            }
        }
    }

    /// What a session sent, already decoded and validated.
    pub fn input(&mut self, client_id: u32, input: RoomInput) -> InputOutcome {
        let Some(index) = self.index_of(client_id) else {
            return InputOutcome::Unknown;
        };
        if input == RoomInput::Leave {
            self.remove(index, "left");
            return InputOutcome::Left;
        }
        let Some(client) = self.clients.get_mut(index) else {
            return InputOutcome::Unknown;
        };
        client.heard_generation = client.generation;
        match input {
            RoomInput::Frame { seq, intent } if client.connected => {
                // Queued: `step` applies one frame per tick.
                match client.inputs.push(seq, intent) {
                    Pushed::Queued => InputOutcome::Applied,
                    Pushed::Displaced => {
                        self.count_inputs_dropped(1);
                        InputOutcome::Applied
                    }
                    Pushed::Stale => {
                        self.count_inputs_dropped(1);
                        InputOutcome::Stale
                    }
                }
            }
            RoomInput::Frame { .. } => {
                self.count_inputs_dropped(1);
                InputOutcome::Stale
            }
            RoomInput::Settings(settings) => {
                client.replication.set_settings(settings, &self.rate_clock);
                InputOutcome::Applied
            }
            RoomInput::Desync(_) => {
                client.replication.reset();
                self.timer.current.desyncs += 1;
                InputOutcome::Keyframe
            }
            RoomInput::Leave => InputOutcome::Left,
        }
    }

    /// The session of `client_id` is gone without leaving: its player is held for a
    /// resume (frozen, no input) until the grace period ends.
    pub fn lost(&mut self, client_id: u32) {
        let held_until = self.current_tick().saturating_add(self.grace_ticks);
        let Some(client) = self.clients.iter_mut().find(|c| c.id == client_id) else {
            return;
        };
        client.connected = false;
        client.held_until = held_until;
        self.roster_version += 1;
        client.inputs.reset();
        self.game.input(&mut self.world, client.entity, None);
        info!(room = %self.config.id, client = client.id, player = %client.player, "connection lost; player held for a resume");
    }

    /// The session of `client_id` ended on purpose: the seat is free now.
    pub fn leave(&mut self, client_id: u32) {
        if let Some(index) = self.index_of(client_id) {
            self.remove(index, "left");
        }
    }

    /// An operator removes `player` (connected or held): its entity goes and its seat
    /// is free at once, with no resume. Returns its client id, whose session the caller
    /// closes; `None` when no such player is in the room.
    pub fn kick(&mut self, player: &str) -> Option<u32> {
        let index = self.clients.iter().position(|c| c.player == player)?;
        let id = self.clients.get(index)?.id;
        // Every seat the player holds is freed, a reservation from a second join token
        // too. (A kick is no ban: a new token seats the player again.)
        self.reservations.retain(|r| r.player != player);
        self.remove(index, "kicked");
        Some(id)
    }

    fn remove(&mut self, index: usize, why: &str) {
        if index < self.clients.len() {
            self.roster_version += 1;
            let client = self.clients.swap_remove(index);
            self.world.despawn(client.entity);
            info!(room = %self.config.id, client = client.id, player = %client.player, why, "player removed");
        }
    }

    /// One tick: [`RoomCore::step`], then, when some client's turn comes,
    /// [`RoomCore::replicate`].
    pub fn tick(&mut self, now: Instant, sink: impl FnMut(u32, Bytes) -> Delivery) -> Sent {
        let tick = self.step(now);
        if self.snapshot_due(tick) {
            self.replicate(now, sink)
        } else {
            Sent::default()
        }
    }

    /// Drops the reservations that expired by `now`. [`RoomCore::step`] does too; a
    /// driver calls it before the joins it takes in a tick, so none uses an expired one.
    pub fn expire(&mut self, now: Instant) {
        self.reservations.retain(|r| r.expires > now);
    }

    /// Advances the simulation one tick at `now`: expired reservations and held players
    /// past their grace period go, then the game's systems run. Returns the new tick.
    pub fn step(&mut self, now: Instant) -> u32 {
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
        self.expire(now);
        let mut i = 0;
        while let Some(client) = self.clients.get(i) {
            if !client.connected && tick >= client.held_until {
                self.remove(i, "grace period over");
            } else {
                i += 1;
            }
        }
        self.apply_inputs();
        self.step_world();
        tick
    }

    /// Hands each connected client's next queued input frame to the game.
    fn apply_inputs(&mut self) {
        let drain_after = u32::from(self.config.settings.tick_rate);
        let mut dropped = 0;
        for client in self.clients.iter_mut().filter(|c| c.connected) {
            let (intent, gone) = client.inputs.next(drain_after);
            dropped += u64::from(gone);
            if let Some(intent) = intent {
                self.game
                    .input(&mut self.world, client.entity, Some(intent));
            }
        }
        self.count_inputs_dropped(dropped);
    }

    /// Input frames dropped: stale, or the queue's limits (`room/inputs.rs`).
    fn count_inputs_dropped(&mut self, frames: u64) {
        self.timer.current.inputs_dropped += frames;
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
            // A room with nobody to send to runs no replication pass, maybe for months.
            self.replicator.check_change_ticks(check);
        }
    }

    /// Whether `tick` is on the room's snapshot cadence (phase 0; a client of phase `p`
    /// is served when `tick + p` is): `snapshot_rate` ticks spread evenly over each
    /// second of ticks, also when the rates do not divide.
    pub fn is_snapshot_tick(&self, tick: u32) -> bool {
        on_cadence(&self.config, tick)
    }

    /// How many phases clients' snapshots may be spread over: the ticks between two
    /// snapshots, rounded up (1 when every tick sends).
    fn snapshot_phases(&self) -> u32 {
        let s = &self.config.settings;
        u32::from(s.tick_rate)
            .div_ceil(u32::from(s.snapshot_rate.max(1)))
            .max(1)
    }

    /// The phase a new client gets: phase 0 while the room has fewer than
    /// [`TURN_SHARE`] connected clients, then the phase with the fewest.
    fn quietest_phase(&self) -> u32 {
        let mut counts = vec![0usize; self.snapshot_phases() as usize];
        for c in self.clients.iter().filter(|c| c.connected) {
            if let Some(n) = counts.get_mut(c.phase as usize) {
                *n += 1;
            }
        }
        if counts.iter().sum::<usize>() < TURN_SHARE {
            return 0;
        }
        counts
            .iter()
            .enumerate()
            .min_by_key(|&(_, n)| *n)
            .map_or(0, |(phase, _)| phase as u32)
    }

    /// Whether some connected client's turn is at `tick`.
    pub fn snapshot_due(&self, tick: u32) -> bool {
        self.clients.iter().any(turn_at(&self.config, tick))
    }

    /// Builds the snapshot of each connected client whose turn is this tick
    /// (its phase, see `turn_at`) and hands it to `sink(client_id, bytes)`. A snapshot
    /// becomes the client's baseline only when the sink answers [`Delivery::Queued`];
    /// `now` fills the byte budgets.
    pub fn replicate(
        &mut self,
        now: Instant,
        mut sink: impl FnMut(u32, Bytes) -> Delivery,
    ) -> Sent {
        let tick = self.current_tick();
        let mut sent = Sent::default();
        let config = Arc::clone(&self.config);
        let turn = turn_at(&config, tick);
        if !self.clients.iter().any(&turn) {
            return sent;
        }
        // A change tick of its own: whatever changes after it is new to the next pass.
        let this_run = self.world.increment_change_tick();
        if let Err(e) = self.replicator.prepare(&self.world, this_run) {
            warn!(room = %self.config.id, error = %e, "snapshot preparation failed");
            return sent;
        }
        sent.replicated = true;
        self.timer.current.entities = self.replicator.entity_count();
        for client in self.clients.iter_mut().filter(|c| turn(c)) {
            let stats = &mut self.timer.current;
            let built = match self.replicator.mode() {
                SnapshotMode::Full => self
                    .replicator
                    .full_for(tick, client.inputs.applied_seq())
                    .map(|bytes| Some((bytes, None))),
                SnapshotMode::Delta => {
                    if !client.replication.due() {
                        stats.rate_skipped += 1;
                        continue;
                    }
                    self.replicator
                        .delta_for(
                            &mut client.replication,
                            client.net_id,
                            tick,
                            client.inputs.applied_seq(),
                            &mut stats.staleness_ms,
                            now,
                        )
                        .map(|built| built.map(|(bytes, delta)| (bytes, Some(delta))))
                }
            };
            let (bytes, delta) = match built {
                Ok(Some(built)) => built,
                Ok(None) => {
                    stats.budget_skipped += 1;
                    continue;
                }
                Err(e) => {
                    warn!(room = %self.config.id, error = %e, "snapshot encoding failed");
                    continue;
                }
            };
            let len = bytes.len() as u64;
            match sink(client.id, bytes) {
                Delivery::Queued => {
                    self.replicator
                        .commit(&mut client.replication, tick, len as usize);
                    stats.snapshots_sent += 1;
                    stats.bytes_out += len;
                    sent.snapshots += 1;
                    sent.bytes += len;
                    if let Some(d) = delta {
                        sent.keyframes += u64::from(d.keyframe);
                        record(stats, &d);
                    }
                }
                Delivery::Full => {
                    stats.snapshots_dropped += 1;
                    sent.dropped += 1;
                }
                Delivery::Closed => sent.closed.push(client.id),
            }
        }
        sent.closed.sort_unstable();
        sent
    }

    /// Ends a statistics window: the room's figures since the last call, and the game's
    /// counters.
    pub fn finish_window(&mut self) -> (RoomStats, Vec<(&'static str, u64)>) {
        self.timer.current.tick = self.current_tick();
        self.timer.current.clients = self.clients.iter().filter(|c| c.connected).count();
        let stats = self.timer.finish();
        let counters = self.game.take_counters(&mut self.world);
        (stats, counters)
    }

    /// The World, for tests that set up or inspect game state.
    #[cfg(test)]
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// The view the server holds for `client_id` (its baseline: the last snapshot queued
    /// to it), for tests comparing it with what the client decoded.
    #[cfg(test)]
    pub fn baseline(&self, client_id: u32) -> Option<(u32, &[shared::protocol::EntityState])> {
        let client = self.clients.iter().find(|c| c.id == client_id)?;
        Some(client.replication.baseline())
    }

    /// Checks the replicator's kept world against a fresh full pass over the World: the
    /// change detection missed nothing (a system that changed a replicated value without
    /// marking its component changed fails this).
    #[cfg(test)]
    pub fn assert_replication_is_fresh(&mut self) {
        let s = &self.config.settings;
        let info = s.map.info();
        let mut fresh = Replicator::new(
            &mut self.world,
            &self.game.replication(),
            s.snapshots,
            s.delta_packing(),
            s.tick_rate,
            s.aoi_radius,
            (info.width, info.height),
        )
        .unwrap();
        let this_run = self.world.increment_change_tick();
        fresh.prepare(&self.world, this_run).unwrap();
        let (kept, kept_hashes) = self.replicator.entities();
        let (full, full_hashes) = fresh.entities();
        assert_eq!(kept, full, "the kept world differs from a full pass");
        assert_eq!(kept_hashes, full_hashes);
    }

    /// What this room holds, by structure: the memory guard compares these over time.
    #[cfg(test)]
    pub fn footprint(&mut self) -> Footprint {
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
            entities: self
                .world
                .query::<&engine::NetId>()
                .iter(&self.world)
                .count(),
            ecs_entities: self.world.entities().count_spawned() as usize,
            removal_messages,
            clients: self.clients.len(),
            reservations: self.reservations.len(),
            held_views,
            pending,
            replicator_slots: self.replicator.capacity(),
        }
    }
}

/// Adds one delta snapshot's figures to the window's.
fn record(stats: &mut RoomStats, d: &DeltaStats) {
    stats.keyframes += u64::from(d.keyframe);
    stats.in_view += d.in_view as u64;
    stats.moving_in_view += d.moving_in_view as u64;
    stats.created += d.created as u64;
    stats.changed += d.changed as u64;
    stats.removed += d.removed as u64;
    stats.deferred += d.deferred as u64;
    stats.payload_bytes += d.payload_bytes as u64;
    stats.radius_q_sum += d.radius_q.max(0) as u64;
}
