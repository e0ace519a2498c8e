// End-to-end test of the web client in real headless Chromium: a server and three bots
// run on loopback, and the page reaches the server through the fault-injecting proxy
// (`fault-proxy`, bot_client::faults). It lists the rooms (rooms API), joins with a seat
// reservation, holds D, and the own player must move, a bot must be drawn, a lost
// connection (the page stops answering) and a reset one (the proxy sends RSTs) must be
// resumed as the same player, and the console must stay clean. Leaves a screenshot in
// target/test-output/web-e2e.png.
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
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN_DIR = resolve(ROOT, process.env.TICKWIRE_BIN_DIR ?? 'target/debug');
const CHROMIUM = process.env.TICKWIRE_CHROMIUM ?? '/usr/bin/chromium';
const WEB_DIR = resolve(ROOT, process.env.TICKWIRE_WEB_DIR ?? 'assets/web');
const OUT_DIR = join(ROOT, 'target/test-output');
const SCREENSHOT = join(OUT_DIR, 'web-e2e.png');
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
const LISTENING = /^Tickwire listening: web client at (https?):\/\/(\S+)\/ , WebSocket at wss?:\/\/\S+\/ws$/;
const HOLD_MS = 1500;

/** A child process whose output is kept (last lines, for failure messages) and drained. */
function start(name, args) {
  const bin = join(BIN_DIR, name);
  if (!existsSync(bin)) throw new Error(`${bin} not found: build it first (cargo build -p server -p bot-client)`);
  // Standard input is a pipe, for commands (the proxy's); the others ignore it.
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const proc = { name, child, lines: [], exited: null, waiters: [] };
  const onData = (chunk) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      proc.lines.push(line);
      if (proc.lines.length > 200) proc.lines.shift();
      for (const w of proc.waiters) w(line);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.on('exit', (code, signal) => {
    proc.exited = { code, signal };
  });
  return proc;
}

function tail(proc, n = 15) {
  return `--- ${proc.name} (last ${n} lines) ---\n${proc.lines.slice(-n).join('\n')}`;
}

/** Resolves with the first output line of `proc` matching `re`. */
function waitForLine(proc, re, timeoutMs) {
  return new Promise((resolveLine, reject) => {
    const seen = proc.lines.find((l) => re.test(l));
    if (seen) return resolveLine(seen.match(re));
    const timer = setTimeout(() => reject(new Error(`${proc.name}: no line matching ${re} within ${timeoutMs} ms\n${tail(proc)}`)), timeoutMs);
    proc.waiters.push((line) => {
      const m = line.match(re);
      if (m) {
        clearTimeout(timer);
        resolveLine(m);
      }
    });
    proc.child.on('exit', () => reject(new Error(`${proc.name} exited before printing ${re}\n${tail(proc)}`)));
  });
}

async function stop(proc) {
  if (proc.exited) return;
  const exited = new Promise((r) => proc.child.once('exit', r));
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** Polls `fn` (async) until it returns a truthy value; throws `what` after `timeoutMs`. */
async function until(fn, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('web client: join, move, see bots, no console errors', { timeout: 120_000 }, async (t) => {
  const started = Date.now();
  const procs = [];
  let context = null;
  let page = null;
  const userDataDir = mkdtempSync(join(tmpdir(), 'tickwire-chromium-'));
  mkdirSync(OUT_DIR, { recursive: true });
  t.after(async () => {
    if (page && !page.isClosed() && !t.passed) {
      await page.screenshot({ path: join(OUT_DIR, 'web-e2e-failure.png') }).catch(() => {});
    }
    await context?.close().catch(() => {});
    await Promise.all(procs.map(stop));
    rmSync(userDataDir, { recursive: true, force: true });
  });

  // An AOI larger than the 200 m arena puts every bot in view wherever it spawns.
  const server = start('server', ['--addr', '127.0.0.1:0', '--aoi-radius', '300', '--web-dir', WEB_DIR, '--seed', '7', '--stats-interval-s', '3600']);
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
  await until(() => page.evaluate(() => /^arena · map arena · \d+ Hz/.test(document.querySelector('#room-list .room-meta')?.textContent ?? '')), 'the room list from the API');
  const joins = [];
  page.on('request', (req) => {
    if (req.method() === 'POST' && /\/api\/rooms\/[^/]+\/join$/.test(req.url())) joins.push(req.url());
  });
  await page.fill('#name', 'e2e');
  await page.click('#join-button');

  const tw = (expr) => page.evaluate(expr);
  await until(() => tw(() => window.__tickwire.state === 'connected' && window.__tickwire.own), 'the own player');
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
    await page.setViewportSize({ width, height: 640 });
    const rects = await page.evaluate(() =>
      ['help', 'status', 'netgraph', 'scoreboard', 'killfeed'].map((id) => {
        const e = document.getElementById(id);
        const r = e.getBoundingClientRect();
        return { id, shown: !e.hidden && getComputedStyle(e).display !== 'none' && r.width > 0, left: r.left, right: r.right, top: r.top, bottom: r.bottom };
      }),
    );
    const shown = rects.filter((r) => r.shown);
    assert.ok(shown.some((r) => r.id === 'help') && shown.some((r) => r.id === 'netgraph'), `help and net graph shown at ${width} px`);
    for (let i = 0; i < shown.length; i++) {
      for (let j = i + 1; j < shown.length; j++) {
        const [a, b] = [shown[i], shown[j]];
        const apart = a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top;
        assert.ok(apart, `at ${width} px, #${a.id} ${JSON.stringify(a)} overlaps #${b.id} ${JSON.stringify(b)}`);
      }
    }
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

  assert.deepEqual(problems, [], 'no console errors, page errors or foreign requests');
  assert.equal(server.exited, null, `the server is still running\n${tail(server)}`);
  t.diagnostic(`screenshot: ${SCREENSHOT}`);
  t.diagnostic(`e2e took ${((Date.now() - started) / 1000).toFixed(1)} s; prediction: max correction ${(stats.predictionMaxErrorM * 100).toFixed(1)} cm, ${stats.predictionCorrections} corrections over 1 cm in ${stats.reconciles} snapshots, ${stats.skippedTicks} input ticks skipped`);
});
