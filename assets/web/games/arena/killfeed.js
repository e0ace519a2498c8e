// Kills, deaths and respawns, derived from consecutive snapshots.
//
// The protocol has no kill message, so the feed is inferred from what the views show
// (PROTOCOL.md, "Game rules": a kill scores 1; a killed player gets the dead flag, a
// killed drone is removed):
//   - a player whose dead flag appears was killed; the killer is a player whose score
//     went up in the same snapshot; with several candidates, the one whose projectile
//     vanished closest to the victim (the shot that hit);
//   - a drone that vanishes well inside the area of interest (so it did not just leave
//     it) while someone's score went up was destroyed by them;
//   - a score that went up with no victim in view is a kill out of view.
// It is a reconstruction: a victim outside the area of interest has no name, and two
// kills in one snapshot interval by two shooters may be paired the wrong way round.
//
// Pure module: maps of the arena's entity records (schema.js) in, events out.

import { positionAt } from '../../sdk/entities.js';

/** A drone vanishing farther out than this fraction of the AOI radius may have left it. */
const INSIDE_AOI = 0.9;
/** Position steps within which a vanished projectile counts as the one that hit. */
const HIT_STEPS = 3 * 64;

const isDead = (e) => e.dead;

function dist2(ax, ay, bx, by) {
  return (ax - bx) * (ax - bx) + (ay - by) * (ay - by);
}

/**
 * Events from the view `prev` to the view `next` (Maps from id to record, wire units) at
 * snapshot tick `tick`. `own` is the own player's id (the AOI is centred on it) and
 * `aoiRadius` the Welcome's, in position steps. Returns a list of
 *   {type: 'kill', tick, killer, victim, x, y}      a player killed a player
 *   {type: 'drone', tick, killer, x, y}             a player destroyed a drone
 *   {type: 'death', tick, victim, x, y}             a player died, killer not seen
 *   {type: 'score', tick, killer}                   a kill out of view
 *   {type: 'respawn', tick, player, x, y}
 * where killer, victim and player are `{id, name}`.
 */
export function deriveEvents(prev, next, { tick, tickRate, own, aoiRadius }) {
  const events = [];
  if (!prev || prev.size === 0) return events;
  const who = (e) => ({ id: e.id, name: e.name });

  // Kills each player was credited with in this snapshot.
  const credits = new Map();
  const victims = [];
  for (const e of next.values()) {
    if (e.kind !== 'Player') continue;
    const p = prev.get(e.id);
    if (!p || p.kind !== 'Player') continue;
    const gained = (e.score - p.score) >>> 0;
    if (gained > 0 && gained < 1000) credits.set(e.id, { entity: e, left: gained });
    if (isDead(e) && !isDead(p)) victims.push(e);
    else if (!isDead(e) && isDead(p)) events.push({ type: 'respawn', tick, player: who(e), x: e.x, y: e.y });
  }

  // Where projectiles vanished (at this tick), by owner: the evidence of who hit what.
  const spent = [];
  for (const p of prev.values()) {
    if (p.kind !== 'Projectile' || next.has(p.id)) continue;
    const [x, y] = positionAt(p, tick, tickRate, 'Trajectory');
    spent.push({ owner: p.owner, x, y });
  }

  /** The credited killer most likely to have hit (x, y), taking one of their credits. */
  function takeKiller(x, y, victimId) {
    let best = null;
    let bestD = Infinity;
    for (const s of spent) {
      const c = credits.get(s.owner);
      if (!c || c.left === 0 || s.owner === victimId) continue;
      const d = dist2(s.x, s.y, x, y);
      if (d <= HIT_STEPS * HIT_STEPS && d < bestD) {
        best = c;
        bestD = d;
      }
    }
    if (!best) {
      const left = [...credits.values()].filter((c) => c.left > 0 && c.entity.id !== victimId);
      // Without evidence, a lone candidate is still the killer; several are a guess we
      // do not make for players (a wrong name is worse than none), but do for drones.
      if (left.length === 1 || (left.length > 1 && victimId === null)) best = left[0];
    }
    if (best) best.left--;
    return best ? best.entity : null;
  }

  for (const v of victims) {
    const killer = takeKiller(v.x, v.y, v.id);
    events.push(
      killer
        ? { type: 'kill', tick, killer: who(killer), victim: who(v), x: v.x, y: v.y }
        : { type: 'death', tick, victim: who(v), x: v.x, y: v.y },
    );
  }

  const me = next.get(own);
  if (me) {
    const r = aoiRadius * INSIDE_AOI;
    for (const d of prev.values()) {
      if (d.kind !== 'Drone' || next.has(d.id)) continue;
      if (![...credits.values()].some((c) => c.left > 0)) break;
      const [x, y] = positionAt(d, tick, tickRate, 'Trajectory');
      if (dist2(x, y, me.x, me.y) > r * r) continue;
      const killer = takeKiller(x, y, null);
      if (killer) events.push({ type: 'drone', tick, killer: who(killer), x, y });
    }
  }

  for (const c of credits.values()) {
    for (let i = 0; i < c.left; i++) events.push({ type: 'score', tick, killer: who(c.entity) });
  }
  return events;
}
