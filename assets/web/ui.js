// The page around the canvas: the lobby (rooms, name, join), and the HUD (connection
// banner, scoreboard, kill feed, death notice, health, net graph).
//
// Browser-only (DOM). Reads the game and connection state it is given; its only
// effects are the callbacks the app passes in (join, leave, retry).

import { validateName } from './codec.js';
import { State } from './net.js';
import { playerColor } from './render.js';

const NAME_KEY = 'tickwire.name';
/** The room a server without a rooms API has, and the WebSocket path that joins it. */
export const DEFAULT_ROOM = Object.freeze({ id: 'default', name: 'Default room', default: true });
const ROOMS_REFRESH_MS = 5000;
const SCOREBOARD_ROWS = 8;
/** How long the notice about a shared name stays up (ms). */
const NOTICE_MS = 8000;

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

/**
 * Under the score (one point per player or drone destroyed, as the server counts them):
 * what the kill feed saw the own player destroy this session.
 */
export function killsLine(kills) {
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  return `${plural(kills.players, 'player', 'players')} · ${plural(kills.drones, 'drone', 'drones')}`;
}

/** The WebSocket URL of room `id` (null: the server's default room, plain `/ws`). */
export function wsUrl(id) {
  const base = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
  return id ? `${base}?room=${encodeURIComponent(id)}` : base;
}

