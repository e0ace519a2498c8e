//! Game constants. Clients need the movement ones to predict; the rest are here so that
//! documentation, bots and the server cannot disagree about them.

/// Half the side of a player's square collision box, in metres.
pub const PLAYER_RADIUS: f64 = 0.5;
/// Top speed of a player, in metres per second.
pub const PLAYER_MAX_SPEED: f64 = 6.0;
/// How fast a player's velocity turns towards the intended one, in m/s².
pub const PLAYER_ACCEL: f64 = 40.0;
/// Health a player (re)spawns with.
pub const PLAYER_MAX_HEALTH: u8 = 100;
/// Seconds a dead player waits before respawning.
pub const RESPAWN_DELAY_S: f64 = 2.0;

/// Seconds between two shots of one player.
pub const FIRE_COOLDOWN_S: f64 = 0.25;
/// Projectile speed in metres per second.
pub const PROJECTILE_SPEED: f64 = 20.0;
/// Seconds a projectile flies before it disappears.
pub const PROJECTILE_LIFETIME_S: f64 = 0.8;
/// Half the side of a projectile's box, in metres. Every collision size is a whole number
/// of position steps (1/64 m), so an entity stopped flush against a wall stays exactly
/// there once its position is quantised.
pub const PROJECTILE_RADIUS: f64 = 10.0 / 64.0;
/// Health a hit removes.
pub const PROJECTILE_DAMAGE: u8 = 20;

/// Half the side of a drone's collision box, in metres (40 position steps).
pub const DRONE_RADIUS: f64 = 40.0 / 64.0;
/// Drone cruising speed in metres per second.
pub const DRONE_SPEED: f64 = 2.0;
/// Health a drone spawns with.
pub const DRONE_MAX_HEALTH: u8 = 40;

/// Button bit: fire.
pub const BUTTON_FIRE: u8 = 1;

/// Converts a duration in seconds to a whole number of ticks (at least one), so that
/// cooldowns and lifetimes are counted in ticks and never read from a clock.
pub fn seconds_to_ticks(seconds: f64, tick_rate: u16) -> u32 {
    let ticks = (seconds * f64::from(tick_rate)).round();
    // The constants above are small and positive, so the cast cannot truncate.
    (ticks as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_to_ticks_rounds_and_never_returns_zero() {
        assert_eq!(seconds_to_ticks(0.25, 60), 15);
        assert_eq!(seconds_to_ticks(0.8, 20), 16);
        assert_eq!(seconds_to_ticks(0.001, 60), 1);
    }
}
