//! A client's byte budget, kept as a promise: a token bucket of snapshot bytes, the
//! adaptive area of interest, and the choice of what a snapshot carries when it cannot
//! carry every change in view.
//!
//! The rule (PROTOCOL.md, "Byte budgets"): the client's bucket fills at its budget's
//! rate and holds at most `max(budget / rate, floor)` (the floor: [`MIN_BUCKET_BYTES`],
//! raised to what the own player's snapshot needed when it did not fit); a snapshot (the
//! whole message) is only as large as the bucket holds, and costs what it weighs. Over
//! any second the server so sends a client at most its budget plus one bucket. What does not fit waits, with a priority that grows with
//! the wait and with closeness; the own player always goes first. A client whose budget
//! cannot keep what is in view fresh (something waits over a second) gets a smaller
//! area of interest, which grows back while everything fits.

// Validated peer input drives this module: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use shared::delta::{Diff, Frame, changed_bits, created_bits};
use shared::protocol::{EntityState, Packing, SnapshotSettings};
use shared::quant::pos_to_q;
use shared::schema::Layout;

/// The least a bucket holds: room for the largest single record (a player with a 64-byte
/// name is about 90 bytes) and a snapshot's header, so that anything can be sent under
/// any budget, spread over as many snapshot slots as it takes.
pub const MIN_BUCKET_BYTES: i64 = 160;

/// The area of interest never shrinks below this radius (metres).
pub const MIN_RADIUS_M: f64 = 8.0;

/// (baseline index, target index), as in [`Diff::changed`].
pub type Change = (usize, usize);

/// One client's bucket and area of interest.
#[derive(Debug, Clone)]
pub struct Budget {
    /// The least the bucket holds, in bits: [`MIN_BUCKET_BYTES`], or more once a record
    /// that large had to wait for it ([`Budget::hold`]).
    floor: i64,
    /// Bits the client may still be sent.
    tokens: i64,
    /// When the bucket was last filled.
    filled_at: Option<Instant>,
    /// Radius of its area of interest (position steps); `None`: the room's.
    radius: Option<i64>,
}

/// Bits the bucket holds for `settings`: one slot's share of the budget, or the floor.
fn cap(settings: SnapshotSettings, floor: i64) -> i64 {
    let slot = i64::from(settings.max_bytes_per_sec) * 8 / i64::from(settings.rate.max(1));
    slot.max(floor)
}

impl Budget {
    /// A full bucket for `settings`, and the room's radius.
    pub fn new(settings: SnapshotSettings) -> Budget {
        let floor = MIN_BUCKET_BYTES * 8;
        Budget {
            floor,
            tokens: cap(settings, floor),
            filled_at: None,
            radius: None,
        }
    }

    /// Lets the bucket hold at least `bits` from now on: a game whose own-player record
    /// outgrows [`MIN_BUCKET_BYTES`] (long texts) still gets it through, after the
    /// bucket has filled that far.
    pub fn hold(&mut self, bits: usize) {
        self.floor = self.floor.max(i64::try_from(bits).unwrap_or(i64::MAX));
    }

    /// Fills the bucket for the time since it was last filled, at the budget's rate. The
    /// clock is the wall clock the tick was started at (given, never read here): a room
    /// that runs late and catches up sends its snapshots closer together, and the bucket
    /// must hold the promise over any second the client lives through.
    pub fn refill(&mut self, settings: SnapshotSettings, now: Instant) {
        let elapsed = self
            .filled_at
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
            .min(Duration::from_secs(1));
        let bits_per_sec = i64::from(settings.max_bytes_per_sec) * 8;
        let added = (bits_per_sec as f64 * elapsed.as_secs_f64()) as i64;
        self.tokens = (self.tokens + added).min(cap(settings, self.floor));
        self.filled_at = Some(now);
    }

    /// The client asked for other settings: the bucket holds no more than their cap.
    pub fn resize(&mut self, settings: SnapshotSettings) {
        self.tokens = self.tokens.min(cap(settings, self.floor));
    }

    /// Bits available now.
    pub fn tokens(&self) -> i64 {
        self.tokens
    }

