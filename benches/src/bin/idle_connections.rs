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

use std::path::PathBuf;

use anyhow::{Context, bail};
use benches::idle::{IdleConfig, Spawns, measure};
use clap::Parser;

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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let report = measure(&IdleConfig {
        connections: args.connections,
        server_bin: args.server_bin,
        aoi_radius: args.aoi_radius,
        spawns: args.spawns,
        concurrency: args.concurrency,
        settle_s: args.settle_s,
        log: args.log,
    })
    .await?;
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    if let Some(path) = &args.report_json {
        std::fs::write(path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if report.clients_failed > 0 {
        bail!(
            "{} clients lost their connection during the measurement",
            report.clients_failed
        );
    }
    Ok(())
}
