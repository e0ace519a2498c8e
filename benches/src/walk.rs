//! The field's reference motion for snapshot bytes: 100 named entities on a random walk,
//! as measured for `@colyseus/schema` (REFERENCE.md, "Measured here against Tickwire's
//! goals"), encoded with Tickwire's delta payload for one client that sees them all.
//!
//! The motion, exactly (what [`Walk`] does):
//! - 100 entities, ids 1..=100, named `player-<id>`; positions uniform in
//!   [0, 200) m × [0, 200) m and velocities uniform in [−6, 6] m/s per axis at the start;
//!   all draws from `StdRng::seed_from_u64(seed)` (rand 0.10, ChaCha12), in id order,
//!   x before y.
//! - One step is 1/20 s. Per step, for each entity in id order and each axis (x, then y):
//!   `v ← clamp(v + u, −6, 6)` with `u` uniform in [−1, 1] m/s, then `p ← p + v · 0.05`.
//!   A position that leaves [0, 200] m is reflected back into it and that axis' velocity
//!   is negated (an elastic bounce; one step moves at most 0.3 m, so one reflection is
//!   always enough).
//! - The server runs at 60 Hz and snapshots every 3 ticks: step `s` is at tick `3(s + 1)`,
//!   each patch is relative to the previous step (baseline = tick − 3, the client
//!   acknowledged everything).
//!
//! Each step's state is quantised through a schema ([`Coding`]), diffed against the
//! previous step's, encoded ([`encode_payload`], bit packing, the default), wrapped in the
//! server's `Snapshot` message, decoded as a client does (message, then
//! [`ClientView::apply`], which also checks the view's checksum) and compared with the
//! source: a mismatch is an error, so no size is reported for a wrong encoding.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use shared::codec::{self, CodecError};
use shared::delta::{ClientView, DeltaError, Diff, Frame, Part, checksum, diff, encode_payload};
use shared::protocol::{Packing, ServerMessage, Snapshot};
use shared::quant::{pos_to_q, vel_to_q};
use shared::schema::{
    ComponentDef, EntityBuilder, EntityState, FieldDef, FieldKind, Layout, MotionModel,
    MotionValue, Schema, SchemaError, Values,
};

pub mod bits;

/// Entities on the walk.
pub const ENTITIES: usize = 100;
/// Side of the square area, metres.
pub const AREA_M: f64 = 200.0;
/// Duration of one step, seconds (20 Hz).
pub const STEP_S: f64 = 0.05;
/// Largest speed per axis, m/s.
pub const MAX_SPEED: f64 = 6.0;
/// Largest change of one axis' velocity per step, m/s.
pub const MAX_DV: f64 = 1.0;
/// Server ticks per second, and ticks per step (one snapshot per step).
pub const TICK_RATE: u16 = 60;
pub const TICKS_PER_STEP: u32 = 3;
/// Steps per metre (and per m/s) of every quantised coordinate: 1/64 m, as the Colyseus
/// int16 case.
pub const SCALE: u32 = 64;
/// Longest name on the wire.
pub const NAME_BYTES: u16 = 16;

/// One entity's continuous state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Walker {
    pub x: f64,
    pub y: f64,
    pub vx: f64,
    pub vy: f64,
}

/// The random walk of [`ENTITIES`] entities (see the module docs for the exact motion).
#[derive(Debug)]
pub struct Walk {
    rng: StdRng,
    walkers: Vec<Walker>,
    bounces: u64,
}

/// One axis of one step: the new velocity, the move, and a bounce off a wall.
fn axis(p: f64, v: f64, dv: f64, bounces: &mut u64) -> (f64, f64) {
    let v = (v + dv).clamp(-MAX_SPEED, MAX_SPEED);
    let p = p + v * STEP_S;
    if p < 0.0 {
        *bounces += 1;
        (-p, -v)
    } else if p > AREA_M {
        *bounces += 1;
        (2.0 * AREA_M - p, -v)
    } else {
        (p, v)
    }
}

impl Walk {
    /// `n` entities placed and set moving by `seed`.
    pub fn new(seed: u64, n: usize) -> Walk {
        let mut rng = StdRng::seed_from_u64(seed);
        let walkers = (0..n)
            .map(|_| Walker {
                x: rng.random_range(0.0..AREA_M),
                y: rng.random_range(0.0..AREA_M),
                vx: rng.random_range(-MAX_SPEED..=MAX_SPEED),
                vy: rng.random_range(-MAX_SPEED..=MAX_SPEED),
            })
            .collect();
        Walk {
            rng,
            walkers,
            bounces: 0,
        }
    }

