//! The rooms API's bodies: what it lists, answers and accepts (the JSON the docs show).

use serde::{Deserialize, Serialize};

use crate::room::RosterEntry;
use crate::room::stats::RoomStats;

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

/// `POST /api/rooms` query (other parameters are ignored: a query that does not parse
/// would get axum's plain-text refusal, not the API's JSON).
#[derive(Debug, Clone, Default, Deserialize)]
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
