//! Deterministic movement and collision, run by the server and predicted by clients.
//!
//! Only `+ - * /` and `sqrt` on `f64` are used: IEEE 754 rounds those exactly the same way
//! everywhere, including JavaScript, so a client replaying the same inputs from the same
//! state reaches the same position bit for bit. No trigonometry, no clock.
//!
//! Entities collide as axis-aligned squares. Each axis is swept separately over the whole
//! step, so nothing tunnels through a wall whatever the speed or tick rate.

use crate::map::Map;
use crate::rules::{PLAYER_ACCEL, PLAYER_MAX_SPEED, PLAYER_RADIUS};

/// Slack for floating-point round-off when an entity rests exactly against a wall.
const EPS: f64 = 1e-9;

/// Position (m) and velocity (m/s) of a moving entity.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Kinematics {
    pub x: f64,
    pub y: f64,
    pub vx: f64,
    pub vy: f64,
}

/// Which axes a step was stopped on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hit {
    pub x: bool,
    pub y: bool,
}

impl Hit {
    pub fn any(self) -> bool {
        self.x || self.y
    }
}

/// The unit-or-shorter direction a movement intent asks for. `(127, 0)` is full speed
/// right; longer vectors (keyboard diagonals, `-128`) are normalised to length one.
pub fn intent_direction(move_x: i8, move_y: i8) -> (f64, f64) {
    let (mx, my) = (f64::from(move_x), f64::from(move_y));
    let len2 = mx * mx + my * my;
    if len2 == 0.0 {
        return (0.0, 0.0);
    }
    let scale = if len2 > 127.0 * 127.0 {
        1.0 / len2.sqrt()
    } else {
        1.0 / 127.0
    };
    (mx * scale, my * scale)
}

/// One simulation step of a player: accelerate towards the intended velocity, then move
/// and collide. Velocity never exceeds [`PLAYER_MAX_SPEED`].
pub fn step_player(k: Kinematics, move_x: i8, move_y: i8, map: &Map, dt: f64) -> Kinematics {
    let (dx, dy) = intent_direction(move_x, move_y);
    let (tx, ty) = (dx * PLAYER_MAX_SPEED, dy * PLAYER_MAX_SPEED);
    let (ex, ey) = (tx - k.vx, ty - k.vy);
    let err = (ex * ex + ey * ey).sqrt();
    let max_change = PLAYER_ACCEL * dt;
    let (vx, vy) = if err > max_change {
        // A convex step between the current and the target velocity, so the speed stays
        // below the larger of the two, and the target is never faster than the maximum.
        let s = max_change / err;
        (k.vx + ex * s, k.vy + ey * s)
    } else {
        (tx, ty)
    };
    move_and_collide(Kinematics { vx, vy, ..k }, PLAYER_RADIUS, map, dt).0
}

