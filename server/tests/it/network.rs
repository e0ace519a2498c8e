//! Bots and players over bad networks, through `bot_client::faults::FaultProxy` on
//! loopback: connections reset (RST, no close frame) and got back by resuming within the
//! grace period or joining anew after it; stalls shorter and longer than the server's
//! stall timeout; a half-open connection; a slow reader next to healthy players; latency
//! and jitter.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bot_client::faults::{Dir, FaultProxy, Faults, Link};
use bot_client::report::SwarmReport;
use bot_client::swarm::{SwarmConfig, SwarmCounters, run_swarm_counted};
use shared::protocol::close;
use tokio_util::sync::CancellationToken;

use crate::{TestServer, WAIT};

async fn proxy(server: &TestServer, faults: Faults) -> FaultProxy {
    FaultProxy::start(server.server().local_addr(), faults)
        .await
        .unwrap()
}

/// Runs `bots` bots through `proxy` for `secs`; once every bot has a session (the room's
/// stats say so), `fault` is applied to the proxy. Returns the swarm's report.
async fn swarm_with(
    server: &TestServer,
    proxy: &FaultProxy,
    bots: u32,
    secs: u64,
    fault: impl FnOnce(&FaultProxy),
) -> SwarmReport {
    let live = Arc::new(SwarmCounters::default());
    let swarm = tokio::spawn(run_swarm_counted(
        SwarmConfig {
            url: format!("ws://{}/ws", proxy.addr()),
            bots,
            duration: Duration::from_secs(secs),
            ramp_per_sec: 0.0,
            seed: 7,
            name_prefix: "net".into(),
            ..SwarmConfig::default()
        },
        CancellationToken::new(),
        live,
    ));
    let mut stats = server.server().room().stats();
    tokio::time::timeout(WAIT, async {
        while stats.borrow_and_update().clients < bots as usize {
            stats.changed().await.unwrap();
        }
    })
    .await
    .expect("every bot joined");
    fault(proxy);
    tokio::time::timeout(Duration::from_secs(secs) + WAIT, swarm)
        .await
        .expect("the swarm ends")
        .unwrap()
}

