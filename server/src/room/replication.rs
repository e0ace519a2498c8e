//! Turning the World into snapshot bytes for each client.
//!
//! Once per tick that builds snapshots (in a crowded room, every tick: clients take
//! turns, see `super::core`), [`Replicator::prepare`] brings the quantised world
//! (sorted by net id) up to date and files positions in a uniform grid. That work is shared by
//! all clients. Per client, [`Replicator::delta_for`] only queries the grid for its area
//! of interest, diffs against that client's baseline, picks what fits its byte budget,
//! and encodes. The new baseline is committed only once the bytes are queued
//! ([`Replicator::commit`]), so a skipped snapshot never desynchronises anyone.
//!
//! Baseline: the last snapshot *queued* to the client. The WebSocket runs over TCP,
//! which delivers in order or not at all (and then the session is over), so a queued
//! snapshot is one the client will hold; waiting for acknowledgements would only make
//! deltas larger by a round trip. ARCHITECTURE.md has the full reasoning.

// Validated peer input drives this module: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use bevy_ecs::change_detection::{CheckChangeTicks, Tick};
use bevy_ecs::prelude::*;
use bevy_ecs::query::QueryState;
use bytes::Bytes;
use governor::clock::FakeRelativeClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use hdrhistogram::Histogram;
use shared::codec::{
    CodecError, encode, encode_full_snapshot_body, encode_full_snapshot_with_body,
};
use shared::delta::{
    Diff, Frame, Part, RecordCache, checksum, encode_payload, entity_hash, fold_hashes, merge,
};
use shared::protocol::{EntityState, Packing, ServerMessage, Snapshot, SnapshotSettings};
use shared::quant::{POS_SCALE, to_fixed};
use shared::schema::{EntityBuilder, Layout, MotionModel, MotionValue, Values};

use super::budget::{Budget, Change, Choice, select};
use crate::control::config::SnapshotMode;
use crate::engine::replicate::ComponentRule;
use crate::engine::{NetId, Replication, SimClock};

/// Uniform grid of entity indices (positions in position steps), rebuilt by each
/// [`Replicator::prepare`] and shared by every client's area-of-interest query.
#[derive(Debug, Default)]
pub struct Grid {
    cell: i64,
    cols: usize,
    rows: usize,
    cells: Vec<Vec<u32>>,
    /// One bit per entity index, set by a query: read in word order, the hits come out
    /// ascending without a sort (a sort per client was a tenth of the room's time).
    marks: Vec<u64>,
}

impl Grid {
    /// The cell side for queries of `radius`: a quarter of it, so that most cells a
    /// query touches lie wholly inside its circle and are taken without a distance test;
    /// never so small that the map has more than about 128 cells a side.
    pub fn cell_for(radius: i64, (width, height): (i64, i64)) -> i64 {
        (radius / 4).max(width.max(height) / 128).max(1)
    }

