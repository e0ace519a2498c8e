//! The room's promise for any game, not just ours: for random schemas (every field kind,
//! both motion models, components added and removed) and random world histories
//! (entities spawned, changed and despawned, players joining, leaving, losing their
//! connection, on tight budgets), every client's decoded view equals the server's view of
//! that client after every tick, and the kept world equals a full pass.
//!
//! The game is built here, unregistered: four generic components whose fields come from
//! a schema drawn per case (a thread-local, read when the room registers them).

use std::cell::RefCell;
use std::sync::Arc;

use bevy_ecs::prelude::*;
use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use shared::protocol::Intent;
use shared::schema::{FieldDef, FieldKind, FieldWriter, MotionModel, MotionValue};

use super::RoomInput;
use super::harness::{Harness, anon, config, settings};
use crate::control::config::RoomSettings;
use crate::engine::{Game, NetId, NetIds, Replicated, Replication, SimClock};

thread_local! {
    /// The fields of components 0–3 for the case being run.
    static FIELDS: RefCell<[Vec<FieldDef>; 4]> = RefCell::new(Default::default());
}

/// A component of the random game: raw values, written as its schema's kinds say.
#[derive(Component, Debug, Clone, PartialEq)]
struct Comp<const I: usize> {
    raw: Vec<i32>,
    text: String,
}

const NAMES: [&str; 4] = ["C0", "C1", "C2", "C3"];

impl<const I: usize> Replicated for Comp<I> {
    const NAME: &'static str = NAMES[I];
    fn fields() -> Vec<FieldDef> {
        FIELDS.with(|f| f.borrow()[I].clone())
    }
    fn write(&self, out: &mut FieldWriter<'_>) {
        let at = |k: usize| self.raw.get(k).copied().unwrap_or(0);
        for (k, f) in Self::fields().iter().enumerate() {
            let v = at(k);
            match f.kind {
                FieldKind::Bits { .. } => out.bits(v as u32),
                FieldKind::Uint { .. } => out.uint(v as u32 % 10_000),
                FieldKind::Int { .. } => out.int(v % 10_000),
                FieldKind::Fixed { scale, .. } => out.fixed(f64::from(v % 1000) / f64::from(scale)),
                FieldKind::Angle { .. } => out.angle(v as u16),
                FieldKind::Entity => out.entity(v as u32 % 64),
                FieldKind::Text { .. } => out.text(&self.text),
                FieldKind::Motion { model, .. } => out.motion(MotionValue {
                    // Trajectories are anchored in the past (the value is a tick).
                    anchor: match model {
                        MotionModel::Predicted => 0,
                        MotionModel::Trajectory => (v as u32 % 50).max(1),
                    },
                    x: 64 * (v.rem_euclid(180) + 10),
                    y: 64 * ((v / 7).rem_euclid(180) + 10),
                    vx: v % 300,
                    vy: (v / 3) % 300,
                }),
            };
        }
    }
}

#[derive(Resource)]
struct Chaos(SmallRng);

/// Values for `n` fields (the last one also sets trajectory anchors below the tick).
fn values(rng: &mut SmallRng, tick: u32, n: usize) -> Vec<i32> {
    (0..n.max(6))
        .map(|_| rng.random_range(-100_000..100_000))
        .chain(std::iter::once(tick as i32))
        .collect()
}

fn comp<const I: usize>(rng: &mut SmallRng, tick: u32) -> Comp<I> {
    let n = FIELDS.with(|f| f.borrow()[I].len());
    Comp {
        raw: values(rng, tick, n),
        text: ["", "a", "héllo", "ünïcødé"][rng.random_range(0..4)].to_owned(),
    }
}

/// Replicated entities that are not players (the engine's own entities have no net id).
type Npc = (With<NetId>, Without<Comp<0>>);
/// What `churn` reads of them: which of the optional components each has.
type NpcParts = (Entity, Has<Comp<1>>, Has<Comp<2>>, Has<Comp<3>>);

/// Each tick: change, add and remove components, spawn and despawn entities.
fn churn(
    mut commands: Commands,
    clock: Res<SimClock>,
    mut rng: ResMut<Chaos>,
    mut ids: ResMut<NetIds>,
    mut c0: Query<(Entity, &mut Comp<0>)>,
    others: Query<NpcParts, Npc>,
) {
    let rng = &mut rng.0;
    for (_, mut c) in &mut c0 {
        if rng.random_bool(0.3) {
            c.set_if_neq(comp(rng, clock.tick));
        }
    }
    for (e, has1, has2, has3) in &others {
        match rng.random_range(0..20) {
            0 => commands.entity(e).despawn(),
            1 if has1 => {
                commands.entity(e).remove::<Comp<1>>();
            }
            2 if !has2 => {
                commands.entity(e).insert(comp::<2>(rng, clock.tick));
            }
            3 if has3 => {
                commands.entity(e).remove::<Comp<3>>();
            }
            4 | 5 => {
                commands.entity(e).insert(comp::<1>(rng, clock.tick));
            }
            _ => {}
        }
    }
    if rng.random_bool(0.3) {
        let id = ids.allocate();
        let mut e = commands.spawn((id, comp::<1>(rng, clock.tick)));
        if rng.random_bool(0.5) {
            e.insert(comp::<3>(rng, clock.tick));
        }
    }
}

