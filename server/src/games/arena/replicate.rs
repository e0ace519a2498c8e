//! What the arena replicates: its schema, declared on its own components. Players move
//! with a predicted motion (`Body`) and face where they aim (`Facing`); drones and
//! projectiles fly straight lines (`Flight`), whose facing clients derive from the
//! velocity, so a cruising drone costs nothing.

use bevy_ecs::prelude::*;
use shared::quant::{POS_SCALE, pos_to_q, vel_to_q};
use shared::schema::{FieldDef, FieldKind, FieldWriter, MotionModel, MotionValue};

use super::{Drone, Facing, Health, Motion, Player, Projectile, Trajectory};
use crate::engine::{Replicated, Replication};

/// Steps per metre (and per metre per second) of the arena's motions.
const MOTION_SCALE: u32 = POS_SCALE as u32;

/// Longest player name on the wire, in bytes (16 characters of up to 4 bytes).
pub const MAX_NAME_BYTES: u16 = 64;

/// Wire name of the player's motion.
impl Replicated for Motion {
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

/// The facing is only drawn (shots leave along the server's own, unquantised facing), so
/// 1/1,024 of a turn (0.35°) is plenty, and an aim change costs six bits less than at 16.
impl Replicated for Facing {
    const NAME: &'static str = "Facing";
    fn fields() -> Vec<FieldDef> {
        vec![FieldDef::new("angle", FieldKind::Angle { bits: 10 })]
    }
    fn write(&self, out: &mut FieldWriter<'_>) {
        out.angle(self.0);
    }
}

impl Replicated for Trajectory {
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

impl Replicated for Health {
    const NAME: &'static str = "Health";
    fn fields() -> Vec<FieldDef> {
        vec![FieldDef::new("hp", FieldKind::Bits { width: 8 })]
    }
    fn write(&self, out: &mut FieldWriter<'_>) {
        out.bits(u32::from(self.0));
    }
}

impl Replicated for Player {
    const NAME: &'static str = "Player";
    fn fields() -> Vec<FieldDef> {
        vec![
            FieldDef::new("dead", FieldKind::Bits { width: 1 }),
            FieldDef::new("score", FieldKind::Uint { k: 1 }),
            FieldDef::new(
                "name",
                FieldKind::Text {
                    max_bytes: MAX_NAME_BYTES,
                },
            ),
        ]
    }
    fn write(&self, out: &mut FieldWriter<'_>) {
        out.flag(self.respawn_at.is_some())
            .uint(self.score)
            .text(&self.name);
    }
}

impl Replicated for Drone {
    const NAME: &'static str = "Drone";
    fn fields() -> Vec<FieldDef> {
        Vec::new()
    }
    fn write(&self, _out: &mut FieldWriter<'_>) {}
}

impl Replicated for Projectile {
    const NAME: &'static str = "Projectile";
    fn fields() -> Vec<FieldDef> {
        vec![FieldDef::new("owner", FieldKind::Entity)]
    }
    fn write(&self, out: &mut FieldWriter<'_>) {
        out.entity(self.owner.0);
    }
}

/// The arena's schema, in wire order.
pub fn replication() -> Replication {
    let mut r = Replication::new("arena");
    r.add_filtered::<Motion, Without<Trajectory>>()
        .add_filtered::<Facing, Without<Trajectory>>()
        .add::<Trajectory>()
        .add::<Health>()
        .add::<Player>()
        .add::<Drone>()
        .add::<Projectile>();
    r
}
