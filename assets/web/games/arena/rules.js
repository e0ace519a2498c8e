// The arena's rules the client needs: shared/src/rules.rs, by hand (rules.test.mjs
// checks those the golden vectors carry, bit for bit, and the others against the Rust
// source).

/** Input button bits (shared::rules::BUTTON_FIRE): the arena gives meaning to bit 0 only. */
export const BUTTON_FIRE = 1;
/** Seconds a dead player waits (RESPAWN_DELAY_S), for the countdown. */
export const RESPAWN_DELAY_S = 2;
/** Seconds between shots (FIRE_COOLDOWN_S), for the local muzzle flash. */
export const FIRE_COOLDOWN_S = 0.25;
/** A shot's speed in m/s and life in s (PROJECTILE_SPEED, PROJECTILE_LIFETIME_S). */
export const PROJECTILE_SPEED = 20;
export const PROJECTILE_LIFETIME_S = 0.8;
/** How far a shot reaches, in metres: what the aim line shows. */
export const SHOT_RANGE_M = PROJECTILE_SPEED * PROJECTILE_LIFETIME_S;
/** Sizes in metres (DRONE_RADIUS, PROJECTILE_RADIUS; players: sdk/movement.js). */
export const DRONE_RADIUS = 40 / 64;
export const PROJECTILE_RADIUS = 10 / 64;
/** Full health (PLAYER_MAX_HEALTH, DRONE_MAX_HEALTH). */
export const PLAYER_MAX_HEALTH = 100;
export const DRONE_MAX_HEALTH = 40;
