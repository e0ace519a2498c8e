//! Snapshot encode/decode throughput for a full-state snapshot of a busy room.

use std::hint::black_box;

use benches::views::{arena_layout, arena_values, view};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shared::codec::{
    decode_server, encode, encode_full_snapshot_body, encode_full_snapshot_with_body,
};
use shared::protocol::{EntityState, FullSnapshot, ServerMessage};

/// A room like the default one: 64 players, 200 drones, 300 projectiles in flight.
fn entities() -> Vec<EntityState> {
    view(&arena_layout(), &arena_values(64, 200, 564, 1_000))
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
