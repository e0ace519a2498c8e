// Tickwire wire codec for the browser client (and node tests): protocol v3.
//
// The Rust side (shared/src/codec.rs) encodes with bincode 2, `config::standard()`, via
// serde. That gives this byte layout:
//   - u16 / u32 / u64: varint. A value < 251 is one byte; otherwise a marker byte
//     (251 → u16 LE follows, 252 → u32 LE, 253 → u64 LE).
//   - i16 / i32: zigzag ((n << 1) ^ (n >> 31)), then the unsigned varint above.
//   - u8 / i8: one raw byte (no varint). bool: one byte, 0 or 1.
//   - enum: variant index as a u32 varint, then the variant's fields.
//   - struct: the fields in declaration order, no names.
//   - String / Vec: length as a u64 varint, then the UTF-8 bytes / the elements
//     (a Vec<u8> such as Snapshot.payload is therefore a length and raw bytes).
//
// Messages are plain objects with the Rust field names and a `type` tag naming the
// variant, e.g. `{ type: 'Ping', client_time: 5 }`. Entity kinds are the strings
// 'Player', 'Drone' and 'Projectile', packings 'Bits' and 'Bytes'. Snapshot.payload
// decodes to a Uint8Array (the encoder also takes an array of bytes).
//
// Protocol v2 snapshots are deltas (shared/src/delta.rs, shared/src/pack.rs): the second
// half of this module ports them (bit and byte readers and writers, the payload coder,
// merge, checksum, trajectories) and keeps a client's view in `ClientView`.
//
// Pure functions only: no DOM, no IO. Decoding never reads out of bounds: malformed,
// truncated or over-long input throws a DecodeError (or one of its subclasses PackError
// and DeltaError) with an explanation, and bytes left over after a complete message are
// rejected, exactly like the Rust decoders.

export const PROTOCOL_VERSION = 3;
export const MAX_NAME_CHARS = 16;
/** Largest server message the decoder accepts (shared::codec::MAX_SERVER_MESSAGE_BYTES). */
export const MAX_SERVER_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Largest client message the server accepts (shared::codec::MAX_CLIENT_MESSAGE_BYTES). */
export const MAX_CLIENT_MESSAGE_BYTES = 1024;

/** Positions are in 1/64 m steps, velocities in 1/64 m/s steps. */
export const POS_SCALE = 64;
export const VEL_SCALE = 64;
/** Angle steps per full turn. */
export const ANGLE_STEPS = 65536;

/** EntityState.flags bit: the player is dead and waiting to respawn. */
export const FLAG_DEAD = 1;
/** Input.buttons bit: fire. */
export const BUTTON_FIRE = 1;

export const ENTITY_KINDS = Object.freeze(['Player', 'Drone', 'Projectile']);
export const PACKINGS = Object.freeze(['Bits', 'Bytes']);
export const CLIENT_MESSAGE_TYPES = Object.freeze(['Hello', 'Input', 'Ping', 'SnapshotSettings', 'Desync']);
export const SERVER_MESSAGE_TYPES = Object.freeze(['Welcome', 'Snapshot', 'Pong', 'SnapshotSettings', 'FullSnapshot']);

/** A text for each close code of shared::protocol::close::TABLE (net.test.mjs checks them against testdata/close_codes.json). */
export const CLOSE_REASONS = Object.freeze({
  1000: 'normal closure',
  1001: 'server going away',
  1002: 'protocol error',
  1003: 'unsupported data (text frame)',
  1006: 'connection lost',
  1007: 'invalid payload (not UTF-8)',
  1008: 'policy violation (message flood)',
  1009: 'message too big',
  1011: 'server internal error',
  1013: 'server at capacity, try again later',
  4000: 'bad message',
  4001: 'protocol version not supported',
  4002: 'unexpected message',
  4003: 'invalid name',
  4004: 'room full',
  4005: 'handshake timeout',
  4006: 'too slow, disconnected',
  4007: 'invalid input or snapshot settings',
  4008: 'idle timeout',
  4009: 'join token missing or invalid',
  4010: 'join token expired',
  4011: 'join token already used',
  4012: 'token for another room',
  4013: 'unknown room',
  4014: 'resume refused (player gone), join again',
  4015: 'replaced by another session of this player',
  4016: 'room closed',
});

const SINGLE_BYTE_MAX = 250;
const U16_BYTE = 251;
const U32_BYTE = 252;
const U64_BYTE = 253;
const U128_BYTE = 254;

/** Raised for any byte sequence that is not a valid message. */
export class DecodeError extends Error {
  constructor(message, offset) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.name = 'DecodeError';
    this.offset = offset;
  }
}

/** Raised when a value cannot be encoded (wrong type or out of range). */
export class EncodeError extends Error {
  constructor(message) {
    super(message);
    this.name = 'EncodeError';
  }
}

// ---------------------------------------------------------------------------------------
// Quantisation helpers (shared::quant)
// ---------------------------------------------------------------------------------------

/** Position steps to metres. */
export function qToPos(q) {
  return q / POS_SCALE;
}

/** Velocity steps to metres per second. */
export function qToVel(q) {
  return q / VEL_SCALE;
}

/** A u16 fraction of a turn to radians in [0, 2π). */
export function qToAngle(q) {
  return (q / ANGLE_STEPS) * 2 * Math.PI;
}

/** Radians (any value) to a u16 fraction of a turn, rounding half up like the server. */
export function angleToQ(radians) {
  if (!Number.isFinite(radians)) return 0;
  const turns = radians / (2 * Math.PI);
  const frac = turns - Math.floor(turns);
  return Math.floor(frac * ANGLE_STEPS + 0.5) & 0xffff;
}

// ---------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

function toUint8Array(bytes) {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (Array.isArray(bytes)) {
    for (const b of bytes) {
      if (!Number.isInteger(b) || b < 0 || b > 255) throw new DecodeError(`not a byte: ${b}`);
    }
    return Uint8Array.from(bytes);
  }
  throw new DecodeError('expected an ArrayBuffer, a typed array or an array of bytes');
}

/** Sequential bincode reader over a byte array. Every read checks bounds first. */
export class Reader {
  constructor(bytes) {
    this.bytes = toUint8Array(bytes);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    this.pos = 0;
  }

  get remaining() {
    return this.bytes.length - this.pos;
  }

  need(n, what) {
    if (this.remaining < n) {
      throw new DecodeError(
        `unexpected end of data reading ${what}: need ${n} byte(s), ${this.remaining} left`,
        this.pos,
      );
    }
  }

  u8(what = 'u8') {
    this.need(1, what);
    return this.bytes[this.pos++];
  }

  i8(what = 'i8') {
    this.need(1, what);
    return this.view.getInt8(this.pos++);
  }

