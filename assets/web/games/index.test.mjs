// The registry: each game module is found by the name its schema announces and has what
// the page needs of it.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ARENA_SCHEMA } from './arena/fixtures.mjs';
import { BALL_SCHEMA } from './ball/fixtures.mjs';
import { GAMES, gameModule } from './index.js';

test('every game module is registered under its schema name, with its parts', () => {
  assert.equal(gameModule(ARENA_SCHEMA.game), GAMES.arena);
  assert.equal(gameModule(BALL_SCHEMA.game), GAMES.ball);
  assert.equal(gameModule('chess'), null);
  assert.equal(gameModule('toString'), null, 'not an inherited property');
  for (const g of Object.values(GAMES)) {
    assert.ok(Array.isArray(g.help) && g.help.every(([k, w]) => typeof k === 'string' && typeof w === 'string'), g.name);
    assert.ok(Array.isArray(g.controls.keys) && typeof g.controls.buttons === 'function', g.name);
    for (const f of ['createModel', 'createRenderer', 'createHud']) assert.equal(typeof g[f], 'function', `${g.name}.${f}`);
  }
});

test('the buttons: the arena fires and the ball game kicks on bit 0', () => {
  const held = (primary, keys = []) => ({ primary, isDown: (k) => keys.includes(k) });
  assert.equal(GAMES.arena.controls.buttons(held(true)), 1);
  assert.equal(GAMES.arena.controls.buttons(held(false, ['Space'])), 0);
  assert.equal(GAMES.ball.controls.buttons(held(true)), 1);
  assert.equal(GAMES.ball.controls.buttons(held(false, ['Space'])), 1);
  assert.equal(GAMES.ball.controls.buttons(held(false)), 0);
});
