// What the client draws of everything it does not predict: remote players, drones and
// projectiles, rendered a little in the past so that there is (almost) always a newer
// snapshot to move towards.
//
// Pure module (no DOM, no clock): times are passed in as milliseconds, so node tests can
// drive it. Units: ticks and position steps as on the wire in, metres out.

import { FLAG_DEAD, qToPos, qToVel } from './codec.js';

/** A player moving further than this between two snapshots respawned: jump, don't glide. */
export const TELEPORT_M = 3;
/** How far past the newest snapshot anything is extrapolated before it waits, in seconds. */
export const MAX_EXTRAPOLATION_S = 0.2;
/** Interpolation delay, in snapshot intervals, before jitter is added. */
export const DELAY_INTERVALS = 2;

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

/** Position of a trajectory (a drone or projectile state) at a fractional tick, in metres. */
export function trajectoryAt(e, tick, tickRate) {
  if (!e.anchor) return [qToPos(e.x), qToPos(e.y)];
  // Floating point rather than codec.positionAt's integer rounding: the same line, but
  // smooth between position steps. Nothing is predicted from it.
  const t = (tick - e.anchor) / tickRate;
  return [qToPos(e.x) + qToVel(e.vx) * t, qToPos(e.y) + qToVel(e.vy) * t];
}

/** Facing in radians from a velocity (drones and projectiles: the server sends angle 0). */
export function headingOf(e) {
  return e.vx === 0 && e.vy === 0 ? null : Math.atan2(e.vy, e.vx);
}

function lerpAngle(a, b, t) {
  let d = (b - a) % (2 * Math.PI);
  if (d > Math.PI) d -= 2 * Math.PI;
  if (d < -Math.PI) d += 2 * Math.PI;
  return a + d * t;
}

const ANGLE_TO_RAD = (2 * Math.PI) / 65536;

/**
 * The recent snapshots, as maps from id to entity state (shared with the ClientView, so
 * keeping a second of them costs a Map per snapshot, not copies of entities).
 */
export class SnapshotBuffer {
  constructor(capacity = 64) {
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
   * Remote entities as they were at `tick` (fractional), in metres:
   * `{id, kind, x, y, angle, health, dead, score, owner, name}`. `skip` is an id not to
   * draw (the own player, which is predicted instead).
   *
   * Between the snapshots A (newest at or before `tick`) and B (the next one):
   * - players glide from A to B (or jump, for a respawn); beyond the newest snapshot
   *   they coast along their velocity for at most MAX_EXTRAPOLATION_S;
   * - drones and projectiles follow the trajectory in force at `tick`: B's if it had
   *   already started by then (a bounce between A and B), else A's;
   * - an entity is drawn as long as A has it (so a projectile disappears when the
   *   snapshot that removed it is reached), and one that B creates appears once its
   *   trajectory has started (a new shot leaves the gun at its spawn tick).
   */
  sample(tick, tickRate, skip = -1) {
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

    for (const a of A.entities.values()) {
      if (a.id === skip) continue;
      const b0 = B ? B.entities.get(a.id) : undefined;
      const b = b0 !== undefined && b0.kind === a.kind ? b0 : undefined;
      const v = entityView(a);
      if (a.kind === 'Player') {
        const ax = qToPos(a.x);
        const ay = qToPos(a.y);
        if (b) {
          const bx = qToPos(b.x);
          const by = qToPos(b.y);
          if (Math.hypot(bx - ax, by - ay) < TELEPORT_M) {
            v.x = ax + (bx - ax) * f;
            v.y = ay + (by - ay) * f;
            v.angle = lerpAngle(v.angle, b.angle * ANGLE_TO_RAD, f);
          }
        } else if (!B && !v.dead) {
          const dt = (Math.min(t, horizon) - A.tick) / tickRate;
          v.x = ax + qToVel(a.vx) * dt;
          v.y = ay + qToVel(a.vy) * dt;
        }
      } else {
        const traj = b && b.anchor <= t ? b : a;
        [v.x, v.y] = trajectoryAt(traj, B ? t : Math.min(t, horizon), tickRate);
        v.vx = qToVel(traj.vx);
        v.vy = qToVel(traj.vy);
        const h = headingOf(traj);
        if (h !== null) v.angle = h;
      }
      out.push(v);
    }
    if (B) {
      for (const b of B.entities.values()) {
        if (b.id === skip || b.anchor === 0 || b.anchor > t || A.entities.has(b.id)) continue;
        const v = entityView(b);
        [v.x, v.y] = trajectoryAt(b, t, tickRate);
        const h = headingOf(b);
        if (h !== null) v.angle = h;
        out.push(v);
      }
    }
    return out;
  }
}

function entityView(e) {
  return {
    id: e.id,
    kind: e.kind,
    x: qToPos(e.x),
    y: qToPos(e.y),
    vx: qToVel(e.vx),
    vy: qToVel(e.vy),
    angle: e.angle * ANGLE_TO_RAD,
    health: e.health,
    dead: (e.flags & FLAG_DEAD) !== 0,
    score: e.score,
    owner: e.owner,
    name: e.name,
  };
}
