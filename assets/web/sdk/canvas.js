// The canvas every game draws on: its size (following the window and the pixel ratio),
// a camera (metres to CSS pixels), and drawing helpers for what every map has (walls,
// bounds, a grid) and many games want (health bars, labels, an off-screen marker).
// Browser-only (canvas 2D); no game state.

/** Pixels per metre at least; larger windows zoom in so the view stays inside the AOI. */
export const MIN_PX_PER_M = 24;
/** Fraction of the AOI radius the view's half-diagonal may cover (entities pop in beyond). */
const VIEW_IN_AOI = 0.92;
export const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

export class Viewport {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.width = 0;
    this.height = 0;
    this.dpr = 1;
  }

  /** Matches the backing store to the window (called every frame: cheap when unchanged). */
  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    const pw = Math.max(1, Math.round(w * dpr));
    const ph = Math.max(1, Math.round(h * dpr));
    if (this.canvas.width !== pw || this.canvas.height !== ph) {
      this.canvas.width = pw;
      this.canvas.height = ph;
    }
    this.width = w;
    this.height = h;
    this.dpr = dpr;
  }

  /** Clears to `color` in CSS pixel coordinates. */
  clear(color) {
    const ctx = this.ctx;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = color;
    ctx.fillRect(0, 0, this.width, this.height);
  }

  /**
   * Pixels per metre that keep the view inside an area of interest of `aoiM` metres, at
   * least `minPxPerM` (a game whose things are small needs more).
   */
  scaleForAoi(aoiM, minPxPerM = MIN_PX_PER_M) {
    const halfDiag = Math.hypot(this.width, this.height) / 2;
    return Math.max(minPxPerM, halfDiag / (aoiM * VIEW_IN_AOI));
  }

  /**
   * A camera centred on (`cx`, `cy`) metres at `s` pixels per metre: `{s, ox, oy, x0,
   * x1, y0, y1, sx(x), sy(y), visible(x, y, margin)}` (x0..y1: the metres in view).
   */
  camera(cx, cy, s) {
    const ox = this.width / 2 - cx * s;
    const oy = this.height / 2 - cy * s;
    const x0 = cx - this.width / 2 / s;
    const x1 = cx + this.width / 2 / s;
    const y0 = cy - this.height / 2 / s;
    const y1 = cy + this.height / 2 / s;
    return {
      s,
      ox,
      oy,
      x0,
      x1,
      y0,
      y1,
      sx: (x) => ox + x * s,
      sy: (y) => oy + y * s,
      visible: (x, y, m) => x > x0 - m && x < x1 + m && y > y0 - m && y < y1 + m,
    };
  }

  /** Veils the picture: not connected, what is drawn is the last known state, not the game now. */
  dim() {
    this.ctx.fillStyle = 'rgba(6, 8, 12, 0.55)';
    this.ctx.fillRect(0, 0, this.width, this.height);
  }
}

/** Grid lines every `step` metres over the visible part of the map. */
export function drawGrid(ctx, map, v, step, color, width, height) {
  ctx.strokeStyle = color;
  ctx.lineWidth = 1;
  ctx.beginPath();
  const xa = Math.max(0, Math.ceil(v.x0 / step) * step);
  const xb = Math.min(map.width, v.x1);
  const top = Math.max(0, v.oy);
  const bottom = Math.min(height, v.oy + map.height * v.s);
  for (let x = xa; x <= xb; x += step) {
    const px = Math.round(v.ox + x * v.s) + 0.5;
    ctx.moveTo(px, top);
    ctx.lineTo(px, bottom);
  }
  const ya = Math.max(0, Math.ceil(v.y0 / step) * step);
  const yb = Math.min(map.height, v.y1);
  const left = Math.max(0, v.ox);
  const right = Math.min(width, v.ox + map.width * v.s);
  for (let y = ya; y <= yb; y += step) {
    const py = Math.round(v.oy + y * v.s) + 0.5;
    ctx.moveTo(left, py);
    ctx.lineTo(right, py);
  }
  ctx.stroke();
}

