//! Bots whose room is gone while they are cut off from it go back through the rooms API
//! and join another room of their game. The server's WebSocket URLs lead through a
//! `bot_client::faults::FaultProxy` (its public URL) while the API is reached directly,
//! so the proxy stands for the node hosting the room: it resets the bots' connections
//! (no close frame) and refuses new ones, as a node that died would, while the test
//! deletes the room.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bot_client::api::ApiClient;
use bot_client::faults::{FaultProxy, Faults};
use bot_client::report::SwarmReport;
use bot_client::swarm::{Join, SwarmConfig, SwarmCounters, run_swarm_counted};
use hyper::{Method, StatusCode};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{TestServer, WAIT};

const ADMIN: &str = "admin-token-for-tests";
const BOTS: u32 = 4;
/// How often a condition nothing notifies of (a counter) is looked at.
const POLL: Duration = Duration::from_millis(10);

/// A server whose WebSocket URLs lead through `proxy`, with two rooms of the ball game
/// ("doomed", "refuge"; the default room plays the arena), and a swarm of [`BOTS`] bots
/// that joined "doomed" through the API and play until `stop`.
struct Setup {
    server: TestServer,
    proxy: FaultProxy,
    admin: ApiClient,
    stop: CancellationToken,
    swarm: JoinHandle<SwarmReport>,
}

async fn setup(refuge_seats: u32) -> Setup {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = FaultProxy::start(listener.local_addr().unwrap(), Faults::default())
        .await
        .unwrap();
    let public = format!("http://{}", proxy.addr());
    let server =
        TestServer::start_on(listener, &["--admin-token", ADMIN, "--public-url", &public]).await;
    let admin = server.admin(ADMIN);
    for (id, seats) in [("doomed", 8), ("refuge", refuge_seats)] {
        let spec = serde_json::json!({ "id": id, "game": "ball", "max_players": seats });
        assert!(admin.create_room(&spec).await.unwrap());
    }
    let stop = CancellationToken::new();
    let swarm = tokio::spawn(run_swarm_counted(
        SwarmConfig {
            url: server.base(),
            bots: BOTS,
            duration: Duration::from_secs(60),
            ramp_per_sec: 0.0,
            seed: 11,
            name_prefix: "moved".into(),
            join: Join::Api {
                api: server.api(),
                rooms: vec!["doomed".into()],
            },
            ..SwarmConfig::default()
        },
        stop.clone(),
        Arc::new(SwarmCounters::default()),
    ));
    let setup = Setup {
        server,
        proxy,
        admin,
        stop,
        swarm,
    };
    clients_in(&setup.server, "doomed", BOTS as usize).await;
    setup
}

/// Waits until room `id` has `n` connected clients.
async fn clients_in(server: &TestServer, id: &str, n: usize) {
    let room = server.server().registry().get(id).expect("the room exists");
    let mut stats = room.stats();
    tokio::time::timeout(WAIT, async {
        while stats.borrow_and_update().clients != n {
            stats.changed().await.expect("the room runs");
        }
    })
    .await
    .unwrap_or_else(|_| panic!("room {id} never had {n} clients"));
}

/// Polls `condition` until it holds, failing after [`WAIT`].
async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    tokio::time::timeout(WAIT, async {
        while !condition() {
            tokio::time::sleep(POLL).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

async fn delete(admin: &ApiClient, id: &str) {
    let (status, _) = admin
        .request(Method::DELETE, &format!("/api/rooms/{id}"), None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NO_CONTENT);
}

/// The node "dies": every session cut without a close frame, reconnections refused.
fn cut(proxy: &FaultProxy) {
    proxy.refuse(true);
    assert_eq!(proxy.reset_all(), BOTS as usize, "one connection per bot");
}

/// Every bot is in "refuge" (already waited for); ends the run and checks its report.
async fn finish(s: Setup) -> SwarmReport {
    s.stop.cancel();
    let report = tokio::time::timeout(WAIT, s.swarm)
        .await
        .expect("the swarm ends")
        .unwrap();
    assert_eq!(report.bots_failed, 0, "{report}");
    assert!(report.rejoins >= u64::from(BOTS), "{report}");
    assert_eq!(
        report.bots_per_node.values().sum::<u64>(),
        u64::from(BOTS),
        "every bot ended with a session: {report}"
    );
    assert_eq!(
        report.behaviours.get("ball"),
        Some(&u64::from(BOTS)),
        "{report}"
    );
    let registry = s.server.server().registry();
    assert!(registry.get("doomed").is_none());
    let default = registry.get("default").expect("the default room stays");
    let in_default = default.stats().borrow().clients;
    assert_eq!(in_default, 0, "no bot went to a room of another game");
    s.server.stop().await;
    report
}

/// The room goes while the node refuses; once it answers again, the bots' resumes meet
/// 4013 (unknown room).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_whose_resume_meets_an_unknown_room_join_another() {
    let s = setup(8).await;
    cut(&s.proxy);
    // The bots find the node unreachable (each reconnection refused is counted)...
    until("the bots to try again", || {
        s.proxy.counters().refused.load(Ordering::Relaxed) >= u64::from(BOTS)
    })
    .await;
    // ... then the room is gone, and the node answers again.
    delete(&s.admin, "doomed").await;
    s.proxy.refuse(false);
    clients_in(&s.server, "refuge", BOTS as usize).await;
    finish(s).await;
}

/// The room goes while the node stays unreachable: the API's 404 for it is what sends
/// the bots to another room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_whose_node_is_unreachable_and_room_unknown_to_the_api_join_another() {
    // Seats to spare: seats reserved while the node still refuses stay reserved until
    // their tokens expire.
    let s = setup(64).await;
    cut(&s.proxy);
    delete(&s.admin, "doomed").await;
    // No connection reaches the server while it refuses, so no 4013: a seat reserved in
    // the other room can only come from a bot told by the API that its room is gone.
    let refuge = s.server.server().registry().get("refuge").unwrap();
    until("a seat reserved in refuge", || refuge.seats().reserved > 0).await;
    s.proxy.refuse(false);
    clients_in(&s.server, "refuge", BOTS as usize).await;
    finish(s).await;
}
