// The kill feed's inference from consecutive snapshots (arena records, wire units).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { drone, layout, player, shot } from './fixtures.mjs';
import { deriveEvents } from './killfeed.js';
import { ArenaSchema } from './schema.js';

const RATE = 60;
const m = (metres) => metres * 64;
const schema = new ArenaSchema(layout);
const frame = (...entities) => schema.records(new Map(entities.map((e) => [e.id, e])));
const near = (a, b, eps = 1e-9) => Math.abs(a - b) < eps;
const opts = { tick: 200, tickRate: RATE, own: 1, aoiRadius: m(48) };

test('a death with one scorer is their kill', () => {
  const prev = frame(player(1, 10, 10), player(2, 20, 10), player(3, 30, 10, { score: 2 }));
  const next = frame(player(1, 10, 10), player(2, 20, 10, { dead: true }), player(3, 30, 10, { score: 3 }));
  const ev = deriveEvents(prev, next, opts);
  assert.deepEqual(
    ev.map((e) => [e.type, e.killer?.name, e.victim?.name]),
    [['kill', 'p3', 'p2']],
  );
});

test('with two scorers, the shot that vanished at the victim names the killer', () => {
  const prev = frame(
    player(1, 10, 10),
    player(2, 20, 10),
    player(3, 30, 10),
    player(4, 40, 40),
    shot(50, 190, 39, 40, 20, 0, 3), // vanishes far from p2
    shot(51, 190, 19, 10, 20, 0, 4), // vanishes at p2
  );
  const next = frame(player(1, 10, 10), player(2, 20, 10, { dead: true }), player(3, 30, 10, { score: 1 }), player(4, 40, 40, { score: 1 }));
  const ev = deriveEvents(prev, next, opts);
  const kill = ev.find((e) => e.type === 'kill');
  assert.equal(kill.killer.name, 'p4');
  assert.equal(kill.victim.name, 'p2');
  assert.deepEqual(ev.filter((e) => e.type === 'score').map((e) => e.killer.name), ['p3'], 'the other credit: a kill out of view');
});

test('with two scorers and no evidence, the death has no killer (no guessing names)', () => {
  const prev = frame(player(1, 10, 10), player(2, 20, 10), player(3, 30, 10), player(4, 40, 40));
  const next = frame(player(1, 10, 10), player(2, 20, 10, { dead: true }), player(3, 30, 10, { score: 1 }), player(4, 40, 40, { score: 1 }));
  const types = deriveEvents(prev, next, opts).map((e) => e.type).sort();
  assert.deepEqual(types, ['death', 'score', 'score']);
});

test('a drone vanishing inside the view with a score is destroyed; at the edge it just left', () => {
  const prev = frame(player(1, 100, 100), player(3, 110, 100), drone(60, 150, 112, 100), drone(61, 150, 146, 100));
  const next = frame(player(1, 100, 100), player(3, 110, 100, { score: 1 }));
  const ev = deriveEvents(prev, next, opts);
  assert.deepEqual(ev.map((e) => [e.type, e.killer.name]), [['drone', 'p3']]);
  assert.ok(near(ev[0].x, m(112)));
  // No score: drones that vanished left the view (or expired), nobody destroyed them.
  const quiet = deriveEvents(prev, frame(player(1, 100, 100), player(3, 110, 100)), opts);
  assert.deepEqual(quiet, []);
});

test('respawns are reported, and nothing is derived from the first view', () => {
  const prev = frame(player(1, 10, 10), player(2, 20, 10, { dead: true }));
  const next = frame(player(1, 10, 10), player(2, 80, 80));
  assert.deepEqual(deriveEvents(prev, next, opts).map((e) => [e.type, e.player.name]), [['respawn', 'p2']]);
  assert.deepEqual(deriveEvents(new Map(), next, opts), []);
});

test('records read the arena by names, whatever the component order', () => {
  const p = schema.record(player(7, 1.5, 2, { vx: 3, angle: 100, health: 60, score: 4, name: 'ada' }));
  assert.deepEqual(p, { id: 7, kind: 'Player', anchor: 0, x: 96, y: 128, vx: 192, vy: 0, angle: 100, health: 60, dead: false, score: 4, owner: 0, name: 'ada' });
  const s = schema.record(shot(8, 5, 1, 1, 20, 0, 7));
  assert.equal(s.kind, 'Projectile');
  assert.equal(s.owner, 7);
  assert.equal(s.anchor, 5);
  assert.deepEqual(schema.missing, []);
  const e = player(7, 1, 1);
  assert.equal(schema.record(e), schema.record(e), 'derived once per entity object');
});
