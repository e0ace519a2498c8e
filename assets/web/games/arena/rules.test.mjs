// The arena's constants against the server's: the combat rules the HUD shows (respawn
// countdown, muzzle flash, a shot's reach) bit for bit against the movement golden
// vectors (written by shared/tests/movement_golden.rs from shared::rules), the others
// against shared/src/rules.rs itself.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import * as rules from './rules.js';

const golden = JSON.parse(readFileSync(new URL('../../testdata/movement.json', import.meta.url), 'utf8'));
const RULES_RS = new URL('../../../../shared/src/rules.rs', import.meta.url);

const buf = new DataView(new ArrayBuffer(8));
function bits(x) {
  buf.setFloat64(0, x);
  return buf.getBigUint64(0).toString(16).padStart(16, '0');
}

test('combat constants match shared::rules bit for bit', () => {
  assert.equal(bits(rules.FIRE_COOLDOWN_S), golden.rules.fire_cooldown_s);
  assert.equal(bits(rules.RESPAWN_DELAY_S), golden.rules.respawn_delay_s);
  assert.equal(bits(rules.PROJECTILE_SPEED), golden.rules.projectile_speed);
  assert.equal(bits(rules.PROJECTILE_LIFETIME_S), golden.rules.projectile_lifetime_s);
});

test('sizes, health and the fire button match shared/src/rules.rs', () => {
  const src = readFileSync(RULES_RS, 'utf8');
  const value = (name) => {
    const m = src.match(new RegExp(`pub const ${name}: \\w+ = ([0-9. /]+);`));
    assert.ok(m, `${name} in rules.rs`);
    const [a, b] = m[1].split('/').map(Number);
    return b === undefined ? a : a / b;
  };
  for (const name of ['DRONE_RADIUS', 'PROJECTILE_RADIUS', 'PLAYER_MAX_HEALTH', 'DRONE_MAX_HEALTH', 'BUTTON_FIRE']) {
    assert.equal(rules[name], value(name), name);
  }
});
