//! The rooms API (JSON over HTTP, on the game port):
//!
//! | route | what |
//! | --- | --- |
//! | `GET /api/rooms` | listed rooms (not private): id, name, map, seats, rates |
//! | `GET /api/rooms/{id}` | one room (private ones too), with its latest tick statistics; for an admin caller also its `roster` (player id, name, connected) |
//! | `POST /api/rooms` | create a room from a [`RoomSpec`] (admin) |
//! | `DELETE /api/rooms/{id}` | close a room; its sessions get 4016 (admin) |
//! | `POST /api/rooms/{id}/kick` | remove a player (`{"player_id"}`) at once: seat freed, no resume, its session gets 4017 (admin) |
//! | `POST /api/rooms/{id}/join` | reserve a seat: a signed, expiring join token and the WebSocket URL |
//! | `GET /api/nodes` | the nodes of the cluster with their load (this one alone without `--redis`) |
//!
//! In a cluster ([`crate::cluster`]) any node answers for every node's rooms: the
//! listing is the cluster's, a room is created on the least filled node (or the one
//! `?node=` names), and a join, a read, a kick or a close of another node's room is
//! carried to that node, which stays the only authority on its seats. The reservation's
//! URL is the hosting node's. Cluster operations answer 503 `cluster_unavailable` while
//! Redis is unreachable, 503 `node_unreachable` or 504 `cluster_timeout` when the hosting
//! node does not answer; this node's own rooms are served without Redis.
//!
//! Errors are JSON, `{"error": "<kind>", "message": "<text>"}`: 400 bad request (a spec
//! field out of range adds `field`, `min` and `max`), 401 admin token missing or wrong,
//! 403 admin actions locked (an exposed server without an admin token), 404 unknown
//! room (or `unknown_player`: a kick of a player the room does not have), 409 room full
//! or id taken, 429 per-address limits (with `Retry-After`), 503 shutting down, too many
//! rooms, the entity budget spent or no node to place a room on (`no_node`). "Admin"
//! routes need
//! `Authorization: Bearer <--admin-token>` when one is configured; so does a join that
//! names its own player id (otherwise anyone could take over someone else's player), and
//! so does seeing a room's roster, which lists player ids. A kick is not limited per
//! address: it frees a seat, it costs the server nothing.
//! Requests without the admin token are limited per address ([`crate::http::guard`]); every
//! refusal by a limit, a lock, the admin token, a spec's ranges or a full room is counted
//! (`tickwire_api_refusals_total`).

// Request bodies and paths are peer data: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::cluster::records::{NodeInfo, NodeLoad, place};
use crate::cluster::rpc::{Op, WireError};
use crate::cluster::{Cluster, ClusterError, Local};
use crate::control::config::{
    ConfigError, Maps, RoomLimits, RoomSettings, RoomSpec, entity_weight, valid_player_id,
};
use crate::control::registry::{Origin, RegistryError, RoomRegistry};
use crate::control::tokens::{JoinClaims, TokenKeys, random_nonce, unix_now};
use crate::http::guard::ApiGuard;
use crate::obs::counters::{ApiRefusal, Counters};
use crate::room::stats::RoomStats;
use crate::room::{RoomError, RoomHandle, RosterEntry, Seats};

/// What the API handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub registry: Arc<RoomRegistry>,
    pub keys: Arc<TokenKeys>,
    pub template: Arc<RoomSettings>,
    pub maps: Arc<Maps>,
    pub limits: RoomLimits,
    pub admin_token: Option<Arc<str>>,
    pub join_token_ttl: Duration,
    /// `wss://host` or `ws://host` to build WebSocket URLs with; from the request's Host
    /// header when absent.
    pub public_url: Option<Arc<str>>,
    pub tls: bool,
    pub guard: Arc<ApiGuard>,
    pub counters: Arc<Counters>,
    /// This node's id (`--node-id`).
    pub node_id: Arc<str>,
    /// The cluster this node belongs to (`--redis`).
    pub cluster: Option<Arc<Cluster>>,
    /// Cancelled when the server starts to shut down: the node is draining.
    pub shutdown: CancellationToken,
}

