//! WebSocket sessions with a Tickwire server.
//!
//! [`Client`] speaks the protocol: it says `Hello`, waits for `Welcome`, numbers inputs,
//! times pings and keeps a [`WorldView`] up to date. [`RawConnection`] speaks none of
//! it, so tests can send what a well-behaved client never would and watch how the
//! server closes the connection.
//!
//! Both map "the TCP connection ended without a close frame" to close code 1006, the
//! code RFC 6455 reserves for exactly that observation. A test then matches one shape,
//! `(code, reason)`, whether the server closed politely or just dropped the socket.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrayvec::ArrayVec;
use futures_util::{SinkExt, StreamExt};
use shared::codec::{self, CodecError, MAX_SERVER_MESSAGE_BYTES};
use shared::map::MapError;
use shared::protocol::close::After;
use shared::protocol::{
    ClientMessage, Desync, Hello, Input, Intent, MAX_INPUT_FRAMES, PROTOCOL_VERSION, Ping,
    ServerMessage, SnapshotSettings, Welcome,
};
use shared::schema::SchemaError;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Bytes, Message, Utf8Bytes};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::view::WorldView;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest wait for the TCP connection and the WebSocket upgrade.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for `Welcome` once `Hello` is sent.
pub const WELCOME_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the server to finish a close handshake we started.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Close code reported when the connection ended without a close frame (RFC 6455 §7.4.1).
pub const ABNORMAL_CLOSURE: u16 = shared::protocol::close::ABNORMAL;
/// Close code reported by [`RawConnection::wait_close`] for a close frame without a code.
pub const NO_STATUS_RECEIVED: u16 = 1005;

/// Pings whose pong has not arrived yet. Pongs come back in order over TCP, so anything
/// older than an answered ping is lost; the bound only matters if the server never answers.
const MAX_PENDING_PINGS: usize = 64;

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The WebSocket layer failed: connection refused, bad URL, upgrade rejected, IO error.
    #[error("websocket: {0}")]
    WebSocket(#[from] tungstenite::Error),
    /// A server frame did not decode as a server message, or encoding ours failed.
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    /// The operation did not finish within its time limit.
    #[error("timed out")]
    Timeout,
    /// The server closed the session (`code` 1006: the TCP connection ended without a
    /// close frame; `None`: a close frame without a code).
    #[error("{}", describe_close(*.code, .reason))]
    Closed { code: Option<u16>, reason: String },
    /// The server broke the protocol: a text frame, a message out of order.
    #[error("unexpected: {0}")]
    Unexpected(String),
    /// The map in `Welcome` is not a valid map.
    #[error("invalid map from server: {0}")]
    InvalidMap(#[from] MapError),
    /// The replication schema in `Welcome` does not lay out, so no snapshot could be
    /// decoded with it.
    #[error("invalid schema from server: {0}")]
    InvalidSchema(#[from] SchemaError),
    /// A certificate to trust could not be read or used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The rooms API answered with an error status.
    #[error("HTTP {status}: {body}")]
    Http { status: u16, body: String },
    /// The rooms API could not be reached, or its connection failed mid-request.
    #[error("rooms API unreachable: {0}")]
    ApiUnreachable(String),
    /// A bot's room is gone and no room the rooms API lists has a free seat.
    #[error("room {gone} is gone and no listed room has a free seat")]
    NoRoom { gone: String },
}

impl ClientError {
    /// Whether joining again after a backoff may succeed, as the web client decides: the
    /// network failed, the server is busy or restarting, a token went stale; not when
    /// this client, its name or its room was refused.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::WebSocket(tungstenite::Error::Http(response)) => {
                matches!(response.status().as_u16(), 429 | 500..=599)
            }
            // Seats free up, and rooms are created.
            ClientError::WebSocket(_)
            | ClientError::Timeout
            | ClientError::ApiUnreachable(_)
            | ClientError::NoRoom { .. } => true,
            ClientError::Closed { code: None, .. } => true,
            ClientError::Closed {
                code: Some(code), ..
            } => matches!(
                shared::protocol::close::after(*code),
                After::Retry | After::Rejoin | After::RejoinNow | After::NewToken
            ),
            ClientError::Http { status, .. } => matches!(status, 429 | 500..=599),
            _ => false,
        }
    }

    /// How long the server asked us to wait before trying again, when it refused for now
    /// (HTTP 429 or 503 with `Retry-After`, at the WebSocket upgrade).
    pub fn retry_after(&self) -> Option<Duration> {
        let ClientError::WebSocket(tungstenite::Error::Http(response)) = self else {
            return None;
        };
        if !matches!(response.status().as_u16(), 429 | 503) {
            return None;
        }
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .map(Duration::from_secs)
    }
}

