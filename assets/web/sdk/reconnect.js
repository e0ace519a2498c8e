// What the client does after a session ends or a seat reservation fails: resume, join
// anew, go back to the lobby, or stop, with the reconnection backoff. Pure functions of
// the close code, the time and the grace period left (tested in net.test.mjs against the
// server's close-code table); the connection (net.js) carries the plans out.

import { CLOSE_REASONS } from './codec.js';

/** Reconnection delays: doubling from the first to the last, with ±25 % jitter. */
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10_000;

/**
 * Close codes after which connecting again may work (a dropped link, a server restart,
 * capacity). The others mean this client, its name or its room was refused: retrying the
 * same thing would fail the same way. 0 stands for a loss the client noticed itself (a
 * socket error, no Welcome in time, silence).
 */
const RETRYABLE = new Set([0, 1001, 1005, 1006, 1011, 1012, 1013, 1014, 4004, 4005, 4006, 4008]);
/** Join tokens that are no good any more: reserve the seat again. */
const NEW_TOKEN = new Set([4010, 4011]);
/** The room is not there (or not this one): back to the lobby. */
const TO_LOBBY = new Set([4012, 4013, 4016]);
/** Where the connection was, after a lost one, at least this much grace must be left. */
const RESUME_MARGIN_MS = 1000;
/** An operator removed the player: reconnecting by ourselves would undo the kick. */
const KICKED = 4017;
/** The player could not be taken back (PROTOCOL.md): join anew. */
const RESUME_REFUSED = 4014;
/** The server does not know the room (any more). */
const UNKNOWN_ROOM = 4013;

/** What to do after a session ended (see `planAfterClose`). */
export const Action = Object.freeze({
  /** Reconnect to the same room with the resume token, after `delayMs`. */
  RESUME: 'resume',
  /** Join the room anew (a fresh join token where the room came from the API), after `delayMs`. */
  JOIN: 'join',
  /** Back to the lobby with `why` (and refresh the room list). */
  LOBBY: 'lobby',
  /**
   * The room of the lost session is gone: list the rooms and join another of the same
   * game, or go back to the lobby (relocate.js's `planRelocation`).
   */
  RELOCATE: 'relocate',
  /** Stop here, do not reconnect by ourselves; show `why`. */
  STOP: 'stop',
});

/** The reconnection delay before attempt `attempt` (0-based): 0.5 s doubling to 10 s, ±25 %. */
export function backoffMs(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.75 + random() * 0.5));
}

/**
 * What to do after a session closed with `code` (0 for a loss the client noticed
 * itself). Pure, for the tests. `resumeToken`: the newest Welcome's; `lostAt`: when the
 * last connected session was lost (ms, null if it never connected); `graceS`: that
 * Welcome's `resume_grace_s`; `attempt`: reconnection attempts since the last Welcome;
 * `relocatable`: the room came from the rooms API and this connection had a session in
 * it (so another room can replace it if it is gone).
 *
 * Returns `{action, delayMs, why, dropResume, refresh, nameRefused, checkRoom}`:
 * - 1006, 4006, 4008 and the other retryable codes: resume while at least
 *   RESUME_MARGIN_MS of the grace is left, with the backoff capped so that the attempt
 *   happens inside it; otherwise (no token, grace over) join anew after the backoff.
 * - 4014 (resume failed): join anew at once.  4010/4011: a new join token, then retry.
 * - 1001 (server going away): resume tokens are void; join anew after the backoff.
 * - 4012/4013/4016: back to the lobby; but 4013 (the room is unknown) of a relocatable
 *   room: RELOCATE. 4016 (closed on purpose) stays the lobby.  4015: stop (the player
 *   plays elsewhere).
 * - 4017: stop (an operator removed the player; reconnecting would undo the kick).
 * - A lost connection (0, 1006) of a relocatable room also says `checkRoom`: ask the API
 *   whether the room still exists before retrying (its node may have died with it).
 * - 4003 and anything else: back to the lobby with the reason (retrying cannot help).
 */
export function planAfterClose({ code, reason = '', resumeToken = '', lostAt = null, now, graceS = 0, attempt = 0, random = Math.random, relocatable = false }) {
  const text = closeText(code, reason);
  const backoff = backoffMs(attempt, random);
  if (code === 4003) {
    return { action: Action.LOBBY, why: `The server refused the name: ${reason || 'invalid name'}`, nameRefused: true, dropResume: true };
  }
  if (code === 4015) {
    return { action: Action.STOP, why: 'This player is playing in another tab (or window): this one stopped.', dropResume: true };
  }
  if (code === KICKED) {
    return { action: Action.STOP, why: `An operator removed you from the room${reason ? `: ${reason}` : ''}.`, dropResume: true };
  }
  if (code === UNKNOWN_ROOM && relocatable) {
    return { action: Action.RELOCATE, why: text, dropResume: true };
  }
  if (TO_LOBBY.has(code)) {
    return { action: Action.LOBBY, why: `Disconnected: ${text}`, dropResume: true, refresh: true };
  }
  if (code === RESUME_REFUSED) {
    return { action: Action.JOIN, delayMs: 0, why: text, dropResume: true };
  }
  if (NEW_TOKEN.has(code)) {
    return { action: Action.JOIN, delayMs: attempt === 0 ? 0 : backoff, why: text, dropResume: true };
  }
  if (code === 1001) {
    return { action: Action.JOIN, delayMs: backoff, why: text, dropResume: true };
  }
  if (RETRYABLE.has(code)) {
    const left = resumeToken && lostAt !== null ? lostAt + graceS * 1000 - now : -Infinity;
    const checkRoom = relocatable && (code === 0 || code === 1006);
    if (left > RESUME_MARGIN_MS) {
      return { action: Action.RESUME, delayMs: Math.min(backoff, left - RESUME_MARGIN_MS), why: text, checkRoom };
    }
    return { action: Action.JOIN, delayMs: backoff, why: text, dropResume: Boolean(resumeToken), checkRoom };
  }
  return { action: Action.LOBBY, why: `Disconnected: ${text}`, dropResume: true };
}

/**
 * What to do when `POST /api/rooms/{id}/join` answered `status` (0: no answer at all).
 * 409: the room is full, back to the lobby; 404: the room is gone, back to the lobby
 * and refresh the list (or, `relocatable`: after a lost session in it, RELOCATE to
 * another room); 503 or no answer: retry after the backoff; anything else: lobby.
 */
export function planAfterReserve(status, attempt = 0, message = '', random = Math.random, relocatable = false) {
  if (status === 409) return { action: Action.LOBBY, why: 'Room full: pick another room or try again later.', refresh: true };
  if (status === 404 && relocatable) return { action: Action.RELOCATE, why: 'the room does not exist any more', dropResume: true };
  if (status === 404) return { action: Action.LOBBY, why: 'That room does not exist any more.', refresh: true };
  if (status === 0 || status === 429 || status >= 500) {
    return { action: Action.JOIN, delayMs: backoffMs(attempt, random), why: status ? `seat reservation: HTTP ${status}` : 'the server does not answer' };
  }
  return { action: Action.LOBBY, why: `Cannot join: HTTP ${status}${message ? ` (${message})` : ''}` };
}

/** A close code as people read it: "connection lost (1006)", plus the server's reason. */
export function closeText(code, reason) {
  const meaning = code === 0 ? 'connection lost' : CLOSE_REASONS[code] ?? 'closed';
  return `${meaning}${code ? ` (${code})` : ''}${reason ? `: ${reason}` : ''}`;
}
