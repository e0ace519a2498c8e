//! The ball game's components and resources.
//!
//! What replicates is in components of its own ([`Body`], [`Facing`], [`Player`],
//! [`Ball`], [`Match`], and the loose ball's [`super::Flight`]); what only the server needs ([`Control`],
//! [`BallState`]) is kept apart, so that writing it never marks a replicated component
//! changed and no system needs `bypass_change_detection` to stay cheap.

use std::sync::Arc;

use bevy_ecs::prelude::*;
use rand::rngs::SmallRng;
use shared::games::ball::{
    BALL_RADIUS, END_PAUSE_S, FRICTION_INTERVAL_S, GOAL_PAUSE_S, KICK_GRACE_S, MATCH_S, Phase,
    TACKLE_COOLDOWN_S, Team,
};
use shared::map::Map;
use shared::movement::Kinematics;
use shared::protocol::Intent;
use shared::quant::{pos_to_q, q_to_pos};
use shared::rules::seconds_to_ticks;

/// A player's position and velocity in metres; its client predicts it with
/// `shared::movement`, as in every game.
#[derive(Component, Debug, Clone, Copy, Default, PartialEq)]
pub struct Body(pub Kinematics);

/// Where a player aims (and would kick), as a fraction of a turn, as on the wire.
#[derive(Component, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facing(pub u16);

/// A player as every client sees it.
#[derive(Component, Debug, Clone, PartialEq, Eq)]
pub struct Player {
    pub team: Team,
    pub name: String,
    /// Goals scored in the current match (own goals are nobody's).
    pub goals: u32,
    /// Kicks taken in the current match.
    pub kicks: u32,
}

/// What only the server knows of a player: its client and its input.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct Control {
    pub client_id: u32,
    /// The intent applied this tick: the room hands the game one of the client's queued
    /// frames per tick and this one stays in force while none is queued.
    pub input: Intent,
    /// The buttons of the previous tick, so that a kick is taken on the press only.
    pub held: u8,
}

/// The ball as clients see it: who holds it. A loose ball also has a [`super::Flight`]; a held
/// one has none (no position of its own: clients draw it at its holder).
#[derive(Component, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ball {
    /// Net id of the holder, 0 when loose.
    pub holder: u32,
}

/// The ball's state that does not replicate.
#[derive(Component, Debug, Clone, Copy, PartialEq)]
pub struct BallState {
    /// Where the ball is now, in metres: on its flight's line, or at its holder. Kept
    /// so that each tick sweeps from the previous position to the next.
    pub x: f64,
    pub y: f64,
    pub holder: Option<Entity>,
    /// Tick the holder took it: an opponent can tackle only a cooldown later.
    pub held_since: u32,
    /// The last player to hold it, credited with a goal it scores for their team.
    pub last_touch: Option<Entity>,
    /// The kicker, who cannot take it back before the tick given.
    pub kicked_by: Option<(Entity, u32)>,
    /// Unit direction of a loose ball's travel (bounces reflect it).
    pub dir: (f64, f64),
    /// Speed level in m/s: the kick's, less a friction step at a time, 0 at rest. Held
    /// apart from the quantised velocity so that the steps stay exact.
    pub speed: f64,
    /// Tick of the loose ball's next friction step.
    pub next_slow: u32,
}

impl BallState {
    /// A loose ball at rest at `(x, y)`, touched by nobody.
    pub fn at_rest(x: f64, y: f64) -> BallState {
        BallState {
            x,
            y,
            holder: None,
            held_since: 0,
            last_touch: None,
            kicked_by: None,
            dir: (0.0, 0.0),
            speed: 0.0,
            next_slow: 0,
        }
    }
}

/// The match, one global entity (it has no motion, so every client receives it).
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub phase: Phase,
    /// Goals per team, by [`Team::index`].
    pub score: [u32; 2],
    /// Tick at which the match clock runs out. A tick rather than the seconds left, so
    /// it changes once per match instead of once a second; clients count down with the
    /// tick rate of `Welcome`.
    pub ends_at: u32,
    /// Tick at which the current pause ends (0 while playing).
    pub resume_at: u32,
    /// Net id of the player credited with the last goal (0: none yet, or an own goal).
    pub scorer: u32,
}

impl Match {
    /// A match starting now, its clock running out at `ends_at`.
    pub fn new(ends_at: u32) -> Match {
        Match {
            phase: Phase::Playing,
            score: [0, 0],
            ends_at,
            resume_at: 0,
            scorer: 0,
        }
    }
}

/// The map, and where the ball is put at kick-off.
#[derive(Resource, Debug, Clone)]
pub struct Pitch {
    pub map: Arc<Map>,
    /// The centre of the map on the position grid (or, should a wall cover it, the
    /// first spawn point), so that a trajectory starts exactly there.
    pub centre: (f64, f64),
}

impl Pitch {
    pub fn new(map: Arc<Map>) -> Pitch {
        let grid = |v: f64| q_to_pos(pos_to_q(v));
        let (x, y) = (grid(map.width() / 2.0), grid(map.height() / 2.0));
        let centre = if map.is_free(x, y, BALL_RADIUS) {
            (x, y)
        } else {
            map.spawns().first().copied().unwrap_or((x, y))
        };
        Pitch { map, centre }
    }
}

/// The room's only source of randomness (spawn points), seeded by the room.
#[derive(Resource, Debug)]
pub struct RoomRng(pub SmallRng);

/// Durations converted once to ticks for this room's tick rate.
#[derive(Resource, Debug, Clone, Copy)]
pub struct TickRules {
    pub kick_grace: u32,
    pub tackle_cooldown: u32,
    pub friction_interval: u32,
    pub match_len: u32,
    pub goal_pause: u32,
    pub end_pause: u32,
}

impl TickRules {
    pub fn new(tick_rate: u16) -> TickRules {
        TickRules {
            kick_grace: seconds_to_ticks(KICK_GRACE_S, tick_rate),
            tackle_cooldown: seconds_to_ticks(TACKLE_COOLDOWN_S, tick_rate),
            friction_interval: seconds_to_ticks(FRICTION_INTERVAL_S, tick_rate),
            match_len: seconds_to_ticks(MATCH_S, tick_rate),
            goal_pause: seconds_to_ticks(GOAL_PAUSE_S, tick_rate),
            end_pause: seconds_to_ticks(END_PAUSE_S, tick_rate),
        }
    }
}

/// Counters the room reports; reset by whoever reads them.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct BallCounters {
    pub goals: u64,
    pub kicks: u64,
    pub tackles: u64,
}
