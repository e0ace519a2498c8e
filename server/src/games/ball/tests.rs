//! The ball game's rules, each on an in-memory World driven tick by tick.

use std::sync::Arc;

use bevy_ecs::change_detection::Tick;
use bevy_ecs::prelude::*;
use shared::games::ball::{
    BALL_RADIUS, BUTTON_KICK, FRICTION_STEP, KICK_SPEED, PITCH_JSON, Phase, Team,
};
use shared::map::Map;
use shared::movement::Kinematics;
use shared::protocol::Intent;
use shared::quant::{angle_to_q, q_to_vel, vel_to_q};

use super::*;
use crate::engine::{SimClock, new_schedule, new_world};

fn world() -> (World, Schedule) {
    world_with_seed(7)
}

fn world_with_seed(seed: u64) -> (World, Schedule) {
    let mut settings = crate::ServerConfig::default().validate().unwrap().room;
    settings.tick_rate = 60;
    settings.game = "ball".into();
    settings.map = Arc::new(Map::from_json(PITCH_JSON).unwrap());
    (
        new_world(&BallGame, &settings, seed),
        new_schedule(&BallGame),
    )
}

fn step(w: &mut World, s: &mut Schedule) {
    w.resource_mut::<SimClock>().tick += 1;
    s.run(w);
}

fn steps(w: &mut World, s: &mut Schedule, n: u32) {
    for _ in 0..n {
        step(w, s);
    }
}

fn join(w: &mut World, name: &str) -> (Entity, NetId) {
    BallGame.spawn_player(w, 0, name.into())
}

fn the_ball(w: &mut World) -> Entity {
    w.query_filtered::<Entity, With<Ball>>().single(w).unwrap()
}

fn the_match(w: &mut World) -> Match {
    *w.query::<&Match>().single(w).unwrap()
}

fn state(w: &mut World) -> BallState {
    let b = the_ball(w);
    *w.get::<BallState>(b).unwrap()
}

fn place(w: &mut World, player: Entity, (x, y): (f64, f64)) {
    w.get_mut::<Body>(player).unwrap().0 = Kinematics {
        x,
        y,
        vx: 0.0,
        vy: 0.0,
    };
}

fn press(w: &mut World, player: Entity, aim: u16, buttons: u8) {
    let input = Intent {
        aim,
        buttons,
        ..Intent::default()
    };
    BallGame.input(w, player, Some(input));
}

fn rules(w: &World) -> TickRules {
    *w.resource::<TickRules>()
}

fn centre(w: &World) -> (f64, f64) {
    w.resource::<Pitch>().centre
}

/// Puts `player` on the ball and lets them take it.
fn give_ball(w: &mut World, s: &mut Schedule, player: Entity) {
    let at = (state(w).x, state(w).y);
    place(w, player, at);
    step(w, s);
    assert_eq!(state(w).holder, Some(player));
}

