//! The cluster: server processes (nodes) that share a Redis and answer for each
//! other's rooms.
//!
//! - [`directory`]: what Redis holds (live nodes, their rooms, room id claims) and the
//!   heartbeat that keeps it current.
//! - [`rpc`]: requests between nodes over Redis pub/sub (create a room, reserve a
//!   seat, read or close a room on the node that hosts it).
//! - [`records`]: a node's record and where a new room goes.
//!
//! Without `--redis` there is no cluster and the server is one process, as before.
//! With it, the node publishes itself every [`HEARTBEAT`] with a [`NODE_TTL`]: a node
//! that dies leaves the directory when its keys expire. Redis going away costs a node
//! nothing but the cluster operations (they answer 503); its own rooms and direct
//! joins keep working, and the next heartbeat after Redis is back republishes it all.

pub mod directory;
pub mod records;
pub mod rpc;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use self::directory::Keys;
use self::records::{NodeInfo, NodeLoad};
use self::rpc::{Op, Reply, Request, WireError};
use crate::http::api::RoomInfo;
use crate::obs::counters::Metric;

/// How often a node republishes itself and its rooms.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a node's records outlive its last heartbeat: a node killed without a word
/// leaves the directory within this.
pub const NODE_TTL: Duration = Duration::from_secs(3);
/// How long a node waits for another's answer.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(2);
/// Each Redis command's bound, so a Redis that hangs costs an API call this much and no
/// more.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);
/// The longest pause between attempts to get the subscription back.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How a node joins a cluster (`--redis` and friends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    pub redis_url: String,
    /// Key prefix: clusters that share a Redis keep apart by it.
    pub prefix: String,
}

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the cluster directory (Redis) is unreachable: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("this node's subscription to the cluster is down; Redis may be unreachable")]
    Unsubscribed,
    #[error("a directory record does not decode: {0}")]
    Record(#[from] serde_json::Error),
    #[error("node {0:?} is not listening to the cluster")]
    Unreachable(String),
    #[error("node {node:?} did not answer within {timeout:?}")]
    Timeout { node: String, timeout: Duration },
    #[error("the Redis URL is not valid: {0}")]
    Url(String),
}

/// What a node does for the cluster: report its rooms and load, and run operations
/// other nodes ask of its rooms. Implemented by the API ([`crate::http::api::ApiState`]).
pub trait Local: Send + Sync + 'static {
    /// The node's load and its rooms as the listing shows them (private ones too: the
    /// listing filters them).
    fn status(&self) -> (NodeLoad, Vec<RoomInfo>);
    /// Runs `op` on this node's rooms.
    fn handle(
        &self,
        op: Op,
    ) -> Pin<Box<dyn Future<Output = Result<serde_json::Value, WireError>> + Send + 'static>>;
}

/// How requests to other nodes ended, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The other node answered (with a room or an API error).
    Answered,
    /// Nobody listens on its channel.
    Unreachable,
    Timeout,
    /// Redis, or this node's subscription, is down.
    Unavailable,
}

impl Outcome {
    const ALL: [Outcome; 4] = [
        Outcome::Answered,
        Outcome::Unreachable,
        Outcome::Timeout,
        Outcome::Unavailable,
    ];

    fn label(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Unreachable => "unreachable",
            Outcome::Timeout => "timeout",
            Outcome::Unavailable => "unavailable",
        }
    }
}

#[derive(Debug, Default)]
struct ClusterStats {
    /// Requests this node sent to others, by [`Outcome`].
    requests: [AtomicU64; Outcome::ALL.len()],
    /// Requests other nodes sent to this one.
    served: AtomicU64,
    /// Heartbeats that did not reach Redis.
    heartbeat_failures: AtomicU64,
}

/// A request waiting for its answer; dropping it forgets the request.
struct Pending<'a> {
    cluster: &'a Cluster,
    id: u64,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.cluster
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

