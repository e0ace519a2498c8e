//! One WebSocket connection: the handshake, then a relay between the socket and a room.
//!
//! A session never touches the World. It turns frames into validated [`ClientMessage`](shared::protocol::ClientMessage)s,
//! `try_send`s inputs to its room, and writes the encoded bytes the room queues for it.
//! Every way a peer can break the protocol ends in [`SessionError`], which names the
//! close code the peer receives.
//!
//! Client messages carry no floating-point fields (movement is an `i8` pair, aim a `u16`
//! fraction of a turn), so there is no NaN or infinity to reject; what is checked here is
//! every other value a well-behaved client never sends: unknown button bits, `seq` not
//! increasing, ticks the server has not simulated yet, and the message rate.

// Everything here handles peer-controlled data: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use shared::codec::encode;
use shared::protocol::{Hello, PlayerName, Pong, ProtocolError, ServerMessage, close};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_util::sync::CancellationToken;
use tracing::{Span, debug, info};

use crate::obs::counters::Counters;

mod inbound;
use crate::control::registry::RoomRegistry;
use crate::control::tokens::{ResumeClaims, TokenError, TokenKeys, unix_now};
use crate::http::guard::ApiGuard;
use crate::room::{JoinKind, Kick, OutboundReceiver, RoomError, RoomHandle, RoomInput, Seat};
use crate::transport::limits::MessageLimits;
pub use inbound::{Frame, Inbound, Step};

/// How long closing may take: sending the close frame, then waiting for the peer's.
/// Bounded because the peer that is being closed may be the one that stopped reading.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What a session needs from the server.
#[derive(Debug, Clone)]
pub struct SessionContext {
    pub registry: Arc<RoomRegistry>,
    pub keys: Arc<TokenKeys>,
    /// Told when a reservation's token is used, so it stops counting as unused.
    pub guard: Arc<ApiGuard>,
    /// The room the URL asks for (`/ws?room=`, else the default room).
    pub room_id: String,
    pub handshake_timeout: Duration,
    pub stall_timeout: Duration,
    pub outbound_queue: usize,
    pub ping_interval: Duration,
    pub idle_timeout: Duration,
    /// The message quota: from the room's tick rate, resolved at the upgrade.
    pub limits: MessageLimits,
    /// The `Intent.buttons` bits the room's game defines (`crate::engine::Game::buttons`).
    pub buttons: u8,
    pub counters: Arc<Counters>,
    pub shutdown: CancellationToken,
}

