//! The room registry: every room the server hosts, by id.
//!
//! Each room is [`room::spawn`]ed on the registry's [`RoomPool`] (the room workers) with
//! its own World and tick loop; the registry holds its [`RoomHandle`] and [`RoomDone`],
//! starts rooms (the rooms file's or
//! the default room at start, others from the API) and stops them (`DELETE`, idle API
//! rooms, shutdown). It never touches a World: listing reads each room's published seat
//! counts and configuration.
//!
//! Rooms created through the API close once they have been empty (no player, no held
//! player, no reservation) for the idle timeout; rooms of the rooms file and the default
//! room stay.

// Room ids from the API flow through here: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::control::config::{
    ConfigError, RoomLimits, RoomSettings, entity_weight, validate_room_id,
};
use crate::obs::metrics::ServerMetrics;
use crate::room::pool::RoomPool;
use crate::room::{self, RoomConfig, RoomDone, RoomError, RoomHandle};

/// Where a room came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The rooms file, or the default room: stays until deleted.
    Config,
    /// `POST /api/rooms`: closes after being empty for the idle timeout.
    Api,
}

/// Why the registry refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("no room {0:?}")]
    Unknown(String),
    #[error("room {0:?} exists already")]
    Exists(String),
    #[error("the server hosts {0} rooms already (--max-rooms)")]
    TooMany(usize),
    #[error(
        "the room's {wanted} entities (drones + seats) exceed what is left of the server's budget: {left} of {budget} (--max-entities)"
    )]
    EntityBudget { wanted: u64, left: u64, budget: u64 },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error("the server is shutting down")]
    ShuttingDown,
}

#[derive(Debug)]
struct Entry {
    handle: RoomHandle,
    origin: Origin,
    done: Option<RoomDone>,
    /// Since when the room has had no player, held player or reservation.
    empty_since: Option<Instant>,
}

/// What the registry needs to start rooms.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub stats_interval: Duration,
    pub resume_grace: Duration,
    pub idle_timeout: Duration,
    pub max_rooms: usize,
    /// Room worker threads (at least one).
    pub room_workers: usize,
    pub default_room: String,
    /// Ceilings on every room's settings, and the process-wide entity budget.
    pub limits: RoomLimits,
}

/// Every room of the server.
#[derive(Debug)]
pub struct RoomRegistry {
    rooms: RwLock<BTreeMap<String, Entry>>,
    config: RegistryConfig,
    metrics: Arc<ServerMetrics>,
    shutdown: CancellationToken,
    /// The threads that run every room's ticks.
    pool: RoomPool,
    /// Waits for stopped rooms to end (they finish their tick first), and at shutdown
    /// for the workers to exit.
    joins: TaskTracker,
    /// Woken whenever a room is added or removed.
    changed: Notify,
}

