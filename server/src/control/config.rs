//! Configuration: command-line flags (each with an environment variable), the rooms
//! file, and room specs from the HTTP API, validated into two kinds of settings:
//!
//! - [`Settings`]: server-wide (listening, limits, tokens, TLS, shutdown), plus
//! - [`RoomSettings`]: everything one room is made of (map, seats, rates, drones, area of
//!   interest, snapshot budgets). The flags give the default room's settings, which are
//!   also the template every other room's unset fields come from; a rooms file
//!   (`--rooms`, TOML, [`RoomSpec`]s) and `POST /api/rooms` (JSON, the same spec) only
//!   name what differs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::ClusterSettings;
use clap::Parser;
use serde::{Deserialize, Serialize};
use shared::map::{Map, MapError};
use shared::protocol::Packing;

use crate::transport::limits::MessageLimits;

mod limits;
mod room;
pub use limits::{OutOfRange, RoomLimits, entity_weight};
pub use room::{RoomFields, RoomSettings, RoomSpec};

/// Id of the room a server runs when no rooms file is given.
pub const DEFAULT_ROOM_ID: &str = "default";

/// Longest node id, in bytes: a node's default room is `default-` and its id, a room id.
pub const MAX_NODE_ID_BYTES: usize = MAX_ROOM_ID_BYTES - DEFAULT_ROOM_ID.len() - 1;

/// Longest room id, in bytes (ids are ASCII letters, digits, `-` and `_`).
pub const MAX_ROOM_ID_BYTES: usize = 32;

/// Longest room name, in characters.
pub const MAX_ROOM_NAME_CHARS: usize = 64;

/// Longest player id in a join token, in bytes (ASCII letters, digits, `-`, `_`, `.`,
/// `@`, `:`).
pub const MAX_PLAYER_ID_BYTES: usize = 64;

/// Most a room may queue towards one client, whatever its spec says.
pub const MAX_OUTBOUND_QUEUE_BYTES: usize = 16 * 1024 * 1024;

/// Tickwire game state synchronisation server.
///
/// Every flag can also be set through the environment variable named in its help. The
/// room flags (tick rate to outbound queue bytes) configure the default room and are the
/// defaults of every room of a rooms file or created through the API.
#[derive(Debug, Clone, Parser)]
#[command(name = "server", version, about, long_about = None, args_override_self = true)]
pub struct ServerConfig {
    /// Address to listen on (HTTP, web client, API, metrics and WebSocket share it).
    #[arg(long, env = "TICKWIRE_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Rooms to host, from a TOML file (see assets/rooms/); without it the server runs
    /// one room, `default`, made from the room flags below.
    #[arg(long, env = "TICKWIRE_ROOMS")]
    pub rooms: Option<PathBuf>,

    /// Display name of the default room (when no rooms file is given).
    #[arg(long, env = "TICKWIRE_ROOM_NAME", default_value = "Default room")]
    pub room_name: String,

    /// The room settings: the default room's, and the defaults of every room of a rooms
    /// file or created through the API.
    #[command(flatten)]
    pub room: RoomFields,

    /// Map file (JSON, see assets/maps/arena.json); the embedded arena by default. Rooms
    /// may name it (by the name inside the file) or the arena.
    #[arg(long, env = "TICKWIRE_MAP")]
    pub map: Option<PathBuf>,

    /// Directory served at `/` (the web client).
    #[arg(long, env = "TICKWIRE_WEB_DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/web"))]
    pub web_dir: PathBuf,

    /// Open connections (HTTP and WebSocket) at once; connections beyond it get HTTP 503.
    #[arg(long, env = "TICKWIRE_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// New connections per second from one address (IPv6: one /64); beyond it, HTTP 429.
    /// 0 disables the limit (behind a proxy every peer has the proxy's address).
    #[arg(long, env = "TICKWIRE_IP_CONNECT_RATE", default_value_t = 50)]
    pub ip_connect_rate: u32,

    /// Connections one address may open at once above `--ip-connect-rate`.
    #[arg(long, env = "TICKWIRE_IP_CONNECT_BURST", default_value_t = 100)]
    pub ip_connect_burst: u32,

    /// Kernel send buffer of each connection, in bytes (Linux doubles it for
    /// bookkeeping); 0 leaves it to the kernel's autotuning, which grows it to 4 MiB
    /// for a client that stops reading. Bounds what a slow reader costs the kernel.
    #[arg(long, env = "TICKWIRE_TCP_SEND_BUFFER", default_value_t = 262_144)]
    pub tcp_send_buffer: usize,

    /// Seconds a connection has to send a complete HTTP request head (the WebSocket
    /// upgrade included; with TLS, the TLS handshake too); a slower peer is disconnected.
    #[arg(long, env = "TICKWIRE_HTTP_HEADER_TIMEOUT", default_value_t = 5)]
    pub http_header_timeout_s: u64,

    /// Seconds between the WebSocket pings the server sends every session.
    #[arg(long, env = "TICKWIRE_PING_INTERVAL", default_value_t = 15)]
    pub ping_interval_s: u64,

