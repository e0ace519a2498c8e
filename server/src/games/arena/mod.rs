//! The arena game, Tickwire's flagship, as a [`Game`]: bevy_ecs components, resources
//! and systems.
//!
//! The simulation reads time only from [`SimClock`] (tick number and fixed `dt`) and
//! randomness only from [`RoomRng`], so a room with a fixed seed replays identically.
//! Player movement is `shared::movement`, the same code clients predict with.
//!
//! Drones and projectiles move in straight lines between turns and bounces, so their
//! motion *is* a [`Trajectory`] in quantised units: the server evaluates it each tick
//! exactly as clients do, and replication only sends a trajectory when it changes.

// Validated peer input drives this module: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::sync::Arc;

use bevy_ecs::prelude::*;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use shared::map::Map;
use shared::movement::{Hit, Kinematics, move_and_collide, step_player};
use shared::protocol::Intent;
use shared::quant::{advance, angle_to_q, pos_to_q, q_to_angle, q_to_pos, q_to_vel, vel_to_q};
use shared::rules::{
    BUTTON_FIRE, DRONE_MAX_HEALTH, DRONE_RADIUS, DRONE_SPEED, FIRE_COOLDOWN_S, PLAYER_MAX_HEALTH,
    PLAYER_RADIUS, PROJECTILE_DAMAGE, PROJECTILE_LIFETIME_S, PROJECTILE_RADIUS, PROJECTILE_SPEED,
    RESPAWN_DELAY_S, seconds_to_ticks,
};

use crate::control::config::RoomSettings;
use crate::engine::{Game, Replication};

pub mod replicate;
pub use crate::engine::{NetId, NetIds, SimClock};

/// Position and velocity in metres.
#[derive(Component, Debug, Clone, Copy, Default, PartialEq)]
pub struct Motion(pub Kinematics);

/// Facing as a fraction of a turn, as on the wire.
#[derive(Component, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facing(pub u16);

#[derive(Component, Debug, Clone, Copy)]
pub struct Health(pub u8);

/// Straight-line motion in wire units: at tick `anchor` the entity was at (`x`, `y`)
/// position steps, moving at (`vx`, `vy`) steps per second.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trajectory {
    pub anchor: u32,
    pub x: i32,
    pub y: i32,
    pub vx: i32,
    pub vy: i32,
}

impl Trajectory {
    /// Starts a trajectory at a position (m) with a velocity (m/s), quantised.
    pub fn start(tick: u32, x: f64, y: f64, vx: f64, vy: f64) -> Trajectory {
        Trajectory {
            anchor: tick,
            x: pos_to_q(x),
            y: pos_to_q(y),
            vx: vel_to_q(vx),
            vy: vel_to_q(vy),
        }
    }

    /// Position in metres at `tick`, exactly as clients compute it.
    pub fn at(&self, tick: u32, tick_rate: u16) -> (f64, f64) {
        let elapsed = i64::from(tick) - i64::from(self.anchor);
        (
            q_to_pos(advance(self.x, self.vx, elapsed, tick_rate)),
            q_to_pos(advance(self.y, self.vy, elapsed, tick_rate)),
        )
    }

    fn velocity(&self) -> (f64, f64) {
        (q_to_vel(self.vx), q_to_vel(self.vy))
    }
}

/// A player controlled by a client session.
#[derive(Component, Debug, Clone)]
pub struct Player {
    pub client_id: u32,
    pub name: String,
    pub score: u32,
    /// The intent applied this tick: the room hands the game one of the client's queued
    /// frames per tick and this one stays in force while none is queued.
    pub input: Intent,
    pub next_fire_tick: u32,
    /// Set while dead: the tick at which the player comes back.
    pub respawn_at: Option<u32>,
}

#[derive(Component, Debug, Clone, Copy)]
pub struct Drone {
    pub next_turn_tick: u32,
}

#[derive(Component, Debug, Clone, Copy)]
pub struct Projectile {
    /// Net id of the shooter, for the wire.
    pub owner: NetId,
    /// The shooter's entity, to credit kills.
    pub shooter: Entity,
    pub expires_at: u32,
}

/// Durations converted once to ticks for this room's tick rate.
#[derive(Resource, Debug, Clone, Copy)]
pub struct TickRules {
    pub fire_cooldown: u32,
    pub projectile_lifetime: u32,
    pub respawn_delay: u32,
    pub drone_turn_min: u32,
    pub drone_turn_max: u32,
}

