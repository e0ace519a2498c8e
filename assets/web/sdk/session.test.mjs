// The generic session: what it hands a game's model (decoded entities, the previous
// snapshot, sampled items, the predicted own position), the render tick, the prediction
// hook, and the granted snapshot rate's delay; with a made-up game that names its
// components only here.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { stepPlayer } from './movement.js';
import { Predictor } from './predict.js';
import { Session } from './session.js';
import { entity, layoutOf, welcomeOf } from './testkit.mjs';

const RATE = 60;
const TICK_MS = 1000 / RATE;
const SCHEMA = {
  game: 'walkers',
  components: [
    { name: 'Walker', fields: [{ name: 'at', kind: { type: 'Motion', model: 'Predicted', scale: 64 } }] },
    { name: 'Frozen', fields: [] },
  ],
};
const layout = layoutOf(SCHEMA);
const walker = (id, x, y, frozen = false) => entity(layout, id, { Walker: { at: { x: x * 64, y: y * 64 } }, ...(frozen ? { Frozen: {} } : {}) });

/** A game that records what it is handed, with or without prediction. */
function recorder({ predict }) {
  const calls = { snapshots: [], frames: [], inputs: [] };
  return {
    calls,
    createModel(session) {
      const frozen = layout.component('Frozen');
      const model = {
        onSnapshot: (s) => calls.snapshots.push(s),
        onInput: (...a) => calls.inputs.push(a),
        frame: (f) => (calls.frames.push(f), { own: f.ownAt, entities: f.items }),
      };
      if (predict) {
        model.predictor = new Predictor({ tickRate: session.tickRate, step: (k, inp, dt) => stepPlayer(k, inp.moveX, inp.moveY, session.map, dt) });
        model.predictionState = (own) => ({ k: { x: own.ints[1] / 64, y: own.ints[2] / 64, vx: 0, vy: 0 }, frozen: (own.present & (1 << frozen)) !== 0 });
      }
      return model;
    },
  };
}

test('the model gets decoded entities by id, the own entity and the previous snapshot', () => {
  const game = recorder({ predict: false });
  const s = new Session(welcomeOf(SCHEMA, { tickRate: RATE }), { layout }, game);
  assert.equal(s.predictor, null);
  assert.equal(s.aoiM, 48);
  assert.equal(s.scale, 64);
  s.onSnapshot(100, [walker(1, 10, 10), walker(2, 20, 20)], 0, 0);
  s.onSnapshot(103, [walker(1, 10, 10), walker(2, 21, 20)], 0, 50);
  const [first, second] = game.calls.snapshots;
  assert.equal(first.before, null);
  assert.deepEqual([...second.entities.keys()], [1, 2]);
  assert.equal(second.own.id, 1);
  assert.equal(second.before.tick, 100);
  // Without prediction the own player is interpolated like the others.
  const f = s.frame(50 + 6 * TICK_MS);
  assert.deepEqual(f.entities.map((it) => it.id), [1, 2]);
  assert.equal(f.own, null);
  assert.equal(typeof f.tick, 'number');
});

test('with the prediction hook the own player is predicted and skipped by the interpolation', () => {
  const game = recorder({ predict: true });
  const s = new Session(welcomeOf(SCHEMA, { tickRate: RATE }), { layout }, game);
  s.onSnapshot(100, [walker(1, 10, 10), walker(2, 20, 20)], 0, 0);
  for (let seq = 1; seq <= 6; seq++) s.onInput(seq, { moveX: 127, moveY: 0, aim: 0, buttons: 0 }, seq * TICK_MS);
  assert.equal(game.calls.inputs.length, 6, 'the model sees the inputs too');
  assert.ok(s.predictor.state.x > 10, 'the predictor stepped the inputs');
  const f = s.frame(7 * TICK_MS);
  assert.deepEqual(f.entities.map((it) => it.id), [2]);
  assert.ok(f.own.x > 10);
  // Frozen by the game's rules: the replay does not move it.
  s.onSnapshot(103, [walker(1, 10, 10, true), walker(2, 20, 20)], 3, 8 * TICK_MS);
  assert.equal(s.predictor.state.x, 10);
});

test('the granted snapshot rate sets the interpolation delay', () => {
  const s = new Session(welcomeOf(SCHEMA, { tickRate: RATE }), { layout }, recorder({ predict: false }));
  assert.equal(s.delayTicks, 6);
  s.onSettings({ rate: 10, max_bytes_per_sec: 32768 });
  assert.equal(s.delayTicks, 12);
});

test('the render tick runs at real speed and slews gently towards its target', () => {
  const s = new Session(welcomeOf(SCHEMA, { tickRate: RATE }), { layout }, recorder({ predict: false }));
  assert.equal(s.advanceRenderTick(100, 0), 100);
  // One tick of real time later, with the target a tick further on: on schedule.
  assert.ok(Math.abs(s.advanceRenderTick(101, TICK_MS) - 101) < 1e-9);
  // The target moved a little: followed at most 8 % faster than real time.
  const t = s.advanceRenderTick(103, 2 * TICK_MS);
  assert.ok(t > 102 && t <= 102 + 0.08 + 1e-9, `${t}`);
  // Far off (a stall): a jump.
  assert.equal(s.advanceRenderTick(500, 3 * TICK_MS), 500);
});
