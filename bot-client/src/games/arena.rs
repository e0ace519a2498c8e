//! The arena (a top-down shooter): what a bot does there, and how it predicts its own
//! movement.
//!
//! [`Arena`] is deliberately simple: load on the server should look like players
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
//! The arena's components are read through [`ArenaFields`], looked up by name in the
//! `Welcome`'s schema once per session; a schema without them gets the generic
//! behaviour instead (see [`crate::behaviour::choose`]).

// Entities come from the server: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::collections::VecDeque;

use shared::map::Map;
use shared::movement::{Kinematics, step_player};
use shared::quant::angle_to_q;
use shared::rules::BUTTON_FIRE;
use shared::schema::{EntityState, FieldKind, FieldRef, Layout};

use crate::behaviour::{Behaviour, Intent, Roam, Setup, aim_at, heading_to_move};
use crate::view::WorldView;

/// The name the arena's schema announces (`Schema::game`).
pub const GAME: &str = "arena";

/// Targets farther than this are ignored, in metres.
pub const AIM_RANGE_M: f64 = 15.0;
/// A bot fires when its target is at most this far, in metres.
pub const FIRE_RANGE_M: f64 = 12.0;
/// Bound on remembered inputs if the server stops acknowledging them.
const MAX_PENDING_INPUTS: usize = 1024;

/// What the arena's behaviour needs from a schema and did not find.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArenaSchemaError {
    #[error("the schema has no component {0}")]
    Component(&'static str),
    #[error("the schema has no field {0}.{1} of the kind the arena reads")]
    Field(&'static str, &'static str),
}

/// The arena's components and fields, found by name in a session's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArenaFields {
    /// Index of `Player`: the entity is a player.
    pub player: usize,
    /// Index of `Drone`: the entity is a drone.
    pub drone: usize,
    /// `Body.motion`: a player's position and velocity.
    pub body: FieldRef,
    /// Steps per metre (and per metre per second) of `Body.motion`.
    pub body_scale: u32,
    /// `Health.hp`.
    pub hp: FieldRef,
    /// `Player.dead`: 1 while waiting to respawn.
    pub dead: FieldRef,
    /// `Player.score`.
    pub score: FieldRef,
    /// `Player.name`.
    pub name: FieldRef,
}

impl ArenaFields {
    /// Looks the arena's fields up in `layout`, checking each has a kind the behaviour
    /// can read.
    pub fn new(layout: &Layout) -> Result<ArenaFields, ArenaSchemaError> {
        let component = |name| {
            layout
                .component(name)
                .ok_or(ArenaSchemaError::Component(name))
        };
        let field = |c, f, fits: fn(FieldKind) -> bool| {
            layout
                .field(c, f)
                .filter(|r| fits(r.kind))
                .ok_or(ArenaSchemaError::Field(c, f))
        };
        let integer =
            |k: FieldKind| !matches!(k, FieldKind::Text { .. } | FieldKind::Motion { .. });
        let body = field("Body", "motion", |k| matches!(k, FieldKind::Motion { .. }))?;
        let FieldKind::Motion {
            scale: body_scale, ..
        } = body.kind
        else {
            return Err(ArenaSchemaError::Field("Body", "motion"));
        };
        Ok(ArenaFields {
            player: component("Player")?,
            drone: component("Drone")?,
            body,
            body_scale,
            hp: field("Health", "hp", integer)?,
            dead: field("Player", "dead", integer)?,
            score: field("Player", "score", integer)?,
            name: field("Player", "name", |k| matches!(k, FieldKind::Text { .. }))?,
        })
    }

    pub fn is_player(&self, e: &EntityState) -> bool {
        e.has(self.player)
    }

    pub fn is_drone(&self, e: &EntityState) -> bool {
        e.has(self.drone)
    }

    /// Whether `e` is a player waiting to respawn.
    pub fn is_dead(&self, e: &EntityState) -> bool {
        e.get(&self.dead).is_some_and(|d| d != 0)
    }

