//! The network front: one port for the web client, the rooms API, `/metrics`,
//! `/healthz`, `/readyz` and the WebSocket, plain or over TLS.
//!
//! The accept loop is ours rather than `axum::serve`'s, for three things axum does not
//! expose: limits checked before a connection costs anything (the per-address rate
//! limiter and the connection cap, at `accept`), hyper's `header_read_timeout` (a peer
//! that trickles its request head is dropped), and one tracked task per connection so
//! shutdown can wait for them. Each connection runs hyper's HTTP/1 server with the axum
//! router as its service; `/ws` upgrades by hand with tokio-tungstenite's
//! `from_raw_socket`, so that every limit of [`ws_config`] is ours to set and the server,
//! the bots and the conformance endpoint share one tungstenite version.

// Peers control everything that arrives here: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{Service as _, service_fn};
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::ServeDir;
use tracing::{Instrument, debug, error, field, info, info_span, warn};

use crate::cluster::Cluster;
use crate::control::config::{ConfigError, Settings};
use crate::control::registry::{Origin, RegistryConfig, RegistryError, RoomRegistry};
use crate::control::tokens::{TokenKeys, unix_now};
use crate::http::api::{self, ApiState};
use crate::http::guard::ApiGuard;
use crate::obs::counters::{Counters, Refusal};
use crate::obs::metrics::{ServerMetrics, UPKEEP_INTERVAL};
use crate::room::{RoomError, RoomHandle};
use crate::session::{self, SessionContext};
use crate::transport::limits::{AddressSlot, AddressSlots, IpLimiter, LogThrottle};

/// How often idle API rooms are looked for (and used join tokens forgotten).
const REAP_INTERVAL: Duration = Duration::from_secs(1);

/// Largest API request body.
const MAX_API_BODY_BYTES: usize = 16 * 1024;

/// Read buffer of each WebSocket. Client messages are a few dozen bytes, so a small
/// buffer still reads dozens of them per system call, and a server holds thousands.
pub const WS_READ_BUFFER_BYTES: usize = 2 * 1024;

/// Largest client frame and message: the codec's own limit on a client message, so
/// anything bigger is refused (1009) before it is even buffered.
pub const WS_MAX_CLIENT_MESSAGE_BYTES: usize = shared::codec::MAX_CLIENT_MESSAGE_BYTES;

/// Room in the write buffer above the largest message the room may queue, for the
/// control frames (pongs, close) tungstenite interleaves.
const WS_WRITE_HEADROOM_BYTES: usize = 4 * 1024;

/// Largest HTTP request head (request line and headers) a connection may send.
const MAX_REQUEST_HEAD_BYTES: usize = 32 * 1024;

/// How often the per-address limiter forgets addresses that have been quiet.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// Refused connections answered at once; beyond, they are closed without an answer,
/// so that answering a flood of refusals costs a bounded amount.
const MAX_REFUSALS_IN_FLIGHT: usize = 64;

/// At most one "connection refused" log line per this interval.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// How long to pause accepting after an error that is not about one connection (out of
/// file descriptors, typically), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot read the listener address: {0}")]
    LocalAddr(#[source] std::io::Error),
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("server task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error(
        "a cluster node listening on {0} needs --public-url: other nodes send its players there"
    )]
    PublicUrlNeeded(SocketAddr),
}

/// WebSocket limits. Client messages are tiny (see `shared::codec`), so frames and
/// messages are capped at the codec's limit and the read buffer is small. Messages are
/// written out at once (no write batching: the room already sends one per snapshot),
/// and the write buffer is bounded by the largest message the room may queue.
pub fn ws_config(outbound_queue_bytes: usize) -> WebSocketConfig {
    ws_config_with_limit(outbound_queue_bytes, WS_MAX_CLIENT_MESSAGE_BYTES)
}

