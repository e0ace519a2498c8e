//! Bytes per patch on the field's reference motion, the one `@colyseus/schema` 5.0.34 was
//! measured on (REFERENCE.md): 100 entities `{name, x, y}` on a random walk, every entity
//! in view of the one client. Colyseus: 750 B per patch with int16 fields holding 1/64 m,
//! 1,157 B with float32, 1,348 B with number; first full state 1,884–2,484 B. Tickwire's
//! goal: at most 250 B per patch.
//!
//! The motion, exactly (the code is `benches::walk`): 100 entities named `player-<id>`,
//! positions uniform in [0, 200) m per axis and velocities uniform in [−6, 6] m/s per axis
//! at the start; each step (1/20 s), per entity and per axis, `v ← clamp(v + u, −6, 6)`
//! with `u` uniform in [−1, 1] m/s, then `p ← p + 0.05 v`; a position leaving [0, 200] m
//! is reflected back and that axis' velocity negated. Seeded `StdRng` (rand 0.10). The
//! server ticks at 60 Hz and sends a patch every 3 ticks, each against the previous step.
//!
//! Two schemas: position only (`Player {name, x, y}`, x and y fixed point in 1/64 m, the
//! information of Colyseus' int16 case) and motion (the arena's player: a predicted motion,
//! position in 1/64 m and velocity in 1/64 m/s, plus the name). Every patch is decoded by
//! a client and checked against the source; a mismatch stops the run with an error.
//!
//! "Payload" is the delta payload (bit packing); "message" is the whole `Snapshot`
//! message the server sends (bincode: tag, tick, baseline, last input, checksum, payload
//! length, payload), WebSocket framing excluded.
//!
//! ```sh
//! cargo run --release -p benches --bin random_walk -- --report-json walk.json
//! cargo run --release -p benches --bin random_walk -- --breakdown   # where the bits go
//! ```

use std::path::PathBuf;

use anyhow::Context;
use benches::walk::bits::{Breakdown, Pricing, eg_bits};
use benches::walk::{Coding, ENTITIES, Run, Summary, measure, name, summary};
use clap::Parser;
use serde::Serialize;

/// Colyseus' bytes per patch on this motion (REFERENCE.md): int16 (1/64 m), float32, number.
const COLYSEUS_INT16: f64 = 750.0;
const COLYSEUS_FLOAT32: f64 = 1157.0;
const COLYSEUS_NUMBER: f64 = 1348.0;
/// Tickwire's goal, bytes per patch.
const GOAL: f64 = 250.0;