    /// Files every entity that has a position (`None`: global, not in the grid).
    pub fn build(&mut self, cell: i64, width: i64, height: i64, positions: &[Option<(i32, i32)>]) {
        self.cell = cell.max(1);
        self.cols = (width / self.cell + 1).max(1) as usize;
        self.rows = (height / self.cell + 1).max(1) as usize;
        self.cells.resize_with(self.cols * self.rows, Vec::new);
        for c in &mut self.cells {
            c.clear();
        }
        for (i, &(x, y)) in positions
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((i, p.as_ref()?)))
        {
            let idx = self.index(self.col(x), self.row(y));
            if let Some(c) = self.cells.get_mut(idx) {
                c.push(i as u32);
            }
        }
    }

    /// Whether every position the cell at (`col`, `row`) can hold is within `radius` of
    /// `center`. Edge cells also hold what lies beyond the map, so they never are.
    fn inside(&self, col: usize, row: usize, center: (i32, i32), radius: i64) -> bool {
        if col == 0 || row == 0 || col + 1 >= self.cols || row + 1 >= self.rows {
            return false;
        }
        let far = |lo: i64, c: i32| {
            let c = i64::from(c);
            (c - lo).abs().max((lo + self.cell - 1 - c).abs())
        };
        let dx = far(col as i64 * self.cell, center.0);
        let dy = far(row as i64 * self.cell, center.1);
        dx * dx + dy * dy <= radius * radius
    }

    fn col(&self, x: i32) -> usize {
        (i64::from(x) / self.cell).clamp(0, self.cols as i64 - 1) as usize
    }

    fn row(&self, y: i32) -> usize {
        (i64::from(y) / self.cell).clamp(0, self.rows as i64 - 1) as usize
    }

    fn index(&self, col: usize, row: usize) -> usize {
        row * self.cols + col
    }

    /// Indices of entities within `radius` of `center`, ascending.
    pub fn query(
        &mut self,
        center: (i32, i32),
        radius: i64,
        positions: &[Option<(i32, i32)>],
        out: &mut Vec<usize>,
    ) {
        out.clear();
        self.marks.clear();
        self.marks.resize(positions.len().div_ceil(64), 0);
        let (cx, cy) = center;
        let r = radius.min(i64::from(i32::MAX / 2)) as i32;
        let (c0, c1) = (
            self.col(cx.saturating_sub(r)),
            self.col(cx.saturating_add(r)),
        );
        let (r0, r1) = (
            self.row(cy.saturating_sub(r)),
            self.row(cy.saturating_add(r)),
        );
        for row in r0..=r1 {
            for col in c0..=c1 {
                let Some(cell) = self.cells.get(self.index(col, row)) else {
                    continue;
                };
                let inside = self.inside(col, row, center, radius);
                for &i in cell {
                    let hit = inside || {
                        let Some(&Some((x, y))) = positions.get(i as usize) else {
                            continue;
                        };
                        let (dx, dy) = (i64::from(x) - i64::from(cx), i64::from(y) - i64::from(cy));
                        dx * dx + dy * dy <= radius * radius
                    };
                    if hit && let Some(word) = self.marks.get_mut(i as usize / 64) {
                        *word |= 1 << (i % 64);
                    }
                }
            }
        }
        for (w, &word) in self.marks.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                out.push(w * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
    }
}

/// Per-client snapshot rate limiter, driven by simulation time.
type SnapshotLimiter =
    RateLimiter<NotKeyed, InMemoryState, FakeRelativeClock, NoOpMiddleware<governor::nanos::Nanos>>;

/// Everything the room remembers about what one client holds.
#[derive(Debug)]
pub struct ClientReplication {
    baseline: Vec<EntityState>,
    /// Tick of `baseline`; 0 means the client holds nothing and gets a keyframe.
    baseline_tick: u32,
    /// Entities whose changes were held back by the budget, with the tick they first were.
    pending_since: HashMap<u32, u32>,
    limiter: SnapshotLimiter,
    settings: SnapshotSettings,
    /// The byte budget's bucket and the adaptive area of interest.
    budget: Budget,
}

/// What one client's snapshot contained, for the room's statistics.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeltaStats {
    pub keyframe: bool,
    pub in_view: usize,
    /// Entities in view with a non-zero velocity.
    pub moving_in_view: usize,
    pub created: usize,
    pub changed: usize,
    pub removed: usize,
    /// Records held back by the byte budget.
    pub deferred: usize,
    pub payload_bytes: usize,
    /// The client's area-of-interest radius for this snapshot, in position steps.
    pub radius_q: i64,
}

fn limiter(settings: SnapshotSettings, clock: &FakeRelativeClock) -> SnapshotLimiter {
    let rate = NonZeroU32::new(u32::from(settings.rate)).unwrap_or(NonZeroU32::MIN);
    RateLimiter::direct_with_clock(Quota::per_second(rate), clock.clone())
}

impl ClientReplication {
    pub fn new(settings: SnapshotSettings, clock: &FakeRelativeClock) -> ClientReplication {
        ClientReplication {
            baseline: Vec::new(),
            baseline_tick: 0,
            pending_since: HashMap::new(),
            limiter: limiter(settings, clock),
            settings,
            budget: Budget::new(settings),
        }
    }

    /// Applies settings the session has already clamped to the room's limits.
    pub fn set_settings(&mut self, settings: SnapshotSettings, clock: &FakeRelativeClock) {
        if settings.rate != self.settings.rate {
            self.limiter = limiter(settings, clock);
        }
        self.budget.resize(settings);
        self.settings = settings;
    }

    /// Whether this client is due a snapshot now (consumes the rate limiter's cell).
    pub fn due(&self) -> bool {
        self.limiter.check().is_ok()
    }

    /// Entities this client holds, and entities waiting for its byte budget.
    #[cfg(test)]
    pub fn sizes(&self) -> (usize, usize) {
        (self.baseline.len(), self.pending_since.len())
    }

