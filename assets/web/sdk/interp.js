// What the client draws of everything it does not predict, rendered a little in the past
// so that there is (almost) always a newer snapshot to move towards: the server tick
// clock, the interpolation delay, and a buffer of recent snapshots sampled at a
// fractional tick.
//
// Game-agnostic: an entity is placed by the first motion field of its first present
// component that has one (as the server's area of interest places it), and the field's
// model says how it moves between snapshots: a 'Predicted' motion (a player) glides from
// snapshot to snapshot, a 'Trajectory' (a shot, a rolling ball) is evaluated on its line.
// An entity without a motion (a match clock) is sampled too, unplaced, so that what the
// game reads of it matches the picture's time.
//
// Pure module (no DOM, no clock): times are passed in as milliseconds, so node tests can
// drive it. Units: ticks and wire steps in, metres out (steps / the schema's motion scale).

import { getMotion } from './codec.js';

/** A glide longer than this between two snapshots is a teleport (a respawn): jump, don't glide. */
export const TELEPORT_M = 3;
/** How far past the newest snapshot anything is extrapolated before it waits, in seconds. */
export const MAX_EXTRAPOLATION_S = 0.2;
/** Interpolation delay, in snapshot intervals, before jitter is added. */
export const DELAY_INTERVALS = 2;
/** Steps per metre when a schema has no motion at all (nothing is placed then anyway). */
const DEFAULT_SCALE = 64;

/**
 * Estimates the server's current tick from the ticks of arriving snapshots.
 *
 * Each snapshot says "tick T existed when I arrived": `T - now * rate` is a sample of the
 * offset between the server's tick and local time, low by however long the snapshot
 * spent in queues and on the wire. The earliest-arriving samples carry the least delay,
 * so the estimate jumps up to a higher sample at once and drifts down only slowly
 * (following clock drift or a server that fell behind), and it resets when it is far
 * off (the first snapshot, a stall, a tab that slept).
 */
export class TickClock {
  constructor(tickRate) {
    this.rate = tickRate;
    this.offset = null;
    /** Mean lateness of snapshots behind the estimate, in ticks (arrival jitter). */
    this.jitter = 0;
  }

  sample(tick, nowMs) {
    const s = tick - (nowMs * this.rate) / 1000;
    if (this.offset === null || Math.abs(s - this.offset) > this.rate / 2) {
      this.offset = s;
      this.jitter = 0;
      return;
    }
    const late = this.offset - s;
    if (late < 0) this.offset = s;
    else this.offset -= late * 0.02;
    this.jitter += (Math.max(0, late) - this.jitter) * 0.1;
  }

  /** The estimated server tick at `nowMs` (fractional), or null before any sample. */
  now(nowMs) {
    return this.offset === null ? null : (nowMs * this.rate) / 1000 + this.offset;
  }
}

/**
 * How far behind the estimated server tick remote entities are drawn, in ticks: two
 * snapshot intervals at the granted snapshot rate (so one late or skipped snapshot does
 * not starve the interpolation), plus the measured arrival jitter, at most one more
 * interval.
 */
export function interpolationDelay(tickRate, snapshotRate, jitterTicks = 0) {
  const interval = tickRate / Math.max(1, snapshotRate);
  return DELAY_INTERVALS * interval + Math.min(interval, 2 * jitterTicks);
}

/**
 * Position in metres of a trajectory `{anchor, x, y, vx, vy}` (steps) at a fractional
 * tick. Floating point rather than the codec's integer rounding: the same line, but
 * smooth between position steps. Nothing is predicted from it.
 */
export function trajectoryAt(m, tick, tickRate, scale = DEFAULT_SCALE) {
  if (!m.anchor) return [m.x / scale, m.y / scale];
  const t = (tick - m.anchor) / tickRate;
  return [(m.x + m.vx * t) / scale, (m.y + m.vy * t) / scale];
}

/** Heading in radians of a velocity, or null when it is zero. */
export function headingOf(vx, vy) {
  return vx === 0 && vy === 0 ? null : Math.atan2(vy, vx);
}

/** The angle `t` of the way from `a` to `b` (radians), the short way round. */
export function lerpAngle(a, b, t) {
  let d = (b - a) % (2 * Math.PI);
  if (d > Math.PI) d -= 2 * Math.PI;
  if (d < -Math.PI) d += 2 * Math.PI;
  return a + d * t;
}

/**
 * Where the entities of a layout are: for each component, its first motion field (the
 * reference and model), so that `of(e)` finds an entity's placing motion without names.
 */
export class Motions {
  constructor(layout) {
    this.scale = layout.motionScale() || DEFAULT_SCALE;
    this.placing = [];
    for (let c = 0; c < layout.componentCount(); c++) {
      const f = layout.fields(c).find((x) => x.kind.type === 'Motion');
      this.placing.push(f ? { component: c, kind: f.kind, slot: f.slot } : null);
    }
  }

  /** The placing motion of `e`, `{model, anchor, x, y, vx, vy}` in steps, or null. */
  of(e) {
    for (const ref of this.placing) {
      if (ref === null) continue;
      const m = getMotion(e, ref);
      if (m !== null) return { model: ref.kind.model, ...m };
    }
    return null;
  }
}

/**
 * The recent snapshots, as maps from id to entity (shared with the ClientView, so
 * keeping a second of them costs a Map per snapshot, not copies of entities).
 */
