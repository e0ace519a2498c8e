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

use server::control::config::SnapshotMode;
use server::engine::{self, Game};
use server::games::arena::Arena;
use server::room::replication::{Grid, Replicator};
use shared::delta::{Diff, Frame, checksum, decode_payload, diff, encode_payload};
use shared::map::{DEFAULT_ARENA_JSON, Map};
use shared::protocol::{EntityKind, EntityState, Packing};

const TICK: u32 = 100_000;
const TICK_RATE: u16 = 60;

/// A deterministic pseudo-random sequence (no rand in the measured loop).
fn lcg(seed: &mut u64) -> u32 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (*seed >> 33) as u32
}

/// 1,000 entities within a 48 m radius: 30 players, 800 drones, 170 projectiles.
fn view() -> Vec<EntityState> {
    let mut seed = 7;
    (1..=1000u32)
        .map(|id| {
            let kind = match id {
                1..=30 => EntityKind::Player,
                31..=830 => EntityKind::Drone,
                _ => EntityKind::Projectile,
            };
            let mut r = || lcg(&mut seed) as i32;
            EntityState {
                id,
                kind,
                x: 6400 + r() % 3000,
                y: 6400 + r() % 3000,
                vx: r() % 384,
                vy: r() % 384,
                anchor: if kind == EntityKind::Player {
                    0
                } else {
                    TICK - 3 - (r() % 200) as u32
                },
                angle: r() as u16,
                health: 100,
                flags: 0,
                score: (r() % 10) as u32,
                owner: if kind == EntityKind::Projectile {
                    (r() % 30 + 1) as u32
                } else {
                    0
                },
                name: if kind == EntityKind::Player {
                    format!("bot{id}")
                } else {
                    String::new()
                },
            }
        })
        .collect()
}

/// The same view three ticks later with `percent` of the entities changed the way the
/// game changes them: players walk and aim, drones and projectiles get new trajectories.
fn changed(base: &[EntityState], percent: u32) -> Vec<EntityState> {
    let mut seed = 11;
    base.iter()
        .map(|e| {
            let mut e = e.clone();
            if lcg(&mut seed) % 100 < percent {
                let jitter = (lcg(&mut seed) % 9) as i32 - 4;
                match e.kind {
                    EntityKind::Player => {
                        e.x += e.vx / 20 + jitter;
                        e.y += e.vy / 20 - jitter;
                        e.vx += jitter * 8;
                        e.angle = e.angle.wrapping_add(300);
                    }
                    _ => {
                        let (x, y) = e.position_at(TICK - 1, TICK_RATE);
                        e.anchor = TICK - 1;
                        e.x = x;
                        e.y = y;
                        e.vx = -e.vy + jitter;
                        e.vy = e.vx;
                    }
                }
            }
            e
        })
        .collect()
}

fn delta(c: &mut Criterion) {
    let base = view();
    let frame = Frame {
        tick: TICK,
        baseline: TICK - 3,
        tick_rate: TICK_RATE,
    };
    let mut group = c.benchmark_group("delta_1000_in_view");
    for percent in [0u32, 10, 100] {
        let target = changed(&base, percent);
        let mut d = Diff::default();
        diff(&base, &target, &mut d);
        let payload = encode_payload(
            Packing::Bits,
            &frame,
            &base,
            &target,
            &d.removed,
            &d.created,
            &d.changed,
        );
        let bytes_payload = encode_payload(
            Packing::Bytes,
            &frame,
            &base,
            &target,
            &d.removed,
            &d.created,
            &d.changed,
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
                    &frame,
                    &base,
                    target,
                    &d.removed,
                    &d.created,
                    &d.changed,
                );
                (p, checksum(target))
            })
        });
        group.bench_with_input(
            BenchmarkId::new("decode", percent),
            &payload,
            |b, payload| {
                b.iter(|| {
                    let view =
                        decode_payload(Packing::Bits, &frame, black_box(&base), black_box(payload))
                            .unwrap();
                    checksum(&view)
                })
            },
        );
    }
    let target = changed(&base, 10);
    let mut d = Diff::default();
    group.bench_function("diff_only/10", |b| {
        b.iter(|| diff(black_box(&base), black_box(&target), &mut d))
    });
    group.bench_function("checksum_only", |b| b.iter(|| checksum(black_box(&base))));
    group.finish();
}

fn grid(c: &mut Criterion) {
    let entities = view();
    let positions: Vec<(i32, i32)> = entities
        .iter()
        .map(|e| {
            let (x, y) = e.position_at(TICK, TICK_RATE);
            // Spread over the whole 200 m arena, not just one view.
            ((x * 37) % 12_800, (y * 53) % 12_800)
        })
        .collect();
    let mut grid = Grid::default();
    let mut out = Vec::new();
    c.bench_function("grid_build_and_64_aoi_queries_1000_entities", |b| {
        b.iter(|| {
            grid.build(3072, 12_800, 12_800, black_box(&positions));
            let mut total = 0;
            for client in 0..64 {
                let center = positions[client * 15];
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
        SnapshotMode::Delta,
        Packing::Bits,
        TICK_RATE,
        48.0,
        (info.width, info.height),
    )
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
