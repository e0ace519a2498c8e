//! Golden vectors for the browser client: protocol v3 messages, delta snapshot
//! sequences, corrupted snapshots and trajectory positions, exactly as this crate
//! encodes, decodes and applies them, written to `assets/web/testdata/golden.json`.
//! `assets/web/codec.test.mjs` checks the JavaScript codec against that file.
//!
//! The test fails when the committed file differs from what the code produces now, so
//! a change of the wire format cannot go unnoticed by the JavaScript side. After an
//! intended change, regenerate the file and commit it with the change:
//!
//! ```sh
//! TICKWIRE_BLESS=1 cargo test -p shared --test golden
//! ```
//!
//! Everything here is deterministic: fixed worlds, no randomness, and JSON text built
//! from struct serialisations (field order = declaration order), never from maps.

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;
use shared::codec::{decode_client, decode_server, encode};
use shared::delta::{
    ClientView, DeltaError, Diff, Frame, checksum, diff, encode_payload, field, merge,
};
use shared::map::{MapInfo, WallRect};
use shared::pack::{BitWriter, PackError, Packer};
use shared::protocol::*;
use shared::quant::advance;

fn golden_path() -> PathBuf {
    // The crate lives in the workspace's `shared/`; the web client in `assets/web/`.
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    workspace
        .parent()
        .unwrap_or(&workspace)
        .join("assets/web/testdata/golden.json")
}

// ---------------------------------------------------------------------------------------
// JSON helpers
// ---------------------------------------------------------------------------------------

fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("golden values serialise")
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `{"type":"Variant", ...fields}`: the shape codec.js decodes messages to.
fn tagged<T: Serialize>(variant: &str, inner: &T) -> String {
    let body = json(inner);
    let fields = body.strip_prefix('{').expect("message bodies are structs");
    if fields == "}" {
        format!("{{\"type\":{}}}", json(variant))
    } else {
        format!("{{\"type\":{},{fields}", json(variant))
    }
}

fn client_json(msg: &ClientMessage) -> String {
    match msg {
        ClientMessage::Hello(m) => tagged("Hello", m),
        ClientMessage::Input(m) => tagged("Input", m),
        ClientMessage::Ping(m) => tagged("Ping", m),
        ClientMessage::SnapshotSettings(m) => tagged("SnapshotSettings", m),
        ClientMessage::Desync(m) => tagged("Desync", m),
    }
}

fn server_json(msg: &ServerMessage) -> String {
    match msg {
        ServerMessage::Welcome(m) => tagged("Welcome", m),
        ServerMessage::Snapshot(m) => tagged("Snapshot", m),
        ServerMessage::Pong(m) => tagged("Pong", m),
        ServerMessage::SnapshotSettings(m) => tagged("SnapshotSettings", m),
        ServerMessage::FullSnapshot(m) => tagged("FullSnapshot", m),
    }
}

fn error_json(err: &DeltaError) -> String {
    let pack = |p: &PackError| match p {
        PackError::Truncated => "Truncated",
        PackError::Overlong => "Overlong",
        PackError::Trailing => "Trailing",
    };
    match err {
        DeltaError::Pack(p) => format!("{{\"error\":\"Pack\",\"pack\":\"{}\"}}", pack(p)),
        DeltaError::Baseline { held, got } => {
            format!("{{\"error\":\"Baseline\",\"held\":{held},\"got\":{got}}}")
        }
        DeltaError::Unknown(id) => format!("{{\"error\":\"Unknown\",\"id\":{id}}}"),
        DeltaError::Duplicate(id) => format!("{{\"error\":\"Duplicate\",\"id\":{id}}}"),
        DeltaError::Order => "{\"error\":\"Order\"}".to_owned(),
        DeltaError::Kind(code) => format!("{{\"error\":\"Kind\",\"code\":{code}}}"),
        DeltaError::Name => "{\"error\":\"Name\"}".to_owned(),
        DeltaError::Checksum { expected, got } => {
            format!("{{\"error\":\"Checksum\",\"expected\":{expected},\"got\":{got}}}")
        }
    }
}

/// A JSON array written one element per line, indented.
fn lines(indent: &str, items: &[String]) -> String {
    if items.is_empty() {
        return "[]".to_owned();
    }
    let inner: Vec<String> = items.iter().map(|i| format!("{indent}  {i}")).collect();
    format!("[\n{}\n{indent}]", inner.join(",\n"))
}

// ---------------------------------------------------------------------------------------
// Entities and worlds
// ---------------------------------------------------------------------------------------

