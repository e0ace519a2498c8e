//! The ball game, as a [`Game`]: two teams on a pitch, one ball, goals at both ends.
//!
//! Players move by the same rules as in the arena (`shared::movement`, predicted by
//! their clients) and join the smaller team. A player touching the loose ball takes it
//! and carries it; kick (button bit 0, on the press) releases it along the aim; an
//! opponent touching the holder tackles it away once the holder has had it for a
//! cooldown. A loose ball wholly inside a goal scores for the other team and goes back
//! to the centre; a match lasts a fixed time, then pauses and starts again from 0–0.
//! The constants and wire values clients need too are in `shared::games::ball`.
//!
//! What it replicates is in [`replicate`]: the loose ball is a trajectory, the held ball
//! has no motion at all, and the match is a global entity, so an idle room sends nothing
//! and a rolling ball a handful of updates per kick.
//!
//! The simulation reads time only from [`crate::engine::SimClock`] and randomness only from
//! [`RoomRng`] (seeded by the room), so a room with a fixed seed replays identically.
//!
//! Files: `components` (state), `spawn` (the world and new players), `play` (movement,
//! kicks, possession, tackles), `flight` (the loose ball), `referee` (goals, clock,
//! matches), `replicate` (the schema); `tests` and `room_tests` (in a real room core).

// Validated peer input drives this module: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use bevy_ecs::prelude::*;
use shared::games::ball::BUTTON_KICK;
use shared::protocol::Intent;

use crate::control::config::RoomSettings;
use crate::engine::{Game, NetId, Replication};

pub mod components;
pub mod flight;
mod play;
mod referee;
pub mod replicate;
#[cfg(test)]
mod room_tests;
mod spawn;
#[cfg(test)]
mod tests;

pub use components::{
    Ball, BallCounters, BallState, Body, Control, Facing, Match, Pitch, Player, RoomRng, TickRules,
};
pub use flight::Flight;

/// The ball game as the engine sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct BallGame;

impl Game for BallGame {
    fn name(&self) -> &'static str {
        "ball"
    }

    fn replication(&self) -> Replication {
        replicate::replication()
    }

    fn default_map(&self) -> &'static str {
        shared::games::ball::PITCH_JSON
    }

    fn setup(&self, world: &mut World, settings: &RoomSettings, seed: u64) {
        spawn::setup(world, settings, seed);
    }

    /// The per-tick systems in order: players move and kick, the ball moves, a goal is
    /// checked before anyone can take a ball that crossed the line, then possession and
    /// the clock.
    fn systems(&self, schedule: &mut Schedule) {
        schedule.add_systems(
            (
                play::move_players,
                play::kick,
                flight::move_ball,
                referee::score_goals,
                play::take_possession,
                referee::run_clock,
            )
                .chain(),
        );
    }

    fn spawn_player(&self, world: &mut World, client_id: u32, name: String) -> (Entity, NetId) {
        spawn::spawn_player(world, client_id, name)
    }

    fn rejoin(&self, world: &mut World, player: Entity, name: String) {
        if let Some(mut control) = world.get_mut::<Control>(player) {
            control.input = Intent::default();
            control.held = 0;
        }
        // Only a new name is a change of the replicated player.
        if let Some(mut p) = world.get_mut::<Player>(player)
            && p.name != name
        {
            p.name = name;
        }
    }

    fn input(&self, world: &mut World, player: Entity, input: Option<Intent>) {
        if let Some(mut control) = world.get_mut::<Control>(player) {
            control.input = input.unwrap_or_default();
        }
    }

    fn take_counters(&self, world: &mut World) -> Vec<(&'static str, u64)> {
        let c = world
            .get_resource_mut::<BallCounters>()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        vec![
            ("goals", c.goals),
            ("kicks", c.kicks),
            ("tackles", c.tackles),
        ]
    }

    /// Bit 0 kicks.
    fn buttons(&self) -> u8 {
        BUTTON_KICK
    }
}
