//! Room behaviour driven in memory through [`super::harness`]: seats, reservations,
//! resume, area of interest, byte budgets, desync → keyframe, slow readers, memory, and
//! a property test over random room histories.

use std::time::Duration;

use bevy_ecs::prelude::*;
use proptest::prelude::*;
use shared::protocol::Intent;
use shared::quant::pos_to_q;
use shared::rules::BUTTON_FIRE;

use super::core::{Footprint, RoomCore, TURN_SHARE};
use super::harness::{Harness, anon, settings, token};
use super::{JoinKind, RoomError, RoomInput, Seats};
use crate::engine::SimClock;
use crate::games::arena::Player;

fn players(core: &mut RoomCore) -> usize {
    let world = core.world_mut();
    world.query::<&Player>().iter(world).count()
}

fn seats(players: u32, held: u32, reserved: u32) -> Seats {
    Seats {
        players,
        held,
        reserved,
    }
}

fn walk(seq: u32, move_x: i8, move_y: i8, fire: bool) -> RoomInput {
    RoomInput::Frame {
        seq,
        intent: Intent {
            move_x,
            move_y,
            aim: (seq.wrapping_mul(977) & 0xffff) as u16,
            buttons: if fire { BUTTON_FIRE } else { 0 },
        },
    }
}

#[test]
fn snapshot_ticks_are_spread_evenly() {
    let core = RoomCore::new(super::harness::config(settings(60, 20, 1)).into());
    let ticks: Vec<u32> = (1..=60).filter(|&t| core.is_snapshot_tick(t)).collect();
    assert_eq!(ticks.len(), 20);
    assert!(ticks.windows(2).all(|w| w[1] - w[0] == 3));
    let core = RoomCore::new(super::harness::config(settings(60, 7, 1)).into());
    assert_eq!((1..=600).filter(|&t| core.is_snapshot_tick(t)).count(), 70);
    let core = RoomCore::new(super::harness::config(settings(60, 60, 1)).into());
    assert!((1..=60).all(|t| core.is_snapshot_tick(t)));
}

#[test]
fn crowded_rooms_spread_snapshots_over_phases() {
    let mut h = Harness::new(settings(60, 20, 64));
    let n = TURN_SHARE + 8;
    for i in 0..n {
        h.join(anon(&format!("p{i}"))).unwrap();
    }
    let mut per_tick = Vec::new();
    for _ in 0..60 {
        h.tick();
        per_tick.push(h.sent.snapshots);
    }
    // The first TURN_SHARE clients on one phase, the next ones on the other two.
    let phase_sizes = [TURN_SHARE, 4, 4].map(|k| k as u64);
    for (t, &sent) in per_tick.iter().enumerate().skip(3) {
        assert!(phase_sizes.contains(&sent), "tick {t}: {per_tick:?}");
    }
    assert!(per_tick.iter().all(|&s| s < n as u64), "{per_tick:?}");
    // Every client still gets one snapshot every third tick.
    for c in &h.clients {
        let ticks: Vec<u32> = c.received.iter().map(|&(t, _)| t).collect();
        assert!(ticks.len() >= 19, "{ticks:?}");
        assert!(ticks.windows(2).all(|w| w[1] - w[0] == 3), "{ticks:?}");
    }
    h.assert_views_match();
    // A small room sends everyone's on the same tick.
    let mut h = Harness::new(settings(60, 20, 8));
    for i in 0..6 {
        h.join(anon(&format!("p{i}"))).unwrap();
    }
    let sent: Vec<u64> = (0..12)
        .map(|_| {
            h.tick();
            h.sent.snapshots
        })
        .collect();
    assert!(sent.iter().all(|&s| s == 0 || s == 6), "{sent:?}");
}

