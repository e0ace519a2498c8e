//! Shared pieces of the fuzz targets and of the seed generator (`examples/gen_seeds.rs`):
//! the fixed schema payloads are decoded with, the fixed keyframe view that delta
//! snapshots are applied onto, the byte layout of the `snapshot_delta` input, the checks
//! the targets make, and the seed messages.
//!
//! Since protocol v4 a payload means nothing without the replication schema of the
//! room's game. The targets decode with [`schema`], a fixed synthetic one that uses every
//! field kind and both motion models (so every decoding path is reachable), and, when
//! the input is itself a `Welcome`, also with the schema it carries.
//!
//! Nothing here is part of Tickwire itself; see README.md next to this crate.

use std::sync::{Arc, OnceLock};

use shared::codec::{decode_client, decode_server, encode};
use shared::delta::{
    ClientView, DeltaError, Diff, Frame, Part, checksum, decode_payload, diff, encode_payload,
};
use shared::map::{MapInfo, WallRect};
use shared::protocol::{
    ClientMessage, Desync, EntityState, FullSnapshot, Hello, Input, Intent, MAX_INPUT_FRAMES,
    MAX_NAME_CHARS,
    PROTOCOL_VERSION, Packing, Ping, Pong, ServerMessage, Snapshot, SnapshotSettings, Welcome,
};
use shared::schema::{
    ComponentDef, EntityBuilder, FieldDef, FieldKind, Layout, MotionModel, MotionValue, Schema,
    Values,
};

/// Tick of the fixed keyframe: the tick the non-empty [`base_view`] holds.
pub const BASE_TICK: u32 = 10_000;

/// Tick rate of the fixed keyframe and of the raw-payload frame.
pub const BASE_TICK_RATE: u16 = 60;

/// Frame used when the whole fuzz input is decoded directly as a payload: a delta three
/// ticks after the base view, the shape of most real snapshots.
pub const RAW_FRAME: Frame = Frame {
    tick: BASE_TICK + 3,
    baseline: BASE_TICK,
    tick_rate: BASE_TICK_RATE,
};

pub const PACKINGS: [Packing; 2] = [Packing::Bits, Packing::Bytes];

// ----------------------------------------------------------------------------------------
// The fixed schema.

/// Component indices of [`schema`].
pub const BODY: usize = 0;
pub const FLIGHT: usize = 1;
pub const TAG: usize = 2;
pub const STATS: usize = 3;
pub const MARKER: usize = 4;
pub const CLOCK: usize = 5;

/// Every field kind, both motion models, components of one field (no field mask on the
/// wire), of several and of none.
pub fn schema() -> Schema {
    let component = |name: &str, fields| ComponentDef {
        name: name.to_owned(),
        fields,
    };
    Schema {
        game: "fuzz".to_owned(),
        components: vec![
            component(
                "Body",
                vec![
                    FieldDef::new("motion",
                        FieldKind::Motion {
                            model: MotionModel::Predicted,
                            scale: 64,
                        },
                    ),
                    FieldDef::new("aim", FieldKind::Angle { bits: 16 }),
                    FieldDef::new("hp", FieldKind::Bits { width: 8 }),
                    FieldDef::new("dead", FieldKind::Bits { width: 1 }),
                ],
            ),
            component(
                "Flight",
                vec![FieldDef::new("path",
                    FieldKind::Motion {
                        model: MotionModel::Trajectory,
                        scale: 64,
                    },
                )],
            ),
            component(
                "Tag",
                vec![
                    FieldDef::new("name", FieldKind::Text { max_bytes: 64 }),
                    FieldDef::new("team", FieldKind::Bits { width: 2 }),
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
                ],
            ),
            component("Marker", vec![]),
            component(
                "Clock",
                vec![
                    FieldDef::new("left", FieldKind::Uint { k: 12 }),
                    FieldDef::new("label", FieldKind::Text { max_bytes: 1024 }),
                ],
            ),
        ],
    }
}

/// The layout of [`schema`], built once.
pub fn layout() -> &'static Arc<Layout> {
    static LAYOUT: OnceLock<Arc<Layout>> = OnceLock::new();
    LAYOUT.get_or_init(|| Arc::new(schema().layout().expect("the fuzz schema is valid")))
}

