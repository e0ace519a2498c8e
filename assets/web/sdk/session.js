// One connected session's model, whatever the game: it holds the ClientView the
// connection keeps up to date, buffers snapshots, keeps the server-tick clock and the
// render tick, runs the game's predictor if it has one, and hands decoded entities to
// the game's model, which turns them into what its renderer and HUD draw.
//
// A game model (what a game module's `createModel(session)` returns) has:
//   onSnapshot({tick, entities, own, before, lastInputSeq, nowMs})
//       a snapshot was applied: `entities` is a Map id → entity, `own` the own player's
//       entity (or undefined), `before` the previous `{tick, entities}` (or null);
//   frame({nowMs, tick, items, own, ownAt}) → what to draw: `items` are the other
//       entities sampled at the render tick (SnapshotBuffer.sample), `ownAt` the
//       predicted position of the own player (or null). The frame must have `own`
//       (`{x, y, serverX, serverY, …}` or null) and `entities` (`[{id, kind, x, y, …}]`),
//       which the page's test window reads;
//   and optionally onInput(seq, inp, slotMs), hold(e) (entities not to extrapolate), and
//   the prediction hook: `predictor` (sdk/predict.js) with `predictionState(own)` →
//   `{k: {x, y, vx, vy} in metres, frozen}` or null.
//
// No DOM and no clock: the connection feeds it messages with their arrival times, the
// main loop asks for a frame at a time, so node tests can run it.

import { SnapshotBuffer, TickClock, interpolationDelay } from './interp.js';
import { mapFromInfo } from './movement.js';

/** How much faster or slower than real time the render tick may run to stay on target. */
const RENDER_SLEW = 0.08;

export class Session {
  /** `welcome`: the Welcome message; `view`: its ClientView; `game`: the game module. */
  constructor(welcome, view, game) {
    this.welcome = welcome;
    this.view = view;
    this.layout = view.layout;
    this.game = game;
    this.tickRate = welcome.tick_rate;
    this.ownId = welcome.entity;
    /** Wire steps per metre of the schema's motions (and of the area of interest). */
    this.scale = this.layout.motionScale() || 64;
    /** The map in metres (walls and bounds), as movement collides with it. */
    this.map = mapFromInfo(welcome.map);
    /** Radius of the area of interest in metres: nothing farther is sent. */
    this.aoiM = welcome.aoi_radius / this.scale;
    this.settings = welcome.settings;
    this.clock = new TickClock(this.tickRate);
    this.buffer = new SnapshotBuffer(this.layout);
    /** The newest state: `{tick, entities: Map, lastInputSeq}`. */
    this.latest = null;
    this.renderTick = null;
    this.renderAt = null;
    this.model = game.createModel(this);
  }

  /** The game's predictor, or null for a game that does not predict. */
  get predictor() {
    return this.model.predictor ?? null;
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
    const p = this.predictor;
    if (p && own) {
      const s = this.model.predictionState(own);
      if (s) p.reconcile(s.k, s.frozen, lastInputSeq, nowMs);
    }
    this.model.onSnapshot({ tick, entities: map, own, before, lastInputSeq, nowMs });
  }

  /** The input `seq` was sent for the tick slot starting at `slotMs`. */
  onInput(seq, inp, slotMs) {
    this.predictor?.input(seq, inp, slotMs);
    this.model.onInput?.(seq, inp, slotMs);
  }

  /** Everything to draw at `nowMs`: the game's frame, plus the render `tick` (null before any snapshot). */
  frame(nowMs) {
    const est = this.clock.now(nowMs);
    let tick = null;
    if (est !== null) {
      tick = this.advanceRenderTick(est - this.delayTicks, nowMs);
      this.buffer.prune(tick - this.tickRate);
    }
    const p = this.predictor;
    const items =
      tick === null
        ? []
        : this.buffer.sample(tick, this.tickRate, { skip: p ? this.ownId : -1, hold: this.model.hold?.bind(this.model) ?? null });
    const own = this.latest ? this.latest.entities.get(this.ownId) : undefined;
    const ownAt = p ? p.renderPosition(nowMs) : null;
    return { ...this.model.frame({ nowMs, tick, items, own, ownAt }), tick };
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
}