/// A room as `GET /api/rooms` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub id: String,
    pub name: String,
    /// The game the room runs.
    pub game: String,
    pub map: String,
    /// Players with a connected session.
    pub players: u32,
    /// Players whose connection was lost, kept for a resume (they hold a seat).
    pub held: u32,
    /// Seats reserved by join tokens not used yet.
    pub reserved: u32,
    pub max_players: u32,
    pub tick_rate: u16,
    pub snapshot_rate: u16,
    pub drones: u32,
    /// Area of interest radius, metres.
    pub aoi_radius: f64,
    pub private: bool,
    /// The room `/ws` joins without `?room=`.
    pub default: bool,
    /// `config` (rooms file or default room: stays) or `api` (closes when idle).
    pub origin: String,
    /// The node that hosts the room (`--node-id`).
    pub node: String,
    /// How the room's ticks went in its latest statistics interval.
    #[serde(default)]
    pub load: RoomLoad,
}

/// A room's latest tick summary, as listed (the console shows it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomLoad {
    /// Wall-clock tick duration, 99th percentile, ms.
    pub tick_ms_p99: f64,
    /// How late ticks started, 99th percentile, ms.
    pub lateness_ms_p99: f64,
    /// Bytes handed to the room's clients per second.
    pub bytes_out_per_s: f64,
}

/// `POST /api/rooms` query.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateQuery {
    /// The node to create the room on (in a cluster); the least filled one when absent.
    pub node: Option<String>,
}

/// `GET /api/rooms/{id}`: the listing plus the room's latest tick summary, and for a
/// caller who may administer the server its roster.
#[derive(Debug, Clone, Serialize)]
pub struct RoomDetail {
    #[serde(flatten)]
    pub room: RoomInfo,
    pub tick: u32,
    pub stats: RoomStats,
    /// The players in the room, connected or held for a resume. Player ids let whoever
    /// knows them take a player over (a join naming it), so only admin callers see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roster: Option<Vec<RosterEntry>>,
}

/// `POST /api/rooms/{id}/kick` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KickRequest {
    /// The player to remove (a roster entry's `player_id`).
    pub player_id: String,
}

/// `POST /api/rooms/{id}/join` body (optional).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// The player's id (your account id, say): the same id joining again takes back
    /// its player. Needs the admin token when one is configured. Made up when absent.
    pub player_id: Option<String>,
}

/// A seat reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinResponse {
    pub room: String,
    pub player_id: String,
    /// Send it in `Hello.join_token` on the WebSocket at `url`; valid once, until
    /// `expires_at`.
    pub token: String,
    pub url: String,
    /// Unix seconds.
    pub expires_at: u64,
    pub expires_in_s: u64,
    /// The node that hosts the room; `url` is on it.
    pub node: String,
}

/// An API error: status and JSON body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    /// Boxed: errors travel in every handler's `Result`, keep that small.
    body: Box<ErrorBody>,
    /// Seconds for `Retry-After`.
    retry_after: Option<u64>,
}

/// An error's JSON body. A spec field out of range adds the field and its range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<serde_json::Number>,
}

/// A bound as JSON: an integer when it is one (`1000`, not `1000.0`).
fn number(x: f64) -> Option<serde_json::Number> {
    if x.fract() == 0.0 && x.abs() < 9e15 {
        Some(serde_json::Number::from(x as i64))
    } else {
        serde_json::Number::from_f64(x)
    }
}

