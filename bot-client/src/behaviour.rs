//! What a bot does each tick, and how it predicts its own movement.
//!
//! [`Behaviour`] is deliberately simple: load on the server should look like players
//! (moving, colliding, shooting at each other), not like a clever AI. It wanders in a
//! random direction that changes every one to three seconds, turns round when it stops
//! making progress (it ran into a wall), aims at the nearest living player or drone in
//! range and fires when that target is close.
//!
//! [`Predictor`] is client-side prediction as a real client does it, kept to measure how
//! far the server's authoritative movement strays from the shared rules: it replays the
//! unacknowledged inputs on top of each snapshot and reports how much that moved the
//! predicted position.
//!
//! Both count time in ticks, never read a clock, and take their randomness from a seeded
//! generator, so a test can drive them step by step.

use std::collections::VecDeque;
use std::f64::consts::{PI, TAU};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use shared::map::Map;
use shared::movement::{Kinematics, step_player};
use shared::protocol::{EntityKind, EntityState, FLAG_DEAD};
use shared::quant::{angle_to_q, q_to_pos, q_to_vel};
use shared::rules::BUTTON_FIRE;

use crate::view::WorldView;

/// Targets farther than this are ignored, in metres.
pub const AIM_RANGE_M: f64 = 15.0;
/// A bot fires when its target is at most this far, in metres.
pub const FIRE_RANGE_M: f64 = 12.0;
/// How often a bot checks that it is still getting somewhere, in seconds.
const STUCK_CHECK_S: f64 = 0.5;
/// Progress along the heading below which a bot counts as blocked, in metres. Unblocked,
/// a bot covers about 2.7 m in half a second even starting from rest, while sliding along
/// a wall at a shallow angle makes little headway: both deserve a new direction.
const STUCK_MIN_PROGRESS_M: f64 = 0.25;
/// Bound on remembered inputs if the server stops acknowledging them.
const MAX_PENDING_INPUTS: usize = 1024;

/// One tick's worth of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Intent {
    pub move_x: i8,
    pub move_y: i8,
    pub aim: u16,
    pub buttons: u8,
}

/// Something worth shooting at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub id: u32,
    pub x: f64,
    pub y: f64,
    /// Distance from the bot, in metres.
    pub distance: f64,
}

/// The aim angle from `from` towards `to` (metres, y down as on the wire): `+x` is 0 and
/// `+y` a quarter turn.
pub fn aim_at(from: (f64, f64), to: (f64, f64)) -> u16 {
    angle_to_q((to.1 - from.1).atan2(to.0 - from.0))
}

/// The movement intent for heading `radians` at full speed.
pub fn heading_to_move(radians: f64) -> (i8, i8) {
    // |cos|, |sin| ≤ 1, so the rounded values stay within ±127.
    let x = (radians.cos() * 127.0).round() as i8;
    let y = (radians.sin() * 127.0).round() as i8;
    (x, y)
}

/// The nearest living player (other than `own_entity`) or drone within `range_m` of `from`.
pub fn nearest_target(
    view: &WorldView,
    own_entity: u32,
    from: (f64, f64),
    range_m: f64,
) -> Option<Target> {
    view.entities()
        .iter()
        .filter(|e| matches!(e.kind, EntityKind::Player | EntityKind::Drone))
        .filter(|e| e.id != own_entity && e.flags & FLAG_DEAD == 0)
        .map(|e| {
            let (x, y) = view.position(e);
            let distance = (x - from.0).hypot(y - from.1);
            Target {
                id: e.id,
                x,
                y,
                distance,
            }
        })
        .filter(|t| t.distance <= range_m)
        .min_by(|a, b| a.distance.total_cmp(&b.distance))
}

/// A wandering, shooting bot.
#[derive(Debug, Clone)]
pub struct Behaviour {
    rng: SmallRng,
    tick_rate: u32,
    /// Direction of travel, in radians.
    heading: f64,
    ticks_until_turn: u32,
    /// Where the current progress check started, and how many ticks ago.
    anchor: Option<(f64, f64)>,
    ticks_since_anchor: u32,
    stuck_check_ticks: u32,
}

