//! What a room with nobody in it costs: starts a real server in this process with its
//! one default room, reads the process's RSS, creates `--rooms` more rooms (no player,
//! no reservation), lets them settle, reads the RSS again and the process's CPU time
//! over `--window` seconds, and reports both per room. With `--reserve-first`, each room
//! is first asked for a seat reservation of one second, so that it builds its World
//! and ticks before it is empty again: the cost of a room that had players.
//!
//! ```sh
//! cargo run --release -p benches --bin idle_rooms -- --rooms 10000 --drones 0
//! ```
//!
//! The process holds the server and nothing else that runs (no bots), so its RSS and CPU
//! time are the server's.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use benches::child::{clock_ticks_per_sec, cpu_ticks, rss_kib};
use benches::in_process::{self, warn_logs};
use clap::Parser;
use serde::Serialize;
use server::control::registry::Origin;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(about = "Create many empty rooms in one server and report RSS and CPU per room")]
struct Args {
    /// Empty rooms to create (beside the default room).
    #[arg(long, default_value_t = 10_000)]
    rooms: u32,
    /// Drones in each room (the server's default is 200).
    #[arg(long, default_value_t = 0)]
    drones: u32,
    #[arg(long, default_value_t = 60)]
    tick_rate: u16,
    /// Seconds between the last room created and the second RSS reading.
    #[arg(long, default_value_t = 5)]
    settle: u64,
    /// Seconds over which CPU time is measured.
    #[arg(long, default_value_t = 20)]
    window: u64,
    /// Reserve a seat (for one second) in each room before measuring.
    #[arg(long)]
    reserve_first: bool,
    /// Where to write the JSON report.
    #[arg(long)]
    report_json: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Report {
    rooms: u32,
    drones: u32,
    tick_rate: u16,
    reserve_first: bool,
    /// Seconds to create every room.
    create_s: f64,
    rss_before_kib: u64,
    rss_after_kib: u64,
    rss_per_room_kib: f64,
    window_s: u64,
    /// CPU of the whole process over the window, in % of one core.
    cpu_pct: f64,
    cpu_pct_per_room: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    warn_logs();
    let args = Args::parse();
    let tick = args.tick_rate.to_string();
    let drones = args.drones.to_string();
    let max_rooms = (args.rooms + 1).to_string();
    let settings = in_process::settings(&[
        "--tick-rate",
        &tick,
        "--drones",
        &drones,
        "--seed",
        "1",
        "--max-rooms",
        &max_rooms,
    ])?;
    let room = settings.room.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let shutdown = CancellationToken::new();
    let server = server::start(listener, settings, shutdown.clone())?;
    let registry = server.registry().clone();

    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let rss_before_kib = rss_kib("self")?;
    let started = Instant::now();
    for i in 0..args.rooms {
        registry
            .create(Some(format!("e{i}")), room.clone(), Origin::Config)
            .with_context(|| format!("room {i}"))?;
    }
    let create_s = started.elapsed().as_secs_f64();
    if args.reserve_first {
        // All at once: a room answers at its next tick.
        let rooms = registry.list();
        let reservations = rooms
            .iter()
            .map(|(room, _)| room.reserve("p".into(), "n".into(), Duration::from_secs(1)));
        for (result, (room, _)) in futures_util::future::join_all(reservations)
            .await
            .into_iter()
            .zip(&rooms)
        {
            result.with_context(|| format!("reserving in {}", room.id()))?;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let rss_after_kib = rss_kib("self")?;
    let cpu_before = cpu_ticks("self")?;
    let window_started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.window)).await;
    let cpu_s = (cpu_ticks("self")? - cpu_before) as f64 / clock_ticks_per_sec();
    let cpu_pct = cpu_s / window_started.elapsed().as_secs_f64() * 100.0;
    shutdown.cancel();
    server.wait().await?;

    let rooms = f64::from(args.rooms.max(1));
    let report = Report {
        rooms: args.rooms,
        drones: args.drones,
        tick_rate: args.tick_rate,
        reserve_first: args.reserve_first,
        create_s,
        rss_before_kib,
        rss_after_kib,
        rss_per_room_kib: rss_after_kib.saturating_sub(rss_before_kib) as f64 / rooms,
        window_s: args.window,
        cpu_pct,
        cpu_pct_per_room: cpu_pct / rooms,
    };
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    if let Some(path) = &args.report_json {
        std::fs::write(path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
