//! Capacity search: how many active players one server process serves.
//!
//! Starts the release server as a child process (so that its CPU time and RSS can be
//! read from `/proc`), runs the bots in `--bot-processes` processes of the release
//! `bot-client` (`bot_client::loadgen`: each holds a share of every step's bots, and
//! their CPU time and RSS are read from `/proc` too), and raises the number of active
//! bots step by step — 100 per room, rooms created through the rooms API, 60 Hz tick,
//! 20 Hz snapshots, area of interest on — until a limit breaks:
//!
//! - a room's tick p99 (wall clock, from the server's own per-room statistics) above
//!   half the tick interval,
//! - the snapshot rate the bots receive below 90% of the target,
//! - any bot failing.
//!
//! It reports the largest passing count, and (unless `--idle-connections 0`) measures
//! the server's RSS per idle connection as `--bin idle_connections` does.
//!
//! ```sh
//! cargo build --release -p server -p bot-client
//! cargo run --release -p benches --bin capacity -- --report-json capacity.json --chart capacity.svg
//! # server on core 0, bots on core 1:
//! cargo run --release -p benches --bin capacity -- --server-cpus 0 --bot-cpus 1
//! ```
//!
//! Besides the criteria, each step reports what a player costs: the server's CPU time
//! over the measured window per active player per second
//! (`server_cpu_us_per_player_second`) and the bot processes' per bot per second
//! (`bot_cpu_us_per_bot_second`).
//!
//! Each step keeps the bots of the steps before it and adds rooms: ramp the new bots in,
//! wait `--warmup` seconds, then measure until every room has reported
//! `--windows` complete statistics windows (`--stats-interval-s` each, all started after
//! the warm-up) and at least `--measure` seconds have passed.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use benches::child::{
    LOAD_GENERATOR_ARGS, ServerChild, clock_ticks_per_sec, cpu_ticks, cpu_ticks_split,
    fd_soft_limit, rss_kib,
};
use benches::idle::{IdleConfig, IdleReport, Spawns};
use bot_client::api::ApiClient;
use bot_client::loadgen::{LoadGenOptions, LoadGenerator, SwarmSpec};
use bot_client::swarm::DEFAULT_INPUT_RATE;
use clap::Parser;
use plotters::prelude::*;
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(about = "Raise the number of active bots until the server breaks a limit")]
struct Args {
    /// Bot counts to try, in order (each rounded up to whole rooms).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "100,200,400,600,800,1000,1200,1600,2000,2400,3200,4000"
    )]
    steps: Vec<u32>,
    #[arg(long, default_value_t = 100)]
    bots_per_room: u32,
    #[arg(long, default_value_t = 60)]
    tick_rate: u16,
    #[arg(long, default_value_t = 20)]
    snapshot_rate: u16,
    /// Area-of-interest radius, metres (the server's default).
    #[arg(long, default_value_t = 48.0)]
    aoi_radius: f64,
    /// Drones in each room.
    #[arg(long, default_value_t = 20)]
    drones: u32,
    /// New bots connecting per second.
    #[arg(long, default_value_t = 200.0)]
    ramp: f64,
    /// Input messages per second per bot (the bot-client's `--input-rate`).
    #[arg(long, default_value_t = DEFAULT_INPUT_RATE)]
    input_rate: u16,
    /// Seconds after the last bot of a step connected before measuring.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Seconds measured per step, at least.
    #[arg(long, default_value_t = 10)]
    measure: u64,
    /// The server's statistics window, seconds.
    #[arg(long, default_value_t = 5)]
    stats_interval_s: u64,
    /// Complete statistics windows each room must report per step.
    #[arg(long, default_value_t = 2)]
    windows: usize,
    /// Idle connections for `rss_kib_per_idle_connection` (0: skip).
    #[arg(long, default_value_t = 5000)]
    idle_connections: u32,
    /// The server binary (build it with `cargo build --release -p server`).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/server"))]
    server_bin: PathBuf,
    /// Where to write the JSON report (also printed).
    #[arg(long)]
    report_json: Option<PathBuf>,
    /// Where to draw the chart (SVG, plotters): tick p99, lateness, CPU per
    /// player-second and snapshot rate against bots.
    #[arg(long)]
    chart: Option<PathBuf>,
    /// The tick duration the limit applies to: `cpu`, the CPU time of the thread running
    /// the tick, per tick (what the tick costs), or `wall`, the wall-clock duration, which on a
    /// machine shared with other work also counts the time the thread waited for a core.
    #[arg(long, value_enum, default_value_t = TickClock::Cpu)]
    tick_clock: TickClock,
    /// The bot-client binary the bots run in (default: `bot-client` beside
    /// `--server-bin`; build it with `cargo build --release -p bot-client`).
    #[arg(long)]
    bot_client_bin: Option<PathBuf>,
    /// Bot processes; every step's new bots are split over them. 0: one per
    /// `BOTS_PER_PROCESS` bots of the largest step, at least one.
    #[arg(long, default_value_t = 0)]
    bot_processes: u32,
    /// Run the server under `taskset -c LIST` (util-linux), e.g. `0`.
    #[arg(long)]
    server_cpus: Option<String>,
    /// Run the bot processes under `taskset -c LIST`, e.g. `1`.
    #[arg(long)]
    bot_cpus: Option<String>,
}

