//! One room's settings, defined once: [`RoomFields`] is read as flags by clap (the
//! default room's, and every other room's defaults), as a rooms-file table or an API
//! body by serde (where each field is optional and overrides the template's), and shown
//! by `GET /api/rooms`. A new room setting is one field here.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use clap::Args;
use serde::{Deserialize, Serialize};
use shared::map::Map;
use shared::protocol::{Packing, SnapshotSettings};

use super::{
    ConfigError, MAX_ROOM_NAME_CHARS, Maps, PackingArg, RoomLimits, SnapshotMode, validate_room_id,
};

/// The settings every room has and every source of rooms may set.
#[derive(Debug, Clone, PartialEq, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomFields {
    /// The game the room runs (see `server/src/games/`): `arena` or `ball`.
    #[arg(long, env = "TICKWIRE_GAME", default_value = "arena")]
    pub game: String,

    /// Players admitted to the room; further joins are closed with code 4004 (and join
    /// reservations answered 409).
    #[arg(long, env = "TICKWIRE_MAX_PLAYERS", default_value_t = 512)]
    pub max_players: u32,

    /// Simulation ticks per second.
    #[arg(long, env = "TICKWIRE_TICK_RATE", default_value_t = 60)]
    pub tick_rate: u16,

    /// Snapshots per second sent to each client (at most the tick rate).
    #[arg(long, env = "TICKWIRE_SNAPSHOT_RATE", default_value_t = 20)]
    pub snapshot_rate: u16,

    /// Number of wandering drones in the room.
    #[arg(long, env = "TICKWIRE_DRONES", default_value_t = 200)]
    pub drones: u32,

    /// Radius of each client's area of interest, in metres. The default covers the web
    /// client's view of a 1280×800 window (38 m half-diagonal) plus a margin.
    #[arg(long, env = "TICKWIRE_AOI_RADIUS", default_value_t = 48.0)]
    pub aoi_radius: f64,

    /// `delta`: per-client delta snapshots with interest management; `full`: the naive
    /// baseline, the full state of every entity to everyone (for comparison).
    #[arg(long, env = "TICKWIRE_SNAPSHOTS", value_enum, default_value_t = SnapshotMode::Delta)]
    pub snapshots: SnapshotMode,

    /// Packing of delta payloads (`bits` is what browsers speak; `bytes` is kept to
    /// measure against).
    #[arg(
        long = "delta-packing",
        value_name = "PACKING",
        env = "TICKWIRE_DELTA_PACKING",
        value_enum,
        default_value_t = PackingArg::Bits
    )]
    pub packing: PackingArg,

    /// Snapshot bytes per second a client gets until it asks for another budget.
    #[arg(long, env = "TICKWIRE_CLIENT_BUDGET", default_value_t = 32_768)]
    pub client_budget: u32,

    /// Smallest budget a client may ask for, in bytes per second.
    #[arg(long, env = "TICKWIRE_MIN_CLIENT_BUDGET", default_value_t = 2_048)]
    pub min_client_budget: u32,

    /// Largest budget a client may ask for, in bytes per second.
    #[arg(long, env = "TICKWIRE_MAX_CLIENT_BUDGET", default_value_t = 262_144)]
    pub max_client_budget: u32,

    /// Bytes queued towards one client; when exceeded, its snapshots are skipped.
    #[arg(long, env = "TICKWIRE_OUTBOUND_QUEUE_BYTES", default_value_t = 262_144)]
    pub outbound_queue_bytes: usize,

    /// Seed for the room's random numbers (drones, spawns); random when absent.
    #[arg(long, env = "TICKWIRE_SEED")]
    pub seed: Option<u64>,
}

impl RoomFields {
    /// The payload packing as the protocol names it.
    pub fn delta_packing(&self) -> Packing {
        self.packing.into()
    }
}

/// Everything one room is made of: its [`RoomFields`], plus what only a room (not the
/// flags) has: its name, its loaded map and whether it is listed.
#[derive(Debug, Clone)]
pub struct RoomSettings {
    /// Display name.
    pub name: String,
    pub map: Arc<Map>,
    /// Unlisted: not in `GET /api/rooms`, and joined with a join token only.
    pub private: bool,
    pub fields: RoomFields,
}

