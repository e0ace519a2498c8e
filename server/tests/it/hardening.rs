//! Hardening: every class of bad peer gets its documented refusal or close code, its
//! session ends, and a well-behaved bot connected at the same time keeps receiving its
//! snapshots at the configured rate. The rate is checked on snapshot tick gaps, which are
//! exact in simulation time, never on wall-clock rates.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bot_client::{Client, Event, RawConnection};
use futures_util::{SinkExt, StreamExt};
use server::Counters;
use shared::codec::encode;
use shared::protocol::{
    ClientMessage, Desync, Hello, Input, Intent, PROTOCOL_VERSION, Ping, ServerMessage, close,
};
use shared::rules::{BUTTON_FIRE, FIRE_COOLDOWN_S, PLAYER_MAX_SPEED, seconds_to_ticks};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::{TestServer, WAIT, receive_snapshots};

/// Ticks between two snapshots with the test server's rates (60 Hz tick, 20 Hz snapshots).
const PERIOD: u32 = 3;

/// Snapshots the witness records at least, whatever else happens.
const MIN_WITNESSED: usize = 10;

/// A well-behaved bot that records the tick of every snapshot it receives while a bad
/// peer does its worst.
struct Witness {
    stop: CancellationToken,
    task: JoinHandle<Vec<u32>>,
}

impl Witness {
    async fn join(server: &TestServer) -> Witness {
        let mut client = server.client("witness").await;
        receive_snapshots(&mut client, 2).await;
        let stop = CancellationToken::new();
        let task = tokio::spawn(record_ticks(client, stop.clone()));
        Witness { stop, task }
    }

    /// Stops recording and asserts the witness kept its rate all along: every gap a whole
    /// number of snapshot periods, and (allowing for a loaded test machine, where a
    /// snapshot can be skipped) at least 90% of them exactly one period.
    async fn assert_kept_rate(self) {
        self.stop.cancel();
        let ticks = self.task.await.unwrap();
        assert_gaps(&ticks, PERIOD);
    }
}

async fn record_ticks(mut client: Client, stop: CancellationToken) -> Vec<u32> {
    let mut ticks = Vec::new();
    loop {
        tokio::select! {
            () = stop.cancelled(), if ticks.len() >= MIN_WITNESSED => return ticks,
            event = tokio::time::timeout(WAIT, client.next_event()) => match event {
                Ok(Ok(Event::Snapshot { tick, .. })) => ticks.push(tick),
                Ok(Ok(Event::Closed { code, reason })) => {
                    panic!("the witness was closed ({code:?}): {reason}")
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("the witness failed: {e}"),
                Err(_) => panic!("the witness received nothing for {WAIT:?}"),
            },
        }
    }
}

fn assert_gaps(ticks: &[u32], period: u32) {
    let gaps: Vec<u32> = ticks.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|g| *g > 0 && g % period == 0),
        "gaps {gaps:?}"
    );
    let exact = gaps.iter().filter(|&&g| g == period).count();
    assert!(
        exact * 10 >= gaps.len() * 9,
        "too many skipped snapshots: {gaps:?}"
    );
}

pub(crate) fn hello(name: &str) -> Vec<u8> {
    encode(&ClientMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        name: name.into(),
        ..Hello::default()
    }))
    .unwrap()
}

fn input(seq: u32, ack_tick: u32, buttons: u8) -> Vec<u8> {
    let intent = Intent {
        buttons,
        ..Intent::default()
    };
    encode(&ClientMessage::Input(Input::one(seq, ack_tick, intent))).unwrap()
}

/// Sends Hello and waits for Welcome.
pub(crate) async fn join(raw: &mut RawConnection, name: &str) {
    raw.send_binary(hello(name)).await.unwrap();
    let welcome = raw.recv(WAIT).await.unwrap();
    assert!(matches!(welcome, ServerMessage::Welcome(_)), "{welcome:?}");
}

async fn until(counters: &Counters, condition: impl FnMut(&Counters) -> bool) {
    tokio::time::timeout(WAIT, counters.until(condition))
        .await
        .expect("the counters never reached the expected state");
}

fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// A raw peer misbehaves with a witness connected: it must get `code` with a reason,
/// its session must end (and be counted), and the witness must keep its rate.
async fn expect_closed(
    server: &TestServer,
    misbehave: impl AsyncFnOnce(&mut RawConnection),
    code: u16,
) {
    let witness = Witness::join(server).await;
    let mut raw = RawConnection::connect(&server.url()).await.unwrap();
    misbehave(&mut raw).await;
    let (got, reason) = raw.wait_close(WAIT).await.unwrap();
    assert_eq!(got, code, "close reason: {reason}");
    assert!(!reason.is_empty(), "a close code comes with a reason");
    assert!(raw.recv(Duration::from_secs(1)).await.is_err());

    let counters = server.server().counters();
    until(counters, |c| c.session_closes_total.get(code) == 1).await;
    assert_eq!(load(&counters.sessions_open), 1, "only the witness is left");
    witness.assert_kept_rate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_flood_is_closed_with_1008() {
    let server = TestServer::start(&[]).await;
    expect_closed(
        &server,
        async |raw| {
            join(raw, "flood").await;
            // Back to back, far above 10 × the rate (2 × 60 messages per second): the
            // flood bucket (10 × 120 × 2 s = 2,400 messages) runs out before the end.
            for seq in 1..=5_000 {
                if raw.send_binary(input(seq, 0, 0)).await.is_err() {
                    break;
                }
            }
        },
        close::POLICY_VIOLATION,
    )
    .await;
    let counters = server.server().counters();
    assert!(load(&counters.client_messages_rate_limited_total) > 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_after_a_stall_is_dropped_not_closed() {
    let server = TestServer::start(&[]).await;
    let mut raw = RawConnection::connect(&server.url()).await.unwrap();
    join(&mut raw, "stalled").await;
    // A tab that was frozen sends what it queued at once: 1,100 messages, back to back.
    for seq in 1..=1_100 {
        raw.send_binary(input(seq, 0, 0)).await.unwrap();
    }
    // The session lives on: snapshots keep coming and nothing closed it.
    let mut snapshots = 0;
    while snapshots < 5 {
        if let ServerMessage::Snapshot(_) = raw.recv(WAIT).await.unwrap() {
            snapshots += 1;
        }
    }
    let counters = server.server().counters();
    assert!(load(&counters.client_messages_rate_limited_total) > 0);
    assert_eq!(
        counters.session_closes_total.get(close::POLICY_VIOLATION),
        0
    );
    server.stop().await;
}

/// What one player saw of itself: `(tick, x, y, vx, vy)` per snapshot, and the ids of
/// the projectiles it fired.
#[derive(Debug, Default)]
struct Track {
    states: Vec<(u32, i32, i32, i32, i32)>,
    shots: BTreeSet<u32>,
}

/// Moves right and fires upwards, sending `per_snapshot` inputs per snapshot received,
/// until `snapshots` snapshots have arrived.
async fn play(mut client: Client, per_snapshot: u32, snapshots: usize) -> Track {
    let me = client.welcome().entity;
    let mut track = Track::default();
    while track.states.len() < snapshots {
        let event = tokio::time::timeout(WAIT, client.next_event())
            .await
            .expect("no snapshot")
            .expect("the session failed");
        let Event::Snapshot { tick, .. } = event else {
            assert!(!matches!(event, Event::Closed { .. }), "{event:?}");
            continue;
        };
        let view = client.view();
        if let Some(e) = view.get(me) {
            let m = crate::arena::motion(view, e);
            track.states.push((tick, m.x, m.y, m.vx, m.vy));
        }
        track.shots.extend(
            view.with_component("Projectile")
                .filter(|p| crate::arena::owner(view, p) == me)
                .map(|p| p.id),
        );
        for _ in 0..per_snapshot {
            client
                .send_input(127, 0, 49_152, BUTTON_FIRE)
                .await
                .unwrap();
        }
    }
    client.close().await.unwrap();
    track
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_times_more_inputs_move_and_fire_no_faster() {
    // Full snapshots: every entity, every snapshot, so each player sees all its shots.
    let server = TestServer::start(&["--snapshots", "full", "--drones", "0"]).await;
    let steady = server.client("steady").await;
    let flooder = server.client("flooder").await;
    const SNAPSHOTS: usize = 80;
    // One input per tick (3 per snapshot) against ten per tick.
    let steady = tokio::spawn(play(steady, PERIOD, SNAPSHOTS));
    let flooder = tokio::spawn(play(flooder, 10 * PERIOD, SNAPSHOTS));
    let (steady, flooder) = (steady.await.unwrap(), flooder.await.unwrap());

    let counters = server.server().counters();
    assert!(
        load(&counters.client_messages_rate_limited_total) > 0,
        "the flooder's surplus is dropped"
    );
    assert_eq!(
        counters.session_closes_total.get(close::POLICY_VIOLATION),
        0,
        "ten inputs per tick are dropped, not closed"
    );
    let ticks: Vec<u32> = steady.states.iter().map(|s| s.0).collect();
    assert_gaps(&ticks, PERIOD);

    let max_speed = (PLAYER_MAX_SPEED * 64.0).ceil() as i32;
    for (name, track) in [("steady", &steady), ("flooder", &flooder)] {
        for w in track.states.windows(2) {
            let ((t0, x0, y0, _, _), (t1, x1, y1, vx, vy)) = (w[0], w[1]);
            // One movement step per tick, never more: at most top speed times the ticks
            // elapsed (plus one step of rounding).
            let bound = max_speed * (t1 - t0) as i32 / 60 + 1;
            assert!(
                (x1 - x0).abs() <= bound && (y1 - y0).abs() <= bound,
                "{name} moved ({}, {}) in {} ticks",
                x1 - x0,
                y1 - y0,
                t1 - t0
            );
            assert!(
                vx.abs() <= max_speed && vy.abs() <= max_speed,
                "{name} speed"
            );
        }
        let (first, last) = (track.states[0], track.states[track.states.len() - 1]);
        assert!(last.1 != first.1, "{name} moved at all");
        // One shot per cooldown at most, over the ticks observed (plus the one in
        // flight when observation began).
        let cooldown = seconds_to_ticks(FIRE_COOLDOWN_S, 60);
        let most = (last.0 - first.0) / cooldown + 2;
        assert!(
            !track.shots.is_empty() && track.shots.len() as u32 <= most,
            "{name} fired {} shots in {} ticks",
            track.shots.len(),
            last.0 - first.0
        );
    }
    assert!(
        flooder.shots.len() <= steady.shots.len() + 1,
        "the flooder fired {} shots, the steady player {}",
        flooder.shots.len(),
        steady.shots.len()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_get_503() {
    let server = TestServer::start(&["--max-connections", "2"]).await;
    let witness = Witness::join(&server).await;
    let mut second = RawConnection::connect(&server.url()).await.unwrap();
    join(&mut second, "second").await;
    let refused = RawConnection::connect(&server.url()).await;
    let err = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("503"), "expected HTTP 503, got {err:?}");
    let counters = server.server().counters();
    assert_eq!(load(&counters.connections_refused_capacity_total), 1);
    assert_eq!(
        load(&counters.sessions_total),
        2,
        "the refused one never started"
    );
    witness.assert_kept_rate().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_opening_connections_too_fast_gets_429() {
    let server = TestServer::start(&["--ip-connect-rate", "1", "--ip-connect-burst", "3"]).await;
    let witness = Witness::join(&server).await;
    // Connections a few milliseconds apart from 127.0.0.1: the burst of 3 (the witness
    // took one) runs out long before the one-per-second refill can keep up.
    let mut kept = Vec::new();
    let refusal = loop {
        assert!(kept.len() < 20, "never refused");
        match RawConnection::connect(&server.url()).await {
            Ok(raw) => kept.push(raw),
            Err(e) => break e.to_string(),
        }
    };
    assert!(
        refusal.contains("429"),
        "expected HTTP 429, got {refusal:?}"
    );
    let counters = server.server().counters();
    assert_eq!(load(&counters.connections_refused_rate_limited_total), 1);
    witness.assert_kept_rate().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_upgrade_request_is_dropped() {
    let server = TestServer::start(&["--http-header-timeout-s", "1"]).await;
    let witness = Witness::join(&server).await;
    let mut tcp = TcpStream::connect(server.server().local_addr())
        .await
        .unwrap();
    tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    // One byte of an endless header every 100 ms: only the header timeout can end this.
    let mut trickle = tokio::time::interval(Duration::from_millis(100));
    let mut buf = [0u8; 256];
    let dropped = tokio::time::timeout(WAIT, async {
        loop {
            tokio::select! {
                read = tcp.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                _ = trickle.tick() => {
                    if tcp.write_all(b"a").await.is_err() {
                        return;
                    }
                }
            }
        }
    })
    .await;
    assert!(dropped.is_ok(), "the trickling peer was never dropped");
    let counters = server.server().counters();
    until(counters, |c| load(&c.http_header_timeouts_total) == 1).await;
    assert_eq!(
        load(&counters.sessions_total),
        1,
        "only the witness's session"
    );
    witness.assert_kept_rate().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_refused_with_1009() {
    let server = TestServer::start(&[]).await;
    expect_closed(
        &server,
        async |raw| {
            join(raw, "big").await;
            raw.send_binary(vec![1; 2_000]).await.unwrap();
        },
        close::MESSAGE_TOO_BIG,
    )
    .await;
    server.stop().await;
}

/// A stream whose writes vanish once `muted` is set: a peer that still reads but never
/// answers a ping again, as a half-dead connection looks from the server.
struct Muted {
    inner: TcpStream,
    muted: Arc<AtomicBool>,
}

impl AsyncRead for Muted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Muted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.muted.load(Ordering::Relaxed) {
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.muted.load(Ordering::Relaxed) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_answering_pings_is_closed_with_4008() {
    let server = TestServer::start(&["--ping-interval-s", "1", "--idle-timeout-s", "2"]).await;
    // The witness sends nothing at all; it stays because it answers pings.
    let witness = Witness::join(&server).await;
    let muted = Arc::new(AtomicBool::new(false));
    let tcp = TcpStream::connect(server.server().local_addr())
        .await
        .unwrap();
    let stream = Muted {
        inner: tcp,
        muted: muted.clone(),
    };
    let (mut ws, _) = tokio_tungstenite::client_async(server.url(), stream)
        .await
        .unwrap();
    ws.send(Message::binary(hello("ghost"))).await.unwrap();
    muted.store(true, Ordering::Relaxed);
    let code = tokio::time::timeout(WAIT, async {
        while let Some(frame) = ws.next().await {
            if let Message::Close(Some(close)) = frame.unwrap() {
                return Some(u16::from(close.code));
            }
        }
        None
    })
    .await
    .expect("the silent peer was never closed");
    assert_eq!(code, Some(shared::protocol::close::IDLE_TIMEOUT));
    let counters = server.server().counters();
    until(counters, |c| {
        c.session_closes_total
            .get(shared::protocol::close::IDLE_TIMEOUT)
            == 1
    })
    .await;
    assert!(load(&counters.pings_sent_total) > 0);
    assert_eq!(load(&counters.sessions_open), 1, "only the witness is left");
    witness.assert_kept_rate().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_with_4006() {
    // Big full snapshots (about 25 kB each) fill a stalled client's socket in moments.
    let server = TestServer::start(&[
        "--snapshots",
        "full",
        "--drones",
        "1000",
        "--stall-timeout-s",
        "1",
        "--outbound-queue",
        "4",
    ])
    .await;
    let witness = Witness::join(&server).await;
    // A small receive window, as on a congested link, so the server's writes block soon.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(server.server().local_addr()).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(server.url(), tcp)
        .await
        .unwrap();
    ws.send(Message::binary(hello("sloth"))).await.unwrap();
    // From here on the client reads nothing until the server has given up on it.
    let counters = server.server().counters();
    until(counters, |c| {
        c.session_closes_total.get(close::TOO_SLOW) == 1
    })
    .await;
    assert_eq!(load(&counters.sessions_open), 1, "only the witness is left");
    // Whatever was still buffered comes out, then the end: the close frame if it fit,
    // else the connection just ends.
    let end = tokio::time::timeout(WAIT, async {
        while let Some(frame) = ws.next().await {
            match frame {
                Ok(Message::Close(close)) => return close.map(|c| u16::from(c.code)),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .expect("the stalled connection never ended");
    assert!(matches!(end, None | Some(close::TOO_SLOW)), "{end:?}");
    witness.assert_kept_rate().await;
    server.stop().await;
}

/// A stream that reads at most `chunk` bytes per `tick`: a client on a link far slower
/// than its snapshot stream.
struct Throttled {
    inner: TcpStream,
    tick: tokio::time::Interval,
    chunk: usize,
}

impl AsyncRead for Throttled {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.tick.poll_tick(cx));
        let mut chunk = vec![0; self.chunk.min(buf.remaining())];
        let mut limited = ReadBuf::new(&mut chunk);
        let read = Pin::new(&mut self.inner).poll_read(cx, &mut limited);
        if let Poll::Ready(Ok(())) = read {
            buf.put_slice(limited.filled());
        }
        read
    }
}

impl AsyncWrite for Throttled {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_too_slowly_is_dropped_with_4006() {
    // About 420 kB/s of full snapshots against a reader of 80 kB/s: every single write
    // finishes well within the stall timeout, but the client never catches up. A small
    // server send buffer keeps the backlog (and the wait for the close frame) short.
    let server = TestServer::start(&[
        "--snapshots",
        "full",
        "--drones",
        "1000",
        "--stall-timeout-s",
        "3",
        "--outbound-queue",
        "4",
        "--tcp-send-buffer",
        "16384",
    ])
    .await;
    let witness = Witness::join(&server).await;
    let tcp = TcpStream::connect(server.server().local_addr())
        .await
        .unwrap();
    let stream = Throttled {
        inner: tcp,
        tick: tokio::time::interval(Duration::from_millis(50)),
        chunk: 4096,
    };
    let (mut ws, _) = tokio_tungstenite::client_async(server.url(), stream)
        .await
        .unwrap();
    ws.send(Message::binary(hello("snail"))).await.unwrap();
    let close = tokio::time::timeout(WAIT * 2, async {
        while let Some(frame) = ws.next().await {
            if let Message::Close(close) = frame.unwrap() {
                return close;
            }
        }
        None
    })
    .await
    .expect("the slow reader was never closed")
    .expect("a close frame");
    assert_eq!(u16::from(close.code), close::TOO_SLOW, "{close:?}");
    assert!(close.reason.contains("behind"), "{close:?}");
    let counters = server.server().counters();
    until(counters, |c| {
        c.session_closes_total.get(close::TOO_SLOW) == 1
    })
    .await;
    witness.assert_kept_rate().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_button_bits_are_refused_with_4007() {
    let server = TestServer::start(&[]).await;
    expect_closed(
        &server,
        async |raw| {
            join(raw, "buttons").await;
            raw.send_binary(input(1, 0, 0b1000_0000)).await.unwrap();
        },
        close::INVALID_INPUT,
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_seq_going_backwards_is_refused_with_4007() {
    let server = TestServer::start(&[]).await;
    expect_closed(
        &server,
        async |raw| {
            join(raw, "rewind").await;
            raw.send_binary(input(7, 0, 0)).await.unwrap();
            raw.send_binary(input(3, 0, 0)).await.unwrap();
        },
        close::INVALID_INPUT,
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_from_the_future_is_refused_with_4007() {
    let server = TestServer::start(&[]).await;
    expect_closed(
        &server,
        async |raw| {
            join(raw, "prophet").await;
            let desync = ClientMessage::Desync(Desync { tick: u32::MAX });
            raw.send_binary(encode(&desync).unwrap()).await.unwrap();
        },
        close::INVALID_INPUT,
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_message_tag_is_refused_with_4000() {
    let server = TestServer::start(&[]).await;
    expect_closed(
        &server,
        async |raw| {
            join(raw, "tagger").await;
            // Variant 9 of ClientMessage does not exist.
            raw.send_binary(vec![9, 0, 0]).await.unwrap();
        },
        close::BAD_MESSAGE,
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_before_hello_is_refused_with_4002() {
    let server = TestServer::start(&[]).await;
    expect_closed(
        &server,
        async |raw| {
            let ping = ClientMessage::Ping(Ping { client_time: 1 });
            raw.send_binary(encode(&ping).unwrap()).await.unwrap();
        },
        close::UNEXPECTED_MESSAGE,
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_name_is_refused_with_4003() {
    let server = TestServer::start(&[]).await;
    expect_closed(
        &server,
        async |raw| raw.send_binary(hello(&"n".repeat(17))).await.unwrap(),
        close::INVALID_NAME,
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_with_control_characters_is_refused_with_4003() {
    let server = TestServer::start(&[]).await;
    expect_closed(
        &server,
        async |raw| raw.send_binary(hello("tab\tname")).await.unwrap(),
        close::INVALID_NAME,
    )
    .await;
    server.stop().await;
}
