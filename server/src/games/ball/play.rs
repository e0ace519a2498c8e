//! What players do: move (the shared rules every client predicts with), kick, take a
//! loose ball by touching it, and tackle the holder of the other team.

use bevy_ecs::prelude::*;
use shared::games::ball::{BUTTON_KICK, KICK_SPEED, PICKUP_REACH, Phase, TACKLE_REACH};
use shared::movement::step_player;
use shared::quant::q_to_angle;

use super::components::{
    Ball, BallCounters, BallState, Body, Control, Facing, Match, Pitch, Player, TickRules,
};
use super::flight::Flight;
use crate::engine::{NetId, SimClock};

/// The players as possession and tackles read them.
type Players<'w, 's> = Query<'w, 's, (Entity, &'static NetId, &'static Body, &'static Player)>;

pub(super) fn move_players(
    clock: Res<SimClock>,
    pitch: Res<Pitch>,
    mut players: Query<(&mut Body, &mut Facing, &Control)>,
) {
    for (mut body, mut facing, control) in &mut players {
        let input = control.input;
        // Only a real change marks the components changed: replication skips idle ones.
        body.set_if_neq(Body(step_player(
            body.0,
            input.move_x,
            input.move_y,
            &pitch.map,
            clock.dt,
        )));
        facing.set_if_neq(Facing(input.aim));
    }
}

/// A holder who presses kick releases the ball from where they stand, along their aim,
/// at [`KICK_SPEED`]. Taken on the press: holding the button down does not kick every
/// ball the player receives.
pub(super) fn kick(
    mut commands: Commands,
    clock: Res<SimClock>,
    rules: Res<TickRules>,
    mut counters: ResMut<BallCounters>,
    mut players: Query<(Entity, &Body, &Facing, &mut Control, &mut Player)>,
    mut balls: Query<(Entity, &mut Ball, &mut BallState)>,
) {
    for (player, body, facing, mut control, mut kicker) in &mut players {
        let buttons = control.input.buttons;
        let pressed = buttons & BUTTON_KICK != 0 && control.held & BUTTON_KICK == 0;
        control.held = buttons;
        if !pressed {
            continue;
        }
        for (entity, mut ball, mut state) in &mut balls {
            if state.holder != Some(player) {
                continue;
            }
            let angle = q_to_angle(facing.0);
            let dir = (angle.cos(), angle.sin());
            let v = (dir.0 * KICK_SPEED, dir.1 * KICK_SPEED);
            let flight = Flight::start(clock.tick, (body.0.x, body.0.y), v);
            let (x, y) = flight.at(clock.tick, clock.tick_rate);
            *state = BallState {
                x,
                y,
                holder: None,
                last_touch: Some(player),
                // It starts at the kicker's centre, well inside their reach.
                kicked_by: Some((player, clock.tick.saturating_add(rules.kick_grace))),
                dir,
                speed: KICK_SPEED,
                next_slow: clock.tick.saturating_add(rules.friction_interval),
                ..*state
            };
            ball.set_if_neq(Ball { holder: 0 });
            commands.entity(entity).insert(flight);
            counters.kicks += 1;
            kicker.kicks = kicker.kicks.saturating_add(1);
        }
    }
}

/// The eligible player whose box touches a `reach`-sided square around `at`, the
/// nearest first (then the lowest net id, so the choice never depends on query order).
fn nearest(
    players: &Players,
    at: (f64, f64),
    reach: f64,
    eligible: impl Fn(Entity, &Player) -> bool,
) -> Option<(Entity, NetId, (f64, f64))> {
    players
        .iter()
        .filter(|&(e, _, b, p)| {
            eligible(e, p) && (b.0.x - at.0).abs() <= reach && (b.0.y - at.1).abs() <= reach
        })
        .map(|(e, &id, b, _)| {
            let (dx, dy) = (b.0.x - at.0, b.0.y - at.1);
            (dx * dx + dy * dy, id, e, (b.0.x, b.0.y))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
        .map(|(_, id, e, pos)| (e, id, pos))
}

/// While the ball is in play, a player touching a loose ball takes it, and an opponent
/// touching the holder takes it once the holder has had it for the tackle cooldown.
pub(super) fn take_possession(
    mut commands: Commands,
    clock: Res<SimClock>,
    rules: Res<TickRules>,
    mut counters: ResMut<BallCounters>,
    matches: Query<&Match>,
    players: Players,
    mut balls: Query<(Entity, &mut Ball, &mut BallState)>,
) {
    if matches.iter().any(|m| m.phase != Phase::Playing) {
        return;
    }
    let tick = clock.tick;
    for (entity, mut ball, mut state) in &mut balls {
        let taker = match state.holder {
            None => nearest(
                &players,
                (state.x, state.y),
                PICKUP_REACH,
                |e, _| !matches!(state.kicked_by, Some((k, until)) if k == e && tick < until),
            ),
            Some(holder) => {
                let Ok((_, _, body, p)) = players.get(holder) else {
                    continue;
                };
                if tick < state.held_since.saturating_add(rules.tackle_cooldown) {
                    continue;
                }
                let team = p.team;
                let at = (body.0.x, body.0.y);
                nearest(&players, at, TACKLE_REACH, |_, p| p.team != team)
            }
        };
        let Some((taker, id, (x, y))) = taker else {
            continue;
        };
        if state.holder.is_some() {
            counters.tackles += 1;
        } else {
            // Held, the ball has no line of its own: it is wherever its holder is.
            commands.entity(entity).remove::<Flight>();
        }
        *state = BallState {
            holder: Some(taker),
            held_since: tick,
            last_touch: Some(taker),
            kicked_by: None,
            ..BallState::at_rest(x, y)
        };
        ball.set_if_neq(Ball { holder: id.0 });
    }
}
