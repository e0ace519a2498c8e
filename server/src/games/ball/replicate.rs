//! What the ball game replicates: its schema, declared on its own components.
//!
//! - Players: `Body` (predicted motion, as the arena's), `Facing` (angle) and `Player`
//!   (team, name, goals).
//! - The ball: `Ball` (the holder's net id, 0 when loose), and while loose `Flight`, a
//!   trajectory that changes only on kicks, bounces, friction steps and stops. A held
//!   ball has no motion: clients draw it at its holder, and it costs nothing while the
//!   holder runs.
//! - `Match`: phase, the two scores, the tick the clock runs out, the tick the current
//!   pause ends, the last scorer. It has no motion, so every client receives it.

use shared::games::ball::PHASE_BITS;
use shared::quant::{POS_SCALE, pos_to_q, vel_to_q};
use shared::schema::{FieldDef, FieldKind, FieldWriter, MotionModel, MotionValue};

use super::components::{Ball, Body, Facing, Match, Player};
use super::flight::Flight;
use crate::engine::{Replicated, Replication};

/// Steps per metre (and per metre per second) of the game's motions.
const MOTION_SCALE: u32 = POS_SCALE as u32;

/// Longest player name on the wire, in bytes (16 characters of up to 4 bytes).
pub const MAX_NAME_BYTES: u16 = 64;

impl Replicated for Body {
    const NAME: &'static str = "Body";
    fn fields() -> Vec<FieldDef> {
        vec![FieldDef::new(
            "motion",
            FieldKind::Motion {
                model: MotionModel::Predicted,
                scale: MOTION_SCALE,
            },
        )]
    }
    fn write(&self, out: &mut FieldWriter<'_>) {
        let k = self.0;
        out.motion(MotionValue {
            anchor: 0,
            x: pos_to_q(k.x),
            y: pos_to_q(k.y),
            vx: vel_to_q(k.vx),
            vy: vel_to_q(k.vy),
        });
    }
}

impl Replicated for Facing {
    const NAME: &'static str = "Facing";
    fn fields() -> Vec<FieldDef> {
        // Drawn only (kicks use the input's own aim): 8 bits, 1.4°, are plenty.
        vec![FieldDef::new("angle", FieldKind::Angle { bits: 8 })]
    }
    fn write(&self, out: &mut FieldWriter<'_>) {
        out.angle(self.0);
    }
}

impl Replicated for Flight {
    const NAME: &'static str = "Flight";
    fn fields() -> Vec<FieldDef> {
        vec![FieldDef::new(
            "path",
            FieldKind::Motion {
                model: MotionModel::Trajectory,
                scale: MOTION_SCALE,
            },
        )]
    }
    fn write(&self, out: &mut FieldWriter<'_>) {
        out.motion(MotionValue {
            anchor: self.anchor,
            x: self.x,
            y: self.y,
            vx: self.vx,
            vy: self.vy,
        });
    }
}

impl Replicated for Ball {
    const NAME: &'static str = "Ball";
    fn fields() -> Vec<FieldDef> {
        vec![FieldDef::new("holder", FieldKind::Entity)]
    }
    fn write(&self, out: &mut FieldWriter<'_>) {
        out.entity(self.holder);
    }
}

impl Replicated for Player {
    const NAME: &'static str = "Player";
    fn fields() -> Vec<FieldDef> {
        vec![
            FieldDef::new("team", FieldKind::Bits { width: 1 }),
            FieldDef::new(
                "name",
                FieldKind::Text {
                    max_bytes: MAX_NAME_BYTES,
                },
            ),
            // Goals go up one at a time: order 0 codes +1 in the fewest bits.
            FieldDef::new("goals", FieldKind::Uint { k: 0 }),
            FieldDef::new("kicks", FieldKind::Uint { k: 0 }),
        ]
    }
    fn write(&self, out: &mut FieldWriter<'_>) {
        out.bits(self.team.bits())
            .text(&self.name)
            .uint(self.goals)
            .uint(self.kicks);
    }
}

impl Replicated for Match {
    const NAME: &'static str = "Match";
    fn fields() -> Vec<FieldDef> {
        vec![
            FieldDef::new("phase", FieldKind::Bits { width: PHASE_BITS }),
            FieldDef::new("score_left", FieldKind::Uint { k: 0 }),
            FieldDef::new("score_right", FieldKind::Uint { k: 0 }),
            // Changed once per match (or pause), by about its length in ticks.
            FieldDef::new("ends_at", FieldKind::Uint { k: 12 }),
            FieldDef::new("resume_at", FieldKind::Uint { k: 8 }),
            FieldDef::new("scorer", FieldKind::Entity),
        ]
    }
    fn write(&self, out: &mut FieldWriter<'_>) {
        let [left, right] = self.score;
        out.bits(self.phase.bits())
            .uint(left)
            .uint(right)
            .uint(self.ends_at)
            .uint(self.resume_at)
            .entity(self.scorer);
    }
}

/// The ball game's schema, in wire order.
pub fn replication() -> Replication {
    let mut r = Replication::new("ball");
    r.add::<Body>()
        .add::<Facing>()
        .add::<Flight>()
        .add::<Ball>()
        .add::<Player>()
        .add::<Match>();
    r
}
