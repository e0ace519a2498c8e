// One session's picture of the game: what to draw each frame, built from snapshots (remote
// entities, interpolated), inputs (the own player, predicted) and their differences (the
// kill feed, the scoreboard, effects).
//
// No DOM and no clock: the connection feeds it messages with their arrival times, the
// main loop asks for a frame at a time, so node tests can run it.

import { BUTTON_FIRE, FLAG_DEAD, qToPos } from './codec.js';
import { SnapshotBuffer, TickClock, interpolationDelay } from './interp.js';
import { deriveEvents } from './killfeed.js';
import { mapFromInfo } from './movement.js';
import { Predictor } from './predict.js';

/** Seconds a dead player waits (shared::rules::RESPAWN_DELAY_S), for the countdown. */
export const RESPAWN_DELAY_S = 2;
/** How much faster or slower than real time the render tick may run to stay on target. */
const RENDER_SLEW = 0.08;
/** Seconds between shots (shared::rules::FIRE_COOLDOWN_S), for the local muzzle flash. */
export const FIRE_COOLDOWN_S = 0.25;
/** A shot's speed in m/s and life in s (shared::rules::PROJECTILE_SPEED, _LIFETIME_S). */
export const PROJECTILE_SPEED = 20;
export const PROJECTILE_LIFETIME_S = 0.8;
/** How far a shot reaches, in metres: what the aim line shows. */
export const SHOT_RANGE_M = PROJECTILE_SPEED * PROJECTILE_LIFETIME_S;
/** Kill feed entries stay this long (ms), at most FEED_MAX of them. */
const FEED_MS = 6000;
const FEED_MAX = 6;
/** Effects (bursts, rings, flashes) last this long (ms). */
const EFFECT_MS = 600;
/** Players out of view stay on the scoreboard this long (ms) after they were last seen. */
const SCOREBOARD_MEMORY_MS = 60_000;

export class Game {
  constructor(welcome) {
    this.welcome = welcome;
    this.tickRate = welcome.tick_rate;
    this.ownId = welcome.entity;
    this.map = mapFromInfo(welcome.map);
    this.settings = welcome.settings;
    this.clock = new TickClock(this.tickRate);
    this.buffer = new SnapshotBuffer();
    this.predictor = new Predictor(this.map, this.tickRate);
    /** The newest state: `{tick, entities: Map, lastInputSeq}`. */
    this.latest = null;
    /** Events waiting for the render tick to reach them, then the visible feed. */
    this.queued = [];
    this.feed = [];
    this.effects = [];
    /** Everyone seen this session: id → {id, name, score, dead, inView, seenAt}. */
    this.players = new Map();
    /** Set while the own player is dead: {at (ms), killer (name or null), killerId}. */
    this.death = null;
    /** What the own player destroyed this session, as the kill feed saw it (the score
     * also counts kills out of view). */
    this.kills = { players: 0, drones: 0 };
    this.renderTick = null;
    this.renderAt = null;
    this.nextFireTick = 0;
    this.inputTicks = 0;
  }

  /** The snapshot rate and budget the server granted (Welcome, then SnapshotSettings). */
  onSettings(settings) {
    this.settings = settings;
  }

  /** How far behind the server remote entities are drawn, in ticks. */
  get delayTicks() {
    return interpolationDelay(this.tickRate, this.settings.rate, this.clock.jitter);
  }

  /** A snapshot was applied: `entities` is the new view (sorted by id). */
  onSnapshot(tick, entities, lastInputSeq, nowMs) {
    const map = new Map();
    for (const e of entities) map.set(e.id, e);
    const before = this.latest;
    this.latest = { tick, entities: map, lastInputSeq };
    this.buffer.push(tick, map);
    this.clock.sample(tick, nowMs);

    const own = map.get(this.ownId);
    if (own) this.predictor.reconcile(own, lastInputSeq, nowMs);

    if (before && tick > before.tick) {
      const events = deriveEvents(before.entities, map, {
        tick,
        tickRate: this.tickRate,
        own: this.ownId,
        aoiRadius: this.welcome.aoi_radius,
      });
      for (const ev of events) {
        // The own death is shown at once, like the own (predicted) player; everything
        // else when the interpolated world reaches it, so the feed matches the picture.
        if (ev.type === 'kill' || ev.type === 'death') {
          if (ev.victim.id === this.ownId) {
            this.death = { at: nowMs, killer: ev.killer ? ev.killer.name : null, killerId: ev.killer ? ev.killer.id : null };
          }
        }
        if (ev.killer && ev.killer.id === this.ownId) {
          if (ev.type === 'kill') this.kills.players++;
          else if (ev.type === 'drone') this.kills.drones++;
        }
        this.queued.push(ev);
      }
    }
    if (own) {
      const dead = (own.flags & FLAG_DEAD) !== 0;
      if (dead && !this.death) this.death = { at: nowMs, killer: null, killerId: null };
      if (!dead) this.death = null;
    }

    for (const p of this.players.values()) p.inView = false;
    for (const e of entities) {
      if (e.kind !== 'Player') continue;
      this.players.set(e.id, {
        id: e.id,
        name: e.name,
        score: e.score,
        dead: (e.flags & FLAG_DEAD) !== 0,
        inView: true,
        seenAt: nowMs,
      });
    }
    for (const [id, p] of this.players) {
      if (!p.inView && nowMs - p.seenAt > SCOREBOARD_MEMORY_MS) this.players.delete(id);
    }
  }

