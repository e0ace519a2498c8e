//! `bot-client`: runs a swarm of bots against a Tickwire server and reports what they
//! measured (snapshot rate, bandwidth, round-trip time, prediction error).
//!
//! ```text
//! bot-client --url ws://127.0.0.1:8080/ws --bots 200 --duration 30 --report-json out.json
//! ```
//!
//! Every flag can also come from a `TICKWIRE_BOT_*` environment variable. The exit code
//! is non-zero if any bot failed, so CI can use a run as a smoke test.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use bot_client::swarm::{SwarmConfig, run_swarm};
use clap::Parser;
use rand::RngExt;
use shared::protocol::MAX_NAME_CHARS;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// Run a swarm of bots against a Tickwire server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// WebSocket endpoint of the server.
    #[arg(
        long,
        env = "TICKWIRE_BOT_URL",
        default_value = "ws://127.0.0.1:8080/ws"
    )]
    url: String,
    /// Number of bots.
    #[arg(long, env = "TICKWIRE_BOT_BOTS", default_value_t = 10)]
    bots: u32,
    /// Seconds from the start of the run until every bot disconnects.
    #[arg(long, env = "TICKWIRE_BOT_DURATION", default_value_t = 30.0)]
    duration: f64,
    /// Write the report as JSON to this file.
    #[arg(long, env = "TICKWIRE_BOT_REPORT_JSON")]
    report_json: Option<PathBuf>,
    /// Bots connecting per second.
    #[arg(long, env = "TICKWIRE_BOT_RAMP", default_value_t = 50.0)]
    ramp: f64,
    /// Seed for the bots' random choices (random if omitted; the report shows it).
    #[arg(long, env = "TICKWIRE_BOT_SEED")]
    seed: Option<u64>,
    /// Bots are named PREFIX1, PREFIX2, ...
    #[arg(long, env = "TICKWIRE_BOT_NAME_PREFIX", default_value = "bot")]
    name_prefix: String,
}

impl Args {
    fn into_config(self) -> anyhow::Result<(SwarmConfig, Option<PathBuf>)> {
        if !(self.duration.is_finite() && self.duration > 0.0) {
            bail!("--duration must be a positive number of seconds");
        }
        if !(self.ramp.is_finite() && self.ramp > 0.0) {
            bail!("--ramp must be a positive number of bots per second");
        }
        // The server refuses names it cannot accept; failing here gives one clear error
        // instead of a report full of identical bot failures.
        let longest = format!("{}{}", self.name_prefix.trim(), self.bots.max(1));
        if self.name_prefix.trim().is_empty()
            || longest.chars().count() > MAX_NAME_CHARS
            || self.name_prefix.chars().any(char::is_control)
        {
            bail!(
                "--name-prefix {:?} gives names like {longest:?}; names must have 1 to {MAX_NAME_CHARS} characters and no control characters",
                self.name_prefix
            );
        }
        let seed = self.seed.unwrap_or_else(|| rand::rng().random());
        let cfg = SwarmConfig {
            url: self.url,
            bots: self.bots,
            duration: Duration::from_secs_f64(self.duration),
            ramp_per_sec: self.ramp,
            seed,
            name_prefix: self.name_prefix,
            progress: true,
        };
        Ok((cfg, self.report_json))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();

    let (cfg, report_path) = Args::parse().into_config()?;

    let shutdown = CancellationToken::new();
    let on_ctrl_c = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("interrupted: closing every bot");
            on_ctrl_c.cancel();
        }
    });

    let report = run_swarm(cfg, shutdown).await;
    print!("{report}");

    if let Some(path) = report_path {
        let json = serde_json::to_string_pretty(&report).context("serialising the report")?;
        std::fs::write(&path, json + "\n")
            .with_context(|| format!("writing the report to {}", path.display()))?;
    }

    Ok(if report.bots_failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