/// How to open a session: tokens for `Hello`, and TLS settings for `wss://` URLs.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// A join token from `POST /api/rooms/{id}/join` (empty: anonymous).
    pub join_token: String,
    /// The `resume_token` of a previous session's `Welcome` (empty: a new player).
    pub resume_token: String,
    /// TLS client settings for `wss://` (see [`trust_certificate`]); `None` trusts the
    /// public web PKI roots.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// A TLS client configuration that trusts the certificates (PEM) in `path` and nothing
/// else: for a server with a self-signed or private-CA certificate.
pub fn trust_certificate(path: &Path) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(ClientError::Tls(format!(
            "no certificate in {}",
            path.display()
        )));
    }
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ClientError::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

fn describe_close(code: Option<u16>, reason: &str) -> String {
    if code == Some(ABNORMAL_CLOSURE) && reason.is_empty() {
        return format!("connection lost without a close frame (code {ABNORMAL_CLOSURE})");
    }
    let code = code.map_or_else(|| "no code".to_owned(), |c| format!("code {c}"));
    if reason.is_empty() {
        format!("connection closed by the server ({code})")
    } else {
        format!("connection closed by the server ({code}): {reason}")
    }
}

/// What [`Client::next_event`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A snapshot, already applied to [`Client::view`]; `bytes` is the message's size.
    Snapshot { tick: u32, bytes: u64 },
    /// The answer to one of our pings.
    Pong { rtt: Duration, server_tick: u32 },
    /// The session is over. `code` is 1006 if the connection ended without a close frame.
    Closed { code: Option<u16>, reason: String },
    /// The snapshot rate and budget the server granted.
    Settings(SnapshotSettings),
}

/// A connected session that has received its `Welcome`.
#[derive(Debug)]
pub struct Client {
    ws: Ws,
    welcome: Welcome,
    view: WorldView,
    next_seq: u32,
    /// Origin of `Ping::client_time`.
    epoch: Instant,
    pending_pings: VecDeque<(u32, Instant)>,
    bytes_in: u64,
    bytes_out: u64,
    /// Set once the session has ended, so later reads report it instead of blocking.
    closed: Option<(Option<u16>, String)>,
    /// A desync to report (tick of the snapshot that failed).
    pending_desync: Option<u32>,
}

impl Client {
    /// Connects to `url` (`ws://host:port/ws`), sends `Hello` and waits up to
    /// [`WELCOME_TIMEOUT`] for `Welcome`. A server that refuses the session (full room,
    /// bad name) surfaces as [`ClientError::Closed`] with its close code.
    pub async fn connect(url: &str, name: &str) -> Result<Client, ClientError> {
        Client::connect_with(url, name, &ConnectOptions::default()).await
    }

