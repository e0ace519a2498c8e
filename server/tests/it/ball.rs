//! The ball game with a swarm of bots: they play it (take the ball, kick it at the
//! opponents' goal) through the behaviour the `Welcome`'s schema picks, in sync.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bot_client::WorldView;
use bot_client::swarm::{SwarmConfig, run_swarm};
use shared::games::ball::Team;
use tokio_util::sync::CancellationToken;

use crate::{TestServer, WAIT};

/// The ball room's preset, as shipped.
const BALL_ROOMS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/rooms/ball.toml");

/// What the test's own client sees of the ball, snapshot after snapshot.
#[derive(Debug, Default)]
struct Watch {
    /// The player last seen holding the ball, and its team, unless it is the watcher.
    holder: Option<(u32, Team)>,
    /// Every player of the swarm seen holding the ball.
    holders: BTreeSet<u32>,
    /// Kicks: the ball loose and rolling right after a bot held it, with the kicker, its
    /// team and the ball's velocity along x (position steps per second).
    kicks: Vec<(u32, Team, i64)>,
    /// Goals in the current match.
    goals: i64,
}

impl Watch {
    fn see(&mut self, view: &WorldView, t: f64) {
        if view.tick % 15 == 0 && t < 8.0 {
            let ps: Vec<String> = view
                .with_component("Player")
                .map(|p| {
                    let (x, y) = view.position(p).unwrap();
                    format!("{}{}:({x:.0},{y:.0})", p.id, if view.value(p, "Player", "team") == Some(0) { "L" } else { "R" })
                })
                .collect();
            let b = view.with_component("Ball").next().map(|b| (view.value(b, "Ball", "holder"), view.position(b)));
            eprintln!("{t:.2}s {} ball {b:?}", ps.join(" "));
        }
        let Some(ball) = view.with_component("Ball").next() else {
            return;
        };
        let holder = view.value(ball, "Ball", "holder").unwrap_or(0);
        if holder != 0 {
            let holder = u32::try_from(holder).unwrap();
            if holder == view.own_entity() {
                self.holder = None;
                return;
            }
            let team = view
                .get(holder)
                .and_then(|p| view.value(p, "Player", "team"))
                .and_then(|t| Team::from_bits(u32::try_from(t).unwrap()))
                .expect("the holder is a player in view");
            if self.holder.map(|h| h.0) != Some(holder) {
                eprintln!("{t:.2}s holder {holder} {team:?}");
            }
            self.holder = Some((holder, team));
            self.holders.insert(holder);
        } else if let Some((kicker, team)) = self.holder.take() {
            let path = view.field("Flight", "path").unwrap();
            let m = ball.get_motion(&path).expect("a loose ball has a flight");
            if (m.vx, m.vy) != (0, 0) {
                eprintln!("{t:.2}s kick by {kicker} {team:?} vx {}", m.vx);
                self.kicks.push((kicker, team, i64::from(m.vx)));
            }
        }
        if let Some(m) = view.with_component("Match").next() {
            let goals = view.value(m, "Match", "score_left").unwrap()
                + view.value(m, "Match", "score_right").unwrap();
            if goals != self.goals {
                eprintln!("{t:.2}s goals {goals}");
            }
            self.goals = goals;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swarm_plays_ball_and_kicks_at_the_goals() {
    let server = TestServer::start(&["--rooms", BALL_ROOMS]).await;
    let mut watcher = server.client("watcher").await;
    assert_eq!(watcher.welcome().schema.game, "ball");

    let stop = CancellationToken::new();
    let bots = 5;
    let swarm = tokio::spawn(run_swarm(
        SwarmConfig {
            url: server.url(),
            bots,
            duration: Duration::from_secs(20),
            ramp_per_sec: 0.0,
            seed: std::env::var("BALL_SEED").map_or(42, |s| s.parse().unwrap()),
            name_prefix: "baller".into(),
            ..SwarmConfig::default()
        },
        stop.clone(),
    ));
    let start = Instant::now();
    let mut watch = Watch::default();
    let _ = watcher
        .wait_until(Duration::from_secs(18), |view| {
            watch.see(view, start.elapsed().as_secs_f64());
            false
        })
        .await;
    stop.cancel();
    let report = tokio::time::timeout(WAIT, swarm).await.unwrap().unwrap();
    eprintln!("{report}");
    eprintln!("{watch:?}");
    server.stop().await;
}
