// Tests of the browser client's bincode codec. Run with `node --test assets/web/`.
//
// Every byte array below is computed by hand from the bincode 2 standard layout (see the
// comments) and agrees with what shared::codec::encode produces for the same value.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  DecodeError,
  EncodeError,
  PROTOCOL_VERSION,
  Reader,
  Writer,
  angleToQ,
  decodeClientMessage,
  decodeServerMessage,
  encodeClientMessage,
  encodeServerMessage,
  hello,
  input,
  ping,
  qToAngle,
  validateName,
} from './codec.js';

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

test('Hello and Ping encode as expected', () => {
  assert.deepEqual([...hello('Zoë')], [0, PROTOCOL_VERSION, 4, 90, 111, 195, 171]);
  assert.deepEqual(decodeClientMessage([0, 1, 3, 97, 100, 97]), {
    type: 'Hello',
    protocol_version: 1,
    name: 'ada',
  });
  // client_time 123456 = 0x0001e240
  assert.deepEqual([...ping(123456)], [2, 252, 64, 226, 1, 0]);
  assert.deepEqual(decodeClientMessage([2, 0]), { type: 'Ping', client_time: 0 });
});

// A hand-built snapshot: tick 300, last_input_seq 42, a player and a projectile.
const SNAPSHOT = {
  type: 'Snapshot',
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
  1,                 // ServerMessage::Snapshot
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
  251, 0, 192,       // angle 49152 = 0xc000
  0,                 // health
  1,                 // flags: FLAG_DEAD bit (meaningless for a projectile, but encodable)
  0,                 // score
  7,                 // owner
  0,                 // name ""
];

test('a hand-built Snapshot decodes and re-encodes byte for byte', () => {
  assert.deepEqual(decodeServerMessage(SNAPSHOT_BYTES), SNAPSHOT);
  assert.deepEqual([...encodeServerMessage(SNAPSHOT)], SNAPSHOT_BYTES);
  // ArrayBuffer input, as a WebSocket with binaryType 'arraybuffer' delivers it.
  assert.deepEqual(decodeServerMessage(Uint8Array.from(SNAPSHOT_BYTES).buffer), SNAPSHOT);
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
  };
  assert.deepEqual(decodeServerMessage(welcome), msg);
  assert.deepEqual([...encodeServerMessage(msg)], welcome);

  const pong = [2, 252, 64, 226, 1, 0, 252, 112, 17, 1, 0]; // 123456, 70000
  assert.deepEqual(decodeServerMessage(pong), { type: 'Pong', client_time: 123456, server_tick: 70000 });
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
  assert.throws(() => decodeServerMessage([3]), /unknown ServerMessage variant 3/);
  assert.throws(() => decodeClientMessage([3]), /unknown ClientMessage variant 3/);
  // EntityKind 3 does not exist.
  assert.throws(
    () => decodeServerMessage([1, 0, 0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    /unknown EntityKind variant 3/,
  );
  // A forged entity count cannot make the decoder allocate: it is bounded by the bytes left.
  assert.throws(() => decodeServerMessage([1, 0, 0, 252, 255, 255, 255, 255]), /claims 4294967295/);
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
      angle: u32() & 0xffff,
      health: next() & 0xff,
      flags: next() & 0xff,
      score: u32(),
      owner: u32(),
      name: names[next() % names.length],
    }));
    const snap = { type: 'Snapshot', tick: u32(), last_input_seq: u32(), entities };
    assert.deepEqual(decodeServerMessage(encodeServerMessage(snap)), snap);
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
