// Tickwire web client: wires the lobby, the connection, the session and the game the
// server runs together, and runs the frame loop.
//
//   sdk/         what every game uses, naming none of them:
//     net.js       WebSocket session: seat reservation, snapshots decoded through the
//                  Welcome's schema, inputs at the tick rate, reconnection (resume
//                  within the grace period, else a fresh join: reconnect.js decides;
//                  a room gone meanwhile is replaced by another: relocate.js)
//     session.js   one session's model: snapshot buffer, render tick, prediction hook,
//                  the game's model fed with decoded entities
//     interp.js    server tick clock, interpolation by motion model;  inputclock.js
//     predict.js   own-player prediction and reconciliation;  movement.js  the rules
//     controls.js  keyboard and mouse;  canvas.js  viewport and drawing helpers
//     entities.js  reading entities by component and field names
//   games/       one directory per game (games/index.js lists them), picked by the
//                Welcome's `schema.game`: its model, renderer, HUD and controls
//   codec.js     the wire format (protocol v4);  ui.js  lobby, banner, net graph, help

import { gameModule } from './games/index.js';
import { Viewport } from './sdk/canvas.js';
import { Controls } from './sdk/controls.js';
import { Connection, State } from './sdk/net.js';
import { Session } from './sdk/session.js';
import { Ui, wsUrl } from './ui.js';

/** How long "room X is gone; joined Y" stays on the notice line. */
const RELOCATED_NOTICE_MS = 8000;

const canvas = document.getElementById('view');
const viewport = new Viewport(canvas);

const page = {
  conn: null,
  /** The session (sdk/session.js) and the parts of its game, from the Welcome on. */
  session: null,
  game: null,
  renderer: null,
  hud: null,
  room: null,
  state: State.IDLE,
  info: {},
  frame: null,
  frames: 0,
};

const ui = new Ui({
  onJoin: join,
  onLeave: () => leave(''),
  onRetry: () => page.conn?.retryNow(),
});

const controls = new Controls(canvas, (code) => {
  if (code === 'KeyN') ui.toggleNetgraph();
  else if (code === 'Escape' && page.conn) leave('');
});

/** Builds (or keeps) the renderer, HUD, controls and help of game module `game`. */
function useGame(game) {
  if (page.game === game) return;
  page.hud?.destroy();
  page.game = game;
  page.renderer = game.createRenderer(viewport);
  page.hud = game.createHud(ui.e.gameHud, ui);
  controls.mapping = game.controls;
  ui.setHelp(game.help);
}

function dropGame() {
  page.hud?.destroy();
  page.hud = null;
  page.game = null;
  page.renderer = null;
  controls.mapping = { buttons: () => 0, keys: [] };
}

function join(room, name) {
  leave(null);
  page.room = room;
  const conn = new Connection({
    room,
    name,
    wsUrl,
    sampleInput: () => controls.sample(),
    handlers: {
      onState(state, info) {
        if (page.conn !== conn) return;
        page.state = state;
        page.info = { ...info, since: performance.now() };
        controls.enabled = state === State.CONNECTED;
        if (state !== State.CONNECTED) controls.reset();
        if (state === State.FAILED) leave(info.why);
      },
      onWelcome(welcome, now, view) {
        if (page.conn !== conn) return;
        const game = gameModule(welcome.schema.game);
        if (!game) {
          leave(`This client cannot play “${welcome.schema.game}”, the game of this room.`);
          return;
        }
        // A resumed session is the same player (same entity) from a new keyframe: a new
        // session, so that prediction and interpolation start over from it. The last
        // frame was drawn from the old one: dropped, so nothing reads it as the new one's.
        useGame(game);
        page.session = new Session(welcome, view, game);
        page.frame = null;
      },
      onSnapshot(tick, entities, lastInputSeq, now) {
        if (page.conn === conn) page.session?.onSnapshot(tick, entities, lastInputSeq, now);
      },
      onSettings(settings) {
        if (page.conn === conn) page.session?.onSettings(settings);
      },
      onInput(seq, inp, now) {
        if (page.conn === conn) page.session?.onInput(seq, inp, now);
      },
      onRelocated(from, to, why) {
        // The room was gone after a lost connection; the connection joins `to` instead.
        if (page.conn !== conn) return;
        page.room = to;
        ui.notice(why, RELOCATED_NOTICE_MS);
      },
    },
  });
  page.conn = conn;
  conn.start();
}

