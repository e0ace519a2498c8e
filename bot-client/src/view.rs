//! The client's copy of the replicated world, for any game.
//!
//! A [`WorldView`] is built from the `Welcome`: the replication schema it carries is
//! checked and laid out once ([`shared::schema::Schema::layout`]), and every snapshot is
//! decoded through that [`Layout`] with `shared::delta::ClientView`, the same code the
//! server's property tests check. Every snapshot's checksum is verified; a mismatch (or a
//! snapshot that does not fit the view) is counted as a desync, and the client then asks
//! the server for a keyframe.
//!
//! Nothing here knows a game: entities are generic records, and fields are found by the
//! names the schema gives them ([`WorldView::field`], [`WorldView::with_component`]).
//! What a game's components mean is for its behaviour module ([`crate::games`]).

// Snapshots and the schema come from the peer: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::sync::Arc;

use shared::delta::{ClientView, DeltaError};
use shared::protocol::{FullSnapshot, Packing, Snapshot, Welcome};
use shared::schema::{EntityState, FieldRef, Layout, SchemaError};

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
    /// Net id of the entity this client controls.
    entity: u32,
    tick_rate: u16,
    packing: Packing,
    inner: ClientView,
}

impl WorldView {
    /// An empty view of a game laid out as `layout`, for a session controlling `entity`
    /// with this tick rate and payload packing.
    pub fn new(layout: Arc<Layout>, entity: u32, tick_rate: u16, packing: Packing) -> WorldView {
        WorldView {
            tick: 0,
            last_input_seq: 0,
            snapshots: 0,
            keyframes: 0,
            desyncs: 0,
            entity,
            tick_rate,
            packing,
            inner: ClientView::new(layout),
        }
    }

