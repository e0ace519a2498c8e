//! Codec properties over random schemas and random views.

use super::*;
use crate::pack::{BitWriter, ByteWriter};
use crate::schema::{ComponentDef, FieldDef, Schema};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn kind() -> impl Strategy<Value = FieldKind> {
    prop_oneof![
        (1u8..=32).prop_map(|width| FieldKind::Bits { width }),
        (0u8..=8).prop_map(|k| FieldKind::Uint { k }),
        (0u8..=8).prop_map(|k| FieldKind::Int { k }),
        (1u32..1000, 0u8..=12).prop_map(|(scale, k)| FieldKind::Fixed { scale, k }),
        (1u8..=16).prop_map(|bits| FieldKind::Angle { bits }),
        (0u16..=24).prop_map(|max_bytes| FieldKind::Text { max_bytes }),
        Just(FieldKind::Entity),
        Just(FieldKind::Motion {
            model: MotionModel::Predicted,
            scale: 64
        }),
        Just(FieldKind::Motion {
            model: MotionModel::Trajectory,
            scale: 64
        }),
    ]
}

/// A random valid schema: 1..8 components of 0..5 fields.
pub fn schema() -> impl Strategy<Value = Schema> {
    prop::collection::vec(prop::collection::vec(kind(), 0..5), 1..8).prop_map(|comps| Schema {
        game: "random".into(),
        components: comps
            .into_iter()
            .enumerate()
            .map(|(c, kinds)| ComponentDef {
                name: format!("C{c}"),
                fields: kinds
                    .into_iter()
                    .enumerate()
                    .map(|(f, kind)| FieldDef {
                        name: format!("f{f}"),
                        kind,
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// Raw material for one entity: a presence mask and enough random numbers and strings
/// for any layout; [`entity`] fits them to the kinds.
type Raw = (u32, Vec<i32>, Vec<String>, u32);

fn raw() -> impl Strategy<Value = Raw> {
    (
        any::<u32>(),
        prop::collection::vec(any::<i32>(), 200),
        prop::collection::vec("\\PC{0,8}", 40),
        0u32..500,
    )
}

/// An entity of `layout` from raw values, every field within its kind's range.
fn entity(layout: &Layout, id: u32, raw: &Raw, tick: u32) -> EntityState {
    let (present, ints, texts, back) = raw;
    let mut b = crate::schema::EntityBuilder::new(layout, id, Values::default());
    let mut n = 0;
    let mut next = || {
        n += 1;
        ints[n % ints.len()]
    };
    for c in 0..layout.component_count() {
        if present & (1 << c) == 0 {
            continue;
        }
        let fields: Vec<_> = layout.fields(c).to_vec();
        let mut w = layout.writer(&mut b, c);
        for (kind, slot) in fields {
            match kind {
                FieldKind::Bits { .. } => w.bits(next() as u32),
                FieldKind::Uint { .. } => w.uint(next() as u32 % 100_000),
                FieldKind::Int { .. } => w.int(next() % 100_000),
                FieldKind::Fixed { .. } => w.fixed(f64::from(next() % 1000) / 7.0),
                FieldKind::Angle { .. } => w.angle(next() as u16),
                FieldKind::Entity => w.entity(next() as u32 % 5000),
                FieldKind::Text { .. } => {
                    let i = match slot {
                        Slot::Text(i) => i,
                        _ => 0,
                    };
                    w.text(&texts[(i + id as usize) % texts.len()])
                }
                FieldKind::Motion { model, .. } => w.motion(MotionValue {
                    anchor: match model {
                        MotionModel::Predicted => 0,
                        MotionModel::Trajectory => tick - back - (next() as u32 % 3),
                    },
                    x: next() % 20_000,
                    y: next() % 20_000,
                    vx: next() % 2_000,
                    vy: next() % 2_000,
                }),
            };
        }
    }
    b.build()
}

/// A view of up to `n` entities with ids in 1..200.
fn view(layout: &Layout, ids: &[u32], raws: &[Raw]) -> Vec<EntityState> {
    ids.iter()
        .zip(raws.iter().cycle())
        .map(|(&id, raw)| entity(layout, id, raw, 10_003))
        .collect()
}

pub(super) fn frame() -> Frame {
    Frame {
        tick: 10_003,
        baseline: 10_000,
        tick_rate: 60,
    }
}

pub(super) fn part<'a>(
    base: &'a [EntityState],
    target: &'a [EntityState],
    d: &'a Diff,
) -> Part<'a> {
    Part {
        base,
        target,
        removed: &d.removed,
        created: &d.created,
        changed: &d.changed,
    }
}

/// The records of `d` that `keep` (cycled over them) selects: a partial delta.
fn some_of(d: &Diff, keep: &[bool]) -> Diff {
    let mut pick = keep.iter().cycle();
    let mut take = || pick.next().copied().unwrap_or(true);
    Diff {
        created: d.created.iter().copied().filter(|_| take()).collect(),
        changed: d.changed.iter().copied().filter(|_| take()).collect(),
        removed: d.removed.iter().copied().filter(|_| take()).collect(),
    }
}

/// Two views of one random schema, sharing some entities and changing others.
fn case() -> impl Strategy<Value = (Layout, Vec<EntityState>, Vec<EntityState>)> {
    (
        schema(),
        prop::collection::btree_set(1u32..200, 0..30),
        prop::collection::btree_set(1u32..200, 0..30),
        prop::collection::vec(raw(), 1..6),
        prop::collection::vec(any::<(bool, u8)>(), 30),
    )
        .prop_map(|(schema, a, b, raws, edits)| {
            let layout = schema.layout().unwrap();
            let a: Vec<u32> = a.into_iter().collect();
            let base = view(&layout, &a, &raws);
            let mut target: BTreeMap<u32, EntityState> = BTreeMap::new();
            for (e, &(keep, which)) in base.iter().zip(edits.iter()) {
                if keep {
                    target.insert(e.id, e.clone());
                } else if which % 2 == 0 {
                    let raw = &raws[usize::from(which) % raws.len()];
                    target.insert(e.id, entity(&layout, e.id, raw, 10_003));
                }
            }
            let b: Vec<u32> = b.into_iter().collect();
            for e in view(&layout, &b, &raws[1..]) {
                target.entry(e.id).or_insert(e);
            }
            (layout, base, target.into_values().collect())
        })
}

proptest! {
    #[test]
    fn apply_of_diff_gives_the_new_view((layout, base, target) in case()) {
        let mut d = Diff::default();
        diff(&base, &target, &mut d);
        for packing in [Packing::Bits, Packing::Bytes] {
            let payload = encode_payload(packing, &layout, &frame(), part(&base, &target, &d));
            let got = decode_payload(packing, &layout, &frame(), &base, &payload).unwrap();
            prop_assert_eq!(got.len(), target.len());
            for (g, t) in got.iter().zip(&target) {
                prop_assert!(g.same(t), "{:?} != {:?}", g, t);
            }
            prop_assert_eq!(checksum(&layout, &got), checksum(&layout, &target));
        }
    }

    #[test]
    fn a_client_view_applies_deltas_in_place((layout, base, target) in case(),
            keep in prop::collection::vec(any::<bool>(), 80)) {
        // Keyframe to `base`, a partial delta, then the rest: each step must match what
        // `merge` predicts, hashes included (apply checks the checksum).
        let layout = Arc::new(layout);
        let mut view = ClientView::new(layout.clone());
        let f = frame();
        let snapshot = |baseline: u32, tick: u32, p: Part<'_>, expected: &[EntityState], packing| {
            let fr = Frame { tick, baseline, tick_rate: f.tick_rate };
            Snapshot {
                tick,
                baseline,
                last_input_seq: 0,
                checksum: checksum(&layout, expected),
                payload: encode_payload(packing, &layout, &fr, p),
            }
        };
        for packing in [Packing::Bits, Packing::Bytes] {
            let mut d = Diff::default();
            diff(&[], &base, &mut d);
            let key = snapshot(0, f.baseline, part(&[], &base, &d), &base, packing);
            prop_assert_eq!(view.apply(&key, f.tick_rate, packing), Ok(()));
            prop_assert_eq!(view.entities(), &base[..]);
            diff(&base, &target, &mut d);
            let some = some_of(&d, &keep);
            let mut expected = Vec::new();
            merge(&base, &target, &some.removed, &some.created, &some.changed, &mut expected);
            let p = Part { base: &base, target: &target, removed: &some.removed, created: &some.created, changed: &some.changed };
            let snap = snapshot(f.baseline, f.tick, p, &expected, packing);
            prop_assert_eq!(view.apply(&snap, f.tick_rate, packing), Ok(()));
            prop_assert_eq!(view.entities(), &expected[..]);
            diff(&expected, &target, &mut d);
            let snap = snapshot(f.tick, f.tick + 3, part(&expected, &target, &d), &target, packing);
            prop_assert_eq!(view.apply(&snap, f.tick_rate, packing), Ok(()));
            prop_assert_eq!(view.entities(), &target[..]);
        }
    }

    #[test]
    fn partial_deltas_give_what_merge_predicts((layout, base, target) in case(),
            keep in prop::collection::vec(any::<bool>(), 80)) {
        let mut d = Diff::default();
        diff(&base, &target, &mut d);
        let Diff { removed, created, changed } = some_of(&d, &keep);
        let mut expected = Vec::new();
        merge(&base, &target, &removed, &created, &changed, &mut expected);
        let p = Part { base: &base, target: &target, removed: &removed, created: &created, changed: &changed };
        for packing in [Packing::Bits, Packing::Bytes] {
            let payload = encode_payload(packing, &layout, &frame(), p);
            let got = decode_payload(packing, &layout, &frame(), &base, &payload).unwrap();
            prop_assert_eq!(checksum(&layout, &got), checksum(&layout, &expected));
            prop_assert_eq!(got, expected.clone());
        }
    }

    #[test]
    fn cached_records_give_the_same_payloads((layout, base, target) in case(),
            keep in prop::collection::vec(any::<bool>(), 80)) {
        // Clients with the same baseline, another one, a partial part: one cache for all.
        let mut d = Diff::default();
        diff(&base, &target, &mut d);
        let some = some_of(&d, &keep);
        let partial = Part { base: &base, target: &target, removed: &d.removed, created: &some.created, changed: &some.changed };
        let other_base: Vec<EntityState> = target.iter().rev().skip(1).rev().cloned().collect();
        let mut d2 = Diff::default();
        diff(&other_base, &target, &mut d2);
        let mut cache = RecordCache::default();
        let mut later = frame();
        later.baseline -= 1;
        for (f, p) in [
            (frame(), part(&base, &target, &d)),
            (frame(), part(&base, &target, &d)),
            (frame(), partial),
            (later, part(&base, &target, &d)),
            (frame(), part(&other_base, &target, &d2)),
            (frame(), part(&base, &target, &d)),
        ] {
            prop_assert_eq!(cache.encode(&layout, &f, p), encode_payload(Packing::Bits, &layout, &f, p));
        }
        // The next tick's payloads: nothing of this tick's may be reused.
        let mut next = frame();
        next.tick += 3;
        next.baseline += 3;
        let p = part(&base, &target, &d);
        prop_assert_eq!(cache.encode(&layout, &next, p), encode_payload(Packing::Bits, &layout, &next, p));
        let (hits, misses) = cache.hits_and_misses();
        prop_assert_eq!(hits + misses > 0, !d.created.is_empty() || !d.changed.is_empty() || !d2.created.is_empty() || !d2.changed.is_empty());
        if !d.changed.is_empty() || !d.created.is_empty() {
            prop_assert!(hits > 0);
        }
    }

    #[test]
    fn size_counter_matches_the_writers((layout, base, target) in case()) {
        let mut d = Diff::default();
        diff(&base, &target, &mut d);
        let f = frame();
        for packing in [Packing::Bits, Packing::Bytes] {
            let measure = |write: &dyn Fn(&mut BitWriter), writeb: &dyn Fn(&mut ByteWriter)| {
                if packing == Packing::Bits {
                    let mut w = BitWriter::new();
                    write(&mut w);
                    w.bit_len()
                } else {
                    let mut w = ByteWriter::new();
                    writeb(&mut w);
                    w.bit_len()
                }
            };
            for &j in &d.created {
                let e = &target[j];
                let want = measure(
                    &|w| { w.uint(1, k::ID_GAP); write_created(w, &layout, e, &f) },
                    &|w| { w.uint(1, k::ID_GAP); write_created(w, &layout, e, &f) },
                );
                prop_assert_eq!(created_bits(packing, &layout, &f, e), want);
            }
            for &(i, j) in &d.changed {
                let (b, t) = (&base[i], &target[j]);
                let want = measure(
                    &|w| { w.uint(1, k::ID_GAP); write_structure(w, &layout, b, t); write_changed(w, &layout, b, t, &f) },
                    &|w| { w.uint(1, k::ID_GAP); write_structure(w, &layout, b, t); write_changed(w, &layout, b, t, &f) },
                );
                prop_assert_eq!(changed_bits(packing, &layout, &f, b, t), want);
            }
        }
    }

    #[test]
    fn garbage_payloads_never_panic((layout, base, _) in case(),
            payload in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_payload(Packing::Bits, &layout, &frame(), &base, &payload);
        let _ = decode_payload(Packing::Bytes, &layout, &frame(), &base, &payload);
    }

    #[test]
    fn extreme_motions_round_trip_without_overflow(
        vals in prop::collection::vec(any::<(i32, i32, i32, i32, u32)>(), 1..8),
        tick: u32, back: u32,
    ) {
        let layout = Schema {
            game: "t".into(),
            components: vec![ComponentDef {
                name: "Flight".into(),
                fields: vec![FieldDef {
                    name: "path".into(),
                    kind: FieldKind::Motion { model: MotionModel::Trajectory, scale: 64 },
                }],
            }],
        }.layout().unwrap();
        let make = |(x, y, vx, vy, anchor): (i32, i32, i32, i32, u32), id: u32| {
            let mut b = crate::schema::EntityBuilder::new(&layout, id, Values::default());
            layout.writer(&mut b, 0).motion(MotionValue { anchor: anchor.max(1), x, y, vx, vy });
            b.build()
        };
        let base: Vec<_> = vals.iter().enumerate().map(|(i, v)| make(*v, i as u32 + 1)).collect();
        let target: Vec<_> = vals.iter().enumerate()
            .map(|(i, v)| make((v.1, v.0, v.3, v.2, v.4 ^ 0x55), i as u32 + 1)).collect();
        let f = Frame { tick, baseline: tick.wrapping_sub(back), tick_rate: 60 };
        let mut d = Diff::default();
        diff(&base, &target, &mut d);
        for packing in [Packing::Bits, Packing::Bytes] {
            let payload = encode_payload(packing, &layout, &f, part(&base, &target, &d));
            prop_assert_eq!(&decode_payload(packing, &layout, &f, &base, &payload).unwrap(), &target);
        }
    }
}

/// The layout of a schema of one component with one field.
fn one_field(component: &str, field: &str, kind: FieldKind) -> Layout {
    Schema {
        game: "t".into(),
        components: vec![ComponentDef {
            name: component.into(),
            fields: vec![FieldDef {
                name: field.into(),
                kind,
            }],
        }],
    }
    .layout()
    .unwrap()
}

#[test]
fn unchanged_views_cost_only_the_counts() {
    let layout = one_field(
        "Flight",
        "path",
        FieldKind::Motion {
            model: MotionModel::Trajectory,
            scale: 64,
        },
    );
    let base: Vec<EntityState> = (1..=100)
        .map(|id| {
            let mut b = crate::schema::EntityBuilder::new(&layout, id, Values::default());
            layout.writer(&mut b, 0).motion(MotionValue {
                anchor: 5,
                x: 100,
                y: 100,
                vx: 64,
                vy: 0,
            });
            b.build()
        })
        .collect();
    let copy: Vec<EntityState> = base
        .iter()
        .map(|e| EntityState {
            values: Arc::new(Values::clone(&e.values)),
            ..e.clone()
        })
        .collect();
    let mut d = Diff::default();
    diff(&base, &copy, &mut d);
    assert!(d.changed.is_empty());
    let payload = encode_payload(Packing::Bits, &layout, &frame(), part(&base, &copy, &d));
    // Three empty counts of 4 bits each (no orders): the 100 unchanged entities cost
    // nothing.
    assert_eq!(payload.len(), 2);
}

/// A predicted body that speeds up steadily lands where the mean of its old and new
/// velocities takes it: its change is the sub-mask and the velocity, no position.
#[test]
fn a_steady_acceleration_costs_no_position() {
    let layout = one_field(
        "Body",
        "motion",
        FieldKind::Motion {
            model: MotionModel::Predicted,
            scale: 64,
        },
    );
    let body = |x: i32, vx: i32| {
        let mut b = crate::schema::EntityBuilder::new(&layout, 1, Values::default());
        layout.writer(&mut b, 0).motion(MotionValue {
            anchor: 0,
            x,
            y: 640,
            vx,
            vy: 0,
        });
        b.build()
    };
    let f = frame();
    let base = [body(1000, 0)];
    let mut d = Diff::default();
    let mut bits = |target: &[EntityState]| {
        diff(&base, target, &mut d);
        let mut w = BitWriter::default();
        write_payload(&mut w, &layout, &f, part(&base, target, &d));
        let payload = encode_payload(Packing::Bits, &layout, &f, part(&base, target, &d));
        let got = decode_payload(Packing::Bits, &layout, &f, &base, &payload).unwrap();
        assert_eq!(got, target);
        let (bytes, _, tail_bits) = w.parts();
        bytes.len() * 8 + tail_bits as usize
    };
    // 0 to 384 steps/s over the 3 ticks: 9.6 steps on, rounded to 10, costs nothing;
    // a step further costs the two residuals (k=0: +1 in 3 bits, 0 in 1).
    let on_prediction = bits(&[body(1010, 384)]);
    let off_by_one = bits(&[body(1011, 384)]);
    assert_eq!(off_by_one - on_prediction, 4);
    // What is left: counts 12, changed order 4, structured 1, place gap 1, Body changed
    // 1, sub-mask 2, vx delta 384 (k=6: 13) and vy delta 0 (7).
    assert_eq!(on_prediction, 12 + 4 + 1 + 1 + 1 + 2 + 13 + 7);
}

/// An angle of 8 bits is rounded to 1/256 of a turn by the writer (half up, wrapping),
/// sent whole in 8 bits and changed in steps of 256 at order 2.
#[test]
fn angles_keep_their_declared_precision() {
    use crate::schema::angle_to_precision;
    assert_eq!(angle_to_precision(0x0080, 8), 0x0100);
    assert_eq!(angle_to_precision(0x007f, 8), 0);
    assert_eq!(angle_to_precision(0xff80, 8), 0);
    assert_eq!(angle_to_precision(0x1234, 16), 0x1234);
    let layout = one_field("Facing", "angle", FieldKind::Angle { bits: 8 });
    let facing = |a: u16| {
        let mut b = crate::schema::EntityBuilder::new(&layout, 1, Values::default());
        layout.writer(&mut b, 0).angle(a);
        b.build()
    };
    assert_eq!(facing(0x12c0).int(0), 0x1300);
    let f = frame();
    let mut d = Diff::default();
    let bits = |base: &[EntityState], target: &[EntityState], d: &mut Diff| {
        diff(base, target, d);
        let mut w = BitWriter::default();
        write_payload(&mut w, &layout, &f, part(base, target, d));
        let payload = encode_payload(Packing::Bits, &layout, &f, part(base, target, d));
        assert_eq!(
            decode_payload(Packing::Bits, &layout, &f, base, &payload).unwrap(),
            target
        );
        let (bytes, _, tail_bits) = w.parts();
        bytes.len() * 8 + tail_bits as usize
    };
    // Created: counts 12, created order 4, id gap 1, presence 1, the angle 8.
    assert_eq!(bits(&[], &[facing(0x1300)], &mut d), 12 + 4 + 1 + 1 + 8);
    // Turned a step the short way round (0 to 255/256 of a turn): counts 12, changed
    // order 4, structured 1, place gap 1, component changed 1, then −1 step at order 2
    // (zigzag 1: 3 bits).
    assert_eq!(
        bits(&[facing(0)], &[facing(0xff00)], &mut d),
        12 + 4 + 1 + 1 + 1 + 3
    );
}

#[test]
fn baseline_and_checksum_are_checked() {
    let layout = Arc::new(
        Schema {
            game: "t".into(),
            components: vec![],
        }
        .layout()
        .unwrap(),
    );
    let mut client = ClientView::new(layout.clone());
    let snap = Snapshot {
        tick: 5,
        baseline: 2,
        last_input_seq: 0,
        checksum: 0,
        payload: vec![],
    };
    assert_eq!(
        client.apply(&snap, 60, Packing::Bits),
        Err(DeltaError::Baseline { held: 0, got: 2 })
    );
    let payload = encode_payload(
        Packing::Bits,
        &layout,
        &frame(),
        Part {
            base: &[],
            target: &[],
            removed: &[],
            created: &[],
            changed: &[],
        },
    );
    let snap = Snapshot {
        tick: 5,
        baseline: 0,
        last_input_seq: 0,
        checksum: 1,
        payload,
    };
    assert!(matches!(
        client.apply(&snap, 60, Packing::Bits),
        Err(DeltaError::Checksum { .. })
    ));
    assert_eq!(client.tick(), 5);
}
