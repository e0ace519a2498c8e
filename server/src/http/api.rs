//! The rooms API (JSON over HTTP, on the game port):
//!
//! | route | what |
//! | --- | --- |
//! | `GET /api/rooms` | listed rooms (not private): id, name, map, seats, rates |
//! | `GET /api/rooms/{id}` | one room (private ones too), with its latest tick statistics |
//! | `POST /api/rooms` | create a room from a [`RoomSpec`] (admin) |
//! | `DELETE /api/rooms/{id}` | close a room; its sessions get 4016 (admin) |
//! | `POST /api/rooms/{id}/join` | reserve a seat: a signed, expiring join token and the WebSocket URL |
//!
//! Errors are JSON, `{"error": "<kind>", "message": "<text>"}`: 400 bad request (a spec
//! field out of range adds `field`, `min` and `max`), 401 admin token missing or wrong,
//! 403 admin actions locked (an exposed server without an admin token), 404 unknown
//! room, 409 room full or id taken, 429 per-address limits (with `Retry-After`), 503
//! shutting down, too many rooms or the entity budget spent. "Admin" routes need
//! `Authorization: Bearer <--admin-token>` when one is configured; so does a join that
//! names its own player id (otherwise anyone could take over someone else's player).
//! Requests without the admin token are limited per address ([`crate::http::guard`]); every
//! refusal by a limit, a lock, the admin token, a spec's ranges or a full room is counted
//! (`tickwire_api_refusals_total`).

// Request bodies and paths are peer data: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::control::config::{
    ConfigError, Maps, RoomLimits, RoomSettings, RoomSpec, valid_player_id,
};
use crate::control::registry::{Origin, RegistryError, RoomRegistry};
use crate::control::tokens::{JoinClaims, TokenKeys, random_nonce, unix_now};
use crate::http::guard::ApiGuard;
use crate::obs::counters::{ApiRefusal, Counters};
use crate::room::stats::RoomStats;
use crate::room::{RoomError, RoomHandle, Seats};

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
}

/// `GET /api/rooms/{id}`: the listing plus the room's latest tick summary.
#[derive(Debug, Clone, Serialize)]
pub struct RoomDetail {
    #[serde(flatten)]
    pub room: RoomInfo,
    pub tick: u32,
    pub stats: RoomStats,
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
}

/// An API error: status and JSON body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    /// The spec field out of range, with its allowed range.
    range: Option<crate::control::config::OutOfRange>,
    /// Seconds for `Retry-After`.
    retry_after: Option<u64>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<serde_json::Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max: Option<serde_json::Number>,
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
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
            range: None,
            retry_after: None,
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
                "too many rooms closed from your address (--api-delete-rate per minute)",
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
        let range = match &e {
            ConfigError::OutOfRange(r) => Some(r.clone()),
            _ => None,
        };
        ApiError {
            range,
            ..ApiError::new(StatusCode::BAD_REQUEST, "invalid_room", e.to_string())
        }
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
        let body = ErrorBody {
            error: self.kind,
            message: &self.message,
            field: self.range.as_ref().map(|r| r.field),
            min: self.range.as_ref().and_then(|r| number(r.min)),
            max: self.range.as_ref().and_then(|r| number(r.max)),
        };
        let mut response = (self.status, Json(body)).into_response();
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

    /// The WebSocket URL of room `id`.
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
}

/// `GET /api/rooms`
pub async fn list(State(api): State<ApiState>) -> Json<Vec<RoomInfo>> {
    Json(
        api.registry
            .list()
            .iter()
            .filter(|(room, _)| !room.config().settings.private)
            .map(|(room, origin)| api.info(room, *origin))
            .collect(),
    )
}

/// `GET /api/rooms/{id}`
pub async fn get(
    State(api): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<RoomDetail>, ApiError> {
    let (room, origin) = api.room(&id)?;
    let stats = room.stats().borrow().clone();
    Ok(Json(RoomDetail {
        room: api.info(&room, origin),
        tick: room.current_tick(),
        stats,
    }))
}

/// `POST /api/rooms`
pub async fn create(
    State(api): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if api.require_admin(&headers)? == Caller::Peer {
        api.guard
            .create(peer.ip())
            .map_err(|why| api.refused(why))?;
    }
    let counted = |e: ApiError| {
        let why = match (e.status, e.kind) {
            (StatusCode::BAD_REQUEST, _) => Some(ApiRefusal::InvalidRoom),
            (StatusCode::SERVICE_UNAVAILABLE, "too_many_rooms" | "entity_budget") => {
                Some(ApiRefusal::Capacity)
            }
            _ => None,
        };
        if let Some(why) = why {
            api.counters.api_refused(why);
        }
        e
    };
    let spec: RoomSpec = parse_json(&body).map_err(counted)?;
    if spec.default.is_some() {
        return Err(counted(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "`default` is for rooms files only",
        )));
    }
    let settings = spec
        .resolve(&api.template, &api.maps, &api.limits)
        .map_err(|e| {
            counted(match e {
                // Not a room setting, or not of its type: the body is malformed.
                ConfigError::RoomSpec(message) => {
                    ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
                }
                e => ApiError::invalid_room(e),
            })
        })?;
    let room = api
        .registry
        .create(spec.id.clone(), settings, Origin::Api)
        .map_err(|e| counted(e.into()))?;
    Ok((StatusCode::CREATED, Json(api.info(&room, Origin::Api))).into_response())
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
    api.registry.remove(&id)?;
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
    let (room, _) = api.room(&id)?;
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
    match room.reserve(player.clone(), nonce.clone(), ttl).await {
        Ok(()) => {}
        Err(e) => {
            api.guard.cancel(&nonce);
            if let RoomError::Full = e {
                api.counters.api_refused(ApiRefusal::RoomFull);
                let s = &room.config().settings;
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "room_full",
                    format!(
                        "room {id:?} is full: its {} seats are taken or reserved",
                        s.max_players
                    ),
                ));
            }
            return Err(ApiError::unknown_room(&id));
        }
    }
    let expires_at = unix_now() + ttl.as_secs();
    let token = api.keys.sign_join(&JoinClaims {
        room: id.clone(),
        player: player.clone(),
        exp: expires_at,
        nonce,
    });
    Ok(Json(JoinResponse {
        url: api.ws_url(&headers, &id),
        room: id,
        player_id: player,
        token,
        expires_at,
        expires_in_s: ttl.as_secs(),
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
