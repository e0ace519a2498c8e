//! A swarm spread over several processes, so that the load generator is not the limit
//! of a load test: one process's event loop, allocator and open-file limit
//! (`ulimit -n`, one socket per bot) no longer bound the swarm, and each process can be
//! pinned to cores of its own.
//!
//! The parent ([`LoadGenerator`]) starts `bot-client` [`CHILD_FLAG`] N times (the binary
//! it is given: `bot-client` re-executes itself, the capacity bench names the built
//! one), optionally under `taskset -c LIST`. The two ends speak JSON lines:
//!
//! - parent → child, on the child's stdin: `{"add": SwarmSpec}` starts a swarm in the
//!   child (several may run at once); `"finish"` says no more will come, and the child
//!   ends when its swarms have run their time. End of input (the parent closed the pipe,
//!   or died) stops every swarm at once, as a shutdown does.
//! - child → parent, on the child's stdout: `{"live": ...}` every [`LIVE_INTERVAL`] (the
//!   child's counters and CPU time, which the parent sums into one
//!   [`SwarmCounters`] for its progress line, its totals file or a bench's
//!   measurements), then one `{"done": Tally}` with everything the report is computed
//!   from (histograms in V2 format), which the parent merges exactly
//!   ([`Tally::merge`]).
//!
//! [`LoadGenerator::add`] splits a swarm into contiguous ranges of bot indices, one per
//! child, each ramping at its share of the rate: the bots (names, seeds, rooms) are the
//! ones a single process would run. A child that ends without its report counts its
//! bots as failed, with an error that says so.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::ApiClient;
use crate::client::ClientError;
use crate::report::{MergeError, Tally};
use crate::swarm::{Join, SwarmConfig, SwarmCounters, run_swarm_tally};

/// The hidden flag that makes `bot-client` a child of a [`LoadGenerator`].
pub const CHILD_FLAG: &str = "--loadgen-child";

/// How often a child reports its live totals: often enough that a bench measuring the
/// snapshots received over a 10-second window is off by at most a few per cent.
pub const LIVE_INTERVAL: Duration = Duration::from_millis(200);

/// Environment variables a child must not inherit: they are the parent's flags (a
/// report path, a bot count), which the child would read as its own.
const FLAG_ENV_PREFIX: &str = "TICKWIRE_BOT_";

