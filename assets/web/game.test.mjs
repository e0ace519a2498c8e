// The per-session model: snapshots in, frames out (interpolated others, predicted own
// player, kill feed released when the picture reaches it, death countdown, scoreboard).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { FLAG_DEAD } from './codec.js';
import { Game, RESPAWN_DELAY_S } from './game.js';

const RATE = 60;
const TICK_MS = 1000 / RATE;
const m = (metres) => metres * 64;

const welcome = {
  client_id: 1,
  entity: 1,
  tick_rate: RATE,
  snapshot_rate: 20,
  map: { name: 't', width: m(100), height: m(100), walls: [] },
  aoi_radius: m(48),
  packing: 'Bits',
  settings: { rate: 20, max_bytes_per_sec: 32768 },
};

function player(id, x, y, extra = {}) {
  return { id, kind: 'Player', x: m(x), y: m(y), vx: 0, vy: 0, anchor: 0, angle: 0, health: 100, flags: 0, score: 0, owner: 0, name: `p${id}`, ...extra };
}

/** Feeds snapshots every 3 ticks as a steady server would, arriving on time. */
function feed(game, fromTick, count, entitiesAt) {
  for (let i = 0; i < count; i++) {
    const tick = fromTick + 3 * i;
    game.onSnapshot(tick, entitiesAt(tick), 0, tick * TICK_MS);
  }
}

test('before any snapshot there is nothing to draw; after, the own player and the others', () => {
  const g = new Game(welcome);
  const f0 = g.frame(0);
  assert.equal(f0.own, null);
  assert.deepEqual(f0.entities, []);
  feed(g, 100, 5, () => [player(1, 10, 10), player(2, 20, 20)]);
  const f = g.frame(112 * TICK_MS);
  assert.equal(f.own.name, 'p1');
  assert.equal(f.own.x, 10);
  assert.deepEqual(f.entities.map((e) => e.id), [2], 'the own player is not interpolated');
  // Two snapshot intervals (6 ticks) behind the newest.
  assert.ok(Math.abs(f.tick - 106) < 0.5, `render tick ${f.tick}`);
});

test('a kill reaches the feed when the interpolated picture reaches it; the own death at once', () => {
  const g = new Game(welcome);
  const alive = (t) => [player(1, 10, 10), player(2, 12, 10, { score: t >= 109 ? 1 : 0 }), player(3, 40, 40)];
  feed(g, 100, 3, alive); // 100, 103, 106
  // Tick 109: player 2 kills player 1 (the own player).
  g.onSnapshot(109, [player(1, 10, 10, { flags: FLAG_DEAD, health: 0 }), player(2, 12, 10, { score: 1 }), player(3, 40, 40)], 0, 109 * TICK_MS);
  let f = g.frame(109 * TICK_MS);
  assert.equal(f.death.killer, 'p2', 'the death notice names the killer right away');
  assert.ok(Math.abs(f.death.remaining - RESPAWN_DELAY_S) < 0.01);
  assert.deepEqual(f.feed, [], 'the feed waits for the picture (render tick ~103)');
  f = g.frame(116 * TICK_MS);
  assert.deepEqual(f.feed.map((e) => [e.type, e.killer.name, e.victim.name]), [['kill', 'p2', 'p1']]);
  assert.ok(f.effects.some((e) => e.kind === 'burst'));
  // The scoreboard ranks by score and marks the own row.
  const board = g.scoreboard();
  assert.deepEqual(board.map((r) => [r.name, r.score, r.own]), [['p2', 1, false], ['p1', 0, true], ['p3', 0, false]]);
  // Respawned: the notice goes.
  g.onSnapshot(112, [player(1, 80, 80), player(2, 12, 10, { score: 1 }), player(3, 40, 40)], 0, 112 * TICK_MS);
  assert.equal(g.frame(112 * TICK_MS).death, null);
});

test('players out of view stay on the scoreboard, dimmed, for a while', () => {
  const g = new Game(welcome);
  g.onSnapshot(100, [player(1, 10, 10), player(2, 12, 10, { score: 5 })], 0, 0);
  g.onSnapshot(103, [player(1, 10, 10)], 0, 50);
  let rows = g.scoreboard();
  assert.deepEqual(rows.map((r) => [r.name, r.inView]), [['p2', false], ['p1', true]]);
  g.onSnapshot(106, [player(1, 10, 10)], 0, 120_000);
  rows = g.scoreboard();
  assert.deepEqual(rows.map((r) => r.name), ['p1'], 'forgotten after a minute out of view');
});

test('the granted snapshot rate sets the interpolation delay', () => {
  const g = new Game(welcome);
  assert.equal(g.delayTicks, 6);
  g.onSettings({ rate: 10, max_bytes_per_sec: 32768 });
  assert.equal(g.delayTicks, 12);
});

test('the death names and marks the killer; the HUD counts own kills of players and drones apart', () => {
  const g = new Game(welcome);
  const drone = (id, x, y) => ({ id, kind: 'Drone', x: m(x), y: m(y), vx: 0, vy: 0, anchor: 0, angle: 0, health: 40, flags: 0, score: 0, owner: 0, name: '' });
  feed(g, 100, 3, () => [player(1, 10, 10), player(2, 14, 10), drone(9, 12, 12)]);
  // Tick 109: the own player destroys the drone (close by: not a drone leaving the view).
  g.onSnapshot(109, [player(1, 10, 10, { score: 1 }), player(2, 14, 10)], 0, 109 * TICK_MS);
  assert.deepEqual(g.kills, { players: 0, drones: 1 });
  // Tick 112: and kills player 2.
  g.onSnapshot(112, [player(1, 10, 10, { score: 2 }), player(2, 14, 10, { flags: FLAG_DEAD, health: 0 })], 0, 112 * TICK_MS);
  assert.deepEqual(g.kills, { players: 1, drones: 1 });
  // Tick 115: player 2 is back and kills the own player.
  g.onSnapshot(115, [player(1, 10, 10, { score: 2 }), player(2, 14, 10, { score: 1 })], 0, 115 * TICK_MS);
  g.onSnapshot(118, [player(1, 10, 10, { score: 2, flags: FLAG_DEAD, health: 0 }), player(2, 14, 10, { score: 2 })], 0, 118 * TICK_MS);
  const f = g.frame(118 * TICK_MS);
  assert.equal(f.death.killer, 'p2');
  assert.equal(f.death.killerId, 2, 'the renderer marks this entity');
});

test('players who share a name are told apart on the scoreboard, and the own player is warned', () => {
  const g = new Game(welcome);
  feed(g, 100, 2, () => [player(1, 10, 10, { name: 'ada' }), player(2, 14, 10, { name: 'ada' }), player(3, 20, 20, { name: 'bob' })]);
  const labels = g.scoreboard().map((r) => r.label).sort();
  assert.deepEqual(labels, ['ada #1', 'ada #2', 'bob']);
  assert.deepEqual(g.namesakes().map((p) => p.id), [2]);
  const h = new Game(welcome);
  feed(h, 100, 2, () => [player(1, 10, 10, { name: 'ada' }), player(3, 20, 20, { name: 'bob' })]);
  assert.deepEqual(h.namesakes(), []);
  assert.deepEqual(h.scoreboard().map((r) => r.label).sort(), ['ada', 'bob']);
});