    /// The player's name (`None` for other entities).
    pub fn name<'a>(&self, e: &'a EntityState) -> Option<&'a str> {
        e.get_text(&self.name)
    }

    /// Health points of a player or drone.
    pub fn health(&self, e: &EntityState) -> Option<i64> {
        e.get(&self.hp)
    }

    /// A player's score.
    pub fn score(&self, e: &EntityState) -> Option<i64> {
        e.get(&self.score)
    }

    /// A player's authoritative position and velocity, in metres and metres per second.
    pub fn kinematics(&self, e: &EntityState) -> Option<Kinematics> {
        let m = e.get_motion(&self.body)?;
        let scale = f64::from(self.body_scale.max(1));
        Some(Kinematics {
            x: f64::from(m.x) / scale,
            y: f64::from(m.y) / scale,
            vx: f64::from(m.vx) / scale,
            vy: f64::from(m.vy) / scale,
        })
    }

    /// What the predictor takes from the bot's own entity; `None` if it has no body.
    pub fn observe(&self, e: &EntityState) -> Option<Observed> {
        Some(Observed {
            kinematics: self.kinematics(e)?,
            dead: self.is_dead(e),
        })
    }

    /// Whether `e` is worth shooting at: a living player or drone.
    fn is_target(&self, e: &EntityState) -> bool {
        let alive = self.health(e).is_none_or(|hp| hp > 0);
        alive && (self.is_drone(e) || (self.is_player(e) && !self.is_dead(e)))
    }
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

/// The nearest living player (other than the view's own entity) or drone within
/// `range_m` of `from`.
pub fn nearest_target(
    view: &WorldView,
    fields: &ArenaFields,
    from: (f64, f64),
    range_m: f64,
) -> Option<Target> {
    view.entities()
        .iter()
        .filter(|e| e.id != view.own_entity() && fields.is_target(e))
        .filter_map(|e| {
            let (x, y) = view.position(e)?;
            Some(Target {
                id: e.id,
                x,
                y,
                distance: (x - from.0).hypot(y - from.1),
            })
        })
        .filter(|t| t.distance <= range_m)
        .min_by(|a, b| a.distance.total_cmp(&b.distance))
}

/// A wandering, shooting arena bot.
#[derive(Debug, Clone)]
pub struct Arena {
    fields: ArenaFields,
    roam: Roam,
    predictor: Predictor,
    /// The living targets of the view (id, position in metres): the view changes 20
    /// times a second, the bot decides 60 times, and reading a target's fields goes
    /// through its shared values.
    targets: Vec<(u32, f64, f64)>,
    /// The view the targets were read from: its tick, and where and how long its
    /// entity list was (a new snapshot is a new list).
    targets_of: Option<(u32, usize, usize)>,
}

/// The arena's behaviour for a session, if its schema has the arena's fields.
pub fn build(setup: &Setup<'_>) -> Option<Box<dyn Behaviour>> {
    match ArenaFields::new(setup.layout) {
        Ok(fields) => Some(Box::new(Arena::new(
            fields,
            setup.seed,
            setup.tick_rate,
            setup.map.clone(),
        ))),
        Err(e) => {
            tracing::debug!("not the arena's schema: {e}");
            None
        }
    }
}

impl Arena {
    /// A bot whose random choices all come from `seed`, acting `tick_rate` times a
    /// second, predicting its movement on `map`.
    pub fn new(fields: ArenaFields, seed: u64, tick_rate: u16, map: Map) -> Arena {
        Arena {
            fields,
            roam: Roam::new(seed, tick_rate),
            predictor: Predictor::new(map, tick_rate),
            targets: Vec::new(),
            targets_of: None,
        }
    }

    /// Current direction of travel, in radians.
    pub fn heading(&self) -> f64 {
        self.roam.heading()
    }

    /// The fields this bot reads.
    pub fn fields(&self) -> &ArenaFields {
        &self.fields
    }