    /// The tick and entities of the view the client holds (its baseline).
    #[cfg(test)]
    pub fn baseline(&self) -> (u32, &[EntityState]) {
        (self.baseline_tick, &self.baseline)
    }

    /// Forgets the baseline: the next snapshot is a keyframe.
    pub fn reset(&mut self) {
        self.baseline.clear();
        self.baseline_tick = 0;
        self.pending_since.clear();
    }
}

/// Per-client working buffers, shared by all clients of a room because only one client's
/// snapshot is built at a time: only the baseline has to be kept per client, which keeps
/// a crowded room's memory at one copy of each view instead of three.
#[derive(Debug, Default)]
struct Scratch {
    /// The view a partial snapshot (a byte budget held records back) gives the client,
    /// committed on send; a whole one is committed by applying `diff` to the baseline.
    next: Vec<EntityState>,
    /// Whether `next` holds the pending view (else `diff` describes it).
    partial: bool,
    /// Indices into the kept world of the entities in view, ascending (so by id).
    visible: Vec<usize>,
    /// Baseline against the visible entities; created and changed point into the kept
    /// world, so no entity is copied (or its shared values counted) for the diff.
    diff: Diff,
}

/// The area of interest's radius in the unit of the schema's motions (positions are
/// compared in it), from metres.
pub fn aoi_radius_steps(layout: &Layout, metres: f64) -> i64 {
    let scale = match layout.motion_scale() {
        0 => POS_SCALE,
        s => f64::from(s),
    };
    i64::from(to_fixed(metres, scale))
}

/// One entity with a [`NetId`] as this pass found it.
#[derive(Debug, Clone, Copy)]
struct Found {
    entity: Entity,
    id: u32,
    /// The replicated components it has now (bit = schema index).
    present: u32,
    /// One of them (or its net id) changed since the last pass.
    dirty: bool,
}

/// Gathers and encodes replicated state; owns its cached queries and buffers so that the
/// snapshot path reuses its allocations from tick to tick.
pub struct Replicator {
    mode: SnapshotMode,
    packing: Packing,
    tick_rate: u16,
    aoi_radius: i64,
    map_size: (i64, i64),
    layout: Arc<Layout>,
    /// Per schema component, the game's registered queries.
    rules: Vec<Box<dyn ComponentRule>>,
    net_ids: QueryState<(Entity, Ref<'static, NetId>)>,
    /// Every replicated entity, quantised, sorted by id. Kept from one snapshot tick to
    /// the next: only entities whose replicated components changed are quantised and
    /// hashed again.
    world: Vec<EntityState>,
    /// `entity_hash` of each entity of `world`, for the per-client checksums.
    hashes: Vec<u32>,
    /// The motion that places each entity of `world`, kept beside it: positions are
    /// computed every snapshot tick for every entity, and reading them here does not
    /// chase each entity's values through its pointer.
    motions: Vec<Option<(MotionValue, MotionModel)>>,
    /// Per entity of `world`: the components it was quantised with (a component removed
    /// since is a change no change tick reports), and the pass of
    /// [`Replicator::prepare`] that last saw it (older means despawned).
    has: Vec<u32>,
    seen: Vec<u32>,
    /// The ids of `world`, apart: looking an entity up touches 4 bytes per step of the
    /// binary search instead of a whole `EntityState`.
    ids: Vec<u32>,
    pass: u32,
    /// The change tick of the last [`Replicator::prepare`]: components changed after it
    /// are what the next one quantises.
    last_run: Tick,
    /// Set when bevy's periodic check clamped `last_run` (a room that sent no snapshot
    /// for a very long time): changes since then can no longer be told apart from older
    /// ones, so the next pass quantises every entity.
    quantise_all: bool,
    /// This pass's entities, and per bevy entity index (pass, index into `found`), so
    /// that each component's scan finds its entity in one step.
    found: Vec<Found>,
    found_at: Vec<(u32, u32)>,
    /// Entities new since the last pass, before they are merged into `world`.
    added: Vec<(EntityState, u32)>,
    /// Entities quantised by the last pass (new or changed), for the statistics.
    requantised: usize,
    /// Where each entity of `world` is now; `None` for entities without a motion, which
    /// every client sees (`globals`).
    positions: Vec<Option<(i32, i32)>>,
    /// Per entity of `world`: whether its motion has a velocity (for the statistics).
    moving: Vec<bool>,
    globals: Vec<usize>,
    grid: Grid,
    /// Records coded this snapshot tick, copied into every client's payload that needs
    /// the same one.
    records: RecordCache,
    full_body: Vec<u8>,
    scratch: Scratch,
}

impl std::fmt::Debug for Replicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replicator")
            .field("mode", &self.mode)
            .field("game", &self.layout.schema().game)
            .field("entities", &self.world.len())
            .finish_non_exhaustive()
    }
}