#[allow(clippy::too_many_arguments)]
fn player(
    id: u32,
    (x, y): (i32, i32),
    (vx, vy): (i32, i32),
    angle: u16,
    health: u8,
    flags: u8,
    score: u32,
    name: &str,
) -> EntityState {
    EntityState {
        id,
        kind: EntityKind::Player,
        x,
        y,
        vx,
        vy,
        anchor: 0,
        angle,
        health,
        flags,
        score,
        owner: 0,
        name: name.to_owned(),
    }
}

fn drone(
    id: u32,
    (x, y): (i32, i32),
    (vx, vy): (i32, i32),
    anchor: u32,
    angle: u16,
    health: u8,
) -> EntityState {
    EntityState {
        id,
        kind: EntityKind::Drone,
        x,
        y,
        vx,
        vy,
        anchor,
        angle,
        health,
        flags: 0,
        score: 0,
        owner: 0,
        name: String::new(),
    }
}

fn shot(
    id: u32,
    (x, y): (i32, i32),
    (vx, vy): (i32, i32),
    anchor: u32,
    angle: u16,
    owner: u32,
) -> EntityState {
    EntityState {
        id,
        kind: EntityKind::Projectile,
        x,
        y,
        vx,
        vy,
        anchor,
        angle,
        health: 0,
        flags: 0,
        score: 0,
        owner,
        name: String::new(),
    }
}

/// Where a player's velocity takes it in `ticks` ticks (what a delta codes against).
fn along(e: &EntityState, ticks: i64, rate: u16) -> (i32, i32) {
    (
        advance(e.x, e.vx, ticks, rate),
        advance(e.y, e.vy, ticks, rate),
    )
}

/// A new trajectory that starts where `e`'s old one is at `anchor`.
fn turned(e: &EntityState, anchor: u32, vel: (i32, i32), rate: u16) -> EntityState {
    let (x, y) = e.position_at(anchor, rate);
    EntityState {
        x,
        y,
        vx: vel.0,
        vy: vel.1,
        anchor,
        ..e.clone()
    }
}

/// Which entries of a diff's created or changed list a budget-limited delta sends.
type Pick = fn(usize) -> bool;

struct World {
    note: &'static str,
    tick: u32,
    baseline: u32,
    entities: Vec<EntityState>,
    /// `Some((created, changed))`: send only these picks of the diff's created and
    /// changed lists (the byte budget case); removals always go out.
    partial: Option<(Pick, Pick)>,
}

fn get(world: &[EntityState], id: u32) -> EntityState {
    world
        .iter()
        .find(|e| e.id == id)
        .cloned()
        .unwrap_or_else(|| panic!("entity {id} is in the world"))
}

fn sorted(mut v: Vec<EntityState>) -> Vec<EntityState> {
    v.sort_by_key(|e| e.id);
    v
}

