// Client-side prediction of the own player, reconciled with every snapshot: the hook a
// game that predicts gives its session (sdk/session.js). The game supplies the movement
// rules (`step`, the server's own, bit for bit: sdk/movement.js for every game so far)
// and, on each snapshot, the own player's authoritative state; this does the rest.
//
// The server applies each tick the newest input it has, so the authoritative position at
// a snapshot is "the server's state after input `last_input_seq`". The client keeps the
// inputs it sent and, on every snapshot, restarts from that state and replays the inputs
// the server has not applied yet. When both agree, the replay lands exactly where the
// prediction already was and nothing visible happens. When they do not (an input the
// server skipped or applied twice, quantisation of the snapshot), the difference is not
// shown as a jump: it becomes a visual offset that fades over about 100 ms, while the
// simulated state itself is corrected at once.
//
// Drawing: each predicted state is stamped with the ideal end time of its tick slot (not
// the moment the timer actually fired, which jitters by milliseconds), and the player is
// drawn between the two states around the frame's time (a state not computed yet, because
// the timer is a little late, is stepped once more with the last input, as the server
// does meanwhile). So the own player moves at an even speed on screen whatever the phase
// between frames and ticks.
//
// Pure module: times are passed in as milliseconds; states are `{x, y, vx, vy}` in
// metres and m/s; inputs are what the connection sent (`{moveX, moveY, aim, buttons}`).

/** Corrections larger than this are jumps (a respawn), shown at once, not smoothed. */
export const SNAP_M = 2;
/** Residual corrections fade with this time constant: ~95 % gone after 100 ms. */
export const SMOOTH_TAU_MS = 33;
/** Inputs kept for replay at most (4 s at 60 Hz): the server acknowledges far sooner. */
export const MAX_PENDING = 256;
/** Predicted states kept for drawing. */
const TIMELINE = 16;
const NO_INPUT = Object.freeze({ moveX: 0, moveY: 0, aim: 0, buttons: 0 });

/** A motion `{x, y, vx, vy}` in wire steps as the state the server continues from, in metres. */
export function kinematicsOf(m, scale = 64) {
  return { x: m.x / scale, y: m.y / scale, vx: m.vx / scale, vy: m.vy / scale };
}

export class Predictor {
  /**
   * `step(k, input, dt)`: one tick of the server's movement rules for the own player,
   * the state after `input` from state `k`.
   */
  constructor({ tickRate, step }) {
    this.step = step;
    this.tickMs = 1000 / tickRate;
    this.dt = 1 / tickRate;
    /** Inputs sent and not yet applied by the server: `{seq, inp}`. */
    this.pending = [];
    /** Predicted state after the newest input, null before a snapshot. */
    this.state = null;
    /** Recent predicted states by the end time of their tick: `{seq, t, inp, x, y, vx, vy}`. */
    this.timeline = [];
    /** A frozen player does not move (a dead one: the server ignores its movement). */
    this.frozen = false;
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
  input(seq, inp, slotMs) {
    this.pending.push({ seq, inp });
    if (this.pending.length > MAX_PENDING) this.pending.shift();
    if (!this.state) return;
    if (!this.frozen) this.state = this.step(this.state, inp, this.dt);
    this.timeline.push({ seq, t: slotMs + this.tickMs, inp, ...this.state });
    if (this.timeline.length > TIMELINE) this.timeline.shift();
  }

  /**
   * A snapshot arrived with the own player's state `k` (in metres, as quantised on the
   * wire), whether it is `frozen`, and the newest input the server applied: drop what it
   * applied, restart from its state, replay the rest.
   */
  reconcile(k, frozen, lastInputSeq, nowMs) {
    let drop = 0;
    while (drop < this.pending.length && this.pending[drop].seq <= lastInputSeq) drop++;
    if (drop) this.pending.splice(0, drop);

    const old = this.state;
    const shown = this.renderPosition(nowMs);
    this.frozen = frozen;
    let s = { x: k.x, y: k.y, vx: k.vx, vy: k.vy };
    this.place(lastInputSeq, s, nowMs);
    if (!frozen) {
      for (const p of this.pending) {
        s = this.step(s, p.inp, this.dt);
        this.place(p.seq, s, nowMs, p.inp);
      }
    }
    this.state = s;
    this.reconciles++;
    this.offset = { x: 0, y: 0 };
    this.offsetAt = nowMs;
    if (!old) return;

    const err = Math.hypot(old.x - s.x, old.y - s.y);
    this.lastError = err;
    if (err >= SNAP_M) {
      // A respawn (or a prediction gone badly wrong): draw the new place at once.
      this.snaps++;
      this.timeline = this.timeline.filter((x) => x.seq >= lastInputSeq);
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
  place(seq, k, nowMs, inp = NO_INPUT) {
    const s = this.timeline.find((x) => x.seq === seq);
    if (s) Object.assign(s, k, { next: null });
    else if (!this.timeline.length) this.timeline.push({ seq, t: nowMs, inp, ...k });
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
      if (!a.next) a.next = this.frozen ? a : this.step(a, a.inp, this.dt);
      const f = Math.min(1, (nowMs - a.t) / this.tickMs);
      return { x: a.x + (a.next.x - a.x) * f + o.x, y: a.y + (a.next.y - a.y) * f + o.y };
    }
    const f = (nowMs - a.t) / (b.t - a.t);
    return { x: a.x + (b.x - a.x) * f + o.x, y: a.y + (b.y - a.y) * f + o.y };
  }
}