    /// Seconds a session may stay silent (no message, no pong) before it is closed
    /// with 4008. Must exceed the ping interval.
    #[arg(long, env = "TICKWIRE_IDLE_TIMEOUT", default_value_t = 45)]
    pub idle_timeout_s: u64,

    /// Messages per second one session may send (inputs, pings, requests, WebSocket
    /// control frames); the surplus is dropped. Twice the room's tick rate when absent.
    #[arg(long, env = "TICKWIRE_INPUT_RATE")]
    pub input_rate: Option<u32>,

    /// Messages a session may send at once above `--input-rate`.
    #[arg(long, env = "TICKWIRE_INPUT_BURST", default_value_t = 10)]
    pub input_burst: u32,

    /// Flooding: every message a session sends fills a bucket that holds
    /// `--flood-factor` × `--input-rate` × `--flood-window-s` messages and drains at
    /// `--flood-factor` × `--input-rate` per second; a message that finds it full closes
    /// the session with 1008. Sending up to this factor times the rate is never closed.
    #[arg(long, env = "TICKWIRE_FLOOD_FACTOR", default_value_t = 10)]
    pub flood_factor: u32,

    /// Seconds of sending at `--flood-factor` times the rate that the flood bucket holds
    /// (see `--flood-factor`).
    #[arg(long, env = "TICKWIRE_FLOOD_WINDOW", default_value_t = 2)]
    pub flood_window_s: u64,

    /// Seconds a new connection has to send its Hello (close code 4005 after).
    #[arg(long, env = "TICKWIRE_HANDSHAKE_TIMEOUT", default_value_t = 5)]
    pub handshake_timeout_s: u64,

    /// Encoded messages queued towards one client; when full, its snapshots are skipped.
    #[arg(long, env = "TICKWIRE_OUTBOUND_QUEUE", default_value_t = 8)]
    pub outbound_queue: usize,

    /// Seconds a client may block a single write before it is closed with 4006.
    #[arg(long, env = "TICKWIRE_STALL_TIMEOUT", default_value_t = 10)]
    pub stall_timeout_s: u64,

    /// Seconds between the tick-duration summaries in the log.
    #[arg(long, env = "TICKWIRE_STATS_INTERVAL", default_value_t = 10)]
    pub stats_interval_s: u64,

    /// Secret that signs join tokens (HMAC-SHA256). When set, every join needs a token
    /// (from `POST /api/rooms/{id}/join`, or minted by your own backend with the same
    /// secret); when absent, a random per-process secret signs the API's tokens and
    /// anonymous joins to listed rooms are allowed.
    #[arg(long, env = "TICKWIRE_JOIN_SECRET", hide_env_values = true)]
    pub join_secret: Option<String>,

    /// Bearer token that `POST /api/rooms`, `DELETE /api/rooms/{id}` and joins naming a
    /// player id require; without it those are open to anyone.
    #[arg(long, env = "TICKWIRE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Seconds a join token (seat reservation) stays valid.
    #[arg(long, env = "TICKWIRE_JOIN_TOKEN_TTL", default_value_t = 15)]
    pub join_token_ttl_s: u64,

    /// Seconds a room keeps the player of a lost connection for a resume; after that the
    /// seat is freed and the player removed.
    #[arg(long, env = "TICKWIRE_RESUME_GRACE", default_value_t = 15)]
    pub resume_grace_s: u64,

    /// Seconds a room created through the API may stay empty before it is closed (rooms
    /// of the rooms file, and the default room, stay).
    #[arg(long, env = "TICKWIRE_ROOM_IDLE_TIMEOUT", default_value_t = 60)]
    pub room_idle_timeout_s: u64,

    /// Rooms the server hosts at most; beyond it, HTTP 503. A room without players costs
    /// little (it does not tick), a busy one its share of the room workers.
    #[arg(long, env = "TICKWIRE_MAX_ROOMS", default_value_t = 200)]
    pub max_rooms: usize,

    /// Threads that run the rooms' ticks, earliest deadline first (default: one per
    /// core).
    #[arg(long, env = "TICKWIRE_ROOM_WORKERS")]
    pub room_workers: Option<usize>,

    /// Ceilings on every room's settings and the entity budget (see docs/security.md).
    #[command(flatten)]
    pub limits: RoomLimits,

    /// Connections one address (IPv6: one /64) may hold open at once; beyond it, HTTP
    /// 429. 0 disables the cap (behind a proxy every peer has the proxy's address).
    #[arg(long, env = "TICKWIRE_IP_MAX_CONNECTIONS", default_value_t = 256)]
    pub ip_max_connections: usize,

    /// Seat reservations (`POST /api/rooms/{id}/join`) per second from one address without
    /// the admin token; beyond it, HTTP 429. 0: unlimited.
    #[arg(long, env = "TICKWIRE_API_JOIN_RATE", default_value_t = 50)]
    pub api_join_rate: u32,

    /// Seat reservations one address may make at once above `--api-join-rate`.
    #[arg(long, env = "TICKWIRE_API_JOIN_BURST", default_value_t = 100)]
    pub api_join_burst: u32,

