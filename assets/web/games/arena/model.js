// The arena's picture of a session (a game model for sdk/session.js): what to draw each
// frame, built from the session's interpolated entities and predicted own player, plus
// what only differences between snapshots tell (the kill feed, the scoreboard, the death
// card, effects).
//
// No DOM and no clock: the session feeds it snapshots and inputs with their times and
// asks for a frame at a time, so node tests can run it.

import { qToAngle } from '../../sdk/entities.js';
import { lerpAngle } from '../../sdk/interp.js';
import { stepPlayer } from '../../sdk/movement.js';
import { Predictor, kinematicsOf } from '../../sdk/predict.js';
import { deriveEvents } from './killfeed.js';
import { BUTTON_FIRE, FIRE_COOLDOWN_S, RESPAWN_DELAY_S } from './rules.js';
import { ArenaSchema } from './schema.js';

/** Kill feed entries stay this long (ms), at most FEED_MAX of them. */
const FEED_MS = 6000;
const FEED_MAX = 6;
/** Effects (bursts, rings, flashes) last this long (ms). */
export const EFFECT_MS = 600;
/** Players out of view stay on the scoreboard this long (ms) after they were last seen. */
const SCOREBOARD_MEMORY_MS = 60_000;

export class ArenaModel {
  constructor(session) {
    this.session = session;
    this.ownId = session.ownId;
    this.tickRate = session.tickRate;
    this.scale = session.scale;
    this.schema = new ArenaSchema(session.layout);
    const map = session.map;
    this.predictor = new Predictor({ tickRate: this.tickRate, step: (k, inp, dt) => stepPlayer(k, inp.moveX, inp.moveY, map, dt) });
    /** The newest snapshot's records: `{tick, records: Map}`. */
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
    this.nextFireTick = 0;
    this.inputTicks = 0;
  }

  /** The prediction hook: the own player's state as the server left it; dead players are frozen. */
  predictionState(own) {
    const r = this.schema.record(own);
    if (r.kind !== 'Player') return null;
    return { k: kinematicsOf(r, this.scale), frozen: r.dead };
  }

  /** Dead players wait where they fell: never extrapolated. */
  hold(e) {
    return this.schema.record(e).dead;
  }

  onSnapshot({ tick, entities, own, before, nowMs }) {
    const records = this.schema.records(entities);
    const prev = this.latest;
    this.latest = { tick, records };
    if (prev && before && tick > prev.tick) {
      const events = deriveEvents(prev.records, records, {
        tick,
        tickRate: this.tickRate,
        own: this.ownId,
        aoiRadius: this.session.welcome.aoi_radius,
      });
      for (const ev of events) {
        // The own death is shown at once, like the own (predicted) player; everything
        // else when the interpolated world reaches it, so the feed matches the picture.
        if ((ev.type === 'kill' || ev.type === 'death') && ev.victim.id === this.ownId) {
          this.death = { at: nowMs, killer: ev.killer ? ev.killer.name : null, killerId: ev.killer ? ev.killer.id : null };
        }
        if (ev.killer && ev.killer.id === this.ownId) {
          if (ev.type === 'kill') this.kills.players++;
          else if (ev.type === 'drone') this.kills.drones++;
        }
        this.queued.push(ev);
      }
    }
    const me = own ? this.schema.record(own) : null;
    if (me && me.kind === 'Player') {
      if (me.dead && !this.death) this.death = { at: nowMs, killer: null, killerId: null };
      if (!me.dead) this.death = null;
    }

    for (const p of this.players.values()) p.inView = false;
    for (const r of records.values()) {
      if (r.kind !== 'Player') continue;
      this.players.set(r.id, { id: r.id, name: r.name, score: r.score, dead: r.dead, inView: true, seenAt: nowMs });
    }
    for (const [id, p] of this.players) {
      if (!p.inView && nowMs - p.seenAt > SCOREBOARD_MEMORY_MS) this.players.delete(id);
    }
  }

  /** The input `seq` was sent for the tick slot starting at `slotMs`. */
  onInput(seq, inp, slotMs) {
    this.inputTicks++;
    // A cosmetic muzzle flash on the client's own guess of the cooldown: the shot itself
    // appears when the server's snapshot brings it.
    if (inp.buttons & BUTTON_FIRE && !this.death && this.predictor.state && this.inputTicks >= this.nextFireTick) {
      this.nextFireTick = this.inputTicks + Math.max(1, Math.round(FIRE_COOLDOWN_S * this.tickRate));
      this.effects.push({ kind: 'muzzle', at: slotMs });
    }
  }

  /**
   * Everything to draw at `nowMs`: `{own, entities, effects, feed, death}` with positions
   * in metres. `own` is the predicted own player (null before the first snapshot),
   * `entities` the interpolated others.
   */
  frame({ nowMs, tick, items, own: e, ownAt }) {
    const entities = [];
    for (const it of items) {
      const r = this.schema.record(it.e);
      if (r.kind === null || it.x === null) continue;
      let angle = qToAngle(r.angle);
      if (r.kind === 'Player') {
        if (it.glide) angle = lerpAngle(angle, qToAngle(this.schema.record(it.next).angle), it.f);
      } else if (it.heading !== null) {
        // Drones and shots face along their flight (the server sends no angle for them).
        angle = it.heading;
      }
      entities.push({ id: r.id, kind: r.kind, x: it.x, y: it.y, vx: it.vx, vy: it.vy, angle, health: r.health, dead: r.dead, score: r.score, owner: r.owner, name: r.name });
    }

    let own = null;
    const r = e ? this.schema.record(e) : null;
    if (r && r.kind === 'Player') {
      const serverX = r.x / this.scale;
      const serverY = r.y / this.scale;
      const pos = ownAt ?? { x: serverX, y: serverY };
      own = { id: r.id, kind: 'Player', x: pos.x, y: pos.y, serverX, serverY, health: r.health, dead: r.dead, score: r.score, name: r.name };
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
    return { own, entities, effects: this.effects, feed: this.feed, death };
  }

  release(ev, nowMs) {
    const at = (x, y) => ({ x: x / this.scale, y: y / this.scale });
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

  /** For the page's test window: what an e2e test may check of the arena. */
  inspect(frame) {
    const counts = { Player: 0, Drone: 0, Projectile: 0 };
    for (const e of frame?.entities ?? []) counts[e.kind]++;
    return { game: 'arena', counts, kills: { ...this.kills }, scoreboard: this.scoreboard().map((r) => ({ id: r.id, name: r.name, score: r.score })) };
  }
}
