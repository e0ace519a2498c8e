// The ball game's entities, read from the generic ones by the names its schema gives
// them (server/src/games/ball/replicate.rs): players (Body, Facing, Player), the ball
// (Ball, and Flight while loose: a held ball has no motion, it is where its holder is)
// and the match (Match, a global entity without a motion). Fields are looked up once per
// session; each entity becomes a flat record in wire units:
//   Player {id, kind, x, y, vx, vy, angle, team, name, goals, kicks}
//   Ball   {id, kind, holder (net id, 0 when loose)}
//   Match  {id, kind, phase, score: [left, right], endsAt, resumeAt, scorer}

import { getField, getMotion, getText, hasComponent, lookup, memo, missing } from '../../sdk/entities.js';

/** What the ball game needs of a schema. */
export const SPEC = Object.freeze({
  player: 'Player',
  ball: 'Ball',
  match: 'Match',
  body: ['Body', 'motion'],
  facing: ['Facing', 'angle'],
  path: ['Flight', 'path'],
  holder: ['Ball', 'holder'],
  team: ['Player', 'team'],
  name: ['Player', 'name'],
  goals: ['Player', 'goals'],
  kicks: ['Player', 'kicks'],
  phase: ['Match', 'phase'],
  scoreLeft: ['Match', 'score_left'],
  scoreRight: ['Match', 'score_right'],
  endsAt: ['Match', 'ends_at'],
  resumeAt: ['Match', 'resume_at'],
  scorer: ['Match', 'scorer'],
});

const STILL = Object.freeze({ anchor: 0, x: 0, y: 0, vx: 0, vy: 0 });

export class BallSchema {
  constructor(layout) {
    /** Names of SPEC the server's schema lacks (their values read as 0 or ''). */
    this.missing = missing(layout, SPEC);
    const r = lookup(layout, SPEC);
    this.r = r;
    const int = (e, ref) => getField(e, ref) ?? 0;
    /** The record of an entity, derived once per entity object. */
    this.record = memo((e) => {
      if (hasComponent(e, r.player)) {
        const m = getMotion(e, r.body) ?? STILL;
        return { id: e.id, kind: 'Player', x: m.x, y: m.y, vx: m.vx, vy: m.vy, angle: int(e, r.facing), team: int(e, r.team), name: getText(e, r.name) ?? '', goals: int(e, r.goals), kicks: int(e, r.kicks) };
      }
      if (hasComponent(e, r.ball)) return { id: e.id, kind: 'Ball', holder: int(e, r.holder) };
      if (hasComponent(e, r.match)) {
        return {
          id: e.id,
          kind: 'Match',
          phase: int(e, r.phase),
          score: [int(e, r.scoreLeft), int(e, r.scoreRight)],
          endsAt: int(e, r.endsAt),
          resumeAt: int(e, r.resumeAt),
          scorer: int(e, r.scorer),
        };
      }
      return { id: e.id, kind: null };
    });
  }

  /** The records of a view (Map id → entity) as a Map id → record, the game's entities only. */
  records(entities) {
    const out = new Map();
    for (const e of entities.values()) {
      const rec = this.record(e);
      if (rec.kind !== null) out.set(e.id, rec);
    }
    return out;
  }
}
