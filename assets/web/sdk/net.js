// The connection to a Tickwire server: seat reservation (rooms API), WebSocket, handshake,
// snapshots (applied to a ClientView built from the Welcome's schema, checksum verified,
// a keyframe asked for on a mismatch), inputs at the tick rate (sdk/inputclock.js),
// pings, traffic statistics, and reconnection with backoff: a resume of the same player
// within the grace period, else a fresh join; a room gone meanwhile is replaced by
// another of the same game. What to do after each close code is the pure
// `planAfterClose` of reconnect.js, tested in net.test.mjs; where to go when the room is
// gone is relocate.js's `planRelocation`.
//
// Game-agnostic: it decodes whatever the schema describes and sends the inputs it is
// given. Browser module (WebSocket, performance, timers), but no DOM: what it learns
// goes to the handlers given to the constructor.

import {
  ClientView,
  DeltaError,
  Layout,
  decodeServerMessage,
  desync,
  hello,
  input,
  ping,
} from './codec.js';
import { InputClock } from './inputclock.js';
import { Action, planAfterClose, planAfterReserve } from './reconnect.js';
import { Move, planRelocation, roomGone } from './relocate.js';

// The reconnection decisions are reconnect.js's; re-exported for the page and tests.
export { Action, backoffMs, closeText, planAfterClose, planAfterReserve } from './reconnect.js';

/** Connection states, as shown to the player. */
export const State = Object.freeze({
  IDLE: 'idle',
  CONNECTING: 'connecting',
  CONNECTED: 'connected',
  /** The connection dropped; a retry is scheduled. */
  LOST: 'lost',
  /** A retry is under way. */
  RETRYING: 'retrying',
  /** Closed for a reason retrying cannot fix (a refused name, a protocol error, a closed room). */
  FAILED: 'failed',
});

const PING_INTERVAL_MS = 1000;
/** Without a Welcome this long after connecting, give up on the attempt and retry. */
const HANDSHAKE_TIMEOUT_MS = 6000;
/** Snapshots come many times a second: this long without any message is a dead link. */
const SILENCE_TIMEOUT_MS = 5000;
/** After a Desync, ask again at most this often while no keyframe came (PROTOCOL.md). */
const DESYNC_RETRY_MS = 1000;
/** Statistics window for rates, and the history the net graph draws. */
const WINDOW_MS = 1000;
const HISTORY = 120;

/**
 * Reserves a seat in room `roomId`: `{ok: true, token, url}` or `{ok: false, status,
 * message}` (status 0 when the server did not answer).
 */
