// End-to-end test of the operator console (/console) in real headless Chromium: a
// server with an admin token runs on loopback; the page is opened at /console (no
// trailing slash), given the token, and must show the node and the default room. It
// creates a room through the form, a bot joins it (bot-client --api --room), the
// roster shows the bot, a kick removes it (its session closed with 4017, the seat
// freed), an API error (an id taken) is shown to the operator, and closing the room
// removes it from the table. The browser console must stay clean throughout. Leaves a
// screenshot in target/test-output/console-e2e.png.
//
// Run by .ci/test after the binaries are built (`cargo build -p server -p bot-client`):
//   npm ci --prefix assets/web/e2e && node --test assets/web/e2e/console.e2e.mjs
// Environment: TICKWIRE_BIN_DIR (default target/debug), TICKWIRE_CHROMIUM (default
// /usr/bin/chromium), TICKWIRE_WEB_DIR (default assets/web).
//
// Nothing waits a fixed time to synchronise: every wait polls a condition with a deadline.
// Every process is killed at the end, whatever happened.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { CHROMIUM, CHROMIUM_ARGS, LISTENING, OUT_DIR, WEB_DIR, start, stop, tail, until, waitForLine } from './harness.mjs';

const SCREENSHOT = join(OUT_DIR, 'console-e2e.png');
const TOKEN = 'console-e2e-admin-token';
const ROOM = 'e2e-room';
const BOT = 'kickme1';

/** The cells' text of each row of the table body `selector`, by the row's key. */
function rows(page, selector) {
  return page.evaluate(
    (sel) => Object.fromEntries([...document.querySelectorAll(`${sel} tr`)].map((tr) => [tr.dataset.key, [...tr.cells].map((td) => td.textContent)])),
    selector,
  );
}