impl ApiError {
    fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: Box::new(ErrorBody {
                error: kind.to_owned(),
                message: message.into(),
                field: None,
                min: None,
                max: None,
            }),
            retry_after: None,
        }
    }

    /// The error kind (`room_full`, ...).
    pub fn kind(&self) -> &str {
        &self.body.error
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error as it crosses the cluster to the node that asked.
    fn to_wire(&self) -> WireError {
        WireError {
            status: self.status.as_u16(),
            body: serde_json::to_value(&self.body).unwrap_or(Value::Null),
            retry_after: self.retry_after,
        }
    }

    /// Another node's answer, answered in turn.
    fn from_wire(wire: WireError) -> ApiError {
        let body = serde_json::from_value(wire.body).unwrap_or_else(|_| {
            Box::new(ErrorBody {
                error: "bad_gateway".to_owned(),
                message: "the hosting node's answer does not decode".to_owned(),
                field: None,
                min: None,
                max: None,
            })
        });
        ApiError {
            status: StatusCode::from_u16(wire.status).unwrap_or(StatusCode::BAD_GATEWAY),
            body,
            retry_after: wire.retry_after,
        }
    }

    /// A refusal by the per-address guards, counted.
    fn refused(why: ApiRefusal, counters: &Counters, join_token_ttl: Duration) -> ApiError {
        counters.api_refused(why);
        let (kind, message, retry_after) = match why {
            ApiRefusal::JoinRateLimited => (
                "rate_limited",
                "too many seat reservations from your address (--api-join-rate)",
                1,
            ),
            ApiRefusal::CreateRateLimited => (
                "rate_limited",
                "too many rooms created from your address (--api-create-rate per minute)",
                60,
            ),
            ApiRefusal::DeleteRateLimited => (
                "rate_limited",
                "too many rooms closed or players kicked from your address (--api-delete-rate per minute)",
                60,
            ),
            _ => (
                "too_many_reservations",
                "your address holds its allowance of unused seat reservations (--ip-room-reservations, --ip-reservations): use them or let them expire",
                join_token_ttl.as_secs().max(1),
            ),
        };
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, kind, message)
        }
    }

    /// A room spec the limits refuse, naming the field and its range when one is out.
    fn invalid_room(e: ConfigError) -> ApiError {
        let mut error = ApiError::new(StatusCode::BAD_REQUEST, "invalid_room", e.to_string());
        if let ConfigError::OutOfRange(r) = &e {
            error.body.field = Some(r.field.to_owned());
            error.body.min = number(r.min);
            error.body.max = number(r.max);
        }
        error
    }

    fn unknown_player(room: &str, player: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_player",
            format!("room {room:?} has no player {player:?}"),
        )
    }

    fn unknown_room(id: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_room",
            format!("no room {id:?}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(*self.body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> ApiError {
        let (status, kind) = match e {
            RegistryError::Config(e) => return ApiError::invalid_room(e),
            RegistryError::Unknown(_) => (StatusCode::NOT_FOUND, "unknown_room"),
            RegistryError::Exists(_) => (StatusCode::CONFLICT, "room_exists"),
            RegistryError::TooMany(_) => (StatusCode::SERVICE_UNAVAILABLE, "too_many_rooms"),
            RegistryError::EntityBudget { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "entity_budget")
            }
            RegistryError::Room(_) => (StatusCode::INTERNAL_SERVER_ERROR, "room_failed"),
            RegistryError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
        };
        ApiError::new(status, kind, e.to_string())
    }
}

impl From<ClusterError> for ApiError {
    fn from(e: ClusterError) -> ApiError {
        let (status, kind) = match e {
            ClusterError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "cluster_timeout"),
            ClusterError::Unreachable(_) => (StatusCode::SERVICE_UNAVAILABLE, "node_unreachable"),
            ClusterError::Redis(_)
            | ClusterError::Unsubscribed
            | ClusterError::Record(_)
            | ClusterError::Url(_) => (StatusCode::SERVICE_UNAVAILABLE, "cluster_unavailable"),
        };
        ApiError::new(status, kind, e.to_string())
    }
}

