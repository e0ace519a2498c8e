// Draws a frame of the arena (ArenaModel.frame) on the session's canvas: the floor,
// walls, players, drones, projectiles and effects, with the camera on the own player.
//
// Browser-only (canvas 2D); reads the frame, changes no game state.

import { drawBounds, drawEdgeArrow, drawGhost, drawGrid, drawHealth, drawLabel, drawWalls } from '../../sdk/canvas.js';
import { PLAYER_RADIUS } from '../../sdk/movement.js';
import { EFFECT_MS } from './model.js';
import { DRONE_MAX_HEALTH, DRONE_RADIUS, PLAYER_MAX_HEALTH, PROJECTILE_RADIUS, SHOT_RANGE_M } from './rules.js';

const GRID_MINOR_M = 5;
const GRID_MAJOR_M = 25;

const COLORS = {
  void: '#06080c',
  floor: '#0f141b',
  gridMinor: '#151c25',
  gridMajor: '#1c2530',
  bounds: '#344150',
  wall: '#28323e',
  wallTop: '#3a4757',
  wallShadow: 'rgba(0, 0, 0, 0.35)',
  own: '#58a6ff',
  drone: '#f0883e',
  droneEdge: '#ffb77a',
  shot: '#ffcf70',
  ownShot: '#f5fbff',
  text: '#e6edf3',
  textDim: '#8b949e',
};

/** A stable colour per player id, away from the own player's blue. */
export function playerColor(id) {
  const hues = [350, 20, 45, 95, 140, 170, 265, 300, 325];
  const h = hues[(Math.imul(id + 1, 2654435761) >>> 0) % hues.length];
  return `hsl(${h} 62% 62%)`;
}

export class ArenaRenderer {
  constructor(viewport) {
    this.vp = viewport;
    this.ctx = viewport.ctx;
    /** Pixels per metre of the last frame drawn. */
    this.scale = 0;
  }

  get width() {
    return this.vp.width;
  }

  get height() {
    return this.vp.height;
  }

  /**
   * Draws `frame` of `session` at `nowMs`; `aimRad` is the own player's aim now. Returns
   * the own player's screen position (where aiming is measured from), or null.
   */
  draw(frame, session, nowMs, aimRad, options = {}) {
    const ctx = this.ctx;
    this.vp.clear(COLORS.void);
    if (!session || !frame) return null;

    const s = (this.scale = this.vp.scaleForAoi(session.aoiM));
    const map = session.map;
    const cam = frame.own ? { x: frame.own.x, y: frame.own.y } : { x: map.width / 2, y: map.height / 2 };
    const view = this.vp.camera(cam.x, cam.y, s);
    const { sx, sy } = view;
    const ownId = session.ownId;

    this.drawArena(map, view);
    const visible = (e, m) => view.visible(e.x, e.y, m);

    const players = [];
    for (const e of frame.entities) {
      if (!visible(e, 3)) continue;
      if (e.kind === 'Drone') this.drawDrone(e, sx(e.x), sy(e.y), s);
      else if (e.kind === 'Player') players.push(e);
    }
    // Shots above drones, glowing.
    ctx.globalCompositeOperation = 'lighter';
    for (const e of frame.entities) {
      if (e.kind === 'Projectile' && visible(e, 3)) this.drawShot(e, sx(e.x), sy(e.y), s, e.owner === ownId);
    }
    ctx.globalCompositeOperation = 'source-over';
    if (frame.own && !frame.own.dead) this.drawAim(sx(frame.own.x), sy(frame.own.y), s, aimRad);
    for (const e of players) this.drawPlayer(e, sx(e.x), sy(e.y), s, false, e.angle, playerColor(e.id));
    if (frame.death && frame.death.killerId !== null && frame.own) {
      const killer = players.find((p) => p.id === frame.death.killerId) ?? frame.entities.find((e) => e.id === frame.death.killerId);
      if (killer) this.drawKiller(sx(killer.x), sy(killer.y), s, sx(frame.own.x), sy(frame.own.y), nowMs);
    }
    if (frame.own) {
      this.drawPlayer(frame.own, sx(frame.own.x), sy(frame.own.y), s, true, aimRad, COLORS.own);
      if (options.showServer) drawGhost(ctx, sx(frame.own.serverX), sy(frame.own.serverY), PLAYER_RADIUS * s);
    }
    this.drawEffects(frame, nowMs, sx, sy, s, aimRad);
    for (const e of players) this.drawLabels(e, sx(e.x), sy(e.y), s, false);
    if (frame.own) this.drawLabels(frame.own, sx(frame.own.x), sy(frame.own.y), s, true);
    if (options.dim) this.vp.dim();

    return frame.own ? { x: sx(frame.own.x), y: sy(frame.own.y) } : null;
  }