/// Bots per bot process when `--bot-processes` is 0: a quarter of the 20,000 open files
/// of `ulimit -n` here, so that no process comes near it, and few enough processes that
/// each has plenty of bots to batch its wake-ups over.
const BOTS_PER_PROCESS: u32 = 5_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum TickClock {
    Cpu,
    Wall,
}

#[derive(Debug, Clone, Serialize)]
struct Step {
    bots: u32,
    rooms: u32,
    passed: bool,
    /// Why it failed, empty if it passed.
    failures: Vec<String>,
    /// Tick p99 on the `tick_clock` of the worst room (its worst statistics window),
    /// ms: what the limit applies to.
    tick_ms_p99: f64,
    /// The same for the median room.
    tick_ms_p99_median_room: f64,
    /// Room thread CPU time per tick, p99, worst room, ms.
    tick_cpu_ms_p99: f64,
    /// Wall-clock tick duration p99, worst room, ms.
    tick_wall_ms_p99: f64,
    /// Tick start lateness p99, worst room, ms.
    lateness_ms_p99: f64,
    /// Snapshots received per bot per second over the target rate.
    snapshot_rate_ratio: f64,
    /// Snapshots the server skipped (full outbound queue), all rooms, in the windows.
    snapshots_dropped: u64,
    bots_failed: u64,
    /// Of one core: 200% is both cores of the machine.
    server_cpu_percent: f64,
    /// Server CPU time over the measured window per active player (bot) per second,
    /// microseconds.
    server_cpu_us_per_player_second: f64,
    /// The kernel's part of it (system time): on loopback, TCP for both ends of every
    /// send. `transport_floor` measures what the transport alone costs.
    server_system_us_per_player_second: f64,
    server_rss_mib: f64,
    /// The bot processes (all of them), of one core.
    bots_cpu_percent: f64,
    /// Their CPU time over the window per bot per second, microseconds.
    bot_cpu_us_per_bot_second: f64,
    /// The bot processes' RSS, summed.
    bots_rss_mib: f64,
    measured_s: f64,
    connect_s: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    max_bots: u32,
    rooms: u32,
    tick_ms_p99_at_max: f64,
    tick_cpu_ms_p99_at_max: f64,
    tick_wall_ms_p99_at_max: f64,
    snapshot_rate_ratio_at_max: f64,
    server_cpu_percent_at_max: f64,
    server_cpu_us_per_player_second_at_max: f64,
    server_rss_mib_at_max: f64,
    bots_cpu_percent_at_max: f64,
    bot_cpu_us_per_bot_second_at_max: f64,
    /// Processes the bots ran in.
    bot_processes: u32,
    /// `taskset` CPU lists of the server and the bots (`None`: not pinned).
    server_cpus: Option<String>,
    bot_cpus: Option<String>,
    rss_kib_per_idle_connection: Option<f64>,
    /// The limit that broke first (and at how many bots), or why the search stopped.
    limit_hit: String,
    tick_budget_ms: f64,
    tick_clock: TickClock,
    bots_per_room: u32,
    tick_rate: u16,
    snapshot_rate: u16,
    input_rate: u16,
    aoi_radius_m: f64,
    drones_per_room: u32,
    cores: usize,
    steps: Vec<Step>,
    /// Error text → bots that failed with it, over the whole search.
    bot_errors: std::collections::BTreeMap<String, u64>,
    idle: Option<IdleReport>,
}