/// What can go wrong between a load generator and its processes.
#[derive(Debug, thiserror::Error)]
pub enum LoadGenError {
    #[error("cannot start {bin}: {source}")]
    Spawn { bin: String, source: std::io::Error },
    #[error("`taskset -c {cpus}` refused ({why}); --pin-cpus takes a list such as 1 or 0,2-3")]
    Pin { cpus: String, why: String },
    #[error("the swarm's settings: {0}")]
    Settings(#[from] ClientError),
    #[error("talking to the parent: {0}")]
    Io(#[from] std::io::Error),
    #[error("a message from the parent: {0}")]
    Message(#[from] serde_json::Error),
    #[error(transparent)]
    Merge(#[from] MergeError),
}

/// A swarm as a child process receives it: [`SwarmConfig`] with the parts that cannot
/// cross a pipe (the API client, the TLS configuration) as the settings they are built
/// from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwarmSpec {
    /// The WebSocket endpoint, or with `rooms` the rooms API's base URL.
    pub url: String,
    pub bots: u32,
    /// See [`SwarmConfig::first_index`].
    pub first_index: u32,
    pub duration_s: f64,
    pub ramp_per_sec: f64,
    pub seed: u64,
    pub name_prefix: String,
    /// Join through the rooms API at `url`, bot `i` into `rooms[i % len]`; `None`
    /// connects to `url` directly.
    pub rooms: Option<Vec<String>>,
    /// The API's admin token (sent over the pipe, not on a command line that `ps` shows).
    pub admin_token: Option<String>,
    pub churn_s: Option<f64>,
    /// A certificate (PEM) to trust for `wss://` and `https://`.
    pub ca_cert: Option<PathBuf>,
    pub budget: Option<u32>,
    pub input_rate: u16,
}

impl SwarmSpec {
    /// The swarm to run; `progress` draws the live line.
    pub fn to_config(&self, progress: bool) -> Result<SwarmConfig, LoadGenError> {
        let tls = match &self.ca_cert {
            None => None,
            Some(path) => Some(crate::client::trust_certificate(path)?),
        };
        let join = match &self.rooms {
            None => Join::Direct,
            Some(rooms) => Join::Api {
                api: ApiClient::new(&self.url, tls.clone(), self.admin_token.clone())?,
                rooms: rooms.clone(),
            },
        };
        Ok(SwarmConfig {
            url: self.url.clone(),
            bots: self.bots,
            duration: secs(self.duration_s),
            ramp_per_sec: self.ramp_per_sec,
            seed: self.seed,
            name_prefix: self.name_prefix.clone(),
            first_index: self.first_index,
            progress,
            join,
            churn: self.churn_s.map(secs),
            tls,
            budget: self.budget,
            input_rate: self.input_rate,
        })
    }

    /// This swarm cut into `parts` contiguous ranges of bots (sizes differing by at most
    /// one, empty ones left out), each ramping at its share of the rate so that all
    /// finish their ramp together. Returns (part index, spec) pairs.
    pub fn split(&self, parts: u32) -> Vec<(usize, SwarmSpec)> {
        let parts = parts.max(1);
        let mut next = self.first_index;
        let mut out = Vec::new();
        for k in 0..parts {
            let share = self.bots / parts + u32::from(k < self.bots % parts);
            if share == 0 {
                continue;
            }
            let ramp = if self.ramp_per_sec.is_finite() && self.ramp_per_sec > 0.0 {
                self.ramp_per_sec * f64::from(share) / f64::from(self.bots)
            } else {
                self.ramp_per_sec
            };
            out.push((
                k as usize,
                SwarmSpec {
                    bots: share,
                    first_index: next,
                    ramp_per_sec: ramp,
                    ..self.clone()
                },
            ));
            next = next.saturating_add(share);
        }
        out
    }
}

/// `s` seconds, at most a year (a deadline further away could overflow an `Instant`),
/// none if it is not a positive number.
fn secs(s: f64) -> Duration {
    const YEAR_S: f64 = 365.0 * 86_400.0;
    if s.is_finite() && s > 0.0 {
        Duration::from_secs_f64(s.min(YEAR_S))
    } else {
        Duration::ZERO
    }
}

/// Parent → child.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ToChild {
    Add(SwarmSpec),
    Finish,
}

/// Child → parent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FromChild {
    Live(LiveTotals),
    Done(Box<Tally>),
}

/// A child's counters ([`SwarmCounters`]) and CPU time so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct LiveTotals {
    connected: u64,
    failed: u64,
    snapshots: u64,
    bytes_in: u64,
    cpu_s: f64,
}

impl LiveTotals {
    fn read(live: &SwarmCounters) -> LiveTotals {
        LiveTotals {
            connected: live.connected.load(Ordering::Relaxed),
            failed: live.failed.load(Ordering::Relaxed),
            snapshots: live.snapshots.load(Ordering::Relaxed),
            bytes_in: live.bytes_in.load(Ordering::Relaxed),
            cpu_s: process_cpu_s(),
        }
    }

    /// Moves the parent's sums from this child's `self` to `to`. Wrapping arithmetic:
    /// `connected` goes down as well as up, and a wrapped add of the difference is the
    /// subtraction.
    fn apply(&self, to: &LiveTotals, sums: &SwarmCounters) {
        let step = |sum: &AtomicU64, from: u64, to: u64| {
            sum.fetch_add(to.wrapping_sub(from), Ordering::Relaxed);
        };
        step(&sums.connected, self.connected, to.connected);
        step(&sums.failed, self.failed, to.failed);
        step(&sums.snapshots, self.snapshots, to.snapshots);
        step(&sums.bytes_in, self.bytes_in, to.bytes_in);
    }
}