/// Bytes of a `Snapshot` message besides its payload, at most: the tag, the tick,
/// baseline and input seq as they are, the checksum at its widest and the payload length
/// at the most `max_payload` allows (bincode varints: 1, 3 or 5 bytes).
fn snapshot_header_bytes(tick: u32, baseline: u32, seq: u32, max_payload: i64) -> i64 {
    let varint = |v: u64| match v {
        0..=250 => 1,
        251..=0xFFFF => 3,
        _ => 5,
    };
    1 + varint(u64::from(tick))
        + varint(u64::from(baseline))
        + varint(u64::from(seq))
        + 5
        + varint(u64::try_from(max_payload).unwrap_or(0))
}

impl Replicator {
    pub fn new(
        world: &mut World,
        replication: &Replication,
        mode: SnapshotMode,
        packing: Packing,
        tick_rate: u16,
        aoi_radius_m: f64,
        map_size_q: (i32, i32),
    ) -> Result<Replicator, shared::schema::SchemaError> {
        let layout = replication.schema().layout()?;
        Ok(Replicator {
            mode,
            packing,
            tick_rate,
            aoi_radius: aoi_radius_steps(&layout, aoi_radius_m),
            map_size: (i64::from(map_size_q.0), i64::from(map_size_q.1)),
            layout: Arc::new(layout),
            rules: replication.rules(world),
            net_ids: world.query::<(Entity, Ref<NetId>)>(),
            world: Vec::new(),
            hashes: Vec::new(),
            motions: Vec::new(),
            has: Vec::new(),
            seen: Vec::new(),
            ids: Vec::new(),
            pass: 0,
            last_run: Tick::new(0),
            quantise_all: false,
            found: Vec::new(),
            found_at: Vec::new(),
            added: Vec::new(),
            requantised: 0,
            positions: Vec::new(),
            moving: Vec::new(),
            globals: Vec::new(),
            grid: Grid::default(),
            records: RecordCache::default(),
            full_body: Vec::new(),
            scratch: Scratch::default(),
        })
    }

    pub fn mode(&self) -> SnapshotMode {
        self.mode
    }

    /// The game's checked schema.
    pub fn layout(&self) -> &Arc<Layout> {
        &self.layout
    }

    /// Number of replicated entities at the last [`Replicator::prepare`].
    pub fn entity_count(&self) -> usize {
        self.world.len()
    }

