// Tests of the browser client's codec (protocol v2). Run with `node --test assets/web/`.
//
// The byte arrays in the first half are computed by hand from the bincode 2 standard
// layout (see the comments). The second half checks the codec, the delta payload decoder
// and ClientView against testdata/golden.json, which shared/tests/golden.rs generates
// from the Rust implementation (regenerate: TICKWIRE_BLESS=1 cargo test -p shared --test golden).

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
  FIELD,
  PROTOCOL_VERSION,
  PackError,
  Reader,
  Writer,
  advance,
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
  hello,
  input,
  ping,
  positionAt,
  qToAngle,
  snapshotSettings,
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

test('the Input example encodes to 11 bytes and back', () => {
  const msg = { type: 'Input', seq: 100, ack_tick: 1000, move_x: -127, move_y: 0, aim: 300, buttons: 1 };
  // tag 1, seq 100, ack_tick 1000 = 251 0xe8 0x03, move_x -127 = 0x81 raw, move_y 0,
  // aim 300 = 251 0x2c 0x01, buttons 1.
  const bytes = [1, 100, 251, 232, 3, 129, 0, 251, 44, 1, 1];
  assert.deepEqual([...encodeClientMessage(msg)], bytes);
  assert.deepEqual([...input(100, 1000, -127, 0, 300, 1)], bytes);
  assert.deepEqual(decodeClientMessage(bytes), msg);
});

