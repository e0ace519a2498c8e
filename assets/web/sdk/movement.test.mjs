// The JavaScript movement rules against Rust's, bit for bit: testdata/movement.json is
// written by shared/tests/movement_golden.rs (regenerate with
// TICKWIRE_BLESS=1 cargo test -p shared --test movement_golden).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  PLAYER_ACCEL,
  PLAYER_MAX_SPEED,
  PLAYER_RADIUS,
  intentDirection,
  mapFromInfo,
  moveAndCollide,
  stepPlayer,
} from './movement.js';

const golden = JSON.parse(readFileSync(new URL('../testdata/movement.json', import.meta.url), 'utf8'));
const maps = Object.fromEntries(Object.entries(golden.maps).map(([name, info]) => [name, mapFromInfo(info)]));

const buf = new DataView(new ArrayBuffer(8));

/** The 16 hex digits of a double's bit pattern, as Rust's `format!("{:016x}", x.to_bits())`. */
function bits(x) {
  buf.setFloat64(0, x);
  return buf.getBigUint64(0).toString(16).padStart(16, '0');
}

function fromBits(hex) {
  buf.setBigUint64(0, BigInt(`0x${hex}`));
  return buf.getFloat64(0);
}

const kin = (k) => [k.x, k.y, k.vx, k.vy].map(bits).join(':');

function parseKin(s) {
  const [x, y, vx, vy] = s.split(':').map(fromBits);
  return { x, y, vx, vy };
}

test('bit-pattern helpers round-trip, signed zeros included', () => {
  for (const x of [0, -0, 1, -1.5, 0.1, 1 / 3, Number.MIN_VALUE, 1e300]) {
    assert.ok(Object.is(fromBits(bits(x)), x), `${x}`);
  }
  assert.equal(bits(1), '3ff0000000000000');
});

test('movement constants match shared::rules', () => {
  assert.equal(bits(PLAYER_RADIUS), golden.rules.player_radius);
  assert.equal(bits(PLAYER_MAX_SPEED), golden.rules.player_max_speed);
  assert.equal(bits(PLAYER_ACCEL), golden.rules.player_accel);
});

test('intent_direction matches Rust bit for bit', () => {
  assert.ok(golden.intent_direction.length > 100);
  for (const [mx, my, x, y] of golden.intent_direction) {
    const [gx, gy] = intentDirection(mx, my);
    assert.equal(bits(gx), x, `x of (${mx}, ${my})`);
    assert.equal(bits(gy), y, `y of (${mx}, ${my})`);
  }
});

test('move_and_collide matches Rust bit for bit, hit flags included', () => {
  for (const c of golden.move_and_collide) {
    const got = moveAndCollide(parseKin(c.k), fromBits(c.r), maps[c.map], fromBits(c.dt));
    assert.equal(kin(got.k), c.out, c.note);
    assert.deepEqual([got.hitX, got.hitY], c.hit, c.note);
  }
});

test('step_player sequences match Rust after every step', () => {
  let steps = 0;
  const rates = new Set();
  for (const run of golden.runs) {
    rates.add(run.tick_rate);
    const map = maps[run.map];
    const dt = 1 / run.tick_rate;
    let k = parseKin(run.start);
    let i = 0;
    for (const [mx, my, repeat] of run.inputs) {
      for (let n = 0; n < repeat; n++) {
        k = stepPlayer(k, mx, my, map, dt);
        // Stop at the first divergence with the step and both values, not 2,000 failures.
        assert.equal(kin(k), run.states[i], `${run.note}: step ${i + 1}, input (${mx}, ${my})`);
        i++;
        steps++;
      }
    }
    assert.equal(i, run.states.length, `${run.note}: step count`);
  }
  assert.ok(steps > 1000, `only ${steps} steps compared`);
  assert.ok(rates.size >= 5, 'several tick rates');
});
