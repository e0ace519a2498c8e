// Tickwire wire codec for the browser client (and node tests): protocol v4.
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
// variant, e.g. `{ type: 'Ping', client_time: 5 }`; packings are 'Bits' and 'Bytes'.
// Snapshot.payload decodes to a Uint8Array (the encoder also takes an array of bytes).
//
// Protocol v5 is game-agnostic: Welcome carries the room's replication schema
// (shared/src/schema.rs), `{game, components: [{name, fields: [{name, kind}]}]}` with
// kinds as `{type: 'Bits', width}`, `{type: 'Uint', k}`, `{type: 'Int', k}`,
// `{type: 'Fixed', scale, k}`, `{type: 'Angle', bits}`, `{type: 'Text', maxBytes}`,
// `{type: 'Entity'}` and `{type: 'Motion', model: 'Predicted' | 'Trajectory', scale}`.
// `new Layout(schema)` checks it and places every field; entities are plain objects
// `{id, present, ints, texts}` (a presence bit per component, then the slots the layout
// assigns), read through `getField` / `getText` / `getMotion` with a reference from
// `layout.field(component, field)`. Nothing in this module knows any game.
//
// The second half ports the delta snapshots (shared/src/delta.rs, shared/src/pack.rs):
// bit and byte readers and writers, the schema-driven payload coder, merge, checksum,
// motions, and a client's view in `ClientView`.
//
// Pure functions only: no DOM, no IO. Decoding never reads out of bounds: malformed,
// truncated or over-long input throws a DecodeError (or one of its subclasses PackError
// and DeltaError) with an explanation, and bytes left over after a complete message are
// rejected, exactly like the Rust decoders.

export const PROTOCOL_VERSION = 7;
/** Most ticks' intents one Input carries (shared::protocol::MAX_INPUT_FRAMES). */
export const MAX_INPUT_FRAMES = 8;
export const MAX_NAME_CHARS = 16;
/** Largest server message the decoder accepts (shared::codec::MAX_SERVER_MESSAGE_BYTES). */
export const MAX_SERVER_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Largest client message the server accepts (shared::codec::MAX_CLIENT_MESSAGE_BYTES). */
export const MAX_CLIENT_MESSAGE_BYTES = 1024;

