//! What a bot does each tick, for whichever game the server runs.
//!
//! A [`Behaviour`] turns the [`WorldView`] into one tick's [`Intent`]. Each game the bots
//! can play has a module in [`crate::games`] that reads its own components by name; the
//! registry ([`behaviour_for`]) picks one by the game the `Welcome`'s schema announces.
//! A game without a module gets [`Wander`]: it moves at random and presses no buttons,
//! which still loads the server, and the client still decodes, checks and reports every
//! snapshot, since that part is generic.
//!
//! Behaviours count time in ticks, never read a clock, and take their randomness from a
//! seeded generator, so a test can drive them step by step.

// Behaviours read entities the server sent: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::f64::consts::{PI, TAU};
use std::fmt;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use shared::map::Map;
use shared::quant::angle_to_q;
use shared::schema::Layout;

use crate::games;
use crate::view::WorldView;

/// How often a bot checks that it is still getting somewhere, in seconds.
const STUCK_CHECK_S: f64 = 0.5;
/// Progress along the heading below which a bot counts as blocked, in metres. Unblocked,
/// a bot covers about 2.7 m in half a second even starting from rest, while sliding along
/// a wall at a shallow angle makes little headway: both deserve a new direction.
const STUCK_MIN_PROGRESS_M: f64 = 0.25;

/// One tick's worth of input: the protocol's own frame.
pub use shared::protocol::Intent;

/// What a bot does in one game.
pub trait Behaviour: fmt::Debug + Send {
    /// Short name for reports: the game's, or `wander` for the generic behaviour.
    fn name(&self) -> &'static str;

    /// Decides this tick's input from the newest view.
    fn decide(&mut self, view: &WorldView) -> Intent;

    /// The input just decided went out as `seq` (for client-side prediction).
    fn on_input(&mut self, _seq: u32, _intent: Intent) {}

    /// A snapshot was applied to `view`. Returns how far, in metres, it moved the bot's
    /// predicted position (the prediction error the report shows), when the behaviour
    /// predicts and there was something to compare.
    fn on_snapshot(&mut self, _view: &WorldView) -> Option<f64> {
        None
    }

    /// How many players called `name` the view shows, for the check after a resume
    /// that the room holds exactly one player of ours; `None` when the game does not
    /// replicate names (the check then only looks for the bot's own entity).
    fn players_named(&self, _view: &WorldView, _name: &str) -> Option<usize> {
        None
    }
}

/// What a behaviour is built from: one session's `Welcome`, and the bot's seed.
#[derive(Debug, Clone, Copy)]
pub struct Setup<'a> {
    /// Every random choice of the behaviour comes from this.
    pub seed: u64,
    /// Simulation ticks per second (at least 1).
    pub tick_rate: u16,
    /// The map from `Welcome`.
    pub map: &'a Map,
    /// The layout of the schema from `Welcome`, to look fields up in once.
    pub layout: &'a Layout,
}

