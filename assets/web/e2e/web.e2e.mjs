// End-to-end test of the web client in real headless Chromium, playing both games: a
// server with an arena room (three bots in it) and a ball room runs on loopback, and the
// page reaches it through the fault-injecting proxy (`fault-proxy`, bot_client::faults).
// It lists the rooms with their games (rooms API), joins the arena with a seat
// reservation, holds D, and the own player must move, a bot must be drawn, a lost
// connection (the page stops answering) and a reset one (the proxy sends RSTs) must be
// resumed as the same player. Then it leaves for the ball room: the pitch, the ball and
// the score must show, the player must move, walk to the ball, carry it up the pitch and
// kick it into the goal, and the score must say so. The console must stay clean
// throughout. Leaves screenshots in target/test-output/web-e2e.png and web-e2e-ball.png.
//
// Run by .ci/test after the binaries are built (`cargo build -p server -p bot-client`):
//   npm ci --prefix assets/web/e2e && node --test assets/web/e2e/web.e2e.mjs
// Environment: TICKWIRE_BIN_DIR (default target/debug), TICKWIRE_CHROMIUM (default
// /usr/bin/chromium), TICKWIRE_WEB_DIR (default assets/web).
//
// Nothing waits a fixed time to synchronise: every wait polls a condition with a deadline.
// Every process is killed at the end, whatever happened.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { CHROMIUM, CHROMIUM_ARGS, LISTENING, OUT_DIR, ROOT, WEB_DIR, start, stop, tail, until, waitForLine } from './harness.mjs';

import { ARENA_SCHEMA } from '../games/arena/fixtures.mjs';
import { BALL_SCHEMA } from '../games/ball/fixtures.mjs';

const SCREENSHOT = join(OUT_DIR, 'web-e2e.png');
const BALL_SCREENSHOT = join(OUT_DIR, 'web-e2e-ball.png');
const PITCH = join(ROOT, 'assets/maps/pitch.json');
const HOLD_MS = 1500;

/**
 * Two rooms: the arena (the default room, where the bots go) and the ball game on the
 * pitch. Every other setting comes from the server's flags.
 */
function roomsFile(dir) {
  const path = join(dir, 'rooms.toml');
  writeFileSync(
    path,
    `[[room]]\nid = "arena"\nname = "Arena"\ndefault = true\n\n` +
      `[[room]]\nid = "ball"\nname = "Ball"\ngame = "ball"\nmap = ${JSON.stringify(PITCH)}\nmax_players = 10\n`,
  );
  return path;
}

/** Asserts that the HUD panels `ids` shown at `width` px do not overlap; returns the shown ones. */
async function checkNoOverlap(page, ids, width) {
  await page.setViewportSize({ width, height: 640 });
  const rects = await page.evaluate(
    (list) =>
      list.map((id) => {
        const e = document.getElementById(id);
        if (!e) return { id, shown: false };
        const r = e.getBoundingClientRect();
        return { id, shown: !e.hidden && getComputedStyle(e).display !== 'none' && r.width > 0, left: r.left, right: r.right, top: r.top, bottom: r.bottom };
      }),
    ids,
  );
  const shown = rects.filter((r) => r.shown);
  for (let i = 0; i < shown.length; i++) {
    for (let j = i + 1; j < shown.length; j++) {
      const [a, b] = [shown[i], shown[j]];
      const apart = a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top;
      assert.ok(apart, `at ${width} px, #${a.id} ${JSON.stringify(a)} overlaps #${b.id} ${JSON.stringify(b)}`);
    }
  }
  return shown.map((r) => r.id);
}

const MOVE_KEYS = { right: 'KeyD', left: 'KeyA', down: 'KeyS', up: 'KeyW' };

/**
 * Walks the own player towards `target()` (metres; re-read every step) with the movement
 * keys until `done()` says so, within `timeoutMs`. Keys are held and released as the
 * direction needs, the way a player would.
 */