    /// A snapshot of `bytes` was queued.
    pub fn charge(&mut self, bytes: usize) {
        let bits = i64::try_from(bytes).unwrap_or(i64::MAX).saturating_mul(8);
        self.tokens = self.tokens.saturating_sub(bits);
    }

    /// The radius to query the client's view with.
    pub fn radius(&self, room_radius: i64) -> i64 {
        self.radius.unwrap_or(room_radius).min(room_radius)
    }

    /// Adapts the radius after a snapshot: grows it back (by a twentieth of the room's
    /// radius) when nothing was held back, shrinks it by an eighth while something in
    /// view has waited a second or more.
    pub fn adapt(&mut self, room_radius: i64, deferred: usize, oldest_wait: u32, tick_rate: u16) {
        let r = self.radius(room_radius);
        let floor = i64::from(pos_to_q(MIN_RADIUS_M)).min(room_radius);
        let next = if deferred == 0 {
            r + (room_radius / 20).max(1)
        } else if oldest_wait >= u32::from(tick_rate) {
            r - r / 8
        } else {
            r
        };
        let next = next.clamp(floor, room_radius);
        self.radius = (next < room_radius).then_some(next);
    }
}

/// What goes into a snapshot that cannot carry the whole diff.
#[derive(Debug, Default)]
pub struct Selection {
    pub removed: Vec<u32>,
    pub created: Vec<usize>,
    pub changed: Vec<Change>,
    /// How long each record left out has waited, in ticks.
    pub waits: Vec<u32>,
}

/// The inputs of [`select`].
#[derive(Debug)]
pub struct Choice<'a> {
    pub packing: Packing,
    pub layout: &'a Layout,
    pub frame: &'a Frame,
    pub tick_rate: u16,
    pub rate: u16,
    /// The client's area of interest (position steps) and its centre.
    pub radius: i64,
    pub center: Option<(i32, i32)>,
    pub own: u32,
    pub baseline: &'a [EntityState],
    /// What the diff's created and changed indices point into.
    pub target: &'a [EntityState],
    /// The indices of `target` in view, ascending.
    pub visible: &'a [usize],
    pub diff: &'a Diff,
}

#[derive(Debug, Clone, Copy)]
enum Record {
    Removed(u32),
    Created(usize),
    Changed(Change),
}

#[derive(Debug)]
struct Candidate {
    forced: bool,
    priority: f64,
    bits: usize,
    record: Record,
}

/// Bits of the three record counts and a removal's id gap, as priced before encoding
/// (the encoder's exact size is checked afterwards).
const COUNT_BITS: usize = 3 * 8;
const REMOVAL_BITS: usize = 8;