/// [`ws_config`] with another limit on client messages and frames (the conformance
/// endpoint's `layer` profile); the write buffer holds an echo of the largest.
fn ws_config_with_limit(outbound_queue_bytes: usize, max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(WS_READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(outbound_queue_bytes.max(max_message) + WS_WRITE_HEADROOM_BYTES)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    room: RoomHandle,
    registry: Arc<RoomRegistry>,
    keys: Arc<TokenKeys>,
    counters: Arc<Counters>,
    metrics: Arc<ServerMetrics>,
    cluster: Option<Arc<Cluster>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl Server {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The default room as the server started (tests and tools read its tick statistics).
    pub fn room(&self) -> &RoomHandle {
        &self.room
    }

    /// Every room.
    pub fn registry(&self) -> &Arc<RoomRegistry> {
        &self.registry
    }

    /// The token keys (tools and tests mint join tokens with them).
    pub fn keys(&self) -> &Arc<TokenKeys> {
        &self.keys
    }

    /// Connection, refusal and close counters.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// The `/metrics` exposition as of now.
    pub fn render_metrics(&self) -> String {
        let cluster = self
            .cluster
            .as_ref()
            .map(|c| c.metrics())
            .unwrap_or_default();
        self.metrics
            .render(&self.counters, cluster, self.registry.len())
    }

    /// Waits until the server has shut down (after `shutdown` was cancelled).
    pub async fn wait(self) -> Result<(), ServeError> {
        self.task.await?
    }
}

/// Starts serving on an already bound listener (tests bind `127.0.0.1:0`): the rooms of
/// `settings` (the rooms file's, or the default room), the API, `/metrics`, the web
/// client and the WebSocket. The server runs until `shutdown` is cancelled, then stops
/// accepting, closes every session with 1001, lets every room finish its tick, and
/// returns within `settings.shutdown_timeout`.
pub fn start(
    listener: TcpListener,
    settings: Settings,
    shutdown: CancellationToken,
) -> Result<Server, ServeError> {
    let local_addr = listener.local_addr().map_err(ServeError::LocalAddr)?;
    let tls = settings
        .tls
        .as_ref()
        .map(crate::transport::tls::acceptor)
        .transpose()?;
    let counters = Arc::new(Counters::default());
    let metrics = Arc::new(ServerMetrics::new());
    let keys = Arc::new(TokenKeys::new(settings.join_secret.as_deref()));
    let registry = Arc::new(RoomRegistry::new(
        RegistryConfig {
            stats_interval: settings.stats_interval,
            resume_grace: settings.resume_grace,
            idle_timeout: settings.room_idle_timeout,
            max_rooms: settings.max_rooms,
            room_workers: settings.room_workers,
            default_room: settings.default_room.clone(),
            limits: settings.limits,
        },
        metrics.clone(),
        shutdown.clone(),
    )?);
    for def in &settings.rooms {
        registry.create(Some(def.id.clone()), def.settings.clone(), Origin::Config)?;
    }
    let room = registry
        .get(&settings.default_room)
        .ok_or_else(|| RegistryError::Unknown(settings.default_room.clone()))?;
    let settings = Arc::new(settings);
    let front = Front::new(&settings, tls.clone(), counters.clone(), shutdown.clone());
    let guard = Arc::new(ApiGuard::new(settings.guard, counters.clone()));
    if settings.guard.admin_locked {
        warn!(
            "listening beyond loopback without --admin-token: room creation, deletion and joins naming a player id are refused (403); set --admin-token, or --allow-open-admin on a trusted network"
        );
    }
    let game = GameState {
        front: front.clone(),
        registry: registry.clone(),
        keys: keys.clone(),
        guard: guard.clone(),
        settings: settings.clone(),
        counters: counters.clone(),
        shutdown: shutdown.clone(),
    };
    // In a cluster, reservations for this node's rooms are answered by other nodes:
    // they need the URL clients reach it at.
    let cluster = match &settings.cluster {
        None => None,
        Some(cluster) => {
            let url = match &settings.public_url {
                Some(url) => url.clone(),
                None if !local_addr.ip().is_unspecified() => format!(
                    "{}://{local_addr}",
                    if tls.is_some() { "https" } else { "http" }
                ),
                None => return Err(ServeError::PublicUrlNeeded(local_addr)),
            };
            Some(Cluster::new(
                cluster,
                settings.node_id.clone(),
                url,
                shutdown.clone(),
            )?)
        }
    };
    let public_url = settings
        .public_url
        .clone()
        .or_else(|| cluster.as_ref().map(|c| c.url().to_owned()));
    let api_state = ApiState {
        registry: registry.clone(),
        keys: keys.clone(),
        template: Arc::new(settings.room.clone()),
        maps: Arc::new(settings.maps.clone()),
        limits: settings.limits,
        admin_token: settings.admin_token.as_deref().map(Arc::from),
        join_token_ttl: settings.join_token_ttl,
        public_url: public_url.as_deref().map(Arc::from),
        tls: tls.is_some(),
        guard: guard.clone(),
        counters: counters.clone(),
        node_id: Arc::from(settings.node_id.as_str()),
        cluster: cluster.clone(),
        shutdown: shutdown.clone(),
    };
    if let Some(cluster) = &cluster {
        cluster.spawn(Arc::new(api_state.clone()));
        info!(node = %settings.node_id, url = %cluster.url(), "joining the cluster");
    }
    let api = Router::new()
        .route("/api/rooms", get(api::list).post(api::create))
        .route("/api/rooms/{id}", get(api::get).delete(api::delete))
        .route("/api/rooms/{id}/join", post(api::join))
        .route("/api/rooms/{id}/kick", post(api::kick))
        .route("/api/nodes", get(api::nodes))
        .route("/api/{*rest}", axum::routing::any(api::not_found))
        .layer(DefaultBodyLimit::max(MAX_API_BODY_BYTES))
        .with_state(api_state);
    let probes = Probes {
        registry: registry.clone(),
        metrics: metrics.clone(),
        counters: counters.clone(),
        cluster: cluster.clone(),
        shutdown: shutdown.clone(),
    };
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(probes)
        .merge(
            Router::new()
                .route("/ws", get(game_upgrade))
                .with_state(game),
        )
        .merge(api)
        .fallback_service(ServeDir::new(&settings.web_dir));

    // Housekeeping: idle API rooms, used join tokens, expired reservations, buffered
    // histogram samples.
    tokio::spawn({
        let (registry, keys, guard, metrics, shutdown) = (
            registry.clone(),
            keys.clone(),
            guard.clone(),
            metrics.clone(),
            shutdown.clone(),
        );
        async move {
            let mut reap = tokio::time::interval(REAP_INTERVAL);
            let mut upkeep = tokio::time::interval(UPKEEP_INTERVAL);
            reap.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            upkeep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = reap.tick() => {
                        registry.reap_idle(std::time::Instant::now());
                        keys.prune(unix_now());
                        guard.prune(std::time::Instant::now());
                    }
                    _ = upkeep.tick() => metrics.run_upkeep(),
                }
            }
        }
    });

    let deadline = settings.shutdown_timeout;
    let task = tokio::spawn({
        let registry = registry.clone();
        let cluster = cluster.clone();
        async move {
            let started = tokio::time::Instant::now();
            front.clone().serve(listener, app, deadline).await;
            // Rooms saw the same token: each finishes its current tick and stops.
            let left = deadline
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(100));
            registry.join_all(left).await;
            if let Some(cluster) = &cluster {
                cluster.leave().await;
            }
            info!("server stopped");
            Ok(())
        }
    });
    Ok(Server {
        local_addr,
        room,
        registry,
        keys,
        counters,
        metrics,
        cluster,
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

#[derive(Debug, Clone)]
struct GameState {
    front: Arc<Front>,
    registry: Arc<RoomRegistry>,
    keys: Arc<TokenKeys>,
    guard: Arc<ApiGuard>,
    settings: Arc<Settings>,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
}

/// What `/readyz` and `/metrics` read.
#[derive(Debug, Clone)]
struct Probes {
    registry: Arc<RoomRegistry>,
    metrics: Arc<ServerMetrics>,
    counters: Arc<Counters>,
    cluster: Option<Arc<Cluster>>,
    shutdown: CancellationToken,
}

#[derive(serde::Serialize)]
struct Readiness {
    ready: bool,
    rooms: usize,
    sessions: u64,
}

/// 200 while the server accepts players (running, with at least one room); 503 once
/// shutdown has begun.
async fn readyz(State(p): State<Probes>) -> Response {
    let rooms = p.registry.len();
    let ready = !p.shutdown.is_cancelled() && rooms > 0;
    let body = Json(Readiness {
        ready,
        rooms,
        sessions: p
            .counters
            .sessions_open
            .load(std::sync::atomic::Ordering::Relaxed),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body).into_response()
}

async fn metrics_text(State(p): State<Probes>) -> Response {
    let cluster = p.cluster.as_ref().map(|c| c.metrics()).unwrap_or_default();
    let text = p.metrics.render(&p.counters, cluster, p.registry.len());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// What every connection shares: limits, counters, the task tracker.
#[derive(Debug)]
pub(crate) struct Front {
    ip_limiter: IpLimiter,
    per_address: Arc<AddressSlots>,
    connections: Arc<Semaphore>,
    refusals: Arc<Semaphore>,
    refusal_log: LogThrottle,
    header_timeout: Duration,
    tcp_send_buffer: usize,
    tls: Option<Tls>,
    pub(crate) counters: Arc<Counters>,
    /// Connection tasks, sessions and refusals: shutdown waits for all of them.
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

/// The TLS acceptor (which is not `Debug`).
#[derive(Clone)]
struct Tls(TlsAcceptor);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

/// A slot of the connection cap, held by a connection and then by the WebSocket session
/// it upgraded to, released when both are gone.
#[derive(Debug)]
struct ConnectionSlot {
    _permit: OwnedSemaphorePermit,
    _address: AddressSlot,
    counters: Arc<Counters>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        Counters::dec(&self.counters.connections_open);
    }
}

impl Front {
    pub(crate) fn new(
        settings: &Settings,
        tls: Option<TlsAcceptor>,
        counters: Arc<Counters>,
        shutdown: CancellationToken,
    ) -> Arc<Front> {
        let tls = tls.map(Tls);
        Arc::new(Front {
            ip_limiter: IpLimiter::new(settings.ip_connect_rate, settings.ip_connect_burst),
            per_address: AddressSlots::new(settings.guard.ip_max_connections),
            connections: Arc::new(Semaphore::new(settings.max_connections)),
            refusals: Arc::new(Semaphore::new(MAX_REFUSALS_IN_FLIGHT)),
            refusal_log: LogThrottle::new(REFUSAL_LOG_INTERVAL),
            header_timeout: settings.http_header_timeout,
            tcp_send_buffer: settings.tcp_send_buffer,
            tls,
            counters,
            tasks: TaskTracker::new(),
            shutdown,
        })
    }

    /// Accepts connections until `shutdown` is cancelled, then waits (up to `deadline`)
    /// for every connection and session to finish.
    pub(crate) async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        app: Router,
        deadline: Duration,
    ) {
        let mut prune = tokio::time::interval(PRUNE_INTERVAL);
        prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => break,
                _ = prune.tick() => self.ip_limiter.prune(),
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => self.admit(tcp, peer, &app),
                    Err(e) => self.accept_failed(e).await,
                },
            }
        }
        drop(listener);
        // Sessions watch the same token and close themselves with 1001; connections
        // finish the request they are serving.
        self.tasks.close();
        if tokio::time::timeout(deadline, self.tasks.wait())
            .await
            .is_err()
        {
            warn!("some connections did not close within the shutdown deadline");
        }
    }

    async fn accept_failed(&self, e: std::io::Error) {
        use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
        // These concern one connection that is already gone; the next accept is fine.
        if matches!(
            e.kind(),
            ConnectionRefused | ConnectionAborted | ConnectionReset
        ) {
            return;
        }
        error!(error = %e, "accept failed; pausing");
        tokio::select! {
            () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
            () = self.shutdown.cancelled() => {}
        }
    }

    /// The per-address limit, then the connection cap; a connection that passes both
    /// gets its own task running hyper's HTTP/1 server.
    fn admit(self: &Arc<Self>, tcp: TcpStream, peer: SocketAddr, app: &Router) {
        Counters::inc(&self.counters.connections_accepted_total);
        // Snapshots are small and latency matters more than packet count.
        if let Err(e) = tcp.set_nodelay(true) {
            debug!(%peer, error = %e, "cannot set TCP_NODELAY");
        }
        if self.tcp_send_buffer > 0
            && let Err(e) = SockRef::from(&tcp).set_send_buffer_size(self.tcp_send_buffer)
        {
            debug!(%peer, error = %e, "cannot set SO_SNDBUF");
        }
        if !self.ip_limiter.check(peer.ip()) {
            return self.refuse(tcp, peer, Refusal::RateLimited);
        }
        let Some(address) = self.per_address.acquire(peer.ip()) else {
            return self.refuse(tcp, peer, Refusal::PerAddress);
        };
        let Ok(permit) = self.connections.clone().try_acquire_owned() else {
            return self.refuse(tcp, peer, Refusal::Capacity);
        };
        Counters::inc(&self.counters.connections_open);
        let slot = Arc::new(ConnectionSlot {
            _permit: permit,
            _address: address,
            counters: self.counters.clone(),
        });
        let front = self.clone();
        let app = app.clone();
        let connection = async move {
            match front.tls.clone() {
                None => front.serve_connection(tcp, peer, app, slot).await,
                Some(Tls(acceptor)) => {
                    // The handshake counts against the request-head timeout.
                    match tokio::time::timeout(front.header_timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => front.serve_connection(tls, peer, app, slot).await,
                        Ok(Err(e)) => debug!(error = %e, "TLS handshake failed"),
                        Err(_) => {
                            front.counters.header_timed_out();
                            debug!("TLS handshake not completed in time; connection dropped");
                        }
                    }
                }
            }
        };
        self.tasks
            .spawn(connection.instrument(info_span!("http", %peer)));
    }

    fn http1(&self) -> http1::Builder {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout)
            .max_buf_size(MAX_REQUEST_HEAD_BYTES);
        builder
    }

    async fn serve_connection<I>(
        self: Arc<Self>,
        io: I,
        peer: SocketAddr,
        app: Router,
        slot: Arc<ConnectionSlot>,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let router = TowerToHyperService::new(app);
        let service = service_fn(move |mut request: hyper::Request<Incoming>| {
            // What `into_make_service_with_connect_info` would have inserted, plus the
            // cap slot, which a WebSocket session takes over.
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(slot.clone());
            router.call(request)
        });
        let connection = self
            .http1()
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = self.shutdown.cancelled() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        match result {
            Ok(()) => {}
            Err(e) if e.is_timeout() => {
                self.counters.header_timed_out();
                debug!("request head not received in time; connection dropped");
            }
            Err(e) => debug!(error = %e, "connection ended with an error"),
        }
    }

    /// Answers a refused connection with a plain HTTP error (so clients see why) from a
    /// small task bounded by the header timeout, or closes it outright when too many
    /// refusals are being answered already.
    fn refuse(self: &Arc<Self>, tcp: TcpStream, peer: SocketAddr, why: Refusal) {
        let total = self.counters.refused(why);
        if let Some(suppressed) = self.refusal_log.allow() {
            warn!(
                %peer,
                reason = why.label(),
                total,
                suppressed,
                "connection refused"
            );
        }
        let Ok(permit) = self.refusals.clone().try_acquire_owned() else {
            Counters::inc(&self.counters.connections_dropped_overload_total);
            return;
        };
        let front = self.clone();
        self.tasks.spawn(async move {
            let answer = async {
                match front.tls.clone() {
                    None => front.answer_refusal(tcp, why).await,
                    Some(Tls(acceptor)) => {
                        if let Ok(Ok(tls)) =
                            tokio::time::timeout(front.header_timeout, acceptor.accept(tcp)).await
                        {
                            front.answer_refusal(tls, why).await;
                        }
                    }
                }
            };
            tokio::select! {
                () = answer => {}
                () = front.shutdown.cancelled() => {}
            }
            drop(permit);
        });
    }

    async fn answer_refusal<I>(&self, io: I, why: Refusal)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = service_fn(move |_request| async move { Ok::<_, Infallible>(refusal(why)) });
        let mut builder = self.http1();
        builder.keep_alive(false);
        let _ = builder.serve_connection(TokioIo::new(io), service).await;
    }

    /// Completes a WebSocket upgrade and runs `session` on it in a tracked task, in the
    /// session's span `span`.
    fn upgrade<F, Fut>(
        &self,
        config: WebSocketConfig,
        span: tracing::Span,
        slot: Arc<ConnectionSlot>,
        mut request: Request,
        session: F,
    ) -> Response
    where
        F: FnOnce(WebSocketStream<TokioIo<Upgraded>>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = match check_upgrade(request.headers(), request.method()) {
            Ok(accept) => accept,
            Err(refused) => {
                Counters::inc(&self.counters.upgrades_rejected_total);
                return refused.into_response();
            }
        };
        let on_upgrade = hyper::upgrade::on(&mut request);
        self.tasks.spawn(
            async move {
                match on_upgrade.await {
                    Ok(upgraded) => {
                        let ws = WebSocketStream::from_raw_socket(
                            TokioIo::new(upgraded),
                            Role::Server,
                            Some(config),
                        )
                        .await;
                        session(ws).await;
                    }
                    Err(e) => info!(error = %e, "upgrade failed"),
                }
                drop(slot);
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
}

fn refusal(why: Refusal) -> Response {
    let (status, retry_after, text) = match why {
        Refusal::Capacity => (
            StatusCode::SERVICE_UNAVAILABLE,
            "5",
            "server full, try again later",
        ),
        Refusal::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            "1",
            "too many connections from your address, slow down",
        ),
        Refusal::PerAddress => (
            StatusCode::TOO_MANY_REQUESTS,
            "5",
            "too many open connections from your address",
        ),
    };
    (status, [(header::RETRY_AFTER, retry_after)], text).into_response()
}

fn header_has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Checks an upgrade request (RFC 6455 §4.2.1) and returns its `Sec-WebSocket-Accept`,
/// or the status and reason to refuse it with.
fn check_upgrade(
    headers: &HeaderMap,
    method: &Method,
) -> Result<String, (StatusCode, &'static str)> {
    if method != Method::GET
        || !header_has_token(headers, header::CONNECTION, "upgrade")
        || !header_has_token(headers, header::UPGRADE, "websocket")
    {
        return Err((
            StatusCode::UPGRADE_REQUIRED,
            "this endpoint speaks WebSocket only",
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err((StatusCode::BAD_REQUEST, "unsupported WebSocket version"));
    }
    headers
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| derive_accept_key(k.as_bytes()))
        .ok_or((StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key"))
}

#[derive(Debug, serde::Deserialize)]
struct WsQuery {
    room: Option<String>,
}

async fn game_upgrade(
    State(state): State<GameState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(slot): Extension<Arc<ConnectionSlot>>,
    Query(query): Query<WsQuery>,
    request: Request,
) -> Response {
    let room_id = query
        .room
        .unwrap_or_else(|| state.registry.default_room().to_owned());
    // The room's tick rate sets the message quota and its queue the write buffer; an
    // unknown room is refused after the upgrade (4013), where a browser can see why.
    let room = state.registry.get(&room_id);
    let room_settings = room
        .as_ref()
        .map_or(&state.settings.room, |r| &r.config().settings);
    let config = ws_config(room_settings.outbound_queue_bytes);
    let ctx = SessionContext {
        registry: state.registry.clone(),
        keys: state.keys.clone(),
        guard: state.guard.clone(),
        limits: state.settings.message_limits(room_settings.tick_rate),
        buttons: crate::games::by_name(&room_settings.game).map_or(0, |g| g.buttons()),
        room_id: room_id.clone(),
        handshake_timeout: state.settings.handshake_timeout,
        stall_timeout: state.settings.stall_timeout,
        outbound_queue: state.settings.outbound_queue,
        ping_interval: state.settings.ping_interval,
        idle_timeout: state.settings.idle_timeout,
        counters: state.counters.clone(),
        shutdown: state.shutdown.clone(),
    };
    // A root span: the connection's `http` span ends with the upgrade.
    let span = info_span!(parent: None, "session", %peer, room = %room_id, player = field::Empty);
    state
        .front
        .upgrade(config, span, slot, request, move |ws| session::run(ws, ctx))
}

/// The conformance endpoint: the game's accept path, limits and WebSocket configuration,
/// with a session that echoes every text and binary message (what the Autobahn
/// `fuzzingclient` expects). Served at `/` and `/ws`; see `server/examples/echo.rs`.
pub fn start_echo(
    listener: TcpListener,
    settings: &Settings,
    max_message_bytes: Option<usize>,
    shutdown: CancellationToken,
) -> Result<EchoServer, ServeError> {
    let local_addr = listener.local_addr().map_err(ServeError::LocalAddr)?;
    let counters = Arc::new(Counters::default());
    let front = Front::new(settings, None, counters.clone(), shutdown);
    let app = Router::new()
        .route("/", get(echo_upgrade))
        .route("/ws", get(echo_upgrade))
        .with_state(EchoState {
            front: front.clone(),
            config: ws_config_with_limit(
                settings.room.outbound_queue_bytes,
                max_message_bytes.unwrap_or(WS_MAX_CLIENT_MESSAGE_BYTES),
            ),
        });
    let deadline = settings.shutdown_timeout;
    let task = tokio::spawn(async move {
        front.serve(listener, app, deadline).await;
        Ok(())
    });
    Ok(EchoServer {
        local_addr,
        counters,
        task,
    })
}

/// A running conformance endpoint.
#[derive(Debug)]
pub struct EchoServer {
    local_addr: SocketAddr,
    counters: Arc<Counters>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl EchoServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    pub async fn wait(self) -> Result<(), ServeError> {
        self.task.await?
    }
}

#[derive(Debug, Clone)]
struct EchoState {
    front: Arc<Front>,
    config: WebSocketConfig,
}

async fn echo_upgrade(
    State(state): State<EchoState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(slot): Extension<Arc<ConnectionSlot>>,
    request: Request,
) -> Response {
    let counters = state.front.counters.clone();
    let span = info_span!(parent: None, "session", %peer);
    state
        .front
        .upgrade(state.config, span, slot, request, move |ws| {
            crate::transport::echo::run(ws, counters)
        })
}