export class SnapshotBuffer {
  constructor(layout, { capacity = 64 } = {}) {
    this.motions = new Motions(layout);
    this.capacity = capacity;
    /** `{tick, entities: Map}` in ascending tick order. */
    this.frames = [];
  }

  clear() {
    this.frames = [];
  }

  get newest() {
    return this.frames.length ? this.frames[this.frames.length - 1] : null;
  }

  /** Adds the state at `tick`; a tick not newer than the newest replaces what follows it. */
  push(tick, entities) {
    while (this.frames.length && this.frames[this.frames.length - 1].tick >= tick) this.frames.pop();
    this.frames.push({ tick, entities });
    if (this.frames.length > this.capacity) this.frames.shift();
  }

  /** Drops frames no longer needed to draw at `tick` or later (keeps one at or before it). */
  prune(tick) {
    let keep = 0;
    while (keep + 1 < this.frames.length && this.frames[keep + 1].tick <= tick) keep++;
    if (keep > 0) this.frames.splice(0, keep);
  }

  /**
   * Every entity as it was at `tick` (fractional), one item each:
   * `{id, e, next, f, glide, x, y, vx, vy, heading}`: `e` is the entity state in force
   * at `tick`, `next` the following snapshot's (or undefined), `f` the fraction of the
   * way between them, `glide` whether the position was interpolated from `e` to `next`
   * (so that a game may blend its own fields, an aim, the same way); x/y in metres (null
   * for an entity without a motion), vx/vy in m/s, `heading` the direction of a
   * trajectory's velocity (null when still or not a trajectory).
   *
   * Options: `skip`, an id not to sample (the own player, when it is predicted);
   * `hold(e)`, entities that must not be extrapolated (a dead player).
   *
   * Between the snapshots A (newest at or before `tick`) and B (the next one):
   * - predicted motions glide from A to B (or jump, for a teleport); beyond the newest
   *   snapshot they coast along their velocity for at most MAX_EXTRAPOLATION_S;
   * - trajectories follow the line in force at `tick`: B's if it had already started by
   *   then (a bounce or a kick between A and B), else A's;
   * - an entity is sampled as long as A has it (so a shot disappears when the snapshot
   *   that removed it is reached), and one that B creates on a trajectory appears once
   *   its line has started (a new shot leaves the gun at its spawn tick).
   */
  sample(tick, tickRate, { skip = -1, hold = null } = {}) {
    const frames = this.frames;
    const out = [];
    if (!frames.length) return out;
    let ai = 0;
    while (ai + 1 < frames.length && frames[ai + 1].tick <= tick) ai++;
    const A = frames[ai];
    const B = ai + 1 < frames.length && frames[ai].tick <= tick ? frames[ai + 1] : null;
    // Before the oldest frame (just joined): hold it still rather than run backwards.
    const t = Math.max(tick, A.tick);
    const horizon = A.tick + MAX_EXTRAPOLATION_S * tickRate;
    const f = B ? (t - A.tick) / (B.tick - A.tick) : 0;
    const scale = this.motions.scale;

    for (const a of A.entities.values()) {
      if (a.id === skip) continue;
      const b = B ? B.entities.get(a.id) : undefined;
      const ma = this.motions.of(a);
      const mb = b === undefined ? null : this.motions.of(b);
      const item = { id: a.id, e: a, next: b, f, glide: false, x: null, y: null, vx: 0, vy: 0, heading: null };
      if (ma !== null && ma.model === 'Predicted') {
        const ax = ma.x / scale;
        const ay = ma.y / scale;
        item.x = ax;
        item.y = ay;
        item.vx = ma.vx / scale;
        item.vy = ma.vy / scale;
        if (mb !== null && mb.model === 'Predicted') {
          const bx = mb.x / scale;
          const by = mb.y / scale;
          if (Math.hypot(bx - ax, by - ay) < TELEPORT_M) {
            item.x = ax + (bx - ax) * f;
            item.y = ay + (by - ay) * f;
            item.glide = true;
          }
        } else if (!B && !(hold && hold(a))) {
          const dt = (Math.min(t, horizon) - A.tick) / tickRate;
          item.x = ax + item.vx * dt;
          item.y = ay + item.vy * dt;
        }
      } else {
        // A trajectory, or no motion (yet): whichever state is in force at `t`.
        const useB = mb !== null && mb.model === 'Trajectory' && mb.anchor <= t;
        const m = useB ? mb : ma;
        if (useB) item.e = b;
        if (m !== null) this.place(item, m, B ? t : Math.min(t, horizon), tickRate);
      }
      out.push(item);
    }
    if (B) {
      for (const b of B.entities.values()) {
        if (b.id === skip || A.entities.has(b.id)) continue;
        const mb = this.motions.of(b);
        if (mb === null || mb.model !== 'Trajectory' || mb.anchor === 0 || mb.anchor > t) continue;
        const item = { id: b.id, e: b, next: undefined, f, glide: false, x: null, y: null, vx: 0, vy: 0, heading: null };
        this.place(item, mb, t, tickRate);
        out.push(item);
      }
    }
    return out;
  }

  /** Places `item` on motion `m` at `tick` (a predicted motion where it is). */
  place(item, m, tick, tickRate) {
    const scale = this.motions.scale;
    [item.x, item.y] = m.model === 'Trajectory' ? trajectoryAt(m, tick, tickRate, scale) : [m.x / scale, m.y / scale];
    item.vx = m.vx / scale;
    item.vy = m.vy / scale;
    if (m.model === 'Trajectory') item.heading = headingOf(m.vx, m.vy);
  }
}
