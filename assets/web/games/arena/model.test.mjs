// The arena's model in a session: snapshots in, frames out (interpolated others,
// predicted own player, kill feed released when the picture reaches it, death
// countdown, scoreboard), on entities built from the arena's schema.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Session } from '../../sdk/session.js';
import { welcomeOf } from '../../sdk/testkit.mjs';
import { ARENA_SCHEMA, drone, layout, player } from './fixtures.mjs';
import { ArenaModel } from './model.js';
import { RESPAWN_DELAY_S } from './rules.js';

const RATE = 60;
const TICK_MS = 1000 / RATE;
const arena = { createModel: (s) => new ArenaModel(s) };
const newSession = () => new Session(welcomeOf(ARENA_SCHEMA, { tickRate: RATE }), { layout }, arena);

/** Feeds snapshots every 3 ticks as a steady server would, arriving on time. */
function feed(s, fromTick, count, entitiesAt) {
  for (let i = 0; i < count; i++) {
    const tick = fromTick + 3 * i;
    s.onSnapshot(tick, entitiesAt(tick), 0, tick * TICK_MS);
  }
}

test('before any snapshot there is nothing to draw; after, the own player and the others', () => {
  const s = newSession();
  const f0 = s.frame(0);
  assert.equal(f0.own, null);
  assert.deepEqual(f0.entities, []);
  feed(s, 100, 5, () => [player(1, 10, 10), player(2, 20, 20)]);
  const f = s.frame(112 * TICK_MS);
  assert.equal(f.own.name, 'p1');
  assert.equal(f.own.x, 10);
  assert.deepEqual(f.entities.map((e) => [e.id, e.kind, e.x, e.name]), [[2, 'Player', 20, 'p2']], 'the own player is not interpolated');
  // Two snapshot intervals (6 ticks) behind the newest.
  assert.ok(Math.abs(f.tick - 106) < 0.5, `render tick ${f.tick}`);
});

test('a kill reaches the feed when the interpolated picture reaches it; the own death at once', () => {
  const s = newSession();
  const alive = (t) => [player(1, 10, 10), player(2, 12, 10, { score: t >= 109 ? 1 : 0 }), player(3, 40, 40)];
  feed(s, 100, 3, alive); // 100, 103, 106
  // Tick 109: player 2 kills player 1 (the own player).
  s.onSnapshot(109, [player(1, 10, 10, { dead: true }), player(2, 12, 10, { score: 1 }), player(3, 40, 40)], 0, 109 * TICK_MS);
  let f = s.frame(109 * TICK_MS);
  assert.equal(f.death.killer, 'p2', 'the death notice names the killer right away');
  assert.ok(Math.abs(f.death.remaining - RESPAWN_DELAY_S) < 0.01);
  assert.deepEqual(f.feed, [], 'the feed waits for the picture (render tick ~103)');
  f = s.frame(116 * TICK_MS);
  assert.deepEqual(f.feed.map((e) => [e.type, e.killer.name, e.victim.name]), [['kill', 'p2', 'p1']]);
  assert.ok(f.effects.some((e) => e.kind === 'burst'));
  // The scoreboard ranks by score and marks the own row.
  const board = s.model.scoreboard();
  assert.deepEqual(board.map((r) => [r.name, r.score, r.own]), [['p2', 1, false], ['p1', 0, true], ['p3', 0, false]]);
  // Respawned: the notice goes.
  s.onSnapshot(112, [player(1, 80, 80), player(2, 12, 10, { score: 1 }), player(3, 40, 40)], 0, 112 * TICK_MS);
  assert.equal(s.frame(112 * TICK_MS).death, null);
});

test('players out of view stay on the scoreboard, dimmed, for a while', () => {
  const s = newSession();
  s.onSnapshot(100, [player(1, 10, 10), player(2, 12, 10, { score: 5 })], 0, 0);
  s.onSnapshot(103, [player(1, 10, 10)], 0, 50);
  let rows = s.model.scoreboard();
  assert.deepEqual(rows.map((r) => [r.name, r.inView]), [['p2', false], ['p1', true]]);
  s.onSnapshot(106, [player(1, 10, 10)], 0, 120_000);
  rows = s.model.scoreboard();
  assert.deepEqual(rows.map((r) => r.name), ['p1'], 'forgotten after a minute out of view');
});

