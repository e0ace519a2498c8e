//! Snapshot encode/decode throughput for a full-state snapshot of a busy room.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shared::codec::{
    decode_server, encode, encode_full_snapshot_body, encode_full_snapshot_with_body,
};
use shared::protocol::{EntityKind, EntityState, FullSnapshot, ServerMessage};

/// A room like the default one: 200 drones, 64 players, 300 projectiles in flight.
fn entities() -> Vec<EntityState> {
    let mut out = Vec::new();
    let mut id = 0u32;
    let mut push = |kind, n: u32, name: &str| {
        for i in 0..n {
            id += 1;
            out.push(EntityState {
                id,
                kind,
                x: (i as i32 * 977) % 12_800,
                y: (i as i32 * 613) % 12_800,
                vx: (i as i32 % 13) * 30 - 180,
                vy: (i as i32 % 7) * 50 - 150,
                anchor: 0,
                angle: (i * 2_311) as u16,
                health: 100,
                flags: 0,
                score: i % 5,
                owner: if kind == EntityKind::Projectile {
                    i % 64 + 1
                } else {
                    0
                },
                name: if kind == EntityKind::Player {
                    format!("{name}{i}")
                } else {
                    String::new()
                },
            });
        }
    };
    push(EntityKind::Player, 64, "bot");
    push(EntityKind::Drone, 200, "");
    push(EntityKind::Projectile, 300, "");
    out
}

fn codec(c: &mut Criterion) {
    let entities = entities();
    let message = ServerMessage::FullSnapshot(FullSnapshot {
        tick: 123_456,
        last_input_seq: 7_890,
        entities: entities.clone(),
    });
    let bytes = encode(&message).unwrap();
    eprintln!(
        "full snapshot of {} entities: {} bytes",
        entities.len(),
        bytes.len()
    );
    let mut group = c.benchmark_group("full_snapshot_564_entities");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("encode_whole", |b| {
        b.iter(|| encode(black_box(&message)).unwrap())
    });
    let body = encode_full_snapshot_body(&entities).unwrap();
    group.bench_function("encode_body_once", |b| {
        b.iter(|| encode_full_snapshot_body(black_box(&entities)).unwrap())
    });
    group.bench_function("splice_header_per_client", |b| {
        b.iter(|| {
            encode_full_snapshot_with_body(123_456, black_box(7_890), black_box(&body)).unwrap()
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| decode_server(black_box(&bytes)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
