// The ball game as a game module of the web client: two teams, one ball, goals at both
// ends, timed matches. The page picks it when a Welcome's schema says `game: "ball"`:
//   model.js   the session's picture (players by team, the own one predicted with the
//              shared movement rules, the ball, the match); schema.js reads its
//              components by name;
//   render.js  the pitch;  hud.js  score, clock, phase, rosters;  rules.js  its constants.

import { BallHud } from './hud.js';
import { BallModel } from './model.js';
import { BallRenderer } from './render.js';
import { BUTTON_KICK } from './rules.js';

export default Object.freeze({
  name: 'ball',
  title: 'Ball',
  /** The key help: [keys, what they do]; the page adds its own (net graph, leave). */
  help: [
    ['WASD', 'move'],
    ['mouse', 'aim'],
    ['click', 'kick (Space too)'],
  ],
  /** The arena's controls, with kick for fire, on the primary button or Space. */
  controls: {
    keys: ['Space'],
    buttons: (c) => (c.primary || c.isDown('Space') ? BUTTON_KICK : 0),
  },
  createModel: (session) => new BallModel(session),
  createRenderer: (viewport) => new BallRenderer(viewport),
  createHud: (root, page) => new BallHud(root, page),
});
