//! Turning the World into snapshot bytes.
//!
//! Protocol v1 sends the full state of every replicated entity. The entity list is
//! gathered and encoded once per snapshot tick; each client then only gets a short
//! header (its `last_input_seq`) spliced in front of the shared body.

use bevy_ecs::prelude::*;
use bevy_ecs::query::QueryState;
use shared::codec::{CodecError, encode_snapshot_body};
use shared::protocol::{EntityKind, EntityState, FLAG_DEAD};
use shared::quant::{pos_to_q, vel_to_q};

use super::game::{Facing, Health, Motion, NetId, Player, Projectile};

type ReplicatedQuery = (
    &'static NetId,
    &'static Motion,
    &'static Facing,
    Option<&'static Health>,
    Option<&'static Player>,
    Option<&'static Projectile>,
);

/// Gathers replicated state; owns its cached query and buffers so that the snapshot
/// path allocates nothing in the steady state except the body it returns.
#[derive(Debug)]
pub struct Replicator {
    query: QueryState<ReplicatedQuery>,
    entities: Vec<EntityState>,
}

impl Replicator {
    pub fn new(world: &mut World) -> Replicator {
        Replicator {
            query: world.query::<ReplicatedQuery>(),
            entities: Vec::new(),
        }
    }

    /// Quantises every replicated entity (ordered by net id) and encodes the list.
    pub fn encode_body(&mut self, world: &World) -> Result<(Vec<u8>, usize), CodecError> {
        self.entities.clear();
        for (id, motion, facing, health, player, projectile) in self.query.iter(world) {
            let k = motion.0;
            let kind = match (player, projectile) {
                (Some(_), _) => EntityKind::Player,
                (None, Some(_)) => EntityKind::Projectile,
                (None, None) => EntityKind::Drone,
            };
            self.entities.push(EntityState {
                id: id.0,
                kind,
                x: pos_to_q(k.x),
                y: pos_to_q(k.y),
                vx: vel_to_q(k.vx),
                vy: vel_to_q(k.vy),
                angle: facing.0,
                health: health.map_or(0, |h| h.0),
                flags: match player {
                    Some(p) if p.respawn_at.is_some() => FLAG_DEAD,
                    _ => 0,
                },
                score: player.map_or(0, |p| p.score),
                owner: projectile.map_or(0, |p| p.owner.0),
                name: player.map_or_else(String::new, |p| p.name.clone()),
            });
        }
        self.entities.sort_unstable_by_key(|e| e.id);
        Ok((encode_snapshot_body(&self.entities)?, self.entities.len()))
    }
}
