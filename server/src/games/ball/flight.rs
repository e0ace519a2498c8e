//! The loose ball's flight: a straight line in wire units ([`Flight`]) that the server
//! evaluates each tick exactly as clients do, re-anchored only when the line changes (a
//! kick, a bounce, a friction step, a stop), so replication sends it only then.

use bevy_ecs::prelude::*;
use shared::games::ball::{BALL_RADIUS, FRICTION_STEP};
use shared::map::Map;
use shared::movement::{Kinematics, move_and_collide};
use shared::quant::{advance, pos_to_q, q_to_pos, vel_to_q};

use super::components::{Ball, BallState, Body, Pitch, TickRules};
use crate::engine::SimClock;

/// A loose ball's straight line: at tick `anchor` it was at (`x`, `y`) position steps,
/// moving at (`vx`, `vy`) steps per second.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flight {
    pub anchor: u32,
    pub x: i32,
    pub y: i32,
    pub vx: i32,
    pub vy: i32,
}

impl Flight {
    /// A line from a position (m) at a velocity (m/s), quantised.
    pub fn start(tick: u32, (x, y): (f64, f64), (vx, vy): (f64, f64)) -> Flight {
        Flight {
            anchor: tick,
            x: pos_to_q(x),
            y: pos_to_q(y),
            vx: vel_to_q(vx),
            vy: vel_to_q(vy),
        }
    }

    /// A ball at rest at a position (m).
    pub fn rest(tick: u32, at: (f64, f64)) -> Flight {
        Flight::start(tick, at, (0.0, 0.0))
    }

    /// Position in metres at `tick`, exactly as clients compute it.
    pub fn at(&self, tick: u32, tick_rate: u16) -> (f64, f64) {
        let elapsed = i64::from(tick) - i64::from(self.anchor);
        (
            q_to_pos(advance(self.x, self.vx, elapsed, tick_rate)),
            q_to_pos(advance(self.y, self.vy, elapsed, tick_rate)),
        )
    }

    pub fn moving(&self) -> bool {
        self.vx != 0 || self.vy != 0
    }
}

/// Moves a loose ball one tick along `flight` from `from` (where it was last tick) and
/// returns where it is now. A wall stops it there: `flight` is re-anchored at that point
/// with the blocked axes' velocity (and `dir`) reversed, a bounce at full speed.
fn fly(
    flight: &mut Flight,
    dir: &mut (f64, f64),
    from: (f64, f64),
    map: &Map,
    clock: &SimClock,
) -> (f64, f64) {
    let to = flight.at(clock.tick, clock.tick_rate);
    if !flight.moving() {
        return to;
    }
    // Sweep the exact quantised path of this tick, so the ball cannot tunnel.
    let swept = Kinematics {
        x: from.0,
        y: from.1,
        vx: (to.0 - from.0) / clock.dt,
        vy: (to.1 - from.1) / clock.dt,
    };
    let (stopped, hit) = move_and_collide(swept, BALL_RADIUS, map, clock.dt);
    if !hit.any() {
        return to;
    }
    // Walls and the ball's size are whole position steps, so the stop is on the grid.
    *flight = Flight {
        anchor: clock.tick,
        x: pos_to_q(stopped.x),
        y: pos_to_q(stopped.y),
        vx: if hit.x { -flight.vx } else { flight.vx },
        vy: if hit.y { -flight.vy } else { flight.vy },
    };
    if hit.x {
        dir.0 = -dir.0;
    }
    if hit.y {
        dir.1 = -dir.1;
    }
    flight.at(clock.tick, clock.tick_rate)
}

/// Moves the ball: a held one to its holder, a loose one along its flight, slowing it by
/// a friction step when one is due.
pub(super) fn move_ball(
    mut commands: Commands,
    clock: Res<SimClock>,
    rules: Res<TickRules>,
    pitch: Res<Pitch>,
    bodies: Query<&Body>,
    mut balls: Query<(Entity, &mut Ball, &mut BallState, Option<&mut Flight>)>,
) {
    for (entity, mut ball, mut state, flight) in &mut balls {
        if let Some(holder) = state.holder {
            match bodies.get(holder) {
                Ok(body) => (state.x, state.y) = (body.0.x, body.0.y),
                // The holder left the room: the ball drops, at rest, where it was last.
                Err(_) => {
                    let at = (q_to_pos(pos_to_q(state.x)), q_to_pos(pos_to_q(state.y)));
                    release_at_rest(
                        &mut commands,
                        entity,
                        &mut ball,
                        &mut state,
                        None,
                        &clock,
                        at,
                    );
                }
            }
            continue;
        }
        let Some(mut flight) = flight else {
            continue;
        };
        // Work on a copy: the flight is marked changed only if its line did change.
        let mut next = *flight;
        let from = (state.x, state.y);
        let (x, y) = fly(&mut next, &mut state.dir, from, &pitch.map, &clock);
        (state.x, state.y) = (x, y);
        if state.speed > 0.0 && clock.tick >= state.next_slow {
            state.speed = (state.speed - FRICTION_STEP).max(0.0);
            state.next_slow = clock.tick.saturating_add(rules.friction_interval);
            let v = (state.dir.0 * state.speed, state.dir.1 * state.speed);
            next = Flight::start(clock.tick, (x, y), v);
        }
        flight.set_if_neq(next);
    }
}

/// Makes the ball loose and at rest at `at` (on the position grid): a kick-off spot, or
/// where a departed holder left it. `flight` is the ball's if it has one (it is loose);
/// a held ball gets one.
pub(super) fn release_at_rest(
    commands: &mut Commands,
    entity: Entity,
    ball: &mut Mut<Ball>,
    state: &mut BallState,
    flight: Option<Mut<Flight>>,
    clock: &SimClock,
    at: (f64, f64),
) {
    let rest = Flight::rest(clock.tick, at);
    match flight {
        Some(mut f) if state.holder.is_none() => {
            // Already at rest there (whatever its anchor): nothing changes, nothing is sent.
            if f.moving() || (f.x, f.y) != (rest.x, rest.y) {
                f.set_if_neq(rest);
            }
        }
        _ => {
            commands.entity(entity).insert(rest);
        }
    }
    *state = BallState::at_rest(at.0, at.1);
    ball.set_if_neq(Ball { holder: 0 });
}
