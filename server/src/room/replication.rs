//! Turning the World into snapshot bytes for each client.
//!
//! Once per snapshot tick, [`Replicator::prepare`] quantises every replicated entity
//! (sorted by net id) and files their positions in a uniform grid. That work is shared by
//! all clients. Per client, [`Replicator::delta_for`] only queries the grid for its area
//! of interest, diffs against that client's baseline, picks what fits its byte budget,
//! and encodes. The new baseline is committed only once the bytes are queued
//! ([`ClientReplication::commit`]), so a skipped snapshot never desynchronises anyone.
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

use std::borrow::Cow;
use std::collections::HashMap;
use std::num::NonZeroU32;

use bevy_ecs::prelude::*;
use bevy_ecs::query::QueryState;
use bytes::Bytes;
use governor::clock::FakeRelativeClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use shared::codec::{
    CodecError, encode, encode_full_snapshot_body, encode_full_snapshot_with_body,
};
use shared::delta::{
    Diff, Frame, changed_bits, checksum, created_bits, diff, encode_payload, entity_hash,
    fold_hashes, merge,
};
use shared::protocol::{
    EntityKind, EntityState, FLAG_DEAD, Packing, ServerMessage, Snapshot, SnapshotSettings,
};
use shared::quant::{pos_to_q, vel_to_q};

use super::game::{Facing, Health, Motion, NetId, Player, Projectile, Trajectory};
use crate::config::SnapshotMode;

type ReplicatedQuery = (
    &'static NetId,
    &'static Motion,
    &'static Facing,
    Option<&'static Health>,
    Option<&'static Player>,
    Option<&'static Projectile>,
    Option<&'static Trajectory>,
);

/// Uniform grid of entity indices (positions in position steps), rebuilt once per
/// snapshot tick and shared by every client's area-of-interest query.
#[derive(Debug, Default)]
pub struct Grid {
    cell: i64,
    cols: usize,
    rows: usize,
    cells: Vec<Vec<u32>>,
}

impl Grid {
    pub fn build(&mut self, cell: i64, width: i64, height: i64, positions: &[(i32, i32)]) {
        self.cell = cell.max(1);
        self.cols = (width / self.cell + 1).max(1) as usize;
        self.rows = (height / self.cell + 1).max(1) as usize;
        self.cells.resize_with(self.cols * self.rows, Vec::new);
        for c in &mut self.cells {
            c.clear();
        }
        for (i, &(x, y)) in positions.iter().enumerate() {
            let idx = self.index(self.col(x), self.row(y));
            if let Some(c) = self.cells.get_mut(idx) {
                c.push(i as u32);
            }
        }
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
        &self,
        center: (i32, i32),
        radius: i64,
        positions: &[(i32, i32)],
        out: &mut Vec<usize>,
    ) {
        out.clear();
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
                for &i in cell {
                    let Some(&(x, y)) = positions.get(i as usize) else {
                        continue;
                    };
                    let (dx, dy) = (i64::from(x) - i64::from(cx), i64::from(y) - i64::from(cy));
                    if dx * dx + dy * dy <= radius * radius {
                        out.push(i as usize);
                    }
                }
            }
        }
        out.sort_unstable();
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
    /// Changes and creations held back by the byte budget.
    pub deferred: usize,
    pub payload_bytes: usize,
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
        }
    }

    /// Applies settings the session has already clamped to the room's limits.
    pub fn set_settings(&mut self, settings: SnapshotSettings, clock: &FakeRelativeClock) {
        if settings.rate != self.settings.rate {
            self.limiter = limiter(settings, clock);
        }
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
    /// The view the pending snapshot will give the client, committed on send.
    next: Vec<EntityState>,
    target: Vec<EntityState>,
    visible: Vec<usize>,
    diff: Diff,
}

/// Gathers and encodes replicated state; owns its cached query and buffers so that the
/// snapshot path reuses its allocations from tick to tick.
#[derive(Debug)]
pub struct Replicator {
    mode: SnapshotMode,
    packing: Packing,
    tick_rate: u16,
    aoi_radius: i64,
    map_size: (i64, i64),
    query: QueryState<ReplicatedQuery>,
    world: Vec<EntityState>,
    /// `entity_hash` of each entity of `world`, for the per-client checksums.
    hashes: Vec<u32>,
    positions: Vec<(i32, i32)>,
    grid: Grid,
    full_body: Vec<u8>,
    scratch: Scratch,
}

