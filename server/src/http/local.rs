//! What a node does with its own rooms for the API: list them with their load, create,
//! reserve, read, kick and close. The handlers ([`super::api`]) call these for a room
//! this node hosts; in a cluster, other nodes' requests ([`Op`]) reach them through
//! [`Local`].

// Room specs and ids from peers and other nodes flow through here.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use serde_json::Value;

use super::api::ApiState;
use super::error::ApiError;
use super::types::{RoomDetail, RoomInfo, RoomLoad};
use crate::cluster::records::{NodeInfo, NodeLoad};
use crate::cluster::rpc::{Op, WireError};
use crate::cluster::{Cluster, Local};
use crate::control::config::{ConfigError, RoomSpec, entity_weight};
use crate::control::registry::{Origin, RegistryError};
use crate::obs::counters::{ApiRefusal, Counters};
use crate::room::{RoomError, RoomHandle, Seats};

impl ApiState {
    pub(crate) fn info(&self, room: &RoomHandle, origin: Origin) -> RoomInfo {
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

    pub(crate) fn room(&self, id: &str) -> Result<(RoomHandle, Origin), ApiError> {
        let room = self
            .registry
            .get(id)
            .ok_or_else(|| ApiError::unknown_room(id))?;
        let origin = self.registry.origin(id).unwrap_or(Origin::Api);
        Ok((room, origin))
    }

    /// The WebSocket URL of room `id` on this node.
    pub(crate) fn ws_url(&self, headers: &HeaderMap, id: &str) -> String {
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

    /// This node's open rooms as listed (private ones too). A closed room (deleted,
    /// or every room of a draining node) is not: nobody can join it any more.
    pub(crate) fn local_rooms(&self) -> Vec<RoomInfo> {
        self.registry
            .list()
            .iter()
            .filter(|(room, _)| !room.is_closed())
            .map(|(room, origin)| self.info(room, *origin))
            .collect()
    }

    /// This node's load, counted now.
    pub(crate) fn load(&self) -> NodeLoad {
        let mut load = NodeLoad {
            max_rooms: u32::try_from(self.registry.max_rooms()).unwrap_or(u32::MAX),
            max_entities: self.limits.max_entities,
            ..NodeLoad::default()
        };
        for (room, _) in self.registry.list() {
            if room.is_closed() {
                continue;
            }
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
    pub(crate) fn this_node(&self) -> NodeInfo {
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
    pub(crate) async fn remote(
        &self,
        cluster: &Cluster,
        node: &str,
        op: Op,
    ) -> Result<Value, ApiError> {
        cluster.call(node, op).await?.map_err(ApiError::from_wire)
    }

    /// The node hosting room `id`, which this node does not host: 404 outside a cluster
    /// or when no live node hosts it.
    pub(crate) async fn locate(&self, id: &str) -> Result<(&Arc<Cluster>, NodeInfo), ApiError> {
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
    pub(crate) async fn create_here(&self, spec: Value) -> Result<RoomInfo, ApiError> {
        let counted = |e: ApiError| {
            let why = match (e.status(), e.kind()) {
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
    pub(crate) async fn claim(
        &self,
        cluster: &Cluster,
        id: Option<String>,
    ) -> Result<String, ApiError> {
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
    /// `peer`: the caller's address, held to its allowance of unused reservations
    /// (none for an admin caller). This node keeps that ledger for its rooms, whichever
    /// node the caller asked, because the token is used here.
    pub(crate) async fn reserve_here(
        &self,
        id: &str,
        player: String,
        nonce: String,
        ttl: Duration,
        peer: Option<IpAddr>,
    ) -> Result<(), ApiError> {
        let (room, _) = self.room(id)?;
        if let Some(ip) = peer {
            let now = Instant::now();
            self.guard
                .hold(ip, id, &nonce, now + ttl, now)
                .map_err(|why| self.refused(why))?;
        }
        let reserved = room.reserve(player, nonce.clone(), ttl).await;
        if reserved.is_err() {
            self.guard.cancel(&nonce);
        }
        match reserved {
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
    pub(crate) fn detail_here(&self, id: &str, roster: bool) -> Result<RoomDetail, ApiError> {
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
    pub(crate) async fn kick_here(&self, id: &str, player: &str) -> Result<(), ApiError> {
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
    pub(crate) async fn delete_here(&self, id: &str) -> Result<(), ApiError> {
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
                    peer,
                } => {
                    // Another node's word, not trusted to be sane: at most this node's
                    // own token lifetime (which also keeps `Instant` arithmetic safe).
                    let ttl = Duration::from_secs(ttl_s).min(api.join_token_ttl);
                    api.reserve_here(&room, player, nonce, ttl, peer)
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