/// CPU time (user + system, all threads) of this process since it started, seconds.
pub fn process_cpu_s() -> f64 {
    cpu_time::ProcessTime::try_now().map_or(0.0, |t| t.as_duration().as_secs_f64())
}

/// How to start the processes.
#[derive(Debug, Clone)]
pub struct LoadGenOptions {
    /// The `bot-client` binary.
    pub bin: PathBuf,
    /// How many processes (at least 1).
    pub processes: u32,
    /// Run each under `taskset -c LIST` (util-linux), e.g. `1` or `0,1`.
    pub pin_cpus: Option<String>,
}

/// The bot processes of a swarm; see the module's documentation.
#[derive(Debug)]
pub struct LoadGenerator {
    children: Vec<ChildHandle>,
    live: Arc<SwarmCounters>,
    /// URL and seed of the first swarm added, for the merged report.
    first: Option<(String, u64)>,
}

#[derive(Debug)]
struct ChildHandle {
    pid: u32,
    stdin: Option<ChildStdin>,
    /// Bots sent to it so far.
    assigned: Arc<AtomicU32>,
    reader: JoinHandle<ChildEnd>,
}

/// How a child ended.
#[derive(Debug)]
struct ChildEnd {
    tally: Option<Tally>,
    last: LiveTotals,
    status: String,
}

impl LoadGenerator {
    /// Starts the processes; each waits for swarms ([`LoadGenerator::add`]).
    pub fn spawn(opts: &LoadGenOptions) -> Result<LoadGenerator, LoadGenError> {
        if let Some(cpus) = &opts.pin_cpus {
            check_pin(cpus)?;
        }
        let live = Arc::new(SwarmCounters::default());
        let mut children = Vec::new();
        for _ in 0..opts.processes.max(1) {
            let mut cmd = match &opts.pin_cpus {
                None => Command::new(&opts.bin),
                Some(cpus) => {
                    // taskset sets the affinity and execs the binary: same pid.
                    let mut cmd = Command::new("taskset");
                    cmd.arg("-c").arg(cpus).arg(&opts.bin);
                    cmd
                }
            };
            cmd.arg(CHILD_FLAG)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true);
            for (key, _) in std::env::vars_os() {
                if key.to_string_lossy().starts_with(FLAG_ENV_PREFIX) {
                    cmd.env_remove(key);
                }
            }
            let mut child = cmd.spawn().map_err(|source| LoadGenError::Spawn {
                bin: opts.bin.display().to_string(),
                source,
            })?;
            let pid = child.id().unwrap_or(0);
            let stdin = child.stdin.take();
            let Some(stdout) = child.stdout.take() else {
                continue;
            };
            let assigned = Arc::new(AtomicU32::new(0));
            let reader = tokio::spawn(read_child(stdout, child, live.clone(), assigned.clone()));
            children.push(ChildHandle {
                pid,
                stdin,
                assigned,
                reader,
            });
        }
        Ok(LoadGenerator {
            children,
            live,
            first: None,
        })
    }

    /// The sums of the children's live counters, updated every [`LIVE_INTERVAL`].
    pub fn live(&self) -> Arc<SwarmCounters> {
        self.live.clone()
    }

    /// The children's process ids (to read their CPU time and memory in `/proc`).
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(|c| c.pid).collect()
    }

    pub fn processes(&self) -> u32 {
        u32::try_from(self.children.len()).unwrap_or(u32::MAX)
    }

    /// Starts `spec` spread over the processes ([`SwarmSpec::split`]). A process that
    /// cannot take its share any more (it died) is not an error here: its bots are
    /// counted as failed when it is collected.
    pub async fn add(&mut self, spec: &SwarmSpec) {
        self.first
            .get_or_insert_with(|| (spec.url.clone(), spec.seed));
        for (k, part) in spec.split(self.processes()) {
            let Some(child) = self.children.get_mut(k) else {
                continue;
            };
            child.assigned.fetch_add(part.bots, Ordering::Relaxed);
            if let Err(e) = child.send(&ToChild::Add(part)).await {
                tracing::warn!("bot process {} (pid {}): {e}", k + 1, child.pid);
            }
        }
    }

    /// Lets every swarm run its time, then merges the processes' reports. Cancelling
    /// `shutdown` stops them at once (as a shutdown of a single process does).
    pub async fn finish(mut self, shutdown: CancellationToken) -> Tally {
        for (k, child) in self.children.iter_mut().enumerate() {
            if let Err(e) = child.send(&ToChild::Finish).await {
                tracing::warn!("bot process {} (pid {}): {e}", k + 1, child.pid);
            }
        }
        let mut stdins: Vec<Option<ChildStdin>> =
            self.children.iter_mut().map(|c| c.stdin.take()).collect();
        let ends = {
            let readers = futures_util::future::join_all(
                self.children
                    .iter_mut()
                    .map(|c| &mut c.reader)
                    .collect::<Vec<_>>(),
            );
            tokio::pin!(readers);
            tokio::select! {
                ends = &mut readers => ends,
                () = shutdown.cancelled() => {
                    // End of input stops a child's swarms.
                    stdins.clear();
                    readers.await
                }
            }
        };
        drop(stdins);
        self.merge(ends)
    }

    /// Stops every swarm now and merges the processes' reports.
    pub async fn stop(self) -> Tally {
        let stop = CancellationToken::new();
        stop.cancel();
        // Closing the pipes before "finish" could be read makes no difference: a child
        // that reads end of input stops at once either way.
        let mut this = self;
        for child in &mut this.children {
            child.stdin = None;
        }
        this.finish(stop).await
    }

    fn merge(&self, ends: Vec<Result<ChildEnd, tokio::task::JoinError>>) -> Tally {
        let (url, seed) = self.first.clone().unwrap_or_default();
        let mut tally = Tally::empty(&url, seed);
        for (k, (child, end)) in self.children.iter().zip(ends).enumerate() {
            let bots = child.assigned.load(Ordering::Relaxed);
            let what = format!("bot process {} (pid {})", k + 1, child.pid);
            let end = match end {
                Ok(end) => end,
                Err(e) => ChildEnd {
                    tally: None,
                    last: LiveTotals::default(),
                    status: format!("its reader failed: {e}"),
                },
            };
            let lost = match end.tally {
                Some(part) => match tally.merge(&part) {
                    Ok(()) => None,
                    Err(e) => Some(format!("{what} sent a report that does not merge: {e}")),
                },
                None => Some(format!("{what} ended without a report ({})", end.status)),
            };
            if let Some(why) = lost {
                tally.add_failed(bots, why);
                tally.processes += 1;
                // The CPU it had used at its last live report.
                tally.cpu_s += end.last.cpu_s;
            }
        }
        tally
    }
}