/// Picks the records that fit `budget_bits`, by priority: the own player first, then
/// what has waited longest relative to its closeness; a removal is cheap and keeps the
/// view to the area of interest, so it ranks like a change that waited a few slots.
/// `encoded` prices a selection exactly; records are dropped from the end until it
/// fits. `Err(bits)` when not even the own player fits (the snapshot is skipped): the
/// bits its record needs, which the bucket must be able to hold ([`Budget::hold`]).
pub fn select(
    c: &Choice<'_>,
    pending_since: &mut HashMap<u32, u32>,
    budget_bits: usize,
    mut encoded: impl FnMut(&Selection) -> usize,
) -> Result<Selection, usize> {
    let slot_ticks = u32::from(c.tick_rate) / u32::from(c.rate.max(1));
    let radius = c.radius.max(1) as f64;
    let tick = c.frame.tick;
    let closeness = |e: &EntityState| {
        c.center.map_or(0.0, |(cx, cy)| {
            // Entities without a position (global state) count as close.
            let Some((x, y)) = c.layout.position(e, tick, c.tick_rate) else {
                return 1.0;
            };
            let d = (f64::from(x) - f64::from(cx)).hypot(f64::from(y) - f64::from(cy));
            1.0 - (d / radius).min(1.0)
        })
    };
    let mut waited = |id: u32| tick.saturating_sub(*pending_since.entry(id).or_insert(tick));
    let priority = |wait: u32, close: f64, new: bool| {
        f64::from(wait.saturating_add(slot_ticks.max(1)))
            * (1.0 + 3.0 * close)
            * if new { 2.0 } else { 1.0 }
    };

    let d = c.diff;
    let mut candidates = Vec::with_capacity(d.removed.len() + d.created.len() + d.changed.len());
    for &j in &d.created {
        let Some(e) = c.target.get(j) else { continue };
        candidates.push(Candidate {
            forced: e.id == c.own,
            priority: priority(waited(e.id), closeness(e), true),
            bits: created_bits(c.packing, c.layout, c.frame, e),
            record: Record::Created(j),
        });
    }
    for &(i, j) in &d.changed {
        let (Some(b), Some(t)) = (c.baseline.get(i), c.target.get(j)) else {
            continue;
        };
        candidates.push(Candidate {
            forced: t.id == c.own,
            priority: priority(waited(t.id), closeness(t), false),
            bits: changed_bits(c.packing, c.layout, c.frame, b, t),
            record: Record::Changed((i, j)),
        });
    }
    for &id in &d.removed {
        candidates.push(Candidate {
            forced: false,
            priority: priority(3 * slot_ticks, 0.5, false),
            bits: REMOVAL_BITS,
            record: Record::Removed(id),
        });
    }
    candidates.sort_by(|a, b| {
        b.forced
            .cmp(&a.forced)
            .then(b.priority.total_cmp(&a.priority))
    });

    let mut used = COUNT_BITS;
    let mut taken: Vec<usize> = Vec::new();
    for (k, cand) in candidates.iter().enumerate() {
        if cand.forced || used + cand.bits <= budget_bits {
            used += cand.bits;
            taken.push(k);
        }
    }
    // The estimate is close; the encoder has the last word. Drop the least urgent
    // records until the exact size fits.
    let build = |taken: &[usize]| {
        let mut s = Selection::default();
        for &k in taken {
            let Some(cand) = candidates.get(k) else {
                continue;
            };
            match cand.record {
                Record::Removed(id) => s.removed.push(id),
                Record::Created(j) => s.created.push(j),
                Record::Changed(ch) => s.changed.push(ch),
            }
        }
        s.removed.sort_unstable();
        s.created.sort_unstable();
        s.changed.sort_unstable();
        s
    };
    let mut selection = build(&taken);
    loop {
        let size = encoded(&selection);
        if size <= budget_bits {
            break;
        }
        // Drop at least as many estimated bits as the selection is over, least urgent
        // first, so that an estimate far off costs a few encodes, not one per record.
        let mut dropped = 0;
        while dropped < size - budget_bits {
            match taken.last() {
                Some(&k) if candidates.get(k).is_some_and(|c| !c.forced) => {
                    dropped += candidates.get(k).map_or(1, |c| c.bits.max(1));
                    taken.pop();
                }
                _ => return Err(encoded(&build(&taken))),
            }
        }
        selection = build(&taken);
    }

    // Sent records stop waiting; what stays behind is reported with its wait.
    let mut sent = vec![false; candidates.len()];
    for &k in &taken {
        if let Some(s) = sent.get_mut(k) {
            *s = true;
        }
    }
    for (cand, sent) in candidates.iter().zip(sent) {
        let id = match cand.record {
            Record::Created(j) | Record::Changed((_, j)) => c.target.get(j).map(|e| e.id),
            Record::Removed(_) => None,
        };
        let Some(id) = id else { continue };
        if sent {
            pending_since.remove(&id);
        } else {
            let since = pending_since.get(&id).copied().unwrap_or(tick);
            selection.waits.push(tick.saturating_sub(since));
        }
    }
    // Forget entities that left the view or stopped differing.
    pending_since.retain(|id, _| {
        c.visible
            .binary_search_by_key(id, |&i| c.target.get(i).map_or(0, |e| e.id))
            .is_ok()
    });
    Ok(selection)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(rate: u16, bytes: u32) -> SnapshotSettings {
        SnapshotSettings {
            rate,
            max_bytes_per_sec: bytes,
        }
    }

    #[test]
    fn the_bucket_fills_with_time_up_to_one_slot_or_the_largest_record() {
        let s = settings(20, 2048);
        let t0 = Instant::now();
        let mut b = Budget::new(s);
        b.refill(s, t0);
        assert_eq!(b.tokens(), MIN_BUCKET_BYTES * 8, "2048/20 = 102 B < 160 B");
        b.charge(150);
        b.refill(s, t0 + Duration::from_millis(50));
        assert_eq!(b.tokens(), 10 * 8 + 2048 * 8 / 20);
        // A second of sending at most what a second and a full bucket hold.
        let mut sent = 0;
        for k in 1..=40 {
            b.refill(s, t0 + Duration::from_millis(50 + 25 * k));
            let n = (b.tokens() / 8).max(0) as usize;
            b.charge(n);
            sent += n;
        }
        assert!(sent <= 2048 + 160, "{sent}");
        let s = settings(10, 64 * 1024);
        let mut b = Budget::new(s);
        b.refill(s, t0 + Duration::from_secs(5));
        assert_eq!(b.tokens(), 64 * 1024 * 8 / 10, "capped at one slot");
    }

    #[test]
    fn a_record_larger_than_the_floor_gets_through_once_the_bucket_holds_it() {
        use shared::schema::{ComponentDef, EntityBuilder, FieldDef, FieldKind, Schema, Values};
        // A game whose player carries a 1 KiB text: its record outgrows the 160 B floor.
        let layout = Schema {
            game: "t".into(),
            components: vec![ComponentDef {
                name: "Note".into(),
                fields: vec![FieldDef {
                    name: "text".into(),
                    kind: FieldKind::Text { max_bytes: 1024 },
                }],
            }],
        }
        .layout()
        .unwrap();
        let mut e = EntityBuilder::new(&layout, 1, Values::default());
        layout.writer(&mut e, 0).text(&"x".repeat(1024));
        let target = vec![e.build()];
        let mut d = Diff::default();
        shared::delta::diff(&[], &target, &mut d);
        let frame = Frame {
            tick: 10,
            baseline: 0,
            tick_rate: 60,
        };
        let choice = Choice {
            packing: Packing::Bits,
            layout: &layout,
            frame: &frame,
            tick_rate: 60,
            rate: 20,
            radius: 1000,
            center: None,
            own: 1,
            baseline: &[],
            target: &target,
            visible: &[0],
            diff: &d,
        };
        let s = settings(20, 2048);
        let t0 = Instant::now();
        let mut b = Budget::new(s);
        b.refill(s, t0);
        let price = |sel: &Selection| {
            shared::delta::encode_payload(
                Packing::Bits,
                &layout,
                &frame,
                shared::delta::Part {
                    base: &[],
                    target: &target,
                    removed: &sel.removed,
                    created: &sel.created,
                    changed: &sel.changed,
                },
            )
            .len()
                * 8
        };
        let budget = usize::try_from(b.tokens()).unwrap();
        let need = select(&choice, &mut HashMap::new(), budget, price).unwrap_err();
        assert!(need > budget, "{need} bits do not fit {budget}");
        b.hold(need);
        b.refill(s, t0 + Duration::from_secs(2));
        let budget = usize::try_from(b.tokens()).unwrap();
        assert!(budget >= need, "the bucket fills up to the record");
        let sel = select(&choice, &mut HashMap::new(), budget, price).unwrap();
        assert_eq!(sel.created, vec![0]);
    }

    #[test]
    fn the_radius_shrinks_while_stale_and_grows_back() {
        let room = i64::from(pos_to_q(150.0));
        let mut b = Budget::new(settings(20, 2048));
        b.adapt(room, 5, 10, 60);
        assert_eq!(b.radius(room), room, "not stale yet");
        for _ in 0..100 {
            b.adapt(room, 5, 60, 60);
        }
        assert_eq!(b.radius(room), i64::from(pos_to_q(MIN_RADIUS_M)));
        for _ in 0..30 {
            b.adapt(room, 0, 0, 60);
        }
        assert_eq!(b.radius(room), room);
    }
}
