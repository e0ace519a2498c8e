// The input schedule: one input per tick slot, missed slots skipped, the slots pulled
// towards half a tick after the server's ticks.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { InputClock } from './inputclock.js';

const TICK = 1000 / 60;

test('one input per slot, at the slot start; a late timer skips the slots it missed', () => {
  const c = new InputClock(60, 1000);
  assert.equal(c.take(1000), 1000);
  assert.equal(c.take(1005), null, 'this slot had its input');
  assert.equal(c.wait(1005), Math.ceil(1000 + TICK - 1005));
  assert.ok(Math.abs(c.take(1000 + TICK + 1) - (1000 + TICK)) < 1e-9);
  // The page slept for five slots: one input, four slots skipped.
  const slot = c.take(1000 + 6.5 * TICK);
  assert.ok(Math.abs(slot - (1000 + 6 * TICK)) < 1e-9);
  assert.equal(c.skipped, 4);
  assert.equal(c.wait(1000 + 6.5 * TICK), Math.ceil(TICK / 2));
});

test('the slots move towards half a tick after a snapshot, minus the round trip', () => {
  const c = new InputClock(60, 0);
  // Snapshots arrive at ticks' boundaries 5 ms into the slots, with no round trip: the
  // slots should start half a tick after that, at 5 + TICK / 2 (mod TICK).
  for (let i = 0; i < 200; i++) c.lockPhase(5 + i * TICK, 0);
  const phase = (((c.epoch - (5 + TICK / 2)) % TICK) + TICK) % TICK;
  assert.ok(Math.min(phase, TICK - phase) < 0.01, `phase error ${phase} ms`);
});