/// How a session ended, when it did not end normally.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("no Hello within {0:?}")]
    HandshakeTimeout(Duration),
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error("the client accepted no data for {0:?}")]
    Stalled(Duration),
    #[error("the client fell behind its snapshots for {0:?}")]
    Behind(Duration),
    #[error("nothing received for {0:?}")]
    Idle(Duration),
    #[error("unknown button bits {0:#04x}")]
    UnknownButtons(u8),
    #[error("input seq {seq} does not follow {last}")]
    SeqNotIncreasing { seq: u32, last: u32 },
    #[error("an input of {frames} frames from seq {seq} (1 or more, numbered below 2^32)")]
    BadFrames { seq: u32, frames: usize },
    #[error("{field} {tick} is ahead of the server's tick {current}")]
    FutureTick {
        field: &'static str,
        tick: u32,
        current: u32,
    },
    #[error(
        "message flood: over {factor}x the message rate for longer than a {window:?} bucket holds"
    )]
    Flooding { factor: u32, window: Duration },
    #[error("the server is shutting down")]
    Shutdown,
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("no room {0:?}")]
    UnknownRoom(String),
    #[error("{0}")]
    TokenRequired(&'static str),
    #[error("another session took over this player")]
    Replaced,
    #[error("the room was closed")]
    RoomClosed,
    #[error("kicked by the operator")]
    Kicked,
    #[error("websocket error: {0}")]
    WebSocket(#[from] tungstenite::Error),
    #[error("could not encode a message: {0}")]
    Encode(#[from] shared::codec::CodecError),
}

impl SessionError {
    /// The close code to send, if the connection can still carry one.
    pub fn close_code(&self) -> Option<u16> {
        Some(match self {
            SessionError::Protocol(e) => e.close_code(),
            SessionError::HandshakeTimeout(_) => close::HANDSHAKE_TIMEOUT,
            SessionError::Room(RoomError::Full) => close::ROOM_FULL,
            SessionError::Room(RoomError::ResumeFailed(_)) => close::RESUME_FAILED,
            SessionError::Room(RoomError::Closed) | SessionError::RoomClosed => close::ROOM_CLOSED,
            SessionError::Room(RoomError::Spawn(_)) | SessionError::Shutdown => close::GOING_AWAY,
            SessionError::Token(e) => e.close_code(),
            SessionError::UnknownRoom(_) => close::UNKNOWN_ROOM,
            SessionError::TokenRequired(_) => close::TOKEN_INVALID,
            SessionError::Replaced => close::REPLACED,
            SessionError::Kicked => close::KICKED,
            SessionError::Stalled(_) | SessionError::Behind(_) => close::TOO_SLOW,
            SessionError::Idle(_) => close::IDLE_TIMEOUT,
            SessionError::UnknownButtons(_)
            | SessionError::SeqNotIncreasing { .. }
            | SessionError::BadFrames { .. }
            | SessionError::FutureTick { .. } => close::INVALID_INPUT,
            SessionError::Flooding { .. } => close::POLICY_VIOLATION,
            SessionError::Encode(_) => close::INTERNAL_ERROR,
            SessionError::WebSocket(e) => return websocket_close_code(e),
        })
    }
}

impl SessionError {
    /// Whether the room should hold the player for a resume after this error: the
    /// connection failed (lost, stalled, silent), not the player's conduct.
    /// A WebSocket error counts as a lost connection only when the transport is gone
    /// (no close code to send): an oversized message (1009), bad framing (1002) or
    /// invalid UTF-8 (1007) are the peer's doing, like every other protocol violation.
    fn keeps_player(&self) -> bool {
        match self {
            SessionError::Stalled(_)
            | SessionError::Behind(_)
            | SessionError::Idle(_)
            | SessionError::Shutdown => true,
            SessionError::WebSocket(e) => websocket_close_code(e).is_none(),
            _ => false,
        }
    }
}

/// The close code for a WebSocket-level failure; `None` when the transport is gone and
/// there is nobody to tell.
pub fn websocket_close_code(e: &tungstenite::Error) -> Option<u16> {
    match e {
        tungstenite::Error::Capacity(_) => Some(close::MESSAGE_TOO_BIG),
        // Reported as a protocol error, but it is the transport that is gone.
        tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        ) => None,
        tungstenite::Error::Protocol(_) => Some(close::PROTOCOL_ERROR),
        tungstenite::Error::Utf8(_) => Some(close::INVALID_PAYLOAD),
        _ => None,
    }
}

/// What a session holds of its seat, kept by [`run`] beyond [`serve`] so that a leave
/// reaches the room before the room can see the outbound queue closed.
#[derive(Debug, Default)]
struct SeatSlot {
    inputs: Option<mpsc::Sender<RoomInput>>,
    outbound: Option<OutboundReceiver>,
}

/// How long a leave may wait for room in the session's input queue.
const LEAVE_TIMEOUT: Duration = Duration::from_millis(250);

/// How a session ended without an error of ours.
enum Ended {
    /// The peer sent a close frame.
    PeerClosed,
    /// The connection ended without a close frame.
    Vanished,
}

/// Runs a session to its end, closing the socket with the right code, and counts how
/// it ended.
pub async fn run<S>(mut ws: WebSocketStream<S>, ctx: SessionContext)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    Counters::inc(&ctx.counters.sessions_total);
    Counters::inc(&ctx.counters.sessions_open);
    let mut seat = SeatSlot::default();
    let result = serve(&mut ws, &ctx, &mut seat).await;
    // A session that ends on purpose (the client closed it, or broke the protocol)
    // frees its seat now; one whose connection was lost keeps its player for a resume.
    let hold = match &result {
        Ok(Ended::PeerClosed) => false,
        Ok(Ended::Vanished) => true,
        Err(e) => e.keeps_player(),
    };
    // The leave goes before the outbound queue is dropped (the room takes a closed queue
    // for a lost connection), and waits briefly for room in the input queue, which the
    // room drains every tick.
    if let Some(inputs) = seat.inputs.take()
        && !hold
    {
        let _ = timeout(LEAVE_TIMEOUT, inputs.send(RoomInput::Leave)).await;
    }
    drop(seat);
    let code = match result {
        Ok(Ended::PeerClosed) => {
            debug!("session closed by peer");
            // tungstenite queued the answering Close frame (RFC 6455 §5.5.1) when it
            // read the peer's: send it, and let the peer close the TCP connection first.
            let _ = timeout(CLOSE_GRACE, async {
                let _ = ws.flush().await;
                while let Some(Ok(_)) = ws.next().await {}
            })
            .await;
            close::NORMAL
        }
        Ok(Ended::Vanished) => {
            debug!("connection lost");
            close::ABNORMAL
        }
        Err(e) => {
            let code = e.close_code();
            info!(error = %e, code, "session ended");
            match code {
                Some(code) => {
                    close_with(&mut ws, code, &e.to_string()).await;
                    code
                }
                None => close::ABNORMAL,
            }
        }
    };
    ctx.counters.session_closed(code);
}