test('Hello, Ping, SnapshotSettings and Desync encode as expected', () => {
  assert.equal(PROTOCOL_VERSION, 3);
  // tag, version 3, name "Zoë", empty join token, empty resume token
  assert.deepEqual([...hello('Zoë')], [0, 3, 4, 90, 111, 195, 171, 0, 0]);
  assert.deepEqual([...hello('a', { joinToken: 'j.k', resumeToken: 'r' })], [0, 3, 1, 97, 3, 106, 46, 107, 1, 114]);
  assert.deepEqual(decodeClientMessage([0, 3, 3, 97, 100, 97, 0, 1, 114]), {
    type: 'Hello',
    protocol_version: 3,
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

// A hand-built full snapshot: tick 300, last_input_seq 42, a player and a projectile.
const SNAPSHOT = {
  type: 'FullSnapshot',
  tick: 300,
  last_input_seq: 42,
  entities: [
    {
      id: 7,
      kind: 'Player',
      x: 6400, // 100 m
      y: -64,
      vx: 384,
      vy: -1,
      anchor: 0,
      angle: 16384, // a quarter turn
      health: 100,
      flags: 0,
      score: 3,
      owner: 0,
      name: 'ada',
    },
    {
      id: 300,
      kind: 'Projectile',
      x: 100,
      y: 200,
      vx: -1280,
      vy: 0,
      anchor: 298,
      angle: 49152,
      health: 0,
      flags: 1,
      score: 0,
      owner: 7,
      name: '',
    },
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
  0,                 // EntityKind::Player
  251, 0, 50,        // x 6400 -> zigzag 12800 = 0x3200
  127,               // y -64 -> zigzag 127
  251, 0, 3,         // vx 384 -> zigzag 768 = 0x0300
  1,                 // vy -1 -> zigzag 1
  0,                 // anchor 0 (players)
  251, 0, 64,        // angle 16384 = 0x4000
  100,               // health (raw u8)
  0,                 // flags (raw u8)
  3,                 // score
  0,                 // owner
  3, 97, 100, 97,    // name "ada"
  // entity 300
  251, 44, 1,        // id 300
  2,                 // EntityKind::Projectile
  200,               // x 100 -> zigzag 200
  251, 144, 1,       // y 200 -> zigzag 400 = 0x0190
  251, 255, 9,       // vx -1280 -> zigzag 2559 = 0x09ff
  0,                 // vy 0
  251, 42, 1,        // anchor 298 = 0x012a
  251, 0, 192,       // angle 49152 = 0xc000
  0,                 // health
  1,                 // flags: FLAG_DEAD bit (meaningless for a projectile, but encodable)
  0,                 // score
  7,                 // owner
  0,                 // name ""
];

test('a hand-built FullSnapshot decodes and re-encodes byte for byte', () => {
  assert.deepEqual(decodeServerMessage(SNAPSHOT_BYTES), SNAPSHOT);
  assert.deepEqual([...encodeServerMessage(SNAPSHOT)], SNAPSHOT_BYTES);
  // ArrayBuffer input, as a WebSocket with binaryType 'arraybuffer' delivers it.
  assert.deepEqual(decodeServerMessage(Uint8Array.from(SNAPSHOT_BYTES).buffer), SNAPSHOT);
});

test('a delta Snapshot carries its payload as raw bytes', () => {
  // tag 1, tick 1003, baseline 1000, last_input_seq 7, checksum 0xdeadbeef, payload [0x49, 0x02]
  // prettier-ignore
  const bytes = [1, 251, 235, 3, 251, 232, 3, 7, 252, 239, 190, 173, 222, 2, 0x49, 0x02];
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
  // The payload is a copy: it survives the frame's buffer being reused.
  const frame = Uint8Array.from(bytes);
  const copy = decodeServerMessage(frame);
  frame.fill(0);
  assert.deepEqual([...copy.payload], [0x49, 0x02]);
  assert.throws(() => decodeServerMessage(bytes.slice(0, -1)), DecodeError);
  assert.throws(() => encodeServerMessage({ ...msg, payload: [256] }), EncodeError);
});

test('Welcome and Pong decode', () => {
  // prettier-ignore
  const welcome = [
    0, 1, 7, 60, 20,                  // tag, client_id 1, entity 7, tick_rate 60, snapshot_rate 20
    5, 97, 114, 101, 110, 97,         // map name "arena"
    251, 0, 100, 251, 0, 100,         // width, height 12800 -> zigzag 25600 = 0x6400
    1,                                // one wall
    251, 0, 35, 251, 0, 49,           // min 4480, 6272 -> zigzag 8960, 12544
    251, 128, 47, 251, 0, 51,         // max 6080, 6528 -> zigzag 12160, 13056
    251, 0, 12,                       // aoi_radius 3072 = 0x0c00
    0,                                // packing: Bits
    20, 251, 0, 128,                  // settings: rate 20, max_bytes_per_sec 32768 = 0x8000
    1, 100,                           // room "d"
    1, 112,                           // player "p"
    2, 114, 46,                       // resume_token "r."
    15,                               // resume_grace_s 15
    1,                                // resumed: true
  ];
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
    resumed: true,
  };
  assert.deepEqual(decodeServerMessage(welcome), msg);
  assert.deepEqual([...encodeServerMessage(msg)], welcome);

  const pong = [2, 252, 64, 226, 1, 0, 252, 112, 17, 1, 0]; // 123456, 70000
  assert.deepEqual(decodeServerMessage(pong), { type: 'Pong', client_time: 123456, server_tick: 70000 });
  assert.deepEqual(decodeServerMessage([3, 20, 252, 0, 0, 4, 0]), {
    type: 'SnapshotSettings',
    rate: 20,
    max_bytes_per_sec: 262144,
  });
  // Packing 2 does not exist.
  const badPacking = welcome.slice();
  badPacking[welcome.length - 14] = 2;
  assert.throws(() => decodeServerMessage(badPacking), /unknown Packing variant 2/);
});

test('every truncation of a valid message is a DecodeError, never another exception', () => {
  for (let len = 0; len < SNAPSHOT_BYTES.length; len++) {
    assert.throws(() => decodeServerMessage(SNAPSHOT_BYTES.slice(0, len)), DecodeError, `length ${len}`);
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
  // EntityKind 3 does not exist.
  assert.throws(
    () => decodeServerMessage([4, 0, 0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    /unknown EntityKind variant 3/,
  );
  // A forged entity count cannot make the decoder allocate: it is bounded by the bytes left.
  assert.throws(() => decodeServerMessage([4, 0, 0, 252, 255, 255, 255, 255]), /claims 4294967295/);
  // Nor can a forged payload length.
  assert.throws(() => decodeServerMessage([1, 0, 0, 0, 0, 252, 255, 255, 255, 255]), /claims 4294967295/);
  // A Hello whose name claims 2^32-1 bytes (the Rust test's forged length).
  assert.throws(() => decodeClientMessage([0, 1, 252, 255, 255, 255, 255]), DecodeError);
  assert.throws(() => decodeServerMessage('not bytes'), DecodeError);
});

test('pseudo-random messages round-trip through encoder and decoder', () => {
  let seed = 0x2545f491;
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const pick = (edges) => (next() % 3 === 0 ? edges[next() % edges.length] : next());
  const u32 = () => pick([0, 250, 251, 65535, 65536, 0xffffffff]);
  const i32 = () => pick([0, -1, 125, -126, 2147483647, -2147483648]) | 0;
  const kinds = ['Player', 'Drone', 'Projectile'];
  const names = ['', 'a', 'Zoë', '名前', '🙂'];
  for (let i = 0; i < 300; i++) {
    const entities = Array.from({ length: next() % 5 }, () => ({
      id: u32(),
      kind: kinds[next() % 3],
      x: i32(),
      y: i32(),
      vx: i32(),
      vy: i32(),
      anchor: u32(),
      angle: u32() & 0xffff,
      health: next() & 0xff,
      flags: next() & 0xff,
      score: u32(),
      owner: u32(),
      name: names[next() % names.length],
    }));
    const full = { type: 'FullSnapshot', tick: u32(), last_input_seq: u32(), entities };
    assert.deepEqual(decodeServerMessage(encodeServerMessage(full)), full);
    const payload = Uint8Array.from({ length: next() % 40 }, () => next() & 0xff);
    const delta = { type: 'Snapshot', tick: u32(), baseline: u32(), last_input_seq: u32(), checksum: u32(), payload };
    assert.deepEqual(decodeServerMessage(encodeServerMessage(delta)), delta);
    const inp = {
      type: 'Input',
      seq: u32(),
      ack_tick: u32(),
      move_x: ((next() & 0xff) << 24) >> 24,
      move_y: ((next() & 0xff) << 24) >> 24,
      aim: u32() & 0xffff,
      buttons: next() & 0xff,
    };
    assert.deepEqual(decodeClientMessage(encodeClientMessage(inp)), inp);
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

// ---------------------------------------------------------------------------------------
// Golden vectors from the Rust implementation
// ---------------------------------------------------------------------------------------

const golden = JSON.parse(readFileSync(new URL('./testdata/golden.json', import.meta.url), 'utf8'));
const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

test('golden: the file is for this protocol version and has every message variant', () => {
  assert.equal(golden.protocol_version, PROTOCOL_VERSION);
  const types = (list) => new Set(list.map((c) => c.message.type));
  assert.deepEqual(
    [...types(golden.client_messages)].sort(),
    ['Desync', 'Hello', 'Input', 'Ping', 'SnapshotSettings'],
  );
  assert.deepEqual(
    [...types(golden.server_messages)].sort(),
    ['FullSnapshot', 'Pong', 'Snapshot', 'SnapshotSettings', 'Welcome'],
  );
  assert.deepEqual(golden.sequences.map((s) => s.packing).sort(), ['Bits', 'Bytes']);
  assert.equal(checksum([]), golden.empty_view_checksum);
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
  }
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
  const view = new ClientView();
  for (const step of seq.steps.slice(0, count)) {
    view.apply(decodeServerMessage(fromHex(step.hex)), seq.tick_rate, seq.packing);
  }
  return view;
}

test('golden: each snapshot sequence rebuilds the expected view after every step', () => {
  for (const seq of golden.sequences) {
    const view = new ClientView();
    for (const [n, step] of seq.steps.entries()) {
      const msg = decodeServerMessage(fromHex(step.hex));
      view.apply(msg, seq.tick_rate, seq.packing);
      const what = `${seq.name}, step ${n}: ${step.note}`;
      assert.equal(view.tick, msg.tick, what);
      assert.deepEqual(view.entities, step.view, what);
      assert.equal(checksum(view.entities), step.checksum, what);
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
      const d = diff(base, step.view);
      const frame = { tick, baseline, tickRate: seq.tick_rate };
      const bytes = encodePayload(seq.packing, frame, base, step.view, d.removed, d.created, d.changed);
      assert.deepEqual([...bytes], payload, `${seq.name}, step ${n}: ${step.note}`);
      assert.deepEqual(decodePayload(seq.packing, frame, base, bytes), step.view);
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

test('every corrupted payload bit and every truncation gives a DeltaError or a changed view', () => {
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
  let seed = 0x1234567;
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
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
  const seq = golden.sequences[0];
  const [key, delta] = seq.steps.map((s) => decodeServerMessage(fromHex(s.hex)));
  const view = new ClientView();
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

test('golden: applyFull sorts by id and keeps the first of duplicate ids', () => {
  const view = new ClientView();
  view.applyFull(golden.apply_full.snapshot);
  assert.equal(view.tick, golden.apply_full.snapshot.tick);
  assert.deepEqual(view.entities, golden.apply_full.view);
  assert.equal(view.checksum(), golden.apply_full.checksum);
});

test('golden: advance and positionAt agree with Rust', () => {
  for (const [pos, vel, ticks, rate, expected] of golden.advance) {
    assert.equal(advance(pos, vel, ticks, rate), expected, `advance(${pos}, ${vel}, ${ticks}, ${rate})`);
  }
  const view = new ClientView();
  for (const c of golden.position_at) {
    assert.deepEqual(positionAt(c.entity, c.tick, c.tick_rate), c.expected, JSON.stringify(c));
    assert.deepEqual(view.positionAt(c.entity, c.tick, c.tick_rate), c.expected);
  }
});

test('positionAt moves trajectories smoothly between ticks', () => {
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

test('FIELD bits follow the documented order', () => {
  assert.deepEqual(Object.entries(FIELD), [
    ['ANCHOR', 1],
    ['POS', 2],
    ['VEL', 4],
    ['ANGLE', 8],
    ['HEALTH', 16],
    ['FLAGS', 32],
    ['SCORE', 64],
    ['NAME', 128],
  ]);
});

test('the worked example of PROTOCOL.md decodes as documented', () => {
  const ada = { id: 1, kind: 'Player', x: 6400, y: 3200, vx: 384, vy: 0, anchor: 0, angle: 0, health: 100, flags: 0, score: 3, owner: 0, name: 'ada' };
  const drone = { id: 5, kind: 'Drone', x: 1000, y: 2000, vx: 128, vy: -64, anchor: 990, angle: 0, health: 40, flags: 0, score: 0, owner: 0, name: '' };
  const frame = { tick: 1003, baseline: 1000, tickRate: 60 };
  const expected = [{ ...ada, x: 6420, score: 4 }];
  assert.equal(advance(6400, 384, 3, 60), 6419);
  for (const [packing, hex] of [
    ['Bits', 'a3 31 09 35 06'],
    ['Bytes', '01 04 00 01 00 42 02 00 02'],
  ]) {
    const payload = fromHex(hex.replace(/ /g, ''));
    assert.deepEqual(decodePayload(packing, frame, [ada, drone], payload), expected, packing);
    const d = diff([ada, drone], expected);
    assert.deepEqual(d, { removed: [5], created: [], changed: [[0, 0, FIELD.POS | FIELD.SCORE]] });
    assert.deepEqual(encodePayload(packing, frame, [ada, drone], expected, d.removed, d.created, d.changed), payload);
  }
  const w = new BitWriter();
  for (const [op, v, k] of [['uint', 1, 3], ['uint', 4, 1], ['uint', 0, 3], ['uint', 1, 3], ['uint', 0, 1], ['bits', 66, 8], ['sint', 1, 2], ['sint', 0, 2], ['sint', 1, 0]]) w[op](v, k);
  assert.equal(bitString(w), '1100' + '0101' + '1000' + '1100' + '10' + '01000010' + '101' + '100' + '011');
  assert.equal(toHex(w.finish()), 'a331093506');
  assert.equal(checksum(expected), 0x7550f92d);
  assert.equal(checksum([]), 0xab3e7c0b);
});