    /// Advances every entity by one step.
    pub fn step(&mut self) {
        for w in &mut self.walkers {
            let dvx = self.rng.random_range(-MAX_DV..=MAX_DV);
            let dvy = self.rng.random_range(-MAX_DV..=MAX_DV);
            (w.x, w.vx) = axis(w.x, w.vx, dvx, &mut self.bounces);
            (w.y, w.vy) = axis(w.y, w.vy, dvy, &mut self.bounces);
        }
    }

    /// The entities; entity `i` has id `i + 1`.
    pub fn walkers(&self) -> &[Walker] {
        &self.walkers
    }

    /// Axis bounces off a wall so far.
    pub fn bounces(&self) -> u64 {
        self.bounces
    }
}

/// The name of entity `id`.
pub fn name(id: u32) -> String {
    format!("player-{id}")
}

/// How the entities are declared to the codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// One component `Player { name: Text(16), x, y: Fixed { scale: 64, k } }`: the
    /// information of Colyseus' `{name, x, y}` with int16 fields holding 1/64 m. A change
    /// sends each changed coordinate's difference, Exp-Golomb of order `k`.
    Position { k: u8 },
    /// The arena's player: `Body { motion: Motion { Predicted, scale: 64 } }` (position in
    /// 1/64 m, velocity in 1/64 m/s) and `Player { name: Text(16) }`. A change sends the
    /// velocity's difference, then the position's residual against the old position moved
    /// by the mean of the old and new velocities.
    Motion,
}

impl Coding {
    pub fn schema(self) -> Schema {
        let name = FieldDef::new(
            "name",
            FieldKind::Text {
                max_bytes: NAME_BYTES,
            },
        );
        let components = match self {
            Coding::Position { k } => {
                let fixed = FieldKind::Fixed { scale: SCALE, k };
                vec![ComponentDef {
                    name: "Player".into(),
                    fields: vec![name, FieldDef::new("x", fixed), FieldDef::new("y", fixed)],
                }]
            }
            Coding::Motion => vec![
                ComponentDef {
                    name: "Body".into(),
                    fields: vec![FieldDef::new(
                        "motion",
                        FieldKind::Motion {
                            model: MotionModel::Predicted,
                            scale: SCALE,
                        },
                    )],
                },
                ComponentDef {
                    name: "Player".into(),
                    fields: vec![name],
                },
            ],
        };
        Schema {
            game: "random-walk".into(),
            components,
        }
    }

    /// The schema in one line, for reports.
    pub fn describe(self) -> String {
        match self {
            Coding::Position { k } => format!(
                "Player {{ name: Text(16), x, y: Fixed {{ scale: 64, k: {k} }} }} (1/64 m)"
            ),
            Coding::Motion => "Body { motion: Motion { Predicted, scale: 64 } } (1/64 m, 1/64 m/s), Player { name: Text(16) }".into(),
        }
    }

    /// Entity `id` as the server would write it from `w`.
    pub fn entity(self, layout: &Layout, id: u32, w: &Walker) -> EntityState {
        let mut b = EntityBuilder::new(layout, id, Values::default());
        let name = name(id);
        match self {
            Coding::Position { .. } => {
                layout.writer(&mut b, 0).text(&name).fixed(w.x).fixed(w.y);
            }
            Coding::Motion => {
                layout.writer(&mut b, 0).motion(MotionValue {
                    anchor: 0,
                    x: pos_to_q(w.x),
                    y: pos_to_q(w.y),
                    vx: vel_to_q(w.vx),
                    vy: vel_to_q(w.vy),
                });
                layout.writer(&mut b, 1).text(&name);
            }
        }
        b.build()
    }

