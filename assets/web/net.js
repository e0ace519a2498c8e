// The connection to a Tickwire server: seat reservation (rooms API), WebSocket, handshake,
// snapshots (applied to a ClientView, checksum verified, a keyframe asked for on a
// mismatch), inputs at the tick rate, pings, traffic statistics, and reconnection with
// backoff: a resume of the same player within the grace period, else a fresh join.
// What to do after each close code is the pure `planAfterClose`, tested in net.test.mjs.
//
// Browser module (WebSocket, performance, timers), but no DOM: what it learns goes to
// the handlers given to the constructor.

import {
  CLOSE_REASONS,
  ClientView,
  DeltaError,
  decodeServerMessage,
  desync,
  hello,
  input,
  ping,
} from './codec.js';

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
/** Reconnection delays: doubling from the first to the last, with ±25 % jitter. */
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10_000;
/**
 * How fast the input schedule's phase follows the server's ticks: the fraction of the
 * measured phase error corrected per snapshot.
 */
const PHASE_GAIN = 0.1;
/** Statistics window for rates, and the history the net graph draws. */
const WINDOW_MS = 1000;
const HISTORY = 120;

/**
 * Close codes after which connecting again may work (a dropped link, a server restart,
 * capacity). The others mean this client, its name or its room was refused: retrying the
 * same thing would fail the same way. 0 stands for a loss the client noticed itself (a
 * socket error, no Welcome in time, silence).
 */
const RETRYABLE = new Set([0, 1001, 1005, 1006, 1011, 1012, 1013, 1014, 4004, 4005, 4006, 4008]);
/** Join tokens that are no good any more: reserve the seat again. */
const NEW_TOKEN = new Set([4010, 4011]);
/** The room is not there (or not this one): back to the lobby. */
const TO_LOBBY = new Set([4012, 4013, 4016]);
/** Where the connection was, after a lost one, at least this much grace must be left. */
const RESUME_MARGIN_MS = 1000;
/** The player could not be taken back (PROTOCOL.md): join anew. */
const RESUME_REFUSED = 4014;

/** What to do after a session ended (see `planAfterClose`). */
export const Action = Object.freeze({
  /** Reconnect to the same room with the resume token, after `delayMs`. */
  RESUME: 'resume',
  /** Join the room anew (a fresh join token where the room came from the API), after `delayMs`. */
  JOIN: 'join',
  /** Back to the lobby with `why` (and refresh the room list). */
  LOBBY: 'lobby',
  /** Stop here, do not reconnect by ourselves; show `why`. */
  STOP: 'stop',
});

/** The reconnection delay before attempt `attempt` (0-based): 0.5 s doubling to 10 s, ±25 %. */
export function backoffMs(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.75 + random() * 0.5));
}

/**
 * What to do after a session closed with `code` (0 for a loss the client noticed
 * itself). Pure, for the tests. `resumeToken`: the newest Welcome's; `lostAt`: when the
 * last connected session was lost (ms, null if it never connected); `graceS`: that
 * Welcome's `resume_grace_s`; `attempt`: reconnection attempts since the last Welcome.
 *
 * Returns `{action, delayMs, why, dropResume, refresh, nameRefused}`:
 * - 1006, 4006, 4008 and the other retryable codes: resume while at least
 *   RESUME_MARGIN_MS of the grace is left, with the backoff capped so that the attempt
 *   happens inside it; otherwise (no token, grace over) join anew after the backoff.
 * - 4014 (resume failed): join anew at once.  4010/4011: a new join token, then retry.
 * - 1001 (server going away): resume tokens are void; join anew after the backoff.
 * - 4012/4013/4016: back to the lobby.  4015: stop (the player plays elsewhere).
 * - 4003 and anything else: back to the lobby with the reason (retrying cannot help).
 */
