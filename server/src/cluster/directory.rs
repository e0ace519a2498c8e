//! The directory in Redis: which nodes are live, what rooms each hosts, who owns a
//! room id. Every key lives under the cluster's prefix (`--cluster`, `tickwire` by
//! default):
//!
//! | key | type | what | expires |
//! | --- | --- | --- | --- |
//! | `P:nodes` | set | ids of nodes that have registered | pruned when a node's record is gone |
//! | `P:node:ID` | string | the node's [`NodeInfo`] as JSON | [`NODE_TTL`](super::NODE_TTL) |
//! | `P:rooms:ID` | hash | room id → its `RoomInfo` JSON, for the node's rooms | the same |
//! | `P:room:ROOM` | string | the id of the node that hosts ROOM: room ids are unique in the cluster | the same |
//! | `P:rpc:ID` | channel | requests to the node ([`super::rpc`]) | — |
//! | `P:reply:ID` | channel | answers to the node's requests | — |
//!
//! A heartbeat rewrites a node's record, its rooms and its room claims in one script,
//! so a node that stops heartbeating (killed, cut off) leaves the directory, rooms and
//! all, when its keys expire; a node that comes back, or a Redis that restarted empty,
//! is whole again after one heartbeat.

use std::collections::HashMap;

use redis::aio::ConnectionManager;

use super::ClusterError;
use super::records::NodeInfo;
use crate::http::api::RoomInfo;

/// The keys of one cluster.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_owned(),
        }
    }
    pub fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }
    pub fn node(&self, id: &str) -> String {
        format!("{}:node:{id}", self.prefix)
    }
    pub fn rooms(&self, node: &str) -> String {
        format!("{}:rooms:{node}", self.prefix)
    }
    /// The prefix of room claims; a claim is this plus the room id.
    pub fn room_prefix(&self) -> String {
        format!("{}:room:", self.prefix)
    }
    pub fn room(&self, id: &str) -> String {
        format!("{}{id}", self.room_prefix())
    }
    pub fn rpc(&self, node: &str) -> String {
        format!("{}:rpc:{node}", self.prefix)
    }
    pub fn reply(&self, node: &str) -> String {
        format!("{}:reply:{node}", self.prefix)
    }
}

/// KEYS: node record, nodes set, rooms hash. ARGV: node id, TTL in ms, node JSON, room
/// claim prefix, then room id and room JSON pairs. Returns the room ids another node
/// owns (not published). The claims of rooms the node listed last time and no longer
/// hosts (closed, reaped when idle) are released, so their ids are free at once.
const HEARTBEAT: &str = r"
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl)
redis.call('SADD', KEYS[2], ARGV[1])
local now = {}
for i = 5, #ARGV, 2 do
  now[ARGV[i]] = true
end
for _, room in ipairs(redis.call('HKEYS', KEYS[3])) do
  if not now[room] then
    local claim = ARGV[4] .. room
    if redis.call('GET', claim) == ARGV[1] then
      redis.call('DEL', claim)
    end
  end
end
redis.call('DEL', KEYS[3])
local taken = {}
for i = 5, #ARGV, 2 do
  local claim = ARGV[4] .. ARGV[i]
  local owner = redis.call('GET', claim)
  if owner == false or owner == ARGV[1] then
    redis.call('SET', claim, ARGV[1], 'PX', ttl)
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  else
    table.insert(taken, ARGV[i])
  end
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return taken
";

/// KEYS: room claim, the node's rooms hash. ARGV: node id, room id. Drops the claim if
/// the node holds it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
";

/// KEYS: node record, nodes set, rooms hash. ARGV: node id, claim prefix. Removes the
/// node and releases every claim it holds.
const LEAVE: &str = r"
local rooms = redis.call('HKEYS', KEYS[3])
for _, room in ipairs(rooms) do
  local claim = ARGV[2] .. room
  if redis.call('GET', claim) == ARGV[1] then
    redis.call('DEL', claim)
  end
end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('SREM', KEYS[2], ARGV[1])
return #rooms
";

/// Publishes a node's record and rooms, and renews its room claims, for `ttl_ms`.
/// Returns the ids of rooms another node claims (a conflict the node logs).
pub async fn heartbeat(
    redis: &mut ConnectionManager,
    keys: &Keys,
    node: &NodeInfo,
    rooms: &[RoomInfo],
    ttl_ms: u64,
) -> Result<Vec<String>, ClusterError> {
    let script = redis::Script::new(HEARTBEAT);
    let mut call = script.prepare_invoke();
    call.key(keys.node(&node.id))
        .key(keys.nodes())
        .key(keys.rooms(&node.id))
        .arg(&node.id)
        .arg(ttl_ms)
        .arg(serde_json::to_string(node)?)
        .arg(keys.room_prefix());
    for room in rooms {
        call.arg(&room.id).arg(serde_json::to_string(room)?);
    }
    Ok(call.invoke_async(redis).await?)
}