impl TickRules {
    pub fn new(tick_rate: u16) -> TickRules {
        TickRules {
            fire_cooldown: seconds_to_ticks(FIRE_COOLDOWN_S, tick_rate),
            projectile_lifetime: seconds_to_ticks(PROJECTILE_LIFETIME_S, tick_rate),
            respawn_delay: seconds_to_ticks(RESPAWN_DELAY_S, tick_rate),
            drone_turn_min: seconds_to_ticks(1.0, tick_rate),
            drone_turn_max: seconds_to_ticks(4.0, tick_rate),
        }
    }
}

#[derive(Resource, Debug, Clone)]
pub struct ArenaMap(pub Arc<Map>);

#[derive(Resource, Debug)]
pub struct RoomRng(pub SmallRng);

/// How many drones the room keeps alive.
#[derive(Resource, Debug, Clone, Copy)]
pub struct DronePopulation(pub u32);

/// Counters the room reports; reset by whoever reads them.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct GameCounters {
    pub shots: u64,
    pub hits: u64,
    pub kills: u64,
}

/// The arena as the engine sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Arena;

impl Game for Arena {
    fn name(&self) -> &'static str {
        "arena"
    }

    fn replication(&self) -> Replication {
        replicate::replication()
    }

    fn default_map(&self) -> &'static str {
        shared::map::DEFAULT_ARENA_JSON
    }

    fn setup(&self, world: &mut World, settings: &RoomSettings, seed: u64) {
        world.insert_resource(TickRules::new(settings.tick_rate));
        world.insert_resource(ArenaMap(settings.map.clone()));
        world.insert_resource(RoomRng(SmallRng::seed_from_u64(seed)));
        world.insert_resource(DronePopulation(settings.drones));
        world.insert_resource(GameCounters::default());
    }

    /// The per-tick systems in order. Player input has already been written into
    /// [`Player`].
    fn systems(&self, schedule: &mut Schedule) {
        schedule.add_systems(
            (
                move_players,
                fire_weapons,
                wander_drones,
                move_projectiles,
                resolve_hits,
                respawn_players,
                replenish_drones,
            )
                .chain(),
        );
    }

    fn spawn_player(&self, world: &mut World, client_id: u32, name: String) -> (Entity, NetId) {
        spawn_player(world, client_id, name)
    }

    fn rejoin(&self, world: &mut World, player: Entity, name: String) {
        if let Some(mut p) = world.get_mut::<Player>(player) {
            p.input = Intent::default();
            p.name = name;
        }
    }

    fn input(&self, world: &mut World, player: Entity, input: Option<Intent>) {
        if let Some(mut p) = world.get_mut::<Player>(player) {
            // The input is not replicated: storing it is no change of the player.
            p.bypass_change_detection().input = input.unwrap_or_default();
        }
    }

    /// Bit 0 fires.
    fn buttons(&self) -> u8 {
        BUTTON_FIRE
    }

    fn take_counters(&self, world: &mut World) -> Vec<(&'static str, u64)> {
        let c = world
            .get_resource_mut::<GameCounters>()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        vec![("shots", c.shots), ("hits", c.hits), ("kills", c.kills)]
    }
}

/// Picks a free random spot for a square of half-side `r`.
fn random_free_spot(map: &Map, rng: &mut SmallRng, r: f64) -> (f64, f64) {
    for _ in 0..200 {
        // On the position grid, so the quantised trajectory starts exactly here.
        let x = q_to_pos(pos_to_q(rng.random_range(r..map.width() - r)));
        let y = q_to_pos(pos_to_q(rng.random_range(r..map.height() - r)));
        if map.is_free(x, y, r) {
            return (x, y);
        }
    }
    // Maps are validated to have free spawn points, which suit every entity size we use.
    map.spawns()
        .first()
        .copied()
        .unwrap_or((map.width() / 2.0, map.height() / 2.0))
}

fn random_spawn(map: &Map, rng: &mut SmallRng) -> (f64, f64) {
    let spawns = map.spawns();
    if spawns.is_empty() {
        return random_free_spot(map, rng, PLAYER_RADIUS);
    }
    let i = rng.random_range(0..spawns.len());
    spawns
        .get(i)
        .copied()
        .unwrap_or((map.width() / 2.0, map.height() / 2.0))
}

