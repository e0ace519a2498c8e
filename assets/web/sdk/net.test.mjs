// Reconnection decisions (close codes, grace period, seat reservation answers) as pure
// functions, then the Connection against a real server: join through the rooms API, a
// lost connection resumed (same entity), and a refused resume (4014) followed by a
// fresh join. The real-server tests need target/debug/server (cargo build -p server)
// and a WebSocket (Node 22, or Node 20 with --experimental-websocket: this file then
// runs itself again with that flag); they are skipped without the binary.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CLOSE_REASONS } from './codec.js';
import {
  Action,
  Connection,
  State,
  backoffMs,
  closeText,
  fetchRoomList,
  fetchRoomStatus,
  planAfterClose,
  planAfterReserve,
  reserveSeat,
} from './net.js';

const HERE = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(HERE), '../../..');
const SERVER = join(resolve(ROOT, process.env.TICKWIRE_BIN_DIR ?? 'target/debug'), 'server');

// The close-code table is shared::protocol::close::TABLE (PROTOCOL.md's "Close codes"),
// written to testdata/close_codes.json by shared/tests/close_codes.rs.
const CLOSE_TABLE = JSON.parse(readFileSync(join(dirname(HERE), '../testdata/close_codes.json'), 'utf8')).codes;

test('the client has a text for exactly the close codes of the table', () => {
  const ours = Object.keys(CLOSE_REASONS).map(Number).sort((a, b) => a - b);
  const table = CLOSE_TABLE.map((c) => c.code).sort((a, b) => a - b);
  assert.deepEqual(ours, table);
});

test('after each close code the client does what the table says', () => {
  const now = 100_000;
  const withToken = { resumeToken: 't', lostAt: now - 100, now, graceS: 30, attempt: 1, random: () => 0.5 };
  const noToken = { now, attempt: 1, random: () => 0.5 };
  for (const { code, after } of CLOSE_TABLE) {
    const held = planAfterClose({ code, ...withToken });
    const fresh = planAfterClose({ code, ...noToken });
    const what = `${code} (${after}): ${JSON.stringify(held)}`;
    switch (after) {
      case 'retry':
        assert.equal(held.action, Action.RESUME, what);
        assert.ok(held.delayMs > 0, what);
        assert.equal(fresh.action, Action.JOIN, what);
        break;
      case 'rejoin':
        assert.equal(held.action, Action.JOIN, what);
        assert.ok(held.delayMs > 0 && held.dropResume, what);
        break;
      case 'rejoin_now':
        assert.equal(held.action, Action.JOIN, what);
        assert.ok(held.delayMs === 0 && held.dropResume, what);
        break;
      case 'new_token':
        assert.equal(held.action, Action.JOIN, what);
        assert.ok(held.dropResume, what);
        break;
      case 'lobby':
        assert.equal(held.action, Action.LOBBY, what);
        assert.ok(held.refresh && held.dropResume, what);
        break;
      case 'stop':
        assert.equal(held.action, Action.STOP, what);
        break;
      case 'give_up':
      case 'done':
        assert.equal(held.action, Action.LOBBY, what);
        assert.ok(!held.refresh && held.dropResume, what);
        break;
      default:
        assert.fail(`unknown "after" in close_codes.json: ${what}`);
    }
  }
});

const mid = () => 0.5; // no jitter
const T0 = 100_000;
const base = { resumeToken: 'tok', lostAt: T0, now: T0, graceS: 15, attempt: 0, random: mid };

test('backoff doubles from 0.5 s to 10 s, with jitter of ±25 %', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 20].map((a) => backoffMs(a, mid)), [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  assert.equal(backoffMs(0, () => 0), 375);
  assert.equal(backoffMs(0, () => 1), 625);
});

test('a lost connection is resumed within the grace period', () => {
  for (const code of [1006, 4006, 4008, 0, 1005, 1011, 1013, 4005]) {
    const p = planAfterClose({ ...base, code });
    assert.equal(p.action, Action.RESUME, `code ${code}`);
    assert.equal(p.delayMs, 500);
    assert.ok(!p.dropResume);
  }
});

test('resume attempts are capped to happen inside the grace period', () => {
  // 10 s into 15 s of grace with a 10 s backoff: the attempt comes 1 s before the end.
  const p = planAfterClose({ ...base, code: 1006, now: T0 + 10_000, attempt: 6 });
  assert.equal(p.action, Action.RESUME);
  assert.equal(p.delayMs, 4000);
  // Less than the margin left, or past the grace: a fresh join, the token dropped.
  for (const now of [T0 + 14_200, T0 + 15_000, T0 + 60_000]) {
    const q = planAfterClose({ ...base, code: 1006, now, attempt: 2 });
    assert.equal(q.action, Action.JOIN, `at ${now - T0} ms`);
    assert.equal(q.delayMs, 2000);
    assert.ok(q.dropResume);
  }
});