test('the death names and marks the killer; the HUD counts own kills of players and drones apart', () => {
  const s = newSession();
  feed(s, 100, 3, () => [player(1, 10, 10), player(2, 14, 10), drone(9, 90, 12, 12)]);
  // Tick 109: the own player destroys the drone (close by: not a drone leaving the view).
  s.onSnapshot(109, [player(1, 10, 10, { score: 1 }), player(2, 14, 10)], 0, 109 * TICK_MS);
  assert.deepEqual(s.model.kills, { players: 0, drones: 1 });
  // Tick 112: and kills player 2.
  s.onSnapshot(112, [player(1, 10, 10, { score: 2 }), player(2, 14, 10, { dead: true })], 0, 112 * TICK_MS);
  assert.deepEqual(s.model.kills, { players: 1, drones: 1 });
  // Tick 115: player 2 is back and kills the own player.
  s.onSnapshot(115, [player(1, 10, 10, { score: 2 }), player(2, 14, 10, { score: 1 })], 0, 115 * TICK_MS);
  s.onSnapshot(118, [player(1, 10, 10, { score: 2, dead: true }), player(2, 14, 10, { score: 2 })], 0, 118 * TICK_MS);
  const f = s.frame(118 * TICK_MS);
  assert.equal(f.death.killer, 'p2');
  assert.equal(f.death.killerId, 2, 'the renderer marks this entity');
});

test('players who share a name are told apart on the scoreboard, and the own player is warned', () => {
  const s = newSession();
  feed(s, 100, 2, () => [player(1, 10, 10, { name: 'ada' }), player(2, 14, 10, { name: 'ada' }), player(3, 20, 20, { name: 'bob' })]);
  const labels = s.model.scoreboard().map((r) => r.label).sort();
  assert.deepEqual(labels, ['ada #1', 'ada #2', 'bob']);
  assert.deepEqual(s.model.namesakes().map((p) => p.id), [2]);
  const h = newSession();
  feed(h, 100, 2, () => [player(1, 10, 10, { name: 'ada' }), player(3, 20, 20, { name: 'bob' })]);
  assert.deepEqual(h.model.namesakes(), []);
  assert.deepEqual(h.model.scoreboard().map((r) => r.label).sort(), ['ada', 'bob']);
});

test('drones face along their flight, players turn smoothly between snapshots', () => {
  const s = newSession();
  // Facing: a quarter turn (16384 steps) between the snapshots at 100 and 103.
  s.onSnapshot(100, [player(1, 10, 10), player(2, 20, 20, { angle: 0 }), drone(9, 90, 30, 30, 0, 2)], 0, 100 * TICK_MS);
  s.onSnapshot(103, [player(1, 10, 10), player(2, 20, 20, { angle: 16384 }), drone(9, 90, 30, 30, 0, 2)], 0, 103 * TICK_MS);
  s.onSnapshot(106, [player(1, 10, 10), player(2, 20, 20, { angle: 16384 }), drone(9, 90, 30, 30, 0, 2)], 0, 106 * TICK_MS);
  const f = s.frame(107.5 * TICK_MS); // render tick 101.5: half way from 100 to 103
  const p2 = f.entities.find((e) => e.id === 2);
  const d = f.entities.find((e) => e.id === 9);
  assert.ok(Math.abs(f.tick - 101.5) < 0.01, `render tick ${f.tick}`);
  assert.ok(Math.abs(p2.angle - Math.PI / 4) < 1e-9, `half way through the turn: ${p2.angle}`);
  assert.ok(Math.abs(d.angle - Math.PI / 2) < 1e-9, 'the drone faces down its path');
  assert.ok(Math.abs(d.y - (30 + (2 * (f.tick - 90)) / RATE)) < 1e-9, 'on its line');
  assert.deepEqual(s.model.inspect(f).counts, { Player: 1, Drone: 1, Projectile: 0 });
});

test('the own player is predicted with the shared movement rules and frozen while dead', () => {
  const s = newSession();
  s.onSnapshot(100, [player(1, 10, 10)], 0, 0);
  for (let seq = 1; seq <= 10; seq++) s.onInput(seq, { moveX: 127, moveY: 0, aim: 0, buttons: 0 }, seq * TICK_MS);
  assert.ok(s.predictor.state.x > 10.1, `moved right: ${s.predictor.state.x}`);
  s.onSnapshot(103, [player(1, 10, 10, { dead: true })], 10, 11 * TICK_MS);
  for (let seq = 11; seq <= 20; seq++) s.onInput(seq, { moveX: 127, moveY: 0, aim: 0, buttons: 0 }, (seq + 1) * TICK_MS);
  assert.equal(s.predictor.state.x, 10, 'a dead player does not move');
});
