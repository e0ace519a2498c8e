//! The ball game (two teams, one ball, a goal at each end): what a bot does there.
//!
//! [`BallBot`] plays a plain, readable game, enough to load the server the way players
//! would (running, taking the ball, kicking, tackling, scoring), not a clever AI. Each
//! tick it looks at who holds the ball and picks one [`Plan`]:
//!
//! - the ball is loose: the two players of each team nearest to it chase it (aiming a
//!   little ahead of a rolling ball); the others take up a supporting spot behind it;
//! - the bot holds it: it runs at the opponents' goal and, once within its shooting
//!   range with a clear line into the goal mouth, kicks (button bit 0, aimed at the
//!   goal);
//! - a teammate holds it: it runs ahead of the holder, towards the goal, to one side;
//! - an opponent holds it: the nearest player of the team goes in for the tackle
//!   (touching the holder), the others fall back between the ball and their own goal;
//! - play is paused (a goal, the end of a match): it walks back to a kick-off spot in
//!   its own half.
//!
//! Every spot a bot walks to (as opposed to the ball or a holder) is kept inside the
//! field and pushed away from teammates closer than [`SPACING_M`], so a team spreads out
//! instead of running as a pack. The bot's side ([`BallBot::lane`]), how deep it waits
//! at kick-off and how far out it shoots are drawn from its seed, redrawn every few
//! seconds (and the shooting range after each kick), so a swarm with a given seed plays
//! the same way every run.
//!
//! Nothing about the pitch is hard-coded: the map's size comes from `Welcome`, and the
//! goals are where `shared::games::ball` (the game's rules, shared with the server) puts
//! them on a map of that size ([`Pitch`]). The game's components are read through
//! [`BallFields`], looked up by name in the `Welcome`'s schema once per session; a
//! schema without them gets the generic behaviour instead (see
//! [`crate::behaviour::choose`]). The own movement is predicted with the arena's
//! [`Predictor`]: players of both games move by the same shared rules.

// Entities come from the server: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use shared::games::ball::{BALL_RADIUS, BUTTON_KICK, GOAL_DEPTH, GOAL_WIDTH, Phase, Team};
use shared::map::Map;
use shared::movement::Kinematics;
use shared::quant::angle_to_q;
use shared::rules::{PLAYER_MAX_SPEED, PLAYER_RADIUS, seconds_to_ticks};
use shared::schema::{EntityState, FieldKind, FieldRef, Layout};

use crate::behaviour::{Behaviour, Intent, Roam, Setup, aim_at, heading_to_move};
use crate::games::arena::{Observed, Predictor};
use crate::view::WorldView;

/// The name the ball game's schema announces (`Schema::game`).
pub const GAME: &str = "ball";

/// Teammates closer than this push a bot's spot away, in metres.
pub const SPACING_M: f64 = 5.0;
/// Players of a team that chase a loose ball: the nearest ones.
pub const LOOSE_CHASERS: usize = 2;
/// Players of a team that go in for a tackle: the nearest one.
pub const TACKLERS: usize = 1;
/// Whoever is this close to the ball goes for it, whatever its rank, in metres.
pub const ALWAYS_CHASE_M: f64 = 3.0;
/// Shooting range, in metres from the goal: drawn in this range after each kick.
pub const SHOT_RANGE_M: (f64, f64) = (9.0, 16.0);
/// Lines into the goal must pass this far inside the posts, besides the ball's radius.
const SHOT_MARGIN_M: f64 = 0.5;
/// How far ahead of a teammate holding the ball a supporter runs, in metres.
const SUPPORT_AHEAD_M: f64 = 8.0;
/// How far behind a loose ball (towards the own goal) the non-chasers wait, in metres.
const COVER_BEHIND_M: f64 = 6.0;
/// Defenders wait this fraction of the way from their goal to an opponent's ball.
const DEFEND_FRACTION: f64 = 0.45;
/// Lanes: a bot's sideways offset from the pitch's long axis is at most this fraction
/// of the pitch's height.
const LANE_FRACTION: f64 = 0.3;
/// Kick-off spots: this far behind the centre line, in metres.
const KICK_OFF_DEPTH_M: (f64, f64) = (5.0, 16.0);
/// Seconds between redraws of the lane and the kick-off depth.
const RETHINK_S: (f64, f64) = (2.0, 4.0);
/// Longest look-ahead at a moving ball or holder, in seconds.
const LEAD_MAX_S: f64 = 0.5;
/// A bot this close to its spot stands still, in metres; within [`SLOW_M`] it slows.
const ARRIVE_M: f64 = 0.25;
const SLOW_M: f64 = 1.5;
/// How long the kick button is held down, then released, in seconds: long enough that
/// the press cannot fall between two of the server's ticks unseen.
const KICK_PRESS_S: f64 = 0.05;