/// A 404 JSON answer for `/api/...` paths that name no route.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API route")
}

fn parse_json<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string()))
}

/// Compares without an early exit, so the time taken does not reveal how much of a
/// guessed token was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who is asking, as far as the API's limits are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// Presented the configured admin token: not limited per address.
    Admin,
    /// Anyone else: limited per address.
    Peer,
}

impl ApiState {
    /// Whether the request carries the configured admin token.
    fn has_admin_token(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.admin_token else {
            return false;
        };
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| same(t.trim().as_bytes(), expected.as_bytes()))
    }

    fn caller(&self, headers: &HeaderMap) -> Caller {
        if self.has_admin_token(headers) {
            Caller::Admin
        } else {
            Caller::Peer
        }
    }

    /// An admin action: locked on an exposed server without an admin token (403), else
    /// needs the token when one is configured (401), else open to anyone.
    fn require_admin(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        if self.guard.admin_locked() {
            self.counters.api_refused(ApiRefusal::AdminLocked);
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "admin_locked",
                "this server listens beyond loopback without an admin token, so creating and closing rooms and joining as a named player are off: start it with --admin-token (TICKWIRE_ADMIN_TOKEN) and send Authorization: Bearer <token>, or with --allow-open-admin on a trusted network",
            ));
        }
        match (&self.admin_token, self.caller(headers)) {
            (None, caller) | (Some(_), caller @ Caller::Admin) => Ok(caller),
            (Some(_), Caller::Peer) => {
                self.counters.api_refused(ApiRefusal::Unauthorized);
                Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "this needs the admin token: Authorization: Bearer <token>",
                ))
            }
        }
    }

    /// Whether the caller could take an admin action ([`ApiState::require_admin`] would
    /// let it through), asked without counting a refusal: for what a read shows.
    fn may_administer(&self, headers: &HeaderMap) -> bool {
        !self.guard.admin_locked() && (self.admin_token.is_none() || self.has_admin_token(headers))
    }

    /// Counts and shapes a per-address refusal.
    fn refused(&self, why: ApiRefusal) -> ApiError {
        ApiError::refused(why, &self.counters, self.join_token_ttl)
    }

    fn info(&self, room: &RoomHandle, origin: Origin) -> RoomInfo {
        let s = &room.config().settings;
        let Seats {
            players,
            held,
            reserved,
        } = room.seats();
        let load = {
            let stats = room.stats();
            let stats = stats.borrow();
            let seconds = stats.ticks as f64 / f64::from(s.tick_rate.max(1));
            RoomLoad {
                tick_ms_p99: stats.tick_ms_p99,
                lateness_ms_p99: stats.lateness_ms_p99,
                bytes_out_per_s: if seconds > 0.0 {
                    stats.bytes_out as f64 / seconds
                } else {
                    0.0
                },
            }
        };
        RoomInfo {
            id: room.id().to_owned(),
            name: s.name.clone(),
            game: s.game.clone(),
            map: s.map.name().to_owned(),
            players,
            held,
            reserved,
            max_players: s.max_players,
            tick_rate: s.tick_rate,
            snapshot_rate: s.snapshot_rate,
            drones: s.drones,
            aoi_radius: s.aoi_radius,
            private: s.private,
            default: room.id() == self.registry.default_room(),
            origin: match origin {
                Origin::Config => "config",
                Origin::Api => "api",
            }
            .to_owned(),
            node: self.node_id.to_string(),
            load,
        }
    }

    fn room(&self, id: &str) -> Result<(RoomHandle, Origin), ApiError> {
        let room = self
            .registry
            .get(id)
            .ok_or_else(|| ApiError::unknown_room(id))?;
        let origin = self.registry.origin(id).unwrap_or(Origin::Api);
        Ok((room, origin))
    }

    /// The WebSocket URL of room `id` on this node.
    fn ws_url(&self, headers: &HeaderMap, id: &str) -> String {
        let base = match &self.public_url {
            Some(url) => url
                .replacen("https://", "wss://", 1)
                .replacen("http://", "ws://", 1),
            None => {
                let host = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("localhost");
                format!("{}://{host}", if self.tls { "wss" } else { "ws" })
            }
        };
        format!("{base}/ws?room={id}")
    }

    /// This node's rooms as listed (private ones too).
    fn local_rooms(&self) -> Vec<RoomInfo> {
        self.registry
            .list()
            .iter()
            .map(|(room, origin)| self.info(room, *origin))
            .collect()
    }

    /// This node's load, counted now.
    fn load(&self) -> NodeLoad {
        let mut load = NodeLoad {
            max_rooms: u32::try_from(self.registry.max_rooms()).unwrap_or(u32::MAX),
            max_entities: self.limits.max_entities,
            ..NodeLoad::default()
        };
        for (room, _) in self.registry.list() {
            let settings = &room.config().settings;
            let seats = room.seats();
            load.rooms += 1;
            load.players += seats.players;
            load.seats += settings.max_players;
            load.free_seats += settings.max_players.saturating_sub(seats.taken());
            load.entities += entity_weight(settings);
        }
        load
    }

    /// This node as `GET /api/nodes` shows it.
    fn this_node(&self) -> NodeInfo {
        let url = match (&self.cluster, &self.public_url) {
            (Some(cluster), _) => cluster.url().to_owned(),
            (None, Some(url)) => url.to_string(),
            (None, None) => String::new(),
        };
        NodeInfo::new(
            self.node_id.to_string(),
            url,
            self.shutdown.is_cancelled(),
            self.load(),
        )
    }

    /// Runs `op` on the node that hosts its room, answering that node's answer.
    async fn remote(&self, cluster: &Cluster, node: &str, op: Op) -> Result<Value, ApiError> {
        cluster.call(node, op).await?.map_err(ApiError::from_wire)
    }

    /// The node hosting room `id`, which this node does not host: 404 outside a cluster
    /// or when no live node hosts it.
    async fn locate(&self, id: &str) -> Result<(&Arc<Cluster>, NodeInfo), ApiError> {
        let cluster = self
            .cluster
            .as_ref()
            .ok_or_else(|| ApiError::unknown_room(id))?;
        match cluster.locate(id).await? {
            Some(node) if node.id != *self.node_id => Ok((cluster, node)),
            _ => Err(ApiError::unknown_room(id)),
        }
    }

    /// Creates a room on this node from a `RoomSpec` (the `POST /api/rooms` body, or
    /// another node's request). In a cluster the id is claimed first, so it is unique.
    async fn create_here(&self, spec: Value) -> Result<RoomInfo, ApiError> {
        let counted = |e: ApiError| {
            let why = match (e.status, e.kind()) {
                (StatusCode::BAD_REQUEST, _) => Some(ApiRefusal::InvalidRoom),
                (StatusCode::SERVICE_UNAVAILABLE, "too_many_rooms" | "entity_budget") => {
                    Some(ApiRefusal::Capacity)
                }
                _ => None,
            };
            if let Some(why) = why {
                self.counters.api_refused(why);
            }
            e
        };
        let spec: RoomSpec = serde_json::from_value(spec).map_err(|e| {
            counted(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                e.to_string(),
            ))
        })?;
        if spec.default.is_some() {
            return Err(counted(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "`default` is for rooms files only",
            )));
        }
        let settings = spec
            .resolve(&self.template, &self.maps, &self.limits)
            .map_err(|e| {
                counted(match e {
                    // Not a room setting, or not of its type: the body is malformed.
                    ConfigError::RoomSpec(message) => {
                        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
                    }
                    e => ApiError::invalid_room(e),
                })
            })?;
        let id = match &self.cluster {
            None => spec.id.clone(),
            Some(cluster) => Some(self.claim(cluster, spec.id.clone()).await?),
        };
        match self.registry.create(id.clone(), settings, Origin::Api) {
            Ok(room) => {
                if let Some(cluster) = &self.cluster {
                    // The next placement sees this room (best effort: the heartbeat
                    // publishes it anyway).
                    let _ = cluster.publish(self).await;
                }
                Ok(self.info(&room, Origin::Api))
            }
            Err(e) => {
                if let (Some(cluster), Some(id)) = (&self.cluster, &id)
                    && !matches!(e, RegistryError::Exists(_))
                {
                    let _ = cluster.release(id).await;
                }
                Err(counted(e.into()))
            }
        }
    }

    /// Claims a room id in the cluster: the one asked for (409 if another node hosts
    /// it), or a new one.
    async fn claim(&self, cluster: &Cluster, id: Option<String>) -> Result<String, ApiError> {
        if let Some(id) = id {
            crate::control::config::validate_room_id(&id).map_err(ApiError::invalid_room)?;
            if self.registry.get(&id).is_some() || !cluster.claim(&id).await? {
                return Err(RegistryError::Exists(id).into());
            }
            return Ok(id);
        }
        loop {
            let id = format!("r-{:08x}", rand::random::<u32>());
            if self.registry.get(&id).is_none() && cluster.claim(&id).await? {
                return Ok(id);
            }
        }
    }

    /// Reserves a seat in room `id` of this node.
    async fn reserve_here(
        &self,
        id: &str,
        player: String,
        nonce: String,
        ttl: Duration,
    ) -> Result<(), ApiError> {
        let (room, _) = self.room(id)?;
        match room.reserve(player, nonce, ttl).await {
            Ok(()) => Ok(()),
            Err(RoomError::Full) => {
                self.counters.api_refused(ApiRefusal::RoomFull);
                let s = &room.config().settings;
                Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "room_full",
                    format!(
                        "room {id:?} is full: its {} seats are taken or reserved",
                        s.max_players
                    ),
                ))
            }
            Err(_) => Err(ApiError::unknown_room(id)),
        }
    }

    /// Room `id` of this node, with its latest tick summary, and its roster if `roster`.
    fn detail_here(&self, id: &str, roster: bool) -> Result<RoomDetail, ApiError> {
        let (room, origin) = self.room(id)?;
        let stats = room.stats().borrow().clone();
        Ok(RoomDetail {
            room: self.info(&room, origin),
            tick: room.current_tick(),
            stats,
            roster: roster.then(|| room.roster().to_vec()),
        })
    }

    /// Removes `player` from room `id` of this node; answered once the room has.
    async fn kick_here(&self, id: &str, player: &str) -> Result<(), ApiError> {
        let (room, _) = self.room(id)?;
        match room.kick(player.to_owned()).await {
            Ok(true) => {
                Counters::inc(&self.counters.kicks_total);
                tracing::info!(room = %id, player = %player, "player kicked by the operator");
                Ok(())
            }
            Ok(false) => Err(ApiError::unknown_player(id, player)),
            Err(_) => Err(ApiError::unknown_room(id)),
        }
    }

    /// Closes room `id` of this node, and unlists it in the cluster at once.
    async fn delete_here(&self, id: &str) -> Result<(), ApiError> {
        self.registry.remove(id)?;
        if let Some(cluster) = &self.cluster
            && let Err(e) = cluster.release(id).await
        {
            // The next heartbeat unlists it anyway.
            tracing::debug!(room = %id, error = %e, "could not release a room id");
        }
        Ok(())
    }
}

