//! The client's copy of the replicated world.
//!
//! Every snapshot carries the full state of every entity, so applying one replaces the
//! view outright instead of merging: an entity missing from a snapshot no longer exists
//! (a projectile that expired, a player who left), and there is no delta history to keep.

use std::collections::BTreeMap;

use shared::protocol::{EntityKind, EntityState, Snapshot};

/// The newest snapshot a client has received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorldView {
    /// Tick of the newest snapshot (0 before any).
    pub tick: u32,
    /// The server's `last_input_seq` in the newest snapshot.
    pub last_input_seq: u32,
    /// Every entity of the newest snapshot, by net id.
    pub entities: BTreeMap<u32, EntityState>,
    /// How many snapshots have been applied.
    pub snapshots: u64,
}

impl WorldView {
    /// Replaces the view with the state of `snap`.
    pub fn apply(&mut self, snap: Snapshot) {
        self.tick = snap.tick;
        self.last_input_seq = snap.last_input_seq;
        self.entities.clear();
        self.entities
            .extend(snap.entities.into_iter().map(|e| (e.id, e)));
        self.snapshots += 1;
    }

    /// The entity with net id `id`, if the newest snapshot had it.
    pub fn get(&self, id: u32) -> Option<&EntityState> {
        self.entities.get(&id)
    }

    /// The entities of one kind, in id order.
    pub fn of_kind(&self, kind: EntityKind) -> impl Iterator<Item = &EntityState> {
        self.entities.values().filter(move |e| e.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(id: u32, kind: EntityKind, x: i32) -> EntityState {
        EntityState {
            id,
            kind,
            x,
            y: 0,
            vx: 0,
            vy: 0,
            angle: 0,
            health: 0,
            flags: 0,
            score: 0,
            owner: 0,
            name: String::new(),
        }
    }

    #[test]
    fn apply_replaces_the_whole_state() {
        let mut view = WorldView::default();
        view.apply(Snapshot {
            tick: 10,
            last_input_seq: 3,
            entities: vec![
                entity(1, EntityKind::Player, 100),
                entity(2, EntityKind::Drone, 200),
                entity(3, EntityKind::Projectile, 300),
            ],
        });
        assert_eq!(view.entities.len(), 3);
        assert_eq!(view.of_kind(EntityKind::Drone).count(), 1);

        view.apply(Snapshot {
            tick: 12,
            last_input_seq: 5,
            entities: vec![
                entity(1, EntityKind::Player, 150),
                entity(4, EntityKind::Projectile, 400),
            ],
        });
        assert_eq!((view.tick, view.last_input_seq, view.snapshots), (12, 5, 2));
        assert_eq!(view.get(1).map(|e| e.x), Some(150));
        assert!(
            view.get(2).is_none(),
            "entities absent from a full snapshot disappear"
        );
        assert!(view.get(3).is_none());
        assert_eq!(view.get(4).map(|e| e.x), Some(400));
        let ids: Vec<u32> = view.of_kind(EntityKind::Projectile).map(|e| e.id).collect();
        assert_eq!(ids, vec![4]);

        view.apply(Snapshot {
            tick: 13,
            last_input_seq: 5,
            entities: Vec::new(),
        });
        assert!(view.entities.is_empty());
        assert_eq!(view.snapshots, 3);
    }
}
