//! The ball game's rules, shared so that clients, bots and the server cannot disagree:
//! the button, sizes and speeds, durations, the wire values of its `Bits` fields
//! ([`Team`], [`Phase`]) and where the goals are.
//!
//! Two teams play on a pitch (`assets/maps/pitch.json`, embedded as [`PITCH_JSON`]):
//! [`Team::Left`] defends the goal at `x = 0`, [`Team::Right`] the one at the map's right
//! edge. A goal is a pocket [`GOAL_DEPTH`] deep and [`GOAL_WIDTH`] wide, centred on the
//! end line; the pitch's walls leave exactly that mouth open, and [`goal_at`] says
//! whether a ball lies wholly inside one. The goals are defined by the map's size, not by
//! its walls, so the game runs (if less well) on any map.
//!
//! Players move as in every game ([`crate::movement::step_player`]). A loose ball flies
//! straight lines (a trajectory on the wire) that change only when it is kicked, bounces
//! or loses speed to friction: [`FRICTION_STEP`] every [`FRICTION_INTERVAL_S`], in steps
//! rather than continuously, so a kick costs a handful of trajectory updates instead of
//! one per tick.

use crate::rules::PLAYER_RADIUS;

/// Button bit: kick (release the ball along the aim). Taken on the press, not while held.
pub const BUTTON_KICK: u8 = 1;

/// Half the side of the ball's square collision box, in metres: a whole number of
/// position steps (16), so a ball stopped flush against a wall stays exactly there.
pub const BALL_RADIUS: f64 = 16.0 / 64.0;
/// Speed of a kicked ball, in metres per second.
pub const KICK_SPEED: f64 = 20.0;
/// Speed a loose ball loses at each friction step, in metres per second. A kick slows
/// 20, 16, 12, 8, 4, 0 m/s, one step every 0.4 s: it rolls 24 m (walls bounce it back
/// without slowing it) and costs six trajectory updates.
pub const FRICTION_STEP: f64 = 4.0;
/// Seconds between two friction steps of a loose ball.
pub const FRICTION_INTERVAL_S: f64 = 0.4;
/// Seconds after a kick during which the kicker cannot take the ball back (it starts at
/// the kicker's centre, inside its reach).
pub const KICK_GRACE_S: f64 = 0.25;
/// Seconds a player holds the ball before an opponent can tackle it away, so that two
/// players touching do not pass it back and forth every tick.
pub const TACKLE_COOLDOWN_S: f64 = 1.0;
/// A player touching a loose ball (their boxes touch or overlap) takes it.
pub const PICKUP_REACH: f64 = PLAYER_RADIUS + BALL_RADIUS;
/// An opponent touching the holder (their boxes touch or overlap) tackles.
pub const TACKLE_REACH: f64 = 2.0 * PLAYER_RADIUS;

/// Length of a match, in seconds. The clock runs on through goal pauses.
pub const MATCH_S: f64 = 180.0;
/// Seconds of pause after a goal, the ball waiting at the centre.
pub const GOAL_PAUSE_S: f64 = 3.0;
/// Seconds of pause after a match, before the next one starts with scores at zero.
pub const END_PAUSE_S: f64 = 6.0;

/// Depth of a goal pocket behind its goal line, in metres.
pub const GOAL_DEPTH: f64 = 2.0;
/// Width of a goal mouth, in metres, centred on the map's height.
pub const GOAL_WIDTH: f64 = 8.0;

/// The default pitch (64 m × 36 m: 60 m between the goal lines), embedded so that a
/// server can offer it with no files beside it.
pub const PITCH_JSON: &str = include_str!("../../../../assets/maps/pitch.json");

/// A team, as the one-bit `team` field of `Player`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Team {
    /// Defends the goal at `x = 0`, attacks to the right.
    Left = 0,
    /// Defends the goal at the right edge, attacks to the left.
    Right = 1,
}

impl Team {
    /// Both teams, in wire order.
    pub const ALL: [Team; 2] = [Team::Left, Team::Right];

    /// The wire value.
    pub const fn bits(self) -> u32 {
        self as u32
    }

    /// The team of a wire value.
    pub const fn from_bits(bits: u32) -> Option<Team> {
        match bits {
            0 => Some(Team::Left),
            1 => Some(Team::Right),
            _ => None,
        }
    }

    /// The opponents.
    pub const fn other(self) -> Team {
        match self {
            Team::Left => Team::Right,
            Team::Right => Team::Left,
        }
    }