test('without a resume token or a connected session, a loss is a fresh join after the backoff', () => {
  assert.equal(planAfterClose({ ...base, code: 1006, resumeToken: '' }).action, Action.JOIN);
  const never = planAfterClose({ ...base, code: 1006, lostAt: null, attempt: 1 });
  assert.equal(never.action, Action.JOIN);
  assert.equal(never.delayMs, 1000);
  assert.equal(planAfterClose({ ...base, code: 4004, resumeToken: '' }).action, Action.JOIN);
});

test('4014 (resume failed): a fresh join at once', () => {
  const p = planAfterClose({ ...base, code: 4014, attempt: 3 });
  assert.deepEqual([p.action, p.delayMs, p.dropResume], [Action.JOIN, 0, true]);
});

test('4010/4011 (join token expired, reused): a new token, then retry', () => {
  for (const code of [4010, 4011]) {
    assert.equal(planAfterClose({ ...base, code }).delayMs, 0);
    const again = planAfterClose({ ...base, code, attempt: 2 });
    assert.deepEqual([again.action, again.delayMs], [Action.JOIN, 2000]);
  }
});

test('1001 (server going away): resume tokens are void, a fresh join after the backoff', () => {
  const p = planAfterClose({ ...base, code: 1001 });
  assert.deepEqual([p.action, p.delayMs, p.dropResume], [Action.JOIN, 500, true]);
});

test('4012/4013/4016: back to the lobby with the reason, the list refreshed', () => {
  for (const code of [4012, 4013, 4016]) {
    const p = planAfterClose({ ...base, code, reason: 'why not' });
    assert.equal(p.action, Action.LOBBY);
    assert.ok(p.refresh);
    assert.match(p.why, new RegExp(`\\(${code}\\): why not$`));
  }
  assert.match(planAfterClose({ ...base, code: 4016 }).why, /room closed/);
});

test('4015 (replaced): stop, no reconnection, the other tab named', () => {
  const p = planAfterClose({ ...base, code: 4015 });
  assert.equal(p.action, Action.STOP);
  assert.match(p.why, /playing in another tab/);
});

test('4017 (kicked): stop, no reconnection, the resume token dropped', () => {
  const p = planAfterClose({ ...base, code: 4017, reason: 'kicked by the operator' });
  assert.equal(p.action, Action.STOP);
  assert.ok(p.dropResume);
  assert.match(p.why, /operator removed you/);
  assert.equal(closeText(4017, ''), 'kicked by the operator (4017)');
});

test('refusals retrying cannot fix go back to the lobby', () => {
  const name = planAfterClose({ ...base, code: 4003, reason: 'too long' });
  assert.deepEqual([name.action, name.nameRefused], [Action.LOBBY, true]);
  for (const code of [1000, 1002, 1003, 1008, 1009, 4000, 4001, 4002, 4007, 4009]) {
    assert.equal(planAfterClose({ ...base, code }).action, Action.LOBBY, `code ${code}`);
  }
});

test('seat reservation answers: 409 room full, 404 refresh, 503 or no answer retried', () => {
  const full = planAfterReserve(409);
  assert.equal(full.action, Action.LOBBY);
  assert.match(full.why, /Room full/);
  const gone = planAfterReserve(404);
  assert.deepEqual([gone.action, gone.refresh], [Action.LOBBY, true]);
  for (const status of [0, 429, 503]) assert.equal(planAfterReserve(status, 1, '', mid).delayMs, 1000);
  assert.equal(planAfterReserve(400, 0, 'bad').action, Action.LOBBY);
});

test('after a session in an API room: 4013 or a 404 reservation means another room; 4016 the lobby', () => {
  const relocatable = { ...base, relocatable: true };
  const unknown = planAfterClose({ ...relocatable, code: 4013 });
  assert.deepEqual([unknown.action, unknown.dropResume], [Action.RELOCATE, true]);
  assert.equal(planAfterClose({ ...relocatable, code: 4016 }).action, Action.LOBBY, 'closed on purpose');
  assert.equal(planAfterClose({ ...relocatable, code: 4012 }).action, Action.LOBBY);
  assert.equal(planAfterReserve(404, 0, '', mid, true).action, Action.RELOCATE);
  assert.equal(planAfterReserve(409, 0, '', mid, true).action, Action.LOBBY);
  // A lost connection resumes as before, after asking the API whether the room is still there.
  const lost = planAfterClose({ ...relocatable, code: 1006 });
  assert.deepEqual([lost.action, lost.checkRoom], [Action.RESUME, true]);
  assert.equal(planAfterClose({ ...relocatable, code: 0, resumeToken: '' }).checkRoom, true);
  assert.ok(!planAfterClose({ ...relocatable, code: 4006 }).checkRoom, 'closed by a live server');
  assert.ok(!planAfterClose({ ...base, code: 1006 }).checkRoom, 'not an API room, or no session yet');
});

