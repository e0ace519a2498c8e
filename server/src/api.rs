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
//! Errors are JSON, `{"error": "<kind>", "message": "<text>"}`: 400 bad request, 401 admin
//! token missing or wrong, 404 unknown room, 409 room full or id taken, 503 shutting
//! down or too many rooms. "Admin" routes need `Authorization: Bearer <--admin-token>`
//! when one is configured; so does a join that names its own player id (otherwise anyone
//! could take over someone else's player).

// Request bodies and paths are peer data: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::config::{Maps, RoomSettings, RoomSpec, valid_player_id};
use crate::room::stats::RoomStats;
use crate::room::{RoomError, RoomHandle, Seats};
use crate::rooms::{Origin, RegistryError, RoomRegistry};
use crate::tokens::{JoinClaims, TokenKeys, random_nonce, unix_now};

/// What the API handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub registry: Arc<RoomRegistry>,
    pub keys: Arc<TokenKeys>,
    pub template: Arc<RoomSettings>,
    pub maps: Arc<Maps>,
    pub admin_token: Option<Arc<str>>,
    pub join_token_ttl: Duration,
    /// `wss://host` or `ws://host` to build WebSocket URLs with; from the request's Host
    /// header when absent.
    pub public_url: Option<Arc<str>>,
    pub tls: bool,
}

/// A room as `GET /api/rooms` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub id: String,
    pub name: String,
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
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
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
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> ApiError {
        let (status, kind) = match &e {
            RegistryError::Unknown(_) => (StatusCode::NOT_FOUND, "unknown_room"),
            RegistryError::Exists(_) => (StatusCode::CONFLICT, "room_exists"),
            RegistryError::TooMany(_) => (StatusCode::SERVICE_UNAVAILABLE, "too_many_rooms"),
            RegistryError::Config(_) => (StatusCode::BAD_REQUEST, "invalid_room"),
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

impl ApiState {
    fn is_admin(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.admin_token else {
            return true;
        };
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| same(t.trim().as_bytes(), expected.as_bytes()))
    }

    fn require_admin(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if self.is_admin(headers) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this needs the admin token: Authorization: Bearer <token>",
            ))
        }
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
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    api.require_admin(&headers)?;
    let spec: RoomSpec = parse_json(&body)?;
    if spec.default.is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "`default` is for rooms files only",
        ));
    }
    let settings = spec
        .resolve(&api.template, &api.maps)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_room", e.to_string()))?;
    let room = api
        .registry
        .create(spec.id.clone(), settings, Origin::Api)?;
    Ok((StatusCode::CREATED, Json(api.info(&room, Origin::Api))).into_response())
}

/// `DELETE /api/rooms/{id}`
pub async fn delete(
    State(api): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    api.require_admin(&headers)?;
    api.registry.remove(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/rooms/{id}/join`
pub async fn join(
    State(api): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<JoinResponse>, ApiError> {
    let (room, _) = api.room(&id)?;
    let request: JoinRequest = parse_json(&body)?;
    let player = match request.player_id {
        Some(player) => {
            if !valid_player_id(&player) {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "player_id: 1 to 64 ASCII letters, digits or -_.@: expected",
                ));
            }
            api.require_admin(&headers)?;
            player
        }
        None => format!("p-{:016x}", rand::random::<u64>()),
    };
    let nonce = random_nonce();
    let ttl = api.join_token_ttl;
    match room.reserve(player.clone(), nonce.clone(), ttl).await {
        Ok(()) => {}
        Err(RoomError::Full) => {
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
        Err(_) => return Err(ApiError::unknown_room(&id)),
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
