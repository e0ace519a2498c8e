//! Handshake and bad input: each bad peer gets its documented close code while a
//! well-behaved bot connected at the same time keeps receiving snapshots.

use bot_client::{ClientError, RawConnection};
use shared::codec::encode;
use shared::protocol::{
    ClientMessage, Hello, Input, Intent, PROTOCOL_VERSION, ServerMessage, close,
};

use crate::{TestServer, WAIT, receive_snapshots};

#[tokio::test]
async fn welcome_then_snapshots_at_the_configured_rate() {
    let server = TestServer::start(&["--tick-rate", "60", "--snapshot-rate", "20"]).await;
    let mut bot = server.client("ada").await;
    let welcome = bot.welcome().clone();
    assert_eq!((welcome.tick_rate, welcome.snapshot_rate), (60, 20));
    assert_eq!(welcome.map.name, "arena");

    let mut ticks = Vec::new();
    bot.wait_until(WAIT, |view| {
        ticks.push(view.tick);
        ticks.len() >= 30
    })
    .await
    .unwrap();
    // The rate is checked in simulation time, which is exact: one snapshot every
    // tick_rate / snapshot_rate ticks. A skipped snapshot (possible on a loaded
    // machine) shows up as a larger multiple.
    let gaps: Vec<u32> = ticks.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| g % 3 == 0 && *g > 0), "gaps {gaps:?}");
    let exact = gaps.iter().filter(|&&g| g == 3).count();
    assert!(
        exact * 10 >= gaps.len() * 9,
        "too many skipped snapshots: {gaps:?}"
    );
    // Our own player is in the state, under our name.
    let me = bot.view().get(welcome.entity).unwrap();
    assert_eq!(crate::arena::name(bot.view(), me), "ada");
    server.stop().await;
}

async fn expect_close(server: &TestServer, send: impl AsyncFnOnce(&mut RawConnection), code: u16) {
    let mut witness = server.client("witness").await;
    receive_snapshots(&mut witness, 2).await;

    let mut raw = RawConnection::connect(&server.url()).await.unwrap();
    send(&mut raw).await;
    let (got, reason) = raw.wait_close(WAIT).await.unwrap();
    assert_eq!(got, code, "close reason: {reason}");
    assert!(!reason.is_empty(), "a close code comes with a reason");
    // The offending session is gone: nothing more arrives on it.
    assert!(
        raw.recv(std::time::Duration::from_millis(200))
            .await
            .is_err()
    );

    // Meanwhile the well-behaved bot kept playing.
    receive_snapshots(&mut witness, 5).await;
}

fn hello(version: u16, name: &str) -> Vec<u8> {
    encode(&ClientMessage::Hello(Hello {
        protocol_version: version,
        name: name.into(),
        ..Hello::default()
    }))
    .unwrap()
}

#[tokio::test]
async fn text_frames_are_refused_with_1003() {
    let server = TestServer::start(&[]).await;
    expect_close(
        &server,
        async |raw| raw.send_text("hello?").await.unwrap(),
        close::UNSUPPORTED_DATA,
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn undecodable_bytes_are_refused_with_4000() {
    let server = TestServer::start(&[]).await;
    expect_close(
        &server,
        async |raw| raw.send_binary(vec![0xff, 0x00, 0x13]).await.unwrap(),
        close::BAD_MESSAGE,
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn a_wrong_protocol_version_is_refused_with_4001() {
    let server = TestServer::start(&[]).await;
    expect_close(
        &server,
        async |raw| {
            raw.send_binary(hello(PROTOCOL_VERSION + 1, "old"))
                .await
                .unwrap()
        },
        close::PROTOCOL_VERSION,
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn input_before_hello_is_refused_with_4002() {
    let server = TestServer::start(&[]).await;
    let input = encode(&ClientMessage::Input(Input::one(1, 0, Intent::default()))).unwrap();
    expect_close(
        &server,
        async |raw| raw.send_binary(input).await.unwrap(),
        close::UNEXPECTED_MESSAGE,
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn a_second_hello_is_refused_with_4002() {
    let server = TestServer::start(&[]).await;
    expect_close(
        &server,
        async |raw| {
            raw.send_binary(hello(PROTOCOL_VERSION, "twice"))
                .await
                .unwrap();
            let welcome = raw.recv(WAIT).await.unwrap();
            assert!(matches!(welcome, ServerMessage::Welcome(_)));
            raw.send_binary(hello(PROTOCOL_VERSION, "twice"))
                .await
                .unwrap();
        },
        close::UNEXPECTED_MESSAGE,
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn bad_names_are_refused_with_4003() {
    let server = TestServer::start(&[]).await;
    expect_close(
        &server,
        async |raw| {
            raw.send_binary(hello(PROTOCOL_VERSION, "bell\u{7}"))
                .await
                .unwrap()
        },
        close::INVALID_NAME,
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn silent_peers_are_closed_with_4005() {
    let server = TestServer::start(&["--handshake-timeout-s", "1"]).await;
    expect_close(&server, async |_raw| {}, close::HANDSHAKE_TIMEOUT).await;
    server.stop().await;
}

#[tokio::test]
async fn a_full_room_refuses_with_4004() {
    let server = TestServer::start(&["--max-players", "1"]).await;
    let mut first = server.client("first").await;
    receive_snapshots(&mut first, 1).await;
    match bot_client::Client::connect(&server.url(), "second").await {
        Err(ClientError::Closed { code, .. }) => assert_eq!(code, Some(close::ROOM_FULL)),
        other => panic!(
            "expected a 4004 close, got {:?}",
            other.map(|c| c.welcome().clone())
        ),
    }
    receive_snapshots(&mut first, 3).await;
    server.stop().await;
}

#[tokio::test]
async fn upgrades_beyond_the_connection_cap_get_503() {
    let server = TestServer::start(&["--max-connections", "1"]).await;
    let mut first = server.client("first").await;
    let refused = RawConnection::connect(&server.url()).await;
    let err = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("503"), "expected HTTP 503, got {err:?}");
    receive_snapshots(&mut first, 3).await;
    server.stop().await;
}
