//! Quantisation: how continuous simulation values become the integers on the wire.
//!
//! Both directions are defined here so that every peer rounds identically. Rounding is
//! `floor(x + 0.5)` rather than Rust's `round` (half away from zero) because JavaScript's
//! `Math.round` rounds halves up; this way the browser client matches bit for bit.

/// Position steps per metre: 1/64 m ≈ 1.6 cm, well under a pixel at the web client's zoom.
pub const POS_SCALE: f64 = 64.0;
/// Velocity steps per metre per second.
pub const VEL_SCALE: f64 = 64.0;
/// Angle steps per full turn (the whole `u16` range).
pub const ANGLE_STEPS: f64 = 65536.0;

/// Rounds half up, identically to JavaScript's `Math.round`.
fn round_half_up(x: f64) -> f64 {
    (x + 0.5).floor()
}

/// Saturating conversion: `as` saturates for floats and maps NaN to 0, which is what we
/// want for values that can only come from our own simulation.
fn to_i32(x: f64) -> i32 {
    round_half_up(x) as i32
}

/// A real value to fixed point with `scale` steps per unit (a schema's `Fixed` kind).
pub fn to_fixed(x: f64, scale: f64) -> i32 {
    to_i32(x * scale)
}

/// Metres to position steps.
pub fn pos_to_q(metres: f64) -> i32 {
    to_i32(metres * POS_SCALE)
}

/// Position steps to metres.
pub fn q_to_pos(q: i32) -> f64 {
    f64::from(q) / POS_SCALE
}

/// Metres per second to velocity steps.
pub fn vel_to_q(mps: f64) -> i32 {
    to_i32(mps * VEL_SCALE)
}

/// Velocity steps to metres per second.
pub fn q_to_vel(q: i32) -> f64 {
    f64::from(q) / VEL_SCALE
}

/// Longest stretch a trajectory is extrapolated, in ticks (2^20: 4.8 hours at 60 Hz;
/// real trajectories last seconds). The bound keeps every intermediate value of
/// [`advance`] below 2^53, so JavaScript's doubles compute it exactly too, and no payload
/// can make it overflow.
pub const MAX_ADVANCE_TICKS: i64 = 1 << 20;

