// The arena's HUD panels: scoreboard, kill feed, death card, health and points (with
// the kills the feed saw), and the notice about a player sharing the own name. Built
// into the page's HUD when an arena session starts, removed when it ends; styled by
// games/arena/hud.css.
//
// Browser-only (DOM). Reads the session's model and frame; changes no game state.

import { playerColor } from './render.js';

const SCOREBOARD_ROWS = 8;
/** How long the notice about a shared name stays up (ms). */
const NOTICE_MS = 8000;

const MARKUP = `
  <aside id="scoreboard" class="panel" aria-label="Scoreboard">
    <h2><span>Scores</span><span id="score-count" class="dim"></span></h2>
    <ol id="score-list"></ol>
  </aside>
  <ul id="killfeed" aria-label="Kill feed"></ul>
  <div id="death" hidden>
    <h2>You were destroyed</h2>
    <p id="death-by"></p>
    <p id="death-timer"></p>
  </div>
  <div id="status" class="panel">
    <div class="health"><div id="health-fill"></div><span id="health-text"></span></div>
    <div id="score" title="1 point per player or drone destroyed">
      <div id="score-text"></div>
      <div id="kills-text" class="dim"></div>
    </div>
  </div>`;

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
 * Under the score (one point per player or drone destroyed, as the server counts them):
 * what the kill feed saw the own player destroy this session.
 */
export function killsLine(kills) {
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  return `${plural(kills.players, 'player', 'players')} · ${plural(kills.drones, 'drone', 'drones')}`;
}

export class ArenaHud {
  /** `root`: the element to build into; `page.notice(text, ms)`: the page's notice line. */
  constructor(root, page) {
    this.page = page;
    this.box = el('div', 'game-hud arena');
    this.box.innerHTML = MARKUP;
    root.append(this.box);
    const $ = (id) => this.box.querySelector(`#${id}`);
    this.e = {
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
    };
    this.feedKey = '';
    this.scoreKey = '';
    /** The own entity the shared-name notice was shown for. */
    this.noticedId = null;
  }

  destroy() {
    this.box.remove();
  }

  /** Refreshes the panels from `frame` of `session` (the frame may be null). */
  update(session, frame, nowMs) {
    const model = session.model;
    this.updateStatus(frame, model);
    this.updateDeath(frame);
    this.updateScoreboard(model);
    this.updateFeed(frame, model);
    this.updateNotice(model, nowMs);
  }

  /**
   * Names are not unique: when another player here has the own player's name, says so
   * once per session for a few seconds (the scoreboard then tells them apart by id).
   */
  updateNotice(model) {
    if (model.ownId === this.noticedId || model.namesakes().length === 0) return;
    this.noticedId = model.ownId;
    const own = model.players.get(model.ownId);
    this.page.notice(`Another player here is also called “${own.name}”. The scoreboard adds ids: you are #${model.ownId}, in blue.`, NOTICE_MS);
  }

  updateStatus(frame, model) {
    const own = frame && frame.own;
    this.e.status.hidden = !own;
    if (!own) return;
    const h = own.dead ? 0 : own.health;
    const f = h / 100;
    this.e.healthFill.style.width = `${(f * 100).toFixed(0)}%`;
    this.e.healthFill.style.backgroundColor = f > 0.55 ? 'var(--green)' : f > 0.3 ? 'var(--amber)' : 'var(--red)';
    setText(this.e.healthText, own.dead ? 'dead' : `${h} / 100`);
    setText(this.e.scoreText, `${own.score} ${own.score === 1 ? 'point' : 'points'}`);
    setText(this.e.killsText, killsLine(model.kills));
  }

  updateDeath(frame) {
    const d = frame && frame.death;
    this.e.death.hidden = !d;
    if (!d) return;
    setText(this.e.deathBy, d.killer ? `by ${d.killer} (marked in red)` : '');
    setText(this.e.deathTimer, d.remaining > 0 ? `Respawning in ${d.remaining.toFixed(1)} s` : 'Respawning…');
  }

  updateScoreboard(model) {
    const rows = model.scoreboard();
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

  updateFeed(frame, model) {
    const feed = frame ? frame.feed : [];
    const key = feed.map((f) => `${f.tick}:${f.type}:${f.killer?.id}:${f.victim?.id}`).join('|');
    if (key === this.feedKey) return;
    this.feedKey = key;
    const own = model.ownId;
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
}
