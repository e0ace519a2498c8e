//! Resume: a player whose connection drops gets its own entity back (position, health,
//! score) within the grace period, never a second one; after it, the seat is freed.

use bot_client::{Client, ClientError, ConnectOptions, WorldView};
use shared::protocol::{EntityState, close};

use crate::{TestServer, WAIT, WHOLE_MAP, receive_snapshots, refused_with};

fn resume_options(token: &str) -> ConnectOptions {
    ConnectOptions {
        resume_token: token.to_owned(),
        ..ConnectOptions::default()
    }
}

/// Players named `name` in a view.
fn named(view: &WorldView, name: &str) -> Vec<EntityState> {
    view.with_component("Player")
        .filter(|e| crate::arena::name(view, e) == name)
        .cloned()
        .collect()
}

/// Reads snapshots until `pred` holds, checking on every one of them that the observer
/// never sees two players named `name`.
async fn observe(observer: &mut Client, name: &str, mut pred: impl FnMut(&WorldView) -> bool) {
    observer
        .wait_until(WAIT, |v| {
            assert!(named(v, name).len() <= 1, "two players named {name}");
            pred(v)
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_dropped_player_resumes_with_the_same_entity() {
    let server = TestServer::start(&[WHOLE_MAP[0], WHOLE_MAP[1], "--resume-grace-s", "60"]).await;
    let mut observer = server.client("observer").await;
    let mut ada = server.client("ada").await;
    let welcome = ada.welcome().clone();
    assert_eq!(welcome.resume_grace_s, 60);
    assert!(!welcome.resume_token.is_empty());
    // Ada stands still; the observer sees her.
    receive_snapshots(&mut ada, 2).await;
    observe(&mut observer, "ada", |v| v.get(welcome.entity).is_some()).await;
    let before = ada.view().get(welcome.entity).unwrap().clone();
    let before_fields = {
        let v = ada.view();
        let m = crate::arena::motion(v, &before);
        (
            m.x,
            m.y,
            crate::arena::health(v, &before),
            crate::arena::score(v, &before),
        )
    };

    // The network drops (no close frame): the server counts a 1006 and holds her.
    ada.abort();
    let counters = server.server().counters();
    tokio::time::timeout(
        WAIT,
        counters.until(|c| c.session_closes_total.get(1006) == 1),
    )
    .await
    .unwrap();
    let room = server.server().room();
    // The room sees the loss on its next tick; her entity stays in the world meanwhile.
    observe(&mut observer, "ada", |v| {
        room.seats().held == 1 && v.get(welcome.entity).is_some()
    })
    .await;

    // She comes back with her resume token: same entity, same seat, a fresh keyframe.
    let mut again =
        Client::connect_with(&server.url(), "ada", &resume_options(&welcome.resume_token))
            .await
            .unwrap();
    let back = again.welcome().clone();
    assert_eq!(
        (back.entity, back.client_id, back.player.as_str()),
        (welcome.entity, welcome.client_id, welcome.player.as_str())
    );
    assert!(back.resumed);
    assert_ne!(
        back.resume_token, welcome.resume_token,
        "each session gets a new token"
    );
    receive_snapshots(&mut again, 1).await;
    assert_eq!(
        again.view().keyframes,
        1,
        "the first snapshot after a resume is a keyframe"
    );
    let after = again.view().get(welcome.entity).unwrap().clone();
    let fields = |v: &WorldView, e: &EntityState| {
        let m = crate::arena::motion(v, e);
        (
            m.x,
            m.y,
            crate::arena::health(v, e),
            crate::arena::score(v, e),
        )
    };
    assert_eq!(fields(again.view(), &after), before_fields);
    observe(&mut observer, "ada", |v| named(v, "ada").len() == 1).await;
    assert_eq!(room.seats().held, 0);
    assert_eq!(room.seats().players, 2);

    // Once the resumed session has been heard from (the room applied an input of it), the
    // old token is void, and trying it does not disturb the resumed session. (Before, it
    // would still resume: the client might not have received the new token.)
    let seq = again.send_input(0, 0, 0, 0).await.unwrap();
    again
        .wait_until(WAIT, |v: &WorldView| v.last_input_seq >= seq)
        .await
        .unwrap();
    let stale =
        Client::connect_with(&server.url(), "ada", &resume_options(&welcome.resume_token)).await;
    assert_eq!(refused_with(stale), close::RESUME_FAILED);
    // A token of another room's name, or forged, is refused too.
    let forged = Client::connect_with(&server.url(), "ada", &resume_options("x.y")).await;
    assert_eq!(refused_with(forged), close::RESUME_FAILED);
    receive_snapshots(&mut again, 3).await;
    assert_eq!(named(observer.view(), "ada").len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn after_the_grace_period_the_seat_is_freed_and_the_entity_removed() {
    let server = TestServer::start(&[
        WHOLE_MAP[0],
        WHOLE_MAP[1],
        "--resume-grace-s",
        "1",
        "--max-players",
        "2",
    ])
    .await;
    let mut observer = server.client("observer").await;
    let mut ada = server.client("ada").await;
    let welcome = ada.welcome().clone();
    receive_snapshots(&mut ada, 1).await;
    observe(&mut observer, "ada", |v| v.get(welcome.entity).is_some()).await;
    ada.abort();
    // While she is held, her seat is taken: the room (2 seats) is full.
    let room = server.server().room();
    observe(&mut observer, "ada", |_| room.seats().held == 1).await;
    let third = Client::connect(&server.url(), "eve").await;
    assert_eq!(refused_with(third), close::ROOM_FULL);
    // Then the grace period ends: the entity goes, and so does the seat.
    observe(&mut observer, "ada", |v| v.get(welcome.entity).is_none()).await;
    assert_eq!(room.seats().held, 0);
    let late =
        Client::connect_with(&server.url(), "ada", &resume_options(&welcome.resume_token)).await;
    assert_eq!(refused_with(late), close::RESUME_FAILED);
    let mut eve = server.client("eve").await;
    receive_snapshots(&mut eve, 1).await;
    server.stop().await;
}

#[tokio::test]
async fn a_resume_while_the_old_session_lives_replaces_it() {
    let server = TestServer::start(WHOLE_MAP).await;
    let mut observer = server.client("observer").await;
    let mut ada = server.client("ada").await;
    let welcome = ada.welcome().clone();
    receive_snapshots(&mut ada, 1).await;
    // A half-open connection the server has not noticed yet: the new session takes over.
    let mut again =
        Client::connect_with(&server.url(), "ada", &resume_options(&welcome.resume_token))
            .await
            .unwrap();
    assert_eq!(again.welcome().entity, welcome.entity);
    match ada.wait_until(WAIT, |_| false).await {
        Err(ClientError::Closed { code, .. }) => assert_eq!(code, Some(close::REPLACED)),
        other => panic!("expected 4015 for the old session, got {other:?}"),
    }
    receive_snapshots(&mut again, 2).await;
    observe(&mut observer, "ada", |v| named(v, "ada").len() == 1).await;
    assert_eq!(server.server().room().seats().players, 2);
    server.stop().await;
}

#[tokio::test]
async fn a_join_token_for_a_player_in_the_room_takes_it_back() {
    let server =
        TestServer::start(&[WHOLE_MAP[0], WHOLE_MAP[1], "--admin-token", "admin-secret"]).await;
    let admin = server.admin("admin-secret");
    // A player id needs the admin token (else anyone could take over anyone).
    let err = server
        .api()
        .join("default", Some("user-1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Http { status: 401, .. }),
        "{err}"
    );
    let first = admin.join("default", Some("user-1")).await.unwrap();
    let mut phone = server
        .join_with(&first.url, "ada", &first.token)
        .await
        .unwrap();
    receive_snapshots(&mut phone, 1).await;
    // Same account from another device: the same player, not a second one.
    let second = admin.join("default", Some("user-1")).await.unwrap();
    let mut laptop = server
        .join_with(&second.url, "ada", &second.token)
        .await
        .unwrap();
    assert_eq!(laptop.welcome().entity, phone.welcome().entity);
    assert!(laptop.welcome().resumed);
    match phone.wait_until(WAIT, |_| false).await {
        Err(ClientError::Closed { code, .. }) => assert_eq!(code, Some(close::REPLACED)),
        other => panic!("expected 4015, got {other:?}"),
    }
    laptop
        .wait_until(WAIT, |v| named(v, "ada").len() == 1)
        .await
        .unwrap();
    server.stop().await;
}