impl Behaviour {
    /// A bot whose random choices all come from `seed`, acting `tick_rate` times a second.
    pub fn new(seed: u64, tick_rate: u16) -> Behaviour {
        let tick_rate = u32::from(tick_rate.max(1));
        let mut rng = SmallRng::seed_from_u64(seed);
        let heading = rng.random_range(0.0..TAU);
        let mut behaviour = Behaviour {
            rng,
            tick_rate,
            heading,
            ticks_until_turn: 0,
            anchor: None,
            ticks_since_anchor: 0,
            stuck_check_ticks: ((STUCK_CHECK_S * f64::from(tick_rate)).round() as u32).max(1),
        };
        behaviour.ticks_until_turn = behaviour.turn_delay();
        behaviour
    }

    /// Current direction of travel, in radians.
    pub fn heading(&self) -> f64 {
        self.heading
    }

    /// Decides this tick's input. `own` is the bot's position in metres, `None` while it
    /// is dead or not yet in a snapshot; a bot without a position stands still.
    pub fn decide(&mut self, own: Option<(f64, f64)>, view: &WorldView, own_entity: u32) -> Intent {
        let Some(pos) = own else {
            // A respawn teleports the bot; progress measured across it means nothing.
            self.anchor = None;
            return Intent {
                aim: angle_to_q(self.heading),
                ..Intent::default()
            };
        };

        self.ticks_until_turn = self.ticks_until_turn.saturating_sub(1);
        if self.ticks_until_turn == 0 {
            self.heading = self.rng.random_range(0.0..TAU);
            self.restart_wander();
        } else {
            self.check_progress(pos);
        }

        let (move_x, move_y) = heading_to_move(self.heading);
        let (aim, buttons) = match nearest_target(view, own_entity, pos, AIM_RANGE_M) {
            Some(t) => (
                aim_at(pos, (t.x, t.y)),
                if t.distance <= FIRE_RANGE_M {
                    BUTTON_FIRE
                } else {
                    0
                },
            ),
            None => (angle_to_q(self.heading), 0),
        };
        Intent {
            move_x,
            move_y,
            aim,
            buttons,
        }
    }

    /// Turns away if the last check period brought too little progress along the heading.
    fn check_progress(&mut self, pos: (f64, f64)) {
        let Some(anchor) = self.anchor else {
            self.anchor = Some(pos);
            self.ticks_since_anchor = 0;
            return;
        };
        self.ticks_since_anchor += 1;
        if self.ticks_since_anchor < self.stuck_check_ticks {
            return;
        }
        let progress =
            (pos.0 - anchor.0) * self.heading.cos() + (pos.1 - anchor.1) * self.heading.sin();
        if progress < STUCK_MIN_PROGRESS_M {
            // Roughly back where it came from, with enough spread that two bots stuck
            // against each other do not bounce along the same line forever.
            self.heading =
                (self.heading + PI + self.rng.random_range(-PI / 3.0..PI / 3.0)).rem_euclid(TAU);
            self.restart_wander();
        } else {
            self.anchor = Some(pos);
            self.ticks_since_anchor = 0;
        }
    }

    fn restart_wander(&mut self) {
        self.ticks_until_turn = self.turn_delay();
        self.anchor = None;
        self.ticks_since_anchor = 0;
    }

    /// One to three seconds, in ticks.
    fn turn_delay(&mut self) -> u32 {
        self.rng.random_range(self.tick_rate..=3 * self.tick_rate)
    }
}

/// An input sent but not yet acknowledged, and where we predicted it would take us.
#[derive(Debug, Clone, Copy)]
struct PendingInput {
    seq: u32,
    move_x: i8,
    move_y: i8,
    predicted: Option<(f64, f64)>,
}

/// Client-side prediction of the bot's own player.
#[derive(Debug, Clone)]
pub struct Predictor {
    map: Map,
    dt: f64,
    /// Predicted state after the newest input sent; `None` until a snapshot has shown us.
    state: Option<Kinematics>,
    /// Whether the newest snapshot showed us dead (the dead do not move).
    dead: bool,
    pending: VecDeque<PendingInput>,
}

