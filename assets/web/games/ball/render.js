// Draws a frame of the ball game (BallModel.frame) on the session's canvas: the pitch
// from the Welcome's map (grass, lines, the goals at both ends, the walls beside them),
// players in their team's colour, the ball (at its holder's feet while held), and the
// kick line of the own player when they have the ball. The camera follows the own
// player but stays on the pitch.
//
// Browser-only (canvas 2D); reads the frame, changes no game state.

import { drawGhost, drawLabel, drawWalls } from '../../sdk/canvas.js';
import { PLAYER_RADIUS } from '../../sdk/movement.js';
import { GOAL_MS } from './model.js';
import { BALL_RADIUS, KICK_ROLL_M, TEAMS, goals } from './rules.js';

const COLORS = {
  void: '#06080c',
  grass: '#1d5b2f',
  grassDark: '#1a5229',
  line: 'rgba(235, 245, 235, 0.75)',
  wall: '#2b3440',
  wallTop: '#3d4856',
  wallShadow: 'rgba(0, 0, 0, 0.35)',
  net: 'rgba(240, 246, 252, 0.35)',
};
/** Width of the grass stripes, in metres. */
const STRIPE_M = 4;
/** Centre circle radius, in metres. */
const CENTRE_CIRCLE_M = 4.5;
/** Least pixels per metre (the arena's 24 hides half the pitch on a laptop). */
const MIN_PX_PER_M = 16;
/** Room left around the pitch when it is fitted to the window, in metres. */
const PITCH_MARGIN_M = 3;

const teamOf = (t) => TEAMS[t] ?? TEAMS[0];

/** The camera's centre: on the own player, but never showing beyond the pitch on an axis it does not fit. */
export function cameraCentre(target, view, map) {
  const axis = (p, half, size) => (2 * half >= size ? size / 2 : Math.min(size - half, Math.max(half, p)));
  return { x: axis(target.x, view.halfW, map.width), y: axis(target.y, view.halfH, map.height) };
}

/**
 * Pixels per metre: the whole pitch in view when the window allows (a player reads the
 * game from where everyone is), but never below MIN_PX_PER_M, and never showing beyond
 * the area of interest (entities would pop in there).
 */
export function pitchScale(vp, aoiM, map) {
  const fit = Math.min(vp.width / (map.width + PITCH_MARGIN_M), vp.height / (map.height + PITCH_MARGIN_M));
  return Math.max(vp.scaleForAoi(aoiM, MIN_PX_PER_M), fit);
}

export class BallRenderer {
  constructor(viewport) {
    this.vp = viewport;
    this.ctx = viewport.ctx;
    /** Pixels per metre of the last frame drawn. */
    this.scale = 0;
  }

  /**
   * Draws `frame` of `session` at `nowMs`; `aimRad` is the own player's aim now. Returns
   * the own player's screen position (where aiming is measured from), or null.
   */
  draw(frame, session, nowMs, aimRad, options = {}) {
    const ctx = this.ctx;
    const vp = this.vp;
    vp.clear(COLORS.void);
    if (!session || !frame) return null;

    const s = (this.scale = pitchScale(vp, session.aoiM, session.map));
    const map = session.map;
    const target = frame.own ?? { x: map.width / 2, y: map.height / 2 };
    const cam = cameraCentre(target, { halfW: vp.width / 2 / s, halfH: vp.height / 2 / s }, map);
    const v = vp.camera(cam.x, cam.y, s);
    const { sx, sy } = v;

    this.drawPitch(map, v);
    this.drawGoals(map, v, frame.goal, nowMs);
    drawWalls(ctx, map, v, { wall: COLORS.wall, top: COLORS.wallTop, shadow: COLORS.wallShadow });

    const holder = frame.ball?.holder ?? 0;
    const own = frame.own;
    if (own && holder === own.id) this.drawKickLine(sx(own.x), sy(own.y), s, aimRad);
    for (const p of frame.players) {
      if (v.visible(p.x, p.y, 2)) this.drawPlayer(sx(p.x), sy(p.y), s, p.angle, teamOf(p.team), false, p.id === holder);
    }
    if (own) {
      this.drawPlayer(sx(own.x), sy(own.y), s, aimRad, teamOf(own.team), true, own.id === holder);
      if (options.showServer) drawGhost(ctx, sx(own.serverX), sy(own.serverY), PLAYER_RADIUS * s);
    }
    const b = frame.ball;
    if (b && b.x !== null) {
      // A held ball sits at its holder's feet, on the side they face.
      let { x, y } = b;
      if (b.holder !== 0) {
        const facing = own && b.holder === own.id ? aimRad : frame.players.find((p) => p.id === b.holder)?.angle ?? 0;
        x += Math.cos(facing) * (PLAYER_RADIUS + BALL_RADIUS);
        y += Math.sin(facing) * (PLAYER_RADIUS + BALL_RADIUS);
      }
      this.drawBall(sx(x), sy(y), s);
    }
    for (const p of frame.players) {
      if (v.visible(p.x, p.y, 2)) drawLabel(ctx, p.name, sx(p.x), sy(p.y) - PLAYER_RADIUS * s - 4);
    }
    if (own) drawLabel(ctx, own.name, sx(own.x), sy(own.y) - PLAYER_RADIUS * s - 4, { bold: true, color: '#ffffff' });
    if (options.dim) vp.dim();
    return own ? { x: sx(own.x), y: sy(own.y) } : null;
  }

