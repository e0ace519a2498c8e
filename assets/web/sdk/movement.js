// Player movement and collision, ported from shared/src/movement.rs for prediction: the
// rules every game's players move by on the server (the arena's and the ball game's alike).
//
// The port must reproduce the server bit for bit, or every snapshot would pull the
// predicted player back by a little: so only `+ - * /` and Math.sqrt on doubles (which
// IEEE 754 rounds identically in Rust and JavaScript), in exactly the Rust operation
// order, and no shortcuts such as Math.hypot (not correctly rounded) or Math.min/max on
// mixed signs of zero. testdata/movement.json (written by shared/tests/movement_golden.rs)
// holds the Rust results; movement.test.mjs compares every step bit for bit.
//
// Pure functions on plain objects: kinematics are `{x, y, vx, vy}` in metres and metres
// per second; a map is what `mapFromInfo` makes of Welcome.map.

import { qToPos } from './codec.js';

/** Half the side of a player's square, in metres (shared::rules::PLAYER_RADIUS). */
export const PLAYER_RADIUS = 0.5;
/** Top speed in m/s (shared::rules::PLAYER_MAX_SPEED). */
export const PLAYER_MAX_SPEED = 6.0;
/** Velocity change towards the intended one, m/s² (shared::rules::PLAYER_ACCEL). */
export const PLAYER_ACCEL = 40.0;
/** Slack for round-off when resting exactly against a wall (movement.rs EPS). */
const EPS = 1e-9;

/**
 * Welcome.map (position steps) → the map prediction collides with, in metres. The
 * division by 64 is exact, so these are the very numbers the server collides against.
 */
export function mapFromInfo(info) {
  return {
    name: info.name,
    width: qToPos(info.width),
    height: qToPos(info.height),
    walls: info.walls.map((w) => ({
      minX: qToPos(w.min_x),
      minY: qToPos(w.min_y),
      maxX: qToPos(w.max_x),
      maxY: qToPos(w.max_y),
    })),
  };
}

/**
 * The unit-or-shorter direction an intent asks for, as `[x, y]`: (127, 0) is full speed
 * right; longer vectors (keyboard diagonals, -128) are normalised to length one.
 */
export function intentDirection(moveX, moveY) {
  const len2 = moveX * moveX + moveY * moveY;
  if (len2 === 0) return [0, 0];
  const scale = len2 > 127 * 127 ? 1 / Math.sqrt(len2) : 1 / 127;
  return [moveX * scale, moveY * scale];
}

/** One simulation step of a player (shared::movement::step_player). */
export function stepPlayer(k, moveX, moveY, map, dt) {
  const [dx, dy] = intentDirection(moveX, moveY);
  const tx = dx * PLAYER_MAX_SPEED;
  const ty = dy * PLAYER_MAX_SPEED;
  const ex = tx - k.vx;
  const ey = ty - k.vy;
  const err = Math.sqrt(ex * ex + ey * ey);
  const maxChange = PLAYER_ACCEL * dt;
  let vx;
  let vy;
  if (err > maxChange) {
    const s = maxChange / err;
    vx = k.vx + ex * s;
    vy = k.vy + ey * s;
  } else {
    vx = tx;
    vy = ty;
  }
  return moveAndCollide({ x: k.x, y: k.y, vx, vy }, PLAYER_RADIUS, map, dt).k;
}

/**
 * Moves a square of half-side `r` by its velocity for `dt` seconds, stopping at walls
 * and the map's bounds; a stopped axis's velocity becomes 0. Returns `{k, hitX, hitY}`.
 * Each axis is swept over the whole step, so nothing tunnels at any tick rate.
 */
export function moveAndCollide(k, r, map, dt) {
  let hitX = false;
  let hitY = false;

  let nx = k.x + k.vx * dt;
  for (const w of map.walls) {
    const beside = k.y - r < w.maxY - EPS && k.y + r > w.minY + EPS;
    if (!beside) continue;
    if (nx > k.x && k.x + r <= w.minX + EPS && nx + r > w.minX) {
      nx = w.minX - r;
      hitX = true;
    } else if (nx < k.x && k.x - r >= w.maxX - EPS && nx - r < w.maxX) {
      nx = w.maxX + r;
      hitX = true;
    }
  }
  if (nx < r) {
    nx = r;
    hitX = true;
  } else if (nx > map.width - r) {
    nx = map.width - r;
    hitX = true;
  }

  let ny = k.y + k.vy * dt;
  for (const w of map.walls) {
    // With the new x, as in Rust: the y sweep sees where the x sweep left the square.
    const beside = nx - r < w.maxX - EPS && nx + r > w.minX + EPS;
    if (!beside) continue;
    if (ny > k.y && k.y + r <= w.minY + EPS && ny + r > w.minY) {
      ny = w.minY - r;
      hitY = true;
    } else if (ny < k.y && k.y - r >= w.maxY - EPS && ny - r < w.maxY) {
      ny = w.maxY + r;
      hitY = true;
    }
  }
  if (ny < r) {
    ny = r;
    hitY = true;
  } else if (ny > map.height - r) {
    ny = map.height - r;
    hitY = true;
  }

  return {
    k: { x: nx, y: ny, vx: hitX ? 0 : k.vx, vy: hitY ? 0 : k.vy },
    hitX,
    hitY,
  };
}