/// An empty view of [`schema`].
pub fn empty_view() -> ClientView {
    ClientView::new(layout().clone())
}

// ----------------------------------------------------------------------------------------
// Entities.

fn entity(id: u32, fill: impl FnOnce(&Layout, &mut EntityBuilder)) -> EntityState {
    let layout = layout();
    let mut b = EntityBuilder::new(layout, id, Values::default());
    fill(layout, &mut b);
    b.build()
}

/// Body, Tag and Stats: what a player is in most games.
#[allow(clippy::too_many_arguments)]
fn player(
    id: u32,
    (x, y): (i32, i32),
    (vx, vy): (i32, i32),
    aim: u16,
    hp: u32,
    dead: bool,
    score: u32,
    name: &str,
) -> EntityState {
    entity(id, |l, b| {
        l.writer(b, BODY)
            .motion(MotionValue {
                anchor: 0,
                x,
                y,
                vx,
                vy,
            })
            .angle(aim)
            .bits(hp)
            .flag(dead);
        l.writer(b, TAG).text(name).bits(id % 4);
        l.writer(b, STATS)
            .uint(score)
            .int(-(score as i32))
            .fixed(f64::from(hp) / 3.0)
            .entity(0)
            .bits(score.rotate_left(7));
    })
}

/// Flight and Stats: a drone or a projectile on a straight line.
fn mover(id: u32, path: MotionValue, owner: u32) -> EntityState {
    entity(id, |l, b| {
        l.writer(b, FLIGHT).motion(path);
        l.writer(b, STATS)
            .uint(0)
            .int(0)
            .fixed(0.0)
            .entity(owner)
            .bits(0);
    })
}

fn line(anchor: u32, x: i32, y: i32, vx: i32, vy: i32) -> MotionValue {
    MotionValue {
        anchor,
        x,
        y,
        vx,
        vy,
    }
}

/// The entities of the fixed keyframe, sorted by id: ordinary players, drones and
/// projectiles like a real room has, entities without a motion (a match clock, a bare
/// marker), plus entities at the edges of every field range (extreme positions and
/// velocities, anchors in the future, at tick 1 and at `u32::MAX`, the largest ids and
/// owners, 64-byte texts), all of which a server can legitimately send.
pub fn base_entities() -> Vec<EntityState> {
    vec![
        player(1, (1_200, -800), (320, -64), 16_384, 100, false, 3, "ada"),
        player(2, (-40_000, 25_000), (0, 0), 0, 0, true, 0, "Zoë 🦀"),
        mover(5, line(BASE_TICK - 10, 3_000, 3_000, -200, 150), 0),
        mover(9, line(BASE_TICK - 2, 1_250, -790, 2_000, 0), 1),
        player(
            17,
            (0, 0),
            (1, -1),
            1,
            1,
            false,
            1_000_000,
            "sixteen-chars-xx",
        ),
        player(
            40,
            (i32::MAX, i32::MIN),
            (i32::MIN, i32::MAX),
            u16::MAX,
            255,
            true,
            u32::MAX,
            &"é".repeat(32),
        ),
        player(
            41,
            (i32::MIN, i32::MAX),
            (i32::MAX, i32::MIN),
            32_768,
            128,
            false,
            0,
            &"🦀".repeat(16),
        ),
        entity(50, |l, b| {
            l.writer(b, CLOCK).uint(3_600).text(&"x".repeat(200));
        }),
        entity(51, |l, b| {
            l.writer(b, MARKER);
        }),
        mover(300, line(1, -5, 7, i32::MAX, i32::MIN), 0),
        mover(301, line(BASE_TICK + 100, 64, -64, 640, 640), 0),
        mover(1_000, line(u32::MAX, 0, 0, i32::MIN, i32::MAX), u32::MAX),
        mover(65_536, line(BASE_TICK, -1, 1, -4_000, 4_000), 17),
        mover(
            u32::MAX - 1,
            line(BASE_TICK.wrapping_sub(1_000_000), 123_456, -654_321, 0, 0),
            0,
        ),
        // Every component at once.
        entity(u32::MAX, |l, b| {
            l.writer(b, BODY)
                .motion(line(0, 1, 2, 3, 4))
                .angle(5)
                .bits(6)
                .flag(true);
            l.writer(b, FLIGHT)
                .motion(line(BASE_TICK - 1, 8, 9, 10, 11));
            l.writer(b, TAG).text("last").bits(3);
            l.writer(b, STATS)
                .uint(12)
                .int(-13)
                .fixed(-1.4)
                .entity(1)
                .bits(u32::MAX);
            l.writer(b, MARKER);
            l.writer(b, CLOCK).uint(0).text("");
        }),
    ]
}

