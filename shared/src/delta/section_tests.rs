//! The sections' naming of entities (places in the held view, ids for creations, each
//! at its own order), the changed section's structured bit, and trajectories that
//! write no position when they turn on their own line.

use super::tests::{frame, part};
use super::*;
use crate::pack::BitWriter;
use crate::schema::{EntityBuilder, FieldKind, MotionModel, Schema};
use proptest::prelude::*;

fn flight() -> Layout {
    Schema {
        game: "t".into(),
        components: vec![crate::schema::ComponentDef {
            name: "Flight".into(),
            fields: vec![crate::schema::FieldDef {
                name: "path".into(),
                kind: FieldKind::Motion {
                    model: MotionModel::Trajectory,
                    scale: 64,
                },
            }],
        }],
    }
    .layout()
    .unwrap()
}

fn drone(layout: &Layout, id: u32, m: MotionValue) -> EntityState {
    let mut b = EntityBuilder::new(layout, id, Values::default());
    layout.writer(&mut b, 0).motion(m);
    b.build()
}

const CRUISE: MotionValue = MotionValue {
    anchor: 9_000,
    x: 6400,
    y: 6400,
    vx: 128,
    vy: 0,
};

fn encode(layout: &Layout, base: &[EntityState], target: &[EntityState]) -> Vec<u8> {
    let mut d = Diff::default();
    diff(base, target, &mut d);
    let payload = encode_payload(Packing::Bits, layout, &frame(), part(base, target, &d));
    let got = decode_payload(Packing::Bits, layout, &frame(), base, &payload).unwrap();
    assert_eq!(got, target);
    payload
}

/// Every 10th id of 1,000 is held; removing the last and changing the 51st costs their
/// places among 100 (a few bits), not their ids among 1,000.
#[test]
fn removed_and_changed_entities_are_named_by_place() {
    let layout = flight();
    let base: Vec<EntityState> = (1..=100).map(|i| drone(&layout, i * 10, CRUISE)).collect();
    let mut target = base.clone();
    target.pop();
    if let Some(e) = target.get_mut(50) {
        *e = drone(&layout, 510, MotionValue { vy: 64, ..CRUISE });
    }
    let payload = encode(&layout, &base, &target);
    let mut w = BitWriter::new();
    // Removed: count 1, order, place 100 (gap 99); created: count 0; changed: count 1,
    // order, structured 0, place 51 (gap 50), then the velocity change.
    w.uint(1, k::COUNT);
    w.bits(gap_order([100].into_iter()), GAP_ORDER_BITS);
    w.uint(99, gap_order([100].into_iter()));
    w.uint(0, k::COUNT);
    w.uint(1, k::COUNT);
    w.bits(gap_order([51].into_iter()), GAP_ORDER_BITS);
    w.bits(0, 1);
    w.uint(50, gap_order([51].into_iter()));
    write_changed(&mut w, &layout, &base[50], &target[50], &frame());
    assert_eq!(payload, w.into_bytes());
}

#[test]
fn a_place_beyond_the_held_view_is_malformed() {
    let layout = flight();
    let base = [drone(&layout, 7, CRUISE)];
    for (removed, changed) in [(true, false), (false, true)] {
        let mut w = BitWriter::new();
        for section in [removed, false, changed] {
            w.uint(u32::from(section), k::COUNT);
            if section {
                w.bits(0, GAP_ORDER_BITS);
                if changed {
                    w.bits(0, 1);
                }
                // Place 2 of a view of 1.
                w.uint(1, 0);
            }
        }
        let got = decode_payload(Packing::Bits, &layout, &frame(), &base, &w.into_bytes());
        assert_eq!(got, Err(DeltaError::Place(2)));
    }
}

/// A drone that turns on its own line (new anchor on the old line, new velocity) is its
/// anchor and velocity: no position.
#[test]
fn a_turn_on_the_line_writes_no_position() {
    let layout = flight();
    let base = [drone(&layout, 1, CRUISE)];
    let anchor = 10_002;
    let (x, y) = CRUISE.along(anchor, 60);
    let turned = MotionValue {
        anchor,
        x,
        y,
        vx: 0,
        vy: 128,
    };
    let reference = motion_reference(MotionModel::Trajectory, CRUISE, anchor, (0, 128), &frame());
    assert_eq!(
        motion_mask(MotionModel::Trajectory, CRUISE, turned, reference),
        motion::ANCHOR | motion::VEL
    );
    encode(&layout, &base, &[drone(&layout, 1, turned)]);
    // Off the line by a step: the position is written, and decodes.
    encode(
        &layout,
        &base,
        &[drone(&layout, 1, MotionValue { x: x + 1, ..turned })],
    );
}

/// Only a payload whose changed records include a new presence mask spends a structure
/// bit on each of them.
#[test]
fn structure_bits_only_when_a_mask_changes() {
    let layout = flight();
    let base = [drone(&layout, 1, CRUISE), drone(&layout, 2, CRUISE)];
    let moved = drone(&layout, 1, MotionValue { vy: 1, ..CRUISE });
    let plain = encode(&layout, &base, &[moved.clone(), base[1].clone()]);
    let bare = EntityState {
        present: 0,
        values: Arc::new(Values {
            ints: vec![0; 5],
            texts: vec![],
        }),
        ..base[1].clone()
    };
    let restructured = encode(&layout, &base, &[moved, bare]);
    assert!(restructured.len() >= plain.len());
}

proptest! {
    /// The order a section is written with is the cheapest of all it could be.
    #[test]
    fn the_gap_order_is_the_cheapest(mut ids in prop::collection::btree_set(1u32.., 1..40)) {
        let ids: Vec<u32> = std::mem::take(&mut ids).into_iter().collect();
        let cost = |k: u32| gaps(ids.iter().copied()).map(|g| u64::from(eg_bits(g, k))).sum::<u64>();
        let chosen = gap_order(ids.iter().copied());
        prop_assert!(chosen <= MAX_GAP_ORDER);
        for k in 0..=MAX_GAP_ORDER {
            prop_assert!(cost(chosen) <= cost(k));
        }
    }
}