impl ChildHandle {
    async fn send(&mut self, message: &ToChild) -> Result<(), LoadGenError> {
        // Closed on purpose (a stop): there is nothing to say any more.
        let Some(stdin) = self.stdin.as_mut() else {
            return Ok(());
        };
        let mut line = serde_json::to_vec(message)?;
        line.push(b'\n');
        stdin.write_all(&line).await?;
        stdin.flush().await?;
        Ok(())
    }
}

/// Fails early, with the reason, when `taskset` is missing or refuses the list.
fn check_pin(cpus: &str) -> Result<(), LoadGenError> {
    let out = std::process::Command::new("taskset")
        .arg("-c")
        .arg(cpus)
        .arg("true")
        .stdout(Stdio::null())
        .output();
    let why = match out {
        Ok(out) if out.status.success() => return Ok(()),
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        Err(e) => e.to_string(),
    };
    Err(LoadGenError::Pin {
        cpus: cpus.to_owned(),
        why,
    })
}

/// Follows one child's stdout into the parent's live sums until it ends, then reaps it.
async fn read_child(
    stdout: ChildStdout,
    mut child: Child,
    sums: Arc<SwarmCounters>,
    assigned: Arc<AtomicU32>,
) -> ChildEnd {
    let mut last = LiveTotals::default();
    let mut tally = None;
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!("reading a bot process: {e}");
                break;
            }
        };
        match serde_json::from_str::<FromChild>(&line) {
            Ok(FromChild::Live(now)) => {
                last.apply(&now, &sums);
                last = now;
            }
            Ok(FromChild::Done(t)) => tally = Some(*t),
            Err(e) => tracing::warn!("a bot process sent a line that is not ours: {e}"),
        }
    }
    let status = match child.wait().await {
        Ok(status) => status.to_string(),
        Err(e) => e.to_string(),
    };
    if tally.is_none() {
        // Its bots are gone: the live sums say so at once (a bench's ramp watches them).
        let gone = LiveTotals {
            connected: 0,
            failed: last.failed.max(u64::from(assigned.load(Ordering::Relaxed))),
            ..last
        };
        last.apply(&gone, &sums);
        last = gone;
    }
    ChildEnd {
        tally,
        last,
        status,
    }
}

