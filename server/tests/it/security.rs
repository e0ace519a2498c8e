//! Security: bounded room specs and entity budget, per-address limits on the rooms API
//! and on open connections, and admin actions locked on an exposed server.
//!
//! Requests come from chosen loopback addresses (127.0.0.1, 127.0.0.2, …) so that "one
//! address" and "another address" are real peers of the server.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use server::obs::counters::ApiRefusal;
use tokio::net::{TcpSocket, TcpStream};

use crate::{TestServer, WAIT, json};

/// An HTTP answer: status, headers, JSON body (`Null` when empty).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: serde_json::Value,
}

/// A TCP connection to `server` from the loopback address `from`.
async fn connect_from(from: &str, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))?;
    socket.connect(server).await
}

/// One request from the loopback address `from`, with an optional bearer token.
async fn request_from(
    server: &TestServer,
    from: &str,
    method: Method,
    path: &str,
    body: &str,
    bearer: Option<&str>,
) -> Answer {
    let addr = server.server().local_addr();
    let tcp = connect_from(from, addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, addr.to_string());
    if let Some(token) = bearer {
        request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    driver.abort();
    // Refusals at accept are plain text; the API answers JSON.
    let body = if bytes.is_empty() {
        serde_json::Value::Null
    } else if headers
        .get(hyper::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
    {
        json(&bytes)
    } else {
        serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
    };
    Answer {
        status,
        headers,
        body,
    }
}

async fn post(server: &TestServer, from: &str, path: &str, body: &str) -> Answer {
    request_from(server, from, Method::POST, path, body, None).await
}

/// The value of one line of `/metrics` (0 when absent).
fn metric(server: &TestServer, line_prefix: &str) -> u64 {
    server
        .server()
        .render_metrics()
        .lines()
        .find_map(|l| l.strip_prefix(line_prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn refusals(server: &TestServer, reason: &str) -> u64 {
    metric(
        server,
        &format!("tickwire_api_refusals_total{{reason=\"{reason}\"}}"),
    )
}

#[tokio::test]
async fn oversized_room_specs_are_refused_naming_the_field_and_range() {
    let server = TestServer::start(&[]).await;
    let attack = r#"{"id":"dos","drones":5000000,"max_players":100000}"#;
    let a = post(&server, "127.0.0.1", "/api/rooms", attack).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert_eq!(a.body["error"], "invalid_room");
    assert_eq!(a.body["field"], "max_players");
    assert_eq!(
        (a.body["min"].as_f64(), a.body["max"].as_f64()),
        (Some(1.0), Some(1000.0))
    );
    let a = post(&server, "127.0.0.1", "/api/rooms", r#"{"drones":5000000}"#).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body["field"], "drones");
    assert_eq!(a.body["max"].as_f64(), Some(5000.0));
    for (spec, field) in [
        (r#"{"tick_rate":240}"#, "tick_rate"),
        (r#"{"aoi_radius":1e6}"#, "aoi_radius"),
        (r#"{"max_client_budget":4000000000}"#, "max_client_budget"),
        (
            r#"{"outbound_queue_bytes":100000000}"#,
            "outbound_queue_bytes",
        ),
    ] {
        let a = post(&server, "127.0.0.1", "/api/rooms", spec).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{spec}: {}", a.body);
        assert_eq!(a.body["field"], field, "{spec}");
    }
    assert!(server.server().registry().get("dos").is_none());
    assert_eq!(refusals(&server, "invalid_room"), 6);
    server.stop().await;
}

#[tokio::test]
async fn the_entity_budget_bounds_all_rooms_together() {
    // The test room weighs 10 drones + 512 seats = 522 of the 1,000.
    let server = TestServer::start(&["--max-entities", "1000", "--api-create-rate", "0"]).await;
    let a = post(
        &server,
        "127.0.0.1",
        "/api/rooms",
        r#"{"id":"big","drones":400,"max_players":100}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.body);
    assert_eq!(a.body["error"], "entity_budget");
    let a = post(
        &server,
        "127.0.0.1",
        "/api/rooms",
        r#"{"id":"fits","drones":300,"max_players":100}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(refusals(&server, "capacity"), 1);
    server.stop().await;
}

#[tokio::test]
async fn room_creation_is_rate_limited_per_address() {
    let server = TestServer::start(&["--api-create-rate", "2", "--api-delete-rate", "1"]).await;
    for i in 0..2 {
        let a = post(
            &server,
            "127.0.0.1",
            "/api/rooms",
            &format!(r#"{{"id":"r{i}"}}"#),
        )
        .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    }
    let a = post(&server, "127.0.0.1", "/api/rooms", r#"{"id":"r2"}"#).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.body);
    assert_eq!(a.body["error"], "rate_limited");
    assert!(a.headers.contains_key(hyper::header::RETRY_AFTER));
    // Another address has its own allowance.
    let a = post(&server, "127.0.0.2", "/api/rooms", r#"{"id":"r2"}"#).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let del = |id: &'static str| {
        let server = &server;
        async move {
            request_from(
                server,
                "127.0.0.1",
                Method::DELETE,
                &format!("/api/rooms/{id}"),
                "",
                None,
            )
            .await
        }
    };
    assert_eq!(del("r0").await.status, StatusCode::NO_CONTENT);
    assert_eq!(del("r1").await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refusals(&server, "create_rate_limited"), 1);
    assert_eq!(refusals(&server, "delete_rate_limited"), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_reservation_flood_from_one_address_cannot_fill_a_room() {
    let server = TestServer::start(&["--max-players", "64", "--join-token-ttl-s", "2"]).await;
    // The attack: 64 reservations in under a second from one address.
    let mut granted = 0;
    let mut refused = None;
    for _ in 0..64 {
        let a = post(&server, "127.0.0.1", "/api/rooms/default/join", "").await;
        match a.status {
            StatusCode::OK => granted += 1,
            StatusCode::TOO_MANY_REQUESTS => refused = Some(a),
            other => panic!("unexpected {other}: {}", a.body),
        }
    }
    assert_eq!(
        granted, 8,
        "the default allowance of unused reservations per room"
    );
    let refused = refused.unwrap();
    assert_eq!(refused.body["error"], "too_many_reservations");
    assert!(refused.headers.contains_key(hyper::header::RETRY_AFTER));
    assert_eq!(refusals(&server, "reservation_cap"), 56);
    let room = server.server().registry().get("default").unwrap();
    assert_eq!(room.seats().reserved, 8);

    // Another address still gets a seat, and plays with it.
    let a = post(&server, "127.0.0.2", "/api/rooms/default/join", "").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let token = a.body["token"].as_str().unwrap();
    let url = a.body["url"].as_str().unwrap();
    let mut player = server.join_with(url, "real", token).await.unwrap();
    crate::receive_snapshots(&mut player, 2).await;

    // Unused reservations expire, are counted, and give the address its allowance back.
    let counters = server.server().counters().clone();
    tokio::time::timeout(
        WAIT,
        counters.until(|c| c.reservations_expired_total.load(Ordering::Relaxed) >= 8),
    )
    .await
    .expect("the flood's reservations expire");
    assert!(metric(&server, "tickwire_reservations_expired_total") >= 8);
    let a = post(&server, "127.0.0.1", "/api/rooms/default/join", "").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    server.stop().await;
}

#[tokio::test]
async fn seat_reservations_are_rate_limited_but_not_for_the_admin() {
    let server = TestServer::start(&[
        "--api-join-rate",
        "1",
        "--api-join-burst",
        "3",
        "--ip-room-reservations",
        "0",
        "--ip-reservations",
        "0",
        "--admin-token",
        "admin-secret",
    ])
    .await;
    for _ in 0..3 {
        let a = post(&server, "127.0.0.1", "/api/rooms/default/join", "").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
    let a = post(&server, "127.0.0.1", "/api/rooms/default/join", "").await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.body["error"], "rate_limited");
    assert_eq!(refusals(&server, "join_rate_limited"), 1);
    // The operator's matchmaker reserves for many players from one address.
    for i in 0..20 {
        let a = request_from(
            &server,
            "127.0.0.1",
            Method::POST,
            "/api/rooms/default/join",
            &format!(r#"{{"player_id":"user-{i}"}}"#),
            Some("admin-secret"),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
    server.stop().await;
}

#[tokio::test]
async fn open_connections_are_capped_per_address() {
    let server = TestServer::start(&["--ip-max-connections", "3"]).await;
    let addr = server.server().local_addr();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from("127.0.0.1", addr).await.unwrap());
    }
    // Idle connections hold their slots: the fourth is answered 429.
    let a = tokio::time::timeout(
        WAIT,
        post(&server, "127.0.0.1", "/api/rooms/default/join", ""),
    )
    .await
    .unwrap();
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(a.headers.contains_key(hyper::header::RETRY_AFTER));
    assert_eq!(
        metric(
            &server,
            "tickwire_connections_refused_total{reason=\"per_address\"}"
        ),
        1
    );
    // Another address is served.
    let a = post(&server, "127.0.0.2", "/api/rooms", "").await;
    assert_ne!(a.status, StatusCode::TOO_MANY_REQUESTS);
    drop(held);
    server.stop().await;
}

#[tokio::test]
async fn an_exposed_server_without_admin_token_locks_admin_actions() {
    // Settings for a public bind; the test's listener is still on loopback.
    let server = TestServer::start(&["--addr", "0.0.0.0:0"]).await;
    for (method, path, body) in [
        (Method::POST, "/api/rooms", r#"{"id":"x"}"#),
        (Method::DELETE, "/api/rooms/default", ""),
        (
            Method::POST,
            "/api/rooms/default/join",
            r#"{"player_id":"someone"}"#,
        ),
    ] {
        let a = request_from(&server, "127.0.0.1", method.clone(), path, body, None).await;
        assert_eq!(
            a.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            a.body
        );
        assert_eq!(a.body["error"], "admin_locked");
        assert!(
            a.body["message"]
                .as_str()
                .unwrap()
                .contains("--admin-token")
        );
    }
    assert_eq!(refusals(&server, "admin_locked"), 3);
    // Listing and anonymous joins stay open.
    let a = request_from(&server, "127.0.0.1", Method::GET, "/api/rooms", "", None).await;
    assert_eq!(a.status, StatusCode::OK);
    let a = post(&server, "127.0.0.1", "/api/rooms/default/join", "").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(server.server().registry().get("default").is_some());
    server.stop().await;

    // The explicit opt-out, and the admin token, each open them again.
    let open = TestServer::start(&["--addr", "0.0.0.0:0", "--allow-open-admin"]).await;
    let a = post(&open, "127.0.0.1", "/api/rooms", r#"{"id":"x"}"#).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    open.stop().await;
    let admin = TestServer::start(&["--addr", "0.0.0.0:0", "--admin-token", "admin-secret"]).await;
    let a = post(&admin, "127.0.0.1", "/api/rooms", r#"{"id":"x"}"#).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = request_from(
        &admin,
        "127.0.0.1",
        Method::POST,
        "/api/rooms",
        r#"{"id":"x"}"#,
        Some("admin-secret"),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(
        admin
            .server()
            .counters()
            .api_refusals(ApiRefusal::Unauthorized),
        1
    );
    admin.stop().await;
}