    /// Every entity of `walk`, sorted by id.
    pub fn view(self, layout: &Layout, walk: &Walk) -> Vec<EntityState> {
        (1..)
            .zip(walk.walkers())
            .map(|(id, w)| self.entity(layout, id, w))
            .collect()
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("schema: {0}")]
    Schema(#[from] SchemaError),
    #[error("message at tick {tick}: {source}")]
    Codec { tick: u32, source: CodecError },
    #[error("snapshot of tick {tick} did not apply: {source}")]
    Apply { tick: u32, source: DeltaError },
    #[error("tick {tick}: the message decoded as another message than a snapshot")]
    NotSnapshot { tick: u32 },
    #[error("tick {tick}: the decoded view differs from the source at entity {id}")]
    Mismatch { tick: u32, id: u32 },
}

/// Sizes of one run, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sizes {
    /// The keyframe's delta payload (from an empty view) and whole `Snapshot` message.
    pub keyframe_payload: usize,
    pub keyframe_message: usize,
    /// Each patch's payload and whole message, in step order.
    pub payloads: Vec<usize>,
    pub messages: Vec<usize>,
    /// Wall bounces (per axis) during the measured steps.
    pub bounces: u64,
}

/// What a run of [`measure`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub coding: Coding,
    pub seed: u64,
    /// Steps walked before the keyframe (not measured).
    pub warmup: u32,
    /// Patches measured after the keyframe.
    pub steps: u32,
}

/// The first entity of `source` that `decoded` does not hold exactly (by id, presence
/// and every value), or the first extra one; `None` when they are equal.
pub fn first_difference(decoded: &[EntityState], source: &[EntityState]) -> Option<u32> {
    let differs = decoded
        .iter()
        .zip(source)
        .find(|(d, s)| d != s)
        .map(|(_, s)| s.id);
    differs.or_else(|| match decoded.len().cmp(&source.len()) {
        std::cmp::Ordering::Less => source.get(decoded.len()).map(|e| e.id),
        std::cmp::Ordering::Greater => decoded.get(source.len()).map(|e| e.id),
        std::cmp::Ordering::Equal => None,
    })
}

/// One snapshot through the wire and the client: encoded as the server's message,
/// decoded, applied to `client`, and its view checked against `target`. Returns the
/// message's size.
fn deliver(
    client: &mut ClientView,
    snap: Snapshot,
    target: &[EntityState],
) -> Result<usize, WalkError> {
    let tick = snap.tick;
    let bytes = codec::encode(&ServerMessage::Snapshot(snap))
        .map_err(|source| WalkError::Codec { tick, source })?;
    let snap = match codec::decode_server(&bytes) {
        Ok(ServerMessage::Snapshot(s)) => s,
        Ok(_) => return Err(WalkError::NotSnapshot { tick }),
        Err(source) => return Err(WalkError::Codec { tick, source }),
    };
    client
        .apply(&snap, TICK_RATE, Packing::Bits)
        .map_err(|source| WalkError::Apply { tick, source })?;
    if let Some(id) = first_difference(client.entities(), target) {
        return Err(WalkError::Mismatch { tick, id });
    }
    Ok(bytes.len())
}

/// Walks, encodes, delivers and checks: the keyframe after `run.warmup` steps, then
/// `run.steps` patches. `observe` sees each patch's baseline and target views (for the
/// bit breakdown).
pub fn measure(
    run: Run,
    mut observe: impl FnMut(&Layout, &Frame, &[EntityState], &[EntityState]),
) -> Result<Sizes, WalkError> {
    let layout = run.coding.schema().layout()?;
    let mut walk = Walk::new(run.seed, ENTITIES);
    for _ in 0..run.warmup {
        walk.step();
    }
    let bounces_before = walk.bounces();
    let mut client = ClientView::new(Arc::new(layout.clone()));
    let mut sizes = Sizes::default();
    let mut base: Vec<EntityState> = Vec::new();
    let mut d = Diff::default();
    for s in 0..=run.steps {
        if s > 0 {
            walk.step();
        }
        let tick = TICKS_PER_STEP * (run.warmup + s + 1);
        let frame = Frame {
            tick,
            baseline: if s == 0 { 0 } else { tick - TICKS_PER_STEP },
            tick_rate: TICK_RATE,
        };
        let target = run.coding.view(&layout, &walk);
        diff(&base, &target, &mut d);
        let payload = encode_payload(
            Packing::Bits,
            &layout,
            &frame,
            Part {
                base: &base,
                target: &target,
                removed: &d.removed,
                created: &d.created,
                changed: &d.changed,
            },
        );
        if s > 0 {
            observe(&layout, &frame, &base, &target);
        }
        let payload_len = payload.len();
        let snap = Snapshot {
            tick,
            baseline: frame.baseline,
            // An observer: no inputs of its own (Colyseus' patch has no such field).
            last_input_seq: 0,
            checksum: checksum(&layout, &target),
            payload,
        };
        let message_len = deliver(&mut client, snap, &target)?;
        if s == 0 {
            sizes.keyframe_payload = payload_len;
            sizes.keyframe_message = message_len;
        } else {
            sizes.payloads.push(payload_len);
            sizes.messages.push(message_len);
        }
        // Every change was sent, so the client now holds exactly the target.
        base = target;
    }
    sizes.bounces = walk.bounces() - bounces_before;
    Ok(sizes)
}