/// A scripted room seen by one client: a keyframe, deltas exercising every section and
/// field, a budget-limited delta, an empty one, and a keyframe after a desync.
fn worlds(rate: u16) -> Vec<World> {
    let mut out: Vec<World> = Vec::new();

    // Keyframe: all three kinds, unicode names, a far id, extreme values.
    let w0 = sorted(vec![
        player(1, (6400, 3200), (384, -30), 16384, 100, 0, 3, "ada"),
        player(2, (-5, 70_000), (0, 0), 65535, 1, 1, 0, "Zoë 🙂"),
        player(3, (100, 100), (-64, 64), 0, 55, 0, 7, "名前"),
        drone(5, (1000, 2000), (128, -64), 990, 100, 40),
        drone(6, (12_000, 500), (-77, 33), 1000, 40_000, 40),
        player(
            8,
            (i32::MAX - 10, i32::MIN + 10),
            (2000, -2000),
            1,
            255,
            255,
            u32::MAX - 1,
            "edge",
        ),
        shot(9, (500, 600), (1280, 0), 998, 0, 1),
        shot(70_000, (9000, 9000), (-905, 905), 1000, 24_576, 2),
    ]);
    out.push(World {
        note: "keyframe: players, drones and projectiles, unicode names, a far id",
        tick: 1000,
        baseline: 0,
        entities: w0.clone(),
        partial: None,
    });

    // Delta: removal, creations, every field of a player, a bounce, clamped references.
    let mut w1 = Vec::new();
    {
        let mut p1 = get(&w0, 1);
        let (x, y) = along(&p1, 3, rate);
        (p1.x, p1.y) = (x + 1, y); // a small residual, and a -1.5 step rounding up
        p1.angle = 16_400;
        w1.push(p1);
        let mut p2 = get(&w0, 2);
        (p2.x, p2.y) = (6000, 6000); // respawn: a large residual
        p2.angle = 3; // 65535 -> 3 wraps: +4
        (p2.health, p2.flags) = (100, 0);
        w1.push(p2);
        let mut p3 = get(&w0, 3);
        (p3.x, p3.y) = along(&p3, 3, rate); // exactly along its velocity: residual 0
        p3.score = 9;
        p3.name = "名前２".to_owned();
        w1.push(p3);
        w1.push(player(
            4,
            (3000, 3000),
            (10, -10),
            32_768,
            100,
            0,
            0,
            "Ωmega",
        ));
        w1.push(get(&w0, 5)); // a trajectory that did not turn costs nothing
        w1.push(turned(&get(&w0, 6), 1002, (77, 33), rate)); // bounce at tick 1002
        let mut p8 = get(&w0, 8);
        // Its reference clamps to i32::MAX / i32::MIN; the new values wrap around.
        (p8.x, p8.y) = (i32::MIN + 5, i32::MAX - 3);
        p8.score = p8.score.wrapping_add(3);
        w1.push(p8);
        // 9 is gone.
        w1.push(shot(10, (6500, 3100), (1280, -5), 1001, 65_000, 1));
        w1.push(get(&w0, 70_000));
    }
    let w1 = sorted(w1);
    out.push(World {
        note: "delta: a removal, creations, player fields, a bounce, clamped and wrapped positions",
        tick: 1003,
        baseline: 1000,
        entities: w1.clone(),
        partial: None,
    });

    // Delta: kind and owner changes (removed and created again), a score going down.
    let mut w2 = Vec::new();
    {
        let mut p1 = get(&w1, 1);
        (p1.x, p1.y) = along(&p1, 2, rate); // stopped after two of the three ticks
        (p1.vx, p1.vy) = (0, 0);
        p1.score = 0;
        w2.push(p1);
        let mut p2 = get(&w1, 2);
        p2.health = 80;
        w2.push(p2);
        // 3 left the area of interest.
        w2.push(get(&w1, 4));
        let mut d5 = get(&w1, 5);
        d5.health = 20;
        w2.push(d5);
        w2.push(get(&w1, 6));
        w2.push(get(&w1, 8));
        w2.push(drone(10, (7000, 3000), (0, 64), 1006, 16_384, 40)); // was a projectile
        w2.push(drone(11, (-300, -400), (-3, 5), 1008, 9, 33)); // anchored in the future
        let mut s = get(&w1, 70_000);
        s.owner = 3;
        w2.push(s);
    }
    let w2 = sorted(w2);
    out.push(World {
        note: "delta: an id changing kind, a projectile changing owner, a score going down",
        tick: 1006,
        baseline: 1003,
        entities: w2.clone(),
        partial: None,
    });

    out.push(World {
        note: "delta: nothing changed",
        tick: 1009,
        baseline: 1006,
        entities: w2.clone(),
        partial: None,
    });

    // A busy step, of which the byte budget lets only part through.
    let mut w4 = Vec::new();
    {
        let mut p1 = get(&w2, 1);
        p1.angle = 60_000;
        p1.health = 90;
        w4.push(p1);
        let mut p2 = get(&w2, 2);
        (p2.vx, p2.vy) = (-200, 150);
        (p2.x, p2.y) = (p2.x - 7, p2.y + 2);
        w4.push(p2);
        // 4 is gone.
        w4.push(turned(&get(&w2, 5), 1011, (-128, -64), rate));
        let mut d6 = get(&w2, 6);
        d6.health = 35;
        w4.push(d6);
        w4.push(get(&w2, 8));
        w4.push(get(&w2, 10));
        w4.push(get(&w2, 11));
        w4.push(shot(12, (100, 200), (0, -1280), 1012, 49_152, 1));
        w4.push(shot(13, (300, 400), (905, 905), 1011, 8192, 2));
        w4.push(shot(14, (500, 600), (-1280, 0), 1010, 32_768, 1));
        w4.push(get(&w2, 70_000));
    }
    let w4 = sorted(w4);
    out.push(World {
        note: "partial delta (byte budget): every removal, some creations and changes",
        tick: 1012,
        baseline: 1009,
        entities: w4.clone(),
        partial: Some((|i| i % 2 == 0, |i| i % 2 == 1)),
    });

    // The rest arrives, plus new changes.
    let mut w5 = w4.clone();
    for e in &mut w5 {
        if e.id == 8 {
            e.name = "édge".to_owned();
            e.flags = 0;
        }
        if e.id == 12 {
            *e = turned(e, 1014, (0, 1280), rate);
            e.angle = 16_384;
        }
    }
    out.push(World {
        note: "delta: what the budget held back, and more",
        tick: 1015,
        baseline: 1012,
        entities: w5.clone(),
        partial: None,
    });

    // A keyframe while holding a view (the answer to a Desync) replaces it.
    let mut w6 = w5.clone();
    w6.retain(|e| e.id != 13);
    w6.push(player(15, (640, 640), (0, 0), 0, 100, 0, 0, "🙂🙂🙂🙂"));
    let w6 = sorted(w6);
    out.push(World {
        note: "keyframe while holding a view (after a desync)",
        tick: 1018,
        baseline: 0,
        entities: w6.clone(),
        partial: None,
    });

    let w7: Vec<EntityState> = w6
        .iter()
        .filter(|e| e.id == 15 || e.id == 70_000)
        .cloned()
        .collect();
    out.push(World {
        note: "delta: almost everything removed",
        tick: 1021,
        baseline: 1018,
        entities: w7,
        partial: None,
    });
    out
}

