//! Long-run memory benchmark: does the server's resident set keep growing while a bot
//! swarm plays?
//!
//! Starts the release server and the release `bot-client` as child processes, the bots
//! joining through the rooms API exactly as in
//! `bot-client --api http://127.0.0.1:PORT --rooms 2 --create --bots 200 --duration 420`
//! (rooms `bots-1` … `bots-N` created with the server's defaults). Every `--sample-s`
//! seconds it reads the server's VmRSS and CPU time from `/proc` and prints a line; at
//! the end it prints the RSS at the end of the warm-up and at the end of the run, the
//! least-squares slope of RSS (KiB per minute) after the warm-up and over the whole run,
//! three samples over ~30 s after every bot has left, and the bot-client's own report
//! (bots failed, desyncs).
//!
//! ```sh
//! cargo build --release -p server -p bot-client
//! cargo run --release -p benches --bin memory -- --bots 200 --rooms 2 --duration-s 1800 --report-json memory.json
//! ```
//!
//! `--server-cpus LIST` / `--bot-cpus LIST` pin a process with `taskset -c LIST` (the
//! server, all its threads, as soon as it listens); `--server-arg` (repeatable) passes a
//! flag to the server, e.g. `--server-arg=--drones --server-arg=0`; `--churn S` is passed
//! to the bot-client. It exits non-zero (after printing and writing everything) if the
//! bot-client failed, e.g. refused by the server's per-address limits (HTTP 429), which
//! `--server-arg` or the server's `TICKWIRE_*` environment variables can lift.

use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use benches::child::ServerChild;
use benches::run::{
    Bots, LongRunArgs, Sample, Sampler, pin_all_threads, robust_slope_per_min, slope_per_min,
};
use clap::Parser;
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(about = "Server RSS over a long bot-swarm run, and its growth per minute")]
struct Args {
    #[command(flatten)]
    run: LongRunArgs,
    /// Seconds the bots play (`bot-client --duration`).
    #[arg(long, default_value_t = 1800)]
    duration_s: u64,
    /// Passed to bot-client: every bot drops its connection and resumes this often (s).
    #[arg(long)]
    churn: Option<f64>,
    /// The server's log filter (`RUST_LOG`); `info` is what the server uses by default.
    #[arg(long, default_value = "info")]
    server_log: String,
    /// Run the bot-client under `taskset -c LIST`.
    #[arg(long)]
    bot_cpus: Option<String>,
}

/// What is printed at the end (and written with the samples to `--report-json`).
#[derive(Debug, Serialize)]
struct Summary {
    /// This program's command line.
    command: Vec<String>,
    /// The first sample at or after `warmup_s`.
    rss_kib_end_of_warmup: Option<u64>,
    /// The last sample while the bot-client ran.
    rss_kib_end: Option<u64>,
    rss_kib_after_bots_left: Vec<u64>,
    slope_kib_per_min_after_warmup: Option<f64>,
    slope_kib_per_min_whole_run: Option<f64>,
    /// Theil–Sen slope after warm-up (median of the slopes between every two samples):
    /// unmoved by the few samples that catch a transient allocation (rooms replace their
    /// statistics every stats interval), so it is the figure to judge a trend by.
    robust_slope_kib_per_min_after_warmup: Option<f64>,
    samples_after_warmup: usize,
    bot_client_exit: String,
    /// Selected fields of the bot-client's own report.
    bot_client: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    samples: &'a [Sample],
    /// The bot-client's whole `--report-json`, if it wrote one.
    bot_report: Option<serde_json::Value>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let server =
        ServerChild::start(&args.run.server_bin, &args.run.server_arg, &args.server_log).await?;
    let spid = server.pid().to_string();
    if let Some(cpus) = &args.run.server_cpus {
        pin_all_threads(&spid, cpus)?;
    }
    eprintln!("server pid {spid} at {}", server.http_base);