    /// Rooms one address may create per minute without the admin token (also its
    /// burst); beyond it, HTTP 429. 0: unlimited.
    #[arg(long, env = "TICKWIRE_API_CREATE_RATE", default_value_t = 10)]
    pub api_create_rate: u32,

    /// Rooms one address may close, and players it may kick, per minute without the
    /// admin token (also its burst); beyond it, HTTP 429. 0: unlimited.
    #[arg(long, env = "TICKWIRE_API_DELETE_RATE", default_value_t = 30)]
    pub api_delete_rate: u32,

    /// Unused seat reservations one address may hold in one room without the admin
    /// token (a reservation is used when its token joins); beyond it, HTTP 429. 0:
    /// unlimited.
    #[arg(long, env = "TICKWIRE_IP_ROOM_RESERVATIONS", default_value_t = 8)]
    pub ip_room_reservations: u32,

    /// Unused seat reservations one address may hold in all rooms together, without
    /// the admin token; beyond it, HTTP 429. 0: unlimited.
    #[arg(long, env = "TICKWIRE_IP_RESERVATIONS", default_value_t = 32)]
    pub ip_reservations: u32,

    /// On an address other than loopback without `--admin-token`, room creation,
    /// deletion and joins naming a player id are refused (403) unless this is set: for
    /// trusted networks only.
    #[arg(long, env = "TICKWIRE_ALLOW_OPEN_ADMIN")]
    pub allow_open_admin: bool,

    /// Seconds shutdown (SIGTERM, Ctrl-C) may take: sessions are told (1001), rooms
    /// finish their tick, and the process exits by then.
    #[arg(long, env = "TICKWIRE_SHUTDOWN_TIMEOUT", default_value_t = 10)]
    pub shutdown_timeout_s: u64,

    /// Base URL clients reach this server at (`wss://game.example.com`), for the
    /// WebSocket URL of join reservations; by default taken from the request's Host.
    #[arg(long, env = "TICKWIRE_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Redis to join a cluster through (`redis://host:6379`): the node publishes itself
    /// and its rooms there, and answers the API for every node's rooms. Needs
    /// `--join-secret` (the same on every node). Without it the server is alone.
    #[arg(long, env = "TICKWIRE_REDIS", hide_env_values = true)]
    pub redis: Option<String>,

    /// This node's id in the cluster (ASCII letters, digits, '-' or '_'; at most 24):
    /// made up (`n-` and 8 hex digits) when absent.
    #[arg(long, env = "TICKWIRE_NODE_ID")]
    pub node_id: Option<String>,

    /// Key prefix in Redis, so that clusters sharing one Redis keep apart.
    #[arg(long = "cluster", env = "TICKWIRE_CLUSTER", default_value = "tickwire")]
    pub cluster_name: String,

    /// Certificate chain (PEM) to serve HTTPS and WSS with, on the same port; needs
    /// `--tls-key`.
    #[arg(long, env = "TICKWIRE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1) of `--tls-cert`.
    #[arg(long, env = "TICKWIRE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Agones integration: `--agones` and its flags (with the `agones` feature).
    #[cfg(feature = "agones")]
    #[command(flatten)]
    pub agones: crate::agones::AgonesArgs,
}

/// How snapshots are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotMode {
    Delta,
    Full,
}

/// `--delta-packing` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackingArg {
    Bits,
    Bytes,
}

impl From<PackingArg> for Packing {
    fn from(p: PackingArg) -> Packing {
        match p {
            PackingArg::Bits => Packing::Bits,
            PackingArg::Bytes => Packing::Bytes,
        }
    }
}

impl From<Packing> for PackingArg {
    fn from(p: Packing) -> PackingArg {
        match p {
            Packing::Bits => PackingArg::Bits,
            Packing::Bytes => PackingArg::Bytes,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        // Parsing an empty command line gives exactly the documented defaults.
        ServerConfig::parse_from(["server"])
    }
}

/// A configuration that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    OutOfRange(OutOfRange),
    #[error("{name} must be at least 1")]
    Zero { name: &'static str },
    #[error("cannot read {what} {path}: {source}")]
    File {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid map: {0}")]
    Map(#[from] MapError),
    #[error("unknown map {0:?} (known: {1})")]
    UnknownMap(String, String),
    #[error(
        "the idle timeout ({idle_timeout_s} s) must exceed the ping interval ({ping_interval_s} s)"
    )]
    PingInterval {
        ping_interval_s: u64,
        idle_timeout_s: u64,
    },
    #[error(
        "flood factor must be at least 3 (sending over the rate is dropped well before it closes a session), got {0}"
    )]
    FloodFactor(u32),
    #[error("room id {0:?}: 1 to {MAX_ROOM_ID_BYTES} ASCII letters, digits, '-' or '_' expected")]
    RoomId(String),
    #[error("room name: 1 to {MAX_ROOM_NAME_CHARS} characters without control characters expected")]
    RoomName,
    #[error("unknown game {0:?} (known: {1})")]
    UnknownGame(String, String),
    /// A room spec key that is no room setting, or a value of the wrong type.
    #[error("room spec: {0}")]
    RoomSpec(String),
    #[error("room {0:?} is defined twice")]
    DuplicateRoom(String),
    #[error("the rooms file defines no room")]
    NoRooms,
    #[error("more than one room is marked default")]
    TwoDefaults,
    #[error("invalid rooms file {path}: {message}")]
    RoomsFile { path: PathBuf, message: String },
    #[error("{0} rooms exceed --max-rooms")]
    TooManyRooms(usize),
    #[error("the resume grace period must be between 1 and 3600 s")]
    ResumeGrace,
    #[error("the join secret must be at least 16 bytes")]
    ShortSecret,
    #[error("--public-url must start with ws://, wss://, http:// or https://")]
    PublicUrl,
    #[error("--node-id {0:?}: 1 to {MAX_NODE_ID_BYTES} ASCII letters, digits, '-' or '_' expected")]
    NodeId(String),
    #[error("--redis must be a redis:// or unix:// URL (TLS to Redis is not built in)")]
    RedisUrl,
    #[error(
        "a cluster node (--redis) needs --join-secret, the same on every node: a node signs join tokens for rooms on the others"
    )]
    ClusterSecret,
    #[error("TLS: {0}")]
    Tls(String),
}