// ---------------------------------------------------------------------------------------
// Sequences
// ---------------------------------------------------------------------------------------

/// One client's snapshots with one packing and tick rate.
struct Sequence {
    packing: Packing,
    rate: u16,
    steps: Vec<(&'static str, Step)>,
}

struct Step {
    snapshot: Snapshot,
    /// The client's view after applying it.
    view: Vec<EntityState>,
}

/// What the server does for one client: diff against what the client holds, send (part
/// of) it, and hold exactly what the client will rebuild.
fn play(packing: Packing, rate: u16) -> Vec<(&'static str, Step)> {
    let mut held: Vec<EntityState> = Vec::new();
    let mut client = ClientView::default();
    let mut d = Diff::default();
    let mut out = Vec::new();
    for (n, w) in worlds(rate).into_iter().enumerate() {
        let base: &[EntityState] = if w.baseline == 0 { &[] } else { &held };
        diff(base, &w.entities, &mut d);
        let (created, changed): (Vec<usize>, Vec<(usize, usize, u8)>) = match w.partial {
            None => (d.created.clone(), d.changed.clone()),
            Some((keep_created, keep_changed)) => (
                d.created
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| keep_created(*i))
                    .map(|(_, c)| *c)
                    .collect(),
                d.changed
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| keep_changed(*i))
                    .map(|(_, c)| *c)
                    .collect(),
            ),
        };
        let frame = Frame {
            tick: w.tick,
            baseline: w.baseline,
            tick_rate: rate,
        };
        let payload = encode_payload(
            packing,
            &frame,
            base,
            &w.entities,
            &d.removed,
            &created,
            &changed,
        );
        let mut view = Vec::new();
        merge(base, &w.entities, &d.removed, &created, &changed, &mut view);
        if w.partial.is_none() {
            assert_eq!(
                view, w.entities,
                "step {n}: a whole diff rebuilds the world"
            );
        } else {
            assert_ne!(
                view, w.entities,
                "step {n}: the partial delta leaves something out"
            );
        }
        let snapshot = Snapshot {
            tick: w.tick,
            baseline: w.baseline,
            last_input_seq: 40 + n as u32,
            checksum: checksum(&view),
            payload,
        };
        client
            .apply(&snapshot, rate, packing)
            .unwrap_or_else(|e| panic!("step {n} applies: {e}"));
        assert_eq!(
            client.entities(),
            view.as_slice(),
            "step {n}: the client rebuilds the view"
        );
        held = view.clone();
        out.push((w.note, Step { snapshot, view }));
    }
    out
}

fn sequence_json(name: &str, packing: Packing, rate: u16, steps: &[(&str, Step)]) -> String {
    let items: Vec<String> = steps
        .iter()
        .map(|(note, s)| {
            let msg = ServerMessage::Snapshot(s.snapshot.clone());
            let bytes = encode(&msg).expect("snapshots encode");
            assert_eq!(decode_server(&bytes).expect("snapshots decode"), msg);
            format!(
                "{{\"note\":{},\"hex\":\"{}\",\"message\":{},\n        \"checksum\":{},\"view\":{}}}",
                json(note),
                hex(&bytes),
                server_json(&msg),
                checksum(&s.view),
                json(&s.view)
            )
        })
        .collect();
    format!(
        "{{\"name\":{},\"packing\":{},\"tick_rate\":{rate},\"steps\":{}}}",
        json(name),
        json(&packing),
        lines("    ", &items)
    )
}

// ---------------------------------------------------------------------------------------
// Corrupted and hand-made snapshots
// ---------------------------------------------------------------------------------------

