// Tests of the browser client's codec (protocol v4). Run with `node --test assets/web/`.
//
// The byte arrays in the first part are computed by hand from the bincode 2 standard
// layout (see the comments). The rest checks the codec, the schema layout, the delta
// payload coder and ClientView against testdata/golden.json, which shared/tests/golden.rs
// generates from the Rust implementation (regenerate: TICKWIRE_BLESS=1 cargo test -p
// shared --test golden), then against random schemas, and against the real games'
// vectors in testdata/games.json once a server-side test writes that file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  BitReader,
  BitWriter,
  ByteReader,
  ByteWriter,
  ClientView,
  DeltaError,
  DecodeError,
  EncodeError,
  Layout,
  MOTION,
  PROTOCOL_VERSION,
  PackError,
  Reader,
  Writer,
  advance,
  advanceMean,
  angleShift,
  along,
  angleToQ,
  checksum,
  decodeClientMessage,
  decodePayload,
  decodeServerMessage,
  desync,
  diff,
  encodeClientMessage,
  encodePayload,
  encodeServerMessage,
  entityHash,
  getField,
  getMotion,
  getText,
  hasComponent,
  hello,
  input,
  inputs,
  MAX_INPUT_FRAMES,
  merge,
  ping,
  positionAt,
  qToAngle,
  snapshotSettings,
  truncateText,
  unzigzag,
  validateName,
  zigzag,
} from './codec.js';

/** A decoded message with Uint8Arrays as plain arrays, comparable with JSON. */
const plain = (value) =>
  JSON.parse(JSON.stringify(value, (_, v) => (v instanceof Uint8Array ? Array.from(v) : v)));

const bytesOf = (fn) => {
  const w = new Writer(1);
  fn(w);
  return [...w.finish()];
};

