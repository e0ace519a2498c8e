//! `bot-client --processes 2` against the real server, in-process on 127.0.0.1:0: the
//! parent re-executes the built binary as two children and writes one report merged
//! from theirs.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use server::ServerConfig;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Bounds how long a broken build takes to fail; the run itself is `--duration`.
const WAIT: Duration = Duration::from_secs(90);

fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tickwire-{}-{name}", std::process::id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_write_one_merged_report() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let settings = ServerConfig::parse_from(["server", "--drones", "2", "--seed", "1"])
        .validate()
        .unwrap();
    let shutdown = CancellationToken::new();
    let _server = server::start(listener, settings, shutdown.clone()).unwrap();

    let report_path = temp_file("processes-report.json");
    let totals_path = temp_file("processes-totals.jsonl");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_bot-client"));
    command
        .arg("--url")
        .arg(format!("ws://{addr}/ws"))
        .args(["--bots", "7", "--processes", "2", "--duration", "4"])
        .args(["--ramp", "100", "--seed", "11", "--name-prefix", "mp"])
        .arg("--report-json")
        .arg(&report_path)
        .arg("--totals-jsonl")
        .arg(&totals_path)
        .kill_on_drop(true);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TICKWIRE_BOT_") {
            command.env_remove(key);
        }
    }
    let out = tokio::time::timeout(WAIT, command.output())
        .await
        .expect("the swarm ends")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let _ = std::fs::remove_file(&report_path);
    let num = |key: &str| report[key].as_f64().unwrap_or_else(|| panic!("no {key}"));
    assert_eq!(num("bots_requested"), 7.0, "{report:#}");
    assert_eq!(num("bots_connected"), 7.0, "{report:#}");
    assert_eq!(num("bots_failed"), 0.0, "{report:#}");
    assert_eq!(num("processes"), 2.0, "{report:#}");
    assert_eq!(num("seed"), 11.0);
    // Every bot received the snapshot rate its Welcome promised, within 20%.
    let expected = num("expected_snapshot_rate");
    assert!(expected > 0.0, "{report:#}");
    assert!(
        num("snapshots_per_bot_per_sec_min") >= 0.8 * expected,
        "{report:#}"
    );
    // Both children's bots are in the histograms: each pings once a second.
    assert!(num("rtt_samples") >= 7.0, "{report:#}");
    let played: u64 = report["behaviours"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(serde_json::Value::as_u64)
        .sum();
    assert_eq!(played, 7, "{report:#}");
    assert!(num("bot_cpu_s") > 0.0, "{report:#}");
    assert!(num("bot_cpu_us_per_bot_second") > 0.0, "{report:#}");
    assert!(stdout.contains("in 2 processes"), "{stdout}");

    // The live totals summed the two children's.
    let totals = std::fs::read_to_string(&totals_path).unwrap();
    let _ = std::fs::remove_file(&totals_path);
    let most_connected = totals
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["connected"].as_u64())
        .max();
    assert_eq!(most_connected, Some(7), "{totals}");
    shutdown.cancel();
}