/// Sends a close frame and waits briefly for the peer's, all within [`CLOSE_GRACE`],
/// then lets the caller drop the socket.
pub async fn close_with<S>(ws: &mut WebSocketStream<S>, code: u16, reason: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Control frame payloads are capped at 125 bytes, two of which hold the code.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.get(..end).unwrap_or_default().into(),
    };
    let _ = timeout(CLOSE_GRACE, async {
        if ws.send(Message::Close(Some(frame))).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
}

async fn serve<S>(
    ws: &mut WebSocketStream<S>,
    ctx: &SessionContext,
    seat_slot: &mut SeatSlot,
) -> Result<Ended, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut inbound = Inbound::new(&ctx.limits).with_buttons(ctx.buttons);
    let (hello, name) = tokio::select! {
        biased;
        _ = ctx.shutdown.cancelled() => return Err(SessionError::Shutdown),
        hello = handshake(ws, &mut inbound, ctx) => match hello? {
            Handshake::Hello(hello, name) => (hello, name),
            Handshake::Ended(ended) => return Ok(ended),
        },
    };
    let room = ctx
        .registry
        .get(&ctx.room_id)
        .ok_or_else(|| SessionError::UnknownRoom(ctx.room_id.clone()))?;
    let kind = admission(&hello, &room, ctx)?;
    let Seat {
        mut welcome,
        joined,
        inputs,
        outbound,
        kick,
    } = tokio::select! {
        biased;
        _ = ctx.shutdown.cancelled() => return Err(SessionError::Shutdown),
        seat = room.join(kind, name, ctx.outbound_queue) => seat?,
    };
    seat_slot.inputs = Some(inputs.clone());
    let outbound = seat_slot.outbound.insert(outbound);
    welcome.resume_token = ctx.keys.sign_resume(&ResumeClaims {
        room: room.id().to_owned(),
        player: joined.player.clone(),
        entity: joined.entity,
        generation: joined.generation,
    });
    if joined.resumed {
        Counters::inc(&ctx.counters.resumes_total);
    }
    Span::current().record("player", joined.player.as_str());
    info!(
        client = welcome.client_id,
        entity = welcome.entity,
        resumed = joined.resumed,
        "joined"
    );
    send(
        ws,
        encode(&ServerMessage::Welcome(welcome))?.into(),
        ctx.stall_timeout,
        &ctx.counters,
    )
    .await?;
    let mut kick = Some(kick);

    let mut keepalive = Keepalive::new(Instant::now(), ctx.ping_interval, ctx.idle_timeout);
    let mut backlog = Backlog::default();
    // One timer serves both the pings and the idle check.
    let timer = sleep_until(keepalive.deadline());
    tokio::pin!(timer);

    loop {
        tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return Err(SessionError::Shutdown),
            frame = ws.next() => {
                let Some(message) = frame.transpose()? else { return Ok(Ended::Vanished) };
                keepalive.heard(Instant::now());
                let Some(frame) = inbound_frame(&message, &ctx.counters) else { continue };
                match inbound.on_frame(frame, room.current_tick())? {
                    Step::Forward(input) => forward(&inputs, input, ctx)?,
                    Step::Input(input) => {
                        for (seq, intent) in input.numbered() {
                            forward(&inputs, RoomInput::Frame { seq, intent }, ctx)?;
                        }
                    }
                    Step::Settings(asked) => {
                        let granted = room.config().clamp(asked);
                        forward(&inputs, RoomInput::Settings(granted), ctx)?;
                        let reply = ServerMessage::SnapshotSettings(granted);
                        send(ws, encode(&reply)?.into(), ctx.stall_timeout, &ctx.counters).await?;
                    }
                    Step::Pong(client_time) => {
                        let pong = ServerMessage::Pong(Pong {
                            client_time,
                            server_tick: room.current_tick(),
                        });
                        send(ws, encode(&pong)?.into(), ctx.stall_timeout, &ctx.counters).await?;
                    }
                    Step::Dropped => {
                        Counters::inc(&ctx.counters.client_messages_rate_limited_total);
                    }
                    Step::Closed => return Ok(Ended::PeerClosed),
                    // Never after the handshake.
                    Step::Hello(..) | Step::Nothing => {}
                }
            }
            out = outbound.recv() => match out {
                Some(bytes) => {
                    send(ws, bytes, ctx.stall_timeout, &ctx.counters).await?;
                    backlog.after_send(Instant::now(), outbound, ctx.stall_timeout)?;
                }
                // The room dropped us; it said why, unless it is shutting down.
                None => return Err(kicked(kick.take())),
            },
            () = &mut timer => {
                match keepalive.on_timer(Instant::now()) {
                    KeepaliveAction::Idle => return Err(SessionError::Idle(ctx.idle_timeout)),
                    KeepaliveAction::Ping => {
                        send_message(ws, Message::Ping(Bytes::new()), ctx.stall_timeout).await?;
                        Counters::inc(&ctx.counters.pings_sent_total);
                    }
                    KeepaliveAction::Wait => {}
                }
                timer.as_mut().reset(keepalive.deadline());
            }
        }
    }
}

