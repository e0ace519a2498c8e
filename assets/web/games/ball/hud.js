// The ball game's HUD panels: the match (team scores, clock, phase) and the teams'
// players with their goals top left, the goal card high in the middle while play is
// paused, and the own player's team and what to do bottom centre. Built into the page's
// HUD when a ball session starts, removed when it ends; styled by games/ball/hud.css.
//
// Browser-only (DOM). Reads the session's model and frame; changes no game state.

import { Phase, TEAMS } from './rules.js';

const ROSTER_ROWS = 5;

const MARKUP = `
  <aside id="match" class="panel" aria-label="Match">
    <div class="scoreline">
      <span class="team left"></span>
      <span id="match-score" aria-label="Score"></span>
      <span class="team right"></span>
    </div>
    <div class="clockline"><span id="match-clock"></span><span id="match-phase" class="dim"></span></div>
    <div class="rosters"><ol id="roster-left"></ol><ol id="roster-right"></ol></div>
  </aside>
  <div id="goal-card" hidden>
    <h2 id="goal-title"></h2>
    <p id="goal-detail"></p>
  </div>
  <div id="ball-status" class="panel">
    <span id="ball-team"></span>
    <span id="ball-hint" class="dim"></span>
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

/** Seconds as m:ss, rounded up (a clock showing 0:00 has run out). */
export function clockText(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** What the match is doing, in words, and the goal card's `{title, detail}` (null while playing). */
export function phaseText(match, clock, goal) {
  if (!match) return { line: '', card: null };
  const [l, r] = match.score;
  const score = `${TEAMS[0].name} ${l} – ${r} ${TEAMS[1].name}`;
  if (match.phase === Phase.GOAL) {
    const who = goal?.scorer ? `${goal.scorer.name} scores` : 'Goal';
    const team = goal ? TEAMS[goal.team]?.name : null;
    return {
      line: `restart in ${Math.ceil(clock.pause)} s`,
      card: { title: team ? `Goal for ${team}!` : 'Goal!', detail: `${who} · ${score}` },
    };
  }
  if (match.phase === Phase.ENDED) {
    const result = l === r ? 'Draw' : `${TEAMS[l > r ? 0 : 1].name} win`;
    return {
      line: `next match in ${Math.ceil(clock.pause)} s`,
      card: { title: `Full time: ${result}`, detail: `${score} · next match in ${Math.ceil(clock.pause)} s` },
    };
  }
  return { line: 'playing', card: null };
}

export class BallHud {
  /** `root`: the element to build into; `page`: the page (unused: the ball HUD has no notices). */
  constructor(root) {
    this.box = el('div', 'game-hud ball');
    this.box.innerHTML = MARKUP;
    root.append(this.box);
    const $ = (id) => this.box.querySelector(`#${id}`);
    this.e = {
      left: this.box.querySelector('.team.left'),
      right: this.box.querySelector('.team.right'),
      score: $('match-score'),
      clock: $('match-clock'),
      phase: $('match-phase'),
      rosters: [$('roster-left'), $('roster-right')],
      card: $('goal-card'),
      cardTitle: $('goal-title'),
      cardDetail: $('goal-detail'),
      status: $('ball-status'),
      team: $('ball-team'),
      hint: $('ball-hint'),
    };
    setText(this.e.left, TEAMS[0].name);
    setText(this.e.right, TEAMS[1].name);
    this.rosterKey = '';
  }

  destroy() {
    this.box.remove();
  }

  /** Refreshes the panels from `frame` of `session` (the frame may be null). */
  update(session, frame) {
    const model = session.model;
    const match = frame?.match ?? null;
    setText(this.e.score, match ? `${match.score[0]} – ${match.score[1]}` : '–');
    setText(this.e.clock, frame?.clock ? clockText(frame.clock.left) : '');
    const { line, card } = phaseText(match, frame?.clock, frame?.goal ?? model.goal);
    setText(this.e.phase, line);
    this.e.card.hidden = !card;
    if (card) {
      setText(this.e.cardTitle, card.title);
      setText(this.e.cardDetail, card.detail);
    }
    this.updateRosters(model);
    this.updateStatus(frame, model);
  }

  updateRosters(model) {
    const teams = model.teams();
    const key = teams.map((t) => t.map((p) => `${p.id}:${p.name}:${p.goals}:${p.inView}`).join(',')).join('|');
    if (key === this.rosterKey) return;
    this.rosterKey = key;
    teams.forEach((players, t) => {
      const list = this.e.rosters[t];
      list.replaceChildren();
      const ownIndex = players.findIndex((p) => p.own);
      let shown = players.slice(0, ROSTER_ROWS);
      if (ownIndex >= ROSTER_ROWS) shown = [...shown.slice(0, ROSTER_ROWS - 1), players[ownIndex]];
      for (const p of shown) {
        const li = el('li', `${p.own ? 'own' : ''} ${p.inView ? '' : 'away'}`.trim());
        li.append(el('span', 'who', p.name), el('span', 'goals', p.goals ? String(p.goals) : ''));
        list.append(li);
      }
      if (players.length > shown.length) list.append(el('li', 'more dim', `+${players.length - shown.length}`));
    });
  }

  updateStatus(frame, model) {
    const own = frame?.own;
    this.e.status.hidden = !own;
    if (!own) return;
    const team = TEAMS[own.team] ?? TEAMS[0];
    this.e.team.style.color = team.color;
    setText(this.e.team, `${team.name} · attacking ${team.side === 'left' ? '→' : '←'}`);
    const holding = frame.ball && frame.ball.holder === own.id;
    const goals = (own.goals ? ` · ${own.goals} ${own.goals === 1 ? 'goal' : 'goals'}` : '')
      + (own.kicks ? ` · ${own.kicks} ${own.kicks === 1 ? 'kick' : 'kicks'}` : '');
    setText(this.e.hint, (holding ? 'you have the ball: aim and click to kick' : 'touch the ball to take it') + goals);
  }
}