/// What the ball game's behaviour needs from a schema and did not find.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BallSchemaError {
    #[error("the schema has no component {0}")]
    Component(&'static str),
    #[error("the schema has no field {0}.{1} of the kind the ball game reads")]
    Field(&'static str, &'static str),
}

/// The ball game's components and fields, found by name in a session's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BallFields {
    /// Index of `Ball`: the entity is the ball.
    pub ball: usize,
    /// `Ball.holder`: net id of the player holding it, 0 when loose.
    pub holder: FieldRef,
    /// `Body.motion`: a player's position and velocity.
    pub body: FieldRef,
    /// Steps per metre (and per metre per second) of `Body.motion`.
    pub body_scale: u32,
    /// `Player.team`: a [`Team`]'s wire value.
    pub team: FieldRef,
    /// `Player.name`.
    pub name: FieldRef,
    /// `Match.phase`: a [`Phase`]'s wire value.
    pub phase: FieldRef,
}

impl BallFields {
    /// Looks the ball game's fields up in `layout`, checking each has a kind the
    /// behaviour can read.
    pub fn new(layout: &Layout) -> Result<BallFields, BallSchemaError> {
        let field = |c, f, fits: fn(FieldKind) -> bool| {
            layout
                .field(c, f)
                .filter(|r| fits(r.kind))
                .ok_or(BallSchemaError::Field(c, f))
        };
        let wire_value = |k: FieldKind| matches!(k, FieldKind::Bits { .. } | FieldKind::Uint { .. });
        let body = field("Body", "motion", |k| matches!(k, FieldKind::Motion { .. }))?;
        let FieldKind::Motion {
            scale: body_scale, ..
        } = body.kind
        else {
            return Err(BallSchemaError::Field("Body", "motion"));
        };
        Ok(BallFields {
            ball: layout
                .component("Ball")
                .ok_or(BallSchemaError::Component("Ball"))?,
            holder: field("Ball", "holder", |k| matches!(k, FieldKind::Entity))?,
            body,
            body_scale,
            team: field("Player", "team", wire_value)?,
            name: field("Player", "name", |k| matches!(k, FieldKind::Text { .. }))?,
            phase: field("Match", "phase", wire_value)?,
        })
    }

    pub fn is_ball(&self, e: &EntityState) -> bool {
        e.has(self.ball)
    }

    /// Net id of the ball's holder; `None` when it is loose (or `e` is not the ball).
    pub fn holder(&self, e: &EntityState) -> Option<u32> {
        e.get(&self.holder)
            .and_then(|id| u32::try_from(id).ok())
            .filter(|&id| id != 0)
    }

    /// A player's team (`None` for other entities, or a value no team has).
    pub fn team(&self, e: &EntityState) -> Option<Team> {
        e.get(&self.team)
            .and_then(|t| u32::try_from(t).ok())
            .and_then(Team::from_bits)
    }

    /// The player's name (`None` for other entities).
    pub fn name<'a>(&self, e: &'a EntityState) -> Option<&'a str> {
        e.get_text(&self.name)
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

    /// The match's phase, if the match is in view with a phase the rules know.
    pub fn phase(&self, view: &WorldView) -> Option<Phase> {
        view.entities()
            .iter()
            .find_map(|e| e.get(&self.phase))
            .and_then(|p| u32::try_from(p).ok())
            .and_then(Phase::from_bits)
    }
}

