//! Arena-like views for the codec benches, built through the arena's own schema (its
//! `Replicated` components' registration), so the benches measure the bytes and time of
//! the real layout.

use shared::quant::advance;
use shared::schema::{EntityBuilder, EntityState, Layout, MotionValue, Values};

/// The arena's checked schema.
pub fn arena_layout() -> Layout {
    server::games::arena::replicate::replication()
        .schema()
        .layout()
        .expect("the arena's schema is valid")
}

/// What an arena entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Player,
    Drone,
    Projectile,
}

/// The values of one arena entity.
#[derive(Debug, Clone)]
pub struct Arena {
    pub kind: Kind,
    pub motion: MotionValue,
    pub angle: u16,
    pub health: u8,
    pub score: u32,
    pub owner: u32,
    pub name: String,
}

fn index(layout: &Layout, name: &str) -> usize {
    layout.component(name).expect("an arena component")
}

/// The entity `id` with values `a`, written as the arena's components write it.
pub fn entity(layout: &Layout, id: u32, a: &Arena) -> EntityState {
    let mut b = EntityBuilder::new(layout, id, Values::default());
    match a.kind {
        Kind::Player => {
            layout
                .writer(&mut b, index(layout, "Body"))
                .motion(a.motion);
            layout
                .writer(&mut b, index(layout, "Facing"))
                .angle(a.angle);
            layout
                .writer(&mut b, index(layout, "Health"))
                .bits(u32::from(a.health));
            layout
                .writer(&mut b, index(layout, "Player"))
                .flag(false)
                .uint(a.score)
                .text(&a.name);
        }
        Kind::Drone => {
            layout
                .writer(&mut b, index(layout, "Flight"))
                .motion(a.motion);
            layout
                .writer(&mut b, index(layout, "Health"))
                .bits(u32::from(a.health));
            layout.writer(&mut b, index(layout, "Drone"));
        }
        Kind::Projectile => {
            layout
                .writer(&mut b, index(layout, "Flight"))
                .motion(a.motion);
            layout
                .writer(&mut b, index(layout, "Projectile"))
                .entity(a.owner);
        }
    }
    b.build()
}

/// A deterministic pseudo-random sequence (no rand in the measured loop).
pub fn lcg(seed: &mut u64) -> u32 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (*seed >> 33) as u32
}

/// `n` entities around (6400, 6400): ids 1..=`players` players, then drones up to
/// `players + drones`, then projectiles; trajectories anchored before `tick`.
pub fn arena_values(players: u32, drones: u32, n: u32, tick: u32) -> Vec<(u32, Arena)> {
    let mut seed = 7;
    (1..=n)
        .map(|id| {
            let kind = if id <= players {
                Kind::Player
            } else if id <= players + drones {
                Kind::Drone
            } else {
                Kind::Projectile
            };
            let mut r = || lcg(&mut seed) as i32;
            let anchor = if kind == Kind::Player {
                0
            } else {
                tick - 3 - (r() % 200) as u32
            };
            let arena = Arena {
                kind,
                motion: MotionValue {
                    anchor,
                    x: 6400 + r() % 3000,
                    y: 6400 + r() % 3000,
                    vx: r() % 384,
                    vy: r() % 384,
                },
                angle: r() as u16,
                health: 100,
                score: (r() % 10) as u32,
                owner: (r() % 30 + 1) as u32,
                name: format!("bot{id}"),
            };
            (id, arena)
        })
        .collect()
}

/// `values` three ticks later with `percent` of them changed the way the game changes
/// them: players walk and aim, drones and projectiles get new trajectories.
pub fn changed(
    values: &[(u32, Arena)],
    percent: u32,
    tick: u32,
    tick_rate: u16,
) -> Vec<(u32, Arena)> {
    let mut seed = 11;
    values
        .iter()
        .map(|(id, a)| {
            let mut a = a.clone();
            if lcg(&mut seed) % 100 < percent {
                let jitter = (lcg(&mut seed) % 9) as i32 - 4;
                let m = &mut a.motion;
                match a.kind {
                    Kind::Player => {
                        m.x += m.vx / 20 + jitter;
                        m.y += m.vy / 20 - jitter;
                        m.vx += jitter * 8;
                        a.angle = a.angle.wrapping_add(300);
                    }
                    _ => {
                        let elapsed = i64::from(tick - 1) - i64::from(m.anchor);
                        m.x = advance(m.x, m.vx, elapsed, tick_rate);
                        m.y = advance(m.y, m.vy, elapsed, tick_rate);
                        m.anchor = tick - 1;
                        m.vx = -m.vy + jitter;
                        m.vy = m.vx;
                    }
                }
            }
            (*id, a)
        })
        .collect()
}

/// The entities of `values`.
pub fn view(layout: &Layout, values: &[(u32, Arena)]) -> Vec<EntityState> {
    values
        .iter()
        .map(|(id, a)| entity(layout, *id, a))
        .collect()
}