export function planAfterClose({ code, reason = '', resumeToken = '', lostAt = null, now, graceS = 0, attempt = 0, random = Math.random }) {
  const text = closeText(code, reason);
  const backoff = backoffMs(attempt, random);
  if (code === 4003) {
    return { action: Action.LOBBY, why: `The server refused the name: ${reason || 'invalid name'}`, nameRefused: true, dropResume: true };
  }
  if (code === 4015) {
    return { action: Action.STOP, why: 'This player is playing in another tab (or window): this one stopped.', dropResume: true };
  }
  if (TO_LOBBY.has(code)) {
    return { action: Action.LOBBY, why: `Disconnected: ${text}`, dropResume: true, refresh: true };
  }
  if (code === RESUME_REFUSED) {
    return { action: Action.JOIN, delayMs: 0, why: text, dropResume: true };
  }
  if (NEW_TOKEN.has(code)) {
    return { action: Action.JOIN, delayMs: attempt === 0 ? 0 : backoff, why: text, dropResume: true };
  }
  if (code === 1001) {
    return { action: Action.JOIN, delayMs: backoff, why: text, dropResume: true };
  }
  if (RETRYABLE.has(code)) {
    const left = resumeToken && lostAt !== null ? lostAt + graceS * 1000 - now : -Infinity;
    if (left > RESUME_MARGIN_MS) {
      return { action: Action.RESUME, delayMs: Math.min(backoff, left - RESUME_MARGIN_MS), why: text };
    }
    return { action: Action.JOIN, delayMs: backoff, why: text, dropResume: Boolean(resumeToken) };
  }
  return { action: Action.LOBBY, why: `Disconnected: ${text}`, dropResume: true };
}

/**
 * What to do when `POST /api/rooms/{id}/join` answered `status` (0: no answer at all).
 * 409: the room is full, back to the lobby; 404: the room is gone, back to the lobby
 * and refresh the list; 503 or no answer: retry after the backoff; anything else: lobby.
 */
export function planAfterReserve(status, attempt = 0, message = '', random = Math.random) {
  if (status === 409) return { action: Action.LOBBY, why: 'Room full: pick another room or try again later.', refresh: true };
  if (status === 404) return { action: Action.LOBBY, why: 'That room does not exist any more.', refresh: true };
  if (status === 0 || status === 429 || status >= 500) {
    return { action: Action.JOIN, delayMs: backoffMs(attempt, random), why: status ? `seat reservation: HTTP ${status}` : 'the server does not answer' };
  }
  return { action: Action.LOBBY, why: `Cannot join: HTTP ${status}${message ? ` (${message})` : ''}` };
}

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

