// The page around the canvas, whatever the game: the lobby (rooms with their game, node,
// name, join), and the parts of the HUD every game has: the connection banner, the net graph,
// a notice line, the key help, and the place (#game-hud) where the game's own panels go.
//
// Browser-only (DOM). Reads the session and connection state it is given; its only
// effects are the callbacks the app passes in (join, leave, retry).

import { validateName } from './sdk/codec.js';
import { State } from './sdk/net.js';
import { freeSeats } from './sdk/relocate.js';

const NAME_KEY = 'tickwire.name';
/** The room a server without a rooms API has, and the WebSocket path that joins it. */
export const DEFAULT_ROOM = Object.freeze({ id: 'default', name: 'Default room', default: true });
const ROOMS_REFRESH_MS = 5000;
/** Keys every game has, after the game's own in the help list. */
const PAGE_KEYS = [
  ['N', 'net graph'],
  ['Esc', 'leave'],
];

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function setText(e, text) {
  if (e.textContent !== text) e.textContent = text;
}

/**
 * The rooms to offer: `GET /api/rooms` (a JSON list of {id, name, map, players, held,
 * reserved, max_players, tick_rate, snapshot_rate, ...}, marked `api`: joined with a
 * seat reservation) where the server has it; on a 404 (no rooms API), the one default
 * room, joined anonymously, if the server answers its health check.
 */
export async function fetchRooms(fetchFn = fetch) {
  let status = 0;
  try {
    const res = await fetchFn('/api/rooms', { cache: 'no-store' });
    status = res.status;
    if (res.ok) {
      const list = await res.json();
      if (Array.isArray(list)) {
        const rooms = list.filter((r) => r && typeof r.id === 'string').map((r) => ({ ...r, api: true }));
        return { rooms, note: rooms.length ? '' : 'This server lists no public rooms.' };
      }
    }
  } catch {
    // Not reachable or not JSON: fall through to the health check.
  }
  if (status && status !== 404) {
    return { rooms: [], note: `The room list is unavailable (HTTP ${status}); retrying.` };
  }
  try {
    const res = await fetchFn('/healthz', { cache: 'no-store' });
    if (res.ok) return { rooms: [DEFAULT_ROOM], note: 'This server runs one room.' };
    return { rooms: [DEFAULT_ROOM], note: `Server health check: HTTP ${res.status}.` };
  } catch {
    return { rooms: [DEFAULT_ROOM], note: 'The server does not answer; joining will keep retrying.' };
  }
}

/** The WebSocket URL of room `id` (null: the server's default room, plain `/ws`). */
export function wsUrl(id) {
  const base = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
  return id ? `${base}?room=${encodeURIComponent(id)}` : base;
}

/** Whether a listed room has no seat left (players, players held for a resume, reservations). */
export function roomIsFull(room) {
  return freeSeats(room) <= 0;
}

/** What the lobby says of a room besides its name: game, map, rates, its node (in a cluster), full. */
export function roomMeta(room) {
  const meta = [];
  if (room.game) meta.push(room.game);
  if (room.map) meta.push(`map ${room.map}`);
  if (room.tick_rate) meta.push(`${room.tick_rate} Hz`);
  if (room.snapshot_rate) meta.push(`${room.snapshot_rate} snapshots/s`);
  if (typeof room.node === 'string' && room.node) meta.push(`node ${room.node}`);
  if (roomIsFull(room)) meta.push('full');
  return meta;
}

