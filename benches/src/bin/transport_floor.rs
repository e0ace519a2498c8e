//! What the transport alone costs per player: a WebSocket server with nothing but
//! Tickwire's plumbing (tokio, tokio-tungstenite, one task per connection woken by a
//! bounded channel that a room thread fills at the snapshot rate), no game, no
//! replication, against the same number of clients sending inputs at the input rate.
//! Its CPU per connection-second is the floor under the server's CPU per player-second:
//! what no change to the rooms can take off (`BENCHMARKS.md`, "The transport's floor").
//!
//! ```sh
//! cargo build --release -p benches
//! taskset -c 1 target/release/transport_floor --connections 1000 --server-cpus 0
//! ```
//!
//! The command starts itself again as the server (`serve`), under `taskset` when
//! `--server-cpus` is given, connects the clients from this process, waits `--warmup`
//! seconds, then reads both processes' CPU time over `--duration` seconds.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use benches::child::{
    ServerChild, check_fd_limit, clock_ticks_per_sec, cpu_ticks, cpu_ticks_split,
};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser)]
#[command(about = "The transport's CPU per connection-second, without rooms")]
struct Args {
    #[command(subcommand)]
    serve: Option<Serve>,
    /// Where the server side listens (given to it by the command itself).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: String,
    /// Client connections.
    #[arg(long, default_value_t = 1000)]
    connections: u32,
    /// Connections per room thread (each thread fills its connections' queues).
    #[arg(long, default_value_t = 100)]
    per_room: u32,
    /// Server → client messages per second per connection (the snapshot rate).
    #[arg(long, default_value_t = 20)]
    down_rate: u32,
    /// Bytes of each server → client message (a 1,000-bot run's snapshots average
    /// about 80).
    #[arg(long, default_value_t = 80)]
    down_bytes: usize,
    /// Client → server messages per second per connection (the bots' input rate).
    #[arg(long, default_value_t = 20)]
    up_rate: u32,
    /// Bytes of each client → server message (an input of three frames).
    #[arg(long, default_value_t = 24)]
    up_bytes: usize,
    /// CPUs for the server process (`taskset -c` list).
    #[arg(long)]
    server_cpus: Option<String>,
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Where to write the JSON report (also printed).
    #[arg(long)]
    report_json: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Serve {
    /// Run the server side (started by the command itself).
    Serve {
        #[arg(long)]
        per_room: u32,
        #[arg(long)]
        down_rate: u32,
        #[arg(long)]
        down_bytes: usize,
    },
}

#[derive(Debug, Serialize)]
struct Report {
    connections: u32,
    down_rate: u32,
    down_bytes: usize,
    up_rate: u32,
    up_bytes: usize,
    duration_s: f64,
    /// Messages each client received per second, mean.
    down_per_conn_per_s: f64,
    server_cpu_percent: f64,
    server_cpu_us_per_connection_second: f64,
    /// The part of it spent in the kernel (system time).
    server_system_us_per_connection_second: f64,
    client_cpu_percent: f64,
    client_cpu_us_per_connection_second: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    match args.serve {
        Some(Serve::Serve {
            per_room,
            down_rate,
            down_bytes,
        }) => runtime.block_on(serve(&args.addr, per_room, down_rate, down_bytes)),
        None => runtime.block_on(measure(&args)),
    }
}

/// The server: accept, upgrade, and per connection a task that writes what its queue
/// holds and reads (and drops) what the client sends, as a session does.
async fn serve(addr: &str, per_room: u32, down_rate: u32, down_bytes: usize) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("listening at ws://{}/ws", listener.local_addr()?);
    let (join_tx, join_rx) = std::sync::mpsc::channel::<mpsc::Sender<Bytes>>();
    let period = Duration::from_secs_f64(1.0 / f64::from(down_rate.max(1)));
    let message = Bytes::from(vec![0x5a; down_bytes]);
    // Room threads: each owns up to `per_room` queues and fills them every period.
    std::thread::spawn(move || {
        let mut rooms: Vec<std::sync::mpsc::Sender<mpsc::Sender<Bytes>>> = Vec::new();
        let per_room = per_room.max(1) as usize;
        for (seated, queue) in join_rx.into_iter().enumerate() {
            if seated % per_room == 0 {
                let (tx, rx) = std::sync::mpsc::channel();
                let message = message.clone();
                std::thread::spawn(move || room(rx, period, message));
                rooms.push(tx);
            }
            if let Some(room) = rooms.last() {
                let _ = room.send(queue);
            }
        }
    });
    loop {
        let (stream, _) = listener.accept().await?;
        let join = join_tx.clone();
        tokio::spawn(async move {
            let _ = session(stream, join).await;
        });
    }
}