fn closes(server: &TestServer, code: u16) -> u64 {
    server.server().counters().session_closes_total.get(code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_resume_after_their_connections_are_reset() {
    let server = TestServer::start(&[]).await;
    let proxy = proxy(&server, Faults::default()).await;
    let report = swarm_with(&server, &proxy, 4, 6, |p| {
        assert_eq!(p.reset_all(), 4, "one connection per bot");
    })
    .await;
    assert_eq!(report.bots_failed, 0, "{:?}", report.errors);
    assert_eq!(report.resumes, 4, "every bot took its own player back");
    assert_eq!((report.rejoins, report.resume_failures), (0, 0));
    assert_eq!(report.desyncs, 0);
    assert!(report.offline_ms_p99 > 0.0 && report.offline_ms_p99 < 5_000.0);
    assert_eq!(proxy.counters().resets.load(Ordering::Relaxed), 4);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_join_anew_when_a_resume_cannot_be_had() {
    // A grace period of one second leaves no time to resume (the policy wants a second
    // to spare): the bots join again as new players.
    let server = TestServer::start(&["--resume-grace-s", "1"]).await;
    let proxy = proxy(&server, Faults::default()).await;
    let report = swarm_with(&server, &proxy, 3, 6, |p| {
        p.reset_all();
    })
    .await;
    assert_eq!(report.bots_failed, 0, "{:?}", report.errors);
    assert_eq!(report.rejoins, 3);
    assert_eq!(report.resumes, 0);
    assert_eq!(report.desyncs, 0);
    server.stop().await;
}

/// Full snapshots of 200 drones (tens of KB/s), small send buffers on both sides and a
/// 2 s stall timeout: a stall reaches the server's writes within a fraction of a second.
const STALL_SERVER: &[&str] = &[
    "--snapshots",
    "full",
    "--drones",
    "200",
    "--stall-timeout-s",
    "2",
    "--tcp-send-buffer",
    "8192",
];

fn stall_faults() -> Faults {
    Faults {
        socket_buffer: Some(8192),
        ..Faults::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_shorter_than_the_stall_timeout_keeps_the_session() {
    let server = TestServer::start(STALL_SERVER).await;
    let proxy = proxy(&server, stall_faults()).await;
    let report = swarm_with(&server, &proxy, 2, 5, |p| {
        p.stall(0, Dir::Down, Duration::from_millis(1000));
    })
    .await;
    assert_eq!(report.bots_failed, 0, "{:?}", report.errors);
    assert_eq!(closes(&server, close::TOO_SLOW), 0);
    assert_eq!(
        (report.resumes, report.rejoins),
        (0, 0),
        "no session was lost"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_longer_than_the_stall_timeout_is_closed_and_the_bot_comes_back() {
    let server = TestServer::start(STALL_SERVER).await;
    let proxy = proxy(&server, stall_faults()).await;
    let report = swarm_with(&server, &proxy, 2, 12, |p| {
        p.stall(0, Dir::Down, Duration::from_secs(6));
    })
    .await;
    assert_eq!(
        closes(&server, close::TOO_SLOW),
        1,
        "the stalled session is closed (4006)"
    );
    assert_eq!(report.bots_failed, 0, "{:?}", report.errors);
    assert_eq!(
        report.resumes + report.rejoins,
        1,
        "the stalled bot got its session back: {report:?}"
    );
    server.stop().await;
}

/// A client that reads at 2 KB/s where the room sends tens of KB/s falls behind and is
/// closed; the players next to it keep every snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_costs_the_others_nothing() {
    let server = TestServer::start(STALL_SERVER).await;
    let slow_link = proxy(&server, stall_faults()).await;
    let clean = proxy(&server, Faults::default()).await;
    let mut slow = bot_client::Client::connect(&format!("ws://{}/ws", slow_link.addr()), "slow")
        .await
        .unwrap();
    slow_link.set_link(
        0,
        Dir::Down,
        Link {
            bytes_per_sec: Some(2048),
            ..Link::default()
        },
    );
    // Drain the slow client's socket as fast as the link lets it.
    let slow_task = tokio::spawn(async move { while slow.next_event().await.is_ok() {} });
    let report = swarm_with(&server, &clean, 3, 8, |_| {}).await;
    assert_eq!(report.bots_failed, 0, "{:?}", report.errors);
    let expected = f64::from(report.expected_snapshot_rate);
    assert!(
        report.snapshots_per_bot_per_sec_min >= 0.75 * expected,
        "healthy bots kept their snapshots: {report:?}"
    );
    assert_eq!(
        closes(&server, close::TOO_SLOW),
        1,
        "the slow reader was closed"
    );
    slow_task.abort();
    server.stop().await;
}

/// 40 ms each way with up to 20 ms of jitter (order kept): snapshots keep their rate,
/// nothing desynchronises, and the bots' prediction of their own movement stays close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_and_jitter_keep_the_views_and_the_prediction_right() {
    let server = TestServer::start(&[]).await;
    let link = Link {
        delay: Duration::from_millis(40),
        jitter: Duration::from_millis(20),
        bytes_per_sec: None,
    };
    let proxy = proxy(
        &server,
        Faults {
            up: link,
            down: link,
            seed: 3,
            ..Faults::default()
        },
    )
    .await;
    let report = swarm_with(&server, &proxy, 3, 6, |_| {}).await;
    assert_eq!(report.bots_failed, 0, "{:?}", report.errors);
    assert_eq!(report.desyncs, 0);
    assert!(report.rtt_ms_p50 >= 80.0, "the delay is felt: {report:?}");
    assert!(
        report.prediction_samples > 0 && report.prediction_error_mm_p99 < 1_000.0,
        "prediction error: {report:?}"
    );
    server.stop().await;
}

/// Half-open: what the client sends never arrives (its inputs and pongs are lost), what
/// the server sends still does. The server closes the silent session at its idle
/// timeout (4008), and the bot, told so, gets its player back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_open_connection_is_closed_as_idle_and_the_bot_comes_back() {
    let server = TestServer::start(&["--idle-timeout-s", "3", "--ping-interval-s", "1"]).await;
    let proxy = proxy(&server, Faults::default()).await;
    let report = swarm_with(&server, &proxy, 2, 9, |p| {
        p.set_silent(0, Dir::Up, true);
    })
    .await;
    assert_eq!(
        closes(&server, close::IDLE_TIMEOUT),
        1,
        "the silent session is closed (4008)"
    );
    assert_eq!(report.bots_failed, 0, "{:?}", report.errors);
    assert_eq!(
        report.resumes + report.rejoins,
        1,
        "the silent bot got its session back: {report:?}"
    );
    assert_eq!(report.desyncs, 0);
    server.stop().await;
}
