//! The network front: one port for the web client, `/healthz` and the WebSocket.
//!
//! The WebSocket upgrade is done here on top of axum with tokio-tungstenite's
//! `from_raw_socket`, so that every limit of [`ws_config`] is ours to set and the server,
//! the bots and the conformance endpoint share one tungstenite version.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::ServeDir;
use tracing::{Instrument, info, info_span, warn};

use crate::config::Settings;
use crate::room::{self, RoomConfig, RoomError, RoomHandle};
use crate::session::{self, SessionContext};

/// How long shutdown waits for sessions to say goodbye before giving up on them.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot read the listener address: {0}")]
    LocalAddr(#[source] std::io::Error),
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error("HTTP server failed: {0}")]
    Http(#[source] std::io::Error),
    #[error("server task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// WebSocket limits. Client messages are tiny (see `shared::codec`), so frames and
/// messages are capped just above that, and the read buffer stays small because a
/// server holds thousands of these.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(Some(shared::codec::MAX_CLIENT_MESSAGE_BYTES * 4))
        .max_frame_size(Some(shared::codec::MAX_CLIENT_MESSAGE_BYTES * 4))
}

#[derive(Debug, Clone)]
struct AppState {
    room: RoomHandle,
    settings: Arc<Settings>,
    connections: Arc<Semaphore>,
    sessions: TaskTracker,
    shutdown: CancellationToken,
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    room: RoomHandle,
    task: JoinHandle<Result<(), ServeError>>,
}

impl Server {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The default room (tests and tools read its tick statistics).
    pub fn room(&self) -> &RoomHandle {
        &self.room
    }

    /// Waits until the server has shut down (after `shutdown` was cancelled).
    pub async fn wait(self) -> Result<(), ServeError> {
        self.task.await?
    }
}

/// Starts serving on an already bound listener (tests bind `127.0.0.1:0`). The server
/// runs until `shutdown` is cancelled, then closes every session with code 1001.
pub fn start(
    listener: TcpListener,
    settings: Settings,
    shutdown: CancellationToken,
) -> Result<Server, ServeError> {
    let local_addr = listener.local_addr().map_err(ServeError::LocalAddr)?;
    let seed = settings.seed.unwrap_or_else(rand::random);
    let (room, room_thread) = room::spawn(
        RoomConfig {
            name: "default".into(),
            tick_rate: settings.tick_rate,
            snapshot_rate: settings.snapshot_rate,
            drones: settings.drones,
            max_players: settings.max_players,
            map: settings.map.clone(),
            seed,
            stats_interval: settings.stats_interval,
            snapshots: settings.snapshots,
            aoi_radius: settings.aoi_radius,
            packing: settings.packing,
            client_budget: settings.client_budget,
            min_client_budget: settings.min_client_budget,
            max_client_budget: settings.max_client_budget,
            outbound_queue_bytes: settings.outbound_queue_bytes,
        },
        shutdown.clone(),
    )?;
    let state = AppState {
        room: room.clone(),
        connections: Arc::new(Semaphore::new(settings.max_connections)),
        settings: Arc::new(settings),
        sessions: TaskTracker::new(),
        shutdown: shutdown.clone(),
    };
    let app = router(state.clone());
    let task = tokio::spawn(async move {
        let listener = listener.tap_io(|tcp| {
            // Snapshots are small and latency matters more than packet count.
            if let Err(e) = tcp.set_nodelay(true) {
                warn!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .map_err(ServeError::Http);
        // Sessions watch the same token and close themselves with 1001.
        shutdown.cancel();
        state.sessions.close();
        if tokio::time::timeout(SHUTDOWN_DEADLINE, state.sessions.wait())
            .await
            .is_err()
        {
            warn!("some sessions did not close within the shutdown deadline");
        }
        let _ = tokio::task::spawn_blocking(move || room_thread.join()).await;
        info!("server stopped");
        served
    });
    Ok(Server {
        local_addr,
        room,
        task,
    })
}

/// [`start`], then wait for the shutdown to complete.
pub async fn run(
    listener: TcpListener,
    settings: Settings,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    start(listener, settings, shutdown)?.wait().await
}

fn router(state: AppState) -> Router {
    let web = ServeDir::new(&state.settings.web_dir);
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/ws", get(upgrade))
        .fallback_service(web)
        .with_state(state)
}

fn header_has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

fn refuse(status: StatusCode, why: &'static str) -> Response {
    (status, why).into_response()
}

async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
) -> Response {
    let headers = request.headers();
    if request.method() != Method::GET
        || !header_has_token(headers, header::CONNECTION, "upgrade")
        || !header_has_token(headers, header::UPGRADE, "websocket")
    {
        return refuse(
            StatusCode::UPGRADE_REQUIRED,
            "this endpoint speaks WebSocket only",
        );
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return refuse(StatusCode::BAD_REQUEST, "unsupported WebSocket version");
    }
    let Some(accept) = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| derive_accept_key(k.as_bytes()))
    else {
        return refuse(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key");
    };
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        warn!(%peer, limit = state.settings.max_connections, "connection refused: server full");
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "server full, try again later",
        );
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    let ctx = SessionContext {
        room: state.room.clone(),
        handshake_timeout: state.settings.handshake_timeout,
        stall_timeout: state.settings.stall_timeout,
        outbound_queue: state.settings.outbound_queue,
        shutdown: state.shutdown.clone(),
    };
    let span = info_span!("session", %peer);
    state.sessions.spawn(
        async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    let ws = WebSocketStream::from_raw_socket(
                        TokioIo::new(upgraded),
                        Role::Server,
                        Some(ws_config()),
                    )
                    .await;
                    session::run(ws, ctx).await;
                }
                Err(e) => info!(error = %e, "upgrade failed"),
            }
            drop(permit);
        }
        .instrument(span),
    );
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
