//! The ball game in a real room core: its schema reaches clients in `Welcome`, clients
//! decode every snapshot with it, the replicator's change detection misses nothing (each
//! snapshot tick is checked against a full pass), and an idle room sends no changes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::codec::decode_server;
use shared::delta::ClientView;
use shared::games::ball::{BUTTON_KICK, KICK_SPEED, PITCH_JSON, Phase, Team};
use shared::map::Map;
use shared::movement::Kinematics;
use shared::protocol::{EntityState, Hello, Intent, PROTOCOL_VERSION, ServerMessage, Welcome};
use shared::quant::vel_to_q;
use shared::schema::Layout;

use super::*;
use crate::control::config::SnapshotMode;
use crate::room::core::{Delivery, RoomCore};
use crate::room::{JoinKind, RoomConfig, RoomInput};

struct Client {
    welcome: Welcome,
    view: ClientView,
    /// Snapshot sizes in bytes, as read.
    sizes: Vec<usize>,
}

struct Room {
    core: RoomCore,
    clients: Vec<Client>,
    now: Instant,
    seq: u32,
}

impl Room {
    fn new() -> Room {
        let mut s = crate::ServerConfig::default().validate().unwrap().room;
        s.name = "t".into();
        s.game = "ball".into();
        s.map = Arc::new(Map::from_json(PITCH_JSON).unwrap());
        s.tick_rate = 60;
        s.snapshot_rate = 30;
        s.max_players = 10;
        s.aoi_radius = 80.0;
        s.snapshots = SnapshotMode::Delta;
        s.outbound_queue_bytes = 1 << 20;
        let config = RoomConfig {
            id: "t".into(),
            game: crate::games::of_room("ball"),
            settings: s,
            seed: 1,
            stats_interval: Duration::from_secs(1),
            resume_grace: Duration::from_secs(1),
        };
        Room {
            core: RoomCore::new(Arc::new(config)),
            clients: Vec::new(),
            now: Instant::now(),
            seq: 0,
        }
    }

    fn join(&mut self, player: &str) -> usize {
        let name = Hello {
            protocol_version: PROTOCOL_VERSION,
            name: player.into(),
            ..Hello::default()
        }
        .validate()
        .unwrap();
        let kind = JoinKind::Anonymous {
            player: player.into(),
        };
        let joined = self.core.join(kind, name).unwrap();
        let welcome = self.core.config().welcome(&joined);
        let layout = Arc::new(welcome.schema.layout().unwrap());
        self.clients.push(Client {
            welcome,
            view: ClientView::new(layout),
            sizes: Vec::new(),
        });
        self.clients.len() - 1
    }

    fn input(&mut self, client: usize, aim: u16, buttons: u8) {
        self.seq += 1;
        let intent = Intent {
            aim,
            buttons,
            ..Intent::default()
        };
        let id = self.clients[client].welcome.client_id;
        self.core.input(
            id,
            RoomInput::Frame {
                seq: self.seq,
                intent,
            },
        );
    }

    fn tick(&mut self) {
        self.now += Duration::from_secs(1) / 60;
        let clients = &mut self.clients;
        let sent = self.core.tick(self.now, |id, bytes| {
            let c = clients
                .iter_mut()
                .find(|c| c.welcome.client_id == id)
                .unwrap();
            let ServerMessage::Snapshot(snap) = decode_server(&bytes).unwrap() else {
                return Delivery::Queued;
            };
            c.sizes.push(bytes.len());
            c.view.apply(&snap, 60, c.welcome.packing).unwrap();
            Delivery::Queued
        });
        if sent.replicated {
            self.core.assert_replication_is_fresh();
            for c in &self.clients {
                let (tick, held) = self.core.baseline(c.welcome.client_id).unwrap();
                assert_eq!((c.view.tick(), c.view.entities()), (tick, held));
            }
        }
    }

    fn run(&mut self, ticks: u32) {
        for _ in 0..ticks {
            self.tick();
        }
    }

    fn place(&mut self, client: usize, at: (f64, f64)) {
        let world = self.core.world_mut();
        let net_id = self.clients[client].welcome.entity;
        let mut q = world.query::<(&NetId, &mut Body)>();
        let (_, mut body) = q.iter_mut(world).find(|(id, _)| id.0 == net_id).unwrap();
        body.0 = Kinematics {
            x: at.0,
            y: at.1,
            vx: 0.0,
            vy: 0.0,
        };
    }
}

/// The entity of client `c`'s view that has component `name`, first by id.
fn with<'a>(c: &'a Client, name: &str) -> &'a EntityState {
    let layout = c.view.layout();
    let i = layout.component(name).unwrap();
    c.view.entities().iter().find(|e| e.has(i)).unwrap()
}

fn read(layout: &Layout, e: &EntityState, component: &str, field: &str) -> Option<i64> {
    e.get(&layout.field(component, field).unwrap())
}

#[test]
fn a_ball_room_replicates_its_schema_to_decoding_clients() {
    let mut room = Room::new();
    let a = room.join("a");
    let b = room.join("b");
    assert_eq!(
        &room.clients[a].welcome.schema,
        BallGame.replication().schema()
    );
    room.run(10);
    let c = &room.clients[b];
    let layout = c.view.layout().clone();
    // The match is global: no position, yet in every view.
    let game = with(c, "Match");
    assert_eq!(layout.position(game, 10, 60), None);
    assert_eq!(
        read(&layout, game, "Match", "phase"),
        Some(i64::from(Phase::Playing.bits()))
    );
    let players: Vec<i64> = c
        .view
        .entities()
        .iter()
        .filter_map(|e| read(&layout, e, "Player", "team"))
        .collect();
    let teams = [Team::Left, Team::Right].map(|t| i64::from(t.bits()));
    assert_eq!(players, teams);
    let ball = with(c, "Ball").id;

    // Client a walks onto the ball: b sees a holding it, and the ball has no motion.
    let centre = room.core.world_mut().resource::<Pitch>().centre;
    room.place(a, centre);
    room.run(4);
    let c = &room.clients[b];
    let e = c.view.get(ball).unwrap();
    let holder = read(&layout, e, "Ball", "holder");
    assert_eq!(holder, Some(i64::from(room.clients[a].welcome.entity)));
    assert_eq!(read(&layout, e, "Flight", "path"), None);
    assert_eq!(layout.position(e, 14, 60), None);

    // A kick: the ball flies a trajectory again.
    room.input(a, 0, BUTTON_KICK);
    room.run(4);
    let c = &room.clients[b];
    let e = c.view.get(ball).unwrap();
    assert_eq!(read(&layout, e, "Ball", "holder"), Some(0));
    let path = e
        .get_motion(&layout.field("Flight", "path").unwrap())
        .unwrap();
    assert_eq!((path.vx, path.vy), (vel_to_q(KICK_SPEED), 0));

    // Once it has stopped and nobody moves, snapshots carry no changes: each is the
    // same few bytes of header.
    room.input(a, 0, 0);
    room.run(240);
    let before = room.clients[b].sizes.len();
    room.run(60);
    let idle = &room.clients[b].sizes[before..];
    assert_eq!(idle.len(), 30);
    assert!(
        idle.iter().all(|&n| n == idle[0]),
        "idle snapshots: {idle:?}"
    );
    assert!(idle[0] <= 16, "an idle snapshot is {} bytes", idle[0]);
}
