// Tickwire minimal browser client: join, draw the replicated state, send inputs.
//
// The server is authoritative; this client sends only intents (movement, aim, fire) and
// draws the state it holds. Protocol v2 snapshots are deltas against the previous one:
// a ClientView applies them and checks their checksums; on a mismatch (or a snapshot
// that does not apply) the client sends Desync and the server answers with a keyframe.
// Players are drawn interpolated between the last two snapshots; drones and projectiles
// move on trajectories, drawn where they are at the estimated current server tick. No
// prediction yet: that comes with the full game client.

import {
  BUTTON_FIRE,
  CLOSE_REASONS,
  ClientView,
  DeltaError,
  FLAG_DEAD,
  angleToQ,
  decodeServerMessage,
  desync,
  hello,
  input,
  ping,
  positionAt,
  qToAngle,
  qToPos,
  validateName,
} from './codec.js';

// Drawing scale and entity sizes (metres, from shared::rules).
const PX_PER_M = 20;
const PLAYER_RADIUS = 0.5;
const DRONE_RADIUS = 40 / 64;
const PROJECTILE_RADIUS = 10 / 64;
const PLAYER_MAX_HEALTH = 100;
const DRONE_MAX_HEALTH = 40;
/** A move longer than this between two snapshots is a respawn: jump, don't glide. */
const TELEPORT_M = 4;
const GRID_M = 5;
const PING_INTERVAL_MS = 1000;
/** While waiting for the keyframe a Desync asked for, don't ask again sooner than this. */
const DESYNC_RETRY_MS = 1000;
/** Trajectories are extrapolated at most this far past the newest snapshot. */
const MAX_EXTRAPOLATION_S = 0.25;
const NAME_KEY = 'tickwire.name';

const MOVE_KEYS = {
  KeyW: 'up',
  ArrowUp: 'up',
  KeyS: 'down',
  ArrowDown: 'down',
  KeyA: 'left',
  ArrowLeft: 'left',
  KeyD: 'right',
  ArrowRight: 'right',
};

const $ = (id) => document.getElementById(id);
const canvas = $('view');
const ctx = canvas.getContext('2d');
const ui = {
  form: $('join'),
  name: $('name'),
  error: $('join-error'),
  state: $('hud-state'),
  map: $('hud-map'),
  tick: $('hud-tick'),
  entities: $('hud-entities'),
  you: $('hud-you'),
  ping: $('hud-ping'),
  sync: $('hud-sync'),
  interp: $('hud-interp'),
};

// ---------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------

const net = {
  ws: null,
  /** 'idle' | 'connecting' | 'connected' | 'closed' */
  conn: 'idle',
  closeText: '',
  /** Set when this client itself ends the session because of a protocol problem. */
  failure: '',
  welcome: null,
  /** Snapshot rate and budget the server granted (Welcome, then SnapshotSettings). */
  settings: null,
  /** The replicated state this client holds, kept up to date by snapshots. */
  view: new ClientView(),
  /** The last two states applied: { tick, lastInputSeq, entities: Map, recvAt }. */
  prev: null,
  latest: null,
  snapshotTimes: [],
  /** [time, bytes] of snapshot messages received in the last second. */
  snapshotBytes: [],
  /** Estimated server tick minus local time in ticks (null until the first snapshot). */
  tickOffset: null,
  sync: newSyncStats(),
  seq: 0,
  rttMs: null,
  inputTimer: 0,
  pingTimer: 0,
};

function newSyncStats() {
  return {
    keyframes: 0,
    deltas: 0,
    full: 0,
    desyncs: 0,
    awaitingKeyframe: false,
    desyncSentAt: -Infinity,
    lastProblem: '',
  };
}

const controls = {
  held: new Set(),
  fire: false,
  mouse: null, // { x, y } in CSS pixels relative to the canvas
  aim: 0,
};

const view = {
  width: 0,
  height: 0,
  dpr: 1,
  interpolate: true,
  /** Where the own player was drawn last frame (CSS px); aim is measured from here. */
  ownScreen: null,
};

// ---------------------------------------------------------------------------------------
// Connection
// ---------------------------------------------------------------------------------------

function wsUrl() {
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
}

function setConn(conn, closeText = '') {
  net.conn = conn;
  net.closeText = closeText;
}

