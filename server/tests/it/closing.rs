//! The close handshake on the game endpoint, with a real WebSocket client: a client's
//! Close frame is answered with one (RFC 6455 §5.5.1) and frees the seat at once; a
//! close frame the protocol forbids gets the WebSocket layer's code; a protocol
//! violation frees the seat at once, and only a lost connection holds the player.

use bot_client::RawConnection;
use shared::protocol::close;

use crate::hardening::join;
use crate::{TestServer, WAIT};

async fn joined(server: &TestServer, name: &str) -> RawConnection {
    let mut raw = RawConnection::connect(&server.url()).await.unwrap();
    join(&mut raw, name).await;
    raw
}

/// Waits until the room's published seats satisfy `condition`, checking after every
/// snapshot a witness receives (so once per snapshot interval, event-driven).
async fn seats_until(
    server: &TestServer,
    witness: &mut bot_client::Client,
    condition: impl Fn(server::room::Seats) -> bool,
) {
    let room = server.server().room().clone();
    witness
        .wait_until(WAIT, |_| condition(room.seats()))
        .await
        .unwrap_or_else(|e| panic!("seats stayed {:?}: {e}", room.seats()));
}

#[tokio::test]
async fn a_client_close_is_answered_before_and_after_hello_and_frees_the_seat() {
    let server = TestServer::start(&[]).await;
    let mut witness = server.client("witness").await;

    // Before Hello.
    let mut raw = RawConnection::connect(&server.url()).await.unwrap();
    raw.send_close(1000, "bye").await.unwrap();
    assert_eq!(raw.wait_close(WAIT).await.unwrap().0, 1000);

    // After Hello: the answer, and the seat is free at once (not held for a resume).
    let mut raw = joined(&server, "leaver").await;
    seats_until(&server, &mut witness, |s| s.players == 2).await;
    raw.send_close(1000, "bye").await.unwrap();
    let (code, _) = raw.wait_close(WAIT).await.unwrap();
    assert_eq!(code, 1000, "a clean close, not 1006");
    seats_until(&server, &mut witness, |s| s.players == 1 && s.held == 0).await;
    let counters = server.server().counters();
    counters
        .until(|c| c.session_closes_total.get(1000) == 2)
        .await;
    server.stop().await;
}

#[tokio::test]
async fn forbidden_close_frames_get_the_websocket_codes() {
    let server = TestServer::start(&[]).await;
    let cases: [(&str, Vec<u8>, u16); 3] = [
        // 1005 must never be sent in a frame; 999 is not a code at all.
        ("code 1005", 1005u16.to_be_bytes().to_vec(), 1002),
        ("code 999", 999u16.to_be_bytes().to_vec(), 1002),
        // A reason that is not UTF-8.
        (
            "invalid UTF-8 reason",
            [&1000u16.to_be_bytes()[..], &[0xff, 0xfe, 0x80][..]].concat(),
            1007,
        ),
    ];
    for (what, payload, expected) in cases {
        let mut raw = joined(&server, "closer").await;
        raw.send_close_payload(payload).await.unwrap();
        let (code, _) = raw.wait_close(WAIT).await.unwrap();
        assert_eq!(code, expected, "{what}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_protocol_violation_frees_the_seat_at_once() {
    let server = TestServer::start(&["--resume-grace-s", "600"]).await;
    let mut witness = server.client("witness").await;
    let mut raw = joined(&server, "big").await;
    seats_until(&server, &mut witness, |s| s.players == 2).await;
    // An oversized message (1009) is the peer's doing: no resume is held for it.
    raw.send_binary(vec![1; 2_000]).await.unwrap();
    assert_eq!(
        raw.wait_close(WAIT).await.unwrap().0,
        close::MESSAGE_TOO_BIG
    );
    seats_until(&server, &mut witness, |s| s.players == 1 && s.held == 0).await;

    // A lost connection (no close frame) is held for the grace period.
    let raw = joined(&server, "lost").await;
    seats_until(&server, &mut witness, |s| s.players == 2).await;
    drop(raw);
    seats_until(&server, &mut witness, |s| s.players == 1 && s.held == 1).await;
    server.stop().await;
}
