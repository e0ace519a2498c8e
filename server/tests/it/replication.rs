//! Delta snapshots as clients receive them: keyframes, areas of interest, desync
//! recovery, per-client rate and budget, and the naive full mode.

use bot_client::{Client, Event};
use shared::protocol::SnapshotSettings;
use shared::quant::pos_to_q;

use crate::{TestServer, WAIT, receive_snapshots};

#[tokio::test]
async fn joining_gives_a_keyframe_then_deltas_that_never_desync() {
    let server = TestServer::start(&["--drones", "60", "--aoi-radius", "300"]).await;
    let mut a = server.client("a").await;
    let mut b = server.client("b").await;
    a.send_input(127, 64, 1000, 1).await.unwrap();
    b.send_input(-127, 0, 30_000, 1).await.unwrap();
    receive_snapshots(&mut a, 60).await;
    receive_snapshots(&mut b, 60).await;
    for c in [&a, &b] {
        let v = c.view();
        assert_eq!(v.keyframes, 1, "only the first snapshot is a keyframe");
        assert_eq!(v.desyncs, 0, "every checksum matched");
        assert_eq!(v.with_component("Drone").count(), 60);
    }
    server.stop().await;
}

#[tokio::test]
async fn the_view_holds_only_the_area_of_interest_and_the_own_player() {
    let server = TestServer::start(&["--drones", "150", "--aoi-radius", "20"]).await;
    let mut bot = server.client("scout").await;
    let me = bot.welcome().entity;
    let radius = i64::from(pos_to_q(20.0));
    // Walk around so the area sweeps over drones entering and leaving it.
    bot.send_input(90, 90, 0, 0).await.unwrap();
    let mut checked = 0;
    bot.wait_until(WAIT, |v| {
        let own = v.get(me).expect("the own player is always in view");
        let (ox, oy) = crate::arena::position(v, own);
        for e in v.entities() {
            let (x, y) = crate::arena::position(v, e);
            let (dx, dy) = (i64::from(x - ox), i64::from(y - oy));
            assert!(
                dx * dx + dy * dy <= radius * radius,
                "entity {} outside the area",
                e.id
            );
        }
        checked += 1;
        checked >= 40
    })
    .await
    .unwrap();
    let view = bot.view();
    assert!(
        view.with_component("Drone").count() < 150,
        "a 20 m area cannot hold all drones"
    );
    assert_eq!(view.desyncs, 0);
    server.stop().await;
}

/// A 60 m × 20 m open map with a single spawn point, so that players start together.
fn corridor_map() -> tempfile_path::TempPath {
    let json =
        r#"{"name":"corridor","width":60,"height":20,"walls":[],"spawns":[{"x":10,"y":10}]}"#;
    tempfile_path::write(json)
}

mod tempfile_path {
    use std::path::PathBuf;