/// Encodes the whole diff `base -> target` with the fixed layout.
pub fn delta_payload(
    packing: Packing,
    frame: &Frame,
    base: &[EntityState],
    target: &[EntityState],
) -> Vec<u8> {
    delta_payload_with(layout(), packing, frame, base, target)
}

fn delta_payload_with(
    layout: &Layout,
    packing: Packing,
    frame: &Frame,
    base: &[EntityState],
    target: &[EntityState],
) -> Vec<u8> {
    let mut d = Diff::default();
    diff(base, target, &mut d);
    let part = Part {
        base,
        target,
        removed: &d.removed,
        created: &d.created,
        changed: &d.changed,
    };
    encode_payload(packing, layout, frame, part)
}

/// The keyframe snapshot (baseline 0, tick [`BASE_TICK`]) that builds [`base_view`].
pub fn keyframe(packing: Packing) -> Snapshot {
    let entities = base_entities();
    let frame = Frame {
        tick: BASE_TICK,
        baseline: 0,
        tick_rate: BASE_TICK_RATE,
    };
    Snapshot {
        tick: BASE_TICK,
        baseline: 0,
        last_input_seq: 0,
        checksum: checksum(layout(), &entities),
        payload: delta_payload(packing, &frame, &[], &entities),
    }
}

/// The non-empty view snapshots are applied onto: [`base_entities`] at [`BASE_TICK`],
/// built once by applying [`keyframe`] (checked in both packings) to an empty view.
pub fn base_view() -> &'static ClientView {
    static VIEW: OnceLock<ClientView> = OnceLock::new();
    VIEW.get_or_init(|| {
        let [bits, bytes] = PACKINGS.map(|packing| {
            let mut view = empty_view();
            view.apply(&keyframe(packing), BASE_TICK_RATE, packing)
                .expect("the fixed keyframe applies");
            view
        });
        assert_eq!(bits, bytes, "both packings build the same view");
        assert_eq!(bits.entities(), base_entities().as_slice());
        assert_eq!(bits.tick(), BASE_TICK);
        bits
    })
}

// ----------------------------------------------------------------------------------------
// Input layout of `snapshot_delta`'s structured path.

/// Bytes before the payload in the structured path of `snapshot_delta`:
/// `tick_rate: u16 LE | tick offset from BASE_TICK: i32 LE | selector: u8`.
pub const HEADER_LEN: usize = 7;

/// What the first [`HEADER_LEN`] bytes of a `snapshot_delta` input say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub tick_rate: u16,
    /// `tick = BASE_TICK + tick_offset` (wrapping), so small offsets are realistic deltas
    /// and any `u32` tick is still reachable.
    pub tick_offset: i32,
    /// Bit 0 set: `baseline = BASE_TICK` (a delta onto the base view); clear: `baseline =
    /// 0` (a keyframe). The other bits are ignored.
    pub selector: u8,
}

impl Header {
    pub fn tick(&self) -> u32 {
        BASE_TICK.wrapping_add_signed(self.tick_offset)
    }

