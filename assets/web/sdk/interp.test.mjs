// Interpolation of remote entities by their motion model, and the server tick clock, on
// a made-up schema: players glide (a predicted motion), flyers follow trajectories, a
// scoreboard entity has no motion at all.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Motions, SnapshotBuffer, TELEPORT_M, TickClock, interpolationDelay, lerpAngle, trajectoryAt } from './interp.js';
import { entity, layoutOf } from './testkit.mjs';

const RATE = 60;
const m = (metres) => Math.round(metres * 64);
const motion = (model) => ({ type: 'Motion', model, scale: 64 });
const layout = layoutOf({
  game: 'test',
  components: [
    { name: 'Walker', fields: [{ name: 'at', kind: motion('Predicted') }] },
    { name: 'Flyer', fields: [{ name: 'line', kind: motion('Trajectory') }] },
    { name: 'Board', fields: [{ name: 'points', kind: { type: 'Uint', k: 0 } }] },
  ],
});

const walker = (id, x, y, vx = 0, vy = 0) => entity(layout, id, { Walker: { at: { x: m(x), y: m(y), vx: m(vx), vy: m(vy) } } });
const flyer = (id, anchor, x, y, vx, vy) => entity(layout, id, { Flyer: { line: { anchor, x: m(x), y: m(y), vx: m(vx), vy: m(vy) } } });
const board = (id, points) => entity(layout, id, { Board: { points } });
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

test('an entity is placed by the first motion of its components, by the schema alone', () => {
  const ms = new Motions(layout);
  assert.equal(ms.scale, 64);
  assert.deepEqual(ms.of(walker(1, 1, 2, 3)), { model: 'Predicted', anchor: 0, x: 64, y: 128, vx: 192, vy: 0 });
  assert.equal(ms.of(flyer(2, 7, 1, 1, 0, 0)).model, 'Trajectory');
  assert.equal(ms.of(board(3, 5)), null);
});

test('predicted motions glide between snapshots, jump on teleports, coast briefly past the newest', () => {
  const b = new SnapshotBuffer(layout);
  b.push(100, frame(walker(1, 10, 10), walker(2, 50, 50), walker(9, 0.5, 0.5)));
  b.push(103, frame(walker(1, 10.25, 10), walker(2, 50 + TELEPORT_M + 1, 50), walker(9, 0.5, 0.5)));
  const at = (tick, opts = { skip: 9 }) => new Map(b.sample(tick, RATE, opts).map((e) => [e.id, e]));
  let s = at(101.5);
  assert.ok(near(s.get(1).x, 10.125));
  assert.equal(s.get(1).glide, true);
  assert.ok(near(s.get(1).f, 0.5));
  assert.equal(s.get(2).x, 50, 'a teleport is not drawn as a dash across the map');
  assert.equal(s.get(2).glide, false);
  assert.equal(s.has(9), false, 'skipped (the own player is predicted, not interpolated)');
  // Past the newest snapshot: along the velocity, for at most MAX_EXTRAPOLATION_S.
  b.push(106, frame(walker(1, 10.5, 10, 6)));
  s = at(109);
  assert.ok(near(s.get(1).x, 10.5 + 6 * (3 / RATE)));
  s = at(1000);
  assert.ok(near(s.get(1).x, 10.5 + 6 * 0.2), 'extrapolation is capped');
  assert.equal(at(109, { hold: (e) => e.id === 1 }).get(1).x, 10.5, 'held entities wait');
  // Before the oldest frame (just joined): held where the oldest frame has them.
  assert.equal(at(50).get(1).x, 10);
});

test('trajectories follow the line in force at the render tick', () => {
  const b = new SnapshotBuffer(layout);
  // A flyer moving right bounces at tick 102 (between the snapshots at 100 and 103).
  b.push(100, frame(flyer(5, 90, 10, 10, 2, 0)));
  const bounce = m(10 + (2 * 12) / RATE) / 64; // where it turned, on the position grid
  b.push(103, frame(flyer(5, 102, bounce, 10, -2, 0)));
  const x = (tick) => b.sample(tick, RATE)[0].x;
  assert.ok(near(x(101), 10 + (2 * 11) / RATE), 'before the bounce: the old line');
  assert.ok(near(x(102.5), bounce - (2 * 0.5) / RATE), 'after it: the new one');
  const d = b.sample(102.5, RATE)[0];
  assert.ok(near(d.heading, Math.PI), 'heading from the velocity');
  assert.ok(near(trajectoryAt({ anchor: 10, x: 0, y: 0, vx: 64, vy: 0 }, 10.5, RATE)[0], 0.5 / RATE));
});

test('a new flyer appears at its start tick, a removed one disappears at its snapshot', () => {
  const b = new SnapshotBuffer(layout);
  b.push(100, frame(walker(1, 19, 20), flyer(7, 95, 20, 20, 20, 0)));
  b.push(103, frame(walker(1, 19, 20), flyer(8, 102, 30, 30, 0, 20)));
  const ids = (tick) => b.sample(tick, RATE).filter((e) => e.id !== 1).map((e) => e.id);
  assert.deepEqual(ids(101), [7], 'flyer 8 does not exist yet; flyer 7 still flies');
  assert.deepEqual(ids(102.5), [7, 8]);
  assert.deepEqual(ids(103), [8], 'flyer 7 was removed by snapshot 103');
});

test('an entity that starts a line between snapshots (a kicked ball) switches to it at its anchor', () => {
  const b = new SnapshotBuffer(layout);
  // Held (no motion) at 100, kicked at 102 (a trajectory from then on) in snapshot 103.
  const held = entity(layout, 4, { Board: { points: 1 } });
  b.push(100, frame(held));
  b.push(103, frame(flyer(4, 102, 10, 10, 6, 0)));
  const at = (tick) => b.sample(tick, RATE)[0];
  assert.equal(at(101).x, null, 'before the kick it has no place of its own');
  assert.equal(at(101).e, held);
  assert.ok(near(at(102.5).x, 10 + (6 * 0.5) / RATE), 'after it, on its line');
});

test('entities without a motion are sampled unplaced, as of the render tick', () => {
  const b = new SnapshotBuffer(layout);
  b.push(100, frame(board(3, 1)));
  b.push(103, frame(board(3, 2)));
  const [s] = b.sample(101, RATE);
  assert.equal(s.x, null);
  assert.equal(s.e.ints[s.e.ints.length - 1], 1, 'the state in force at tick 101');
  assert.ok(s.next, 'and the next one');
});

test('the buffer keeps ascending ticks and prunes what is no longer needed', () => {
  const b = new SnapshotBuffer(layout, { capacity: 4 });
  for (const t of [10, 13, 16, 19, 22]) b.push(t, frame());
  assert.deepEqual(b.frames.map((f) => f.tick), [13, 16, 19, 22]);
  b.push(16, frame());
  assert.deepEqual(b.frames.map((f) => f.tick), [13, 16], 'an older tick (a new session) replaces what follows');
  b.push(19, frame());
  b.prune(17);
  assert.deepEqual(b.frames.map((f) => f.tick), [16, 19]);
});

test('angles blend the short way round', () => {
  assert.ok(near(lerpAngle(0.1, 2 * Math.PI - 0.1, 0.5), 0));
  assert.ok(near(lerpAngle(0, Math.PI / 2, 0.5), Math.PI / 4));
});
