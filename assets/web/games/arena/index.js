// The arena as a game module of the web client: a top-down shooter with drones. The page
// picks it when a Welcome's schema says `game: "arena"` and builds its parts:
//   model.js   the session's picture (interpolated others, predicted own player, kill
//              feed, scoreboard, death card); schema.js reads its components by name;
//   render.js  the canvas;  hud.js  the HUD panels;  killfeed.js  kills from snapshots;
//   rules.js   the constants of shared/src/rules.rs the client needs.

import { ArenaHud } from './hud.js';
import { ArenaModel } from './model.js';
import { ArenaRenderer } from './render.js';
import { BUTTON_FIRE } from './rules.js';

export default Object.freeze({
  name: 'arena',
  title: 'Arena',
  /** The key help: [keys, what they do]; the page adds its own (net graph, leave). */
  help: [
    ['WASD', 'move'],
    ['mouse', 'aim'],
    ['click', 'fire (16 m reach)'],
  ],
  /** Which of what the player holds are the arena's buttons: the primary button fires. */
  controls: {
    keys: [],
    buttons: (c) => (c.primary ? BUTTON_FIRE : 0),
  },
  createModel: (session) => new ArenaModel(session),
  createRenderer: (viewport) => new ArenaRenderer(viewport),
  createHud: (root, page) => new ArenaHud(root, page),
});
