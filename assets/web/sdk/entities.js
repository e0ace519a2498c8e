// Reading a game's entities by the names its schema gives them: the one door through
// which game modules reach the codec's entity helpers, so that they never depend on
// where sdk/codec.js lives. Nothing here names a game's component or field.
//
// A game module looks its fields up once per session (`lookup`), then reads every
// entity through the references it got: a missing component or field (an older or
// newer server) reads as null rather than throwing, and the game decides what that means.

export {
  ANGLE_STEPS,
  angleToQ,
  getField,
  getMotion,
  getText,
  hasComponent,
  positionAt,
  qToAngle,
} from './codec.js';

/**
 * Looks up components and fields by name: `spec` is `{key: 'Component'}` for a
 * component (its index, -1 if the schema has none) or `{key: ['Component', 'field']}`
 * for a field (its reference for getField / getText / getMotion, or null).
 */
export function lookup(layout, spec) {
  const out = {};
  for (const [key, what] of Object.entries(spec)) {
    out[key] = Array.isArray(what) ? layout.field(what[0], what[1]) : layout.component(what);
  }
  return out;
}

/** Names in `spec` the layout lacks: for a clear error when a server's schema is not the game's. */
export function missing(layout, spec) {
  const refs = lookup(layout, spec);
  return Object.keys(spec).filter((k) => refs[k] === null || refs[k] === -1).map((k) => [].concat(spec[k]).join('.'));
}

/**
 * Caches what a game derives from an entity object. Views share unchanged entity
 * objects from snapshot to snapshot (a change makes a new object), so deriving once per
 * object costs nothing for the entities that did not change.
 */
export function memo(derive) {
  const cache = new WeakMap();
  return (e) => {
    let v = cache.get(e);
    if (v === undefined) {
      v = derive(e);
      cache.set(e, v);
    }
    return v;
  };
}
