//! A room's whole CPU per simulated second, with no socket and no thread: a
//! [`RoomCore`] of the arena with 100 players who steer, aim and fire, and 20 drones,
//! run for 60 ticks (one second at 60 Hz) with every snapshot taken by a sink that
//! drops it. Divided by the players, this is the rooms' share of the server's CPU per
//! player-second (the capacity command measures the whole process, sockets included;
//! `transport_floor` the sockets alone). Measured in one thread, so it is the same
//! figure however busy the machine's other core is; the time is the thread's CPU time.
//!
//! ```sh
//! cargo bench -p benches --bench room
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpu_time::ThreadTime;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use server::control::config::SnapshotMode;
use server::room::core::{Delivery, RoomCore};
use server::room::{JoinKind, RoomConfig, RoomInput};
use shared::protocol::{Hello, Intent, PROTOCOL_VERSION};

const PLAYERS: u32 = 100;
const TICK_RATE: u16 = 60;

/// A room core with `PLAYERS` joined players at this snapshot rate, warmed up for two
/// seconds so that every client holds a baseline.
fn room(snapshot_rate: u16) -> (RoomCore, Vec<u32>, Instant, u32) {
    let mut settings = server::ServerConfig::default()
        .validate()
        .expect("the default configuration is valid")
        .room;
    settings.tick_rate = TICK_RATE;
    settings.snapshot_rate = snapshot_rate;
    settings.max_players = PLAYERS;
    settings.drones = 20;
    settings.aoi_radius = 48.0;
    settings.snapshots = SnapshotMode::Delta;
    settings.seed = Some(1);
    let config = RoomConfig {
        id: "bench".into(),
        game: server::games::of_room(&settings.game),
        settings,
        seed: 1,
        stats_interval: Duration::from_secs(3600),
        resume_grace: Duration::from_secs(1),
    };
    let mut core = RoomCore::new(Arc::new(config));
    let mut ids = Vec::new();
    for p in 0..PLAYERS {
        let name = Hello {
            protocol_version: PROTOCOL_VERSION,
            name: format!("p{p}"),
            ..Hello::default()
        }
        .validate()
        .expect("a valid name");
        let joined = core
            .join(
                JoinKind::Anonymous {
                    player: format!("p{p}"),
                },
                name,
            )
            .expect("a free seat");
        ids.push(joined.client_id);
    }
    let mut now = Instant::now();
    let mut seq = 1;
    for _ in 0..2 * TICK_RATE {
        second_tick(&mut core, &ids, &mut now, &mut seq);
    }
    (core, ids, now, seq)
}

/// One tick as the driver runs it: each player's input frame for it, the step, and the
/// snapshots of the clients whose turn it is.
fn second_tick(core: &mut RoomCore, ids: &[u32], now: &mut Instant, seq: &mut u32) {
    *now += Duration::from_secs_f64(1.0 / f64::from(TICK_RATE));
    for (k, &id) in ids.iter().enumerate() {
        // Each player turns its stick every half second and fires now and then, so
        // everyone moves and shots fly, as with the bots.
        let phase = (*seq / 30 + k as u32) % 8;
        let (move_x, move_y) = [
            (127, 0),
            (90, 90),
            (0, 127),
            (-90, 90),
            (-127, 0),
            (-90, -90),
            (0, -127),
            (90, -90),
        ][phase as usize];
        let intent = Intent {
            move_x,
            move_y,
            aim: (*seq * 300 + k as u32 * 1000) as u16,
            buttons: u8::from((*seq + k as u32).is_multiple_of(20)),
        };
        core.input(id, RoomInput::Frame { seq: *seq, intent });
    }
    *seq += 1;
    core.expire(*now);
    let tick = core.step(*now);
    if core.snapshot_due(tick) {
        let sent = core.replicate(*now, |_, bytes| {
            black_box(bytes);
            Delivery::Queued
        });
        black_box(sent);
    }
}

fn room_second(c: &mut Criterion) {
    let mut group = c.benchmark_group("room_second_100_players");
    group.sample_size(20);
    for snapshot_rate in [20u16, 60] {
        let (mut core, ids, mut now, mut seq) = room(snapshot_rate);
        group.bench_function(BenchmarkId::new("snapshot_rate", snapshot_rate), |b| {
            // The thread's CPU time rather than the wall clock: what the room costs, not
            // how often the other processes of a shared machine preempted it.
            b.iter_custom(|seconds| {
                let cpu = ThreadTime::now();
                for _ in 0..seconds {
                    for _ in 0..TICK_RATE {
                        second_tick(&mut core, &ids, &mut now, &mut seq);
                    }
                }
                cpu.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, room_second);
criterion_main!(benches);
