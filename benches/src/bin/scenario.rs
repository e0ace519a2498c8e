//! Runs a named scenario: starts a real server and a real bot swarm in this process,
//! lets them warm up, measures for `--duration` seconds, and reports bandwidth, view
//! sizes, tick cost and sync health. See BENCHMARKS.md for the presets and the method.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use bot_client::swarm::{DEFAULT_INPUT_RATE, SwarmConfig, run_swarm};
use clap::Parser;
use hdrhistogram::Histogram;
use serde::Serialize;
use server::ServerConfig;
use server::room::stats::{RoomStats, new_histogram};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(about = "Run a Tickwire scenario (server + bots in one process) and report")]
struct Args {
    /// Scenario preset: `arena-64` (64 bots, 1,000 drones, 60 Hz tick, 20 Hz snapshots,
    /// default AOI on the 200 m arena), `crowd` (16 bots, 3,000 drones, 150 m AOI: for
    /// byte budgets), `ball-32` (the ball game, 32 bots on the pitch, every one seeing
    /// the whole pitch) or `smoke` (8 bots, 100 drones; a quick check).
    #[arg(long, default_value = "arena-64")]
    preset: String,
    /// `delta` or `full` (the naive baseline).
    #[arg(long, default_value = "delta")]
    snapshots: String,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Seconds for bots to connect and settle before measuring.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// `bits` or `bytes`: payload packing (delta only).
    #[arg(long, default_value = "bits")]
    packing: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Snapshot bytes per second every bot asks for (`SnapshotSettings`); the report
    /// then holds the most bytes any bot received within one second against it.
    #[arg(long)]
    budget: Option<u32>,
    /// Snapshots per second, instead of the preset's (20): up to its tick rate, e.g.
    /// 60 for a snapshot every tick.
    #[arg(long)]
    snapshot_rate: Option<u16>,
    /// Input messages per second per bot (the bot-client's `--input-rate`).
    #[arg(long, default_value_t = DEFAULT_INPUT_RATE)]
    input_rate: u16,
    /// Where to write the JSON report.
    #[arg(long)]
    report_json: Option<PathBuf>,
}

struct Preset {
    /// The room's game, and the map file (relative to the repository) it plays on.
    game: &'static str,
    map: Option<&'static str>,
    bots: u32,
    drones: u32,
    tick_rate: u16,
    snapshot_rate: u16,
    aoi_radius: f64,
}

fn preset(name: &str) -> anyhow::Result<Preset> {
    Ok(match name {
        "arena-64" => Preset {
            game: "arena",
            map: None,
            bots: 64,
            drones: 1000,
            tick_rate: 60,
            snapshot_rate: 20,
            aoi_radius: 48.0,
        },
        // A crowd no small budget can keep fresh: 2,500–2,800 entities in each view.
        "crowd" => Preset {
            game: "arena",
            map: None,
            bots: 16,
            drones: 3000,
            tick_rate: 60,
            snapshot_rate: 20,
            aoi_radius: 150.0,
        },
        // The second game crowded: 32 players on a 64 m × 36 m pitch, all in view.
        "ball-32" => Preset {
            game: "ball",
            map: Some("assets/maps/pitch.json"),
            bots: 32,
            drones: 0,
            tick_rate: 60,
            snapshot_rate: 20,
            aoi_radius: 80.0,
        },
        "smoke" => Preset {
            game: "arena",
            map: None,
            bots: 8,
            drones: 100,
            tick_rate: 60,
            snapshot_rate: 20,
            aoi_radius: 48.0,
        },
        other => bail!("unknown preset {other:?} (known: arena-64, crowd, ball-32, smoke)"),
    })
}

