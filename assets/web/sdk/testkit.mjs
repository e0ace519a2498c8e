// Test helper (not a test: node --test does not pick it up): builds entities of a
// layout by component and field names, as the codec would decode them, so that tests of
// games and of the SDK can write `entity(layout, 7, {Body: {motion: {x: 640}}})`.

import { Layout } from './codec.js';

const NO_MOTION = { anchor: 0, x: 0, y: 0, vx: 0, vy: 0 };

/**
 * An entity of `layout` with id `id` and the components named in `values`, each
 * `{field: value}`: a number for integer kinds (an angle in steps, a flag as 0/1), a
 * string for texts, `{anchor, x, y, vx, vy}` (wire steps, missing ones 0) for motions.
 * Fields not given are 0 or ''. Throws on a name the layout does not have.
 */
export function entity(layout, id, values = {}) {
  const e = layout.empty(id);
  for (const [component, fields] of Object.entries(values)) {
    const c = layout.component(component);
    if (c < 0) throw new Error(`no component ${component}`);
    e.present |= 1 << c;
    for (const [name, value] of Object.entries(fields ?? {})) {
      const ref = layout.field(component, name);
      if (ref === null) throw new Error(`no field ${component}.${name}`);
      const i = ref.slot.index;
      if (ref.slot.type === 'Text') e.texts[i] = value;
      else if (ref.slot.type === 'Motion') {
        const m = { ...NO_MOTION, ...value };
        e.ints.splice(i, 5, m.anchor, m.x, m.y, m.vx, m.vy);
      } else e.ints[i] = value;
    }
  }
  return e;
}

/** A Layout from a schema, for tests. */
export function layoutOf(schema) {
  return new Layout(schema);
}

/** A Welcome as a test server would send it (map and rates in wire units). */
export function welcomeOf(schema, { entity: own = 1, tickRate = 60, snapshotRate = 20, map = null, aoiM = 48 } = {}) {
  const m = (metres) => metres * 64;
  return {
    client_id: 1,
    entity: own,
    tick_rate: tickRate,
    snapshot_rate: snapshotRate,
    map: map ?? { name: 't', width: m(100), height: m(100), walls: [] },
    aoi_radius: m(aoiM),
    packing: 'Bits',
    settings: { rate: snapshotRate, max_bytes_per_sec: 32768 },
    room: 'test',
    player: 'p',
    resume_token: '',
    resume_grace_s: 0,
    schema,
    resumed: false,
  };
}
