//! What the directory holds about nodes, and where a new room goes.
//!
//! A node's record is its [`NodeInfo`], rewritten every heartbeat; its rooms are the
//! [`crate::http::api::RoomInfo`]s `GET /api/rooms` lists. Placement ([`place`]) is a
//! pure choice over the live nodes' records, so it is tested without Redis.

use serde::{Deserialize, Serialize};

/// A node's load, as the node itself counts it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeLoad {
    /// Rooms it hosts, and at most (`--max-rooms`).
    pub rooms: u32,
    pub max_rooms: u32,
    /// Players with a connected session, in all its rooms.
    pub players: u32,
    /// Seats of all its rooms (their `max_players`), and those neither taken, held nor
    /// reserved.
    pub seats: u32,
    pub free_seats: u32,
    /// Entity weight of its rooms (drones + seats), and its budget (`--max-entities`).
    pub entities: u64,
    pub max_entities: u64,
}

impl NodeLoad {
    /// The fuller of its two budgets, rooms and entities: 0 empty, 1 full.
    pub fn fill(&self) -> f64 {
        let rooms = f64::from(self.rooms) / f64::from(self.max_rooms.max(1));
        let entities = self.entities as f64 / (self.max_entities.max(1) as f64);
        rooms.max(entities)
    }
}

/// A node as the directory and `GET /api/nodes` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// `--node-id`.
    pub id: String,
    /// Base URL clients reach it at (`--public-url`): join reservations of its rooms
    /// point there.
    pub url: String,
    /// Shutting down: no new room is placed on it.
    pub draining: bool,
    #[serde(flatten)]
    pub load: NodeLoad,
    /// [`NodeLoad::fill`], for whoever reads the record.
    pub fill: f64,
}

impl NodeInfo {
    pub fn new(id: String, url: String, draining: bool, load: NodeLoad) -> NodeInfo {
        NodeInfo {
            id,
            url,
            draining,
            fill: load.fill(),
            load,
        }
    }

    /// The WebSocket URL of its room `room`.
    pub fn ws_url(&self, room: &str) -> String {
        let base = self
            .url
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1);
        format!("{base}/ws?room={room}")
    }
}

/// The node a new room goes to: the one named, if it is live and not draining; else the
/// least filled live node that is not draining and has a room to spare (ties: fewer
/// players, then the id, so the choice is stable). `None` when no node qualifies.
pub fn place<'a>(nodes: &'a [NodeInfo], named: Option<&str>) -> Option<&'a NodeInfo> {
    let open = |n: &&NodeInfo| !n.draining && n.load.rooms < n.load.max_rooms;
    match named {
        Some(id) => nodes.iter().find(|n| n.id == id).filter(open),
        None => nodes.iter().filter(open).min_by(|a, b| {
            a.fill
                .total_cmp(&b.fill)
                .then(a.load.players.cmp(&b.load.players))
                .then(a.id.cmp(&b.id))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, rooms: u32, players: u32, draining: bool) -> NodeInfo {
        NodeInfo::new(
            id.to_owned(),
            format!("http://{id}:8080"),
            draining,
            NodeLoad {
                rooms,
                max_rooms: 10,
                players,
                seats: 0,
                free_seats: 0,
                entities: u64::from(rooms) * 10,
                max_entities: 1000,
            },
        )
    }

    #[test]
    fn the_least_filled_open_node_gets_the_room() {
        let nodes = [
            node("a", 5, 0, false),
            node("b", 2, 40, false),
            node("c", 1, 0, true),
            node("d", 2, 10, false),
        ];
        // c is emptiest but draining; b and d tie on rooms, d has fewer players.
        assert_eq!(place(&nodes, None).map(|n| n.id.as_str()), Some("d"));
        assert_eq!(place(&nodes, Some("a")).map(|n| n.id.as_str()), Some("a"));
        assert_eq!(place(&nodes, Some("c")), None, "draining");
        assert_eq!(place(&nodes, Some("zz")), None, "unknown");
    }

    #[test]
    fn full_or_draining_nodes_take_nothing() {
        let nodes = [node("a", 10, 0, false), node("b", 0, 0, true)];
        assert_eq!(place(&nodes, None), None);
        assert_eq!(place(&nodes, Some("a")), None);
    }

    #[test]
    fn the_fuller_budget_counts() {
        let mut heavy = node("a", 1, 0, false);
        heavy.load.entities = 900;
        let heavy = NodeInfo::new(heavy.id, heavy.url, false, heavy.load);
        assert!((heavy.fill - 0.9).abs() < 1e-9);
        let light = node("b", 3, 0, false);
        assert_eq!(
            place(&[heavy, light], None).map(|n| n.id.as_str()),
            Some("b")
        );
    }

    #[test]
    fn a_room_url_follows_the_node_scheme() {
        let mut n = node("a", 0, 0, false);
        assert_eq!(n.ws_url("r1"), "ws://a:8080/ws?room=r1");
        n.url = "https://game.example.com".into();
        assert_eq!(n.ws_url("r1"), "wss://game.example.com/ws?room=r1");
    }
}