    /// Index into per-team arrays (scores).
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// What a match is doing, as the `phase` field of `Match` ([`PHASE_BITS`] wide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The ball is in play.
    Playing = 0,
    /// A goal was scored: the ball waits at the centre until `resume_at`.
    Goal = 1,
    /// The clock ran out: the final score stands until `resume_at`, then a new match.
    Ended = 2,
}

/// Width of the `phase` field.
pub const PHASE_BITS: u8 = 2;

impl Phase {
    /// The wire value.
    pub const fn bits(self) -> u32 {
        self as u32
    }

    /// The phase of a wire value.
    pub const fn from_bits(bits: u32) -> Option<Phase> {
        match bits {
            0 => Some(Phase::Playing),
            1 => Some(Phase::Goal),
            2 => Some(Phase::Ended),
            _ => None,
        }
    }
}

/// The team whose goal a ball centred on `(x, y)` lies wholly inside, on a map of `width`
/// × `height` metres (a goal against that team); `None` when it is in neither.
pub fn goal_at(x: f64, y: f64, width: f64, height: f64) -> Option<Team> {
    if (y - height / 2.0).abs() + BALL_RADIUS > GOAL_WIDTH / 2.0 {
        return None;
    }
    if x + BALL_RADIUS <= GOAL_DEPTH {
        Some(Team::Left)
    } else if x - BALL_RADIUS >= width - GOAL_DEPTH {
        Some(Team::Right)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::Map;

    #[test]
    fn the_pitch_leaves_exactly_the_goal_mouths_open() {
        let map = Map::from_json(PITCH_JSON).unwrap();
        assert_eq!(map.name(), "pitch");
        let (w, h) = (map.width(), map.height());
        let mouth = (h / 2.0 - GOAL_WIDTH / 2.0, h / 2.0 + GOAL_WIDTH / 2.0);
        for end in [GOAL_DEPTH / 2.0, w - GOAL_DEPTH / 2.0] {
            // A ball fits anywhere in the mouth, and nowhere else along the end.
            assert!(map.is_free(end, mouth.0 + BALL_RADIUS, BALL_RADIUS));
            assert!(map.is_free(end, mouth.1 - BALL_RADIUS, BALL_RADIUS));
            assert!(!map.is_free(end, mouth.0 - BALL_RADIUS, BALL_RADIUS));
            assert!(!map.is_free(end, mouth.1 + BALL_RADIUS, BALL_RADIUS));
        }
        // The field between the goal lines is open.
        assert!(map.is_free(GOAL_DEPTH + BALL_RADIUS, BALL_RADIUS, BALL_RADIUS));
        assert!(map.is_free(w / 2.0, h / 2.0, BALL_RADIUS));
        // Each team has the same number of spawn points in its own half.
        let left = map.spawns().iter().filter(|s| s.0 < w / 2.0).count();
        assert_eq!(left * 2, map.spawns().len());
    }

    #[test]
    fn a_goal_is_a_ball_wholly_in_a_pocket() {
        let (w, h) = (64.0, 36.0);
        assert_eq!(goal_at(BALL_RADIUS, h / 2.0, w, h), Some(Team::Left));
        assert_eq!(
            goal_at(GOAL_DEPTH - BALL_RADIUS, h / 2.0, w, h),
            Some(Team::Left)
        );
        // On the line is not in.
        assert_eq!(goal_at(GOAL_DEPTH, h / 2.0, w, h), None);
        assert_eq!(
            goal_at(w - GOAL_DEPTH + BALL_RADIUS, h / 2.0, w, h),
            Some(Team::Right)
        );
        // Beside the mouth is not in either.
        assert_eq!(goal_at(1.0, h / 2.0 + GOAL_WIDTH / 2.0, w, h), None);
        assert_eq!(goal_at(w / 2.0, h / 2.0, w, h), None);
    }

    #[test]
    fn wire_values_round_trip() {
        for t in Team::ALL {
            assert_eq!(Team::from_bits(t.bits()), Some(t));
            assert_eq!(t.other().other(), t);
        }
        for p in [Phase::Playing, Phase::Goal, Phase::Ended] {
            assert_eq!(Phase::from_bits(p.bits()), Some(p));
            assert!(p.bits() < 1 << PHASE_BITS);
        }
        assert_eq!(Team::from_bits(2), None);
        assert_eq!(Phase::from_bits(3), None);
    }
}