struct Corruption {
    note: String,
    sequence: usize,
    /// Index of the step whose view the client holds when the snapshot arrives.
    after_step: usize,
    snapshot: Snapshot,
}

fn corruptions(seqs: &[Sequence]) -> Vec<Corruption> {
    let mut out = Vec::new();
    for (si, Sequence { packing, steps, .. }) in seqs.iter().enumerate() {
        for (i, (_, step)) in steps.iter().enumerate().skip(1) {
            let after_step = i - 1;
            let snap = &step.snapshot;
            let mut add = |note: String, f: &dyn Fn(&mut Snapshot)| {
                let mut s = snap.clone();
                f(&mut s);
                out.push(Corruption {
                    note,
                    sequence: si,
                    after_step,
                    snapshot: s,
                });
            };
            let len = snap.payload.len();
            add(
                format!("{packing:?} step {i}: payload byte 0 bit 0 flipped"),
                &|s| s.payload[0] ^= 1,
            );
            add(
                format!(
                    "{packing:?} step {i}: payload byte {} bit 3 flipped",
                    len / 2
                ),
                &|s| s.payload[len / 2] ^= 8,
            );
            add(
                format!("{packing:?} step {i}: last payload byte 0xff"),
                &|s| s.payload[len - 1] = 0xff,
            );
            add(
                format!("{packing:?} step {i}: last payload byte dropped"),
                &|s| {
                    s.payload.pop();
                },
            );
            add(
                format!("{packing:?} step {i}: a zero byte appended"),
                &|s| s.payload.push(0),
            );
            add(format!("{packing:?} step {i}: checksum off by one"), &|s| {
                s.checksum = s.checksum.wrapping_add(1)
            });
            if snap.baseline != 0 {
                add(format!("{packing:?} step {i}: baseline off by one"), &|s| {
                    s.baseline += 1
                });
            }
        }
    }

    // Hand-made bit payloads against the view after step 1 of the first sequence (tick
    // 1003: entities 1, 2, 3, 4, 5, 6, 8, 10, 70000), each breaking one rule.
    let made = |note: &str, write: &dyn Fn(&mut BitWriter)| {
        let mut w = BitWriter::new();
        write(&mut w);
        Corruption {
            note: note.to_owned(),
            sequence: 0,
            after_step: 1,
            snapshot: Snapshot {
                tick: 1006,
                baseline: 1003,
                last_input_seq: 0,
                checksum: 0,
                payload: w.into_bytes(),
            },
        }
    };
    let counts = |w: &mut BitWriter, removed: u32| w.uint(removed, 3);
    out.push(made("empty payload", &|_| {}));
    out.push(made("only the removed count", &|w| counts(w, 0)));
    out.push(made("removes an unknown id", &|w| {
        counts(w, 1);
        w.uint(6, 1); // id 7
        w.uint(0, 3);
        w.uint(0, 3);
    }));
    out.push(made("id gap overflows u32", &|w| {
        counts(w, 2);
        w.uint(0, 1); // id 1
        w.uint(u32::MAX, 1);
        w.uint(0, 3);
        w.uint(0, 3);
    }));
    out.push(made("creates an id that exists", &|w| {
        counts(w, 0);
        w.uint(1, 3);
        w.uint(4, 1); // id 5
        w.bits(1, 2);
    }));
    out.push(made("unknown kind 3", &|w| {
        counts(w, 0);
        w.uint(1, 3);
        w.uint(19, 1); // id 20
        w.bits(3, 2);
    }));
    let created_player = |w: &mut BitWriter, name_len: u32, name: &[u8]| {
        counts(w, 0);
        w.uint(1, 3);
        w.uint(19, 1); // id 20
        w.bits(0, 2);
        w.sint(-1, 12); // x
        w.sint(64, 12); // y
        w.sint(0, 6); // vx
        w.sint(-5, 6); // vy
        w.bits(0, 16);
        w.bits(100, 8);
        w.bits(0, 8);
        w.uint(0, 1);
        w.uint(name_len, 3);
        for &b in name {
            w.bits(u32::from(b), 8);
        }
        w.uint(0, 3);
    };
    out.push(made("a valid created player (checksum 0 is wrong)", &|w| {
        created_player(w, 2, b"ok")
    }));
    out.push(made("name is not UTF-8", &|w| {
        created_player(w, 2, &[0xc3, 0x28])
    }));
    out.push(made("name is a lone surrogate", &|w| {
        created_player(w, 3, &[0xed, 0xa0, 0x80])
    }));
    out.push(made("name starts with a byte order mark", &|w| {
        created_player(w, 4, &[0xef, 0xbb, 0xbf, b'x'])
    }));
    out.push(made("name longer than 64 bytes", &|w| {
        created_player(w, 65, &[b'a'; 65])
    }));
    out.push(made("changes an unknown id", &|w| {
        counts(w, 0);
        w.uint(0, 3);
        w.uint(1, 3);
        w.uint(6, 1); // id 7
        w.bits(u32::from(field::HEALTH), 8);
        w.bits(1, 8);
    }));
    out.push(made("changes a removed id", &|w| {
        counts(w, 1);
        w.uint(1, 1); // id 2
        w.uint(0, 3);
        w.uint(1, 3);
        w.uint(1, 1); // id 2
        w.bits(u32::from(field::HEALTH), 8);
        w.bits(1, 8);
    }));
    out.push(made("created count above 65536", &|w| {
        counts(w, 0);
        w.uint(65_537, 3);
    }));
    out.push(made("an Exp-Golomb code longer than 33 bits", &|w| {
        w.bits(0, 31);
        w.bits(1, 1);
    }));
    out.push(made("non-zero padding", &|w| {
        counts(w, 0);
        w.uint(0, 3);
        w.uint(0, 3);
        w.bits(1, 1);
    }));
    out.push(made(
        "every field of player 1 (checksum 0 is wrong)",
        &|w| {
            counts(w, 0);
            w.uint(0, 3);
            w.uint(1, 3);
            w.uint(0, 1); // id 1
            w.bits(0xff, 8);
            w.uint(3, 2); // anchor: age 3 (meaningless for a player, but decodable)
            w.sint(-1, 2);
            w.sint(1, 2);
            w.sint(-1000, 4);
            w.sint(5, 4);
            w.sint(-32_768, 6);
            w.bits(7, 8);
            w.bits(2, 8);
            w.sint(-2_000_000_000, 0);
            w.uint(0, 3); // an empty name
        },
    ));
    out
}