/// Spawns a player for a client and returns its entity and net id.
pub fn spawn_player(world: &mut World, client_id: u32, name: String) -> (Entity, NetId) {
    let id = world.resource_mut::<NetIds>().allocate();
    let map = world.resource::<ArenaMap>().0.clone();
    let (x, y) = random_spawn(&map, &mut world.resource_mut::<RoomRng>().0);
    let entity = world
        .spawn((
            id,
            Motion(Kinematics {
                x,
                y,
                vx: 0.0,
                vy: 0.0,
            }),
            Facing(0),
            Health(PLAYER_MAX_HEALTH),
            Player {
                client_id,
                name,
                score: 0,
                input: Intent::default(),
                next_fire_tick: 0,
                respawn_at: None,
            },
        ))
        .id();
    (entity, id)
}

fn spawn_drone(
    commands: &mut Commands,
    ids: &mut NetIds,
    map: &Map,
    rng: &mut SmallRng,
    clock: &SimClock,
) {
    let (x, y) = random_free_spot(map, rng, DRONE_RADIUS);
    let heading: f64 = rng.random_range(0.0..std::f64::consts::TAU);
    let trajectory = Trajectory::start(
        clock.tick,
        x,
        y,
        heading.cos() * DRONE_SPEED,
        heading.sin() * DRONE_SPEED,
    );
    let (x, y) = trajectory.at(clock.tick, clock.tick_rate);
    let (vx, vy) = trajectory.velocity();
    commands.spawn((
        ids.allocate(),
        Motion(Kinematics { x, y, vx, vy }),
        trajectory,
        Facing(angle_to_q(heading)),
        Health(DRONE_MAX_HEALTH),
        Drone {
            next_turn_tick: clock.tick,
        },
    ));
}

fn move_players(
    clock: Res<SimClock>,
    map: Res<ArenaMap>,
    mut players: Query<(&mut Motion, &mut Facing, &Player)>,
) {
    for (mut motion, mut facing, player) in &mut players {
        if player.respawn_at.is_some() {
            continue;
        }
        let input = player.input;
        // Only a real change marks the components changed: replication skips idle ones.
        motion.set_if_neq(Motion(step_player(
            motion.0,
            input.move_x,
            input.move_y,
            &map.0,
            clock.dt,
        )));
        facing.set_if_neq(Facing(input.aim));
    }
}

#[allow(clippy::too_many_arguments)]
fn fire_weapons(
    mut commands: Commands,
    clock: Res<SimClock>,
    map: Res<ArenaMap>,
    rules: Res<TickRules>,
    mut ids: ResMut<NetIds>,
    mut counters: ResMut<GameCounters>,
    mut players: Query<(Entity, &NetId, &Motion, &Facing, &mut Player)>,
) {
    for (entity, &net_id, motion, facing, mut player) in &mut players {
        let wants = player.input.buttons & BUTTON_FIRE != 0;
        if !wants || player.respawn_at.is_some() || clock.tick < player.next_fire_tick {
            continue;
        }
        player.next_fire_tick = clock.tick.saturating_add(rules.fire_cooldown);
        let angle = q_to_angle(facing.0);
        let (dx, dy) = (angle.cos(), angle.sin());
        // Start just outside the shooter so it cannot hit itself on the first step.
        let muzzle = PLAYER_RADIUS + PROJECTILE_RADIUS + 0.05;
        let trajectory = Trajectory::start(
            clock.tick,
            motion.0.x + dx * muzzle,
            motion.0.y + dy * muzzle,
            dx * PROJECTILE_SPEED,
            dy * PROJECTILE_SPEED,
        );
        let (x, y) = trajectory.at(clock.tick, clock.tick_rate);
        counters.shots += 1;
        if !map.0.is_free(x, y, PROJECTILE_RADIUS) {
            // Fired point-blank into a wall: the shot is spent.
            continue;
        }
        let (vx, vy) = trajectory.velocity();
        commands.spawn((
            ids.allocate(),
            Motion(Kinematics { x, y, vx, vy }),
            trajectory,
            *facing,
            Projectile {
                owner: net_id,
                shooter: entity,
                expires_at: clock.tick.saturating_add(rules.projectile_lifetime),
            },
        ));
    }
}