/** A value of the server's Prometheus text (`name` with its labels), 0 when absent. */
async function metric(origin, name) {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

test('operator console: nodes and rooms, create a room, kick a player, close the room', { timeout: 120_000 }, async (t) => {
  const started = Date.now();
  const procs = [];
  let context = null;
  let page = null;
  const userDataDir = mkdtempSync(join(tmpdir(), 'tickwire-chromium-'));
  mkdirSync(OUT_DIR, { recursive: true });
  t.after(async () => {
    if (page && !page.isClosed() && !t.passed) {
      await page.screenshot({ path: join(OUT_DIR, 'console-e2e-failure.png') }).catch(() => {});
    }
    await context?.close().catch(() => {});
    await Promise.all(procs.map(stop));
    rmSync(userDataDir, { recursive: true, force: true });
  });

  const server = start('server', ['--addr', '127.0.0.1:0', '--web-dir', WEB_DIR, '--admin-token', TOKEN, '--seed', '7', '--drones', '2', '--stats-interval-s', '1']);
  procs.push(server);
  const [, scheme, addr] = await waitForLine(server, LISTENING, 20_000);
  const origin = `${scheme}://${addr}`;
  const [node] = await (await fetch(`${origin}/api/nodes`)).json();
  assert.ok(node?.id, 'GET /api/nodes names this node');

  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());

  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()} (${msg.location().url ?? ''})`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.stack ?? err.message}`));
  page.on('request', (req) => {
    if (!req.url().startsWith(`${origin}/`) && !req.url().startsWith('data:')) problems.push(`request outside the server's origin: ${req.url()}`);
  });
  // Closing a room and kicking a player ask for a confirmation: the operator confirms.
  const dialogs = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    dialog.accept();
  });

  // /console without its slash reaches the page (ServeDir redirects to the directory).
  await page.goto(`${origin}/console`);
  assert.equal(new URL(page.url()).pathname, '/console/');
  assert.equal(await page.title(), 'Tickwire console');

  await page.fill('#token', TOKEN);
  await page.click('#token-form button[type=submit]');
  await until(async () => /token set/.test(await page.textContent('#token-state')), 'the token taken');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('tickwire.console.token')), TOKEN, 'kept in sessionStorage');

  // The node and the default room.
  const nodeRow = await until(async () => (await rows(page, '#nodes tbody'))[node.id], 'the node in the table');
  assert.match(nodeRow[2], /^1\/\d+$/, `one room of the node's maximum: ${nodeRow}`);
  assert.equal(nodeRow[6], 'live');
  const defaultRow = await until(async () => (await rows(page, '#rooms tbody')).default, 'the default room in the table');
  assert.equal(defaultRow[1], node.id);
  assert.equal(defaultRow[2], 'arena');
  // The default room's load arrives with its first statistics (every second here).
  await until(async () => /^\d+\.\d\d$/.test((await rows(page, '#rooms tbody')).default[5]), 'the default room\'s tick p99');

  // Create a room through the form, on the node chosen by name.
  await page.fill('#create-id', ROOM);
  await page.fill('#create-game', 'arena');
  await page.fill('#create-max', '4');
  await page.selectOption('#create-node', node.id);
  await page.click('#create-form button[type=submit]');
  await until(async () => (await page.textContent('#action-result')).includes(`Created room ${ROOM}`), 'the creation confirmed');
  const created = await until(async () => (await rows(page, '#rooms tbody'))[ROOM], 'the new room listed');
  assert.deepEqual(created.slice(0, 5), [ROOM, node.id, 'arena', '0/4', '4']);

  // The same id again: the API's error is shown to the operator.
  await page.fill('#create-id', ROOM);
  await page.click('#create-form button[type=submit]');
  await until(async () => (await page.isVisible('#action-error')) && /\[409 room_exists\]/.test(await page.textContent('#action-error')), 'the 409 shown');
  await page.fill('#create-id', '');

  // A player joins the room through the rooms API.
  const bot = start('bot-client', ['--api', origin, '--room', ROOM, '--bots', '1', '--name-prefix', 'kickme', '--duration', '90', '--seed', '3']);
  procs.push(bot);
  await until(async () => (await rows(page, '#rooms tbody'))[ROOM]?.[3] === '1/4', 'the bot counted in the room');

  // Its roster shows the bot, connected.
  await page.click(`#rooms tbody tr[data-key="${ROOM}"] button[data-action=roster]`);
  const entry = await until(async () => Object.entries(await rows(page, '#roster-rows')).find(([, cells]) => cells[1] === BOT), 'the bot in the roster');
  const [playerId, cells] = entry;
  assert.equal(cells[0], playerId);
  assert.equal(cells[2], 'connected');

  // Kick it: the roster empties, the seat is free, its session got 4017.
  await page.click(`#roster-rows tr[data-key="${playerId}"] button[data-action=kick]`);
  await until(async () => (await page.textContent('#action-result')).includes(`Kicked ${BOT}`), 'the kick confirmed');
  assert.ok(dialogs.some((m) => m.includes(playerId) && m.includes('4017')), `the kick was confirmed first: ${dialogs}`);
  await until(async () => Object.keys(await rows(page, '#roster-rows')).length === 0, 'the roster emptied');
  await until(async () => (await rows(page, '#rooms tbody'))[ROOM]?.[3] === '0/4', 'the seat freed');
  assert.equal(await metric(origin, 'tickwire_kicks_total'), 1);
  await until(async () => (await metric(origin, 'tickwire_session_closes_total{code="4017"}')) === 1, 'the session closed with 4017');
  await page.screenshot({ path: SCREENSHOT });

  // Close the room: it leaves the table (and the roster panel closes).
  await page.click(`#rooms tbody tr[data-key="${ROOM}"] button[data-action=close]`);
  await until(async () => !(ROOM in (await rows(page, '#rooms tbody'))), 'the closed room gone from the table');
  assert.match(await page.textContent('#action-result'), new RegExp(`Closed room ${ROOM}`));
  assert.ok(await page.isHidden('#roster'), 'the roster of the closed room is closed');
  assert.ok((await rows(page, '#rooms tbody')).default, 'the default room stays');

  // The 409 above is the only failed request, and Chromium reports it on the console.
  const unexpected = problems.filter((p) => !/status of 409/.test(p));
  assert.deepEqual(unexpected, [], 'no console errors, page errors or foreign requests');
  assert.equal(server.exited, null, `the server is still running\n${tail(server)}`);
  t.diagnostic(`screenshot: ${SCREENSHOT}; e2e took ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