    /// [`Client::connect`] with a join or resume token, or TLS settings. A refused token
    /// surfaces as [`ClientError::Closed`] with its close code (4009 to 4014); a
    /// `Welcome` whose schema does not lay out as [`ClientError::InvalidSchema`] (the
    /// session is closed with 1002).
    pub async fn connect_with(
        url: &str,
        name: &str,
        options: &ConnectOptions,
    ) -> Result<Client, ClientError> {
        let epoch = Instant::now();
        let mut ws = open(url, options.tls.clone()).await?;
        let hello = codec::encode(&ClientMessage::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            name: name.to_owned(),
            join_token: options.join_token.clone(),
            resume_token: options.resume_token.clone(),
        }))?;
        let bytes_out = hello.len() as u64;
        ws.send(Message::binary(hello)).await?;

        let mut bytes_in = 0u64;
        let welcome = tokio::time::timeout(WELCOME_TIMEOUT, async {
            match next_incoming(&mut ws).await? {
                Incoming::Binary(bytes) => {
                    bytes_in += bytes.len() as u64;
                    match codec::decode_server(&bytes)? {
                        ServerMessage::Welcome(welcome) => Ok(welcome),
                        other => Err(ClientError::Unexpected(format!(
                            "{} before Welcome",
                            message_name(&other)
                        ))),
                    }
                }
                Incoming::Text(text) => Err(unexpected_text(&text, "before Welcome")),
                Incoming::Close { code, reason } => Err(ClientError::Closed { code, reason }),
                Incoming::Ended => Err(ClientError::Closed {
                    code: Some(ABNORMAL_CLOSURE),
                    reason: String::new(),
                }),
            }
        })
        .await
        .map_err(|_| ClientError::Timeout)??;

        let view = match WorldView::from_welcome(&welcome) {
            Ok(view) => view,
            Err(e) => {
                // Closing (rather than dropping) frees the seat at once instead of after
                // the server's grace period for a lost connection.
                let frame = CloseFrame {
                    code: CloseCode::Protocol,
                    reason: Utf8Bytes::from_static("invalid schema"),
                };
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(Some(frame))).await;
                return Err(e.into());
            }
        };
        Ok(Client {
            ws,
            view,
            welcome,
            next_seq: 1,
            epoch,
            pending_pings: VecDeque::new(),
            bytes_in,
            bytes_out,
            closed: None,
            pending_desync: None,
        })
    }

    /// The server's `Welcome`.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// The newest snapshot received.
    pub fn view(&self) -> &WorldView {
        &self.view
    }

    /// Sends one input frame, numbering it and acknowledging the newest snapshot tick.
    /// Returns the sequence number used.
    pub async fn send_input(
        &mut self,
        move_x: i8,
        move_y: i8,
        aim: u16,
        buttons: u8,
    ) -> Result<u32, ClientError> {
        let intent = Intent {
            move_x,
            move_y,
            aim,
            buttons,
        };
        self.send_inputs(&[intent]).await
    }

    /// The sequence number the next input frame sent will get.
    pub fn next_seq(&self) -> u32 {
        self.next_seq
    }

    /// Sends the intents of consecutive ticks in one message (1 to
    /// [`MAX_INPUT_FRAMES`]; more are cut off, none sends nothing), numbering them and
    /// acknowledging the newest snapshot tick. Returns the sequence number of the first.
    pub async fn send_inputs(&mut self, intents: &[Intent]) -> Result<u32, ClientError> {
        let frames: ArrayVec<Intent, MAX_INPUT_FRAMES> =
            intents.iter().copied().take(MAX_INPUT_FRAMES).collect();
        if frames.is_empty() {
            // The server would close the session for an input of no frames (4007).
            return Ok(self.next_seq);
        }
        // Taken before the await: if the caller drops this future after the frame was
        // queued, the next input must still get fresh numbers.
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(frames.len() as u32);
        let input = Input {
            seq,
            ack_tick: self.view.tick,
            frames,
        };
        self.send_message(&ClientMessage::Input(input)).await?;
        Ok(seq)
    }

    /// Asks for a snapshot rate and byte budget; the server answers with
    /// [`Event::Settings`] holding what it granted.
    pub async fn request_settings(
        &mut self,
        rate: u16,
        max_bytes_per_sec: u32,
    ) -> Result<(), ClientError> {
        self.send_message(&ClientMessage::SnapshotSettings(SnapshotSettings {
            rate,
            max_bytes_per_sec,
        }))
        .await
    }

    /// Tells the server the view is wrong (as a failed checksum does by itself); the
    /// server answers with a keyframe.
    pub async fn request_keyframe(&mut self) -> Result<(), ClientError> {
        let tick = self.view.tick;
        self.send_message(&ClientMessage::Desync(Desync { tick }))
            .await
    }

    /// Sends a ping stamped with the milliseconds since [`Client::connect`] began.
    pub async fn send_ping(&mut self) -> Result<(), ClientError> {
        let client_time = self.millis();
        if self.pending_pings.len() >= MAX_PENDING_PINGS {
            self.pending_pings.pop_front();
        }
        self.pending_pings.push_back((client_time, Instant::now()));
        self.send_message(&ClientMessage::Ping(Ping { client_time }))
            .await
    }

    /// Reads the next server message. Snapshots are applied to [`Client::view`] before
    /// this returns. WebSocket pings and pongs are skipped (tungstenite answers pings).
    ///
    /// Cancel safe: dropping the future (say, in `tokio::select!`) loses no message.
    /// After [`Event::Closed`] every further call fails with [`ClientError::Closed`].
    pub async fn next_event(&mut self) -> Result<Event, ClientError> {
        if let Some((code, reason)) = &self.closed {
            return Err(ClientError::Closed {
                code: *code,
                reason: reason.clone(),
            });
        }
        if let Some(tick) = self.pending_desync.take() {
            self.send_message(&ClientMessage::Desync(Desync { tick }))
                .await?;
        }
        match next_incoming(&mut self.ws).await? {
            Incoming::Binary(bytes) => self.handle_binary(&bytes),
            Incoming::Text(text) => Err(unexpected_text(&text, "from the server")),
            Incoming::Close { code, reason } => {
                // tungstenite queued the reply to the close frame; send it now rather
                // than on a next write that may never come.
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.ws.flush()).await;
                Ok(self.mark_closed(code, reason))
            }
            Incoming::Ended => Ok(self.mark_closed(Some(ABNORMAL_CLOSURE), String::new())),
        }
    }

    /// Reads events until `pred(view)` holds after a snapshot. Pongs are consumed.
    /// Returns how many snapshots were read; [`ClientError::Timeout`] if `timeout`
    /// passes first, [`ClientError::Closed`] if the session ends.
    pub async fn wait_until(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&WorldView) -> bool,
    ) -> Result<u32, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut snapshots = 0u32;
        loop {
            let event = tokio::time::timeout_at(deadline, self.next_event())
                .await
                .map_err(|_| ClientError::Timeout)??;
            match event {
                Event::Snapshot { .. } => {
                    snapshots = snapshots.saturating_add(1);
                    if pred(&self.view) {
                        return Ok(snapshots);
                    }
                }
                Event::Pong { .. } | Event::Settings(_) => {}
                Event::Closed { code, reason } => return Err(ClientError::Closed { code, reason }),
            }
        }
    }

    /// Ends the session with close code 1000 and waits up to [`CLOSE_TIMEOUT`] for the
    /// server to complete the close handshake. A session the server already closed
    /// ends quietly.
    pub async fn close(mut self) -> Result<(), ClientError> {
        if self.closed.is_some() {
            return Ok(());
        }
        self.ws
            .close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: Utf8Bytes::from_static(""),
            }))
            .await?;
        drain_until_end(&mut self.ws, CLOSE_TIMEOUT).await
    }

    /// Drops the connection without a close frame, as a lost network would: the server
    /// keeps the player for its grace period, for a resume with
    /// `welcome().resume_token`.
    pub fn abort(self) {
        drop(self.ws);
    }

    /// Payload bytes of binary frames received, `Welcome` included.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// Payload bytes of binary frames sent, `Hello` included.
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out
    }

    fn millis(&self) -> u32 {
        // Wraps after 49 days; the server echoes the value opaquely, so wrapping is fine.
        self.epoch.elapsed().as_millis() as u32
    }

    async fn send_message(&mut self, msg: &ClientMessage) -> Result<(), ClientError> {
        let bytes = codec::encode(msg)?;
        let len = bytes.len() as u64;
        self.ws.send(Message::binary(bytes)).await?;
        self.bytes_out += len;
        Ok(())
    }

    fn handle_binary(&mut self, bytes: &[u8]) -> Result<Event, ClientError> {
        self.bytes_in += bytes.len() as u64;
        match codec::decode_server(bytes)? {
            ServerMessage::Snapshot(snapshot) => {
                if self.view.apply(&snapshot).is_err() {
                    // The server answers a Desync report with a keyframe; it goes out
                    // before the next read.
                    self.pending_desync = Some(snapshot.tick);
                }
                Ok(Event::Snapshot {
                    tick: snapshot.tick,
                    bytes: bytes.len() as u64,
                })
            }
            ServerMessage::FullSnapshot(snapshot) => {
                // A full snapshot that does not fit the schema is counted in the view's
                // desyncs; the next one replaces the view whole, so nothing is asked.
                let _ = self.view.apply_full(&snapshot);
                Ok(Event::Snapshot {
                    tick: snapshot.tick,
                    bytes: bytes.len() as u64,
                })
            }
            ServerMessage::SnapshotSettings(settings) => Ok(Event::Settings(settings)),
            ServerMessage::Pong(pong) => Ok(Event::Pong {
                rtt: self.rtt_for(pong.client_time),
                server_tick: pong.server_tick,
            }),
            ServerMessage::Welcome(_) => {
                Err(ClientError::Unexpected("a second Welcome".to_owned()))
            }
        }
    }

    /// Round-trip time of the ping stamped `client_time`. The send instant gives
    /// microsecond resolution; the millisecond stamp is only a fallback for pongs to
    /// pings we no longer remember.
    fn rtt_for(&mut self, client_time: u32) -> Duration {
        if let Some(pos) = self
            .pending_pings
            .iter()
            .position(|&(t, _)| t == client_time)
        {
            let sent = self.pending_pings[pos].1;
            self.pending_pings.drain(..=pos);
            return sent.elapsed();
        }
        Duration::from_millis(u64::from(self.millis().wrapping_sub(client_time)))
    }

    fn mark_closed(&mut self, code: Option<u16>, reason: String) -> Event {
        self.closed = Some((code, reason.clone()));
        Event::Closed { code, reason }
    }
}