/// Advances a trajectory by one tick, stopping at walls. Returns where the entity is now
/// and on which axes it was stopped (the trajectory is then re-anchored at the wall).
fn step_trajectory(
    motion: &mut Motion,
    trajectory: &mut Trajectory,
    radius: f64,
    map: &Map,
    clock: &SimClock,
) -> Hit {
    let (x, y) = (motion.0.x, motion.0.y);
    let (nx, ny) = trajectory.at(clock.tick, clock.tick_rate);
    // Sweep the exact quantised path from the previous tick's position.
    let swept = Kinematics {
        x,
        y,
        vx: (nx - x) / clock.dt,
        vy: (ny - y) / clock.dt,
    };
    let (stopped, hit) = move_and_collide(swept, radius, map, clock.dt);
    let (vx, vy) = trajectory.velocity();
    if hit.any() {
        // Sizes and walls are whole position steps, so `stopped` is on the grid.
        *trajectory = Trajectory {
            anchor: clock.tick,
            x: pos_to_q(stopped.x),
            y: pos_to_q(stopped.y),
            ..*trajectory
        };
        motion.0 = Kinematics {
            x: stopped.x,
            y: stopped.y,
            vx,
            vy,
        };
    } else {
        motion.0 = Kinematics {
            x: nx,
            y: ny,
            vx,
            vy,
        };
    }
    hit
}

fn wander_drones(
    clock: Res<SimClock>,
    rules: Res<TickRules>,
    map: Res<ArenaMap>,
    mut rng: ResMut<RoomRng>,
    mut drones: Query<(&mut Motion, &mut Trajectory, &mut Facing, &mut Drone)>,
) {
    for (mut motion, mut trajectory, mut facing, mut drone) in &mut drones {
        let turned = clock.tick >= drone.next_turn_tick;
        if turned {
            let heading: f64 = rng.0.random_range(0.0..std::f64::consts::TAU);
            // The new course starts where the drone was at the end of the last tick.
            let previous = clock.tick.saturating_sub(1);
            *trajectory = Trajectory::start(
                previous,
                motion.0.x,
                motion.0.y,
                heading.cos() * DRONE_SPEED,
                heading.sin() * DRONE_SPEED,
            );
            drone.next_turn_tick = clock.tick
                + rng
                    .0
                    .random_range(rules.drone_turn_min..=rules.drone_turn_max);
        }
        // The trajectory is written only when it is re-anchored (a turn or a bounce); it
        // is marked changed then, and only then, so replication skips a drone on course.
        let hit = step_trajectory(
            &mut motion,
            trajectory.bypass_change_detection(),
            DRONE_RADIUS,
            &map.0,
            &clock,
        );
        // Bounce: keep the speed, reverse the blocked axis.
        if hit.x {
            trajectory.vx = -trajectory.vx;
        }
        if hit.y {
            trajectory.vy = -trajectory.vy;
        }
        if hit.any() {
            motion.0.vx = q_to_vel(trajectory.vx);
            motion.0.vy = q_to_vel(trajectory.vy);
        }
        // The facing follows the course; only a new course changes it.
        if turned || hit.any() {
            facing.0 = angle_to_q(f64::from(trajectory.vy).atan2(f64::from(trajectory.vx)));
        }
    }
}

fn move_projectiles(
    mut commands: Commands,
    clock: Res<SimClock>,
    map: Res<ArenaMap>,
    mut projectiles: Query<(Entity, &mut Motion, &mut Trajectory, &Projectile)>,
) {
    for (entity, mut motion, mut trajectory, projectile) in &mut projectiles {
        if clock.tick >= projectile.expires_at {
            commands.entity(entity).despawn();
            continue;
        }
        // A projectile's trajectory never changes: it is despawned where it hits.
        if step_trajectory(
            &mut motion,
            trajectory.bypass_change_detection(),
            PROJECTILE_RADIUS,
            &map.0,
            &clock,
        )
        .any()
        {
            commands.entity(entity).despawn();
        }
    }
}

/// Something a projectile can hit, filed by cell for one tick's hit tests.
#[derive(Debug, Clone, Copy)]
struct HitTarget {
    entity: Entity,
    id: NetId,
    x: f64,
    y: f64,
    /// Half side of the target's box plus the projectile's.
    reach: f64,
}

/// Uniform grid of hit targets, rebuilt every tick and reused between ticks, so that a
/// projectile is tested against its neighbours only instead of every target in the room.
#[derive(Debug, Default)]
struct HitGrid {
    cols: usize,
    rows: usize,
    cells: Vec<Vec<HitTarget>>,
}

