// The console's pure part: table cells from the API's JSON, the requests of each
// action, the text of an API error.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  authHeaders,
  closeRequest,
  count,
  createRequest,
  detailRequest,
  errorText,
  freeSeats,
  gamesOf,
  hasRoster,
  kickRequest,
  listNodesRequest,
  ms,
  nodeCells,
  NODE_COLUMNS,
  percent,
  rate,
  roomCells,
  ROOM_COLUMNS,
  rosterCells,
  ROSTER_COLUMNS,
  sortRooms,
} from './model.js';

// As GET /api/rooms lists a room (server/src/http/api.rs RoomInfo).
const ROOM = {
  id: 'arena',
  name: 'Arena',
  game: 'arena',
  map: 'arena',
  players: 3,
  held: 1,
  reserved: 2,
  max_players: 16,
  tick_rate: 60,
  snapshot_rate: 20,
  drones: 10,
  aoi_radius: 48,
  private: false,
  default: true,
  origin: 'config',
  node: 'a',
  load: { tick_ms_p99: 0.4567, lateness_ms_p99: 1.2, bytes_out_per_s: 12_345 },
};

// As GET /api/nodes shows a node (server/src/cluster/records.rs NodeInfo).
const NODE = {
  id: 'a',
  url: 'http://10.0.0.1:8080',
  draining: false,
  rooms: 3,
  max_rooms: 64,
  players: 12,
  seats: 48,
  free_seats: 30,
  entities: 120,
  max_entities: 20000,
  fill: 0.0469,
};

test('numbers as the tables show them', () => {
  assert.equal(count(3), '3');
  assert.equal(count(undefined), '—');
  assert.equal(ms(0.4567), '0.46');
  assert.equal(ms(NaN), '—');
  assert.equal(rate(999), '999 B/s');
  assert.equal(rate(12_345), '12.3 kB/s');
  assert.equal(rate(2_500_000), '2.50 MB/s');
  assert.equal(rate(undefined), '—');
  assert.equal(percent(0.0469), '5%');
  assert.equal(percent(1), '100%');
});

test('a node row: id, url, rooms of max, players, free seats, fill, state', () => {
  const cells = nodeCells(NODE);
  assert.equal(cells.length, NODE_COLUMNS.length);
  assert.deepEqual(cells, ['a', 'http://10.0.0.1:8080', '3/64', '12', '30', '5%', 'live']);
  // A lone server without --public-url has no URL; a draining node says so.
  const lone = nodeCells({ ...NODE, url: '', draining: true });
  assert.equal(lone[1], '—');
  assert.equal(lone[6], 'draining');
});

test('a room row: seats held and reserved are not free, the load in ms and bytes per second', () => {
  assert.equal(freeSeats(ROOM), 10);
  assert.equal(freeSeats({ ...ROOM, players: 20, held: 0, reserved: 0 }), 0, 'never negative');
  const cells = roomCells(ROOM);
  assert.equal(cells.length, ROOM_COLUMNS.length);
  assert.deepEqual(cells, ['arena', 'a', 'arena', '3/16 (+1 held)', '10', '0.46', '1.20', '12.3 kB/s']);
  // A room listed by a node of an older release has no load yet.
  const bare = roomCells({ ...ROOM, held: 0, load: undefined });
  assert.deepEqual(bare.slice(3), ['3/16', '11', '—', '—', '—']);
});

test('rooms are sorted by node then id, and the games offered are the listed ones', () => {
  const rooms = [
    { ...ROOM, id: 'z', node: 'a' },
    { ...ROOM, id: 'b', node: 'b', game: 'ball' },
    { ...ROOM, id: 'a', node: 'a' },
  ];
  assert.deepEqual(sortRooms(rooms).map((r) => `${r.node}/${r.id}`), ['a/a', 'a/z', 'b/b']);
  assert.deepEqual(rooms.map((r) => r.id), ['z', 'b', 'a'], 'the listing itself is left as it was');
  assert.deepEqual(gamesOf(rooms), ['arena', 'ball']);
  assert.deepEqual(gamesOf([]), []);
});

test('a roster row says whether the player is connected or held', () => {
  assert.equal(ROSTER_COLUMNS.length, 3);
  assert.deepEqual(rosterCells({ player_id: 'p-1', name: 'Ada', connected: true }), ['p-1', 'Ada', 'connected']);
  assert.deepEqual(rosterCells({ player_id: 'p-2', name: 'Bo', connected: false }), ['p-2', 'Bo', 'held for a resume']);
  assert.ok(hasRoster({ roster: [] }));
  assert.ok(!hasRoster({ id: 'arena' }), 'no roster without the admin token');
  assert.ok(!hasRoster(null));
});

test('requests carry the admin token as a bearer token, and ids are escaped in paths', () => {
  assert.deepEqual(authHeaders(''), {});
  assert.deepEqual(authHeaders(' s3cret '), { Authorization: 'Bearer s3cret' });
  assert.deepEqual(listNodesRequest(''), { method: 'GET', path: '/api/nodes', headers: {}, body: undefined });
  assert.deepEqual(detailRequest('a b', 't'), { method: 'GET', path: '/api/rooms/a%20b', headers: { Authorization: 'Bearer t' }, body: undefined });
  assert.deepEqual(closeRequest('duel-7', 't'), { method: 'DELETE', path: '/api/rooms/duel-7', headers: { Authorization: 'Bearer t' }, body: undefined });
  const kick = kickRequest('duel-7', 'p-1f', 't');
  assert.equal(kick.method, 'POST');
  assert.equal(kick.path, '/api/rooms/duel-7/kick');
  assert.equal(kick.headers['Content-Type'], 'application/json');
  assert.deepEqual(JSON.parse(kick.body), { player_id: 'p-1f' });
});

test('a create request takes only the fields filled in, and a node when one is chosen', () => {
  const any = createRequest({ id: '', game: '', maxPlayers: '', node: '' }, 't');
  assert.equal(any.path, '/api/rooms');
  assert.deepEqual(JSON.parse(any.body), {}, 'everything from the server\'s defaults');
  const full = createRequest({ id: ' duel-7 ', game: 'ball', maxPlayers: '4', node: 'c' }, 't');
  assert.equal(full.method, 'POST');
  assert.equal(full.path, '/api/rooms?node=c');
  assert.deepEqual(JSON.parse(full.body), { id: 'duel-7', game: 'ball', max_players: 4 });
  assert.deepEqual(full.headers, { Authorization: 'Bearer t', 'Content-Type': 'application/json' });
  for (const bad of ['0', '-2', '1.5', 'many']) {
    assert.throws(() => createRequest({ maxPlayers: bad }, 't'), /max players/, bad);
  }
});

test('API errors read as their message, kind and status; a range when a field is out of it', () => {
  assert.equal(
    errorText(401, { error: 'unauthorized', message: 'this needs the admin token' }),
    'this needs the admin token [401 unauthorized]',
  );
  assert.equal(
    errorText(400, { error: 'invalid_room', message: 'max_players out of range', field: 'max_players', min: 1, max: 256 }),
    'max_players out of range (max_players: 1–256) [400 invalid_room]',
  );
  assert.equal(errorText(502, null), 'HTTP 502');
  assert.equal(errorText(0, null), 'the server does not answer');
});