#[derive(Debug, Serialize)]
struct Report {
    preset: String,
    /// Snapshots per second the room sent at (the preset's, or `--snapshot-rate`).
    snapshot_rate: u16,
    snapshots: String,
    packing: String,
    bots: u32,
    bots_failed: u32,
    duration_s: u64,
    /// Replicated entities in the room (mean over the window).
    entities: f64,
    /// Entities in a client's view per snapshot (delta mode; all entities in full mode).
    entities_in_view_mean: f64,
    /// Bytes each client received per second (all messages), mean and 95th percentile.
    bytes_per_client_per_sec_mean: f64,
    bytes_per_client_per_sec_p95: f64,
    /// Delta payload bytes per entity record sent (created or changed); 0 in full mode.
    bytes_per_changed_entity: f64,
    /// Delta payload bytes per moving entity in view per snapshot: what motion costs,
    /// cruising trajectories (0 bytes) included; 0 in full mode.
    bytes_per_moving_entity: f64,
    /// Mean bytes of one snapshot message as queued by the server.
    bytes_per_snapshot: f64,
    snapshots_per_client_per_sec: f64,
    snapshots_per_client_per_sec_min: f64,
    tick_ms_p50: f64,
    tick_ms_p99: f64,
    tick_ms_max: f64,
    replication_ms_p99: f64,
    /// The same in CPU time of the thread running the tick (robust to a busy machine).
    tick_cpu_ms_p50: f64,
    tick_cpu_ms_p99: f64,
    replication_cpu_ms_p99: f64,
    /// Checksum failures seen by bots plus desync reports the server received.
    desyncs: u64,
    desync_reports_at_server: u64,
    /// Keyframes bots received (one per join, plus one per desync).
    keyframes: u64,
    snapshots_dropped: u64,
    changes_deferred_by_budget: u64,
    /// The budget bots asked for (bytes per second), if any.
    budget: Option<u32>,
    /// Most snapshot bytes any bot received within one second.
    bytes_max_1s: u64,
    /// How stale entities in views were, per entity and snapshot (0 for current ones).
    staleness_ms_p50: f64,
    staleness_ms_p99: f64,
    /// Mean area-of-interest radius of the snapshots sent (shrinks under a budget).
    radius_m_mean: f64,
    /// Client snapshot slots passed because the bucket could not pay for one.
    budget_skipped: u64,
    rtt_ms_p99: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .init();
    let args = Args::parse();
    let mut p = preset(&args.preset)?;
    if let Some(rate) = args.snapshot_rate {
        if rate == 0 || rate > p.tick_rate {
            anyhow::bail!(
                "--snapshot-rate: 1 to the tick rate ({}) expected",
                p.tick_rate
            );
        }
        p.snapshot_rate = rate;
    }
    let tick = p.tick_rate.to_string();
    let snap = p.snapshot_rate.to_string();
    let drones = p.drones.to_string();
    let seed = args.seed.to_string();
    let aoi = p.aoi_radius.to_string();
    let seats = p.bots.to_string();
    let mut flags = vec!["server", "--game", p.game, "--max-players", &seats];
    let map = p
        .map
        .map(|m| format!("{}/../{m}", env!("CARGO_MANIFEST_DIR")));
    if let Some(map) = &map {
        flags.extend(["--map", map.as_str()]);
    }
    let settings = ServerConfig::try_parse_from(flags.into_iter().chain([
        "--aoi-radius",
        &aoi,
        "--tick-rate",
        &tick,
        "--snapshot-rate",
        &snap,
        "--drones",
        &drones,
        "--snapshots",
        &args.snapshots,
        "--delta-packing",
        &args.packing,
        "--seed",
        &seed,
        "--stats-interval-s",
        "1",
    ]))?
    .validate()?;

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let shutdown = CancellationToken::new();
    let server = server::start(listener, settings, shutdown.clone())?;
    let url = format!("ws://{}/ws", server.local_addr());
    let mut stats = server.room().stats();

    let swarm_stop = CancellationToken::new();
    let swarm = tokio::spawn(run_swarm(
        SwarmConfig {
            url: url.clone(),
            bots: p.bots,
            duration: Duration::from_secs(args.warmup + args.duration),
            ramp_per_sec: f64::from(p.bots),
            seed: args.seed,
            name_prefix: "bot".into(),
            progress: false,
            budget: args.budget,
            input_rate: args.input_rate,
            ..SwarmConfig::default()
        },
        swarm_stop.clone(),
    ));

