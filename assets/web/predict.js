// Client-side prediction of the own player, reconciled with every snapshot.
//
// The server applies each tick the newest input it has, so the authoritative position at
// a snapshot is "the server's state after input `last_input_seq`". The client keeps the
// inputs it sent and, on every snapshot, restarts from that state and replays the inputs
// the server has not applied yet, with the same movement code as the server
// (movement.js, bit-identical to shared/src/movement.rs). When both agree, the replay
// lands exactly where the prediction already was and nothing visible happens. When they
// do not (an input the server skipped or applied twice, quantisation of the snapshot), the
// difference is not shown as a jump: it becomes a visual offset that fades over about
// 100 ms, while the simulated state itself is corrected at once.
//
// Drawing: each predicted state is stamped with the ideal end time of its tick slot (not
// the moment the timer actually fired, which jitters by milliseconds), and the player is
// drawn between the two states around the frame's time (a state not computed yet, because
// the timer is a little late, is extrapolated along the velocity). So the own player
// moves at an even speed on screen whatever the phase between frames and ticks.
//
// Pure module: times are passed in as milliseconds.

import { FLAG_DEAD, qToPos, qToVel } from './codec.js';
import { stepPlayer } from './movement.js';

/** Corrections larger than this are jumps (a respawn), shown at once, not smoothed. */
export const SNAP_M = 2;
/** Residual corrections fade with this time constant: ~95 % gone after 100 ms. */
export const SMOOTH_TAU_MS = 33;
/** Inputs kept for replay at most (4 s at 60 Hz): the server acknowledges far sooner. */
export const MAX_PENDING = 256;
/** Predicted states kept for drawing. */
const TIMELINE = 16;

/** A snapshot entity's quantised state in metres, as the server would continue from it. */
export function kinematicsOf(e) {
  return { x: qToPos(e.x), y: qToPos(e.y), vx: qToVel(e.vx), vy: qToVel(e.vy) };
}

export class Predictor {
  constructor(map, tickRate) {
    this.map = map;
    this.tickMs = 1000 / tickRate;
    this.dt = 1 / tickRate;
    /** Inputs sent and not yet applied by the server: `{seq, moveX, moveY}`. */
    this.pending = [];
    /** Predicted state after the newest input (metres, m/s), null before a snapshot. */
    this.state = null;
    /** Recent predicted states by the end time of their tick: `{seq, t, x, y, vx, vy}`. */
    this.timeline = [];
    /** Dead players do not move; the server ignores their movement until they respawn. */
    this.dead = false;
    /** Visual offset still to fade away, as it was at `offsetAt`. */
    this.offset = { x: 0, y: 0 };
    this.offsetAt = 0;
    /** Size of the last correction in metres, and counts, for the net graph and tests. */
    this.lastError = 0;
    this.maxError = 0;
    this.reconciles = 0;
    /** Reconciles that moved the prediction by more than a centimetre. */
    this.corrections = 0;
    /** The last few of them: {at, err, pending}. */
    this.recent = [];
    this.snaps = 0;
  }

  /** The input `seq` was just sent for the tick slot starting at `slotMs`: predict it. */
  input(seq, moveX, moveY, slotMs) {
    this.pending.push({ seq, moveX, moveY });
    if (this.pending.length > MAX_PENDING) this.pending.shift();
    if (!this.state) return;
    if (!this.dead) this.state = stepPlayer(this.state, moveX, moveY, this.map, this.dt);
    this.timeline.push({ seq, t: slotMs + this.tickMs, moveX, moveY, ...this.state });
    if (this.timeline.length > TIMELINE) this.timeline.shift();
  }

  /**
   * A snapshot arrived with the own entity `e` (wire units) and the newest input the
   * server applied: drop what it applied, restart from its state, replay the rest.
   */
  reconcile(e, lastInputSeq, nowMs) {
    let drop = 0;
    while (drop < this.pending.length && this.pending[drop].seq <= lastInputSeq) drop++;
    if (drop) this.pending.splice(0, drop);

    const old = this.state;
    const shown = this.renderPosition(nowMs);
    this.dead = (e.flags & FLAG_DEAD) !== 0;
    let k = kinematicsOf(e);
    this.place(lastInputSeq, k, nowMs);
    if (!this.dead) {
      for (const p of this.pending) {
        k = stepPlayer(k, p.moveX, p.moveY, this.map, this.dt);
        this.place(p.seq, k, nowMs, p);
      }
    }
    this.state = k;
    this.reconciles++;
    this.offset = { x: 0, y: 0 };
    this.offsetAt = nowMs;
    if (!old) return;

    const err = Math.hypot(old.x - k.x, old.y - k.y);
    this.lastError = err;
    if (err >= SNAP_M) {
      // A respawn (or a prediction gone badly wrong): draw the new place at once.
      this.snaps++;
      this.timeline = this.timeline.filter((s) => s.seq >= lastInputSeq);
      return;
    }
    this.maxError = Math.max(this.maxError, err);
    if (err > 0.01) {
      this.corrections++;
      this.recent.push({ at: nowMs, err, pending: this.pending.length });
      if (this.recent.length > 8) this.recent.shift();
    }
    // Keep what is on screen where it is: the corrected motion plus an offset that fades.
    const now = this.renderPosition(nowMs);
    if (shown && now) this.offset = { x: shown.x - now.x, y: shown.y - now.y };
  }

  /** Sets the timeline's state for `seq` (the state after that input), if it has one. */
  place(seq, k, nowMs, inp = { moveX: 0, moveY: 0 }) {
    const s = this.timeline.find((x) => x.seq === seq);
    if (s) Object.assign(s, k, { next: null });
    else if (!this.timeline.length) this.timeline.push({ seq, t: nowMs, moveX: inp.moveX, moveY: inp.moveY, ...k });
  }

  /** The remaining visual offset at `nowMs`. */
  offsetNow(nowMs) {
    const f = Math.exp(-Math.max(0, nowMs - this.offsetAt) / SMOOTH_TAU_MS);
    return { x: this.offset.x * f, y: this.offset.y * f };
  }

  /**
   * Where to draw the own player at `nowMs`, in metres, or null before the first
   * snapshot: between the predicted states of the ticks around that time, plus the
   * fading correction.
   */
  renderPosition(nowMs) {
    if (!this.state) return null;
    const o = this.offsetNow(nowMs);
    const tl = this.timeline;
    if (!tl.length) return { x: this.state.x + o.x, y: this.state.y + o.y };
    let i = tl.length - 1;
    while (i > 0 && tl[i].t > nowMs) i--;
    const a = tl[i];
    const b = tl[i + 1];
    if (a.t > nowMs) return { x: a.x + o.x, y: a.y + o.y };
    if (!b) {
      // The next tick's input is not sent yet (its timer is a little late). The server
      // repeats the last input meanwhile, so step it (walls included) and go that way.
      if (!a.next) a.next = this.dead ? a : stepPlayer(a, a.moveX, a.moveY, this.map, this.dt);
      const f = Math.min(1, (nowMs - a.t) / this.tickMs);
      return { x: a.x + (a.next.x - a.x) * f + o.x, y: a.y + (a.next.y - a.y) * f + o.y };
    }
    const f = (nowMs - a.t) / (b.t - a.t);
    return { x: a.x + (b.x - a.x) * f + o.x, y: a.y + (b.y - a.y) * f + o.y };
  }
}
