//! `fault-proxy`: the fault-injecting proxy of `bot_client::faults` as a command, for
//! tests driven from outside Rust (the web client's end-to-end test) and by hand.
//!
//! Prints `listening on ADDR` once it accepts connections, then reads commands on
//! standard input, one per line: `reset` (RST every connection carried now), `stall MS`
//! (stall every connection both ways for MS milliseconds). Each command is answered on
//! standard output (`reset N`, `stall N`). Exits at the end of standard input.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use bot_client::faults::{Dir, FaultProxy, Faults, Link};
use clap::Parser;
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Debug, Parser)]
#[command(name = "fault-proxy", version, about)]
struct Args {
    /// Where connections are forwarded to (the server).
    #[arg(long)]
    upstream: SocketAddr,
    /// Latency added each way, in milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Further random latency each way, up to this many milliseconds (order is kept).
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Bytes per second each way at most; 0 is unlimited.
    #[arg(long, default_value_t = 0)]
    bandwidth: u64,
    /// Mean seconds between stalls of each connection; 0: none.
    #[arg(long, default_value_t = 0.0)]
    stall_every_s: f64,
    /// How long each random stall lasts, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    stall_for_ms: u64,
    /// Mean seconds between resets of each connection; 0: none.
    #[arg(long, default_value_t = 0.0)]
    reset_every_s: f64,
    /// Seed of the random delays and faults.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn every(secs: f64) -> Option<Duration> {
    (secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let link = Link {
        delay: Duration::from_millis(args.delay_ms),
        jitter: Duration::from_millis(args.jitter_ms),
        bytes_per_sec: (args.bandwidth > 0).then_some(args.bandwidth),
    };
    let proxy = FaultProxy::start(
        args.upstream,
        Faults::random(
            link,
            every(args.stall_every_s),
            Duration::from_millis(args.stall_for_ms),
            every(args.reset_every_s),
            args.seed,
        ),
    )
    .await
    .context("starting the proxy")?;
    println!("listening on {}", proxy.addr());
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("reset"), None) => println!("reset {}", proxy.reset_all()),
            (Some("stall"), Some(ms)) => {
                let ms: u64 = ms.parse().context("stall MS")?;
                let ids = proxy.connections();
                for &id in &ids {
                    proxy.stall(id, Dir::Up, Duration::from_millis(ms));
                    proxy.stall(id, Dir::Down, Duration::from_millis(ms));
                }
                println!("stall {}", ids.len());
            }
            _ => eprintln!("unknown command {line:?} (reset | stall MS)"),
        }
    }
    Ok(())
}