enum Handshake {
    Hello(Hello, PlayerName),
    Ended(Ended),
}

/// Why the room ended the session, from its kick message.
fn kicked(kick: Option<oneshot::Receiver<Kick>>) -> SessionError {
    match kick.map(|mut k| k.try_recv()) {
        Some(Ok(Kick::Replaced)) => SessionError::Replaced,
        Some(Ok(Kick::RoomClosed)) => SessionError::RoomClosed,
        Some(Ok(Kick::Kicked)) => SessionError::Kicked,
        _ => SessionError::Shutdown,
    }
}

/// How the `Hello` gets into the room: resume token, join token, or anonymously where
/// allowed. Checks are in the order that tells the client the most useful thing:
/// signature (4009), room (4012), expiry (4010), reuse (4011).
fn admission(
    hello: &Hello,
    room: &RoomHandle,
    ctx: &SessionContext,
) -> Result<JoinKind, SessionError> {
    if !hello.resume_token.is_empty() {
        let claims = ctx
            .keys
            .verify_resume(&hello.resume_token)
            .map_err(|_| RoomError::ResumeFailed("invalid resume token"))?;
        if claims.room != room.id() {
            return Err(TokenError::WrongRoom {
                token_room: claims.room,
                room: room.id().to_owned(),
            }
            .into());
        }
        return Ok(JoinKind::Resume {
            player: claims.player,
            entity: claims.entity,
            generation: claims.generation,
        });
    }
    if !hello.join_token.is_empty() {
        let claims = ctx.keys.verify_join(&hello.join_token)?;
        let now = unix_now();
        claims.check(room.id(), now)?;
        ctx.keys.consume(&claims, now)?;
        ctx.guard.used(&claims.nonce);
        return Ok(JoinKind::Token {
            player: claims.player,
            nonce: claims.nonce,
        });
    }
    if ctx.keys.join_secret_configured() {
        return Err(SessionError::TokenRequired(
            "this server needs a join token (POST /api/rooms/{id}/join)",
        ));
    }
    if room.config().settings.private {
        return Err(SessionError::TokenRequired(
            "this room is private: it needs a join token",
        ));
    }
    Ok(JoinKind::Anonymous {
        player: format!("a-{:016x}", rand::random::<u64>()),
    })
}