#[derive(Debug, Parser)]
#[command(about = "Bytes per patch on the field's random walk (100 entities, all in view)")]
struct Args {
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Steps walked before the keyframe (velocities and positions mix).
    #[arg(long, default_value_t = 200)]
    warmup: u32,
    /// Patches measured after the keyframe.
    #[arg(long, default_value_t = 2000)]
    steps: u32,
    /// Exp-Golomb order of the position schema's x and y differences.
    #[arg(long, default_value_t = 4)]
    k: u8,
    /// Price each part of the patches and each field's values (see `walk::bits`).
    #[arg(long)]
    breakdown: bool,
    /// Where to write the JSON report.
    #[arg(long)]
    report_json: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct BitsReport {
    /// Mean bits per patch of each part of the payload.
    per_patch_bits: Vec<(&'static str, f64)>,
    /// Bits of the keyframe that are names (length and bytes).
    keyframe_name_bits: u64,
    /// Bits per record of id gaps and masks as coded, and their entropy.
    structure_bits_per_record: f64,
    structure_entropy_per_record: f64,
    fields: Vec<Pricing>,
}

#[derive(Debug, Serialize)]
struct SchemaReport {
    name: &'static str,
    schema: String,
    keyframe_payload_bytes: usize,
    keyframe_message_bytes: usize,
    patch_payload_bytes: Summary,
    patch_message_bytes: Summary,
    /// Mean payload over Colyseus' 750 B (int16).
    ratio_to_colyseus_int16: f64,
    /// Whether the mean payload (not the message) is at most the goal.
    meets_goal: bool,
    bounces: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    breakdown: Option<BitsReport>,
}

#[derive(Debug, Serialize)]
struct Report {
    motion: &'static str,
    seed: u64,
    warmup_steps: u32,
    patches: u32,
    colyseus_patch_bytes: [(&'static str, f64); 3],
    colyseus_first_full_state_bytes: (u32, u32),
    goal_patch_bytes: f64,
    schemas: Vec<SchemaReport>,
}

const MOTION: &str = "100 entities player-<id>; start: positions uniform [0,200) m, velocities \
uniform [-6,6] m/s per axis; per 20 Hz step and axis: v = clamp(v + U[-1,1], -6, 6) m/s, \
p += 0.05 v, reflected at 0 and 200 m (velocity negated); StdRng seeded; 60 Hz ticks, a patch \
per step against the previous one";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut schemas = Vec::new();
    for (label, coding) in [
        ("position", Coding::Position { k: args.k }),
        ("motion", Coding::Motion),
    ] {
        let run = Run {
            coding,
            seed: args.seed,
            warmup: args.warmup,
            steps: args.steps,
        };
        let mut bits = args.breakdown.then(|| Breakdown::new(coding));
        let sizes = measure(run, |layout, frame, base, target| {
            if let Some(b) = bits.as_mut() {
                b.patch(layout, frame, base, target);
            }
        })
        .with_context(|| format!("{label} schema"))?;
        let payload = summary(&sizes.payloads);
        schemas.push(SchemaReport {
            name: label,
            schema: coding.describe(),
            keyframe_payload_bytes: sizes.keyframe_payload,
            keyframe_message_bytes: sizes.keyframe_message,
            patch_payload_bytes: payload,
            patch_message_bytes: summary(&sizes.messages),
            ratio_to_colyseus_int16: payload.mean / COLYSEUS_INT16,
            meets_goal: payload.mean <= GOAL,
            bounces: sizes.bounces,
            breakdown: bits.map(|b| BitsReport {
                per_patch_bits: b.per_patch(),
                structure_bits_per_record: b.structure().0,
                structure_entropy_per_record: b.structure().1,
                keyframe_name_bits: (1..=ENTITIES as u32)
                    .map(|id| {
                        let len = name(id).len() as u64;
                        eg_bits(len as u32, 3) + 8 * len
                    })
                    .sum(),
                fields: b.pricing(),
            }),
        });
    }
    let report = Report {
        motion: MOTION,
        seed: args.seed,
        warmup_steps: args.warmup,
        patches: args.steps,
        colyseus_patch_bytes: [
            ("int16 (1/64 m)", COLYSEUS_INT16),
            ("float32", COLYSEUS_FLOAT32),
            ("number", COLYSEUS_NUMBER),
        ],
        colyseus_first_full_state_bytes: (1884, 2484),
        goal_patch_bytes: GOAL,
        schemas,
    };
    print_table(&report);
    if let Some(path) = &args.report_json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn print_table(r: &Report) {
    println!("{}", r.motion);
    println!(
        "seed {}, warm-up {} steps, {} patches; every patch decoded by a client and checked",
        r.seed, r.warmup_steps, r.patches
    );
    println!();
    println!(
        "{:<9} {:>13} {:>25} {:>25} {:>9} {:>6}",
        "schema", "keyframe B", "patch payload B", "patch message B", "/ 750 B", "≤250?"
    );
    println!(
        "{:<9} {:>13} {:>25} {:>25}",
        "", "payload/msg", "mean   p50   p99   max", "mean   p50   p99   max"
    );
    for s in &r.schemas {
        let p = s.patch_payload_bytes;
        let m = s.patch_message_bytes;
        println!(
            "{:<9} {:>13} {:>7.1} {:>5} {:>5} {:>5} {:>7.1} {:>5} {:>5} {:>5} {:>9.3} {:>6}",
            s.name,
            format!("{}/{}", s.keyframe_payload_bytes, s.keyframe_message_bytes),
            p.mean,
            p.p50,
            p.p99,
            p.max,
            m.mean,
            m.p50,
            m.p99,
            m.max,
            s.ratio_to_colyseus_int16,
            if s.meets_goal { "yes" } else { "no" }
        );
    }
    println!();
    for s in &r.schemas {
        println!("{}: {}", s.name, s.schema);
    }
    println!(
        "Colyseus 5.0.34 on this motion: 750 B (int16, 1/64 m), 1,157 B (float32), 1,348 B \
         (number) per patch; first full state 1,884–2,484 B. Goal: ≤ 250 B per patch."
    );
    for s in &r.schemas {
        let Some(b) = &s.breakdown else { continue };
        println!();
        println!(
            "{}: bits per patch by part (keyframe names: {} bits)",
            s.name, b.keyframe_name_bits
        );
        for (part, bits) in &b.per_patch_bits {
            println!("  {part:<34} {bits:>8.1} bits  {:>6.1} B", bits / 8.0);
        }
        println!(
            "  ids and masks: {:.2} bits per record as coded, entropy {:.3}",
            b.structure_bits_per_record, b.structure_entropy_per_record
        );
        println!(
            "  {:<28} {:>8} {:>8} {:>3} {:>8} {:>6} {:>8} {:>8}",
            "field (bits per value)",
            "values",
            "mean|v|",
            "k",
            "at k",
            "best k",
            "at best",
            "entropy"
        );
        for f in &b.fields {
            println!(
                "  {:<28} {:>8} {:>8.2} {:>3} {:>8.2} {:>6} {:>8.2} {:>8.2}",
                f.field,
                f.values,
                f.mean_abs,
                f.k,
                f.bits_at_k,
                f.best_k,
                f.bits_at_best_k,
                f.entropy
            );
        }
    }
}