impl Predictor {
    /// Predicts on `map` with the server's tick length.
    pub fn new(map: Map, tick_rate: u16) -> Predictor {
        Predictor {
            map,
            dt: 1.0 / f64::from(tick_rate.max(1)),
            state: None,
            dead: false,
            pending: VecDeque::new(),
        }
    }

    /// The predicted position in metres, `None` while unknown or dead.
    pub fn position(&self) -> Option<(f64, f64)> {
        match self.state {
            Some(k) if !self.dead => Some((k.x, k.y)),
            _ => None,
        }
    }

    /// Advances the prediction by the input just sent as `seq`.
    pub fn on_input(&mut self, seq: u32, move_x: i8, move_y: i8) {
        if !self.dead
            && let Some(k) = self.state
        {
            self.state = Some(step_player(k, move_x, move_y, &self.map, self.dt));
        }
        if self.pending.len() >= MAX_PENDING_INPUTS {
            self.pending.pop_front();
        }
        self.pending.push_back(PendingInput {
            seq,
            move_x,
            move_y,
            predicted: self.state.map(|k| (k.x, k.y)),
        });
    }

    /// Reconciles with a snapshot: starts from our entity's authoritative state, replays
    /// the inputs the server has not applied yet (`seq > last_input_seq`) and returns how
    /// far, in metres, that moved the prediction for the newest input. `None` when there
    /// was nothing to compare, or when death or a respawn makes the jump meaningless.
    pub fn on_snapshot(&mut self, own: Option<&EntityState>, last_input_seq: u32) -> Option<f64> {
        let Some(own) = own else {
            self.state = None;
            self.pending.retain(|p| p.seq > last_input_seq);
            return None;
        };
        // The previous prediction for the newest input: it is pending if any input is
        // unacknowledged, otherwise it is the acknowledged input itself.
        let before = match self.pending.back() {
            Some(p) if p.seq > last_input_seq => p.predicted,
            _ => self
                .pending
                .iter()
                .find(|p| p.seq == last_input_seq)
                .and_then(|p| p.predicted),
        };
        self.pending.retain(|p| p.seq > last_input_seq);

        let was_dead = self.dead;
        self.dead = own.flags & FLAG_DEAD != 0;
        let mut k = Kinematics {
            x: q_to_pos(own.x),
            y: q_to_pos(own.y),
            vx: q_to_vel(own.vx),
            vy: q_to_vel(own.vy),
        };
        for p in &mut self.pending {
            if !self.dead {
                k = step_player(k, p.move_x, p.move_y, &self.map, self.dt);
            }
            p.predicted = Some((k.x, k.y));
        }
        self.state = Some(k);

        if was_dead || self.dead {
            return None;
        }
        before.map(|(x, y)| (k.x - x).hypot(k.y - y))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::map::MapInfo;
    use shared::quant::{pos_to_q, vel_to_q};

    fn entity(id: u32, kind: EntityKind, x: f64, y: f64) -> EntityState {
        EntityState {
            id,
            kind,
            x: pos_to_q(x),
            y: pos_to_q(y),
            vx: 0,
            vy: 0,
            anchor: 0,
            angle: 0,
            health: 100,
            flags: 0,
            score: 0,
            owner: 0,
            name: String::new(),
        }
    }

    fn view_of(entities: Vec<EntityState>) -> WorldView {
        let mut view = WorldView::default();
        view.apply_full(&shared::protocol::FullSnapshot {
            tick: 1,
            last_input_seq: 0,
            entities,
        });
        view
    }

    fn open_map(side_m: i32) -> Map {
        Map::from_info(MapInfo {
            name: "open".into(),
            width: side_m * 64,
            height: side_m * 64,
            walls: Vec::new(),
        })
        .expect("valid test map")
    }

    #[test]
    fn aim_points_along_the_axes() {
        assert_eq!(aim_at((10.0, 10.0), (15.0, 10.0)), 0);
        assert_eq!(aim_at((10.0, 10.0), (10.0, 12.0)), 16384);
        assert_eq!(aim_at((10.0, 10.0), (5.0, 10.0)), 32768);
        assert_eq!(aim_at((10.0, 10.0), (10.0, 8.0)), 49152);
    }

    #[test]
    fn bots_aim_at_and_fire_on_the_nearest_living_target() {
        let me = entity(1, EntityKind::Player, 50.0, 50.0);
        let mut dead = entity(2, EntityKind::Player, 51.0, 50.0);
        dead.flags = FLAG_DEAD;
        let view = view_of(vec![
            me,
            dead,
            entity(3, EntityKind::Drone, 50.0, 60.0),
            entity(4, EntityKind::Player, 40.0, 50.0),
            entity(5, EntityKind::Projectile, 50.5, 50.0),
        ]);
        let target = nearest_target(&view, 1, (50.0, 50.0), AIM_RANGE_M);
        assert_eq!(target.map(|t| t.id), Some(3));

        let mut bot = Behaviour::new(7, 60);
        let intent = bot.decide(Some((50.0, 50.0)), &view, 1);
        assert_eq!(intent.aim, 16384, "the drone is straight down (+y)");
        assert_eq!(intent.buttons, BUTTON_FIRE);

        // 14 m away: aimed at, but out of firing range.
        let far = view_of(vec![entity(9, EntityKind::Drone, 64.0, 50.0)]);
        let intent = bot.decide(Some((50.0, 50.0)), &far, 1);
        assert_eq!((intent.aim, intent.buttons), (0, 0));

        let none = view_of(vec![entity(9, EntityKind::Drone, 80.0, 50.0)]);
        assert_eq!(bot.decide(Some((50.0, 50.0)), &none, 1).buttons, 0);
    }

    #[test]
    fn blocked_bots_turn_round() {
        let view = WorldView::default();
        let mut bot = Behaviour::new(42, 20);
        // Keep the first wander period from expiring during the test.
        bot.ticks_until_turn = 1000;
        let before = bot.heading();
        for _ in 0..=bot.stuck_check_ticks {
            bot.decide(Some((30.0, 30.0)), &view, 1);
        }
        let after = bot.heading();
        let dot = before.cos() * after.cos() + before.sin() * after.sin();
        assert!(
            dot < 0.0,
            "heading {before} → {after} should point backwards"
        );
    }

    #[test]
    fn dead_bots_stand_still() {
        let mut bot = Behaviour::new(1, 20);
        let intent = bot.decide(None, &WorldView::default(), 1);
        assert_eq!((intent.move_x, intent.move_y, intent.buttons), (0, 0, 0));
    }

    #[test]
    fn prediction_matching_the_server_has_no_error() {
        let map = open_map(40);
        let mut server = Kinematics {
            x: 10.0,
            y: 10.0,
            ..Kinematics::default()
        };
        let mut p = Predictor::new(map.clone(), 20);
        let mut own = entity(1, EntityKind::Player, 10.0, 10.0);
        assert_eq!(p.on_snapshot(Some(&own), 0), None);

        for seq in 1..=5 {
            p.on_input(seq, 127, 0);
        }
        // The server applied inputs 1..=3 exactly; 4 and 5 are still in flight.
        for _ in 1..=3 {
            server = step_player(server, 127, 0, &map, 1.0 / 20.0);
        }
        own.x = pos_to_q(server.x);
        own.vx = vel_to_q(server.vx);
        let err = p
            .on_snapshot(Some(&own), 3)
            .expect("a prediction to compare");
        // Only quantisation of the snapshot separates the two.
        assert!(err < 0.02, "error {err} m");

        // A server that moved us 1 m further than the rules allow shows up as 1 m.
        own.x = pos_to_q(server.x + 1.0);
        let err = p
            .on_snapshot(Some(&own), 3)
            .expect("a prediction to compare");
        assert!((err - 1.0).abs() < 0.02, "error {err} m");

        // Dying or respawning is not a prediction error.
        own.flags = FLAG_DEAD;
        assert_eq!(p.on_snapshot(Some(&own), 5), None);
        assert_eq!(p.position(), None);
        own.flags = 0;
        own.x = pos_to_q(30.0);
        assert_eq!(p.on_snapshot(Some(&own), 5), None);
        assert_eq!(p.position().map(|(x, _)| x), Some(30.0));
    }
}
