// Tickwire web client: wires the lobby, the connection, the game model, the renderer and
// the HUD together and runs the frame loop.
//
//   net.js       WebSocket session: seat reservation, snapshots, inputs at the tick rate,
//                reconnection (resume within the grace period, else a fresh join)
//   game.js      one session's model: interpolation, prediction, kill feed, scoreboard
//   interp.js    snapshot buffer, server tick clock, interpolation of remote entities
//   predict.js   own-player prediction and reconciliation
//   movement.js  the server's movement rules, bit for bit
//   killfeed.js  kills derived from consecutive snapshots
//   codec.js     the wire format (protocol v3)
//   render.js    canvas drawing;  ui.js  lobby and HUD;  controls.js  keyboard and mouse

import { Controls } from './controls.js';
import { Game } from './game.js';
import { Connection, State } from './net.js';
import { Renderer } from './render.js';
import { Ui, wsUrl } from './ui.js';

const canvas = document.getElementById('view');
const renderer = new Renderer(canvas);

const session = {
  conn: null,
  game: null,
  room: null,
  state: State.IDLE,
  info: {},
  frame: null,
  frames: 0,
};

const ui = new Ui({
  onJoin: join,
  onLeave: () => leave(''),
  onRetry: () => session.conn?.retryNow(),
});

const controls = new Controls(canvas, (code) => {
  if (code === 'KeyN') ui.toggleNetgraph();
  else if (code === 'Escape' && session.conn) leave('');
});

function join(room, name) {
  leave(null);
  session.room = room;
  const conn = new Connection({
    room,
    name,
    wsUrl,
    sampleInput: () => controls.sample(),
    handlers: {
      onState(state, info) {
        if (session.conn !== conn) return;
        session.state = state;
        session.info = { ...info, since: performance.now() };
        controls.enabled = state === State.CONNECTED;
        if (state !== State.CONNECTED) controls.reset();
        if (state === State.FAILED) leave(info.why);
      },
      onWelcome(welcome) {
        // A resumed session is the same player (same entity) from a new keyframe: a new
        // model, so that prediction and interpolation start over from it. The last frame
        // was drawn from the old model: dropped, so nothing reads it as the new one's.
        if (session.conn === conn) {
          session.game = new Game(welcome);
          session.frame = null;
        }
      },
      onSnapshot(tick, entities, lastInputSeq, now) {
        if (session.conn === conn) session.game?.onSnapshot(tick, entities, lastInputSeq, now);
      },
      onSettings(settings) {
        if (session.conn === conn) session.game?.onSettings(settings);
      },
      onInput(seq, inp, now) {
        if (session.conn === conn) session.game?.onInput(seq, inp, now);
      },
    },
  });
  session.conn = conn;
  conn.start();
}

/** Ends the session; `error` null means "joining another", '' back to the lobby quietly. */
function leave(error) {
  const conn = session.conn;
  session.conn = null;
  session.game = null;
  session.frame = null;
  session.state = State.IDLE;
  controls.enabled = false;
  controls.reset();
  if (conn) conn.stop();
  if (error !== null) ui.showLobby(error);
}

function frame(now) {
  renderer.resize();
  const game = session.game;
  session.frame = game ? game.frame(now) : null;
  controls.origin = renderer.draw(session.frame, game, now, controls.aimRad, {
    showServer: ui.netgraphOn,
    dim: session.game !== null && session.state !== State.CONNECTED,
  });
  ui.setConnection(session.state, session.info, now, session.room);
  ui.update(game, session.frame, session.conn, now);
  session.frames++;
  requestAnimationFrame(frame);
}

// A read-only window into the client for tests and curious players (copies, no handles),
// plus one test hook.
Object.defineProperty(window, '__tickwire', {
  value: Object.freeze({
    get state() {
      return session.state;
    },
    get frames() {
      return session.frames;
    },
    /** Sessions that took back the own player after a lost connection. */
    get resumes() {
      return session.conn ? session.conn.resumes : 0;
    },
    /** For tests: stop answering on the socket and reconnect (a lost connection to the server). */
    simulateLoss() {
      session.conn?.simulateLoss();
    },
    get ownId() {
      return session.game ? session.game.ownId : null;
    },
    /** The own player as drawn (predicted) and as the server last said, in metres. */
    get own() {
      const o = session.frame?.own;
      return o ? { x: o.x, y: o.y, serverX: o.serverX, serverY: o.serverY, health: o.health, dead: o.dead, name: o.name } : null;
    },
    /** Other players drawn in the last frame. */
    get players() {
      return (session.frame?.entities ?? [])
        .filter((e) => e.kind === 'Player')
        .map((e) => ({ id: e.id, name: e.name, x: e.x, y: e.y, dead: e.dead }));
    },
    get counts() {
      const c = { Player: 0, Drone: 0, Projectile: 0 };
      for (const e of session.frame?.entities ?? []) c[e.kind]++;
      return c;
    },
    get stats() {
      const s = session.conn?.stats;
      const p = session.game?.predictor;
      return {
        snapshots: s ? s.keyframes + s.deltas + s.fullSnapshots : 0,
        keyframes: s ? s.keyframes : 0,
        desyncs: s ? s.desyncs : 0,
        rttMs: s ? s.rttMs : null,
        inputsSent: session.conn ? session.conn.seq : 0,
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