/// KEYS: room claim. ARGV: node id, TTL in ms. Claims the id unless another node
/// holds it (a claim of this node's own is taken again: the caller checked that the
/// node hosts no such room now).
const CLAIM: &str = r"
local owner = redis.call('GET', KEYS[1])
if owner == false or owner == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
  return 1
end
return 0
";

/// Claims room id `room` for `node` unless another node holds it. True if claimed.
pub async fn claim(
    redis: &mut ConnectionManager,
    keys: &Keys,
    node: &str,
    room: &str,
    ttl_ms: u64,
) -> Result<bool, ClusterError> {
    let claimed: i64 = redis::Script::new(CLAIM)
        .key(keys.room(room))
        .arg(node)
        .arg(ttl_ms)
        .invoke_async(redis)
        .await?;
    Ok(claimed == 1)
}

/// How many connections listen on channel `channel` (`PUBSUB NUMSUB`).
pub async fn listeners(redis: &mut ConnectionManager, channel: &str) -> Result<u64, ClusterError> {
    let counts: Vec<(String, u64)> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async(redis)
        .await?;
    Ok(counts.first().map_or(0, |(_, n)| *n))
}

/// Gives up room id `room` (the room closed), and unlists it at once.
pub async fn release(
    redis: &mut ConnectionManager,
    keys: &Keys,
    node: &str,
    room: &str,
) -> Result<(), ClusterError> {
    let _: i64 = redis::Script::new(RELEASE)
        .key(keys.room(room))
        .key(keys.rooms(node))
        .arg(node)
        .arg(room)
        .invoke_async(redis)
        .await?;
    Ok(())
}

/// Takes the node out of the directory, with its rooms and claims.
pub async fn leave(
    redis: &mut ConnectionManager,
    keys: &Keys,
    node: &str,
) -> Result<(), ClusterError> {
    let _: i64 = redis::Script::new(LEAVE)
        .key(keys.node(node))
        .key(keys.nodes())
        .key(keys.rooms(node))
        .arg(node)
        .arg(keys.room_prefix())
        .invoke_async(redis)
        .await?;
    Ok(())
}

/// Every live node (its record has not expired), by id. Ids whose record expired are
/// pruned from the set.
pub async fn nodes(
    redis: &mut ConnectionManager,
    keys: &Keys,
) -> Result<Vec<NodeInfo>, ClusterError> {
    let mut ids: Vec<String> = redis::cmd("SMEMBERS")
        .arg(keys.nodes())
        .query_async(redis)
        .await?;
    ids.sort();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let records: Vec<Option<String>> = redis::cmd("MGET")
        .arg(ids.iter().map(|id| keys.node(id)).collect::<Vec<_>>())
        .query_async(redis)
        .await?;
    let mut live = Vec::with_capacity(ids.len());
    let mut gone = Vec::new();
    for (id, record) in ids.into_iter().zip(records) {
        match record.map(|r| serde_json::from_str::<NodeInfo>(&r)) {
            Some(Ok(node)) => live.push(node),
            Some(Err(e)) => tracing::warn!(node = %id, error = %e, "a node record does not decode"),
            None => gone.push(id),
        }
    }
    if !gone.is_empty() {
        let _: i64 = redis::cmd("SREM")
            .arg(keys.nodes())
            .arg(gone)
            .query_async(redis)
            .await?;
    }
    Ok(live)
}

/// The rooms of the given nodes, in node order, each node's by id.
pub async fn rooms(
    redis: &mut ConnectionManager,
    keys: &Keys,
    nodes: &[NodeInfo],
) -> Result<Vec<RoomInfo>, ClusterError> {
    if nodes.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for node in nodes {
        pipe.cmd("HGETALL").arg(keys.rooms(&node.id));
    }
    let hashes: Vec<HashMap<String, String>> = pipe.query_async(redis).await?;
    let mut rooms = Vec::new();
    for hash in hashes {
        let mut of_node: Vec<RoomInfo> = hash
            .values()
            .filter_map(|json| match serde_json::from_str(json) {
                Ok(room) => Some(room),
                Err(e) => {
                    tracing::warn!(error = %e, "a room record does not decode");
                    None
                }
            })
            .collect();
        of_node.sort_by(|a, b| a.id.cmp(&b.id));
        rooms.extend(of_node);
    }
    Ok(rooms)
}

/// The node that hosts room `room`, if the room is claimed and its node is live.
pub async fn locate(
    redis: &mut ConnectionManager,
    keys: &Keys,
    room: &str,
) -> Result<Option<NodeInfo>, ClusterError> {
    let owner: Option<String> = redis::cmd("GET")
        .arg(keys.room(room))
        .query_async(redis)
        .await?;
    let Some(owner) = owner else {
        return Ok(None);
    };
    let record: Option<String> = redis::cmd("GET")
        .arg(keys.node(&owner))
        .query_async(redis)
        .await?;
    Ok(match record {
        Some(json) => Some(serde_json::from_str(&json)?),
        None => None,
    })
}
