//! Where a patch's bits go (`random_walk --breakdown`): each changed record priced part
//! by part from the payload layout of PROTOCOL.md, the total checked bit for bit against
//! the codec's own writer, and the values of each numeric field kept to price what the
//! field's other tools would make of them (another Exp-Golomb order, an entropy coder,
//! another prediction). Measures only; the codec is not changed.

use std::collections::HashMap;

use serde::Serialize;
use shared::delta::{Diff, Frame, Part, diff, write_payload};
use shared::pack::{BitWriter, Packer, zigzag};
use shared::quant::{advance, advance_mean};
use shared::schema::{EntityState, Layout};

use super::Coding;

// The codec's own orders (private in `shared::delta`, PROTOCOL.md lists them); the
// bit-for-bit check in `Breakdown::patch` fails if they ever differ.
const K_COUNT: u32 = 3;
const K_VEL_DELTA: u32 = 6;
const K_POS_RESIDUAL: u32 = 0;
/// Raw bits of a non-empty section's gap order.
const ORDER_BITS: u64 = 4;

/// Length of the order-`k` Exp-Golomb code of `value`, as `BitWriter` writes it.
pub fn eg_bits(value: u32, k: u32) -> u64 {
    let len = 64 - (u64::from(value) + (1u64 << k)).leading_zeros();
    u64::from(2 * len - k - 1)
}

/// The order a section's gaps are written with: the cheapest of 0–15, the lowest of
/// equals (PROTOCOL.md, "Payload layout").
fn gap_order(gaps: &[u32]) -> u32 {
    (0..16)
        .min_by_key(|&k| gaps.iter().map(|&g| eg_bits(g, k)).sum::<u64>())
        .unwrap_or(0)
}

/// The values of one numeric field, with the order the codec codes them at. A
/// coordinate's values include its zeros when its field mask left it out (about 0.07%
/// of them here), so its price at `k` is a little above what the payload spent.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    k: u32,
    counts: HashMap<i32, u64>,
    n: u64,
}

/// What [`Samples`] cost and could cost, in bits per value.
#[derive(Debug, Clone, Serialize)]
pub struct Pricing {
    pub field: String,
    pub values: u64,
    pub mean_abs: f64,
    /// Exp-Golomb (zigzag) at the codec's order.
    pub k: u32,
    pub bits_at_k: f64,
    /// The best single order in hindsight (what an adaptive order per field tends to).
    pub best_k: u32,
    pub bits_at_best_k: f64,
    /// Zeroth-order empirical entropy: what an adaptive range coder with one model per
    /// field approaches (model cost not counted).
    pub entropy: f64,
}

impl Samples {
    fn new(k: u32) -> Samples {
        Samples {
            k,
            ..Samples::default()
        }
    }

    fn add(&mut self, v: i32) {
        *self.counts.entry(v).or_default() += 1;
        self.n += 1;
    }

    fn bits_at(&self, k: u32) -> f64 {
        let total: u64 = self
            .counts
            .iter()
            .map(|(&v, &c)| eg_bits(zigzag(v), k) * c)
            .sum();
        total as f64 / self.n.max(1) as f64
    }

    fn price(&self, field: &str) -> Pricing {
        let n = self.n.max(1) as f64;
        let (best_k, bits_at_best_k) = (0..=12)
            .map(|k| (k, self.bits_at(k)))
            .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
        let entropy = self
            .counts
            .values()
            .map(|&c| {
                let p = c as f64 / n;
                -p * p.log2()
            })
            .sum();
        let abs: f64 = self
            .counts
            .iter()
            .map(|(&v, &c)| f64::from(v).abs() * c as f64)
            .sum();
        Pricing {
            field: field.to_owned(),
            values: self.n,
            mean_abs: abs / n,
            k: self.k,
            bits_at_k: self.bits_at(self.k),
            best_k,
            bits_at_best_k,
            entropy,
        }
    }
}

/// Bits per patch by part of the payload, summed over the patches seen.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Parts {
    /// The three record counts, and the padding to a whole byte.
    pub header: u64,
    /// Place gaps of the changed records.
    pub ids: u64,
    /// Per record: the presence-changed bit, each kept component's changed bit, field
    /// masks, motion sub-masks.
    pub masks: u64,
    /// Coordinate differences (position schema) or velocity differences (motion).
    pub first: u64,
    /// Position residuals against the prediction (motion schema only).
    pub residuals: u64,
}