    /// Decides an input with the bot at `own` (metres; `None` while dead or not yet in a
    /// snapshot: a bot without a position stands still).
    pub fn decide_at(&mut self, own: Option<(f64, f64)>, view: &WorldView) -> Intent {
        let Some(pos) = own else {
            self.roam.lost_track();
            return Intent {
                aim: angle_to_q(self.roam.heading()),
                ..Intent::default()
            };
        };
        let heading = self.roam.step(Some(pos));
        let (move_x, move_y) = heading_to_move(heading);
        let of = (
            view.tick,
            view.entities().as_ptr() as usize,
            view.entities().len(),
        );
        if self.targets_of != Some(of) {
            self.targets_of = Some(of);
            self.targets.clear();
            let fields = &self.fields;
            self.targets.extend(
                view.entities()
                    .iter()
                    .filter(|e| e.id != view.own_entity() && fields.is_target(e))
                    .filter_map(|e| view.position(e).map(|(x, y)| (e.id, x, y))),
            );
        }
        let nearest = self
            .targets
            .iter()
            .map(|&(id, x, y)| Target {
                id,
                x,
                y,
                distance: (x - pos.0).hypot(y - pos.1),
            })
            .filter(|t| t.distance <= AIM_RANGE_M)
            .min_by(|a, b| a.distance.total_cmp(&b.distance));
        let (aim, buttons) = match nearest {
            Some(t) => (
                aim_at(pos, (t.x, t.y)),
                if t.distance <= FIRE_RANGE_M {
                    BUTTON_FIRE
                } else {
                    0
                },
            ),
            None => (angle_to_q(heading), 0),
        };
        Intent {
            move_x,
            move_y,
            aim,
            buttons,
        }
    }
}

impl Behaviour for Arena {
    fn name(&self) -> &'static str {
        GAME
    }

    /// Steers from the predicted position: where the bot is by the inputs already sent,
    /// not where the last snapshot showed it.
    fn decide(&mut self, view: &WorldView) -> Intent {
        let own = self.predictor.position();
        self.decide_at(own, view)
    }

    fn on_input(&mut self, seq: u32, intent: Intent) {
        self.predictor.on_input(seq, intent.move_x, intent.move_y);
    }

    fn on_snapshot(&mut self, view: &WorldView) -> Option<f64> {
        let own = view.own().and_then(|e| self.fields.observe(e));
        self.predictor.on_snapshot(own, view.last_input_seq)
    }

    fn players_named(&self, view: &WorldView, name: &str) -> Option<usize> {
        Some(
            view.entities()
                .iter()
                .filter(|e| self.fields.is_player(e) && self.fields.name(e) == Some(name))
                .count(),
        )
    }
}