    let bot_report_path =
        std::env::temp_dir().join(format!("tickwire-memory-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&bot_report_path);
    let mut cmd = Command::new(match &args.bot_cpus {
        Some(_) => "taskset".as_ref(),
        None => args.run.bot_bin.as_os_str(),
    });
    if let Some(cpus) = &args.bot_cpus {
        cmd.args(["-c", cpus]).arg(&args.run.bot_bin);
    }
    cmd.arg("--api").arg(&server.http_base);
    cmd.args(["--rooms", &args.run.rooms.to_string(), "--create"]);
    cmd.args([
        "--bots",
        &args.run.bots.to_string(),
        "--duration",
        &args.duration_s.to_string(),
    ]);
    cmd.arg("--report-json").arg(&bot_report_path);
    if let Some(churn) = args.churn {
        cmd.args(["--churn", &churn.to_string()]);
    }
    // The bot-client prints its report on stdout: send it to our stderr, so that our
    // stdout holds only the samples and the summary.
    let to_stderr = std::io::stderr().as_fd().try_clone_to_owned()?;
    cmd.stdin(Stdio::null()).stdout(Stdio::from(to_stderr));
    eprintln!("starting {cmd:?}");

    let mut sampler = Sampler::new(&spid)?;
    let mut sample = |bots_running: bool| -> anyhow::Result<Sample> {
        let s = sampler.sample(bots_running)?;
        let note = if bots_running { "" } else { "  (bots gone)" };
        println!(
            "{:>8.1} s {:>10} KiB {:>7.1} % cpu{note}",
            s.t_s, s.rss_kib, s.cpu_percent
        );
        Ok(s)
    };
    let mut bots = Bots(cmd.spawn().with_context(|| {
        let bin = args.run.bot_bin.display();
        format!("cannot start {bin}: build it with `cargo build --release -p bot-client`")
    })?);
    println!("    elapsed  server RSS  server CPU");
    let mut samples = vec![sample(true)?];
    let every = Duration::from_secs(args.run.sample_s);
    let deadline = Duration::from_secs(args.duration_s + 120);
    let status = bots
        .watch(every, deadline, || {
            samples.push(sample(true)?);
            Ok(())
        })
        .await?;
    let bots_ok = status.is_some_and(|s| s.success());
    let bot_exit = status.map_or(
        "killed: still running 120 s after --duration-s".into(),
        |s| s.to_string(),
    );
    eprintln!("bot-client ended ({bot_exit}); 3 more samples over 30 s");
    let mut after = Vec::new();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let s = sample(false)?;
        after.push(s.rss_kib);
        samples.push(s);
    }
    server.stop()?;

    let bot_report: Option<serde_json::Value> = std::fs::read_to_string(&bot_report_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let _ = std::fs::remove_file(&bot_report_path);

    let run: Vec<(f64, f64)> = (samples.iter().filter(|s| s.bots_running))
        .map(|s| (s.t_s, s.rss_kib as f64))
        .collect();
    let warm: Vec<(f64, f64)> = run
        .iter()
        .copied()
        .filter(|p| p.0 >= args.run.warmup_s as f64)
        .collect();
    let wanted = [
        "bots_connected",
        "bots_failed",
        "desyncs",
        "resumes",
        "resume_failures",
        "errors",
    ];
    let summary = Summary {
        command: std::env::args().collect(),
        rss_kib_end_of_warmup: warm.first().map(|p| p.1 as u64),
        rss_kib_end: run.last().map(|p| p.1 as u64),
        rss_kib_after_bots_left: after,
        slope_kib_per_min_after_warmup: slope_per_min(&warm),
        slope_kib_per_min_whole_run: slope_per_min(&run),
        robust_slope_kib_per_min_after_warmup: robust_slope_per_min(&warm),
        samples_after_warmup: warm.len(),
        bot_client_exit: bot_exit,
        bot_client: (bot_report.iter().filter_map(|r| r.as_object()).flatten())
            .filter(|(k, _)| wanted.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    println!("{}", serde_json::to_string_pretty(&summary)?);
    if let Some(path) = &args.run.report_json {
        let report = Report {
            summary: &summary,
            samples: &samples,
            bot_report,
        };
        let json = serde_json::to_string_pretty(&report)? + "\n";
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    if !bots_ok {
        bail!(
            "the bot-client did not succeed ({}): the RSS above is not that of a full swarm \
             (HTTP 429 errors: lift the server's per-address limits with --server-arg)",
            summary.bot_client_exit
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{robust_slope_per_min, slope_per_min};

    #[test]
    fn the_robust_slope_ignores_a_few_outliers() {
        // 1 KiB per 10 s = 6 KiB per minute, with two samples 300 KiB high.
        let mut line: Vec<(f64, f64)> = (0..30)
            .map(|i| (f64::from(i) * 10.0, 1000.0 + f64::from(i)))
            .collect();
        line[25].1 += 300.0;
        line[28].1 += 300.0;
        let s = robust_slope_per_min(&line).unwrap_or(f64::NAN);
        assert!((s - 6.0).abs() < 0.5, "{s}");
        assert!(
            slope_per_min(&line).unwrap_or(0.0) > 20.0,
            "least squares is pulled up"
        );
        assert_eq!(robust_slope_per_min(&[(1.0, 2.0)]), None);
    }

    #[test]
    fn slope_of_a_known_line_and_a_flat_series() {
        // 1,000 KiB + 2 KiB per second: 120 KiB per minute.
        let line: Vec<(f64, f64)> = (0..30)
            .map(|i| (f64::from(i) * 10.0, 1000.0 + 20.0 * f64::from(i)))
            .collect();
        let s = slope_per_min(&line).unwrap_or(f64::NAN);
        assert!((s - 120.0).abs() < 1e-9, "{s}");
        let flat: Vec<(f64, f64)> = (0..30).map(|i| (f64::from(i) * 10.0, 5000.0)).collect();
        assert_eq!(slope_per_min(&flat), Some(0.0));
        assert_eq!(slope_per_min(&[(1.0, 2.0)]), None);
        assert_eq!(slope_per_min(&[(1.0, 2.0), (1.0, 3.0)]), None);
    }
}
