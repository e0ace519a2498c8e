//! A hundred rooms in one process, on the room workers: every one ticks and reports its
//! tick jitter (|actual tick start − scheduled start|). The numbers are printed, not
//! asserted: this machine is shared, and `benches --bin rooms` is the measurement.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use server::room::stats::new_histogram;

use crate::{TestServer, WAIT, receive_snapshots, rooms_file};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_rooms_tick_side_by_side() {
    let mut toml = String::new();
    for i in 0..100 {
        let _ = writeln!(
            toml,
            "[[room]]\nid = \"r{i}\"\ndrones = 5\nmax_players = 8\ntick_rate = 30\nsnapshot_rate = 10\n"
        );
    }
    let path = rooms_file("jitter", &toml);
    let server = TestServer::start(&["--rooms", path.to_str().unwrap()]).await;
    let registry = server.server().registry();
    assert_eq!(registry.len(), 100);
    // An empty room parks (it does not tick): a held seat in each keeps all ticking.
    for (room, _) in registry.list() {
        room.reserve("held".into(), "n".into(), Duration::from_secs(600))
            .await
            .unwrap();
    }
    // A player in the last room gets its snapshots while 99 other rooms tick.
    let mut player = bot_client::Client::connect(&server.room_url("r99"), "p")
        .await
        .unwrap();
    receive_snapshots(&mut player, 3).await;

    // Wait for two new reports of every room (the first may cover start-up), all rooms
    // at once.
    let reports = registry.list().into_iter().map(|(room, _)| async move {
        let mut stats = room.stats();
        stats.mark_unchanged();
        for _ in 0..2 {
            tokio::time::timeout(WAIT, stats.changed())
                .await
                .expect("a room stopped reporting")
                .unwrap();
        }
        let s = stats.borrow().clone();
        (room.id().to_owned(), s)
    });
    let reports = futures_util::future::join_all(reports).await;
    let mut lateness: Histogram<u64> = new_histogram();
    let mut ticks = 0;
    for (id, s) in reports {
        assert!(s.ticks > 0, "room {id} did not tick");
        ticks += s.ticks;
        lateness.add(&s.lateness_us).unwrap();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "100 rooms at 30 Hz: {ticks} ticks in the last interval of each; tick start lateness p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        ms(lateness.value_at_quantile(0.5)),
        ms(lateness.value_at_quantile(0.99)),
        ms(lateness.max())
    );
    receive_snapshots(&mut player, 2).await;
    server.stop().await;
}
