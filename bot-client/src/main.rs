//! `bot-client`: runs a swarm of bots against a Tickwire server and reports what they
//! measured (snapshot rate, bandwidth, round-trip time, prediction error).
//!
//! ```text
//! bot-client --url ws://127.0.0.1:8080/ws --bots 200 --duration 30 --report-json out.json
//! bot-client --api http://127.0.0.1:8080 --rooms 4 --create --bots 40 --churn 5
//! bot-client --url wss://game.example:8443/ws --ca-cert cert.pem --bots 10
//! ```
//!
//! Every flag can also come from a `TICKWIRE_BOT_*` environment variable. The exit code
//! is non-zero if any bot failed, so CI can use a run as a smoke test.
//!
//! `--processes N` spreads the bots over N processes of this binary (re-executed as
//! children, [`bot_client::loadgen`]) and merges their reports into one, exactly;
//! `--pin-cpus LIST` runs those children under `taskset -c LIST`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, bail};
use bot_client::api::ApiClient;
use bot_client::loadgen::{self, LoadGenOptions, LoadGenerator, SwarmSpec};
use bot_client::swarm::{DEFAULT_INPUT_RATE, SwarmCounters, run_swarm_tally, show_progress};
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
    /// Snapshot bytes per second each bot asks for (`SnapshotSettings`); the report's
    /// `bytes_in_max_1s` is the most any bot received within one second.
    #[arg(long, env = "TICKWIRE_BOT_BUDGET")]
    budget: Option<u32>,
    /// Seed for the bots' random choices (random if omitted; the report shows it).
    #[arg(long, env = "TICKWIRE_BOT_SEED")]
    seed: Option<u64>,
    /// Bots are named PREFIX1, PREFIX2, ...
    #[arg(long, env = "TICKWIRE_BOT_NAME_PREFIX", default_value = "bot")]
    name_prefix: String,
    /// Join through the server's rooms API (`http://host:port` or `https://...`): each bot
    /// reserves a seat (`POST /api/rooms/{id}/join`) and connects with its token. Without
    /// `--room` or `--rooms`, bots join the server's default room. A bot whose room is
    /// gone after it lost its session joins another listed room with a free seat; the
    /// report's `bots_per_node` shows where the bots ended.
    #[arg(long, env = "TICKWIRE_BOT_API")]
    api: Option<String>,
    /// With `--api`: the room every bot joins.
    #[arg(long, env = "TICKWIRE_BOT_ROOM", conflicts_with = "rooms")]
    room: Option<String>,
    /// With `--api`: spread the bots over N rooms (the first N listed, or with `--create`
    /// the rooms PREFIX-1 to PREFIX-N, created where missing).
    #[arg(long, env = "TICKWIRE_BOT_ROOMS")]
    rooms: Option<u32>,
    /// With `--api`: create the rooms (`--room`, or `--rooms N` as `--room-prefix`-1…N)
    /// if they do not exist.
    #[arg(long, env = "TICKWIRE_BOT_CREATE")]
    create: bool,
    /// Ids of rooms made by `--rooms N --create`.
    #[arg(long, env = "TICKWIRE_BOT_ROOM_PREFIX", default_value = "bots")]
    room_prefix: String,
    /// Drones in rooms the bots create (the server's default when absent).
    #[arg(long, env = "TICKWIRE_BOT_ROOM_DRONES")]
    room_drones: Option<u32>,
    /// Admin token of the API (to create rooms where the server requires one).
    #[arg(long, env = "TICKWIRE_BOT_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Every this many seconds each bot drops its connection (no close frame) and
    /// resumes with its resume token, checking it got its own entity back; the report
    /// counts `resumes` and `resume_failures`.
    #[arg(long, env = "TICKWIRE_BOT_CHURN")]
    churn: Option<f64>,
    /// Input messages per second per bot; each carries the intents of the ticks until
    /// the next (the room applies one a tick): tick_rate / input_rate of them, rounded
    /// up, so the rate sent divides the tick rate (at 60 Hz: 20 sends 20, 40 sends 30).
    /// The tick rate or more sends one input per tick.
    #[arg(long, env = "TICKWIRE_BOT_INPUT_RATE", default_value_t = DEFAULT_INPUT_RATE,
          value_parser = clap::value_parser!(u16).range(1..))]
    input_rate: u16,
    /// Trust this certificate (PEM) for wss:// and https:// (a self-signed server's);
    /// without it the web PKI roots are trusted.
    #[arg(long, env = "TICKWIRE_BOT_CA_CERT")]
    ca_cert: Option<PathBuf>,
    /// Append the swarm's totals to this file once a second, one JSON object a line
    /// (`t_s`, `connected`, `failed`, `snapshots`, `snapshots_per_s`, `bytes_in_per_s`),
    /// for a tool that watches a long run.
    #[arg(long, env = "TICKWIRE_BOT_TOTALS_JSONL")]
    totals_jsonl: Option<PathBuf>,
    /// Spread the bots over N processes of this binary, each with a share of `--bots`
    /// (its own range of bot numbers, so its own names and seeds) and the same other
    /// settings, ramping together at `--ramp` in all. The report, the live line and
    /// `--totals-jsonl` are of all of them (live totals refresh every 0.2 s); a process
    /// that dies counts its bots as failed. 1 runs the bots in this process.
    #[arg(long, env = "TICKWIRE_BOT_PROCESSES", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    processes: u32,
    /// Run the bot processes under `taskset -c LIST` (util-linux), e.g. `1` or `0,1`:
    /// keeps them off the server's cores. Implies a child process even with
    /// `--processes 1`; this process only reads their reports.
    #[arg(long, env = "TICKWIRE_BOT_PIN_CPUS")]
    pin_cpus: Option<String>,
    /// Internal: be a child of a multi-process swarm (swarms in on stdin, totals and the
    /// report out on stdout as JSON lines).
    #[arg(long = "loadgen-child", hide = true)]
    loadgen_child: bool,
}