/** xorshift32: the seeded generator of every pseudo-random test here. */
function xorshift(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

test('unsigned varints use 1, 3, 5 or 9 bytes around the 251 boundary', () => {
  const cases = [
    [0, [0]],
    [1, [1]],
    [250, [250]],
    [251, [251, 251, 0]],
    [252, [251, 252, 0]],
    [300, [251, 44, 1]],
    [1000, [251, 232, 3]],
    [65535, [251, 255, 255]],
    [65536, [252, 0, 0, 1, 0]],
    [123456, [252, 64, 226, 1, 0]],
    [0xffffffff, [252, 255, 255, 255, 255]],
  ];
  for (const [value, bytes] of cases) {
    assert.deepEqual(bytesOf((w) => w.u32(value)), bytes, `encode u32 ${value}`);
    assert.equal(new Reader(bytes).u32(), value, `decode u32 ${value}`);
  }
  assert.deepEqual(bytesOf((w) => w.u64(2 ** 32)), [253, 0, 0, 0, 0, 1, 0, 0, 0]);
  assert.equal(new Reader([253, 0, 0, 0, 0, 1, 0, 0, 0]).u64(), 2 ** 32);
  assert.deepEqual(bytesOf((w) => w.u16(65535)), [251, 255, 255]);
});

test('varint decoding accepts non-minimal forms but rejects markers wider than the type', () => {
  // bincode accepts a narrower value in a wider marker...
  assert.equal(new Reader([251, 5, 0]).u32(), 5);
  assert.equal(new Reader([252, 7, 0, 0, 0]).u32(), 7);
  // ...but a u16 may not use the u32 marker, nor a u32 the u64 one.
  assert.throws(() => new Reader([252, 1, 0, 0, 0]).u16(), DecodeError);
  assert.throws(() => new Reader([253, 1, 0, 0, 0, 0, 0, 0, 0]).u32(), DecodeError);
  assert.throws(() => new Reader([254]).u64(), DecodeError);
  assert.throws(() => new Reader([255]).u32(), /invalid varint marker 255/);
});

test('signed integers are zigzag encoded before the varint', () => {
  const cases = [
    [0, [0]],
    [-1, [1]],
    [1, [2]],
    [-2, [3]],
    [-64, [127]],
    [125, [250]],
    [-126, [251, 251, 0]],
    [6400, [251, 0, 50]], // 12800 = 0x3200
    [-1280, [251, 255, 9]], // 2559 = 0x09ff
    [-32768, [251, 255, 255]], // 65535
    [32768, [252, 0, 0, 1, 0]], // 65536
    [2147483647, [252, 254, 255, 255, 255]],
    [-2147483648, [252, 255, 255, 255, 255]],
  ];
  for (const [value, bytes] of cases) {
    assert.deepEqual(bytesOf((w) => w.i32(value)), bytes, `encode i32 ${value}`);
    assert.equal(new Reader(bytes).i32(), value, `decode i32 ${value}`);
  }
  assert.deepEqual(bytesOf((w) => w.i16(-32768)), [251, 255, 255]);
  assert.equal(new Reader([251, 255, 255]).i16(), -32768);
  assert.equal(new Reader([251, 254, 255]).i16(), 32767);
});

test('u8 and i8 are single raw bytes, never varints', () => {
  assert.deepEqual(bytesOf((w) => w.u8(255)), [255]);
  assert.deepEqual(bytesOf((w) => w.i8(-127)), [129]);
  assert.deepEqual(bytesOf((w) => w.i8(-128)), [128]);
  assert.equal(new Reader([129]).i8(), -127);
  assert.equal(new Reader([251]).u8(), 251);
});

test('strings are a length then UTF-8 bytes, and must be valid UTF-8', () => {
  assert.deepEqual(bytesOf((w) => w.string('Zoë')), [4, 90, 111, 195, 171]);
  assert.equal(new Reader([4, 90, 111, 195, 171]).string(), 'Zoë');
  assert.equal(new Reader([0]).string(), '');
  assert.throws(() => new Reader([2, 0xc3, 0x28]).string(), /not valid UTF-8/);
  assert.throws(() => new Reader([5, 97, 98]).string(), /only 2 byte\(s\) are left/);
});

test('the Input example encodes to 12 bytes and back', () => {
  const frame = { move_x: -127, move_y: 0, aim: 300, buttons: 1 };
  const msg = { type: 'Input', seq: 100, ack_tick: 1000, frames: [frame] };
  // tag 1, seq 100, ack_tick 1000 = 251 0xe8 0x03, one frame: move_x -127 = 0x81 raw,
  // move_y 0, aim 300 = 251 0x2c 0x01, buttons 1.
  const bytes = [1, 100, 251, 232, 3, 1, 129, 0, 251, 44, 1, 1];
  assert.deepEqual([...encodeClientMessage(msg)], bytes);
  assert.deepEqual([...input(100, 1000, -127, 0, 300, 1)], bytes);
  assert.deepEqual(decodeClientMessage(bytes), msg);
});

test('an Input bundles up to MAX_INPUT_FRAMES frames', () => {
  const still = { move_x: 0, move_y: 0, aim: 0, buttons: 0 };
  const most = Array(MAX_INPUT_FRAMES).fill(still);
  const bytes = inputs(7, 0, most);
  // tag, seq, ack_tick, count, then four bytes a frame.
  assert.deepEqual([...bytes.subarray(0, 4)], [1, 7, 0, MAX_INPUT_FRAMES]);
  assert.equal(bytes.length, 4 + 4 * MAX_INPUT_FRAMES);
  assert.deepEqual(decodeClientMessage(bytes).frames, most);
  assert.throws(() => inputs(7, 0, [...most, still]), EncodeError);
  const over = [...bytes, 0, 0, 0, 0];
  over[3] += 1;
  assert.throws(() => decodeClientMessage(over), /more than 8/);
});

test('Hello, Ping, SnapshotSettings and Desync encode as expected', () => {
  assert.equal(PROTOCOL_VERSION, 7);
  // tag, version 7, name "Zoë", empty join token, empty resume token
  assert.deepEqual([...hello('Zoë')], [0, 7, 4, 90, 111, 195, 171, 0, 0]);
  assert.deepEqual([...hello('a', { joinToken: 'j.k', resumeToken: 'r' })], [0, 7, 1, 97, 3, 106, 46, 107, 1, 114]);
  assert.deepEqual(decodeClientMessage([0, 7, 3, 97, 100, 97, 0, 1, 114]), {
    type: 'Hello',
    protocol_version: 7,
    name: 'ada',
    join_token: '',
    resume_token: 'r',
  });
  // client_time 123456 = 0x0001e240
  assert.deepEqual([...ping(123456)], [2, 252, 64, 226, 1, 0]);
  assert.deepEqual(decodeClientMessage([2, 0]), { type: 'Ping', client_time: 0 });
  // rate 20, max_bytes_per_sec 16384 = 251 0x00 0x40
  assert.deepEqual([...snapshotSettings(20, 16384)], [3, 20, 251, 0, 64]);
  assert.deepEqual(decodeClientMessage([3, 20, 251, 0, 64]), {
    type: 'SnapshotSettings',
    rate: 20,
    max_bytes_per_sec: 16384,
  });
  // tick 70000 = 252 0x70 0x11 0x01 0x00
  assert.deepEqual([...desync(70000)], [4, 252, 112, 17, 1, 0]);
  assert.deepEqual(decodeClientMessage([4, 252, 112, 17, 1, 0]), { type: 'Desync', tick: 70000 });
});

// A hand-built full snapshot: tick 300, last_input_seq 42, an entity with components 0
// and 2 (a motion and a text, say) and one with none.
const SNAPSHOT = {
  type: 'FullSnapshot',
  tick: 300,
  last_input_seq: 42,
  entities: [
    { id: 7, present: 5, ints: [0, 6400, -64, 384, -1], texts: ['ada'] },
    { id: 300, present: 0, ints: [], texts: [] },
  ],
};
// prettier-ignore
const SNAPSHOT_BYTES = [
  4,                 // ServerMessage::FullSnapshot
  251, 44, 1,        // tick 300
  42,                // last_input_seq
  2,                 // two entities
  // entity 7
  7,                 // id
  5,                 // present: components 0 and 2
  5,                 // five ints (i32, zigzag varints)
  0,                 // 0
  251, 0, 50,        // 6400 -> zigzag 12800 = 0x3200
  127,               // -64 -> zigzag 127
  251, 0, 3,         // 384 -> zigzag 768 = 0x0300
  1,                 // -1 -> zigzag 1
  1, 3, 97, 100, 97, // one text: "ada"
  // entity 300
  251, 44, 1,        // id 300
  0, 0, 0,           // no components, no ints, no texts
];

test('a hand-built FullSnapshot decodes and re-encodes byte for byte', () => {
  assert.deepEqual(decodeServerMessage(SNAPSHOT_BYTES), SNAPSHOT);
  assert.deepEqual([...encodeServerMessage(SNAPSHOT)], SNAPSHOT_BYTES);
  // ArrayBuffer input, as a WebSocket with binaryType 'arraybuffer' delivers it.
  assert.deepEqual(decodeServerMessage(Uint8Array.from(SNAPSHOT_BYTES).buffer), SNAPSHOT);
});

test('a delta Snapshot carries its payload as raw bytes', () => {
  // tag 1, tick 1003, back 3 (baseline 1000), last_input_seq 7, checksum 0xdeadbeef as
  // four raw bytes, payload [0x49, 0x02]
  // prettier-ignore
  const bytes = [1, 251, 235, 3, 3, 7, 239, 190, 173, 222, 2, 0x49, 0x02];
  const msg = decodeServerMessage(bytes);
  assert.ok(msg.payload instanceof Uint8Array);
  assert.deepEqual(plain(msg), {
    type: 'Snapshot',
    tick: 1003,
    baseline: 1000,
    last_input_seq: 7,
    checksum: 0xdeadbeef,
    payload: [0x49, 0x02],
  });
  assert.deepEqual([...encodeServerMessage(msg)], bytes);
  assert.deepEqual([...encodeServerMessage({ ...msg, payload: [0x49, 0x02] })], bytes);
  // A keyframe is back 0; a back reaching tick 0 or before is malformed.
  assert.equal(decodeServerMessage([1, 5, 0, 0, 0, 0, 0, 0, 0]).baseline, 0);
  assert.throws(() => decodeServerMessage([1, 5, 5, 0, 0, 0, 0, 0, 0]), /at or before tick 0/);
  // The payload is a copy: it survives the frame's buffer being reused.
  const frame = Uint8Array.from(bytes);
  const copy = decodeServerMessage(frame);
  frame.fill(0);
  assert.deepEqual([...copy.payload], [0x49, 0x02]);
  assert.throws(() => decodeServerMessage(bytes.slice(0, -1)), DecodeError);
  assert.throws(() => encodeServerMessage({ ...msg, payload: [256] }), EncodeError);
});

// prettier-ignore
const WELCOME_HEAD = [
  0, 1, 7, 60, 20,                  // tag, client_id 1, entity 7, tick_rate 60, snapshot_rate 20
  5, 97, 114, 101, 110, 97,         // map name "arena"
  251, 0, 100, 251, 0, 100,         // width, height 12800 -> zigzag 25600 = 0x6400
  1,                                // one wall
  251, 0, 35, 251, 0, 49,           // min 4480, 6272 -> zigzag 8960, 12544
  251, 128, 47, 251, 0, 51,         // max 6080, 6528 -> zigzag 12160, 13056
  251, 0, 12,                       // aoi_radius 3072 = 0x0c00
];
const WELCOME_PACKING_AT = WELCOME_HEAD.length;
// prettier-ignore
const WELCOME_BYTES = [
  ...WELCOME_HEAD,
  0,                                // packing: Bits
  20, 251, 0, 128,                  // settings: rate 20, max_bytes_per_sec 32768 = 0x8000
  1, 100,                           // room "d"
  1, 112,                           // player "p"
  2, 114, 46,                       // resume_token "r."
  15,                               // resume_grace_s 15
  // schema
  1, 103,                           // game "g"
  2,                                // two components
  1, 66,                            //   "B"
  3,                                //   three fields
  1, 109, 7, 1, 64,                 //     "m": Motion (7), Trajectory (1), scale 64
  1, 116, 5, 251, 44, 1,            //     "t": Text (5), max_bytes 300 = 0x012c
  1, 102, 3, 200, 6,                //     "f": Fixed (3), scale 200 (one byte: < 251), k 6 (raw u8)
  1, 69,                            //   "E"
  0,                                //   no fields
  1,                                // resumed: true
];
// packing 1, settings 4, room 2, player 2, resume_token 3, resume_grace_s 1
const WELCOME_SCHEMA_AT = WELCOME_PACKING_AT + 13;

test('Welcome (with its schema) and Pong decode', () => {
  const msg = {
    type: 'Welcome',
    client_id: 1,
    entity: 7,
    tick_rate: 60,
    snapshot_rate: 20,
    map: {
      name: 'arena',
      width: 12800,
      height: 12800,
      walls: [{ min_x: 4480, min_y: 6272, max_x: 6080, max_y: 6528 }],
    },
    aoi_radius: 3072,
    packing: 'Bits',
    settings: { rate: 20, max_bytes_per_sec: 32768 },
    room: 'd',
    player: 'p',
    resume_token: 'r.',
    resume_grace_s: 15,
    schema: {
      game: 'g',
      components: [
        {
          name: 'B',
          fields: [
            { name: 'm', kind: { type: 'Motion', model: 'Trajectory', scale: 64 } },
            { name: 't', kind: { type: 'Text', maxBytes: 300 } },
            { name: 'f', kind: { type: 'Fixed', scale: 200, k: 6 } },
          ],
        },
        { name: 'E', fields: [] },
      ],
    },
    resumed: true,
  };
  assert.deepEqual(WELCOME_BYTES.slice(WELCOME_SCHEMA_AT, WELCOME_SCHEMA_AT + 2), [1, 103]);
  assert.deepEqual(decodeServerMessage(WELCOME_BYTES), msg);
  assert.deepEqual([...encodeServerMessage(msg)], WELCOME_BYTES);
  const layout = new Layout(msg.schema);
  assert.deepEqual(layout.field('B', 'f'), { component: 0, kind: { type: 'Fixed', scale: 200, k: 6 }, slot: { type: 'Int', index: 5 } });

  const pong = [2, 252, 64, 226, 1, 0, 252, 112, 17, 1, 0]; // 123456, 70000
  assert.deepEqual(decodeServerMessage(pong), { type: 'Pong', client_time: 123456, server_tick: 70000 });
  assert.deepEqual(decodeServerMessage([3, 20, 252, 0, 0, 4, 0]), {
    type: 'SnapshotSettings',
    rate: 20,
    max_bytes_per_sec: 262144,
  });
  // Packing 2 does not exist.
  const badPacking = WELCOME_BYTES.slice();
  badPacking[WELCOME_PACKING_AT] = 2;
  assert.throws(() => decodeServerMessage(badPacking), /unknown Packing variant 2/);
  // Nor FieldKind 8, nor MotionModel 2.
  const badKind = WELCOME_BYTES.slice();
  badKind[WELCOME_SCHEMA_AT + 8] = 8;
  assert.throws(() => decodeServerMessage(badKind), /unknown FieldKind variant 8/);
  const badModel = WELCOME_BYTES.slice();
  badModel[WELCOME_SCHEMA_AT + 9] = 2;
  assert.throws(() => decodeServerMessage(badModel), /unknown MotionModel variant 2/);
  // A Welcome decodes whatever its schema says: refusing a bad schema is Layout's job.
  const dupNames = WELCOME_BYTES.slice();
  dupNames[WELCOME_BYTES.length - 3] = 66; // "E" -> "B"
  assert.equal(decodeServerMessage(dupNames).schema.components[1].name, 'B');
  assert.throws(() => new Layout(decodeServerMessage(dupNames).schema), /not unique/);
});

test('every truncation of a valid message is a DecodeError, never another exception', () => {
  for (const bytes of [SNAPSHOT_BYTES, WELCOME_BYTES]) {
    for (let len = 0; len < bytes.length; len++) {
      assert.throws(() => decodeServerMessage(bytes.slice(0, len)), DecodeError, `length ${len}`);
    }
  }
  assert.throws(() => decodeServerMessage([]), /unexpected end of data/);
});

test('trailing bytes are rejected', () => {
  assert.throws(() => decodeServerMessage([...SNAPSHOT_BYTES, 0]), /1 unexpected byte\(s\) after the ServerMessage/);
  assert.throws(() => decodeClientMessage([2, 7, 0]), DecodeError);
});

test('malformed input is refused with a clear DecodeError', () => {
  assert.throws(() => decodeServerMessage([5]), /unknown ServerMessage variant 5/);
  assert.throws(() => decodeClientMessage([5]), /unknown ClientMessage variant 5/);
  // A forged entity count cannot make the decoder allocate: it is bounded by the bytes left.
  assert.throws(() => decodeServerMessage([4, 0, 0, 252, 255, 255, 255, 255]), /claims 4294967295/);
  // Nor can a forged int count inside an entity.
  assert.throws(() => decodeServerMessage([4, 0, 0, 1, 1, 0, 252, 255, 255, 255, 255, 0]), /claims 4294967295/);
  // Nor a forged payload length.
  assert.throws(() => decodeServerMessage([1, 0, 0, 0, 0, 0, 0, 0, 252, 255, 255, 255, 255]), /claims 4294967295/);
  // A Hello whose name claims 2^32-1 bytes (the Rust test's forged length).
  assert.throws(() => decodeClientMessage([0, 1, 252, 255, 255, 255, 255]), DecodeError);
  assert.throws(() => decodeServerMessage('not bytes'), DecodeError);
});

const NAMES = ['', 'a', 'Zoë', '名前', '🙂'];

/** A random valid schema: 1..7 components of 0..4 fields, like the Rust property tests. */
function randomSchema(next) {
  const kinds = [
    () => ({ type: 'Bits', width: 1 + (next() % 32) }),
    () => ({ type: 'Uint', k: next() % 9 }),
    () => ({ type: 'Int', k: next() % 9 }),
    () => ({ type: 'Fixed', scale: 1 + (next() % 999), k: next() % 13 }),
    () => ({ type: 'Angle', bits: 1 + (next() % 16) }),
    () => ({ type: 'Text', maxBytes: next() % 25 }),
    () => ({ type: 'Entity' }),
    () => ({ type: 'Motion', model: 'Predicted', scale: 64 }),
    // Every motion of a schema has one scale.
    () => ({ type: 'Motion', model: 'Trajectory', scale: 64 }),
  ];
  return {
    game: 'random',
    components: Array.from({ length: 1 + (next() % 7) }, (_, c) => ({
      name: `C${c}`,
      fields: Array.from({ length: next() % 5 }, (_, f) => ({ name: `f${f}`, kind: kinds[next() % kinds.length]() })),
    })),
  };
}

test('pseudo-random messages round-trip through encoder and decoder', () => {
  const next = xorshift(0x2545f491);
  const pick = (edges) => (next() % 3 === 0 ? edges[next() % edges.length] : next());
  const u32 = () => pick([0, 250, 251, 65535, 65536, 0xffffffff]);
  const i32 = () => pick([0, -1, 125, -126, 2147483647, -2147483648]) | 0;
  for (let i = 0; i < 300; i++) {
    const entities = Array.from({ length: next() % 5 }, () => ({
      id: u32(),
      present: u32(),
      ints: Array.from({ length: next() % 12 }, i32),
      texts: Array.from({ length: next() % 3 }, () => NAMES[next() % NAMES.length]),
    }));
    const full = { type: 'FullSnapshot', tick: u32(), last_input_seq: u32(), entities };
    assert.deepEqual(decodeServerMessage(encodeServerMessage(full)), full);
    const payload = Uint8Array.from({ length: next() % 40 }, () => next() & 0xff);
    // A baseline is 0 (a keyframe) or a tick before `tick`.
    const tick = u32();
    const baseline = tick < 2 || next() % 4 === 0 ? 0 : 1 + (u32() % (tick - 1));
    const delta = { type: 'Snapshot', tick, baseline, last_input_seq: u32(), checksum: u32(), payload };
    assert.deepEqual(decodeServerMessage(encodeServerMessage(delta)), delta);
    const inp = {
      type: 'Input',
      seq: u32(),
      ack_tick: u32(),
      frames: Array.from({ length: 1 + (next() % MAX_INPUT_FRAMES) }, () => ({
        move_x: ((next() & 0xff) << 24) >> 24,
        move_y: ((next() & 0xff) << 24) >> 24,
        aim: u32() & 0xffff,
        buttons: next() & 0xff,
      })),
    };
    assert.deepEqual(decodeClientMessage(encodeClientMessage(inp)), inp);
    const welcome = {
      type: 'Welcome',
      client_id: u32(),
      entity: u32(),
      tick_rate: u32() & 0xffff,
      snapshot_rate: u32() & 0xffff,
      map: { name: NAMES[next() % NAMES.length], width: i32(), height: i32(), walls: [] },
      aoi_radius: u32(),
      packing: next() % 2 ? 'Bits' : 'Bytes',
      settings: { rate: u32() & 0xffff, max_bytes_per_sec: u32() },
      room: 'r',
      player: 'p',
      resume_token: '',
      resume_grace_s: u32() & 0xffff,
      schema: randomSchema(next),
      resumed: next() % 2 === 0,
    };
    assert.deepEqual(decodeServerMessage(encodeServerMessage(welcome)), welcome);
  }
});

test('the encoder refuses values that do not fit their type', () => {
  assert.throws(() => input(1, 0, 128, 0, 0, 0), EncodeError);
  assert.throws(() => input(-1, 0, 0, 0, 0, 0), EncodeError);
  assert.throws(() => input(1, 0, 0, 0, 65536, 0), EncodeError);
  assert.throws(() => input(1, 0, 0, 0, 0.5, 0), EncodeError);
  assert.throws(() => ping(2 ** 32), EncodeError);
  assert.throws(() => encodeClientMessage({ type: 'Nope' }), /unknown ClientMessage variant/);
});

test('aim angles wrap into a u16 fraction of a turn', () => {
  assert.equal(angleToQ(0), 0);
  assert.equal(angleToQ(2 * Math.PI), 0);
  assert.equal(angleToQ(-Math.PI / 2), 49152);
  assert.equal(angleToQ(Math.PI / 2), 16384);
  assert.equal(angleToQ(Math.atan2(-0, -1)), 32768);
  for (const q of [0, 1, 300, 16384, 32767, 65535]) assert.equal(angleToQ(qToAngle(q)), q);
});

test('names are checked like Hello::validate', () => {
  assert.equal(validateName('  ada '), 'ada');
  assert.equal(validateName('é'.repeat(16)), 'é'.repeat(16));
  assert.throws(() => validateName(' '), /empty/);
  assert.throws(() => validateName('x'.repeat(17)), /longer than 16/);
  assert.throws(() => validateName('a\u0007b'), /control/);
});

// ---------------------------------------------------------------------------------------
// Delta snapshots: packers
// ---------------------------------------------------------------------------------------

/** Bits of a writer as a string, first written first ("1" = uint(0, 0)). */
const bitString = (w) => {
  const bytes = w.finish();
  let s = '';
  for (let i = 0; i < w.bitLength; i++) s += (bytes[i >> 3] >> (i & 7)) & 1;
  return s;
};

test('Exp-Golomb codes: unary prefix, a one, then the low bits least significant first', () => {
  const cases = [
    // value, k, bits in the order they are written
    [0, 0, '1'],
    [1, 0, '010'], // 1 + 1 = 0b10: one zero, the one, then the low bit 0
    [2, 0, '011'], // 0b11
    [3, 0, '00100'], // 0b100: low bits 0, 0
    [6, 0, '00111'], // 0b111
    [0, 2, '100'], // 0 + 4 = 0b100: no prefix, the one, low bits 00
    [3, 2, '111'], // 0b111
    [4, 2, '01000'], // 0b1000
    [5, 3, '1101'], // 5 + 8 = 0b1101: no prefix, the one, low bits 101 LSB first = 1, 0, 1
  ];
  for (const [value, k, bits] of cases) {
    const w = new BitWriter();
    w.uint(value, k);
    assert.equal(bitString(w), bits, `uint(${value}, ${k})`);
    assert.equal(new BitReader(w.finish()).uint(k), value);
  }
  const w = new BitWriter();
  w.uint(0xffffffff, 0);
  assert.equal(w.bitLength, 65);
  assert.equal(new BitReader(w.finish()).uint(0), 0xffffffff);
  assert.equal(zigzag(-1), 1);
  assert.equal(zigzag(1), 2);
  assert.equal(zigzag(-2147483648), 0xffffffff);
  assert.equal(unzigzag(0xffffffff), -2147483648);
  assert.equal(unzigzag(0xfffffffe), 2147483647);
});

test('bit and byte packers round-trip pseudo-random items', () => {
  let seed = 0x9e3779b9;
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const edge = () => [0, 1, 2, 127, 128, 0x7fffffff, 0x80000000, 0xffffffff][next() % 8];
  for (let round = 0; round < 200; round++) {
    const items = Array.from({ length: next() % 30 }, () => {
      const v = next() % 4 === 0 ? edge() : next() >>> next() % 32;
      switch (next() % 3) {
        case 0: {
          const n = next() % 33;
          return ['bits', n === 32 ? v : v % 2 ** n, n];
        }
        case 1:
          return ['uint', v, next() % 17];
        default:
          return ['sint', v | 0, next() % 17];
      }
    });
    for (const [Writer_, Reader_] of [
      [BitWriter, BitReader],
      [ByteWriter, ByteReader],
    ]) {
      const w = new Writer_();
      for (const [op, v, n] of items) w[op](v, n);
      const r = new Reader_(w.finish());
      for (const [op, v, n] of items) assert.equal(r[op](n), v, `${Writer_.name} ${op}(${v}, ${n})`);
      r.finish();
    }
  }
});

test('packer errors: truncation, over-long codes, padding', () => {
  assert.throws(() => new BitReader([]).uint(0), (e) => e instanceof PackError && e.kind === 'Truncated');
  assert.throws(() => new BitReader([0, 0, 0, 0, 0]).uint(0), (e) => e.kind === 'Overlong');
  // 32 zeros and a one announce 32 more bits, which are missing.
  assert.throws(() => new BitReader([0, 0, 0, 0, 1]).uint(0), (e) => e.kind === 'Truncated');
  // 32 zeros, a one, 32 ones: 2^33 - 1 - 1 does not fit a u32.
  const w = new BitWriter();
  w.bits(0, 32);
  w.bits(1, 1);
  w.bits(0xffffffff, 32);
  assert.throws(() => new BitReader(w.finish()).uint(0), (e) => e.kind === 'Overlong');
  assert.throws(() => new BitReader([1, 0]).finish(), (e) => e.kind === 'Trailing');
  const r = new BitReader([0b11]);
  r.bits(1);
  assert.throws(() => r.finish(), (e) => e.kind === 'Trailing');
  const ok = new BitReader([0b01]);
  ok.bits(1);
  ok.finish();
  assert.equal(new ByteReader([0x80, 0x80, 0x80, 0x80, 0x0f]).uint(0), 0xf0000000);
  assert.throws(() => new ByteReader([0x80, 0x80, 0x80, 0x80, 0x10]).uint(0), (e) => e.kind === 'Overlong');
  assert.throws(() => new ByteReader([0x80, 0x80, 0x80, 0x80, 0x80, 0]).uint(0), (e) => e.kind === 'Overlong');
  assert.throws(() => new ByteReader([0x80]).uint(0), (e) => e.kind === 'Truncated');
  assert.equal(new ByteReader([0x80, 0x00]).uint(0), 0); // not minimal, but accepted like Rust
  assert.throws(() => new ByteReader([0]).finish(), (e) => e.kind === 'Trailing');
  assert.ok(new PackError('Truncated') instanceof DecodeError);
});

test('advanceMean moves by the mean velocity, as shared::quant::advance_mean', () => {
  assert.equal(advanceMean(0, 0, 384, 3, 60), 10);
  assert.equal(advanceMean(0, 0, -384, 3, 60), -10);
  assert.equal(advanceMean(6400, 384, 384, 3, 60), advance(6400, 384, 3, 60));
  assert.equal(advanceMean(0, 30, 30, 1, 60), 1);
  assert.equal(advanceMean(0, -30, -30, 1, 60), 0);
  assert.equal(advanceMean(0, 29, 30, 1, 60), 0);
  assert.equal(advanceMean(0, 2147483647, 2147483647, 2 ** 40, 1), 2147483647);
  assert.equal(advanceMean(0, -2147483648, -2147483648, 2 ** 40, 1), -2147483648);
  for (const [v, t] of [[-2147483648, 2 ** 20], [2147483647, -(2 ** 20)], [123457, 999], [-5, 7]]) {
    assert.equal(advanceMean(17, v, v, t, 60), advance(17, v, t, 60));
  }
});

test('advance rounds half up with exact integer floor division', () => {
  assert.equal(advance(0, 64, 60, 60), 64);
  assert.equal(advance(0, 30, 1, 60), 1); // 0.5 rounds up
  assert.equal(advance(0, -30, 1, 60), 0); // -0.5 rounds up too
  assert.equal(advance(0, -31, 1, 60), -1);
  assert.equal(advance(100, 7, -3, 60), 100);
  // Elapsed ticks are bounded to ±2^20 (as in Rust), and results saturate to i32, so
  // hostile velocities and anchors cannot overflow either implementation.
  assert.equal(advance(0, -2147483648, 4294967294, 60), -2147483648);
  assert.equal(advance(7, 2147483647, 4294967295, 60), 2147483647);
  assert.equal(advance(0, -2147483648, -4294967295, 1), 2147483647);
  assert.equal(advance(0, 64, 2 ** 30, 64), advance(0, 64, 2 ** 20, 64));
  assert.equal(advance(0, 64, 2 ** 20, 64), 2 ** 20);
  // A render time between ticks.
  assert.equal(advance(0, 60, 0.5, 60), 1);
  assert.equal(advance(0, 60, 0.4, 60), 0);
});

test('positionAt moves trajectories smoothly between ticks and leaves predicted motions alone', () => {
  const shot = { x: 0, y: 0, vx: 1280, vy: -640, anchor: 100 };
  assert.deepEqual(positionAt(shot, 100, 60), [0, 0]);
  assert.deepEqual(positionAt(shot, 103, 60), [64, -32]);
  let last = -1;
  for (let t = 100; t <= 106; t += 0.1) {
    const [x] = positionAt(shot, t, 60);
    assert.ok(x >= last, `monotonic at ${t}`);
    last = x;
  }
  assert.deepEqual(positionAt({ x: 5, y: 6, vx: 100, vy: 100, anchor: 0 }, 1000, 60), [5, 6]);
});

// ---------------------------------------------------------------------------------------
// Golden vectors from the Rust implementation
// ---------------------------------------------------------------------------------------

const golden = JSON.parse(readFileSync(new URL('../testdata/golden.json', import.meta.url), 'utf8'));
const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const LAYOUT = new Layout(golden.schema);

test('golden: the file is for this protocol version and has every message variant', () => {
  assert.equal(golden.protocol_version, PROTOCOL_VERSION);
  assert.equal(golden.max_input_frames, MAX_INPUT_FRAMES);
  const types = (list) => new Set(list.map((c) => c.message.type));
  assert.deepEqual([...types(golden.client_messages)].sort(), ['Desync', 'Hello', 'Input', 'Ping', 'SnapshotSettings']);
  assert.deepEqual(
    [...types(golden.server_messages)].sort(),
    ['FullSnapshot', 'Pong', 'Snapshot', 'SnapshotSettings', 'Welcome'],
  );
  assert.deepEqual(golden.sequences.map((s) => s.packing).sort(), ['Bits', 'Bytes']);
  assert.equal(checksum(LAYOUT, []), golden.empty_view_checksum);
  // The synthetic schema uses every kind and both motion models.
  const kinds = new Set(golden.schema.components.flatMap((c) => c.fields.map((f) => f.kind.type)));
  assert.deepEqual([...kinds].sort(), ['Angle', 'Bits', 'Entity', 'Fixed', 'Int', 'Motion', 'Text', 'Uint']);
  const models = golden.schema.components.flatMap((c) => c.fields.map((f) => f.kind.model).filter(Boolean));
  assert.deepEqual([...new Set(models)].sort(), ['Predicted', 'Trajectory']);
});

test('golden: the bit and byte packers write exactly what Rust writes', () => {
  const { items, bits, bytes } = golden.pack;
  for (const [Writer_, Reader_, hex] of [
    [BitWriter, BitReader, bits],
    [ByteWriter, ByteReader, bytes],
  ]) {
    const w = new Writer_();
    for (const [op, v, n] of items) w[op](v, n);
    assert.equal(toHex(w.finish()), hex, Writer_.name);
    const r = new Reader_(fromHex(hex));
    for (const [op, v, n] of items) {
      const got = r[op](n);
      // Byte packing keeps whole bytes of a bit field: compare the bits written.
      const want = op === 'bits' && Reader_ === ByteReader ? (n === 0 ? 0 : v % 2 ** (8 * Math.ceil(n / 8))) : v;
      assert.equal(got, op === 'bits' && Reader_ === BitReader ? v % 2 ** n : want, `${Reader_.name} ${op}(${v}, ${n})`);
    }
    r.finish();
  }
});

test('golden: the layout places every field in the slot Rust gives it', () => {
  assert.equal(LAYOUT.componentCount(), golden.schema.components.length);
  assert.equal(LAYOUT.intSlots, golden.layout.int_slots);
  assert.equal(LAYOUT.textSlots, golden.layout.text_slots);
  for (const f of golden.layout.fields) {
    assert.deepEqual(LAYOUT.field(f.component, f.field), { component: f.index, kind: f.kind, slot: f.slot });
    assert.equal(LAYOUT.component(f.component), f.index);
  }
  assert.equal(golden.layout.fields.length, golden.schema.components.reduce((n, c) => n + c.fields.length, 0));
  const empty = LAYOUT.empty(9);
  assert.deepEqual(empty, {
    id: 9,
    present: 0,
    ints: new Array(golden.layout.int_slots).fill(0),
    texts: new Array(golden.layout.text_slots).fill(''),
  });
});

test('golden: Layout accepts and refuses exactly the schemas Schema::layout does', () => {
  for (const c of golden.schemas) {
    if (c.ok) {
      assert.doesNotThrow(() => new Layout(c.schema), c.note);
    } else {
      assert.throws(() => new Layout(c.schema), (e) => e instanceof DecodeError && /invalid schema/.test(e.message), c.note);
    }
  }
});

test('Layout refuses what only a hand-made JavaScript schema can hold', () => {
  const one = (kind) => ({ game: 'g', components: [{ name: 'C', fields: [{ name: 'f', kind }] }] });
  for (const bad of [
    null,
    {},
    { game: 'g', components: {} },
    { game: 'g', components: [null] },
    { game: 'g', components: [{ name: 'C' }] },
    { game: 'g', components: [{ name: 7, fields: [] }] },
    { game: 'g', components: [{ name: 'C', fields: [null] }] },
    one(null),
    one({ type: 'Float' }),
    one({ type: 'Bits' }),
    one({ type: 'Bits', width: 1.5 }),
    one({ type: 'Uint', k: -1 }),
    one({ type: 'Int', k: '3' }),
    one({ type: 'Fixed', scale: -1, k: 0 }),
    one({ type: 'Fixed', scale: 2 ** 32, k: 0 }),
    one({ type: 'Text', maxBytes: -1 }),
    one({ type: 'Text' }),
    one({ type: 'Angle' }),
    one({ type: 'Angle', bits: 0 }),
    one({ type: 'Angle', bits: 17 }),
    one({ type: 'Motion', model: 'Linear', scale: 64 }),
    one({ type: 'Motion', model: 'Predicted' }),
  ]) {
    assert.throws(() => new Layout(bad), DecodeError, JSON.stringify(bad));
  }
  // Unknown extra properties are dropped from the layout's copy of a kind.
  const layout = new Layout(one({ type: 'Angle', bits: 12, extra: 1 }));
  assert.deepEqual(layout.field('C', 'f').kind, { type: 'Angle', bits: 12 });
  assert.equal(layout.motionScale(), 0);
  assert.equal(LAYOUT.motionScale(), 64);
  assert.throws(
    () => new Layout({ game: 'g', components: [{ name: 'A', fields: [
      { name: 'a', kind: { type: 'Motion', model: 'Predicted', scale: 64 } },
      { name: 'b', kind: { type: 'Motion', model: 'Trajectory', scale: 65 } },
    ] }] }),
    /same scale/,
  );
});

test('Layout.fits: the slot counts and components of the layout, nothing else', () => {
  const e = LAYOUT.empty(1);
  assert.ok(LAYOUT.fits(e));
  assert.ok(LAYOUT.fits({ ...e, present: (1 << LAYOUT.componentCount()) - 1 }));
  assert.ok(!LAYOUT.fits({ ...e, present: 1 << LAYOUT.componentCount() }));
  assert.ok(!LAYOUT.fits({ ...e, ints: e.ints.slice(1) }));
  assert.ok(!LAYOUT.fits({ ...e, texts: [...e.texts, ''] }));
  assert.ok(!LAYOUT.fits({ id: 1, present: 0 }));
  assert.ok(!LAYOUT.fits(null));
  const wide = new Layout({ game: 'g', components: Array.from({ length: 32 }, (_, i) => ({ name: `C${i}`, fields: [] })) });
  assert.ok(wide.fits({ id: 1, present: 0xffffffff, ints: [], texts: [] }));
});

test('Layout lookups, presence and typed reads', () => {
  const body = LAYOUT.component('Body');
  assert.equal(LAYOUT.component('Nope'), -1);
  assert.equal(LAYOUT.field('Nope', 'motion'), null);
  assert.equal(LAYOUT.field('Body', 'nope'), null);
  assert.deepEqual(LAYOUT.fields(99), []);
  assert.deepEqual(
    LAYOUT.fields(body).map((f) => f.kind.type),
    ['Motion', 'Angle', 'Bits'],
  );
  const e = LAYOUT.empty(5);
  const refs = Object.fromEntries(golden.layout.fields.map((f) => [`${f.component}.${f.field}`, LAYOUT.field(f.component, f.field)]));
  // Fields of absent components read as null.
  assert.equal(getField(e, refs['Stats.flags']), null);
  assert.equal(getText(e, refs['Tag.name']), null);
  assert.equal(getMotion(e, refs['Body.motion']), null);
  assert.equal(LAYOUT.motion(e), null);
  assert.equal(LAYOUT.position(e, 10, 60), null);
  e.present = (1 << LAYOUT.component('Stats')) | (1 << LAYOUT.component('Tag')) | (1 << LAYOUT.component('Drift'));
  assert.ok(hasComponent(e, LAYOUT.component('Stats')));
  assert.ok(!hasComponent(e, body));
  assert.ok(!hasComponent(e, 32));
  assert.ok(!hasComponent(e, -1));
  const set = (ref, v) => {
    e.ints[ref.slot.index] = v;
  };
  set(refs['Stats.flags'], -1); // Bits 32 held as i32 bits
  set(refs['Stats.score'], -2); // Uint held as its bits
  set(refs['Stats.owner'], -3); // Entity too
  set(refs['Stats.delta'], -4);
  set(refs['Stats.speed'], -5);
  set(refs['Drift.spin'], 65535);
  e.texts[refs['Tag.name'].slot.index] = 'zoë';
  e.ints.splice(refs['Drift.wobble'].slot.index, 5, -6, 1, 2, 3, 4); // anchor 2^32 - 6
  assert.equal(getField(e, refs['Stats.flags']), 0xffffffff);
  assert.equal(getField(e, refs['Stats.score']), 0xfffffffe);
  assert.equal(getField(e, refs['Stats.owner']), 0xfffffffd);
  assert.equal(getField(e, refs['Stats.delta']), -4);
  assert.equal(getField(e, refs['Stats.speed']), -5);
  assert.equal(getField(e, refs['Drift.spin']), 65535);
  assert.equal(getText(e, refs['Tag.name']), 'zoë');
  // The wrong accessor for a field's kind gives null.
  assert.equal(getField(e, refs['Tag.name']), null);
  assert.equal(getText(e, refs['Stats.flags']), null);
  assert.equal(getMotion(e, refs['Stats.flags']), null);
  assert.equal(getField(e, refs['Drift.wobble']), null);
  assert.equal(getField(e, null), null);
  const wobble = { anchor: 0xfffffffa, x: 1, y: 2, vx: 3, vy: 4 };
  assert.deepEqual(getMotion(e, refs['Drift.wobble']), wobble);
  assert.deepEqual(LAYOUT.motion(e), wobble);
  assert.deepEqual(LAYOUT.position(e, 0xfffffffa + 60, 60), [4, 6]);
  // A component earlier in the schema with a motion wins.
  e.present |= 1 << LAYOUT.component('Flight');
  assert.deepEqual(LAYOUT.motion(e), { anchor: 0, x: 0, y: 0, vx: 0, vy: 0 });
});

test('texts are cut to their field maxBytes at a character boundary, as in Rust', () => {
  assert.equal(truncateText('ada lovelace!', 12), 'ada lovelace');
  assert.equal(truncateText('🙂🙂🙂🙂', 12), '🙂🙂🙂');
  assert.equal(truncateText('🙂🙂🙂🙂', 11), '🙂🙂');
  assert.equal(truncateText('héllo', 2), 'h');
  assert.equal(truncateText('abc', 0), '');
  // The encoder cuts too, so the decoded entity holds the cut text.
  const layout = new Layout({ game: 'g', components: [{ name: 'T', fields: [{ name: 't', kind: { type: 'Text', maxBytes: 5 } }] }] });
  const e = { id: 1, present: 1, ints: [], texts: ['Zoë 🙂'] };
  const frame = { tick: 1, baseline: 0, tickRate: 60 };
  for (const packing of ['Bits', 'Bytes']) {
    const payload = encodePayload(packing, layout, frame, [], [e], [], [0], []);
    assert.deepEqual(decodePayload(packing, layout, frame, [], payload), [{ ...e, texts: ['Zoë '] }]);
  }
});

test('golden: client messages decode to the expected JSON and re-encode to the same bytes', () => {
  for (const c of golden.client_messages) {
    assert.deepEqual(decodeClientMessage(fromHex(c.hex)), c.message, c.note);
    assert.equal(toHex(encodeClientMessage(c.message)), c.hex, c.note);
  }
});

test('golden: server messages decode to the expected JSON and re-encode to the same bytes', () => {
  for (const c of golden.server_messages) {
    const msg = decodeServerMessage(fromHex(c.hex));
    assert.deepEqual(plain(msg), c.message, c.note);
    assert.equal(toHex(encodeServerMessage(msg)), c.hex, c.note);
    if (msg.type === 'Welcome') assert.doesNotThrow(() => new Layout(msg.schema), c.note);
  }
  const welcome = decodeServerMessage(fromHex(golden.server_messages[0].hex));
  assert.deepEqual(welcome.schema, golden.schema);
  for (const seq of golden.sequences) {
    for (const step of seq.steps) {
      const msg = decodeServerMessage(fromHex(step.hex));
      assert.deepEqual(plain(msg), step.message, step.note);
      assert.equal(toHex(encodeServerMessage(msg)), step.hex, step.note);
    }
  }
});

/** A ClientView that has applied the first `count` steps of a golden sequence. */
function replay(seq, count) {
  const view = new ClientView(LAYOUT);
  for (const step of seq.steps.slice(0, count)) {
    view.apply(decodeServerMessage(fromHex(step.hex)), seq.tick_rate, seq.packing);
  }
  return view;
}

test('golden: each snapshot sequence rebuilds the expected view after every step', () => {
  for (const seq of golden.sequences) {
    const view = new ClientView(LAYOUT);
    for (const [n, step] of seq.steps.entries()) {
      const msg = decodeServerMessage(fromHex(step.hex));
      view.apply(msg, seq.tick_rate, seq.packing);
      const what = `${seq.name}, step ${n}: ${step.note}`;
      assert.equal(view.tick, msg.tick, what);
      assert.deepEqual(view.entities, step.view, what);
      assert.equal(checksum(LAYOUT, view.entities), step.checksum, what);
      assert.equal(view.checksum(), msg.checksum, what);
      for (const e of step.view) assert.deepEqual(view.get(e.id), e, what);
      assert.equal(view.get(123456789), undefined);
    }
  }
});

test('golden: the JS payload encoder reproduces every Rust payload bit for bit', () => {
  for (const seq of golden.sequences) {
    let held = [];
    for (const [n, step] of seq.steps.entries()) {
      const { tick, baseline, payload } = step.message;
      const base = baseline === 0 ? [] : held;
      const frame = { tick, baseline, tickRate: seq.tick_rate };
      const what = `${seq.name}, step ${n}: ${step.note}`;
      // The view is what the client holds after the step; for a partial delta the
      // target world had more, but the view itself is the diff that was sent.
      const d = diff(base, step.view);
      const bytes = encodePayload(seq.packing, LAYOUT, frame, base, step.view, d.removed, d.created, d.changed);
      assert.deepEqual([...bytes], payload, what);
      assert.deepEqual(decodePayload(seq.packing, LAYOUT, frame, base, bytes), step.view, what);
      assert.deepEqual(merge(base, step.view, d.removed, d.created, d.changed), step.view, what);
      held = step.view;
    }
  }
});

test('golden: corrupted and hand-made snapshots fail exactly like in Rust', () => {
  for (const c of golden.corruptions) {
    const seq = golden.sequences[c.sequence];
    const view = replay(seq, c.after_step + 1);
    const before = { tick: view.tick, entities: view.entities, copy: structuredClone(view.entities) };
    const snap = { ...c.snapshot, payload: Uint8Array.from(c.snapshot.payload) };
    let error = null;
    try {
      view.apply(snap, seq.tick_rate, seq.packing);
    } catch (e) {
      error = e;
    }
    if (c.result.ok) {
      assert.equal(error, null, c.note);
    } else {
      assert.ok(error instanceof DeltaError, `${c.note}: ${error}`);
      assert.ok(error instanceof DecodeError, c.note);
      const { error: kind, ...details } = c.result;
      assert.equal(error.kind, kind, `${c.note}: ${error.message}`);
      for (const [key, value] of Object.entries(details)) assert.equal(error[key], value, `${c.note}: ${key}`);
      if (kind !== 'Checksum') {
        // The view is left exactly as it was.
        assert.equal(view.tick, before.tick, c.note);
        assert.equal(view.entities, before.entities, c.note);
        assert.deepEqual(view.entities, before.copy, c.note);
      }
    }
    assert.equal(view.tick, c.view_tick, c.note);
    assert.equal(view.checksum(), c.view_checksum, c.note);
    assert.equal(view.entities.length, c.view_size, c.note);
  }
});

test('every corrupted payload bit and every truncation gives a DeltaError or the intended view', () => {
  for (const seq of golden.sequences) {
    for (let n = 1; n < seq.steps.length; n++) {
      const held = replay(seq, n);
      const snap = decodeServerMessage(fromHex(seq.steps[n].hex));
      const variants = [];
      for (let bit = 0; bit < snap.payload.length * 8; bit++) {
        const p = snap.payload.slice();
        p[bit >> 3] ^= 1 << (bit & 7);
        variants.push(p);
      }
      for (let len = 0; len < snap.payload.length; len++) variants.push(snap.payload.slice(0, len));
      for (const payload of variants) {
        const view = held.clone();
        const before = view.entities;
        try {
          view.apply({ ...snap, payload }, seq.tick_rate, seq.packing);
          // Decoded without error: the checksum matched, so the view is the intended one.
          assert.deepEqual(view.entities, seq.steps[n].view);
        } catch (e) {
          assert.ok(e instanceof DeltaError, String(e));
          if (e.kind === 'Checksum') {
            assert.equal(view.tick, snap.tick);
          } else {
            assert.equal(view.tick, held.tick);
            assert.equal(view.entities, before);
          }
        }
      }
    }
  }
});

test('garbage payloads and messages only ever throw DecodeErrors', () => {
  const next = xorshift(0x1234567);
  const seq = golden.sequences[0];
  const base = replay(seq, 2);
  for (let i = 0; i < 2000; i++) {
    const bytes = Uint8Array.from({ length: next() % 64 }, () => (next() % 4 === 0 ? 0 : next() & 0xff));
    for (const packing of ['Bits', 'Bytes']) {
      const view = base.clone();
      try {
        view.apply({ tick: view.tick + 3, baseline: view.tick, checksum: 0, payload: bytes }, 60, packing);
      } catch (e) {
        assert.ok(e instanceof DeltaError, String(e));
      }
    }
    for (const decode of [decodeServerMessage, decodeClientMessage]) {
      try {
        decode(bytes);
      } catch (e) {
        assert.ok(e instanceof DecodeError, String(e));
      }
    }
  }
});

test('ClientView: baseline rules and checksum mismatches', () => {
  assert.throws(() => new ClientView(), TypeError);
  assert.throws(() => new ClientView(golden.schema), TypeError);
  const seq = golden.sequences[0];
  const [key, delta] = seq.steps.map((s) => decodeServerMessage(fromHex(s.hex)));
  const view = new ClientView(LAYOUT);
  assert.equal(view.layout, LAYOUT);
  // A delta before any keyframe: the view holds tick 0.
  assert.throws(
    () => view.apply(delta, seq.tick_rate, seq.packing),
    (e) => e instanceof DeltaError && e.kind === 'Baseline' && e.held === 0 && e.got === delta.baseline,
  );
  assert.equal(view.tick, 0);
  // A keyframe with a wrong checksum still updates the view, and says so.
  assert.throws(
    () => view.apply({ ...key, checksum: (key.checksum ^ 1) >>> 0 }, seq.tick_rate, seq.packing),
    (e) => e.kind === 'Checksum' && e.expected === (key.checksum ^ 1) >>> 0 && e.got === key.checksum,
  );
  assert.equal(view.tick, key.tick);
  assert.deepEqual(view.entities, seq.steps[0].view);
  // The next delta builds on it.
  view.apply(delta, seq.tick_rate, seq.packing);
  assert.deepEqual(view.entities, seq.steps[1].view);
  // Applying the same delta twice: the view now holds its tick, not its baseline.
  assert.throws(() => view.apply(delta, seq.tick_rate, seq.packing), (e) => e.kind === 'Baseline');
  // A keyframe is accepted whatever the view holds.
  view.apply(key, seq.tick_rate, seq.packing);
  assert.equal(view.tick, key.tick);
  assert.throws(() => view.apply(key, seq.tick_rate, 'Nibbles'), TypeError);
});

test('golden: applyFull sorts by id, keeps the first of duplicate ids and refuses misfits', () => {
  const view = new ClientView(LAYOUT);
  for (const c of golden.apply_full) {
    const before = view.entities;
    let error = null;
    try {
      view.applyFull(c.snapshot);
    } catch (e) {
      error = e;
    }
    if (c.result.ok) {
      assert.equal(error, null, c.note);
    } else {
      assert.ok(error instanceof DeltaError, `${c.note}: ${error}`);
      assert.equal(error.kind, c.result.error, c.note);
      assert.equal(error.id, c.result.id, c.note);
      assert.equal(view.entities, before, `${c.note}: the view is kept`);
    }
    assert.equal(view.tick, c.view_tick, c.note);
    assert.deepEqual(view.entities, c.view, c.note);
    assert.equal(view.checksum(), c.checksum, c.note);
  }
  assert.ok(golden.apply_full.some((c) => !c.result.ok));
});

test('golden: entity hashes and view checksums agree with Rust', () => {
  const entities = golden.checksums.entities.map((c) => c.entity);
  for (const c of golden.checksums.entities) {
    assert.equal(entityHash(LAYOUT, c.entity), c.hash, JSON.stringify(c.entity));
  }
  for (const v of golden.checksums.views) {
    const view = v.ids.map((id) => entities.find((e) => e.id === id));
    assert.equal(checksum(LAYOUT, view), v.checksum, JSON.stringify(v.ids));
  }
});

test('golden: advance, positionAt and Layout.position agree with Rust', () => {
  for (const [pos, vel, ticks, rate, expected] of golden.advance) {
    assert.equal(advance(pos, vel, ticks, rate), expected, `advance(${pos}, ${vel}, ${ticks}, ${rate})`);
  }
  for (const c of golden.position_at) {
    assert.deepEqual(positionAt(c.motion, c.tick, c.tick_rate, c.model), c.expected, JSON.stringify(c));
    assert.deepEqual(along(c.motion, c.tick, c.tick_rate), c.along, JSON.stringify(c));
    // Without a model, an anchor of 0 means predicted: Rust's answer but for a
    // trajectory anchored at tick 0.
    if ((c.model === 'Predicted') === (c.motion.anchor === 0)) {
      assert.deepEqual(positionAt(c.motion, c.tick, c.tick_rate), c.expected, JSON.stringify(c));
    }
  }
  const view = new ClientView(LAYOUT);
  for (const c of golden.layout_position) {
    assert.deepEqual(LAYOUT.motion(c.entity), c.motion, JSON.stringify(c));
    assert.deepEqual(LAYOUT.position(c.entity, c.tick, c.tick_rate), c.expected, JSON.stringify(c));
    assert.deepEqual(view.position(c.entity, c.tick, c.tick_rate), c.expected);
  }
  assert.equal(view.position(12345, 1, 60), null);
});

// ---------------------------------------------------------------------------------------
// Random schemas and views
// ---------------------------------------------------------------------------------------

const TEXTS = ['', 'a', 'ada', 'Zoë 🙂', '名前', 'a longer text than most fields allow', '\u{feff}bom'];

/** Fills component `c` of `e` with random values in its kinds' ranges, as the server would. */
function fillComponent(layout, e, c, next, tick) {
  e.present = (e.present | (1 << c)) >>> 0;
  for (const { kind, slot } of layout.fields(c)) {
    const i = slot.index;
    const signed = () => (next() % 200001) - 100000;
    switch (kind.type) {
      case 'Bits':
        e.ints[i] = kind.width === 32 ? next() | 0 : next() % 2 ** kind.width;
        break;
      case 'Uint':
        e.ints[i] = next() % 3 === 0 ? next() | 0 : next() % 100000;
        break;
      case 'Int':
      case 'Fixed':
        e.ints[i] = next() % 5 === 0 ? next() | 0 : signed();
        break;
      case 'Angle':
        // A multiple of the field's step, as the server's writer rounds it.
        e.ints[i] = ((next() & 0xffff) >>> angleShift(kind.bits)) << angleShift(kind.bits);
        break;
      case 'Entity':
        e.ints[i] = next() % 5000;
        break;
      case 'Text':
        e.texts[i] = truncateText(TEXTS[next() % TEXTS.length], kind.maxBytes);
        break;
      case 'Motion': {
        // A predicted motion's anchor is not sent: the server keeps it 0.
        const anchor = kind.model === 'Predicted' ? 0 : (tick - (next() % 600)) >>> 0;
        e.ints.splice(i, 5, anchor | 0, signed(), signed(), (next() % 4001) - 2000, (next() % 4001) - 2000);
        break;
      }
    }
  }
}

function randomEntity(layout, id, next, tick) {
  const e = layout.empty(id);
  for (let c = 0; c < layout.componentCount(); c++) if (next() % 2) fillComponent(layout, e, c, next, tick);
  return e;
}

/** `b` with some components refilled, some dropped, some added: what a tick changes. */
function evolve(layout, b, next, tick) {
  const e = { id: b.id, present: b.present, ints: b.ints.slice(), texts: b.texts.slice() };
  for (let c = 0; c < layout.componentCount(); c++) {
    const roll = next() % 6;
    if (roll === 0 && hasComponent(e, c)) {
      // Removed: its slots go back to zero, as a server's builder leaves them.
      e.present = (e.present & ~(1 << c)) >>> 0;
      for (const { slot } of layout.fields(c)) {
        if (slot.type === 'Text') e.texts[slot.index] = '';
        else e.ints.fill(0, slot.index, slot.index + (slot.type === 'Motion' ? 5 : 1));
      }
    } else if (roll === 1 || (roll === 2 && hasComponent(e, c))) {
      fillComponent(layout, e, c, next, tick);
    }
  }
  return e;
}

test('random schemas and views: JS encode then JS decode gives what merge predicts', () => {
  const next = xorshift(0x5eed1234);
  const frame = { tick: 10003, baseline: 10000, tickRate: 60 };
  for (let round = 0; round < 300; round++) {
    const layout = new Layout(randomSchema(next));
    const ids = [...new Set(Array.from({ length: next() % 25 }, () => 1 + (next() % 200)))].sort((a, b) => a - b);
    const base = ids.map((id) => randomEntity(layout, id, next, frame.baseline));
    const target = [];
    for (const b of base) {
      const roll = next() % 4;
      if (roll === 0) continue; // removed
      target.push(roll === 1 ? b : evolve(layout, b, next, frame.tick));
    }
    for (let k = next() % 6; k > 0; k--) {
      const id = 1 + (next() % 250);
      if (!target.some((e) => e.id === id) && !base.some((e) => e.id === id)) target.push(randomEntity(layout, id, next, frame.tick));
    }
    target.sort((a, b) => a.id - b.id);
    const d = diff(base, target);
    // Sometimes all of it, sometimes what a byte budget lets through.
    const keep = () => next() % 3 !== 0;
    const partial = next() % 2 === 0;
    const removed = partial ? d.removed.filter(keep) : d.removed;
    const created = partial ? d.created.filter(keep) : d.created;
    const changed = partial ? d.changed.filter(keep) : d.changed;
    const expected = merge(base, target, removed, created, changed);
    if (!partial) assert.deepEqual(expected, target);
    for (const packing of ['Bits', 'Bytes']) {
      const payload = encodePayload(packing, layout, frame, base, target, removed, created, changed);
      const got = decodePayload(packing, layout, frame, base, payload);
      assert.deepEqual(got, expected, `round ${round}, ${packing}`);
      assert.equal(checksum(layout, got), checksum(layout, expected));
      // Unchanged entities are shared, not copied.
      for (const e of got) if (base.includes(e)) assert.ok(expected.includes(e));
    }
  }
});

test('an unchanged view costs only the three counts', () => {
  const layout = new Layout(golden.schema);
  const view = golden.sequences[0].steps[0].view;
  const copy = structuredClone(view);
  const d = diff(view, copy);
  assert.deepEqual(d, { removed: [], created: [], changed: [] });
  const payload = encodePayload('Bits', layout, { tick: 3, baseline: 2, tickRate: 60 }, view, copy, [], [], []);
  assert.deepEqual([...payload], [0b10001, 0b1]); // three EG(k=3) zeros: 1000 1000 1000
  assert.equal(MOTION.ANCHOR | MOTION.POS | MOTION.VEL, 7);
});

// ---------------------------------------------------------------------------------------
// The real games (testdata/games.json, written by a server-side test)
// ---------------------------------------------------------------------------------------
//
// Format: {games: [{game, welcome: <hex of the Welcome message>, tick_rate, packing,
// snapshots: [<hex of a Snapshot (or FullSnapshot) message>, ...],
// views: [[<entity objects after each snapshot>], ...]}]}. Each game is decoded with
// nothing but the schema its Welcome carries: the client knows no game.

const GAMES_URL = new URL('../testdata/games.json', import.meta.url);

test(
  'games.json: every snapshot of the real games decodes, with the schema of its Welcome, to the expected view',
  () => {
    const { games } = JSON.parse(readFileSync(GAMES_URL, 'utf8'));
    assert.ok(Array.isArray(games) && games.length > 0, 'games.json lists games');
    for (const g of games) {
      const welcome = decodeServerMessage(fromHex(g.welcome));
      assert.equal(welcome.type, 'Welcome', g.game);
      assert.equal(toHex(encodeServerMessage(welcome)), g.welcome, `${g.game}: Welcome re-encodes`);
      assert.equal(welcome.schema.game, g.game, `${g.game}: the schema names its game`);
      const layout = new Layout(welcome.schema);
      const tickRate = g.tick_rate ?? welcome.tick_rate;
      const packing = g.packing ?? welcome.packing;
      const view = new ClientView(layout);
      assert.equal(g.snapshots.length, g.views.length, `${g.game}: a view per snapshot`);
      for (const [n, hex] of g.snapshots.entries()) {
        const what = `${g.game}, snapshot ${n}`;
        const msg = decodeServerMessage(fromHex(hex));
        assert.equal(toHex(encodeServerMessage(msg)), hex, what);
        const held = view.entities;
        if (msg.type === 'FullSnapshot') {
          view.applyFull(msg);
        } else {
          assert.equal(msg.type, 'Snapshot', what);
          // Throws DeltaError 'Checksum' if the view does not hash to the server's checksum.
          view.apply(msg, tickRate, packing);
          assert.equal(checksum(layout, view.entities), msg.checksum, what);
          // The JS encoder rebuilds the same view from the same base.
          const base = msg.baseline === 0 ? [] : held;
          const frame = { tick: msg.tick, baseline: msg.baseline, tickRate };
          const d = diff(base, view.entities);
          const payload = encodePayload(packing, layout, frame, base, view.entities, d.removed, d.created, d.changed);
          assert.deepEqual(decodePayload(packing, layout, frame, base, payload), view.entities, what);
        }
        assert.equal(view.tick, msg.tick, what);
        assert.deepEqual(view.entities, g.views[n], what);
        for (const e of view.entities) {
          assert.equal(e.ints.length, layout.intSlots, `${what}: entity ${e.id} has the layout's ints`);
          assert.equal(e.texts.length, layout.textSlots, `${what}: entity ${e.id} has the layout's texts`);
        }
      }
    }
  },
);