/// Checks a room id: 1 to [`MAX_ROOM_ID_BYTES`] ASCII letters, digits, `-` or `_`.
pub fn validate_room_id(id: &str) -> Result<(), ConfigError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ROOM_ID_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::RoomId(id.to_owned()))
    }
}

/// Whether `id` is acceptable as a player id in a join token.
pub fn valid_player_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_PLAYER_ID_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@:".contains(&b))
}

/// The maps rooms can name: every game's embedded map, the `--map` file, and the maps a
/// rooms file loaded, by the name inside each map.
#[derive(Debug, Clone, Default)]
pub struct Maps {
    by_name: BTreeMap<String, Arc<Map>>,
    /// Per game, the name of its own map ([`crate::engine::Game::default_map`]).
    game_default: BTreeMap<String, String>,
}

impl Maps {
    /// Every game's own map, by name.
    pub fn of_games() -> Result<Maps, ConfigError> {
        let mut maps = Maps::default();
        for name in crate::games::names() {
            if let Some(game) = crate::games::by_name(name) {
                let map = Arc::new(Map::from_json(game.default_map())?);
                maps.game_default
                    .insert(name.to_owned(), map.name().to_owned());
                maps.insert(map);
            }
        }
        Ok(maps)
    }

    /// The map a room of `game` plays on when it names none.
    pub fn default_for(&self, game: &str) -> Result<Arc<Map>, ConfigError> {
        let name = self.game_default.get(game).map_or("arena", String::as_str);
        self.get(name)
    }

    pub fn insert(&mut self, map: Arc<Map>) {
        self.by_name.insert(map.name().to_owned(), map);
    }

    pub fn get(&self, name: &str) -> Result<Arc<Map>, ConfigError> {
        self.by_name.get(name).cloned().ok_or_else(|| {
            ConfigError::UnknownMap(name.to_owned(), self.names().collect::<Vec<_>>().join(", "))
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

/// A room to create at start.
#[derive(Debug, Clone)]
pub struct RoomDef {
    pub id: String,
    pub settings: RoomSettings,
}

/// Files to serve HTTPS and WSS with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Validated settings the server runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub web_dir: PathBuf,
    pub max_connections: usize,
    /// New connections per second and burst per address; rate 0 means unlimited.
    pub ip_connect_rate: u32,
    pub ip_connect_burst: u32,
    /// Kernel send buffer per connection; 0 for the kernel's default.
    pub tcp_send_buffer: usize,
    pub http_header_timeout: Duration,
    pub ping_interval: Duration,
    pub idle_timeout: Duration,
    /// Messages per second per session; `None`: twice the room's tick rate.
    pub input_rate: Option<NonZeroU32>,
    pub input_burst: NonZeroU32,
    pub flood_factor: u32,
    pub flood_window: Duration,
    pub handshake_timeout: Duration,
    pub outbound_queue: usize,
    pub stall_timeout: Duration,
    pub stats_interval: Duration,
    /// The join token secret, if configured (then every join needs a token).
    pub join_secret: Option<Vec<u8>>,
    pub admin_token: Option<String>,
    pub join_token_ttl: Duration,
    pub resume_grace: Duration,
    pub room_idle_timeout: Duration,
    pub max_rooms: usize,
    /// Room worker threads (`--room-workers`, or one per core).
    pub room_workers: usize,
    pub limits: RoomLimits,
    pub guard: GuardSettings,
    pub shutdown_timeout: Duration,
    pub public_url: Option<String>,
    /// This node's id (`--node-id`, or made up).
    pub node_id: String,
    /// The cluster to join (`--redis`), if any.
    pub cluster: Option<ClusterSettings>,
    pub tls: Option<TlsFiles>,
    /// The default room's settings when no rooms file is given, and the template of
    /// every other room.
    pub room: RoomSettings,
    /// Rooms to create at start: the rooms file's, or the one default room.
    pub rooms: Vec<RoomDef>,
    /// The room `/ws` joins without `?room=`.
    pub default_room: String,
    pub maps: Maps,
}

/// The per-address guards of the API and the listener (see [`crate::http::guard`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardSettings {
    /// Connections one address may hold open; 0: no cap.
    pub ip_max_connections: usize,
    /// Reservations per second and burst per address; rate 0: unlimited.
    pub join_rate: u32,
    pub join_burst: u32,
    /// Rooms created and closed per minute per address; 0: unlimited.
    pub create_per_minute: u32,
    pub delete_per_minute: u32,
    /// Unused reservations per address in one room and in all; 0: unlimited.
    pub room_reservations: u32,
    pub reservations: u32,
    /// Room creation, deletion and player-naming joins are refused (403): the server
    /// listens beyond loopback with no admin token and no `--allow-open-admin`.
    pub admin_locked: bool,
}

impl Settings {
    /// The message limits of a session in a room ticking at `tick_rate`.
    pub fn message_limits(&self, tick_rate: u16) -> MessageLimits {
        let per_second = self.input_rate.unwrap_or_else(|| {
            NonZeroU32::new(u32::from(tick_rate).saturating_mul(2)).unwrap_or(NonZeroU32::MIN)
        });
        MessageLimits {
            per_second,
            burst: self.input_burst,
            flood_factor: self.flood_factor,
            flood_window: self.flood_window,
        }
    }
}

fn read_file(what: &'static str, path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::File {
        what,
        path: path.to_owned(),
        source,
    })
}