/// Waits for a valid Hello.
async fn handshake<S>(
    ws: &mut WebSocketStream<S>,
    inbound: &mut Inbound,
    ctx: &SessionContext,
) -> Result<Handshake, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let limit = ctx.handshake_timeout;
    let deadline = Instant::now() + limit;
    loop {
        let frame = timeout_at(deadline, ws.next())
            .await
            .map_err(|_| SessionError::HandshakeTimeout(limit))?;
        let Some(message) = frame.transpose()? else {
            return Ok(Handshake::Ended(Ended::Vanished));
        };
        let Some(frame) = inbound_frame(&message, &ctx.counters) else {
            continue;
        };
        // The handshake timeout bounds how long control frames can keep us here, and the
        // rate limit how many.
        match inbound.on_frame(frame, 0)? {
            Step::Hello(hello, name) => return Ok(Handshake::Hello(*hello, name)),
            Step::Closed => return Ok(Handshake::Ended(Ended::PeerClosed)),
            Step::Dropped => Counters::inc(&ctx.counters.client_messages_rate_limited_total),
            _ => {}
        }
    }
}

/// The frame [`Inbound`] sees of a WebSocket message (`None` for raw frames, which
/// tungstenite never delivers when reading), counting binary bytes received.
fn inbound_frame<'a>(message: &'a Message, counters: &Counters) -> Option<Frame<'a>> {
    Some(match message {
        Message::Binary(bytes) => {
            Counters::add(&counters.bytes_in_total, bytes.len());
            Frame::Binary(bytes)
        }
        Message::Text(_) => Frame::Text,
        Message::Close(_) => Frame::Close,
        Message::Ping(_) | Message::Pong(_) => Frame::Control,
        Message::Frame(_) => return None,
    })
}

/// When to ping, and whether the peer has gone silent.
#[derive(Debug)]
struct Keepalive {
    last_heard: Instant,
    next_ping: Instant,
    interval: Duration,
    idle: Duration,
}

#[derive(Debug, PartialEq, Eq)]
enum KeepaliveAction {
    Ping,
    Idle,
    Wait,
}

impl Keepalive {
    fn new(now: Instant, interval: Duration, idle: Duration) -> Keepalive {
        Keepalive {
            last_heard: now,
            next_ping: now + interval,
            interval,
            idle,
        }
    }

    /// Called for every frame received; cheap, the timer is not touched.
    fn heard(&mut self, now: Instant) {
        self.last_heard = now;
    }

    fn deadline(&self) -> Instant {
        self.next_ping.min(self.last_heard + self.idle)
    }

    fn on_timer(&mut self, now: Instant) -> KeepaliveAction {
        if now >= self.last_heard + self.idle {
            KeepaliveAction::Idle
        } else if now >= self.next_ping {
            self.next_ping = now + self.interval;
            KeepaliveAction::Ping
        } else {
            KeepaliveAction::Wait
        }
    }
}

/// A client counts as caught up again once this long has passed without a skipped
/// snapshot.
const CAUGHT_UP_AFTER: Duration = Duration::from_secs(1);

/// Catches a client that reads, but slower than its room produces: each write then
/// finishes within the stall timeout, yet the room keeps finding its queue full and
/// skipping its snapshots. Skips that go on (never a second without one) for the stall
/// timeout get the same verdict as one write blocking that long; a short hiccup, after
/// which the client catches up, costs only the skipped snapshots.
#[derive(Debug, Default)]
struct Backlog {
    skipped_seen: u64,
    last_skip: Option<Instant>,
    behind_since: Option<Instant>,
}

impl Backlog {
    /// Checked after each message written to the client.
    fn after_send(
        &mut self,
        now: Instant,
        outbound: &OutboundReceiver,
        limit: Duration,
    ) -> Result<(), SessionError> {
        self.update(now, outbound.skipped(), limit)
    }

    fn update(&mut self, now: Instant, skipped: u64, limit: Duration) -> Result<(), SessionError> {
        if skipped > self.skipped_seen {
            self.skipped_seen = skipped;
            self.last_skip = Some(now);
            self.behind_since.get_or_insert(now);
        } else if self
            .last_skip
            .is_some_and(|t| now.saturating_duration_since(t) >= CAUGHT_UP_AFTER)
        {
            self.last_skip = None;
            self.behind_since = None;
        }
        match self.behind_since {
            Some(since) if now.saturating_duration_since(since) >= limit => {
                Err(SessionError::Behind(limit))
            }
            _ => Ok(()),
        }
    }
}