/** Ends the session; `error` null means "joining another", '' back to the lobby quietly. */
function leave(error) {
  const conn = page.conn;
  page.conn = null;
  page.session = null;
  page.frame = null;
  page.state = State.IDLE;
  controls.enabled = false;
  controls.reset();
  dropGame();
  if (conn) conn.stop();
  if (error !== null) ui.showLobby(error);
}

function frame(now) {
  viewport.resize();
  const session = page.session;
  page.frame = session ? session.frame(now) : null;
  if (page.renderer && session) {
    controls.origin = page.renderer.draw(page.frame, session, now, controls.aimRad, {
      showServer: ui.netgraphOn,
      dim: page.state !== State.CONNECTED,
    });
  } else {
    viewport.clear('#06080c');
    controls.origin = null;
  }
  ui.setConnection(page.state, page.info, now, page.room);
  if (session) page.hud?.update(session, page.frame, now);
  ui.update(session, page.frame, page.conn, now);
  page.frames++;
  requestAnimationFrame(frame);
}

// A read-only window into the client for tests and curious players (copies, no handles),
// plus test hooks.
Object.defineProperty(window, '__tickwire', {
  value: Object.freeze({
    get state() {
      return page.state;
    },
    get frames() {
      return page.frames;
    },
    /** The game of the session, as its schema names it (null before a Welcome). */
    get game() {
      return page.session ? page.session.welcome.schema.game : null;
    },
    /** The session's replication schema, as the Welcome carried it. */
    get schema() {
      return page.session ? structuredClone(page.session.welcome.schema) : null;
    },
    /** Sessions that took back the own player after a lost connection. */
    get resumes() {
      return page.conn ? page.conn.resumes : 0;
    },
    /** For tests: stop answering on the socket and reconnect (a lost connection to the server). */
    simulateLoss() {
      page.conn?.simulateLoss();
    },
    get ownId() {
      return page.session ? page.session.ownId : null;
    },
    /** The own player as drawn (predicted) and as the server last said, in metres. */
    get own() {
      const o = page.frame?.own;
      return o ? structuredClone({ ...o }) : null;
    },
    /** Other players drawn in the last frame. */
    get players() {
      return (page.frame?.entities ?? [])
        .filter((e) => e.kind === 'Player')
        .map((e) => ({ id: e.id, name: e.name, x: e.x, y: e.y, dead: e.dead, team: e.team }));
    },
    /** Entities drawn in the last frame, by kind. */
    get counts() {
      const c = {};
      for (const e of page.frame?.entities ?? []) c[e.kind] = (c[e.kind] ?? 0) + 1;
      return c;
    },
    /** What the game's model tells tests of itself (its `inspect`), a copy. */
    get view() {
      const m = page.session?.model;
      return m?.inspect ? structuredClone(m.inspect(page.frame)) : null;
    },
    /** Screen position (CSS pixels) of a point of the world in metres, as last drawn. */
    toScreen(x, y) {
      const o = page.frame?.own;
      const at = controls.origin;
      const s = page.renderer?.scale;
      return o && at && s ? { x: at.x + (x - o.x) * s, y: at.y + (y - o.y) * s } : null;
    },
    get stats() {
      const s = page.conn?.stats;
      const p = page.session?.predictor;
      return {
        snapshots: s ? s.keyframes + s.deltas + s.fullSnapshots : 0,
        keyframes: s ? s.keyframes : 0,
        desyncs: s ? s.desyncs : 0,
        rttMs: s ? s.rttMs : null,
        inputsSent: page.conn ? page.conn.seq : 0,
        predictionMaxErrorM: p ? p.maxError : 0,
        predictionSnaps: p ? p.snaps : 0,
        predictionCorrections: p ? p.corrections : 0,
        reconciles: p ? p.reconciles : 0,
        recentCorrections: p ? p.recent.map((c) => ({ ...c })) : [],
        skippedTicks: s ? s.skippedTicks : 0,
      };
    },
  }),
});

requestAnimationFrame(frame);
ui.showLobby('');
