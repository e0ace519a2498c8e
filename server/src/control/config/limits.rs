//! What any one room may be, and what all rooms together may cost: the operator's
//! ceilings over every room spec (flags, rooms file, `POST /api/rooms`, the admin's
//! included), so no request can make the process simulate more than it was sized for.

use clap::Args;
use serde::Serialize;

use super::{ConfigError, MAX_OUTBOUND_QUEUE_BYTES, RoomSettings};

/// The largest value each room setting may take (`--limit-*` flags), and the process-wide
/// budget of entities.
#[derive(Debug, Clone, Copy, PartialEq, Args)]
pub struct RoomLimits {
    /// Most drones one room may simulate.
    #[arg(long, env = "TICKWIRE_LIMIT_DRONES", default_value_t = 5_000)]
    pub limit_drones: u32,

    /// Most seats (`max_players`) one room may have.
    #[arg(long, env = "TICKWIRE_LIMIT_PLAYERS", default_value_t = 1_000)]
    pub limit_players: u32,

    /// Highest tick rate a room may run at (at most 240).
    #[arg(long, env = "TICKWIRE_LIMIT_TICK_RATE", default_value_t = 120)]
    pub limit_tick_rate: u16,

    /// Largest area-of-interest radius a room may use, in metres.
    #[arg(long, env = "TICKWIRE_LIMIT_AOI_RADIUS", default_value_t = 500.0)]
    pub limit_aoi_radius: f64,

    /// Largest snapshot budget a room may grant one client (its `max_client_budget`), in
    /// bytes per second.
    #[arg(
        long,
        env = "TICKWIRE_LIMIT_CLIENT_BUDGET",
        default_value_t = 1_048_576
    )]
    pub limit_client_budget: u32,

    /// Most bytes a room may queue towards one client (its `outbound_queue_bytes`).
    #[arg(
        long,
        env = "TICKWIRE_LIMIT_OUTBOUND_QUEUE_BYTES",
        default_value_t = 1_048_576
    )]
    pub limit_outbound_queue_bytes: usize,

    /// Entities all rooms together may hold: each room counts its drones plus its seats.
    /// A room that would exceed it is refused (HTTP 503, `entity_budget`).
    #[arg(long, env = "TICKWIRE_MAX_ENTITIES", default_value_t = 50_000)]
    pub max_entities: u64,
}

/// A room field outside its allowed range, as the API reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutOfRange {
    /// The spec field (`drones`, `max_players`, …).
    pub field: &'static str,
    pub min: f64,
    pub max: f64,
    pub got: f64,
}

impl std::fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} must be between {} and {}, got {}",
            self.field, self.min, self.max, self.got
        )
    }
}

/// `Err` naming `field` unless `min <= got <= max`.
fn within(field: &'static str, got: f64, min: f64, max: f64) -> Result<(), ConfigError> {
    if got.is_finite() && (min..=max).contains(&got) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange(OutOfRange {
            field,
            min,
            max,
            got,
        }))
    }
}

impl RoomLimits {
    /// Checks the limits themselves (they must leave room for a room to exist).
    pub fn validate(&self) -> Result<(), ConfigError> {
        within(
            "limit-tick-rate",
            f64::from(self.limit_tick_rate),
            1.0,
            240.0,
        )?;
        within("limit-players", f64::from(self.limit_players), 1.0, 1e9)?;
        within("limit-aoi-radius", self.limit_aoi_radius, 1.0, 10_000.0)?;
        within(
            "limit-client-budget",
            f64::from(self.limit_client_budget),
            256.0,
            f64::from(u32::MAX),
        )?;
        within(
            "limit-outbound-queue-bytes",
            self.limit_outbound_queue_bytes as f64,
            1.0,
            MAX_OUTBOUND_QUEUE_BYTES as f64,
        )?;
        within("max-entities", self.max_entities as f64, 1.0, 1e12)
    }

    /// Checks every field of a room against these limits; the error names the first
    /// field out of range and its allowed range.
    pub fn check(&self, s: &RoomSettings) -> Result<(), ConfigError> {
        let tick_rate = f64::from(s.tick_rate);
        within("tick_rate", tick_rate, 1.0, f64::from(self.limit_tick_rate))?;
        within("snapshot_rate", f64::from(s.snapshot_rate), 1.0, tick_rate)?;
        within(
            "max_players",
            f64::from(s.max_players),
            1.0,
            f64::from(self.limit_players),
        )?;
        within(
            "drones",
            f64::from(s.drones),
            0.0,
            f64::from(self.limit_drones),
        )?;
        within("aoi_radius", s.aoi_radius, 1.0, self.limit_aoi_radius)?;
        within(
            "max_client_budget",
            f64::from(s.max_client_budget),
            256.0,
            f64::from(self.limit_client_budget),
        )?;
        within(
            "min_client_budget",
            f64::from(s.min_client_budget),
            256.0,
            f64::from(s.max_client_budget),
        )?;
        within(
            "client_budget",
            f64::from(s.client_budget),
            f64::from(s.min_client_budget),
            f64::from(s.max_client_budget),
        )?;
        within(
            "outbound_queue_bytes",
            s.outbound_queue_bytes as f64,
            1.0,
            self.limit_outbound_queue_bytes as f64,
        )
    }
}

/// What a room weighs against [`RoomLimits::max_entities`]: its drones and its seats.
pub fn entity_weight(s: &RoomSettings) -> u64 {
    u64::from(s.drones) + u64::from(s.max_players)
}