  drawArena(map, v) {
    const ctx = this.ctx;
    const { s, ox, oy } = v;
    ctx.fillStyle = COLORS.floor;
    ctx.fillRect(ox, oy, map.width * s, map.height * s);

    drawGrid(ctx, map, v, GRID_MINOR_M, COLORS.gridMinor, this.width, this.height);
    drawGrid(ctx, map, v, GRID_MAJOR_M, COLORS.gridMajor, this.width, this.height);
    drawWalls(ctx, map, v, { wall: COLORS.wall, top: COLORS.wallTop, shadow: COLORS.wallShadow });
    drawBounds(ctx, map, v, COLORS.bounds);
  }

  drawDrone(e, x, y, s) {
    const ctx = this.ctx;
    const r = DRONE_RADIUS * s;
    ctx.save();
    ctx.translate(x, y);
    ctx.rotate(e.angle);
    // An arrowhead along its heading: where a drone goes is what a player reads first.
    ctx.beginPath();
    ctx.moveTo(r * 1.15, 0);
    ctx.lineTo(-r * 0.85, r * 0.85);
    ctx.lineTo(-r * 0.45, 0);
    ctx.lineTo(-r * 0.85, -r * 0.85);
    ctx.closePath();
    ctx.fillStyle = COLORS.drone;
    ctx.fill();
    ctx.strokeStyle = COLORS.droneEdge;
    ctx.lineWidth = 1.5;
    ctx.lineJoin = 'round';
    ctx.stroke();
    ctx.restore();
    if (e.health > 0 && e.health < DRONE_MAX_HEALTH) drawHealth(ctx, x, y - r - 7, 22, 3, e.health / DRONE_MAX_HEALTH);
  }

  drawShot(e, x, y, s, own) {
    const ctx = this.ctx;
    const r = Math.max(2.5, PROJECTILE_RADIUS * s);
    const color = own ? COLORS.ownShot : COLORS.shot;
    // A short streak behind it, about 40 ms of flight.
    const tx = x - e.vx * 0.04 * s;
    const ty = y - e.vy * 0.04 * s;
    const grad = ctx.createLinearGradient(tx, ty, x, y);
    grad.addColorStop(0, 'rgba(255, 190, 90, 0)');
    grad.addColorStop(1, own ? 'rgba(230, 245, 255, 0.8)' : 'rgba(255, 200, 110, 0.8)');
    ctx.strokeStyle = grad;
    ctx.lineWidth = r * 1.4;
    ctx.lineCap = 'round';
    ctx.beginPath();
    ctx.moveTo(tx, ty);
    ctx.lineTo(x, y);
    ctx.stroke();
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.fill();
  }

  drawPlayer(e, x, y, s, own, angle, color) {
    const ctx = this.ctx;
    const r = PLAYER_RADIUS * s;
    if (e.dead) {
      // Where the player fell, until the respawn.
      ctx.strokeStyle = 'rgba(139, 148, 158, 0.7)';
      ctx.lineWidth = 3;
      ctx.lineCap = 'round';
      const k = r * 0.7;
      ctx.beginPath();
      ctx.moveTo(x - k, y - k);
      ctx.lineTo(x + k, y + k);
      ctx.moveTo(x + k, y - k);
      ctx.lineTo(x - k, y + k);
      ctx.stroke();
      return;
    }
    // Barrel towards the aim.
    ctx.save();
    ctx.translate(x, y);
    ctx.rotate(angle);
    ctx.fillStyle = own ? '#c9e3ff' : '#c9d1d9';
    ctx.fillRect(r * 0.2, -r * 0.22, r * 1.35, r * 0.44);
    ctx.restore();
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.fillStyle = color;
    ctx.fill();
    ctx.lineWidth = 2;
    ctx.strokeStyle = own ? '#ffffff' : 'rgba(0, 0, 0, 0.55)';
    ctx.stroke();
  }