impl HitGrid {
    /// Wider than any reach, so a hit always lies in the 3×3 cells around a projectile.
    const CELL: f64 = 4.0;

    fn reset(&mut self, width: f64, height: f64) {
        self.cols = (width / Self::CELL) as usize + 1;
        self.rows = (height / Self::CELL) as usize + 1;
        self.cells.resize_with(self.cols * self.rows, Vec::new);
        for c in &mut self.cells {
            c.clear();
        }
    }

    fn cell(&self, x: f64, y: f64) -> (usize, usize) {
        let clamp =
            |v: f64, n: usize| ((v / Self::CELL).max(0.0) as usize).min(n.saturating_sub(1));
        (clamp(x, self.cols), clamp(y, self.rows))
    }

    fn insert(&mut self, t: HitTarget) {
        let (c, r) = self.cell(t.x, t.y);
        if let Some(cell) = self.cells.get_mut(r * self.cols + c) {
            cell.push(t);
        }
    }

    fn near(&self, x: f64, y: f64) -> impl Iterator<Item = &HitTarget> {
        let (c, r) = self.cell(x, y);
        let cols = c.saturating_sub(1)..=(c + 1).min(self.cols.saturating_sub(1));
        let rows = r.saturating_sub(1)..=(r + 1).min(self.rows.saturating_sub(1));
        rows.flat_map(move |row| cols.clone().map(move |col| row * self.cols + col))
            .filter_map(|i| self.cells.get(i))
            .flatten()
    }
}

#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn resolve_hits(
    mut commands: Commands,
    clock: Res<SimClock>,
    rules: Res<TickRules>,
    map: Res<ArenaMap>,
    mut counters: ResMut<GameCounters>,
    projectiles: Query<(Entity, &Motion, &Projectile)>,
    mut targets: Query<
        (Entity, &NetId, &Motion, &mut Health, Option<&mut Player>),
        Without<Projectile>,
    >,
    mut grid: Local<HitGrid>,
    mut credited: Local<Vec<Entity>>,
) {
    credited.clear();
    grid.reset(map.0.width(), map.0.height());
    for (entity, &id, motion, health, player) in &targets {
        if health.0 > 0 {
            let r = if player.is_some() {
                PLAYER_RADIUS
            } else {
                DRONE_RADIUS
            };
            grid.insert(HitTarget {
                entity,
                id,
                x: motion.0.x,
                y: motion.0.y,
                reach: r + PROJECTILE_RADIUS,
            });
        }
    }
    for (shot, shot_motion, projectile) in &projectiles {
        let (px, py) = (shot_motion.0.x, shot_motion.0.y);
        let hit = grid.near(px, py).find(|t| {
            t.id != projectile.owner
                && (t.x - px).abs() <= t.reach
                && (t.y - py).abs() <= t.reach
                // Health can drop to zero earlier in this same loop.
                && targets.get(t.entity).is_ok_and(|(_, _, _, h, _)| h.0 > 0)
        });
        let Some(&HitTarget { entity: target, .. }) = hit else {
            continue;
        };
        let Ok((_, _, _, mut health, player)) = targets.get_mut(target) else {
            continue;
        };
        commands.entity(shot).despawn();
        counters.hits += 1;
        health.0 = health.0.saturating_sub(PROJECTILE_DAMAGE);
        if health.0 == 0 {
            counters.kills += 1;
            credited.push(projectile.shooter);
            match player {
                Some(mut p) => p.respawn_at = Some(clock.tick + rules.respawn_delay),
                None => commands.entity(target).despawn(),
            }
        }
    }
    for &shooter in credited.iter() {
        if let Ok((_, _, _, _, Some(mut p))) = targets.get_mut(shooter) {
            p.score = p.score.saturating_add(1);
        }
    }
}

fn respawn_players(
    clock: Res<SimClock>,
    map: Res<ArenaMap>,
    mut rng: ResMut<RoomRng>,
    mut players: Query<(&mut Motion, &mut Health, &mut Player)>,
) {
    for (mut motion, mut health, mut player) in &mut players {
        match player.respawn_at {
            Some(at) if clock.tick >= at => {
                let (x, y) = random_spawn(&map.0, &mut rng.0);
                motion.0 = Kinematics {
                    x,
                    y,
                    vx: 0.0,
                    vy: 0.0,
                };
                health.0 = PLAYER_MAX_HEALTH;
                player.respawn_at = None;
            }
            Some(_) => {
                let still = Kinematics {
                    vx: 0.0,
                    vy: 0.0,
                    ..motion.0
                };
                motion.set_if_neq(Motion(still));
            }
            None => {}
        }
    }
}