  /** The input `seq` was sent for the tick slot starting at `slotMs`. */
  onInput(seq, inp, slotMs) {
    this.predictor.input(seq, inp.moveX, inp.moveY, slotMs);
    this.inputTicks++;
    // A cosmetic muzzle flash on the client's own guess of the cooldown: the shot itself
    // appears when the server's snapshot brings it.
    if (inp.buttons & BUTTON_FIRE && !this.death && this.predictor.state && this.inputTicks >= this.nextFireTick) {
      this.nextFireTick = this.inputTicks + Math.max(1, Math.round(FIRE_COOLDOWN_S * this.tickRate));
      this.effects.push({ kind: 'muzzle', at: slotMs });
    }
  }

  /**
   * Everything to draw at `nowMs`: `{tick, own, entities, effects, feed, death}` with
   * positions in metres. `own` is the predicted own player (null before the first
   * snapshot), `entities` the interpolated others.
   */
  frame(nowMs) {
    const est = this.clock.now(nowMs);
    let tick = null;
    if (est !== null) {
      tick = this.advanceRenderTick(est - this.delayTicks, nowMs);
      this.buffer.prune(tick - this.tickRate);
    }
    const entities = tick === null ? [] : this.buffer.sample(tick, this.tickRate, this.ownId);

    let own = null;
    const e = this.latest ? this.latest.entities.get(this.ownId) : undefined;
    if (e) {
      const pos = this.predictor.renderPosition(nowMs) ?? { x: qToPos(e.x), y: qToPos(e.y) };
      own = {
        id: e.id,
        kind: 'Player',
        x: pos.x,
        y: pos.y,
        serverX: qToPos(e.x),
        serverY: qToPos(e.y),
        health: e.health,
        dead: (e.flags & FLAG_DEAD) !== 0,
        score: e.score,
        name: e.name,
      };
    }

    // Release the events the picture has reached.
    if (tick !== null) {
      const due = this.queued.filter((ev) => ev.tick <= tick);
      if (due.length) {
        this.queued = this.queued.filter((ev) => ev.tick > tick);
        for (const ev of due) this.release(ev, nowMs);
      }
    }
    this.feed = this.feed.filter((f) => nowMs - f.at < FEED_MS).slice(-FEED_MAX);
    this.effects = this.effects.filter((f) => nowMs - f.at < EFFECT_MS);

    const death = this.death
      ? {
          killer: this.death.killer,
          killerId: this.death.killerId,
          remaining: Math.max(0, RESPAWN_DELAY_S - (nowMs - this.death.at) / 1000),
        }
      : null;
    return { tick, own, entities, effects: this.effects, feed: this.feed, death };
  }

  /**
   * Moves the render tick towards `target` smoothly. Both the clock estimate and the
   * delay move in small steps as snapshots arrive; following them directly would make
   * everything interpolated hesitate or leap for a frame. Instead the render tick runs
   * at the speed of real time, at most RENDER_SLEW faster or slower until it meets the
   * target, and jumps only when it is far off (joining, a stall, a sleeping tab).
   */
  advanceRenderTick(target, nowMs) {
    const prev = this.renderTick;
    const last = this.renderAt;
    this.renderAt = nowMs;
    if (prev === null || last === null) return (this.renderTick = target);
    const advance = ((nowMs - last) * this.tickRate) / 1000;
    const err = target - (prev + advance);
    if (Math.abs(err) > this.tickRate / 4) return (this.renderTick = target);
    const slew = Math.min(Math.abs(err), advance * RENDER_SLEW);
    return (this.renderTick = prev + advance + Math.sign(err) * slew);
  }

  release(ev, nowMs) {
    const at = (x, y) => ({ x: qToPos(x), y: qToPos(y) });
    if (ev.type === 'kill' || ev.type === 'death') {
      this.effects.push({ kind: 'burst', ...at(ev.x, ev.y), player: true, at: nowMs });
      this.feed.push({ ...ev, at: nowMs });
    } else if (ev.type === 'drone') {
      this.effects.push({ kind: 'burst', ...at(ev.x, ev.y), player: false, at: nowMs });
      this.feed.push({ ...ev, at: nowMs });
    } else if (ev.type === 'respawn') {
      this.effects.push({ kind: 'ring', ...at(ev.x, ev.y), at: nowMs });
    }
  }

  /**
   * The scoreboard: players seen this session, best first, the own player marked. Names
   * are not unique: where two players share one, `label` adds their entity id.
   */
  scoreboard() {
    const named = new Map();
    for (const p of this.players.values()) named.set(p.name, (named.get(p.name) ?? 0) + 1);
    return [...this.players.values()]
      .map((p) => ({ ...p, own: p.id === this.ownId, label: named.get(p.name) > 1 ? `${p.name} #${p.id}` : p.name }))
      .sort((a, b) => b.score - a.score || a.name.localeCompare(b.name) || a.id - b.id);
  }

  /** Other players seen this session with the own player's name. */
  namesakes() {
    const own = this.players.get(this.ownId);
    if (!own) return [];
    return [...this.players.values()].filter((p) => p.id !== this.ownId && p.name === own.name);
  }
}