function stopTimers() {
  clearInterval(net.inputTimer);
  clearInterval(net.pingTimer);
  net.inputTimer = 0;
  net.pingTimer = 0;
}

function join(name) {
  leave();
  net.welcome = null;
  net.settings = null;
  net.view = new ClientView();
  net.prev = null;
  net.latest = null;
  net.snapshotTimes = [];
  net.snapshotBytes = [];
  net.tickOffset = null;
  net.sync = newSyncStats();
  net.seq = 0;
  net.rttMs = null;
  net.failure = '';
  setConn('connecting');

  let ws;
  try {
    ws = new WebSocket(wsUrl());
  } catch (e) {
    setConn('closed', `cannot open WebSocket: ${e.message}`);
    showJoin(`Cannot connect: ${e.message}`);
    return;
  }
  ws.binaryType = 'arraybuffer';
  net.ws = ws;

  ws.addEventListener('open', () => {
    if (net.ws !== ws) return;
    ws.send(hello(name));
  });
  ws.addEventListener('message', (ev) => {
    if (net.ws !== ws) return;
    onMessage(ws, ev.data);
  });
  // An 'error' event is always followed by 'close', which reports it.
  ws.addEventListener('error', () => {});
  ws.addEventListener('close', (ev) => {
    if (net.ws !== ws) return;
    onClose(ev);
  });
}

/** Ends the current session, if any, without reporting it as a failure. */
function leave() {
  stopTimers();
  const ws = net.ws;
  net.ws = null;
  if (ws && (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN)) {
    ws.close(1000, 'leaving');
  }
}

/** The server broke the protocol: say why and hang up. */
function protocolFailure(ws, why) {
  net.failure = why;
  stopTimers();
  if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) {
    ws.close(4000, 'undecodable server message');
  }
}

function onClose(ev) {
  stopTimers();
  net.ws = null;
  const meaning = CLOSE_REASONS[ev.code];
  let text = `code ${ev.code}`;
  if (meaning) text += ` (${meaning})`;
  if (ev.reason) text += `: ${ev.reason}`;
  if (net.failure) text += ` — client error: ${net.failure}`;
  setConn('closed', text);
  controls.held.clear();
  controls.fire = false;
  const normal = ev.code === 1000 && !net.failure;
  showJoin(normal ? '' : `Disconnected: ${text}`);
}

function send(bytes) {
  const ws = net.ws;
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(bytes);
}

function onMessage(ws, data) {
  if (!(data instanceof ArrayBuffer)) {
    protocolFailure(ws, 'the server sent a text frame');
    return;
  }
  let msg;
  try {
    msg = decodeServerMessage(data);
  } catch (e) {
    protocolFailure(ws, e.message);
    return;
  }
  switch (msg.type) {
    case 'Welcome':
      onWelcome(ws, msg);
      break;
    case 'Snapshot':
      onSnapshot(ws, msg, data.byteLength);
      break;
    case 'FullSnapshot':
      onFullSnapshot(msg, data.byteLength);
      break;
    case 'SnapshotSettings':
      net.settings = { rate: msg.rate, max_bytes_per_sec: msg.max_bytes_per_sec };
      break;
    case 'Pong':
      onPong(msg);
      break;
  }
}

function onWelcome(ws, msg) {
  if (msg.tick_rate === 0) {
    protocolFailure(ws, 'Welcome with a tick rate of 0');
    return;
  }
  net.welcome = msg;
  net.settings = msg.settings;
  net.view = new ClientView();
  setConn('connected');
  stopTimers();
  net.inputTimer = setInterval(sendInput, Math.max(4, 1000 / msg.tick_rate));
  net.pingTimer = setInterval(sendPing, PING_INTERVAL_MS);
  sendPing();
}