/// Builds a game's behaviour; `None` when the schema lacks what the behaviour reads.
type Builder = fn(&Setup<'_>) -> Option<Box<dyn Behaviour>>;

/// The games bots know how to play, by the name their schema announces. A new game is a
/// module in [`crate::games`] and one row here.
const GAMES: &[(&str, Builder)] = &[
    (games::arena::GAME, games::arena::build),
    (games::ball::GAME, games::ball::build),
];

/// The behaviour for `game`, if the bots know that game and the schema has the fields
/// its behaviour reads.
pub fn behaviour_for(game: &str, setup: &Setup<'_>) -> Option<Box<dyn Behaviour>> {
    GAMES
        .iter()
        .find(|(name, _)| *name == game)
        .and_then(|(_, build)| build(setup))
}

/// The behaviour for the game `setup.layout` announces, or [`Wander`] for a game the
/// bots do not know.
pub fn choose(setup: &Setup<'_>) -> Box<dyn Behaviour> {
    let game = &setup.layout.schema().game;
    behaviour_for(game, setup).unwrap_or_else(|| {
        tracing::debug!(game = %game, "no behaviour for this game: wandering");
        Box::new(Wander::new(setup.seed, setup.tick_rate))
    })
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

/// A random walk that changes direction every one to three seconds and turns round when
/// it stops making progress (it ran into a wall or another body). Game behaviours steer
/// with it; [`Wander`] is nothing else.
#[derive(Debug, Clone)]
pub struct Roam {
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

impl Roam {
    /// A walk whose random choices all come from `seed`, stepped `tick_rate` times a second.
    pub fn new(seed: u64, tick_rate: u16) -> Roam {
        let tick_rate = u32::from(tick_rate.max(1));
        let mut rng = SmallRng::seed_from_u64(seed);
        let heading = rng.random_range(0.0..TAU);
        let mut roam = Roam {
            rng,
            tick_rate,
            heading,
            ticks_until_turn: 0,
            anchor: None,
            ticks_since_anchor: 0,
            stuck_check_ticks: ((STUCK_CHECK_S * f64::from(tick_rate)).round() as u32).max(1),
        };
        roam.ticks_until_turn = roam.turn_delay();
        roam
    }

    /// Current direction of travel, in radians.
    pub fn heading(&self) -> f64 {
        self.heading
    }

    /// Advances one tick with the walker at `pos` (metres; `None` when unknown, which
    /// skips the progress check) and returns the heading to take.
    pub fn step(&mut self, pos: Option<(f64, f64)>) -> f64 {
        self.ticks_until_turn = self.ticks_until_turn.saturating_sub(1);
        if self.ticks_until_turn == 0 {
            self.heading = self.rng.random_range(0.0..TAU);
            self.restart();
        } else if let Some(pos) = pos {
            self.check_progress(pos);
        } else {
            self.anchor = None;
        }
        self.heading
    }

    /// Forgets the progress check: a respawn teleports the walker, and progress measured
    /// across it means nothing.
    pub fn lost_track(&mut self) {
        self.anchor = None;
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
            self.restart();
        } else {
            self.anchor = Some(pos);
            self.ticks_since_anchor = 0;
        }
    }

    fn restart(&mut self) {
        self.ticks_until_turn = self.turn_delay();
        self.anchor = None;
        self.ticks_since_anchor = 0;
    }

    /// One to three seconds, in ticks.
    fn turn_delay(&mut self) -> u32 {
        self.rng.random_range(self.tick_rate..=3 * self.tick_rate)
    }

    #[cfg(test)]
    pub(crate) fn hold_course(&mut self) {
        self.ticks_until_turn = u32::MAX;
    }

    #[cfg(test)]
    pub(crate) fn stuck_check_ticks(&self) -> u32 {
        self.stuck_check_ticks
    }
}

/// The behaviour for a game the bots do not know: walk at random (steering by the own
/// entity's position in the view, when it has one), aim where it walks, press nothing.
#[derive(Debug, Clone)]
pub struct Wander {
    roam: Roam,
}

/// [`Behaviour::name`] of [`Wander`].
pub const WANDER: &str = "wander";

impl Wander {
    pub fn new(seed: u64, tick_rate: u16) -> Wander {
        Wander {
            roam: Roam::new(seed, tick_rate),
        }
    }
}

impl Behaviour for Wander {
    fn name(&self) -> &'static str {
        WANDER
    }

    fn decide(&mut self, view: &WorldView) -> Intent {
        let pos = view.own().and_then(|e| view.position(e));
        let heading = self.roam.step(pos);
        let (move_x, move_y) = heading_to_move(heading);
        Intent {
            move_x,
            move_y,
            aim: angle_to_q(heading),
            buttons: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use shared::map::MapInfo;
    use shared::protocol::Packing;
    use shared::schema::{ComponentDef, FieldDef, FieldKind, Schema};

    fn layout(game: &str) -> Layout {
        Schema {
            game: game.into(),
            components: vec![ComponentDef {
                name: "Score".into(),
                fields: vec![FieldDef {
                    name: "points".into(),
                    kind: FieldKind::Uint { k: 2 },
                }],
            }],
        }
        .layout()
        .unwrap()
    }

    fn map() -> Map {
        Map::from_info(MapInfo {
            name: "open".into(),
            width: 40 * 64,
            height: 40 * 64,
            walls: Vec::new(),
        })
        .unwrap()
    }

    #[test]
    fn aim_points_along_the_axes() {
        assert_eq!(aim_at((10.0, 10.0), (15.0, 10.0)), 0);
        assert_eq!(aim_at((10.0, 10.0), (10.0, 12.0)), 16384);
        assert_eq!(aim_at((10.0, 10.0), (5.0, 10.0)), 32768);
        assert_eq!(aim_at((10.0, 10.0), (10.0, 8.0)), 49152);
    }

    #[test]
    fn unknown_games_wander_without_buttons() {
        let (map, layout) = (map(), layout("curling"));
        let setup = Setup {
            seed: 3,
            tick_rate: 20,
            map: &map,
            layout: &layout,
        };
        assert!(behaviour_for("curling", &setup).is_none());
        let mut bot = choose(&setup);
        assert_eq!(bot.name(), WANDER);
        let view = WorldView::new(Arc::new(layout.clone()), 1, 20, Packing::Bits);
        let mut moved = false;
        for _ in 0..200 {
            let intent = bot.decide(&view);
            assert_eq!(intent.buttons, 0);
            moved |= (intent.move_x, intent.move_y) != (0, 0);
        }
        assert!(moved);
        assert_eq!(bot.on_snapshot(&view), None);
        assert_eq!(bot.players_named(&view, "bot1"), None);
    }

    #[test]
    fn a_known_game_whose_schema_lacks_its_fields_wanders() {
        let (map, layout) = (map(), layout(games::arena::GAME));
        let setup = Setup {
            seed: 3,
            tick_rate: 20,
            map: &map,
            layout: &layout,
        };
        assert!(behaviour_for(games::arena::GAME, &setup).is_none());
        assert_eq!(choose(&setup).name(), WANDER);
    }

    #[test]
    fn blocked_walkers_turn_round() {
        let mut roam = Roam::new(42, 20);
        // Keep the first wander period from expiring during the test.
        roam.hold_course();
        let before = roam.heading();
        for _ in 0..=roam.stuck_check_ticks() {
            roam.step(Some((30.0, 30.0)));
        }
        let after = roam.heading();
        let dot = before.cos() * after.cos() + before.sin() * after.sin();
        assert!(
            dot < 0.0,
            "heading {before} → {after} should point backwards"
        );
    }
}
