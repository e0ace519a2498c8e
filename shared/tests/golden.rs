//! Golden vectors for the browser client: protocol v4 messages (a `Welcome` carrying a
//! replication schema, full snapshots of generic entities), bit and byte packing, layouts
//! and refused schemas, delta snapshot sequences over a synthetic schema that uses every
//! field kind, corrupted snapshots, checksums and motion positions, exactly as this crate
//! encodes, decodes and applies them, written to `assets/web/testdata/golden.json`.
//! `assets/web/sdk/codec.test.mjs` checks the JavaScript codec against that file.
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
//!
//! Schemas and entities are written in the shape codec.js gives them (kinds as
//! `{"type":"Text","maxBytes":12}`, entities as `{id, present, ints, texts}`), not in
//! serde's, so the JavaScript test compares decoded objects with them directly.

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use shared::codec::{decode_client, decode_server, encode};
use shared::delta::{
    ClientView, DeltaError, Diff, Frame, Part, checksum, diff, encode_payload, entity_hash, merge,
};
use shared::map::{MapInfo, WallRect};
use shared::pack::{BitWriter, ByteWriter, PackError, Packer};
use shared::protocol::*;
use shared::quant::advance;
use shared::schema::{
    ComponentDef, EntityBuilder, FieldDef, FieldKind, Layout, MotionModel, MotionValue, Schema,
    Slot, Values,
};

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

/// A field kind as codec.js holds it: `{"type": variant, ...fields}`.
#[derive(Serialize)]
#[serde(tag = "type")]
enum JsKind {
    Bits {
        width: u8,
    },
    Uint {
        k: u8,
    },
    Int {
        k: u8,
    },
    Fixed {
        scale: u32,
        k: u8,
    },
    Angle {
        bits: u8,
    },
    Text {
        #[serde(rename = "maxBytes")]
        max_bytes: u16,
    },
    Entity,
    Motion {
        model: MotionModel,
        scale: u32,
    },
}

impl From<FieldKind> for JsKind {
    fn from(kind: FieldKind) -> JsKind {
        match kind {
            FieldKind::Bits { width } => JsKind::Bits { width },
            FieldKind::Uint { k } => JsKind::Uint { k },
            FieldKind::Int { k } => JsKind::Int { k },
            FieldKind::Fixed { scale, k } => JsKind::Fixed { scale, k },
            FieldKind::Angle { bits } => JsKind::Angle { bits },
            FieldKind::Text { max_bytes } => JsKind::Text { max_bytes },
            FieldKind::Entity => JsKind::Entity,
            FieldKind::Motion { model, scale } => JsKind::Motion { model, scale },
        }
    }
}

#[derive(Serialize)]
struct JsField<'a> {
    name: &'a str,
    kind: JsKind,
}

#[derive(Serialize)]
struct JsComponent<'a> {
    name: &'a str,
    fields: Vec<JsField<'a>>,
}

#[derive(Serialize)]
struct JsSchema<'a> {
    game: &'a str,
    components: Vec<JsComponent<'a>>,
}

