//! The client's copy of the replicated world.
//!
//! Delta snapshots are applied with `shared::delta::ClientView`, the same code the
//! server's property tests check, and every snapshot's checksum is verified. A mismatch
//! (or a snapshot that does not fit the view) is counted as a desync; the client then
//! asks the server for a keyframe.

use shared::delta::{ClientView, DeltaError};
use shared::protocol::{EntityKind, EntityState, FullSnapshot, Packing, Snapshot};
use shared::quant::q_to_pos;

/// The newest state a client has received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldView {
    /// Tick of the newest snapshot (0 before any).
    pub tick: u32,
    /// The server's `last_input_seq` in the newest snapshot.
    pub last_input_seq: u32,
    /// How many snapshots have been applied.
    pub snapshots: u64,
    /// Snapshots that were keyframes (relative to nothing).
    pub keyframes: u64,
    /// Snapshots that failed their checksum or did not apply.
    pub desyncs: u64,
    tick_rate: u16,
    packing: Packing,
    inner: ClientView,
}

impl Default for WorldView {
    fn default() -> Self {
        WorldView::new(60, Packing::Bits)
    }
}

impl WorldView {
    /// An empty view for a session with this tick rate and payload packing (from `Welcome`).
    pub fn new(tick_rate: u16, packing: Packing) -> WorldView {
        WorldView {
            tick: 0,
            last_input_seq: 0,
            snapshots: 0,
            keyframes: 0,
            desyncs: 0,
            tick_rate,
            packing,
            inner: ClientView::default(),
        }
    }

    /// Applies a delta snapshot. An error means the view no longer matches the server's
    /// and a keyframe should be requested; it is already counted in `desyncs`.
    pub fn apply(&mut self, snap: &Snapshot) -> Result<(), DeltaError> {
        self.snapshots += 1;
        self.keyframes += u64::from(snap.baseline == 0);
        self.last_input_seq = snap.last_input_seq;
        let result = self.inner.apply(snap, self.tick_rate, self.packing);
        self.tick = self.inner.tick();
        if result.is_err() {
            self.desyncs += 1;
        }
        result
    }

    /// Replaces the view with a full snapshot (`--snapshots full` servers).
    pub fn apply_full(&mut self, snap: &FullSnapshot) {
        self.snapshots += 1;
        self.last_input_seq = snap.last_input_seq;
        self.inner.apply_full(snap);
        self.tick = snap.tick;
    }

    /// The entity with net id `id`, if in view.
    pub fn get(&self, id: u32) -> Option<&EntityState> {
        self.inner.get(id)
    }

    /// Every entity in view, in id order.
    pub fn entities(&self) -> &[EntityState] {
        self.inner.entities()
    }

    /// The entities of one kind, in id order.
    pub fn of_kind(&self, kind: EntityKind) -> impl Iterator<Item = &EntityState> {
        self.entities().iter().filter(move |e| e.kind == kind)
    }

    /// Where an entity is at the view's tick, in metres (trajectories advanced).
    pub fn position(&self, e: &EntityState) -> (f64, f64) {
        let (x, y) = e.position_at(self.tick, self.tick_rate);
        (q_to_pos(x), q_to_pos(y))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::delta::{Diff, Frame, checksum, diff, encode_payload};

    fn entity(id: u32, kind: EntityKind, x: i32) -> EntityState {
        EntityState {
            id,
            kind,
            x,
            y: 0,
            vx: 64,
            vy: 0,
            anchor: if kind == EntityKind::Player { 0 } else { 1 },
            angle: 0,
            health: 0,
            flags: 0,
            score: 0,
            owner: 0,
            name: String::new(),
        }
    }

    fn snapshot(
        base: &[EntityState],
        base_tick: u32,
        target: &[EntityState],
        tick: u32,
    ) -> Snapshot {
        let mut d = Diff::default();
        diff(base, target, &mut d);
        let frame = Frame {
            tick,
            baseline: base_tick,
            tick_rate: 60,
        };
        Snapshot {
            tick,
            baseline: base_tick,
            last_input_seq: 3,
            checksum: checksum(target),
            payload: encode_payload(
                Packing::Bits,
                &frame,
                base,
                target,
                &d.removed,
                &d.created,
                &d.changed,
            ),
        }
    }

    #[test]
    fn deltas_add_remove_and_move_entities() {
        let mut view = WorldView::default();
        let first = vec![
            entity(1, EntityKind::Player, 0),
            entity(2, EntityKind::Drone, 64),
        ];
        view.apply(&snapshot(&[], 0, &first, 1)).unwrap();
        assert_eq!(
            (view.tick, view.keyframes, view.entities().len()),
            (1, 1, 2)
        );
        // The drone's trajectory carries it one metre per second without any update.
        let drone = view.get(2).unwrap().clone();
        let second = vec![entity(1, EntityKind::Player, 10)];
        view.apply(&snapshot(&first, 1, &second, 61)).unwrap();
        assert!(view.get(2).is_none());
        assert_eq!(view.get(1).unwrap().x, 10);
        assert_eq!(view.last_input_seq, 3);
        assert_eq!(view.position(&drone).0, 2.0);
        assert_eq!(view.desyncs, 0);
    }

    #[test]
    fn a_bad_checksum_is_a_desync() {
        let mut view = WorldView::default();
        let mut snap = snapshot(&[], 0, &[entity(1, EntityKind::Player, 0)], 1);
        snap.checksum ^= 1;
        assert!(view.apply(&snap).is_err());
        assert_eq!(view.desyncs, 1);
        // A snapshot relative to a tick the view does not hold is one too.
        assert!(view.apply(&snapshot(&[], 7, &[], 9)).is_err());
        assert_eq!(view.desyncs, 2);
    }
}