/// A client bundling three ticks' frames per message (its session hands them over
/// together) has them applied one a tick, just as a client sending each tick's frame on
/// its own: the snapshots' `last_input_seq` counts up by one a tick for both.
#[test]
fn bundled_inputs_are_applied_one_frame_a_tick() {
    let mut h = Harness::new(settings(60, 60, 4));
    let single = h.join(anon("single")).unwrap();
    let bundled = h.join(anon("bundled")).unwrap();
    for c in [single, bundled] {
        h.clients[c].record = Some(Vec::new());
    }
    let frame = |seq: u32| walk(seq, 90, -40, seq.is_multiple_of(4));
    for t in 0..12u32 {
        h.send(single, frame(t + 1));
        if t % 3 == 0 {
            for seq in t + 1..t + 4 {
                h.send(bundled, frame(seq));
            }
        }
        h.tick();
    }
    let echoes = |c: usize| -> Vec<u32> {
        h.clients[c]
            .record
            .iter()
            .flatten()
            .filter_map(|b| match shared::codec::decode_server(b) {
                Ok(shared::protocol::ServerMessage::Snapshot(s)) => Some(s.last_input_seq),
                _ => None,
            })
            .collect()
    };
    let one_a_tick: Vec<u32> = (1..=12).collect();
    assert_eq!(echoes(single), one_a_tick);
    assert_eq!(echoes(bundled), one_a_tick);
    assert_eq!(h.core.timer.current.inputs_dropped, 0);
}

#[test]
fn reservations_hold_seats_until_used() {
    let mut h = Harness::new(settings(60, 20, 2));
    let later = h.now + Duration::from_secs(60);
    assert!(h.core.reserve("ada".into(), "n1".into(), later).is_ok());
    assert!(h.join(anon("x")).is_ok());
    // One player and one reservation: the second anonymous join finds no seat...
    assert!(matches!(h.join(anon("y")), Err(RoomError::Full)));
    assert!(matches!(
        h.core.reserve("bob".into(), "n2".into(), later),
        Err(RoomError::Full)
    ));
    // ...but the reserved player gets in.
    let ada = h.join(token("ada", "n1")).unwrap();
    assert!(!h.client(ada).joined.resumed);
    assert_eq!(h.core.seats(), seats(2, 0, 0));
    // A player already in the room needs no seat to reserve.
    assert!(h.core.reserve("ada".into(), "n3".into(), later).is_ok());
    assert_eq!(players(&mut h.core), 2);
}

#[test]
fn unused_reservations_expire_with_the_time_given() {
    let mut h = Harness::new(settings(60, 20, 1));
    let expires = h.now + Duration::from_millis(500);
    h.core.reserve("ada".into(), "n1".into(), expires).unwrap();
    assert!(matches!(h.join(anon("x")), Err(RoomError::Full)));
    h.run(29);
    assert_eq!(h.core.seats(), seats(0, 0, 1), "still held at 483 ms");
    h.run(1);
    assert_eq!(h.core.seats(), seats(0, 0, 0), "gone at 500 ms");
    assert!(h.join(anon("x")).is_ok());
}