/// A WebSocket to the server with no protocol logic, for tests that send bad data.
#[derive(Debug)]
pub struct RawConnection {
    ws: Ws,
}

impl RawConnection {
    /// Opens the WebSocket (no `Hello` is sent).
    pub async fn connect(url: &str) -> Result<RawConnection, ClientError> {
        RawConnection::connect_tls(url, None).await
    }

    /// Opens the WebSocket with TLS settings for `wss://` URLs.
    pub async fn connect_tls(
        url: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<RawConnection, ClientError> {
        Ok(RawConnection {
            ws: open(url, tls).await?,
        })
    }

    /// Sends one binary frame.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<(), ClientError> {
        self.ws.send(Message::binary(bytes)).await?;
        Ok(())
    }

    /// Sends one text frame.
    pub async fn send_text(&mut self, text: &str) -> Result<(), ClientError> {
        self.ws.send(Message::text(text)).await?;
        Ok(())
    }

    /// Sends a close frame with `code` and `reason`, as a client that leaves does; the
    /// server's answering close frame is read with [`RawConnection::wait_close`].
    pub async fn send_close(&mut self, code: u16, reason: &str) -> Result<(), ClientError> {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        self.ws.send(Message::Close(Some(frame))).await?;
        Ok(())
    }

    /// Sends a close frame whose payload is `payload` as it is (a code that may not be
    /// sent, a reason that may not be UTF-8), to test how the server answers one.
    pub async fn send_close_payload(&mut self, payload: Vec<u8>) -> Result<(), ClientError> {
        use tungstenite::protocol::frame::coding::{Control, OpCode};
        use tungstenite::protocol::frame::{Frame, FrameHeader};
        let header = FrameHeader {
            opcode: OpCode::Control(Control::Close),
            ..FrameHeader::default()
        };
        let frame = Frame::from_payload(header, payload.into());
        self.ws.send(Message::Frame(frame)).await?;
        Ok(())
    }

