//! Joins through the cluster API: starts a `redis-server` on a free port and `--nodes`
//! release server processes in one cluster, creates rooms on each node through the
//! first one, then reserves seats through the first node, `--concurrency` at a time:
//! half for rooms it hosts itself (local), half for rooms on the other nodes (the
//! reservation is carried over Redis to the hosting node and back). Reports joins per
//! second and the p50/p99/max of a join's round trip (a fresh HTTP connection, the
//! request, the answer) for each kind.
//!
//! A room takes a reservation at its next tick, so a join's round trip includes up to a
//! tick of waiting (16.7 ms at 60 Hz) whichever node is asked. To show what the cluster
//! itself adds, the same is measured for reads of a room (`GET /api/rooms/{id}`), which
//! the hosting node answers without waiting on its room.
//!
//! ```sh
//! cargo build --release -p server -p benches
//! target/release/cluster_join --joins 2000 --concurrency 8 --report-json join.json
//! ```

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use benches::child::{LOAD_GENERATOR_ARGS, ServerChild};
use bot_client::api::ApiClient;
use clap::Parser;
use hdrhistogram::Histogram;
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(about = "Measure seat reservations through a cluster's API (local and remote rooms)")]
struct Args {
    /// The release server binary.
    #[arg(long, default_value = "target/release/server")]
    server_bin: PathBuf,
    /// The redis-server binary.
    #[arg(long, default_value = "redis-server")]
    redis_bin: PathBuf,
    /// Server processes in the cluster (at least 2).
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Reservations in all, half local, half remote.
    #[arg(long, default_value_t = 2000)]
    joins: usize,
    /// Reservations in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Where to write the JSON report.
    #[arg(long)]
    report_json: Option<PathBuf>,
}

const ADMIN: &str = "bench-admin";
const SECRET: &str = "cluster-join-bench-secret-0123";
/// Seats per room: the default ceiling (`--limit-players`).
const SEATS: usize = 1000;

#[derive(Debug, Serialize)]
struct Latency {
    joins: usize,
    failed: usize,
    joins_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    nodes: usize,
    concurrency: usize,
    local: Latency,
    remote: Latency,
    local_read: Latency,
    remote_read: Latency,
}

/// What each request of a measurement does.
#[derive(Debug, Clone, Copy)]
enum Request {
    Join,
    Read,
}

/// A redis-server child, killed when dropped.
struct Redis(std::process::Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis(bin: &PathBuf) -> anyhow::Result<(Redis, u16)> {
    use std::io::BufRead;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(bin)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let redis = Redis(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    loop {
        match lines.next().transpose()? {
            Some(line) if line.contains("Ready to accept connections") => break,
            Some(_) => {}
            None => bail!("redis-server exited before it was ready"),
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Ok((redis, port))
}

/// Reserves `joins` seats in `rooms` (round robin) through `api`, `concurrency` at a
/// time.
async fn measure(
    api: &ApiClient,
    request: Request,
    rooms: &[String],
    joins: usize,
    concurrency: usize,
) -> anyhow::Result<Latency> {
    let rooms = Arc::new(rooms.to_vec());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (api, rooms, next) = (api.clone(), rooms.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut histogram = Histogram::<u64>::new(3).expect("3 significant digits");
            let mut failed = 0;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= joins {
                    break;
                }
                let room = &rooms[i % rooms.len()];
                let t = Instant::now();
                let result = match request {
                    Request::Join => api.join(room, None).await.map(drop),
                    Request::Read => api.room(room).await.map(drop),
                };
                match result {
                    Ok(()) => {
                        let _ = histogram.record(t.elapsed().as_micros() as u64);
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("join {room}: {e}");
                    }
                }
            }
            (histogram, failed)
        }));
    }
    let mut histogram = Histogram::<u64>::new(3)?;
    let mut failed = 0;
    for task in tasks {
        let (h, f) = task.await?;
        histogram.add(h)?;
        failed += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(Latency {
        joins: histogram.len() as usize,
        failed,
        joins_per_s: histogram.len() as f64 / elapsed,
        p50_ms: ms(histogram.value_at_quantile(0.5)),
        p99_ms: ms(histogram.value_at_quantile(0.99)),
        max_ms: ms(histogram.max()),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.nodes < 2 {
        bail!("--nodes: at least 2, for remote joins");
    }
    let (_redis, port) = start_redis(&args.redis_bin)?;
    let redis_url = format!("redis://127.0.0.1:{port}");
    let mut nodes = Vec::new();
    for i in 0..args.nodes {
        let mut flags: Vec<String> = [
            "--redis",
            &redis_url,
            "--node-id",
            &format!("n{i}"),
            "--join-secret",
            SECRET,
            "--admin-token",
            ADMIN,
            "--drones",
            "0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        flags.extend(LOAD_GENERATOR_ARGS.iter().map(|s| s.to_string()));
        nodes.push(ServerChild::start(&args.server_bin, &flags, "warn").await?);
    }
    let api = ApiClient::new(&nodes[0].http_base, None, Some(ADMIN.to_owned()))?;
    // Until every node is in the directory.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, body) = api.request(hyper::Method::GET, "/api/nodes", None).await?;
        let listed: serde_json::Value = serde_json::from_slice(&body)?;
        if listed.as_array().map_or(0, Vec::len) == args.nodes {
            break;
        }
        if Instant::now() > deadline {
            bail!("the nodes did not all join the cluster within 15 s: {listed}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Enough seats for every reservation (they hold their seat until they expire).
    let per_kind = args.joins / 2;
    let rooms_needed = per_kind.div_ceil(SEATS).max(1);
    let (mut local, mut remote) = (Vec::new(), Vec::new());
    for i in 0..rooms_needed {
        local.push(create(&api, &format!("local-{i}"), "n0").await?);
        let node = format!("n{}", 1 + i % (args.nodes - 1));
        remote.push(create(&api, &format!("remote-{i}"), &node).await?);
    }
    // Warm-up: connections, the subscription, the first script load.
    measure(&api, Request::Join, &local, 20, 2).await?;
    measure(&api, Request::Join, &remote, 20, 2).await?;
    let n = per_kind.saturating_sub(20);
    let report = Report {
        nodes: args.nodes,
        concurrency: args.concurrency,
        local: measure(&api, Request::Join, &local, n, args.concurrency).await?,
        remote: measure(&api, Request::Join, &remote, n, args.concurrency).await?,
        local_read: measure(&api, Request::Read, &local, n, args.concurrency).await?,
        remote_read: measure(&api, Request::Read, &remote, n, args.concurrency).await?,
    };
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    if let Some(path) = &args.report_json {
        std::fs::write(path, &json)?;
    }
    Ok(())
}

async fn create(api: &ApiClient, id: &str, node: &str) -> anyhow::Result<String> {
    let spec = serde_json::json!({"id": id, "drones": 0, "max_players": SEATS});
    let body = serde_json::to_vec(&spec)?;
    let (status, answer) = api
        .request(
            hyper::Method::POST,
            &format!("/api/rooms?node={node}"),
            Some(body),
        )
        .await?;
    if status.as_u16() != 201 {
        bail!(
            "creating {id} on {node}: {status} {}",
            String::from_utf8_lossy(&answer)
        );
    }
    Ok(id.to_owned())
}
