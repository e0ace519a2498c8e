// Test helper (not a test): the arena's schema as server/src/games/arena/replicate.rs
// declares it (the e2e test checks it against what a real server sends), and its
// entities as snapshots carry them, positions given in metres.

import { entity, layoutOf } from '../../sdk/testkit.mjs';

export const ARENA_SCHEMA = Object.freeze({
  game: 'arena',
  components: [
    { name: 'Body', fields: [{ name: 'motion', kind: { type: 'Motion', model: 'Predicted', scale: 64 } }] },
    { name: 'Facing', fields: [{ name: 'angle', kind: { type: 'Angle', bits: 10 } }] },
    { name: 'Flight', fields: [{ name: 'path', kind: { type: 'Motion', model: 'Trajectory', scale: 64 } }] },
    { name: 'Health', fields: [{ name: 'hp', kind: { type: 'Bits', width: 8 } }] },
    {
      name: 'Player',
      fields: [
        { name: 'dead', kind: { type: 'Bits', width: 1 } },
        { name: 'score', kind: { type: 'Uint', k: 1 } },
        { name: 'name', kind: { type: 'Text', maxBytes: 64 } },
      ],
    },
    { name: 'Drone', fields: [] },
    { name: 'Projectile', fields: [{ name: 'owner', kind: { type: 'Entity' } }] },
  ],
});

export const layout = layoutOf(ARENA_SCHEMA);
const m = (metres) => Math.round(metres * 64);

/** A player at (x, y) metres; `o`: {vx, vy (m/s), angle (steps), health, dead, score, name}. */
export function player(id, x, y, o = {}) {
  return entity(layout, id, {
    Body: { motion: { x: m(x), y: m(y), vx: m(o.vx ?? 0), vy: m(o.vy ?? 0) } },
    Facing: { angle: o.angle ?? 0 },
    Health: { hp: o.health ?? (o.dead ? 0 : 100) },
    Player: { dead: o.dead ? 1 : 0, score: o.score ?? 0, name: o.name ?? `p${id}` },
  });
}

/** A drone on a line: at (x, y) metres at tick `anchor`, moving at (vx, vy) m/s. */
export function drone(id, anchor, x, y, vx = 0, vy = 0, health = 40) {
  return entity(layout, id, {
    Flight: { path: { anchor, x: m(x), y: m(y), vx: m(vx), vy: m(vy) } },
    Health: { hp: health },
    Drone: {},
  });
}

/** A projectile of player `owner` on a line, as `drone`. */
export function shot(id, anchor, x, y, vx, vy, owner) {
  return entity(layout, id, {
    Flight: { path: { anchor, x: m(x), y: m(y), vx: m(vx), vy: m(vy) } },
    Projectile: { owner },
  });
}
