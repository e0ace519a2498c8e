// Prediction and reconciliation against a simulated server that runs the same movement
// rules (movement.js, itself checked bit for bit against Rust by movement.test.mjs):
// inputs and snapshots travel with latency, the server applies the newest input each
// tick, snapshots carry quantised state.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { mapFromInfo, stepPlayer } from './movement.js';
import { Predictor, SMOOTH_TAU_MS, SNAP_M, kinematicsOf } from './predict.js';

const golden = JSON.parse(readFileSync(new URL('../testdata/movement.json', import.meta.url), 'utf8'));
const arena = mapFromInfo(golden.maps.arena);
const q = (m) => Math.floor(m * 64 + 0.5);

/** The own player's state as a snapshot carries it (quantised), back in metres. */
const wire = (k) => kinematicsOf({ x: q(k.x), y: q(k.y), vx: q(k.vx), vy: q(k.vy) });
const move = (moveX, moveY) => ({ moveX, moveY, aim: 0, buttons: 0 });
const newPredictor = (rate = 60) => new Predictor({ tickRate: rate, step: (k, inp, dt) => stepPlayer(k, inp.moveX, inp.moveY, arena, dt) });

/**
 * Runs `ticks` ticks at 60 Hz: the client sends `inputAt(i)` each tick, it reaches the
 * server `latency` ticks later (`deliver(i)` may move it to another tick), the server
 * applies the newest input it has, and every third tick a snapshot goes back with the
 * same latency. Returns the predictor and the server's final state.
 */
function simulate({ ticks, latency = 2, inputAt, deliver = (i) => i + latency, start = { x: 100, y: 50, vx: 0, vy: 0 } }) {
  const rate = 60;
  const tickMs = 1000 / rate;
  const p = newPredictor(rate);
  let server = { ...start };
  let serverInput = { seq: 0, moveX: 0, moveY: 0 };
  const inFlight = []; // [arrival tick, input]
  const snapshots = []; // [arrival tick, entity, last seq]
  let corrections = [];
  for (let i = 0; i < ticks; i++) {
    const now = i * tickMs;
    // Snapshots arriving now (before this tick's input is sent).
    for (const [at, k, seq] of snapshots.filter((s) => s[0] === i)) {
      p.reconcile(k, false, seq, now + 0.5);
      corrections.push(p.lastError);
    }
    const [moveX, moveY] = inputAt(i);
    const seq = i + 1;
    p.input(seq, move(moveX, moveY), now + 1);
    inFlight.push([deliver(i), { seq, moveX, moveY }]);
    // Server tick i: the newest input that has arrived, applied.
    for (const [at, inp] of inFlight) if (at <= i && inp.seq > serverInput.seq) serverInput = inp;
    server = stepPlayer(server, serverInput.moveX, serverInput.moveY, arena, 1 / rate);
    if (i % 3 === 0) snapshots.push([i + latency + 1, wire(server), serverInput.seq]);
  }
  return { p, server, corrections };
}

const pattern = (i) => {
  const phase = Math.floor(i / 20) % 6;
  return [
    [127, 0],
    [127, 127],
    [0, -127],
    [0, 0],
    [-127, 64],
    [0, 0],
  ][phase];
};

test('a server that agrees leaves nothing to correct but quantisation', () => {
  const { p, server, corrections } = simulate({ ticks: 600, inputAt: pattern });
  assert.ok(p.reconciles > 150);
  assert.equal(p.snaps, 0);
  // Restarting from 1/64 m steps and 1/64 m/s steps strays by a centimetre or two at
  // most (when the quantised velocity reaches its target a tick apart from the exact
  // one): half a pixel at the client's zoom, and smoothed anyway.
  assert.ok(Math.max(...corrections) < 0.03, `max correction ${Math.max(...corrections)} m`);
  // All inputs applied: the prediction is where the server is (to quantisation).
  assert.ok(Math.hypot(p.state.x - server.x, p.state.y - server.y) < 0.02);
});

test('prediction runs ahead of the server by the unacknowledged inputs', () => {
  const { p } = simulate({ ticks: 100, latency: 5, inputAt: () => [127, 0] });
  // Round trip of 10 ticks plus the snapshot interval: around a dozen inputs in flight.
  assert.ok(p.pending.length >= 8 && p.pending.length <= 16, `${p.pending.length} pending`);
});

