// The connection to a Tickwire server: WebSocket, handshake, snapshots (applied to a
// ClientView, checksum verified, a keyframe asked for on a mismatch), inputs at the tick
// rate, pings, traffic statistics, and reconnection with backoff.
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
  /** Closed for a reason retrying cannot fix (a refused name, a protocol error). */
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
 * Close codes after which connecting again may work (server restart, capacity, a
 * dropped link). The others mean this client or its name was refused: retrying the same
 * thing would fail the same way.
 */
const RETRYABLE = new Set([1001, 1005, 1006, 1011, 1012, 1013, 1014, 4004, 4005, 4006, 4008]);
/** The server could not give back the player a resume token named: join anew instead. */
const RESUME_REFUSED = 4014;

/** A close code as people read it: "connection lost (1006)", plus the server's reason. */
export function closeText(code, reason) {
  const meaning = CLOSE_REASONS[code] ?? (code === 4008 ? 'idle timeout' : 'closed');
  return `${meaning} (${code})${reason ? `: ${reason}` : ''}`;
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
   * `url`: the WebSocket URL. `name`: the player name for Hello. `sampleInput()` returns
   * `{moveX, moveY, aim, aimRad, buttons}` once per tick. Handlers (all optional):
   * `onState(state, info)`, `onWelcome(welcome, now)`, `onSnapshot(tick, entities,
   * lastInputSeq, now)`, `onSettings(settings)`, `onInput(seq, inp, slotMs)` (the
   * ideal start of the tick slot the input was sent for).
   */
  constructor({ url, name, sampleInput, handlers = {} }) {
    this.url = url;
    this.name = name;
    this.sampleInput = sampleInput;
    this.h = handlers;
    this.state = State.IDLE;
    this.info = {};
    this.ws = null;
    this.attempt = 0;
    this.timers = new Set();
    this.stopped = false;
    this.resumeToken = '';
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

  /** Ends the session for good (the player left). */
  stop() {
    this.stopped = true;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'leaving');
    this.setState(State.IDLE);
  }

  /** Skips the wait of a scheduled retry. */
  retryNow() {
    if (this.state !== State.LOST) return;
    this.clearTimers();
    this.open();
  }

  open() {
    this.clearTimers();
    this.resetSession();
    this.setState(this.attempt === 0 ? State.CONNECTING : State.RETRYING, { attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.lost(`cannot open a WebSocket: ${e.message}`, true);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      // With a resume token from the previous session's Welcome, ask for the same
      // player back (servers whose protocol has no resume send none, and this is a join).
      this.send(hello(this.name, this.resumeToken ? { resumeToken: this.resumeToken } : undefined));
    });
    ws.addEventListener('message', (ev) => {
      if (this.ws === ws) this.onMessage(ev.data);
    });
    // 'error' is always followed by 'close', which says what happened.
    ws.addEventListener('error', () => {});
    ws.addEventListener('close', (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onClose(ev.code, ev.reason);
    });
    this.after(HANDSHAKE_TIMEOUT_MS, () => {
      if (this.ws === ws && !this.welcome) this.abandon(ws, 'no Welcome within 6 s');
    });
  }

  /** Drops the current socket ourselves and treats it as a lost connection. */
  abandon(ws, why) {
    this.ws = null;
    if (ws.readyState <= WebSocket.OPEN) ws.close(1000, why);
    this.lost(why, true);
  }

  onClose(code, reason) {
    const text = closeText(code, reason);
    if (this.stopped) return;
    if (code === 4003) {
      this.fail(`The server refused the name: ${reason || 'invalid name'}`, { code, nameRefused: true });
    } else if (code === RESUME_REFUSED && this.resumeToken) {
      // The player is gone (grace period over): join as a new one, at once.
      this.resumeToken = '';
      this.open();
    } else if (RETRYABLE.has(code)) {
      this.lost(text, true, code);
    } else {
      this.fail(`Disconnected: ${text}`, { code });
    }
  }

  /** The connection is gone for a reason worth retrying: schedule the next attempt. */
  lost(why, retry, code = null) {
    this.clearTimers();
    if (!retry) {
      this.fail(why);
      return;
    }
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(this.attempt, 10));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt++;
    const retryAt = performance.now() + delay;
    this.setState(State.LOST, { why, code, retryAt, attempt: this.attempt });
    // A reconnection is a new session with a new player (the protocol has no resume
    // yet; when the rooms work adds one, this is where its token goes into Hello).
    this.after(delay, () => this.open());
  }

  fail(why, extra = {}) {
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'client error');
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
    // Kept for the next connection's Hello (only servers with resume send one).
    if (typeof msg.resume_token === 'string') this.resumeToken = msg.resume_token;
    this.clearTimers();
    this.h.onWelcome?.(msg, now);
    this.setState(State.CONNECTED, {});
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
