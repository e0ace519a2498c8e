//! Command-line and environment configuration, and its validation into [`Settings`].

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use shared::map::{DEFAULT_ARENA_JSON, Map, MapError};
use shared::protocol::Packing;

use crate::limits::MessageLimits;

/// Tickwire game state synchronisation server.
///
/// Every flag can also be set through the environment variable named in its help.
#[derive(Debug, Clone, Parser)]
#[command(name = "server", version, about, long_about = None, args_override_self = true)]
pub struct ServerConfig {
    /// Address to listen on (HTTP, web client and WebSocket share it).
    #[arg(long, env = "TICKWIRE_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Simulation ticks per second.
    #[arg(long, env = "TICKWIRE_TICK_RATE", default_value_t = 60)]
    pub tick_rate: u16,

    /// Snapshots per second sent to each client (at most the tick rate).
    #[arg(long, env = "TICKWIRE_SNAPSHOT_RATE", default_value_t = 20)]
    pub snapshot_rate: u16,

    /// Number of wandering drones in the room.
    #[arg(long, env = "TICKWIRE_DRONES", default_value_t = 200)]
    pub drones: u32,

    /// Players admitted to the room; further joins are closed with code 4004.
    #[arg(long, env = "TICKWIRE_MAX_PLAYERS", default_value_t = 512)]
    pub max_players: u32,

    /// Map file (JSON, see assets/maps/arena.json); the embedded arena by default.
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
    /// upgrade included); a slower peer is disconnected.
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
    /// control frames); the surplus is dropped. Twice the tick rate when absent.
    #[arg(long, env = "TICKWIRE_INPUT_RATE")]
    pub input_rate: Option<u32>,

    /// Messages a session may send at once above `--input-rate`.
    #[arg(long, env = "TICKWIRE_INPUT_BURST", default_value_t = 10)]
    pub input_burst: u32,

    /// A session sending this many times `--input-rate` for `--flood-window-s` seconds
    /// is closed with 1008 (at most half of it is only dropped, never closed).
    #[arg(long, env = "TICKWIRE_FLOOD_FACTOR", default_value_t = 10)]
    pub flood_factor: u32,

    /// Seconds of sending at `--flood-factor` times the quota that close a session.
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

    /// `delta`: per-client delta snapshots with interest management; `full`: the naive
    /// baseline, the full state of every entity to everyone (for comparison).
    #[arg(long, env = "TICKWIRE_SNAPSHOTS", value_enum, default_value_t = SnapshotMode::Delta)]
    pub snapshots: SnapshotMode,

    /// Radius of each client's area of interest, in metres. The default covers the web
    /// client's view of a 1280×800 window (38 m half-diagonal) plus a margin.
    #[arg(long, env = "TICKWIRE_AOI_RADIUS", default_value_t = 48.0)]
    pub aoi_radius: f64,

    /// Packing of delta payloads (`bits` is what browsers speak; `bytes` is kept to
    /// measure against).
    #[arg(long, env = "TICKWIRE_DELTA_PACKING", value_enum, default_value_t = PackingArg::Bits)]
    pub delta_packing: PackingArg,

    /// Snapshot bytes per second a client gets until it asks for another budget.
    #[arg(long, env = "TICKWIRE_CLIENT_BUDGET", default_value_t = 32_768)]
    pub client_budget: u32,

    /// Smallest and largest budget a client may ask for, in bytes per second.
    #[arg(long, env = "TICKWIRE_MIN_CLIENT_BUDGET", default_value_t = 2_048)]
    pub min_client_budget: u32,
    #[arg(long, env = "TICKWIRE_MAX_CLIENT_BUDGET", default_value_t = 262_144)]
    pub max_client_budget: u32,

    /// Bytes queued towards one client; when exceeded, its snapshots are skipped.
    #[arg(long, env = "TICKWIRE_OUTBOUND_QUEUE_BYTES", default_value_t = 262_144)]
    pub outbound_queue_bytes: usize,

    /// Seed for the room's random numbers (drones, spawns); random when absent.
    #[arg(long, env = "TICKWIRE_SEED")]
    pub seed: Option<u64>,
}

/// How snapshots are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotMode {
    Delta,
    Full,
}

/// `--delta-packing` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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

impl Default for ServerConfig {
    fn default() -> Self {
        // Parsing an empty command line gives exactly the documented defaults.
        ServerConfig::parse_from(["server"])
    }
}

/// A configuration that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("tick rate must be between 1 and 240, got {0}")]
    TickRate(u16),
    #[error("snapshot rate must be between 1 and the tick rate ({tick_rate}), got {snapshot_rate}")]
    SnapshotRate { snapshot_rate: u16, tick_rate: u16 },
    #[error("{name} must be at least 1")]
    Zero { name: &'static str },
    #[error("cannot read map file {path}: {source}")]
    MapFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid map: {0}")]
    Map(#[from] MapError),
    #[error("AOI radius must be between 1 m and 10 km, got {0}")]
    AoiRadius(f64),
    #[error("client budgets must satisfy 256 ≤ min ≤ default ≤ max")]
    Budget,
    #[error(
        "the idle timeout ({idle_timeout_s} s) must exceed the ping interval ({ping_interval_s} s)"
    )]
    PingInterval {
        ping_interval_s: u64,
        idle_timeout_s: u64,
    },
    #[error(
        "flood factor must be at least 3 (the flood test needs room above the drops it tolerates), got {0}"
    )]
    FloodFactor(u32),
}