/// The bot's own player as a snapshot shows it, for [`Predictor::on_snapshot`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observed {
    pub kinematics: Kinematics,
    /// The dead do not move.
    pub dead: bool,
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

    /// Reconciles with a snapshot: starts from our player's authoritative state (`None`:
    /// not in view), replays the inputs the server has not applied yet
    /// (`seq > last_input_seq`) and returns how far, in metres, that moved the
    /// prediction for the newest input. `None` when there was nothing to compare, or
    /// when death or a respawn makes the jump meaningless.
    pub fn on_snapshot(&mut self, own: Option<Observed>, last_input_seq: u32) -> Option<f64> {
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
        self.dead = own.dead;
        let mut k = own.kinematics;
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
    use std::sync::Arc;

    use super::*;
    use shared::map::MapInfo;
    use shared::protocol::{FullSnapshot, Packing};
    use shared::quant::pos_to_q;
    use shared::schema::{
        ComponentDef, EntityBuilder, FieldDef, MotionModel, MotionValue, Schema, Values,
    };

    /// The arena's schema as the server declares it (server/src/games/arena/replicate.rs).
    fn schema() -> Schema {
        let field = |name: &str, kind| FieldDef {
            name: name.into(),
            kind,
        };
        let component = |name: &str, fields| ComponentDef {
            name: name.into(),
            fields,
        };
        let motion = |model| FieldKind::Motion { model, scale: 64 };
        Schema {
            game: GAME.into(),
            components: vec![
                component(
                    "Body",
                    vec![field("motion", motion(MotionModel::Predicted))],
                ),
                component(
                    "Facing",
                    vec![field("angle", FieldKind::Angle { bits: 16 })],
                ),
                component(
                    "Flight",
                    vec![field("path", motion(MotionModel::Trajectory))],
                ),
                component("Health", vec![field("hp", FieldKind::Bits { width: 8 })]),
                component(
                    "Player",
                    vec![
                        field("dead", FieldKind::Bits { width: 1 }),
                        field("score", FieldKind::Uint { k: 1 }),
                        field("name", FieldKind::Text { max_bytes: 64 }),
                    ],
                ),
                component("Drone", vec![]),
                component("Projectile", vec![field("owner", FieldKind::Entity)]),
            ],
        }
    }

    fn layout() -> Arc<Layout> {
        Arc::new(schema().layout().unwrap())
    }

    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        Player,
        Drone,
        Projectile,
    }

    fn entity(layout: &Layout, id: u32, kind: Kind, x: f64, y: f64, dead: bool) -> EntityState {
        let c = |name| layout.component(name).unwrap();
        let mut b = EntityBuilder::new(layout, id, Values::default());
        let (x, y) = (pos_to_q(x), pos_to_q(y));
        match kind {
            Kind::Player => {
                let m = MotionValue {
                    x,
                    y,
                    ..MotionValue::default()
                };
                layout.writer(&mut b, c("Body")).motion(m);
                layout.writer(&mut b, c("Facing")).angle(0);
                layout.writer(&mut b, c("Health")).bits(100);
                let name = format!("p{id}");
                layout
                    .writer(&mut b, c("Player"))
                    .flag(dead)
                    .uint(0)
                    .text(&name);
            }
            Kind::Drone | Kind::Projectile => {
                // Anchored at the view's tick, so the position is where it is now.
                let m = MotionValue {
                    anchor: 1,
                    x,
                    y,
                    ..MotionValue::default()
                };
                layout.writer(&mut b, c("Flight")).motion(m);
                if kind == Kind::Drone {
                    layout.writer(&mut b, c("Health")).bits(40);
                    layout.writer(&mut b, c("Drone"));
                } else {
                    layout.writer(&mut b, c("Projectile")).entity(1);
                }
            }
        }
        b.build()
    }

    fn view_of(layout: &Arc<Layout>, entities: Vec<EntityState>) -> WorldView {
        let mut view = WorldView::new(layout.clone(), 1, 60, Packing::Bits);
        view.apply_full(&FullSnapshot {
            tick: 1,
            last_input_seq: 0,
            entities,
        })
        .unwrap();
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

    fn bot(layout: &Layout, seed: u64, tick_rate: u16) -> Arena {
        Arena::new(
            ArenaFields::new(layout).unwrap(),
            seed,
            tick_rate,
            open_map(100),
        )
    }

    #[test]
    fn fields_are_found_by_name_and_checked() {
        let layout = layout();
        let fields = ArenaFields::new(&layout).unwrap();
        let me = entity(&layout, 1, Kind::Player, 2.0, 3.0, false);
        assert!(fields.is_player(&me) && !fields.is_drone(&me) && !fields.is_dead(&me));
        assert_eq!(fields.name(&me), Some("p1"));
        assert_eq!(
            (fields.health(&me), fields.score(&me)),
            (Some(100), Some(0))
        );
        assert_eq!(fields.kinematics(&me).map(|k| (k.x, k.y)), Some((2.0, 3.0)));
        let drone = entity(&layout, 2, Kind::Drone, 2.0, 3.0, false);
        assert_eq!(
            (fields.name(&drone), fields.kinematics(&drone)),
            (None, None)
        );

        let mut s = schema();
        s.components.retain(|c| c.name != "Drone");
        let err = ArenaFields::new(&s.layout().unwrap()).unwrap_err();
        assert_eq!(err, ArenaSchemaError::Component("Drone"));
        let mut s = schema();
        s.components[4].fields[2].kind = FieldKind::Uint { k: 1 };
        let err = ArenaFields::new(&s.layout().unwrap()).unwrap_err();
        assert_eq!(err, ArenaSchemaError::Field("Player", "name"));
    }

    #[test]
    fn bots_aim_at_and_fire_on_the_nearest_living_target() {
        let layout = layout();
        let view = view_of(
            &layout,
            vec![
                entity(&layout, 1, Kind::Player, 50.0, 50.0, false),
                entity(&layout, 2, Kind::Player, 51.0, 50.0, true),
                entity(&layout, 3, Kind::Drone, 50.0, 60.0, false),
                entity(&layout, 4, Kind::Player, 40.0, 50.0, false),
                entity(&layout, 5, Kind::Projectile, 50.5, 50.0, false),
            ],
        );
        let fields = ArenaFields::new(&layout).unwrap();
        let target = nearest_target(&view, &fields, (50.0, 50.0), AIM_RANGE_M);
        assert_eq!(target.map(|t| t.id), Some(3));

        let mut bot = bot(&layout, 7, 60);
        let intent = bot.decide_at(Some((50.0, 50.0)), &view);
        assert_eq!(intent.aim, 16384, "the drone is straight down (+y)");
        assert_eq!(intent.buttons, BUTTON_FIRE);

        // 14 m away: aimed at, but out of firing range.
        let far = view_of(
            &layout,
            vec![entity(&layout, 9, Kind::Drone, 64.0, 50.0, false)],
        );
        let intent = bot.decide_at(Some((50.0, 50.0)), &far);
        assert_eq!((intent.aim, intent.buttons), (0, 0));

        let none = view_of(
            &layout,
            vec![entity(&layout, 9, Kind::Drone, 80.0, 50.0, false)],
        );
        assert_eq!(bot.decide_at(Some((50.0, 50.0)), &none).buttons, 0);
    }

    #[test]
    fn the_behaviour_steers_from_its_prediction_and_counts_players_by_name() {
        let layout = layout();
        let view = view_of(
            &layout,
            vec![
                entity(&layout, 1, Kind::Player, 50.0, 50.0, false),
                entity(&layout, 3, Kind::Drone, 55.0, 50.0, false),
            ],
        );
        let mut bot = bot(&layout, 7, 60);
        // Nothing seen yet: no position, so it stands still.
        assert_eq!(bot.decide(&view).buttons, 0);
        assert_eq!(bot.on_snapshot(&view), None);
        let intent = bot.decide(&view);
        assert_eq!((intent.aim, intent.buttons), (0, BUTTON_FIRE));
        bot.on_input(1, intent);
        assert_eq!(bot.players_named(&view, "p1"), Some(1));
        assert_eq!(bot.players_named(&view, "p3"), Some(0));
        assert_eq!(bot.name(), GAME);
    }

    #[test]
    fn dead_bots_stand_still() {
        let layout = layout();
        let mut bot = bot(&layout, 1, 20);
        let view = view_of(
            &layout,
            vec![entity(&layout, 1, Kind::Player, 5.0, 5.0, true)],
        );
        assert_eq!(bot.on_snapshot(&view), None);
        let intent = bot.decide(&view);
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
        let quantised = |k: Kinematics| Kinematics {
            x: f64::from(pos_to_q(k.x)) / 64.0,
            y: f64::from(pos_to_q(k.y)) / 64.0,
            vx: f64::from(pos_to_q(k.vx)) / 64.0,
            vy: f64::from(pos_to_q(k.vy)) / 64.0,
        };
        let mut own = Observed {
            kinematics: server,
            dead: false,
        };
        assert_eq!(p.on_snapshot(Some(own), 0), None);

        for seq in 1..=5 {
            p.on_input(seq, 127, 0);
        }
        // The server applied inputs 1..=3 exactly; 4 and 5 are still in flight.
        for _ in 1..=3 {
            server = step_player(server, 127, 0, &map, 1.0 / 20.0);
        }
        own.kinematics = quantised(server);
        let err = p
            .on_snapshot(Some(own), 3)
            .expect("a prediction to compare");
        // Only quantisation of the snapshot separates the two.
        assert!(err < 0.02, "error {err} m");

        // A server that moved us 1 m further than the rules allow shows up as 1 m.
        own.kinematics.x = f64::from(pos_to_q(server.x + 1.0)) / 64.0;
        let err = p
            .on_snapshot(Some(own), 3)
            .expect("a prediction to compare");
        assert!((err - 1.0).abs() < 0.02, "error {err} m");

        // Dying or respawning is not a prediction error.
        own.dead = true;
        assert_eq!(p.on_snapshot(Some(own), 5), None);
        assert_eq!(p.position(), None);
        own.dead = false;
        own.kinematics.x = 30.0;
        assert_eq!(p.on_snapshot(Some(own), 5), None);
        assert_eq!(p.position().map(|(x, _)| x), Some(30.0));
    }
}
