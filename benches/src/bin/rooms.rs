//! Many rooms in one server process: starts a real server in this process with `--rooms`
//! rooms (one of them "busy": many more drones and bots), a real bot swarm that joins
//! them through the rooms API, and reports each room's tick jitter, that is how far each
//! tick started from its schedule (|actual start − scheduled start|), over the measured
//! window. A busy room must not delay the others beyond its own tick: the room workers
//! run due ticks earliest deadline first, and a room being run holds back only itself.
//!
//! ```sh
//! cargo run --release -p benches --bin rooms -- --rooms 100 --duration 20
//! cargo run --release -p benches --bin rooms -- --rooms 1000 --bots-per-room 2
//! ```

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use benches::in_process::{self, warn_logs};
use bot_client::api::ApiClient;
use bot_client::swarm::{Join, SwarmConfig, run_swarm};
use clap::Parser;
use hdrhistogram::Histogram;
use serde::Serialize;
use server::control::config::RoomDef;
use server::room::stats::{RoomStats, new_histogram};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(about = "Run many rooms in one server with bots and report per-room tick jitter")]
struct Args {
    /// Rooms (room 0 the busy one).
    #[arg(long, default_value_t = 100)]
    rooms: u32,
    /// Bots in each room (the busy room gets `--busy-bots`).
    #[arg(long, default_value_t = 1)]
    bots_per_room: u32,
    /// Drones in each room.
    #[arg(long, default_value_t = 20)]
    drones: u32,
    /// Drones and bots of room 0, the busy one.
    #[arg(long, default_value_t = 2000)]
    busy_drones: u32,
    #[arg(long, default_value_t = 16)]
    busy_bots: u32,
    #[arg(long, default_value_t = 60)]
    tick_rate: u16,
    #[arg(long, default_value_t = 20)]
    snapshot_rate: u16,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Seconds for bots to connect and settle before measuring.
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Where to write the JSON report.
    #[arg(long)]
    report_json: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Jitter {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

fn jitter(h: &Histogram<u64>) -> Jitter {
    let ms = |us: u64| us as f64 / 1000.0;
    Jitter {
        p50_ms: ms(h.value_at_quantile(0.5)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
    }
}

#[derive(Debug, Serialize)]
struct Report {
    rooms: u32,
    tick_rate: u16,
    bots: u32,
    bots_failed: u32,
    /// Rooms that parked for want of a bot (not measured).
    rooms_without_bots: usize,
    duration_s: u64,
    /// Tick start lateness over every tick of every quiet room (all but room 0).
    quiet_rooms_jitter: Jitter,
    /// Over the ticks of room 0 (busy: more drones and bots).
    busy_room_jitter: Jitter,
    /// The quiet room with the worst p99.
    worst_quiet_room: String,
    worst_quiet_room_jitter: Jitter,
    /// Per-room p99 jitter across quiet rooms: median, 99th percentile room (the worst
    /// is `worst_quiet_room_jitter`).
    quiet_room_p99_median_ms: f64,
    quiet_room_p99_p99_ms: f64,
    /// Tick duration p99, quiet rooms and busy room (ms).
    quiet_tick_ms_p99: f64,
    busy_tick_ms_p99: f64,
    /// Ticks started more than a whole tick late.
    late_ticks: u64,
    ticks: u64,
    snapshots_per_bot_per_sec_min: f64,
    snapshots_per_bot_per_sec: f64,
    desyncs: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    warn_logs();
    let args = Args::parse();
    let tick = args.tick_rate.to_string();
    let snap = args.snapshot_rate.to_string();
    let mut settings = in_process::settings(&[
        "--tick-rate",
        &tick,
        "--snapshot-rate",
        &snap,
        "--stats-interval-s",
        "1",
        "--seed",
        "1",
        "--max-rooms",
        "10000",
    ])?;
    settings.rooms = (0..args.rooms)
        .map(|i| {
            let mut room = settings.room.clone();
            room.name = format!("room {i}");
            room.drones = if i == 0 {
                args.busy_drones
            } else {
                args.drones
            };
            RoomDef {
                id: format!("r{i}"),
                settings: room,
            }
        })
        .collect();
    settings.default_room = "r0".into();

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let shutdown = CancellationToken::new();
    let server = server::start(listener, settings, shutdown.clone())?;
    let base = format!("http://{}", server.local_addr());

    // Bot i joins entry i of this list: every room `--bots-per-room` times, then the
    // busy room's extra bots.
    let room_ids: Vec<String> = (0..args.rooms).map(|i| format!("r{i}")).collect();
    let busy_extra = args.busy_bots.saturating_sub(args.bots_per_room);
    let mut bots_rooms = Vec::new();
    for _ in 0..args.bots_per_room {
        bots_rooms.extend(room_ids.iter().cloned());
    }
    bots_rooms.extend(std::iter::repeat_n("r0".to_owned(), busy_extra as usize));
    let bots = bots_rooms.len() as u32;
    let swarm = tokio::spawn(run_swarm(
        SwarmConfig {
            url: base.clone(),
            bots,
            duration: Duration::from_secs(args.warmup + args.duration),
            ramp_per_sec: 200.0,
            seed: 1,
            name_prefix: "b".into(),
            progress: false,
            join: Join::Api {
                api: ApiClient::new(&base, None, None)?,
                rooms: bots_rooms,
            },
            churn: None,
            tls: None,
            budget: None,
            ..SwarmConfig::default()
        },
        CancellationToken::new(),
    ));

    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    let handles = server.registry().list();
    let collect = handles.iter().map(|(room, _)| {
        let mut stats = room.stats();
        let id = room.id().to_owned();
        let n = args.duration;
        async move {
            stats.mark_unchanged();
            let mut window: Vec<RoomStats> = Vec::new();
            while window.len() < n as usize {
                let reported = tokio::time::timeout(Duration::from_secs(5), stats.changed()).await;
                if reported.is_err() && room.seats().taken() == 0 {
                    // No bot got in (or all left): the room parked and reports no more.
                    break;
                }
                reported.with_context(|| format!("room {id} stopped reporting"))??;
                window.push(stats.borrow_and_update().clone());
            }
            anyhow::Ok((id, window))
        }
    });
    let windows = futures_util::future::try_join_all(collect).await?;
    let swarm_report = swarm.await?;
    shutdown.cancel();
    server.wait().await?;

    let mut quiet = new_histogram();
    let mut busy = new_histogram();
    let mut quiet_tick = new_histogram();
    let mut busy_tick = new_histogram();
    let mut per_room: Vec<(String, Histogram<u64>)> = Vec::new();
    let (mut late_ticks, mut ticks) = (0, 0);
    let rooms_without_bots = windows.iter().filter(|(_, w)| w.is_empty()).count();
    for (id, window) in windows.iter().filter(|(_, w)| !w.is_empty()) {
        let mut h = new_histogram();
        let mut t = new_histogram();
        for s in window {
            h.add(&s.lateness_us)?;
            t.add(&s.tick_us)?;
            late_ticks += s.late_ticks;
            ticks += s.ticks;
        }
        if id == "r0" {
            busy.add(&h)?;
            busy_tick.add(&t)?;
        } else {
            quiet.add(&h)?;
            quiet_tick.add(&t)?;
            per_room.push((id.clone(), h));
        }
    }
    per_room.sort_by_key(|(_, h)| h.value_at_quantile(0.99));
    let room_p99 = |q: f64| {
        let i = ((per_room.len() as f64 - 1.0) * q).round() as usize;
        per_room
            .get(i)
            .map_or(0.0, |(_, h)| h.value_at_quantile(0.99) as f64 / 1000.0)
    };
    let (worst_id, worst) = per_room
        .last()
        .map(|(id, h)| (id.clone(), jitter(h)))
        .unwrap_or_else(|| (String::new(), jitter(&new_histogram())));
    let report = Report {
        rooms: args.rooms,
        tick_rate: args.tick_rate,
        bots,
        bots_failed: swarm_report.bots_failed,
        rooms_without_bots,
        duration_s: args.duration,
        quiet_rooms_jitter: jitter(&quiet),
        busy_room_jitter: jitter(&busy),
        worst_quiet_room: worst_id,
        worst_quiet_room_jitter: worst,
        quiet_room_p99_median_ms: room_p99(0.5),
        quiet_room_p99_p99_ms: room_p99(0.99),
        quiet_tick_ms_p99: quiet_tick.value_at_quantile(0.99) as f64 / 1000.0,
        busy_tick_ms_p99: busy_tick.value_at_quantile(0.99) as f64 / 1000.0,
        late_ticks,
        ticks,
        snapshots_per_bot_per_sec_min: swarm_report.snapshots_per_bot_per_sec_min,
        snapshots_per_bot_per_sec: swarm_report.snapshots_per_bot_per_sec,
        desyncs: swarm_report.desyncs,
    };
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    if let Some(path) = &args.report_json {
        std::fs::write(path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !swarm_report.errors.is_empty() {
        eprintln!("bot errors: {:?}", swarm_report.errors);
    }
    Ok(())
}