/// Validated settings the server runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tick_rate: u16,
    pub snapshot_rate: u16,
    pub drones: u32,
    pub max_players: u32,
    pub map: Arc<Map>,
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
    pub message_limits: MessageLimits,
    pub handshake_timeout: Duration,
    pub outbound_queue: usize,
    pub stall_timeout: Duration,
    pub stats_interval: Duration,
    pub seed: Option<u64>,
    pub snapshots: SnapshotMode,
    pub aoi_radius: f64,
    pub packing: Packing,
    pub client_budget: u32,
    pub min_client_budget: u32,
    pub max_client_budget: u32,
    pub outbound_queue_bytes: usize,
}

impl ServerConfig {
    /// Checks ranges and loads the map.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        if !(1..=240).contains(&self.tick_rate) {
            return Err(ConfigError::TickRate(self.tick_rate));
        }
        if self.snapshot_rate == 0 || self.snapshot_rate > self.tick_rate {
            return Err(ConfigError::SnapshotRate {
                snapshot_rate: self.snapshot_rate,
                tick_rate: self.tick_rate,
            });
        }
        for (name, value) in [
            ("max-players", self.max_players as usize),
            ("max-connections", self.max_connections),
            ("outbound-queue", self.outbound_queue),
            ("outbound-queue-bytes", self.outbound_queue_bytes),
            ("handshake-timeout-s", self.handshake_timeout_s as usize),
            ("stall-timeout-s", self.stall_timeout_s as usize),
            ("stats-interval-s", self.stats_interval_s as usize),
            ("http-header-timeout-s", self.http_header_timeout_s as usize),
            ("ping-interval-s", self.ping_interval_s as usize),
            ("input-burst", self.input_burst as usize),
            ("flood-window-s", self.flood_window_s as usize),
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
        let input_rate = self
            .input_rate
            .unwrap_or(u32::from(self.tick_rate).saturating_mul(2));
        let (Some(per_second), Some(burst)) = (
            NonZeroU32::new(input_rate),
            NonZeroU32::new(self.input_burst),
        ) else {
            return Err(ConfigError::Zero { name: "input-rate" });
        };
        if !(self.aoi_radius.is_finite() && (1.0..=10_000.0).contains(&self.aoi_radius)) {
            return Err(ConfigError::AoiRadius(self.aoi_radius));
        }
        if !(256 <= self.min_client_budget
            && self.min_client_budget <= self.client_budget
            && self.client_budget <= self.max_client_budget)
        {
            return Err(ConfigError::Budget);
        }
        let map = match &self.map {
            None => Map::from_json(DEFAULT_ARENA_JSON)?,
            Some(path) => {
                let json =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::MapFile {
                        path: path.clone(),
                        source,
                    })?;
                Map::from_json(&json)?
            }
        };
        Ok(Settings {
            tick_rate: self.tick_rate,
            snapshot_rate: self.snapshot_rate,
            drones: self.drones,
            max_players: self.max_players,
            map: Arc::new(map),
            web_dir: self.web_dir.clone(),
            max_connections: self.max_connections,
            ip_connect_rate: self.ip_connect_rate,
            ip_connect_burst: self.ip_connect_burst,
            tcp_send_buffer: self.tcp_send_buffer,
            http_header_timeout: Duration::from_secs(self.http_header_timeout_s),
            ping_interval: Duration::from_secs(self.ping_interval_s),
            idle_timeout: Duration::from_secs(self.idle_timeout_s),
            message_limits: MessageLimits {
                per_second,
                burst,
                flood_factor: self.flood_factor,
                flood_window: Duration::from_secs(self.flood_window_s),
            },
            handshake_timeout: Duration::from_secs(self.handshake_timeout_s),
            outbound_queue: self.outbound_queue,
            stall_timeout: Duration::from_secs(self.stall_timeout_s),
            stats_interval: Duration::from_secs(self.stats_interval_s),
            seed: self.seed,
            snapshots: self.snapshots,
            aoi_radius: self.aoi_radius,
            packing: self.delta_packing.into(),
            client_budget: self.client_budget,
            min_client_budget: self.min_client_budget,
            max_client_budget: self.max_client_budget,
            outbound_queue_bytes: self.outbound_queue_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let s = ServerConfig::default().validate().unwrap();
        assert_eq!((s.tick_rate, s.snapshot_rate, s.drones), (60, 20, 200));
        assert!(s.web_dir.join("index.html").exists() || !s.web_dir.exists());
    }

    #[test]
    fn bad_rates_are_refused() {
        let cfg = ServerConfig::parse_from(["server", "--snapshot-rate", "61"]);
        assert!(matches!(
            cfg.validate(),
            Err(ConfigError::SnapshotRate { .. })
        ));
        let cfg = ServerConfig::parse_from(["server", "--tick-rate", "0"]);
        assert!(matches!(cfg.validate(), Err(ConfigError::TickRate(0))));
    }

    #[test]
    fn hardening_defaults_and_checks() {
        let s = ServerConfig::default().validate().unwrap();
        assert_eq!(
            s.message_limits.per_second.get(),
            120,
            "twice the tick rate"
        );
        assert_eq!(
            (s.ping_interval, s.idle_timeout),
            (Duration::from_secs(15), Duration::from_secs(45))
        );
        let cfg = ServerConfig::parse_from(["server", "--tick-rate", "30", "--input-rate", "45"]);
        assert_eq!(cfg.validate().unwrap().message_limits.per_second.get(), 45);
        let cfg = ServerConfig::parse_from(["server", "--ping-interval-s", "45"]);
        assert!(matches!(
            cfg.validate(),
            Err(ConfigError::PingInterval { .. })
        ));
        let cfg = ServerConfig::parse_from(["server", "--input-rate", "0"]);
        assert!(matches!(cfg.validate(), Err(ConfigError::Zero { .. })));
        let cfg = ServerConfig::parse_from(["server", "--flood-factor", "2"]);
        assert!(matches!(cfg.validate(), Err(ConfigError::FloodFactor(2))));
    }
}
