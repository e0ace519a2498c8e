//! Soak under faults: a bot swarm plays for minutes through the fault-injecting proxy
//! (`bot_client::faults`), with latency and jitter on every connection, and stalls and
//! resets at random (seeded) rates; the server's RSS and CPU are sampled throughout.
//!
//! The release server runs as a child process; the proxy runs in this process between
//! it and the release `bot-client`, which reaches the rooms API and the WebSocket through
//! the proxy (`--api http://PROXY --rooms N --create`). At the end it prints (and writes
//! with `--report-json`) the bots' report (desyncs, resumes, rejoins, failures, snapshot
//! rate, time without a view), what the proxy did (connections, resets, stalls), the
//! rooms' last staleness and desync figures, and the server's RSS slope; `--chart` draws
//! RSS and CPU over time (SVG, plotters).
//!
//! ```sh
//! cargo build --release -p server -p bot-client
//! cargo run --release -p benches --bin soak -- --bots 200 --duration-s 600 \
//!     --report-json benches/results/soak.json --chart benches/results/soak.svg
//! ```

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use benches::child::{LOAD_GENERATOR_ARGS, ServerChild};
use benches::run::{
    Bots, LongRunArgs, Sample, Sampler, pin_all_threads, robust_slope_per_min, slope_per_min,
};
use bot_client::faults::{FaultProxy, Faults, Link};
use clap::Parser;
use plotters::prelude::*;
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(about = "A bot swarm through a faulty network for minutes: views, resumes, server RSS")]
struct Args {
    #[command(flatten)]
    run: LongRunArgs,
    /// Seconds the bots play.
    #[arg(long, default_value_t = 600)]
    duration_s: u64,
    /// Latency each way, ms.
    #[arg(long, default_value_t = 40)]
    delay_ms: u64,
    /// Further random latency each way, up to this (order kept), ms.
    #[arg(long, default_value_t = 20)]
    jitter_ms: u64,
    /// Mean seconds between stalls of each connection (both ways); 0: none.
    #[arg(long, default_value_t = 60.0)]
    stall_every_s: f64,
    /// How long each stall lasts, ms.
    #[arg(long, default_value_t = 2000)]
    stall_for_ms: u64,
    /// Mean seconds between resets (RST) of each connection; 0: none.
    #[arg(long, default_value_t = 120.0)]
    reset_every_s: f64,
    /// Seed of the proxy's random delays and faults, and of the bots.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to draw RSS and CPU over time (SVG).
    #[arg(long)]
    chart: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct ProxyFigures {
    connections: u64,
    resets: u64,
    stalls: u64,
}

#[derive(Debug, Serialize)]
struct Summary {
    command: Vec<String>,
    faults: String,
    proxy: ProxyFigures,
    bot_client_exit: String,
    /// Selected fields of the bot-client's report.
    bots: serde_json::Map<String, serde_json::Value>,
    /// Per room, its last tick summary's desyncs, keyframes and staleness.
    rooms: Vec<serde_json::Value>,
    rss_kib_end_of_warmup: Option<u64>,
    rss_kib_end: Option<u64>,
    slope_kib_per_min_after_warmup: Option<f64>,
    robust_slope_kib_per_min_after_warmup: Option<f64>,
    cpu_percent_mean: f64,
}

fn every(secs: f64) -> Option<Duration> {
    (secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

/// RSS (MiB) over time on top, CPU (% of one core) below.
fn chart(path: &PathBuf, samples: &[Sample], title: &str) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(300);
    let t_max = samples.last().map_or(1.0, |s| s.t_s).max(1.0);
    let rss: Vec<(f64, f64)> = samples
        .iter()
        .map(|s| (s.t_s, s.rss_kib as f64 / 1024.0))
        .collect();
    let rss_max = rss.iter().map(|p| p.1).fold(1.0, f64::max) * 1.15;
    let mut c = ChartBuilder::on(&top)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..rss_max)?;
    c.configure_mesh()
        .light_line_style(WHITE)
        .x_desc("seconds")
        .y_desc("server RSS, MiB")
        .draw()?;
    c.draw_series(LineSeries::new(rss, &BLUE))?;
    let cpu: Vec<(f64, f64)> = samples.iter().map(|s| (s.t_s, s.cpu_percent)).collect();
    let cpu_max = cpu.iter().map(|p| p.1).fold(10.0, f64::max) * 1.15;
    let mut c = ChartBuilder::on(&bottom)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..cpu_max)?;
    c.configure_mesh()
        .light_line_style(WHITE)
        .x_desc("seconds")
        .y_desc("server CPU, % of a core")
        .draw()?;
    c.draw_series(LineSeries::new(cpu, &RED))?;
    root.present()?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut server_args: Vec<String> = LOAD_GENERATOR_ARGS.map(str::to_owned).to_vec();
    server_args.extend(args.run.server_arg.iter().cloned());
    let server = ServerChild::start(&args.run.server_bin, &server_args, "info").await?;
    let spid = server.pid().to_string();
    if let Some(cpus) = &args.run.server_cpus {
        pin_all_threads(&spid, cpus)?;
    }
    let upstream = server
        .http_base
        .trim_start_matches("http://")
        .parse()
        .context("the server's address")?;
    let link = Link {
        delay: Duration::from_millis(args.delay_ms),
        jitter: Duration::from_millis(args.jitter_ms),
        bytes_per_sec: None,
    };
    let faults = Faults::random(
        link,
        every(args.stall_every_s),
        Duration::from_millis(args.stall_for_ms),
        every(args.reset_every_s),
        args.seed,
    );
    let faults_text = format!(
        "{} ms ± {} ms each way; stalls of {} ms every {} s; resets every {} s (means per connection)",
        args.delay_ms, args.jitter_ms, args.stall_for_ms, args.stall_every_s, args.reset_every_s
    );
    let proxy = FaultProxy::start(upstream, faults).await?;
    eprintln!(
        "server pid {spid} at {}; proxy at {}",
        server.http_base,
        proxy.addr()
    );

