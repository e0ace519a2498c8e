//! Server RSS per idle connected client (used by `--bin idle_connections` and
//! `--bin capacity`): starts the release server as a child process, reads its VmRSS,
//! connects N real WebSocket clients that complete the handshake (Hello → Welcome) and
//! ask for one snapshot per second at the smallest byte budget, keeps reading their
//! sockets so they stay healthy (pongs included), and reads the RSS again.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bot_client::{Client, Event};
use serde::Serialize;
use shared::map::{DEFAULT_ARENA_JSON, Map};
use shared::rules::PLAYER_RADIUS;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::child::{LOAD_GENERATOR_ARGS, ServerChild, check_fd_limit, rss_kib};

/// What to measure.
#[derive(Debug, Clone)]
pub struct IdleConfig {
    pub connections: u32,
    pub server_bin: PathBuf,
    /// Area-of-interest radius passed to the server, metres.
    pub aoi_radius: f64,
    pub spawns: Spawns,
    /// Handshakes in flight at once.
    pub concurrency: usize,
    /// Seconds between the last join and the second RSS reading.
    pub settle_s: u64,
    /// The server's `RUST_LOG`.
    pub log: String,
}

/// Where players appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Spawns {
    /// The arena with a spawn point every 2 m: players scattered, about one per view.
    Spread,
    /// The arena's own 17 spawn points: crowds that all see each other.
    Map,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    pub connections: u32,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub rss_kib_per_idle_connection: f64,
    pub aoi_radius_m: f64,
    pub spawns: Spawns,
    pub clients_failed: u64,
    pub connect_seconds: f64,
}

/// Runs the measurement (the caller checks `clients_failed`).
pub async fn measure(cfg: &IdleConfig) -> anyhow::Result<IdleReport> {
    check_fd_limit(u64::from(cfg.connections))?;
    let n = cfg.connections.to_string();
    let cap = (cfg.connections + 100).to_string();
    let map_file =
        std::env::temp_dir().join(format!("idle-connections-{}.json", std::process::id()));
    let mut args = Vec::new();
    if cfg.spawns == Spawns::Spread {
        std::fs::write(&map_file, spread_spawns_map()?)?;
        args = vec!["--map".to_owned(), map_file.display().to_string()];
    }
    args.extend(
        [
            "--drones",
            "0",
            "--max-players",
            &n,
            // One room holds every idle client: lift the per-room seat ceiling to match.
            "--limit-players",
            &n,
            "--max-connections",
            &cap,
            "--aoi-radius",
            &cfg.aoi_radius.to_string(),
            "--stats-interval-s",
            "3600",
        ]
        .map(str::to_owned),
    );
    args.extend(LOAD_GENERATOR_ARGS.map(str::to_owned));
    let server = ServerChild::start(&cfg.server_bin, &args, &cfg.log).await?;
    let pid = server.pid().to_string();
    let url = server.ws_url.clone();

    let rss_before_kib = rss_kib(&pid)?;
    let stop = CancellationToken::new();
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handshakes = Arc::new(Semaphore::new(cfg.concurrency));
    let mut joins = Vec::new();
    for i in 0..cfg.connections {
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
        "{} idle clients joined in {connect_seconds:.1} s; settling {} s",
        cfg.connections, cfg.settle_s
    );
    tokio::time::sleep(Duration::from_secs(cfg.settle_s)).await;
    let rss_after_kib = rss_kib(&pid)?;
    let clients_failed = failed.load(Ordering::Relaxed);
    stop.cancel();
    server.stop()?;
    let _ = std::fs::remove_file(&map_file);

    Ok(IdleReport {
        connections: cfg.connections,
        rss_before_kib,
        rss_after_kib,
        rss_kib_per_idle_connection: rss_after_kib.saturating_sub(rss_before_kib) as f64
            / f64::from(cfg.connections.max(1)),
        aoi_radius_m: cfg.aoi_radius,
        spawns: cfg.spawns,
        clients_failed,
        connect_seconds,
    })
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