#[test]
fn lost_players_are_held_then_resumed_or_removed() {
    let mut h = Harness::new(settings(60, 20, 4));
    let ada = h.join(anon("ada")).unwrap();
    h.run(10);
    let joined = h.client(ada).joined.clone();
    h.drop_connection(ada);
    h.tick();
    assert_eq!(h.core.seats(), seats(0, 1, 0), "held, not removed");
    assert_eq!(players(&mut h.core), 1);

    // A stale generation is refused; the right one takes the same entity back.
    let stale = JoinKind::Resume {
        player: "ada".into(),
        entity: joined.entity,
        generation: joined.generation + 1,
    };
    assert!(matches!(h.join(stale), Err(RoomError::ResumeFailed(_))));
    let resume = JoinKind::Resume {
        player: "ada".into(),
        entity: joined.entity,
        generation: joined.generation,
    };
    let again = h.join(resume.clone()).unwrap();
    let got = h.client(again).joined.clone();
    assert_eq!(
        (got.entity, got.client_id, got.resumed),
        (joined.entity, joined.client_id, true)
    );
    assert_eq!(got.generation, joined.generation + 1);
    assert_eq!(players(&mut h.core), 1, "never two entities");
    // The resumed session starts from a keyframe holding the same player.
    h.run(3);
    assert_eq!(h.client(again).keyframes, 1);
    assert!(h.own(again).is_some());
    h.assert_views_match();
    // Until the new session is heard from, its client may not have its Welcome (and new
    // token): the older token still takes the player back...
    let unheard = h.join(resume.clone()).unwrap();
    assert_eq!(h.client(unheard).joined.generation, joined.generation + 2);
    assert!(
        !h.client(again).connected,
        "the unheard session was replaced"
    );
    // ...as often as the Welcomes get lost.
    let unheard = h.join(resume.clone()).unwrap();
    assert_eq!(h.client(unheard).joined.generation, joined.generation + 3);
    // ...but once a session has spoken, the tokens before its own are void.
    h.send(unheard, walk(1, 0, 0, false));
    let older = JoinKind::Resume {
        player: "ada".into(),
        entity: joined.entity,
        generation: joined.generation + 2,
    };
    assert!(matches!(h.join(older), Err(RoomError::ResumeFailed(_))));
    assert!(matches!(h.join(resume), Err(RoomError::ResumeFailed(_))));
    let again = unheard;

    // A join token naming the player takes it over: the old connection is replaced,
    // and its token is void at once (the takeover is on purpose).
    let over = h.join(token("ada", "n")).unwrap();
    assert_eq!(h.client(over).joined.entity, joined.entity);
    assert!(!h.client(again).connected);
    let replaced = JoinKind::Resume {
        player: "ada".into(),
        entity: joined.entity,
        generation: h.client(again).joined.generation,
    };
    assert!(matches!(h.join(replaced), Err(RoomError::ResumeFailed(_))));
    assert_eq!(players(&mut h.core), 1);

    // A player who leaves is removed at once; one who is lost, after the grace period
    // (one second, 60 ticks).
    let bob = h.join(anon("bob")).unwrap();
    h.send(bob, RoomInput::Leave);
    assert_eq!(
        players(&mut h.core),
        1,
        "a player who leaves is removed at once"
    );
    h.drop_connection(over);
    h.run(h.core.grace_ticks() - 1);
    assert_eq!(h.core.seats(), seats(0, 1, 0), "held for the grace period");
    h.run(1);
    assert_eq!(players(&mut h.core), 0);
    assert_eq!(h.core.seats(), seats(0, 0, 0));
}

/// Several players walking, turning and shooting among drones: every snapshot decodes,
/// every checksum holds, each client ends with exactly the server's view of it, and the
/// replicator's change detection agrees with a full pass (the harness checks).
#[test]
fn every_client_decodes_the_view_the_server_holds_for_it() {
    let mut s = settings(60, 20, 8);
    s.drones = 40;
    let mut h = Harness::new(s);
    for k in 0..6 {
        h.join(anon(&format!("p{k}"))).unwrap();
    }
    for t in 1..=600u32 {
        for k in 0..6 {
            let dir = if (t / 60 + k) % 2 == 0 { 127 } else { -127 };
            // Now and then a player stands still and only turns (a change of facing
            // alone), or stands idle (no change at all).
            let (x, y) = match t % 120 {
                80..=99 => (0, 0),
                _ => (dir, (k as i8 - 3) * 30),
            };
            h.send(k as usize, walk(t, x, y, t % 7 == 0));
        }
        h.tick();
        h.assert_views_match();
    }
    for c in &h.clients {
        assert_eq!(c.desyncs, 0);
        assert_eq!(c.keyframes, 1, "one keyframe, then deltas");
        assert!(c.snapshots >= 190, "snapshots: {}", c.snapshots);
        assert!(c.view.get(c.joined.entity).is_some());
    }
}

/// Nothing outside a client's area of interest reaches it; its own player always does.
#[test]
fn a_client_sees_only_its_area_of_interest() {
    let mut s = settings(60, 20, 4);
    s.drones = 60;
    s.aoi_radius = 20.0;
    let mut h = Harness::new(s);
    let me = h.join(anon("me")).unwrap();
    let tick_rate = h.core.config().settings.tick_rate;
    let radius = pos_to_q(20.0) as i64;
    let mut out_of_view_seen = 0;
    for t in 1..=300u32 {
        h.send(me, walk(t, 127, 60, false));
        h.tick();
        let Some(own) = h.own(me).cloned() else {
            continue;
        };
        let tick = h.client(me).view.tick();
        let layout = h.client(me).view.layout().clone();
        let (ox, oy) = layout.position(&own, tick, tick_rate).unwrap();
        for e in h.client(me).view.entities() {
            // Entities without a position are everywhere (the arena has none).
            let Some((x, y)) = layout.position(e, tick, tick_rate) else {
                continue;
            };
            let d2 = (i64::from(x) - i64::from(ox)).pow(2) + (i64::from(y) - i64::from(oy)).pow(2);
            // An entity leaves the view on the snapshot after it crosses the radius, and
            // it moves at most a few steps in between.
            if d2 > (radius + pos_to_q(2.0) as i64).pow(2) {
                out_of_view_seen += 1;
            }
        }
    }
    assert_eq!(out_of_view_seen, 0);
    let world_entities = h.core.footprint().entities;
    let c = h.client(me);
    assert_eq!(c.desyncs, 0);
    assert!(
        c.view.entities().len() < world_entities,
        "the view ({}) is a part of the world ({world_entities})",
        c.view.entities().len()
    );
}