export async function reserveSeat(roomId, fetchFn = globalThis.fetch) {
  let res;
  try {
    res = await fetchFn(`/api/rooms/${encodeURIComponent(roomId)}/join`, {
      method: 'POST',
      cache: 'no-store',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
  } catch (e) {
    return { ok: false, status: 0, message: e.message };
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON: the status says enough.
  }
  if (res.ok && body && typeof body.token === 'string' && typeof body.url === 'string') {
    return { ok: true, token: body.token, url: body.url };
  }
  return { ok: false, status: res.ok ? 502 : res.status, message: body?.message ?? '' };
}

/** Longest wait for the rooms API while getting a lost session back. */
const API_TIMEOUT_MS = 5000;

/** `fetch` that gives up after API_TIMEOUT_MS (an unreachable server must not stall a reconnection). */
async function fetchWithin(fetchFn, url, init = {}) {
  const abort = typeof AbortController === 'function' ? new AbortController() : null;
  const timer = abort ? setTimeout(() => abort.abort(), API_TIMEOUT_MS) : 0;
  try {
    return await fetchFn(url, abort ? { ...init, signal: abort.signal } : init);
  } finally {
    clearTimeout(timer);
  }
}

/** `GET /api/rooms`: `{status, rooms}` (status 0 when the server did not answer; rooms [] unless a list came). */
export async function fetchRoomList(fetchFn = globalThis.fetch) {
  try {
    const res = await fetchWithin(fetchFn, '/api/rooms', { cache: 'no-store' });
    let rooms = [];
    if (res.ok) {
      const body = await res.json();
      if (Array.isArray(body)) rooms = body;
    }
    return { status: res.status, rooms };
  } catch {
    return { status: 0, rooms: [] };
  }
}

/** `GET /api/rooms/{id}`: the status only (404: no such room; 0: no answer). */
export async function fetchRoomStatus(roomId, fetchFn = globalThis.fetch) {
  try {
    const res = await fetchWithin(fetchFn, `/api/rooms/${encodeURIComponent(roomId)}`, { cache: 'no-store' });
    return res.status;
  } catch {
    return 0;
  }
}

function nowMs32() {
  return Math.floor(performance.now()) >>> 0;
}

/** Sliding-window rate of events carrying amounts (bytes, snapshots). */
class RateWindow {
  constructor() {
    this.items = [];
    this.sum = 0;
  }

  add(now, amount = 1) {
    this.items.push([now, amount]);
    this.sum += amount;
    this.trim(now);
  }

  trim(now) {
    while (this.items.length && this.items[0][0] <= now - WINDOW_MS) this.sum -= this.items.shift()[1];
  }

  perSecond(now) {
    this.trim(now);
    return (this.sum * 1000) / WINDOW_MS;
  }
}

export class Connection {
  /**
   * `room`: the room to join, `{id, api, default}` (`api`: listed by `GET /api/rooms`,
   * so joined with a seat reservation; otherwise anonymously). `name`: the player name
   * for Hello. `wsUrl(roomId)`: the WebSocket URL of a room (null: the server's default
   * room), used for anonymous joins and resumes. `reserve(roomId)`: `reserveSeat` (a
   * parameter for tests). `sampleInput()` returns `{moveX, moveY, aim, buttons}` (and
   * whatever else the page wants handed back with `onInput`) once per tick. Handlers (all
   * optional): `onState(state, info)`, `onWelcome(welcome, now, view)` (`view`: the
   * session's ClientView, its layout from `welcome.schema`), `onSnapshot(tick, entities,
   * lastInputSeq, now)`, `onSettings(settings)`, `onInput(seq, inp, slotMs)` (the ideal
   * start of the tick slot the input was sent for), `onRelocated(from, to, why)` (the
   * room was gone after a lost connection; the connection joins `to` instead).
   * `listRooms()` and `roomStatus(roomId)`: `fetchRoomList` and `fetchRoomStatus` (for
   * tests).
   */
  constructor({ room, name, wsUrl, reserve = reserveSeat, listRooms = fetchRoomList, roomStatus = fetchRoomStatus, sampleInput, handlers = {} }) {
    this.room = room;
    this.name = name;
    this.wsUrl = wsUrl;
    this.reserve = reserve;
    this.listRooms = listRooms;
    this.roomStatus = roomStatus;
    this.sampleInput = sampleInput;
    this.h = handlers;
    this.state = State.IDLE;
    this.info = {};
    this.ws = null;
    /** Sockets given up on without a close frame (the server would free the seat on one). */
    this.orphans = new Set();
    this.attempt = 0;
    this.opening = 0;
    this.timers = new Set();
    this.stopped = false;
    /** From the newest Welcome: the token, room and grace period of a resume. */
    this.resumeToken = '';
    this.resumeRoom = '';
    this.graceS = 0;
    /** When the last connected session was lost (ms), while reconnecting. */
    this.lostAt = null;
    this.resumes = 0;
    /** Whether a session was welcomed in this room (so a room gone can be replaced). */
    this.hadSession = false;
    /** The game of the last Welcome: a room replacing a gone one plays it too. */
    this.game = room?.game ?? '';
    /**
     * The WebSocket URL of the seat reservation: the node hosting the room, which a
     * resume must reach (in a cluster the page's own host may not host it).
     */
    this.seatUrl = '';
    /** Rooms joined because the one before was gone. */
    this.relocations = 0;
    this.stats = {
      bytesIn: new RateWindow(),
      bytesOut: new RateWindow(),
      snapshots: new RateWindow(),
      rttMs: null,
      keyframes: 0,
      deltas: 0,
      fullSnapshots: 0,
      desyncs: 0,
      /** Input slots missed because the page was busy (the server repeated an input). */
      skippedTicks: 0,
      lastProblem: '',
      /** Per snapshot: {bytes, kind: 'key' | 'delta' | 'full' | 'bad', gapMs}. */
      history: [],
      lastSnapshotAt: null,
    };
    this.resetSession();
  }

  resetSession() {
    this.welcome = null;
    /** The replicated state, from the Welcome on (its schema says how to decode it). */
    this.view = null;
    this.inputClock = null;
    this.seq = 0;
    this.awaitingKeyframe = false;
    this.desyncSentAt = -Infinity;
    this.lastMessageAt = 0;
  }

  setState(state, info = {}) {
    this.state = state;
    this.info = info;
    this.h.onState?.(state, info);
  }

  after(ms, fn) {
    const id = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, ms);
    this.timers.add(id);
    return id;
  }

  clearTimers() {
    for (const id of this.timers) clearTimeout(id);
    this.timers.clear();
    clearInterval(this.pingTimer);
    this.pingTimer = 0;
  }

  /** Opens the first connection. */
  start() {
    this.stopped = false;
    this.attempt = 0;
    this.open();
  }

  /** Ends the session for good (the player left): a close frame frees the seat. */
  stop() {
    this.stopped = true;
    this.opening++;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'leaving');
    this.closeOrphans();
    this.setState(State.IDLE);
  }

  /** Skips the wait of a scheduled retry. */
  retryNow() {
    if (this.state !== State.LOST) return;
    this.clearTimers();
    this.open();
  }

  /**
   * For tests: stop answering on the current socket and reconnect, as after a link that
   * died without a close frame (the server keeps the player for a resume).
   */
  simulateLoss() {
    if (this.ws && this.welcome) this.abandon(this.ws, 'simulated loss');
  }

  /**
   * The next attempt: a resume while there is a resume token; otherwise a join, with a
   * fresh seat reservation for a room of the rooms API, anonymously for the others.
   */
  async open() {
    this.clearTimers();
    this.resetSession();
    const opening = ++this.opening;
    const resuming = Boolean(this.resumeToken);
    this.setState(this.attempt === 0 ? State.CONNECTING : State.RETRYING, { attempt: this.attempt, resuming });
    if (resuming) {
      this.connect(this.seatUrl || this.wsUrl(this.resumeRoom || null), { resumeToken: this.resumeToken });
      return;
    }
    if (!this.room.api) {
      this.seatUrl = '';
      this.connect(this.wsUrl(this.room.default ? null : this.room.id), undefined);
      return;
    }
    const seat = await this.reserve(this.room.id);
    if (this.stopped || opening !== this.opening) return;
    if (!seat.ok) {
      this.follow(planAfterReserve(seat.status, this.attempt, seat.message, Math.random, this.relocatable()), null);
      return;
    }
    this.seatUrl = seat.url;
    this.connect(seat.url, { joinToken: seat.token });
  }

  connect(url, helloOptions) {
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      this.follow(this.plan(0, `cannot open a WebSocket: ${e.message}`), 0);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (this.ws === ws) this.send(hello(this.name, helloOptions));
    });
    ws.addEventListener('message', (ev) => {
      if (this.ws === ws) this.onMessage(ev.data);
    });
    // 'error' is always followed by 'close', which says what happened.
    ws.addEventListener('error', () => {});
    ws.addEventListener('close', (ev) => {
      this.orphans.delete(ws);
      if (this.ws !== ws) return;
      this.ws = null;
      this.onClose(ev.code, ev.reason);
    });
    this.after(HANDSHAKE_TIMEOUT_MS, () => {
      if (this.ws === ws && !this.welcome) this.abandon(ws, 'no Welcome within 6 s');
    });
  }

  /**
   * Gives up on the current socket without a close frame (a close frame would tell the
   * server the player left, and free the seat a resume needs) and reconnects. The socket
   * is closed once the next Welcome came (a resume has made the server close it already).
   */
  abandon(ws, why) {
    this.ws = null;
    if (ws.readyState <= WebSocket.OPEN) this.orphans.add(ws);
    if (this.welcome) this.lostAt = performance.now();
    this.follow(this.plan(0, why), 0);
  }

  closeOrphans() {
    for (const ws of this.orphans) if (ws.readyState <= WebSocket.OPEN) ws.close(1000, 'replaced');
    this.orphans.clear();
  }

  /** Whether another room can replace this one if it is gone: it came from the rooms API and had a session. */
  relocatable() {
    return Boolean(this.room.api && this.hadSession);
  }

  plan(code, reason) {
    return planAfterClose({
      code,
      reason,
      resumeToken: this.resumeToken,
      lostAt: this.lostAt,
      now: performance.now(),
      graceS: this.graceS,
      attempt: this.attempt,
      relocatable: this.relocatable(),
    });
  }

  onClose(code, reason) {
    if (this.stopped) return;
    if (this.welcome) this.lostAt = performance.now();
    this.follow(this.plan(code, reason), code);
  }

  /** Carries out a plan of `planAfterClose` or `planAfterReserve`. */
  async follow(plan, code) {
    if (plan.dropResume) this.resumeToken = '';
    if (plan.action === Action.RELOCATE) {
      this.relocate(plan.why);
      return;
    }
    if (plan.checkRoom) {
      // The node may have died with the room: the API knows (404) once the room is gone.
      this.setState(State.RETRYING, { attempt: this.attempt, resuming: Boolean(this.resumeToken), why: plan.why });
      const opening = this.opening;
      const status = await this.roomStatus(this.room.id);
      if (this.stopped || opening !== this.opening) return;
      if (roomGone({ code, roomStatus: status })) {
        this.resumeToken = '';
        this.relocate(`${plan.why}; the room does not exist any more`);
        return;
      }
    }
    if (plan.action === Action.RESUME || plan.action === Action.JOIN) {
      this.retryIn(plan.delayMs, plan.why, code);
    } else {
      this.fail(plan.why, { code, refresh: Boolean(plan.refresh), nameRefused: Boolean(plan.nameRefused), stopped: plan.action === Action.STOP });
    }
  }

  /** Schedules the next attempt in `delay` ms (at once for 0). */
  retryIn(delay, why, code) {
    this.clearTimers();
    this.attempt++;
    if (delay <= 0) {
      this.open();
      return;
    }
    const retryAt = performance.now() + delay;
    this.setState(State.LOST, { why, code, retryAt, attempt: this.attempt, resuming: Boolean(this.resumeToken) });
    this.after(delay, () => this.open());
  }

  /**
   * The room is gone (`why`): lists the rooms and joins another of the same game
   * (telling the page with `onRelocated`), or fails back to the lobby when none has a
   * seat; while the list cannot be had, asks again after the backoff.
   */
  async relocate(why, attempt = 0) {
    this.clearTimers();
    this.resumeToken = '';
    const opening = ++this.opening;
    const gone = this.room;
    this.setState(State.RETRYING, { attempt: this.attempt, resuming: false, why });
    const { status, rooms } = await this.listRooms();
    if (this.stopped || opening !== this.opening) return;
    const plan = planRelocation({ status, rooms, game: this.game, gone, attempt });
    if (plan.move === Move.RETRY) {
      this.attempt++;
      this.setState(State.LOST, { why: plan.why, retryAt: performance.now() + plan.delayMs, attempt: this.attempt, resuming: false });
      this.after(plan.delayMs, () => this.relocate(why, attempt + 1));
      return;
    }
    if (plan.move === Move.LOBBY) {
      this.fail(plan.why, { refresh: true });
      return;
    }
    this.room = { ...plan.room, api: true };
    this.seatUrl = '';
    this.relocations++;
    this.h.onRelocated?.(gone, this.room, plan.why);
    this.open();
  }

  fail(why, extra = {}) {
    this.clearTimers();
    this.opening++;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'client error');
    this.closeOrphans();
    this.setState(State.FAILED, { why, ...extra });
  }

  send(bytes) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(bytes);
    this.stats.bytesOut.add(performance.now(), bytes.byteLength);
    return true;
  }

  onMessage(data) {
    const now = performance.now();
    this.lastMessageAt = now;
    if (!(data instanceof ArrayBuffer)) {
      this.fail('Disconnected: the server sent a text frame');
      return;
    }
    this.stats.bytesIn.add(now, data.byteLength);
    let msg;
    try {
      msg = decodeServerMessage(data);
    } catch (e) {
      this.fail(`Disconnected: undecodable server message (${e.message})`);
      return;
    }
    switch (msg.type) {
      case 'Welcome':
        this.onWelcome(msg, now);
        break;
      case 'Snapshot':
        this.onSnapshot(msg, data.byteLength, now);
        break;
      case 'FullSnapshot':
        this.onFullSnapshot(msg, data.byteLength, now);
        break;
      case 'SnapshotSettings':
        this.h.onSettings?.({ rate: msg.rate, max_bytes_per_sec: msg.max_bytes_per_sec });
        break;
      case 'Pong':
        this.onPong(msg);
        break;
    }
  }

  onWelcome(msg, now) {
    if (this.welcome) {
      this.fail('Disconnected: a second Welcome');
      return;
    }
    if (msg.tick_rate === 0) {
      this.fail('Disconnected: Welcome with a tick rate of 0');
      return;
    }
    let layout;
    try {
      layout = new Layout(msg.schema);
    } catch (e) {
      this.fail(`Disconnected: the server's replication schema is unusable (${e.message})`);
      return;
    }
    this.welcome = msg;
    this.view = new ClientView(layout);
    this.attempt = 0;
    this.lostAt = null;
    this.hadSession = true;
    this.game = msg.schema?.game ?? this.game;
    // The newest token voids the older ones: kept for a resume after a lost connection.
    this.resumeToken = msg.resume_token ?? '';
    this.resumeRoom = msg.room ?? '';
    this.graceS = msg.resume_grace_s ?? 0;
    if (msg.resumed) this.resumes++;
    this.closeOrphans();
    this.clearTimers();
    this.h.onWelcome?.(msg, now, this.view);
    // The page may have stopped the session in the handler (a game it cannot play).
    if (this.stopped || this.state === State.FAILED) return;
    this.setState(State.CONNECTED, { resumed: Boolean(msg.resumed) });
    this.pingTimer = setInterval(() => this.sendPing(), PING_INTERVAL_MS);
    this.sendPing();
    this.startTicking(now);
    this.watchSilence();
  }

  watchSilence() {
    const ws = this.ws;
    this.after(SILENCE_TIMEOUT_MS / 5, () => {
      if (this.ws !== ws) return;
      if (performance.now() - this.lastMessageAt > SILENCE_TIMEOUT_MS) {
        this.abandon(ws, 'nothing received for 5 s');
        return;
      }
      this.watchSilence();
    });
  }

  /**
   * Sends one input per tick, each at its own moment: a timer aimed at the next slot's
   * start rather than a frame callback, so inputs are evenly spaced (see
   * sdk/inputclock.js). A timer that fires more than a tick late (a busy or hidden page)
   * skips the missed slots instead of sending them in a burst.
   */
  startTicking(now) {
    const clock = new InputClock(this.welcome.tick_rate, now);
    this.inputClock = clock;
    const ws = this.ws;
    const run = () => {
      if (this.ws !== ws || !this.welcome) return;
      const skipped = clock.skipped;
      const slotMs = clock.take(performance.now());
      this.stats.skippedTicks += clock.skipped - skipped;
      if (slotMs !== null) this.sendInput(slotMs);
      this.after(clock.wait(performance.now()), run);
    };
    run();
  }

  /** Sends the input of the tick slot that started at `slotMs` (its ideal time). */
  sendInput(slotMs) {
    const inp = this.sampleInput();
    this.seq = this.seq >= 0xffffffff ? 1 : this.seq + 1;
    const ack = this.view ? this.view.tick : 0;
    if (this.send(input(this.seq, ack, inp.moveX, inp.moveY, inp.aim, inp.buttons))) {
      this.h.onInput?.(this.seq, inp, slotMs);
    }
  }

  sendPing() {
    this.send(ping(nowMs32()));
  }

  onPong(msg) {
    const rtt = (nowMs32() - msg.client_time) >>> 0;
    if (rtt > 60_000) return; // not one of this session's pings
    const s = this.stats;
    s.rttMs = s.rttMs === null ? rtt : s.rttMs * 0.7 + rtt * 0.3;
  }

  recordSnapshot(bytes, kind, now) {
    const s = this.stats;
    s.snapshots.add(now);
    s.history.push({ bytes, kind, gapMs: s.lastSnapshotAt === null ? 0 : now - s.lastSnapshotAt });
    if (s.history.length > HISTORY) s.history.shift();
    s.lastSnapshotAt = now;
  }

  /** A delta snapshot: apply it; on any failure, ask for a keyframe. */
  onSnapshot(msg, bytes, now) {
    if (!this.welcome) return;
    const w = this.welcome;
    try {
      this.view.apply(msg, w.tick_rate, w.packing);
    } catch (e) {
      if (!(e instanceof DeltaError)) {
        this.fail(`Disconnected: cannot apply a snapshot (${e.message})`);
        return;
      }
      this.recordSnapshot(bytes, 'bad', now);
      this.requestKeyframe(msg.tick, e.message, now);
      // After a checksum mismatch the view was updated (later deltas build on it) but
      // is wrong somewhere: draw it until the keyframe comes. Other errors left it as it was.
      if (e.kind === 'Checksum') this.h.onSnapshot?.(msg.tick, this.view.entities, msg.last_input_seq, now);
      return;
    }
    if (msg.baseline === 0) {
      this.stats.keyframes++;
      this.awaitingKeyframe = false;
    } else {
      this.stats.deltas++;
    }
    this.recordSnapshot(bytes, msg.baseline === 0 ? 'key' : 'delta', now);
    this.inputClock?.lockPhase(now, this.stats.rttMs ?? 0);
    this.h.onSnapshot?.(msg.tick, this.view.entities, msg.last_input_seq, now);
  }

  /** A full snapshot (a server run with `--snapshots full`): replaces the view. */
  onFullSnapshot(msg, bytes, now) {
    if (!this.welcome || msg.tick <= this.view.tick) return;
    try {
      this.view.applyFull(msg);
    } catch (e) {
      // An entity that does not fit the schema: nothing later would fit either.
      this.fail(`Disconnected: cannot apply a full snapshot (${e.message})`);
      return;
    }
    this.stats.fullSnapshots++;
    this.recordSnapshot(bytes, 'full', now);
    this.h.onSnapshot?.(msg.tick, this.view.entities, msg.last_input_seq, now);
  }

  requestKeyframe(tick, why, now) {
    this.stats.lastProblem = `tick ${tick}: ${why}`;
    if (this.awaitingKeyframe && now - this.desyncSentAt < DESYNC_RETRY_MS) return;
    this.awaitingKeyframe = true;
    this.desyncSentAt = now;
    this.stats.desyncs++;
    this.send(desync(tick));
  }
}
