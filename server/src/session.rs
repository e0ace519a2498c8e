//! One WebSocket connection: the handshake, then a relay between the socket and a room.
//!
//! A session never touches the World. It turns frames into validated [`ClientMessage`]s,
//! `try_send`s inputs to its room, and writes the encoded bytes the room queues for it.
//! Every way a peer can break the protocol ends in [`SessionError`], which names the
//! close code the peer receives.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use shared::codec::{decode_client, encode};
use shared::protocol::{ClientMessage, PlayerName, Pong, ProtocolError, ServerMessage, close};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::room::{RoomError, RoomHandle, RoomInput, Seat};

/// What a session needs from the server.
#[derive(Debug, Clone)]
pub struct SessionContext {
    pub room: RoomHandle,
    pub handshake_timeout: Duration,
    pub stall_timeout: Duration,
    pub outbound_queue: usize,
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
    #[error("the server is shutting down")]
    Shutdown,
    #[error("websocket error: {0}")]
    WebSocket(#[from] tungstenite::Error),
    #[error("could not encode a message: {0}")]
    Encode(#[from] shared::codec::CodecError),
}

impl SessionError {
    /// The close frame to send, if the connection can still carry one.
    fn close_frame(&self) -> Option<(u16, String)> {
        let code = match self {
            SessionError::Protocol(e) => e.close_code(),
            SessionError::HandshakeTimeout(_) => close::HANDSHAKE_TIMEOUT,
            SessionError::Room(RoomError::Full) => close::ROOM_FULL,
            SessionError::Room(_) | SessionError::Shutdown => close::GOING_AWAY,
            SessionError::Stalled(_) => close::TOO_SLOW,
            SessionError::Encode(_) => close::INTERNAL_ERROR,
            SessionError::WebSocket(tungstenite::Error::Capacity(_)) => close::MESSAGE_TOO_BIG,
            SessionError::WebSocket(tungstenite::Error::Protocol(_)) => 1002,
            // The transport is gone; there is nobody to tell.
            SessionError::WebSocket(_) => return None,
        };
        Some((code, self.to_string()))
    }
}

/// Runs a session to its end, closing the socket with the right code.
pub async fn run<S>(mut ws: WebSocketStream<S>, ctx: SessionContext)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match serve(&mut ws, &ctx).await {
        Ok(()) => debug!("session closed by peer"),
        Err(e) => {
            info!(error = %e, "session ended");
            if let Some((code, reason)) = e.close_frame() {
                close_with(&mut ws, code, &reason).await;
            }
        }
    }
}

async fn close_with<S>(ws: &mut WebSocketStream<S>, code: u16, reason: &str)
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
    if ws.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    // Give the peer a moment to answer the close handshake, then drop the socket.
    let _ = timeout(Duration::from_secs(2), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

async fn serve<S>(ws: &mut WebSocketStream<S>, ctx: &SessionContext) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = tokio::select! {
        biased;
        _ = ctx.shutdown.cancelled() => return Err(SessionError::Shutdown),
        hello = handshake(ws, ctx.handshake_timeout) => match hello? {
            Some(name) => name,
            None => return Ok(()),
        },
    };
    let Seat {
        welcome,
        inputs,
        mut outbound,
    } = ctx.room.join(name, ctx.outbound_queue).await?;
    info!(
        client = welcome.client_id,
        entity = welcome.entity,
        "joined"
    );
    send(
        ws,
        encode(&ServerMessage::Welcome(welcome))?.into(),
        ctx.stall_timeout,
    )
    .await?;

    loop {
        tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return Err(SessionError::Shutdown),
            frame = ws.next() => {
                let Some(message) = frame.transpose()? else { return Ok(()) };
                match message {
                    Message::Binary(bytes) => match decode(&bytes)? {
                        ClientMessage::Input(input) => forward(&inputs, RoomInput::Input(input))?,
                        ClientMessage::SnapshotSettings(asked) => {
                            let granted = ctx.room.config().clamp(asked);
                            forward(&inputs, RoomInput::Settings(granted))?;
                            let reply = ServerMessage::SnapshotSettings(granted);
                            send(ws, encode(&reply)?.into(), ctx.stall_timeout).await?;
                        }
                        ClientMessage::Desync(report) => forward(&inputs, RoomInput::Desync(report.tick))?,
                        ClientMessage::Ping(ping) => {
                            let pong = ServerMessage::Pong(Pong {
                                client_time: ping.client_time,
                                server_tick: ctx.room.current_tick(),
                            });
                            send(ws, encode(&pong)?.into(), ctx.stall_timeout).await?;
                        }
                        ClientMessage::Hello(_) => return Err(ProtocolError::Unexpected("a second Hello").into()),
                    },
                    Message::Text(_) => return Err(ProtocolError::TextFrame.into()),
                    Message::Close(_) => return Ok(()),
                    // tungstenite answers pings itself.
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                }
            }
            out = outbound.recv() => match out {
                Some(bytes) => send(ws, bytes, ctx.stall_timeout).await?,
                // The room dropped us: it is shutting down.
                None => return Err(SessionError::Shutdown),
            },
        }
    }
}

/// Waits for a valid Hello. `Ok(None)` means the peer left before sending one.
async fn handshake<S>(
    ws: &mut WebSocketStream<S>,
    limit: Duration,
) -> Result<Option<PlayerName>, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = Instant::now() + limit;
    loop {
        let frame = timeout_at(deadline, ws.next())
            .await
            .map_err(|_| SessionError::HandshakeTimeout(limit))?;
        let Some(message) = frame.transpose()? else {
            return Ok(None);
        };
        match message {
            Message::Binary(bytes) => {
                return match decode(&bytes)? {
                    ClientMessage::Hello(hello) => Ok(Some(hello.validate()?)),
                    ClientMessage::Input(_) => {
                        Err(ProtocolError::Unexpected("Input before Hello").into())
                    }
                    ClientMessage::Ping(_)
                    | ClientMessage::SnapshotSettings(_)
                    | ClientMessage::Desync(_) => {
                        Err(ProtocolError::Unexpected("a message before Hello").into())
                    }
                };
            }
            Message::Text(_) => return Err(ProtocolError::TextFrame.into()),
            Message::Close(_) => return Ok(None),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

/// Hands a message to the room without waiting. A full queue drops it: the client
/// outruns the tick (one input per tick is all the room applies) and the surplus is
/// worthless.
fn forward(inputs: &mpsc::Sender<RoomInput>, message: RoomInput) -> Result<(), SessionError> {
    match inputs.try_send(message) {
        Ok(()) | Err(TrySendError::Full(_)) => Ok(()),
        Err(TrySendError::Closed(_)) => Err(SessionError::Shutdown),
    }
}

fn decode(bytes: &[u8]) -> Result<ClientMessage, ProtocolError> {
    decode_client(bytes).map_err(|e| ProtocolError::Undecodable(e.to_string()))
}

async fn send<S>(
    ws: &mut WebSocketStream<S>,
    bytes: Bytes,
    stall: Duration,
) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    timeout(stall, ws.send(Message::Binary(bytes)))
        .await
        .map_err(|_| SessionError::Stalled(stall))??;
    Ok(())
}