fn js_schema(s: &Schema) -> String {
    json(&JsSchema {
        game: &s.game,
        components: s
            .components
            .iter()
            .map(|c| JsComponent {
                name: &c.name,
                fields: c
                    .fields
                    .iter()
                    .map(|f| JsField {
                        name: &f.name,
                        kind: f.kind.into(),
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// An entity as codec.js holds it: the values flattened into the entity.
#[derive(Serialize)]
struct JsEntity<'a> {
    id: u32,
    present: u32,
    ints: &'a [i32],
    texts: &'a [String],
}

fn js_entity(e: &EntityState) -> String {
    json(&JsEntity {
        id: e.id,
        present: e.present,
        ints: &e.values.ints,
        texts: &e.values.texts,
    })
}

fn js_entities(view: &[EntityState]) -> String {
    let items: Vec<String> = view.iter().map(js_entity).collect();
    format!("[{}]", items.join(","))
}

fn js_motion(m: &MotionValue) -> String {
    format!(
        "{{\"anchor\":{},\"x\":{},\"y\":{},\"vx\":{},\"vy\":{}}}",
        m.anchor, m.x, m.y, m.vx, m.vy
    )
}

/// `body` with the serde JSON of `key`'s value replaced by codec.js's shape of it.
fn reshaped(body: String, key: &str, serde: &str, js: &str) -> String {
    let from = format!("\"{key}\":{serde}");
    assert!(body.contains(&from), "{key} is in the message");
    body.replacen(&from, &format!("\"{key}\":{js}"), 1)
}

/// `{"type":"Variant", ...fields}`: the shape codec.js decodes messages to.
fn tagged_body(variant: &str, body: &str) -> String {
    let fields = body.strip_prefix('{').expect("message bodies are structs");
    if fields == "}" {
        format!("{{\"type\":{}}}", json(variant))
    } else {
        format!("{{\"type\":{},{fields}", json(variant))
    }
}

fn tagged<T: Serialize>(variant: &str, inner: &T) -> String {
    tagged_body(variant, &json(inner))
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

fn full_snapshot_json(m: &FullSnapshot) -> String {
    let body = reshaped(
        json(m),
        "entities",
        &json(&m.entities),
        &js_entities(&m.entities),
    );
    tagged_body("FullSnapshot", &body)
}

/// A snapshot as codec.js decodes it: the baseline and the checksum as numbers (the
/// wire's `back` and four raw bytes are the codec's own business).
#[derive(Serialize)]
struct JsSnapshot<'a> {
    tick: u32,
    baseline: u32,
    last_input_seq: u32,
    checksum: u32,
    payload: &'a [u8],
}

fn server_json(msg: &ServerMessage) -> String {
    match msg {
        ServerMessage::Welcome(m) => {
            let body = reshaped(json(m), "schema", &json(&m.schema), &js_schema(&m.schema));
            tagged_body("Welcome", &body)
        }
        ServerMessage::Snapshot(m) => tagged(
            "Snapshot",
            &JsSnapshot {
                tick: m.tick,
                baseline: m.baseline,
                last_input_seq: m.last_input_seq,
                checksum: m.checksum,
                payload: &m.payload,
            },
        ),
        ServerMessage::Pong(m) => tagged("Pong", m),
        ServerMessage::SnapshotSettings(m) => tagged("SnapshotSettings", m),
        ServerMessage::FullSnapshot(m) => full_snapshot_json(m),
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
        DeltaError::Place(place) => format!("{{\"error\":\"Place\",\"place\":{place}}}"),
        DeltaError::Order => "{\"error\":\"Order\"}".to_owned(),
        DeltaError::Presence(mask) => format!("{{\"error\":\"Presence\",\"mask\":{mask}}}"),
        DeltaError::Wide(value) => format!("{{\"error\":\"Wide\",\"value\":{value}}}"),
        DeltaError::Shape(id) => format!("{{\"error\":\"Shape\",\"id\":{id}}}"),
        DeltaError::Text => "{\"error\":\"Text\"}".to_owned(),
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
// The synthetic schema
// ---------------------------------------------------------------------------------------

fn component(name: &str, fields: Vec<FieldDef>) -> ComponentDef {
    ComponentDef {
        name: name.into(),
        fields,
    }
}

const PREDICTED: FieldKind = FieldKind::Motion {
    model: MotionModel::Predicted,
    scale: 64,
};

const TRAJECTORY: FieldKind = FieldKind::Motion {
    model: MotionModel::Trajectory,
    scale: 64,
};

/// Every field kind and both motion models; components of one field (no field mask on
/// the wire), of many, and of none; a component with a motion after another one's.
fn synthetic() -> Schema {
    Schema {
        game: "synthetic".into(),
        components: vec![
            component(
                "Body",
                vec![
                    FieldDef::new("motion", PREDICTED),
                    FieldDef::new("aim", FieldKind::Angle { bits: 16 }),
                    FieldDef::new("hp", FieldKind::Bits { width: 7 }),
                ],
            ),
            component("Flight", vec![FieldDef::new("path", TRAJECTORY)]),
            component(
                "Tag",
                vec![
                    FieldDef::new("name", FieldKind::Text { max_bytes: 12 }),
                    FieldDef::new("team", FieldKind::Bits { width: 1 }),
                ],
            ),
            component(
                "Stats",
                vec![
                    FieldDef::new("score", FieldKind::Uint { k: 1 }),
                    FieldDef::new("delta", FieldKind::Int { k: 4 }),
                    FieldDef::new("speed", FieldKind::Fixed { scale: 100, k: 6 }),
                    FieldDef::new("owner", FieldKind::Entity),
                    FieldDef::new("flags", FieldKind::Bits { width: 32 }),
                    FieldDef::new("kills", FieldKind::Uint { k: 0 }),
                ],
            ),
            component("Marker", vec![]),
            component(
                "Clock",
                vec![
                    FieldDef::new("left", FieldKind::Uint { k: 12 }),
                    FieldDef::new("label", FieldKind::Text { max_bytes: 1024 }),
                    FieldDef::new("phase", FieldKind::Bits { width: 3 }),
                ],
            ),
            component(
                "Drift",
                vec![
                    FieldDef::new("wobble", TRAJECTORY),
                    FieldDef::new("spin", FieldKind::Angle { bits: 9 }),
                    FieldDef::new("echo", PREDICTED),
                ],
            ),
        ],
    }
}

const BODY: usize = 0;
const FLIGHT: usize = 1;
const TAG: usize = 2;
const STATS: usize = 3;
const MARKER: usize = 4;
const CLOCK: usize = 5;
const DRIFT: usize = 6;

fn layout() -> Layout {
    synthetic().layout().expect("the synthetic schema is valid")
}

// ---------------------------------------------------------------------------------------
// Entities and worlds
// ---------------------------------------------------------------------------------------

/// One component of an entity, with its values.
#[derive(Debug, Clone)]
enum C {
    Body {
        motion: MotionValue,
        aim: u16,
        hp: u32,
    },
    Flight(MotionValue),
    Tag {
        name: String,
        team: bool,
    },
    Stats {
        score: u32,
        delta: i32,
        speed: f64,
        owner: u32,
        flags: u32,
        kills: u32,
    },
    Marker,
    Clock {
        left: u32,
        label: String,
        phase: u32,
    },
    Drift {
        wobble: MotionValue,
        spin: u16,
        /// A second motion: the component's first one places the entity.
        echo: MotionValue,
    },
}

impl C {
    fn index(&self) -> usize {
        match self {
            C::Body { .. } => BODY,
            C::Flight(_) => FLIGHT,
            C::Tag { .. } => TAG,
            C::Stats { .. } => STATS,
            C::Marker => MARKER,
            C::Clock { .. } => CLOCK,
            C::Drift { .. } => DRIFT,
        }
    }
}

fn body(motion: MotionValue, aim: u16, hp: u32) -> C {
    C::Body { motion, aim, hp }
}

fn tag(name: &str, team: bool) -> C {
    C::Tag {
        name: name.into(),
        team,
    }
}

fn stats(score: u32, delta: i32, speed: f64, owner: u32, flags: u32, kills: u32) -> C {
    C::Stats {
        score,
        delta,
        speed,
        owner,
        flags,
        kills,
    }
}

fn clock(left: u32, label: &str, phase: u32) -> C {
    C::Clock {
        left,
        label: label.into(),
        phase,
    }
}

fn drift(wobble: MotionValue, spin: u16) -> C {
    C::Drift {
        wobble,
        spin,
        echo: pm(-wobble.y, wobble.x, 1, -1),
    }
}

/// A predicted motion.
fn pm(x: i32, y: i32, vx: i32, vy: i32) -> MotionValue {
    MotionValue {
        anchor: 0,
        x,
        y,
        vx,
        vy,
    }
}

/// A trajectory anchored at `anchor`.
fn tm(anchor: u32, x: i32, y: i32, vx: i32, vy: i32) -> MotionValue {
    MotionValue {
        anchor,
        x,
        y,
        vx,
        vy,
    }
}

/// Where a predicted motion's velocity takes it in `ticks` ticks (what a delta codes against).
fn along(m: MotionValue, ticks: i64, rate: u16) -> (i32, i32) {
    (
        advance(m.x, m.vx, ticks, rate),
        advance(m.y, m.vy, ticks, rate),
    )
}

/// A new trajectory that starts where `m` is at `anchor`.
fn turned(m: MotionValue, anchor: u32, (vx, vy): (i32, i32), rate: u16) -> MotionValue {
    let (x, y) = m.along(anchor, rate);
    MotionValue {
        anchor,
        x,
        y,
        vx,
        vy,
    }
}

/// An entity as a list of components, easy to edit between worlds.
#[derive(Debug, Clone)]
struct Desc {
    id: u32,
    comps: Vec<C>,
}

fn d(id: u32, comps: Vec<C>) -> Desc {
    Desc { id, comps }
}

impl Desc {
    fn comp(&mut self, index: usize) -> &mut C {
        let id = self.id;
        self.comps
            .iter_mut()
            .find(|c| c.index() == index)
            .unwrap_or_else(|| panic!("entity {id} has component {index}"))
    }

    fn with(&mut self, c: C) {
        self.comps.retain(|x| x.index() != c.index());
        self.comps.push(c);
    }

    fn without(&mut self, index: usize) {
        self.comps.retain(|x| x.index() != index);
    }

    fn body(&mut self) -> (&mut MotionValue, &mut u16, &mut u32) {
        match self.comp(BODY) {
            C::Body { motion, aim, hp } => (motion, aim, hp),
            _ => unreachable!(),
        }
    }

    fn build(&self, layout: &Layout) -> EntityState {
        let mut b = EntityBuilder::new(layout, self.id, Values::default());
        for c in &self.comps {
            let mut w = layout.writer(&mut b, c.index());
            match c {
                C::Body { motion, aim, hp } => {
                    w.motion(*motion).angle(*aim).bits(*hp);
                }
                C::Flight(m) => {
                    w.motion(*m);
                }
                C::Tag { name, team } => {
                    w.text(name).flag(*team);
                }
                C::Stats {
                    score,
                    delta,
                    speed,
                    owner,
                    flags,
                    kills,
                } => {
                    w.uint(*score)
                        .int(*delta)
                        .fixed(*speed)
                        .entity(*owner)
                        .bits(*flags)
                        .uint(*kills);
                }
                C::Marker => {}
                C::Clock { left, label, phase } => {
                    w.uint(*left).text(label).bits(*phase);
                }
                C::Drift { wobble, spin, echo } => {
                    w.motion(*wobble).angle(*spin).motion(*echo);
                }
            }
        }
        b.build()
    }
}

fn get(world: &[Desc], id: u32) -> Desc {
    world
        .iter()
        .find(|e| e.id == id)
        .cloned()
        .unwrap_or_else(|| panic!("entity {id} is in the world"))
}

fn sorted(mut v: Vec<Desc>) -> Vec<Desc> {
    v.sort_by_key(|e| e.id);
    v
}

fn build_all(layout: &Layout, world: &[Desc]) -> Vec<EntityState> {
    world.iter().map(|e| e.build(layout)).collect()
}

/// Which entries of a diff's created or changed list a budget-limited delta sends.
type Pick = fn(usize) -> bool;

struct World {
    note: &'static str,
    tick: u32,
    baseline: u32,
    entities: Vec<Desc>,
    /// `Some((created, changed))`: send only these picks of the diff's created and
    /// changed lists (the byte budget case); removals always go out.
    partial: Option<(Pick, Pick)>,
}

/// The entity that has every component.
fn everything() -> Desc {
    d(
        11,
        vec![
            body(pm(-300, -400, -3, 5), 9, 33),
            C::Flight(tm(1000, 0, 0, 1, -1)),
            tag("名前", false),
            stats(7, 100, 2.005, 2, 0xdead_beef, 3),
            C::Marker,
            clock(0, "🙂", 7),
            drift(tm(999, -1, -1, 0, 64), 40_000),
        ],
    )
}

/// A scripted room seen by one client: a keyframe, deltas exercising every section, kind
/// and presence change, a budget-limited delta, an empty one, and a keyframe after a
/// desync.
fn worlds(rate: u16) -> Vec<World> {
    let mut out: Vec<World> = Vec::new();

    let w0 = sorted(vec![
        d(
            1,
            vec![
                body(pm(6400, 3200, 384, -30), 16_384, 100),
                tag("ada", false),
                stats(3, -5, 1.25, 0, 0, 0),
            ],
        ),
        d(
            2,
            vec![
                body(pm(-5, 70_000, 0, 0), 65_535, 1),
                tag("Zoë 🙂", true),
                stats(0, 0, 0.0, 0, 1, 2),
            ],
        ),
        d(3, vec![C::Flight(tm(990, 1000, 2000, 128, -64))]),
        d(
            5,
            vec![
                body(pm(100, 100, -64, 64), 0, 55),
                C::Flight(tm(1000, 12_000, 500, -77, 33)),
                C::Marker,
            ],
        ),
        d(6, vec![C::Marker]),
        d(7, vec![clock(3600, "warm-up", 2)]),
        d(
            8,
            vec![
                body(pm(i32::MAX - 10, i32::MIN + 10, 2000, -2000), 1, 127),
                tag("edge", true),
                stats(u32::MAX - 1, i32::MIN, -12.5, u32::MAX, u32::MAX, 0),
            ],
        ),
        d(
            9,
            vec![
                C::Flight(tm(998, 500, 600, 1280, 0)),
                stats(0, 0, 0.0, 1, 0, 0),
            ],
        ),
        everything(),
        // A line anchored at tick 0: still a line (its model says so, not its anchor).
        d(17, vec![C::Flight(tm(0, 50, 50, 64, -32))]),
        d(
            70_000,
            vec![
                drift(tm(1000, 9000, 9000, -905, 905), 24_576),
                tag("far", false),
            ],
        ),
    ]);
    out.push(World {
        note: "keyframe: every kind, entities of one, some and all components, a far id",
        tick: 1000,
        baseline: 0,
        entities: w0.clone(),
        partial: None,
    });

    let mut w1 = Vec::new();
    {
        let mut e1 = get(&w0, 1);
        let (m, aim, _) = e1.body();
        let (x, y) = along(*m, 3, rate);
        (m.x, m.y) = (x + 1, y); // a small residual
        *aim = 16_400;
        e1.with(tag("ada lovelace!", false)); // cut to 12 bytes
        if let C::Stats { score, speed, .. } = e1.comp(STATS) {
            *score = 4;
            *speed = 1.3;
        }
        w1.push(e1);
        let mut e2 = get(&w0, 2);
        let (m, aim, hp) = e2.body();
        (m.x, m.y) = (6000, 6000); // respawn: a large residual
        *aim = 3; // 65535 -> 3 wraps: +4
        *hp = 100;
        if let C::Tag { team, .. } = e2.comp(TAG) {
            *team = false;
        }
        if let C::Stats { kills, .. } = e2.comp(STATS) {
            *kills = 3;
        }
        w1.push(e2);
        w1.push(get(&w0, 3)); // a trajectory that did not turn costs nothing
        w1.push(d(
            4,
            vec![
                body(pm(3000, 3000, 10, -10), 32_768, 100),
                tag("Ωmega", false),
            ],
        ));
        let mut e5 = get(&w0, 5);
        e5.without(MARKER);
        let (m, _, _) = e5.body();
        (m.x, m.y) = along(*m, 3, rate); // exactly along its velocity: residual 0
        let C::Flight(path) = e5.comp(FLIGHT) else {
            unreachable!()
        };
        *path = turned(*path, 1002, (77, 33), rate); // a bounce at tick 1002
        w1.push(e5);
        let mut e6 = get(&w0, 6);
        e6.with(tag("new", true)); // a component added
        w1.push(e6);
        let mut e7 = get(&w0, 7);
        if let C::Clock { left, .. } = e7.comp(CLOCK) {
            *left = 3597;
        }
        w1.push(e7);
        let mut e8 = get(&w0, 8);
        let (m, _, _) = e8.body();
        // Its reference clamps to i32::MAX / i32::MIN; the new values wrap around.
        (m.x, m.y) = (i32::MIN + 5, i32::MAX - 3);
        if let C::Stats {
            score,
            delta,
            flags,
            ..
        } = e8.comp(STATS)
        {
            *score = score.wrapping_add(3);
            *delta = i32::MAX;
            *flags = 0;
        }
        w1.push(e8);
        // 9 is gone.
        w1.push(d(
            10,
            vec![
                C::Flight(tm(1001, 6500, 3100, 1280, -5)),
                stats(0, 0, 0.0, 1, 0, 0),
            ],
        ));
        let mut e11 = get(&w0, 11);
        e11.without(BODY); // a component removed while others change
        if let C::Drift { wobble, spin, echo } = e11.comp(DRIFT) {
            *wobble = turned(*wobble, 1002, (5, 60), rate);
            *spin = 40_001;
            echo.x += 3;
        }
        if let C::Clock { label, .. } = e11.comp(CLOCK) {
            *label = "🙂🙂".into();
        }
        w1.push(e11);
        let mut e17 = get(&w0, 17);
        let C::Flight(path) = e17.comp(FLIGHT) else {
            unreachable!()
        };
        *path = turned(*path, 1002, (64, 0), rate); // coded against where the line got to
        w1.push(e17);
        w1.push(get(&w0, 70_000));
    }
    let w1 = sorted(w1);
    out.push(World {
        note: "delta: a removal, creations, components added and removed, every kind changed, wrapped values",
        tick: 1003,
        baseline: 1000,
        entities: w1.clone(),
        partial: None,
    });

    let mut w2 = Vec::new();
    {
        let mut e1 = get(&w1, 1);
        let (m, _, _) = e1.body();
        (m.x, m.y) = along(*m, 2, rate); // stopped after two of the three ticks
        (m.vx, m.vy) = (0, 0);
        if let C::Stats { score, .. } = e1.comp(STATS) {
            *score = 0; // an unsigned value going down
        }
        w2.push(e1);
        let mut e2 = get(&w1, 2);
        *e2.body().2 = 80;
        w2.push(e2);
        // 3 left the area of interest.
        w2.push(get(&w1, 4));
        let mut e5 = get(&w1, 5);
        e5.with(C::Marker); // one component back, another gone
        e5.without(FLIGHT);
        w2.push(e5);
        let mut e6 = get(&w1, 6);
        e6.with(tag("", true)); // a text emptied
        w2.push(e6);
        let mut e7 = get(&w1, 7);
        if let C::Clock { label, phase, .. } = e7.comp(CLOCK) {
            *label = String::new();
            *phase = 5;
        }
        w2.push(e7);
        w2.push(get(&w1, 8));
        let mut e10 = get(&w1, 10);
        e10.with(C::Flight(tm(1008, -300, -400, -3, 5))); // anchored in the future
        if let C::Stats { owner, .. } = e10.comp(STATS) {
            *owner = 3;
        }
        w2.push(e10);
        let mut e11 = get(&w1, 11);
        e11.with(tag("🙂🙂🙂", false)); // exactly 12 bytes
        w2.push(e11);
        w2.push(d(12, vec![C::Marker, clock(10, "x", 0)]));
        let mut far = get(&w1, 70_000);
        if let C::Drift { spin, .. } = far.comp(DRIFT) {
            *spin = 0;
        }
        w2.push(far);
    }
    let w2 = sorted(w2);
    out.push(World {
        note: "delta: presence both ways, texts emptied, an anchor in the future, a score going down",
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
        let mut e1 = get(&w2, 1);
        let (_, aim, hp) = e1.body();
        *aim = 60_000;
        *hp = 90;
        w4.push(e1);
        let mut e2 = get(&w2, 2);
        let (m, _, _) = e2.body();
        (m.vx, m.vy) = (-200, 150);
        (m.x, m.y) = (m.x - 7, m.y + 2);
        w4.push(e2);
        // 4 is gone.
        let mut e5 = get(&w2, 5);
        *e5.body().1 = 1;
        e5.without(MARKER);
        e5.with(C::Flight(tm(1011, 100, 100, -128, -64)));
        w4.push(e5);
        let mut e6 = get(&w2, 6);
        e6.with(tag("", false));
        w4.push(e6);
        let mut e7 = get(&w2, 7);
        if let C::Clock { left, .. } = e7.comp(CLOCK) {
            *left = 3000;
        }
        w4.push(e7);
        w4.push(get(&w2, 8));
        let mut e10 = get(&w2, 10);
        let C::Flight(path) = e10.comp(FLIGHT) else {
            unreachable!()
        };
        *path = turned(*path, 1011, (0, -1280), rate);
        w4.push(e10);
        let mut e11 = get(&w2, 11);
        if let C::Stats { kills, .. } = e11.comp(STATS) {
            *kills = 4;
        }
        w4.push(e11);
        w4.push(get(&w2, 12));
        w4.push(d(
            13,
            vec![
                C::Flight(tm(1012, 100, 200, 0, -1280)),
                stats(0, 0, 0.0, 1, 0, 0),
            ],
        ));
        w4.push(d(
            14,
            vec![
                C::Flight(tm(1011, 300, 400, 905, 905)),
                stats(0, 0, 0.0, 2, 0, 0),
            ],
        ));
        w4.push(d(
            15,
            vec![
                body(pm(500, 600, -1280, 0), 32_768, 100),
                tag("late", false),
            ],
        ));
        let mut far = get(&w2, 70_000);
        far.with(tag("farther", false));
        w4.push(far);
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
        match e.id {
            8 => e.with(tag("édge", false)),
            12 => {
                if let C::Clock { left, .. } = e.comp(CLOCK) {
                    *left = 9;
                }
            }
            13 => {
                let C::Flight(path) = e.comp(FLIGHT) else {
                    unreachable!()
                };
                *path = turned(*path, 1014, (0, 1280), rate);
            }
            _ => {}
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
    w6.push(d(
        16,
        vec![body(pm(640, 640, 0, 0), 0, 100), tag("🙂🙂🙂🙂", false)],
    ));
    let w6 = sorted(w6);
    out.push(World {
        note: "keyframe while holding a view (after a desync)",
        tick: 1018,
        baseline: 0,
        entities: w6.clone(),
        partial: None,
    });

    let w7: Vec<Desc> = w6
        .iter()
        .filter(|e| e.id == 16 || e.id == 70_000)
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

fn part<'a>(
    base: &'a [EntityState],
    target: &'a [EntityState],
    removed: &'a [u32],
    created: &'a [usize],
    changed: &'a [(usize, usize)],
) -> Part<'a> {
    Part {
        base,
        target,
        removed,
        created,
        changed,
    }
}

/// What the server does for one client: diff against what the client holds, send (part
/// of) it, and hold exactly what the client will rebuild.
fn play(packing: Packing, rate: u16) -> Vec<(&'static str, Step)> {
    let layout = Arc::new(layout());
    let mut held: Vec<EntityState> = Vec::new();
    let mut client = ClientView::new(layout.clone());
    let mut d = Diff::default();
    let mut out = Vec::new();
    for (n, w) in worlds(rate).into_iter().enumerate() {
        let entities = build_all(&layout, &w.entities);
        let base: &[EntityState] = if w.baseline == 0 { &[] } else { &held };
        diff(base, &entities, &mut d);
        let (created, changed): (Vec<usize>, Vec<(usize, usize)>) = match w.partial {
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
            &layout,
            &frame,
            part(base, &entities, &d.removed, &created, &changed),
        );
        let mut view = Vec::new();
        merge(base, &entities, &d.removed, &created, &changed, &mut view);
        if w.partial.is_none() {
            assert_eq!(view, entities, "step {n}: a whole diff rebuilds the world");
        } else {
            assert_ne!(
                view, entities,
                "step {n}: the partial delta leaves something out"
            );
        }
        let snapshot = Snapshot {
            tick: w.tick,
            baseline: w.baseline,
            last_input_seq: 40 + n as u32,
            checksum: checksum(&layout, &view),
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

fn sequence_json(name: &str, seq: &Sequence) -> String {
    let layout = layout();
    let items: Vec<String> = seq
        .steps
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
                checksum(&layout, &s.view),
                js_entities(&s.view)
            )
        })
        .collect();
    format!(
        "{{\"name\":{},\"packing\":{},\"tick_rate\":{},\"steps\":{}}}",
        json(name),
        json(&seq.packing),
        seq.rate,
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

/// Writes a text field's length and bytes as the payload does (no cut: a forger's view).
fn raw_text(w: &mut impl Packer, bytes: &[u8]) {
    w.uint(bytes.len() as u32, 3);
    for &b in bytes {
        w.bits(u32::from(b), 8);
    }
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
    // 1003: entities 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 70000), each breaking one rule or
    // reaching a corner of the format.
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
        w.uint(8, 1); // id 9
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
        w.bits(1 << MARKER, 7);
    }));
    let created_tag = |w: &mut BitWriter, text: &[u8]| {
        counts(w, 0);
        w.uint(1, 3);
        w.uint(19, 1); // id 20
        w.bits(1 << TAG, 7);
        raw_text(w, text);
        w.bits(1, 1); // team
        w.uint(0, 3);
    };
    out.push(made("a valid created entity (checksum 0 is wrong)", &|w| {
        created_tag(w, b"ok")
    }));
    out.push(made("text is not UTF-8", &|w| {
        created_tag(w, &[0xc3, 0x28])
    }));
    out.push(made("text is a lone surrogate", &|w| {
        created_tag(w, &[0xed, 0xa0, 0x80])
    }));
    out.push(made("text starts with a byte order mark", &|w| {
        created_tag(w, &[0xef, 0xbb, 0xbf, b'x'])
    }));
    out.push(made("text of 12 bytes, its field's most", &|w| {
        created_tag(w, "🙂🙂🙂".as_bytes())
    }));
    out.push(made("text longer than its field's max_bytes", &|w| {
        created_tag(w, b"thirteen byte")
    }));
    out.push(made("created entity without components", &|w| {
        counts(w, 0);
        w.uint(1, 3);
        w.uint(29, 1); // id 30
        w.bits(0, 7);
        w.uint(0, 3);
    }));
    out.push(made("changes an unknown id", &|w| {
        counts(w, 0);
        w.uint(0, 3);
        w.uint(1, 3);
        w.uint(8, 1); // id 9
        w.bits(0, 1);
    }));
    out.push(made("changes a removed id", &|w| {
        counts(w, 1);
        w.uint(1, 1); // id 2
        w.uint(0, 3);
        w.uint(1, 3);
        w.uint(1, 1); // id 2
        w.bits(0, 1);
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
        "every field of entity 11 changes (checksum 0 is wrong)",
        &|w| {
            counts(w, 0);
            w.uint(0, 3);
            w.uint(1, 3);
            w.uint(10, 1); // id 11
            w.bits(0, 1); // same components: Flight, Tag, Stats, Marker, Clock, Drift
            // Flight: one field, so no field mask; anchor, position and velocity.
            w.bits(1, 1);
            w.bits(7, 3);
            w.uint(2, 2);
            w.sint(-1, 2);
            w.sint(1, 2);
            w.sint(-1000, 4);
            w.sint(5, 4);
            // Tag: both fields.
            w.bits(1, 1);
            w.bits(3, 2);
            raw_text(w, b"hi");
            w.bits(1, 1);
            // Stats: all six.
            w.bits(1, 1);
            w.bits(0x3f, 6);
            w.sint(-8, 1);
            w.sint(-2_000_000_000, 4);
            w.sint(12_345, 6);
            w.uint(70_000, 8);
            w.bits(0x8000_0001, 32);
            w.sint(-1, 0);
            // Marker has no fields: nothing. Clock: left and phase.
            w.bits(1, 1);
            w.bits(5, 3);
            w.sint(-3597, 12);
            w.bits(6, 3);
            // Drift: position and velocity of the wobble, and the spin.
            w.bits(1, 1);
            w.bits(3, 3);
            w.bits(6, 3);
            w.sint(4, 2);
            w.sint(-4, 2);
            w.sint(7, 4);
            w.sint(-7, 4);
            w.sint(-32_768, 6);
        },
    ));
    out.push(made(
        "entity 6 gains every component (checksum 0 is wrong)",
        &|w| {
            counts(w, 0);
            w.uint(0, 3);
            w.uint(1, 3);
            w.uint(5, 1); // id 6
            w.bits(1, 1);
            w.bits(0x7f, 7);
            // Kept: Tag unchanged; Marker has no fields.
            w.bits(0, 1);
            // Added, in component order: Body, Flight, Stats, Clock, Drift.
            w.sint(-64, 12);
            w.sint(64, 12);
            w.sint(3, 6);
            w.sint(-3, 6);
            w.bits(65_535, 16);
            w.bits(127, 7);
            w.uint(4, 2);
            w.sint(100, 12);
            w.sint(-100, 12);
            w.sint(0, 6);
            w.sint(1, 6);
            w.uint(u32::MAX, 1);
            w.sint(i32::MIN, 4);
            w.sint(i32::MAX, 6);
            w.uint(0, 8);
            w.bits(u32::MAX, 32);
            w.uint(1, 0);
            w.uint(12, 12);
            raw_text(w, "ünïcode".as_bytes());
            w.bits(3, 3);
            w.uint(u32::MAX, 2); // anchored at 1006 - (2^32 - 1): wraps to 1007
            w.sint(1, 12);
            w.sint(2, 12);
            w.sint(3, 6);
            w.sint(4, 6);
            w.bits(5, 16);
            w.sint(-5, 12);
            w.sint(6, 12);
            w.sint(-7, 6);
            w.sint(8, 6);
        },
    ));
    out.push(made(
        "entity 5 loses every component (checksum 0 is wrong)",
        &|w| {
            counts(w, 0);
            w.uint(0, 3);
            w.uint(1, 3);
            w.uint(4, 1); // id 5
            w.bits(1, 1);
            w.bits(0, 7);
        },
    ));

    // Byte packing reads whole bytes for bit fields: what it accepts beyond their width
    // (against the view after step 1 of the second sequence, the same ids).
    let made_bytes = |note: &str, write: &dyn Fn(&mut ByteWriter)| {
        let mut w = ByteWriter::new();
        write(&mut w);
        Corruption {
            note: note.to_owned(),
            sequence: 1,
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
    out.push(made_bytes(
        "bytes: a presence mask with a bit above the schema's components is refused",
        &|w| {
            w.uint(0, 3);
            w.uint(1, 3);
            w.uint(19, 1); // id 20
            w.bits(0x80 | 1 << MARKER, 7);
            w.uint(0, 3);
        },
    ));
    out.push(made_bytes("bytes: a changed flag of 2 is refused", &|w| {
        w.uint(0, 3);
        w.uint(0, 3);
        w.uint(1, 3);
        w.uint(6, 1); // id 7: Clock only
        w.bits(0, 1);
        w.bits(2, 1);
        w.bits(0xfd, 3); // left and phase, and bits of no field
        w.sint(-3, 12);
        w.bits(0xff, 3); // a 3-bit field holding 8 bits
    }));
    out.push(made_bytes(
        "bytes: a restructure flag of 3 is refused",
        &|w| {
            w.uint(0, 3);
            w.uint(0, 3);
            w.uint(1, 3);
            w.uint(6, 1); // id 7
            w.bits(3, 1);
            w.bits(0, 1);
        },
    ));
    out.push(made_bytes(
        "bytes: a field mask with bits above the field count is refused",
        &|w| {
            w.uint(0, 3);
            w.uint(0, 3);
            w.uint(1, 3);
            w.uint(6, 1); // id 7
            w.bits(0, 1);
            w.bits(1, 1);
            w.bits(0x0d, 3);
            w.sint(-3, 12);
            w.bits(1, 3);
        },
    ));
    out.push(made_bytes(
        "bytes: a 1-bit field holding 2 is refused",
        &|w| {
            w.uint(0, 3);
            w.uint(1, 3);
            w.uint(19, 1); // id 20
            w.bits(1 << TAG, 7);
            raw_text(w, b"ok");
            w.bits(2, 1);
            w.uint(0, 3);
        },
    ));
    out.push(made_bytes(
        "bytes: a valid changed record (checksum 0 is wrong)",
        &|w| {
            w.uint(0, 3);
            w.uint(0, 3);
            w.uint(1, 3);
            w.uint(6, 1); // id 7
            w.bits(0, 1);
            w.bits(1, 1);
            w.bits(5, 3);
            w.sint(-3, 12);
            w.bits(4, 3);
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
    let layout = Arc::new(layout());
    let mut view = ClientView::new(layout.clone());
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
        server_json(&ServerMessage::Snapshot(c.snapshot.clone())),
        result,
        view.tick(),
        checksum(&layout, view.entities()),
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
            ClientMessage::Input(Input::one(
                100,
                1000,
                Intent {
                    move_x: -127,
                    move_y: 0,
                    aim: 300,
                    buttons: 1,
                },
            )),
        ),
        (
            "Input at the type limits",
            ClientMessage::Input(Input::one(
                u32::MAX,
                65_536,
                Intent {
                    move_x: -128,
                    move_y: 127,
                    aim: u16::MAX,
                    buttons: 0xff,
                },
            )),
        ),
        (
            "Input bundling three ticks",
            ClientMessage::Input(Input {
                seq: 300,
                ack_tick: 297,
                frames: [(127, 0, 0, 0), (90, 90, 16_384, 1), (0, -127, 49_152, 0)]
                    .into_iter()
                    .map(|(move_x, move_y, aim, buttons)| Intent {
                        move_x,
                        move_y,
                        aim,
                        buttons,
                    })
                    .collect(),
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

/// Values at the varint boundaries inside a schema: a u32 scale needing 5 bytes, a u16
/// max_bytes needing 3, the largest widths and orders, names of 32 bytes.
fn wide_schema() -> Schema {
    Schema {
        game: "égal".into(),
        components: vec![
            component(
                &"é".repeat(16),
                vec![
                    FieldDef::new(
                        "f",
                        FieldKind::Fixed {
                            scale: u32::MAX,
                            k: 24,
                        },
                    ),
                    FieldDef::new("t", FieldKind::Text { max_bytes: 1024 }),
                    FieldDef::new("b", FieldKind::Bits { width: 32 }),
                    FieldDef::new(
                        "m",
                        FieldKind::Motion {
                            model: MotionModel::Trajectory,
                            scale: 70_000,
                        },
                    ),
                    FieldDef::new("u", FieldKind::Uint { k: 0 }),
                ],
            ),
            component(
                "x",
                vec![FieldDef::new(&"y".repeat(32), FieldKind::Int { k: 24 })],
            ),
        ],
    }
}

fn welcome(schema: Schema) -> Welcome {
    Welcome {
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
        schema,
        resumed: false,
    }
}

/// Entities of the synthetic schema for full snapshots: one per component shape.
fn full_snapshot_entities() -> Vec<EntityState> {
    let layout = layout();
    let mut out = build_all(
        &layout,
        &[
            d(
                7,
                vec![
                    body(pm(6400, -64, 384, -1), 16_384, 100),
                    tag("ada", false),
                    stats(3, -1, 0.5, 0, 0, 1),
                ],
            ),
            d(8, vec![body(pm(0, 0, 0, 0), 0, 0), tag("Zoë 🙂", true)]),
            d(12, vec![C::Flight(tm(990, 1000, 2000, 128, -64))]),
            d(40, vec![]),
            everything(),
            d(300, vec![C::Marker, clock(u32::MAX, "∞", 7)]),
        ],
    );
    // What a Rust peer may send but no layout would build: values in absent components,
    // and slot counts of another schema. The decoder takes them as they are.
    out.push(EntityState {
        id: 70_000,
        present: 1 << MARKER,
        values: Arc::new(Values {
            ints: vec![-1, i32::MIN, i32::MAX],
            texts: vec!["stale".into()],
        }),
    });
    out
}

fn server_messages() -> Vec<(&'static str, ServerMessage)> {
    let mut bytes_welcome = welcome(Schema {
        game: String::new(),
        components: vec![],
    });
    bytes_welcome.client_id = 300;
    bytes_welcome.entity = 70_000;
    bytes_welcome.tick_rate = 240;
    bytes_welcome.map = MapInfo {
        name: String::new(),
        width: 640,
        height: 640,
        walls: vec![],
    };
    bytes_welcome.packing = Packing::Bytes;
    bytes_welcome.room = "duel".into();
    bytes_welcome.resume_token = String::new();
    bytes_welcome.resume_grace_s = 300;
    bytes_welcome.resumed = true;
    let mut wide = welcome(wide_schema());
    wide.packing = Packing::Bytes;
    vec![
        (
            "Welcome with the synthetic schema",
            ServerMessage::Welcome(welcome(synthetic())),
        ),
        (
            "Welcome with an empty schema and byte packing",
            ServerMessage::Welcome(bytes_welcome),
        ),
        (
            "Welcome with wide values in its schema",
            ServerMessage::Welcome(wide),
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
            "FullSnapshot of generic entities",
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

/// Full snapshots applied one after the other to one view: shuffled with duplicate ids
/// (sorted, first kept), then entities that do not fit the layout (refused, the view
/// kept), then an empty one.
fn apply_full_cases(layout: &Arc<Layout>) -> Vec<String> {
    let mut view = ClientView::new(layout.clone());
    let fitting: Vec<EntityState> = full_snapshot_entities()
        .into_iter()
        .filter(|e| layout.fits(e))
        .collect();
    let mut shuffled = fitting.clone();
    shuffled.reverse();
    shuffled.push(shuffled[0].clone());
    let mut late_duplicate = shuffled[2].clone();
    late_duplicate.present = 1 << MARKER;
    shuffled.push(late_duplicate);
    let mut beyond = fitting[0].clone();
    beyond.present |= 1 << 7;
    let cases = [
        ("shuffled, with duplicate ids", 9, shuffled),
        (
            "an entity with other slot counts",
            10,
            full_snapshot_entities(),
        ),
        (
            "an entity with a component the schema lacks",
            11,
            vec![fitting[1].clone(), beyond],
        ),
        ("empty", 12, vec![]),
    ];
    cases
        .into_iter()
        .map(|(note, tick, entities)| {
            let full = FullSnapshot {
                tick,
                last_input_seq: 1,
                entities,
            };
            let result = match view.apply_full(&full) {
                Ok(()) => "{\"ok\":true}".to_owned(),
                Err(e) => error_json(&e),
            };
            format!(
                "{{\"note\":{},\"snapshot\":{},\"result\":{result},\n    \"view_tick\":{},\"view\":{},\"checksum\":{}}}",
                json(note),
                full_snapshot_json(&full),
                view.tick(),
                js_entities(view.entities()),
                checksum(layout, view.entities())
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Layouts and schemas
// ---------------------------------------------------------------------------------------

fn slot_json(slot: Slot) -> String {
    let (kind, index) = match slot {
        Slot::Int(i) => ("Int", i),
        Slot::Text(i) => ("Text", i),
        Slot::Motion(i) => ("Motion", i),
    };
    format!("{{\"type\":\"{kind}\",\"index\":{index}}}")
}

/// Every field of the synthetic layout with its place, and the entity sizes.
fn layout_json() -> String {
    let schema = synthetic();
    let layout = layout();
    let empty = layout.empty(0);
    let mut fields = Vec::new();
    for (c, comp) in schema.components.iter().enumerate() {
        for f in &comp.fields {
            let r = layout.field(&comp.name, &f.name).expect("the field exists");
            assert_eq!(r.component, c);
            fields.push(format!(
                "{{\"component\":{},\"field\":{},\"index\":{c},\"kind\":{},\"slot\":{}}}",
                json(&comp.name),
                json(&f.name),
                json(&JsKind::from(r.kind)),
                slot_json(r.slot)
            ));
        }
    }
    format!(
        "{{\"int_slots\":{},\"text_slots\":{},\"fields\":{}}}",
        empty.values.ints.len(),
        empty.values.texts.len(),
        lines("    ", &fields)
    )
}

/// Schemas `Schema::layout` accepts or refuses, at and beyond every limit.
fn schema_cases() -> Vec<String> {
    let one = |kind: FieldKind| Schema {
        game: "g".into(),
        components: vec![component("C", vec![FieldDef::new("f", kind)])],
    };
    let named = |c: &str, f: &str| Schema {
        game: "g".into(),
        components: vec![component(c, vec![FieldDef::new(f, FieldKind::Entity)])],
    };
    let comps = |n: usize| Schema {
        game: "g".into(),
        components: (0..n)
            .map(|i| component(&format!("C{i}"), vec![]))
            .collect(),
    };
    let fields = |n: usize| Schema {
        game: "g".into(),
        components: vec![component(
            "C",
            (0..n)
                .map(|i| FieldDef::new(&format!("f{i}"), FieldKind::Angle { bits: 16 }))
                .collect(),
        )],
    };
    let two_motions = |a: u32, b: u32| Schema {
        game: "g".into(),
        components: vec![
            component(
                "A",
                vec![FieldDef::new(
                    "m",
                    FieldKind::Motion {
                        model: MotionModel::Predicted,
                        scale: a,
                    },
                )],
            ),
            component(
                "B",
                vec![FieldDef::new(
                    "m",
                    FieldKind::Motion {
                        model: MotionModel::Trajectory,
                        scale: b,
                    },
                )],
            ),
        ],
    };
    let mut dup_fields = one(FieldKind::Entity);
    dup_fields.components[0]
        .fields
        .push(FieldDef::new("f", FieldKind::Angle { bits: 16 }));
    let mut shared_names = synthetic();
    shared_names.components[1].fields[0].name = "motion".into();
    shared_names.components[2].fields[0].name = "Body".into();
    let mut dup_comps = synthetic();
    dup_comps.components[6].name = "Body".into();
    let cases: Vec<(&str, Schema)> = vec![
        ("the synthetic schema", synthetic()),
        ("no components", comps(0)),
        ("32 components", comps(32)),
        ("33 components", comps(33)),
        ("32 fields", fields(32)),
        ("33 fields", fields(33)),
        ("an empty component name", named("", "f")),
        ("an empty field name", named("C", "")),
        ("a 32-byte name", named(&"é".repeat(16), &"x".repeat(32))),
        ("a 33-byte component name", named(&"x".repeat(33), "f")),
        (
            "a 33-byte field name",
            named("C", &format!("{}x", "é".repeat(16))),
        ),
        ("duplicate component names", dup_comps),
        ("duplicate field names", dup_fields),
        (
            "a field named like another component's field or a component",
            shared_names,
        ),
        ("Bits width 0", one(FieldKind::Bits { width: 0 })),
        ("Bits width 1", one(FieldKind::Bits { width: 1 })),
        ("Bits width 32", one(FieldKind::Bits { width: 32 })),
        ("Bits width 33", one(FieldKind::Bits { width: 33 })),
        ("Uint k 24", one(FieldKind::Uint { k: 24 })),
        ("Uint k 25", one(FieldKind::Uint { k: 25 })),
        ("Int k 25", one(FieldKind::Int { k: 25 })),
        ("Fixed k 25", one(FieldKind::Fixed { scale: 10, k: 25 })),
        ("Fixed scale 0", one(FieldKind::Fixed { scale: 0, k: 0 })),
        ("Fixed scale 1", one(FieldKind::Fixed { scale: 1, k: 0 })),
        (
            "Motion scale 0",
            one(FieldKind::Motion {
                model: MotionModel::Predicted,
                scale: 0,
            }),
        ),
        ("Text max_bytes 0", one(FieldKind::Text { max_bytes: 0 })),
        (
            "Text max_bytes 1024",
            one(FieldKind::Text { max_bytes: 1024 }),
        ),
        (
            "Text max_bytes 1025",
            one(FieldKind::Text { max_bytes: 1025 }),
        ),
        ("motions of two scales", two_motions(64, 32)),
        ("two motions of one scale", two_motions(70_000, 70_000)),
    ];
    cases
        .into_iter()
        .map(|(note, schema)| {
            format!(
                "{{\"note\":{},\"ok\":{},\"schema\":{}}}",
                json(note),
                schema.layout().is_ok(),
                js_schema(&schema)
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Bit and byte packing
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Item {
    Bits(u32, u32),
    Uint(u32, u32),
    Sint(i32, u32),
}

fn pack_items() -> Vec<Item> {
    let mut items = vec![
        Item::Bits(0, 0),
        Item::Bits(1, 1),
        Item::Bits(0x5a, 7),
        Item::Bits(0xdead_beef, 32),
        Item::Bits(0xffff, 16),
        Item::Bits(3, 9),
    ];
    for k in [0, 1, 2, 3, 6, 8, 12, 24] {
        for v in [0, 1, 2, 126, 127, 128, (1 << k) - 1, 1 << k, u32::MAX] {
            items.push(Item::Uint(v, k));
        }
        for v in [0, -1, 1, -64, 64, i32::MIN, i32::MAX] {
            items.push(Item::Sint(v, k));
        }
    }
    items
}

fn pack_json() -> String {
    let items = pack_items();
    let mut bits = BitWriter::new();
    let mut bytes = ByteWriter::new();
    for &item in &items {
        match item {
            Item::Bits(v, n) => {
                bits.bits(v, n);
                bytes.bits(v, n);
            }
            Item::Uint(v, k) => {
                bits.uint(v, k);
                bytes.uint(v, k);
            }
            Item::Sint(v, k) => {
                bits.sint(v, k);
                bytes.sint(v, k);
            }
        }
    }
    let list: Vec<String> = items
        .iter()
        .map(|item| match *item {
            Item::Bits(v, n) => format!("[\"bits\",{v},{n}]"),
            Item::Uint(v, k) => format!("[\"uint\",{v},{k}]"),
            Item::Sint(v, k) => format!("[\"sint\",{v},{k}]"),
        })
        .collect();
    format!(
        "{{\"items\":[{}],\n    \"bits\":\"{}\",\n    \"bytes\":\"{}\"}}",
        list.join(","),
        hex(&bits.into_bytes()),
        hex(&bytes.into_bytes())
    )
}

// ---------------------------------------------------------------------------------------
// Checksums
// ---------------------------------------------------------------------------------------

fn checksum_json() -> String {
    let layout = layout();
    let mut entities = build_all(
        &layout,
        &[
            d(1, vec![]),
            d(2, vec![body(pm(-1, 1, i32::MIN, i32::MAX), 65_535, 127)]),
            d(3, vec![C::Flight(tm(u32::MAX, 5, 6, 7, 8))]),
            d(4, vec![tag("", false)]),
            d(5, vec![tag("名前🙂", true)]),
            d(6, vec![stats(u32::MAX, -1, -0.01, 9, 0x8000_0000, 1)]),
            d(7, vec![C::Marker]),
            d(8, vec![clock(1, "a", 1)]),
            d(9, vec![drift(tm(2, 3, 4, 5, 6), 7)]),
            everything(),
            d(u32::MAX, vec![C::Marker, tag("last", true)]),
        ],
    );
    // A predicted motion's anchor slot is not hashed (nor sent); absent components'
    // slots are not hashed either.
    let mut b = EntityBuilder::new(&layout, 12, Values::default());
    layout.writer(&mut b, BODY).motion(tm(5, 1, 2, 3, 4));
    entities.push(b.build());
    entities.push(EntityState {
        id: 13,
        present: 1 << TAG,
        values: Arc::new(Values {
            ints: vec![7; 40],
            texts: vec!["x".into(); 3],
        }),
    });
    let hashes: Vec<String> = entities
        .iter()
        .map(|e| {
            format!(
                "{{\"entity\":{},\"hash\":{}}}",
                js_entity(e),
                entity_hash(&layout, e)
            )
        })
        .collect();
    let mut views = Vec::new();
    for n in [0, 1, 2, entities.len()] {
        let view = &entities[..n];
        views.push(format!(
            "{{\"ids\":{},\"checksum\":{}}}",
            json(&view.iter().map(|e| e.id).collect::<Vec<_>>()),
            checksum(&layout, view)
        ));
    }
    format!(
        "{{\"entities\":{},\n    \"views\":{}}}",
        lines("    ", &hashes),
        lines("    ", &views)
    )
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

const POSITION_TICKS: [(u32, u16); 8] = [
    (990, 60),
    (991, 60),
    (998, 60),
    (1003, 60),
    (1007, 7),
    (1500, 30),
    (0, 60),
    (u32::MAX, 60),
];

fn position_cases() -> Vec<String> {
    use MotionModel::{Predicted, Trajectory};
    let motions = [
        (Trajectory, tm(990, 1000, 2000, 128, -64)),
        (Trajectory, tm(998, -500, 600, -1280, 7)),
        (Trajectory, tm(1008, -300, -400, -3, 5)),
        (Predicted, pm(6400, 3200, 384, -30)),
        // A predicted motion stays put whatever its anchor slot holds...
        (Predicted, tm(5, 6400, 3200, 384, -30)),
        // ...and a trajectory moves even when anchored at tick 0.
        (Trajectory, tm(0, 64, -64, 640, 64)),
        (Trajectory, tm(1, 0, 0, 1, -1)),
        (
            Trajectory,
            tm(u32::MAX, i32::MAX, i32::MIN, i32::MAX, i32::MIN),
        ),
    ];
    let mut out = Vec::new();
    for (model, m) in &motions {
        for (tick, rate) in POSITION_TICKS {
            let (x, y) = m.at(*model, tick, rate);
            let (ax, ay) = m.along(tick, rate);
            out.push(format!(
                "{{\"motion\":{},\"model\":{},\"tick\":{tick},\"tick_rate\":{rate},\"expected\":[{x},{y}],\"along\":[{ax},{ay}]}}",
                js_motion(m),
                json(model)
            ));
        }
    }
    out
}

/// `Layout::position` of synthetic entities: the first present component's motion wins.
fn layout_position_cases() -> Vec<String> {
    let layout = layout();
    let entities = build_all(
        &layout,
        &[
            d(
                1,
                vec![
                    body(pm(100, 100, -64, 64), 0, 55),
                    C::Flight(tm(1000, 12_000, 500, -77, 33)),
                ],
            ),
            d(2, vec![C::Flight(tm(990, 1000, 2000, 128, -64)), C::Marker]),
            d(
                3,
                vec![drift(tm(1000, 9000, 9000, -905, 905), 1), tag("x", true)],
            ),
            d(4, vec![C::Marker, clock(1, "", 0)]),
            d(5, vec![]),
        ],
    );
    let mut out = Vec::new();
    for e in &entities {
        for (tick, rate) in [(1000, 60), (1003, 60), (1500, 30)] {
            let expected = match layout.position(e, tick, rate) {
                Some((x, y)) => format!("[{x},{y}]"),
                None => "null".to_owned(),
            };
            let motion = layout
                .motion(e)
                .map_or_else(|| "null".to_owned(), |m| js_motion(&m));
            out.push(format!(
                "{{\"entity\":{},\"tick\":{tick},\"tick_rate\":{rate},\"motion\":{motion},\"expected\":{expected}}}",
                js_entity(e)
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
        .map(|(seq, name)| sequence_json(name, seq))
        .collect();
    let corrupted: Vec<String> = corruptions(&seqs)
        .iter()
        .map(|c| corruption_json(c, &seqs))
        .collect();

    let layout = Arc::new(layout());
    let apply_full = apply_full_cases(&layout);

    format!(
        "{{\n  \"about\": \"Generated by shared/tests/golden.rs. Do not edit: regenerate with TICKWIRE_BLESS=1 cargo test -p shared --test golden\",\n  \"protocol_version\": {PROTOCOL_VERSION},\n  \"max_input_frames\": {MAX_INPUT_FRAMES},\n  \"schema\": {},\n  \"layout\": {},\n  \"schemas\": {},\n  \"empty_view_checksum\": {},\n  \"client_messages\": {},\n  \"server_messages\": {},\n  \"pack\": {},\n  \"checksums\": {},\n  \"sequences\": {},\n  \"corruptions\": {},\n  \"apply_full\": {},\n  \"advance\": {},\n  \"position_at\": {},\n  \"layout_position\": {}\n}}\n",
        js_schema(&synthetic()),
        layout_json(),
        lines("  ", &schema_cases()),
        checksum(&layout, &[]),
        lines("  ", &clients),
        lines("  ", &servers),
        pack_json(),
        checksum_json(),
        lines("  ", &sequences),
        lines("  ", &corrupted),
        lines("  ", &apply_full),
        lines("  ", &advance_cases()),
        lines("  ", &position_cases()),
        lines("  ", &layout_position_cases()),
    )
}

#[test]
fn golden_vectors_match_the_committed_file() {
    common::check_or_bless(
        &golden_path(),
        &build(),
        "golden",
        "assets/web/sdk/codec.js",
    );
}

#[test]
fn golden_file_stays_small() {
    assert!(
        build().len() < 250 * 1024,
        "golden.json must stay under 250 KB"
    );
}

#[test]
fn schema_cases_refuse_what_they_say() {
    // The notes above promise which cases are refused; keep them honest.
    let refused: Vec<String> = schema_cases()
        .into_iter()
        .filter(|c| c.contains("\"ok\":false"))
        .collect();
    assert_eq!(refused.len(), 17, "{refused:#?}");
}