/// This node's membership of the cluster.
pub struct Cluster {
    node: String,
    url: String,
    keys: Keys,
    client: redis::Client,
    redis: ConnectionManager,
    pending: Mutex<HashMap<u64, oneshot::Sender<Result<serde_json::Value, WireError>>>>,
    next_id: AtomicU64,
    /// Whether the node listens on its channels: without it, no answer would reach it.
    subscribed: AtomicBool,
    /// Woken when the heartbeat finds nobody listening on the node's channel although
    /// it thinks it is subscribed (a connection that died without a word).
    resubscribe: tokio::sync::Notify,
    /// Rooms whose id another node holds, already warned of.
    conflicts: Mutex<std::collections::BTreeSet<String>>,
    /// Whether the last heartbeat reached Redis.
    published: AtomicBool,
    /// What `/metrics` shows of the node's cluster traffic.
    stats: ClusterStats,
    /// Cancelled when the node starts to shut down: its record says it is draining.
    draining: CancellationToken,
    /// Cancelled when the node has left: heartbeats stop.
    left: CancellationToken,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node", &self.node)
            .field("url", &self.url)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// This node's membership, not yet published: [`Cluster::spawn`] starts it. Makes
    /// no connection: Redis may come up later.
    /// `draining` is cancelled when the node starts to shut down: from then on its
    /// record says so, and no room is placed on it.
    pub fn new(
        settings: &ClusterSettings,
        node: String,
        url: String,
        draining: CancellationToken,
    ) -> Result<Arc<Cluster>, ClusterError> {
        let client = redis::Client::open(settings.redis_url.as_str())
            .map_err(|e| ClusterError::Url(e.to_string()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(MAX_BACKOFF);
        let redis = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Arc::new(Cluster {
            node,
            url,
            keys: Keys::new(&settings.prefix),
            client,
            redis,
            pending: Mutex::new(HashMap::new()),
            // Random, so that a late answer to a previous run of this node (same id,
            // restarted) cannot complete a request of this one.
            next_id: AtomicU64::new(rand::random::<u64>() >> 1),
            subscribed: AtomicBool::new(false),
            resubscribe: tokio::sync::Notify::new(),
            conflicts: Mutex::new(std::collections::BTreeSet::new()),
            published: AtomicBool::new(false),
            stats: ClusterStats::default(),
            draining,
            left: CancellationToken::new(),
        }))
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// This node's public base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the node is in touch with the cluster: subscribed, and its last
    /// heartbeat reached Redis.
    pub fn connected(&self) -> bool {
        self.subscribed.load(Ordering::Relaxed) && self.published.load(Ordering::Relaxed)
    }

    fn redis(&self) -> ConnectionManager {
        self.redis.clone()
    }

    /// The node's cluster counters, for `/metrics`: `tickwire_cluster_connected` (1
    /// while subscribed and publishing), `tickwire_cluster_requests_total{outcome}`
    /// (requests to other nodes), `tickwire_cluster_requests_served_total`,
    /// `tickwire_cluster_heartbeat_failures_total`.
    pub fn metrics(&self) -> Vec<Metric> {
        let plain = |name, value: &AtomicU64| Metric {
            name,
            labels: Vec::new(),
            value: value.load(Ordering::Relaxed),
            gauge: false,
        };
        let mut out = vec![
            Metric {
                name: "tickwire_cluster_connected",
                labels: Vec::new(),
                value: u64::from(self.connected()),
                gauge: true,
            },
            plain("tickwire_cluster_requests_served_total", &self.stats.served),
            plain(
                "tickwire_cluster_heartbeat_failures_total",
                &self.stats.heartbeat_failures,
            ),
        ];
        for (outcome, count) in Outcome::ALL.iter().zip(&self.stats.requests) {
            out.push(Metric {
                name: "tickwire_cluster_requests_total",
                labels: vec![("outcome", outcome.label().to_owned())],
                value: count.load(Ordering::Relaxed),
                gauge: false,
            });
        }
        out
    }

    fn count(&self, outcome: Outcome) {
        if let Some(count) = Outcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .and_then(|i| self.stats.requests.get(i))
        {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Starts the heartbeat and the subscription; [`Cluster::leave`] ends both.
    pub fn spawn(self: &Arc<Self>, local: Arc<dyn Local>) {
        tokio::spawn(self.clone().heartbeats(local.clone()));
        tokio::spawn(self.clone().subscription(local));
    }

    /// Publishes the node's record, rooms and claims now (a heartbeat). Room changes
    /// call it too, so that the directory, and the next placement, see them at once.
    pub async fn publish(&self, local: &dyn Local) -> Result<(), ClusterError> {
        let (load, rooms) = local.status();
        let node = NodeInfo::new(
            self.node.clone(),
            self.url.clone(),
            self.draining.is_cancelled(),
            load,
        );
        let ttl_ms = NODE_TTL.as_millis() as u64;
        let result =
            directory::heartbeat(&mut self.redis(), &self.keys, &node, &rooms, ttl_ms).await;
        match &result {
            Ok(taken) => {
                if !self.published.swap(true, Ordering::Relaxed) {
                    info!(node = %self.node, rooms = rooms.len(), "published to the cluster directory");
                }
                let mut conflicts = self.conflicts.lock().unwrap_or_else(|e| e.into_inner());
                for room in taken {
                    if conflicts.insert(room.clone()) {
                        warn!(%room, "room id is claimed by another node: not listed in the cluster");
                    }
                }
                conflicts.retain(|room| taken.contains(room));
            }
            Err(e) => {
                self.stats
                    .heartbeat_failures
                    .fetch_add(1, Ordering::Relaxed);
                if self.published.swap(false, Ordering::Relaxed) {
                    warn!(error = %e, "cannot publish to the cluster directory; serving this node's rooms alone until Redis is back");
                } else {
                    debug!(error = %e, "heartbeat failed");
                }
            }
        }
        result.map(|_| ())
    }

    async fn heartbeats(self: Arc<Self>, local: Arc<dyn Local>) {
        let mut told_draining = false;
        loop {
            tokio::select! {
                _ = async {
                    if self.publish(&*local).await.is_ok() {
                        self.check_subscription().await;
                    }
                } => {}
                () = self.left.cancelled() => return,
            }
            tokio::select! {
                () = tokio::time::sleep(HEARTBEAT) => {}
                // Say at once that the node is draining.
                () = self.draining.cancelled(), if !told_draining => told_draining = true,
                () = self.left.cancelled() => return,
            }
        }
    }

    /// A subscription whose connection died without a word (the Redis host rebooted,
    /// a failover moved it) would wait for messages forever: Redis, which answers the
    /// heartbeat, says whether anyone still listens on the node's channel.
    async fn check_subscription(&self) {
        if !self.subscribed.load(Ordering::Relaxed) {
            return;
        }
        let channel = self.keys.rpc(&self.node);
        if let Ok(0) = directory::listeners(&mut self.redis(), &channel).await {
            warn!("nobody listens on this node's cluster channel; subscribing again");
            self.subscribed.store(false, Ordering::Relaxed);
            self.resubscribe.notify_one();
        }
    }

    async fn subscription(self: Arc<Self>, local: Arc<dyn Local>) {
        let rpc = self.keys.rpc(&self.node);
        let reply = self.keys.reply(&self.node);
        let mut backoff = Duration::from_millis(100);
        loop {
            let connect = async {
                let mut pubsub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(&rpc).await?;
                pubsub.subscribe(&reply).await?;
                Ok::<_, redis::RedisError>(pubsub)
            };
            let attempt = tokio::select! {
                attempt = tokio::time::timeout(REDIS_TIMEOUT * 2, connect) => attempt,
                () = self.left.cancelled() => return,
            };
            match attempt {
                Ok(Ok(pubsub)) => {
                    backoff = Duration::from_millis(100);
                    self.subscribed.store(true, Ordering::Relaxed);
                    debug!(node = %self.node, "subscribed to the cluster");
                    let mut messages = pubsub.into_on_message();
                    loop {
                        let message = tokio::select! {
                            message = messages.next() => message,
                            () = self.resubscribe.notified() => None,
                            () = self.left.cancelled() => return,
                        };
                        let Some(message) = message else { break };
                        let payload = message.get_payload_bytes();
                        if message.get_channel_name() == rpc {
                            self.serve(&local, payload);
                        } else {
                            self.answered(payload);
                        }
                    }
                    self.subscribed.store(false, Ordering::Relaxed);
                    warn!("lost the cluster subscription; reconnecting");
                }
                Ok(Err(e)) => debug!(error = %e, "cannot subscribe to the cluster"),
                Err(_) => debug!("subscribing to the cluster timed out"),
            }
            let pause = backoff.mul_f64(0.75 + rand::random::<f64>() * 0.5);
            backoff = (backoff * 2).min(MAX_BACKOFF);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.left.cancelled() => return,
            }
        }
    }

    /// Runs a request from another node and publishes the answer.
    fn serve(self: &Arc<Self>, local: &Arc<dyn Local>, payload: &[u8]) {
        let request: Request = match serde_json::from_slice(payload) {
            Ok(request) => request,
            Err(e) => {
                warn!(error = %e, "a cluster request does not decode");
                return;
            }
        };
        self.stats.served.fetch_add(1, Ordering::Relaxed);
        let work = local.handle(request.op);
        let this = self.clone();
        tokio::spawn(async move {
            let reply = Reply {
                id: request.id,
                result: work.await,
            };
            let Ok(json) = serde_json::to_string(&reply) else {
                return;
            };
            let mut redis = this.redis();
            let sent: Result<i64, _> = redis::cmd("PUBLISH")
                .arg(this.keys.reply(&request.from))
                .arg(json)
                .query_async(&mut redis)
                .await;
            if let Err(e) = sent {
                warn!(to = %request.from, error = %e, "cannot send a cluster answer");
            }
        });
    }

    /// Hands an answer to the request waiting for it.
    fn answered(&self, payload: &[u8]) {
        let reply: Reply = match serde_json::from_slice(payload) {
            Ok(reply) => reply,
            Err(e) => {
                warn!(error = %e, "a cluster answer does not decode");
                return;
            }
        };
        let waiting = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&reply.id);
        if let Some(waiting) = waiting {
            let _ = waiting.send(reply.result);
        }
    }

    /// Asks node `node` to run `op`, and waits for its answer. The outer error is the
    /// cluster's (unreachable, timed out); the inner is the node's answer.
    pub async fn call(
        &self,
        node: &str,
        op: Op,
    ) -> Result<Result<serde_json::Value, WireError>, ClusterError> {
        let result = self.call_once(node, op).await;
        self.count(match &result {
            Ok(_) => Outcome::Answered,
            Err(ClusterError::Unreachable(_)) => Outcome::Unreachable,
            Err(ClusterError::Timeout { .. }) => Outcome::Timeout,
            Err(_) => Outcome::Unavailable,
        });
        result
    }

    async fn call_once(
        &self,
        node: &str,
        op: Op,
    ) -> Result<Result<serde_json::Value, WireError>, ClusterError> {
        if !self.subscribed.load(Ordering::Relaxed) {
            return Err(ClusterError::Unsubscribed);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let request = Request {
            id,
            from: self.node.clone(),
            op,
        };
        let json = serde_json::to_string(&request)?;
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        // Forgets the request however this ends, also when the caller gives up on it
        // (an HTTP client that went away drops this future).
        let _pending = Pending { cluster: self, id };
        let mut redis = self.redis();
        let listeners: i64 = redis::cmd("PUBLISH")
            .arg(self.keys.rpc(node))
            .arg(json)
            .query_async(&mut redis)
            .await?;
        if listeners == 0 {
            return Err(ClusterError::Unreachable(node.to_owned()));
        }
        match tokio::time::timeout(RPC_TIMEOUT, rx).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(_)) | Err(_) => Err(ClusterError::Timeout {
                node: node.to_owned(),
                timeout: RPC_TIMEOUT,
            }),
        }
    }

    /// Every live node.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, ClusterError> {
        directory::nodes(&mut self.redis(), &self.keys).await
    }