    let bot_report_path =
        std::env::temp_dir().join(format!("tickwire-soak-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&bot_report_path);
    let mut cmd = Command::new(&args.run.bot_bin);
    cmd.arg("--api").arg(format!("http://{}", proxy.addr()));
    cmd.args(["--rooms", &args.run.rooms.to_string(), "--create"]);
    cmd.args(["--bots", &args.run.bots.to_string()]);
    cmd.args(["--duration", &args.duration_s.to_string()]);
    cmd.args(["--seed", &args.seed.to_string()]);
    cmd.arg("--report-json").arg(&bot_report_path);
    let to_stderr = std::io::stderr().as_fd().try_clone_to_owned()?;
    cmd.stdin(Stdio::null()).stdout(Stdio::from(to_stderr));
    eprintln!("starting {cmd:?}");
    let mut sampler = Sampler::new(&spid)?;
    let mut bots = Bots(cmd.spawn().with_context(|| {
        format!(
            "cannot start {}: build it with `cargo build --release -p bot-client`",
            args.run.bot_bin.display()
        )
    })?);
    println!("    elapsed  server RSS  server CPU  proxy resets  stalls");
    let mut samples: Vec<Sample> = Vec::new();
    let mut take = |samples: &mut Vec<Sample>, running: bool| -> anyhow::Result<()> {
        let s = sampler.sample(running)?;
        let c = proxy.counters();
        println!(
            "{:>8.1} s {:>10} KiB {:>8.1} % {:>13} {:>7}",
            s.t_s,
            s.rss_kib,
            s.cpu_percent,
            c.resets.load(Ordering::Relaxed),
            c.stalls.load(Ordering::Relaxed)
        );
        samples.push(s);
        Ok(())
    };
    take(&mut samples, true)?;
    let every = Duration::from_secs(args.run.sample_s);
    let deadline = Duration::from_secs(args.duration_s + 120);
    let status = bots
        .watch(every, deadline, || take(&mut samples, true))
        .await?;
    let bot_exit = status.map_or(
        "killed: still running 120 s after --duration-s".into(),
        |s| s.to_string(),
    );

    // The rooms' own view, straight from the server (not through the proxy).
    let mut rooms = Vec::new();
    let api = bot_client::api::ApiClient::new(&server.http_base, None, None)?;
    for room in api.rooms().await.unwrap_or_default() {
        if let Ok(detail) = api.room(&room.id).await {
            let stats = detail.get("stats").cloned().unwrap_or_default();
            let pick = |k: &str| stats.get(k).cloned().unwrap_or_default();
            rooms.push(serde_json::json!({
                "id": room.id,
                "desyncs": pick("desyncs"),
                "keyframes": pick("keyframes"),
                "staleness_ms_p99": pick("staleness_ms_p99"),
                "tick_ms_p99": pick("tick_ms_p99"),
            }));
        }
    }
    server.stop()?;

    let bot_report: Option<serde_json::Value> = std::fs::read_to_string(&bot_report_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let _ = std::fs::remove_file(&bot_report_path);
    let wanted = [
        "bots_connected",
        "bots_failed",
        "desyncs",
        "keyframes",
        "resumes",
        "rejoins",
        "resume_failures",
        "snapshots_per_bot_per_sec",
        "snapshots_per_bot_per_sec_min",
        "offline_ms_p50",
        "offline_ms_p99",
        "rtt_ms_p50",
        "rtt_ms_p99",
        "prediction_error_mm_p99",
        "errors",
    ];
    let run: Vec<(f64, f64)> = samples.iter().map(|s| (s.t_s, s.rss_kib as f64)).collect();
    let warm: Vec<(f64, f64)> = run
        .iter()
        .copied()
        .filter(|p| p.0 >= args.run.warmup_s as f64)
        .collect();
    let c = proxy.counters();
    let summary = Summary {
        command: std::env::args().collect(),
        faults: faults_text.clone(),
        proxy: ProxyFigures {
            connections: c.connections.load(Ordering::Relaxed),
            resets: c.resets.load(Ordering::Relaxed),
            stalls: c.stalls.load(Ordering::Relaxed),
        },
        bot_client_exit: bot_exit,
        bots: (bot_report.iter().filter_map(|r| r.as_object()).flatten())
            .filter(|(k, _)| wanted.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        rooms,
        rss_kib_end_of_warmup: warm.first().map(|p| p.1 as u64),
        rss_kib_end: run.last().map(|p| p.1 as u64),
        slope_kib_per_min_after_warmup: slope_per_min(&warm),
        robust_slope_kib_per_min_after_warmup: robust_slope_per_min(&warm),
        cpu_percent_mean: samples.iter().skip(1).map(|s| s.cpu_percent).sum::<f64>()
            / samples.len().saturating_sub(1).max(1) as f64,
    };
    println!("{}", serde_json::to_string_pretty(&summary)?);
    if let Some(path) = &args.run.report_json {
        let json = serde_json::to_string_pretty(&serde_json::json!({
            "summary": summary,
            "samples": samples,
        }))? + "\n";
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    if let Some(path) = &args.chart {
        let title = format!(
            "{} bots, {} s: {faults_text}",
            args.run.bots, args.duration_s
        );
        chart(path, &samples, &title)?;
        eprintln!("chart written to {}", path.display());
    }
    Ok(())
}
