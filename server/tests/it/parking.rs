//! Idle rooms park: a room with no session, no held player and no reservation stops
//! ticking until a command wakes it; woken, it serves the command and its tick numbers
//! continue. Closing a parked room, and shutting the server down, end parked rooms too.

use std::time::Duration;

use server::control::registry::Origin;
use server::room::{RoomError, RoomHandle};

use crate::{TestServer, WAIT, receive_snapshots};

/// Waits until `room` is parked (or not), as the room publishes it.
async fn parked(room: &RoomHandle, parked: bool) {
    let mut watch = room.parked();
    tokio::time::timeout(WAIT, watch.wait_for(|p| *p == parked))
        .await
        .unwrap_or_else(|_| panic!("the room did not become parked = {parked}"))
        .unwrap();
}

/// Whether the room still answers: an ended room drops the reply.
async fn answers(room: &RoomHandle) -> bool {
    let reserve = room.reserve("probe".into(), "n".into(), Duration::from_secs(600));
    match tokio::time::timeout(WAIT, reserve)
        .await
        .expect("a room neither answered nor ended")
    {
        Ok(()) => true,
        Err(RoomError::Closed) => false,
        Err(e) => panic!("unexpected answer {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_room_wakes_on_a_join_and_serves_it() {
    let server = TestServer::start(&[]).await;
    let room = server.server().room().clone();
    parked(&room, true).await;
    let tick = room.current_tick();

    let mut player = server.client("p").await;
    receive_snapshots(&mut player, 3).await;
    assert!(!*room.parked().borrow(), "a room with a player ticks");
    assert!(
        room.current_tick() > tick,
        "tick numbers continue from where the room parked"
    );
    assert_eq!(room.seats().players, 1);

    // The player leaves for good: the room publishes its empty seats and parks again.
    player.close().await.unwrap();
    parked(&room, true).await;
    assert_eq!(room.seats().taken(), 0);
    assert_eq!(room.roster().len(), 0);
    assert_eq!(
        room.stats().borrow().clients,
        0,
        "no stale summary while parked"
    );
    server.stop().await;
}

#[tokio::test]
async fn closing_a_parked_room_ends_it() {
    let server = TestServer::start(&[]).await;
    let registry = server.server().registry();
    let room = registry
        .create(Some("quiet".into()), server_settings(&server), Origin::Api)
        .unwrap();
    parked(&room, true).await;
    // A reservation wakes it (and keeps it awake while held).
    assert!(answers(&room).await);
    assert!(!*room.parked().borrow());
    assert_eq!(room.seats().reserved, 1);

    let other = registry
        .create(Some("other".into()), server_settings(&server), Origin::Api)
        .unwrap();
    parked(&other, true).await;
    registry.remove("other").unwrap();
    assert!(!answers(&other).await, "the parked room ended");
    assert!(answers(&room).await, "others go on");
    server.stop().await;
}

/// At shutdown every room ends, parked or not: sessions get 1001 (going away), and the
/// server's drain returns with every room gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_parked_and_busy_rooms() {
    let server = TestServer::start(&[]).await;
    let registry = server.server().registry().clone();
    let quiet = registry
        .create(Some("quiet".into()), server_settings(&server), Origin::Api)
        .unwrap();
    parked(&quiet, true).await;
    let busy = server.server().room().clone();
    let mut player = server.client("p").await;
    receive_snapshots(&mut player, 2).await;

    server.stop().await;
    let end = player.wait_until(WAIT, |_| false).await;
    match end {
        Err(bot_client::ClientError::Closed { code, .. }) => {
            assert_eq!(code, Some(shared::protocol::close::GOING_AWAY))
        }
        other => panic!("expected a 1001 close, got {other:?}"),
    }
    assert!(!answers(&quiet).await, "the parked room ended");
    assert!(!answers(&busy).await, "the busy room ended");
}

fn server_settings(server: &TestServer) -> server::control::config::RoomSettings {
    let mut settings = server.server().room().config().settings.clone();
    settings.seed = Some(1);
    settings
}