/// What a rooms file holds: `[[room]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoomsFile {
    #[serde(default)]
    room: Vec<RoomSpec>,
}

impl ServerConfig {
    /// Checks ranges, loads the maps and the rooms file.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        for (name, value) in [
            ("max-connections", self.max_connections),
            ("outbound-queue", self.outbound_queue),
            ("handshake-timeout-s", self.handshake_timeout_s as usize),
            ("stall-timeout-s", self.stall_timeout_s as usize),
            ("stats-interval-s", self.stats_interval_s as usize),
            ("http-header-timeout-s", self.http_header_timeout_s as usize),
            ("ping-interval-s", self.ping_interval_s as usize),
            ("input-burst", self.input_burst as usize),
            ("flood-window-s", self.flood_window_s as usize),
            ("join-token-ttl-s", self.join_token_ttl_s as usize),
            ("room-idle-timeout-s", self.room_idle_timeout_s as usize),
            ("max-rooms", self.max_rooms),
            ("room-workers", self.room_workers.unwrap_or(1)),
            ("shutdown-timeout-s", self.shutdown_timeout_s as usize),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero { name });
            }
        }
        if self.idle_timeout_s <= self.ping_interval_s {
            return Err(ConfigError::PingInterval {
                ping_interval_s: self.ping_interval_s,
                idle_timeout_s: self.idle_timeout_s,
            });
        }
        if self.flood_factor < 3 {
            return Err(ConfigError::FloodFactor(self.flood_factor));
        }
        let input_rate = match self.input_rate {
            None => None,
            Some(rate) => {
                Some(NonZeroU32::new(rate).ok_or(ConfigError::Zero { name: "input-rate" })?)
            }
        };
        let input_burst = NonZeroU32::new(self.input_burst).ok_or(ConfigError::Zero {
            name: "input-burst",
        })?;
        if !(1..=3600).contains(&self.resume_grace_s) {
            return Err(ConfigError::ResumeGrace);
        }
        let join_secret = match &self.join_secret {
            None => None,
            Some(s) if s.len() < 16 => return Err(ConfigError::ShortSecret),
            Some(s) => Some(s.as_bytes().to_vec()),
        };
        if let Some(url) = &self.public_url
            && !["ws://", "wss://", "http://", "https://"]
                .iter()
                .any(|p| url.starts_with(p))
        {
            return Err(ConfigError::PublicUrl);
        }

        let node_id = match &self.node_id {
            Some(id) => {
                let ok = !id.is_empty()
                    && id.len() <= MAX_NODE_ID_BYTES
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !ok {
                    return Err(ConfigError::NodeId(id.clone()));
                }
                id.clone()
            }
            None => format!("n-{:08x}", rand::random::<u32>()),
        };
        let cluster = match &self.redis {
            None => None,
            Some(url) => {
                if !["redis://", "unix://"].iter().any(|p| url.starts_with(p)) {
                    return Err(ConfigError::RedisUrl);
                }
                if join_secret.is_none() {
                    return Err(ConfigError::ClusterSecret);
                }
                Some(ClusterSettings {
                    redis_url: url.clone(),
                    prefix: self.cluster_name.clone(),
                })
            }
        };

        let mut maps = Maps::of_games()?;
        let map = match &self.map {
            None => maps.default_for(&self.room.game)?,
            Some(path) => {
                let map = Arc::new(Map::from_json(&read_file("map file", path)?)?);
                maps.insert(map.clone());
                map
            }
        };
        let room = RoomSettings {
            name: self.room_name.trim().to_owned(),
            map,
            private: false,
            fields: self.room.clone(),
        };
        self.limits.validate()?;
        room.validate(&self.limits)?;

        let (rooms, default_room) = match &self.rooms {
            None => {
                // Room ids are unique in a cluster: each node's default room is its own.
                let id = if cluster.is_some() {
                    format!("{DEFAULT_ROOM_ID}-{node_id}")
                } else {
                    DEFAULT_ROOM_ID.to_owned()
                };
                (
                    vec![RoomDef {
                        id: id.clone(),
                        settings: room.clone(),
                    }],
                    id,
                )
            }
            Some(path) => load_rooms_file(path, &room, &mut maps, &self.limits)?,
        };
        if rooms.len() > self.max_rooms {
            return Err(ConfigError::TooManyRooms(rooms.len()));
        }

        Ok(Settings {
            web_dir: self.web_dir.clone(),
            max_connections: self.max_connections,
            ip_connect_rate: self.ip_connect_rate,
            ip_connect_burst: self.ip_connect_burst,
            tcp_send_buffer: self.tcp_send_buffer,
            http_header_timeout: Duration::from_secs(self.http_header_timeout_s),
            ping_interval: Duration::from_secs(self.ping_interval_s),
            idle_timeout: Duration::from_secs(self.idle_timeout_s),
            input_rate,
            input_burst,
            flood_factor: self.flood_factor,
            flood_window: Duration::from_secs(self.flood_window_s),
            handshake_timeout: Duration::from_secs(self.handshake_timeout_s),
            outbound_queue: self.outbound_queue,
            stall_timeout: Duration::from_secs(self.stall_timeout_s),
            stats_interval: Duration::from_secs(self.stats_interval_s),
            join_secret,
            admin_token: self.admin_token.clone().filter(|t| !t.is_empty()),
            join_token_ttl: Duration::from_secs(self.join_token_ttl_s),
            resume_grace: Duration::from_secs(self.resume_grace_s),
            room_idle_timeout: Duration::from_secs(self.room_idle_timeout_s),
            max_rooms: self.max_rooms,
            room_workers: self.room_workers.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            }),
            limits: self.limits,
            guard: GuardSettings {
                ip_max_connections: self.ip_max_connections,
                join_rate: self.api_join_rate,
                join_burst: self.api_join_burst,
                create_per_minute: self.api_create_rate,
                delete_per_minute: self.api_delete_rate,
                room_reservations: self.ip_room_reservations,
                reservations: self.ip_reservations,
                admin_locked: !self.addr.ip().is_loopback()
                    && self.admin_token.as_deref().is_none_or(str::is_empty)
                    && !self.allow_open_admin,
            },
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout_s),
            public_url: self
                .public_url
                .as_ref()
                .map(|u| u.trim_end_matches('/').to_owned()),
            node_id,
            cluster,
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                }),
                _ => None,
            },
            room,
            rooms,
            default_room,
            maps,
        })
    }
}

