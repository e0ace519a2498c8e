// The ball game's picture of a session (a game model for sdk/session.js): players by
// team (the own one predicted with the shared movement rules, as the server moves it),
// the ball (on its line while loose, at its holder while held), the match (scores,
// clock, phase) as of the picture's time, a roster of everyone seen, and the goals
// announced when the picture reaches them.
//
// No DOM and no clock: the session feeds it snapshots and inputs with their times and
// asks for a frame at a time, so node tests can run it.

import { qToAngle } from '../../sdk/entities.js';
import { lerpAngle } from '../../sdk/interp.js';
import { stepPlayer } from '../../sdk/movement.js';
import { Predictor, kinematicsOf } from '../../sdk/predict.js';
import { Phase, TEAMS } from './rules.js';
import { BallSchema } from './schema.js';

/** A goal's celebration (effects, the card) lasts this long (ms). */
export const GOAL_MS = 3000;
/** Players out of view stay on the roster this long (ms) after they were last seen. */
const ROSTER_MEMORY_MS = 60_000;

export class BallModel {
  constructor(session) {
    this.session = session;
    this.ownId = session.ownId;
    this.tickRate = session.tickRate;
    this.scale = session.scale;
    this.schema = new BallSchema(session.layout);
    const map = session.map;
    // The ball game moves players by shared::movement, as the arena does: predicted alike.
    this.predictor = new Predictor({ tickRate: this.tickRate, step: (k, inp, dt) => stepPlayer(k, inp.moveX, inp.moveY, map, dt) });
    /** The newest snapshot's records: `{tick, records: Map}`. */
    this.latest = null;
    /** Everyone seen this session: id → {id, name, team, goals, inView, seenAt}. */
    this.roster = new Map();
    /** Goals waiting for the render tick to reach them, then the shown one. */
    this.queued = [];
    this.goal = null;
  }

  /** The prediction hook: the own player's state as the server left it (never frozen). */
  predictionState(own) {
    const r = this.schema.record(own);
    return r.kind === 'Player' ? { k: kinematicsOf(r, this.scale), frozen: false } : null;
  }

  /** The match record of a records map, or null. */
  static matchOf(records) {
    for (const r of records.values()) if (r.kind === 'Match') return r;
    return null;
  }

  onSnapshot({ tick, entities, nowMs }) {
    const records = this.schema.records(entities);
    const prev = this.latest;
    this.latest = { tick, records };
    const before = prev ? BallModel.matchOf(prev.records) : null;
    const now = BallModel.matchOf(records);
    if (before && now && tick > prev.tick) {
      for (const t of [0, 1]) {
        if (now.score[t] > before.score[t]) {
          const scorer = now.scorer ? records.get(now.scorer) ?? this.roster.get(now.scorer) : null;
          this.queued.push({ tick, team: t, score: [...now.score], scorer: scorer ? { id: scorer.id, name: scorer.name } : null });
        }
      }
    }
    for (const p of this.roster.values()) p.inView = false;
    for (const r of records.values()) {
      if (r.kind !== 'Player') continue;
      this.roster.set(r.id, { id: r.id, name: r.name, team: r.team, goals: r.goals, inView: true, seenAt: nowMs });
    }
    for (const [id, p] of this.roster) {
      if (!p.inView && nowMs - p.seenAt > ROSTER_MEMORY_MS) this.roster.delete(id);
    }
  }

  /**
   * Everything to draw at `nowMs`: `{own, entities, players, ball, match, clock, goal}`
   * with positions in metres: `own` the predicted own player (null before the first
   * snapshot), `players` the others, `ball` `{x, y, vx, vy, holder}` (x/y null while
   * its holder is out of view), `match` its record as of the picture, `clock` the
   * seconds left in the match and in a pause.
   */
  frame({ nowMs, tick, items, own: e, ownAt }) {
    const players = [];
    let ball = null;
    let match = null;
    for (const it of items) {
      const r = this.schema.record(it.e);
      if (r.kind === 'Player' && it.x !== null) {
        const angle = it.glide ? lerpAngle(qToAngle(r.angle), qToAngle(this.schema.record(it.next).angle), it.f) : qToAngle(r.angle);
        players.push({ id: r.id, kind: 'Player', x: it.x, y: it.y, vx: it.vx, vy: it.vy, angle, team: r.team, name: r.name, goals: r.goals, kicks: r.kicks });
      } else if (r.kind === 'Ball') {
        ball = { id: r.id, kind: 'Ball', x: it.x, y: it.y, vx: it.vx, vy: it.vy, holder: r.holder };
      } else if (r.kind === 'Match') {
        match = r;
      }
    }
    // Before the picture starts (the first snapshots), the newest match still tells the score.
    if (!match && this.latest) match = BallModel.matchOf(this.latest.records);

    let own = null;
    const r = e ? this.schema.record(e) : null;
    if (r && r.kind === 'Player') {
      const serverX = r.x / this.scale;
      const serverY = r.y / this.scale;
      const pos = ownAt ?? { x: serverX, y: serverY };
      own = { id: r.id, kind: 'Player', x: pos.x, y: pos.y, serverX, serverY, team: r.team, name: r.name, goals: r.goals };
    }

    // A held ball is where its holder is drawn (the renderer puts it at their feet).
    if (ball && ball.holder !== 0) {
      const holder = ball.holder === this.ownId ? own : players.find((p) => p.id === ball.holder);
      ball.x = holder ? holder.x : null;
      ball.y = holder ? holder.y : null;
    }

    if (tick !== null) {
      const due = this.queued.filter((g) => g.tick <= tick);
      if (due.length) {
        this.queued = this.queued.filter((g) => g.tick > tick);
        for (const g of due) this.goal = { ...g, at: nowMs };
      }
    }
    if (this.goal && nowMs - this.goal.at > GOAL_MS) this.goal = null;

    const at = tick ?? this.latest?.tick ?? 0;
    const clock = match
      ? {
          left: Math.max(0, (match.endsAt - at) / this.tickRate),
          pause: match.phase === Phase.PLAYING ? 0 : Math.max(0, (match.resumeAt - at) / this.tickRate),
        }
      : null;
    const entities = ball && ball.x !== null ? [...players, ball] : players;
    return { own, entities, players, ball, match, clock, goal: this.goal };
  }

  /** The roster by team (index 0: left), each best first, the own player marked. */
  teams() {
    const out = [[], []];
    for (const p of this.roster.values()) {
      if (p.team === 0 || p.team === 1) out[p.team].push({ ...p, own: p.id === this.ownId });
    }
    for (const t of out) t.sort((a, b) => b.goals - a.goals || a.name.localeCompare(b.name) || a.id - b.id);
    return out;
  }

  /** The own player's team (TEAMS entry), or null before it is seen. */
  ownTeam() {
    const p = this.roster.get(this.ownId);
    return p ? TEAMS[p.team] ?? null : null;
  }

  /** For the page's test window: what an e2e test may check of the ball game. */
  inspect(frame) {
    const b = frame?.ball;
    const m = frame?.match;
    return {
      game: 'ball',
      ball: b ? { x: b.x, y: b.y, holder: b.holder } : null,
      match: m ? { phase: m.phase, score: [...m.score], scorer: m.scorer } : null,
      clock: frame?.clock ?? null,
      team: this.roster.get(this.ownId)?.team ?? null,
      players: this.roster.size,
    };
  }
}
