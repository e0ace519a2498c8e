// The ball game's constants against the server's: shared/src/games/ball/mod.rs itself
// (the ball game has no golden vectors of its own; its movement is the shared one,
// checked bit for bit by sdk/movement.test.mjs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import * as rules from './rules.js';

const SRC = readFileSync(new URL('../../../../shared/src/games/ball/mod.rs', import.meta.url), 'utf8');

/** The value of `pub const NAME: type = <number or a / b>;` in the Rust source. */
function rust(name) {
  const m = SRC.match(new RegExp(`pub const ${name}: \\w+ = ([0-9. /]+);`));
  assert.ok(m, `${name} in shared/src/games/ball/mod.rs`);
  const [a, b] = m[1].split('/').map(Number);
  return b === undefined ? a : a / b;
}

test('sizes, speeds, durations, goals and the kick button match the server', () => {
  for (const name of ['BUTTON_KICK', 'BALL_RADIUS', 'KICK_SPEED', 'FRICTION_STEP', 'FRICTION_INTERVAL_S', 'MATCH_S', 'GOAL_PAUSE_S', 'END_PAUSE_S', 'GOAL_DEPTH', 'GOAL_WIDTH']) {
    assert.equal(rules[name], rust(name), name);
  }
  let roll = 0;
  for (let v = rules.KICK_SPEED; v > 0; v -= rules.FRICTION_STEP) roll += v * rules.FRICTION_INTERVAL_S;
  assert.ok(Math.abs(rules.KICK_ROLL_M - roll) < 1e-9, `a kick rolls ${roll} m`);
});

test('teams and phases have the wire values of Team and Phase', () => {
  assert.match(SRC, /Left = 0,/);
  assert.match(SRC, /Right = 1,/);
  assert.deepEqual(rules.TEAMS.map((t) => [t.index, t.side]), [[0, 'left'], [1, 'right']]);
  assert.match(SRC, /Playing = 0,[\s\S]*Goal = 1,[\s\S]*Ended = 2,/);
  assert.deepEqual(rules.Phase, { PLAYING: 0, GOAL: 1, ENDED: 2 });
  const [left, right] = rules.goals(64, 36);
  assert.deepEqual([left.team, left.x0, left.x1, left.y0, left.y1], [0, 0, 2, 14, 22]);
  assert.deepEqual([right.team, right.x0, right.x1], [1, 62, 64]);
});