/// Hands a message to the room without waiting. A full queue drops it: the client
/// outruns the tick (one input frame per tick is all the room applies) and the surplus
/// is worthless.
fn forward(
    inputs: &mpsc::Sender<RoomInput>,
    message: RoomInput,
    ctx: &SessionContext,
) -> Result<(), SessionError> {
    match inputs.try_send(message) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(_)) => {
            Counters::inc(&ctx.counters.client_messages_queue_full_total);
            Ok(())
        }
        Err(TrySendError::Closed(_)) => Err(SessionError::Shutdown),
    }
}

async fn send<S>(
    ws: &mut WebSocketStream<S>,
    bytes: Bytes,
    stall: Duration,
    counters: &Counters,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let len = bytes.len();
    send_message(ws, Message::Binary(bytes), stall).await?;
    Counters::add(&counters.bytes_out_total, len);
    Ok(())
}

async fn send_message<S>(
    ws: &mut WebSocketStream<S>,
    message: Message,
    stall: Duration,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    timeout(stall, ws.send(message))
        .await
        .map_err(|_| SessionError::Stalled(stall))??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<(), SessionError>) -> Option<u16> {
        r.err().and_then(|e| e.close_code())
    }

    #[test]
    fn keepalive_pings_on_interval_and_gives_up_after_idle() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut k = Keepalive::new(t0, s(15), s(45));
        assert_eq!(k.deadline(), t0 + s(15));
        assert_eq!(k.on_timer(t0 + s(15)), KeepaliveAction::Ping);
        assert_eq!(k.deadline(), t0 + s(30));
        k.heard(t0 + s(20));
        assert_eq!(k.on_timer(t0 + s(30)), KeepaliveAction::Ping);
        assert_eq!(k.on_timer(t0 + s(45)), KeepaliveAction::Ping);
        // Silent since 20 s: the deadline is the idle one, 65 s, before the next ping.
        assert_eq!(k.deadline(), t0 + s(60));
        assert_eq!(k.on_timer(t0 + s(60)), KeepaliveAction::Ping);
        assert_eq!(k.deadline(), t0 + s(65));
        assert_eq!(k.on_timer(t0 + s(65)), KeepaliveAction::Idle);
    }

    #[test]
    fn snapshots_skipped_for_the_stall_timeout_are_too_slow() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let limit = Duration::from_secs(10);
        let mut b = Backlog::default();
        assert!(b.update(at(0), 0, limit).is_ok());
        // A hiccup: two skips, then a second and more without one.
        assert!(b.update(at(100), 2, limit).is_ok());
        assert!(b.update(at(600), 2, limit).is_ok());
        assert!(b.update(at(1_200), 2, limit).is_ok());
        assert_eq!(b.behind_since, None, "caught up");
        // Skips that never stop for a second: behind since the first of them.
        let mut skipped = 2;
        for ms in (2_000..12_000).step_by(500) {
            skipped += 1;
            assert!(b.update(at(ms), skipped, limit).is_ok(), "at {ms} ms");
        }
        let err = b.update(at(12_000), skipped + 1, limit);
        assert_eq!(code(err), Some(close::TOO_SLOW));
    }

    #[test]
    fn every_error_a_peer_can_cause_has_a_documented_code() {
        let flood = SessionError::Flooding {
            factor: 10,
            window: Duration::from_secs(2),
        };
        assert_eq!(flood.close_code(), Some(close::POLICY_VIOLATION));
        assert_eq!(
            SessionError::Idle(Duration::from_secs(45)).close_code(),
            Some(close::IDLE_TIMEOUT)
        );
        assert_eq!(
            SessionError::WebSocket(tungstenite::Error::ConnectionClosed).close_code(),
            None
        );
        let reset = tungstenite::error::ProtocolError::ResetWithoutClosingHandshake;
        assert_eq!(
            SessionError::WebSocket(tungstenite::Error::Protocol(reset)).close_code(),
            None
        );
    }
}