/// Fixed bytes of a `Snapshot` message besides the payload (tag, four varints, length).
const SNAPSHOT_OVERHEAD: usize = 16;

impl Replicator {
    pub fn new(
        world: &mut World,
        mode: SnapshotMode,
        packing: Packing,
        tick_rate: u16,
        aoi_radius_m: f64,
        map_size_q: (i32, i32),
    ) -> Replicator {
        Replicator {
            mode,
            packing,
            tick_rate,
            aoi_radius: i64::from(pos_to_q(aoi_radius_m)),
            map_size: (i64::from(map_size_q.0), i64::from(map_size_q.1)),
            query: world.query::<ReplicatedQuery>(),
            world: Vec::new(),
            hashes: Vec::new(),
            positions: Vec::new(),
            grid: Grid::default(),
            full_body: Vec::new(),
            scratch: Scratch::default(),
        }
    }

    pub fn mode(&self) -> SnapshotMode {
        self.mode
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
            + self.positions.capacity()
            + self.full_body.capacity()
            + s.next.capacity()
            + s.target.capacity()
            + s.visible.capacity()
    }

    /// The shared part of a snapshot tick: quantise every entity once, then either build
    /// the grid (delta) or encode the one full body (full).
    pub fn prepare(&mut self, world: &World) -> Result<(), CodecError> {
        self.world.clear();
        for (id, motion, facing, health, player, projectile, trajectory) in self.query.iter(world) {
            let k = motion.0;
            let kind = match (player, projectile) {
                (Some(_), _) => EntityKind::Player,
                (None, Some(_)) => EntityKind::Projectile,
                (None, None) => EntityKind::Drone,
            };
            // Trajectories are replicated as such (their position is derived); the
            // naive full mode sends current positions like a straightforward server.
            // A trajectory's facing is its velocity's direction, which clients derive for
            // drawing; replicating it would cost bits on every turn for nothing.
            let (x, y, vx, vy, anchor, angle) = match trajectory {
                Some(t) if self.mode == SnapshotMode::Delta => (t.x, t.y, t.vx, t.vy, t.anchor, 0),
                _ => (
                    pos_to_q(k.x),
                    pos_to_q(k.y),
                    vel_to_q(k.vx),
                    vel_to_q(k.vy),
                    0,
                    facing.0,
                ),
            };
            self.world.push(EntityState {
                id: id.0,
                kind,
                x,
                y,
                vx,
                vy,
                anchor,
                angle,
                health: health.map_or(0, |h| h.0),
                flags: match player {
                    Some(p) if p.respawn_at.is_some() => FLAG_DEAD,
                    _ => 0,
                },
                score: player.map_or(0, |p| p.score),
                owner: projectile.map_or(0, |p| p.owner.0),
                name: player.map_or_else(String::new, |p| p.name.clone()),
            });
        }
        self.world.sort_unstable_by_key(|e| e.id);
        match self.mode {
            SnapshotMode::Full => {
                self.full_body = encode_full_snapshot_body(&self.world)?;
            }
            SnapshotMode::Delta => {
                self.hashes.clear();
                self.hashes.extend(self.world.iter().map(entity_hash));
                self.positions.clear();
                // Positions now, whatever the representation, for the area of interest.
                let tick = world.resource::<super::game::SimClock>().tick;
                self.positions.extend(
                    self.world
                        .iter()
                        .map(|e| e.position_at(tick, self.tick_rate)),
                );
                self.grid.build(
                    self.aoi_radius,
                    self.map_size.0,
                    self.map_size.1,
                    &self.positions,
                );
            }
        }
        Ok(())
    }

    /// The full snapshot for one client (`--snapshots full`).
    pub fn full_for(&self, tick: u32, last_input_seq: u32) -> Result<Bytes, CodecError> {
        Ok(encode_full_snapshot_with_body(tick, last_input_seq, &self.full_body)?.into())
    }

