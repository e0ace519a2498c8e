// The ball game's model in a session: the ball loose on its line or at its holder, the
// match as of the picture's time (scores, clock, phase, goals announced when the
// picture reaches them), rosters by team, and the own player predicted by the shared
// movement rules, on entities built from the ball game's schema.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Session } from '../../sdk/session.js';
import { welcomeOf } from '../../sdk/testkit.mjs';
import { BALL_SCHEMA, PITCH, heldBall, layout, looseBall, match, player } from './fixtures.mjs';
import { clockText, phaseText } from './hud.js';
import { BallModel } from './model.js';
import { cameraCentre } from './render.js';
import { Phase } from './rules.js';

const RATE = 60;
const TICK_MS = 1000 / RATE;
const ball = { createModel: (s) => new BallModel(s) };
const newSession = () => new Session(welcomeOf(BALL_SCHEMA, { tickRate: RATE, map: PITCH, entity: 1 }), { layout }, ball);
const near = (a, b, eps = 1e-9) => Math.abs(a - b) < eps;

/** Snapshots every 3 ticks from `from`, on time. */
function feed(s, from, count, at) {
  for (let i = 0; i < count; i++) {
    const tick = from + 3 * i;
    s.onSnapshot(tick, at(tick), 0, tick * TICK_MS);
  }
}

test('a loose ball rolls on its line; scores, clock and teams come from the match and players', () => {
  const s = newSession();
  const world = () => [player(1, 10, 18), player(2, 50, 18, { team: 1, name: 'bob' }), looseBall(3, 100, 32, 18, 6, 0), match(4, { endsAt: 100 + 180 * RATE })];
  feed(s, 100, 4, world);
  const f = s.frame(115 * TICK_MS); // render tick 109
  assert.ok(near(f.tick, 109));
  assert.ok(near(f.ball.x, 32 + (6 * 9) / RATE), `on its line: ${f.ball.x}`);
  assert.equal(f.ball.holder, 0);
  assert.deepEqual(f.match.score, [0, 0]);
  assert.ok(near(f.clock.left, 180 - 9 / RATE));
  assert.equal(f.own.team, 0);
  assert.deepEqual(f.players.map((p) => [p.name, p.team]), [['bob', 1]]);
  assert.deepEqual(s.model.teams().map((t) => t.map((p) => p.name)), [['p1'], ['bob']]);
  assert.deepEqual(f.entities.map((e) => e.kind), ['Player', 'Ball']);
  assert.deepEqual(s.model.inspect(f).match, { phase: 0, score: [0, 0], scorer: 0 });
});

test('a held ball is drawn at its holder, the own player included', () => {
  const s = newSession();
  feed(s, 100, 4, () => [player(1, 10, 18), player(2, 20, 18, { team: 1 }), heldBall(3, 2), match(4)]);
  let f = s.frame(115 * TICK_MS);
  assert.deepEqual([f.ball.x, f.ball.y, f.ball.holder], [20, 18, 2]);
  feed(s, 112, 4, () => [player(1, 10, 18), player(2, 20, 18, { team: 1 }), heldBall(3, 1), match(4)]);
  f = s.frame(127 * TICK_MS);
  assert.deepEqual([f.ball.x, f.ball.y, f.ball.holder], [f.own.x, f.own.y, 1]);
});

test('a goal is announced when the picture reaches it, with its scorer', () => {
  const s = newSession();
  feed(s, 100, 3, () => [player(1, 10, 18, { name: 'ada' }), looseBall(3, 90, 63, 18), match(4)]);
  // Tick 109: ada scored for the left team; play pauses for 3 s.
  s.onSnapshot(109, [player(1, 10, 18, { name: 'ada', goals: 1 }), looseBall(3, 109, 32, 18), match(4, { phase: Phase.GOAL, score: [1, 0], resumeAt: 109 + 3 * RATE, scorer: 1 })], 0, 109 * TICK_MS);
  let f = s.frame(109 * TICK_MS);
  assert.equal(f.goal, null, 'not yet: the picture is at ~103');
  assert.deepEqual(f.match.score, [0, 0], 'the HUD shows the score the picture shows');
  f = s.frame(116 * TICK_MS);
  assert.deepEqual([f.goal.team, f.goal.scorer.name], [0, 'ada']);
  assert.deepEqual(f.match.score, [1, 0]);
  assert.equal(f.match.phase, Phase.GOAL);
  const { line, card } = phaseText(f.match, f.clock, f.goal);
  assert.match(card.title, /^Goal for Blue!$/);
  assert.match(card.detail, /^ada scores · Blue 1 – 0 Orange$/);
  assert.match(line, /^restart in 3 s$/);
  assert.equal(s.frame(116 * TICK_MS + 3500).goal, null, 'the celebration ends');
});

test('the own player is predicted with the shared movement rules (walls of the pitch included)', () => {
  const s = newSession();
  s.onSnapshot(100, [player(1, 3.5, 10), match(4)], 0, 0);
  // Left into the wall beside the goal (x 0..2 up to y 14): stopped at its face.
  for (let seq = 1; seq <= 30; seq++) s.onInput(seq, { moveX: -127, moveY: 0, aim: 0, buttons: 0 }, seq * TICK_MS);
  assert.ok(near(s.predictor.state.x, 2.5), `stopped at the wall: ${s.predictor.state.x}`);
  for (let seq = 31; seq <= 60; seq++) s.onInput(seq, { moveX: 0, moveY: 127, aim: 0, buttons: 0 }, seq * TICK_MS);
  assert.ok(s.predictor.state.y > 11, 'and moves along it');
});

test('the clock reads m:ss, the end of a match says who won', () => {
  assert.equal(clockText(180), '3:00');
  assert.equal(clockText(59.2), '1:00');
  assert.equal(clockText(0), '0:00');
  const ended = phaseText({ phase: Phase.ENDED, score: [1, 2] }, { left: 0, pause: 5.5 }, null);
  assert.equal(ended.card.title, 'Full time: Orange win');
  assert.equal(phaseText({ phase: Phase.PLAYING, score: [0, 0] }, { left: 10, pause: 0 }, null).card, null);
});

test('the camera follows the player but stays on the pitch', () => {
  const map = { width: 64, height: 36 };
  // A view 40 m × 25 m: clamped at the ends; a view taller than the pitch: centred.
  assert.deepEqual(cameraCentre({ x: 3, y: 3 }, { halfW: 20, halfH: 12.5 }, map), { x: 20, y: 12.5 });
  assert.deepEqual(cameraCentre({ x: 32, y: 18 }, { halfW: 20, halfH: 12.5 }, map), { x: 32, y: 18 });
  assert.deepEqual(cameraCentre({ x: 60, y: 3 }, { halfW: 20, halfH: 20 }, map), { x: 44, y: 18 });
});