/// Mean, median, 99th percentile (nearest rank) and largest of `v`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Summary {
    pub mean: f64,
    pub p50: usize,
    pub p99: usize,
    pub max: usize,
}

pub fn summary(v: &[usize]) -> Summary {
    let mut sorted = v.to_vec();
    sorted.sort_unstable();
    let rank = |q: f64| {
        let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
        sorted.get(i).copied().unwrap_or(0)
    };
    Summary {
        mean: v.iter().sum::<usize>() as f64 / v.len().max(1) as f64,
        p50: rank(0.5),
        p99: rank(0.99),
        max: sorted.last().copied().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_motion_is_as_stated() {
        let mut walk = Walk::new(3, ENTITIES);
        for _ in 0..50 {
            let before = walk.walkers().to_vec();
            walk.step();
            for (b, a) in before.iter().zip(walk.walkers()) {
                for (p0, v0, p1, v1) in [(b.x, b.vx, a.x, a.vx), (b.y, b.vy, a.y, a.vy)] {
                    assert!(
                        (0.0..=AREA_M).contains(&p1),
                        "position {p1} out of the area"
                    );
                    assert!(v1.abs() <= MAX_SPEED, "speed {v1} above 6 m/s");
                    // Without a bounce the position moved by the new velocity; with one
                    // it was reflected and the velocity negated.
                    let moved = p0 + v1 * STEP_S;
                    let bounced = p0 - v1 * STEP_S;
                    let (v, ok) = if (moved - p1).abs() < 1e-9 {
                        (v1, true)
                    } else if (-bounced - p1).abs() < 1e-9
                        || (2.0 * AREA_M - bounced - p1).abs() < 1e-9
                    {
                        (-v1, true)
                    } else {
                        (v1, false)
                    };
                    assert!(ok, "{p0} at {v0} m/s went to {p1} at {v1} m/s");
                    assert!((v - v0).abs() <= MAX_DV + 1e-12, "velocity {v0} → {v}");
                }
            }
        }
        assert!(
            walk.bounces() > 0,
            "50 steps of 100 entities bounce somewhere"
        );
    }

    #[test]
    fn both_codings_decode_to_the_source_for_50_steps() {
        for coding in [Coding::Position { k: 4 }, Coding::Motion] {
            let mut patches = 0;
            let run = Run {
                coding,
                seed: 5,
                warmup: 10,
                steps: 50,
            };
            let sizes = measure(run, |_, _, base, target| {
                assert_eq!(base.len(), ENTITIES);
                assert_eq!(target.len(), ENTITIES);
                patches += 1;
            })
            .unwrap();
            assert_eq!(patches, 50);
            assert_eq!(sizes.payloads.len(), 50);
            assert!(sizes.keyframe_payload > 0);
        }
    }

    #[test]
    fn a_wrong_view_is_caught() {
        let coding = Coding::Position { k: 4 };
        let layout = coding.schema().layout().unwrap();
        let walk = Walk::new(1, 4);
        let source = coding.view(&layout, &walk);
        assert_eq!(first_difference(&source, &source), None);
        let mut moved = walk.walkers().to_vec();
        moved[2].x += 1.0 / 64.0;
        let wrong: Vec<_> = (1..)
            .zip(&moved)
            .map(|(id, w)| coding.entity(&layout, id, w))
            .collect();
        assert_eq!(first_difference(&wrong, &source), Some(3));
        assert_eq!(first_difference(&source[..3], &source), Some(4));
    }

    #[test]
    fn summary_ranks() {
        let v: Vec<usize> = (1..=100).collect();
        let s = summary(&v);
        assert_eq!((s.p50, s.p99, s.max), (50, 99, 100));
        assert_eq!(s.mean, 50.5);
    }
}