    /// Skips frames until the server's close frame and returns its `(code, reason)`:
    /// 1005 for a close frame without a code, 1006 if the connection ended without one.
    pub async fn wait_close(&mut self, timeout: Duration) -> Result<(u16, String), ClientError> {
        tokio::time::timeout(timeout, async {
            loop {
                match next_incoming(&mut self.ws).await? {
                    Incoming::Binary(_) | Incoming::Text(_) => continue,
                    Incoming::Close { code, reason } => {
                        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.ws.flush()).await;
                        return Ok((code.unwrap_or(NO_STATUS_RECEIVED), reason));
                    }
                    Incoming::Ended => return Ok((ABNORMAL_CLOSURE, String::new())),
                }
            }
        })
        .await
        .map_err(|_| ClientError::Timeout)?
    }

    /// Reads and decodes the next server message. A close surfaces as
    /// [`ClientError::Closed`], a text frame as [`ClientError::Unexpected`].
    pub async fn recv(&mut self, timeout: Duration) -> Result<ServerMessage, ClientError> {
        tokio::time::timeout(timeout, async {
            match next_incoming(&mut self.ws).await? {
                Incoming::Binary(bytes) => Ok(codec::decode_server(&bytes)?),
                Incoming::Text(text) => Err(unexpected_text(&text, "from the server")),
                Incoming::Close { code, reason } => {
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.ws.flush()).await;
                    Err(ClientError::Closed { code, reason })
                }
                Incoming::Ended => Err(ClientError::Closed {
                    code: Some(ABNORMAL_CLOSURE),
                    reason: String::new(),
                }),
            }
        })
        .await
        .map_err(|_| ClientError::Timeout)?
    }
}