test('reserveSeat: POSTs to the room and reads {token, url} or the error', async () => {
  const calls = [];
  const ok = await reserveSeat('a b', async (url, init) => {
    calls.push([url, init.method]);
    return { ok: true, status: 200, json: async () => ({ token: 't', url: 'ws://h/ws?room=a%20b', room: 'a b' }) };
  });
  assert.deepEqual(ok, { ok: true, token: 't', url: 'ws://h/ws?room=a%20b' });
  assert.deepEqual(calls, [['/api/rooms/a%20b/join', 'POST']]);
  const full = await reserveSeat('x', async () => ({ ok: false, status: 409, json: async () => ({ error: 'room_full', message: 'full' }) }));
  assert.deepEqual(full, { ok: false, status: 409, message: 'full' });
  const down = await reserveSeat('x', async () => {
    throw new Error('refused');
  });
  assert.equal(down.status, 0);
});

test('close texts', () => {
  assert.equal(closeText(1006, ''), 'connection lost (1006)');
  assert.equal(closeText(0, 'nothing received for 5 s'), 'connection lost: nothing received for 5 s');
  assert.equal(closeText(4015, 'taken over'), 'replaced by another session of this player (4015): taken over');
});

// ---------------------------------------------------------------- against a real server

const needsFlag = typeof globalThis.WebSocket !== 'function';

/**
 * Node 20: WebSocket is behind a flag. Runs the tests of this file matching `pattern`
 * again with it, and fails unless they pass. The child must not inherit the runner's
 * NODE_TEST_CONTEXT: with it, it reports to a parent that is not listening and exits 0
 * whatever its tests did.
 */
function runWithWebSocketFlag(pattern) {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, ['--experimental-websocket', '--no-warnings', '--test', '--test-name-pattern', pattern, HERE], { encoding: 'utf8', timeout: 55_000, env });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /# pass [1-9]/, `no test ran:\n${r.stdout}`);
}

test('Connection against a real server: join, resume, refused resume', { skip: !existsSync(SERVER) && 'no target/debug/server', timeout: 60_000 }, async (t) => {
  if (needsFlag) {
    // Node 20: WebSocket is behind a flag. Run this file again with it.
    runWithWebSocketFlag('real server');
    return;
  }
  const server = spawn(SERVER, ['--addr', '127.0.0.1:0', '--drones', '0', '--seed', '3', '--stats-interval-s', '3600'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => server.kill('SIGKILL'));
  const origin = await new Promise((resolveOrigin, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${out}`)), 20_000);
    const onData = (chunk) => {
      out += chunk;
      const m = out.match(/web client at (http:\/\/\S+?)\/ /);
      if (m) {
        clearTimeout(timer);
        resolveOrigin(m[1]);
      }
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.on('exit', () => reject(new Error(`server exited:\n${out}`)));
  });
  const rooms = await (await fetch(`${origin}/api/rooms`)).json();
  assert.ok(rooms.length >= 1, 'the server lists its room');
  const room = { ...rooms[0], api: true };

  const welcomes = [];
  const states = [];
  const reservations = [];
  const conn = new Connection({
    room,
    name: 'resumer',
    wsUrl: (id) => `${origin.replace('http', 'ws')}/ws${id ? `?room=${id}` : ''}`,
    reserve: (id) => {
      reservations.push(id);
      return reserveSeat(id, (path, init) => fetch(origin + path, init));
    },
    sampleInput: () => ({ moveX: 127, moveY: 0, aim: 0, aimRad: 0, buttons: 0 }),
    handlers: {
      onWelcome: (w) => welcomes.push(w),
      onState: (s, info) => states.push([s, info]),
    },
  });
  t.after(() => conn.stop());
  const until = async (what, fn, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (!fn()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(states.map(([s, i]) => [s, i.why ?? '']))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  conn.start();
  await until('the Welcome', () => welcomes.length === 1 && conn.view.tick > 0);
  const first = welcomes[0];
  assert.deepEqual(reservations, [room.id], 'joined with a seat reservation');
  assert.equal(first.resumed, false);
  assert.equal(first.room, room.id);
  assert.equal(conn.view.layout.schema.game, first.schema.game, 'the view decodes through the Welcome schema');
  assert.ok(first.resume_token && first.resume_grace_s > 0);

  // A link that dies without a close frame: the same player back, from a keyframe.
  await until('some movement', () => conn.seq > 10);
  conn.simulateLoss();
  await until('the resumed Welcome', () => welcomes.length === 2 && conn.state === State.CONNECTED && conn.view.tick > 0);
  const second = welcomes[1];
  assert.equal(second.resumed, true);
  assert.equal(second.entity, first.entity);
  assert.equal(second.player, first.player);
  assert.notEqual(second.resume_token, first.resume_token, 'a new token each Welcome');
  assert.deepEqual(reservations, [room.id], 'a resume needs no reservation');
  assert.equal(conn.resumes, 1);
  assert.ok(states.some(([s, i]) => s === State.CONNECTED && i.resumed));
  assert.equal(conn.orphans.size, 0, 'the old socket is closed');

  // A resume the server refuses (4014: an old token): a fresh join through the API.
  conn.resumeToken = first.resume_token;
  conn.simulateLoss();
  await until('the fresh Welcome', () => welcomes.length === 3 && conn.state === State.CONNECTED);
  assert.equal(welcomes[2].resumed, false);
  assert.deepEqual(reservations, [room.id, room.id], 'a new seat reservation');
  assert.ok(states.some(([s, i]) => s === State.RETRYING && i.resuming));
});

/** Starts target/debug/server with `args` (killed after the test); resolves to its origin. */
async function startServer(t, args) {
  const server = spawn(SERVER, ['--addr', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => server.kill('SIGKILL'));
  return new Promise((resolveOrigin, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${out}`)), 20_000);
    const onData = (chunk) => {
      out += chunk;
      const m = out.match(/web client at (http:\/\/\S+?)\/ /);
      if (m) {
        clearTimeout(timer);
        resolveOrigin(m[1]);
      }
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.on('exit', () => reject(new Error(`server exited:\n${out}`)));
  });
}