fn corruption_json(c: &Corruption, seqs: &[Sequence]) -> String {
    let Sequence {
        packing,
        rate,
        steps,
    } = &seqs[c.sequence];
    let mut view = ClientView::default();
    for (_, step) in &steps[..=c.after_step] {
        view.apply(&step.snapshot, *rate, *packing)
            .expect("the sequence applies");
    }
    let before = view.clone();
    let outcome = view.apply(&c.snapshot, *rate, *packing);
    match &outcome {
        Ok(()) | Err(DeltaError::Checksum { .. }) => {
            assert_eq!(
                view.tick(),
                c.snapshot.tick,
                "{}: the view moves on",
                c.note
            )
        }
        Err(_) => assert_eq!(view, before, "{}: the view is left as it was", c.note),
    }
    let result = match &outcome {
        Ok(()) => "{\"ok\":true}".to_owned(),
        Err(e) => error_json(e),
    };
    format!(
        "{{\"note\":{},\"sequence\":{},\"after_step\":{},\"snapshot\":{},\"result\":{},\"view_tick\":{},\"view_checksum\":{},\"view_size\":{}}}",
        json(&c.note),
        c.sequence,
        c.after_step,
        tagged("Snapshot", &c.snapshot),
        result,
        view.tick(),
        checksum(view.entities()),
        view.entities().len()
    )
}

// ---------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------

fn client_messages() -> Vec<(&'static str, ClientMessage)> {
    vec![
        (
            "Hello with a unicode name",
            ClientMessage::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                name: "Zoë 🙂".into(),
                join_token: String::new(),
                resume_token: String::new(),
            }),
        ),
        (
            "Hello with a join token",
            ClientMessage::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                name: "ada".into(),
                join_token: "eyJyIjoiZHVlbCJ9.c2lnbmF0dXJl".into(),
                resume_token: String::new(),
            }),
        ),
        (
            "Hello with a resume token",
            ClientMessage::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                name: "ada".into(),
                join_token: String::new(),
                resume_token: "eyJwIjoiYWRhIn0.c2ln".into(),
            }),
        ),
        (
            "Input with negative moves and 3-byte varints",
            ClientMessage::Input(Input {
                seq: 100,
                ack_tick: 1000,
                move_x: -127,
                move_y: 0,
                aim: 300,
                buttons: 1,
            }),
        ),
        (
            "Input at the type limits",
            ClientMessage::Input(Input {
                seq: u32::MAX,
                ack_tick: 65_536,
                move_x: -128,
                move_y: 127,
                aim: u16::MAX,
                buttons: 0xff,
            }),
        ),
        (
            "Ping",
            ClientMessage::Ping(Ping {
                client_time: 123_456,
            }),
        ),
        (
            "SnapshotSettings request",
            ClientMessage::SnapshotSettings(SnapshotSettings {
                rate: 10,
                max_bytes_per_sec: 16_384,
            }),
        ),
        ("Desync", ClientMessage::Desync(Desync { tick: 70_000 })),
    ]
}