/** A delta snapshot: apply it to the view; on any failure, ask for a keyframe. */
function onSnapshot(ws, msg, size) {
  const w = net.welcome;
  if (!w) return; // cannot happen with a correct server: Welcome comes first
  countBytes(size);
  try {
    net.view.apply(msg, w.tick_rate, w.packing);
  } catch (e) {
    if (!(e instanceof DeltaError)) {
      protocolFailure(ws, `cannot apply a snapshot: ${e.message}`);
      return;
    }
    requestKeyframe(msg.tick, e.message);
    // On a checksum mismatch the view was updated (later deltas build on it) but is wrong
    // somewhere: draw it until the keyframe comes. Any other error left it unchanged.
    if (e.kind === 'Checksum') publishView(msg.tick, msg.last_input_seq);
    return;
  }
  if (msg.baseline === 0) {
    net.sync.keyframes++;
    net.sync.awaitingKeyframe = false;
  } else {
    net.sync.deltas++;
  }
  publishView(msg.tick, msg.last_input_seq);
}

/** A full snapshot (server run with `--snapshots full`): replaces the view. */
function onFullSnapshot(msg, size) {
  if (!net.welcome) return;
  if (net.latest && msg.tick <= net.latest.tick) return; // stale
  countBytes(size);
  net.view.applyFull(msg);
  net.sync.full++;
  publishView(msg.tick, msg.last_input_seq);
}

/** Sends Desync for `tick`, at most once per DESYNC_RETRY_MS while no keyframe came. */
function requestKeyframe(tick, why) {
  const s = net.sync;
  s.lastProblem = `tick ${tick}: ${why}`;
  const now = performance.now();
  if (s.awaitingKeyframe && now - s.desyncSentAt < DESYNC_RETRY_MS) return;
  s.awaitingKeyframe = true;
  s.desyncSentAt = now;
  s.desyncs++;
  send(desync(tick));
}

function countBytes(size) {
  const now = performance.now();
  net.snapshotBytes.push([now, size]);
  while (net.snapshotBytes.length && net.snapshotBytes[0][0] < now - 1000) net.snapshotBytes.shift();
}

/** Makes the view's current state the newest one to draw. */
function publishView(tick, lastInputSeq) {
  const entities = new Map();
  for (const e of net.view.entities) entities.set(e.id, e);
  const now = performance.now();
  net.prev = net.latest;
  net.latest = { tick, lastInputSeq, entities, recvAt: now };
  net.snapshotTimes.push(now);
  while (net.snapshotTimes.length && net.snapshotTimes[0] < now - 1000) net.snapshotTimes.shift();
  updateTickClock(tick, now);
}

/**
 * Keeps an estimate of the server's tick as a function of local time: each snapshot is a
 * sample (its tick when it arrived); the estimate follows samples smoothly and jumps only
 * when it is far off (first snapshot, a stall, a tab in the background).
 */
function updateTickClock(tick, now) {
  const rate = net.welcome.tick_rate;
  const sample = tick - (now * rate) / 1000;
  if (net.tickOffset === null || Math.abs(sample - net.tickOffset) > rate / 2) {
    net.tickOffset = sample;
  } else {
    net.tickOffset += (sample - net.tickOffset) * 0.1;
  }
}

/** The server tick to draw trajectories at: estimated now, not far past the newest snapshot. */
function renderTick(now) {
  const latest = net.latest;
  if (!latest || net.tickOffset === null || !view.interpolate) return latest ? latest.tick : 0;
  const rate = net.welcome.tick_rate;
  const estimate = (now * rate) / 1000 + net.tickOffset;
  return Math.min(estimate, latest.tick + rate * MAX_EXTRAPOLATION_S);
}

function nowMs32() {
  return Math.floor(performance.now()) >>> 0;
}

function onPong(msg) {
  const rtt = (nowMs32() - msg.client_time) >>> 0;
  if (rtt > 60_000) return; // not one of ours (or the clock wrapped): ignore
  net.rttMs = net.rttMs === null ? rtt : net.rttMs * 0.7 + rtt * 0.3;
}

function sendPing() {
  send(ping(nowMs32()));
}

// ---------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------

function held(dir) {
  for (const code of controls.held) if (MOVE_KEYS[code] === dir) return true;
  return false;
}

/** Aim angle from the own player's screen position towards the mouse. */
function updateAim() {
  const m = controls.mouse;
  if (!m) return controls.aim;
  const origin = view.ownScreen ?? { x: view.width / 2, y: view.height / 2 };
  const dx = m.x - origin.x;
  const dy = m.y - origin.y;
  if (dx === 0 && dy === 0) return controls.aim;
  let a = Math.atan2(dy, dx);
  if (a < 0) a += 2 * Math.PI;
  controls.aim = angleToQ(a);
  return controls.aim;
}