async function walk(page, target, done, what, timeoutMs = 15_000) {
  const held = new Set();
  const hold = async (key, on) => {
    if (on && !held.has(key)) {
      held.add(key);
      await page.keyboard.down(key);
    } else if (!on && held.has(key)) {
      held.delete(key);
      await page.keyboard.up(key);
    }
  };
  const deadline = Date.now() + timeoutMs;
  let last = null;
  try {
    for (;;) {
      last = await page.evaluate(() => ({ own: window.__tickwire.own, view: window.__tickwire.view }));
      if (await done(last)) return last;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms walking to ${what} (last: ${JSON.stringify(last)})`);
      const t = target(last);
      const dx = t ? t.x - last.own.x : 0;
      const dy = t ? t.y - last.own.y : 0;
      await hold(MOVE_KEYS.right, dx > 0.3);
      await hold(MOVE_KEYS.left, dx < -0.3);
      await hold(MOVE_KEYS.down, dy > 0.3);
      await hold(MOVE_KEYS.up, dy < -0.3);
      await new Promise((r) => setTimeout(r, 40));
    }
  } finally {
    for (const key of [...held]) await hold(key, false);
  }
}

test('web client: both games: join, move, see bots, play the ball, no console errors', { timeout: 180_000 }, async (t) => {
  const started = Date.now();
  const procs = [];
  let context = null;
  let page = null;
  const userDataDir = mkdtempSync(join(tmpdir(), 'tickwire-chromium-'));
  const roomsDir = mkdtempSync(join(tmpdir(), 'tickwire-rooms-'));
  mkdirSync(OUT_DIR, { recursive: true });
  t.after(async () => {
    if (page && !page.isClosed() && !t.passed) {
      await page.screenshot({ path: join(OUT_DIR, 'web-e2e-failure.png') }).catch(() => {});
    }
    await context?.close().catch(() => {});
    await Promise.all(procs.map(stop));
    rmSync(userDataDir, { recursive: true, force: true });
    rmSync(roomsDir, { recursive: true, force: true });
  });

  // An AOI larger than the 200 m arena puts every bot in view wherever it spawns.
  const server = start('server', ['--addr', '127.0.0.1:0', '--aoi-radius', '300', '--web-dir', WEB_DIR, '--seed', '7', '--stats-interval-s', '3600', '--rooms', roomsFile(roomsDir)]);
  procs.push(server);
  const [, scheme, serverAddr] = await waitForLine(server, LISTENING, 20_000);
  // The bots connect directly; the page through the proxy, which can reset its
  // connections the way a lost network does (RST, no close frame).
  const proxy = start('fault-proxy', ['--upstream', serverAddr]);
  procs.push(proxy);
  const [, addr] = await waitForLine(proxy, /^listening on (\S+)$/, 10_000);
  const origin = `${scheme}://${addr}`;
  const wsOrigin = `${scheme === 'https' ? 'wss' : 'ws'}://${addr}`;

  const bots = start('bot-client', ['--url', `${scheme === 'https' ? 'wss' : 'ws'}://${serverAddr}/ws`, '--bots', '3', '--duration', '60', '--seed', '7']);
  procs.push(bots);

  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
  });
  page = context.pages()[0] ?? (await context.newPage());

  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error' && msg.type() !== 'warning') return;
    const url = msg.location().url ?? '';
    // Any error or warning fails the test (GET /api/rooms answers 200 now: no 404 to expect).
    problems.push(`console ${msg.type()}: ${msg.text()} (${url})`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.stack ?? err.message}`));
  page.on('request', (req) => {
    const url = req.url();
    if (!url.startsWith(`${origin}/`) && !url.startsWith(`${wsOrigin}/`) && !url.startsWith('data:')) {
      problems.push(`request outside the server's origin: ${url}`);
    }
  });
  page.on('websocket', (ws) => {
    if (!ws.url().startsWith(`${wsOrigin}/ws`)) problems.push(`WebSocket outside the server's origin: ${ws.url()}`);
  });

  await page.goto(`${origin}/`);
  await until(() => page.evaluate(() => document.querySelectorAll('#room-list input[type=radio]').length > 0), 'the room list');
  // The list comes from GET /api/rooms (rates and seats shown), not the fallback room.
  // The lobby shows each room's game, map and rates.
  const metas = () => page.evaluate(() => [...document.querySelectorAll('#room-list .room-meta')].map((e) => e.textContent));
  await until(async () => {
    const m = await metas();
    return m.some((t) => /^arena · map arena · \d+ Hz/.test(t)) && m.some((t) => /^ball · map pitch · \d+ Hz/.test(t));
  }, 'the room list from the API, with each room\'s game');
  await page.check('#room-list input[value="arena"]');
  const joins = [];
  page.on('request', (req) => {
    if (req.method() === 'POST' && /\/api\/rooms\/[^/]+\/join$/.test(req.url())) joins.push(req.url());
  });
  await page.fill('#name', 'e2e');
  await page.click('#join-button');

  const tw = (expr) => page.evaluate(expr);
  await until(() => tw(() => window.__tickwire.state === 'connected' && window.__tickwire.own), 'the own player');
  assert.equal(await tw(() => window.__tickwire.game), 'arena');
  // The schema the tests' fixtures model the arena with is the one the server sends.
  assert.deepEqual(await tw(() => window.__tickwire.schema), structuredClone(ARENA_SCHEMA));
  // Wait until the player stands still on the server (spawned, not yet moving).
  const before = await tw(() => window.__tickwire.own);

  await page.mouse.move(1000, 300);
  await page.keyboard.down('KeyD');
  // Holding the key is the action itself (about 1.5 s of movement), not a synchronisation.
  await page.waitForTimeout(HOLD_MS);
  const moving = await tw(() => window.__tickwire.own);
  await page.keyboard.up('KeyD');

  // Every spawn point has at least 4.5 m free to its right; 1.5 s at 6 m/s is 8 m.
  assert.ok(moving.x - before.x > 2, `the predicted player moved right: ${before.x} → ${moving.x}`);
  assert.ok(Math.abs(moving.y - before.y) < 0.5, 'and only right');
  // The server agrees (its position reaches the prediction once the inputs are applied).
  const settled = await until(async () => {
    const o = await tw(() => window.__tickwire.own);
    return o.serverX - before.serverX > 2 && Math.abs(o.serverX - o.x) < 0.05 ? o : null;
  }, 'the server position to catch up with the prediction');
  assert.ok(settled.serverX > before.serverX + 2);

  const seen = await until(async () => {
    const players = await tw(() => window.__tickwire.players);
    return players.filter((p) => p.name.startsWith('bot')).length >= 1 ? players : null;
  }, 'a bot in view');
  assert.ok(seen.some((p) => /^bot\d+$/.test(p.name)));

  const stats = await tw(() => window.__tickwire.stats);
  assert.ok(stats.snapshots > 20, `snapshots applied: ${stats.snapshots}`);
  assert.equal(stats.desyncs, 0, 'no checksum mismatches');
  assert.ok(stats.inputsSent > 60, `inputs sent: ${stats.inputsSent}`);
  // Prediction is not broken. How large the corrections are depends on how well this
  // machine keeps the page's timers on schedule (a tick sent late is applied a tick late),
  // so their size is reported below, not asserted; a broken prediction would drift by
  // metres over the 1.5 s walk (6 m/s) and trip this bound.
  assert.ok(stats.predictionMaxErrorM < 2, `largest prediction correction ${stats.predictionMaxErrorM} m: ${JSON.stringify(stats)}`);

  // The frame loop is alive and the HUD shows the room.
  const frames = await tw(() => window.__tickwire.frames);
  await until(async () => (await tw(() => window.__tickwire.frames)) > frames + 5, 'frames being drawn');
  const scoreRows = await page.locator('#score-list li').count();
  assert.ok(scoreRows >= 2, `scoreboard rows: ${scoreRows}`);
  assert.equal(joins.length, 1, `one seat reservation: ${joins}`);

  // A lost connection: the client stops answering on its socket without a close frame (a
  // close frame would tell the server the player left) and reconnects with its resume
  // token. The same player comes back where it was, and the banner says so.
  const ownId = await tw(() => window.__tickwire.ownId);
  const atLoss = await tw(() => window.__tickwire.own);
  await tw(() => window.__tickwire.simulateLoss());
  // `own` comes from a snapshot of the resumed session (the Welcome drops the old frame).
  const resumed = await until(
    () => tw(() => (window.__tickwire.resumes === 1 && window.__tickwire.state === 'connected' ? window.__tickwire.own : null)),
    'the resumed session',
    8000,
  );
  await until(() => page.evaluate(() => document.getElementById('banner-text').textContent === 'Resumed'), 'the "Resumed" banner', 3000);
  assert.equal(await tw(() => window.__tickwire.ownId), ownId, 'the same entity after the resume');
  assert.ok(Math.hypot(resumed.serverX - atLoss.serverX, resumed.serverY - atLoss.serverY) < 0.5, `resumed where it was: ${JSON.stringify(atLoss)} → ${JSON.stringify(resumed)}`);
  assert.equal(joins.length, 1, 'a resume needs no new seat reservation');

  // The network resets the connection (the proxy sends RSTs both ways): the client sees
  // a close without a close frame (1006) and resumes, the same player again.
  const beforeReset = await tw(() => window.__tickwire.own);
  const resetDone = waitForLine(proxy, /^reset (\d+)$/, 5000);
  proxy.child.stdin.write('reset\n');
  const [, resetCount] = await resetDone;
  assert.ok(Number(resetCount) >= 1, `the proxy reset the page's connections: ${resetCount}`);
  const afterReset = await until(
    () => tw(() => (window.__tickwire.resumes === 2 && window.__tickwire.state === 'connected' ? window.__tickwire.own : null)),
    'the session resumed after the reset',
    8000,
  );
  assert.equal(await tw(() => window.__tickwire.ownId), ownId, 'the same entity after the reset');
  assert.ok(Math.hypot(afterReset.serverX - beforeReset.serverX, afterReset.serverY - beforeReset.serverY) < 0.5, 'where it was');
  assert.equal(joins.length, 1, 'still no new seat reservation');

  await page.keyboard.press('KeyN');
  await until(() => page.isVisible('#netgraph'), 'the net graph');
  await page.screenshot({ path: SCREENSHOT });

  // The HUD's panels never cover each other, at any width it is shown at (a play-through
  // found the key help running over the health panel at 761–1110 px, and the net graph
  // covering its end).
  for (const width of [761, 820, 900, 1000, 1110, 1280, 1600]) {
    const shown = await checkNoOverlap(page, ['help', 'status', 'netgraph', 'scoreboard', 'killfeed'], width);
    assert.ok(shown.includes('help') && shown.includes('netgraph'), `help and net graph shown at ${width} px`);
  }
  // The score says points, and what the own player destroyed.
  assert.match(await page.textContent('#score-text'), /^\d+ points?$/);
  assert.match(await page.textContent('#kills-text'), /^\d+ players? · \d+ drones?$/);

  // The canvas follows the window.
  await page.setViewportSize({ width: 900, height: 640 });
  await until(
    () => page.evaluate(() => document.getElementById('view').width === Math.round(900 * devicePixelRatio)),
    'the canvas to follow the window size',
  );

  // ------------------------------------------------------------------- the ball game
  // Back to the lobby, and into the ball room: another game, through the same page.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.keyboard.press('Escape');
  await until(() => page.isVisible('#lobby'), 'the lobby');
  await until(() => page.evaluate(() => document.querySelectorAll('#room-list input[value="ball"]').length === 1), 'the ball room in the list');
  await page.check('#room-list input[value="ball"]');
  await page.click('#join-button');
  await until(() => tw(() => window.__tickwire.state === 'connected' && window.__tickwire.game === 'ball' && window.__tickwire.own), 'the own player on the pitch');
  assert.deepEqual(await tw(() => window.__tickwire.schema), structuredClone(BALL_SCHEMA), 'the ball schema the fixtures model');
  assert.equal(joins.length, 2, 'one seat reservation for the ball room');
  assert.equal(await page.locator('#scoreboard').count(), 0, 'the arena HUD is gone');
  // The ball, the match (scores, clock) and the own team.
  const ballStart = await until(async () => {
    const v = await tw(() => window.__tickwire.view);
    return v && v.ball && v.ball.x !== null && v.match && v.team !== null ? v : null;
  }, 'the ball and the match');
  assert.deepEqual(ballStart.match.score, [0, 0]);
  await until(() => page.evaluate(() => document.getElementById('match-score').textContent === '0 – 0'), 'the score on the HUD');
  assert.match(await page.textContent('#match-clock'), /^\d:\d\d$/);
  assert.match(await page.textContent('#ball-team'), /^(Blue|Orange) · attacking/);
  assert.match(await page.textContent('#help'), /kick/);

  // The player moves (predicted, and the server agrees).
  const onPitch = await tw(() => window.__tickwire.own);
  const dir = onPitch.x < 32 ? 'KeyD' : 'KeyA';
  await page.keyboard.down(dir);
  await page.waitForTimeout(800);
  await page.keyboard.up(dir);
  const moved = await until(async () => {
    const o = await tw(() => window.__tickwire.own);
    return Math.abs(o.serverX - onPitch.serverX) > 1.5 && Math.abs(o.serverX - o.x) < 0.05 ? o : null;
  }, 'the ball player to move on the server');
  assert.ok(Math.abs(moved.x - onPitch.x) > 1.5, `moved: ${onPitch.x} → ${moved.x}`);

  // Walk to the ball and take it by touching it.
  const ballPlayer = await tw(() => window.__tickwire.ownId);
  await walk(
    page,
    ({ view }) => (view.ball.x === null ? null : { x: view.ball.x, y: view.ball.y }),
    ({ view }) => view.ball && view.ball.holder === ballPlayer,
    'the ball',
  );
  // Carry it up the pitch towards the goal the own team attacks, then kick it in.
  const team = (await tw(() => window.__tickwire.view)).team;
  const goal = team === 0 ? { x: 63, y: 18 } : { x: 1, y: 18 };
  const spot = team === 0 ? { x: 46, y: 18 } : { x: 18, y: 18 };
  await walk(page, () => spot, ({ own }) => Math.abs(own.x - spot.x) < 0.6 && Math.abs(own.y - spot.y) < 0.6, 'the shooting spot');
  const at = await page.evaluate((g) => window.__tickwire.toScreen(g.x, g.y), goal);
  await page.mouse.move(at.x, at.y);
  await page.waitForTimeout(100);
  await page.mouse.down();
  await page.waitForTimeout(120);
  await page.mouse.up();
  const scored = await until(async () => {
    const v = await tw(() => window.__tickwire.view);
    return v.match && v.match.score[team] === 1 ? v : null;
  }, 'the goal', 10_000);
  assert.equal(scored.match.scorer, ballPlayer, 'credited to the own player');
  await until(() => page.evaluate((t) => document.getElementById('match-score').textContent === (t === 0 ? '1 – 0' : '0 – 1'), team), 'the new score on the HUD');
  await until(() => page.isVisible('#goal-card'), 'the goal card');
  await page.screenshot({ path: BALL_SCREENSHOT });
  for (const width of [761, 900, 1280, 1600]) {
    const shown = await checkNoOverlap(page, ['help', 'ball-status', 'netgraph', 'match', 'goal-card'], width);
    assert.ok(shown.includes('match') && shown.includes('ball-status'), `the match and status panels shown at ${width} px`);
  }
  const ballStats = await tw(() => window.__tickwire.stats);
  assert.equal(ballStats.desyncs, 0, 'no checksum mismatches in the ball room');
  assert.ok(ballStats.predictionMaxErrorM < 2, `ball prediction: ${JSON.stringify(ballStats)}`);

  assert.deepEqual(problems, [], 'no console errors, page errors or foreign requests');
  assert.equal(server.exited, null, `the server is still running\n${tail(server)}`);
  t.diagnostic(`screenshots: ${SCREENSHOT}, ${BALL_SCREENSHOT}`);
  t.diagnostic(`e2e took ${((Date.now() - started) / 1000).toFixed(1)} s; prediction: max correction ${(stats.predictionMaxErrorM * 100).toFixed(1)} cm, ${stats.predictionCorrections} corrections over 1 cm in ${stats.reconciles} snapshots, ${stats.skippedTicks} input ticks skipped`);
});