/// The bit breakdown of one run's patches.
#[derive(Debug, Clone)]
pub struct Breakdown {
    coding: Coding,
    pub patches: u64,
    pub records: u64,
    pub parts: Parts,
    /// Each numeric field's values, in the order first seen.
    fields: Vec<(&'static str, Samples)>,
    /// Last coordinate differences per entity id (position schema), for the
    /// second-order prediction.
    previous: HashMap<u32, [i32; 2]>,
    /// Each record's structure (id gap and every flag and mask bit) as one symbol: its
    /// entropy is what an adaptive coder would spend on the ids and masks.
    shapes: Samples,
    diff: Diff,
}

impl Breakdown {
    pub fn new(coding: Coding) -> Breakdown {
        Breakdown {
            coding,
            patches: 0,
            records: 0,
            parts: Parts::default(),
            fields: Vec::new(),
            previous: HashMap::new(),
            shapes: Samples::default(),
            diff: Diff::default(),
        }
    }

    /// Keeps `v` as a value of `field`, coded by the codec at order `k`.
    fn add(&mut self, field: &'static str, k: u32, v: i32) {
        match self.fields.iter_mut().find(|(f, _)| *f == field) {
            Some((_, s)) => s.add(v),
            None => {
                let mut s = Samples::new(k);
                s.add(v);
                self.fields.push((field, s));
            }
        }
    }

    /// Prices one patch from `base` to `target` and checks the total against the codec.
    /// Panics if the two disagree: the breakdown would be of another payload.
    pub fn patch(
        &mut self,
        layout: &Layout,
        frame: &Frame,
        base: &[EntityState],
        target: &[EntityState],
    ) {
        let mut d = std::mem::take(&mut self.diff);
        diff(base, target, &mut d);
        assert!(
            d.removed.is_empty() && d.created.is_empty(),
            "the walk neither creates nor removes"
        );
        // Changed records are named by their places in the held view (index + 1), as
        // gaps at the section's order; the section's head adds the order and the
        // structured bit (0: no presence mask changes, so no structure bits).
        let gaps: Vec<u32> = d
            .changed
            .iter()
            .scan(0, |prev, &(i, _)| {
                let gap = i as u32 - *prev;
                *prev = i as u32 + 1;
                Some(gap)
            })
            .collect();
        let k_gap = gap_order(&gaps);
        let head = if d.changed.is_empty() {
            0
        } else {
            ORDER_BITS + 1
        };
        let mut parts = Parts {
            header: 2 * eg_bits(0, K_COUNT) + eg_bits(d.changed.len() as u32, K_COUNT) + head,
            ..Parts::default()
        };
        let elapsed = i64::from(frame.tick) - i64::from(frame.baseline);
        let rate = frame.tick_rate;
        for (&(i, j), &gap) in d.changed.iter().zip(&gaps) {
            let (b, t) = (&base[i], &target[j]);
            parts.ids += eg_bits(gap, k_gap);
            // Names are not priced: they never change, so a patch carries none of their
            // bits (the check against the codec's total below would fail otherwise).
            assert_eq!(b.values.texts, t.values.texts, "names never change");
            match self.coding {
                Coding::Position { k } => {
                    let k = u32::from(k);
                    // Component changed, mask of its 3 fields.
                    parts.masks += 1 + 3;
                    let d = [t.int(0) - b.int(0), t.int(1) - b.int(1)];
                    parts.first += d
                        .iter()
                        .filter(|&&v| v != 0)
                        .map(|&v| eg_bits(zigzag(v), k))
                        .sum::<u64>();
                    self.add("x difference", k, d[0]);
                    self.add("y difference", k, d[1]);
                    // Against the last difference (the position plus the velocity it
                    // implies): the client holds both of its last states.
                    if let Some(&last) = self.previous.get(&t.id) {
                        self.add("x second difference", k, d[0] - last[0]);
                        self.add("y second difference", k, d[1] - last[1]);
                    }
                    self.previous.insert(t.id, d);
                    // Gap, then the field mask (presence and component bits are constant).
                    let mask = i32::from(d[0] != 0) | i32::from(d[1] != 0) << 1;
                    self.shapes.add((gap as i32) << 2 | mask);
                }
                Coding::Motion => {
                    // Body changed and its 2-bit sub-mask, Player unchanged.
                    parts.masks += 1 + 2 + 1;
                    let (bm, tm) = (b.motion(0), t.motion(0));
                    let (dvx, dvy) = (tm.vx - bm.vx, tm.vy - bm.vy);
                    let rx = tm.x - advance_mean(bm.x, bm.vx, tm.vx, elapsed, rate);
                    let ry = tm.y - advance_mean(bm.y, bm.vy, tm.vy, elapsed, rate);
                    if (dvx, dvy) != (0, 0) {
                        parts.first +=
                            eg_bits(zigzag(dvx), K_VEL_DELTA) + eg_bits(zigzag(dvy), K_VEL_DELTA);
                    }
                    let mask = i32::from((dvx, dvy) != (0, 0)) | i32::from((rx, ry) != (0, 0)) << 1;
                    self.shapes.add((gap as i32) << 2 | mask);
                    self.add("vx difference", K_VEL_DELTA, dvx);
                    self.add("vy difference", K_VEL_DELTA, dvy);
                    if (rx, ry) != (0, 0) {
                        parts.residuals += eg_bits(zigzag(rx), K_POS_RESIDUAL)
                            + eg_bits(zigzag(ry), K_POS_RESIDUAL);
                    }
                    self.add("x residual (mean velocity)", K_POS_RESIDUAL, rx);
                    self.add("y residual (mean velocity)", K_POS_RESIDUAL, ry);
                    // Against the old position moved by the new velocity alone: this
                    // walk's integrator (the whole step at the new velocity, as the
                    // arena's `step_player` does per tick), exact up to rounding here
                    // because the velocity changes once per patch.
                    let nx = tm.x - advance(bm.x, tm.vx, elapsed, rate);
                    let ny = tm.y - advance(bm.y, tm.vy, elapsed, rate);
                    self.add("x residual (new velocity)", K_POS_RESIDUAL, nx);
                    self.add("y residual (new velocity)", K_POS_RESIDUAL, ny);
                }
            }
        }
        let mut w = BitWriter::new();
        write_payload(
            &mut w,
            layout,
            frame,
            Part {
                base,
                target,
                removed: &d.removed,
                created: &d.created,
                changed: &d.changed,
            },
        );
        let bits = w.bit_len() as u64;
        let priced = parts.header + parts.ids + parts.masks + parts.first + parts.residuals;
        assert_eq!(priced, bits, "the breakdown prices another payload");
        parts.header += bits.div_ceil(8) * 8 - bits;
        let sum = &mut self.parts;
        sum.header += parts.header;
        sum.ids += parts.ids;
        sum.masks += parts.masks;
        sum.first += parts.first;
        sum.residuals += parts.residuals;
        self.patches += 1;
        self.records += d.changed.len() as u64;
        self.diff = d;
    }

