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
//! so does seeing a room's roster, which lists player ids. Kicks without the admin token
//! (where that is allowed) share the per-address allowance of room deletions.
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
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use super::error::{ApiError, ErrorBody};
pub use super::types::{
    CreateQuery, JoinRequest, JoinResponse, KickRequest, RoomDetail, RoomInfo, RoomLoad,
};
use crate::cluster::Cluster;
use crate::cluster::records::{NodeInfo, place};
use crate::cluster::rpc::Op;
use crate::control::config::{Maps, RoomLimits, RoomSettings, valid_player_id};
use crate::control::registry::RoomRegistry;
use crate::control::tokens::{JoinClaims, TokenKeys, random_nonce, unix_now};
use crate::http::guard::ApiGuard;
use crate::obs::counters::{ApiRefusal, Counters};

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
    pub(crate) fn refused(&self, why: ApiRefusal) -> ApiError {
        ApiError::refused(why, &self.counters, self.join_token_ttl)
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
    // The rate is checked here; the unused reservations are counted by the node hosting
    // the room (`reserve_here`), where the token will be used.
    let peer = (caller == Caller::Peer).then_some(peer.ip());
    if let Some(ip) = peer {
        api.guard.join_rate(ip).map_err(|why| api.refused(why))?;
    }
    let (url, node) = match &remote {
        None => {
            api.reserve_here(&id, player.clone(), nonce.clone(), ttl, peer)
                .await?;
            (api.ws_url(&headers, &id), api.node_id.to_string())
        }
        Some((cluster, node)) => {
            let op = Op::Reserve {
                room: id.clone(),
                player: player.clone(),
                nonce: nonce.clone(),
                ttl_s: ttl.as_secs(),
                peer,
            };
            api.remote(cluster, &node.id, op).await?;
            (node.ws_url(&id), node.id.clone())
        }
    };
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