/// Moves a square of half-side `r` by its velocity for `dt` seconds, stopping at walls and
/// at the map's bounds. The velocity component of a stopped axis becomes zero.
pub fn move_and_collide(k: Kinematics, r: f64, map: &Map, dt: f64) -> (Kinematics, Hit) {
    let mut out = k;
    let mut hit = Hit::default();

    // Walls are looked up around each axis's sweep, widened by a margin far above `EPS`;
    // a wall met twice clamps nothing more the second time.
    const MARGIN: f64 = 1e-6;
    let mut nx = k.x + k.vx * dt;
    let (x0, x1) = (k.x.min(nx) - r - MARGIN, k.x.max(nx) + r + MARGIN);
    let (y0, y1) = (k.y - r - MARGIN, k.y + r + MARGIN);
    map.walls_near((x0, y0), (x1, y1), |w| {
        let beside = k.y - r < w.max_y - EPS && k.y + r > w.min_y + EPS;
        if !beside {
            return;
        }
        if nx > k.x && k.x + r <= w.min_x + EPS && nx + r > w.min_x {
            nx = w.min_x - r;
            hit.x = true;
        } else if nx < k.x && k.x - r >= w.max_x - EPS && nx - r < w.max_x {
            nx = w.max_x + r;
            hit.x = true;
        }
    });
    if nx < r {
        nx = r;
        hit.x = true;
    } else if nx > map.width() - r {
        nx = map.width() - r;
        hit.x = true;
    }
    out.x = nx;
    if hit.x {
        out.vx = 0.0;
    }

    let mut ny = k.y + k.vy * dt;
    let (x0, x1) = (nx - r - MARGIN, nx + r + MARGIN);
    let (y0, y1) = (k.y.min(ny) - r - MARGIN, k.y.max(ny) + r + MARGIN);
    map.walls_near((x0, y0), (x1, y1), |w| {
        let beside = nx - r < w.max_x - EPS && nx + r > w.min_x + EPS;
        if !beside {
            return;
        }
        if ny > k.y && k.y + r <= w.min_y + EPS && ny + r > w.min_y {
            ny = w.min_y - r;
            hit.y = true;
        } else if ny < k.y && k.y - r >= w.max_y - EPS && ny - r < w.max_y {
            ny = w.max_y + r;
            hit.y = true;
        }
    });
    if ny < r {
        ny = r;
        hit.y = true;
    } else if ny > map.height() - r {
        ny = map.height() - r;
        hit.y = true;
    }
    out.y = ny;
    if hit.y {
        out.vy = 0.0;
    }
    (out, hit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::DEFAULT_ARENA_JSON;
    use crate::quant::{pos_to_q, q_to_pos};
    use proptest::prelude::*;

    fn arena() -> Map {
        Map::from_json(DEFAULT_ARENA_JSON).unwrap()
    }

    fn speed(k: &Kinematics) -> f64 {
        (k.vx * k.vx + k.vy * k.vy).sqrt()
    }

    /// `move_and_collide` as it was before walls were indexed: every wall, in order.
    fn against_every_wall(k: Kinematics, r: f64, map: &Map, dt: f64) -> (Kinematics, Hit) {
        let (mut out, mut hit) = (k, Hit::default());
        let mut nx = k.x + k.vx * dt;
        for w in map.walls() {
            if k.y - r < w.max_y - EPS && k.y + r > w.min_y + EPS {
                if nx > k.x && k.x + r <= w.min_x + EPS && nx + r > w.min_x {
                    (nx, hit.x) = (w.min_x - r, true);
                } else if nx < k.x && k.x - r >= w.max_x - EPS && nx - r < w.max_x {
                    (nx, hit.x) = (w.max_x + r, true);
                }
            }
        }
        if nx < r || nx > map.width() - r {
            (nx, hit.x) = (nx.clamp(r, map.width() - r), true);
        }
        out.x = nx;
        if hit.x {
            out.vx = 0.0;
        }
        let mut ny = k.y + k.vy * dt;
        for w in map.walls() {
            if nx - r < w.max_x - EPS && nx + r > w.min_x + EPS {
                if ny > k.y && k.y + r <= w.min_y + EPS && ny + r > w.min_y {
                    (ny, hit.y) = (w.min_y - r, true);
                } else if ny < k.y && k.y - r >= w.max_y - EPS && ny - r < w.max_y {
                    (ny, hit.y) = (w.max_y + r, true);
                }
            }
        }
        if ny < r || ny > map.height() - r {
            (ny, hit.y) = (ny.clamp(r, map.height() - r), true);
        }
        out.y = ny;
        if hit.y {
            out.vy = 0.0;
        }
        (out, hit)
    }

    #[test]
    fn full_intent_reaches_max_speed_and_stops() {
        let map = arena();
        let (sx, sy) = map.spawns()[0];
        let mut k = Kinematics {
            x: sx,
            y: sy,
            ..Default::default()
        };
        for _ in 0..60 {
            k = step_player(k, 0, 127, &map, 1.0 / 60.0);
        }
        assert!((speed(&k) - PLAYER_MAX_SPEED).abs() < 1e-9 || k.vy == 0.0);
        for _ in 0..60 {
            k = step_player(k, 0, 0, &map, 1.0 / 60.0);
        }
        assert_eq!(speed(&k), 0.0);
    }

    #[test]
    fn walls_stop_players_flush() {
        let info = crate::map::MapInfo {
            name: "t".into(),
            width: 20 * 64,
            height: 20 * 64,
            walls: vec![crate::map::WallRect {
                min_x: 10 * 64,
                min_y: 0,
                max_x: 11 * 64,
                max_y: 20 * 64,
            }],
        };
        let map = Map::from_info(info).unwrap();
        let mut k = Kinematics {
            x: 5.0,
            y: 5.0,
            ..Default::default()
        };
        for _ in 0..300 {
            k = step_player(k, 127, 0, &map, 1.0 / 60.0);
        }
        assert_eq!(k.x, 10.0 - PLAYER_RADIUS);
        // A huge step (a 1 Hz tick) must not tunnel either.
        let fast = Kinematics {
            x: 5.0,
            y: 5.0,
            vx: 1000.0,
            vy: 0.0,
        };
        let (after, hit) = move_and_collide(fast, PLAYER_RADIUS, &map, 1.0);
        assert!(hit.x);
        assert_eq!(after.x, 10.0 - PLAYER_RADIUS);
    }

    #[test]
    fn diagonal_intent_is_normalised() {
        let (x, y) = intent_direction(127, 127);
        assert!(((x * x + y * y).sqrt() - 1.0).abs() < 1e-12);
        let (x, y) = intent_direction(-128, 0);
        assert_eq!((x, y), (-1.0, 0.0));
        let (x, _) = intent_direction(64, 0);
        assert!(x < 0.51 && x > 0.5);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn players_never_exceed_max_speed_nor_enter_walls(
            spawn in any::<prop::sample::Index>(),
            inputs in prop::collection::vec((any::<i8>(), any::<i8>(), 1u32..40), 1..40),
            tick_rate in prop::sample::select(vec![10u16, 20, 30, 60, 120]),
        ) {
            let map = arena();
            let &(sx, sy) = spawn.get(map.spawns());
            let dt = 1.0 / f64::from(tick_rate);
            let mut k = Kinematics { x: sx, y: sy, ..Default::default() };
            for (mx, my, repeat) in inputs {
                for _ in 0..repeat {
                    let prev = k;
                    k = step_player(k, mx, my, &map, dt);
                    prop_assert!(speed(&k) <= PLAYER_MAX_SPEED + 1e-9, "speed {}", speed(&k));
                    prop_assert!(
                        !map.walls().iter().any(|w| w.overlaps_square(k.x, k.y, PLAYER_RADIUS, 1e-6)),
                        "entered a wall at {:?} from {:?}", k, prev
                    );
                    prop_assert!(k.x >= PLAYER_RADIUS && k.x <= map.width() - PLAYER_RADIUS);
                    prop_assert!(k.y >= PLAYER_RADIUS && k.y <= map.height() - PLAYER_RADIUS);
                    // Moving from a free spot never jumps across a wall: the swept
                    // segment between the two centres must not pass through one.
                    for w in map.walls() {
                        let crossed_x = (prev.x + PLAYER_RADIUS <= w.min_x + 1e-6 && k.x - PLAYER_RADIUS >= w.max_x - 1e-6)
                            || (prev.x - PLAYER_RADIUS >= w.max_x - 1e-6 && k.x + PLAYER_RADIUS <= w.min_x + 1e-6);
                        let same_band = prev.y - PLAYER_RADIUS < w.max_y && prev.y + PLAYER_RADIUS > w.min_y;
                        prop_assert!(!(crossed_x && same_band), "crossed a wall");
                    }
                }
            }
        }

        #[test]
        fn indexed_walls_stop_exactly_where_every_wall_does(
            x in -5.0f64..210.0, y in -5.0f64..210.0,
            vx in -400.0f64..400.0, vy in -400.0f64..400.0,
            r in prop::sample::select(vec![0.25, 0.5, 1.0, 3.0]),
            dt in prop::sample::select(vec![1.0 / 60.0, 1.0 / 20.0, 0.5]),
        ) {
            let map = arena();
            // Also from points on the position grid, where entities rest against walls.
            for (x, y) in [(x, y), (q_to_pos(pos_to_q(x)), q_to_pos(pos_to_q(y)))] {
                let k = Kinematics { x, y, vx, vy };
                let (a, ha) = move_and_collide(k, r, &map, dt);
                let (b, hb) = against_every_wall(k, r, &map, dt);
                prop_assert_eq!(ha, hb);
                prop_assert_eq!(
                    [a.x, a.y, a.vx, a.vy].map(f64::to_bits),
                    [b.x, b.y, b.vx, b.vy].map(f64::to_bits)
                );
            }
        }

        #[test]
        fn movement_is_deterministic(
            inputs in prop::collection::vec((any::<i8>(), any::<i8>()), 1..100),
        ) {
            let map = arena();
            let (sx, sy) = map.spawns()[0];
            let run = || inputs.iter().fold(
                Kinematics { x: sx, y: sy, ..Default::default() },
                |k, &(mx, my)| step_player(k, mx, my, &map, 1.0 / 60.0),
            );
            let (a, b) = (run(), run());
            prop_assert_eq!(a.x.to_bits(), b.x.to_bits());
            prop_assert_eq!(a.y.to_bits(), b.y.to_bits());
        }
    }
}