test('Connection against a live server: a room gone after a lost connection is replaced', { skip: !existsSync(SERVER) && 'no target/debug/server', timeout: 60_000 }, async (t) => {
  if (needsFlag) {
    runWithWebSocketFlag('live server');
    return;
  }
  const origin = await startServer(t, ['--drones', '0', '--seed', '3', '--stats-interval-s', '3600']);
  const api = (path, init) => fetch(origin + path, init);
  // Two rooms of the ball game (the default room plays the arena).
  for (const id of ['doomed', 'refuge']) {
    const res = await api('/api/rooms', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id, game: 'ball' }) });
    assert.equal(res.status, 201, `create ${id}`);
  }
  const listed = await (await api('/api/rooms')).json();
  const doomed = { ...listed.find((r) => r.id === 'doomed'), api: true };

  const welcomes = [];
  const states = [];
  const moves = [];
  const conn = new Connection({
    room: doomed,
    name: 'mover',
    wsUrl: (id) => `${origin.replace('http', 'ws')}/ws${id ? `?room=${id}` : ''}`,
    reserve: (id) => reserveSeat(id, api),
    listRooms: () => fetchRoomList(api),
    roomStatus: (id) => fetchRoomStatus(id, api),
    sampleInput: () => ({ moveX: 0, moveY: 0, aim: 0, aimRad: 0, buttons: 0 }),
    handlers: {
      onWelcome: (w) => welcomes.push(w),
      onState: (s, info) => states.push([s, info]),
      onRelocated: (from, to, why) => moves.push([from.id, to.id, why]),
    },
  });
  t.after(() => conn.stop());
  const until = async (what, fn, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (!fn()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(states.map(([s, i]) => [s, i.why ?? '']))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  conn.start();
  await until('the Welcome', () => welcomes.length === 1 && conn.state === State.CONNECTED);
  assert.equal(welcomes[0].room, 'doomed');
  // The link dies, and the room is deleted before the client is back: its resume meets
  // 4013 (or the API already answers 404 for the room).
  conn.simulateLoss();
  assert.equal((await api('/api/rooms/doomed', { method: 'DELETE' })).status, 204);
  await until('the Welcome of the other room', () => welcomes.length === 2 && conn.state === State.CONNECTED);
  assert.equal(welcomes[1].room, 'refuge');
  assert.equal(welcomes[1].resumed, false);
  const refuge = listed.find((r) => r.id === 'refuge');
  assert.deepEqual(moves, [['doomed', 'refuge', `Room ${doomed.name} is gone; joined ${refuge.name}.`]]);
  assert.equal(conn.relocations, 1);
  assert.equal(conn.room.id, 'refuge');
});
