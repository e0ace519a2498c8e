// The ball game's rules the client needs: shared/src/games/ball/mod.rs, by hand
// (rules.test.mjs checks them against that file). Players move by the shared movement
// rules (sdk/movement.js), as in every game.

/** Input button bit: kick (taken on the press; the server ignores it held down). */
export const BUTTON_KICK = 1;
/** Half the side of the ball's square, in metres. */
export const BALL_RADIUS = 16 / 64;
/** Speed of a kicked ball (m/s), the speed it loses at each friction step, and how often. */
export const KICK_SPEED = 20;
export const FRICTION_STEP = 4;
export const FRICTION_INTERVAL_S = 0.4;
/**
 * How far a kick rolls on open ground, in metres: what the kick line shows. A kick slows
 * 20, 16, 12, 8, 4 m/s, one friction step every 0.4 s: 24 m (rules.test.mjs derives it).
 */
export const KICK_ROLL_M = 24;
/** Length of a match and of the pauses after a goal and after a match, in seconds. */
export const MATCH_S = 180;
export const GOAL_PAUSE_S = 3;
export const END_PAUSE_S = 6;
/** A goal pocket: this deep behind its line and this wide, centred on the map's height. */
export const GOAL_DEPTH = 2;
export const GOAL_WIDTH = 8;

/** Teams as the `team` field says (Team::Left = 0 defends x = 0, Team::Right = 1). */
export const TEAMS = Object.freeze([
  Object.freeze({ index: 0, side: 'left', name: 'Blue', color: '#4c9bff', light: '#a5cbff' }),
  Object.freeze({ index: 1, side: 'right', name: 'Orange', color: '#f0883e', light: '#ffc08f' }),
]);

/** Match phases as the `phase` field says. */
export const Phase = Object.freeze({ PLAYING: 0, GOAL: 1, ENDED: 2 });

/**
 * The goal mouths on a map of `width` × `height` metres (the goals are defined by the
 * map's size, not its walls): `[{team, x0, x1, y0, y1}]`, the team being the one that
 * defends it.
 */
export function goals(width, height) {
  const y0 = height / 2 - GOAL_WIDTH / 2;
  const y1 = height / 2 + GOAL_WIDTH / 2;
  return [
    { team: 0, x0: 0, x1: GOAL_DEPTH, y0, y1 },
    { team: 1, x0: width - GOAL_DEPTH, x1: width, y0, y1 },
  ];
}