/// The pitch as the ball game defines it: the map's size (from `Welcome`), and the goals
/// where the game's rules put them on a map of that size: centred on the end lines,
/// [`GOAL_WIDTH`] wide and [`GOAL_DEPTH`] deep, [`Team::Left`] defending the one at
/// `x = 0` (see `shared::games::ball`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pitch {
    pub width: f64,
    pub height: f64,
}

impl Pitch {
    pub fn of(map: &Map) -> Pitch {
        Pitch {
            width: map.width(),
            height: map.height(),
        }
    }

    /// The middle of the goal `team` defends: where a shot at it aims.
    pub fn goal(&self, team: Team) -> (f64, f64) {
        let x = match team {
            Team::Left => GOAL_DEPTH / 2.0,
            Team::Right => self.width - GOAL_DEPTH / 2.0,
        };
        (x, self.height / 2.0)
    }

    /// `x` of the goal line of the goal `team` defends.
    pub fn goal_line(&self, team: Team) -> f64 {
        match team {
            Team::Left => GOAL_DEPTH,
            Team::Right => self.width - GOAL_DEPTH,
        }
    }

    /// `+1` when `team` attacks towards `+x`, `-1` when towards `-x`.
    pub fn attack_sign(team: Team) -> f64 {
        match team {
            Team::Left => 1.0,
            Team::Right => -1.0,
        }
    }

    /// Whether a ball kicked from `from` at the middle of the goal `team` defends goes
    /// into its mouth: the straight line crosses the goal line between the posts, with
    /// the ball's radius and a margin to spare.
    pub fn shot_is_clear(&self, from: (f64, f64), team: Team) -> bool {
        let (gx, gy) = self.goal(team);
        let line = self.goal_line(team);
        let room = GOAL_WIDTH / 2.0 - BALL_RADIUS - SHOT_MARGIN_M;
        let behind_line = match team {
            Team::Left => from.0 <= line,
            Team::Right => from.0 >= line,
        };
        let y = if behind_line {
            // Already over the line: the ball only has to stay between the posts.
            from.1
        } else {
            // `from` is on the field side of the line and the target beyond it, so the
            // line is crossed and the division is by a non-zero distance.
            let t = (line - from.0) / (gx - from.0);
            from.1 + t * (gy - from.1)
        };
        (y - self.height / 2.0).abs() <= room
    }

    /// `p` moved onto the field of play (between the goal lines, off the side lines),
    /// with room to spare for a player.
    pub fn clamp(&self, p: (f64, f64)) -> (f64, f64) {
        let m = PLAYER_RADIUS + 0.5;
        (
            clamp_or_middle(p.0, GOAL_DEPTH + m, self.width - GOAL_DEPTH - m),
            clamp_or_middle(p.1, m, self.height - m),
        )
    }

    /// `p` kept on the map (for points a bot chases, which may be in a goal).
    fn on_map(&self, p: (f64, f64)) -> (f64, f64) {
        let m = PLAYER_RADIUS;
        (
            clamp_or_middle(p.0, m, self.width - m),
            clamp_or_middle(p.1, m, self.height - m),
        )
    }
}

/// `v` within `lo..=hi`, or their middle on a map too small to have such a range.
fn clamp_or_middle(v: f64, lo: f64, hi: f64) -> f64 {
    if lo <= hi {
        v.clamp(lo, hi)
    } else {
        (lo + hi) / 2.0
    }
}

fn distance(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

/// What a bot decided to do this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Not in a snapshot yet: stands still.
    Wait,
    /// The view lacks its team or the ball: walks at random.
    Wander,
    /// Play is paused: back to a kick-off spot in the own half.
    KickOff,
    /// Running at a loose ball.
    Chase,
    /// Covering behind a loose ball that teammates chase.
    Cover,
    /// Holding the ball, running at the opponents' goal.
    Carry,
    /// Holding the ball within range of a clear shot: kicking at the goal.
    Shoot,
    /// A teammate holds the ball: running ahead of it.
    Support,
    /// Going for the opponent holding the ball.
    Tackle,
    /// An opponent holds the ball and a teammate tackles: falling back.
    Defend,
}

/// Who holds the ball, as one bot sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Holder {
    Loose,
    Me,
    Mate,
    Opponent,
}