/// A room thread without a game: every period, one message into each queue, dropped
/// when the queue is full (as the real room skips a slow client's snapshot).
fn room(joins: std::sync::mpsc::Receiver<mpsc::Sender<Bytes>>, period: Duration, message: Bytes) {
    let mut queues: Vec<mpsc::Sender<Bytes>> = Vec::new();
    let mut deadline = Instant::now();
    loop {
        queues.extend(joins.try_iter());
        queues.retain(|q| {
            !matches!(
                q.try_send(message.clone()),
                Err(mpsc::error::TrySendError::Closed(_))
            )
        });
        deadline += period;
        if let Some(wait) = deadline.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

async fn session(
    stream: TcpStream,
    join: std::sync::mpsc::Sender<mpsc::Sender<Bytes>>,
) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    // The server's own WebSocket settings (small read buffer, no write buffering).
    let config = server::transport::front::ws_config(64 * 1024);
    let mut ws = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await?;
    let (tx, mut rx) = mpsc::channel(64);
    join.send(tx)?;
    loop {
        tokio::select! {
            biased;
            frame = ws.next() => match frame {
                Some(Ok(_)) => {}
                _ => return Ok(()),
            },
            out = rx.recv() => match out {
                Some(bytes) => ws.send(Message::Binary(bytes)).await?,
                None => return Ok(()),
            },
        }
    }
}

async fn measure(args: &Args) -> anyhow::Result<()> {
    check_fd_limit(u64::from(args.connections))?;
    let exe = std::env::current_exe()?;
    let serve_args = [
        "serve".to_owned(),
        "--per-room".to_owned(),
        args.per_room.to_string(),
        "--down-rate".to_owned(),
        args.down_rate.to_string(),
        "--down-bytes".to_owned(),
        args.down_bytes.to_string(),
    ];
    let server =
        ServerChild::start_pinned(&exe, &serve_args, "warn", args.server_cpus.as_deref()).await?;
    let pid = server.pid().to_string();
    let url = server.ws_url.clone();

    let received = Arc::new(AtomicU64::new(0));
    let up = Bytes::from(vec![0xa5; args.up_bytes]);
    let up_period = Duration::from_secs_f64(1.0 / f64::from(args.up_rate.max(1)));
    let mut clients = Vec::new();
    for _ in 0..args.connections {
        // The bots' own WebSocket settings.
        let config = bot_client::client::ws_config();
        let (ws, _) =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true).await?;
        clients.push(tokio::spawn(client(
            ws,
            up.clone(),
            up_period,
            received.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;

    let ticks = clock_ticks_per_sec();
    let (s0, c0, r0, t0) = (
        cpu_ticks_split(&pid)?,
        cpu_ticks("self")?,
        received.load(Ordering::Relaxed),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    let (s1, c1, r1, secs) = (
        cpu_ticks_split(&pid)?,
        cpu_ticks("self")?,
        received.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64(),
    );
    for c in &clients {
        if c.is_finished() {
            bail!("a client ended during the run");
        }
    }
    let conn_s = f64::from(args.connections) * secs;
    let server_s = ((s1.0 + s1.1) - (s0.0 + s0.1)) as f64 / ticks;
    let system_s = (s1.1 - s0.1) as f64 / ticks;
    let client_s = (c1 - c0) as f64 / ticks;
    let report = Report {
        connections: args.connections,
        down_rate: args.down_rate,
        down_bytes: args.down_bytes,
        up_rate: args.up_rate,
        up_bytes: args.up_bytes,
        duration_s: secs,
        down_per_conn_per_s: (r1 - r0) as f64 / conn_s,
        server_cpu_percent: 100.0 * server_s / secs,
        server_cpu_us_per_connection_second: 1e6 * server_s / conn_s,
        server_system_us_per_connection_second: 1e6 * system_s / conn_s,
        client_cpu_percent: 100.0 * client_s / secs,
        client_cpu_us_per_connection_second: 1e6 * client_s / conn_s,
    };
    server.stop()?;
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    if let Some(path) = &args.report_json {
        std::fs::write(path, json)?;
    }
    Ok(())
}

/// A client: one input-sized message per period, and every message read.
async fn client(
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
    up: Bytes,
    period: Duration,
    received: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let (mut sink, mut stream) = ws.split();
    let mut timer = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = timer.tick() => sink.send(Message::Binary(up.clone())).await?,
            frame = stream.next() => match frame {
                Some(Ok(_)) => { received.fetch_add(1, Ordering::Relaxed); }
                _ => return Ok(()),
            },
        }
    }
}