test('an input the server skipped is corrected, and the picture does not jump', () => {
  // Input 30 (the first with the new direction) arrives together with input 31, so the
  // server never applies it on its own tick: the server is one step behind the prediction.
  const inputAt = (i) => (i < 30 ? [0, 0] : [127, 0]);
  const deliver = (i) => (i === 30 ? 33 : i + 2);
  const { p, corrections } = simulate({ ticks: 90, inputAt, deliver });
  const big = Math.max(...corrections);
  assert.ok(big > 0.005 && big < 0.15, `one step of correction, got ${big} m`);
  assert.equal(p.snaps, 0);
});

test('a correction keeps the drawn position continuous and fades within ~100 ms', () => {
  const p = newPredictor();
  const k0 = { x: 100, y: 50, vx: 6, vy: 0 };
  p.reconcile(wire(k0), false, 0, 0);
  for (let s = 1; s <= 4; s++) p.input(s, move(127, 0), (s - 1) * 16.7);
  const now = 3 * 16.7 + 5;
  const before = p.renderPosition(now);
  // The server says we were 20 cm further left than predicted.
  const server = stepPlayer(stepPlayer({ ...k0, x: k0.x - 0.2 }, 127, 0, arena, 1 / 60), 127, 0, arena, 1 / 60);
  p.reconcile(wire(server), false, 2, now);
  const after = p.renderPosition(now);
  assert.ok(p.lastError > 0.15 && p.lastError < 0.25, `error ${p.lastError}`);
  assert.ok(Math.abs(after.x - before.x) < 1e-9 && Math.abs(after.y - before.y) < 1e-9, 'no jump on screen');
  const offset0 = Math.hypot(p.offset.x, p.offset.y);
  const later = p.offsetNow(now + 100);
  assert.ok(Math.hypot(later.x, later.y) < 0.06 * offset0, 'mostly gone after 100 ms');
  assert.ok(SMOOTH_TAU_MS > 10 && SMOOTH_TAU_MS < 60);
});

test('frozen (dead) players do not move, and a respawn far away is a jump, not a glide', () => {
  const p = newPredictor();
  const here = { x: 100, y: 50, vx: 0, vy: 0 };
  p.reconcile(wire(here), true, 0, 0);
  for (let s = 1; s <= 10; s++) p.input(s, move(127, 127), s * 16.7);
  assert.deepEqual(p.state, here, 'a frozen player stays put');
  const spawn = { x: 20, y: 180, vx: 0, vy: 0 };
  p.reconcile(wire(spawn), false, 8, 200);
  assert.ok(p.lastError > SNAP_M);
  assert.equal(p.snaps, 1);
  assert.deepEqual(p.offset, { x: 0, y: 0 });
  // Inputs 9 and 10 are replayed from the spawn point.
  assert.ok(p.state.x > spawn.x && p.state.y > spawn.y);
  assert.equal(p.pending.length, 2);
});

test('the drawn position moves evenly between the predicted ticks, by their slot times', () => {
  const p = newPredictor();
  const T = 1000 / 60;
  p.reconcile(wire({ x: 100, y: 50, vx: 6, vy: 0 }), false, 0, 0);
  // Inputs for the slots starting at 0 and T: their states belong to the ends, T and 2T,
  // however late the timer that sent them actually fired.
  p.input(1, move(127, 0), 0);
  const s1 = { ...p.state };
  p.input(2, move(127, 0), T);
  const s2 = { ...p.state };
  assert.equal(p.renderPosition(T).x, s1.x);
  assert.ok(Math.abs(p.renderPosition(1.5 * T).x - (s1.x + s2.x) / 2) < 1e-9);
  assert.equal(p.renderPosition(2 * T).x, s2.x);
  // The next input is late: on as the server goes (repeating the last input), one tick at most.
  assert.ok(Math.abs(p.renderPosition(2.5 * T).x - (s2.x + (s2.vx * T) / 2000)) < 1e-9);
  assert.ok(Math.abs(p.renderPosition(50 * T).x - (s2.x + (s2.vx * T) / 1000)) < 1e-9);
});
