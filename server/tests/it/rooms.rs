//! Rooms: the registry, the rooms API contract, seat reservations and join tokens.

use bot_client::api::ApiClient;
use bot_client::swarm::{Join, SwarmConfig, run_swarm};
use hyper::{Method, StatusCode};
use server::control::tokens::{JoinClaims, TokenKeys, random_nonce, unix_now};
use shared::protocol::close;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::{TestServer, WAIT, json, receive_snapshots, refused_with, rooms_file};

const ADMIN: &str = "admin-token-for-tests";
const SECRET: &str = "a-join-secret-of-32-bytes-length";

async fn call(
    api: &ApiClient,
    method: Method,
    path: &str,
    body: Option<&str>,
) -> (StatusCode, Vec<u8>) {
    let (status, body) = api
        .request(method, path, body.map(|b| b.as_bytes().to_vec()))
        .await
        .unwrap();
    (status, body.to_vec())
}

/// An error answer: the status, and a JSON body naming the error with a message.
async fn expect_error(
    api: &ApiClient,
    method: Method,
    path: &str,
    body: Option<&str>,
    status: StatusCode,
    kind: &str,
) {
    let (got, body) = call(api, method.clone(), path, body).await;
    assert_eq!(
        got,
        status,
        "{method} {path}: {}",
        String::from_utf8_lossy(&body)
    );
    let body = json(&body);
    assert_eq!(body["error"], kind, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn the_api_lists_creates_gets_and_deletes_rooms() {
    let server = TestServer::start(&["--admin-token", ADMIN]).await;
    let (api, admin) = (server.api(), server.admin(ADMIN));

    // The default room, as the web client's lobby reads it.
    let (status, body) = call(&api, Method::GET, "/api/rooms", None).await;
    assert_eq!(status, StatusCode::OK);
    let rooms = json(&body);
    let list = rooms.as_array().unwrap();
    assert_eq!(list.len(), 1);
    let room = &list[0];
    assert_eq!(room["id"], "default");
    assert_eq!(room["default"], true);
    assert_eq!(room["origin"], "config");
    for field in [
        "name",
        "map",
        "players",
        "max_players",
        "tick_rate",
        "snapshot_rate",
    ] {
        assert!(room.get(field).is_some(), "{field} missing from {room}");
    }

    // Creating needs the admin token.
    let spec = r#"{"id": "duel", "name": "Duel", "max_players": 2, "tick_rate": 30, "snapshot_rate": 15, "drones": 0}"#;
    expect_error(
        &api,
        Method::POST,
        "/api/rooms",
        Some(spec),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let (status, body) = call(&admin, Method::POST, "/api/rooms", Some(spec)).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let duel = json(&body);
    assert_eq!(
        (
            &duel["id"],
            &duel["name"],
            &duel["max_players"],
            &duel["tick_rate"],
            &duel["snapshot_rate"],
            &duel["origin"]
        ),
        (
            &"duel".into(),
            &"Duel".into(),
            &2.into(),
            &30.into(),
            &15.into(),
            &"api".into()
        )
    );
    assert_eq!(duel["players"], 0);
    assert_eq!(duel["game"], "arena", "the room's game is listed");
    assert!(server.server().registry().get("duel").is_some());

    // Refusals: the id is taken, rates that cannot run, bad JSON, unknown fields, maps
    // that are not in the catalogue (no reading files through the API).
    expect_error(
        &admin,
        Method::POST,
        "/api/rooms",
        Some(spec),
        StatusCode::CONFLICT,
        "room_exists",
    )
    .await;
    for bad in [
        r#"{"snapshot_rate": 120}"#,
        r#"{"id": "no spaces"}"#,
        r#"{"map": "/etc/passwd"}"#,
        r#"{"max_players": 0}"#,
    ] {
        expect_error(
            &admin,
            Method::POST,
            "/api/rooms",
            Some(bad),
            StatusCode::BAD_REQUEST,
            "invalid_room",
        )
        .await;
    }
    expect_error(
        &admin,
        Method::POST,
        "/api/rooms",
        Some("{nope"),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    expect_error(
        &admin,
        Method::POST,
        "/api/rooms",
        Some(r#"{"max_player": 3}"#),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;

    // One room, with its statistics.
    let (status, body) = call(&api, Method::GET, "/api/rooms/duel", None).await;
    assert_eq!(status, StatusCode::OK);
    let detail = json(&body);
    assert_eq!(detail["id"], "duel");
    assert!(detail["stats"].get("tick_ms_p99").is_some(), "{detail}");
    assert!(detail["stats"].get("lateness_ms_p99").is_some(), "{detail}");
    expect_error(
        &api,
        Method::GET,
        "/api/rooms/nope",
        None,
        StatusCode::NOT_FOUND,
        "unknown_room",
    )
    .await;
    expect_error(
        &api,
        Method::GET,
        "/api/nothing/here",
        None,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // A private room: not listed, but there for whoever knows its id.
    let (status, _) = call(
        &admin,
        Method::POST,
        "/api/rooms",
        Some(r#"{"id": "hidden", "private": true}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let listed: Vec<String> = api
        .rooms()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, ["default", "duel"]);
    assert_eq!(
        call(&api, Method::GET, "/api/rooms/hidden", None).await.0,
        StatusCode::OK
    );
    // And joined with a token only.
    let anonymous = bot_client::Client::connect(&server.room_url("hidden"), "ada").await;
    assert_eq!(refused_with(anonymous), close::TOKEN_INVALID);

    // Deleting needs the admin token too; a deleted room is gone.
    expect_error(
        &api,
        Method::DELETE,
        "/api/rooms/duel",
        None,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        call(&admin, Method::DELETE, "/api/rooms/duel", None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    expect_error(
        &api,
        Method::GET,
        "/api/rooms/duel",
        None,
        StatusCode::NOT_FOUND,
        "unknown_room",
    )
    .await;
    expect_error(
        &admin,
        Method::DELETE,
        "/api/rooms/duel",
        None,
        StatusCode::NOT_FOUND,
        "unknown_room",
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn join_reservations_hold_seats_and_a_full_room_answers_409() {
    let server = TestServer::start(&[]).await;
    let api = server.api();
    assert_eq!(
        call(
            &api,
            Method::POST,
            "/api/rooms",
            Some(r#"{"id": "pair", "max_players": 2, "drones": 0}"#)
        )
        .await
        .0,
        StatusCode::CREATED
    );
    let first = api.join("pair", None).await.unwrap();
    let second = api.join("pair", None).await.unwrap();
    assert_eq!(first.room, "pair");
    assert_eq!(first.url, server.room_url("pair"));
    assert_eq!(
        first.expires_in_s, 15,
        "seat reservations last 15 s by default"
    );
    assert!(first.expires_at >= unix_now() + 10);
    assert_ne!(first.player_id, second.player_id);
    // Both seats are reserved: the third is refused, and so is an anonymous player.
    expect_error(
        &api,
        Method::POST,
        "/api/rooms/pair/join",
        None,
        StatusCode::CONFLICT,
        "room_full",
    )
    .await;
    let anonymous = bot_client::Client::connect(&server.room_url("pair"), "eve").await;
    assert_eq!(refused_with(anonymous), close::ROOM_FULL);
    expect_error(
        &api,
        Method::POST,
        "/api/rooms/nope/join",
        None,
        StatusCode::NOT_FOUND,
        "unknown_room",
    )
    .await;

    // The holders get in, under the player ids of their tokens.
    let mut ada = server
        .join_with(&first.url, "ada", &first.token)
        .await
        .unwrap();
    assert_eq!(ada.welcome().room, "pair");
    assert_eq!(ada.welcome().player, first.player_id);
    assert!(!ada.welcome().resumed);
    let mut bob = server
        .join_with(&second.url, "bob", &second.token)
        .await
        .unwrap();
    receive_snapshots(&mut ada, 2).await;
    receive_snapshots(&mut bob, 2).await;
    let seats = server.server().registry().get("pair").unwrap().seats();
    assert_eq!((seats.players, seats.reserved), (2, 0));
    server.stop().await;
}

#[tokio::test]
async fn expired_forged_reused_and_wrong_room_tokens_are_refused() {
    let rooms = rooms_file(
        "tokens",
        "[[room]]\nid = \"lobby\"\ndefault = true\n[[room]]\nid = \"duel\"\nmax_players = 4\n",
    );
    let server =
        TestServer::start(&["--rooms", rooms.to_str().unwrap(), "--join-secret", SECRET]).await;
    let duel = server.room_url("duel");

    // With a join secret, nobody gets in without a token.
    assert_eq!(
        refused_with(bot_client::Client::connect(&duel, "ada").await),
        close::TOKEN_INVALID
    );
    assert_eq!(
        refused_with(bot_client::Client::connect(&server.url(), "ada").await),
        close::TOKEN_INVALID
    );

    // A matchmaker with the same secret mints tokens the server accepts.
    let matchmaker = TokenKeys::new(Some(SECRET.as_bytes()));
    let mint = |keys: &TokenKeys, room: &str, exp: u64| {
        keys.sign_join(&JoinClaims {
            room: room.into(),
            player: "user-7".into(),
            exp,
            nonce: random_nonce(),
        })
    };
    let fresh = mint(&matchmaker, "duel", unix_now() + 30);
    let mut ok = server.join_with(&duel, "ada", &fresh).await.unwrap();
    assert_eq!(ok.welcome().player, "user-7");
    receive_snapshots(&mut ok, 1).await;

    // Reused: the same token again.
    assert_eq!(
        refused_with(server.join_with(&duel, "ada", &fresh).await),
        close::TOKEN_REUSED
    );
    // Expired.
    let expired = mint(&matchmaker, "duel", unix_now() - 5);
    assert_eq!(
        refused_with(server.join_with(&duel, "ada", &expired).await),
        close::TOKEN_EXPIRED
    );
    // Forged: signed with another secret, or edited.
    let forger = TokenKeys::new(Some(b"not-the-servers-secret-at-all!!!"));
    let forged = mint(&forger, "duel", unix_now() + 30);
    assert_eq!(
        refused_with(server.join_with(&duel, "ada", &forged).await),
        close::TOKEN_INVALID
    );
    let good = mint(&matchmaker, "duel", unix_now() + 30);
    let (payload, tag) = good.split_once('.').unwrap();
    let swapped = if payload.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{swapped}{}.{tag}", &payload[1..]);
    assert_eq!(
        refused_with(server.join_with(&duel, "ada", &tampered).await),
        close::TOKEN_INVALID
    );
    assert_eq!(
        refused_with(server.join_with(&duel, "ada", "garbage").await),
        close::TOKEN_INVALID
    );
    // For another room than the URL's.
    let for_lobby = mint(&matchmaker, "lobby", unix_now() + 30);
    assert_eq!(
        refused_with(server.join_with(&duel, "ada", &for_lobby).await),
        close::WRONG_ROOM
    );
    // A room that does not exist.
    let nowhere = server.room_url("nowhere");
    assert_eq!(
        refused_with(server.join_with(&nowhere, "ada", &good).await),
        close::UNKNOWN_ROOM
    );

    // Every refusal was counted by its code; the player that got in kept playing.
    // (A session is counted once its close handshake is over, just after the client
    // saw the code: wait for the counts.)
    let counters = server.server().counters();
    let expected = [
        (close::TOKEN_INVALID, 5),
        (close::TOKEN_REUSED, 1),
        (close::TOKEN_EXPIRED, 1),
        (close::WRONG_ROOM, 1),
        (close::UNKNOWN_ROOM, 1),
    ];
    tokio::time::timeout(
        WAIT,
        counters.until(|c| {
            expected
                .iter()
                .all(|&(code, n)| c.session_closes_total.get(code) == n)
        }),
    )
    .await
    .unwrap_or_else(|_| {
        let got: Vec<_> = expected
            .iter()
            .map(|&(code, _)| (code, counters.session_closes_total.get(code)))
            .collect();
        panic!("close counts {got:?}, expected {expected:?}")
    });
    receive_snapshots(&mut ok, 3).await;
    server.stop().await;
}

#[tokio::test]
async fn a_rooms_file_hosts_separate_worlds() {
    let rooms = rooms_file(
        "worlds",
        "[[room]]\nid = \"north\"\ndrones = 3\naoi_radius = 300.0\n\n[[room]]\nid = \"south\"\ndefault = true\ndrones = 0\naoi_radius = 300.0\ntick_rate = 30\nsnapshot_rate = 10\n",
    );
    let server = TestServer::start(&["--rooms", rooms.to_str().unwrap()]).await;
    let registry = server.server().registry();
    assert_eq!(registry.len(), 2);
    assert_eq!(registry.default_room(), "south");

    let mut north = bot_client::Client::connect(&server.room_url("north"), "n")
        .await
        .unwrap();
    let mut south = server.client("s").await;
    assert_eq!(north.welcome().room, "north");
    assert_eq!(
        (south.welcome().room.as_str(), south.welcome().tick_rate),
        ("south", 30)
    );
    // Each sees its own world: its own player, and the other room's nothing.
    north
        .wait_until(WAIT, |v| v.with_component("Drone").count() == 3)
        .await
        .unwrap();
    let players = |v: &bot_client::WorldView| v.with_component("Player").count();
    assert_eq!(players(north.view()), 1);
    receive_snapshots(&mut south, 3).await;
    assert_eq!(players(south.view()), 1);
    assert_eq!(south.view().with_component("Drone").count(), 0);
    server.stop().await;
}

#[tokio::test]
async fn idle_api_rooms_close_and_config_rooms_stay() {
    let server = TestServer::start(&["--room-idle-timeout-s", "1"]).await;
    let api = server.api();
    for id in ["idle", "busy"] {
        let spec = format!(r#"{{"id": "{id}", "drones": 0}}"#);
        assert_eq!(
            call(&api, Method::POST, "/api/rooms", Some(&spec)).await.0,
            StatusCode::CREATED
        );
    }
    let mut player = bot_client::Client::connect(&server.room_url("busy"), "p")
        .await
        .unwrap();
    receive_snapshots(&mut player, 1).await;

    let registry = server.server().registry().clone();
    tokio::time::timeout(WAIT, registry.until(|r| r.get("idle").is_none()))
        .await
        .expect("the idle API room was never closed");
    // The default room has been empty longer, but came from the configuration; the
    // occupied API room is not idle.
    assert!(registry.get("default").is_some());
    assert!(registry.get("busy").is_some());
    receive_snapshots(&mut player, 2).await;
    server.stop().await;
}

#[tokio::test]
async fn deleting_a_room_closes_its_sessions_with_4016() {
    let server = TestServer::start(&[]).await;
    let api = server.api();
    assert_eq!(
        call(
            &api,
            Method::POST,
            "/api/rooms",
            Some(r#"{"id": "doomed", "drones": 0}"#)
        )
        .await
        .0,
        StatusCode::CREATED
    );
    let mut player = bot_client::Client::connect(&server.room_url("doomed"), "p")
        .await
        .unwrap();
    let mut bystander = server.client("b").await;
    receive_snapshots(&mut player, 1).await;
    assert_eq!(
        call(&api, Method::DELETE, "/api/rooms/doomed", None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let result = player.wait_until(WAIT, |_| false).await;
    match result {
        Err(bot_client::ClientError::Closed { code, .. }) => {
            assert_eq!(code, Some(close::ROOM_CLOSED))
        }
        other => panic!("expected a 4016 close, got {other:?}"),
    }
    // Other rooms are not affected.
    receive_snapshots(&mut bystander, 3).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_join_through_the_api_over_several_rooms_and_resume_after_churn() {
    let server = TestServer::start(&["--admin-token", ADMIN]).await;
    let admin = server.admin(ADMIN);
    let rooms: Vec<String> = (1..=3).map(|i| format!("bots-{i}")).collect();
    for id in &rooms {
        let spec = serde_json::json!({ "id": id, "drones": 2 });
        assert!(admin.create_room(&spec).await.unwrap());
    }
    assert!(
        !admin
            .create_room(&serde_json::json!({ "id": "bots-1" }))
            .await
            .unwrap(),
        "409: exists"
    );
    let report = run_swarm(
        SwarmConfig {
            url: server.base(),
            bots: 6,
            duration: Duration::from_secs(4),
            ramp_per_sec: 100.0,
            seed: 3,
            name_prefix: "bot".into(),
            progress: false,
            join: Join::Api {
                api: server.api(),
                rooms: rooms.clone(),
            },
            churn: Some(Duration::from_millis(900)),
            tls: None,
            budget: None,
            ..SwarmConfig::default()
        },
        CancellationToken::new(),
    )
    .await;
    assert_eq!(report.bots_failed, 0, "{report}");
    assert_eq!(report.bots_connected, 6, "{report}");
    assert!(
        report.resumes >= 6,
        "every bot resumed at least once: {report}"
    );
    assert_eq!(report.resume_failures, 0, "{report}");
    assert_eq!(report.desyncs, 0, "{report}");
    // Two bots per room, and no player left behind twice.
    let counters = server.server().counters();
    assert!(
        counters
            .resumes_total
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 6
    );
    server.stop().await;
}