  /**
   * Where a shot would go: a dashed line along the aim out to the shot's reach
   * (SHOT_RANGE_M), ending in a small ring, so both the direction and how far a shot
   * carries are plain to see.
   */
  drawAim(x, y, s, aimRad) {
    const ctx = this.ctx;
    const c = Math.cos(aimRad);
    const n = Math.sin(aimRad);
    const from = PLAYER_RADIUS * s * 1.8;
    const to = SHOT_RANGE_M * s;
    ctx.strokeStyle = 'rgba(201, 227, 255, 0.55)';
    ctx.lineWidth = 1.5;
    ctx.setLineDash([6, 6]);
    ctx.beginPath();
    ctx.moveTo(x + c * from, y + n * from);
    ctx.lineTo(x + c * to, y + n * to);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.strokeStyle = 'rgba(201, 227, 255, 0.8)';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(x + c * to, y + n * to, 6, 0, 2 * Math.PI);
    ctx.stroke();
  }

  /**
   * Marks the player who killed the own player: a pulsing red ring around them when they
   * are on screen, else an arrow at the screen's edge pointing their way.
   */
  drawKiller(x, y, s, ownX, ownY, nowMs) {
    const ctx = this.ctx;
    const pulse = 0.5 + 0.5 * Math.sin(nowMs / 120);
    ctx.strokeStyle = `rgba(248, 81, 73, ${0.6 + 0.4 * pulse})`;
    ctx.lineWidth = 3;
    if (drawEdgeArrow(ctx, x, y, ownX, ownY, this.width, this.height, ctx.strokeStyle)) {
      ctx.beginPath();
      ctx.arc(x, y, PLAYER_RADIUS * s * (1.8 + 0.3 * pulse), 0, 2 * Math.PI);
      ctx.stroke();
    }
  }


  drawLabels(e, x, y, s, own) {
    const r = PLAYER_RADIUS * s;
    if (!e.dead) drawHealth(this.ctx, x, y - r - 9, 34, 4, e.health / PLAYER_MAX_HEALTH);
    drawLabel(this.ctx, e.name, x, y - r - (e.dead ? 4 : 13), { bold: own, color: e.dead ? COLORS.textDim : own ? '#ffffff' : COLORS.text });
  }

  drawEffects(frame, nowMs, sx, sy, s, aimRad) {
    const ctx = this.ctx;
    for (const fx of frame.effects) {
      const age = Math.min(1, (nowMs - fx.at) / EFFECT_MS);
      if (fx.kind === 'muzzle') {
        if (!frame.own || age > 0.15) continue;
        const d = PLAYER_RADIUS * s * 1.7;
        const x = sx(frame.own.x) + Math.cos(aimRad) * d;
        const y = sy(frame.own.y) + Math.sin(aimRad) * d;
        ctx.globalAlpha = 1 - age / 0.15;
        ctx.fillStyle = '#fff5d6';
        ctx.beginPath();
        ctx.arc(x, y, 0.22 * s, 0, 2 * Math.PI);
        ctx.fill();
        ctx.globalAlpha = 1;
        continue;
      }
      const x = sx(fx.x);
      const y = sy(fx.y);
      const ease = 1 - (1 - age) * (1 - age);
      ctx.globalAlpha = 1 - age;
      if (fx.kind === 'burst') {
        ctx.strokeStyle = fx.player ? '#ff7b72' : COLORS.droneEdge;
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.arc(x, y, (0.4 + 1.6 * ease) * s, 0, 2 * Math.PI);
        ctx.stroke();
        ctx.beginPath();
        for (let i = 0; i < 8; i++) {
          const a = (i * Math.PI) / 4 + 0.3;
          const r0 = (0.3 + 1.0 * ease) * s;
          const r1 = (0.6 + 2.0 * ease) * s;
          ctx.moveTo(x + Math.cos(a) * r0, y + Math.sin(a) * r0);
          ctx.lineTo(x + Math.cos(a) * r1, y + Math.sin(a) * r1);
        }
        ctx.stroke();
      } else if (fx.kind === 'ring') {
        ctx.strokeStyle = '#7ee787';
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.arc(x, y, (1.8 - 1.2 * ease) * s, 0, 2 * Math.PI);
        ctx.stroke();
      }
      ctx.globalAlpha = 1;
    }
  }
}
