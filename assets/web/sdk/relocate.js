// When the room of a lost session is gone (a node of a cluster died with it, or it was
// deleted while the connection was down) and where to go instead: pure functions of the
// close code, what the rooms API answered and the room list (tested in
// relocate.test.mjs). The connection (net.js) carries the plans out.

import { backoffMs } from './reconnect.js';

/** What to do once the room is known gone (see `planRelocation`). */
export const Move = Object.freeze({
  /** Join `room` (with a seat reservation) at once. */
  JOIN: 'join',
  /** The room list could not be had: ask again after `delayMs`. */
  RETRY: 'retry',
  /** No room of the game has a seat: back to the lobby with `why`. */
  LOBBY: 'lobby',
});

/**
 * Free seats of a listed room: `max_players` less its players, the players held for a
 * resume and the seats reserved. Infinity when the listing does not say (an old server).
 */
export function freeSeats(room) {
  if (typeof room?.max_players !== 'number' || typeof room?.players !== 'number') return Infinity;
  return room.max_players - room.players - (room.held ?? 0) - (room.reserved ?? 0);
}

/**
 * Whether the room of a lost session is gone, after an attempt to get it back ended with
 * `code` (0: a loss the client noticed itself) and `GET /api/rooms/{id}` answered
 * `roomStatus` (null: not asked). 4013 (unknown room) says so; an unreachable node (a
 * lost connection: 0, 1006) does when the API has no such room (404). 503 (the
 * cluster's directory is down) or no answer says nothing: keep trying.
 */
export function roomGone({ code, roomStatus = null }) {
  if (code === 4013) return true;
  return (code === 0 || code === 1006) && roomStatus === 404;
}

/**
 * The room to join instead of the one gone (`gone`: its id): a listed room of `game`
 * with a free seat, the one with the most (the first listed on a tie), so that players
 * displaced together spread out as the rooms fill. null when none has a seat.
 */
export function pickRoom(rooms, { game, gone }) {
  let best = null;
  for (const room of Array.isArray(rooms) ? rooms : []) {
    if (!room || typeof room.id !== 'string' || room.id === gone) continue;
    if (game && room.game !== game) continue;
    const free = freeSeats(room);
    if (free <= 0) continue;
    if (!best || free > freeSeats(best)) best = room;
  }
  return best;
}

/**
 * What to do when the room `gone` ({id, name}) of a game is gone, from `GET /api/rooms`:
 * `status` (0: no answer) and `rooms` (its list). Returns `{move, room, why, delayMs}`:
 * - a room of the same game with a seat: JOIN it, `why` saying so ("Room X is gone;
 *   joined Y.");
 * - none: LOBBY, saying the room is gone;
 * - no list (no answer, 429, 5xx): RETRY after the backoff of attempt `attempt`;
 * - any other answer: LOBBY.
 */
export function planRelocation({ status, rooms = [], game = '', gone, attempt = 0, random = Math.random }) {
  const was = gone?.name || gone?.id || 'this room';
  if (status === 0 || status === 429 || status >= 500) {
    return { move: Move.RETRY, delayMs: backoffMs(attempt, random), why: `Room ${was} is gone; looking for another (room list: ${status ? `HTTP ${status}` : 'no answer'}).` };
  }
  if (status < 200 || status >= 300) {
    return { move: Move.LOBBY, why: `Room ${was} is gone (room list: HTTP ${status}).` };
  }
  const room = pickRoom(rooms, { game, gone: gone?.id });
  if (!room) {
    return { move: Move.LOBBY, why: `Room ${was} is gone, and no other room${game ? ` of ${game}` : ''} has a free seat.` };
  }
  return { move: Move.JOIN, room, why: `Room ${was} is gone; joined ${room.name || room.id}.` };
}