/// Bytes a client read in each simulated second (20 snapshot ticks), after the first.
fn bytes_per_second(h: &Harness, index: usize) -> Vec<usize> {
    h.client(index)
        .received
        .chunks(20)
        .skip(1)
        .map(|second| second.iter().map(|&(_, bytes)| bytes).sum())
        .collect()
}

/// A byte budget below what the view needs is held over every second of simulated
/// time, and the client still gets a consistent view.
#[test]
fn a_byte_budget_is_held_in_simulated_time() {
    let mut s = settings(60, 20, 8);
    s.drones = 120;
    s.aoi_radius = 200.0;
    s.min_client_budget = 256;
    let mut h = Harness::new(s);
    let small = h.join(anon("small")).unwrap();
    let big = h.join(anon("big")).unwrap();
    h.set_budget(small, 20, 512);
    for t in 1..=600u32 {
        h.send(small, walk(t, 100, 0, false));
        h.send(big, walk(t, -100, 0, true));
        h.tick();
        h.assert_views_match();
    }
    let small_worst = bytes_per_second(&h, small).into_iter().max().unwrap();
    let big_least = bytes_per_second(&h, big).into_iter().min().unwrap();
    // The same room needs more than the small budget every second...
    assert!(
        big_least > 512,
        "unlimited client's quietest second: {big_least} bytes"
    );
    // ...and the small client gets no more (message headers add a few bytes each).
    assert!(
        small_worst <= 512 + 20 * 16,
        "worst second: {small_worst} bytes"
    );
    assert_eq!(h.client(small).desyncs, 0);
}

/// A client whose view goes wrong reports it and gets a keyframe, after which its view
/// is the server's again.
#[test]
fn a_desync_is_answered_with_a_keyframe() {
    let mut s = settings(60, 20, 4);
    s.drones = 20;
    let mut h = Harness::new(s);
    let me = h.join(anon("me")).unwrap();
    h.run(30);
    assert_eq!(h.client(me).keyframes, 1);
    // The client loses its view (as a bug or a corrupted frame would leave it).
    h.corrupt(me);
    h.run(12);
    let c = h.client(me);
    assert!(c.desyncs >= 1, "the next delta does not apply");
    assert_eq!(c.keyframes, 2, "one keyframe answers the report");
    h.assert_views_match();
    let desyncs = c.desyncs;
    h.run(60);
    assert_eq!(h.client(me).desyncs, desyncs, "and none after it");
}

/// A reader that stops loses snapshots (its queue is full), not its view and not the
/// room: the others get every snapshot, and it catches up once it reads again.
#[test]
fn a_stalled_reader_loses_snapshots_not_the_room() {
    let mut s = settings(60, 20, 4);
    s.drones = 30;
    let mut h = Harness::new(s);
    let slow = h.join(anon("slow")).unwrap();
    let fine = h.join(anon("fine")).unwrap();
    h.run(30);
    h.clients[slow].capacity = 4;
    h.clients[slow].reading = false;
    let mut dropped = 0;
    for _ in 0..120 {
        h.tick();
        dropped += h.sent.dropped;
    }
    assert!(
        dropped >= 30,
        "snapshots refused by the full queue: {dropped}"
    );
    assert_eq!(h.client(slow).inbox.len(), 4);
    h.clients[slow].reading = true;
    h.run(30);
    h.assert_views_match();
    assert_eq!(h.client(slow).desyncs, 0);
    assert_eq!(h.client(fine).desyncs, 0);
    assert_eq!(h.client(fine).snapshots, 60, "every snapshot of 180 ticks");
}

