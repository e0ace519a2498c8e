//! Requests between nodes, carried over Redis pub/sub.
//!
//! A node that answers an API call for a room another node hosts (or places a room on
//! another node) publishes a [`Request`] on that node's `rpc` channel and waits, up to
//! [`RPC_TIMEOUT`](super::RPC_TIMEOUT), for the [`Reply`] on its own `reply` channel.
//! The hosting node runs the operation on its own rooms ([`super::Local::handle`]):
//! it stays the only authority on its seats. Messages are JSON, so `redis-cli
//! MONITOR` shows what the cluster says.

use serde::{Deserialize, Serialize};

/// What one node asks another to do with its rooms. The asking node has already
/// checked the caller (admin token, per-address limits); the hosting node checks the
/// request against its rooms and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Create a room from a `RoomSpec` (the `POST /api/rooms` body); answers its
    /// `RoomInfo`.
    Create { spec: serde_json::Value },
    /// Reserve a seat for `player` with the join token's `nonce`; answers `null`. The
    /// asking node signs the token (every node shares the join secret).
    Reserve {
        room: String,
        player: String,
        nonce: String,
        ttl_s: u64,
        /// The caller's address, whose unused reservations the hosting node keeps
        /// count of (it sees the token used); none for an admin caller.
        #[serde(default)]
        peer: Option<std::net::IpAddr>,
    },
    /// `GET /api/rooms/{id}`: answers its `RoomDetail`, with the roster when `roster`
    /// (the asking node found the caller may see player ids).
    Detail {
        room: String,
        #[serde(default)]
        roster: bool,
    },
    /// `DELETE /api/rooms/{id}`: answers `null`.
    Delete { room: String },
    /// `POST /api/rooms/{id}/kick`: removes `player` from the room; answers `null`, or
    /// 404 `unknown_player`.
    Kick { room: String, player: String },
}

/// An API error as it crosses the cluster: the status and JSON body the hosting node
/// would have answered, which the asking node answers in turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireError {
    pub status: u16,
    pub body: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// A request on a node's `rpc` channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Unique among the asking node's requests in flight.
    pub id: u64,
    /// The asking node: the answer goes to its `reply` channel.
    pub from: String,
    #[serde(flatten)]
    pub op: Op,
}

/// An answer on a node's `reply` channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub id: u64,
    pub result: Result<serde_json::Value, WireError>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_round_trip_as_json() {
        let request = Request {
            id: 7,
            from: "a".into(),
            op: Op::Reserve {
                room: "r".into(),
                player: "p".into(),
                nonce: "n".into(),
                ttl_s: 15,
                peer: Some("192.0.2.7".parse().unwrap()),
            },
        };
        let json = serde_json::to_string(&request).unwrap();
        assert!(json.contains(r#""op":"reserve""#), "{json}");
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), request);
        let kick = Request {
            id: 8,
            from: "b".into(),
            op: Op::Kick {
                room: "r".into(),
                player: "p".into(),
            },
        };
        let json = serde_json::to_string(&kick).unwrap();
        assert!(json.contains(r#""op":"kick""#), "{json}");
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), kick);
        // A node of the previous release asks for a detail without `roster`: none.
        let old: Request =
            serde_json::from_str(r#"{"id":9,"from":"c","op":"detail","room":"r"}"#).unwrap();
        assert_eq!(
            old.op,
            Op::Detail {
                room: "r".into(),
                roster: false
            }
        );
        let reply = Reply {
            id: 7,
            result: Err(WireError {
                status: 409,
                body: serde_json::json!({"error": "room_full"}),
                retry_after: None,
            }),
        };
        let json = serde_json::to_string(&reply).unwrap();
        assert_eq!(serde_json::from_str::<Reply>(&json).unwrap(), reply);
    }
}
