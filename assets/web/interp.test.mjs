// Interpolation of remote entities, the server tick clock, and the kill feed's inference.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { FLAG_DEAD } from './codec.js';
import { SnapshotBuffer, TELEPORT_M, TickClock, interpolationDelay, trajectoryAt } from './interp.js';
import { deriveEvents } from './killfeed.js';

const RATE = 60;
const m = (metres) => metres * 64;

function player(id, x, y, extra = {}) {
  return { id, kind: 'Player', x: m(x), y: m(y), vx: 0, vy: 0, anchor: 0, angle: 0, health: 100, flags: 0, score: 0, owner: 0, name: `p${id}`, ...extra };
}

function mover(id, kind, anchor, x, y, vx, vy, extra = {}) {
  return { id, kind, x: m(x), y: m(y), vx: m(vx), vy: m(vy), anchor, angle: 0, health: kind === 'Drone' ? 40 : 0, flags: 0, score: 0, owner: 0, name: '', ...extra };
}

const frame = (...entities) => new Map(entities.map((e) => [e.id, e]));
const near = (a, b, eps = 1e-9) => Math.abs(a - b) < eps;

test('the tick clock follows the earliest arrivals and resets when far off', () => {
  const c = new TickClock(RATE);
  assert.equal(c.now(0), null);
  // Snapshots every 3 ticks, arriving 2 ms after their tick, some 6 ms late.
  for (let i = 0; i < 100; i++) {
    const tick = 100 + 3 * i;
    const arrival = ((tick - 100) * 1000) / RATE + 2 + (i % 5 === 0 ? 6 : 0);
    c.sample(tick, arrival);
  }
  const at = ((397 - 100) * 1000) / RATE + 2;
  assert.ok(Math.abs(c.now(at) - 397) < 0.1, `estimate ${c.now(at)}`);
  assert.ok(c.jitter > 0 && c.jitter < 0.2, `jitter ${c.jitter} ticks`);
  // The server restarted (ticks from 1 again): follow at once.
  c.sample(5, at + 10);
  assert.ok(Math.abs(c.now(at + 10) - 5) < 1e-9);
});

test('the interpolation delay is two snapshot intervals at the granted rate, plus jitter', () => {
  assert.equal(interpolationDelay(60, 20), 6);
  assert.equal(interpolationDelay(60, 10), 12);
  assert.equal(interpolationDelay(30, 30), 2);
  assert.equal(interpolationDelay(60, 20, 1), 8);
  assert.equal(interpolationDelay(60, 20, 100), 9, 'jitter adds at most one interval');
});

test('players glide between snapshots, jump on respawn, coast briefly past the newest', () => {
  const b = new SnapshotBuffer();
  b.push(100, frame(player(1, 10, 10), player(2, 50, 50), player(9, 0.5, 0.5)));
  b.push(103, frame(player(1, 10.3, 10), player(2, 50 + TELEPORT_M + 1, 50), player(9, 0.5, 0.5)));
  const at = (tick) => new Map(b.sample(tick, RATE, 9).map((e) => [e.id, e]));
  let s = at(101.5);
  assert.ok(near(s.get(1).x, 10.15));
  assert.equal(s.get(2).x, 50, 'a respawn is not drawn as a dash across the map');
  assert.equal(s.has(9), false, 'the own player is predicted, not interpolated');
  // Past the newest snapshot: along the velocity, for at most MAX_EXTRAPOLATION_S.
  b.push(106, frame(player(1, 10.6, 10, { vx: m(6) })));
  s = at(109);
  assert.ok(near(s.get(1).x, 10.6 + 6 * (3 / RATE)));
  s = at(1000);
  assert.ok(near(s.get(1).x, 10.6 + 6 * 0.2), 'extrapolation is capped');
  // Before the oldest frame (just joined): held where the oldest frame has them.
  assert.equal(at(50).get(1).x, 10);
});

test('trajectories follow the course in force at the render tick', () => {
  const b = new SnapshotBuffer();
  // A drone moving right bounces at tick 102 (between the snapshots at 100 and 103).
  b.push(100, frame(mover(5, 'Drone', 90, 10, 10, 2, 0)));
  b.push(103, frame(mover(5, 'Drone', 102, 10 + (2 * 12) / RATE, 10, -2, 0)));
  const x = (tick) => b.sample(tick, RATE)[0].x;
  assert.ok(near(x(101), 10 + (2 * 11) / RATE), 'before the bounce: the old course');
  assert.ok(near(x(102.5), 10 + (2 * 12) / RATE - (2 * 0.5) / RATE), 'after it: the new one');
  const d = b.sample(102.5, RATE)[0];
  assert.ok(near(d.angle, Math.PI), 'facing from the velocity');
  assert.ok(near(trajectoryAt(mover(1, 'Drone', 10, 0, 0, 64, 0), 10.5, RATE)[0], 64 * 0.5 / RATE));
});