fn json_value<T: Serialize>(value: &T) -> Result<Value, WireError> {
    serde_json::to_value(value).map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()).to_wire()
    })
}

impl Local for ApiState {
    fn status(&self) -> (NodeLoad, Vec<RoomInfo>) {
        (self.load(), self.local_rooms())
    }

    fn handle(
        &self,
        op: Op,
    ) -> Pin<Box<dyn Future<Output = Result<Value, WireError>> + Send + 'static>> {
        let api = self.clone();
        Box::pin(async move {
            let wire = |e: ApiError| e.to_wire();
            match op {
                Op::Create { spec } => json_value(&api.create_here(spec).await.map_err(wire)?),
                Op::Reserve {
                    room,
                    player,
                    nonce,
                    ttl_s,
                } => {
                    let ttl = Duration::from_secs(ttl_s);
                    api.reserve_here(&room, player, nonce, ttl)
                        .await
                        .map_err(wire)?;
                    Ok(Value::Null)
                }
                Op::Detail { room, roster } => {
                    json_value(&api.detail_here(&room, roster).map_err(wire)?)
                }
                Op::Delete { room } => {
                    api.delete_here(&room).await.map_err(wire)?;
                    Ok(Value::Null)
                }
                Op::Kick { room, player } => {
                    api.kick_here(&room, &player).await.map_err(wire)?;
                    Ok(Value::Null)
                }
            }
        })
    }
}

