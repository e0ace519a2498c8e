// Test helper (not a test): the ball game's schema as server/src/games/ball/replicate.rs
// declares it (the e2e test checks it against what a real server sends), and its
// entities as snapshots carry them, positions given in metres.

import { entity, layoutOf } from '../../sdk/testkit.mjs';

const motion = (model) => ({ type: 'Motion', model, scale: 64 });

export const BALL_SCHEMA = Object.freeze({
  game: 'ball',
  components: [
    { name: 'Body', fields: [{ name: 'motion', kind: motion('Predicted') }] },
    { name: 'Facing', fields: [{ name: 'angle', kind: { type: 'Angle', bits: 8 } }] },
    { name: 'Flight', fields: [{ name: 'path', kind: motion('Trajectory') }] },
    { name: 'Ball', fields: [{ name: 'holder', kind: { type: 'Entity' } }] },
    {
      name: 'Player',
      fields: [
        { name: 'team', kind: { type: 'Bits', width: 1 } },
        { name: 'name', kind: { type: 'Text', maxBytes: 64 } },
        { name: 'goals', kind: { type: 'Uint', k: 0 } },
        { name: 'kicks', kind: { type: 'Uint', k: 0 } },
      ],
    },
    {
      name: 'Match',
      fields: [
        { name: 'phase', kind: { type: 'Bits', width: 2 } },
        { name: 'score_left', kind: { type: 'Uint', k: 0 } },
        { name: 'score_right', kind: { type: 'Uint', k: 0 } },
        { name: 'ends_at', kind: { type: 'Uint', k: 12 } },
        { name: 'resume_at', kind: { type: 'Uint', k: 8 } },
        { name: 'scorer', kind: { type: 'Entity' } },
      ],
    },
  ],
});

export const layout = layoutOf(BALL_SCHEMA);
const m = (metres) => Math.round(metres * 64);

/** The pitch of assets/maps/pitch.json as a Welcome carries it (64 m × 36 m, walls beside the goals). */
export const PITCH = Object.freeze({
  name: 'pitch',
  width: m(64),
  height: m(36),
  walls: [
    [0, 0, 2, 14],
    [0, 22, 2, 36],
    [62, 0, 64, 14],
    [62, 22, 64, 36],
  ].map(([x0, y0, x1, y1]) => ({ min_x: m(x0), min_y: m(y0), max_x: m(x1), max_y: m(y1) })),
});

/** A player at (x, y) metres; `o`: {team, name, goals, angle (steps), vx, vy (m/s)}. */
export function player(id, x, y, o = {}) {
  return entity(layout, id, {
    Body: { motion: { x: m(x), y: m(y), vx: m(o.vx ?? 0), vy: m(o.vy ?? 0) } },
    Facing: { angle: o.angle ?? 0 },
    Player: { team: o.team ?? 0, name: o.name ?? `p${id}`, goals: o.goals ?? 0, kicks: o.kicks ?? 0 },
  });
}

/** The loose ball on a line: at (x, y) metres at tick `anchor`, moving at (vx, vy) m/s. */
export function looseBall(id, anchor, x, y, vx = 0, vy = 0) {
  return entity(layout, id, { Flight: { path: { anchor, x: m(x), y: m(y), vx: m(vx), vy: m(vy) } }, Ball: { holder: 0 } });
}

/** The ball held by player `holder`: no motion of its own. */
export function heldBall(id, holder) {
  return entity(layout, id, { Ball: { holder } });
}

/** The match: `o` {phase, score: [l, r], endsAt, resumeAt, scorer}. */
export function match(id, o = {}) {
  const [l, r] = o.score ?? [0, 0];
  return entity(layout, id, {
    Match: { phase: o.phase ?? 0, score_left: l, score_right: r, ends_at: o.endsAt ?? 10_800, resume_at: o.resumeAt ?? 0, scorer: o.scorer ?? 0 },
  });
}