    /// Every live node, and all their rooms.
    pub async fn rooms(&self) -> Result<(Vec<NodeInfo>, Vec<RoomInfo>), ClusterError> {
        let mut redis = self.redis();
        let nodes = directory::nodes(&mut redis, &self.keys).await?;
        let rooms = directory::rooms(&mut redis, &self.keys, &nodes).await?;
        Ok((nodes, rooms))
    }

    /// The live node that hosts room `room`.
    pub async fn locate(&self, room: &str) -> Result<Option<NodeInfo>, ClusterError> {
        directory::locate(&mut self.redis(), &self.keys, room).await
    }

    /// Claims room id `room` for this node (before creating the room). False: another
    /// node hosts a room of that id.
    pub async fn claim(&self, room: &str) -> Result<bool, ClusterError> {
        let ttl_ms = NODE_TTL.as_millis() as u64;
        directory::claim(&mut self.redis(), &self.keys, &self.node, room, ttl_ms).await
    }

    /// Gives up room id `room` and unlists it (the room closed).
    pub async fn release(&self, room: &str) -> Result<(), ClusterError> {
        directory::release(&mut self.redis(), &self.keys, &self.node, room).await
    }

    /// Stops heartbeating and takes the node out of the directory (the end of a
    /// drain). Best effort: if Redis is away, the keys expire by themselves.
    pub async fn leave(&self) {
        self.left.cancel();
        let mut redis = self.redis();
        let leaving = directory::leave(&mut redis, &self.keys, &self.node);
        match tokio::time::timeout(REDIS_TIMEOUT * 2, leaving).await {
            Ok(Ok(())) => info!(node = %self.node, "left the cluster directory"),
            Ok(Err(e)) => {
                warn!(error = %e, "could not leave the cluster directory; its records expire within {NODE_TTL:?}")
            }
            Err(_) => warn!(
                "leaving the cluster directory timed out; its records expire within {NODE_TTL:?}"
            ),
        }
    }
}
