//! Measures the server's memory per idle connected client: starts the release server as
//! a child process, reads its resident set size (VmRSS), connects N real WebSocket
//! clients that complete the handshake (Hello → Welcome) and ask for one snapshot per
//! second at the smallest byte budget, keeps reading their sockets so they stay healthy
//! (pongs included), and reads the RSS again.
//!
//! ```sh
//! cargo build --release -p server
//! cargo run --release -p benches --bin idle_connections -- --connections 5000
//! ```
//!
//! The process needs about N + 100 file descriptors (the server as many again, in its
//! own process): `ulimit -n` must allow that.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bot_client::{Client, Event};
use clap::Parser;
use serde::Serialize;
use shared::map::{DEFAULT_ARENA_JSON, Map};
use shared::rules::PLAYER_RADIUS;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(about = "Server RSS per idle connected WebSocket client")]
struct Args {
    /// Clients to connect.
    #[arg(long, default_value_t = 5000)]
    connections: u32,
    /// The server binary (build it with `cargo build --release -p server`).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/server"))]
    server_bin: PathBuf,
    /// Area-of-interest radius passed to the server, in metres. Every client is a player
    /// in one 200 m arena; with the server's default (48 m) each one sees hundreds of
    /// the others, and the per-client replication state, not the connection, dominates.
    #[arg(long, default_value_t = 1.0)]
    aoi_radius: f64,
    /// `spread`: the arena with a spawn point every 2 m, so players are scattered and
    /// each view holds about one player; `map`: the arena's own 17 spawn points, where
    /// 5,000 players stand in 17 crowds of ~300 that all see each other.
    #[arg(long, value_enum, default_value_t = Spawns::Spread)]
    spawns: Spawns,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Seconds to wait after the last client joined before reading the RSS, so that
    /// keyframes have gone out and buffers have reached their steady size.
    #[arg(long, default_value_t = 5)]
    settle_s: u64,
    /// The server's log filter (`RUST_LOG`); its default is `info`, under which every
    /// session keeps a tracing span.
    #[arg(long, default_value = "info")]
    log: String,
    /// Where to write the JSON report (also printed).
    #[arg(long)]
    report_json: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Spawns {
    Spread,
    Map,
}

#[derive(Debug, Serialize)]
struct Report {
    connections: u32,
    rss_before_kib: u64,
    rss_after_kib: u64,
    rss_kib_per_idle_connection: f64,
    aoi_radius_m: f64,
    spawns: Spawns,
    clients_failed: u64,
    connect_seconds: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    check_fd_limit(args.connections)?;
    let n = args.connections.to_string();
    let cap = (args.connections + 100).to_string();
    let aoi = args.aoi_radius.to_string();
    let map_file =
        std::env::temp_dir().join(format!("idle-connections-{}.json", std::process::id()));
    let mut map_args = Vec::new();
    if args.spawns == Spawns::Spread {
        std::fs::write(&map_file, spread_spawns_map()?)?;
        map_args = vec!["--map".to_owned(), map_file.display().to_string()];
    }
    let mut child = Command::new(&args.server_bin)
        .args(map_args)
        .args([
            "--addr",
            "127.0.0.1:0",
            "--drones",
            "0",
            "--max-players",
            &n,
            "--max-connections",
            &cap,
            "--ip-connect-rate",
            "0",
            "--aoi-radius",
            &aoi,
            "--stats-interval-s",
            "3600",
        ])
        .env("RUST_LOG", &args.log)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| {
            format!(
                "cannot start {} (build it: cargo build --release -p server)",
                args.server_bin.display()
            )
        })?;
    let pid = child.id();
    let url = match listening_url(&mut child).await {
        Ok(url) => url,
        Err(e) => {
            let _ = child.kill();
            return Err(e);
        }
    };

