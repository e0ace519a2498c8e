// The lobby's text for a room (ui.js is a browser module, but these helpers touch no DOM).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { roomIsFull, roomMeta } from './ui.js';

test('a listed room shows its game, map, rates, node and whether it is full', () => {
  const room = { id: 'a', game: 'ball', map: 'pitch', tick_rate: 60, snapshot_rate: 30, players: 8, held: 0, reserved: 0, max_players: 8, node: 'node-2' };
  assert.deepEqual(roomMeta(room), ['ball', 'map pitch', '60 Hz', '30 snapshots/s', 'node node-2', 'full']);
  assert.deepEqual(roomMeta({ ...room, node: undefined, players: 7 }), ['ball', 'map pitch', '60 Hz', '30 snapshots/s']);
  assert.equal(roomIsFull({ ...room, players: 6, held: 1, reserved: 1 }), true);
  assert.equal(roomIsFull({ ...room, players: 6 }), false);
  assert.equal(roomIsFull({ id: 'default' }), false, 'a room without counts is not full');
});