/// `GET /api/rooms`: this node's listed rooms, or in a cluster every live node's.
pub async fn list(State(api): State<ApiState>) -> Result<Json<Vec<RoomInfo>>, ApiError> {
    let mut rooms = api.local_rooms();
    if let Some(cluster) = &api.cluster {
        let (_, others) = cluster.rooms().await?;
        // This node's own rooms as they are now, not as of its last heartbeat.
        rooms.extend(others.into_iter().filter(|r| r.node != *api.node_id));
        rooms.sort_by(|a, b| (&a.node, &a.id).cmp(&(&b.node, &b.id)));
    }
    rooms.retain(|r| !r.private);
    Ok(Json(rooms))
}

/// `GET /api/nodes`: every live node of the cluster, or this one alone.
pub async fn nodes(State(api): State<ApiState>) -> Result<Json<Vec<NodeInfo>>, ApiError> {
    let this = api.this_node();
    let Some(cluster) = &api.cluster else {
        return Ok(Json(vec![this]));
    };
    let mut nodes: Vec<NodeInfo> = cluster
        .nodes()
        .await?
        .into_iter()
        .filter(|n| n.id != this.id)
        .collect();
    nodes.push(this);
    nodes.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Json(nodes))
}

/// `GET /api/rooms/{id}`: with the roster for a caller who may administer the server.
pub async fn get(
    State(api): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let roster = api.may_administer(&headers);
    if api.registry.get(&id).is_some() {
        return Ok(Json(api.detail_here(&id, roster)?).into_response());
    }
    let (cluster, node) = api.locate(&id).await?;
    let detail = api
        .remote(cluster, &node.id, Op::Detail { room: id, roster })
        .await?;
    Ok(Json(detail).into_response())
}