/// A ball-playing bot.
#[derive(Debug, Clone)]
pub struct BallBot {
    fields: BallFields,
    pitch: Pitch,
    rng: SmallRng,
    /// Steers when the view lacks what the plans need.
    roam: Roam,
    predictor: Predictor,
    tick_rate: u16,
    /// Sideways offset of this bot's spots from the pitch's long axis, in metres.
    lane: f64,
    /// How far behind the centre line this bot waits at kick-off, in metres.
    depth: f64,
    ticks_until_rethink: u32,
    /// Distance from the goal within which this bot shoots, in metres.
    shot_range: f64,
    /// Ticks the kick button is held down (and then released) per kick.
    press_ticks: u32,
    /// Ticks left of the current press and release (0: ready to kick).
    kick_left: u32,
    plan: Plan,
}

/// The ball game's behaviour for a session, if its schema has the game's fields.
pub fn build(setup: &Setup<'_>) -> Option<Box<dyn Behaviour>> {
    match BallFields::new(setup.layout) {
        Ok(fields) => Some(Box::new(BallBot::new(
            fields,
            setup.seed,
            setup.tick_rate,
            setup.map,
        ))),
        Err(e) => {
            tracing::debug!("not the ball game's schema: {e}");
            None
        }
    }
}

impl BallBot {
    /// A bot whose random choices all come from `seed`, acting `tick_rate` times a
    /// second, on `map` (the goals are where the rules put them on a map of its size).
    pub fn new(fields: BallFields, seed: u64, tick_rate: u16, map: &Map) -> BallBot {
        let mut rng = SmallRng::seed_from_u64(seed);
        let roam = Roam::new(rng.random(), tick_rate);
        let mut bot = BallBot {
            fields,
            pitch: Pitch::of(map),
            rng,
            roam,
            predictor: Predictor::new(map.clone(), tick_rate),
            tick_rate,
            lane: 0.0,
            depth: 0.0,
            ticks_until_rethink: 0,
            shot_range: 0.0,
            press_ticks: seconds_to_ticks(KICK_PRESS_S, tick_rate),
            kick_left: 0,
            plan: Plan::Wait,
        };
        bot.rethink();
        bot.draw_shot_range();
        bot
    }

    /// The fields this bot reads.
    pub fn fields(&self) -> &BallFields {
        &self.fields
    }

    /// The pitch this bot plays on.
    pub fn pitch(&self) -> &Pitch {
        &self.pitch
    }

    /// What the bot decided on the last tick.
    pub fn plan(&self) -> Plan {
        self.plan
    }

    /// This bot's sideways offset from the pitch's long axis, in metres.
    pub fn lane(&self) -> f64 {
        self.lane
    }

    /// Distance from the goal within which this bot shoots, in metres.
    pub fn shot_range(&self) -> f64 {
        self.shot_range
    }

    /// Redraws the lane and the kick-off depth, and when to do so again.
    fn rethink(&mut self) {
        let lane = LANE_FRACTION * self.pitch.height;
        self.lane = if lane > 0.0 {
            self.rng.random_range(-lane..=lane)
        } else {
            0.0
        };
        self.depth = self
            .rng
            .random_range(KICK_OFF_DEPTH_M.0..=KICK_OFF_DEPTH_M.1);
        let s = self.rng.random_range(RETHINK_S.0..=RETHINK_S.1);
        self.ticks_until_rethink = seconds_to_ticks(s, self.tick_rate);
    }

    fn draw_shot_range(&mut self) {
        self.shot_range = self.rng.random_range(SHOT_RANGE_M.0..=SHOT_RANGE_M.1);
    }

    /// The kick button this tick: a wanted kick presses it for `press_ticks` and then
    /// releases it as long (the server kicks on the press, so a held button would not
    /// kick again), and draws the range for the next shot.
    fn kick_button(&mut self, want: bool) -> u8 {
        if self.kick_left == 0 && want {
            self.kick_left = 2 * self.press_ticks;
            self.draw_shot_range();
        }
        if self.kick_left == 0 {
            return 0;
        }
        let pressed = self.kick_left > self.press_ticks;
        self.kick_left -= 1;
        if pressed { BUTTON_KICK } else { 0 }
    }

