//! Shared pieces of the fuzz targets and of the seed generator (`examples/gen_seeds.rs`):
//! the fixed keyframe view that delta snapshots are applied onto, the byte layout of the
//! `snapshot_delta` input, the checks the targets make, and the seed messages.
//!
//! Nothing here is part of Tickwire itself; see README.md next to this crate.

use std::sync::OnceLock;

use shared::codec::{decode_client, decode_server, encode};
use shared::delta::{
    ClientView, DeltaError, Diff, Frame, checksum, decode_payload, diff, encode_payload,
};
use shared::map::{MapInfo, WallRect};
use shared::protocol::{
    ClientMessage, Desync, EntityKind, EntityState, FLAG_DEAD, FullSnapshot, Hello, Input,
    MAX_NAME_CHARS, PROTOCOL_VERSION, Packing, Ping, Pong, ServerMessage, Snapshot,
    SnapshotSettings, Welcome,
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

#[allow(clippy::too_many_arguments)]
fn player(
    id: u32,
    x: i32,
    y: i32,
    vx: i32,
    vy: i32,
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

#[allow(clippy::too_many_arguments)]
fn mover(
    id: u32,
    kind: EntityKind,
    x: i32,
    y: i32,
    vx: i32,
    vy: i32,
    anchor: u32,
    angle: u16,
    health: u8,
    owner: u32,
) -> EntityState {
    EntityState {
        id,
        kind,
        x,
        y,
        vx,
        vy,
        anchor,
        angle,
        health,
        flags: 0,
        score: 0,
        owner,
        name: String::new(),
    }
}

/// The entities of the fixed keyframe, sorted by id: ordinary players, drones and
/// projectiles like a real room has, plus entities at the edges of every field range
/// (extreme positions and velocities, anchors in the future and at tick 1, the largest
/// ids and owners, a 64-byte name), all of which a server can legitimately send.
pub fn base_entities() -> Vec<EntityState> {
    use EntityKind::{Drone, Projectile};
    vec![
        player(1, 1_200, -800, 320, -64, 16_384, 100, 0, 3, "ada"),
        player(2, -40_000, 25_000, 0, 0, 0, 0, FLAG_DEAD, 0, "Zoë 🦀"),
        mover(
            5,
            Drone,
            3_000,
            3_000,
            -200,
            150,
            BASE_TICK - 10,
            40_000,
            40,
            0,
        ),
        mover(9, Projectile, 1_250, -790, 2_000, 0, BASE_TICK - 2, 0, 0, 1),
        player(17, 0, 0, 1, -1, 1, 1, 0x7f, 1_000_000, "sixteen-chars-xx"),
        player(
            40,
            i32::MAX,
            i32::MIN,
            i32::MIN,
            i32::MAX,
            u16::MAX,
            255,
            0xff,
            u32::MAX,
            &"é".repeat(16),
        ),
        player(
            41,
            i32::MIN,
            i32::MAX,
            i32::MAX,
            i32::MIN,
            32_768,
            128,
            0,
            0,
            "🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀",
        ),
        mover(300, Drone, -5, 7, i32::MAX, i32::MIN, 1, 12_345, 255, 0),
        mover(301, Drone, 64, -64, 640, 640, BASE_TICK + 100, 1, 7, 0),
        mover(
            1_000,
            Projectile,
            0,
            0,
            i32::MIN,
            i32::MAX,
            u32::MAX,
            99,
            0,
            u32::MAX,
        ),
        mover(
            65_536, Projectile, -1, 1, -4_000, 4_000, BASE_TICK, 7, 0, 17,
        ),
        mover(
            u32::MAX - 1,
            Drone,
            123_456,
            -654_321,
            0,
            0,
            BASE_TICK.wrapping_sub(1_000_000),
            0,
            200,
            0,
        ),
        player(u32::MAX, 1, 2, 3, 4, 5, 6, 7, 8, "last"),
    ]
}

/// Encodes the part of the diff `base -> target` chosen by the filters.
pub fn delta_payload(
    packing: Packing,
    frame: &Frame,
    base: &[EntityState],
    target: &[EntityState],
) -> Vec<u8> {
    let mut d = Diff::default();
    diff(base, target, &mut d);
    encode_payload(
        packing, frame, base, target, &d.removed, &d.created, &d.changed,
    )
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
        checksum: checksum(&entities),
        payload: delta_payload(packing, &frame, &[], &entities),
    }
}

/// The non-empty view snapshots are applied onto: [`base_entities`] at [`BASE_TICK`],
/// built once by applying [`keyframe`] (checked in both packings) to an empty view.
pub fn base_view() -> &'static ClientView {
    static VIEW: OnceLock<ClientView> = OnceLock::new();
    VIEW.get_or_init(|| {
        let mut views = PACKINGS.map(|packing| {
            let mut view = ClientView::default();
            view.apply(&keyframe(packing), BASE_TICK_RATE, packing)
                .expect("the fixed keyframe applies");
            view
        });
        assert_eq!(views[0], views[1], "both packings build the same view");
        assert_eq!(views[0].entities(), base_entities().as_slice());
        assert_eq!(views[0].tick(), BASE_TICK);
        std::mem::take(&mut views[0])
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
        let mut out = [0; HEADER_LEN];
        out[0..2].copy_from_slice(&self.tick_rate.to_le_bytes());
        out[2..6].copy_from_slice(&self.tick_offset.to_le_bytes());
        out[6] = self.selector;
        out
    }

    /// Splits an input into its header and payload.
    pub fn split(data: &[u8]) -> Option<(Header, &[u8])> {
        let (head, payload) = data.split_first_chunk::<HEADER_LEN>()?;
        let header = Header {
            tick_rate: u16::from_le_bytes([head[0], head[1]]),
            tick_offset: i32::from_le_bytes([head[2], head[3], head[4], head[5]]),
            selector: head[6],
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
        assert!(
            pair[0].id < pair[1].id,
            "view not sorted by unique id: {} then {}",
            pair[0].id,
            pair[1].id
        );
    }
}

/// A view decoded from a payload must survive the server's side of the codec: diffing it
/// against the same base, encoding that in either packing and decoding it again under the
/// same frame gives the same view.
pub fn assert_round_trip(frame: &Frame, base: &[EntityState], view: &[EntityState]) {
    for packing in PACKINGS {
        let payload = delta_payload(packing, frame, base, view);
        match decode_payload(packing, frame, base, &payload) {
            Ok(again) => assert_eq!(again, view, "{packing:?} re-encoding changed the view"),
            Err(e) => panic!("{packing:?} re-encoding of a decoded view does not decode: {e}"),
        }
    }
}

/// Applies `snap` to a copy of `view` and checks what `ClientView::apply` promises:
/// decode errors leave the view untouched; otherwise the view takes the snapshot's tick,
/// stays sorted and hashes to the checksum reported. When only the checksum was wrong,
/// the same snapshot with the right checksum must apply cleanly to the same view, and
/// the decoded view must survive a re-encoding round trip.
pub fn apply_checked(view: &ClientView, snap: &Snapshot, tick_rate: u16, packing: Packing) {
    let mut v = view.clone();
    let result = v.apply(snap, tick_rate, packing);
    match result {
        Ok(()) => assert_eq!(checksum(v.entities()), snap.checksum),
        Err(DeltaError::Checksum { expected, got }) => {
            assert_eq!(expected, snap.checksum);
            assert_eq!(got, checksum(v.entities()));
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
    assert_round_trip(&frame, base, v.entities());
}

/// Applies `snap` in both packings onto an empty view and onto [`base_view`].
pub fn apply_everywhere(snap: &Snapshot, tick_rate: u16) {
    let empty = ClientView::default();
    for packing in PACKINGS {
        apply_checked(&empty, snap, tick_rate, packing);
        apply_checked(base_view(), snap, tick_rate, packing);
    }
}

/// Decodes `payload` directly against `base` in both packings, checking any view it gives.
pub fn decode_checked(frame: &Frame, base: &[EntityState], payload: &[u8]) {
    for packing in PACKINGS {
        if let Ok(view) = decode_payload(packing, frame, base, payload) {
            assert_sorted(&view);
            assert_round_trip(frame, base, &view);
        }
    }
}

/// The `snapshot_delta` target.
pub fn fuzz_snapshot_delta(data: &[u8]) {
    // 1. What the bot does with a frame from the server. The tick rate (which the bot
    //    would have from `Welcome`) is taken from the low 16 bits of `last_input_seq`,
    //    a field `apply` does not read, and the usual 60 is tried too.
    if let Ok(msg) = decode_server(data) {
        let bytes = encode(&msg).expect("a decoded server message encodes");
        assert_eq!(
            decode_server(&bytes).expect("re-encoded server message decodes"),
            msg
        );
        if let ServerMessage::Snapshot(snap) = &msg {
            let rate = snap.last_input_seq as u16;
            apply_everywhere(snap, BASE_TICK_RATE);
            if rate != BASE_TICK_RATE {
                apply_everywhere(snap, rate);
            }
        }
    }
    // 2. Structured: header (tick rate, tick, baseline) + payload, applied as a snapshot.
    if let Some((header, payload)) = Header::split(data) {
        apply_everywhere(&header.snapshot(payload), header.tick_rate);
    }
    // 3. The raw input as a payload against the base view, and as a keyframe.
    decode_checked(&RAW_FRAME, base_view().entities(), data);
    let key_frame = Frame {
        baseline: 0,
        ..RAW_FRAME
    };
    decode_checked(&key_frame, &[], data);
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
            ClientMessage::Input(Input {
                seq: 100,
                ack_tick: 10_003,
                move_x: -127,
                move_y: 90,
                aim: 16_384,
                buttons: 1,
            }),
        ),
        (
            "input-max",
            ClientMessage::Input(Input {
                seq: u32::MAX,
                ack_tick: u32::MAX,
                move_x: i8::MIN,
                move_y: i8::MAX,
                aim: u16::MAX,
                buttons: u8::MAX,
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

/// Views that follow [`base_entities`] three ticks later, each exercising other parts of
/// the payload: moves and turns, removals and creations (including an id re-created with
/// another kind), every field of a changed entity.
pub fn delta_targets() -> Vec<(&'static str, Vec<EntityState>)> {
    let base = base_entities();
    let mut moved = base.clone();
    for e in &mut moved {
        match e.kind {
            EntityKind::Player => {
                e.x = e.x.wrapping_add(e.vx / 20 + 3);
                e.y = e.y.wrapping_sub(2);
                e.angle = e.angle.wrapping_add(700);
            }
            _ => {
                // A bounce: new anchor, new velocity.
                e.anchor = RAW_FRAME.tick - 1;
                e.vx = e.vx.wrapping_neg();
                e.x = e.x.wrapping_add(5);
            }
        }
    }

    let mut churn: Vec<EntityState> = base.iter().filter(|e| e.id % 2 == 1).cloned().collect();
    churn.push(mover(
        6,
        EntityKind::Projectile,
        10,
        20,
        1_900,
        -300,
        RAW_FRAME.tick,
        3,
        0,
        2,
    ));
    churn.push(player(7, 100, 100, 0, 0, 0, 100, 0, 0, "newcomer"));
    // Id 5 was a drone: re-created as a projectile.
    if let Some(e) = churn.iter_mut().find(|e| e.id == 5) {
        *e = mover(
            5,
            EntityKind::Projectile,
            0,
            0,
            64,
            64,
            RAW_FRAME.tick - 1,
            9,
            0,
            1,
        );
    }
    churn.push(mover(
        500_000,
        EntityKind::Drone,
        -1,
        -1,
        0,
        64,
        RAW_FRAME.tick - 2,
        0,
        40,
        0,
    ));
    churn.sort_by_key(|e| e.id);

    let mut fields = base.clone();
    if let Some(e) = fields.iter_mut().find(|e| e.id == 1) {
        e.x += 1_000;
        e.vy = 0;
        e.health = 75;
        e.flags = FLAG_DEAD;
        e.score += 1;
        e.name = "ada lovelace".to_owned();
    }
    if let Some(e) = fields.iter_mut().find(|e| e.id == 40) {
        e.score = 0;
        e.name = "x".repeat(64);
        e.angle = 0;
    }
    if let Some(e) = fields.iter_mut().find(|e| e.id == 300) {
        e.anchor = 2;
        e.y = i32::MIN;
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
                checksum: checksum(&target),
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
            entities: base[..4].to_vec(),
        })),
    ));
    seeds
}
