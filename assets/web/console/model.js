// The operator console's pure part: what the tables show of the API's nodes, rooms and
// rosters, the requests each action sends, and the operator-facing text of an API
// error. No DOM and no fetch here, so `node --test` covers it (model.test.mjs);
// console.js carries the requests out and draws the results.

/** How often the tables are refreshed, ms. */
export const REFRESH_MS = 1000;

/** Where the admin token is kept: the tab's session storage, never the disk for good. */
export const TOKEN_KEY = 'tickwire.console.token';

const DASH = '—';

/** A count as the tables show it: an integer, or a dash when the API left it out. */
export function count(n) {
  return Number.isFinite(n) ? String(Math.round(n)) : DASH;
}

/** Milliseconds with two decimals ("0.42"), a dash when unknown. */
export function ms(x) {
  return Number.isFinite(x) ? x.toFixed(2) : DASH;
}

/** Bytes per second in B/s, kB/s or MB/s (powers of 1000, as network rates go). */
export function rate(bytesPerS) {
  if (!Number.isFinite(bytesPerS) || bytesPerS < 0) return DASH;
  if (bytesPerS < 1000) return `${Math.round(bytesPerS)} B/s`;
  if (bytesPerS < 1_000_000) return `${(bytesPerS / 1000).toFixed(1)} kB/s`;
  return `${(bytesPerS / 1_000_000).toFixed(2)} MB/s`;
}

/** A 0–1 fraction as a whole percentage. */
export function percent(fraction) {
  return Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : DASH;
}

/** Seats of a listed room neither taken, held for a resume nor reserved. */
export function freeSeats(room) {
  const taken = (room.players ?? 0) + (room.held ?? 0) + (room.reserved ?? 0);
  return Math.max(0, (room.max_players ?? 0) - taken);
}

/** The nodes table's header, and one node's cells (`GET /api/nodes`), in that order. */
export const NODE_COLUMNS = ['node', 'url', 'rooms', 'players', 'free seats', 'fill', 'state'];

export function nodeCells(node) {
  return [
    node.id,
    node.url || DASH,
    `${count(node.rooms)}/${count(node.max_rooms)}`,
    count(node.players),
    count(node.free_seats),
    percent(node.fill),
    node.draining ? 'draining' : 'live',
  ];
}

/** The rooms table's header, and one listed room's cells (`GET /api/rooms`). */
export const ROOM_COLUMNS = ['room', 'node', 'game', 'players', 'free seats', 'tick p99 ms', 'lateness p99 ms', 'out'];

export function roomCells(room) {
  const load = room.load ?? {};
  const held = room.held ? ` (+${room.held} held)` : '';
  return [
    room.id,
    room.node || DASH,
    room.game || DASH,
    `${count(room.players)}/${count(room.max_players)}${held}`,
    count(freeSeats(room)),
    ms(load.tick_ms_p99),
    ms(load.lateness_ms_p99),
    rate(load.bytes_out_per_s),
  ];
}

/** Rooms in a stable order: by node, then id (the listing's order in a cluster). */
export function sortRooms(rooms) {
  return [...rooms].sort((a, b) => (a.node ?? '').localeCompare(b.node ?? '') || a.id.localeCompare(b.id));
}

/** The games the listed rooms run, each once, sorted: the create form offers them. */
export function gamesOf(rooms) {
  return [...new Set(rooms.map((r) => r.game).filter(Boolean))].sort();
}

/** A roster entry's cells (`GET /api/rooms/{id}`'s `roster`, admin only). */
export const ROSTER_COLUMNS = ['player id', 'name', 'state'];

export function rosterCells(entry) {
  return [entry.player_id, entry.name, entry.connected ? 'connected' : 'held for a resume'];
}

/** The Authorization header of `token` (none without one). */
export function authHeaders(token) {
  const t = (token ?? '').trim();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

/**
 * A request as console.js sends it: `{method, path, headers, body}` (body a JSON string
 * or undefined). Paths are relative to the server's origin.
 */
function request(method, path, token, body) {
  const headers = authHeaders(token);
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return { method, path, headers, body: body === undefined ? undefined : JSON.stringify(body) };
}

const room = (id) => `/api/rooms/${encodeURIComponent(id)}`;

export const listNodesRequest = (token) => request('GET', '/api/nodes', token);
export const listRoomsRequest = (token) => request('GET', '/api/rooms', token);
/** With the admin token, the detail carries the room's roster. */
export const detailRequest = (id, token) => request('GET', room(id), token);
export const closeRequest = (id, token) => request('DELETE', room(id), token);
export const kickRequest = (id, playerId, token) => request('POST', `${room(id)}/kick`, token, { player_id: playerId });

/**
 * `POST /api/rooms` from the create form's fields (strings, as inputs give them): `id`
 * (optional: the server makes one up), `game` (optional: the server's default), `maxPlayers`
 * (optional) and `node` (empty: the least filled node). Throws on a field the server
 * would refuse anyway, so the operator sees why before a round trip.
 */
export function createRequest({ id = '', game = '', maxPlayers = '', node = '' }, token) {
  const spec = {};
  if (id.trim()) spec.id = id.trim();
  if (game.trim()) spec.game = game.trim();
  const seats = String(maxPlayers).trim();
  if (seats) {
    const n = Number(seats);
    if (!Number.isInteger(n) || n < 1) throw new Error(`max players: a whole number of at least 1 expected, not ${JSON.stringify(seats)}`);
    spec.max_players = n;
  }
  const query = node.trim() ? `?node=${encodeURIComponent(node.trim())}` : '';
  return request('POST', `/api/rooms${query}`, token, spec);
}

/**
 * What the operator reads of a failed request: the API's `{error, message}` (with the
 * field's range when a spec field was out of it), else the status.
 */
export function errorText(status, body) {
  if (body && typeof body === 'object' && typeof body.message === 'string') {
    const range = body.field ? ` (${body.field}: ${body.min ?? '?'}–${body.max ?? '?'})` : '';
    return `${body.message}${range} [${status} ${body.error ?? 'error'}]`;
  }
  return status ? `HTTP ${status}` : 'the server does not answer';
}

/** Whether a room detail came with its roster (it does for admin callers only). */
export function hasRoster(detail) {
  return Array.isArray(detail?.roster);
}
