// Tickwire wire codec for the browser client (and node tests).
//
// The Rust side (shared/src/codec.rs) encodes with bincode 2, `config::standard()`, via
// serde. That gives this byte layout:
//   - u16 / u32 / u64: varint. A value < 251 is one byte; otherwise a marker byte
//     (251 → u16 LE follows, 252 → u32 LE, 253 → u64 LE).
//   - i16 / i32: zigzag ((n << 1) ^ (n >> 31)), then the unsigned varint above.
//   - u8 / i8: one raw byte (no varint). bool: one byte, 0 or 1.
//   - enum: variant index as a u32 varint, then the variant's fields.
//   - struct: the fields in declaration order, no names.
//   - String / Vec: length as a u64 varint, then the UTF-8 bytes / the elements.
//
// Messages are plain objects with the Rust field names and a `type` tag naming the
// variant, e.g. `{ type: 'Ping', client_time: 5 }`. Entity kinds are the strings
// 'Player', 'Drone' and 'Projectile'.
//
// Pure functions only: no DOM, no IO. Decoding never reads out of bounds: malformed,
// truncated or over-long input throws a DecodeError with an explanation, and bytes left
// over after a complete message are rejected, exactly like the server's decoder.

export const PROTOCOL_VERSION = 1;
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
export const CLIENT_MESSAGE_TYPES = Object.freeze(['Hello', 'Input', 'Ping']);
export const SERVER_MESSAGE_TYPES = Object.freeze(['Welcome', 'Snapshot', 'Pong']);

/** WebSocket close codes the server sends (shared::protocol::close). */
export const CLOSE_REASONS = Object.freeze({
  1000: 'normal closure',
  1001: 'server going away',
  1002: 'protocol error',
  1003: 'unsupported data (text frame)',
  1006: 'connection lost',
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

// EntityState (12 bytes at least: 9 single-byte varints/bytes, kind, and name length)

const ENTITY_MIN_BYTES = 12;

function readEntity(r) {
  return {
    id: r.u32('EntityState.id'),
    kind: r.variant(ENTITY_KINDS, 'EntityKind'),
    x: r.i32('EntityState.x'),
    y: r.i32('EntityState.y'),
    vx: r.i32('EntityState.vx'),
    vy: r.i32('EntityState.vy'),
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
      return { type, protocol_version: r.u16('Hello.protocol_version'), name: r.string('Hello.name') };
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
  }
  throw new DecodeError(`unknown client message ${type}`);
}

function writeClientBody(w, msg) {
  switch (msg.type) {
    case 'Hello':
      w.u16(msg.protocol_version, 'Hello.protocol_version');
      w.string(msg.name, 'Hello.name');
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
      };
    case 'Snapshot':
      return {
        type,
        tick: r.u32('Snapshot.tick'),
        last_input_seq: r.u32('Snapshot.last_input_seq'),
        entities: r.vec('Snapshot.entities', ENTITY_MIN_BYTES, readEntity),
      };
    case 'Pong':
      return { type, client_time: r.u32('Pong.client_time'), server_tick: r.u32('Pong.server_tick') };
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
      return;
    case 'Snapshot':
      w.u32(msg.tick, 'Snapshot.tick');
      w.u32(msg.last_input_seq, 'Snapshot.last_input_seq');
      w.vec(msg.entities, 'Snapshot.entities', writeEntity);
      return;
    case 'Pong':
      w.u32(msg.client_time, 'Pong.client_time');
      w.u32(msg.server_tick, 'Pong.server_tick');
      return;
  }
}

// ---------------------------------------------------------------------------------------
// Public API
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

// Convenience constructors for the three client messages.

export function hello(name) {
  return encodeClientMessage({ type: 'Hello', protocol_version: PROTOCOL_VERSION, name });
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