/** The map's walls in view, with a drop shadow and a lighter top edge. */
export function drawWalls(ctx, map, v, { wall, top, shadow }) {
  const { s, ox, oy } = v;
  const walls = map.walls.filter((w) => w.maxX > v.x0 && w.minX < v.x1 && w.maxY > v.y0 && w.minY < v.y1);
  const d = Math.max(3, 0.25 * s);
  ctx.fillStyle = shadow;
  for (const w of walls) ctx.fillRect(ox + w.minX * s + d, oy + w.minY * s + d, (w.maxX - w.minX) * s, (w.maxY - w.minY) * s);
  ctx.fillStyle = wall;
  for (const w of walls) ctx.fillRect(ox + w.minX * s, oy + w.minY * s, (w.maxX - w.minX) * s, (w.maxY - w.minY) * s);
  ctx.strokeStyle = top;
  ctx.lineWidth = 1.5;
  for (const w of walls) ctx.strokeRect(ox + w.minX * s + 0.75, oy + w.minY * s + 0.75, (w.maxX - w.minX) * s - 1.5, (w.maxY - w.minY) * s - 1.5);
}

/** The map's outer bounds. */
export function drawBounds(ctx, map, v, color) {
  ctx.strokeStyle = color;
  ctx.lineWidth = 3;
  ctx.strokeRect(v.ox - 1.5, v.oy - 1.5, map.width * v.s + 3, map.height * v.s + 3);
}

/** A bar of `frac` (0..1) centred on `cx`, green to amber to red as it empties. */
export function drawHealth(ctx, cx, y, w, h, frac) {
  const f = Math.max(0, Math.min(1, frac));
  ctx.fillStyle = 'rgba(6, 8, 12, 0.75)';
  ctx.fillRect(Math.round(cx - w / 2) - 1, Math.round(y) - 1, w + 2, h + 2);
  ctx.fillStyle = f > 0.55 ? '#3fb950' : f > 0.3 ? '#d29922' : '#f85149';
  ctx.fillRect(Math.round(cx - w / 2), Math.round(y), Math.round(w * f), h);
}

/** A name above an entity, outlined so that it reads on any floor. */
export function drawLabel(ctx, text, x, y, { bold = false, color = '#e6edf3' } = {}) {
  ctx.font = `${bold ? 600 : 500} 12px ${FONT}`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  ctx.lineJoin = 'round';
  ctx.lineWidth = 3;
  ctx.strokeStyle = 'rgba(6, 8, 12, 0.85)';
  ctx.strokeText(text, x, y);
  ctx.fillStyle = color;
  ctx.fillText(text, x, y);
}

/** A dashed circle of `r` pixels: where the server last put the own player (net graph open). */
export function drawGhost(ctx, x, y, r) {
  ctx.strokeStyle = 'rgba(255, 255, 255, 0.5)';
  ctx.setLineDash([3, 3]);
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.arc(x, y, r, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.setLineDash([]);
}

/**
 * Points at (`x`, `y`) on screen: nothing when it is on screen (the caller marks it
 * there), else an arrow at the screen's edge, on the line from (`fromX`, `fromY`).
 * Returns whether the point is on screen.
 */
export function drawEdgeArrow(ctx, x, y, fromX, fromY, width, height, color, margin = 24) {
  const onScreen = x > margin && x < width - margin && y > margin && y < height - margin;
  if (onScreen) return true;
  const a = Math.atan2(y - fromY, x - fromX);
  const ex = Math.min(width - margin, Math.max(margin, fromX + Math.cos(a) * width));
  const ey = Math.min(height - margin, Math.max(margin, fromY + Math.sin(a) * height));
  ctx.save();
  ctx.translate(ex, ey);
  ctx.rotate(a);
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.moveTo(10, 0);
  ctx.lineTo(-8, -8);
  ctx.lineTo(-8, 8);
  ctx.closePath();
  ctx.fill();
  ctx.restore();
  return false;
}
