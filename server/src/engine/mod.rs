//! The game API: what a game gives the engine, and what the engine gives every game.
//!
//! A game is a [`Game`]: it builds its World ([`Game::setup`]), adds its systems to the
//! room's fixed-tick schedule ([`Game::systems`]), spawns a player's entity when someone
//! joins and hands players their input, and reports its own counters. The engine owns
//! everything else: seats, sessions, resume, replication, budgets, pacing, metrics.
//!
//! The engine provides two resources to every World: [`SimClock`] (the only notion of
//! time a game may read: the tick number and the fixed `dt`) and [`NetIds`] (network
//! identities, [`NetId`], unique in the room and never reused).
//!
//! What replicates is the game's too: it registers its [`replicate::Replicated`]
//! components on a [`replicate::Replication`] ([`Game::replication`]), which gives the
//! schema clients receive in `Welcome` and the queries the room's replicator reads.

use bevy_ecs::prelude::*;
use shared::protocol::Intent;

use crate::control::config::RoomSettings;

pub mod replicate;

pub use replicate::{Replicated, Replication};

/// The simulation's only notion of time.
#[derive(Resource, Debug, Clone, Copy)]
pub struct SimClock {
    pub tick: u32,
    pub tick_rate: u16,
    pub dt: f64,
}

/// The network identity of a replicated entity: unique in its room, never reused.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NetId(pub u32);

/// Hands out [`NetId`]s.
#[derive(Resource, Debug, Default)]
pub struct NetIds {
    next: u32,
}

impl NetIds {
    pub fn allocate(&mut self) -> NetId {
        self.next = self.next.wrapping_add(1);
        NetId(self.next)
    }
}

/// A game that rooms can run. One value serves every room of that game (it holds no
/// room state: that lives in each room's World).
pub trait Game: Send + Sync + std::fmt::Debug + 'static {
    /// The name rooms are created with.
    fn name(&self) -> &'static str;

    /// Fills a new room's World (which holds [`SimClock`] and [`NetIds`] already): the
    /// game's resources and initial entities, from the room's settings and seed.
    fn setup(&self, world: &mut World, settings: &RoomSettings, seed: u64);

    /// The components the game replicates, in schema order.
    fn replication(&self) -> Replication;

    /// The game's own map (JSON, see `assets/maps/`), embedded in the server: what its
    /// rooms play on when they name no map, and a map every room may name.
    fn default_map(&self) -> &'static str;

    /// Adds the game's systems to the room's fixed-tick schedule.
    fn systems(&self, schedule: &mut Schedule);

    /// Spawns the entity of a player who joins; it must carry a [`NetId`].
    fn spawn_player(&self, world: &mut World, client_id: u32, name: String) -> (Entity, NetId);

    /// A player is taken back (a resume, or a join naming it) under this name.
    fn rejoin(&self, world: &mut World, player: Entity, name: String);

    /// The intent the player's systems act on from the next tick: the room applies one
    /// of the client's queued frames per tick (and keeps the last while none is queued),
    /// or `None` when its connection is lost (the player stands still).
    fn input(&self, world: &mut World, player: Entity, input: Option<Intent>);

    /// The game's counters since the last call, for the room's tick summary.
    fn take_counters(&self, world: &mut World) -> Vec<(&'static str, u64)>;

    /// The bits of `Intent.buttons` this game gives a meaning to. An input with any
    /// other bit set is refused (close code 4007), so a client of the wrong game, or a
    /// broken one, is told at once.
    fn buttons(&self) -> u8;
}

/// A new room's World with the engine's resources, filled by `game`.
pub fn new_world(game: &dyn Game, settings: &RoomSettings, seed: u64) -> World {
    let mut world = World::new();
    world.insert_resource(SimClock {
        tick: 0,
        tick_rate: settings.tick_rate,
        dt: 1.0 / f64::from(settings.tick_rate),
    });
    world.insert_resource(NetIds::default());
    game.setup(&mut world, settings, seed);
    world
}

/// A new room's schedule with `game`'s systems.
pub fn new_schedule(game: &dyn Game) -> Schedule {
    let mut schedule = Schedule::default();
    game.systems(&mut schedule);
    schedule
}