  drawPitch(map, v) {
    const ctx = this.ctx;
    const { s, sx, sy } = v;
    // Mown stripes across the length: they show movement even far from any line.
    for (let x = 0, i = 0; x < map.width; x += STRIPE_M, i++) {
      ctx.fillStyle = i % 2 ? COLORS.grassDark : COLORS.grass;
      ctx.fillRect(sx(x), sy(0), Math.min(STRIPE_M, map.width - x) * s + 0.5, map.height * s);
    }
    const [left, right] = goals(map.width, map.height);
    const x0 = left.x1;
    const x1 = right.x0;
    const midY = map.height / 2;
    ctx.strokeStyle = COLORS.line;
    ctx.lineWidth = Math.max(1.5, 0.12 * s);
    ctx.beginPath();
    ctx.rect(sx(x0), sy(0), (x1 - x0) * s, map.height * s);
    ctx.moveTo(sx(map.width / 2), sy(0));
    ctx.lineTo(sx(map.width / 2), sy(map.height));
    ctx.moveTo(sx(map.width / 2) + CENTRE_CIRCLE_M * s, sy(midY));
    ctx.arc(sx(map.width / 2), sy(midY), CENTRE_CIRCLE_M * s, 0, 2 * Math.PI);
    // Penalty areas: 16 m wide (or the pitch's height), 6 m deep.
    const half = Math.min(map.height, 16) / 2;
    const depth = Math.min(6, (x1 - x0) / 4);
    ctx.rect(sx(x0), sy(midY - half), depth * s, 2 * half * s);
    ctx.rect(sx(x1 - depth), sy(midY - half), depth * s, 2 * half * s);
    ctx.stroke();
    ctx.fillStyle = COLORS.line;
    ctx.beginPath();
    ctx.arc(sx(map.width / 2), sy(midY), Math.max(2, 0.2 * s), 0, 2 * Math.PI);
    ctx.fill();
  }

  /** The goal pockets, in the colour of the team defending each, flashing after a goal in one. */
  drawGoals(map, v, goal, nowMs) {
    const ctx = this.ctx;
    const { s, sx, sy } = v;
    for (const g of goals(map.width, map.height)) {
      const team = teamOf(g.team);
      const x = sx(g.x0);
      const y = sy(g.y0);
      const w = (g.x1 - g.x0) * s;
      const h = (g.y1 - g.y0) * s;
      // A goal for team t went into the other team's pocket.
      const scoredIn = goal && goal.team !== g.team;
      const flash = scoredIn ? 0.5 + 0.5 * Math.sin((nowMs - goal.at) / 90) * (1 - (nowMs - goal.at) / GOAL_MS) : 0;
      ctx.fillStyle = `${team.color}${Math.round((0.28 + 0.5 * Math.max(0, flash)) * 255).toString(16).padStart(2, '0')}`;
      ctx.fillRect(x, y, w, h);
      // The net.
      ctx.strokeStyle = COLORS.net;
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let i = 0.5; i < (g.y1 - g.y0) / 0.5; i++) {
        ctx.moveTo(x, y + i * 0.5 * s);
        ctx.lineTo(x + w, y + i * 0.5 * s);
      }
      for (let i = 0.5; i < (g.x1 - g.x0) / 0.5; i++) {
        ctx.moveTo(x + i * 0.5 * s, y);
        ctx.lineTo(x + i * 0.5 * s, y + h);
      }
      ctx.stroke();
      // Posts.
      ctx.fillStyle = '#f5f7fa';
      const post = Math.max(3, 0.25 * s);
      const lineX = g.team === 0 ? x + w : x;
      ctx.fillRect(lineX - post / 2, y - post / 2, post, post);
      ctx.fillRect(lineX - post / 2, y + h - post / 2, post, post);
    }
  }

  drawPlayer(x, y, s, angle, team, own, holding) {
    const ctx = this.ctx;
    const r = PLAYER_RADIUS * s;
    if (holding) {
      ctx.fillStyle = 'rgba(255, 255, 255, 0.18)';
      ctx.beginPath();
      ctx.arc(x, y, r * 1.7, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.fillStyle = team.color;
    ctx.fill();
    ctx.lineWidth = own ? 2.5 : 1.5;
    ctx.strokeStyle = own ? '#ffffff' : 'rgba(0, 0, 0, 0.55)';
    ctx.stroke();
    // Where they face (and would kick).
    ctx.strokeStyle = team.light;
    ctx.lineWidth = Math.max(2, 0.14 * s);
    ctx.lineCap = 'round';
    ctx.beginPath();
    ctx.moveTo(x + Math.cos(angle) * r * 0.35, y + Math.sin(angle) * r * 0.35);
    ctx.lineTo(x + Math.cos(angle) * r * 0.9, y + Math.sin(angle) * r * 0.9);
    ctx.stroke();
  }

  drawBall(x, y, s) {
    const ctx = this.ctx;
    const r = Math.max(4, BALL_RADIUS * s * 1.15);
    ctx.fillStyle = 'rgba(0, 0, 0, 0.35)';
    ctx.beginPath();
    ctx.ellipse(x + r * 0.3, y + r * 0.45, r, r * 0.8, 0, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillStyle = '#f8fafc';
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.fill();
    ctx.strokeStyle = '#1f2328';
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }

  /** Where a kick would go: a dashed line as far as a kick rolls on open ground (24 m). */
  drawKickLine(x, y, s, aimRad) {
    const ctx = this.ctx;
    const c = Math.cos(aimRad);
    const n = Math.sin(aimRad);
    const from = PLAYER_RADIUS * s * 1.8;
    const to = KICK_ROLL_M * s;
    ctx.strokeStyle = 'rgba(255, 255, 255, 0.6)';
    ctx.lineWidth = 1.5;
    ctx.setLineDash([6, 6]);
    ctx.beginPath();
    ctx.moveTo(x + c * from, y + n * from);
    ctx.lineTo(x + c * to, y + n * to);
    ctx.stroke();
    ctx.setLineDash([]);
  }
}
