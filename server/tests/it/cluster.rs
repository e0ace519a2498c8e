//! A cluster on a real `redis-server`: three server processes (nodes) on 127.0.0.1 that
//! answer for each other's rooms, lose a node to `kill -9`, live through a Redis outage
//! and drain on SIGTERM.
//!
//! `redis-server` must be installed (the README's test command installs it). The waits
//! here poll the nodes' API for a condition; the bounds only keep a broken build from
//! hanging, except where a test states the bound it checks (a dead node leaves the
//! directory within 5 s).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bot_client::api::ApiClient;
use bot_client::{Client, ConnectOptions, Event};
use hyper::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::watch;

use crate::{WAIT, call, listening_addr};

const SECRET: &str = "cluster-test-secret-0123456789";
const ADMIN: &str = "cluster-admin";

/// A `redis-server` on a free port of its own, stopped when dropped.
pub struct Redis {
    port: u16,
    child: Option<std::process::Child>,
}

impl Redis {
    pub fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let mut redis = Redis { port, child: None };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on its port, and waits until it accepts connections.
    pub fn restart(&mut self) {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "notice"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (install Debian's redis-server; .ci/test does)");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines
                .next()
                .expect("redis-server ended before it was ready")
                .unwrap();
            if line.contains("Ready to accept connections") {
                break;
            }
        }
        // Keep draining its log so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        self.child = Some(child);
    }