    let rss_before_kib = rss_kib(pid)?;
    let stop = CancellationToken::new();
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handshakes = Arc::new(Semaphore::new(args.concurrency));
    let mut joins = Vec::new();
    for i in 0..args.connections {
        let permit = handshakes.clone().acquire_owned().await?;
        let url = url.clone();
        let (stop, failed) = (stop.clone(), failed.clone());
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let client = connect_idle(&url, i).await;
            drop(permit);
            match client {
                Ok(client) => {
                    let _ = ready_tx.send(Ok(()));
                    read_until_stopped(client, &stop, &failed).await;
                }
                Err(e) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    let _ = ready_tx.send(Err(e));
                }
            }
        });
        joins.push(ready_rx);
    }
    for ready in joins {
        ready.await.context("a client task died")??;
    }
    let connect_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{} clients joined in {connect_seconds:.1} s; settling {} s",
        args.connections, args.settle_s
    );
    tokio::time::sleep(Duration::from_secs(args.settle_s)).await;
    let rss_after_kib = rss_kib(pid)?;
    let clients_failed = failed.load(Ordering::Relaxed);
    stop.cancel();
    child.kill()?;
    child.wait()?;
    let _ = std::fs::remove_file(&map_file);

    let report = Report {
        connections: args.connections,
        rss_before_kib,
        rss_after_kib,
        rss_kib_per_idle_connection: rss_after_kib.saturating_sub(rss_before_kib) as f64
            / f64::from(args.connections.max(1)),
        aoi_radius_m: args.aoi_radius,
        spawns: args.spawns,
        clients_failed,
        connect_seconds,
    };
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    if let Some(path) = &args.report_json {
        std::fs::write(path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if clients_failed > 0 {
        bail!("{clients_failed} clients lost their connection during the measurement");
    }
    Ok(())
}

/// Connects, then asks for the cheapest stream the room grants (one snapshot a second,
/// the smallest budget) so that idle clients cost the server no CPU to speak of.
async fn connect_idle(url: &str, i: u32) -> anyhow::Result<Client> {
    let mut client = Client::connect(url, &format!("idle{i}"))
        .await
        .with_context(|| format!("client {i} could not join"))?;
    client.request_settings(1, 0).await?;
    Ok(client)
}

/// Reads (and so answers pings) until told to stop; counts a session that ends early.
async fn read_until_stopped(mut client: Client, stop: &CancellationToken, failed: &AtomicU64) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            event = client.next_event() => match event {
                Ok(Event::Closed { .. }) | Err(_) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Ok(_) => {}
            },
        }
    }
}

/// The server prints its WebSocket URL on stdout once it listens; a thread reads it and
/// then drains the rest, so that the server never blocks on a full pipe.
async fn listening_url(child: &mut Child) -> anyhow::Result<String> {
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        for _ in lines {}
    });
    let line = tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .context("the server did not start listening within 30 s")??
        .context("the server exited before listening")??;
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("ws://"))
        .with_context(|| format!("no ws:// URL in {line:?}"))?
        .to_owned();
    Ok(url)
}

/// The default arena with a spawn point on every free spot of a 2 m grid.
fn spread_spawns_map() -> anyhow::Result<String> {
    let map = Map::from_json(DEFAULT_ARENA_JSON)?;
    let mut file: serde_json::Value = serde_json::from_str(DEFAULT_ARENA_JSON)?;
    let mut spawns = Vec::new();
    let (w, h) = (map.width() as i64, map.height() as i64);
    for x in (1..w / 2).map(|i| i as f64 * 2.0) {
        for y in (1..h / 2).map(|i| i as f64 * 2.0) {
            if map.is_free(x, y, PLAYER_RADIUS) {
                spawns.push(serde_json::json!({ "x": x, "y": y }));
            }
        }
    }
    file["spawns"] = serde_json::Value::Array(spawns);
    Ok(file.to_string())
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

/// Fails early, with the fix, when the open-file limit cannot hold the clients.
fn check_fd_limit(connections: u32) -> anyhow::Result<()> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<u64>().ok());
    match soft {
        Some(soft) if soft < u64::from(connections) + 100 => bail!(
            "the open-file limit ({soft}) is below {} connections + 100: run `ulimit -n {}` first",
            connections,
            u64::from(connections) + 100
        ),
        _ => Ok(()),
    }
}