    /// An empty view for the session a `Welcome` opens. A schema that does not lay out
    /// (too many components, duplicate names, kinds out of range) is refused: nothing
    /// could be decoded with it.
    pub fn from_welcome(welcome: &Welcome) -> Result<WorldView, SchemaError> {
        let layout = welcome.schema.layout()?;
        Ok(WorldView::new(
            Arc::new(layout),
            welcome.entity,
            welcome.tick_rate,
            welcome.packing,
        ))
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

    /// Replaces the view with a full snapshot (`--snapshots full` servers). A snapshot
    /// with an entity that does not fit the schema leaves the view as it was and is
    /// counted in `desyncs` (the next full snapshot replaces the view anyway, so there
    /// is no keyframe to ask for).
    pub fn apply_full(&mut self, snap: &FullSnapshot) -> Result<(), DeltaError> {
        self.snapshots += 1;
        self.last_input_seq = snap.last_input_seq;
        let result = self.inner.apply_full(snap);
        self.tick = self.inner.tick();
        if result.is_err() {
            self.desyncs += 1;
        }
        result
    }

    /// The layout snapshots are decoded with.
    pub fn layout(&self) -> &Arc<Layout> {
        self.inner.layout()
    }

    /// The game the server announced (the schema's `game`).
    pub fn game(&self) -> &str {
        &self.layout().schema().game
    }

    /// Net id of the entity this client controls (`Welcome::entity`).
    pub fn own_entity(&self) -> u32 {
        self.entity
    }

    /// The entity this client controls, if in view.
    pub fn own(&self) -> Option<&EntityState> {
        self.get(self.entity)
    }

    /// Simulation ticks per second (`Welcome::tick_rate`).
    pub fn tick_rate(&self) -> u16 {
        self.tick_rate
    }

    /// The entity with net id `id`, if in view.
    pub fn get(&self, id: u32) -> Option<&EntityState> {
        self.inner.get(id)
    }

    /// Every entity in view, in id order.
    pub fn entities(&self) -> &[EntityState] {
        self.inner.entities()
    }

    /// The field `field` of the component `component`, if the schema has it. Look fields
    /// up once and keep the [`FieldRef`]: reading through it is a slot access.
    pub fn field(&self, component: &str, field: &str) -> Option<FieldRef> {
        self.layout().field(component, field)
    }

    /// The entities that have the component called `component`, in id order (none if
    /// the schema has no such component).
    pub fn with_component(&self, component: &str) -> impl Iterator<Item = &EntityState> {
        let c = self.layout().component(component);
        self.entities()
            .iter()
            .filter(move |e| c.is_some_and(|c| e.has(c)))
    }

    /// The integer value of a field of `e`, looked up by name (`None` if the schema
    /// lacks the field or `e` its component). For tests and one-off reads.
    pub fn value(&self, e: &EntityState, component: &str, field: &str) -> Option<i64> {
        e.get(&self.field(component, field)?)
    }

    /// The text of a field of `e`, looked up by name (see [`WorldView::value`]).
    pub fn text<'a>(&self, e: &'a EntityState, component: &str, field: &str) -> Option<&'a str> {
        e.get_text(&self.field(component, field)?)
    }

    /// Where an entity is at the view's tick, in position steps (trajectories advanced);
    /// `None` for entities without a motion.
    pub fn position_steps(&self, e: &EntityState) -> Option<(i32, i32)> {
        self.layout().position(e, self.tick, self.tick_rate)
    }

    /// Where an entity is at the view's tick, in the units of the schema's motions
    /// (metres in the games so far): [`WorldView::position_steps`] divided by the
    /// schema's motion scale.
    pub fn position(&self, e: &EntityState) -> Option<(f64, f64)> {
        let (x, y) = self.position_steps(e)?;
        // A layout with a motion has a positive scale; `max` only keeps this total.
        let scale = f64::from(self.layout().motion_scale().max(1));
        Some((f64::from(x) / scale, f64::from(y) / scale))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::delta::{Diff, Frame, Part, checksum, diff, encode_payload};
    use shared::schema::{
        ComponentDef, EntityBuilder, FieldDef, FieldKind, MotionModel, MotionValue, Schema, Values,
    };

    /// A game that knows nothing of the arena: a walker, a line flier, a labelled count.
    fn layout() -> Arc<Layout> {
        let field = |name: &str, kind| FieldDef {
            name: name.into(),
            kind,
        };
        let schema = Schema {
            game: "test".into(),
            components: vec![
                ComponentDef {
                    name: "Walk".into(),
                    fields: vec![field(
                        "m",
                        FieldKind::Motion {
                            model: MotionModel::Predicted,
                            scale: 64,
                        },
                    )],
                },
                ComponentDef {
                    name: "Fly".into(),
                    fields: vec![field(
                        "m",
                        FieldKind::Motion {
                            model: MotionModel::Trajectory,
                            scale: 64,
                        },
                    )],
                },
                ComponentDef {
                    name: "Tag".into(),
                    fields: vec![
                        field("label", FieldKind::Text { max_bytes: 8 }),
                        field("n", FieldKind::Uint { k: 1 }),
                    ],
                },
            ],
        };
        Arc::new(schema.layout().unwrap())
    }

    fn walker(layout: &Layout, id: u32, x: i32, label: &str) -> EntityState {
        let mut b = EntityBuilder::new(layout, id, Values::default());
        layout.writer(&mut b, 0).motion(MotionValue {
            anchor: 0,
            x,
            y: 0,
            vx: 64,
            vy: 0,
        });
        layout.writer(&mut b, 2).text(label).uint(7);
        b.build()
    }

    fn flier(layout: &Layout, id: u32, x: i32) -> EntityState {
        let mut b = EntityBuilder::new(layout, id, Values::default());
        layout.writer(&mut b, 1).motion(MotionValue {
            anchor: 1,
            x,
            y: 0,
            vx: 128,
            vy: 0,
        });
        b.build()
    }

    fn snapshot(
        layout: &Layout,
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
        let part = Part {
            base,
            target,
            removed: &d.removed,
            created: &d.created,
            changed: &d.changed,
        };
        Snapshot {
            tick,
            baseline: base_tick,
            last_input_seq: 3,
            checksum: checksum(layout, target),
            payload: encode_payload(Packing::Bits, layout, &frame, part),
        }
    }

    #[test]
    fn deltas_add_remove_and_move_entities() {
        let layout = layout();
        let mut view = WorldView::new(layout.clone(), 1, 60, Packing::Bits);
        let first = vec![walker(&layout, 1, 0, "me"), flier(&layout, 2, 64)];
        view.apply(&snapshot(&layout, &[], 0, &first, 1)).unwrap();
        assert_eq!(
            (view.tick, view.keyframes, view.entities().len()),
            (1, 1, 2)
        );
        assert_eq!(view.with_component("Fly").count(), 1);
        assert_eq!(view.with_component("Nothing").count(), 0);
        assert_eq!(view.text(view.own().unwrap(), "Tag", "label"), Some("me"));
        assert_eq!(view.value(view.own().unwrap(), "Tag", "n"), Some(7));
        assert_eq!(view.value(view.own().unwrap(), "Fly", "m"), None);
        // The flier's trajectory carries it one unit per second without any update.
        let drone = view.get(2).unwrap().clone();
        let second = vec![walker(&layout, 1, 10, "me")];
        view.apply(&snapshot(&layout, &first, 1, &second, 61))
            .unwrap();
        assert!(view.get(2).is_none());
        assert_eq!(view.position_steps(view.own().unwrap()), Some((10, 0)));
        assert_eq!(view.last_input_seq, 3);
        // 64 steps, then 60 ticks at 128 steps/s: 192 steps of 1/64, 3 units.
        assert_eq!(view.position(&drone), Some((3.0, 0.0)));
        assert_eq!(view.desyncs, 0);
    }

    #[test]
    fn a_bad_checksum_is_a_desync() {
        let layout = layout();
        let mut view = WorldView::new(layout.clone(), 1, 60, Packing::Bits);
        let mut snap = snapshot(&layout, &[], 0, &[walker(&layout, 1, 0, "")], 1);
        snap.checksum ^= 1;
        assert!(view.apply(&snap).is_err());
        assert_eq!(view.desyncs, 1);
        // A snapshot relative to a tick the view does not hold is one too.
        assert!(view.apply(&snapshot(&layout, &[], 7, &[], 9)).is_err());
        assert_eq!(view.desyncs, 2);
    }

    #[test]
    fn entities_without_motion_have_no_position() {
        let layout = layout();
        let mut b = EntityBuilder::new(&layout, 5, Values::default());
        layout.writer(&mut b, 2).text("clock").uint(1);
        let clock = b.build();
        let view = WorldView::new(layout, 1, 60, Packing::Bits);
        assert_eq!(view.position(&clock), None);
        assert!(view.own().is_none());
    }
}
