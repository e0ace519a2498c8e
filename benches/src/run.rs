//! What the long-run benches (`memory`, `soak`) share: a bot-client child that dies with
//! us, pinning a process to CPUs, sampling a process's RSS and CPU, and the slopes that
//! tell a leak from noise.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::child::{clock_ticks_per_sec, cpu_ticks, rss_kib};

/// The flags the long runs share: the swarm, the sampling, the binaries.
#[derive(Debug, clap::Args)]
pub struct LongRunArgs {
    /// Bots in the swarm.
    #[arg(long, default_value_t = 200)]
    pub bots: u32,
    /// Rooms the bots are spread over (`bots-1` … `bots-N`, created through the API).
    #[arg(long, default_value_t = 2)]
    pub rooms: u32,
    /// Seconds between samples of the server.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub sample_s: u64,
    /// Samples taken before this many seconds are left out of the post-warm-up slope.
    #[arg(long, default_value_t = 60)]
    pub warmup_s: u64,
    /// The server binary (build it with `cargo build --release -p server`).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/server"))]
    pub server_bin: PathBuf,
    /// The bot-client binary (build it with `cargo build --release -p bot-client`).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/bot-client"))]
    pub bot_bin: PathBuf,
    /// One more argument to the server (repeatable): `--server-arg=--drones --server-arg=0`.
    #[arg(long, allow_hyphen_values = true)]
    pub server_arg: Vec<String>,
    /// Pin the server (all its threads) to these CPUs (`taskset -c` list, e.g. `0`).
    #[arg(long)]
    pub server_cpus: Option<String>,
    /// Where to write the summary and the samples as JSON.
    #[arg(long)]
    pub report_json: Option<PathBuf>,
}

/// One sample of a process.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub t_s: f64,
    pub rss_kib: u64,
    /// CPU time since the previous sample over wall time; 100 is one core.
    pub cpu_percent: f64,
    pub bots_running: bool,
}

/// Samples one process from `/proc`: RSS, and CPU time since the previous sample.
#[derive(Debug)]
pub struct Sampler {
    pid: String,
    clk: f64,
    t0: Instant,
    last: (Instant, u64),
}

impl Sampler {
    pub fn new(pid: &str) -> anyhow::Result<Sampler> {
        let t0 = Instant::now();
        Ok(Sampler {
            pid: pid.to_owned(),
            clk: clock_ticks_per_sec(),
            t0,
            last: (t0, cpu_ticks(pid)?),
        })
    }

    /// Seconds since the sampler started.
    pub fn elapsed_s(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    pub fn sample(&mut self, bots_running: bool) -> anyhow::Result<Sample> {
        let pid = &self.pid;
        let err = || format!("reading /proc/{pid} (did the server exit?)");
        let ticks = cpu_ticks(pid).with_context(err)?;
        let rss_kib = rss_kib(pid).with_context(err)?;
        let now = Instant::now();
        let dt = (now - self.last.0).as_secs_f64().max(1e-3);
        let cpu_percent = ticks.saturating_sub(self.last.1) as f64 / self.clk / dt * 100.0;
        self.last = (now, ticks);
        Ok(Sample {
            t_s: (now - self.t0).as_secs_f64(),
            rss_kib,
            cpu_percent,
            bots_running,
        })
    }
}

/// Least-squares slope of `y` over `t` (seconds), per minute; `None` without two
/// distinct times.
pub fn slope_per_min(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sty, mut stt) = (0.0, 0.0);
    for &(t, y) in points {
        sty += (t - mean_t) * (y - mean_y);
        stt += (t - mean_t) * (t - mean_t);
    }
    (stt > 0.0).then(|| sty / stt * 60.0)
}

/// Theil–Sen slope of `y` over `t` (seconds), per minute: the median of the slopes
/// between every two samples; `None` without two distinct times.
pub fn robust_slope_per_min(points: &[(f64, f64)]) -> Option<f64> {
    let mut slopes: Vec<f64> = Vec::new();
    for (k, a) in points.iter().enumerate() {
        for b in points.iter().skip(k + 1) {
            if b.0 != a.0 {
                slopes.push((b.1 - a.1) / (b.0 - a.0) * 60.0);
            }
        }
    }
    slopes.sort_by(f64::total_cmp);
    let n = slopes.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => slopes.get(n / 2).copied(),
        _ => Some((slopes.get(n / 2 - 1)? + slopes.get(n / 2)?) / 2.0),
    }
}

/// The bot-client child; killed if still running when dropped (an error on our side).
#[derive(Debug)]
pub struct Bots(pub Child);

impl Bots {
    /// Waits for the bot-client to exit, calling `sample` every `every`; kills it once
    /// `deadline` has passed. Returns its exit status, `None` if it had to be killed.
    pub async fn watch(
        &mut self,
        every: Duration,
        deadline: Duration,
        mut sample: impl FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<Option<ExitStatus>> {
        let t0 = Instant::now();
        let mut next = every;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if let Some(status) = self.0.try_wait()? {
                return Ok(Some(status));
            }
            if t0.elapsed() >= next {
                sample()?;
                next += every;
            }
            if t0.elapsed() > deadline {
                let _ = self.0.kill();
                let _ = self.0.wait();
                return Ok(None);
            }
        }
    }
}

impl Drop for Bots {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Sets the CPU affinity of every thread of `pid` (threads created later inherit it).
pub fn pin_all_threads(pid: &str, cpus: &str) -> anyhow::Result<()> {
    let out = Command::new("taskset")
        .args(["-a", "-c", "-p", cpus, pid])
        .output()
        .context("cannot run taskset")?;
    if !out.status.success() {
        bail!(
            "taskset -a -c -p {cpus} {pid}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
