//! `/metrics`, `/healthz` and `/readyz`.

use hyper::{Method, StatusCode};
use shared::protocol::close;

use crate::{TestServer, WAIT, json, receive_snapshots};

async fn scrape(server: &TestServer) -> String {
    let (status, body) = server
        .api()
        .request(Method::GET, "/metrics", None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    String::from_utf8(body.to_vec()).unwrap()
}

/// The value of the sample `series` (name with labels) in an exposition.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(series)?;
            rest.strip_prefix(' ')?.trim().parse().ok()
        })
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
}

#[tokio::test]
async fn metrics_are_exposed_and_move() {
    let server = TestServer::start(&[]).await;
    let before = scrape(&server).await;
    assert_eq!(value(&before, "tickwire_rooms"), 1.0);
    assert_eq!(
        value(&before, r#"tickwire_room_players{room="default"}"#),
        0.0
    );
    assert_eq!(value(&before, "tickwire_sessions_open"), 0.0);
    assert!(
        before.contains("# TYPE tickwire_room_tick_seconds histogram"),
        "{before}"
    );
    assert!(before.contains(r#"tickwire_room_tick_seconds_bucket{room="default",le="0.001"}"#));
    assert!(before.contains(r#"tickwire_room_tick_lateness_seconds_count{room="default"}"#));

    let mut bot = server.client("ada").await;
    // Each snapshot counted before the next one is queued: after three, two are in.
    receive_snapshots(&mut bot, 3).await;
    bot.send_ping().await.unwrap();
    let during = scrape(&server).await;
    assert_eq!(
        value(&during, r#"tickwire_room_players{room="default"}"#),
        1.0
    );
    assert_eq!(value(&during, "tickwire_sessions_open"), 1.0);
    assert!(
        value(
            &during,
            r#"tickwire_room_snapshots_sent_total{room="default"}"#
        ) >= 2.0
    );
    assert!(value(&during, r#"tickwire_room_bytes_out_total{room="default"}"#) > 0.0);
    assert!(value(&during, r#"tickwire_room_keyframes_total{room="default"}"#) >= 1.0);
    assert!(value(&during, "tickwire_bytes_out_total") > 0.0);
    assert!(
        value(&during, "tickwire_bytes_in_total") > 0.0,
        "Hello and the ping"
    );
    assert!(
        value(
            &during,
            r#"tickwire_room_tick_seconds_count{room="default"}"#
        ) > value(
            &before,
            r#"tickwire_room_tick_seconds_count{room="default"}"#
        )
    );
    assert_eq!(
        value(
            &during,
            r#"tickwire_room_snapshots_skipped_total{room="default"}"#
        ),
        0.0
    );
    assert_eq!(
        value(&during, r#"tickwire_room_desyncs_total{room="default"}"#),
        0.0
    );
    assert_eq!(
        value(&during, "tickwire_client_messages_rate_limited_total"),
        0.0
    );

    // A desync report is counted; so is a close, by its code.
    bot.request_keyframe().await.unwrap();
    bot.wait_until(WAIT, |v| v.keyframes >= 2).await.unwrap();
    bot.close().await.unwrap();
    let counters = server.server().counters();
    tokio::time::timeout(
        WAIT,
        counters.until(|c| c.session_closes_total.get(close::NORMAL) == 1),
    )
    .await
    .unwrap();
    let after = scrape(&server).await;
    assert_eq!(
        value(&after, r#"tickwire_room_desyncs_total{room="default"}"#),
        1.0
    );
    assert_eq!(
        value(&after, r#"tickwire_session_closes_total{code="1000"}"#),
        1.0
    );
    assert_eq!(value(&after, "tickwire_sessions_open"), 0.0);
    server.stop().await;
}

#[tokio::test]
async fn health_and_readiness() {
    let server = TestServer::start(&[]).await;
    let api = server.api();
    let (status, body) = api.request(Method::GET, "/healthz", None).await.unwrap();
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok"[..]));
    let (status, body) = api.request(Method::GET, "/readyz", None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let ready = json(&body);
    assert_eq!(
        (&ready["ready"], &ready["rooms"]),
        (&true.into(), &1.into())
    );
    server.stop().await;
}