    /// Slots allocated in the room-wide buffers (they only grow to the largest crowd seen).
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        let s = &self.scratch;
        self.world.capacity()
            + self.hashes.capacity()
            + self.motions.capacity()
            + self.has.capacity()
            + self.seen.capacity()
            + self.ids.capacity()
            + self.added.capacity()
            + self.found.capacity()
            + self.positions.capacity()
            + self.moving.capacity()
            + self.globals.capacity()
            + self.full_body.capacity()
            + s.next.capacity()
            + s.diff.created.capacity()
            + s.visible.capacity()
    }

    /// The quantised world and its hashes, as the last [`Replicator::prepare`] left them.
    #[cfg(test)]
    pub fn entities(&self) -> (&[EntityState], &[u32]) {
        (&self.world, &self.hashes)
    }

    /// Entities quantised by the last [`Replicator::prepare`] (new or changed since the
    /// one before).
    pub fn requantised(&self) -> usize {
        self.requantised
    }

    /// Finds this pass's replicated entities and which of their components changed.
    fn scan(&mut self, world: &World, last_run: Tick, this_run: Tick) {
        let pass = self.pass;
        self.found.clear();
        for (entity, id) in self.net_ids.iter(world) {
            let at = entity.index_u32() as usize;
            if self.found_at.len() <= at {
                self.found_at.resize(at + 1, (0, 0));
            }
            if let Some(slot) = self.found_at.get_mut(at) {
                *slot = (pass, self.found.len() as u32);
            }
            self.found.push(Found {
                entity,
                id: id.0,
                present: 0,
                dirty: id.last_changed().is_newer_than(last_run, this_run),
            });
        }
        let (found, found_at) = (&mut self.found, &self.found_at);
        for (bit, rule) in self.rules.iter_mut().enumerate() {
            rule.scan(world, &mut |entity, changed| {
                let Some(&(p, i)) = found_at.get(entity.index_u32() as usize) else {
                    return;
                };
                if p != pass {
                    return;
                }
                if let Some(f) = found.get_mut(i as usize) {
                    f.present |= 1 << bit;
                    f.dirty |= changed.is_newer_than(last_run, this_run);
                }
            });
        }
    }

    /// The replicated state of one entity, written by its components.
    fn quantise(&mut self, world: &World, f: Found) -> EntityState {
        let mut b = EntityBuilder::new(&self.layout, f.id, Values::default());
        for (c, rule) in self.rules.iter_mut().enumerate() {
            if f.present & (1 << c) != 0 {
                rule.write(world, f.entity, &mut self.layout.writer(&mut b, c));
            }
        }
        b.build()
    }

    /// The shared part of a snapshot tick: bring the quantised world up to date, then
    /// either build the grid (delta) or encode the one full body (full).
    ///
    /// `this_run` is a change tick no component has yet ([`World::increment_change_tick`]):
    /// an entity is quantised and hashed again only if one of its replicated components
    /// changed since the previous call (or it gained or lost one), so an idle entity
    /// costs a lookup. Systems must therefore mark a replicated component changed exactly
    /// when its replicated value changes (`set_if_neq`, or `bypass_change_detection` for
    /// fields that are not replicated); the tests compare this with a full pass.
    pub fn prepare(&mut self, world: &World, this_run: Tick) -> Result<(), CodecError> {
        let last_run = self.last_run;
        self.last_run = this_run;
        self.pass = self.pass.wrapping_add(1);
        let pass = self.pass;
        self.requantised = 0;
        self.added.clear();
        self.scan(world, last_run, this_run);
        let quantise_all = std::mem::take(&mut self.quantise_all);
        for k in 0..self.found.len() {
            let Some(&f) = self.found.get(k) else { break };
            if f.present == 0 {
                // A net id but nothing the game replicates: not on the wire.
                continue;
            }
            let slot = self.ids.binary_search(&f.id);
            if let Ok(i) = slot
                && !f.dirty
                && !quantise_all
                && self.has.get(i) == Some(&f.present)
            {
                if let Some(seen) = self.seen.get_mut(i) {
                    *seen = pass;
                }
                continue;
            }
            self.requantised += 1;
            let state = self.quantise(world, f);
            match slot {
                Ok(i) => {
                    if let (Some(e), Some(h), Some(m), Some(b), Some(seen)) = (
                        self.world.get_mut(i),
                        self.hashes.get_mut(i),
                        self.motions.get_mut(i),
                        self.has.get_mut(i),
                        self.seen.get_mut(i),
                    ) {
                        // A change tick without a change of value keeps the shared
                        // values, so every client's diff stays a pointer comparison.
                        if !e.same(&state) {
                            *h = entity_hash(&self.layout, &state);
                            *m = self.layout.placing_motion(&state);
                            *e = state;
                        }
                        *b = f.present;
                        *seen = pass;
                    }
                }
                Err(_) => self.added.push((state, f.present)),
            }
        }
        self.merge_pass();
        match self.mode {
            SnapshotMode::Full => {
                self.full_body = encode_full_snapshot_body(&self.world)?;
            }
            SnapshotMode::Delta => {
                // Positions now, whatever the motion model, for the area of interest.
                let tick = world.resource::<SimClock>().tick;
                self.records.reset(tick, self.world.len());
                self.positions.clear();
                self.moving.clear();
                self.globals.clear();
                for (i, motion) in self.motions.iter().enumerate() {
                    let Some((m, model)) = motion else {
                        self.globals.push(i);
                        self.positions.push(None);
                        self.moving.push(false);
                        continue;
                    };
                    self.positions
                        .push(Some(m.at(*model, tick, self.tick_rate)));
                    self.moving.push(m.vx != 0 || m.vy != 0);
                }
                self.grid.build(
                    Grid::cell_for(self.aoi_radius, self.map_size),
                    self.map_size.0,
                    self.map_size.1,
                    &self.positions,
                );
            }
        }
        Ok(())
    }

    /// Keeps the change tick of the last pass within bevy's range (call it with every
    /// [`World::check_change_ticks`] result, as for a schedule).
    pub fn check_change_ticks(&mut self, check: CheckChangeTicks) {
        if self.last_run.check_tick(check) {
            self.quantise_all = true;
        }
    }

    /// Drops the entities this pass did not see (despawned) and merges in the new ones,
    /// keeping `world` sorted by id and the per-entity vectors aligned with it.
    fn merge_pass(&mut self) {
        let pass = self.pass;
        let mut kept = 0;
        for i in 0..self.world.len() {
            if self.seen.get(i) == Some(&pass) {
                self.world.swap(kept, i);
                self.hashes.swap(kept, i);
                self.motions.swap(kept, i);
                self.has.swap(kept, i);
                self.seen.swap(kept, i);
                self.ids.swap(kept, i);
                kept += 1;
            }
        }
        self.world.truncate(kept);
        self.hashes.truncate(kept);
        self.motions.truncate(kept);
        self.has.truncate(kept);
        self.seen.truncate(kept);
        self.ids.truncate(kept);
        if self.added.is_empty() {
            return;
        }
        self.added.sort_unstable_by_key(|(e, _)| e.id);
        // Net ids only grow, so new entities usually all sort after the old ones.
        let in_order = match (self.world.last(), self.added.first()) {
            (Some(last), Some((first, _))) => last.id < first.id,
            _ => true,
        };
        for (state, has) in self.added.drain(..) {
            self.ids.push(state.id);
            self.hashes.push(entity_hash(&self.layout, &state));
            self.motions.push(self.layout.placing_motion(&state));
            self.world.push(state);
            self.has.push(has);
            self.seen.push(pass);
        }
        if !in_order {
            let mut order: Vec<usize> = (0..self.world.len()).collect();
            order.sort_unstable_by_key(|&i| self.world.get(i).map_or(0, |e| e.id));
            self.world = permuted(&mut self.world, &order);
            self.hashes = permuted(&mut self.hashes, &order);
            self.motions = permuted(&mut self.motions, &order);
            self.has = permuted(&mut self.has, &order);
            self.seen = permuted(&mut self.seen, &order);
            self.ids = permuted(&mut self.ids, &order);
        }
    }

    /// The full snapshot for one client (`--snapshots full`).
    pub fn full_for(&self, tick: u32, last_input_seq: u32) -> Result<Bytes, CodecError> {
        Ok(encode_full_snapshot_with_body(tick, last_input_seq, &self.full_body)?.into())
    }

    /// Builds one client's delta snapshot, as large as its budget's bucket allows
    /// ([`super::budget`]); `None` when the bucket cannot pay even for the own player
    /// (the slot passes). Commit with [`Replicator::commit`] once the bytes are queued,
    /// before building the next client's. Records every in-view entity's staleness.
    pub fn delta_for(
        &mut self,
        client: &mut ClientReplication,
        own: u32,
        tick: u32,
        last_input_seq: u32,
        staleness_ms: &mut Histogram<u64>,
        now: Instant,
    ) -> Result<Option<(Bytes, DeltaStats)>, CodecError> {
        client.budget.refill(client.settings, now);
        let radius = client.budget.radius(self.aoi_radius);
        let scratch = &mut self.scratch;
        let own_index = self.world.binary_search_by_key(&own, |e| e.id).ok();
        let center = own_index.and_then(|i| self.positions.get(i).copied().flatten());
        match center {
            Some(c) => self
                .grid
                .query(c, radius, &self.positions, &mut scratch.visible),
            None => scratch.visible.clear(),
        }
        // The own player is always in view, even with a zero radius, and so is every
        // entity without a position (a match clock, team scores).
        for &i in own_index.iter().chain(&self.globals) {
            if let Err(pos) = scratch.visible.binary_search(&i) {
                scratch.visible.insert(pos, i);
            }
        }

        let baseline_tick = if client.baseline.is_empty() {
            0
        } else {
            client.baseline_tick
        };
        if baseline_tick == 0 {
            client.baseline.clear();
        }
        let frame = Frame {
            tick,
            baseline: baseline_tick,
            tick_rate: self.tick_rate,
        };
        diff_visible(
            &client.baseline,
            &self.world,
            &scratch.visible,
            &mut scratch.diff,
        );

        // What the bucket allows for the payload, once the message's other fields are
        // paid for (the checksum at its widest, the payload length at the most it can be).
        let tokens = client.budget.tokens();
        let header = snapshot_header_bytes(tick, baseline_tick, last_input_seq, tokens / 8);
        let budget_bits = usize::try_from(tokens - header * 8).unwrap_or(0);
        let mut stats = DeltaStats {
            keyframe: baseline_tick == 0,
            in_view: scratch.visible.len(),
            moving_in_view: scratch
                .visible
                .iter()
                .filter(|&&i| self.moving.get(i) == Some(&true))
                .count(),
            radius_q: radius,
            ..DeltaStats::default()
        };

        let records = &mut self.records;
        let mut encode_with = |removed: &[u32], created: &[usize], changed: &[Change]| {
            let part = Part {
                base: &client.baseline,
                target: &self.world,
                removed,
                created,
                changed,
            };
            match self.packing {
                Packing::Bits => records.encode(&self.layout, &frame, part),
                Packing::Bytes => encode_payload(self.packing, &self.layout, &frame, part),
            }
        };
        let mut payload = encode_with(
            &scratch.diff.removed,
            &scratch.diff.created,
            &scratch.diff.changed,
        );
        let selection = if payload.len() * 8 <= budget_bits {
            None
        } else {
            let choice = Choice {
                packing: self.packing,
                layout: &self.layout,
                frame: &frame,
                tick_rate: self.tick_rate,
                rate: client.settings.rate,
                radius,
                center,
                own,
                baseline: &client.baseline,
                target: &self.world,
                visible: &scratch.visible,
                diff: &scratch.diff,
            };
            let chosen = select(&choice, &mut client.pending_since, budget_bits, |s| {
                encode_with(&s.removed, &s.created, &s.changed).len() * 8
            });
            let chosen = match chosen {
                Ok(chosen) => chosen,
                Err(own_bits) => {
                    // Not even the own player fits what the bucket holds: this slot
                    // passes, and the bucket fills for the next, up to what it needs.
                    let header = usize::try_from(header).unwrap_or(0);
                    client.budget.hold(own_bits + header * 8);
                    return Ok(None);
                }
            };
            payload = encode_with(&chosen.removed, &chosen.created, &chosen.changed);
            Some(chosen)
        };
        let (removed, created, changed): (&[u32], &[usize], &[Change]) = match &selection {
            None => {
                client.pending_since.clear();
                (
                    &scratch.diff.removed,
                    &scratch.diff.created,
                    &scratch.diff.changed,
                )
            }
            Some(s) => (&s.removed, &s.created, &s.changed),
        };
        stats.created = created.len();
        stats.changed = changed.len();
        stats.removed = removed.len();
        // Every record held back, removals included.
        let d = &scratch.diff;
        stats.deferred = (d.removed.len() + d.created.len() + d.changed.len())
            .saturating_sub(removed.len() + created.len() + changed.len());
        stats.payload_bytes = payload.len();

        // Staleness of every entity in view: 0 for what is current, the wait for what
        // the budget held back.
        let ms_per_tick = 1000.0 / f64::from(self.tick_rate.max(1));
        let waits = selection.as_ref().map_or(&[][..], |s| s.waits.as_slice());
        let fresh = scratch.visible.len().saturating_sub(waits.len());
        staleness_ms.saturating_record_n(0, fresh as u64);
        for &w in waits {
            staleness_ms.saturating_record((f64::from(w) * ms_per_tick).round() as u64);
        }
        client.budget.adapt(
            self.aoi_radius,
            stats.deferred,
            waits.iter().copied().max().unwrap_or(0),
            self.tick_rate,
        );

        let all_sent = selection.is_none();
        scratch.partial = !all_sent;
        let checksum = if all_sent {
            // Everything went: the client will hold exactly the visible entities, whose
            // hashes were computed once for all clients.
            fold_hashes(
                scratch
                    .visible
                    .iter()
                    .filter_map(|&i| self.hashes.get(i).copied()),
            )
        } else {
            merge(
                &client.baseline,
                &self.world,
                removed,
                created,
                changed,
                &mut scratch.next,
            );
            checksum(&self.layout, &scratch.next)
        };
        let message = ServerMessage::Snapshot(Snapshot {
            tick,
            baseline: baseline_tick,
            last_input_seq,
            checksum,
            payload,
        });
        Ok(Some((encode(&message)?.into(), stats)))
    }

    /// The snapshot built by the last [`Replicator::delta_for`] was queued: it is now what
    /// the client holds.
    pub fn commit(&mut self, client: &mut ClientReplication, tick: u32, bytes: usize) {
        let scratch = &mut self.scratch;
        if scratch.partial {
            std::mem::swap(&mut client.baseline, &mut scratch.next);
        } else if scratch.diff.removed.is_empty() && scratch.diff.created.is_empty() {
            // The same entities, some changed (the usual snapshot): replaced in place.
            for &(i, j) in &scratch.diff.changed {
                if let (Some(b), Some(t)) = (client.baseline.get_mut(i), self.world.get(j)) {
                    *b = t.clone();
                }
            }
        } else {
            // The whole diff went: unchanged entities stay where they are (moved, not
            // cloned: no reference count changes for what did not change), created and
            // changed ones are taken from the kept world.
            let d = &scratch.diff;
            scratch.next.clear();
            // Drained, not taken: both buffers keep their capacity from one snapshot to
            // the next.
            let mut old = client.baseline.drain(..).enumerate();
            let mut changed = d.changed.iter().peekable();
            let mut removed = d.removed.iter().peekable();
            let mut created = d
                .created
                .iter()
                .filter_map(|&j| self.world.get(j))
                .peekable();
            for (i, b) in old.by_ref() {
                while let Some(c) = created.next_if(|c| c.id < b.id) {
                    scratch.next.push(c.clone());
                }
                if removed.next_if(|&&id| id == b.id).is_some() {
                    continue;
                }
                match changed.next_if(|&&(bi, _)| bi == i) {
                    Some(&(_, j)) => scratch.next.push(self.world.get(j).cloned().unwrap_or(b)),
                    None => scratch.next.push(b),
                }
            }
            scratch.next.extend(created.cloned());
            drop(old);
            std::mem::swap(&mut client.baseline, &mut scratch.next);
        }
        client.baseline_tick = tick;
        client.budget.charge(bytes);
    }
}

