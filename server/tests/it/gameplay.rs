//! The game as clients see it: movement, projectiles, other players.

use crate::arena;
use shared::quant::q_to_pos;
use shared::rules::BUTTON_FIRE;

use crate::{TestServer, WAIT, WHOLE_MAP, receive_snapshots};

#[tokio::test]
async fn players_see_each_other_move() {
    let server = TestServer::start(WHOLE_MAP).await;
    let mut mover = server.client("mover").await;
    let mut watcher = server.client("watcher").await;
    let mover_id = mover.welcome().entity;

    watcher
        .wait_until(WAIT, |v| v.get(mover_id).is_some())
        .await
        .unwrap();
    let start = watcher.view().get(mover_id).unwrap().clone();
    assert!(
        watcher
            .view()
            .with_component("Player")
            .any(|e| e.id == mover_id)
    );
    assert_eq!(arena::name(watcher.view(), &start), "mover");
    let start = arena::motion(watcher.view(), &start);

    // The server applies the newest intent every tick until a newer one arrives, so one
    // input keeps the mover walking right (every spawn has at least 2 m free that way).
    mover.send_input(127, 0, 0, 0).await.unwrap();
    watcher
        .wait_until(WAIT, |v| {
            v.get(mover_id)
                .is_some_and(|e| q_to_pos(arena::motion(v, e).x - start.x) >= 2.0)
        })
        .await
        .unwrap();
    let moved = arena::motion(watcher.view(), watcher.view().get(mover_id).unwrap());
    assert_eq!(moved.y, start.y, "moving right must not drift vertically");

    // And the mover's own view agrees, with its input acknowledged.
    mover
        .wait_until(WAIT, |v| {
            v.last_input_seq == 1
                && v.get(mover_id)
                    .is_some_and(|e| arena::motion(v, e).x > start.x)
        })
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn projectiles_appear_and_disappear() {
    let server = TestServer::start(WHOLE_MAP).await;
    let mut shooter = server.client("shooter").await;
    let mut watcher = server.client("watcher").await;
    let shooter_id = shooter.welcome().entity;
    receive_snapshots(&mut watcher, 1).await;

    // Aim up (a quarter turn backwards), fire once, release.
    shooter.send_input(0, 0, 49152, BUTTON_FIRE).await.unwrap();
    let mut shot = None;
    watcher
        .wait_until(WAIT, |v| {
            shot = v
                .with_component("Projectile")
                .find(|p| arena::owner(v, p) == shooter_id)
                .map(|p| p.id);
            shot.is_some()
        })
        .await
        .unwrap();
    shooter.send_input(0, 0, 49152, 0).await.unwrap();
    let shot = shot.unwrap();
    let p = arena::motion(watcher.view(), watcher.view().get(shot).unwrap());
    assert!(
        p.vy < 0 && p.vx.abs() < 2,
        "projectile should fly up, got ({}, {})",
        p.vx,
        p.vy
    );
    // It expires (or hits a wall) and leaves every view.
    watcher
        .wait_until(WAIT, |v| v.get(shot).is_none())
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn drones_wander_and_are_replicated() {
    let server = TestServer::start(&["--drones", "25", "--aoi-radius", "300"]).await;
    let mut bot = server.client("viewer").await;
    bot.wait_until(WAIT, |v| v.with_component("Drone").count() == 25)
        .await
        .unwrap();
    let before: Vec<_> = bot
        .view()
        .with_component("Drone")
        .map(|d| {
            let m = arena::motion(bot.view(), d);
            (d.id, m.x, m.y)
        })
        .collect();
    bot.wait_until(WAIT, |v| {
        before
            .iter()
            .filter(|(id, x, y)| {
                v.get(*id).is_some_and(|d| {
                    let m = arena::motion(v, d);
                    (m.x, m.y) != (*x, *y)
                })
            })
            .count()
            >= 20
    })
    .await
    .unwrap();
    server.stop().await;
}