    /// Builds one client's delta snapshot. Commit with [`Replicator::commit`] once the
    /// bytes are queued, before building the next client's.
    pub fn delta_for(
        &mut self,
        client: &mut ClientReplication,
        own: u32,
        tick: u32,
        last_input_seq: u32,
    ) -> Result<(Bytes, DeltaStats), CodecError> {
        let scratch = &mut self.scratch;
        let own_index = self.world.binary_search_by_key(&own, |e| e.id).ok();
        let center = own_index.and_then(|i| self.positions.get(i).copied());
        match center {
            Some(c) => self
                .grid
                .query(c, self.aoi_radius, &self.positions, &mut scratch.visible),
            None => scratch.visible.clear(),
        }
        if let Some(i) = own_index {
            // The own player is always in view, even with a zero radius.
            if let Err(pos) = scratch.visible.binary_search(&i) {
                scratch.visible.insert(pos, i);
            }
        }
        // Copied into the slots of the buffer, which keep their name strings: the
        // buffers rotate through clients' baselines, so a player's name is copied into
        // an existing allocation instead of allocated and freed per client and snapshot.
        let mut n = 0;
        for e in scratch.visible.iter().filter_map(|&i| self.world.get(i)) {
            match scratch.target.get_mut(n) {
                Some(slot) => copy_entity(slot, e),
                None => scratch.target.push(e.clone()),
            }
            n += 1;
        }
        scratch.target.truncate(n);

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
        diff(&client.baseline, &scratch.target, &mut scratch.diff);

        let budget_bits = (client.settings.max_bytes_per_sec as usize
            / usize::from(client.settings.rate.max(1)))
        .saturating_sub(SNAPSHOT_OVERHEAD)
            * 8;
        let mut stats = DeltaStats {
            keyframe: baseline_tick == 0,
            in_view: scratch.target.len(),
            moving_in_view: scratch
                .target
                .iter()
                .filter(|e| e.vx != 0 || e.vy != 0)
                .count(),
            removed: scratch.diff.removed.len(),
            ..DeltaStats::default()
        };

        let mut payload = encode_payload(
            self.packing,
            &frame,
            &client.baseline,
            &scratch.target,
            &scratch.diff.removed,
            &scratch.diff.created,
            &scratch.diff.changed,
        );
        let (created, changed): (Cow<'_, [usize]>, Cow<'_, [Change]>) =
            if payload.len() * 8 <= budget_bits {
                client.pending_since.clear();
                (
                    Cow::Borrowed(&scratch.diff.created),
                    Cow::Borrowed(&scratch.diff.changed),
                )
            } else {
                let (created, changed) = select(
                    self.packing,
                    self.tick_rate,
                    self.aoi_radius,
                    client,
                    scratch,
                    &frame,
                    center,
                    own,
                    budget_bits,
                );
                payload = encode_payload(
                    self.packing,
                    &frame,
                    &client.baseline,
                    &scratch.target,
                    &scratch.diff.removed,
                    &created,
                    &changed,
                );
                stats.deferred = scratch.diff.created.len() + scratch.diff.changed.len()
                    - created.len()
                    - changed.len();
                (Cow::Owned(created), Cow::Owned(changed))
            };
        stats.created = created.len();
        stats.changed = changed.len();
        stats.payload_bytes = payload.len();

        let all_sent = created.len() == scratch.diff.created.len()
            && changed.len() == scratch.diff.changed.len();
        let checksum = if all_sent {
            // Everything went: the client will hold exactly the target view, whose
            // entity hashes were computed once for all clients.
            std::mem::swap(&mut scratch.next, &mut scratch.target);
            fold_hashes(
                scratch
                    .visible
                    .iter()
                    .filter_map(|&i| self.hashes.get(i).copied()),
            )
        } else {
            merge(
                &client.baseline,
                &scratch.target,
                &scratch.diff.removed,
                &created,
                &changed,
                &mut scratch.next,
            );
            checksum(&scratch.next)
        };
        let message = ServerMessage::Snapshot(Snapshot {
            tick,
            baseline: baseline_tick,
            last_input_seq,
            checksum,
            payload,
        });
        Ok((encode(&message)?.into(), stats))
    }

    /// The snapshot built by the last [`Replicator::delta_for`] was queued: it is now what
    /// the client holds.
    pub fn commit(&mut self, client: &mut ClientReplication, tick: u32) {
        std::mem::swap(&mut client.baseline, &mut self.scratch.next);
        client.baseline_tick = tick;
    }
}

/// (baseline index, target index, field mask), as in [`Diff::changed`].
type Change = (usize, usize, u8);

/// `*dst = src.clone()`, reusing `dst`'s name allocation.
fn copy_entity(dst: &mut EntityState, src: &EntityState) {
    let mut name = std::mem::take(&mut dst.name);
    name.clone_from(&src.name);
    *dst = EntityState { name, ..*src };
}

