//! In-memory harness: a [`RoomCore`] and N decoding clients exchanging bytes, with no
//! socket, thread, clock or sleep (after quinn-proto's `Pair`).
//!
//! Simulated time advances one tick period per [`Harness::tick`]. Each client has a
//! bounded inbox (the outbound queue of a real session), may stop reading (a stalled
//! reader) or lose its connection, and decodes what it reads with the same
//! `shared::delta::ClientView` the bot-client uses, verifying every checksum and asking
//! for a keyframe on a mismatch, as real clients do. After every snapshot tick it checks
//! that the replicator's change detection missed nothing (a fresh full pass agrees).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use shared::codec::decode_server;
use shared::delta::ClientView;
use shared::protocol::{
    EntityState, Hello, PROTOCOL_VERSION, PlayerName, ServerMessage, SnapshotSettings, Welcome,
};

use super::core::{Delivery, RoomCore, Sent};
use super::{JoinKind, Joined, RoomConfig, RoomError, RoomInput};
use crate::control::config::{RoomSettings, SnapshotMode};

/// Room settings for tests: the flags' defaults (the arena, delta snapshots, bit
/// packing) with these rates and seats, no drones, a fixed seed and a 1 MiB queue.
pub fn settings(tick_rate: u16, snapshot_rate: u16, max_players: u32) -> RoomSettings {
    let mut s = crate::ServerConfig::default()
        .validate()
        .expect("the default configuration is valid")
        .room;
    s.name = "t".into();
    s.tick_rate = tick_rate;
    s.snapshot_rate = snapshot_rate;
    s.max_players = max_players;
    s.drones = 0;
    s.aoi_radius = 48.0;
    s.snapshots = SnapshotMode::Delta;
    s.outbound_queue_bytes = 1 << 20;
    s.seed = Some(1);
    s
}

pub fn config(settings: RoomSettings) -> RoomConfig {
    RoomConfig {
        id: "t".into(),
        game: crate::games::of_room(&settings.game),
        settings,
        seed: 1,
        stats_interval: Duration::from_secs(1),
        resume_grace: Duration::from_secs(1),
    }
}

pub fn name(n: &str) -> PlayerName {
    Hello {
        protocol_version: PROTOCOL_VERSION,
        name: n.into(),
        ..Hello::default()
    }
    .validate()
    .unwrap()
}

pub fn anon(p: &str) -> JoinKind {
    JoinKind::Anonymous { player: p.into() }
}

pub fn token(p: &str, nonce: &str) -> JoinKind {
    JoinKind::Token {
        player: p.into(),
        nonce: nonce.into(),
    }
}

/// One decoding client.
#[derive(Debug)]
pub struct TestClient {
    pub joined: Joined,
    pub welcome: Welcome,
    pub view: ClientView,
    /// Messages queued for the client and not read yet.
    pub inbox: VecDeque<Bytes>,
    /// Messages the inbox holds at most (further ones are refused as `Full`).
    pub capacity: usize,
    /// False for a stalled reader: its inbox fills up.
    pub reading: bool,
    /// False once the connection is gone (the sink answers `Closed`).
    pub connected: bool,
    pub snapshots: u64,
    pub keyframes: u64,
    pub desyncs: u64,
    /// Set when the view went wrong (a failed snapshot, or [`Harness::corrupt`]) until a
    /// keyframe applies: the view is not the server's meanwhile.
    pub out_of_step: bool,
    /// Bytes read, and per snapshot read: (tick, bytes).
    pub bytes: u64,
    pub received: Vec<(u32, usize)>,
    /// When set, every message read, as sent (the game golden vectors record them).
    pub record: Option<Vec<Bytes>>,
}

/// A room core and its clients; see the module docs.
pub struct Harness {
    pub core: RoomCore,
    pub clients: Vec<TestClient>,
    pub now: Instant,
    period: Duration,
    /// What the last tick's snapshot round sent.
    pub sent: Sent,
}

impl Harness {
    pub fn new(settings: RoomSettings) -> Harness {
        Harness::with_config(config(settings))
    }

    /// A room of a game that need not be registered (the random-schema tests).
    pub fn with_config(config: RoomConfig) -> Harness {
        let period = Duration::from_secs_f64(1.0 / f64::from(config.settings.tick_rate));
        Harness {
            core: RoomCore::new(Arc::new(config)),
            clients: Vec::new(),
            now: Instant::now(),
            period,
            sent: Sent::default(),
        }
    }

