//! A new room's world (resources, the ball, the match) and new players: each joins the
//! smaller team, in its own half.

use bevy_ecs::prelude::*;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use shared::games::ball::Team;
use shared::map::Map;
use shared::movement::Kinematics;
use shared::quant::angle_to_q;

use super::components::{
    Ball, BallCounters, BallState, Body, Control, Facing, Match, Pitch, Player, RoomRng, TickRules,
};
use super::flight::Flight;
use crate::control::config::RoomSettings;
use crate::engine::{NetId, NetIds, SimClock};

/// Fills a new room's World: the resources, the ball at rest on the centre spot, and a
/// match whose clock starts now.
pub(super) fn setup(world: &mut World, settings: &RoomSettings, seed: u64) {
    let rules = TickRules::new(settings.tick_rate);
    let pitch = Pitch::new(settings.map.clone());
    let tick = world.resource::<SimClock>().tick;
    let (ball_id, match_id) = {
        let mut ids = world.resource_mut::<NetIds>();
        (ids.allocate(), ids.allocate())
    };
    world.spawn((
        ball_id,
        Ball::default(),
        BallState::at_rest(pitch.centre.0, pitch.centre.1),
        Flight::rest(tick, pitch.centre),
    ));
    world.spawn((match_id, Match::new(tick.saturating_add(rules.match_len))));
    world.insert_resource(rules);
    world.insert_resource(pitch);
    world.insert_resource(RoomRng(SmallRng::seed_from_u64(seed)));
    world.insert_resource(BallCounters::default());
}

/// The team with fewer players (the left one when they are even).
pub(super) fn smaller_team(world: &mut World) -> Team {
    let mut query = world.query::<&Player>();
    let left = query.iter(world).filter(|p| p.team == Team::Left).count();
    let right = query.iter(world).count() - left;
    if right < left {
        Team::Right
    } else {
        Team::Left
    }
}

/// A random spawn point in `team`'s half (any spawn point if the map has none there, the
/// middle of the half if it has none at all).
pub(super) fn spawn_spot(map: &Map, team: Team, rng: &mut SmallRng) -> (f64, f64) {
    let half = map.width() / 2.0;
    let own = |&&(x, _): &&(f64, f64)| (x < half) == (team == Team::Left);
    let mut spots: Vec<(f64, f64)> = map.spawns().iter().filter(own).copied().collect();
    if spots.is_empty() {
        spots = map.spawns().to_vec();
    }
    if spots.is_empty() {
        let x = match team {
            Team::Left => half / 2.0,
            Team::Right => half * 1.5,
        };
        return (x, map.height() / 2.0);
    }
    let i = rng.random_range(0..spots.len());
    spots.get(i).copied().unwrap_or((half, map.height() / 2.0))
}

/// Facing towards the goal a team attacks.
pub(super) fn facing_of(team: Team) -> Facing {
    Facing(match team {
        Team::Left => 0,
        Team::Right => angle_to_q(std::f64::consts::PI),
    })
}

/// Spawns the player of a client in the smaller team and returns its entity and net id.
pub(super) fn spawn_player(world: &mut World, client_id: u32, name: String) -> (Entity, NetId) {
    let team = smaller_team(world);
    let id = world.resource_mut::<NetIds>().allocate();
    let map = world.resource::<Pitch>().map.clone();
    let (x, y) = spawn_spot(&map, team, &mut world.resource_mut::<RoomRng>().0);
    let entity = world
        .spawn((
            id,
            Body(Kinematics {
                x,
                y,
                vx: 0.0,
                vy: 0.0,
            }),
            facing_of(team),
            Player {
                team,
                name,
                goals: 0,
                kicks: 0,
            },
            Control {
                client_id,
                ..Control::default()
            },
        ))
        .id();
    (entity, id)
}