/// The change ticks of every replicated component of `e`.
fn changes(w: &World, e: Entity) -> Vec<Tick> {
    let e = w.entity(e);
    [
        e.get_ref::<Body>().map(|c| c.last_changed()),
        e.get_ref::<Facing>().map(|c| c.last_changed()),
        e.get_ref::<Player>().map(|c| c.last_changed()),
        e.get_ref::<Ball>().map(|c| c.last_changed()),
        e.get_ref::<Flight>().map(|c| c.last_changed()),
        e.get_ref::<Match>().map(|c| c.last_changed()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[test]
fn players_join_the_smaller_team_in_their_own_half() {
    let (mut w, _) = world();
    let teams: Vec<(Entity, Team)> = (0..4)
        .map(|i| {
            let (e, _) = join(&mut w, &format!("p{i}"));
            (e, w.get::<Player>(e).unwrap().team)
        })
        .collect();
    let order: Vec<Team> = teams.iter().map(|t| t.1).collect();
    assert_eq!(order, [Team::Left, Team::Right, Team::Left, Team::Right]);
    let half = w.resource::<Pitch>().map.width() / 2.0;
    for &(e, team) in &teams {
        let x = w.get::<Body>(e).unwrap().0.x;
        assert_eq!(x < half, team == Team::Left, "spawned in the wrong half");
    }
    // A right player leaves: the next one fills the right team, then left again.
    w.despawn(teams[1].0);
    let (e, _) = join(&mut w, "p4");
    assert_eq!(w.get::<Player>(e).unwrap().team, Team::Right);
    let (e, _) = join(&mut w, "p5");
    assert_eq!(w.get::<Player>(e).unwrap().team, Team::Left);
}

#[test]
fn touching_the_loose_ball_takes_it() {
    let (mut w, mut s) = world();
    let (a, a_id) = join(&mut w, "a");
    let (b, _) = join(&mut w, "b");
    let (cx, cy) = centre(&w);
    let ball = the_ball(&mut w);
    // Out of reach: nothing happens.
    place(&mut w, a, (cx - 1.0, cy));
    place(&mut w, b, (cx + 3.0, cy));
    step(&mut w, &mut s);
    assert_eq!(w.get::<Ball>(ball).unwrap().holder, 0);
    // Both touch it; the nearer takes it.
    place(&mut w, a, (cx - 0.5, cy));
    place(&mut w, b, (cx + 0.7, cy));
    step(&mut w, &mut s);
    assert_eq!(w.get::<Ball>(ball).unwrap().holder, a_id.0);
    assert!(w.get::<Flight>(ball).is_none(), "a held ball has no motion");
    // It goes where its holder goes, and that is no change of the ball: clients draw it
    // at its holder.
    let held = changes(&w, ball);
    place(&mut w, a, (cx - 5.0, cy + 2.0));
    BallGame.input(
        &mut w,
        a,
        Some(Intent {
            move_x: 127,
            ..Intent::default()
        }),
    );
    steps(&mut w, &mut s, 5);
    let st = state(&mut w);
    let body = w.get::<Body>(a).unwrap().0;
    assert!(body.x > cx - 5.0, "the holder runs");
    assert_eq!((st.x, st.y), (body.x, body.y));
    assert_eq!(changes(&w, ball), held);
}

#[test]
fn kick_releases_the_ball_along_the_aim() {
    let (mut w, mut s) = world();
    let (a, _) = join(&mut w, "a");
    give_ball(&mut w, &mut s, a);
    let start = (state(&mut w).x, state(&mut w).y);
    // Straight down the screen (+y), a quarter turn.
    press(&mut w, a, 16384, BUTTON_KICK);
    step(&mut w, &mut s);
    let ball = the_ball(&mut w);
    assert_eq!(w.get::<Ball>(ball).unwrap().holder, 0);
    let f = *w.get::<Flight>(ball).unwrap();
    assert_eq!((f.vx, f.vy), (0, vel_to_q(KICK_SPEED)));
    assert_eq!(w.resource::<BallCounters>().kicks, 1);
    assert_eq!(
        w.get::<Player>(a).unwrap().kicks,
        1,
        "the kick is the kicker's"
    );
    // The kicker stands still on the ball's start and does not take it back.
    steps(&mut w, &mut s, 10);
    let st = state(&mut w);
    assert_eq!(st.holder, None);
    assert_eq!(st.x, start.0);
    assert!((st.y - (start.1 + KICK_SPEED * 10.0 / 60.0)).abs() < 0.02);
    // Once the grace is over the kicker can take it again. Holding the button kicks no
    // ball received later; only a new press does.
    let grace = rules(&w).kick_grace;
    steps(&mut w, &mut s, grace);
    give_ball(&mut w, &mut s, a);
    steps(&mut w, &mut s, 3);
    assert_eq!(state(&mut w).holder, Some(a));
    press(&mut w, a, 0, 0);
    step(&mut w, &mut s);
    press(&mut w, a, 0, BUTTON_KICK);
    step(&mut w, &mut s);
    let f = *w.get::<Flight>(ball).unwrap();
    assert_eq!((f.vx, f.vy), (vel_to_q(KICK_SPEED), 0));
    assert_eq!(w.resource::<BallCounters>().kicks, 2);
}

#[test]
fn friction_slows_the_ball_in_a_few_steps_and_a_rolling_ball_is_no_change() {
    let (mut w, mut s) = world();
    let (a, _) = join(&mut w, "a");
    give_ball(&mut w, &mut s, a);
    let x0 = state(&mut w).x;
    press(&mut w, a, 0, BUTTON_KICK);
    step(&mut w, &mut s);
    press(&mut w, a, 0, 0);
    let ball = the_ball(&mut w);
    let mut seen = vec![*w.get::<Flight>(ball).unwrap()];
    let mut last = w.entity(ball).get_ref::<Flight>().unwrap().last_changed();
    for _ in 0..rules(&w).friction_interval * 8 {
        step(&mut w, &mut s);
        let f = w.entity(ball).get_ref::<Flight>().unwrap();
        // The flight is marked changed exactly when its line is a new one.
        assert_eq!(f.last_changed() != last, *f != *seen.last().unwrap());
        if *f != *seen.last().unwrap() {
            seen.push(*f);
        }
        last = f.last_changed();
    }
    let speeds: Vec<f64> = seen.iter().map(|f| q_to_vel(f.vx)).collect();
    assert_eq!(speeds, [20.0, 16.0, 12.0, 8.0, 4.0, 0.0]);
    // 0.4 s at each speed: 24 m, to the position grid.
    let rolled = state(&mut w).x - x0;
    let expected = 0.4 * (KICK_SPEED * (KICK_SPEED / FRICTION_STEP + 1.0) / 2.0);
    assert!((rolled - expected).abs() < 0.05, "rolled {rolled} m");
}

#[test]
fn walls_bounce_the_ball() {
    let (mut w, mut s) = world();
    let (a, _) = join(&mut w, "a");
    give_ball(&mut w, &mut s, a);
    // Up the screen (−y), towards the touchline 18 m away.
    press(
        &mut w,
        a,
        angle_to_q(-std::f64::consts::FRAC_PI_2),
        BUTTON_KICK,
    );
    step(&mut w, &mut s);
    // It meets the touchline at 12 m/s, after two friction steps.
    let mut lowest = f64::MAX;
    for _ in 0..120 {
        step(&mut w, &mut s);
        lowest = lowest.min(state(&mut w).y);
    }
    assert_eq!(lowest, BALL_RADIUS, "stopped flush against the touchline");
    let ball = the_ball(&mut w);
    assert!(w.get::<Flight>(ball).unwrap().vy >= 0, "bounced back");
}

#[test]
fn a_goal_scores_for_the_other_team_and_the_ball_restarts_at_the_centre() {
    let (mut w, mut s) = world();
    let (a, a_id) = join(&mut w, "a");
    assert_eq!(w.get::<Player>(a).unwrap().team, Team::Left);
    let (cx, cy) = centre(&w);
    give_ball(&mut w, &mut s, a);
    // Into the right goal, from just in front of it.
    place(&mut w, a, (56.0, cy));
    press(&mut w, a, 0, BUTTON_KICK);
    steps(&mut w, &mut s, 30);
    let m = the_match(&mut w);
    assert_eq!(m.score, [1, 0]);
    assert_eq!(m.phase, Phase::Goal);
    assert_eq!(m.scorer, a_id.0);
    assert_eq!(w.get::<Player>(a).unwrap().goals, 1);
    assert_eq!(w.resource::<BallCounters>().goals, 1);
    let ball = the_ball(&mut w);
    let f = *w.get::<Flight>(ball).unwrap();
    assert!(!f.moving());
    assert_eq!(f.at(0, 60), (cx, cy));
    // During the pause nobody takes the ball; then play resumes.
    press(&mut w, a, 0, 0);
    place(&mut w, a, (cx, cy));
    let resume = m.resume_at;
    while w.resource::<SimClock>().tick < resume {
        step(&mut w, &mut s);
        assert_eq!(w.get::<Ball>(ball).unwrap().holder, 0);
    }
    assert_eq!(the_match(&mut w).phase, Phase::Playing);
    step(&mut w, &mut s);
    assert_eq!(w.get::<Ball>(ball).unwrap().holder, a_id.0);
    // An own goal counts for the others and is credited to nobody.
    place(&mut w, a, (8.0, cy));
    step(&mut w, &mut s);
    press(&mut w, a, angle_to_q(std::f64::consts::PI), BUTTON_KICK);
    steps(&mut w, &mut s, 30);
    let m = the_match(&mut w);
    assert_eq!(m.score, [1, 1]);
    assert_eq!(m.scorer, 0);
    assert_eq!(w.get::<Player>(a).unwrap().goals, 1);
}

#[test]
fn an_opponent_tackles_the_holder_after_the_cooldown() {
    let (mut w, mut s) = world();
    let (a, _) = join(&mut w, "a");
    let (b, b_id) = join(&mut w, "b");
    let (mate, _) = join(&mut w, "mate");
    assert_eq!(w.get::<Player>(b).unwrap().team, Team::Right);
    assert_eq!(w.get::<Player>(mate).unwrap().team, Team::Left);
    give_ball(&mut w, &mut s, a);
    let since = state(&mut w).held_since;
    let (x, y) = (state(&mut w).x, state(&mut w).y);
    // A team-mate touching the holder takes nothing.
    place(&mut w, mate, (x, y + 0.9));
    // The opponent touches the holder but is too far from the ball for a pickup.
    place(&mut w, b, (x + 0.9, y));
    let cooldown = rules(&w).tackle_cooldown;
    while w.resource::<SimClock>().tick + 1 < since + cooldown {
        step(&mut w, &mut s);
        assert_eq!(state(&mut w).holder, Some(a), "tackled before the cooldown");
    }
    step(&mut w, &mut s);
    let ball = the_ball(&mut w);
    assert_eq!(w.get::<Ball>(ball).unwrap().holder, b_id.0);
    assert_eq!(w.resource::<BallCounters>().tackles, 1);
    // And it is not tackled straight back.
    step(&mut w, &mut s);
    assert_eq!(state(&mut w).holder, Some(b));
}

#[test]
fn a_departed_holders_ball_drops_where_it_was() {
    let (mut w, mut s) = world();
    let (a, _) = join(&mut w, "a");
    give_ball(&mut w, &mut s, a);
    place(&mut w, a, (20.0, 10.0));
    step(&mut w, &mut s);
    w.despawn(a);
    step(&mut w, &mut s);
    let ball = the_ball(&mut w);
    assert_eq!(w.get::<Ball>(ball).unwrap().holder, 0);
    let f = *w.get::<Flight>(ball).unwrap();
    assert!(!f.moving());
    assert_eq!(f.at(0, 60), (20.0, 10.0));
}

#[test]
fn the_clock_ends_the_match_then_a_new_one_starts_balanced() {
    let (mut w, mut s) = world();
    let players: Vec<Entity> = (0..3).map(|i| join(&mut w, &format!("p{i}")).0).collect();
    // As if the right team had left: three on the left, none on the right.
    for &p in &players {
        w.get_mut::<Player>(p).unwrap().team = Team::Left;
    }
    w.get_mut::<Player>(players[0]).unwrap().goals = 2;
    give_ball(&mut w, &mut s, players[0]);
    let end = the_match(&mut w).ends_at;
    {
        let mut q = w.query::<&mut Match>();
        let mut m = q.single_mut(&mut w).unwrap();
        m.score = [2, 0];
    }
    while w.resource::<SimClock>().tick < end {
        step(&mut w, &mut s);
    }
    let m = the_match(&mut w);
    assert_eq!(m.phase, Phase::Ended);
    assert_eq!(m.score, [2, 0], "the final score stands through the pause");
    assert_eq!(state(&mut w).holder, None, "the ball is dropped at the end");
    let restart = m.resume_at;
    assert_eq!(restart, end + rules(&w).end_pause);
    while w.resource::<SimClock>().tick < restart {
        step(&mut w, &mut s);
        assert_eq!(state(&mut w).holder, None);
    }
    let m = the_match(&mut w);
    assert_eq!(m.phase, Phase::Playing);
    assert_eq!(m.score, [0, 0]);
    assert_eq!(m.ends_at, restart + rules(&w).match_len);
    assert_eq!(w.get::<Player>(players[0]).unwrap().goals, 0);
    let right = players
        .iter()
        .filter(|&&p| w.get::<Player>(p).unwrap().team == Team::Right)
        .count();
    assert_eq!(right, 1);
    // The latest to join moved.
    assert_eq!(w.get::<Player>(players[2]).unwrap().team, Team::Right);
}

#[test]
fn idle_entities_are_no_change_tick_to_tick() {
    let (mut w, mut s) = world();
    let (a, _) = join(&mut w, "a");
    let (b, _) = join(&mut w, "b");
    place(&mut w, a, (10.0, 10.0));
    place(&mut w, b, (50.0, 30.0));
    steps(&mut w, &mut s, 3);
    let ball = the_ball(&mut w);
    let game = w
        .query_filtered::<Entity, With<Match>>()
        .single(&w)
        .unwrap();
    let watched = [ball, game, a, b];
    let before: Vec<Vec<Tick>> = watched.iter().map(|&e| changes(&w, e)).collect();
    assert_eq!(before[0].len(), 2, "a loose ball has Ball and Flight");
    steps(&mut w, &mut s, 20);
    let after: Vec<Vec<Tick>> = watched.iter().map(|&e| changes(&w, e)).collect();
    assert_eq!(before, after);
}

#[test]
fn the_same_seed_and_inputs_replay_identically() {
    let run = || {
        let (mut w, mut s) = world_with_seed(42);
        let ids: Vec<Entity> = (0..4).map(|i| join(&mut w, &format!("p{i}")).0).collect();
        for t in 0..600u32 {
            for (i, &p) in ids.iter().enumerate() {
                let input = Intent {
                    move_x: ((t as usize * 7 + i * 13) % 255) as u8 as i8,
                    move_y: ((t as usize * 3 + i * 29) % 255) as u8 as i8,
                    aim: (t * 997 + i as u32 * 4099) as u16,
                    buttons: u8::from(t % 20 < 3),
                };
                BallGame.input(&mut w, p, Some(input));
            }
            step(&mut w, &mut s);
        }
        let bodies: Vec<Kinematics> = ids.iter().map(|&p| w.get::<Body>(p).unwrap().0).collect();
        (bodies, state(&mut w), the_match(&mut w))
    };
    assert_eq!(run(), run());
}

#[test]
fn the_schema_is_valid_and_names_what_clients_read() {
    let r = BallGame.replication();
    let layout = r.schema().layout().unwrap();
    for (c, f) in [
        ("Body", "motion"),
        ("Facing", "angle"),
        ("Flight", "path"),
        ("Ball", "holder"),
        ("Player", "team"),
        ("Player", "name"),
        ("Player", "goals"),
        ("Match", "phase"),
        ("Match", "score_left"),
        ("Match", "score_right"),
        ("Match", "ends_at"),
        ("Match", "resume_at"),
        ("Match", "scorer"),
    ] {
        assert!(layout.field(c, f).is_some(), "{c}.{f}");
    }
    assert_eq!(r.schema().game, BallGame.name());
}