/// Chooses which creations and changes fit the budget: the own player and anything
/// held back for about a second always go; the rest by priority, which grows with
/// the time an entity has waited and with its closeness.
#[allow(clippy::too_many_arguments)]
fn select(
    packing: Packing,
    tick_rate: u16,
    aoi_radius: i64,
    client: &mut ClientReplication,
    scratch: &Scratch,
    frame: &Frame,
    center: Option<(i32, i32)>,
    own: u32,
    budget_bits: usize,
) -> (Vec<usize>, Vec<(usize, usize, u8)>) {
    let snapshot_ticks = u32::from(tick_rate) / u32::from(client.settings.rate.max(1));
    let max_wait = u32::from(tick_rate).saturating_sub(snapshot_ticks.max(1));
    let radius = aoi_radius.max(1) as f64;

    struct Candidate {
        forced: bool,
        priority: f64,
        bits: usize,
        created: Option<usize>,
        changed: Option<(usize, usize, u8)>,
    }
    let mut candidates =
        Vec::with_capacity(scratch.diff.created.len() + scratch.diff.changed.len());
    let mut score = |e: &EntityState, is_new: bool, bits: usize| {
        let since = *client.pending_since.entry(e.id).or_insert(frame.tick);
        let waited = frame.tick.saturating_sub(since);
        let closeness = center.map_or(0.0, |(cx, cy)| {
            let (x, y) = e.position_at(frame.tick, tick_rate);
            let d = (f64::from(x) - f64::from(cx)).hypot(f64::from(y) - f64::from(cy));
            1.0 - (d / radius).min(1.0)
        });
        let priority = f64::from(waited + snapshot_ticks.max(1))
            * (1.0 + 3.0 * closeness)
            * if is_new { 2.0 } else { 1.0 };
        (e.id == own || waited >= max_wait, priority, bits)
    };
    for &j in &scratch.diff.created {
        let Some(e) = scratch.target.get(j) else {
            continue;
        };
        let (forced, priority, bits) = score(e, true, created_bits(packing, frame, e));
        candidates.push(Candidate {
            forced,
            priority,
            bits,
            created: Some(j),
            changed: None,
        });
    }
    for &(i, j, mask) in &scratch.diff.changed {
        let (Some(b), Some(t)) = (client.baseline.get(i), scratch.target.get(j)) else {
            continue;
        };
        let (forced, priority, bits) = score(t, false, changed_bits(packing, frame, b, t, mask));
        candidates.push(Candidate {
            forced,
            priority,
            bits,
            created: None,
            changed: Some((i, j, mask)),
        });
    }
    candidates.sort_by(|a, b| {
        b.forced
            .cmp(&a.forced)
            .then(b.priority.total_cmp(&a.priority))
    });

    // Removals always go: they are a few bits each and keep views from growing.
    let mut used = scratch.diff.removed.len() * 4 + 3 * 8;
    let (mut created, mut changed) = (Vec::new(), Vec::new());
    for c in candidates {
        if !c.forced && used + c.bits > budget_bits {
            continue;
        }
        used += c.bits;
        if let Some(j) = c.created {
            created.push(j);
            if let Some(e) = scratch.target.get(j) {
                client.pending_since.remove(&e.id);
            }
        }
        if let Some(ch) = c.changed {
            changed.push(ch);
            if let Some(e) = scratch.target.get(ch.1) {
                client.pending_since.remove(&e.id);
            }
        }
    }
    created.sort_unstable();
    changed.sort_unstable();
    // Forget entities that left the view or stopped differing.
    let target = &scratch.target;
    client
        .pending_since
        .retain(|id, _| target.binary_search_by_key(id, |e| e.id).is_ok());
    (created, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_query_matches_brute_force() {
        let positions: Vec<(i32, i32)> = (0..500)
            .map(|i| ((i * 7919) % 12_800, (i * 104_729) % 12_800))
            .collect();
        let mut grid = Grid::default();
        grid.build(3072, 12_800, 12_800, &positions);
        let mut out = Vec::new();
        for center in [(0, 0), (6400, 6400), (12_800, 100), (-50, 20_000)] {
            grid.query(center, 3072, &positions, &mut out);
            let brute: Vec<usize> = positions
                .iter()
                .enumerate()
                .filter(|(_, (x, y))| {
                    let (dx, dy) = (i64::from(*x - center.0), i64::from(*y - center.1));
                    dx * dx + dy * dy <= 3072 * 3072
                })
                .map(|(i, _)| i)
                .collect();
            assert_eq!(out, brute);
        }
    }
}