/// Moves a position (steps) by a velocity (steps per second) for `ticks` ticks
/// (clamped to ±[`MAX_ADVANCE_TICKS`]), rounding half up. Integer arithmetic only, so
/// every peer gets the same result.
pub fn advance(pos: i32, vel: i32, ticks: i64, tick_rate: u16) -> i32 {
    let rate = i64::from(tick_rate.max(1));
    let num = i64::from(vel) * ticks.clamp(-MAX_ADVANCE_TICKS, MAX_ADVANCE_TICKS);
    // floor((2·num + rate) / (2·rate)) = round-half-up of num / rate; |2·num| ≤ 2^52.
    let moved = (2 * num + rate).div_euclid(2 * rate);
    (i64::from(pos) + moved).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Moves a position (steps) by the mean of two velocities (steps per second) for
/// `ticks` ticks (clamped as in [`advance`]), rounding half up: where a body that went
/// from `v0` to `v1` at a steady acceleration ends up. Integer arithmetic only; every
/// intermediate value stays below 2^53, as in [`advance`].
pub fn advance_mean(pos: i32, v0: i32, v1: i32, ticks: i64, tick_rate: u16) -> i32 {
    let rate = i64::from(tick_rate.max(1));
    let num = (i64::from(v0) + i64::from(v1)) * ticks.clamp(-MAX_ADVANCE_TICKS, MAX_ADVANCE_TICKS);
    // floor((num + rate) / (2·rate)) = round-half-up of num / (2·rate).
    let moved = (num + rate).div_euclid(2 * rate);
    (i64::from(pos) + moved).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Radians to a `u16` fraction of a turn (wrapping, so any angle is valid).
pub fn angle_to_q(radians: f64) -> u16 {
    let turns = radians / std::f64::consts::TAU;
    let frac = turns - turns.floor();
    (round_half_up(frac * ANGLE_STEPS) as u32 & 0xFFFF) as u16
}

/// A `u16` fraction of a turn to radians in `[0, 2π)`.
pub fn q_to_angle(q: u16) -> f64 {
    f64::from(q) / ANGLE_STEPS * std::f64::consts::TAU
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn halves_round_up_like_javascript() {
        assert_eq!(pos_to_q(0.5 / POS_SCALE), 1);
        assert_eq!(pos_to_q(-0.5 / POS_SCALE), 0);
        assert_eq!(pos_to_q(-1.5 / POS_SCALE), -1);
    }

    #[test]
    fn advance_rounds_half_up_and_handles_negatives() {
        assert_eq!(advance(0, 64, 60, 60), 64);
        assert_eq!(advance(0, 30, 1, 60), 1); // 0.5 rounds up
        assert_eq!(advance(0, -30, 1, 60), 0); // -0.5 rounds up too
        assert_eq!(advance(0, -31, 1, 60), -1);
        assert_eq!(advance(100, 7, -3, 60), 100);
    }

    #[test]
    fn advance_mean_moves_by_the_mean_velocity() {
        // 0 to 6 m/s (384 steps/s) over 3 ticks at 60 Hz: 192 · 3 / 60 = 9.6 steps.
        assert_eq!(advance_mean(0, 0, 384, 3, 60), 10);
        assert_eq!(advance_mean(0, 0, -384, 3, 60), -10);
        // Equal velocities: exactly `advance`; half a step rounds up.
        assert_eq!(
            advance_mean(6400, 384, 384, 3, 60),
            advance(6400, 384, 3, 60)
        );
        assert_eq!(advance_mean(0, 30, 30, 1, 60), 1);
        assert_eq!(advance_mean(0, -30, -30, 1, 60), 0);
        assert_eq!(advance_mean(0, 29, 30, 1, 60), 0);
        // Bounded and saturating as `advance`.
        assert_eq!(advance_mean(0, i32::MAX, i32::MAX, i64::MAX, 1), i32::MAX);
        assert_eq!(advance_mean(0, i32::MIN, i32::MIN, i64::MAX, 1), i32::MIN);
    }

    proptest! {
        #[test]
        fn advance_mean_of_one_velocity_is_advance(pos: i32, vel: i32, ticks: i64, rate: u16) {
            prop_assert_eq!(advance_mean(pos, vel, vel, ticks, rate), advance(pos, vel, ticks, rate));
        }

        #[test]
        fn advance_never_overflows(pos: i32, vel: i32, ticks: i64, rate: u16) {
            let moved = advance(pos, vel, ticks, rate);
            // Beyond the bound the entity stays where the bound put it.
            let bounded = ticks.clamp(-MAX_ADVANCE_TICKS, MAX_ADVANCE_TICKS);
            prop_assert_eq!(moved, advance(pos, vel, bounded, rate));
        }
    }

    #[test]
    fn angles_wrap() {
        assert_eq!(angle_to_q(0.0), 0);
        assert_eq!(angle_to_q(std::f64::consts::TAU), 0);
        assert_eq!(angle_to_q(-std::f64::consts::FRAC_PI_2), 49152);
    }

    proptest! {
        #[test]
        fn position_error_is_at_most_half_a_step(m in -10_000.0f64..10_000.0) {
            let back = q_to_pos(pos_to_q(m));
            prop_assert!((back - m).abs() <= 0.5 / POS_SCALE + 1e-12);
        }

        #[test]
        fn quantised_positions_round_trip_exactly(q in -1_000_000i32..1_000_000) {
            prop_assert_eq!(pos_to_q(q_to_pos(q)), q);
            prop_assert_eq!(vel_to_q(q_to_vel(q)), q);
        }

        #[test]
        fn quantised_angles_round_trip_exactly(q: u16) {
            prop_assert_eq!(angle_to_q(q_to_angle(q)), q);
        }
    }
}