/// Spawns `n` short-lived projectiles (one to four ticks), as a crowd firing would.
fn spawn_projectiles(core: &mut RoomCore, n: u32) {
    use crate::engine::NetIds;
    use crate::games::arena::{Facing, Motion, Projectile, Trajectory};
    let spawns = core.config().settings.map.spawns().to_vec();
    let world = core.world_mut();
    let tick = world.resource::<SimClock>().tick;
    for k in 0..n {
        let (x, y) = spawns[k as usize % spawns.len()];
        let id = world.resource_mut::<NetIds>().allocate();
        let (vx, vy) = (8.0, 3.0);
        world.spawn((
            id,
            Motion(shared::movement::Kinematics { x, y, vx, vy }),
            Trajectory::start(tick, x, y, vx, vy),
            Facing(0),
            Projectile {
                owner: id,
                shooter: Entity::PLACEHOLDER,
                expires_at: tick + 1 + k % 4,
            },
        ));
    }
}

/// `rounds` ticks of churn: ten projectiles per tick, and a visitor who joins while
/// the previous one goes (every other one leaves; the others lose their connection
/// and are held for the grace period, then removed).
fn churn(h: &mut Harness, rounds: u32, joins: &mut u32) {
    let mut visitor: Option<usize> = None;
    for _ in 0..rounds {
        spawn_projectiles(&mut h.core, 10);
        if let Some(v) = visitor.take() {
            if joins.is_multiple_of(2) {
                h.send(v, RoomInput::Leave);
            } else {
                h.drop_connection(v);
            }
        }
        *joins += 1;
        visitor = Some(h.join(anon(&format!("visitor{joins}"))).unwrap());
        h.tick();
        // Gone visitors' clients are of no more use to the test.
        h.clients.retain(|c| c.connected);
        visitor = visitor.map(|_| h.clients.len() - 1);
        let f = h.core.footprint();
        // At most two ticks of removals (the double buffer): ten projectiles and a
        // player per tick, a few components each, plus drones shot down.
        assert!(
            f.removal_messages < 400,
            "removal messages pile up: {f:?} after {joins} joins"
        );
    }
    if let Some(v) = visitor {
        h.drop_connection(v);
        h.clients.retain(|c| c.connected);
    }
}

/// Lets every visitor go and the projectiles expire.
fn quiesce(h: &mut Harness) -> Footprint {
    h.run(h.core.grace_ticks() + 10);
    h.core.footprint()
}

/// The memory guard: after 100,000 projectiles and 10,000 joins and leaves, what the
/// room holds is what it held after the first tenth of that, i.e. bounded by the live
/// state rather than by how many entities and players have come and gone.
#[test]
fn memory_is_bounded_by_live_state_under_churn() {
    let mut s = settings(60, 20, 64);
    s.drones = 30;
    let mut h = Harness::new(s);
    for k in 0..4 {
        h.join(anon(&format!("steady{k}"))).unwrap();
    }
    let mut joins = 0;
    churn(&mut h, 1_000, &mut joins);
    let warm = quiesce(&mut h);
    churn(&mut h, 9_000, &mut joins);
    let after = quiesce(&mut h);
    assert_eq!(joins, 10_000);

    assert_eq!(warm.clients, 4, "{warm:?}");
    assert_eq!(
        after.clients, 4,
        "only the steady players remain: {after:?}"
    );
    assert_eq!(after.reservations, 0);
    assert_eq!(
        after.entities, warm.entities,
        "4 players and 30 drones, however many came and went"
    );
    assert_eq!(after.entities, 34);
    assert_eq!(after.ecs_entities, warm.ecs_entities);
    assert!(after.held_views <= 4 * after.entities, "{after:?}");
    assert!(after.pending <= after.held_views, "{after:?}");
    assert!(after.removal_messages < 400, "{after:?}");
    // The shared buffers grow to the largest crowd, which churn does not raise.
    assert!(
        after.replicator_slots <= warm.replicator_slots * 2,
        "{warm:?} → {after:?}"
    );
    h.assert_views_match();
}

/// One step of a random room history.
#[derive(Debug, Clone)]
enum Step {
    Join,
    Walk {
        who: usize,
        x: i8,
        y: i8,
        fire: bool,
    },
    Budget {
        who: usize,
        rate: u16,
        bytes: u32,
    },
    Stall {
        who: usize,
    },
    Read {
        who: usize,
    },
    Lose {
        who: usize,
    },
    Resume {
        who: usize,
    },
    Leave {
        who: usize,
    },
    Corrupt {
        who: usize,
    },
    Ticks(u8),
}