fn replenish_drones(
    mut commands: Commands,
    clock: Res<SimClock>,
    population: Res<DronePopulation>,
    map: Res<ArenaMap>,
    mut ids: ResMut<NetIds>,
    mut rng: ResMut<RoomRng>,
    drones: Query<&Health, With<Drone>>,
) {
    // Drones killed this tick are still in the query (despawns are deferred), so count
    // only living ones.
    let alive = drones.iter().filter(|h| h.0 > 0).count() as u32;
    for _ in alive..population.0 {
        spawn_drone(&mut commands, &mut ids, &map.0, &mut rng.0, &clock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{new_schedule, new_world};

    fn world(drones: u32) -> (World, Schedule) {
        let mut settings = crate::ServerConfig::default().validate().unwrap().room;
        settings.tick_rate = 60;
        settings.drones = drones;
        (new_world(&Arena, &settings, 7), new_schedule(&Arena))
    }

    fn step(world: &mut World, schedule: &mut Schedule) {
        world.resource_mut::<SimClock>().tick += 1;
        schedule.run(world);
    }

    #[test]
    fn drones_are_spawned_and_kept() {
        let (mut w, mut s) = world(25);
        step(&mut w, &mut s);
        let n = w.query::<&Drone>().iter(&w).count();
        assert_eq!(n, 25);
    }

    #[test]
    fn firing_respects_the_cooldown_and_projectiles_expire() {
        let (mut w, mut s) = world(0);
        let (p, _) = spawn_player(&mut w, 1, "a".into());
        w.get_mut::<Player>(p).unwrap().input.buttons = BUTTON_FIRE;
        let rules = *w.resource::<TickRules>();
        for _ in 0..rules.fire_cooldown * 2 {
            step(&mut w, &mut s);
        }
        assert_eq!(w.resource::<GameCounters>().shots, 2);
        w.get_mut::<Player>(p).unwrap().input.buttons = 0;
        for _ in 0..rules.projectile_lifetime + 1 {
            step(&mut w, &mut s);
        }
        assert_eq!(w.query::<&Projectile>().iter(&w).count(), 0);
    }

    #[test]
    fn kills_score_and_dead_players_respawn() {
        let (mut w, mut s) = world(0);
        let (a, _) = spawn_player(&mut w, 1, "a".into());
        let (b, _) = spawn_player(&mut w, 2, "b".into());
        // Put b two metres to the right of a, a aiming right and firing.
        let ka = w.get::<Motion>(a).unwrap().0;
        let kb = Kinematics {
            x: ka.x + 2.0,
            y: ka.y,
            vx: 0.0,
            vy: 0.0,
        };
        let map = w.resource::<ArenaMap>().0.clone();
        assert!(
            map.is_free(kb.x, kb.y, PLAYER_RADIUS),
            "test setup needs a free spot"
        );
        w.get_mut::<Motion>(b).unwrap().0 = kb;
        {
            let mut pa = w.get_mut::<Player>(a).unwrap();
            pa.input.buttons = BUTTON_FIRE;
            pa.input.aim = 0;
        }
        let mut died_at = None;
        for t in 0..600 {
            step(&mut w, &mut s);
            w.get_mut::<Motion>(b).unwrap().0 = kb;
            if w.get::<Player>(b).unwrap().respawn_at.is_some() {
                died_at = Some(t);
                break;
            }
        }
        assert!(died_at.is_some(), "b never died");
        assert_eq!(w.get::<Player>(a).unwrap().score, 1);
        assert_eq!(w.get::<Health>(b).unwrap().0, 0);
        w.get_mut::<Player>(a).unwrap().input.buttons = 0;
        let rules = *w.resource::<TickRules>();
        for _ in 0..=rules.respawn_delay {
            step(&mut w, &mut s);
        }
        assert_eq!(w.get::<Player>(b).unwrap().respawn_at, None);
        assert_eq!(w.get::<Health>(b).unwrap().0, PLAYER_MAX_HEALTH);
    }
}
