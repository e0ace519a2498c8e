//! Golden vectors for the browser client's movement prediction: input sequences and the
//! kinematics `shared::movement` computes after every step, written to
//! `assets/web/testdata/movement.json`. `assets/web/sdk/movement.test.mjs` replays them with
//! the JavaScript port (`assets/web/sdk/movement.js`) and compares bit for bit.
//!
//! Every `f64` is written as the 16 hex digits of its IEEE 754 bit pattern, so the JSON
//! round-trips exactly and a difference in the last bit (or of the sign of a zero) shows.
//!
//! Like `golden.rs`, the test fails when the committed file differs from what the code
//! produces now; after an intended change of the movement rules, regenerate it:
//!
//! ```sh
//! TICKWIRE_BLESS=1 cargo test -p shared --test movement_golden
//! ```
//!
//! Deterministic: fixed maps and a fixed-seed xorshift generator, no clock, no `rand`.

mod common;

use std::path::PathBuf;

use serde::Serialize;
use shared::map::{DEFAULT_ARENA_JSON, Map, MapInfo, WallRect};
use shared::movement::{Kinematics, intent_direction, move_and_collide, step_player};
use shared::quant::{q_to_pos, q_to_vel};
use shared::rules::{
    DRONE_RADIUS, FIRE_COOLDOWN_S, PLAYER_ACCEL, PLAYER_MAX_SPEED, PLAYER_RADIUS,
    PROJECTILE_LIFETIME_S, PROJECTILE_RADIUS, PROJECTILE_SPEED, RESPAWN_DELAY_S,
};

fn golden_path() -> PathBuf {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    workspace
        .parent()
        .unwrap_or(&workspace)
        .join("assets/web/testdata/movement.json")
}

fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("golden values serialise")
}

fn bits(x: f64) -> String {
    format!("{:016x}", x.to_bits())
}

/// `"x:y:vx:vy"` as bit patterns: one compact string per step keeps the file small.
fn kin(k: &Kinematics) -> String {
    format!("{}:{}:{}:{}", bits(k.x), bits(k.y), bits(k.vx), bits(k.vy))
}