/// The child's side: reads swarms on stdin, runs them, reports live totals and then its
/// tally on stdout, and returns when its swarms have ended. Nothing else may write to
/// stdout meanwhile.
pub async fn run_child(shutdown: CancellationToken) -> Result<(), LoadGenError> {
    let live = Arc::new(SwarmCounters::default());
    let stop = shutdown.child_token();
    let (out, mut lines_out) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(line) = lines_out.recv().await {
            stdout.write_all(&line).await?;
            stdout.flush().await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let send = |message: &FromChild| -> Result<(), LoadGenError> {
        let mut line = serde_json::to_vec(message)?;
        line.push(b'\n');
        // The writer ends only after this function drops `out`.
        let _ = out.send(line);
        Ok(())
    };

    let reporting = CancellationToken::new();
    let reporter = {
        let (live, out, reporting) = (live.clone(), out.clone(), reporting.clone());
        tokio::spawn(async move {
            let mut timer = tokio::time::interval(LIVE_INTERVAL);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = timer.tick() => {}
                    () = reporting.cancelled() => return,
                }
                if let Ok(mut line) = serde_json::to_vec(&FromChild::Live(LiveTotals::read(&live)))
                {
                    line.push(b'\n');
                    let _ = out.send(line);
                }
            }
        })
    };

    let mut swarms = Vec::new();
    let mut input = BufReader::new(tokio::io::stdin()).lines();
    let mut input_open = true;
    // Swarms until "finish", end of input or a shutdown.
    loop {
        let line = tokio::select! {
            line = input.next_line() => line?,
            () = stop.cancelled() => break,
        };
        let Some(line) = line else {
            // The parent closed the pipe (or died): stop now.
            stop.cancel();
            input_open = false;
            break;
        };
        match serde_json::from_str::<ToChild>(&line)? {
            ToChild::Add(spec) => {
                let cfg = spec.to_config(false)?;
                swarms.push(tokio::spawn(run_swarm_tally(
                    cfg,
                    stop.clone(),
                    live.clone(),
                )));
            }
            ToChild::Finish => break,
        }
    }

    // After "finish", the swarms run their time; end of input still stops them.
    let all = futures_util::future::join_all(swarms);
    tokio::pin!(all);
    let results = loop {
        tokio::select! {
            results = &mut all => break results,
            line = input.next_line(), if input_open => {
                if !matches!(line, Ok(Some(_))) {
                    stop.cancel();
                    input_open = false;
                }
            }
        }
    };

    let mut tally = Tally::empty("", 0);
    let mut first = true;
    for result in results {
        let part = match result {
            Ok(part) => part,
            Err(e) => {
                tracing::warn!("a swarm task failed: {e}");
                continue;
            }
        };
        if first {
            (tally.url, tally.seed) = (part.url.clone(), part.seed);
            first = false;
        }
        tally.merge(&part)?;
    }
    reporting.cancel();
    let _ = reporter.await;
    tally.processes = 1;
    tally.cpu_s = process_cpu_s();
    send(&FromChild::Live(LiveTotals::read(&live)))?;
    send(&FromChild::Done(Box::new(tally)))?;
    drop(out);
    writer
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(bots: u32, first_index: u32) -> SwarmSpec {
        SwarmSpec {
            url: "http://127.0.0.1:1".into(),
            bots,
            first_index,
            duration_s: 10.0,
            ramp_per_sec: 100.0,
            seed: 5,
            name_prefix: "b".into(),
            rooms: Some(vec!["r1".into(), "r2".into()]),
            admin_token: None,
            churn_s: None,
            ca_cert: None,
            budget: None,
            input_rate: 20,
        }
    }

    #[test]
    fn a_swarm_splits_into_contiguous_shares_that_ramp_together() {
        let parts = spec(10, 100).split(3);
        let shares: Vec<(usize, u32, u32)> = parts
            .iter()
            .map(|(k, p)| (*k, p.bots, p.first_index))
            .collect();
        assert_eq!(shares, vec![(0, 4, 100), (1, 3, 104), (2, 3, 107)]);
        for (_, p) in &parts {
            // Every share takes the whole swarm's ramp time: 10 bots at 100/s.
            assert!((f64::from(p.bots) / p.ramp_per_sec - 0.1).abs() < 1e-12);
            assert_eq!((p.seed, &p.name_prefix), (5, &"b".to_owned()));
        }
    }

    #[test]
    fn fewer_bots_than_processes_leaves_the_rest_idle() {
        let parts = spec(2, 0).split(4);
        let shares: Vec<(usize, u32)> = parts.iter().map(|(k, p)| (*k, p.bots)).collect();
        assert_eq!(shares, vec![(0, 1), (1, 1)]);
        assert!(spec(0, 0).split(2).is_empty());
    }

    #[tokio::test]
    async fn bots_of_a_process_that_dies_count_as_failed() {
        // `false` stands for a bot-client that dies at once, before any report.
        let mut lg = LoadGenerator::spawn(&LoadGenOptions {
            bin: "false".into(),
            processes: 2,
            pin_cpus: None,
        })
        .expect("starts");
        let pids = lg.pids();
        lg.add(&spec(5, 0)).await;
        let live = lg.live();
        let t = tokio::time::timeout(Duration::from_secs(30), lg.finish(CancellationToken::new()))
            .await
            .expect("a dead process is collected");
        let r = t.report();
        assert_eq!(
            (r.bots_requested, r.bots_connected, r.bots_failed),
            (5, 0, 5)
        );
        assert_eq!(r.processes, 2);
        let first = format!("bot process 1 (pid {}) ended without a report", pids[0]);
        let errors: Vec<(&String, &u64)> = r.errors.iter().collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].0.starts_with(&first), "{errors:?}");
        assert_eq!((*errors[0].1, *errors[1].1), (3, 2));
        // The live sums say so too.
        assert_eq!(live.failed.load(Ordering::Relaxed), 5);
        assert_eq!(live.connected.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn live_totals_move_the_sums_both_ways() {
        let sums = SwarmCounters::default();
        let a = LiveTotals {
            connected: 5,
            failed: 1,
            snapshots: 100,
            bytes_in: 1000,
            cpu_s: 0.0,
        };
        LiveTotals::default().apply(&a, &sums);
        let b = LiveTotals {
            connected: 2,
            snapshots: 150,
            ..a
        };
        a.apply(&b, &sums);
        assert_eq!(sums.connected.load(Ordering::Relaxed), 2);
        assert_eq!(sums.failed.load(Ordering::Relaxed), 1);
        assert_eq!(sums.snapshots.load(Ordering::Relaxed), 150);
        assert_eq!(sums.bytes_in.load(Ordering::Relaxed), 1000);
    }

    #[test]
    fn messages_round_trip_as_json_lines() {
        let line = serde_json::to_string(&ToChild::Add(spec(3, 0))).unwrap();
        assert!(!line.contains('\n'));
        match serde_json::from_str::<ToChild>(&line).unwrap() {
            ToChild::Add(back) => assert_eq!(back, spec(3, 0)),
            ToChild::Finish => panic!("not an add"),
        }
        let finish = serde_json::to_string(&ToChild::Finish).unwrap();
        assert!(matches!(
            serde_json::from_str::<ToChild>(&finish).unwrap(),
            ToChild::Finish
        ));
    }
}