impl RoomRegistry {
    /// Starts the room workers; rooms come with [`RoomRegistry::create`].
    pub fn new(
        config: RegistryConfig,
        metrics: Arc<ServerMetrics>,
        shutdown: CancellationToken,
    ) -> Result<RoomRegistry, RegistryError> {
        let pool = RoomPool::new(config.room_workers).map_err(RoomError::Spawn)?;
        info!(workers = config.room_workers, "room workers started");
        Ok(RoomRegistry {
            rooms: RwLock::new(BTreeMap::new()),
            config,
            metrics,
            shutdown,
            pool,
            joins: TaskTracker::new(),
            changed: Notify::new(),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Entry>> {
        self.rooms.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Entry>> {
        self.rooms.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a room. Without an id one is made up (`r-` and 8 hex digits).
    pub fn create(
        &self,
        id: Option<String>,
        settings: RoomSettings,
        origin: Origin,
    ) -> Result<RoomHandle, RegistryError> {
        if self.shutdown.is_cancelled() {
            return Err(RegistryError::ShuttingDown);
        }
        settings.validate(&self.config.limits)?;
        let mut rooms = self.write();
        let id = match id {
            Some(id) => {
                validate_room_id(&id)?;
                if rooms.contains_key(&id) {
                    return Err(RegistryError::Exists(id));
                }
                id
            }
            None => loop {
                let id = format!("r-{:08x}", rand::random::<u32>());
                if !rooms.contains_key(&id) {
                    break id;
                }
            },
        };
        if rooms.len() >= self.config.max_rooms {
            return Err(RegistryError::TooMany(self.config.max_rooms));
        }
        let budget = self.config.limits.max_entities;
        let used: u64 = rooms
            .values()
            .map(|e| entity_weight(&e.handle.config().settings))
            .sum();
        let wanted = entity_weight(&settings);
        if used.saturating_add(wanted) > budget {
            return Err(RegistryError::EntityBudget {
                wanted,
                left: budget.saturating_sub(used),
                budget,
            });
        }
        let seed = settings.seed.unwrap_or_else(rand::random);
        let config = RoomConfig {
            id: id.clone(),
            game: crate::games::of_room(&settings.game),
            settings,
            seed,
            stats_interval: self.config.stats_interval,
            resume_grace: self.config.resume_grace,
        };
        let metrics = self.metrics.clone();
        let metrics_id = id.clone();
        let (handle, done) = room::spawn(
            config,
            self.shutdown.clone(),
            move || metrics.room(&metrics_id),
            &self.pool,
        );
        info!(room = %id, ?origin, "room created");
        rooms.insert(
            id,
            Entry {
                handle: handle.clone(),
                origin,
                done: Some(done),
                empty_since: Some(Instant::now()),
            },
        );
        drop(rooms);
        self.changed.notify_waiters();
        Ok(handle)
    }

    /// The room `id`, if it runs.
    pub fn get(&self, id: &str) -> Option<RoomHandle> {
        self.read().get(id).map(|e| e.handle.clone())
    }

    /// Where room `id` came from.
    pub fn origin(&self, id: &str) -> Option<Origin> {
        self.read().get(id).map(|e| e.origin)
    }

    /// Every room, by id.
    pub fn list(&self) -> Vec<(RoomHandle, Origin)> {
        self.read()
            .values()
            .map(|e| (e.handle.clone(), e.origin))
            .collect()
    }

    /// Rooms the server hosts at most (`--max-rooms`).
    pub fn max_rooms(&self) -> usize {
        self.config.max_rooms
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The room `/ws` joins without `?room=`.
    pub fn default_room(&self) -> &str {
        &self.config.default_room
    }

    /// Stops room `id`: its sessions are closed with 4016 once its current tick is done.
    pub fn remove(&self, id: &str) -> Result<(), RegistryError> {
        let entry = self
            .write()
            .remove(id)
            .ok_or_else(|| RegistryError::Unknown(id.to_owned()))?;
        self.stop(id, entry);
        self.changed.notify_waiters();
        Ok(())
    }

    fn stop(&self, id: &str, mut entry: Entry) {
        entry.handle.close();
        info!(room = %id, "room closing");
        if let Some(done) = entry.done.take() {
            self.joins.spawn(done.wait());
        }
    }

    /// Closes API rooms that have been empty for the idle timeout; called periodically.
    pub fn reap_idle(&self, now: Instant) {
        let idle = self.config.idle_timeout;
        let mut stale = Vec::new();
        {
            let mut rooms = self.write();
            for (id, entry) in rooms.iter_mut() {
                if entry.handle.seats().taken() > 0 {
                    entry.empty_since = None;
                    continue;
                }
                let since = *entry.empty_since.get_or_insert(now);
                if entry.origin == Origin::Api && now.saturating_duration_since(since) >= idle {
                    stale.push(id.clone());
                }
            }
            for id in &stale {
                if let Some(entry) = rooms.remove(id) {
                    info!(room = %id, idle_s = idle.as_secs(), "closing an idle room");
                    self.stop(id, entry);
                }
            }
        }
        if !stale.is_empty() {
            self.changed.notify_waiters();
        }
    }

    /// Waits until `condition` holds for the registry; checked now and after every room
    /// added or removed (tests wait on this instead of polling).
    pub async fn until(&self, mut condition: impl FnMut(&RoomRegistry) -> bool) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if condition(self) {
                return;
            }
            notified.await;
        }
    }

    /// At shutdown (after `shutdown` was cancelled, which stops every room): waits up to
    /// `deadline` for every room to finish its tick and end, and for the room workers to
    /// exit.
    pub async fn join_all(&self, deadline: Duration) {
        let entries: Vec<(String, Entry)> =
            std::mem::take(&mut *self.write()).into_iter().collect();
        for (id, entry) in entries {
            self.stop(&id, entry);
        }
        for worker in self.pool.close() {
            self.joins.spawn_blocking(move || {
                let _ = worker.join();
            });
        }
        self.joins.close();
        if tokio::time::timeout(deadline, self.joins.wait())
            .await
            .is_err()
        {
            warn!("some rooms did not stop within the shutdown deadline");
        }
    }
}