/// The WebSocket settings of every client connection.
pub fn ws_config() -> WebSocketConfig {
    // Snapshots of a crowded room are large, so the limits follow the codec's rather
    // than tungstenite's defaults. The read buffer is small: tungstenite zeroes the
    // whole free part of it before every read, and a delta snapshot is about 150 bytes,
    // so a 64 KiB buffer made a swarm spend a twentieth of its CPU in `memset`. A larger
    // message (a keyframe) takes a few reads.
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .max_message_size(Some(MAX_SERVER_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_SERVER_MESSAGE_BYTES))
}

async fn open(url: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Result<Ws, ClientError> {
    // Inputs are tiny and latency-sensitive: Nagle's algorithm would hold them back.
    // Without a configuration of ours, wss:// trusts the web PKI roots.
    let connector = tls.map(Connector::Rustls);
    let connect =
        tokio_tungstenite::connect_async_tls_with_config(url, Some(ws_config()), true, connector);
    let (ws, _response) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| ClientError::Timeout)??;
    Ok(ws)
}

/// A frame that matters to the protocol; control frames are handled below it.
enum Incoming {
    Binary(Bytes),
    Text(Utf8Bytes),
    Close {
        code: Option<u16>,
        reason: String,
    },
    /// The connection ended without a close frame.
    Ended,
}