test('a new shot appears at its spawn tick, a spent one disappears at its snapshot', () => {
  const b = new SnapshotBuffer();
  const shot = mover(7, 'Projectile', 95, 20, 20, 20, 0, { owner: 1 });
  b.push(100, frame(player(1, 19, 20), shot));
  b.push(103, frame(player(1, 19, 20), mover(8, 'Projectile', 102, 30, 30, 0, 20, { owner: 1 })));
  const ids = (tick) => b.sample(tick, RATE).filter((e) => e.kind === 'Projectile').map((e) => e.id);
  assert.deepEqual(ids(101), [7], 'shot 8 does not exist yet; shot 7 is still flying');
  assert.deepEqual(ids(102.5), [7, 8]);
  assert.deepEqual(ids(103), [8], 'shot 7 was removed by snapshot 103');
});

test('the buffer keeps ascending ticks and prunes what is no longer needed', () => {
  const b = new SnapshotBuffer(4);
  for (const t of [10, 13, 16, 19, 22]) b.push(t, frame());
  assert.deepEqual(b.frames.map((f) => f.tick), [13, 16, 19, 22]);
  b.push(16, frame());
  assert.deepEqual(b.frames.map((f) => f.tick), [13, 16], 'an older tick (a new session) replaces what follows');
  b.push(19, frame());
  b.prune(17);
  assert.deepEqual(b.frames.map((f) => f.tick), [16, 19]);
});

// ------------------------------------------------------------------------- kill feed

const opts = { tick: 200, tickRate: RATE, own: 1, aoiRadius: m(48) };

test('a death with one scorer is their kill', () => {
  const prev = frame(player(1, 10, 10), player(2, 20, 10), player(3, 30, 10, { score: 2 }));
  const next = frame(player(1, 10, 10), player(2, 20, 10, { flags: FLAG_DEAD, health: 0 }), player(3, 30, 10, { score: 3 }));
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
    mover(50, 'Projectile', 190, 39, 40, 20, 0, { owner: 3 }), // vanishes far from p2
    mover(51, 'Projectile', 190, 19, 10, 20, 0, { owner: 4 }), // vanishes at p2
  );
  const next = frame(
    player(1, 10, 10),
    player(2, 20, 10, { flags: FLAG_DEAD }),
    player(3, 30, 10, { score: 1 }),
    player(4, 40, 40, { score: 1 }),
  );
  const ev = deriveEvents(prev, next, opts);
  const kill = ev.find((e) => e.type === 'kill');
  assert.equal(kill.killer.name, 'p4');
  assert.equal(kill.victim.name, 'p2');
  assert.deepEqual(ev.filter((e) => e.type === 'score').map((e) => e.killer.name), ['p3'], 'the other credit: a kill out of view');
});

test('with two scorers and no evidence, the death has no killer (no guessing names)', () => {
  const prev = frame(player(1, 10, 10), player(2, 20, 10), player(3, 30, 10), player(4, 40, 40));
  const next = frame(player(1, 10, 10), player(2, 20, 10, { flags: FLAG_DEAD }), player(3, 30, 10, { score: 1 }), player(4, 40, 40, { score: 1 }));
  const types = deriveEvents(prev, next, opts).map((e) => e.type).sort();
  assert.deepEqual(types, ['death', 'score', 'score']);
});

test('a drone vanishing inside the view with a score is destroyed; at the edge it just left', () => {
  const prev = frame(player(1, 100, 100), player(3, 110, 100), mover(60, 'Drone', 150, 112, 100, 0, 0), mover(61, 'Drone', 150, 146, 100, 0, 0));
  const next = frame(player(1, 100, 100), player(3, 110, 100, { score: 1 }));
  const ev = deriveEvents(prev, next, opts);
  assert.deepEqual(ev.map((e) => [e.type, e.killer.name]), [['drone', 'p3']]);
  assert.ok(near(ev[0].x, m(112)));
  // No score: drones that vanished left the view (or expired), nobody destroyed them.
  const quiet = deriveEvents(prev, frame(player(1, 100, 100), player(3, 110, 100)), opts);
  assert.deepEqual(quiet, []);
});

test('respawns are reported, and nothing is derived from the first view', () => {
  const prev = frame(player(1, 10, 10), player(2, 20, 10, { flags: FLAG_DEAD }));
  const next = frame(player(1, 10, 10), player(2, 80, 80));
  assert.deepEqual(deriveEvents(prev, next, opts).map((e) => [e.type, e.player.name]), [['respawn', 'p2']]);
  assert.deepEqual(deriveEvents(new Map(), next, opts), []);
});