  bool(what = 'bool') {
    const at = this.pos;
    const b = this.u8(what);
    if (b > 1) throw new DecodeError(`invalid bool ${b} in ${what}`, at);
    return b === 1;
  }

  fixedU16(what) {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  fixedU32(what) {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** u64 as a Number; values above 2^53 - 1 are rejected (nothing in the protocol uses them). */
  fixedU64(what) {
    this.need(8, what);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    if (hi > 0x1fffff) throw new DecodeError(`${what} is too large for this client`, this.pos);
    this.pos += 8;
    return hi * 0x100000000 + lo;
  }

  // Varint decoding accepts exactly what bincode accepts: any marker up to the target
  // width (non-minimal encodings included), and rejects wider markers.
  varint(bits, what) {
    const at = this.pos;
    const first = this.u8(what);
    if (first <= SINGLE_BYTE_MAX) return first;
    switch (first) {
      case U16_BYTE:
        return this.fixedU16(what);
      case U32_BYTE:
        if (bits >= 32) return this.fixedU32(what);
        break;
      case U64_BYTE:
        if (bits >= 64) return this.fixedU64(what);
        break;
      case U128_BYTE:
        break;
      default:
        throw new DecodeError(`invalid varint marker ${first} in ${what}`, at);
    }
    throw new DecodeError(`varint marker ${first} is too wide for the u${bits} ${what}`, at);
  }

  u16(what = 'u16') {
    return this.varint(16, what);
  }

  u32(what = 'u32') {
    return this.varint(32, what);
  }

  u64(what = 'u64') {
    return this.varint(64, what);
  }

  i16(what = 'i16') {
    const n = this.varint(16, what);
    return (n >>> 1) ^ -(n & 1);
  }

  i32(what = 'i32') {
    const n = this.varint(32, what);
    return ((n >>> 1) ^ -(n & 1)) | 0;
  }

  /** Length prefix of a string or sequence; `minElementBytes` bounds it by what is left. */
  length(what, minElementBytes = 1) {
    const at = this.pos;
    const len = this.u64(`${what} length`);
    if (len * minElementBytes > this.remaining) {
      throw new DecodeError(
        `${what} claims ${len} element(s) but only ${this.remaining} byte(s) are left`,
        at,
      );
    }
    return len;
  }

  string(what = 'string') {
    const len = this.length(what);
    const at = this.pos;
    const slice = this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    try {
      return utf8Decoder.decode(slice);
    } catch {
      throw new DecodeError(`${what} is not valid UTF-8`, at);
    }
  }

  /** A Vec<u8>: length, then raw bytes, copied out of the frame. */
  byteVec(what = 'bytes') {
    const len = this.length(what);
    const out = this.bytes.slice(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** Enum tag; `names` lists the variants in declaration order. */
  variant(names, what) {
    const at = this.pos;
    const index = this.u32(`${what} tag`);
    if (index >= names.length) throw new DecodeError(`unknown ${what} variant ${index}`, at);
    return names[index];
  }

  vec(what, minElementBytes, readElement) {
    const len = this.length(what, minElementBytes);
    const out = new Array(len);
    for (let i = 0; i < len; i++) out[i] = readElement(this, i);
    return out;
  }

  finish(what) {
    if (this.remaining !== 0) {
      throw new DecodeError(`${this.remaining} unexpected byte(s) after the ${what}`, this.pos);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------

function checkInt(value, min, max, what) {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new EncodeError(`${what} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/** Growable bincode writer. */
export class Writer {
  constructor(capacity = 64) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
    this.len = 0;
  }

  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  bytes(arr) {
    this.reserve(arr.length);
    this.buf.set(arr, this.len);
    this.len += arr.length;
  }

  u8(v, what = 'u8') {
    checkInt(v, 0, 0xff, what);
    this.reserve(1);
    this.buf[this.len++] = v;
  }

  i8(v, what = 'i8') {
    checkInt(v, -128, 127, what);
    this.reserve(1);
    this.buf[this.len++] = v & 0xff;
  }

  bool(v, what = 'bool') {
    if (typeof v !== 'boolean') throw new EncodeError(`${what} must be a boolean`);
    this.u8(v ? 1 : 0, what);
  }

  /** Minimal varint of a non-negative integer that fits in `bits`. */
  varint(v, bits, what) {
    checkInt(v, 0, bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** bits - 1, what);
    if (v <= SINGLE_BYTE_MAX) {
      this.reserve(1);
      this.buf[this.len++] = v;
    } else if (v <= 0xffff) {
      this.reserve(3);
      this.buf[this.len++] = U16_BYTE;
      this.view.setUint16(this.len, v, true);
      this.len += 2;
    } else if (v <= 0xffffffff) {
      this.reserve(5);
      this.buf[this.len++] = U32_BYTE;
      this.view.setUint32(this.len, v, true);
      this.len += 4;
    } else {
      this.reserve(9);
      this.buf[this.len++] = U64_BYTE;
      this.view.setUint32(this.len, v % 0x100000000, true);
      this.view.setUint32(this.len + 4, Math.floor(v / 0x100000000), true);
      this.len += 8;
    }
  }

  u16(v, what = 'u16') {
    this.varint(v, 16, what);
  }

  u32(v, what = 'u32') {
    this.varint(v, 32, what);
  }

  u64(v, what = 'u64') {
    this.varint(v, 64, what);
  }

  i16(v, what = 'i16') {
    checkInt(v, -0x8000, 0x7fff, what);
    this.varint(((v << 1) ^ (v >> 15)) & 0xffff, 16, what);
  }

  i32(v, what = 'i32') {
    checkInt(v, -0x80000000, 0x7fffffff, what);
    this.varint(((v << 1) ^ (v >> 31)) >>> 0, 32, what);
  }

  string(s, what = 'string') {
    if (typeof s !== 'string') throw new EncodeError(`${what} must be a string`);
    const utf8 = utf8Encoder.encode(s);
    this.u64(utf8.length, `${what} length`);
    this.bytes(utf8);
  }

  /** A Vec<u8> from a Uint8Array or an array of bytes. */
  byteVec(bytes, what = 'bytes') {
    if (!(bytes instanceof Uint8Array)) {
      if (!Array.isArray(bytes)) throw new EncodeError(`${what} must be a Uint8Array or an array of bytes`);
      for (const b of bytes) checkInt(b, 0, 0xff, `${what} byte`);
      bytes = Uint8Array.from(bytes);
    }
    this.u64(bytes.length, `${what} length`);
    this.bytes(bytes);
  }

  variant(name, names, what) {
    const index = names.indexOf(name);
    if (index < 0) throw new EncodeError(`unknown ${what} variant ${String(name)}`);
    this.u32(index, `${what} tag`);
  }

  vec(items, what, writeElement) {
    if (!Array.isArray(items)) throw new EncodeError(`${what} must be an array`);
    this.u64(items.length, `${what} length`);
    for (const item of items) writeElement(this, item);
  }

  finish() {
    return this.buf.slice(0, this.len);
  }
}

// ---------------------------------------------------------------------------------------
// Protocol types
// ---------------------------------------------------------------------------------------

function need(obj, what) {
  if (obj === null || typeof obj !== 'object') throw new EncodeError(`${what} must be an object`);
  return obj;
}

// MapInfo / WallRect

function readWall(r) {
  return {
    min_x: r.i32('WallRect.min_x'),
    min_y: r.i32('WallRect.min_y'),
    max_x: r.i32('WallRect.max_x'),
    max_y: r.i32('WallRect.max_y'),
  };
}

function writeWall(w, wall) {
  need(wall, 'WallRect');
  w.i32(wall.min_x, 'WallRect.min_x');
  w.i32(wall.min_y, 'WallRect.min_y');
  w.i32(wall.max_x, 'WallRect.max_x');
  w.i32(wall.max_y, 'WallRect.max_y');
}

function readMapInfo(r) {
  return {
    name: r.string('MapInfo.name'),
    width: r.i32('MapInfo.width'),
    height: r.i32('MapInfo.height'),
    walls: r.vec('MapInfo.walls', 4, readWall),
  };
}

function writeMapInfo(w, map) {
  need(map, 'MapInfo');
  w.string(map.name, 'MapInfo.name');
  w.i32(map.width, 'MapInfo.width');
  w.i32(map.height, 'MapInfo.height');
  w.vec(map.walls, 'MapInfo.walls', writeWall);
}

// SnapshotSettings (a message of both directions)

function readSettings(r) {
  return { rate: r.u16('SnapshotSettings.rate'), max_bytes_per_sec: r.u32('SnapshotSettings.max_bytes_per_sec') };
}

function writeSettings(w, s) {
  need(s, 'SnapshotSettings');
  w.u16(s.rate, 'SnapshotSettings.rate');
  w.u32(s.max_bytes_per_sec, 'SnapshotSettings.max_bytes_per_sec');
}

// EntityState (13 bytes at least: 10 single-byte varints/bytes, kind, and name length)

const ENTITY_MIN_BYTES = 13;

function readEntity(r) {
  return {
    id: r.u32('EntityState.id'),
    kind: r.variant(ENTITY_KINDS, 'EntityKind'),
    x: r.i32('EntityState.x'),
    y: r.i32('EntityState.y'),
    vx: r.i32('EntityState.vx'),
    vy: r.i32('EntityState.vy'),
    anchor: r.u32('EntityState.anchor'),
    angle: r.u16('EntityState.angle'),
    health: r.u8('EntityState.health'),
    flags: r.u8('EntityState.flags'),
    score: r.u32('EntityState.score'),
    owner: r.u32('EntityState.owner'),
    name: r.string('EntityState.name'),
  };
}

function writeEntity(w, e) {
  need(e, 'EntityState');
  w.u32(e.id, 'EntityState.id');
  w.variant(e.kind, ENTITY_KINDS, 'EntityKind');
  w.i32(e.x, 'EntityState.x');
  w.i32(e.y, 'EntityState.y');
  w.i32(e.vx, 'EntityState.vx');
  w.i32(e.vy, 'EntityState.vy');
  w.u32(e.anchor ?? 0, 'EntityState.anchor');
  w.u16(e.angle, 'EntityState.angle');
  w.u8(e.health, 'EntityState.health');
  w.u8(e.flags, 'EntityState.flags');
  w.u32(e.score, 'EntityState.score');
  w.u32(e.owner, 'EntityState.owner');
  w.string(e.name ?? '', 'EntityState.name');
}

// ClientMessage

function readClientBody(r, type) {
  switch (type) {
    case 'Hello':
      return {
        type,
        protocol_version: r.u16('Hello.protocol_version'),
        name: r.string('Hello.name'),
        join_token: r.string('Hello.join_token'),
        resume_token: r.string('Hello.resume_token'),
      };
    case 'Input':
      return {
        type,
        seq: r.u32('Input.seq'),
        ack_tick: r.u32('Input.ack_tick'),
        move_x: r.i8('Input.move_x'),
        move_y: r.i8('Input.move_y'),
        aim: r.u16('Input.aim'),
        buttons: r.u8('Input.buttons'),
      };
    case 'Ping':
      return { type, client_time: r.u32('Ping.client_time') };
    case 'SnapshotSettings':
      return { type, ...readSettings(r) };
    case 'Desync':
      return { type, tick: r.u32('Desync.tick') };
  }
  throw new DecodeError(`unknown client message ${type}`);
}

function writeClientBody(w, msg) {
  switch (msg.type) {
    case 'Hello':
      w.u16(msg.protocol_version, 'Hello.protocol_version');
      w.string(msg.name, 'Hello.name');
      w.string(msg.join_token ?? '', 'Hello.join_token');
      w.string(msg.resume_token ?? '', 'Hello.resume_token');
      return;
    case 'Input':
      w.u32(msg.seq, 'Input.seq');
      w.u32(msg.ack_tick, 'Input.ack_tick');
      w.i8(msg.move_x, 'Input.move_x');
      w.i8(msg.move_y, 'Input.move_y');
      w.u16(msg.aim, 'Input.aim');
      w.u8(msg.buttons, 'Input.buttons');
      return;
    case 'Ping':
      w.u32(msg.client_time, 'Ping.client_time');
      return;
    case 'SnapshotSettings':
      writeSettings(w, msg);
      return;
    case 'Desync':
      w.u32(msg.tick, 'Desync.tick');
      return;
  }
}

// ServerMessage

function readServerBody(r, type) {
  switch (type) {
    case 'Welcome':
      return {
        type,
        client_id: r.u32('Welcome.client_id'),
        entity: r.u32('Welcome.entity'),
        tick_rate: r.u16('Welcome.tick_rate'),
        snapshot_rate: r.u16('Welcome.snapshot_rate'),
        map: readMapInfo(r),
        aoi_radius: r.u32('Welcome.aoi_radius'),
        packing: r.variant(PACKINGS, 'Packing'),
        settings: readSettings(r),
        room: r.string('Welcome.room'),
        player: r.string('Welcome.player'),
        resume_token: r.string('Welcome.resume_token'),
        resume_grace_s: r.u16('Welcome.resume_grace_s'),
        resumed: r.bool('Welcome.resumed'),
      };
    case 'Snapshot':
      return {
        type,
        tick: r.u32('Snapshot.tick'),
        baseline: r.u32('Snapshot.baseline'),
        last_input_seq: r.u32('Snapshot.last_input_seq'),
        checksum: r.u32('Snapshot.checksum'),
        payload: r.byteVec('Snapshot.payload'),
      };
    case 'Pong':
      return { type, client_time: r.u32('Pong.client_time'), server_tick: r.u32('Pong.server_tick') };
    case 'SnapshotSettings':
      return { type, ...readSettings(r) };
    case 'FullSnapshot':
      return {
        type,
        tick: r.u32('FullSnapshot.tick'),
        last_input_seq: r.u32('FullSnapshot.last_input_seq'),
        entities: r.vec('FullSnapshot.entities', ENTITY_MIN_BYTES, readEntity),
      };
  }
  throw new DecodeError(`unknown server message ${type}`);
}

function writeServerBody(w, msg) {
  switch (msg.type) {
    case 'Welcome':
      w.u32(msg.client_id, 'Welcome.client_id');
      w.u32(msg.entity, 'Welcome.entity');
      w.u16(msg.tick_rate, 'Welcome.tick_rate');
      w.u16(msg.snapshot_rate, 'Welcome.snapshot_rate');
      writeMapInfo(w, msg.map);
      w.u32(msg.aoi_radius, 'Welcome.aoi_radius');
      w.variant(msg.packing, PACKINGS, 'Packing');
      writeSettings(w, msg.settings);
      w.string(msg.room ?? '', 'Welcome.room');
      w.string(msg.player ?? '', 'Welcome.player');
      w.string(msg.resume_token ?? '', 'Welcome.resume_token');
      w.u16(msg.resume_grace_s ?? 0, 'Welcome.resume_grace_s');
      w.bool(msg.resumed ?? false, 'Welcome.resumed');
      return;
    case 'Snapshot':
      w.u32(msg.tick, 'Snapshot.tick');
      w.u32(msg.baseline, 'Snapshot.baseline');
      w.u32(msg.last_input_seq, 'Snapshot.last_input_seq');
      w.u32(msg.checksum, 'Snapshot.checksum');
      w.byteVec(msg.payload, 'Snapshot.payload');
      return;
    case 'Pong':
      w.u32(msg.client_time, 'Pong.client_time');
      w.u32(msg.server_tick, 'Pong.server_tick');
      return;
    case 'SnapshotSettings':
      writeSettings(w, msg);
      return;
    case 'FullSnapshot':
      w.u32(msg.tick, 'FullSnapshot.tick');
      w.u32(msg.last_input_seq, 'FullSnapshot.last_input_seq');
      w.vec(msg.entities, 'FullSnapshot.entities', writeEntity);
      return;
  }
}

// ---------------------------------------------------------------------------------------
// Public API: messages
// ---------------------------------------------------------------------------------------

/** Encodes a ClientMessage object to bytes (Uint8Array). Throws EncodeError on bad input. */
export function encodeClientMessage(msg) {
  need(msg, 'ClientMessage');
  const w = new Writer(32);
  w.variant(msg.type, CLIENT_MESSAGE_TYPES, 'ClientMessage');
  writeClientBody(w, msg);
  return w.finish();
}

/** Decodes one whole ClientMessage (what the server does). Throws DecodeError. */
export function decodeClientMessage(bytes) {
  const r = new Reader(bytes);
  if (r.bytes.length > MAX_CLIENT_MESSAGE_BYTES) {
    throw new DecodeError(`client message of ${r.bytes.length} bytes exceeds ${MAX_CLIENT_MESSAGE_BYTES}`);
  }
  const msg = readClientBody(r, r.variant(CLIENT_MESSAGE_TYPES, 'ClientMessage'));
  r.finish('ClientMessage');
  return msg;
}

/** Encodes a ServerMessage object (used by tests and tools). Throws EncodeError. */
export function encodeServerMessage(msg) {
  need(msg, 'ServerMessage');
  const w = new Writer(256);
  w.variant(msg.type, SERVER_MESSAGE_TYPES, 'ServerMessage');
  writeServerBody(w, msg);
  return w.finish();
}

/** Decodes one whole ServerMessage from a frame. Throws DecodeError. */
export function decodeServerMessage(bytes) {
  const r = new Reader(bytes);
  if (r.bytes.length > MAX_SERVER_MESSAGE_BYTES) {
    throw new DecodeError(`server message of ${r.bytes.length} bytes exceeds ${MAX_SERVER_MESSAGE_BYTES}`);
  }
  const msg = readServerBody(r, r.variant(SERVER_MESSAGE_TYPES, 'ServerMessage'));
  r.finish('ServerMessage');
  return msg;
}

// Convenience constructors for the client messages.

/**
 * Opens a session. `joinToken` is the `token` of `POST /api/rooms/{id}/join` (empty for an
 * anonymous join, where the server allows them); `resumeToken` is the `resume_token` of
 * the previous session's Welcome, to take back the same player after a lost connection.
 */
export function hello(name, { joinToken = '', resumeToken = '' } = {}) {
  return encodeClientMessage({
    type: 'Hello',
    protocol_version: PROTOCOL_VERSION,
    name,
    join_token: joinToken,
    resume_token: resumeToken,
  });
}

export function input(seq, ackTick, moveX, moveY, aim, buttons) {
  return encodeClientMessage({
    type: 'Input',
    seq,
    ack_tick: ackTick,
    move_x: moveX,
    move_y: moveY,
    aim,
    buttons,
  });
}

export function ping(clientTime) {
  return encodeClientMessage({ type: 'Ping', client_time: clientTime });
}

/** Asks for a snapshot rate (per second) and a payload budget (bytes per second). */
export function snapshotSettings(rate, maxBytesPerSec) {
  return encodeClientMessage({ type: 'SnapshotSettings', rate, max_bytes_per_sec: maxBytesPerSec });
}

/** Reports that the snapshot of `tick` failed its checksum; the server answers with a keyframe. */
export function desync(tick) {
  return encodeClientMessage({ type: 'Desync', tick });
}

/**
 * Checks a display name like Hello::validate on the server: trimmed, 1 to 16 characters,
 * no control characters. Returns the trimmed name, or throws an Error with the reason.
 */
export function validateName(raw) {
  const name = String(raw).trim();
  if (name.length === 0) throw new Error('name is empty');
  if ([...name].length > MAX_NAME_CHARS) throw new Error(`name is longer than ${MAX_NAME_CHARS} characters`);
  if (/\p{Cc}/u.test(name)) throw new Error('name contains control characters');
  return name;
}

// =======================================================================================
// Delta snapshots (shared::pack, shared::delta, shared::quant::advance)
// =======================================================================================
//
// Integer conventions, mirroring Rust's wrapping operations on Numbers:
//   u32 wrapping result  → `>>> 0`      i32 wrapping result → `| 0`
//   u16 wrapping result  → `& 0xffff`   `as i16`            → `(v << 16) >> 16`
// Every intermediate value stays below 2^53, so these are exact.

/** Field mask bits of a changed entity, in the order their values follow the mask. */
export const FIELD = Object.freeze({
  ANCHOR: 1,
  POS: 2,
  VEL: 4,
  ANGLE: 8,
  HEALTH: 16,
  FLAGS: 32,
  SCORE: 64,
  NAME: 128,
});

/** Longest name accepted in a payload, in bytes. */
export const MAX_NAME_BYTES = 64;

/** Exp-Golomb orders per value (shared::delta::k). */
export const DELTA_K = Object.freeze({
  COUNT: 3,
  ID_GAP: 1,
  ABS_POS: 12,
  ABS_VEL: 6,
  AGE: 2,
  SCORE: 1,
  NAME_LEN: 3,
  OWNER: 8,
  POS_RESIDUAL: 2,
  VEL_DELTA: 4,
  ANGLE_DELTA: 6,
  SCORE_DELTA: 0,
});

/** Most entities one payload may create or change. */
const MAX_RECORDS = 1 << 16;

const PACK_MESSAGES = Object.freeze({
  Truncated: 'payload ended early',
  Overlong: 'integer code too long',
  Trailing: 'non-zero padding after the payload',
});

/** A malformed packed payload (shared::pack::PackError): `kind` is 'Truncated', 'Overlong' or 'Trailing'. */
export class PackError extends DecodeError {
  constructor(kind) {
    super(PACK_MESSAGES[kind] ?? kind);
    this.name = 'PackError';
    this.kind = kind;
  }
}

/**
 * Why a snapshot could not be applied (shared::delta::DeltaError). `kind` names the Rust
 * variant; the details are properties:
 *   'Pack' {pack}         malformed payload ('Truncated' | 'Overlong' | 'Trailing')
 *   'Baseline' {held, got} relative to a tick the view does not hold (view unchanged)
 *   'Unknown' {id}        removes or changes an entity the view lacks
 *   'Duplicate' {id}      creates an entity the view already has
 *   'Order'               ids overflow u32
 *   'Kind' {code}         unknown entity kind code
 *   'Name'                name longer than 64 bytes or not UTF-8
 *   'Checksum' {expected, got}  the view was updated but does not hash as it should
 * Every kind but 'Checksum' leaves the view as it was.
 */
export class DeltaError extends DecodeError {
  constructor(kind, details = {}) {
    super(deltaMessage(kind, details));
    this.name = 'DeltaError';
    this.kind = kind;
    Object.assign(this, details);
  }
}

function hex32(v) {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

function deltaMessage(kind, d) {
  switch (kind) {
    case 'Pack':
      return `malformed payload: ${PACK_MESSAGES[d.pack] ?? d.pack}`;
    case 'Baseline':
      return `snapshot is relative to tick ${d.got}, but the view holds tick ${d.held}`;
    case 'Unknown':
      return `entity ${d.id} is not in the view`;
    case 'Duplicate':
      return `entity ${d.id} is already in the view`;
    case 'Order':
      return 'ids are not ascending';
    case 'Kind':
      return `unknown entity kind ${d.code}`;
    case 'Name':
      return 'invalid name';
    case 'Checksum':
      return `checksum mismatch: view hashes to ${hex32(d.got)}, snapshot says ${hex32(d.expected)}`;
  }
  return kind;
}

export function zigzag(v) {
  return ((v << 1) ^ (v >> 31)) >>> 0;
}

export function unzigzag(u) {
  return ((u >>> 1) ^ -(u & 1)) | 0;
}

// ---------------------------------------------------------------------------------------
// Packings (shared::pack)
// ---------------------------------------------------------------------------------------

/** Reads bits least-significant first within each byte; Exp-Golomb order-k integers. */
export class BitReader {
  constructor(bytes) {
    this.bytes = toUint8Array(bytes);
    this.pos = 0; // in bits
  }

  bit() {
    const i = Math.floor(this.pos / 8);
    if (i >= this.bytes.length) throw new PackError('Truncated');
    const b = (this.bytes[i] >>> (this.pos % 8)) & 1;
    this.pos++;
    return b;
  }

  /** Up to 53 raw bits, the first one read being the least significant. */
  wide(n) {
    let v = 0;
    let weight = 1;
    for (let i = 0; i < n; i++) {
      if (this.bit()) v += weight;
      weight *= 2;
    }
    return v;
  }

  /** `n` ≤ 32 raw bits. */
  bits(n) {
    return this.wide(Math.min(n, 32));
  }

  /** An Exp-Golomb code of order k: zeros, a one, then `zeros + k` low bits. */
  uint(k) {
    let prefix = 0;
    while (!this.bit()) {
      prefix++;
      // A u32 plus 2^k never needs more than 33 bits.
      if (prefix + k > 33) throw new PackError('Overlong');
    }
    const len = prefix + k + 1;
    const v = 2 ** (len - 1) + this.wide(len - 1);
    const value = v - 2 ** k;
    if (value > 0xffffffff) throw new PackError('Overlong');
    return value;
  }

  sint(k) {
    return unzigzag(this.uint(k));
  }

  /** Only the padding of the last byte may remain, and it must be zero. */
  finish() {
    const total = this.bytes.length * 8;
    if (total - this.pos >= 8) throw new PackError('Trailing');
    while (this.pos < total) {
      if (this.bit()) throw new PackError('Trailing');
    }
  }
}

/** Byte-aligned packing: LEB128 varints, fixed-width fields in whole little-endian bytes. */
export class ByteReader {
  constructor(bytes) {
    this.bytes = toUint8Array(bytes);
    this.pos = 0; // in bytes
  }

  byte() {
    if (this.pos >= this.bytes.length) throw new PackError('Truncated');
    return this.bytes[this.pos++];
  }

  bits(n) {
    let v = 0;
    const count = Math.ceil(Math.min(n, 32) / 8);
    for (let i = 0; i < count; i++) v += this.byte() * 2 ** (8 * i);
    return v;
  }

  uint(_k) {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (v > 0xffffffff) throw new PackError('Overlong');
        return v;
      }
    }
    throw new PackError('Overlong');
  }

  sint(k) {
    return unzigzag(this.uint(k));
  }

  finish() {
    if (this.pos !== this.bytes.length) throw new PackError('Trailing');
  }
}

/** The writer matching BitReader (for tests and tools; the server is the real encoder). */
export class BitWriter {
  constructor() {
    this.out = [];
    this.used = 0; // bits used in the last byte; 0 = full or none
  }

  bit(b) {
    if (this.used === 0) this.out.push(0);
    if (b) this.out[this.out.length - 1] |= 1 << this.used;
    this.used = (this.used + 1) % 8;
  }

  wide(value, n) {
    for (let i = 0; i < n; i++) this.bit(Math.floor(value / 2 ** i) % 2);
  }

  bits(value, n) {
    this.wide(value >>> 0, Math.min(n, 32));
  }

  uint(value, k) {
    const v = (value >>> 0) + 2 ** k;
    let len = 0;
    while (2 ** len <= v) len++;
    for (let i = 0; i < len - k - 1; i++) this.bit(0);
    this.bit(1);
    this.wide(v, len - 1);
  }

  sint(value, k) {
    this.uint(zigzag(value), k);
  }

  get bitLength() {
    return this.used === 0 ? this.out.length * 8 : (this.out.length - 1) * 8 + this.used;
  }

  finish() {
    return Uint8Array.from(this.out);
  }
}

/** The writer matching ByteReader. */
export class ByteWriter {
  constructor() {
    this.out = [];
  }

  bits(value, n) {
    const count = Math.ceil(Math.min(n, 32) / 8);
    for (let i = 0; i < count; i++) this.out.push((value >>> (8 * i)) & 0xff);
  }

  uint(value, _k) {
    let v = value >>> 0;
    for (;;) {
      const low = v % 128;
      v = Math.floor(v / 128);
      if (v === 0) {
        this.out.push(low);
        return;
      }
      this.out.push(low | 0x80);
    }
  }

  sint(value, k) {
    this.uint(zigzag(value), k);
  }

  get bitLength() {
    return this.out.length * 8;
  }

  finish() {
    return Uint8Array.from(this.out);
  }
}

function unpacker(packing, payload) {
  if (packing === 'Bits') return new BitReader(payload);
  if (packing === 'Bytes') return new ByteReader(payload);
  throw new TypeError(`unknown packing ${String(packing)}`);
}

function packer(packing) {
  if (packing === 'Bits') return new BitWriter();
  if (packing === 'Bytes') return new ByteWriter();
  throw new TypeError(`unknown packing ${String(packing)}`);
}

// ---------------------------------------------------------------------------------------
// Trajectories (shared::quant::advance, EntityState::position_at)
// ---------------------------------------------------------------------------------------

const I32_MIN = -0x80000000;
const I32_MAX = 0x7fffffff;
const clampI32 = (v) => (v < I32_MIN ? I32_MIN : v > I32_MAX ? I32_MAX : v);

/**
 * Moves a position (steps) by a velocity (steps per second) for `ticks` ticks at
 * `tickRate` ticks per second, rounding half up: pos + floor((2·vel·ticks + rate) /
 * (2·rate)), clamped to i32. Exact for integer arguments, like the Rust original.
 *
 * A non-integer `ticks` (a render time between ticks) gives the same formula evaluated
 * in floating point: the rounded position at that instant.
 */
export function advance(pos, vel, ticks, tickRate) {
  const rate = Math.max(1, tickRate);
  // Bounded as in Rust, so |2 * vel * t| <= 2^52 and all of this is exact in doubles.
  const t = Math.min(MAX_ADVANCE_TICKS, Math.max(-MAX_ADVANCE_TICKS, ticks));
  const top = 2 * vel * t + rate;
  const div = 2 * rate;
  // Exact floor division (JS `%` is exact and keeps the dividend's sign).
  const rem = top % div;
  const moved = (top - rem) / div - (rem < 0 ? 1 : 0);
  return clampI32(pos + moved);
}

/** Longest stretch a trajectory is extrapolated, in ticks (shared::quant::MAX_ADVANCE_TICKS). */
export const MAX_ADVANCE_TICKS = 2 ** 20;

/**
 * Position of an entity at `tick` in position steps, as `[x, y]`: its own x/y when
 * `anchor` is 0 (players), else where its trajectory (x/y at tick `anchor`, moving at
 * vx/vy since) has taken it. Identical to EntityState::position_at for integer ticks.
 */
export function positionAt(e, tick, tickRate) {
  if (!e.anchor) return [e.x, e.y];
  const elapsed = tick - e.anchor;
  return [advance(e.x, e.vx, elapsed, tickRate), advance(e.y, e.vy, elapsed, tickRate)];
}

// ---------------------------------------------------------------------------------------
// Payload coding (shared::delta)
// ---------------------------------------------------------------------------------------

function kindCode(kind) {
  const code = ENTITY_KINDS.indexOf(kind);
  if (code < 0) throw new EncodeError(`unknown entity kind ${String(kind)}`);
  return code;
}

function kindFrom(code) {
  const kind = ENTITY_KINDS[code];
  if (kind === undefined) throw new DeltaError('Kind', { code });
  return kind;
}

function elapsed(frame) {
  return frame.tick - frame.baseline;
}

/** Where a changed entity's new position is coded against. */
function positionReference(b, newAnchor, frame) {
  if (b.kind === 'Player') {
    const t = elapsed(frame);
    return [advance(b.x, b.vx, t, frame.tickRate), advance(b.y, b.vy, t, frame.tickRate)];
  }
  // A new trajectory starts where the old one had got to at its anchor tick.
  return positionAt(b, newAnchor, frame.tickRate);
}

function utf8Of(name) {
  return name ? utf8Encoder.encode(name) : new Uint8Array(0);
}

function writeName(p, name) {
  const bytes = utf8Of(name);
  const len = Math.min(bytes.length, MAX_NAME_BYTES);
  p.uint(len, DELTA_K.NAME_LEN);
  for (let i = 0; i < len; i++) p.bits(bytes[i], 8);
}

function readName(u) {
  const len = u.uint(DELTA_K.NAME_LEN);
  if (len > MAX_NAME_BYTES) throw new DeltaError('Name');
  const bytes = new Uint8Array(len);
  for (let i = 0; i < len; i++) bytes[i] = u.bits(8);
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw new DeltaError('Name');
  }
}

function writeCreated(p, e, frame) {
  p.bits(kindCode(e.kind), 2);
  p.sint(e.x, DELTA_K.ABS_POS);
  p.sint(e.y, DELTA_K.ABS_POS);
  p.sint(e.vx, DELTA_K.ABS_VEL);
  p.sint(e.vy, DELTA_K.ABS_VEL);
  if (e.kind !== 'Player') p.uint((frame.tick - e.anchor) >>> 0, DELTA_K.AGE);
  p.bits(e.angle, 16);
  p.bits(e.health, 8);
  if (e.kind === 'Player') {
    p.bits(e.flags, 8);
    p.uint(e.score, DELTA_K.SCORE);
    writeName(p, e.name);
  } else if (e.kind === 'Projectile') {
    p.uint(e.owner, DELTA_K.OWNER);
  }
}

function readCreated(u, id, frame) {
  const kind = kindFrom(u.bits(2));
  const x = u.sint(DELTA_K.ABS_POS);
  const y = u.sint(DELTA_K.ABS_POS);
  const vx = u.sint(DELTA_K.ABS_VEL);
  const vy = u.sint(DELTA_K.ABS_VEL);
  const anchor = kind === 'Player' ? 0 : (frame.tick - u.uint(DELTA_K.AGE)) >>> 0;
  const angle = u.bits(16) & 0xffff;
  const health = u.bits(8) & 0xff;
  let flags = 0;
  let score = 0;
  let owner = 0;
  let name = '';
  if (kind === 'Player') {
    flags = u.bits(8) & 0xff;
    score = u.uint(DELTA_K.SCORE);
    name = readName(u);
  } else if (kind === 'Projectile') {
    owner = u.uint(DELTA_K.OWNER);
  }
  return { id, kind, x, y, vx, vy, anchor, angle, health, flags, score, owner, name };
}

function writeChanged(p, b, t, mask, frame) {
  p.bits(mask, 8);
  if (mask & FIELD.ANCHOR) p.uint((frame.tick - t.anchor) >>> 0, DELTA_K.AGE);
  if (mask & FIELD.POS) {
    const [rx, ry] = positionReference(b, t.anchor, frame);
    p.sint((t.x - rx) | 0, DELTA_K.POS_RESIDUAL);
    p.sint((t.y - ry) | 0, DELTA_K.POS_RESIDUAL);
  }
  if (mask & FIELD.VEL) {
    p.sint((t.vx - b.vx) | 0, DELTA_K.VEL_DELTA);
    p.sint((t.vy - b.vy) | 0, DELTA_K.VEL_DELTA);
  }
  if (mask & FIELD.ANGLE) p.sint(((t.angle - b.angle) << 16) >> 16, DELTA_K.ANGLE_DELTA);
  if (mask & FIELD.HEALTH) p.bits(t.health, 8);
  if (mask & FIELD.FLAGS) p.bits(t.flags, 8);
  if (mask & FIELD.SCORE) p.sint((t.score - b.score) | 0, DELTA_K.SCORE_DELTA);
  if (mask & FIELD.NAME) writeName(p, t.name);
}

function readChanged(u, b, frame) {
  const mask = u.bits(8) & 0xff;
  const t = { ...b };
  if (mask & FIELD.ANCHOR) t.anchor = (frame.tick - u.uint(DELTA_K.AGE)) >>> 0;
  if (mask & FIELD.POS) {
    const [rx, ry] = positionReference(b, t.anchor, frame);
    t.x = (rx + u.sint(DELTA_K.POS_RESIDUAL)) | 0;
    t.y = (ry + u.sint(DELTA_K.POS_RESIDUAL)) | 0;
  }
  if (mask & FIELD.VEL) {
    t.vx = (b.vx + u.sint(DELTA_K.VEL_DELTA)) | 0;
    t.vy = (b.vy + u.sint(DELTA_K.VEL_DELTA)) | 0;
  }
  if (mask & FIELD.ANGLE) t.angle = (b.angle + u.sint(DELTA_K.ANGLE_DELTA)) & 0xffff;
  if (mask & FIELD.HEALTH) t.health = u.bits(8) & 0xff;
  if (mask & FIELD.FLAGS) t.flags = u.bits(8) & 0xff;
  if (mask & FIELD.SCORE) t.score = (b.score + u.sint(DELTA_K.SCORE_DELTA)) >>> 0;
  if (mask & FIELD.NAME) t.name = readName(u);
  return t;
}

/** Which fields of `b` differ in `t` (same id, kind and owner): a FIELD mask. */
export function changedFields(b, t) {
  let mask = 0;
  if (b.anchor !== t.anchor) mask |= FIELD.ANCHOR;
  if (b.x !== t.x || b.y !== t.y) mask |= FIELD.POS;
  if (b.vx !== t.vx || b.vy !== t.vy) mask |= FIELD.VEL;
  if (b.angle !== t.angle) mask |= FIELD.ANGLE;
  if (b.health !== t.health) mask |= FIELD.HEALTH;
  if (b.flags !== t.flags) mask |= FIELD.FLAGS;
  if (b.score !== t.score) mask |= FIELD.SCORE;
  if (b.name !== t.name) mask |= FIELD.NAME;
  return mask;
}

/**
 * Diffs two views sorted by id: `{removed: [id], created: [target index],
 * changed: [[base index, target index, mask]]}`, all ascending. An entity whose kind or
 * owner changed is removed and created again.
 */
export function diff(base, target) {
  const out = { removed: [], created: [], changed: [] };
  let i = 0;
  let j = 0;
  while (i < base.length || j < target.length) {
    const b = base[i];
    const t = target[j];
    if (t === undefined || (b !== undefined && b.id < t.id)) {
      out.removed.push(b.id);
      i++;
    } else if (b === undefined || b.id > t.id) {
      out.created.push(j);
      j++;
    } else {
      if (b.kind !== t.kind || b.owner !== t.owner) {
        out.removed.push(b.id);
        out.created.push(j);
      } else {
        const mask = changedFields(b, t);
        if (mask !== 0) out.changed.push([i, j, mask]);
      }
      i++;
      j++;
    }
  }
  return out;
}

/**
 * The view a client holds after receiving the given part of a diff: `base` without
 * `removed` ids, with the `changed` entities (by target index) and the `created` ones
 * taken from `target`. Index lists must be ascending. Entity objects are shared, never
 * copied: treat them as immutable.
 */
export function merge(base, target, removed, created, changed) {
  const out = [];
  const made = [];
  for (const j of created) if (target[j] !== undefined) made.push(target[j]);
  let r = 0;
  let c = 0;
  let ch = 0;
  for (let i = 0; i < base.length; i++) {
    const b = base[i];
    while (c < made.length && made[c].id < b.id) out.push(made[c++]);
    if (r < removed.length && removed[r] === b.id) {
      r++;
      // A kind change re-creates the same id right here.
      if (c < made.length && made[c].id === b.id) out.push(made[c++]);
      continue;
    }
    if (ch < changed.length && changed[ch][0] === i) {
      out.push(target[changed[ch][1]] ?? b);
      ch++;
    } else {
      out.push(b);
    }
  }
  while (c < made.length) out.push(made[c++]);
  return out;
}

function writeGap(p, prev, id) {
  p.uint((id - prev - 1) >>> 0, DELTA_K.ID_GAP);
  return id;
}

function readGap(u, prev) {
  const id = prev + 1 + u.uint(DELTA_K.ID_GAP);
  if (id > 0xffffffff) throw new DeltaError('Order');
  return id;
}

/**
 * Encodes the chosen part of a diff (indices as `diff` returns them) with the given
 * packing: what the server sends. `frame` is `{tick, baseline, tickRate}`.
 */
export function encodePayload(packing, frame, base, target, removed, created, changed) {
  const p = packer(packing);
  p.uint(removed.length, DELTA_K.COUNT);
  let prev = 0;
  for (const id of removed) prev = writeGap(p, prev, id);
  // Like the Rust writer, the counts are those of the index lists (indices out of range
  // are skipped, which only a buggy caller produces).
  p.uint(created.length, DELTA_K.COUNT);
  prev = 0;
  for (const e of created.map((j) => target[j]).filter((e) => e !== undefined)) {
    prev = writeGap(p, prev, e.id);
    writeCreated(p, e, frame);
  }
  p.uint(changed.length, DELTA_K.COUNT);
  prev = 0;
  for (const [i, j, mask] of changed.filter(([i, j]) => base[i] !== undefined && target[j] !== undefined)) {
    prev = writeGap(p, prev, target[j].id);
    writeChanged(p, base[i], target[j], mask, frame);
  }
  return p.finish();
}

function readCount(u) {
  const n = u.uint(DELTA_K.COUNT);
  if (n > MAX_RECORDS) throw new PackError('Overlong');
  return n;
}

/** Index of `id` in a view sorted by id, or -1. */
function find(view, id) {
  let lo = 0;
  let hi = view.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = view[mid].id;
    if (v === id) return mid;
    if (v < id) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

function readPayload(u, frame, base) {
  let n = readCount(u);
  const removed = [];
  const removedSet = new Set();
  let prev = 0;
  for (let k = 0; k < n; k++) {
    const id = (prev = readGap(u, prev));
    if (find(base, id) < 0) throw new DeltaError('Unknown', { id });
    removed.push(id);
    removedSet.add(id);
  }
  n = readCount(u);
  const target = [];
  const created = [];
  prev = 0;
  for (let k = 0; k < n; k++) {
    const id = (prev = readGap(u, prev));
    if (find(base, id) >= 0 && !removedSet.has(id)) throw new DeltaError('Duplicate', { id });
    created.push(target.length);
    target.push(readCreated(u, id, frame));
  }
  n = readCount(u);
  const changed = [];
  prev = 0;
  for (let k = 0; k < n; k++) {
    const id = (prev = readGap(u, prev));
    const i = find(base, id);
    if (i < 0 || removedSet.has(id)) throw new DeltaError('Unknown', { id });
    changed.push([i, target.length, 0]);
    target.push(readChanged(u, base[i], frame));
  }
  u.finish();
  return merge(base, target, removed, created, changed);
}

/**
 * Rebuilds the view a payload describes from the view it is relative to (sorted by id;
 * not modified). `frame` is `{tick, baseline, tickRate}`. Throws DeltaError.
 */
export function decodePayload(packing, frame, base, payload) {
  const u = unpacker(packing, payload);
  try {
    return readPayload(u, frame, base);
  } catch (e) {
    if (e instanceof PackError) throw new DeltaError('Pack', { pack: e.kind });
    throw e;
  }
}

/**
 * Hash of a view sorted by id: FNV-1a over 32-bit words (id, kind code, x, y, vx, vy,
 * anchor, angle, health, flags, score, owner, name length in UTF-8 bytes, each name
 * byte), then MurmurHash3's 32-bit finaliser. Returns a u32.
 */
export function entityHash(e) {
  let h = 0x811c9dc5;
  const word = (w) => {
    h = Math.imul(h ^ w, 0x01000193);
  };
  word(e.id);
  word(ENTITY_KINDS.indexOf(e.kind));
  word(e.x);
  word(e.y);
  word(e.vx);
  word(e.vy);
  word(e.anchor);
  word(e.angle);
  word(e.health);
  word(e.flags);
  word(e.score);
  word(e.owner);
  const name = utf8Of(e.name);
  word(name.length);
  for (const b of name) word(b);
  return h >>> 0;
}

/** Checksum of a view sorted by id: FNV-1a over per-entity hashes, then fmix32. */
export function checksum(view) {
  let h = 0x811c9dc5;
  for (const e of view) h = Math.imul(h ^ entityHash(e), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// ---------------------------------------------------------------------------------------
// ClientView (shared::delta::ClientView)
// ---------------------------------------------------------------------------------------

/** A client's copy of the replicated state, kept up to date by snapshots. */
export class ClientView {
  constructor() {
    this._tick = 0;
    this._entities = [];
  }

  /** Tick of the newest snapshot applied (0 before any). */
  get tick() {
    return this._tick;
  }

  /** Entities sorted by id. Treat them as read-only: views share entity objects. */
  get entities() {
    return this._entities;
  }

  get(id) {
    const i = find(this._entities, id);
    return i < 0 ? undefined : this._entities[i];
  }

  clone() {
    const v = new ClientView();
    v._tick = this._tick;
    v._entities = this._entities.slice();
    return v;
  }

  checksum() {
    return checksum(this._entities);
  }

  /**
   * Applies a decoded Snapshot message (`{tick, baseline, checksum, payload}`) with the
   * Welcome's tick rate and packing. Throws DeltaError: kind 'Baseline' or a decode error
   * leave the view as it was; kind 'Checksum' comes after the view was updated (later
   * deltas build on it) and means: ask for a keyframe with Desync.
   */
  apply(snap, tickRate, packing) {
    let base;
    if (snap.baseline === 0) base = [];
    else if (snap.baseline === this._tick) base = this._entities;
    else throw new DeltaError('Baseline', { held: this._tick, got: snap.baseline });
    const frame = { tick: snap.tick, baseline: snap.baseline, tickRate };
    const view = decodePayload(packing, frame, base, snap.payload);
    const got = checksum(view);
    this._entities = view;
    this._tick = snap.tick;
    if (got !== snap.checksum) throw new DeltaError('Checksum', { expected: snap.checksum, got });
  }

  /** Replaces the view with a decoded FullSnapshot (`--snapshots full`). */
  applyFull(full) {
    const sorted = full.entities.slice().sort((a, b) => a.id - b.id); // stable
    this._entities = sorted.filter((e, i) => i === 0 || sorted[i - 1].id !== e.id);
    this._tick = full.tick;
  }

  /** `positionAt(entity, tick, tickRate)`; `entity` may also be an id in this view. */
  positionAt(entity, tick, tickRate) {
    const e = typeof entity === 'number' ? this.get(entity) : entity;
    return e === undefined ? undefined : positionAt(e, tick, tickRate);
  }
}