fn step() -> impl Strategy<Value = Step> {
    let who = 0usize..8;
    prop_oneof![
        2 => Just(Step::Join),
        6 => (who.clone(), any::<i8>(), any::<i8>(), any::<bool>())
            .prop_map(|(who, x, y, fire)| Step::Walk { who, x, y, fire }),
        1 => (who.clone(), 1u16..=20, 0u32..40_000)
            .prop_map(|(who, rate, bytes)| Step::Budget { who, rate, bytes }),
        1 => who.clone().prop_map(|who| Step::Stall { who }),
        2 => who.clone().prop_map(|who| Step::Read { who }),
        1 => who.clone().prop_map(|who| Step::Lose { who }),
        1 => who.clone().prop_map(|who| Step::Resume { who }),
        1 => who.clone().prop_map(|who| Step::Leave { who }),
        1 => who.clone().prop_map(|who| Step::Corrupt { who }),
        6 => (1u8..12).prop_map(Step::Ticks),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever joins, walks, shoots, stalls, loses its connection, resumes, leaves or
    /// corrupts its view, in any order: after every tick, each client that has read what
    /// it was sent holds exactly the server's view of it, and a corrupted or resumed
    /// client is back in step by a keyframe.
    #[test]
    fn every_decoded_view_is_the_servers_view_in_any_history(
        steps in prop::collection::vec(step(), 1..60),
        drones in 0u32..40,
        packing_bytes in any::<bool>(),
    ) {
        let mut s = settings(30, 15, 6);
        s.drones = drones;
        s.aoi_radius = 40.0;
        if packing_bytes {
            s.packing = crate::control::config::PackingArg::Bytes;
        }
        let mut h = Harness::new(s);
        let mut seq = 0u32;
        let mut joins = 0u32;
        for st in steps {
            let n = h.clients.len();
            let pick = |who: usize| (n > 0).then(|| who % n);
            match st {
                Step::Join => {
                    joins += 1;
                    let _ = h.join(anon(&format!("p{joins}")));
                }
                Step::Walk { who, x, y, fire } => {
                    if let Some(i) = pick(who).filter(|&i| h.clients[i].connected) {
                        seq += 1;
                        h.send(i, walk(seq, x, y, fire));
                    }
                }
                Step::Budget { who, rate, bytes } => {
                    if let Some(i) = pick(who).filter(|&i| h.clients[i].connected) {
                        h.set_budget(i, rate, bytes);
                    }
                }
                Step::Stall { who } => {
                    if let Some(i) = pick(who) {
                        h.clients[i].reading = false;
                        h.clients[i].capacity = 3;
                    }
                }
                Step::Read { who } => {
                    if let Some(i) = pick(who) {
                        h.clients[i].reading = true;
                        h.read(i);
                    }
                }
                Step::Lose { who } => {
                    if let Some(i) = pick(who).filter(|&i| h.clients[i].connected) {
                        h.drop_connection(i);
                    }
                }
                Step::Resume { who } => {
                    if let Some(i) = pick(who).filter(|&i| !h.clients[i].connected) {
                        let j = h.clients[i].joined.clone();
                        let _ = h.join(JoinKind::Resume {
                            player: j.player,
                            entity: j.entity,
                            generation: j.generation,
                        });
                    }
                }
                Step::Leave { who } => {
                    if let Some(i) = pick(who).filter(|&i| h.clients[i].connected) {
                        h.send(i, RoomInput::Leave);
                    }
                }
                Step::Corrupt { who } => {
                    if let Some(i) = pick(who) {
                        h.corrupt(i);
                    }
                }
                Step::Ticks(t) => {
                    for _ in 0..t {
                        h.tick();
                        h.assert_views_match();
                    }
                }
            }
        }
        // Everyone reads again; a few snapshots later every view is the server's.
        for c in &mut h.clients {
            c.reading = true;
        }
        h.run(90);
        h.assert_views_match();
        for c in h.clients.iter().filter(|c| c.connected) {
            prop_assert!(!c.out_of_step, "back in step within 3 s");
            prop_assert!(c.view.get(c.joined.entity).is_some(), "own player in view");
        }
    }
}