export class Ui {
  constructor({ onJoin, onLeave, onRetry }) {
    this.onJoin = onJoin;
    this.onLeave = onLeave;
    this.onRetry = onRetry;
    this.rooms = [DEFAULT_ROOM];
    this.selected = DEFAULT_ROOM.id;
    this.roomsTimer = 0;
    this.netgraphOn = false;
    this.e = {
      lobby: $('lobby'),
      form: $('join-form'),
      roomList: $('room-list'),
      roomsNote: $('rooms-note'),
      name: $('name'),
      error: $('join-error'),
      hud: $('hud'),
      banner: $('banner'),
      bannerText: $('banner-text'),
      bannerDetail: $('banner-detail'),
      bannerRetry: $('banner-retry'),
      bannerLeave: $('banner-leave'),
      gameHud: $('game-hud'),
      help: $('help'),
      notice: $('notice'),
      netgraph: $('netgraph'),
      graph: $('netgraph-canvas'),
      stats: $('netgraph-stats'),
    };
    this.e.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submit();
    });
    this.e.bannerRetry.addEventListener('click', () => this.onRetry());
    this.e.bannerLeave.addEventListener('click', () => this.onLeave());
    try {
      this.e.name.value = localStorage.getItem(NAME_KEY) ?? '';
    } catch {
      // Storage can be disabled; the name is then just not remembered.
    }
    this.statRows = new Map();
    /** Until when (ms) the notice line stays up. */
    this.noticeUntil = 0;
  }

  // ------------------------------------------------------------------------- lobby

  showLobby(error = '') {
    this.e.hud.hidden = true;
    this.e.lobby.hidden = false;
    this.e.error.textContent = error;
    this.e.name.focus();
    this.refreshRooms();
  }

  async refreshRooms() {
    clearTimeout(this.roomsTimer);
    const { rooms, note } = await fetchRooms();
    if (this.e.lobby.hidden) return;
    this.rooms = rooms;
    if (!rooms.some((r) => r.id === this.selected)) this.selected = (rooms.find((r) => r.default) ?? rooms[0])?.id ?? '';
    this.renderRooms();
    setText(this.e.roomsNote, note);
    this.roomsTimer = setTimeout(() => this.refreshRooms(), ROOMS_REFRESH_MS);
  }

  renderRooms() {
    const list = this.e.roomList;
    list.replaceChildren();
    for (const room of this.rooms) {
      const li = el('li');
      const label = el('label', 'room');
      const radio = el('input');
      radio.type = 'radio';
      radio.name = 'room';
      radio.value = room.id;
      radio.checked = room.id === this.selected;
      radio.addEventListener('change', () => {
        this.selected = room.id;
      });
      const info = el('span');
      info.append(el('span', 'room-name', room.name ?? room.id));
      const meta = roomMeta(room);
      info.append(el('span', 'room-meta', meta.length ? meta.join(' · ') : 'map and rates shown once you join'));
      const players =
        typeof room.players === 'number'
          ? `${room.players}${typeof room.max_players === 'number' ? ` / ${room.max_players}` : ''} players`
          : '';
      label.append(radio, info, el('span', 'room-players', players));
      li.append(label);
      list.append(li);
    }
  }

  submit() {
    let name;
    try {
      name = validateName(this.e.name.value);
    } catch (err) {
      this.e.error.textContent = `Invalid name: ${err.message}.`;
      this.e.name.focus();
      return;
    }
    try {
      localStorage.setItem(NAME_KEY, name);
    } catch {
      // See the constructor.
    }
    const room = this.rooms.find((r) => r.id === this.selected);
    if (!room) {
      this.e.error.textContent = 'No room to join: wait for the list, or try again later.';
      return;
    }
    clearTimeout(this.roomsTimer);
    this.e.error.textContent = '';
    this.e.name.blur();
    this.e.lobby.hidden = true;
    this.e.hud.hidden = false;
    this.onJoin(room, name);
  }

  // ------------------------------------------------------------------------- HUD

  setConnection(state, info, nowMs, room) {
    const b = this.e.banner;
    let text = '';
    let detail = '';
    let retry = false;
    let leave = false;
    switch (state) {
      case State.CONNECTING:
        text = `Connecting to ${room ? room.name.toLowerCase() : 'the server'}…`;
        break;
      case State.CONNECTED:
        text = info.resumed ? 'Resumed' : 'Connected';
        break;
      case State.LOST: {
        const left = Math.max(0, (info.retryAt - nowMs) / 1000);
        text = `Connection lost · ${info.resuming ? 'resuming' : 'retrying'} in ${left.toFixed(1)} s`;
        detail = info.why;
        retry = true;
        leave = true;
        break;
      }
      case State.RETRYING:
        text = `${info.resuming ? 'Resuming' : 'Reconnecting'}… (attempt ${info.attempt + 1})`;
        leave = true;
        break;
      default:
        text = '';
    }
    // "Connected" ("Resumed") shows for a moment after (re)connecting, then gets out of the way.
    const fresh = nowMs - (info.since ?? 0) < (info.resumed ? 2500 : 1500);
    b.hidden = state === State.IDLE || state === State.FAILED || (state === State.CONNECTED && !fresh);
    if (b.className !== state) b.className = state;
    setText(this.e.bannerText, text);
    setText(this.e.bannerDetail, detail);
    this.e.bannerRetry.hidden = !retry;
    this.e.bannerLeave.hidden = !leave;
  }

  toggleNetgraph() {
    this.netgraphOn = !this.netgraphOn;
    this.e.netgraph.hidden = !this.netgraphOn;
  }

  /** The key help: the game's `[keys, what]` pairs, then the page's own. */
  setHelp(items) {
    const list = this.e.help;
    list.replaceChildren();
    for (const [keys, what] of [...items, ...PAGE_KEYS]) {
      const li = el('li');
      li.append(el('kbd', '', keys), ` ${what}`);
      list.append(li);
    }
  }

  /** Shows `text` on the notice line for `ms` milliseconds. */
  notice(text, ms) {
    setText(this.e.notice, text);
    this.noticeUntil = performance.now() + ms;
  }

  /** Refreshes the page's parts of the HUD from `session` (null before the Welcome). */
  update(session, frame, conn, nowMs) {
    this.e.notice.hidden = !(session && this.noticeUntil > nowMs);
    if (this.netgraphOn) this.updateNetgraph(session, frame, conn, nowMs);
  }

  stat(key, label) {
    let row = this.statRows.get(key);
    if (!row) {
      const dt = el('dt', '', label);
      const dd = el('dd');
      this.e.stats.append(dt, dd);
      row = dd;
      this.statRows.set(key, row);
    }
    return row;
  }

  updateNetgraph(session, frame, conn, nowMs) {
    const s = conn ? conn.stats : null;
    const kbit = (w) => `${((w.perSecond(nowMs) * 8) / 1000).toFixed(1)} kbit/s`;
    const rate = session ? session.settings.rate : null;
    setText(this.stat('ping', 'ping'), s && s.rttMs !== null ? `${s.rttMs.toFixed(1)} ms` : '–');
    setText(this.stat('snaps', 'snapshots'), s ? `${s.snapshots.perSecond(nowMs).toFixed(0)}/s${rate ? ` of ${rate}` : ''}` : '–');
    setText(this.stat('in', 'in'), s ? kbit(s.bytesIn) : '–');
    setText(this.stat('out', 'out'), s ? kbit(s.bytesOut) : '–');
    const inView = session && session.latest ? session.latest.entities.size : 0;
    setText(this.stat('entities', 'entities'), session ? `${inView} in view` : '–');
    const sync = this.stat('sync', 'keyframes');
    setText(sync, s ? `${s.keyframes} · desyncs ${s.desyncs}` : '–');
    sync.className = s && s.desyncs ? 'bad' : '';
    sync.title = s && s.lastProblem ? `last: ${s.lastProblem}` : '';
    setText(
      this.stat('interp', 'interp'),
      session ? `${((session.delayTicks * 1000) / session.tickRate).toFixed(0)} ms behind` : '–',
    );
    const p = session ? session.predictor : null;
    setText(this.stat('pred', 'prediction'), p ? `err ${(p.lastError * 100).toFixed(1)} cm · ${p.pending.length} unacked` : '–');
    setText(this.stat('tick', 'tick'), session && session.latest ? `${session.latest.tick} @ ${session.tickRate} Hz` : '–');
    this.drawGraph(s);
  }

  /** Bars: bytes per snapshot (blue deltas, green keyframes, red failures); dots: gaps. */
  drawGraph(s) {
    const c = this.e.graph;
    const dpr = window.devicePixelRatio || 1;
    const w = 240;
    const h = 56;
    if (c.width !== w * dpr) {
      c.width = w * dpr;
      c.height = h * dpr;
    }
    const ctx = c.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    if (!s || !s.history.length) return;
    const hist = s.history;
    // Scaled to the ordinary snapshots: a keyframe is many times larger and would
    // flatten everything else, so bars above the scale are clipped and marked.
    const sizes = hist.filter((x) => x.kind === 'delta' || x.kind === 'full').map((x) => x.bytes).sort((a, b) => a - b);
    const typical = sizes.length ? sizes[Math.floor(sizes.length * 0.95)] : 0;
    const scale = Math.max(64, typical * 1.5);
    const bw = w / 120;
    const x0 = w - hist.length * bw;
    const colors = { key: '#3fb950', delta: '#58a6ff', full: '#bc8cff', bad: '#f85149' };
    const top = h - 14;
    for (let i = 0; i < hist.length; i++) {
      const it = hist[i];
      const bh = Math.max(1, Math.min(1, it.bytes / scale) * top);
      ctx.fillStyle = colors[it.kind];
      ctx.fillRect(x0 + i * bw, h - bh, Math.max(1, bw - 0.5), bh);
      if (it.bytes > scale) ctx.fillRect(x0 + i * bw - 1, h - top - 3, Math.max(1, bw - 0.5) + 2, 2);
    }
    // Arrival gaps, 0–200 ms mapped to the height: a steady rate is a flat line of dots.
    ctx.fillStyle = '#d29922';
    for (let i = 1; i < hist.length; i++) {
      const y = h - Math.min(1, hist[i].gapMs / 200) * h;
      ctx.fillRect(x0 + i * bw, y - 1, Math.max(1, bw - 0.5), 2);
    }
    ctx.fillStyle = '#8b949e';
    ctx.font = '10px ui-monospace, monospace';
    ctx.textBaseline = 'top';
    ctx.fillText(`bytes/snapshot (scale ${Math.round(scale)} B) · gaps`, 3, 2);
  }
}