/** Whether a listed room has no seat left (players, players held for a resume, reservations). */
export function roomIsFull(room) {
  if (typeof room.max_players !== 'number' || typeof room.players !== 'number') return false;
  return room.players + (room.held ?? 0) + (room.reserved ?? 0) >= room.max_players;
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
    this.feedKey = '';
    this.scoreKey = '';
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
      scoreCount: $('score-count'),
      scoreList: $('score-list'),
      feed: $('killfeed'),
      death: $('death'),
      deathBy: $('death-by'),
      deathTimer: $('death-timer'),
      status: $('status'),
      healthFill: $('health-fill'),
      healthText: $('health-text'),
      scoreText: $('score-text'),
      killsText: $('kills-text'),
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
    /** The own entity the shared-name notice was shown for, and until when (ms). */
    this.noticedId = null;
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
      const meta = [];
      if (room.game) meta.push(room.game);
      if (room.map) meta.push(`map ${room.map}`);
      if (room.tick_rate) meta.push(`${room.tick_rate} Hz`);
      if (room.snapshot_rate) meta.push(`${room.snapshot_rate} snapshots/s`);
      if (roomIsFull(room)) meta.push('full');
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

  /** Refreshes the HUD from a frame of `game` (may be null before the Welcome). */
  update(game, frame, conn, nowMs) {
    this.updateStatus(frame, game);
    this.updateDeath(frame);
    if (game) {
      this.updateScoreboard(game);
      this.updateFeed(frame, game);
    }
    this.updateNotice(game, nowMs);
    if (this.netgraphOn) this.updateNetgraph(game, frame, conn, nowMs);
  }

  /**
   * Names are not unique: when another player here has the own player's name, says so
   * once per session for a few seconds (the scoreboard then tells them apart by id).
   */
  updateNotice(game, nowMs) {
    if (game && game.ownId !== this.noticedId) {
      const same = game.namesakes();
      if (same.length > 0) {
        this.noticedId = game.ownId;
        this.noticeUntil = nowMs + NOTICE_MS;
        const own = game.players.get(game.ownId);
        setText(
          this.e.notice,
          `Another player here is also called “${own.name}”. The scoreboard adds ids: you are #${game.ownId}, in blue.`,
        );
      }
    }
    this.e.notice.hidden = !(game && this.noticeUntil > nowMs);
  }

  updateStatus(frame, game) {
    const own = frame && frame.own;
    this.e.status.hidden = !own;
    if (!own) return;
    const h = own.dead ? 0 : own.health;
    const f = h / 100;
    this.e.healthFill.style.width = `${(f * 100).toFixed(0)}%`;
    this.e.healthFill.style.backgroundColor = f > 0.55 ? 'var(--green)' : f > 0.3 ? 'var(--amber)' : 'var(--red)';
    setText(this.e.healthText, own.dead ? 'dead' : `${h} / 100`);
    setText(this.e.scoreText, `${own.score} ${own.score === 1 ? 'point' : 'points'}`);
    setText(this.e.killsText, game ? killsLine(game.kills) : '');
  }

  updateDeath(frame) {
    const d = frame && frame.death;
    this.e.death.hidden = !d;
    if (!d) return;
    setText(this.e.deathBy, d.killer ? `by ${d.killer} (marked in red)` : '');
    setText(this.e.deathTimer, d.remaining > 0 ? `Respawning in ${d.remaining.toFixed(1)} s` : 'Respawning…');
  }

  updateScoreboard(game) {
    const rows = game.scoreboard();
    const ownIndex = rows.findIndex((r) => r.own);
    let shown = rows.slice(0, SCOREBOARD_ROWS);
    if (ownIndex >= SCOREBOARD_ROWS) shown = [...shown.slice(0, SCOREBOARD_ROWS - 1), rows[ownIndex]];
    const key = shown.map((r) => `${r.id}:${r.name}:${r.score}:${r.dead}:${r.inView}`).join('|');
    setText(this.e.scoreCount, `${rows.length} seen`);
    if (key === this.scoreKey) return;
    this.scoreKey = key;
    const list = this.e.scoreList;
    list.replaceChildren();
    for (const r of shown) {
      const li = el('li', `${r.own ? 'own' : ''} ${r.inView ? '' : 'away'}`.trim());
      if (!r.inView) li.title = 'out of view: score as last seen';
      li.append(el('span', 'rank', String(rows.indexOf(r) + 1)));
      const sw = el('span', 'swatch');
      sw.style.background = r.own ? 'var(--blue)' : playerColor(r.id);
      li.append(sw, el('span', `who${r.dead ? ' dead' : ''}`, r.label), el('span', 'pts', String(r.score)));
      list.append(li);
    }
  }

  updateFeed(frame, game) {
    const feed = frame ? frame.feed : [];
    const key = feed.map((f) => `${f.tick}:${f.type}:${f.killer?.id}:${f.victim?.id}`).join('|');
    if (key === this.feedKey) return;
    this.feedKey = key;
    const own = game.ownId;
    const name = (p) => el('span', p.id === own ? 'me' : '', p.id === own ? `${p.name} (you)` : p.name);
    const list = this.e.feed;
    list.replaceChildren();
    for (const f of feed) {
      const mine = f.killer?.id === own || f.victim?.id === own;
      const li = el('li', `${mine ? 'mine' : ''} ${f.type === 'drone' ? 'minor' : ''}`.trim());
      if (f.type === 'kill') li.append(name(f.killer), el('span', 'shot'), name(f.victim));
      else if (f.type === 'drone') li.append(name(f.killer), el('span', 'shot'), el('span', 'drone', 'drone'));
      else if (f.type === 'death') li.append(name(f.victim), el('span', 'dim', 'was destroyed'));
      list.append(li);
    }
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

  updateNetgraph(game, frame, conn, nowMs) {
    const s = conn ? conn.stats : null;
    const kbit = (w) => `${((w.perSecond(nowMs) * 8) / 1000).toFixed(1)} kbit/s`;
    const rate = game ? game.settings.rate : null;
    setText(this.stat('ping', 'ping'), s && s.rttMs !== null ? `${s.rttMs.toFixed(1)} ms` : '–');
    setText(this.stat('snaps', 'snapshots'), s ? `${s.snapshots.perSecond(nowMs).toFixed(0)}/s${rate ? ` of ${rate}` : ''}` : '–');
    setText(this.stat('in', 'in'), s ? kbit(s.bytesIn) : '–');
    setText(this.stat('out', 'out'), s ? kbit(s.bytesOut) : '–');
    const inView = game && game.latest ? game.latest.entities.size : 0;
    setText(this.stat('entities', 'entities'), game ? `${inView} in view` : '–');
    const sync = this.stat('sync', 'keyframes');
    setText(sync, s ? `${s.keyframes} · desyncs ${s.desyncs}` : '–');
    sync.className = s && s.desyncs ? 'bad' : '';
    sync.title = s && s.lastProblem ? `last: ${s.lastProblem}` : '';
    setText(
      this.stat('interp', 'interp'),
      game ? `${((game.delayTicks * 1000) / game.tickRate).toFixed(0)} ms behind` : '–',
    );
    const p = game ? game.predictor : null;
    setText(this.stat('pred', 'prediction'), p ? `err ${(p.lastError * 100).toFixed(1)} cm · ${p.pending.length} unacked` : '–');
    setText(this.stat('tick', 'tick'), game && game.latest ? `${game.latest.tick} @ ${game.tickRate} Hz` : '–');
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