    pub fn baseline(&self) -> u32 {
        if self.selector & 1 == 1 { BASE_TICK } else { 0 }
    }

    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let [r0, r1] = self.tick_rate.to_le_bytes();
        let [t0, t1, t2, t3] = self.tick_offset.to_le_bytes();
        [r0, r1, t0, t1, t2, t3, self.selector]
    }

    /// Splits an input into its header and payload.
    pub fn split(data: &[u8]) -> Option<(Header, &[u8])> {
        let (&[r0, r1, t0, t1, t2, t3, selector], payload) =
            data.split_first_chunk::<HEADER_LEN>()?;
        let header = Header {
            tick_rate: u16::from_le_bytes([r0, r1]),
            tick_offset: i32::from_le_bytes([t0, t1, t2, t3]),
            selector,
        };
        Some((header, payload))
    }

    /// The snapshot the structured path applies; the checksum starts at 0 (see
    /// [`apply_checked`] for how the matching checksum is then tried too).
    pub fn snapshot(&self, payload: &[u8]) -> Snapshot {
        Snapshot {
            tick: self.tick(),
            baseline: self.baseline(),
            last_input_seq: 0,
            checksum: 0,
            payload: payload.to_vec(),
        }
    }
}

/// A structured `snapshot_delta` input.
pub fn structured_input(header: Header, payload: &[u8]) -> Vec<u8> {
    let mut out = header.to_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

// ----------------------------------------------------------------------------------------
// Checks.

/// A view must stay sorted by strictly ascending id: `ClientView::get` and the payload
/// decoder binary-search it.
pub fn assert_sorted(view: &[EntityState]) {
    for pair in view.windows(2) {
        if let [a, b] = pair {
            assert!(
                a.id < b.id,
                "view not sorted by unique id: {} then {}",
                a.id,
                b.id
            );
        }
    }
}

/// Every entity a payload decodes to has its layout's slot counts and components.
pub fn assert_fit(layout: &Layout, view: &[EntityState]) {
    for e in view {
        assert!(layout.fits(e), "entity {} does not fit the layout", e.id);
    }
}

/// A view decoded from a payload must survive the server's side of the codec: diffing it
/// against the same base, encoding that in either packing and decoding it again under the
/// same frame gives the same view.
pub fn assert_round_trip(
    layout: &Layout,
    frame: &Frame,
    base: &[EntityState],
    view: &[EntityState],
) {
    for packing in PACKINGS {
        let payload = delta_payload_with(layout, packing, frame, base, view);
        match decode_payload(packing, layout, frame, base, &payload) {
            Ok(again) => assert_eq!(again, view, "{packing:?} re-encoding changed the view"),
            Err(e) => panic!("{packing:?} re-encoding of a decoded view does not decode: {e}"),
        }
    }
}

/// Applies `snap` to a copy of `view` and checks what `ClientView::apply` promises:
/// decode errors leave the view untouched; otherwise the view takes the snapshot's tick,
/// stays sorted, fits the layout and hashes to the checksum reported. When only the
/// checksum was wrong, the same snapshot with the right checksum must apply cleanly to
/// the same view, and the decoded view must survive a re-encoding round trip.
pub fn apply_checked(view: &ClientView, snap: &Snapshot, tick_rate: u16, packing: Packing) {
    let layout = view.layout().clone();
    let mut v = view.clone();
    let result = v.apply(snap, tick_rate, packing);
    match result {
        Ok(()) => assert_eq!(checksum(&layout, v.entities()), snap.checksum),
        Err(DeltaError::Checksum { expected, got }) => {
            assert_eq!(expected, snap.checksum);
            assert_eq!(got, checksum(&layout, v.entities()));
            let mut honest_view = view.clone();
            let honest = Snapshot {
                checksum: got,
                ..snap.clone()
            };
            assert_eq!(honest_view.apply(&honest, tick_rate, packing), Ok(()));
            assert_eq!(honest_view, v, "applying the same snapshot twice differs");
        }
        Err(_) => {
            assert_eq!(&v, view, "a rejected snapshot changed the view");
            return;
        }
    }
    assert_eq!(v.tick(), snap.tick);
    assert_sorted(v.entities());
    assert_fit(&layout, v.entities());
    let base: &[EntityState] = if snap.baseline == 0 {
        &[]
    } else {
        view.entities()
    };
    let frame = Frame {
        tick: snap.tick,
        baseline: snap.baseline,
        tick_rate,
    };
    assert_round_trip(&layout, &frame, base, v.entities());
}

/// Applies `snap` in both packings onto an empty view and onto [`base_view`].
pub fn apply_everywhere(snap: &Snapshot, tick_rate: u16) {
    let empty = empty_view();
    for packing in PACKINGS {
        apply_checked(&empty, snap, tick_rate, packing);
        apply_checked(base_view(), snap, tick_rate, packing);
    }
}

/// Applies a full snapshot to a copy of `view`: refused (the view kept) when an entity
/// does not fit the layout, else the view is sorted, fits and has the snapshot's tick.
pub fn apply_full_checked(view: &ClientView, full: &FullSnapshot) {
    let mut v = view.clone();
    match v.apply_full(full) {
        Ok(()) => {
            assert_eq!(v.tick(), full.tick);
            assert_sorted(v.entities());
            assert_fit(view.layout(), v.entities());
        }
        Err(DeltaError::Shape(id)) => {
            assert_eq!(&v, view, "a refused full snapshot changed the view");
            assert!(
                full.entities
                    .iter()
                    .any(|e| e.id == id && !view.layout().fits(e)),
                "entity {id} was refused but fits"
            );
        }
        Err(e) => panic!("apply_full fails only with Shape, not {e}"),
    }
}

/// Decodes `payload` directly against `base` in both packings, checking any view it gives.
pub fn decode_checked(layout: &Layout, frame: &Frame, base: &[EntityState], payload: &[u8]) {
    for packing in PACKINGS {
        if let Ok(view) = decode_payload(packing, layout, frame, base, payload) {
            assert_sorted(&view);
            assert_fit(layout, &view);
            assert_round_trip(layout, frame, base, &view);
        }
    }
}

/// A schema from the peer: laying it out never panics, and a layout it gives finds every
/// field it declares, of the declared kind.
fn check_schema(schema: &Schema) -> Option<Layout> {
    let layout = schema.layout().ok()?;
    assert_eq!(layout.component_count(), schema.components.len());
    for (c, comp) in schema.components.iter().enumerate() {
        for f in &comp.fields {
            let r = layout
                .field(&comp.name, &f.name)
                .expect("a declared field is found");
            assert_eq!((r.component, r.kind), (c, f.kind));
        }
    }
    assert!(layout.fits(&layout.empty(0)));
    Some(layout)
}

/// The `snapshot_delta` target.
pub fn fuzz_snapshot_delta(data: &[u8]) {
    let key_frame = Frame {
        baseline: 0,
        ..RAW_FRAME
    };
    // 1. What the bot does with a frame from the server. The tick rate (which the bot
    //    would have from `Welcome`) is taken from the low 16 bits of `last_input_seq`,
    //    a field `apply` does not read, and the usual 60 is tried too.
    if let Ok(msg) = decode_server(data) {
        let bytes = encode(&msg).expect("a decoded server message encodes");
        assert_eq!(
            decode_server(&bytes).expect("re-encoded server message decodes"),
            msg
        );
        match &msg {
            ServerMessage::Snapshot(snap) => {
                let rate = snap.last_input_seq as u16;
                apply_everywhere(snap, BASE_TICK_RATE);
                if rate != BASE_TICK_RATE {
                    apply_everywhere(snap, rate);
                }
            }
            ServerMessage::FullSnapshot(full) => {
                apply_full_checked(&empty_view(), full);
                apply_full_checked(base_view(), full);
            }
            // A schema of the fuzzer's making: the same bytes, as a keyframe payload, are
            // decoded with it too, so payloads meet schemas other than the fixed one.
            ServerMessage::Welcome(welcome) => {
                if let Some(layout) = check_schema(&welcome.schema) {
                    decode_checked(&layout, &key_frame, &[], data);
                }
            }
            ServerMessage::Pong(_) | ServerMessage::SnapshotSettings(_) => {}
        }
    }
    // 2. Structured: header (tick rate, tick, baseline) + payload, applied as a snapshot.
    if let Some((header, payload)) = Header::split(data) {
        apply_everywhere(&header.snapshot(payload), header.tick_rate);
    }
    // 3. The raw input as a payload against the base view, and as a keyframe.
    decode_checked(layout(), &RAW_FRAME, base_view().entities(), data);
    decode_checked(layout(), &key_frame, &[], data);
}

/// The `client_message` target.
pub fn fuzz_client_message(data: &[u8]) {
    let Ok(msg) = decode_client(data) else {
        return;
    };
    if let ClientMessage::Hello(hello) = &msg
        && let Ok(name) = hello.validate()
    {
        let name = name.as_str();
        assert_eq!(hello.protocol_version, PROTOCOL_VERSION);
        assert_eq!(name, hello.name.trim());
        assert!(!name.is_empty());
        assert!(name.chars().count() <= MAX_NAME_CHARS);
        assert!(!name.chars().any(char::is_control));
        // A validated name is itself valid and unchanged by validation.
        let again = Hello {
            protocol_version: PROTOCOL_VERSION,
            name: name.to_owned(),
            join_token: String::new(),
            resume_token: String::new(),
        };
        assert_eq!(again.validate().as_ref().map(|n| n.as_str()), Ok(name));
    }
    let bytes = encode(&msg).expect("a decoded client message encodes");
    // The canonical encoding is never longer than what was accepted, so it fits the limit.
    assert!(
        bytes.len() <= data.len(),
        "re-encoding grew from {} to {} bytes",
        data.len(),
        bytes.len()
    );
    let again = decode_client(&bytes).expect("a re-encoded client message decodes");
    assert_eq!(again, msg);
    assert_eq!(
        encode(&again).expect("encodes"),
        bytes,
        "encoding is not deterministic"
    );
}

// ----------------------------------------------------------------------------------------
// Seeds.

/// Valid client messages, encoded.
pub fn client_seeds() -> Vec<(String, Vec<u8>)> {
    let hello = |name: &str, version: u16| {
        ClientMessage::Hello(Hello {
            protocol_version: version,
            name: name.to_owned(),
            join_token: String::new(),
            resume_token: String::new(),
        })
    };
    let msgs = [
        ("hello", hello("ada", PROTOCOL_VERSION)),
        ("hello-padded", hello("  Zoë 🦀 ", PROTOCOL_VERSION)),
        ("hello-16", hello("sixteen-chars-xx", PROTOCOL_VERSION)),
        (
            "hello-too-long",
            hello("seventeen-chars-x", PROTOCOL_VERSION),
        ),
        ("hello-control", hello("a\u{7}b", PROTOCOL_VERSION)),
        ("hello-empty", hello("", PROTOCOL_VERSION)),
        ("hello-v1", hello("ada", 1)),
        (
            "input",
            ClientMessage::Input(Input::one(
                100,
                10_003,
                Intent {
                    move_x: -127,
                    move_y: 90,
                    aim: 16_384,
                    buttons: 1,
                },
            )),
        ),
        (
            "input-max",
            ClientMessage::Input(Input {
                seq: u32::MAX,
                ack_tick: u32::MAX,
                frames: [Intent {
                    move_x: i8::MIN,
                    move_y: i8::MAX,
                    aim: u16::MAX,
                    buttons: u8::MAX,
                }; MAX_INPUT_FRAMES]
                    .into_iter()
                    .collect(),
            }),
        ),
        (
            "ping",
            ClientMessage::Ping(Ping {
                client_time: 123_456,
            }),
        ),
        (
            "settings",
            ClientMessage::SnapshotSettings(SnapshotSettings {
                rate: 20,
                max_bytes_per_sec: 8_192,
            }),
        ),
        ("desync", ClientMessage::Desync(Desync { tick: 10_003 })),
    ];
    msgs.into_iter()
        .map(|(name, msg)| (name.to_owned(), encode(&msg).expect("encodes")))
        .collect()
}

/// `e` keeping only the components in `keep` (the others zeroed), then written to by
/// `fill` (which may add components).
fn rewrite(
    e: &EntityState,
    keep: &[usize],
    fill: impl FnOnce(&Layout, &mut EntityBuilder),
) -> EntityState {
    let layout = layout();
    // Start from the kept components' values, then let `fill` write the rest.
    let mut b = EntityBuilder::new(layout, e.id, Values::default());
    b.values = Values::clone(&e.values);
    b.present = keep
        .iter()
        .filter(|&&c| e.has(c))
        .fold(0u32, |m, &c| m | 1 << c);
    for c in 0..layout.component_count() {
        if b.present & (1 << c) == 0 {
            clear(layout, &mut b, c);
        }
    }
    fill(layout, &mut b);
    b.build()
}

/// Zeroes component `c`'s slots (a removed component's values are zero).
fn clear(layout: &Layout, b: &mut EntityBuilder, c: usize) {
    use shared::schema::Slot;
    for &(_, slot) in layout.fields(c) {
        match slot {
            Slot::Int(i) => {
                if let Some(v) = b.values.ints.get_mut(i) {
                    *v = 0;
                }
            }
            Slot::Text(i) => {
                if let Some(t) = b.values.texts.get_mut(i) {
                    t.clear();
                }
            }
            Slot::Motion(i) => {
                for v in b.values.ints.iter_mut().skip(i).take(5) {
                    *v = 0;
                }
            }
        }
    }
}

/// Views that follow [`base_entities`] three ticks later, each exercising other parts of
/// the payload: moves and turns, removals and creations (including an id re-created with
/// other components), every field of a changed entity, components added and removed.
pub fn delta_targets() -> Vec<(&'static str, Vec<EntityState>)> {
    let layout = layout();
    let base = base_entities();
    let body = layout.field("Body", "motion").expect("Body.motion");
    let path = layout.field("Flight", "path").expect("Flight.path");
    let aim = layout.field("Body", "aim").expect("Body.aim");
    let all = [BODY, FLIGHT, TAG, STATS, MARKER, CLOCK];

    let moved: Vec<EntityState> = base
        .iter()
        .map(|e| {
            if let Some(m) = e.get_motion(&body) {
                let a = e.get(&aim).unwrap_or(0) as u16;
                rewrite(e, &all, |l, b| {
                    l.writer(b, BODY)
                        .motion(MotionValue {
                            x: m.x.wrapping_add(m.vx / 20 + 3),
                            y: m.y.wrapping_sub(2),
                            ..m
                        })
                        .angle(a.wrapping_add(700))
                        .bits(90)
                        .flag(false);
                })
            } else if let Some(m) = e.get_motion(&path) {
                // A bounce: new anchor, new velocity.
                rewrite(e, &all, |l, b| {
                    l.writer(b, FLIGHT).motion(MotionValue {
                        anchor: RAW_FRAME.tick - 1,
                        x: m.x.wrapping_add(5),
                        vx: m.vx.wrapping_neg(),
                        ..m
                    });
                })
            } else {
                e.clone()
            }
        })
        .collect();

    let mut churn: Vec<EntityState> = base.iter().filter(|e| e.id % 2 == 1).cloned().collect();
    churn.push(mover(6, line(RAW_FRAME.tick, 10, 20, 1_900, -300), 2));
    churn.push(player(7, (100, 100), (0, 0), 0, 100, false, 0, "newcomer"));
    // Id 5 was a drone: re-created as a bare clock.
    if let Some(e) = churn.iter_mut().find(|e| e.id == 5) {
        *e = entity(5, |l, b| {
            l.writer(b, CLOCK).uint(9).text("re-created");
        });
    }
    churn.push(mover(500_000, line(RAW_FRAME.tick - 2, -1, -1, 0, 64), 0));
    churn.sort_by_key(|e| e.id);

    let mut fields = base.clone();
    for e in &mut fields {
        *e = match e.id {
            // Every field of the kept components, and a component added.
            1 => rewrite(e, &[], |l, b| {
                l.writer(b, BODY)
                    .motion(line(0, 2_200, -800, 320, 0))
                    .angle(1)
                    .bits(75)
                    .flag(true);
                l.writer(b, TAG).text("ada lovelace").bits(2);
                l.writer(b, STATS)
                    .uint(4)
                    .int(i32::MIN)
                    .fixed(-7.25)
                    .entity(2)
                    .bits(0xdead_beef);
                l.writer(b, MARKER);
            }),
            // A component removed, others kept.
            40 => rewrite(e, &[BODY, STATS], |l, b| {
                l.writer(b, STATS)
                    .uint(0)
                    .int(0)
                    .fixed(0.0)
                    .entity(0)
                    .bits(0);
            }),
            // A text at its longest.
            50 => rewrite(e, &all, |l, b| {
                l.writer(b, CLOCK).uint(3_597).text(&"y".repeat(1024));
            }),
            // Everything removed but the marker.
            u32::MAX => rewrite(e, &[MARKER], |_, _| {}),
            _ => continue,
        };
    }

    vec![
        ("same", base.clone()),
        ("moved", moved),
        ("churn", churn),
        ("fields", fields),
        ("empty", Vec::new()),
    ]
}

/// Seeds of `snapshot_delta`: encoded server messages (snapshots among them), structured
/// inputs (header + payload) and raw payloads for [`RAW_FRAME`], in both packings.
pub fn snapshot_seeds() -> Vec<(String, Vec<u8>)> {
    let base = base_entities();
    let mut seeds = Vec::new();
    let msg = |m: &ServerMessage| encode(m).expect("encodes");

    for packing in PACKINGS {
        let p = format!("{packing:?}").to_lowercase();
        // The keyframe, as a message (tick rate 60 through last_input_seq) and structured.
        let mut key = keyframe(packing);
        key.last_input_seq = u32::from(BASE_TICK_RATE);
        seeds.push((
            format!("msg-keyframe-{p}"),
            msg(&ServerMessage::Snapshot(key.clone())),
        ));
        let header = Header {
            tick_rate: BASE_TICK_RATE,
            tick_offset: 0,
            selector: 0,
        };
        seeds.push((
            format!("keyframe-{p}"),
            structured_input(header, &key.payload),
        ));

        for (name, target) in delta_targets() {
            let payload = delta_payload(packing, &RAW_FRAME, &base, &target);
            let snap = Snapshot {
                tick: RAW_FRAME.tick,
                baseline: BASE_TICK,
                last_input_seq: u32::from(BASE_TICK_RATE),
                checksum: checksum(layout(), &target),
                payload: payload.clone(),
            };
            seeds.push((
                format!("msg-delta-{name}-{p}"),
                msg(&ServerMessage::Snapshot(snap)),
            ));
            let header = Header {
                tick_rate: BASE_TICK_RATE,
                tick_offset: 3,
                selector: 1,
            };
            seeds.push((
                format!("delta-{name}-{p}"),
                structured_input(header, &payload),
            ));
            seeds.push((format!("raw-{name}-{p}"), payload));
        }
    }

    seeds.push((
        "msg-welcome".to_owned(),
        msg(&ServerMessage::Welcome(Welcome {
            client_id: 3,
            entity: 1,
            tick_rate: 60,
            snapshot_rate: 20,
            map: MapInfo {
                name: "arena".to_owned(),
                width: 4_096,
                height: 4_096,
                walls: vec![WallRect {
                    min_x: 0,
                    min_y: 0,
                    max_x: 64,
                    max_y: 4_096,
                }],
            },
            aoi_radius: 3_072,
            packing: Packing::Bits,
            settings: SnapshotSettings {
                rate: 20,
                max_bytes_per_sec: 8_192,
            },
            room: "default".to_owned(),
            player: "p1".to_owned(),
            resume_token: "t".to_owned(),
            resume_grace_s: 15,
            schema: schema(),
            resumed: false,
        })),
    ));
    seeds.push((
        "msg-pong".to_owned(),
        msg(&ServerMessage::Pong(Pong {
            client_time: 77,
            server_tick: BASE_TICK,
        })),
    ));
    seeds.push((
        "msg-settings".to_owned(),
        msg(&ServerMessage::SnapshotSettings(SnapshotSettings {
            rate: 10,
            max_bytes_per_sec: 4_096,
        })),
    ));
    seeds.push((
        "msg-full".to_owned(),
        msg(&ServerMessage::FullSnapshot(FullSnapshot {
            tick: BASE_TICK,
            last_input_seq: 9,
            entities: base.iter().take(4).cloned().collect(),
        })),
    ));
    seeds
}