/// A room's settings read as its fields (`settings.tick_rate`).
impl Deref for RoomSettings {
    type Target = RoomFields;

    fn deref(&self) -> &RoomFields {
        &self.fields
    }
}

impl DerefMut for RoomSettings {
    fn deref_mut(&mut self) -> &mut RoomFields {
        &mut self.fields
    }
}

impl RoomSettings {
    /// Checks the name, the game and every range a room depends on, against the
    /// operator's limits.
    pub fn validate(&self, limits: &RoomLimits) -> Result<(), ConfigError> {
        let name = self.name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_ROOM_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(ConfigError::RoomName);
        }
        if crate::games::by_name(&self.game).is_none() {
            return Err(ConfigError::UnknownGame(
                self.game.clone(),
                crate::games::names().join(", "),
            ));
        }
        limits.check(self)
    }

    /// Clamps what a client asked for to this room's limits.
    pub fn clamp(&self, asked: SnapshotSettings) -> SnapshotSettings {
        SnapshotSettings {
            rate: asked.rate.clamp(1, self.snapshot_rate),
            max_bytes_per_sec: asked
                .max_bytes_per_sec
                .clamp(self.min_client_budget, self.max_client_budget),
        }
    }

    /// The snapshot rate and budget a client gets until it asks for others.
    pub fn default_settings(&self) -> SnapshotSettings {
        SnapshotSettings {
            rate: self.snapshot_rate,
            max_bytes_per_sec: self.client_budget,
        }
    }
}

/// A room as the rooms file and `POST /api/rooms` describe it: every field is optional;
/// unset ones come from the template (the server's room flags), the id from a generated
/// one. Besides the few keys only a room has (`id`, `name`, `map`, `private`, and in a
/// rooms file `default`), its keys are [`RoomFields`]' names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomSpec {
    pub id: Option<String>,
    pub name: Option<String>,
    /// A map name (`arena`, the `--map` file's, or one a rooms file loaded); in a rooms
    /// file also a path to a JSON map, relative to the file.
    pub map: Option<String>,
    pub private: Option<bool>,
    /// Rooms file only: the room that `/ws` without `?room=` joins (else the first room).
    pub default: Option<bool>,
    /// The [`RoomFields`] this spec sets, by name; checked against them on
    /// [`RoomSpec::resolve`] (an unknown key or a wrong type is refused there).
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl RoomSpec {
    /// A spec from its JSON form (tests and tools).
    pub fn from_json(value: serde_json::Value) -> Result<RoomSpec, ConfigError> {
        serde_json::from_value(value).map_err(|e| ConfigError::RoomSpec(e.to_string()))
    }

    /// The template with this spec's fields applied, validated against `limits`. `map`
    /// must name a map of `maps`.
    pub fn resolve(
        &self,
        template: &RoomSettings,
        maps: &Maps,
        limits: &RoomLimits,
    ) -> Result<RoomSettings, ConfigError> {
        if let Some(id) = &self.id {
            validate_room_id(id)?;
        }
        let fields = self.fields_over(&template.fields)?;
        let map = match &self.map {
            // A room of another game than the template's plays on that game's own map.
            None if fields.game != template.fields.game => maps.default_for(&fields.game)?,
            None => template.map.clone(),
            Some(name) => maps.get(name)?,
        };
        let settings = RoomSettings {
            name: self
                .name
                .as_deref()
                .or(self.id.as_deref())
                .map_or_else(|| template.name.clone(), |n| n.trim().to_owned()),
            map,
            private: self.private.unwrap_or(false),
            fields,
        };
        settings.validate(limits)?;
        Ok(settings)
    }

    /// `template` with the fields this spec names replaced by the spec's values.
    fn fields_over(&self, template: &RoomFields) -> Result<RoomFields, ConfigError> {
        let invalid = |e: serde_json::Error| ConfigError::RoomSpec(e.to_string());
        let mut merged = match serde_json::to_value(template).map_err(invalid)? {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        for (key, value) in &self.fields {
            // A room field set to null is the template's, as if absent (an unknown key
            // is inserted whatever its value, and refused below).
            if value.is_null() && merged.contains_key(key) {
                continue;
            }
            merged.insert(key.clone(), value.clone());
        }
        serde_json::from_value(serde_json::Value::Object(merged)).map_err(invalid)
    }
}
