//! The match: goals, the clock, the pauses, and the next match with scores at zero.

use bevy_ecs::prelude::*;
use shared::games::ball::{Phase, Team, goal_at};
use shared::movement::Kinematics;

use super::components::{
    Ball, BallCounters, BallState, Body, Match, Pitch, Player, RoomRng, TickRules,
};
use super::flight::{Flight, release_at_rest};
use super::spawn::spawn_spot;
use crate::engine::{NetId, SimClock};

/// The ball with everything a reset touches.
type Balls<'w, 's> = Query<
    'w,
    's,
    (
        Entity,
        &'static mut Ball,
        &'static mut BallState,
        Option<&'static mut Flight>,
    ),
>;

/// Puts the ball at rest on the centre spot, out of any holder's hands.
fn kick_off(commands: &mut Commands, balls: &mut Balls, pitch: &Pitch, clock: &SimClock) {
    for (entity, mut ball, mut state, flight) in balls.iter_mut() {
        release_at_rest(
            commands,
            entity,
            &mut ball,
            &mut state,
            flight,
            clock,
            pitch.centre,
        );
    }
}

/// A loose ball wholly inside a goal, while playing, scores for the other team: the last
/// player to hold it is credited if they are of that team, the ball goes back to the
/// centre, and play pauses.
#[allow(clippy::too_many_arguments)]
pub(super) fn score_goals(
    mut commands: Commands,
    clock: Res<SimClock>,
    rules: Res<TickRules>,
    pitch: Res<Pitch>,
    mut counters: ResMut<BallCounters>,
    mut matches: Query<&mut Match>,
    mut players: Query<(&NetId, &mut Player)>,
    mut balls: Balls,
) {
    let Ok(mut game) = matches.single_mut() else {
        return;
    };
    if game.phase != Phase::Playing {
        return;
    }
    let (w, h) = (pitch.map.width(), pitch.map.height());
    let scored = balls.iter().find_map(|(_, _, state, _)| {
        let against = goal_at(state.x, state.y, w, h).filter(|_| state.holder.is_none())?;
        Some((against.other(), state.last_touch))
    });
    let Some((team, touch)) = scored else {
        return;
    };
    counters.goals += 1;
    let scorer = touch
        .and_then(|e| players.get_mut(e).ok())
        .filter(|(_, p)| p.team == team)
        .map_or(0, |(id, mut p)| {
            p.goals = p.goals.saturating_add(1);
            id.0
        });
    let mut score = game.score;
    if let Some(goals) = score.get_mut(team.index()) {
        *goals = goals.saturating_add(1);
    }
    *game = Match {
        phase: Phase::Goal,
        score,
        resume_at: clock.tick.saturating_add(rules.goal_pause),
        scorer,
        ..*game
    };
    kick_off(&mut commands, &mut balls, &pitch, &clock);
}

/// Runs the match's phases: the clock running out ends the match (whatever the phase),
/// a goal pause ends in play, and the pause after a match ends in a new one.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_clock(
    mut commands: Commands,
    clock: Res<SimClock>,
    rules: Res<TickRules>,
    pitch: Res<Pitch>,
    mut rng: ResMut<RoomRng>,
    mut matches: Query<&mut Match>,
    mut players: Query<(&NetId, &mut Player, &mut Body)>,
    mut balls: Balls,
) {
    let Ok(mut game) = matches.single_mut() else {
        return;
    };
    let tick = clock.tick;
    match game.phase {
        Phase::Playing | Phase::Goal if tick >= game.ends_at => {
            game.phase = Phase::Ended;
            game.resume_at = tick.saturating_add(rules.end_pause);
            kick_off(&mut commands, &mut balls, &pitch, &clock);
        }
        Phase::Goal if tick >= game.resume_at => {
            game.phase = Phase::Playing;
            game.resume_at = 0;
        }
        Phase::Ended if tick >= game.resume_at => {
            *game = Match::new(tick.saturating_add(rules.match_len));
            rebalance(&mut players);
            for (_, mut player, mut body) in &mut players {
                if player.goals != 0 || player.kicks != 0 {
                    player.goals = 0;
                    player.kicks = 0;
                }
                let (x, y) = spawn_spot(&pitch.map, player.team, &mut rng.0);
                body.0 = Kinematics {
                    x,
                    y,
                    vx: 0.0,
                    vy: 0.0,
                };
            }
            kick_off(&mut commands, &mut balls, &pitch, &clock);
        }
        _ => {}
    }
}

/// Moves players from the larger team to the smaller until they differ by one at most
/// (players who left can unbalance them): the latest to join (highest net id) first.
fn rebalance(players: &mut Query<(&NetId, &mut Player, &mut Body)>) {
    loop {
        let left = players
            .iter()
            .filter(|(_, p, _)| p.team == Team::Left)
            .count();
        let right = players.iter().count() - left;
        let larger = match (left, right) {
            (l, r) if l > r + 1 => Team::Left,
            (l, r) if r > l + 1 => Team::Right,
            _ => return,
        };
        let mover = players
            .iter_mut()
            .filter(|(_, p, _)| p.team == larger)
            .max_by_key(|(id, _, _)| **id);
        match mover {
            Some((_, mut p, _)) => p.team = larger.other(),
            None => return,
        }
    }
}
