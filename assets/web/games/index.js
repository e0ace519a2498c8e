// The games this client can play, by the name a Welcome's schema announces. A game
// module (see games/arena/index.js) gives its name, key help, controls, and makers of
// its model (sdk/session.js says what a model does), renderer and HUD.

import arena from './arena/index.js';
import ball from './ball/index.js';

export const GAMES = Object.freeze({ [arena.name]: arena, [ball.name]: ball });

/** The module of game `name`, or null for a game this client does not know. */
export function gameModule(name) {
  return Object.hasOwn(GAMES, name) ? GAMES[name] : null;
}
