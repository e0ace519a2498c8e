//! A release server run as a child process, and what `/proc` says about a process: its
//! resident set size, its CPU time, the open-file limit.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// Server flags for a load generator on this machine: every bot comes from one loopback
/// address, so the per-address limits meant for strangers are lifted, and the entity
/// budget is opened for whatever rooms the bench creates.
pub const LOAD_GENERATOR_ARGS: [&str; 16] = [
    "--ip-connect-rate",
    "0",
    "--ip-max-connections",
    "0",
    "--api-join-rate",
    "0",
    "--api-create-rate",
    "0",
    "--api-delete-rate",
    "0",
    "--ip-room-reservations",
    "0",
    "--ip-reservations",
    "0",
    "--max-entities",
    "100000000",
];

/// A server child process; killed when dropped.
#[derive(Debug)]
pub struct ServerChild {
    child: Child,
    /// `ws://127.0.0.1:PORT/ws`
    pub ws_url: String,
    /// `http://127.0.0.1:PORT`
    pub http_base: String,
}

impl ServerChild {
    /// Starts `bin` with `args` (plus `--addr 127.0.0.1:0`) and `RUST_LOG=log`, and waits
    /// for the URL it prints once it listens.
    pub async fn start(bin: &Path, args: &[String], log: &str) -> anyhow::Result<ServerChild> {
        ServerChild::start_pinned(bin, args, log, None).await
    }

    /// [`ServerChild::start`] under `taskset -c CPUS` (util-linux) when `cpus` is given:
    /// taskset sets the affinity and executes the server, so the pid is the server's.
    pub async fn start_pinned(
        bin: &Path,
        args: &[String],
        log: &str,
        cpus: Option<&str>,
    ) -> anyhow::Result<ServerChild> {
        if !bin.exists() {
            bail!(
                "{} does not exist: build the server first with `cargo build --release -p server`",
                bin.display()
            );
        }
        let mut command = match cpus {
            None => Command::new(bin),
            Some(cpus) => {
                let mut command = Command::new("taskset");
                command.arg("-c").arg(cpus).arg(bin);
                command
            }
        };
        let mut child = command
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let ws_url = match listening_url(&mut child).await {
            Ok(url) => url,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        let http_base = ws_url
            .replacen("ws://", "http://", 1)
            .trim_end_matches("/ws")
            .to_owned();
        Ok(ServerChild {
            child,
            ws_url,
            http_base,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server and reaps it.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The server prints its WebSocket URL on stdout once it listens; a thread reads it and
/// then drains the rest, so that the server never blocks on a full pipe.
async fn listening_url(child: &mut Child) -> anyhow::Result<String> {
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        // Log lines (the server logs to stdout too) may come first.
        let mut lines = std::io::BufReader::new(stdout).lines();
        let url = lines.by_ref().map_while(Result::ok).find_map(|line| {
            line.split_whitespace()
                .find(|w| w.starts_with("ws://"))
                .map(str::to_owned)
        });
        let _ = tx.send(url);
        for _ in lines {}
    });
    tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .context("the server did not start listening within 30 s")??
        .context("the server exited without printing its ws:// URL")
}

/// VmRSS of a process (`"self"` or a pid), KiB.
pub fn rss_kib(pid: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

/// User plus system CPU time of a process (`"self"` or a pid), all its threads, in
/// clock ticks (see [`clock_ticks_per_sec`]).
pub fn cpu_ticks(pid: &str) -> anyhow::Result<u64> {
    let (user, system) = cpu_ticks_split(pid)?;
    Ok(user + system)
}

/// User and system CPU time of a process apart, in clock ticks: the system part is the
/// kernel's work for it (on loopback, TCP for both ends of a send).
pub fn cpu_ticks_split(pid: &str) -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces: count fields after its closing ')'.
    let rest = stat.rsplit_once(')').context("malformed /proc/PID/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')' (1-based 3).
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok((utime, stime))
}

/// `sysconf(_SC_CLK_TCK)` through `getconf` (no `unsafe` here); Linux's 100 otherwise.
pub fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}

/// The soft open-file limit of this process, if `/proc/self/limits` tells.
pub fn fd_soft_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
}

/// Fails early, with the fix, when the open-file limit cannot hold `sockets` + 100.
pub fn check_fd_limit(sockets: u64) -> anyhow::Result<()> {
    match fd_soft_limit() {
        Some(soft) if soft < sockets + 100 => bail!(
            "the open-file limit ({soft}) is below {sockets} sockets + 100: run `ulimit -n {}` first",
            sockets + 100
        ),
        _ => Ok(()),
    }
}
