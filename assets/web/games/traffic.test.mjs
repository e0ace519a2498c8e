// Each game module on its game's real traffic: testdata/games.json (written by
// server/src/room/golden.rs: a room of the game with two players moving, aiming and
// pressing the game's button, and the snapshots one of them read). The Welcome's schema
// must be the one the game's tests model (fixtures.mjs), its entities must read as the
// game's records, and the own player's prediction, fed the inputs the server applied,
// must land where the server put it (to the wire's quantisation): the shared movement
// rules are the game's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { ClientView, Layout, decodeServerMessage } from '../sdk/codec.js';
import { Session } from '../sdk/session.js';
import { ARENA_SCHEMA } from './arena/fixtures.mjs';
import { BALL_SCHEMA } from './ball/fixtures.mjs';
import { GAMES } from './index.js';

const URL_ = new URL('../testdata/games.json', import.meta.url);
const FIXTURES = { arena: ARENA_SCHEMA, ball: BALL_SCHEMA };
const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));

/** The inputs golden.rs sends for player `a` at tick `t` (seq t), with the game's button bits. */
function inputAt(t, buttons) {
  return { moveX: 90, moveY: t % 40 < 20 ? 60 : -60, aim: (t * 977) & 0xffff, buttons: t % 9 === 0 ? buttons : 0 };
}

/** Plays a recorded game into a session of its module: returns the session and its last frame. */
function play(g) {
  const welcome = decodeServerMessage(fromHex(g.welcome));
  const game = GAMES[welcome.schema.game];
  const view = new ClientView(new Layout(welcome.schema));
  const session = new Session(welcome, view, game);
  const tickMs = 1000 / welcome.tick_rate;
  let fed = 0;
  let frame = null;
  for (const hex of g.snapshots) {
    const msg = decodeServerMessage(fromHex(hex));
    if (msg.type === 'FullSnapshot') view.applyFull(msg);
    else view.apply(msg, welcome.tick_rate, welcome.packing);
    // The inputs the server applied up to this snapshot, sent one per tick before it.
    while (fed < msg.last_input_seq) {
      fed++;
      session.onInput(fed, inputAt(fed, game.controls.buttons({ primary: true, isDown: () => true })), (fed - 1) * tickMs);
    }
    session.onSnapshot(msg.tick, view.entities, msg.last_input_seq, msg.tick * tickMs);
    frame = session.frame(msg.tick * tickMs + 120);
  }
  return { welcome, session, frame };
}

test('every game of games.json has a module whose schema and records fit its traffic', () => {
  const { games } = JSON.parse(readFileSync(URL_, 'utf8'));
  const seen = new Set();
  for (const g of games) {
    const { welcome, session, frame } = play(g);
    const name = welcome.schema.game;
    seen.add(name);
    assert.deepEqual(welcome.schema, FIXTURES[name], `${name}: the schema the fixtures model`);
    assert.deepEqual(session.model.schema.missing, [], `${name}: every field the module reads`);
    assert.ok(frame.own, `${name}: the own player is drawn`);
    assert.ok(Number.isFinite(frame.own.x) && Number.isFinite(frame.own.serverX), name);
    const p = session.predictor;
    assert.ok(p.reconciles >= 10, `${name}: ${p.reconciles} reconciles`);
    assert.equal(p.snaps, 0, `${name}: no jumps`);
    assert.ok(p.maxError < 0.05, `${name}: prediction off by ${p.maxError} m (more than quantisation)`);
    for (const e of frame.entities) assert.ok(typeof e.kind === 'string' && Number.isFinite(e.x), `${name}: entity ${e.id} drawn`);
    // What else is in view depends on where the recording's room put things (its area
    // of interest is smaller than its map): only what every recording has is checked.
    if (name === 'arena') {
      assert.ok(frame.entities.every((e) => ['Player', 'Drone', 'Projectile'].includes(e.kind)), 'arena: its kinds only');
      assert.ok(frame.entities.some((e) => e.kind !== 'Player'), 'arena: drones or shots in view');
    } else if (name === 'ball') {
      assert.ok(frame.match, 'ball: the match (a global entity: always in view)');
      assert.equal(frame.match.score.length, 2);
      assert.ok(frame.clock.left > 0, 'ball: the clock runs');
      assert.ok([0, 1].includes(frame.own.team), 'ball: the own team');
    }
  }
  assert.deepEqual([...seen].sort(), Object.keys(GAMES).sort(), 'games.json has every game this client plays');
});