/** The engine's usual scale: 1/64 m position steps and 1/64 m/s velocity steps. */
export const POS_SCALE = 64;
export const VEL_SCALE = 64;
/** Angle steps per full turn. */
export const ANGLE_STEPS = 65536;

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
  4017: 'kicked by the operator',
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

  /** Four raw bytes, little-endian (not a varint). */
  fixedU32(v, what = 'u32') {
    checkInt(v, 0, 0xffffffff, what);
    this.reserve(4);
    this.view.setUint32(this.len, v, true);
    this.len += 4;
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
// Schema (shared::schema::Schema and its parts)

/** FieldKind variants in declaration order (their bincode variant indices). */
export const FIELD_KINDS = Object.freeze(['Bits', 'Uint', 'Int', 'Fixed', 'Angle', 'Text', 'Entity', 'Motion']);
/** MotionModel variants in declaration order. */
export const MOTION_MODELS = Object.freeze(['Predicted', 'Trajectory']);

function readKind(r) {
  const type = r.variant(FIELD_KINDS, 'FieldKind');
  switch (type) {
    case 'Bits':
      return { type, width: r.u8('FieldKind::Bits.width') };
    case 'Uint':
    case 'Int':
      return { type, k: r.u8(`FieldKind::${type}.k`) };
    case 'Fixed':
      return { type, scale: r.u32('FieldKind::Fixed.scale'), k: r.u8('FieldKind::Fixed.k') };
    case 'Angle':
      return { type, bits: r.u8('FieldKind::Angle.bits') };
    case 'Text':
      return { type, maxBytes: r.u16('FieldKind::Text.max_bytes') };
    case 'Motion':
      return { type, model: r.variant(MOTION_MODELS, 'MotionModel'), scale: r.u32('FieldKind::Motion.scale') };
    default:
      return { type };
  }
}

function writeKind(w, kind) {
  need(kind, 'FieldKind');
  w.variant(kind.type, FIELD_KINDS, 'FieldKind');
  switch (kind.type) {
    case 'Bits':
      w.u8(kind.width, 'FieldKind::Bits.width');
      return;
    case 'Uint':
    case 'Int':
      w.u8(kind.k, `FieldKind::${kind.type}.k`);
      return;
    case 'Fixed':
      w.u32(kind.scale, 'FieldKind::Fixed.scale');
      w.u8(kind.k, 'FieldKind::Fixed.k');
      return;
    case 'Angle':
      w.u8(kind.bits, 'FieldKind::Angle.bits');
      return;
    case 'Text':
      w.u16(kind.maxBytes, 'FieldKind::Text.max_bytes');
      return;
    case 'Motion':
      w.variant(kind.model, MOTION_MODELS, 'MotionModel');
      w.u32(kind.scale, 'FieldKind::Motion.scale');
      return;
  }
}

// Minimum encoded sizes bound forged lengths by the bytes left: a FieldDef is a name
// length and a kind tag, a ComponentDef a name length and a field count.
function readSchema(r) {
  return {
    game: r.string('Schema.game'),
    components: r.vec('Schema.components', 2, (r) => ({
      name: r.string('ComponentDef.name'),
      fields: r.vec('ComponentDef.fields', 2, (r) => ({ name: r.string('FieldDef.name'), kind: readKind(r) })),
    })),
  };
}

function writeSchema(w, schema) {
  need(schema, 'Schema');
  w.string(schema.game, 'Schema.game');
  w.vec(schema.components, 'Schema.components', (w, c) => {
    need(c, 'ComponentDef');
    w.string(c.name, 'ComponentDef.name');
    w.vec(c.fields, 'ComponentDef.fields', (w, f) => {
      need(f, 'FieldDef');
      w.string(f.name, 'FieldDef.name');
      writeKind(w, f.kind);
    });
  });
}

// EntityState: id, presence mask, then its Values (ints, texts). Four bytes at least.

const ENTITY_MIN_BYTES = 4;

function readEntity(r) {
  return {
    id: r.u32('EntityState.id'),
    present: r.u32('EntityState.present'),
    ints: r.vec('Values.ints', 1, (r) => r.i32('Values.ints')),
    texts: r.vec('Values.texts', 1, (r) => r.string('Values.texts')),
  };
}

function writeEntity(w, e) {
  need(e, 'EntityState');
  w.u32(e.id, 'EntityState.id');
  w.u32(e.present, 'EntityState.present');
  w.vec(e.ints, 'Values.ints', (w, v) => w.i32(v, 'Values.ints'));
  w.vec(e.texts, 'Values.texts', (w, t) => w.string(t, 'Values.texts'));
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
    case 'Input': {
      const seq = r.u32('Input.seq');
      const ackTick = r.u32('Input.ack_tick');
      const at = r.pos;
      const count = r.length('Input.frames', 4);
      if (count > MAX_INPUT_FRAMES) {
        throw new DecodeError(`Input.frames holds ${count} frames, more than ${MAX_INPUT_FRAMES}`, at);
      }
      const frames = [];
      for (let i = 0; i < count; i++) {
        frames.push({
          move_x: r.i8('Intent.move_x'),
          move_y: r.i8('Intent.move_y'),
          aim: r.u16('Intent.aim'),
          buttons: r.u8('Intent.buttons'),
        });
      }
      return { type, seq, ack_tick: ackTick, frames };
    }
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
      if (Array.isArray(msg.frames) && msg.frames.length > MAX_INPUT_FRAMES) {
        throw new EncodeError(`Input.frames holds ${msg.frames.length} frames, more than ${MAX_INPUT_FRAMES}`);
      }
      w.vec(msg.frames, 'Input.frames', (w, f) => {
        w.i8(f.move_x, 'Intent.move_x');
        w.i8(f.move_y, 'Intent.move_y');
        w.u16(f.aim, 'Intent.aim');
        w.u8(f.buttons, 'Intent.buttons');
      });
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
        schema: readSchema(r),
        resumed: r.bool('Welcome.resumed'),
      };
    case 'Snapshot': {
      // On the wire the baseline is `back` ticks before `tick` (0: a keyframe) and the
      // checksum four raw bytes, little-endian.
      const tick = r.u32('Snapshot.tick');
      const at = r.pos;
      const back = r.u32('Snapshot.back');
      if (back !== 0 && back >= tick) throw new DecodeError(`snapshot baseline at or before tick 0 (back ${back})`, at);
      return {
        type,
        tick,
        baseline: back === 0 ? 0 : tick - back,
        last_input_seq: r.u32('Snapshot.last_input_seq'),
        checksum: r.fixedU32('Snapshot.checksum'),
        payload: r.byteVec('Snapshot.payload'),
      };
    }
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
      writeSchema(w, msg.schema);
      w.bool(msg.resumed ?? false, 'Welcome.resumed');
      return;
    case 'Snapshot':
      w.u32(msg.tick, 'Snapshot.tick');
      w.u32(msg.baseline === 0 ? 0 : (msg.tick - msg.baseline) >>> 0, 'Snapshot.back');
      w.u32(msg.last_input_seq, 'Snapshot.last_input_seq');
      w.fixedU32(msg.checksum >>> 0, 'Snapshot.checksum');
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

/** An Input of one frame: the intent of tick `seq`. */
export function input(seq, ackTick, moveX, moveY, aim, buttons) {
  return inputs(seq, ackTick, [{ move_x: moveX, move_y: moveY, aim, buttons }]);
}

/**
 * An Input bundling the intents (`{move_x, move_y, aim, buttons}`) of consecutive ticks,
 * oldest first, numbered from `seq`; 1 to MAX_INPUT_FRAMES of them.
 */
export function inputs(seq, ackTick, frames) {
  return encodeClientMessage({ type: 'Input', seq, ack_tick: ackTick, frames });
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
// Delta snapshots (shared::pack, shared::schema, shared::delta, shared::quant::advance)
// =======================================================================================
//
// Integer conventions, mirroring Rust's wrapping operations on Numbers:
//   u32 wrapping result  → `>>> 0`      i32 wrapping result → `| 0`
//   u16 wrapping result  → `& 0xffff`   `as i16`            → `(v << 16) >> 16`
// Every intermediate value stays below 2^53, so these are exact.

/** Sub-mask bits of a changed motion, in the order their values follow (shared::delta::motion). */
export const MOTION = Object.freeze({
  /** The anchor tick (trajectories only). */
  ANCHOR: 1,
  /** x and y (bit 0 on the wire for a predicted motion, which has no anchor bit). */
  POS: 2,
  /** vx and vy. */
  VEL: 4,
});

/** Exp-Golomb orders of the engine's own values (shared::delta::k); fields have their own. */
export const DELTA_K = Object.freeze({
  COUNT: 3,
  ID_GAP: 1,
  ABS_POS: 13,
  ABS_VEL: 8,
  AGE: 2,
  TEXT_LEN: 3,
  ENTITY: 8,
  POS_RESIDUAL: 0,
  VEL_DELTA: 6,
  ANGLE_DELTA: 10,
});

/** Steps of a u16 angle below a precision of `bits` bits (shared::schema::angle_shift). */
export const angleShift = (bits) => 16 - Math.min(16, Math.max(1, bits));

/** Order of an angle change in steps of its precision: ANGLE_DELTA at 16 bits, one less per bit fewer. */
const angleK = (bits) => Math.max(0, DELTA_K.ANGLE_DELTA + bits - 16);

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
 *   'Presence' {mask}     a presence mask names components the schema lacks
 *   'Wide' {value}        a byte-packed raw value wider than its field (one encoding each)
 *   'Shape' {id}          a FullSnapshot entity that does not fit the layout
 *   'Text'                a text longer than its field's maxBytes, or not UTF-8
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
    case 'Place':
      return `place ${d.place} is beyond the held view`;
    case 'Duplicate':
      return `entity ${d.id} is already in the view`;
    case 'Order':
      return 'ids are not ascending';
    case 'Presence':
      return `presence mask 0x${(d.mask >>> 0).toString(16)} names components the schema lacks`;
    case 'Wide':
      return `value 0x${(d.value >>> 0).toString(16)} is wider than its field`;
    case 'Shape':
      return `full snapshot entity ${d.id} does not fit the schema`;
    case 'Text':
      return 'invalid text';
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
// Motions (shared::quant::advance, MotionValue::position_at)
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

/**
 * Moves a position (steps) by the mean of two velocities (steps per second) for `ticks`
 * ticks, rounding half up: pos + floor(((v0 + v1)·ticks + rate) / (2·rate)), clamped to
 * i32 (shared::quant::advance_mean). Exact for integer arguments.
 */
export function advanceMean(pos, v0, v1, ticks, tickRate) {
  const rate = Math.max(1, tickRate);
  const t = Math.min(MAX_ADVANCE_TICKS, Math.max(-MAX_ADVANCE_TICKS, ticks));
  // |(v0 + v1) * t| <= 2^52: exact in doubles.
  const top = (v0 + v1) * t + rate;
  const div = 2 * rate;
  const rem = top % div;
  const moved = (top - rem) / div - (rem < 0 ? 1 : 0);
  return clampI32(pos + moved);
}

/** Longest stretch a trajectory is extrapolated, in ticks (shared::quant::MAX_ADVANCE_TICKS). */
export const MAX_ADVANCE_TICKS = 2 ** 20;

/**
 * The point at `tick` along the straight line of a motion `{anchor, x, y, vx, vy}`: x/y at
 * tick `anchor`, moving at vx/vy since (MotionValue::along). Exact for integer ticks; a
 * non-integer tick (a render time between ticks) moves smoothly.
 */
export function along(motion, tick, tickRate) {
  const elapsed = tick - motion.anchor;
  return [advance(motion.x, motion.vx, elapsed, tickRate), advance(motion.y, motion.vy, elapsed, tickRate)];
}

/**
 * Position `[x, y]` of a motion at `tick`, in its steps (MotionValue::at): x/y themselves
 * for a 'Predicted' motion, the point `along` its line for a 'Trajectory'. `model` is the
 * field kind's (`ref.kind.model`); without it, a motion anchored at 0 is taken as
 * predicted, which differs from Rust only for a trajectory anchored at tick 0.
 */
export function positionAt(motion, tick, tickRate, model = motion.anchor ? 'Trajectory' : 'Predicted') {
  if (model === 'Predicted') return [motion.x, motion.y];
  return along(motion, tick, tickRate);
}

// ---------------------------------------------------------------------------------------
// Layout (shared::schema::Layout)
// ---------------------------------------------------------------------------------------

/** At most this many components per schema (the presence mask is a u32). */
export const MAX_COMPONENTS = 32;
/** At most this many fields per component (a field mask is a u32). */
export const MAX_FIELDS = 32;
/** Longest component or field name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 32;
/** Largest maxBytes a text field may declare. */
export const MAX_TEXT_BYTES = 1024;
/** Largest Exp-Golomb order a field may declare. */
export const MAX_ORDER = 24;
/** Integer slots a motion takes: anchor, x, y, vx, vy. */
export const MOTION_SLOTS = 5;

function schemaError(message) {
  return new DecodeError(`invalid schema: ${message}`);
}

function checkName(name, seen) {
  if (typeof name !== 'string' || name.length === 0 || utf8Encoder.encode(name).length > MAX_NAME_BYTES || seen.has(name)) {
    throw schemaError(`name ${JSON.stringify(name)} is empty, too long or not unique`);
  }
  seen.add(name);
}

const isUint = (v, max) => Number.isInteger(v) && v >= 0 && v <= max;

/** A frozen copy of a valid kind (only its own properties), or a DecodeError. */
function checkKind(name, kind) {
  const bad = (why) => schemaError(`field ${JSON.stringify(name)}: ${why}`);
  if (kind === null || typeof kind !== 'object') throw bad('kind must be an object');
  const order = () => {
    // Hand-made kinds may hold anything; decoded ones are always u8.
    if (!isUint(kind.k, 0xff)) throw bad('order k must be an integer');
    if (kind.k > MAX_ORDER) throw bad(`order k must be at most ${MAX_ORDER}`);
    return kind.k;
  };
  const scale = () => {
    if (!isUint(kind.scale, 0xffffffff)) throw bad('scale must be a u32');
    if (kind.scale === 0) throw bad('scale must be positive');
    return kind.scale;
  };
  switch (kind.type) {
    case 'Bits':
      if (!isUint(kind.width, 32) || kind.width < 1) throw bad('width must be 1..=32');
      return Object.freeze({ type: 'Bits', width: kind.width });
    case 'Uint':
    case 'Int':
      return Object.freeze({ type: kind.type, k: order() });
    case 'Fixed': {
      // Rust checks the order before the scale; either way the schema is refused.
      const k = order();
      return Object.freeze({ type: 'Fixed', scale: scale(), k });
    }
    case 'Angle':
      if (!isUint(kind.bits, 16) || kind.bits < 1) throw bad('bits must be 1..=16');
      return Object.freeze({ type: 'Angle', bits: kind.bits });
    case 'Entity':
      return Object.freeze({ type: kind.type });
    case 'Text':
      if (!isUint(kind.maxBytes, 0xffff)) throw bad('maxBytes must be a u16');
      if (kind.maxBytes > MAX_TEXT_BYTES) throw bad(`max_bytes must be at most ${MAX_TEXT_BYTES}`);
      return Object.freeze({ type: 'Text', maxBytes: kind.maxBytes });
    case 'Motion':
      if (!MOTION_MODELS.includes(kind.model)) throw bad(`unknown motion model ${String(kind.model)}`);
      return Object.freeze({ type: 'Motion', model: kind.model, scale: scale() });
  }
  throw bad(`unknown kind ${String(kind.type)}`);
}

/**
 * A checked schema with the place of every field (shared::schema::Layout): each
 * component's fields in wire order, each with its kind and slot. Integer kinds take one
 * slot of `ints` (a u32, u16 or bit field as its bits, an i32), a text one of `texts`, a
 * motion MOTION_SLOTS consecutive `ints` (anchor, x, y, vx, vy), numbered in schema order
 * exactly as Rust does, so entities decoded here equal the server's bit for bit.
 */
export class Layout {
  /** Throws DecodeError for a schema Rust's Schema::layout refuses. */
  constructor(schema) {
    if (schema === null || typeof schema !== 'object' || !Array.isArray(schema.components)) {
      throw schemaError('a schema is {game, components: [...]}');
    }
    if (schema.components.length > MAX_COMPONENTS) {
      throw schemaError(`${schema.components.length} components; at most ${MAX_COMPONENTS}`);
    }
    let ints = 0;
    let texts = 0;
    let motionScale = 0;
    const names = new Set();
    const components = [];
    for (const c of schema.components) {
      if (c === null || typeof c !== 'object') throw schemaError('a component is {name, fields}');
      checkName(c.name, names);
      if (!Array.isArray(c.fields)) throw schemaError(`component ${JSON.stringify(c.name)} has no fields array`);
      if (c.fields.length > MAX_FIELDS) {
        throw schemaError(`component ${JSON.stringify(c.name)} has ${c.fields.length} fields; at most ${MAX_FIELDS}`);
      }
      const fieldNames = new Set();
      const fields = [];
      const byName = new Map();
      let motion = null;
      for (const f of c.fields) {
        if (f === null || typeof f !== 'object') throw schemaError('a field is {name, kind}');
        checkName(f.name, fieldNames);
        const kind = checkKind(f.name, f.kind);
        let slot;
        if (kind.type === 'Text') {
          slot = { type: 'Text', index: texts++ };
        } else if (kind.type === 'Motion') {
          // One unit for every position of a room: the area of interest's radius is in it.
          if (motionScale !== 0 && motionScale !== kind.scale) {
            throw schemaError('every motion of a schema must have the same scale (the area of interest\'s unit)');
          }
          motionScale = kind.scale;
          slot = { type: 'Motion', index: ints };
          if (motion === null) motion = { at: ints, model: kind.model };
          ints += MOTION_SLOTS;
        } else {
          slot = { type: 'Int', index: ints++ };
        }
        byName.set(f.name, fields.length);
        fields.push(Object.freeze({ kind, slot: Object.freeze(slot) }));
      }
      components.push({ name: c.name, fields: Object.freeze(fields), byName, motion });
    }
    this.schema = schema;
    this._components = components;
    this._byName = new Map(components.map((c, i) => [c.name, i]));
    /** Integer slots of an entity of this layout. */
    this.intSlots = ints;
    /** Text slots of an entity of this layout. */
    this.textSlots = texts;
    this._motionScale = motionScale;
  }

  /** Steps per unit of the schema's motions (positions, the area of interest); 0 without any. */
  motionScale() {
    return this._motionScale;
  }

  /** Whether `e` has this layout's slot counts and only its components (Layout::fits). */
  fits(e) {
    const n = this._components.length;
    return (
      e !== null &&
      typeof e === 'object' &&
      Array.isArray(e.ints) &&
      Array.isArray(e.texts) &&
      e.ints.length === this.intSlots &&
      e.texts.length === this.textSlots &&
      (n >= 32 || (e.present >>> 0) >>> n === 0)
    );
  }

  /** Number of components (the width of a presence mask). */
  componentCount() {
    return this._components.length;
  }

  /** Index of the component called `name`, or -1. */
  component(name) {
    return this._byName.get(name) ?? -1;
  }

  /** `{component, kind, slot: {type, index}}` of a field, or null if there is none. */
  field(componentName, fieldName) {
    const c = this.component(componentName);
    if (c < 0) return null;
    const f = this._components[c].byName.get(fieldName);
    if (f === undefined) return null;
    const { kind, slot } = this._components[c].fields[f];
    return { component: c, kind, slot };
  }

  /** The `{kind, slot}` of component `c`'s fields, in wire order (empty if no such component). */
  fields(c) {
    return this._components[c]?.fields ?? [];
  }

  /** An entity with no components and every slot zero (or empty). */
  empty(id) {
    return { id, present: 0, ints: new Array(this.intSlots).fill(0), texts: new Array(this.textSlots).fill('') };
  }

  /**
   * The motion that places `e`: the first motion field of its first present component
   * having one, as `{anchor, x, y, vx, vy}`; null for an entity that is everywhere (a
   * match clock, team scores).
   */
  motion(e) {
    const placing = this._placing(e);
    return placing === null ? null : motionAt(e, placing.at);
  }

  /** Position `[x, y]` of `e` at `tick` as its placing motion's model says (see `motion`), or null. */
  position(e, tick, tickRate) {
    const placing = this._placing(e);
    return placing === null ? null : positionAt(motionAt(e, placing.at), tick, tickRate, placing.model);
  }

  _placing(e) {
    for (let c = 0; c < this._components.length; c++) {
      const m = this._components[c].motion;
      if (m !== null && hasComponent(e, c)) return m;
    }
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// Entities (shared::schema::EntityState)
// ---------------------------------------------------------------------------------------

/** Whether entity `e` has component `c`. */
export function hasComponent(e, c) {
  return Number.isInteger(c) && c >= 0 && c < 32 && (e.present & (1 << c)) !== 0;
}

// Out-of-range slots read as 0 / '' (an entity from a FullSnapshot may be short), as in Rust.
function intAt(e, i) {
  const v = e.ints[i];
  return v === undefined ? 0 : v;
}

function textAt(e, i) {
  const t = e.texts[i];
  return t === undefined ? '' : t;
}

function motionAt(e, i) {
  return { anchor: intAt(e, i) >>> 0, x: intAt(e, i + 1), y: intAt(e, i + 2), vx: intAt(e, i + 3), vy: intAt(e, i + 4) };
}

/**
 * The value of an integer field `ref` (from `layout.field`) if `e` has its component,
 * else null: Bits, Uint and Entity unsigned, Angle as a u16, the others signed.
 */
export function getField(e, ref) {
  if (ref === null || ref === undefined || ref.slot.type !== 'Int' || !hasComponent(e, ref.component)) return null;
  const v = intAt(e, ref.slot.index);
  switch (ref.kind.type) {
    case 'Bits':
    case 'Uint':
    case 'Entity':
      return v >>> 0;
    case 'Angle':
      return v & 0xffff;
    default:
      return v | 0;
  }
}

/** The text of field `ref` if `e` has its component and the field is a text, else null. */
export function getText(e, ref) {
  if (ref === null || ref === undefined || ref.slot.type !== 'Text' || !hasComponent(e, ref.component)) return null;
  return textAt(e, ref.slot.index);
}

/** The motion `{anchor, x, y, vx, vy}` of field `ref` if `e` has its component, else null. */
export function getMotion(e, ref) {
  if (ref === null || ref === undefined || ref.slot.type !== 'Motion' || !hasComponent(e, ref.component)) return null;
  return motionAt(e, ref.slot.index);
}

/** Whether two entities hold the same state (shared::schema::EntityState::same). */
export function sameEntity(a, b) {
  if (a === b) return true;
  if (a.id !== b.id || (a.present ^ b.present) !== 0) return false;
  if (a.ints.length !== b.ints.length || a.texts.length !== b.texts.length) return false;
  for (let i = 0; i < a.ints.length; i++) if (a.ints[i] !== b.ints[i]) return false;
  for (let i = 0; i < a.texts.length; i++) if (a.texts[i] !== b.texts[i]) return false;
  return true;
}

/** UTF-8 bytes of `s`, cut to at most `max` bytes at a character boundary (schema::truncate). */
function truncatedUtf8(s, max) {
  const bytes = utf8Encoder.encode(s);
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/** `s` cut to at most `maxBytes` UTF-8 bytes at a character boundary, as a Text field holds it. */
export function truncateText(s, maxBytes) {
  return utf8Decoder.decode(truncatedUtf8(s, maxBytes));
}

// ---------------------------------------------------------------------------------------
// Payload coding (shared::delta)
// ---------------------------------------------------------------------------------------

function setInt(ints, i, v) {
  // Like Rust's `get_mut`: slots beyond a short entity are skipped, never appended.
  if (i < ints.length) ints[i] = v;
}

function setInts(ints, i, vals) {
  for (let n = 0; n < vals.length && i + n < ints.length; n++) ints[i + n] = vals[n];
}

/** Indices of the components named by `present`, ascending. */
function components(layout, present) {
  const out = [];
  const n = layout.componentCount();
  for (let c = 0; c < n; c++) if ((present & (1 << c)) !== 0) out.push(c);
  return out;
}

function fieldChanged(slot, b, t) {
  const i = slot.index;
  switch (slot.type) {
    case 'Int':
      return intAt(b, i) !== intAt(t, i);
    case 'Text':
      return textAt(b, i) !== textAt(t, i);
    default:
      for (let n = 0; n < MOTION_SLOTS; n++) if (intAt(b, i + n) !== intAt(t, i + n)) return true;
      return false;
  }
}

/**
 * `n` raw bits. The byte packing reads whole bytes, so a value wider than `n` bits is
 * possible there and refused: every raw value has exactly one encoding.
 */
function raw(u, n) {
  const v = u.bits(n);
  if (n < 32 && v >>> n !== 0) throw new DeltaError('Wide', { value: v });
  return v;
}

function writeText(p, text, maxBytes) {
  const bytes = truncatedUtf8(text, maxBytes);
  p.uint(bytes.length, DELTA_K.TEXT_LEN);
  for (const b of bytes) p.bits(b, 8);
}

function readText(u, maxBytes) {
  const len = u.uint(DELTA_K.TEXT_LEN);
  if (len > maxBytes) throw new DeltaError('Text');
  const bytes = new Uint8Array(len);
  for (let i = 0; i < len; i++) bytes[i] = raw(u, 8);
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw new DeltaError('Text');
  }
}

/** Writes a field's whole value. */
function writeFull(p, kind, slot, e, frame) {
  const i = slot.index;
  if (slot.type === 'Text') {
    if (kind.type === 'Text') writeText(p, textAt(e, i), kind.maxBytes);
  } else if (slot.type === 'Motion') {
    if (kind.type !== 'Motion') return;
    const m = motionAt(e, i);
    if (kind.model === 'Trajectory') p.uint((frame.tick - m.anchor) >>> 0, DELTA_K.AGE);
    p.sint(m.x, DELTA_K.ABS_POS);
    p.sint(m.y, DELTA_K.ABS_POS);
    p.sint(m.vx, DELTA_K.ABS_VEL);
    p.sint(m.vy, DELTA_K.ABS_VEL);
  } else {
    const v = intAt(e, i);
    switch (kind.type) {
      case 'Bits':
        p.bits(v >>> 0, kind.width);
        break;
      case 'Uint':
        p.uint(v >>> 0, kind.k);
        break;
      case 'Int':
      case 'Fixed':
        p.sint(v, kind.k);
        break;
      case 'Angle':
        p.bits((v & 0xffff) >>> angleShift(kind.bits), kind.bits);
        break;
      default:
        p.uint(v >>> 0, DELTA_K.ENTITY);
    }
  }
}

/** Reads a field's whole value into `values` ({ints, texts}). */
function readFull(u, kind, slot, values, frame) {
  const i = slot.index;
  if (slot.type === 'Text') {
    if (kind.type !== 'Text') return;
    const text = readText(u, kind.maxBytes);
    if (i < values.texts.length) values.texts[i] = text;
  } else if (slot.type === 'Motion') {
    if (kind.type !== 'Motion') return;
    const anchor = kind.model === 'Trajectory' ? (frame.tick - u.uint(DELTA_K.AGE)) >>> 0 : 0;
    const x = u.sint(DELTA_K.ABS_POS);
    const y = u.sint(DELTA_K.ABS_POS);
    const vx = u.sint(DELTA_K.ABS_VEL);
    const vy = u.sint(DELTA_K.ABS_VEL);
    setInts(values.ints, i, [anchor | 0, x, y, vx, vy]);
  } else {
    let v;
    switch (kind.type) {
      case 'Bits':
        v = raw(u, kind.width) | 0;
        break;
      case 'Uint':
        v = u.uint(kind.k) | 0;
        break;
      case 'Int':
      case 'Fixed':
        v = u.sint(kind.k);
        break;
      case 'Angle':
        v = (raw(u, kind.bits) << angleShift(kind.bits)) & 0xffff;
        break;
      default:
        v = u.uint(DELTA_K.ENTITY) | 0;
    }
    setInt(values.ints, i, v);
  }
}

function elapsed(frame) {
  return frame.tick - frame.baseline;
}

/**
 * Where a changed motion's new position is coded against: the old position moved by the
 * mean of the old and new velocities (`vx`, `vy`: predicted; the velocity is coded
 * first), or the old line at the new anchor tick (trajectory).
 */
function motionReference(model, b, newAnchor, vx, vy, frame) {
  if (model === 'Predicted') {
    const t = elapsed(frame);
    return [advanceMean(b.x, b.vx, vx, t, frame.tickRate), advanceMean(b.y, b.vy, vy, t, frame.tickRate)];
  }
  return along(b, newAnchor, frame.tickRate);
}

const motionBits = (model) => (model === 'Predicted' ? 2 : 3);

/**
 * The sub-mask of a changed motion as written: predicted motions have no anchor bit, and
 * either model writes its position only when it is not at `reference` (`motionReference`).
 */
function motionMask(model, b, t, reference) {
  let mask = 0;
  if (b.anchor !== t.anchor) mask |= MOTION.ANCHOR;
  const [fx, fy] = reference;
  if (fx !== t.x || fy !== t.y) mask |= MOTION.POS;
  if (b.vx !== t.vx || b.vy !== t.vy) mask |= MOTION.VEL;
  return model === 'Predicted' ? mask >>> 1 : mask;
}

/** Writes a changed field against its previous value. */
function writeChange(p, kind, slot, b, t, frame) {
  const i = slot.index;
  if (slot.type === 'Motion' && kind.type === 'Motion') {
    const bm = motionAt(b, i);
    const tm = motionAt(t, i);
    const [rx, ry] = motionReference(kind.model, bm, tm.anchor, tm.vx, tm.vy, frame);
    const written = motionMask(kind.model, bm, tm, [rx, ry]);
    p.bits(written, motionBits(kind.model));
    const mask = kind.model === 'Predicted' ? written << 1 : written;
    const velFirst = kind.model === 'Predicted';
    const writeVel = () => {
      if (mask & MOTION.VEL) {
        p.sint((tm.vx - bm.vx) | 0, DELTA_K.VEL_DELTA);
        p.sint((tm.vy - bm.vy) | 0, DELTA_K.VEL_DELTA);
      }
    };
    if (mask & MOTION.ANCHOR) p.uint((frame.tick - tm.anchor) >>> 0, DELTA_K.AGE);
    if (velFirst) writeVel();
    if (mask & MOTION.POS) {
      p.sint((tm.x - rx) | 0, DELTA_K.POS_RESIDUAL);
      p.sint((tm.y - ry) | 0, DELTA_K.POS_RESIDUAL);
    }
    if (!velFirst) writeVel();
  } else if (slot.type === 'Int' && (kind.type === 'Uint' || kind.type === 'Int' || kind.type === 'Fixed')) {
    p.sint((intAt(t, i) - intAt(b, i)) | 0, kind.k);
  } else if (slot.type === 'Int' && kind.type === 'Angle') {
    // Both are multiples of the step, so the shift is exact.
    const d = (((intAt(t, i) & 0xffff) - (intAt(b, i) & 0xffff)) << 16) >> 16;
    p.sint(d >> angleShift(kind.bits), angleK(kind.bits));
  } else {
    writeFull(p, kind, slot, t, frame);
  }
}

/** Reads a changed field into `values` (which hold the previous values of `b`). */
function readChange(u, kind, slot, b, values, frame) {
  const i = slot.index;
  if (slot.type === 'Motion' && kind.type === 'Motion') {
    const written = raw(u, motionBits(kind.model));
    const mask = kind.model === 'Predicted' ? written << 1 : written;
    const bm = motionAt(b, i);
    const t = { ...bm };
    if (mask & MOTION.ANCHOR) t.anchor = (frame.tick - u.uint(DELTA_K.AGE)) >>> 0;
    // A predicted motion's velocity comes first: its position is predicted with it.
    const velFirst = kind.model === 'Predicted';
    const readVel = () => {
      if (mask & MOTION.VEL) {
        t.vx = (bm.vx + u.sint(DELTA_K.VEL_DELTA)) | 0;
        t.vy = (bm.vy + u.sint(DELTA_K.VEL_DELTA)) | 0;
      }
    };
    if (velFirst) readVel();
    const [rx, ry] = motionReference(kind.model, bm, t.anchor, t.vx, t.vy, frame);
    if (mask & MOTION.POS) {
      t.x = (rx + u.sint(DELTA_K.POS_RESIDUAL)) | 0;
      t.y = (ry + u.sint(DELTA_K.POS_RESIDUAL)) | 0;
    } else {
      t.x = rx;
      t.y = ry;
    }
    if (!velFirst) readVel();
    setInts(values.ints, i, [t.anchor | 0, t.x, t.y, t.vx, t.vy]);
  } else if (slot.type === 'Int' && (kind.type === 'Uint' || kind.type === 'Int' || kind.type === 'Fixed')) {
    setInt(values.ints, i, (intAt(b, i) + u.sint(kind.k)) | 0);
  } else if (slot.type === 'Int' && kind.type === 'Angle') {
    const d = (u.sint(angleK(kind.bits)) << angleShift(kind.bits)) & 0xffff;
    setInt(values.ints, i, ((intAt(b, i) & 0xffff) + d) & 0xffff);
  } else {
    readFull(u, kind, slot, values, frame);
  }
}

function writePresence(p, layout, present) {
  const n = layout.componentCount();
  if (n > 0) p.bits(present >>> 0, n);
}

function readPresence(u, layout) {
  const n = layout.componentCount();
  if (n === 0) return 0;
  try {
    return raw(u, n) >>> 0;
  } catch (e) {
    // A bit above the schema's components names one it lacks.
    if (e instanceof DeltaError && e.kind === 'Wide') throw new DeltaError('Presence', { mask: e.value });
    throw e;
  }
}

function writeCreated(p, layout, e, frame) {
  writePresence(p, layout, e.present);
  for (const c of components(layout, e.present)) {
    for (const { kind, slot } of layout.fields(c)) writeFull(p, kind, slot, e, frame);
  }
}

function readCreated(u, layout, id, frame) {
  const present = readPresence(u, layout);
  const e = layout.empty(id);
  e.present = present;
  for (const c of components(layout, present)) {
    for (const { kind, slot } of layout.fields(c)) readFull(u, kind, slot, e, frame);
  }
  return e;
}

/** A changed record's structure bit, and its new presence mask if that changed. */
function writeStructure(p, layout, b, t) {
  const restructured = (b.present ^ t.present) !== 0;
  p.bits(restructured ? 1 : 0, 1);
  if (restructured) writePresence(p, layout, t.present);
}

/** A changed record after its structure. */
function writeChanged(p, layout, b, t, frame) {
  for (const c of components(layout, b.present & t.present)) {
    const fields = layout.fields(c);
    if (fields.length === 0) continue;
    let mask = 0;
    fields.forEach(({ slot }, f) => {
      if (fieldChanged(slot, b, t)) mask |= 1 << f;
    });
    p.bits(mask !== 0 ? 1 : 0, 1);
    if (mask === 0) continue;
    if (fields.length > 1) p.bits(mask >>> 0, fields.length);
    fields.forEach(({ kind, slot }, f) => {
      if (mask & (1 << f)) writeChange(p, kind, slot, b, t, frame);
    });
  }
  for (const c of components(layout, t.present & ~b.present)) {
    for (const { kind, slot } of layout.fields(c)) writeFull(p, kind, slot, t, frame);
  }
}

function clearComponent(layout, values, c) {
  for (const { slot } of layout.fields(c)) {
    if (slot.type === 'Int') setInt(values.ints, slot.index, 0);
    else if (slot.type === 'Text') {
      if (slot.index < values.texts.length) values.texts[slot.index] = '';
    } else setInts(values.ints, slot.index, [0, 0, 0, 0, 0]);
  }
}

/** A changed record; `structured`: whether the payload's changed records start with a structure bit. */
function readChanged(u, layout, b, structured, frame) {
  const present = structured && raw(u, 1) === 1 ? readPresence(u, layout) : b.present;
  const values = { ints: b.ints.slice(), texts: b.texts.slice() };
  for (const c of components(layout, b.present & ~present)) clearComponent(layout, values, c);
  for (const c of components(layout, b.present & present)) {
    const fields = layout.fields(c);
    if (fields.length === 0 || raw(u, 1) === 0) continue;
    const mask = fields.length > 1 ? raw(u, fields.length) : 1;
    fields.forEach(({ kind, slot }, f) => {
      if (mask & (1 << f)) readChange(u, kind, slot, b, values, frame);
    });
  }
  for (const c of components(layout, present & ~b.present)) {
    for (const { kind, slot } of layout.fields(c)) readFull(u, kind, slot, values, frame);
  }
  return { id: b.id, present: present >>> 0, ints: values.ints, texts: values.texts };
}

/**
 * Diffs two views sorted by id: `{removed: [id], created: [target index],
 * changed: [[base index, target index]]}`, all ascending (shared::delta::diff).
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
      if (!sameEntity(b, t)) out.changed.push([i, j]);
      i++;
      j++;
    }
  }
  return out;
}

/**
 * The view a client holds after receiving the given part of a diff (shared::delta::merge):
 * `base` without `removed` ids, with the `changed` entities (by target index) and the
 * `created` ones taken from `target`. Index lists must be ascending. Entity objects are
 * shared, never copied: treat them as immutable.
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

/** Largest order a section's id gaps may use, and the raw bits that write it. */
const MAX_GAP_ORDER = 15;
const GAP_ORDER_BITS = 4;

/** Bits of an Exp-Golomb code of order k for a u32 value (shared::pack::eg_bits). */
export function egBits(value, k) {
  let len = 0;
  for (let w = value + 2 ** k; w >= 1; w = Math.floor(w / 2)) len++;
  return 2 * len - k - 1;
}

/** The order that writes the gaps of these ascending ids in the fewest bits (the lowest of equals). */
function gapOrder(ids) {
  let best = 0;
  let bestBits = Infinity;
  for (let k = 0; k <= MAX_GAP_ORDER; k++) {
    let bits = 0;
    let prev = 0;
    for (const id of ids) {
      bits += egBits((id - prev - 1) >>> 0, k);
      prev = id;
    }
    if (bits < bestBits) {
      best = k;
      bestBits = bits;
    }
  }
  return best;
}

/** Writes a section's head (count, then the order of its gaps unless empty); returns its id writer. */
function writeHead(p, ids) {
  p.uint(ids.length, DELTA_K.COUNT);
  const k = ids.length === 0 ? 0 : gapOrder(ids);
  if (ids.length > 0) p.bits(k, GAP_ORDER_BITS);
  let prev = 0;
  return (id) => {
    p.uint((id - prev - 1) >>> 0, k);
    prev = id;
  };
}

/** Reads a section's head: `[count, id reader]`. */
function readHead(u) {
  const n = u.uint(DELTA_K.COUNT);
  if (n > MAX_RECORDS) throw new PackError('Overlong');
  const k = n === 0 ? 0 : raw(u, GAP_ORDER_BITS);
  let prev = 0;
  return [
    n,
    () => {
      const id = prev + 1 + u.uint(k);
      if (id > 0xffffffff) throw new DeltaError('Order');
      prev = id;
      return id;
    },
  ];
}

/**
 * Encodes the chosen part of a diff (indices as `diff` returns them) with the given
 * packing: what the server sends (shared::delta::encode_payload). `frame` is
 * `{tick, baseline, tickRate}`.
 */
export function encodePayload(packing, layout, frame, base, target, removed, created, changed) {
  const p = packer(packing);
  // Removed and changed entities are written as their places in the held view (index
  // plus one), created ones as their ids.
  const places = removed.map((id) => find(base, id) + 1).filter((at) => at > 0);
  const writeRemoved = writeHead(p, places);
  for (const at of places) writeRemoved(at);
  // Like the Rust writer, the counts are of the records actually written (indices out
  // of range, which only a buggy caller produces, are skipped).
  const made = created.map((j) => target[j]).filter((e) => e !== undefined);
  const writeCreatedId = writeHead(
    p,
    made.map((e) => e.id),
  );
  for (const e of made) {
    writeCreatedId(e.id);
    writeCreated(p, layout, e, frame);
  }
  const pairs = changed.filter(([i, j]) => base[i] !== undefined && target[j] !== undefined);
  const writeChangedAt = writeHead(
    p,
    pairs.map(([i]) => i + 1),
  );
  // Structure bits only when some record changes its presence mask.
  const structured = pairs.some(([i, j]) => base[i].present !== target[j].present);
  if (pairs.length > 0) p.bits(structured ? 1 : 0, 1);
  for (const [i, j] of pairs) {
    writeChangedAt(i + 1);
    if (structured) writeStructure(p, layout, base[i], target[j]);
    writeChanged(p, layout, base[i], target[j], frame);
  }
  return p.finish();
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

/** The held entity at a place read from the removed or changed section: `{i, e}`. */
function held(base, place) {
  const i = place - 1;
  if (i >= base.length) throw new DeltaError('Place', { place });
  return { i, e: base[i] };
}

function readPayload(u, layout, frame, base) {
  let [n, readId] = readHead(u);
  const removed = [];
  const removedSet = new Set();
  for (let k = 0; k < n; k++) {
    const id = held(base, readId()).e.id;
    removed.push(id);
    removedSet.add(id);
  }
  [n, readId] = readHead(u);
  const target = [];
  const created = [];
  for (let k = 0; k < n; k++) {
    const id = readId();
    if (find(base, id) >= 0 && !removedSet.has(id)) throw new DeltaError('Duplicate', { id });
    created.push(target.length);
    target.push(readCreated(u, layout, id, frame));
  }
  [n, readId] = readHead(u);
  const structured = n > 0 && raw(u, 1) === 1;
  const changed = [];
  for (let k = 0; k < n; k++) {
    const { i, e } = held(base, readId());
    if (removedSet.has(e.id)) throw new DeltaError('Unknown', { id: e.id });
    changed.push([i, target.length]);
    target.push(readChanged(u, layout, e, structured, frame));
  }
  u.finish();
  return merge(base, target, removed, created, changed);
}

/**
 * Rebuilds the view a payload describes from the view it is relative to (sorted by id;
 * not modified), decoding fields as `layout` says. `frame` is `{tick, baseline,
 * tickRate}`. Throws DeltaError (TypeError for an unknown packing).
 */
export function decodePayload(packing, layout, frame, base, payload) {
  const u = unpacker(packing, payload);
  try {
    return readPayload(u, layout, frame, base);
  } catch (e) {
    if (e instanceof PackError) throw new DeltaError('Pack', { pack: e.kind });
    throw e;
  }
}

// ---------------------------------------------------------------------------------------
// Checksum (shared::delta::entity_hash, fold_hashes, checksum)
// ---------------------------------------------------------------------------------------

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * Hash of one entity: FNV-1a over 32-bit words: the id, the presence mask, then every
 * field of every present component in schema order (a number as its 32 bits; a text as
 * its UTF-8 length, then a word per byte; a motion as x, y, vx, vy, with the anchor first
 * for a trajectory). Returns a u32.
 */
export function entityHash(layout, e) {
  let h = FNV_OFFSET;
  const word = (w) => {
    h = Math.imul(h ^ w, FNV_PRIME);
  };
  word(e.id);
  word(e.present);
  for (const c of components(layout, e.present)) {
    for (const { kind, slot } of layout.fields(c)) {
      const i = slot.index;
      if (slot.type === 'Int') {
        word(intAt(e, i));
      } else if (slot.type === 'Text') {
        const bytes = utf8Encoder.encode(textAt(e, i));
        word(bytes.length);
        for (const b of bytes) word(b);
      } else {
        if (kind.type === 'Motion' && kind.model === 'Trajectory') word(intAt(e, i));
        for (let n = 1; n < MOTION_SLOTS; n++) word(intAt(e, i + n));
      }
    }
  }
  return h >>> 0;
}

/**
 * Combines per-entity hashes (in ascending id order) into a view's checksum: FNV-1a over
 * the hashes, then MurmurHash3's 32-bit finaliser.
 */
export function foldHashes(hashes) {
  let h = FNV_OFFSET;
  for (const e of hashes) h = Math.imul(h ^ e, FNV_PRIME);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Checksum of a view sorted by id (PROTOCOL.md, "Checksum"). */
export function checksum(layout, view) {
  return foldHashes(view.map((e) => entityHash(layout, e)));
}

// ---------------------------------------------------------------------------------------
// ClientView (shared::delta::ClientView)
// ---------------------------------------------------------------------------------------

/**
 * A client's copy of the replicated state, kept up to date by snapshots and decoded with
 * the layout of the schema its Welcome carried: `new ClientView(new Layout(welcome.schema))`.
 */
export class ClientView {
  constructor(layout) {
    if (!(layout instanceof Layout)) throw new TypeError('ClientView needs the Layout of the Welcome schema');
    this._layout = layout;
    this._tick = 0;
    this._entities = [];
  }

  get layout() {
    return this._layout;
  }

  /** Tick of the newest snapshot applied (0 before any). */
  get tick() {
    return this._tick;
  }

  /** Entities sorted by id. Treat them as read-only: views share entity objects. */
  get entities() {
    return this._entities;
  }

  /** The entity with this id, or undefined. */
  get(id) {
    const i = find(this._entities, id);
    return i < 0 ? undefined : this._entities[i];
  }

  clone() {
    const v = new ClientView(this._layout);
    v._tick = this._tick;
    v._entities = this._entities.slice();
    return v;
  }

  checksum() {
    return checksum(this._layout, this._entities);
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
    const view = decodePayload(packing, this._layout, frame, base, snap.payload);
    const got = checksum(this._layout, view);
    this._entities = view;
    this._tick = snap.tick;
    if (got !== snap.checksum) throw new DeltaError('Checksum', { expected: snap.checksum, got });
  }

  /**
   * Replaces the view with a decoded FullSnapshot (`--snapshots full`): sorted, first of
   * each id kept. Throws DeltaError 'Shape' (view unchanged) if an entity does not fit
   * the layout.
   */
  applyFull(full) {
    const bad = full.entities.find((e) => !this._layout.fits(e));
    if (bad !== undefined) throw new DeltaError('Shape', { id: bad.id });
    const sorted = full.entities.slice().sort((a, b) => a.id - b.id); // stable
    this._entities = sorted.filter((e, i) => i === 0 || sorted[i - 1].id !== e.id);
    this._tick = full.tick;
  }

  /** Position `[x, y]` at `tick` of an entity (or the id of one in this view); null without a motion. */
  position(entity, tick, tickRate) {
    const e = typeof entity === 'number' ? this.get(entity) : entity;
    return e === undefined ? null : this._layout.position(e, tick, tickRate);
  }
}