#[derive(Debug)]
struct AnyGame;

impl Game for AnyGame {
    fn name(&self) -> &'static str {
        "any"
    }
    fn replication(&self) -> Replication {
        let mut r = Replication::new("any");
        r.add::<Comp<0>>()
            .add::<Comp<1>>()
            .add::<Comp<2>>()
            .add::<Comp<3>>();
        r
    }
    fn default_map(&self) -> &'static str {
        shared::map::DEFAULT_ARENA_JSON
    }
    fn setup(&self, world: &mut World, _: &RoomSettings, seed: u64) {
        world.insert_resource(Chaos(SmallRng::seed_from_u64(seed)));
    }
    fn systems(&self, schedule: &mut Schedule) {
        schedule.add_systems(churn);
    }
    fn spawn_player(&self, world: &mut World, _: u32, _: String) -> (Entity, NetId) {
        let id = world.resource_mut::<NetIds>().allocate();
        let tick = world.resource::<SimClock>().tick;
        let c = comp::<0>(&mut world.resource_mut::<Chaos>().0, tick);
        (world.spawn((id, c)).id(), id)
    }
    fn rejoin(&self, _: &mut World, _: Entity, _: String) {}
    fn input(&self, _: &mut World, _: Entity, _: Option<Intent>) {}
    fn take_counters(&self, _: &mut World) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
    fn buttons(&self) -> u8 {
        0
    }
}

fn kind() -> impl Strategy<Value = FieldKind> {
    prop_oneof![
        (1u8..=32).prop_map(|width| FieldKind::Bits { width }),
        (0u8..=6).prop_map(|k| FieldKind::Uint { k }),
        (0u8..=6).prop_map(|k| FieldKind::Int { k }),
        (1u32..100, 0u8..=6).prop_map(|(scale, k)| FieldKind::Fixed { scale, k }),
        (1u8..=16).prop_map(|bits| FieldKind::Angle { bits }),
        (0u16..=16).prop_map(|max_bytes| FieldKind::Text { max_bytes }),
        Just(FieldKind::Entity),
        Just(FieldKind::Motion {
            model: MotionModel::Trajectory,
            scale: 64
        }),
    ]
}

fn fields(first: Option<FieldKind>) -> impl Strategy<Value = Vec<FieldDef>> {
    prop::collection::vec(kind(), 0..4).prop_map(move |kinds| {
        first
            .into_iter()
            .chain(kinds)
            .enumerate()
            .map(|(i, kind)| FieldDef {
                name: format!("f{i}"),
                kind,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_client_holds_the_servers_view_of_it_for_any_schema_and_history(
        // Players carry component 0, which a predicted motion places.
        c0 in fields(Some(FieldKind::Motion { model: MotionModel::Predicted, scale: 64 })),
        c1 in fields(None), c2 in fields(None), c3 in fields(None),
        seed: u64,
        budget in prop_oneof![Just(None), (200u32..2000).prop_map(Some)],
    ) {
        FIELDS.with(|f| *f.borrow_mut() = [c0, c1, c2, c3]);
        let mut s = settings(60, 20, 4);
        s.aoi_radius = 60.0;
        s.seed = Some(seed);
        let mut c = config(s);
        c.game = Arc::new(AnyGame);
        c.seed = seed;
        let mut h = Harness::with_config(c);
        let a = h.join(anon("a")).unwrap();
        let b = h.join(anon("b")).unwrap();
        if let Some(bytes) = budget {
            h.set_budget(b, 20, bytes);
        }
        for t in 0..90u32 {
            if t == 30 {
                h.drop_connection(a);
            }
            if t == 45 {
                h.join(anon("c")).unwrap();
            }
            if t == 60 {
                h.send(b, RoomInput::Leave);
            }
            // The harness checks the kept world against a full pass on snapshot ticks.
            h.tick();
            h.assert_views_match();
        }
        prop_assert!(h.clients.iter().all(|c| c.desyncs == 0));
        prop_assert!(h.client(b).snapshots > 10);
    }
}
