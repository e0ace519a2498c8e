// The arena's entities, read from the generic ones by the names its schema gives them
// (server/src/games/arena/replicate.rs): players (Body, Facing, Health, Player), drones
// (Flight, Health, Drone) and projectiles (Flight, Projectile). Fields are looked up once
// per session; each entity becomes a flat record in wire units, the shape the kill feed,
// the model and the tests work with:
//   {id, kind: 'Player' | 'Drone' | 'Projectile', anchor, x, y, vx, vy (steps),
//    angle (steps of a turn), health, dead, score, owner, name}

import { getField, getMotion, getText, hasComponent, lookup, memo, missing } from '../../sdk/entities.js';

/** What the arena needs of a schema. */
export const SPEC = Object.freeze({
  player: 'Player',
  drone: 'Drone',
  projectile: 'Projectile',
  body: ['Body', 'motion'],
  facing: ['Facing', 'angle'],
  path: ['Flight', 'path'],
  hp: ['Health', 'hp'],
  dead: ['Player', 'dead'],
  score: ['Player', 'score'],
  name: ['Player', 'name'],
  owner: ['Projectile', 'owner'],
});

const STILL = Object.freeze({ anchor: 0, x: 0, y: 0, vx: 0, vy: 0 });

export class ArenaSchema {
  constructor(layout) {
    /** Names of SPEC the server's schema lacks (their values read as 0 or ''). */
    this.missing = missing(layout, SPEC);
    const r = lookup(layout, SPEC);
    this.r = r;
    /** The record of an entity, derived once per entity object. */
    this.record = memo((e) => {
      const m = getMotion(e, r.body) ?? getMotion(e, r.path) ?? STILL;
      return {
        id: e.id,
        kind: this.kind(e),
        anchor: m.anchor,
        x: m.x,
        y: m.y,
        vx: m.vx,
        vy: m.vy,
        angle: getField(e, r.facing) ?? 0,
        health: getField(e, r.hp) ?? 0,
        dead: getField(e, r.dead) === 1,
        score: getField(e, r.score) ?? 0,
        owner: getField(e, r.owner) ?? 0,
        name: getText(e, r.name) ?? '',
      };
    });
  }

  /** 'Player', 'Drone', 'Projectile', or null for anything else. */
  kind(e) {
    if (hasComponent(e, this.r.player)) return 'Player';
    if (hasComponent(e, this.r.drone)) return 'Drone';
    if (hasComponent(e, this.r.projectile)) return 'Projectile';
    return null;
  }

  /** The records of a view (Map id → entity) as a Map id → record, arena entities only. */
  records(entities) {
    const out = new Map();
    for (const e of entities.values()) {
      const rec = this.record(e);
      if (rec.kind !== null) out.set(e.id, rec);
    }
    return out;
  }
}