/// `POST /api/rooms`
pub async fn create(
    State(api): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<CreateQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if api.require_admin(&headers)? == Caller::Peer {
        api.guard
            .create(peer.ip())
            .map_err(|why| api.refused(why))?;
    }
    let spec: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            api.counters.api_refused(ApiRefusal::InvalidRoom);
            ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string())
        })?
    };
    match &api.cluster {
        None => {
            if let Some(node) = query.node.as_ref().filter(|n| **n != *api.node_id) {
                return Err(no_node(&format!(
                    "no node {node:?}: this server is not in a cluster"
                )));
            }
        }
        Some(cluster) => {
            let mut nodes = cluster.nodes().await?;
            // This node as it is now: its record may be a heartbeat old.
            nodes.retain(|n| n.id != *api.node_id);
            nodes.push(api.this_node());
            let target = place(&nodes, query.node.as_deref()).ok_or_else(|| {
                no_node(&match &query.node {
                    Some(node) => format!("node {node:?} is not live, is draining or is full"),
                    None => "every live node is draining or full".to_owned(),
                })
            })?;
            if target.id != *api.node_id {
                let info = api.remote(cluster, &target.id, Op::Create { spec }).await?;
                return Ok((StatusCode::CREATED, Json(info)).into_response());
            }
        }
    }
    let info = api.create_here(spec).await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