    /// Mean bits per patch of each part.
    pub fn per_patch(&self) -> Vec<(&'static str, f64)> {
        let n = self.patches.max(1) as f64;
        let p = &self.parts;
        let first = match self.coding {
            Coding::Position { .. } => "coordinate differences",
            Coding::Motion => "velocity differences",
        };
        let mut rows = vec![
            ("counts and padding", p.header as f64 / n),
            ("place gaps", p.ids as f64 / n),
            ("changed bits and masks", p.masks as f64 / n),
            (first, p.first as f64 / n),
        ];
        if self.coding == Coding::Motion {
            rows.push(("position residuals", p.residuals as f64 / n));
        }
        rows
    }

    /// Bits per record spent on its id gap and masks, and the entropy of that
    /// structure (one symbol per record).
    pub fn structure(&self) -> (f64, f64) {
        let coded = (self.parts.ids + self.parts.masks) as f64 / self.records.max(1) as f64;
        (coded, self.shapes.price("structure").entropy)
    }

    /// Each numeric field's values priced.
    pub fn pricing(&self) -> Vec<Pricing> {
        self.fields.iter().map(|(f, s)| s.price(f)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::walk::{Run, measure};

    #[test]
    fn exp_golomb_lengths_match_the_writer() {
        for k in 0..6 {
            for v in [0u32, 1, 2, 7, 8, 100, 65_535] {
                let mut w = BitWriter::new();
                w.uint(v, k);
                assert_eq!(eg_bits(v, k), w.bit_len() as u64, "v {v} k {k}");
            }
        }
    }

    #[test]
    fn breakdown_agrees_with_the_codec() {
        for coding in [Coding::Position { k: 4 }, Coding::Motion] {
            let mut b = Breakdown::new(coding);
            let run = Run {
                coding,
                seed: 9,
                warmup: 0,
                steps: 20,
            };
            // `patch` asserts the priced total equals the codec's bits.
            measure(run, |l, f, base, t| b.patch(l, f, base, t)).unwrap();
            assert_eq!(b.patches, 20);
            let priced: f64 = b.per_patch().iter().map(|(_, v)| v).sum();
            assert!(priced > 0.0);
        }
    }
}
