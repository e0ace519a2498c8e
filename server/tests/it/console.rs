//! What the operator console (`/console`) relies on: kicking a player through the rooms
//! API, and a room's roster, shown to admin callers only.

use bot_client::ClientError;
use bot_client::api::ApiClient;
use hyper::{Method, StatusCode};
use serde_json::Value;
use shared::protocol::close;

use crate::{TestServer, WAIT, call, receive_snapshots};

const ADMIN: &str = "console-admin-token";

async fn kick(api: &ApiClient, room: &str, player: &str) -> (StatusCode, Value) {
    call(
        api,
        Method::POST,
        &format!("/api/rooms/{room}/kick"),
        Some(serde_json::json!({ "player_id": player })),
    )
    .await
}

/// Polls room `id`'s detail (as `api` sees it) until `condition` holds; returns it.
async fn detail_until(
    api: &ApiClient,
    id: &str,
    what: &str,
    condition: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, detail) = call(api, Method::GET, &format!("/api/rooms/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{detail}");
        if condition(&detail) {
            return detail;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}: {detail}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The `(player_id, name, connected)` rows of a detail's roster.
fn roster(detail: &Value) -> Vec<(String, String, bool)> {
    detail["roster"]
        .as_array()
        .unwrap_or_else(|| panic!("no roster in {detail}"))
        .iter()
        .map(|e| {
            (
                e["player_id"].as_str().unwrap().to_owned(),
                e["name"].as_str().unwrap().to_owned(),
                e["connected"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn kicks_total(server: &TestServer) -> u64 {
    server
        .server()
        .render_metrics()
        .lines()
        .find_map(|l| l.strip_prefix("tickwire_kicks_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_kick_closes_the_session_with_4017_and_frees_the_seat() {
    let server = TestServer::start(&["--admin-token", ADMIN]).await;
    let (api, admin) = (server.api(), server.admin(ADMIN));
    let mut target = server.client("target").await;
    let mut bystander = server.client("bystander").await;
    let player = target.welcome().player.clone();
    receive_snapshots(&mut target, 1).await;
    detail_until(&admin, "default", "both players are seated", |d| {
        d["players"] == 2
    })
    .await;

    // Without the admin token: 401, and the player stays.
    let (status, body) = kick(&api, "default", &player).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    // A body without a player id is a bad request.
    let (status, body) = call(&admin, Method::POST, "/api/rooms/default/kick", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    receive_snapshots(&mut target, 2).await;
    assert_eq!(kicks_total(&server), 0);

    let (status, body) = kick(&admin, "default", &player).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    match target.wait_until(WAIT, |_| false).await {
        Err(ClientError::Closed { code, reason }) => {
            assert_eq!(code, Some(close::KICKED), "{reason}");
            assert_eq!(close::after(close::KICKED), close::After::Stop);
        }
        other => panic!("expected a 4017 close, got {other:?}"),
    }
    // The seat is free at once: not held for a resume.
    let detail = detail_until(&admin, "default", "the kicked player's seat is free", |d| {
        d["players"] == 1
    })
    .await;
    assert_eq!(detail["held"], 0, "{detail}");
    assert!(
        roster(&detail).iter().all(|(id, _, _)| *id != player),
        "{detail}"
    );
    assert_eq!(kicks_total(&server), 1);

    // Again: nobody to kick. Another room, or none: unknown room.
    let (status, body) = kick(&admin, "default", &player).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_player"))
    );
    let (status, body) = kick(&admin, "nowhere", &player).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_room"))
    );
    assert_eq!(kicks_total(&server), 1);

    // The others play on.
    receive_snapshots(&mut bystander, 3).await;
    server.stop().await;
}

#[tokio::test]
async fn the_roster_is_shown_to_admins_only() {
    let server = TestServer::start(&["--admin-token", ADMIN]).await;
    let (api, admin) = (server.api(), server.admin(ADMIN));
    let mut ada = server.client("Ada").await;
    let lost = server.client("Lost").await;
    let (ada_id, lost_id) = (ada.welcome().player.clone(), lost.welcome().player.clone());
    receive_snapshots(&mut ada, 1).await;
    // A connection dropped without a close frame: the player is held for a resume.
    lost.abort();
    let detail = detail_until(
        &admin,
        "default",
        "one player connected and one held",
        |d| d["players"] == 1 && d["held"] == 1,
    )
    .await;
    let mut rows = roster(&detail);
    rows.sort();
    let mut expected = vec![
        (ada_id, "Ada".to_owned(), true),
        (lost_id.clone(), "Lost".to_owned(), false),
    ];
    expected.sort();
    assert_eq!(rows, expected);

    // Player ids would let anyone take a player over: no roster without the token.
    let (status, detail) = call(&api, Method::GET, "/api/rooms/default", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(detail.get("roster").is_none(), "{detail}");
    assert_eq!(detail["players"], 1);

    // A held player can be kicked too: its seat is freed at once.
    let (status, body) = kick(&admin, "default", &lost_id).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    detail_until(&admin, "default", "the held seat is free", |d| {
        d["held"] == 0
    })
    .await;
    server.stop().await;

    // Without an admin token, on loopback, anyone may administer: the roster shows.
    let open = TestServer::start(&[]).await;
    let mut bob = open.client("Bob").await;
    receive_snapshots(&mut bob, 1).await;
    let detail = detail_until(&open.api(), "default", "Bob is seated", |d| {
        d["players"] == 1
    })
    .await;
    assert_eq!(
        roster(&detail),
        [(bob.welcome().player.clone(), "Bob".to_owned(), true)]
    );
    open.stop().await;
}

#[tokio::test]
async fn kicks_without_an_admin_token_are_limited_per_address_like_deletes() {
    // A loopback server without an admin token: anyone may kick, at the delete rate.
    let server = TestServer::start(&["--api-delete-rate", "2"]).await;
    let api = server.api();
    for _ in 0..2 {
        let (status, body) = kick(&api, "default", "nobody").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    let (status, body) = kick(&api, "default", "nobody").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    // Closing rooms shares the allowance.
    let (status, _) = call(&api, Method::DELETE, "/api/rooms/default", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}