/** A close code as people read it: "connection lost (1006)", plus the server's reason. */
export function closeText(code, reason) {
  const meaning = code === 0 ? 'connection lost' : CLOSE_REASONS[code] ?? 'closed';
  return `${meaning}${code ? ` (${code})` : ''}${reason ? `: ${reason}` : ''}`;
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
   * parameter for tests). `sampleInput()` returns `{moveX, moveY, aim, aimRad, buttons}`
   * once per tick. Handlers (all optional): `onState(state, info)`, `onWelcome(welcome,
   * now)`, `onSnapshot(tick, entities, lastInputSeq, now)`, `onSettings(settings)`,
   * `onInput(seq, inp, slotMs)` (the ideal start of the tick slot the input was sent for).
   */
  constructor({ room, name, wsUrl, reserve = reserveSeat, sampleInput, handlers = {} }) {
    this.room = room;
    this.name = name;
    this.wsUrl = wsUrl;
    this.reserve = reserve;
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
    this.view = new ClientView();
    this.seq = 0;
    this.awaitingKeyframe = false;
    this.desyncSentAt = -Infinity;
    this.lastMessageAt = 0;
    this.ticksSent = 0;
    this.tickEpoch = 0;
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
      this.connect(this.wsUrl(this.resumeRoom || null), { resumeToken: this.resumeToken });
      return;
    }
    if (!this.room.api) {
      this.connect(this.wsUrl(this.room.default ? null : this.room.id), undefined);
      return;
    }
    const seat = await this.reserve(this.room.id);
    if (this.stopped || opening !== this.opening) return;
    if (!seat.ok) {
      this.follow(planAfterReserve(seat.status, this.attempt, seat.message), null);
      return;
    }
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

  plan(code, reason) {
    return planAfterClose({
      code,
      reason,
      resumeToken: this.resumeToken,
      lostAt: this.lostAt,
      now: performance.now(),
      graceS: this.graceS,
      attempt: this.attempt,
    });
  }

  onClose(code, reason) {
    if (this.stopped) return;
    if (this.welcome) this.lostAt = performance.now();
    this.follow(this.plan(code, reason), code);
  }

  /** Carries out a plan of `planAfterClose` or `planAfterReserve`. */
  follow(plan, code) {
    if (plan.dropResume) this.resumeToken = '';
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
    this.welcome = msg;
    this.attempt = 0;
    this.lostAt = null;
    // The newest token voids the older ones: kept for a resume after a lost connection.
    this.resumeToken = msg.resume_token ?? '';
    this.resumeRoom = msg.room ?? '';
    this.graceS = msg.resume_grace_s ?? 0;
    if (msg.resumed) this.resumes++;
    this.closeOrphans();
    this.clearTimers();
    this.h.onWelcome?.(msg, now);
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
   * Sends one input per tick, each at its own moment: a timer aimed at the next tick's
   * deadline rather than a frame callback, so inputs are evenly spaced (the server
   * applies only the newest input of a tick, so two in one tick would lose one). A timer
   * that fires more than a tick late (a busy or hidden page) skips the missed ticks
   * instead of sending them in a burst.
   */
  startTicking(now) {
    const tickMs = 1000 / this.welcome.tick_rate;
    this.tickEpoch = now;
    this.ticksSent = 0;
    const ws = this.ws;
    const run = () => {
      if (this.ws !== ws || !this.welcome) return;
      const t = performance.now();
      // The tick slot we are in; at most one input per call, missed slots are skipped.
      const slot = Math.floor((t - this.tickEpoch) / tickMs);
      if (slot > this.ticksSent) this.stats.skippedTicks += slot - this.ticksSent;
      if (slot >= this.ticksSent) {
        this.sendInput(this.tickEpoch + slot * tickMs);
        this.ticksSent = slot + 1;
      }
      // Rounded up: a timer never fires early, so the next call lands in the next slot.
      const wait = Math.ceil(this.tickEpoch + this.ticksSent * tickMs - performance.now());
      this.after(Math.max(0, wait), run);
    };
    run();
  }

  /**
   * Moves the input schedule towards the middle between two server ticks.
   *
   * The server applies, each tick, the newest input that has arrived. An input sent just
   * as a tick starts may make it in time or not, and jitter decides: then one tick gets
   * no new input (the previous one is applied twice) and the next gets two (one is never
   * applied), and at every change of keys the prediction is off by a step. Inputs that
   * arrive half a tick before the next tick are immune to jitter below half a tick. A
   * snapshot leaves the server right after its tick, so its arrival time minus the
   * round trip marks a tick boundary; this nudges the send times to half a tick after it.
   */
  lockPhase(arrival) {
    const tickMs = 1000 / this.welcome.tick_rate;
    const rtt = this.stats.rttMs ?? 0;
    const target = arrival + tickMs / 2 - rtt;
    let err = (((target - this.tickEpoch) % tickMs) + tickMs) % tickMs;
    if (err > tickMs / 2) err -= tickMs;
    this.tickEpoch += err * PHASE_GAIN;
  }

  /** Sends the input of the tick slot that started at `slotMs` (its ideal time). */
  sendInput(slotMs) {
    const inp = this.sampleInput();
    this.seq = this.seq >= 0xffffffff ? 1 : this.seq + 1;
    if (this.send(input(this.seq, this.view.tick, inp.moveX, inp.moveY, inp.aim, inp.buttons))) {
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
    this.lockPhase(now);
    this.h.onSnapshot?.(msg.tick, this.view.entities, msg.last_input_seq, now);
  }

  /** A full snapshot (a server run with `--snapshots full`): replaces the view. */
  onFullSnapshot(msg, bytes, now) {
    if (!this.welcome || msg.tick <= this.view.tick) return;
    this.view.applyFull(msg);
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