/// xorshift64*: enough randomness for test inputs, identical on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn i8(&mut self) -> i8 {
        // Mostly what keyboards send (-127, 0, 127), sometimes anything (analogue sticks,
        // -128, small vectors that move slower than full speed).
        match self.below(4) {
            0 => (self.below(256) as i64 - 128) as i8,
            1 => 0,
            2 => 127,
            _ => -127,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Maps
// ---------------------------------------------------------------------------------------

fn arena() -> Map {
    Map::from_json(DEFAULT_ARENA_JSON).expect("the default arena loads")
}

/// A small map with the awkward cases: a corridor exactly as wide as a player, walls
/// touching each other and the bounds, a pillar, a wall one position step thick.
fn small_info() -> MapInfo {
    let m = |v: f64| (v * 64.0) as i32;
    let wall = |x: f64, y: f64, w: f64, h: f64| WallRect {
        min_x: m(x),
        min_y: m(y),
        max_x: m(x + w),
        max_y: m(y + h),
    };
    MapInfo {
        name: "small".into(),
        width: m(20.0),
        height: m(16.0),
        walls: vec![
            // A corridor 1 m wide (a player's width) between y = 4 and y = 5.
            wall(4.0, 3.0, 8.0, 1.0),
            wall(4.0, 5.0, 8.0, 1.0),
            // A pillar.
            wall(14.0, 9.0, 2.0, 2.0),
            // Two walls touching, forming an L, and one touching the left bound.
            wall(0.0, 10.0, 6.0, 1.0),
            wall(5.0, 11.0, 1.0, 3.0),
            // One position step thick.
            WallRect {
                min_x: m(9.0),
                min_y: m(8.0),
                max_x: m(9.0) + 1,
                max_y: m(14.0),
            },
        ],
    }
}

fn small() -> Map {
    Map::from_info(small_info()).expect("the small map is valid")
}

// ---------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------

fn intent_cases() -> Vec<String> {
    let mut values: Vec<i8> = vec![
        -128, -127, -126, -90, -64, -1, 0, 1, 2, 63, 64, 89, 90, 126, 127,
    ];
    values.sort_unstable();
    let mut out = Vec::new();
    for &mx in &values {
        for &my in &values {
            let (x, y) = intent_direction(mx, my);
            out.push(format!("[{mx},{my},\"{}\",\"{}\"]", bits(x), bits(y)));
        }
    }
    out
}

struct Collide {
    note: &'static str,
    map: &'static str,
    r: f64,
    dt: f64,
    k: Kinematics,
}

fn collide_cases() -> Vec<Collide> {
    let k = |x, y, vx, vy| Kinematics { x, y, vx, vy };
    let mut cases = vec![
        Collide {
            note: "1 Hz at 1000 m/s into the thin wall: no tunnelling",
            map: "small",
            r: PLAYER_RADIUS,
            dt: 1.0,
            k: k(7.0, 12.0, 1000.0, 0.0),
        },
        Collide {
            note: "from the right into the thin wall",
            map: "small",
            r: PLAYER_RADIUS,
            dt: 1.0,
            k: k(12.0, 12.0, -1000.0, 0.0),
        },
        Collide {
            note: "flush against the thin wall, pushing into it",
            map: "small",
            r: PLAYER_RADIUS,
            dt: 1.0 / 60.0,
            k: k(8.5, 12.0, 6.0, 0.0),
        },
        Collide {
            note: "flush against the thin wall, moving away",
            map: "small",
            r: PLAYER_RADIUS,
            dt: 1.0 / 60.0,
            k: k(8.5, 12.0, -6.0, 0.0),
        },
        Collide {
            note: "a hair (below EPS) inside the wall's face",
            map: "small",
            r: PLAYER_RADIUS,
            dt: 1.0 / 60.0,
            k: k(8.5 + 1e-10, 12.0, 6.0, 0.0),
        },
        Collide {
            note: "sliding along the corridor, exactly as wide as the player",
            map: "small",
            r: PLAYER_RADIUS,
            dt: 1.0 / 60.0,
            k: k(6.0, 4.5, 6.0, 3.0),
        },
        Collide {
            note: "diagonal into the pillar's corner",
            map: "small",
            r: PLAYER_RADIUS,
            dt: 0.25,
            k: k(13.0, 8.0, 6.0, 6.0),
        },
        Collide {
            note: "grazing the pillar's corner: beside on neither axis",
            map: "small",
            r: PLAYER_RADIUS,
            dt: 0.1,
            k: k(13.5, 8.5, 6.0, 6.0),
        },
        Collide {
            note: "drone into the bounds",
            map: "small",
            r: DRONE_RADIUS,
            dt: 1.0,
            k: k(1.0, 1.0, -2.0, -2.0),
        },
        Collide {
            note: "projectile into the L's inner corner",
            map: "small",
            r: PROJECTILE_RADIUS,
            dt: 0.5,
            k: k(3.0, 13.0, 20.0, -20.0),
        },
        Collide {
            note: "projectile past the L's end",
            map: "small",
            r: PROJECTILE_RADIUS,
            dt: 0.05,
            k: k(5.5, 14.5, 0.0, -20.0),
        },
        Collide {
            note: "arena: into the central cross",
            map: "arena",
            r: PLAYER_RADIUS,
            dt: 1.0,
            k: k(80.0, 90.0, 0.0, 50.0),
        },
        Collide {
            note: "arena: out of bounds on both axes",
            map: "arena",
            r: PLAYER_RADIUS,
            dt: 1.0,
            k: k(2.0, 198.0, -100.0, 100.0),
        },
        Collide {
            note: "standing still",
            map: "arena",
            r: PLAYER_RADIUS,
            dt: 1.0 / 60.0,
            k: k(100.5, 50.25, 0.0, 0.0),
        },
        Collide {
            note: "negative zero velocity",
            map: "arena",
            r: PLAYER_RADIUS,
            dt: 1.0 / 60.0,
            k: k(100.5, 50.25, -0.0, -0.0),
        },
    ];
    // Random boxes and velocities on the small map, on and off the position grid.
    let mut rng = Rng(0x5eed_c011_1de5);
    let names = [
        "random 1", "random 2", "random 3", "random 4", "random 5", "random 6", "random 7",
        "random 8",
    ];
    for note in names {
        let x = q_to_pos((64 + rng.below(18 * 64)) as i32);
        let y = q_to_pos((64 + rng.below(14 * 64)) as i32);
        let vx = (rng.below(4001) as f64 - 2000.0) / 100.0;
        let vy = (rng.below(4001) as f64 - 2000.0) / 100.0;
        let dt = [1.0 / 60.0, 0.1, 0.5, 1.0][rng.below(4) as usize];
        let r = [PLAYER_RADIUS, DRONE_RADIUS, PROJECTILE_RADIUS][rng.below(3) as usize];
        cases.push(Collide {
            note,
            map: "small",
            r,
            dt,
            k: k(x, y, vx, vy),
        });
    }
    cases
}

/// One run of `step_player`: a start, inputs `(move_x, move_y, repeat)`, a tick rate.
struct Run {
    note: String,
    map: &'static str,
    tick_rate: u16,
    start: Kinematics,
    inputs: Vec<(i8, i8, u32)>,
}

fn at(x: f64, y: f64) -> Kinematics {
    Kinematics {
        x,
        y,
        vx: 0.0,
        vy: 0.0,
    }
}

fn scripted_runs() -> Vec<Run> {
    let run = |note: &str, map, tick_rate, start, inputs: Vec<(i8, i8, u32)>| Run {
        note: note.into(),
        map,
        tick_rate,
        start,
        inputs,
    };
    vec![
        run(
            "arena: down into the central cross's west arm, then slide right along it",
            "arena",
            60,
            at(80.0, 90.0),
            vec![(0, 127, 90), (127, 127, 30), (0, 0, 20)],
        ),
        run(
            "arena: right into the west arm's end, stop",
            "arena",
            60,
            at(60.0, 100.0),
            vec![(127, 0, 120), (0, 0, 30)],
        ),
        run(
            "arena: diagonal into the north-west L's corner",
            "arena",
            30,
            at(40.0, 40.0),
            vec![(-127, -127, 60)],
        ),
        run(
            "arena: left into the bounds",
            "arena",
            20,
            at(5.0, 5.0),
            vec![(-127, 0, 20), (0, -127, 20)],
        ),
        run(
            "arena: reverse at full speed",
            "arena",
            60,
            at(100.0, 50.0),
            vec![(127, 0, 40), (-127, 0, 40), (0, 0, 15)],
        ),
        run(
            "arena: 1 Hz ticks, full-speed steps",
            "arena",
            1,
            at(150.0, 150.0),
            vec![(127, 0, 3), (0, 127, 2), (-128, -128, 3)],
        ),
        run(
            "arena: 240 Hz, half-speed analogue input",
            "arena",
            240,
            at(120.0, 60.0),
            vec![(64, -30, 120), (-5, 3, 60)],
        ),
        run(
            "small: through the corridor exactly a player wide",
            "small",
            60,
            at(2.0, 4.5),
            vec![(127, 0, 150), (127, 40, 20)],
        ),
        run(
            "small: into the pillar from above, slide off its edge",
            "small",
            60,
            at(14.5, 6.0),
            vec![(0, 127, 60), (127, 127, 60)],
        ),
        run(
            "small: at the one-step wall, both sides",
            "small",
            10,
            at(7.0, 12.0),
            vec![(127, 0, 20), (-127, 0, 5), (0, 0, 5)],
        ),
        run(
            "small: into the L's inner corner",
            "small",
            120,
            at(2.0, 13.0),
            vec![(127, -127, 200)],
        ),
    ]
}

fn random_runs(arena: &Map) -> Vec<Run> {
    let mut rng = Rng(0x7ec4_4e1e_0000_0001);
    let small = small();
    let mut out = Vec::new();
    let rates = [10u16, 20, 30, 60, 60, 120, 144, 240];
    for (i, &tick_rate) in rates.iter().enumerate() {
        for (map_name, w, h) in [("arena", 200.0, 200.0), ("small", 20.0, 16.0)] {
            // Starts on the position grid with a velocity on the velocity grid: exactly
            // what a client reconciles from (a snapshot's quantised state).
            let start = if map_name == "arena" && i % 2 == 0 {
                let spawns = arena.spawns();
                let (x, y) = spawns[rng.below(spawns.len() as u64) as usize];
                at(x, y)
            } else {
                let map = if map_name == "arena" { arena } else { &small };
                loop {
                    let k = Kinematics {
                        x: q_to_pos((rng.below((w as u64 - 2) * 64) + 64) as i32),
                        y: q_to_pos((rng.below((h as u64 - 2) * 64) + 64) as i32),
                        vx: q_to_vel(rng.below(769) as i32 - 384),
                        vy: q_to_vel(rng.below(769) as i32 - 384),
                    };
                    if map.is_free(k.x, k.y, PLAYER_RADIUS) {
                        break k;
                    }
                }
            };
            let steps = 60 + rng.below(40) as u32;
            let mut inputs = Vec::new();
            let mut total = 0;
            while total < steps {
                let repeat = 1 + rng.below(12) as u32;
                inputs.push((rng.i8(), rng.i8(), repeat));
                total += repeat;
            }
            out.push(Run {
                note: format!("random, {map_name}, {tick_rate} Hz"),
                map: map_name,
                tick_rate,
                start,
                inputs,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

fn lines(items: &[String]) -> String {
    if items.is_empty() {
        return "[]".into();
    }
    format!("[\n    {}\n  ]", items.join(",\n    "))
}

fn build() -> String {
    let arena = arena();
    let small = small();
    let map_of = |name: &str| if name == "arena" { &arena } else { &small };

    let collide: Vec<String> = collide_cases()
        .iter()
        .map(|c| {
            let (out, hit) = move_and_collide(c.k, c.r, map_of(c.map), c.dt);
            format!(
                "{{\"note\":{},\"map\":\"{}\",\"r\":\"{}\",\"dt\":\"{}\",\"k\":\"{}\",\"out\":\"{}\",\"hit\":[{},{}]}}",
                json(c.note),
                c.map,
                bits(c.r),
                bits(c.dt),
                kin(&c.k),
                kin(&out),
                hit.x,
                hit.y
            )
        })
        .collect();

    let mut runs = scripted_runs();
    runs.extend(random_runs(&arena));
    let runs: Vec<String> = runs
        .iter()
        .map(|r| {
            let map = map_of(r.map);
            let dt = 1.0 / f64::from(r.tick_rate);
            let mut k = r.start;
            let mut states = Vec::new();
            for &(mx, my, repeat) in &r.inputs {
                for _ in 0..repeat {
                    k = step_player(k, mx, my, map, dt);
                    states.push(format!("\"{}\"", kin(&k)));
                }
            }
            let inputs: Vec<String> = r
                .inputs
                .iter()
                .map(|(x, y, n)| format!("[{x},{y},{n}]"))
                .collect();
            format!(
                "{{\"note\":{},\"map\":\"{}\",\"tick_rate\":{},\"start\":\"{}\",\"inputs\":[{}],\n     \"states\":[{}]}}",
                json(&r.note),
                r.map,
                r.tick_rate,
                kin(&r.start),
                inputs.join(","),
                states.join(",")
            )
        })
        .collect();

    format!(
        "{{\n  \"about\": \"Generated by shared/tests/movement_golden.rs. Do not edit: regenerate with TICKWIRE_BLESS=1 cargo test -p shared --test movement_golden. Numbers in strings are IEEE 754 bit patterns (16 hex digits); kinematics are x:y:vx:vy.\",\n  \"rules\": {{\"player_radius\":\"{}\",\"player_max_speed\":\"{}\",\"player_accel\":\"{}\",\"fire_cooldown_s\":\"{}\",\"respawn_delay_s\":\"{}\",\"projectile_speed\":\"{}\",\"projectile_lifetime_s\":\"{}\"}},\n  \"maps\": {{\"arena\":{},\"small\":{}}},\n  \"intent_direction\": {},\n  \"move_and_collide\": {},\n  \"runs\": {}\n}}\n",
        bits(PLAYER_RADIUS),
        bits(PLAYER_MAX_SPEED),
        bits(PLAYER_ACCEL),
        bits(FIRE_COOLDOWN_S),
        bits(RESPAWN_DELAY_S),
        bits(PROJECTILE_SPEED),
        bits(PROJECTILE_LIFETIME_S),
        json(arena.info()),
        json(&small_info()),
        lines(&intent_cases()),
        lines(&collide),
        lines(&runs),
    )
}

#[test]
fn movement_vectors_match_the_committed_file() {
    common::check_or_bless(
        &golden_path(),
        &build(),
        "movement_golden",
        "assets/web/sdk/movement.js",
    );
}

#[test]
fn movement_file_stays_small() {
    assert!(
        build().len() < 300 * 1024,
        "movement.json must stay under 300 KB"
    );
}

#[test]
fn runs_hit_walls_and_bounds() {
    // The vectors are only worth something if they exercise collisions: check that the
    // scripted runs really stop against walls (a velocity zeroed while pushing).
    let arena = arena();
    let small = small();
    let mut stops = 0;
    for r in scripted_runs() {
        let map = if r.map == "arena" { &arena } else { &small };
        let dt = 1.0 / f64::from(r.tick_rate);
        let mut k = r.start;
        for &(mx, my, repeat) in &r.inputs {
            for _ in 0..repeat {
                let next = step_player(k, mx, my, map, dt);
                if (mx != 0 && next.vx == 0.0) || (my != 0 && next.vy == 0.0) {
                    stops += 1;
                }
                k = next;
            }
        }
    }
    assert!(stops > 100, "only {stops} wall stops in the scripted runs");
}
