// What the end-to-end tests share: where the binaries, Chromium and the web client are,
// child processes whose output is kept for failure messages, and polling with a
// deadline (nothing waits a fixed time to synchronise).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN_DIR = resolve(ROOT, process.env.TICKWIRE_BIN_DIR ?? 'target/debug');
export const CHROMIUM = process.env.TICKWIRE_CHROMIUM ?? '/usr/bin/chromium';
export const WEB_DIR = resolve(ROOT, process.env.TICKWIRE_WEB_DIR ?? 'assets/web');
export const OUT_DIR = join(ROOT, 'target/test-output');
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
/** The server's first line: its scheme and address. */
export const LISTENING = /^Tickwire listening: web client at (https?):\/\/(\S+)\/ , WebSocket at wss?:\/\/\S+\/ws$/;

/** A child process whose output is kept (last lines, for failure messages) and drained. */
export function start(name, args) {
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

export function tail(proc, n = 15) {
  return `--- ${proc.name} (last ${n} lines) ---\n${proc.lines.slice(-n).join('\n')}`;
}

/** Resolves with the first output line of `proc` matching `re`. */
export function waitForLine(proc, re, timeoutMs) {
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

export async function stop(proc) {
  if (proc.exited) return;
  const exited = new Promise((r) => proc.child.once('exit', r));
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** Polls `fn` (async) until it returns a truthy value; throws `what` after `timeoutMs`. */
export async function until(fn, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