    /// Kills it (its data is gone: it saves nothing).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A server process in the cluster, killed when dropped.
pub struct Node {
    pub id: String,
    pub addr: String,
    child: std::process::Child,
}

impl Node {
    pub async fn start(id: &str, redis: &str, extra: &[&str]) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--addr", "127.0.0.1:0", "--node-id", id, "--redis", redis])
            .args(["--join-secret", SECRET, "--admin-token", ADMIN])
            .args(["--drones", "2", "--stats-interval-s", "1"])
            .args(["--shutdown-timeout-s", "5"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server binary runs");
        let addr = listening_addr(child.stdout.take().unwrap()).await;
        Node {
            id: id.to_owned(),
            addr,
            child,
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn api(&self) -> ApiClient {
        ApiClient::new(&self.base(), None, Some(ADMIN.to_owned())).unwrap()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn terminate(&self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the process to exit; its success.
    pub async fn exited(mut self) -> bool {
        let child = tokio::task::spawn_blocking(move || self.child.wait());
        tokio::time::timeout(WAIT, child)
            .await
            .expect("the node did not exit")
            .unwrap()
            .unwrap()
            .success()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Redis and three nodes `a`, `b`, `c`, each seeing all three.
pub async fn cluster(extra: &[&str]) -> (Redis, Vec<Node>) {
    let redis = Redis::start();
    let mut nodes = Vec::new();
    for id in ["a", "b", "c"] {
        nodes.push(Node::start(id, &redis.url(), extra).await);
    }
    for node in &nodes {
        until(&format!("{} sees three nodes", node.id), || async {
            ids(&get(&node.api(), "/api/nodes").await.1).len() == 3
        })
        .await;
    }
    (redis, nodes)
}

pub async fn get(api: &ApiClient, path: &str) -> (StatusCode, Value) {
    call(api, Method::GET, path, None).await
}

/// The value of one series of a node's `/metrics` (0 when absent).
pub async fn metric(api: &ApiClient, series: &str) -> u64 {
    let (status, body) = api.request(Method::GET, "/metrics", None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

/// The `id`s of a JSON array of objects.
pub fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `condition` until it holds, failing after [`WAIT`].
pub async fn until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A player that keeps reading its session in the background: snapshots counted, the
/// close code (1006 for none) kept.
pub struct Player {
    pub snapshots: Arc<AtomicU64>,
    pub closed: watch::Receiver<Option<u16>>,
}

impl Player {
    pub async fn join(api: &ApiClient, room: &str, name: &str) -> (Player, Value) {
        let (status, seat) =
            call(api, Method::POST, &format!("/api/rooms/{room}/join"), None).await;
        assert_eq!(status, StatusCode::OK, "{seat}");
        let options = ConnectOptions {
            join_token: seat["token"].as_str().unwrap().to_owned(),
            ..ConnectOptions::default()
        };
        let mut client = Client::connect_with(seat["url"].as_str().unwrap(), name, &options)
            .await
            .unwrap();
        let snapshots = Arc::new(AtomicU64::new(0));
        let (tx, closed) = watch::channel(None);
        let counter = snapshots.clone();
        tokio::spawn(async move {
            loop {
                match client.next_event().await {
                    Ok(Event::Snapshot { .. }) => {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Event::Closed { code, .. }) => {
                        let _ = tx.send(Some(code.unwrap_or(1006)));
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        let _ = tx.send(Some(1006));
                        return;
                    }
                }
            }
        });
        (Player { snapshots, closed }, seat)
    }

    pub fn snapshots(&self) -> u64 {
        self.snapshots.load(Ordering::Relaxed)
    }

    /// Waits for `n` more snapshots, failing if the session closes first.
    pub async fn receives(&self, n: u64) {
        let target = self.snapshots() + n;
        until("a player receives snapshots", || async {
            assert_eq!(*self.closed.borrow(), None, "the session closed");
            self.snapshots() >= target
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_node_answers_for_every_nodes_rooms() {
    let (_redis, nodes) = cluster(&[]).await;
    let a = nodes[0].api();

    // Rooms created through a spread over the three nodes, the least filled first.
    let mut placed = Vec::new();
    for i in 0..6 {
        let (status, room) = call(
            &a,
            Method::POST,
            "/api/rooms",
            Some(serde_json::json!({"id": format!("room-{i}"), "drones": 1})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{room}");
        placed.push(room["node"].as_str().unwrap().to_owned());
    }
    for node in ["a", "b", "c"] {
        assert_eq!(
            placed.iter().filter(|n| *n == node).count(),
            2,
            "two rooms each: {placed:?}"
        );
    }
    // A room id is unique in the cluster, whichever node is asked.
    let (status, body) = call(
        &nodes[2].api(),
        Method::POST,
        "/api/rooms",
        Some(serde_json::json!({"id": "room-0"})),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("room_exists"))
    );
    // A node can be named.
    let (status, room) = call(
        &a,
        Method::POST,
        "/api/rooms?node=c",
        Some(serde_json::json!({"id": "on-c"})),
    )
    .await;
    assert_eq!(
        (status, room["node"].as_str()),
        (StatusCode::CREATED, Some("c"))
    );

    // Every node lists every room: 3 default rooms and 7 others.
    for node in &nodes {
        let (status, list) = get(&node.api(), "/api/rooms").await;
        assert_eq!(status, StatusCode::OK);
        let rooms = ids(&list);
        assert_eq!(rooms.len(), 10, "{} lists {rooms:?}", node.id);
        assert!(rooms.contains(&"default-b".to_owned()) && rooms.contains(&"on-c".to_owned()));
    }

    // A join through a for a room on c: the seat is c's, the URL c's, and the token
    // that a signed opens it.
    let (player, seat) = Player::join(&a, "on-c", "remote").await;
    assert_eq!(seat["node"], "c");
    assert!(
        seat["url"].as_str().unwrap().contains(&nodes[2].addr),
        "{seat}"
    );
    player.receives(3).await;
    until("a sees the player in c's room", || async {
        get(&a, "/api/rooms/on-c").await.1["players"] == 1
    })
    .await;

    // Kicking a player of c's room through a: c's room removes it, its session gets
    // 4017, and a sees the seat freed. The roster of c's room shows through a, to the
    // admin only.
    let (kicked, seat) = Player::join(&a, "on-c", "kicked").await;
    kicked.receives(2).await;
    let victim = seat["player_id"].as_str().unwrap().to_owned();
    until("a sees both players of c's room", || async {
        get(&a, "/api/rooms/on-c").await.1["players"] == 2
    })
    .await;
    let roster = get(&a, "/api/rooms/on-c").await.1["roster"].clone();
    assert!(
        roster
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["player_id"] == victim.as_str() && e["connected"] == true),
        "{roster}"
    );
    let anonymous = ApiClient::new(&nodes[0].base(), None, None).unwrap();
    let (_, detail) = get(&anonymous, "/api/rooms/on-c").await;
    assert!(detail.get("roster").is_none(), "{detail}");
    let kick = || {
        call(
            &a,
            Method::POST,
            "/api/rooms/on-c/kick",
            Some(serde_json::json!({ "player_id": victim })),
        )
    };
    let (status, body) = kick().await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let closed = kicked.closed.clone();
    until("the kicked player is told", || async {
        *closed.borrow() == Some(shared::protocol::close::KICKED)
    })
    .await;
    until("a sees the seat freed", || async {
        let detail = get(&a, "/api/rooms/on-c").await.1;
        detail["players"] == 1 && detail["held"] == 0
    })
    .await;
    let (status, body) = kick().await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_player"))
    );
    player.receives(2).await;

    // Reading and closing another node's room through a.
    let (status, detail) = get(&a, "/api/rooms/room-1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(detail["stats"].is_object(), "{detail}");
    let (status, _) = call(&a, Method::DELETE, "/api/rooms/on-c", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let closed = player.closed.clone();
    until("the player of the closed room is told", || async {
        *closed.borrow() == Some(shared::protocol::close::ROOM_CLOSED)
    })
    .await;
    let (status, body) = get(&nodes[1].api(), "/api/rooms/on-c").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_room"))
    );
    let (status, body) = call(&a, Method::POST, "/api/rooms/nowhere/join", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_room"))
    );

    // What the nodes said to each other is counted.
    assert_eq!(metric(&a, "tickwire_cluster_connected").await, 1);
    assert!(metric(&a, r#"tickwire_cluster_requests_total{outcome="answered"}"#).await >= 5);
    assert_eq!(
        metric(&a, r#"tickwire_cluster_requests_total{outcome="timeout"}"#).await,
        0
    );
    assert!(metric(&nodes[2].api(), "tickwire_cluster_requests_served_total").await >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_leaves_the_directory_within_five_seconds() {
    let (_redis, mut nodes) = cluster(&[]).await;
    let a = nodes[0].api();
    let mut players = Vec::new();
    for (i, room) in ["default-a", "default-b", "default-c"].iter().enumerate() {
        for j in 0..2 {
            players.push(Player::join(&a, room, &format!("p{i}{j}")).await.0);
        }
    }
    for player in &players {
        player.receives(2).await;
    }

    let killed = Instant::now();
    nodes[2].kill();
    // c's players find out without a close frame.
    for player in &players[4..] {
        let mut closed = player.closed.clone();
        tokio::time::timeout(WAIT, closed.wait_for(Option::is_some))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(*closed.borrow(), Some(1006));
    }
    until("c's rooms leave the listing", || async {
        let (status, list) = get(&a, "/api/rooms").await;
        status == StatusCode::OK && !ids(&list).contains(&"default-c".to_owned())
    })
    .await;
    let gone = killed.elapsed();
    assert!(gone <= Duration::from_secs(5), "took {gone:?}");
    assert_eq!(ids(&get(&a, "/api/nodes").await.1), ["a", "b"]);
    let (status, body) = call(&a, Method::POST, "/api/rooms/default-c/join", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_room"))
    );
    // Players on a and b noticed nothing.
    for player in &players[..4] {
        player.receives(5).await;
    }
    println!("kill -9: the node's rooms left the listing after {gone:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_ride_out_a_redis_outage() {
    let (mut redis, mut nodes) = cluster(&[]).await;
    let a = nodes[0].api();
    let mut players = Vec::new();
    for room in ["default-a", "default-b", "default-c"] {
        players.push(Player::join(&a, room, room).await.0);
    }

    redis.stop();
    // Cluster operations answer 503 with a JSON error...
    until("the listing answers 503", || async {
        let (status, body) = get(&a, "/api/rooms").await;
        status == StatusCode::SERVICE_UNAVAILABLE && body["error"] == "cluster_unavailable"
    })
    .await;
    let (status, body) = call(&a, Method::POST, "/api/rooms", Some(serde_json::json!({}))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (status, _) = call(&a, Method::POST, "/api/rooms/default-b/join", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    until("a says it is cut off", || async {
        metric(&a, "tickwire_cluster_connected").await == 0
            && metric(&a, "tickwire_cluster_heartbeat_failures_total").await > 0
    })
    .await;
    // ...while every node serves its own rooms, and joins made to it directly.
    let (direct, seat) = Player::join(&nodes[1].api(), "default-b", "direct").await;
    assert_eq!(seat["node"], "b");
    direct.receives(3).await;
    let outage = Duration::from_secs(10);
    let started = Instant::now();
    while started.elapsed() < outage {
        for player in &players {
            player.receives(1).await;
        }
    }
    for node in &mut nodes {
        assert!(node.running(), "node {} crashed", node.id);
    }

    redis.restart();
    let back = Instant::now();
    until("the directory is whole again", || async {
        let (status, list) = get(&a, "/api/rooms").await;
        status == StatusCode::OK && ids(&list).len() == 3
    })
    .await;
    let whole = back.elapsed();
    assert!(whole <= Duration::from_secs(5), "took {whole:?}");
    assert_eq!(ids(&get(&a, "/api/nodes").await.1), ["a", "b", "c"]);
    until("a says it is back", || async {
        metric(&a, "tickwire_cluster_connected").await == 1
    })
    .await;
    // Cluster operations work again, and nobody was dropped.
    let (joined, _) = Player::join(&a, "default-c", "after").await;
    joined.receives(2).await;
    for player in players.iter().chain([&direct]) {
        player.receives(2).await;
    }
    println!("Redis outage of {outage:?}: the directory was whole {whole:?} after Redis came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_node_and_it_leaves_the_directory() {
    let (_redis, mut nodes) = cluster(&[]).await;
    let a = nodes[0].api();
    let (player, _) = Player::join(&a, "default-b", "p").await;
    player.receives(2).await;
    let b = nodes.remove(1);
    b.terminate();
    let mut closed = player.closed.clone();
    tokio::time::timeout(WAIT, closed.wait_for(Option::is_some))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*closed.borrow(), Some(shared::protocol::close::GOING_AWAY));
    // No room goes to a draining or departed node.
    let (status, body) = call(
        &a,
        Method::POST,
        "/api/rooms?node=b",
        Some(serde_json::json!({})),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("no_node"))
    );
    assert!(b.exited().await, "b exits cleanly");
    // It left by itself, before its records would have expired.
    let (_, list) = get(&a, "/api/rooms").await;
    assert!(!ids(&list).contains(&"default-b".to_owned()), "{list}");
    assert_eq!(ids(&get(&a, "/api/nodes").await.1), ["a", "c"]);
}

/// Bots through node a's API spread over rooms on all three nodes; a node killed under
/// them costs the others nothing, and its bots rejoin live rooms; then Redis goes away
/// for 10 s and comes back without any bot noticing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_spread_over_the_cluster_and_survive_a_killed_node_and_a_redis_outage() {
    use bot_client::swarm::{Join, SwarmConfig, SwarmCounters, run_swarm_counted};
    use tokio_util::sync::CancellationToken;

    const BOTS: u32 = 9;
    let (mut redis, mut nodes) = cluster(&[]).await;
    let a = nodes[0].api();
    let rooms: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|n| format!("default-{n}"))
        .collect();
    let live = Arc::new(SwarmCounters::default());
    let stop = CancellationToken::new();
    let swarm = tokio::spawn(run_swarm_counted(
        SwarmConfig {
            url: nodes[0].base(),
            bots: BOTS,
            duration: Duration::from_secs(120),
            ramp_per_sec: 0.0,
            seed: 3,
            name_prefix: "cb".into(),
            join: Join::Api {
                api: a.clone(),
                rooms: rooms.clone(),
            },
            ..SwarmConfig::default()
        },
        stop.clone(),
        live.clone(),
    ));
    let players_in = |list: &Value, room: &str| {
        list.as_array()
            .and_then(|rooms| rooms.iter().find(|r| r["id"] == room))
            .and_then(|r| r["players"].as_u64())
            .unwrap_or(0)
    };
    until("three bots in each node's room", || async {
        let (_, list) = get(&a, "/api/rooms").await;
        rooms.iter().all(|room| players_in(&list, room) == 3)
    })
    .await;

    let killed = Instant::now();
    nodes[2].kill();
    until("c's room leaves the listing", || async {
        let (status, list) = get(&a, "/api/rooms").await;
        status == StatusCode::OK && !ids(&list).contains(&"default-c".to_owned())
    })
    .await;
    let gone = killed.elapsed();
    assert!(gone <= Duration::from_secs(5), "took {gone:?}");
    until("the displaced bots play in a's and b's rooms", || async {
        let (_, list) = get(&a, "/api/rooms").await;
        players_in(&list, "default-a") + players_in(&list, "default-b") == u64::from(BOTS)
    })
    .await;
    let rejoined = killed.elapsed();

    redis.stop();
    let outage = Instant::now();
    while outage.elapsed() < Duration::from_secs(10) {
        assert_eq!(live.failed.load(Ordering::Relaxed), 0);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    redis.restart();
    until("the directory is whole again", || async {
        let (status, list) = get(&a, "/api/rooms").await;
        status == StatusCode::OK && ids(&list).len() == 2
    })
    .await;
    for node in &mut nodes[..2] {
        assert!(node.running(), "node {} crashed", node.id);
    }

    stop.cancel();
    let report = tokio::time::timeout(WAIT, swarm).await.unwrap().unwrap();
    assert_eq!(report.bots_failed, 0, "{:?}", report.errors);
    assert_eq!(report.bots_connected, BOTS);
    // Each displaced bot joined anew once; no other bot lost its session at all.
    assert_eq!(report.rejoins, 3, "{:?}", report.errors);
    assert_eq!(report.resumes, 0, "{:?}", report.errors);
    assert_eq!(
        report.bots_per_node.get("c"),
        None,
        "{:?}",
        report.bots_per_node
    );
    assert_eq!(report.bots_per_node.values().sum::<u64>(), u64::from(BOTS));
    println!(
        "bots across the cluster: c's room unlisted {gone:?} after kill -9, its 3 bots playing elsewhere after {rejoined:?}; per node at the end {:?}",
        report.bots_per_node
    );
}

/// A caller without the admin token may hold 8 unused reservations per room (the
/// default): the node hosting the room keeps that count, since the tokens are used
/// there, so reservations through another node are freed as their tokens join.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_reservations_are_counted_where_the_room_is() {
    let (_redis, nodes) = cluster(&[]).await;
    let peer = ApiClient::new(&nodes[0].base(), None, None).unwrap();
    // Twelve players through a into c's room, each joining before the next asks: more
    // than the allowance, which their joins keep freeing.
    let mut players = Vec::new();
    for i in 0..12 {
        let (player, seat) = Player::join(&peer, "default-c", &format!("p{i}")).await;
        assert_eq!(seat["node"], "c");
        players.push(player);
    }
    // Eight reservations left unused, and the ninth is refused, by c, through a.
    for _ in 0..8 {
        let (status, body) = call(&peer, Method::POST, "/api/rooms/default-c/join", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = call(&peer, Method::POST, "/api/rooms/default-c/join", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_reservations"))
    );
    // Other rooms have their own allowance.
    let (status, _) = call(&peer, Method::POST, "/api/rooms/default-b/join", None).await;
    assert_eq!(status, StatusCode::OK);
    for player in &players {
        player.receives(1).await;
    }
}

/// An API room closed for being idle frees its id in the cluster at the next heartbeat,
/// not when its claim would have expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reaped_rooms_id_is_free_at_once() {
    let (_redis, nodes) = cluster(&["--room-idle-timeout-s", "1"]).await;
    let (a, b) = (nodes[0].api(), nodes[1].api());
    let (status, room) = call(
        &a,
        Method::POST,
        "/api/rooms?node=a",
        Some(serde_json::json!({"id": "brief"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{room}");
    until("b sees a's room", || async {
        ids(&get(&b, "/api/rooms").await.1).contains(&"brief".to_owned())
    })
    .await;
    until("a's idle room leaves b's listing", || async {
        !ids(&get(&b, "/api/rooms").await.1).contains(&"brief".to_owned())
    })
    .await;
    let (status, room) = call(
        &b,
        Method::POST,
        "/api/rooms?node=b",
        Some(serde_json::json!({"id": "brief"})),
    )
    .await;
    assert_eq!(
        (status, room["node"].as_str()),
        (StatusCode::CREATED, Some("b")),
        "{room}"
    );
}

/// A node whose subscription is cut (Redis drops it) subscribes again, and requests to
/// it work again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_gets_its_subscription_back() {
    let (redis, nodes) = cluster(&[]).await;
    let a = nodes[0].api();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(
            &mut redis::Client::open(redis.url())
                .unwrap()
                .get_connection()
                .unwrap(),
        )
        .unwrap();
    assert!(killed >= 3, "killed {killed} subscriptions");
    until("a join through a into c's room works again", || async {
        call(&a, Method::POST, "/api/rooms/default-c/join", None)
            .await
            .0
            == StatusCode::OK
    })
    .await;
    assert_eq!(metric(&a, "tickwire_cluster_connected").await, 1);
}
