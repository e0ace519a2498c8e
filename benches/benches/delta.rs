//! One client's delta snapshot with 1,000 entities in view, at 0%, 10% and 100% of them
//! changed: the server's per-client work (diff, encode, checksum) and the client's
//! (decode, merge, checksum). Plus the shared per-tick work: grid build and the area of
//! interest queries of 64 clients over 1,000 entities; and the replicator's per-tick
//! pass over a live arena World (1,000 drones, 30 idle players), with the quantised world
//! kept between snapshot ticks (only changed entities quantised again) against a full
//! pass that quantises everything, as before change detection.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::views::{arena_layout, arena_values, changed, view};
use server::control::config::SnapshotMode;
use server::engine::{self, Game};
use server::games::arena::Arena;
use server::room::replication::{Grid, Replicator};
use shared::delta::{Diff, Frame, Part, checksum, decode_payload, diff, encode_payload};
use shared::map::{DEFAULT_ARENA_JSON, Map};
use shared::protocol::Packing;

const TICK: u32 = 100_000;
const TICK_RATE: u16 = 60;

fn delta(c: &mut Criterion) {
    let layout = arena_layout();
    // 1,000 entities within a 48 m radius: 30 players, 800 drones, 170 projectiles.
    let values = arena_values(30, 800, 1000, TICK);
    let base = view(&layout, &values);
    let frame = Frame {
        tick: TICK,
        baseline: TICK - 3,
        tick_rate: TICK_RATE,
    };
    let mut group = c.benchmark_group("delta_1000_in_view");
    for percent in [0u32, 10, 100] {
        let target = view(&layout, &changed(&values, percent, TICK, TICK_RATE));
        let mut d = Diff::default();
        diff(&base, &target, &mut d);
        let payload = encode_payload(
            Packing::Bits,
            &layout,
            &frame,
            Part {
                base: &base,
                target: &target,
                removed: &d.removed,
                created: &d.created,
                changed: &d.changed,
            },
        );
        let bytes_payload = encode_payload(
            Packing::Bytes,
            &layout,
            &frame,
            Part {
                base: &base,
                target: &target,
                removed: &d.removed,
                created: &d.created,
                changed: &d.changed,
            },
        );
        eprintln!(
            "{percent}% changed: {} records, payload {} B bits / {} B bytes",
            d.changed.len(),
            payload.len(),
            bytes_payload.len()
        );
        group.bench_with_input(BenchmarkId::new("encode", percent), &target, |b, target| {
            let mut d = Diff::default();
            b.iter(|| {
                diff(black_box(&base), black_box(target), &mut d);
                let p = encode_payload(
                    Packing::Bits,
                    &layout,
                    &frame,
                    Part {
                        base: &base,
                        target,
                        removed: &d.removed,
                        created: &d.created,
                        changed: &d.changed,
                    },
                );
                (p, checksum(&layout, target))
            })
        });
        group.bench_with_input(
            BenchmarkId::new("decode", percent),
            &payload,
            |b, payload| {
                b.iter(|| {
                    let view = decode_payload(
                        Packing::Bits,
                        &layout,
                        &frame,
                        black_box(&base),
                        black_box(payload),
                    )
                    .unwrap();
                    checksum(&layout, &view)
                })
            },
        );
    }
    let target = view(&layout, &changed(&values, 10, TICK, TICK_RATE));
    let mut d = Diff::default();
    group.bench_function("diff_only/10", |b| {
        b.iter(|| diff(black_box(&base), black_box(&target), &mut d))
    });
    group.bench_function("checksum_only", |b| {
        b.iter(|| checksum(&layout, black_box(&base)))
    });
    group.finish();
}

fn grid(c: &mut Criterion) {
    let layout = arena_layout();
    let entities = view(&layout, &arena_values(30, 800, 1000, TICK));
    let positions: Vec<Option<(i32, i32)>> = entities
        .iter()
        .map(|e| {
            let (x, y) = layout.position(e, TICK, TICK_RATE)?;
            // Spread over the whole 200 m arena, not just one view.
            Some(((x * 37) % 12_800, (y * 53) % 12_800))
        })
        .collect();
    let mut grid = Grid::default();
    let mut out = Vec::new();
    c.bench_function("grid_build_and_64_aoi_queries_1000_entities", |b| {
        b.iter(|| {
            grid.build(
                Grid::cell_for(3072, (12_800, 12_800)),
                12_800,
                12_800,
                black_box(&positions),
            );
            let mut total = 0;
            for client in 0..64 {
                let center = positions[client * 15].unwrap();
                grid.query(center, 3072, &positions, &mut out);
                total += out.len();
            }
            total
        })
    });
}

/// A replicator over `world` as a room builds it.
fn replicator(world: &mut bevy_ecs::world::World, map: &Map) -> Replicator {
    let info = map.info();
    Replicator::new(
        world,
        &Arena.replication(),
        SnapshotMode::Delta,
        Packing::Bits,
        TICK_RATE,
        48.0,
        (info.width, info.height),
    )
    .unwrap()
}

fn prepare(c: &mut Criterion) {
    let map = Arc::new(Map::from_json(DEFAULT_ARENA_JSON).unwrap());
    let mut settings = server::ServerConfig::default().validate().unwrap().room;
    settings.tick_rate = TICK_RATE;
    settings.drones = 1000;
    let mut world = engine::new_world(&Arena, &settings, 7);
    let mut schedule = engine::new_schedule(&Arena);
    for client in 1..=30 {
        Arena.spawn_player(&mut world, client, format!("p{client}"));
    }
    // Three ticks per snapshot (60 Hz ticks, 20 Hz snapshots), as a room runs them.
    let mut step = |world: &mut bevy_ecs::world::World| {
        for _ in 0..3 {
            world.resource_mut::<engine::SimClock>().tick += 1;
            schedule.run(world);
            world.clear_trackers();
        }
    };
    for _ in 0..20 {
        step(&mut world);
    }
    let mut kept = replicator(&mut world, &map);
    let mut group = c.benchmark_group("replicator_prepare_1000_drones_30_idle_players");
    group.bench_function("kept", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                step(&mut world);
                let this_run = world.increment_change_tick();
                let started = Instant::now();
                kept.prepare(&world, this_run).unwrap();
                total += started.elapsed();
            }
            total
        })
    });
    group.bench_function("full_pass", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                step(&mut world);
                let mut fresh = replicator(&mut world, &map);
                let this_run = world.increment_change_tick();
                let started = Instant::now();
                fresh.prepare(&world, this_run).unwrap();
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, delta, grid, prepare);
criterion_main!(benches);