/// Diffs a client's baseline against the entities of `world` at the ascending indices
/// `visible` (world is sorted by id, so they are too), into `out`: created and changed
/// records point into `world`.
fn diff_visible(base: &[EntityState], world: &[EntityState], visible: &[usize], out: &mut Diff) {
    out.clear();
    let mut target = visible
        .iter()
        .filter_map(|&j| Some((j, world.get(j)?)))
        .peekable();
    let mut base = base.iter().enumerate().peekable();
    loop {
        match (base.peek(), target.peek()) {
            (None, None) => break,
            (Some(&(_, b)), None) => {
                out.removed.push(b.id);
                base.next();
            }
            (None, Some(&(j, _))) => {
                out.created.push(j);
                target.next();
            }
            (Some(&(_, b)), Some(&(_, t))) if b.id < t.id => {
                out.removed.push(b.id);
                base.next();
            }
            (Some(&(_, b)), Some(&(j, t))) if b.id > t.id => {
                out.created.push(j);
                target.next();
            }
            (Some(&(i, b)), Some(&(j, t))) => {
                if !b.same(t) {
                    out.changed.push((i, j));
                }
                base.next();
                target.next();
            }
        }
    }
}

/// `v` in the order of the indices `order`.
fn permuted<T: Clone>(v: &mut Vec<T>, order: &[usize]) -> Vec<T> {
    let old = std::mem::take(v);
    order.iter().filter_map(|&i| old.get(i).cloned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_query_matches_brute_force() {
        let positions: Vec<Option<(i32, i32)>> = (0..500)
            .map(|i| Some(((i * 7919) % 12_800, (i * 104_729) % 12_800)))
            .collect();
        let mut grid = Grid::default();
        let mut out = Vec::new();
        for (cell, radius) in [(3072, 3072), (768, 3072), (100, 3072), (768, 300)] {
            grid.build(cell, 12_800, 12_800, &positions);
            for center in [
                (0, 0),
                (6400, 6400),
                (12_800, 100),
                (-50, 20_000),
                (5000, 7000),
            ] {
                grid.query(center, radius, &positions, &mut out);
                let brute: Vec<usize> = positions
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| Some((i, (*p)?)))
                    .filter(|(_, (x, y))| {
                        let (dx, dy) = (i64::from(*x - center.0), i64::from(*y - center.1));
                        dx * dx + dy * dy <= radius * radius
                    })
                    .map(|(i, _)| i)
                    .collect();
                assert_eq!(
                    out, brute,
                    "cell {cell}, radius {radius}, center {center:?}"
                );
            }
        }
    }
}