fn full_snapshot_entities() -> Vec<EntityState> {
    vec![
        player(7, (6400, -64), (384, -1), 16_384, 100, 0, 3, "ada"),
        player(8, (0, 0), (0, 0), 0, 0, 1, 0, "Zoë 🙂"),
        drone(12, (1000, 2000), (128, -64), 990, 100, 40),
        shot(300, (100, 200), (-1280, 0), 70_000, 49_152, 7),
    ]
}

fn server_messages() -> Vec<(&'static str, ServerMessage)> {
    vec![
        (
            "Welcome with a map",
            ServerMessage::Welcome(Welcome {
                client_id: 1,
                entity: 7,
                tick_rate: 60,
                snapshot_rate: 20,
                map: MapInfo {
                    name: "arène".into(),
                    width: 12_800,
                    height: 12_800,
                    walls: vec![
                        WallRect {
                            min_x: 4480,
                            min_y: 6272,
                            max_x: 6080,
                            max_y: 6528,
                        },
                        WallRect {
                            min_x: -64,
                            min_y: 0,
                            max_x: 0,
                            max_y: 12_800,
                        },
                    ],
                },
                aoi_radius: 3072,
                packing: Packing::Bits,
                settings: SnapshotSettings {
                    rate: 20,
                    max_bytes_per_sec: 32_768,
                },
                room: "default".into(),
                player: "a-1f2e3d4c5b6a7988".into(),
                resume_token: "eyJwIjoiYWRhIn0.c2ln".into(),
                resume_grace_s: 15,
                resumed: false,
            }),
        ),
        (
            "Welcome with an empty map and byte packing",
            ServerMessage::Welcome(Welcome {
                client_id: 300,
                entity: 70_000,
                tick_rate: 240,
                snapshot_rate: 240,
                map: MapInfo {
                    name: String::new(),
                    width: 640,
                    height: 640,
                    walls: vec![],
                },
                aoi_radius: 640_000,
                packing: Packing::Bytes,
                settings: SnapshotSettings {
                    rate: 1,
                    max_bytes_per_sec: 2048,
                },
                room: "duel".into(),
                player: "user-42".into(),
                resume_token: String::new(),
                resume_grace_s: 300,
                resumed: true,
            }),
        ),
        (
            "Snapshot with an empty payload",
            ServerMessage::Snapshot(Snapshot {
                tick: 5,
                baseline: 2,
                last_input_seq: 0,
                checksum: u32::MAX,
                payload: vec![],
            }),
        ),
        (
            "Pong",
            ServerMessage::Pong(Pong {
                client_time: 123_456,
                server_tick: 70_000,
            }),
        ),
        (
            "SnapshotSettings granted",
            ServerMessage::SnapshotSettings(SnapshotSettings {
                rate: 20,
                max_bytes_per_sec: 262_144,
            }),
        ),
        (
            "FullSnapshot of every kind",
            ServerMessage::FullSnapshot(FullSnapshot {
                tick: 70_001,
                last_input_seq: 42,
                entities: full_snapshot_entities(),
            }),
        ),
        (
            "FullSnapshot, empty",
            ServerMessage::FullSnapshot(FullSnapshot {
                tick: 1,
                last_input_seq: 0,
                entities: vec![],
            }),
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Positions
// ---------------------------------------------------------------------------------------

fn advance_cases() -> Vec<String> {
    let cases: &[(i32, i32, i64, u16)] = &[
        (0, 64, 60, 60),
        (0, 30, 1, 60),
        (0, -30, 1, 60),
        (0, -31, 1, 60),
        (0, -90, 1, 60),
        (100, 7, -3, 60),
        (100, -7, -3, 60),
        (0, 1, 1, 0),
        (0, 1, 0, 0),
        (-7, -1, 1, 2),
        (5, 1280, 4_294_967_295, 60),
        (5, -1280, -4_294_967_295, 60),
        (i32::MAX - 10, 2000, 3, 60),
        (i32::MIN + 10, -2000, 3, 60),
        (0, i32::MAX, 1 << 30, 1),
        (0, i32::MIN, -(1 << 30), 60),
        (0, i32::MAX, (1 << 22) + 1, 1),
        (0, i32::MAX, 1 << 22, 3),
        (12, -1_048_576, 1_048_575, 7),
        (-1, 3, 1_234_567, 65_535),
    ];
    cases
        .iter()
        .map(|&(pos, vel, ticks, rate)| {
            format!(
                "[{pos},{vel},{ticks},{rate},{}]",
                advance(pos, vel, ticks, rate)
            )
        })
        .collect()
}

fn position_cases() -> Vec<String> {
    let entities = [
        drone(5, (1000, 2000), (128, -64), 990, 100, 40),
        shot(9, (-500, 600), (-1280, 7), 998, 0, 1),
        drone(11, (-300, -400), (-3, 5), 1008, 9, 33),
        player(1, (6400, 3200), (384, -30), 16_384, 100, 0, 3, "ada"),
        shot(2, (0, 0), (1, -1), 1, 0, 1),
    ];
    let mut out = Vec::new();
    for e in &entities {
        for (tick, rate) in [
            (990, 60),
            (991, 60),
            (998, 60),
            (1003, 60),
            (1007, 7),
            (1500, 30),
            (0, 60),
            (u32::MAX, 60),
        ] {
            let (x, y) = e.position_at(tick, rate);
            out.push(format!(
                "{{\"entity\":{},\"tick\":{tick},\"tick_rate\":{rate},\"expected\":[{x},{y}]}}",
                json(e)
            ));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The file
// ---------------------------------------------------------------------------------------

fn build() -> String {
    let clients: Vec<String> = client_messages()
        .iter()
        .map(|(note, msg)| {
            let bytes = encode(msg).expect("client messages encode");
            assert_eq!(&decode_client(&bytes).expect("client messages decode"), msg);
            format!(
                "{{\"note\":{},\"hex\":\"{}\",\"message\":{}}}",
                json(note),
                hex(&bytes),
                client_json(msg)
            )
        })
        .collect();
    let servers: Vec<String> = server_messages()
        .iter()
        .map(|(note, msg)| {
            let bytes = encode(msg).expect("server messages encode");
            assert_eq!(&decode_server(&bytes).expect("server messages decode"), msg);
            format!(
                "{{\"note\":{},\"hex\":\"{}\",\"message\":{}}}",
                json(note),
                hex(&bytes),
                server_json(msg)
            )
        })
        .collect();

    let seqs = vec![
        Sequence {
            packing: Packing::Bits,
            rate: 60,
            steps: play(Packing::Bits, 60),
        },
        Sequence {
            packing: Packing::Bytes,
            rate: 30,
            steps: play(Packing::Bytes, 30),
        },
    ];
    let sequences: Vec<String> = seqs
        .iter()
        .zip(["bits, 60 Hz", "bytes, 30 Hz"])
        .map(|(seq, name)| sequence_json(name, seq.packing, seq.rate, &seq.steps))
        .collect();
    let corrupted: Vec<String> = corruptions(&seqs)
        .iter()
        .map(|c| corruption_json(c, &seqs))
        .collect();

    let mut full_view = ClientView::default();
    let mut shuffled = full_snapshot_entities();
    shuffled.reverse();
    shuffled.push(shuffled[0].clone());
    let full = FullSnapshot {
        tick: 9,
        last_input_seq: 1,
        entities: shuffled,
    };
    full_view.apply_full(&full);
    let apply_full = format!(
        "{{\"snapshot\":{},\"view\":{},\"checksum\":{}}}",
        tagged("FullSnapshot", &full),
        json(full_view.entities()),
        checksum(full_view.entities())
    );

    format!(
        "{{\n  \"about\": \"Generated by shared/tests/golden.rs. Do not edit: regenerate with TICKWIRE_BLESS=1 cargo test -p shared --test golden\",\n  \"protocol_version\": {PROTOCOL_VERSION},\n  \"empty_view_checksum\": {},\n  \"client_messages\": {},\n  \"server_messages\": {},\n  \"sequences\": {},\n  \"corruptions\": {},\n  \"apply_full\": {apply_full},\n  \"advance\": {},\n  \"position_at\": {}\n}}\n",
        checksum(&[]),
        lines("  ", &clients),
        lines("  ", &servers),
        lines("  ", &sequences),
        lines("  ", &corrupted),
        lines("  ", &advance_cases()),
        lines("  ", &position_cases()),
    )
}

#[test]
fn golden_vectors_match_the_committed_file() {
    common::check_or_bless(&golden_path(), &build(), "golden", "assets/web/codec.js");
}

#[test]
fn golden_file_stays_small() {
    assert!(
        build().len() < 200 * 1024,
        "golden.json must stay under 200 KB"
    );
}