function sendInput() {
  if (!net.welcome || !net.ws || net.ws.readyState !== WebSocket.OPEN) return;
  net.seq = net.seq >= 0xffffffff ? 1 : net.seq + 1;
  const moveX = (held('right') ? 127 : 0) - (held('left') ? 127 : 0);
  const moveY = (held('down') ? 127 : 0) - (held('up') ? 127 : 0);
  const buttons = controls.fire ? BUTTON_FIRE : 0;
  const ack = net.view.tick;
  send(input(net.seq, ack, moveX, moveY, updateAim(), buttons));
}

function isTyping(target) {
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement;
}

window.addEventListener('keydown', (e) => {
  if (isTyping(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
  if (MOVE_KEYS[e.code]) {
    controls.held.add(e.code);
    e.preventDefault();
  } else if (e.code === 'KeyI' && !e.repeat) {
    view.interpolate = !view.interpolate;
  }
});

window.addEventListener('keyup', (e) => {
  controls.held.delete(e.code);
});

window.addEventListener('blur', () => {
  controls.held.clear();
  controls.fire = false;
});

window.addEventListener('pointermove', (e) => {
  const r = canvas.getBoundingClientRect();
  controls.mouse = { x: e.clientX - r.left, y: e.clientY - r.top };
});

canvas.addEventListener('pointerdown', (e) => {
  if (e.button !== 0) return;
  controls.fire = true;
  const r = canvas.getBoundingClientRect();
  controls.mouse = { x: e.clientX - r.left, y: e.clientY - r.top };
  e.preventDefault();
});

window.addEventListener('pointerup', (e) => {
  if (e.button === 0) controls.fire = false;
});

window.addEventListener('pointercancel', () => {
  controls.fire = false;
});

canvas.addEventListener('contextmenu', (e) => e.preventDefault());

// ---------------------------------------------------------------------------------------
// Join form
// ---------------------------------------------------------------------------------------

function showJoin(message) {
  ui.form.hidden = false;
  ui.error.textContent = message;
  ui.name.focus();
}

ui.form.addEventListener('submit', (e) => {
  e.preventDefault();
  let name;
  try {
    name = validateName(ui.name.value);
  } catch (err) {
    ui.error.textContent = `Invalid name: ${err.message}.`;
    ui.name.focus();
    return;
  }
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch {
    // storage may be unavailable (privacy settings); the name is just not remembered
  }
  ui.error.textContent = '';
  ui.form.hidden = true;
  ui.name.blur();
  join(name);
});

try {
  ui.name.value = localStorage.getItem(NAME_KEY) ?? '';
} catch {
  // ignore: see above
}

// ---------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------

function resize() {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  const pw = Math.max(1, Math.round(w * dpr));
  const ph = Math.max(1, Math.round(h * dpr));
  if (canvas.width !== pw || canvas.height !== ph) {
    canvas.width = pw;
    canvas.height = ph;
  }
  view.width = w;
  view.height = h;
  view.dpr = dpr;
}

window.addEventListener('resize', resize);

const lerp = (a, b, t) => a + (b - a) * t;

function lerpAngle(a, b, t) {
  let d = (b - a) % (2 * Math.PI);
  if (d > Math.PI) d -= 2 * Math.PI;
  if (d < -Math.PI) d += 2 * Math.PI;
  return a + d * t;
}

function toView(e) {
  return {
    id: e.id,
    kind: e.kind,
    x: qToPos(e.x),
    y: qToPos(e.y),
    angle: qToAngle(e.angle),
    health: e.health,
    dead: (e.flags & FLAG_DEAD) !== 0,
    score: e.score,
    owner: e.owner,
    name: e.name,
  };
}

/**
 * Entities to draw now, in metres. Trajectories (drones, projectiles: a non-zero anchor)
 * at the estimated server tick; players blended between the last two snapshots.
 */
function visibleEntities(now) {
  const latest = net.latest;
  if (!latest || !net.welcome) return [];
  const rate = net.welcome.tick_rate;
  const tick = renderTick(now);
  const out = [];
  const prev = view.interpolate ? net.prev : null;
  const interval = prev ? ((latest.tick - prev.tick) * 1000) / rate : 0;
  const t = interval > 0 ? Math.min(1, Math.max(0, (now - latest.recvAt) / interval)) : 1;
  for (const e of latest.entities.values()) {
    const v = toView(e);
    const p = prev ? prev.entities.get(e.id) : undefined;
    const same = p !== undefined && p.kind === e.kind;
    if (e.anchor !== 0) {
      const [x, y] = positionAt(e, tick, rate);
      v.x = qToPos(x);
      v.y = qToPos(y);
      if (same) v.angle = lerpAngle(qToAngle(p.angle), v.angle, t);
    } else if (same) {
      const px = qToPos(p.x);
      const py = qToPos(p.y);
      if (Math.hypot(v.x - px, v.y - py) < TELEPORT_M) {
        v.x = lerp(px, v.x, t);
        v.y = lerp(py, v.y, t);
        v.angle = lerpAngle(qToAngle(p.angle), v.angle, t);
      }
    }
    out.push(v);
  }
  return out;
}

function hue(id) {
  return (Math.imul(id + 1, 2654435761) >>> 0) % 360;
}

function playerColor(id, own) {
  return own ? '#58a6ff' : `hsl(${hue(id)} 55% 58%)`;
}

function drawBackground(cam, s) {
  const { width: w, height: h } = view;
  ctx.fillStyle = '#070a0f';
  ctx.fillRect(0, 0, w, h);
  const welcome = net.welcome;
  if (!welcome) return;
  const map = welcome.map;
  const mw = qToPos(map.width);
  const mh = qToPos(map.height);
  const ox = w / 2 - cam.x * s;
  const oy = h / 2 - cam.y * s;

  // arena floor
  ctx.fillStyle = '#11161d';
  ctx.fillRect(ox, oy, mw * s, mh * s);

  // grid, only the visible part
  ctx.strokeStyle = '#1a212b';
  ctx.lineWidth = 1;
  ctx.beginPath();
  const x0 = Math.max(0, Math.floor((cam.x - w / 2 / s) / GRID_M) * GRID_M);
  const x1 = Math.min(mw, cam.x + w / 2 / s);
  for (let x = x0; x <= x1; x += GRID_M) {
    const sx = Math.round(ox + x * s) + 0.5;
    ctx.moveTo(sx, Math.max(0, oy));
    ctx.lineTo(sx, Math.min(h, oy + mh * s));
  }
  const y0 = Math.max(0, Math.floor((cam.y - h / 2 / s) / GRID_M) * GRID_M);
  const y1 = Math.min(mh, cam.y + h / 2 / s);
  for (let y = y0; y <= y1; y += GRID_M) {
    const sy = Math.round(oy + y * s) + 0.5;
    ctx.moveTo(Math.max(0, ox), sy);
    ctx.lineTo(Math.min(w, ox + mw * s), sy);
  }
  ctx.stroke();

  // walls
  ctx.fillStyle = '#3d444d';
  ctx.strokeStyle = '#6e7681';
  ctx.lineWidth = 1.5;
  for (const wall of map.walls) {
    const x = ox + qToPos(wall.min_x) * s;
    const y = oy + qToPos(wall.min_y) * s;
    const ww = qToPos(wall.max_x - wall.min_x) * s;
    const wh = qToPos(wall.max_y - wall.min_y) * s;
    if (x > w || y > h || x + ww < 0 || y + wh < 0) continue;
    ctx.fillRect(x, y, ww, wh);
    ctx.strokeRect(x, y, ww, wh);
  }

  // bounds
  ctx.strokeStyle = '#8b949e';
  ctx.lineWidth = 2;
  ctx.strokeRect(ox, oy, mw * s, mh * s);
}

function drawHealthBar(sx, sy, health, max) {
  const bw = 32;
  const bh = 4;
  const frac = Math.max(0, Math.min(1, health / max));
  ctx.fillStyle = 'rgba(0, 0, 0, 0.6)';
  ctx.fillRect(sx - bw / 2 - 1, sy - 1, bw + 2, bh + 2);
  ctx.fillStyle = frac > 0.5 ? '#3fb950' : frac > 0.25 ? '#d29922' : '#f85149';
  ctx.fillRect(sx - bw / 2, sy, bw * frac, bh);
}

function drawFacing(sx, sy, angle, length, color) {
  ctx.strokeStyle = color;
  ctx.lineWidth = 3;
  ctx.lineCap = 'round';
  ctx.beginPath();
  ctx.moveTo(sx, sy);
  ctx.lineTo(sx + Math.cos(angle) * length, sy + Math.sin(angle) * length);
  ctx.stroke();
}

function drawLabel(text, sx, sy, color) {
  ctx.font = '12px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  ctx.lineWidth = 3;
  ctx.strokeStyle = 'rgba(0, 0, 0, 0.8)';
  ctx.strokeText(text, sx, sy);
  ctx.fillStyle = color;
  ctx.fillText(text, sx, sy);
}

function drawEntities(entities, cam, s, ownId) {
  const { width: w, height: h } = view;
  const toScreen = (e) => [w / 2 + (e.x - cam.x) * s, h / 2 + (e.y - cam.y) * s];
  const margin = 60;
  const onScreen = ([sx, sy]) => sx > -margin && sy > -margin && sx < w + margin && sy < h + margin;
  const order = { Projectile: 0, Drone: 1, Player: 2 };
  const sorted = entities
    .filter((e) => onScreen(toScreen(e)))
    .sort((a, b) => order[a.kind] - order[b.kind] || (a.id === ownId) - (b.id === ownId));

  for (const e of sorted) {
    const [sx, sy] = toScreen(e);
    ctx.globalAlpha = e.dead ? 0.3 : 1;
    if (e.kind === 'Projectile') {
      ctx.fillStyle = e.owner === ownId ? '#fff5c2' : '#f2cc60';
      ctx.beginPath();
      ctx.arc(sx, sy, Math.max(3, PROJECTILE_RADIUS * s), 0, 2 * Math.PI);
      ctx.fill();
    } else if (e.kind === 'Drone') {
      const r = DRONE_RADIUS * s;
      ctx.fillStyle = '#db6d28';
      ctx.fillRect(sx - r, sy - r, 2 * r, 2 * r);
      ctx.strokeStyle = '#ffa657';
      ctx.lineWidth = 1.5;
      ctx.strokeRect(sx - r, sy - r, 2 * r, 2 * r);
      drawFacing(sx, sy, e.angle, r * 1.3, '#ffa657');
      if (!e.dead) drawHealthBar(sx, sy - r - 8, e.health, DRONE_MAX_HEALTH);
    } else {
      const own = e.id === ownId;
      const r = PLAYER_RADIUS * s;
      // The own player faces where the mouse is now, not where the server last saw it.
      const angle = own && controls.mouse && net.conn === 'connected' ? qToAngle(controls.aim) : e.angle;
      drawFacing(sx, sy, angle, r * 2, own ? '#c9e3ff' : '#c9d1d9');
      ctx.fillStyle = playerColor(e.id, own);
      ctx.beginPath();
      ctx.arc(sx, sy, r, 0, 2 * Math.PI);
      ctx.fill();
      if (own) {
        ctx.strokeStyle = '#ffffff';
        ctx.lineWidth = 2.5;
        ctx.beginPath();
        ctx.arc(sx, sy, r + 3, 0, 2 * Math.PI);
        ctx.stroke();
      }
      if (!e.dead) drawHealthBar(sx, sy - r - 10, e.health, PLAYER_MAX_HEALTH);
      const label = e.dead ? `${e.name} ✝` : e.name;
      drawLabel(label, sx, sy - r - 12, own ? '#ffffff' : '#c9d1d9');
    }
  }
  ctx.globalAlpha = 1;
}

/** The area of interest around the own player (drawn at the centre of the view). */
function drawAoi(radius) {
  ctx.strokeStyle = 'rgba(88, 166, 255, 0.18)';
  ctx.lineWidth = 1.5;
  ctx.setLineDash([6, 6]);
  ctx.beginPath();
  ctx.arc(view.width / 2, view.height / 2, radius, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.setLineDash([]);
}

function drawMessage(text) {
  ctx.font = '14px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillStyle = '#8b949e';
  ctx.fillText(text, view.width / 2, view.height / 2 + 90);
}

function draw(now) {
  ctx.setTransform(view.dpr, 0, 0, view.dpr, 0, 0);
  const s = PX_PER_M;
  const entities = visibleEntities(now);
  const ownId = net.welcome ? net.welcome.entity : -1;
  const own = entities.find((e) => e.id === ownId);
  let cam;
  if (own) cam = { x: own.x, y: own.y };
  else if (net.welcome) cam = { x: qToPos(net.welcome.map.width) / 2, y: qToPos(net.welcome.map.height) / 2 };
  else cam = { x: 0, y: 0 };

  drawBackground(cam, s);
  if (own && net.welcome) drawAoi(qToPos(net.welcome.aoi_radius) * s);
  drawEntities(entities, cam, s, ownId);
  view.ownScreen = own ? { x: view.width / 2, y: view.height / 2 } : null;

  if (net.conn === 'connected' && !net.latest) drawMessage('waiting for the first snapshot…');
}

// ---------------------------------------------------------------------------------------
// HUD
// ---------------------------------------------------------------------------------------

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function updateHud() {
  const stateText = {
    idle: 'not connected',
    connecting: net.ws && net.ws.readyState === WebSocket.OPEN ? 'connecting… (handshake)' : 'connecting…',
    connected: 'connected',
    closed: `closed ${net.closeText}`,
  }[net.conn];
  setText(ui.state, stateText);
  const cls = `state-${net.conn}`;
  if (ui.state.className !== cls) ui.state.className = cls;

  const w = net.welcome;
  setText(
    ui.map,
    w
      ? `${w.map.name} ${qToPos(w.map.width)}×${qToPos(w.map.height)} m · ${w.tick_rate} Hz · AOI ${qToPos(w.aoi_radius)} m`
      : '–',
  );

  const latest = net.latest;
  const rate = net.settings ? `${net.snapshotTimes.length}/${net.settings.rate}` : `${net.snapshotTimes.length}`;
  setText(ui.tick, latest ? `${latest.tick} (${rate} snap/s, input ${net.seq} acked ${latest.lastInputSeq})` : '–');

  if (latest) {
    let players = 0;
    let drones = 0;
    let shots = 0;
    for (const e of latest.entities.values()) {
      if (e.kind === 'Player') players++;
      else if (e.kind === 'Drone') drones++;
      else shots++;
    }
    setText(ui.entities, `${latest.entities.size} in view (${players} players, ${drones} drones, ${shots} shots)`);
  } else {
    setText(ui.entities, '–');
  }

  const me = latest && w ? latest.entities.get(w.entity) : null;
  if (me) {
    const dead = (me.flags & FLAG_DEAD) !== 0;
    const where = `(${qToPos(me.x).toFixed(1)}, ${qToPos(me.y).toFixed(1)}) m`;
    setText(ui.you, `${me.name} · ${where} · score ${me.score} · ${dead ? 'dead, respawning…' : `health ${me.health}`}`);
  } else {
    setText(ui.you, w ? `entity ${w.entity}` : '–');
  }

  setText(ui.ping, net.rttMs === null ? '–' : `${Math.round(net.rttMs)} ms`);

  if (w) {
    const s = net.sync;
    const bytes = net.snapshotBytes.reduce((sum, [, n]) => sum + n, 0);
    const budget = net.settings ? ` of ${(net.settings.max_bytes_per_sec / 1024).toFixed(0)}` : '';
    const kind = s.full > 0 ? `${s.full} full` : `${w.packing.toLowerCase()} · ${s.keyframes} keyframes · ${s.desyncs} desyncs`;
    const waiting = s.awaitingKeyframe ? ' · awaiting keyframe' : '';
    setText(ui.sync, `${kind} · ${(bytes / 1024).toFixed(1)}${budget} KiB/s${waiting}`);
    const title = s.lastProblem ? `last problem: ${s.lastProblem}` : '';
    if (ui.sync.title !== title) ui.sync.title = title;
  } else {
    setText(ui.sync, '–');
  }
  setText(ui.interp, view.interpolate ? 'on (I)' : 'off (I)');
}

// ---------------------------------------------------------------------------------------
// Main loop
// ---------------------------------------------------------------------------------------

function frame(now) {
  resize();
  draw(now);
  updateHud();
  requestAnimationFrame(frame);
}

resize();
requestAnimationFrame(frame);
showJoin('');