    /// Seats a client; returns its index in [`Harness::clients`] (a takeover or resume of
    /// a player another client holds replaces that client's connection).
    pub fn join(&mut self, kind: JoinKind) -> Result<usize, RoomError> {
        let joined = self.core.join(kind, name("p"))?;
        for c in &mut self.clients {
            if c.joined.client_id == joined.client_id {
                c.connected = false;
            }
        }
        let welcome = self.core.config().welcome(&joined);
        // Decoded with the schema the Welcome carries, as any client does.
        let layout = Arc::new(welcome.schema.layout().unwrap());
        self.clients.push(TestClient {
            welcome,
            joined,
            view: ClientView::new(layout),
            inbox: VecDeque::new(),
            capacity: 64,
            reading: true,
            connected: true,
            snapshots: 0,
            keyframes: 0,
            desyncs: 0,
            out_of_step: false,
            bytes: 0,
            received: Vec::new(),
            record: None,
        });
        Ok(self.clients.len() - 1)
    }

    pub fn client(&self, index: usize) -> &TestClient {
        &self.clients[index]
    }

    /// Sends what a session would hand the room for client `index`.
    pub fn send(&mut self, index: usize, input: RoomInput) {
        let id = self.clients[index].joined.client_id;
        let leaving = input == RoomInput::Leave;
        self.core.input(id, input);
        if leaving {
            self.clients[index].connected = false;
        }
    }

    pub fn set_budget(&mut self, index: usize, rate: u16, max_bytes_per_sec: u32) {
        let asked = SnapshotSettings {
            rate,
            max_bytes_per_sec,
        };
        let clamped = self.core.config().clamp(asked);
        self.send(index, RoomInput::Settings(clamped));
    }

    /// The connection of client `index` dies without a goodbye.
    pub fn drop_connection(&mut self, index: usize) {
        self.clients[index].connected = false;
        let id = self.clients[index].joined.client_id;
        self.core.lost(id);
    }

    /// One tick of simulated time: the room steps and sends, then every reading client
    /// reads and decodes its inbox.
    pub fn tick(&mut self) {
        self.now += self.period;
        let clients = &mut self.clients;
        self.sent = self.core.tick(self.now, |id, bytes| {
            // The newest connection of this client id is the one the room writes to.
            match clients
                .iter_mut()
                .rev()
                .find(|c| c.joined.client_id == id && c.connected)
            {
                Some(c) if c.inbox.len() < c.capacity => {
                    c.inbox.push_back(bytes);
                    Delivery::Queued
                }
                Some(_) => Delivery::Full,
                None => Delivery::Closed,
            }
        });
        if self.sent.replicated {
            self.core.assert_replication_is_fresh();
        }
        for index in 0..self.clients.len() {
            if self.clients[index].reading {
                self.read(index);
            }
        }
    }

    pub fn run(&mut self, ticks: u32) {
        for _ in 0..ticks {
            self.tick();
        }
    }

    /// Client `index` reads and applies everything in its inbox; a snapshot that does not
    /// apply (a checksum mismatch, or a baseline it does not hold) is counted and answered
    /// with a desync report.
    pub fn read(&mut self, index: usize) {
        let tick_rate = self.core.config().settings.tick_rate;
        let c = &mut self.clients[index];
        let mut desync = None;
        while let Some(bytes) = c.inbox.pop_front() {
            c.bytes += bytes.len() as u64;
            if let Some(log) = &mut c.record {
                log.push(bytes.clone());
            }
            let message = decode_server(&bytes).expect("the server sent a decodable message");
            let ServerMessage::Snapshot(snap) = message else {
                continue;
            };
            c.snapshots += 1;
            c.keyframes += u64::from(snap.baseline == 0);
            c.received.push((snap.tick, bytes.len()));
            if c.view.apply(&snap, tick_rate, c.welcome.packing).is_err() {
                c.desyncs += 1;
                c.out_of_step = true;
                desync = Some(snap.tick);
            } else if snap.baseline == 0 {
                c.out_of_step = false;
            }
        }
        if let Some(tick) = desync
            && c.connected
        {
            let id = c.joined.client_id;
            self.core.input(id, RoomInput::Desync(tick));
        }
    }

    /// Every connected client that has read all it was sent holds exactly the view the
    /// server thinks it holds (same tick, same entities).
    pub fn assert_views_match(&self) {
        for c in &self.clients {
            if !c.connected || !c.inbox.is_empty() || c.out_of_step {
                continue;
            }
            let Some((tick, baseline)) = self.core.baseline(c.joined.client_id) else {
                continue;
            };
            assert_eq!(
                c.view.tick(),
                tick,
                "client {} view tick",
                c.joined.client_id
            );
            assert_eq!(
                c.view.entities(),
                baseline,
                "client {}: decoded view differs from the server's",
                c.joined.client_id
            );
        }
    }

    /// Client `index` loses its view, as a bug or a corrupted frame would leave it.
    pub fn corrupt(&mut self, index: usize) {
        let c = &mut self.clients[index];
        c.view = ClientView::new(c.view.layout().clone());
        c.out_of_step = true;
    }

    /// The own entity of client `index` in its decoded view.
    pub fn own(&self, index: usize) -> Option<&EntityState> {
        let c = &self.clients[index];
        c.view.get(c.joined.entity)
    }
}