fn no_node(message: &str) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_node", message)
}

/// `DELETE /api/rooms/{id}`
pub async fn delete(
    State(api): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if api.require_admin(&headers)? == Caller::Peer {
        api.guard
            .delete(peer.ip())
            .map_err(|why| api.refused(why))?;
    }
    if api.registry.get(&id).is_some() {
        api.delete_here(&id).await?;
    } else {
        let (cluster, node) = api.locate(&id).await?;
        api.remote(cluster, &node.id, Op::Delete { room: id })
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/rooms/{id}/kick`: carried to the node hosting the room, whose room
/// removes the player.
pub async fn kick(
    State(api): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    // Open without an admin token (loopback, --allow-open-admin): then limited per
    // address like closing rooms, which it resembles.
    if api.require_admin(&headers)? == Caller::Peer {
        api.guard
            .delete(peer.ip())
            .map_err(|why| api.refused(why))?;
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "a body {\"player_id\": \"...\"} is expected",
        ));
    }
    let request: KickRequest = parse_json(&body)?;
    let player = request.player_id;
    if !valid_player_id(&player) {
        return Err(ApiError::unknown_player(&id, &player));
    }
    if api.registry.get(&id).is_some() {
        api.kick_here(&id, &player).await?;
    } else {
        let (cluster, node) = api.locate(&id).await?;
        api.remote(cluster, &node.id, Op::Kick { room: id, player })
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/rooms/{id}/join`
pub async fn join(
    State(api): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<JoinResponse>, ApiError> {
    // Where the room is, before anything is counted against the caller.
    let remote = if api.registry.get(&id).is_some() {
        None
    } else {
        Some(api.locate(&id).await?)
    };
    let request: JoinRequest = parse_json(&body)?;
    let (player, caller) = match request.player_id {
        Some(player) => {
            if !valid_player_id(&player) {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "player_id: 1 to 64 ASCII letters, digits or -_.@: expected",
                ));
            }
            let caller = api.require_admin(&headers)?;
            (player, caller)
        }
        None => (
            format!("p-{:016x}", rand::random::<u64>()),
            api.caller(&headers),
        ),
    };
    let nonce = random_nonce();
    let ttl = api.join_token_ttl;
    if caller == Caller::Peer {
        let now = Instant::now();
        api.guard
            .reserve(peer.ip(), &id, &nonce, now + ttl, now)
            .map_err(|why| api.refused(why))?;
    }
    let reserved = match &remote {
        None => api
            .reserve_here(&id, player.clone(), nonce.clone(), ttl)
            .await
            .map(|()| (api.ws_url(&headers, &id), api.node_id.to_string())),
        Some((cluster, node)) => {
            let op = Op::Reserve {
                room: id.clone(),
                player: player.clone(),
                nonce: nonce.clone(),
                ttl_s: ttl.as_secs(),
            };
            api.remote(cluster, &node.id, op)
                .await
                .map(|_| (node.ws_url(&id), node.id.clone()))
        }
    };
    let (url, node) = reserved.inspect_err(|_| api.guard.cancel(&nonce))?;
    let expires_at = unix_now() + ttl.as_secs();
    let token = api.keys.sign_join(&JoinClaims {
        room: id.clone(),
        player: player.clone(),
        exp: expires_at,
        nonce,
    });
    Ok(Json(JoinResponse {
        url,
        room: id,
        player_id: player,
        token,
        expires_at,
        expires_in_s: ttl.as_secs(),
        node,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison_needs_every_byte() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secret", b"secreT"));
        assert!(!same(b"secret", b"secret!"));
        assert!(!same(b"", b"x"));
    }
}