/// A room's statistics windows seen during a step, by the tick that closed them.
#[derive(Debug, Default, Clone)]
struct RoomWindows {
    seen: Vec<(u64, serde_json::Value)>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("error"))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let bpr = args.bots_per_room.max(1);
    let mut steps: Vec<u32> = args
        .steps
        .iter()
        .map(|&n| n.div_ceil(bpr).max(1) * bpr)
        .collect();
    steps.dedup();
    let max_step = steps.iter().copied().max().unwrap_or(bpr);
    let tick_budget_ms = 1000.0 / f64::from(args.tick_rate) / 2.0;
    let clk = clock_ticks_per_sec();
    let fd_limit = fd_soft_limit().unwrap_or(u64::MAX);
    let bot_processes = if args.bot_processes > 0 {
        args.bot_processes
    } else {
        max_step.div_ceil(BOTS_PER_PROCESS).max(1)
    };
    let bot_bin = args.bot_client_bin.clone().unwrap_or_else(|| {
        args.server_bin
            .parent()
            .map_or_else(|| PathBuf::from("bot-client"), |dir| dir.join("bot-client"))
    });
    if !bot_bin.exists() {
        bail!(
            "{} does not exist: build it with `cargo build --release -p bot-client` (or pass --bot-client-bin)",
            bot_bin.display()
        );
    }

    let server_args: Vec<String> = [
        "--drones",
        "0",
        "--max-connections",
        &(max_step + 1000).to_string(),
        "--max-rooms",
        &(max_step / bpr + 10).to_string(),
        "--stats-interval-s",
        &args.stats_interval_s.to_string(),
        "--tick-rate",
        &args.tick_rate.to_string(),
        "--snapshot-rate",
        &args.snapshot_rate.to_string(),
        "--aoi-radius",
        &args.aoi_radius.to_string(),
    ]
    .into_iter()
    .chain(LOAD_GENERATOR_ARGS)
    .map(str::to_owned)
    .collect();
    let server = ServerChild::start_pinned(
        &args.server_bin,
        &server_args,
        "warn",
        args.server_cpus.as_deref(),
    )
    .await?;
    let spid = server.pid().to_string();
    eprintln!("server pid {spid} at {}", server.http_base);
    let api = ApiClient::new(&server.http_base, None, None)?;

    let mut bots = LoadGenerator::spawn(&LoadGenOptions {
        bin: bot_bin,
        processes: bot_processes,
        pin_cpus: args.bot_cpus.clone(),
    })?;
    let bot_pids: Vec<String> = bots.pids().iter().map(u32::to_string).collect();
    eprintln!(
        "{bot_processes} bot processes (pids {}){}",
        bot_pids.join(", "),
        args.bot_cpus
            .as_deref()
            .map_or(String::new(), |c| format!(" on CPUs {c}"))
    );
    let live = bots.live();
    let mut rooms: Vec<String> = Vec::new();
    let mut results: Vec<Step> = Vec::new();
    let mut limit_hit = String::new();

    for (k, &n) in steps.iter().enumerate() {
        let active = rooms.len() as u32 * bpr;
        if n <= active {
            continue;
        }
        // Each bot process holds its share of the sockets (and inherits this limit).
        if u64::from(n.div_ceil(bot_processes)) + 200 > fd_limit {
            limit_hit = format!(
                "open-file limit: {n} bots in {bot_processes} processes need more than a process's {fd_limit} descriptors (raise `ulimit -n` or --bot-processes)"
            );
            break;
        }
        // New rooms for the new bots. A server too busy to create one has reached a
        // limit too: the search stops there and reports, like any other.
        let mut new_rooms = Vec::new();
        let mut refused = None;
        for r in (active / bpr)..(n / bpr) {
            let id = format!("cap-{}", r + 1);
            let spec = serde_json::json!({
                "id": id,
                "max_players": bpr * 2,
                "tick_rate": args.tick_rate,
                "snapshot_rate": args.snapshot_rate,
                "drones": args.drones,
                "aoi_radius": args.aoi_radius,
            });
            if let Err(e) = api.create_room(&spec).await {
                refused = Some(format!("room creation at {n} bots: room {id}: {e}"));
                break;
            }
            new_rooms.push(id);
        }
        if let Some(why) = refused {
            limit_hit = why;
            break;
        }
        rooms.extend(new_rooms.iter().cloned());
        let added = n - active;
        eprintln!(
            "step {}: {n} bots in {} rooms (+{added})",
            k + 1,
            rooms.len()
        );
        let connect_start = Instant::now();
        bots.add(&SwarmSpec {
            url: server.http_base.clone(),
            bots: added,
            first_index: 0,
            duration_s: 24.0 * 3600.0,
            ramp_per_sec: args.ramp,
            seed: u64::from(active),
            name_prefix: format!("s{}b", k + 1),
            rooms: Some(new_rooms),
            admin_token: None,
            churn_s: None,
            ca_cert: None,
            budget: None,
            input_rate: args.input_rate,
        })
        .await;

        // Ramp: wait for every bot of the step to connect.
        let ramp_deadline =
            connect_start + Duration::from_secs_f64(f64::from(added) / args.ramp + 30.0);
        let mut failures = Vec::new();
        loop {
            let connected = live.connected.load(Ordering::Relaxed);
            let failed = live.failed.load(Ordering::Relaxed);
            if failed > 0 {
                failures.push(format!("{failed} bots failed while connecting"));
                break;
            }
            if connected >= u64::from(n) {
                break;
            }
            if Instant::now() > ramp_deadline {
                failures.push(format!("only {connected} of {n} bots connected"));
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let connect_s = connect_start.elapsed().as_secs_f64();
        if !failures.is_empty() {
            limit_hit = format!("bot failure at {n} bots: {}", failures.join("; "));
            results.push(Step {
                bots: n,
                rooms: rooms.len() as u32,
                passed: false,
                failures,
                tick_ms_p99: f64::NAN,
                tick_ms_p99_median_room: f64::NAN,
                tick_cpu_ms_p99: f64::NAN,
                tick_wall_ms_p99: f64::NAN,
                lateness_ms_p99: f64::NAN,
                snapshot_rate_ratio: 0.0,
                snapshots_dropped: 0,
                bots_failed: live.failed.load(Ordering::Relaxed),
                server_cpu_percent: 0.0,
                server_cpu_us_per_player_second: f64::NAN,
                server_system_us_per_player_second: f64::NAN,
                server_rss_mib: rss_kib(&spid).unwrap_or(0) as f64 / 1024.0,
                bots_cpu_percent: 0.0,
                bot_cpu_us_per_bot_second: f64::NAN,
                bots_rss_mib: bots_rss_kib(&bot_pids) as f64 / 1024.0,
                measured_s: 0.0,
                connect_s,
            });
            break;
        }
        tokio::time::sleep(Duration::from_secs(args.warmup)).await;

        // Measure.
        let t0 = Instant::now();
        let (server_cpu0, bots_cpu0) = (cpu_ticks_split(&spid)?, bots_cpu_ticks(&bot_pids));
        let snaps0 = live.snapshots.load(Ordering::Relaxed);
        let mut windows = vec![RoomWindows::default(); rooms.len()];
        let accept_after = Duration::from_secs(args.stats_interval_s + 1);
        let give_up = Duration::from_secs(args.measure.max(args.stats_interval_s * 4) + 10);
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let elapsed = t0.elapsed();
            if elapsed >= accept_after {
                let polls = rooms.iter().map(|id| api.room(id));
                let answers = futures_util::future::join_all(polls).await;
                for (w, answer) in windows.iter_mut().zip(answers) {
                    let Ok(detail) = answer else { continue };
                    let stats = detail["stats"].clone();
                    let Some(tick) = stats["tick"].as_u64() else {
                        continue;
                    };
                    if tick > 0 && !w.seen.iter().any(|(t, _)| *t == tick) {
                        w.seen.push((tick, stats));
                    }
                }
            }
            let enough = windows.iter().all(|w| w.seen.len() >= args.windows);
            if (enough && elapsed >= Duration::from_secs(args.measure))
                || elapsed >= give_up
                || live.failed.load(Ordering::Relaxed) > 0
            {
                break;
            }
        }
        let dt = t0.elapsed().as_secs_f64();
        let server_cpu1 = cpu_ticks_split(&spid)?;
        let server_cpu_s =
            ((server_cpu1.0 + server_cpu1.1) - (server_cpu0.0 + server_cpu0.1)) as f64 / clk;
        let server_system_s = (server_cpu1.1 - server_cpu0.1) as f64 / clk;
        let bots_cpu_s = bots_cpu_ticks(&bot_pids).saturating_sub(bots_cpu0) as f64 / clk;
        let (server_cpu, bots_cpu) = (server_cpu_s / dt * 100.0, bots_cpu_s / dt * 100.0);
        let player_seconds = f64::from(n) * dt;
        let snaps = live.snapshots.load(Ordering::Relaxed) - snaps0;
        let ratio = snaps as f64 / f64::from(n) / dt / f64::from(args.snapshot_rate);
        let failed = live.failed.load(Ordering::Relaxed);

        let field = |w: &RoomWindows, name: &str| {
            w.seen
                .iter()
                .filter_map(|(_, s)| s[name].as_f64())
                .fold(f64::NAN, f64::max)
        };
        let clock_field = match args.tick_clock {
            TickClock::Cpu => "tick_cpu_ms_p99",
            TickClock::Wall => "tick_ms_p99",
        };
        let mut room_p99: Vec<f64> = windows.iter().map(|w| field(w, clock_field)).collect();
        let missing = room_p99.iter().filter(|v| v.is_nan()).count();
        room_p99.retain(|v| !v.is_nan());
        room_p99.sort_by(f64::total_cmp);
        let worst = room_p99.last().copied().unwrap_or(f64::NAN);
        let median = room_p99
            .get(room_p99.len() / 2)
            .copied()
            .unwrap_or(f64::NAN);
        let cpu_p99 = windows
            .iter()
            .map(|w| field(w, "tick_cpu_ms_p99"))
            .fold(f64::NAN, f64::max);
        let wall_p99 = windows
            .iter()
            .map(|w| field(w, "tick_ms_p99"))
            .fold(f64::NAN, f64::max);
        let lateness = windows
            .iter()
            .map(|w| field(w, "lateness_ms_p99"))
            .fold(f64::NAN, f64::max);
        let dropped: u64 = windows
            .iter()
            .flat_map(|w| w.seen.iter())
            .filter_map(|(_, s)| s["snapshots_dropped"].as_u64())
            .sum();

        let mut failures = Vec::new();
        if missing > 0 {
            failures.push(format!("{missing} rooms reported no statistics window"));
        }
        if worst.is_nan() || worst > tick_budget_ms {
            failures.push(format!(
                "tick p99 ({:?}) {worst:.2} ms > {tick_budget_ms:.2} ms (half the tick interval)",
                args.tick_clock
            ));
        }
        if ratio < 0.9 {
            failures.push(format!(
                "snapshot rate {:.1}% of target < 90%",
                ratio * 100.0
            ));
        }
        if failed > 0 {
            failures.push(format!("{failed} bots failed"));
        }
        let step = Step {
            bots: n,
            rooms: rooms.len() as u32,
            passed: failures.is_empty(),
            failures: failures.clone(),
            tick_ms_p99: worst,
            tick_ms_p99_median_room: median,
            tick_cpu_ms_p99: cpu_p99,
            tick_wall_ms_p99: wall_p99,
            lateness_ms_p99: lateness,
            snapshot_rate_ratio: ratio,
            snapshots_dropped: dropped,
            bots_failed: failed,
            server_cpu_percent: server_cpu,
            server_cpu_us_per_player_second: server_cpu_s * 1e6 / player_seconds,
            server_system_us_per_player_second: server_system_s * 1e6 / player_seconds,
            server_rss_mib: rss_kib(&spid)? as f64 / 1024.0,
            bots_cpu_percent: bots_cpu,
            bot_cpu_us_per_bot_second: bots_cpu_s * 1e6 / player_seconds,
            bots_rss_mib: bots_rss_kib(&bot_pids) as f64 / 1024.0,
            measured_s: dt,
            connect_s,
        };
        eprintln!(
            "  {n} bots: tick p99 {:.2} ms (median room {:.2}; cpu {:.2}, wall {:.2}), snapshots {:.1}%, server cpu {:.0}% ({:.0} µs/player-s, {:.0} in the kernel), bots cpu {:.0}% ({:.0} µs/bot-s), server rss {:.0} MiB{}",
            step.tick_ms_p99,
            step.tick_ms_p99_median_room,
            step.tick_cpu_ms_p99,
            step.tick_wall_ms_p99,
            step.snapshot_rate_ratio * 100.0,
            step.server_cpu_percent,
            step.server_cpu_us_per_player_second,
            step.server_system_us_per_player_second,
            step.bots_cpu_percent,
            step.bot_cpu_us_per_bot_second,
            step.server_rss_mib,
            if step.passed {
                String::new()
            } else {
                format!("  FAIL: {}", failures.join("; "))
            }
        );
        results.push(step);
        if !failures.is_empty() {
            limit_hit = format!("at {n} bots: {}", failures.join("; "));
            break;
        }
    }
    if limit_hit.is_empty() {
        limit_hit = format!("none: every step passed, up to {max_step} bots");
    }

    eprintln!("stopping the bots");
    // Why bots failed, from the bot processes' merged report (bots not started because
    // the run ended before their turn are not failures of the server).
    let mut bot_errors: std::collections::BTreeMap<String, u64> = Default::default();
    if let Ok(tally) = tokio::time::timeout(Duration::from_secs(60), bots.stop()).await {
        for (error, count) in tally.errors {
            if !error.starts_with("not started") && !error.contains("the run ended") {
                *bot_errors.entry(error).or_default() += count;
            }
        }
    }
    server.stop()?;

    let idle = if args.idle_connections > 0 {
        eprintln!(
            "measuring RSS per idle connection ({})",
            args.idle_connections
        );
        let report = benches::idle::measure(&IdleConfig {
            connections: args.idle_connections,
            server_bin: args.server_bin.clone(),
            aoi_radius: 1.0,
            spawns: Spawns::Spread,
            concurrency: 256,
            settle_s: 5,
            log: "info".into(),
        })
        .await?;
        if report.clients_failed > 0 {
            bail!(
                "{} idle clients lost their connection",
                report.clients_failed
            );
        }
        Some(report)
    } else {
        None
    };

    let best = results.iter().rev().find(|s| s.passed);
    let get = |f: fn(&Step) -> f64| best.map_or(f64::NAN, f);
    let report = Report {
        max_bots: best.map_or(0, |s| s.bots),
        rooms: best.map_or(0, |s| s.rooms),
        tick_ms_p99_at_max: get(|s| s.tick_ms_p99),
        tick_cpu_ms_p99_at_max: get(|s| s.tick_cpu_ms_p99),
        tick_wall_ms_p99_at_max: get(|s| s.tick_wall_ms_p99),
        snapshot_rate_ratio_at_max: get(|s| s.snapshot_rate_ratio),
        server_cpu_percent_at_max: get(|s| s.server_cpu_percent),
        server_cpu_us_per_player_second_at_max: get(|s| s.server_cpu_us_per_player_second),
        server_rss_mib_at_max: get(|s| s.server_rss_mib),
        bots_cpu_percent_at_max: get(|s| s.bots_cpu_percent),
        bot_cpu_us_per_bot_second_at_max: get(|s| s.bot_cpu_us_per_bot_second),
        bot_processes,
        server_cpus: args.server_cpus.clone(),
        bot_cpus: args.bot_cpus.clone(),
        rss_kib_per_idle_connection: idle.as_ref().map(|i| i.rss_kib_per_idle_connection),
        limit_hit,
        tick_budget_ms,
        tick_clock: args.tick_clock,
        bots_per_room: bpr,
        tick_rate: args.tick_rate,
        snapshot_rate: args.snapshot_rate,
        input_rate: args.input_rate,
        aoi_radius_m: args.aoi_radius,
        drones_per_room: args.drones,
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        steps: results,
        bot_errors,
        idle,
    };
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    if let Some(path) = &args.report_json {
        std::fs::write(path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.chart {
        chart(path, &report).with_context(|| format!("cannot draw {}", path.display()))?;
        eprintln!("chart written to {}", path.display());
    }
    Ok(())
}

/// CPU clock ticks of the bot processes, summed (a process gone counts nothing: its
/// bots have failed, which the step reports).
fn bots_cpu_ticks(pids: &[String]) -> u64 {
    pids.iter().filter_map(|pid| cpu_ticks(pid).ok()).sum()
}

/// RSS of the bot processes, summed, KiB.
fn bots_rss_kib(pids: &[String]) -> u64 {
    pids.iter().filter_map(|pid| rss_kib(pid).ok()).sum()
}

/// One panel of the chart: title, y axis, the limit (a dashed line), and (name,
/// colour, value per step) series.
struct Panel<'a> {
    title: String,
    y_desc: &'a str,
    limit: Option<f64>,
    series: Vec<(&'a str, RGBColor, Vec<f64>)>,
    /// Where the legend goes: where the lines are not.
    legend: SeriesLabelPosition,
}

/// Four panels against active bots: tick p99 (worst and median room, wall clock) with
/// the limit; tick start lateness p99 (worst room) with the 2 ms goal; CPU per player-
/// second (server) and per bot-second (bots); snapshots received over the target rate.
fn chart(path: &std::path::Path, r: &Report) -> anyhow::Result<()> {
    let steps: Vec<&Step> = r.steps.iter().filter(|s| s.measured_s > 0.0).collect();
    let bots: Vec<f64> = steps.iter().map(|s| f64::from(s.bots)).collect();
    let max_x = bots.iter().copied().fold(100.0, f64::max) * 1.05;
    let of = |f: fn(&Step) -> f64| steps.iter().map(|s| f(s)).collect::<Vec<f64>>();
    let panels = [
        Panel {
            title: format!("tick p99, ms ({:?} time: the limit)", r.tick_clock),
            legend: SeriesLabelPosition::UpperLeft,
            y_desc: "ms",
            limit: Some(r.tick_budget_ms),
            series: vec![
                (
                    "worst room",
                    RGBColor(0xc0, 0x39, 0x2b),
                    of(|s| s.tick_ms_p99),
                ),
                (
                    "median room",
                    RGBColor(0x29, 0x80, 0xb9),
                    of(|s| s.tick_ms_p99_median_room),
                ),
                (
                    "wall clock, worst room",
                    RGBColor(0xaa, 0xaa, 0xaa),
                    of(|s| s.tick_wall_ms_p99),
                ),
            ],
        },
        Panel {
            title: "tick start lateness p99, worst room, ms (goal 2 ms)".to_owned(),
            legend: SeriesLabelPosition::UpperLeft,
            y_desc: "ms",
            limit: Some(2.0),
            series: vec![(
                "lateness p99",
                RGBColor(0x8e, 0x44, 0xad),
                of(|s| s.lateness_ms_p99),
            )],
        },
        Panel {
            title: "CPU per player-second, µs".to_owned(),
            legend: SeriesLabelPosition::LowerLeft,
            y_desc: "µs",
            limit: None,
            series: vec![
                (
                    "server, per active player",
                    RGBColor(0xc0, 0x39, 0x2b),
                    of(|s| s.server_cpu_us_per_player_second),
                ),
                (
                    "bots, per bot",
                    RGBColor(0x27, 0xae, 0x60),
                    of(|s| s.bot_cpu_us_per_bot_second),
                ),
            ],
        },
        Panel {
            title: "snapshots received / target".to_owned(),
            legend: SeriesLabelPosition::LowerLeft,
            y_desc: "ratio",
            limit: Some(0.9),
            series: vec![(
                "snapshot rate ratio",
                RGBColor(0x27, 0xae, 0x60),
                of(|s| s.snapshot_rate_ratio),
            )],
        },
    ];
    let root = SVGBackend::new(path, (1000, 720)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!(
            "Tickwire capacity: {} bots per room, {} Hz tick, {} Hz snapshots, {} cores; max_bots {} ({})",
            r.bots_per_room, r.tick_rate, r.snapshot_rate, r.cores, r.max_bots, r.limit_hit
        ),
        ("sans-serif", 15),
    )?;
    for (area, panel) in root.split_evenly((2, 2)).iter().zip(&panels) {
        let finite = |v: &f64| v.is_finite();
        let max_y = panel
            .series
            .iter()
            .flat_map(|(_, _, ys)| ys.iter().copied().filter(finite))
            .chain(panel.limit)
            .fold(0.0, f64::max)
            .max(f64::EPSILON)
            * 1.15;
        let mut c = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 13))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..max_x, 0.0..max_y)?;
        c.configure_mesh()
            .light_line_style(WHITE)
            .x_desc("active bots")
            .y_desc(panel.y_desc)
            .draw()?;
        if let Some(limit) = panel.limit {
            c.draw_series(DashedLineSeries::new(
                [(0.0, limit), (max_x, limit)],
                6,
                4,
                BLACK.stroke_width(1),
            ))?
            .label(format!("limit {limit:.2}"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK));
        }
        for (name, colour, ys) in &panel.series {
            let points: Vec<(f64, f64)> = bots
                .iter()
                .zip(ys)
                .filter(|(_, y)| y.is_finite())
                .map(|(x, y)| (*x, *y))
                .collect();
            let colour = *colour;
            c.draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour));
            c.draw_series(points.iter().map(|p| Circle::new(*p, 3, colour.filled())))?;
        }
        c.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .position(panel.legend.clone())
            .draw()?;
    }
    root.present()?;
    Ok(())
}