    /// A file in the temp directory, removed on drop.
    pub struct TempPath(pub PathBuf);

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    pub fn write(contents: &str) -> TempPath {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("tickwire-map-{}-{n}.json", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        TempPath(path)
    }
}

#[tokio::test]
async fn entities_leaving_the_area_are_removed_and_come_back() {
    let map = corridor_map();
    let map_arg = map.0.to_str().unwrap().to_owned();
    let server =
        TestServer::start(&["--map", &map_arg, "--drones", "0", "--aoi-radius", "8"]).await;
    let mut walker = server.client("walker").await;
    let mut watcher = server.client("watcher").await;
    let walker_id = walker.welcome().entity;
    watcher
        .wait_until(WAIT, |v| v.get(walker_id).is_some())
        .await
        .unwrap();

    walker.send_input(127, 0, 0, 0).await.unwrap();
    watcher
        .wait_until(WAIT, |v| v.get(walker_id).is_none())
        .await
        .unwrap();
    walker.send_input(-127, 0, 0, 0).await.unwrap();
    watcher
        .wait_until(WAIT, |v| v.get(walker_id).is_some())
        .await
        .unwrap();
    assert_eq!(watcher.view().desyncs, 0);
    server.stop().await;
}

#[tokio::test]
async fn a_desync_report_is_answered_with_a_keyframe() {
    let server = TestServer::start(&[]).await;
    let mut bot = server.client("unlucky").await;
    receive_snapshots(&mut bot, 3).await;
    assert_eq!(bot.view().keyframes, 1);
    bot.request_keyframe().await.unwrap();
    bot.wait_until(WAIT, |v| v.keyframes == 2).await.unwrap();
    receive_snapshots(&mut bot, 5).await;
    assert_eq!(bot.view().keyframes, 2);
    assert_eq!(bot.view().desyncs, 0);
    server.stop().await;
}

async fn next_settings(client: &mut Client) -> SnapshotSettings {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Event::Settings(s) = client.next_event().await.unwrap() {
                return s;
            }
        }
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn snapshot_settings_are_clamped_and_the_rate_is_kept_in_simulation_time() {
    let server = TestServer::start(&["--tick-rate", "60", "--snapshot-rate", "20"]).await;
    let mut bot = server.client("picky").await;
    assert_eq!(bot.welcome().settings.rate, 20);

    bot.request_settings(500, 1).await.unwrap();
    let granted = next_settings(&mut bot).await;
    assert_eq!(
        granted,
        SnapshotSettings {
            rate: 20,
            max_bytes_per_sec: 2_048
        }
    );

    bot.request_settings(5, 10_000_000).await.unwrap();
    let granted = next_settings(&mut bot).await;
    assert_eq!(
        granted,
        SnapshotSettings {
            rate: 5,
            max_bytes_per_sec: 262_144
        }
    );
    // Snapshots queued before the change still arrive at the old rate; from the first
    // one at the new rate on, every gap is exactly 60 / 5 ticks.
    let mut ticks = Vec::new();
    bot.wait_until(WAIT, |v| {
        ticks.push(v.tick);
        ticks.len() >= 20
    })
    .await
    .unwrap();
    let gaps: Vec<u32> = ticks.windows(2).map(|w| w[1] - w[0]).collect();
    let settled: Vec<u32> = gaps.iter().copied().skip_while(|&g| g != 12).collect();
    assert!(settled.len() >= 8, "gaps {gaps:?}");
    assert!(settled.iter().all(|&g| g == 12), "gaps {gaps:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_tight_budget_spreads_the_keyframe_without_starving_anyone() {
    let server = TestServer::start(&[
        "--drones",
        "200",
        "--aoi-radius",
        "300",
        "--client-budget",
        "2048",
    ])
    .await;
    let mut bot = server.client("frugal").await;
    let before = bot.bytes_in();
    let snapshots = bot
        .wait_until(WAIT, |v| v.with_component("Drone").count() == 200)
        .await
        .unwrap();
    let fill_bytes = bot.bytes_in() - before;
    // 200 drones at several bytes each do not fit one ~100-byte snapshot (2,048 B/s at
    // 20 Hz): the view fills over several snapshots, in about a second of budget.
    assert!(
        snapshots > 5,
        "filled in {snapshots} snapshots: the budget was ignored"
    );
    // About 1.6 KB of creations, plus the drones' turns meanwhile, at 2,048 B/s.
    assert!(
        snapshots <= 40,
        "took {snapshots} snapshots: something starved"
    );
    assert!(fill_bytes < 8_000, "{fill_bytes} bytes for the fill-up");
    let before = bot.bytes_in();
    receive_snapshots(&mut bot, 20).await;
    let steady = bot.bytes_in() - before;
    assert!(steady < 20 * 200, "{steady} bytes for 20 steady snapshots");
    assert_eq!(bot.view().desyncs, 0);
    server.stop().await;
}

#[tokio::test]
async fn a_byte_budget_is_held_in_any_crowd() {
    // A crowd far beyond what 2 KB/s can keep fresh: 1,000 drones, all in view.
    let server = TestServer::start(&[
        "--drones",
        "1000",
        "--aoi-radius",
        "300",
        "--tick-rate",
        "30",
        "--snapshot-rate",
        "15",
    ])
    .await;
    let mut bot = server.client("frugal").await;
    bot.request_settings(15, 2_048).await.unwrap();
    let granted = next_settings(&mut bot).await;
    assert_eq!(granted.max_bytes_per_sec, 2_048);
    // Snapshots built before the room applied the new budget may still be on their
    // way; from the fifth on, every one was.
    receive_snapshots(&mut bot, 5).await;
    // Bytes of every snapshot with its arrival time, for 4 seconds.
    let mut arrivals = Vec::new();
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(4) {
        if let Event::Snapshot { bytes, .. } = bot.next_event().await.unwrap() {
            arrivals.push((std::time::Instant::now(), bytes));
        }
    }
    // Over any one second: at most the budget plus one bucket (160 bytes here, the
    // bucket's least, as 2,048 / 15 is less).
    let worst = arrivals
        .iter()
        .map(|&(t, _)| {
            arrivals
                .iter()
                .filter(|&&(u, _)| {
                    u <= t && t.duration_since(u) < std::time::Duration::from_secs(1)
                })
                .map(|&(_, b)| b)
                .sum::<u64>()
        })
        .max()
        .unwrap();
    assert!(worst <= 2_048 + 160, "{worst} bytes within one second");
    assert!(arrivals.len() >= 40, "{} snapshots in 4 s", arrivals.len());
    let v = bot.view();
    assert_eq!(v.desyncs, 0);
    assert!(
        v.get(bot.welcome().entity).is_some(),
        "the own player is in view"
    );
    let drones = v.with_component("Drone").count();
    assert!(
        drones > 20,
        "{drones} drones in view: the budget starved the view"
    );
    server.stop().await;
}

#[tokio::test]
async fn full_mode_sends_every_entity_to_everyone() {
    let server =
        TestServer::start(&["--snapshots", "full", "--drones", "40", "--aoi-radius", "5"]).await;
    let mut bot = server.client("naive").await;
    bot.wait_until(WAIT, |v| v.with_component("Drone").count() == 40)
        .await
        .unwrap();
    assert_eq!(bot.view().keyframes, 0, "full snapshots are not deltas");
    server.stop().await;
}