/// Reads the next data or close frame. Cancel safe, since `StreamExt::next` is and
/// nothing is held across the await.
async fn next_incoming(ws: &mut Ws) -> Result<Incoming, ClientError> {
    loop {
        match ws.next().await {
            // tokio-tungstenite turns a completed close handshake into the end of the
            // stream; without a close frame seen by the caller that is an abrupt end.
            None => return Ok(Incoming::Ended),
            Some(Err(e)) if is_abrupt_end(&e) => return Ok(Incoming::Ended),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(Message::Binary(bytes))) => return Ok(Incoming::Binary(bytes)),
            Some(Ok(Message::Text(text))) => return Ok(Incoming::Text(text)),
            Some(Ok(Message::Close(frame))) => {
                return Ok(match frame {
                    Some(f) => Incoming::Close {
                        code: Some(u16::from(f.code)),
                        reason: f.reason.as_str().to_owned(),
                    },
                    None => Incoming::Close {
                        code: None,
                        reason: String::new(),
                    },
                });
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
        }
    }
}

/// Whether a read error only says the peer went away without a close handshake.
fn is_abrupt_end(e: &tungstenite::Error) -> bool {
    use std::io::ErrorKind;
    use tungstenite::error::ProtocolError;
    match e {
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => true,
        tungstenite::Error::Io(io) => matches!(
            io.kind(),
            ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::UnexpectedEof
                | ErrorKind::BrokenPipe
        ),
        _ => false,
    }
}

/// After we sent a close frame: reads until the server's reply ends the stream.
async fn drain_until_end(ws: &mut Ws, timeout: Duration) -> Result<(), ClientError> {
    tokio::time::timeout(timeout, async {
        while let Some(frame) = ws.next().await {
            match frame {
                Ok(_) => {}
                Err(e) if is_abrupt_end(&e) => break,
                Err(e) => return Err(ClientError::from(e)),
            }
        }
        Ok(())
    })
    .await
    .map_err(|_| ClientError::Timeout)?
}

fn unexpected_text(text: &str, context: &str) -> ClientError {
    // A short excerpt is enough to recognise the frame; the whole text could be huge.
    let excerpt: String = text.chars().take(60).collect();
    ClientError::Unexpected(format!("text frame {context}: {excerpt:?}"))
}

fn message_name(msg: &ServerMessage) -> &'static str {
    match msg {
        ServerMessage::Welcome(_) => "Welcome",
        ServerMessage::Snapshot(_) => "Snapshot",
        ServerMessage::FullSnapshot(_) => "FullSnapshot",
        ServerMessage::SnapshotSettings(_) => "SnapshotSettings",
        ServerMessage::Pong(_) => "Pong",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(code: Option<u16>) -> ClientError {
        ClientError::Closed {
            code,
            reason: String::new(),
        }
    }

    /// What a bot retries when joining follows the close-code table, as the web client.
    #[test]
    fn retryable_errors_follow_the_close_table() {
        use shared::protocol::close;
        for code in [
            close::ABNORMAL,
            close::TOO_SLOW,
            close::ROOM_FULL,
            close::GOING_AWAY,
        ] {
            assert!(closed(Some(code)).is_retryable(), "{code}");
        }
        assert!(closed(Some(close::TOKEN_EXPIRED)).is_retryable());
        for code in [
            close::INVALID_NAME,
            close::REPLACED,
            close::UNKNOWN_ROOM,
            close::BAD_MESSAGE,
        ] {
            assert!(!closed(Some(code)).is_retryable(), "{code}");
        }
        assert!(closed(None).is_retryable());
        assert!(ClientError::Timeout.is_retryable());
        assert!(ClientError::ApiUnreachable("reset".into()).is_retryable());
        let http = |status| ClientError::Http {
            status,
            body: String::new(),
        };
        assert!(http(503).is_retryable() && http(429).is_retryable());
        assert!(!http(409).is_retryable() && !http(404).is_retryable());
        assert!(!ClientError::Unexpected("a text frame".into()).is_retryable());
    }
}