/// Reads a rooms file: its rooms (template + spec) and the default room's id. Maps named
/// by a path ending in `.json` are loaded (relative to the file) and join `maps`.
fn load_rooms_file(
    path: &Path,
    template: &RoomSettings,
    maps: &mut Maps,
    limits: &RoomLimits,
) -> Result<(Vec<RoomDef>, String), ConfigError> {
    let text = read_file("rooms file", path)?;
    let file: RoomsFile = toml::from_str(&text).map_err(|e| ConfigError::RoomsFile {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    if file.room.is_empty() {
        return Err(ConfigError::NoRooms);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut rooms: Vec<RoomDef> = Vec::new();
    let mut default = None;
    for (i, spec) in file.room.iter().enumerate() {
        let mut spec = spec.clone();
        if let Some(map) = &spec.map
            && map.ends_with(".json")
        {
            let loaded = Arc::new(Map::from_json(&read_file("map file", &dir.join(map))?)?);
            spec.map = Some(loaded.name().to_owned());
            maps.insert(loaded);
        }
        let id = spec.id.clone().unwrap_or_else(|| format!("room-{}", i + 1));
        validate_room_id(&id)?;
        if rooms.iter().any(|r| r.id == id) {
            return Err(ConfigError::DuplicateRoom(id));
        }
        spec.id = Some(id.clone());
        let settings = spec.resolve(template, maps, limits).map_err(|e| match e {
            // A key that is no room setting, or a value of the wrong type: a mistake
            // in the file, reported with its path and room.
            ConfigError::RoomSpec(message) => ConfigError::RoomsFile {
                path: path.to_owned(),
                message: format!("room {id:?}: {message}"),
            },
            other => other,
        })?;
        if spec.default == Some(true) {
            if default.is_some() {
                return Err(ConfigError::TwoDefaults);
            }
            default = Some(id.clone());
        }
        rooms.push(RoomDef { id, settings });
    }
    let default = default
        .or_else(|| rooms.first().map(|r| r.id.clone()))
        .ok_or(ConfigError::NoRooms)?;
    Ok((rooms, default))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let s = ServerConfig::default().validate().unwrap();
        assert_eq!(
            (s.room.tick_rate, s.room.snapshot_rate, s.room.drones),
            (60, 20, 200)
        );
        assert!(s.web_dir.join("index.html").exists() || !s.web_dir.exists());
        assert_eq!(s.default_room, DEFAULT_ROOM_ID);
        assert_eq!(s.rooms.len(), 1);
        assert_eq!(
            (s.join_token_ttl, s.resume_grace, s.shutdown_timeout),
            (
                Duration::from_secs(15),
                Duration::from_secs(15),
                Duration::from_secs(10)
            )
        );
        assert!(s.join_secret.is_none() && s.admin_token.is_none() && s.tls.is_none());
    }

    #[test]
    fn every_flag_has_an_environment_variable_and_help() {
        use clap::CommandFactory;
        let cmd = ServerConfig::command();
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            let env = arg.get_env().and_then(|e| e.to_str()).unwrap_or_default();
            assert!(
                env.starts_with("TICKWIRE_"),
                "--{id} has no TICKWIRE_ variable"
            );
            assert!(arg.get_help().is_some(), "--{id} has no help");
        }
    }

    #[test]
    fn bad_rates_are_refused() {
        let cfg = ServerConfig::parse_from(["server", "--snapshot-rate", "61"]);
        assert!(matches!(
            cfg.validate(),
            Err(ConfigError::OutOfRange(OutOfRange {
                field: "snapshot_rate",
                ..
            }))
        ));
        let cfg = ServerConfig::parse_from(["server", "--tick-rate", "0"]);
        assert!(matches!(
            cfg.validate(),
            Err(ConfigError::OutOfRange(OutOfRange {
                field: "tick_rate",
                ..
            }))
        ));
        // The flags' own room obeys the limits too.
        let cfg = ServerConfig::parse_from(["server", "--drones", "9000"]);
        assert!(matches!(
            cfg.validate(),
            Err(ConfigError::OutOfRange(OutOfRange {
                field: "drones",
                ..
            }))
        ));
        let cfg =
            ServerConfig::parse_from(["server", "--drones", "9000", "--limit-drones", "9000"]);
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn hardening_defaults_and_checks() {
        let s = ServerConfig::default().validate().unwrap();
        assert_eq!(
            s.message_limits(60).per_second.get(),
            120,
            "twice the tick rate"
        );
        assert_eq!(s.message_limits(20).per_second.get(), 40, "per room");
        assert_eq!(
            (s.ping_interval, s.idle_timeout),
            (Duration::from_secs(15), Duration::from_secs(45))
        );
        let cfg = ServerConfig::parse_from(["server", "--tick-rate", "30", "--input-rate", "45"]);
        assert_eq!(
            cfg.validate().unwrap().message_limits(30).per_second.get(),
            45
        );
        let cfg = ServerConfig::parse_from(["server", "--ping-interval-s", "45"]);
        assert!(matches!(
            cfg.validate(),
            Err(ConfigError::PingInterval { .. })
        ));
        let cfg = ServerConfig::parse_from(["server", "--input-rate", "0"]);
        assert!(matches!(cfg.validate(), Err(ConfigError::Zero { .. })));
        let cfg = ServerConfig::parse_from(["server", "--flood-factor", "2"]);
        assert!(matches!(cfg.validate(), Err(ConfigError::FloodFactor(2))));
        let cfg = ServerConfig::parse_from(["server", "--join-secret", "short"]);
        assert!(matches!(cfg.validate(), Err(ConfigError::ShortSecret)));
    }

    #[test]
    fn admin_actions_lock_beyond_loopback_without_a_token() {
        let locked = |args: &[&str]| {
            let mut all = vec!["server"];
            all.extend_from_slice(args);
            ServerConfig::parse_from(all)
                .validate()
                .unwrap()
                .guard
                .admin_locked
        };
        assert!(!locked(&[]), "the default bind is loopback");
        assert!(!locked(&["--addr", "[::1]:8080"]));
        assert!(!locked(&["--addr", "127.0.0.2:8080"]));
        assert!(locked(&["--addr", "0.0.0.0:8080"]));
        assert!(locked(&["--addr", "[::]:8080"]));
        assert!(locked(&["--addr", "192.0.2.7:8080"]));
        assert!(!locked(&["--addr", "0.0.0.0:8080", "--admin-token", "t"]));
        assert!(locked(&["--addr", "0.0.0.0:8080", "--admin-token", ""]));
        assert!(!locked(&["--addr", "0.0.0.0:8080", "--allow-open-admin"]));
    }

    #[test]
    fn specs_override_the_template() {
        use serde_json::json;
        let s = ServerConfig::default().validate().unwrap();
        let resolve = |v: serde_json::Value| {
            RoomSpec::from_json(v).and_then(|spec| spec.resolve(&s.room, &s.maps, &s.limits))
        };
        let r = resolve(json!({
            "id": "duel", "max_players": 2, "tick_rate": 30, "snapshot_rate": 15,
            "private": true, "packing": "bytes", "seed": 9
        }))
        .unwrap();
        assert_eq!(
            (r.name.as_str(), r.max_players, r.tick_rate),
            ("duel", 2, 30)
        );
        assert!(r.private);
        assert_eq!(r.delta_packing(), Packing::Bytes);
        assert_eq!(r.seed, Some(9));
        assert_eq!(r.drones, s.room.drones, "unset fields come from the flags");
        assert_eq!(
            resolve(json!({"drones": null})).unwrap().drones,
            s.room.drones,
            "null is unset"
        );
        // Keys that are no room setting, and values of the wrong type, are refused.
        for bad in [
            json!({"tickrate": 30}),
            json!({"tick_rate": "fast"}),
            json!({"tick_rate": 70_000}),
            json!({"packing": "zip"}),
            json!({"bogus": null}),
            json!({"game": 7}),
        ] {
            assert!(
                matches!(resolve(bad.clone()), Err(ConfigError::RoomSpec(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            resolve(json!({"snapshot_rate": 120})),
            Err(ConfigError::OutOfRange(OutOfRange {
                field: "snapshot_rate",
                ..
            }))
        ));
        // Every field has a ceiling, whoever asks.
        for (spec, field) in [
            (json!({"drones": 5_000_000}), "drones"),
            (json!({"max_players": 100_000}), "max_players"),
            (json!({"tick_rate": 240}), "tick_rate"),
            (json!({"aoi_radius": 5000.0}), "aoi_radius"),
            (json!({"aoi_radius": -1.0}), "aoi_radius"),
            (json!({"max_client_budget": u32::MAX}), "max_client_budget"),
            (
                json!({"outbound_queue_bytes": 1 << 30}),
                "outbound_queue_bytes",
            ),
        ] {
            match resolve(spec) {
                Err(ConfigError::OutOfRange(r)) => {
                    assert_eq!(r.field, field);
                    assert!(r.min <= r.max);
                }
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(matches!(
            resolve(json!({"game": "chess"})),
            Err(ConfigError::UnknownGame(..))
        ));
        assert_eq!(resolve(json!({"game": "arena"})).unwrap().game, "arena");
        // A room of another game plays on that game's own map unless it names one.
        let ball = resolve(json!({"game": "ball"})).unwrap();
        assert_eq!(ball.map.name(), "pitch");
        let named = resolve(json!({"game": "ball", "map": "arena"})).unwrap();
        assert_eq!(named.map.name(), "arena");
        let flags = ServerConfig::try_parse_from(["server", "--game", "ball"])
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(flags.room.map.name(), "pitch");
        // A NaN radius (TOML can write one) is out of range too.
        let mut nan = s.room.clone();
        nan.aoi_radius = f64::NAN;
        assert!(matches!(
            nan.validate(&s.limits),
            Err(ConfigError::OutOfRange(OutOfRange {
                field: "aoi_radius",
                ..
            }))
        ));
        let unknown_map = RoomSpec {
            map: Some("/etc/passwd".into()),
            ..RoomSpec::default()
        };
        assert!(matches!(
            unknown_map.resolve(&s.room, &s.maps, &s.limits),
            Err(ConfigError::UnknownMap(..))
        ));
        for id in ["", "a b", "é", &"x".repeat(33)] {
            assert!(validate_room_id(id).is_err(), "{id:?}");
        }
        assert!(validate_room_id("duel_1-A").is_ok());
        assert!(valid_player_id("user:42@eu.example"));
        assert!(!valid_player_id("a b"));
    }

    #[test]
    fn the_example_rooms_files_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/rooms");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let cfg = ServerConfig::parse_from([
                    "server".as_ref(),
                    "--rooms".as_ref(),
                    path.as_os_str(),
                ]);
                let s = cfg
                    .validate()
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(s.rooms.iter().any(|r| r.id == s.default_room));
                seen += 1;
            }
        }
        assert!(seen >= 2, "example presets in assets/rooms");
    }

    #[test]
    fn rooms_files_are_checked() {
        let dir = std::env::temp_dir().join(format!("tickwire-rooms-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            ServerConfig::parse_from(["server".as_ref(), "--rooms".as_ref(), p.as_os_str()])
                .validate()
        };
        let ok = write(
            "ok.toml",
            "[[room]]\nid = \"a\"\n[[room]]\nid = \"b\"\ndefault = true\nmax_players = 4\n",
        )
        .unwrap();
        assert_eq!(ok.default_room, "b");
        assert_eq!(ok.rooms.len(), 2);
        assert!(matches!(
            write("dup.toml", "[[room]]\nid = \"a\"\n[[room]]\nid = \"a\"\n"),
            Err(ConfigError::DuplicateRoom(_))
        ));
        assert!(matches!(
            write("typo.toml", "[[room]]\nid = \"a\"\nmax_player = 3\n"),
            Err(ConfigError::RoomsFile { .. })
        ));
        assert!(matches!(write("empty.toml", ""), Err(ConfigError::NoRooms)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