impl Args {
    async fn into_spec(self) -> anyhow::Result<(SwarmSpec, Option<PathBuf>, Option<PathBuf>)> {
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
        if self.churn.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
            bail!("--churn must be a positive number of seconds");
        }
        let tls = match &self.ca_cert {
            None => None,
            Some(path) => Some(bot_client::trust_certificate(path)?),
        };
        // Rooms are picked (and created) here, once: the processes of a multi-process
        // swarm all join the same list.
        let (url, rooms) = match &self.api {
            None => {
                if self.room.is_some() || self.rooms.is_some() || self.create {
                    bail!("--room, --rooms and --create need --api");
                }
                (self.url.clone(), None)
            }
            Some(base) => {
                let api = ApiClient::new(base, tls.clone(), self.admin_token.clone())?;
                let rooms = self.pick_rooms(&api).await?;
                eprintln!("joining through {base}: rooms {}", rooms.join(", "));
                (base.clone(), Some(rooms))
            }
        };
        let seed = self.seed.unwrap_or_else(|| rand::rng().random());
        let spec = SwarmSpec {
            url,
            bots: self.bots,
            first_index: 0,
            duration_s: self.duration,
            ramp_per_sec: self.ramp,
            seed,
            name_prefix: self.name_prefix,
            rooms,
            admin_token: self.admin_token,
            churn_s: self.churn,
            ca_cert: self.ca_cert,
            budget: self.budget,
            input_rate: self.input_rate,
        };
        Ok((spec, self.report_json, self.totals_jsonl))
    }

    /// The rooms the bots go to, created first if asked.
    async fn pick_rooms(&self, api: &ApiClient) -> anyhow::Result<Vec<String>> {
        let wanted: Vec<String> = match (&self.room, self.rooms) {
            (Some(room), _) => vec![room.clone()],
            (None, Some(0)) => bail!("--rooms must be at least 1"),
            (None, Some(n)) if self.create => (1..=n)
                .map(|i| format!("{}-{i}", self.room_prefix))
                .collect(),
            (None, Some(n)) => {
                let listed = api.rooms().await.context("listing rooms")?;
                if listed.len() < n as usize {
                    bail!(
                        "--rooms {n}: the server lists {} rooms (add --create to make them)",
                        listed.len()
                    );
                }
                return Ok(listed.into_iter().take(n as usize).map(|r| r.id).collect());
            }
            (None, None) => {
                let listed = api.rooms().await.context("listing rooms")?;
                let room = listed
                    .iter()
                    .find(|r| r.default)
                    .or(listed.first())
                    .context("the server lists no room")?;
                return Ok(vec![room.id.clone()]);
            }
        };
        if self.create {
            let per_room = self.bots.div_ceil(wanted.len() as u32).max(1);
            for id in &wanted {
                let mut spec = serde_json::json!({ "id": id, "max_players": per_room * 2 });
                if let Some(drones) = self.room_drones {
                    spec["drones"] = drones.into();
                }
                let created = api
                    .create_room(&spec)
                    .await
                    .with_context(|| format!("creating room {id}"))?;
                if created {
                    eprintln!("created room {id}");
                }
            }
        }
        Ok(wanted)
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

    let shutdown = CancellationToken::new();
    let on_ctrl_c = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("interrupted: closing every bot");
            on_ctrl_c.cancel();
        }
    });

    let args = Args::parse();
    if args.loadgen_child {
        let result = loadgen::run_child(shutdown).await;
        // The runtime would wait for its stdin reader, a blocking read that cannot be
        // cancelled; everything the parent needs is written, so leave at once.
        std::process::exit(match result {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("bot process: {e}");
                1
            }
        });
    }
    let (processes, pin_cpus) = (args.processes, args.pin_cpus.clone());
    let (spec, report_path, totals_path) = args.into_spec().await?;
    let children = if processes > 1 || pin_cpus.is_some() {
        let bin = std::env::current_exe().context("finding this program to re-execute it")?;
        Some(LoadGenerator::spawn(&LoadGenOptions {
            bin,
            processes,
            pin_cpus,
        })?)
    } else {
        None
    };
    let live = match &children {
        Some(children) => children.live(),
        None => Arc::new(SwarmCounters::default()),
    };
    let totals_done = CancellationToken::new();
    let totals = match totals_path {
        None => None,
        Some(path) => {
            let file = std::fs::File::create(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            Some(tokio::spawn(write_totals(
                file,
                live.clone(),
                totals_done.clone(),
            )))
        }
    };

    let mut tally = match children {
        None => {
            let cfg = spec.to_config(true)?;
            let mut tally = run_swarm_tally(cfg, shutdown, live).await;
            tally.processes = 1;
            tally
        }
        Some(mut children) => {
            // The children draw no progress line of their own: this one sums theirs.
            let progress_done = CancellationToken::new();
            let progress = tokio::spawn(show_progress(
                true,
                children.processes(),
                spec.bots,
                tokio::time::Instant::now(),
                live,
                progress_done.clone(),
            ));
            children.add(&spec).await;
            let tally = children.finish(shutdown).await;
            progress_done.cancel();
            let _ = progress.await;
            tally
        }
    };
    // This process's CPU: all of the bots' with --processes 1, the reading of the
    // children's reports otherwise (theirs are in the tally already).
    tally.cpu_s += loadgen::process_cpu_s();
    let report = tally.report();
    totals_done.cancel();
    if let Some(totals) = totals {
        totals.await.context("the totals writer died")??;
    }
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

/// One JSON line of swarm totals a second until `done`.
async fn write_totals(
    file: std::fs::File,
    live: Arc<SwarmCounters>,
    done: CancellationToken,
) -> anyhow::Result<()> {
    let mut out = std::io::LineWriter::new(file);
    let start = tokio::time::Instant::now();
    let mut timer = tokio::time::interval(Duration::from_secs(1));
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    timer.tick().await;
    let (mut last_at, mut last_snapshots, mut last_bytes) = (start, 0u64, 0u64);
    loop {
        tokio::select! {
            _ = timer.tick() => {}
            () = done.cancelled() => return Ok(()),
        }
        let now = tokio::time::Instant::now();
        let secs = (now - last_at).as_secs_f64().max(1e-3);
        let snapshots = live.snapshots.load(Ordering::Relaxed);
        let bytes = live.bytes_in.load(Ordering::Relaxed);
        let line = serde_json::json!({
            "t_s": (now - start).as_secs_f64(),
            "connected": live.connected.load(Ordering::Relaxed),
            "failed": live.failed.load(Ordering::Relaxed),
            "snapshots": snapshots,
            "snapshots_per_s": (snapshots - last_snapshots) as f64 / secs,
            "bytes_in_per_s": (bytes - last_bytes) as f64 / secs,
        });
        writeln!(out, "{line}")?;
        (last_at, last_snapshots, last_bytes) = (now, snapshots, bytes);
    }
}
