// Where a client goes when the room of its lost session is gone: when the room counts as
// gone, which room replaces it, and the plan from the room list's answer.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Move, freeSeats, pickRoom, planRelocation, roomGone } from './relocate.js';

const room = (id, game, players, max_players, more = {}) => ({ id, name: `Room ${id}`, game, players, max_players, ...more });
const mid = () => 0.5;

test('free seats count players, players held for a resume and reservations', () => {
  assert.equal(freeSeats(room('a', 'ball', 2, 8, { held: 1, reserved: 2 })), 3);
  assert.equal(freeSeats(room('a', 'ball', 9, 8)), -1);
  assert.equal(freeSeats({ id: 'old' }), Infinity, 'a listing without counts');
});

test('a room is gone on 4013, or when its node is unreachable and the API has no such room', () => {
  assert.equal(roomGone({ code: 4013 }), true);
  assert.equal(roomGone({ code: 1006, roomStatus: 404 }), true);
  assert.equal(roomGone({ code: 0, roomStatus: 404 }), true);
  // The room exists, or nobody can say (the cluster's directory is down, no answer).
  for (const roomStatus of [200, 503, 0, null]) assert.equal(roomGone({ code: 1006, roomStatus }), false, `${roomStatus}`);
  // Closed on purpose, or refused for another reason: not "gone" in this sense.
  for (const code of [4016, 4012, 4004, 1001]) assert.equal(roomGone({ code, roomStatus: 404 }), false, `${code}`);
});

test('the replacement is a room of the same game with a free seat, the one with most', () => {
  const rooms = [
    room('gone', 'ball', 0, 8),
    room('arena', 'arena', 0, 50),
    room('full', 'ball', 8, 8),
    room('few', 'ball', 6, 8),
    room('many', 'ball', 2, 8, { reserved: 1 }),
    room('many-too', 'ball', 3, 8),
  ];
  assert.equal(pickRoom(rooms, { game: 'ball', gone: 'gone' }).id, 'many', 'most free seats, the first on a tie');
  assert.equal(pickRoom(rooms, { game: 'arena', gone: 'gone' }).id, 'arena');
  assert.equal(pickRoom(rooms.slice(1), { game: 'ball', gone: 'many' }).id, 'many-too');
  assert.equal(pickRoom(rooms.slice(0, 3), { game: 'ball', gone: 'gone' }), null, 'only the gone and a full room');
  assert.equal(pickRoom(rooms, { game: 'ctf', gone: 'gone' }), null, 'no room of that game');
  assert.equal(pickRoom(null, { game: 'ball', gone: 'x' }), null);
});

test('the plan: join the replacement, back to the lobby, or ask again after the backoff', () => {
  const gone = { id: 'gone', name: 'Old pitch' };
  const rooms = [room('gone', 'ball', 0, 8), room('b', 'ball', 1, 8, { name: 'New pitch' })];
  const join = planRelocation({ status: 200, rooms, game: 'ball', gone });
  assert.equal(join.move, Move.JOIN);
  assert.equal(join.room.id, 'b');
  assert.equal(join.why, 'Room Old pitch is gone; joined New pitch.');

  const none = planRelocation({ status: 200, rooms: rooms.slice(0, 1), game: 'ball', gone });
  assert.equal(none.move, Move.LOBBY);
  assert.match(none.why, /Old pitch is gone, and no other room of ball has a free seat/);

  for (const status of [0, 429, 503]) {
    const later = planRelocation({ status, rooms: [], game: 'ball', gone, attempt: 1, random: mid });
    assert.deepEqual([later.move, later.delayMs], [Move.RETRY, 1000], `${status}`);
  }
  assert.equal(planRelocation({ status: 403, rooms, game: 'ball', gone }).move, Move.LOBBY);
});
