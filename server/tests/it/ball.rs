//! The ball game with a swarm of bots: every bot gets the ball game's behaviour from the
//! schema in `Welcome`, stays in sync, and plays: bots take the ball and kick it towards
//! the goal they attack.

use std::collections::BTreeSet;
use std::time::Duration;

use bot_client::WorldView;
use bot_client::swarm::{SwarmConfig, run_swarm};
use shared::games::ball::Team;
use tokio_util::sync::CancellationToken;

use crate::{TestServer, WAIT};

/// The ball room's preset as shipped (the pitch, 60 ticks/s, 30 snapshots/s).
const BALL_ROOMS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/rooms/ball.toml");

/// How long the swarm may take to make its first kick; it normally does within five
/// seconds of joining.
const PLAY_WAIT: Duration = Duration::from_secs(12);

const BOT_PREFIX: &str = "baller";

/// A kick as the watcher saw it.
#[derive(Debug, Clone, PartialEq)]
struct Kick {
    kicker: String,
    team: Team,
    /// The ball's velocity along x right after the kick, in position steps per second.
    vx: i32,
}

/// What the test's own client (the watcher, itself a player that never moves) sees of
/// the ball, snapshot after snapshot.
#[derive(Debug, Default)]
struct Watch {
    /// The player last seen holding the ball (its name and team), unless the watcher.
    holder: Option<(String, Team)>,
    /// Names of everyone seen holding the ball, but the watcher.
    holders: BTreeSet<String>,
    /// The ball seen loose and rolling right after a player held it. Nothing but a kick
    /// sets a loose ball rolling: bounces keep it rolling, friction and kick-offs stop
    /// it, and taking it makes it held.
    kicks: Vec<Kick>,
}

impl Watch {
    fn see(&mut self, view: &WorldView) {
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
            let player = view.get(holder).expect("the holder is in view");
            let name = view.text(player, "Player", "name").unwrap().to_owned();
            let team = view
                .value(player, "Player", "team")
                .and_then(|t| Team::from_bits(u32::try_from(t).unwrap()))
                .expect("the holder has a team");
            self.holders.insert(name.clone());
            self.holder = Some((name, team));
        } else if let Some((kicker, team)) = self.holder.take() {
            let path = view.field("Flight", "path").unwrap();
            let m = ball.get_motion(&path).expect("a loose ball has a flight");
            if (m.vx, m.vy) != (0, 0) {
                self.kicks.push(Kick {
                    kicker,
                    team,
                    vx: m.vx,
                });
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swarm_plays_ball_in_sync_and_kicks_at_the_goals() {
    let server = TestServer::start(&["--rooms", BALL_ROOMS]).await;
    let mut watcher = server.client("watcher").await;
    assert_eq!(watcher.welcome().schema.game, "ball");

    let bots = 5;
    let stop = CancellationToken::new();
    let swarm = tokio::spawn(run_swarm(
        SwarmConfig {
            url: server.url(),
            bots,
            // A bound only: the swarm is stopped as soon as it has played.
            duration: PLAY_WAIT + WAIT,
            ramp_per_sec: 0.0,
            seed: 42,
            name_prefix: BOT_PREFIX.into(),
            ..SwarmConfig::default()
        },
        stop.clone(),
    ));

    let mut watch = Watch::default();
    let played = watcher
        .wait_until(PLAY_WAIT, |view| {
            watch.see(view);
            !watch.kicks.is_empty()
        })
        .await;
    stop.cancel();
    let report = tokio::time::timeout(WAIT, swarm)
        .await
        .expect("the swarm stops")
        .unwrap();
    played.unwrap_or_else(|e| panic!("no kick seen ({e}): {watch:?}\n{report}"));

    // The server counted the kicks too, each to its kicker (`Player.kicks`, this match).
    let view = watcher.view();
    let kicks_of = |name: &str| {
        view.with_component("Player")
            .filter(|p| view.text(p, "Player", "name") == Some(name))
            .map(|p| view.value(p, "Player", "kicks").unwrap())
            .sum::<i64>()
    };
    assert_eq!(kicks_of("watcher"), 0);
    for kick in &watch.kicks {
        assert!(kicks_of(&kick.kicker) >= 1, "{kick:?} not counted");
    }
    let counted: i64 = view
        .with_component("Player")
        .filter_map(|p| view.value(p, "Player", "kicks"))
        .sum();
    assert!(counted >= watch.kicks.len() as i64, "{counted}: {watch:?}");

    // Bots held the ball, and every kick went towards the goal its kicker's team attacks.
    assert!(
        watch.holders.iter().all(|n| n.starts_with(BOT_PREFIX)),
        "{watch:?}"
    );
    for kick in &watch.kicks {
        assert!(kick.kicker.starts_with(BOT_PREFIX), "{kick:?}");
        let forward = match kick.team {
            Team::Left => kick.vx > 0,
            Team::Right => kick.vx < 0,
        };
        assert!(forward, "a kick away from the goal attacked: {kick:?}");
    }

    // Every bot played the ball game's behaviour, in sync, for the whole run.
    assert_eq!(report.bots_connected, bots, "{report}");
    assert_eq!(report.bots_failed, 0, "{report}");
    assert!(report.errors.is_empty(), "{report}");
    assert_eq!(
        report.behaviours.get("ball").copied(),
        Some(u64::from(bots)),
        "{report}"
    );
    assert_eq!(report.behaviours.len(), 1, "{report}");
    assert_eq!(report.desyncs, 0, "{report}");
    assert!(report.snapshots_total > 0, "{report}");
    assert_eq!(watcher.view().desyncs, 0);
    server.stop().await;
}