    // Skip the intervals that overlap the warm-up, then sum the measured ones.
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    stats.mark_unchanged();
    let mut window: Vec<RoomStats> = Vec::new();
    while window.len() < args.duration as usize {
        tokio::time::timeout(Duration::from_secs(5), stats.changed())
            .await
            .context("the room stopped reporting")??;
        window.push(stats.borrow_and_update().clone());
    }
    let swarm_report = swarm.await?;
    shutdown.cancel();
    server.wait().await?;

    let mut tick_us: Histogram<u64> = new_histogram();
    let mut replication_us: Histogram<u64> = new_histogram();
    let mut tick_cpu_us: Histogram<u64> = new_histogram();
    let mut replication_cpu_us: Histogram<u64> = new_histogram();
    let mut staleness_ms: Histogram<u64> = new_histogram();
    for s in &window {
        staleness_ms.add(&s.staleness_ms)?;
        tick_us.add(&s.tick_us)?;
        replication_us.add(&s.replication_us)?;
        tick_cpu_us.add(&s.tick_cpu_us)?;
        replication_cpu_us.add(&s.replication_cpu_us)?;
    }
    let sum = |f: fn(&RoomStats) -> u64| window.iter().map(f).sum::<u64>();
    let sent = sum(|s| s.snapshots_sent).max(1) as f64;
    let records = (sum(|s| s.created) + sum(|s| s.changed)).max(1) as f64;
    let ms = |us: u64| us as f64 / 1000.0;
    let delta = args.snapshots == "delta";
    let entities =
        window.iter().map(|s| s.entities as f64).sum::<f64>() / window.len().max(1) as f64;
    let report = Report {
        preset: args.preset.clone(),
        snapshot_rate: p.snapshot_rate,
        snapshots: args.snapshots.clone(),
        packing: args.packing.clone(),
        bots: swarm_report.bots_connected,
        bots_failed: swarm_report.bots_failed,
        duration_s: args.duration,
        entities,
        entities_in_view_mean: if delta {
            sum(|s| s.in_view) as f64 / sent
        } else {
            entities
        },
        bytes_per_client_per_sec_mean: swarm_report.bytes_in_per_bot_per_sec,
        bytes_per_client_per_sec_p95: swarm_report.bytes_in_per_bot_per_sec_p95,
        bytes_per_changed_entity: if delta {
            sum(|s| s.payload_bytes) as f64 / records
        } else {
            0.0
        },
        bytes_per_moving_entity: if delta {
            sum(|s| s.payload_bytes) as f64 / sum(|s| s.moving_in_view).max(1) as f64
        } else {
            0.0
        },
        bytes_per_snapshot: sum(|s| s.bytes_out) as f64 / sent,
        snapshots_per_client_per_sec: swarm_report.snapshots_per_bot_per_sec,
        snapshots_per_client_per_sec_min: swarm_report.snapshots_per_bot_per_sec_min,
        tick_ms_p50: ms(tick_us.value_at_quantile(0.5)),
        tick_ms_p99: ms(tick_us.value_at_quantile(0.99)),
        tick_ms_max: ms(tick_us.max()),
        replication_ms_p99: ms(replication_us.value_at_quantile(0.99)),
        tick_cpu_ms_p50: ms(tick_cpu_us.value_at_quantile(0.5)),
        tick_cpu_ms_p99: ms(tick_cpu_us.value_at_quantile(0.99)),
        replication_cpu_ms_p99: ms(replication_cpu_us.value_at_quantile(0.99)),
        desyncs: swarm_report.desyncs + sum(|s| s.desyncs),
        desync_reports_at_server: sum(|s| s.desyncs),
        keyframes: swarm_report.keyframes,
        snapshots_dropped: sum(|s| s.snapshots_dropped),
        changes_deferred_by_budget: sum(|s| s.deferred),
        budget: args.budget,
        bytes_max_1s: swarm_report.bytes_in_max_1s,
        staleness_ms_p50: staleness_ms.value_at_quantile(0.5) as f64,
        staleness_ms_p99: staleness_ms.value_at_quantile(0.99) as f64,
        radius_m_mean: sum(|s| s.radius_q_sum) as f64 / 64.0 / sent,
        budget_skipped: sum(|s| s.budget_skipped),
        rtt_ms_p99: swarm_report.rtt_ms_p99,
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