    /// Positions of the own team's other players in view.
    fn teammates<'a>(
        &'a self,
        view: &'a WorldView,
        team: Team,
    ) -> impl Iterator<Item = (u32, (f64, f64))> + 'a {
        let own = view.own_entity();
        view.entities()
            .iter()
            .filter(move |e| e.id != own && self.fields.team(e) == Some(team))
            .filter_map(|e| Some((e.id, view.position(e)?)))
    }

    /// How many of the own team's other players are nearer to `at` than the bot at
    /// `pos` (at the same distance, the lower net id counts as nearer).
    fn rank(&self, view: &WorldView, team: Team, pos: (f64, f64), at: (f64, f64)) -> usize {
        let own = view.own_entity();
        let mine = distance(pos, at);
        self.teammates(view, team)
            .filter(|&(id, q)| {
                let d = distance(q, at);
                d < mine || (d == mine && id < own)
            })
            .count()
    }

    /// `spot` pushed away from teammates closer than [`SPACING_M`] to the bot at `pos`,
    /// and kept on the field.
    fn spaced(&self, view: &WorldView, team: Team, pos: (f64, f64), spot: (f64, f64)) -> (f64, f64) {
        let mut s = spot;
        for (_, q) in self.teammates(view, team) {
            let d = distance(pos, q);
            if d > 1e-6 && d < SPACING_M {
                let push = (SPACING_M - d) / d;
                s.0 += (pos.0 - q.0) * push;
                s.1 += (pos.1 - q.1) * push;
            }
        }
        self.pitch.clamp(s)
    }

    /// Where a thing at `at` moving at `v` (m/s) will be when a player at `pos` can get
    /// there, looking at most [`LEAD_MAX_S`] ahead; kept on the map.
    fn lead(&self, pos: (f64, f64), at: (f64, f64), v: (f64, f64)) -> (f64, f64) {
        let t = (distance(pos, at) / PLAYER_MAX_SPEED).min(LEAD_MAX_S);
        self.pitch.on_map((at.0 + v.0 * t, at.1 + v.1 * t))
    }

    /// Decides an input with the bot at `own` (metres; `None` while not yet in a
    /// snapshot: a bot without a position stands still).
    pub fn decide_at(&mut self, own: Option<(f64, f64)>, view: &WorldView) -> Intent {
        self.ticks_until_rethink = self.ticks_until_rethink.saturating_sub(1);
        if self.ticks_until_rethink == 0 {
            self.rethink();
        }
        let Some(pos) = own else {
            self.roam.lost_track();
            self.plan = Plan::Wait;
            // Keeps the press and release cycle running.
            let buttons = self.kick_button(false);
            return Intent {
                aim: angle_to_q(self.roam.heading()),
                buttons,
                ..Intent::default()
            };
        };
        let Some((plan, target, aim, shoot)) = self.choose(pos, view) else {
            self.plan = Plan::Wander;
            let heading = self.roam.step(Some(pos));
            let (move_x, move_y) = heading_to_move(heading);
            return Intent {
                move_x,
                move_y,
                aim: angle_to_q(heading),
                buttons: self.kick_button(false),
            };
        };
        self.roam.lost_track();
        self.plan = plan;
        let (move_x, move_y) = steer(pos, target);
        Intent {
            move_x,
            move_y,
            aim,
            buttons: self.kick_button(shoot),
        }
    }

    /// The plan for a bot at `pos`: what it does, where it goes, where it aims and
    /// whether it kicks. `None` when the view lacks the own team or the ball.
    fn choose(
        &mut self,
        pos: (f64, f64),
        view: &WorldView,
    ) -> Option<(Plan, (f64, f64), u16, bool)> {
        let own = view.own_entity();
        let team = view.own().and_then(|e| self.fields.team(e))?;
        let ball = view.entities().iter().find(|e| self.fields.is_ball(e))?;
        let pitch = self.pitch;
        let attack = pitch.goal(team.other());
        let sign = Pitch::attack_sign(team);

        let (holder, ball_at, ball_v) = match self.fields.holder(ball) {
            None => {
                let v = view.layout().motion(ball).map_or((0.0, 0.0), |m| {
                    let scale = f64::from(view.layout().motion_scale().max(1));
                    (f64::from(m.vx) / scale, f64::from(m.vy) / scale)
                });
                (Holder::Loose, view.position(ball)?, v)
            }
            Some(id) if id == own => (Holder::Me, pos, (0.0, 0.0)),
            Some(id) => {
                let h = view.get(id)?;
                let k = self.fields.kinematics(h)?;
                let side = if self.fields.team(h) == Some(team) {
                    Holder::Mate
                } else {
                    Holder::Opponent
                };
                (side, (k.x, k.y), (k.vx, k.vy))
            }
        };
        let towards_ball = aim_at(pos, ball_at);

        if self
            .fields
            .phase(view)
            .is_some_and(|p| p != Phase::Playing)
        {
            let centre = (pitch.width / 2.0, pitch.height / 2.0);
            let spot = (centre.0 - sign * self.depth, centre.1 + self.lane);
            let spot = self.spaced(view, team, pos, spot);
            return Some((Plan::KickOff, spot, towards_ball, false));
        }

        Some(match holder {
            Holder::Me => {
                let shoot = distance(pos, attack) <= self.shot_range
                    && pitch.shot_is_clear(pos, team.other());
                let plan = if shoot { Plan::Shoot } else { Plan::Carry };
                (plan, attack, aim_at(pos, attack), shoot)
            }
            Holder::Mate => {
                let spot = (ball_at.0 + sign * SUPPORT_AHEAD_M, ball_at.1 + self.lane);
                let spot = self.spaced(view, team, pos, spot);
                (Plan::Support, spot, towards_ball, false)
            }
            Holder::Opponent => {
                let near = distance(pos, ball_at) <= ALWAYS_CHASE_M;
                if near || self.rank(view, team, pos, ball_at) < TACKLERS {
                    let target = self.lead(pos, ball_at, ball_v);
                    (Plan::Tackle, target, towards_ball, false)
                } else {
                    let home = pitch.goal(team);
                    let spot = (
                        home.0 + (ball_at.0 - home.0) * DEFEND_FRACTION,
                        home.1 + (ball_at.1 - home.1) * DEFEND_FRACTION + self.lane / 2.0,
                    );
                    let spot = self.spaced(view, team, pos, spot);
                    (Plan::Defend, spot, towards_ball, false)
                }
            }
            Holder::Loose => {
                let near = distance(pos, ball_at) <= ALWAYS_CHASE_M;
                if near || self.rank(view, team, pos, ball_at) < LOOSE_CHASERS {
                    let target = self.lead(pos, ball_at, ball_v);
                    (Plan::Chase, target, aim_at(pos, attack), false)
                } else {
                    let spot = (ball_at.0 - sign * COVER_BEHIND_M, ball_at.1 + self.lane);
                    let spot = self.spaced(view, team, pos, spot);
                    (Plan::Cover, spot, towards_ball, false)
                }
            }
        })
    }
}

/// The movement intent from `pos` towards `target`: full speed, slowing within
/// [`SLOW_M`] and standing still within [`ARRIVE_M`].
fn steer(pos: (f64, f64), target: (f64, f64)) -> (i8, i8) {
    let (dx, dy) = (target.0 - pos.0, target.1 - pos.1);
    let d = dx.hypot(dy);
    if d <= ARRIVE_M || !d.is_finite() {
        return (0, 0);
    }
    let speed = (d / SLOW_M).min(1.0) * 127.0;
    // |dx|, |dy| ≤ d and speed ≤ 127, so the rounded values stay within ±127.
    (
        (dx / d * speed).round() as i8,
        (dy / d * speed).round() as i8,
    )
}

impl Behaviour for BallBot {
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
        let own = view.own().and_then(|e| self.fields.kinematics(e));
        let observed = own.map(|kinematics| Observed {
            kinematics,
            dead: false,
        });
        self.predictor.on_snapshot(observed, view.last_input_seq)
    }

    fn players_named(&self, view: &WorldView, name: &str) -> Option<usize> {
        Some(
            view.entities()
                .iter()
                .filter(|e| self.fields.name(e) == Some(name))
                .count(),
        )
    }
}
