//! The client library and the swarm against a minimal in-process server.
//!
//! The mock speaks the protocol just enough to exercise every path of the client: it
//! sends a small replication schema in `Welcome` (the arena's components the bots read,
//! or a game the bots do not know, or one that does not lay out), moves the player with
//! the shared movement rules (applying the newest input each tick, as the real server
//! does), codes snapshots through the schema, answers pings, and can be told to refuse,
//! drop or close sessions. The real server's behaviour is tested in `server/tests`.

use std::net::SocketAddr;
use std::time::Duration;

use bot_client::behaviour::WANDER;
use bot_client::games::arena;
use bot_client::swarm::{SwarmConfig, run_swarm};
use bot_client::{Client, ClientError, Event, RawConnection};
use futures_util::{SinkExt, StreamExt};
use shared::codec::{decode_client, encode};
use shared::delta::{Diff, Frame, Part, checksum, diff, encode_payload};
use shared::map::{Map, MapInfo, WallRect};
use shared::movement::{Kinematics, step_player};
use shared::protocol::{
    ClientMessage, Hello, PROTOCOL_VERSION, Packing, Pong, ServerMessage, Snapshot,
    SnapshotSettings, Welcome, close,
};
use shared::quant::{pos_to_q, vel_to_q};
use shared::schema::{
    ComponentDef, EntityBuilder, EntityState, FieldDef, FieldKind, Layout, MotionModel,
    MotionValue, Schema, Values,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);
const TICK_RATE: u16 = 20;
const DRONE_ID: u32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Welcome, then snapshots every tick.
    Play,
    /// As `Play`, with the schema of a game the bots do not know.
    OtherGame,
    /// A Welcome whose schema does not lay out (two components of one name).
    BadSchema,
    /// Close with 4004 instead of Welcome.
    RoomFull,
    /// Drop the TCP connection instead of answering Hello.
    Drop,
    /// Welcome, a few snapshots, then close with 1001.
    GoAway,
}

fn map_info() -> MapInfo {
    MapInfo {
        name: "mock".into(),
        width: pos_to_q(40.0),
        height: pos_to_q(40.0),
        walls: vec![WallRect {
            min_x: pos_to_q(20.0),
            min_y: pos_to_q(0.0),
            max_x: pos_to_q(21.0),
            max_y: pos_to_q(15.0),
        }],
    }
}

fn component(name: &str, fields: Vec<FieldDef>) -> ComponentDef {
    ComponentDef {
        name: name.into(),
        fields,
    }
}

fn motion(name: &str, model: MotionModel) -> FieldDef {
    FieldDef::new(name, FieldKind::Motion { model, scale: 64 })
}

/// The part of the arena's schema the bots read, in the arena's wire order.
fn arena_schema() -> Schema {
    Schema {
        game: arena::GAME.into(),
        components: vec![
            component("Body", vec![motion("motion", MotionModel::Predicted)]),
            component("Flight", vec![motion("path", MotionModel::Trajectory)]),
            component(
                "Health",
                vec![FieldDef::new("hp", FieldKind::Bits { width: 8 })],
            ),
            component(
                "Player",
                vec![
                    FieldDef::new("dead", FieldKind::Bits { width: 1 }),
                    FieldDef::new("score", FieldKind::Uint { k: 1 }),
                    FieldDef::new("name", FieldKind::Text { max_bytes: 64 }),
                ],
            ),
            component("Drone", vec![]),
        ],
    }
}

/// A game no behaviour module knows: a walker with a label and a rolling ball.
fn ball_schema() -> Schema {
    Schema {
        game: "mock-ball".into(),
        components: vec![
            component(
                "Walker",
                vec![
                    FieldDef::new("label", FieldKind::Text { max_bytes: 16 }),
                    motion("m", MotionModel::Predicted),
                ],
            ),
            component("Ball", vec![motion("m", MotionModel::Trajectory)]),
        ],
    }
}

fn schema(mode: Mode) -> Schema {
    match mode {
        Mode::OtherGame => ball_schema(),
        Mode::BadSchema => {
            let mut s = arena_schema();
            s.components[1].name = "Body".into();
            s
        }
        _ => arena_schema(),
    }
}

/// The client's player and a drone (or ball) five metres to its right, tick `tick`.
fn world(
    mode: Mode,
    layout: &Layout,
    id: u32,
    name: &str,
    k: Kinematics,
    tick: u32,
) -> Vec<EntityState> {
    let c = |name| layout.component(name).unwrap();
    let me_motion = MotionValue {
        anchor: 0,
        x: pos_to_q(k.x),
        y: pos_to_q(k.y),
        vx: vel_to_q(k.vx),
        vy: vel_to_q(k.vy),
    };
    let line = MotionValue {
        anchor: tick,
        x: pos_to_q(k.x + 5.0),
        y: pos_to_q(k.y),
        vx: 0,
        vy: 0,
    };
    let mut me = EntityBuilder::new(layout, id, Values::default());
    let mut other = EntityBuilder::new(layout, DRONE_ID, Values::default());
    if mode == Mode::OtherGame {
        layout
            .writer(&mut me, c("Walker"))
            .text(name)
            .motion(me_motion);
        layout.writer(&mut other, c("Ball")).motion(line);
    } else {
        layout.writer(&mut me, c("Body")).motion(me_motion);
        layout.writer(&mut me, c("Health")).bits(100);
        layout
            .writer(&mut me, c("Player"))
            .flag(false)
            .uint(0)
            .text(name);
        layout.writer(&mut other, c("Flight")).motion(line);
        layout.writer(&mut other, c("Health")).bits(40);
        layout.writer(&mut other, c("Drone"));
    }
    vec![me.build(), other.build()]
}

async fn start(mode: Mode) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut next_id = 1;
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(session(stream, next_id, mode));
            next_id += 1;
        }
    });
    format!("ws://{addr}/ws")
}

fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }))
}

fn binary(msg: &ServerMessage) -> Message {
    Message::binary(encode(msg).unwrap())
}

enum Wake {
    Tick,
    Frame(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
}

async fn session(stream: TcpStream, id: u32, mode: Mode) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let name = match ws.next().await {
        Some(Ok(Message::Binary(bytes))) => match decode_client(&bytes) {
            Ok(ClientMessage::Hello(hello)) => match hello.validate() {
                Ok(name) => name.into_string(),
                Err(e) => {
                    let _ = ws.send(close_frame(e.close_code(), "bad hello")).await;
                    return;
                }
            },
            Ok(_) => {
                let _ = ws
                    .send(close_frame(close::UNEXPECTED_MESSAGE, "hello first"))
                    .await;
                return;
            }
            Err(_) => {
                let _ = ws
                    .send(close_frame(close::BAD_MESSAGE, "undecodable"))
                    .await;
                return;
            }
        },
        Some(Ok(Message::Text(_))) => {
            let _ = ws
                .send(close_frame(close::UNSUPPORTED_DATA, "binary frames only"))
                .await;
            // Let the client's close reply arrive before the socket goes.
            while let Some(Ok(_)) = ws.next().await {}
            return;
        }
        _ => return,
    };
    match mode {
        Mode::Drop => return,
        Mode::RoomFull => {
            let _ = ws.send(close_frame(close::ROOM_FULL, "room is full")).await;
            while let Some(Ok(_)) = ws.next().await {}
            return;
        }
        Mode::Play | Mode::OtherGame | Mode::BadSchema | Mode::GoAway => {}
    }

    let map = Map::from_info(map_info()).unwrap();
    let entity = id;
    let welcome = ServerMessage::Welcome(Welcome {
        client_id: id,
        entity,
        tick_rate: TICK_RATE,
        snapshot_rate: TICK_RATE,
        map: map_info(),
        aoi_radius: 48 * 64,
        packing: Packing::Bits,
        settings: SnapshotSettings {
            rate: TICK_RATE,
            max_bytes_per_sec: 32_768,
        },
        room: "default".into(),
        player: format!("a-{id}"),
        resume_token: String::new(),
        resume_grace_s: 15,
        schema: schema(mode),
        resumed: false,
    });
    if ws.send(binary(&welcome)).await.is_err() {
        return;
    }
    let Ok(layout) = schema(mode).layout() else {
        // The client refuses such a Welcome: wait for its close.
        while let Some(Ok(_)) = ws.next().await {}
        return;
    };

    let dt = 1.0 / f64::from(TICK_RATE);
    let mut k = Kinematics {
        x: 5.0,
        y: 5.0 + f64::from(id % 10) * 3.0,
        ..Kinematics::default()
    };
    let (mut intent, mut last_seq, mut tick) = ((0i8, 0i8), 0u32, 0u32);
    // What this client holds: deltas are coded against the last snapshot sent.
    let (mut held, mut held_tick, mut d) = (Vec::<EntityState>::new(), 0u32, Diff::default());
    let mut timer = tokio::time::interval(Duration::from_secs_f64(dt));
    loop {
        let wake = tokio::select! {
            _ = timer.tick() => Wake::Tick,
            frame = ws.next() => Wake::Frame(frame),
        };
        match wake {
            Wake::Tick => {
                tick += 1;
                k = step_player(k, intent.0, intent.1, &map, dt);
                let view = world(mode, &layout, entity, &name, k, tick);
                diff(&held, &view, &mut d);
                let frame = Frame {
                    tick,
                    baseline: held_tick,
                    tick_rate: TICK_RATE,
                };
                let part = Part {
                    base: &held,
                    target: &view,
                    removed: &d.removed,
                    created: &d.created,
                    changed: &d.changed,
                };
                let snapshot = ServerMessage::Snapshot(Snapshot {
                    tick,
                    baseline: held_tick,
                    last_input_seq: last_seq,
                    checksum: checksum(&layout, &view),
                    payload: encode_payload(Packing::Bits, &layout, &frame, part),
                });
                (held, held_tick) = (view, tick);
                if ws.send(binary(&snapshot)).await.is_err() {
                    return;
                }
                if mode == Mode::GoAway && tick == 3 {
                    let _ = ws
                        .send(close_frame(close::GOING_AWAY, "shutting down"))
                        .await;
                }
            }
            Wake::Frame(Some(Ok(Message::Binary(bytes)))) => match decode_client(&bytes) {
                Ok(ClientMessage::Input(input)) => {
                    if let (Some(frame), Some(seq)) = (input.frames.last(), input.last_seq()) {
                        intent = (frame.move_x, frame.move_y);
                        last_seq = seq;
                    }
                }
                Ok(ClientMessage::Ping(ping)) => {
                    let pong = ServerMessage::Pong(Pong {
                        client_time: ping.client_time,
                        server_tick: tick,
                    });
                    if ws.send(binary(&pong)).await.is_err() {
                        return;
                    }
                }
                _ => {
                    let _ = ws
                        .send(close_frame(close::UNEXPECTED_MESSAGE, "again?"))
                        .await;
                }
            },
            Wake::Frame(Some(Ok(_))) => {}
            Wake::Frame(_) => return,
        }
    }
}

fn hello_bytes(name: &str) -> Vec<u8> {
    encode(&ClientMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        name: name.into(),
        ..Hello::default()
    }))
    .unwrap()
}

#[tokio::test]
async fn a_client_plays_pings_and_closes() {
    let url = start(Mode::Play).await;
    let mut client = Client::connect(&url, "ada").await.unwrap();
    let welcome = client.welcome().clone();
    assert_eq!(welcome.tick_rate, TICK_RATE);
    assert_eq!(welcome.map, map_info());

    assert_eq!(
        client.wait_until(WAIT, |v| v.snapshots >= 3).await.unwrap(),
        3
    );
    let view = client.view();
    assert_eq!(view.game(), arena::GAME);
    assert_eq!(view.own_entity(), welcome.entity);
    let me = view.own().unwrap().clone();
    assert_eq!(view.text(&me, "Player", "name"), Some("ada"));
    assert_eq!(view.with_component("Drone").count(), 1);
    let (x0, _) = view.position_steps(&me).unwrap();

    assert_eq!(client.send_input(127, 0, 0, 0).await.unwrap(), 1);
    assert_eq!(client.send_input(127, 0, 0, 0).await.unwrap(), 2);
    client
        .wait_until(WAIT, |v| {
            v.last_input_seq == 2
                && v.own()
                    .and_then(|e| v.position_steps(e))
                    .is_some_and(|(x, _)| x > x0)
        })
        .await
        .unwrap();

    client.send_ping().await.unwrap();
    let rtt = tokio::time::timeout(WAIT, async {
        loop {
            if let Event::Pong { rtt, .. } = client.next_event().await.unwrap() {
                return rtt;
            }
        }
    })
    .await
    .unwrap();
    assert!(rtt < Duration::from_secs(1), "rtt {rtt:?}");
    assert!(client.bytes_in() > 0 && client.bytes_out() > 0);

    let err = client
        .wait_until(Duration::from_millis(100), |_| false)
        .await;
    assert!(matches!(err, Err(ClientError::Timeout)), "{err:?}");
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_server_close_is_an_event_then_an_error() {
    let url = start(Mode::GoAway).await;
    let mut client = Client::connect(&url, "bob").await.unwrap();
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match client.next_event().await.unwrap() {
                Event::Closed { code, reason } => return (code, reason),
                _ => continue,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(
        closed,
        (Some(close::GOING_AWAY), "shutting down".to_owned())
    );
    assert!(matches!(
        client.next_event().await,
        Err(ClientError::Closed {
            code: Some(close::GOING_AWAY),
            ..
        })
    ));
    client.close().await.unwrap();
}

#[tokio::test]
async fn refusals_carry_the_close_code() {
    let url = start(Mode::RoomFull).await;
    match Client::connect(&url, "late").await {
        Err(ClientError::Closed { code, reason }) => {
            assert_eq!(code, Some(close::ROOM_FULL));
            assert_eq!(reason, "room is full");
        }
        other => panic!("expected a 4004 close, got {other:?}"),
    }
}

#[tokio::test]
async fn raw_connections_see_close_codes_and_dropped_sockets() {
    let url = start(Mode::Play).await;
    let mut raw = RawConnection::connect(&url).await.unwrap();
    raw.send_text("hello?").await.unwrap();
    let (code, reason) = raw.wait_close(WAIT).await.unwrap();
    assert_eq!(
        (code, reason.as_str()),
        (close::UNSUPPORTED_DATA, "binary frames only")
    );
    assert!(raw.recv(Duration::from_millis(200)).await.is_err());

    let mut raw = RawConnection::connect(&url).await.unwrap();
    raw.send_binary(vec![0xff, 0x00]).await.unwrap();
    assert_eq!(raw.wait_close(WAIT).await.unwrap().0, close::BAD_MESSAGE);

    let mut raw = RawConnection::connect(&url).await.unwrap();
    raw.send_binary(hello_bytes("hand")).await.unwrap();
    assert!(matches!(
        raw.recv(WAIT).await.unwrap(),
        ServerMessage::Welcome(_)
    ));
    assert!(matches!(
        raw.recv(WAIT).await.unwrap(),
        ServerMessage::Snapshot(_)
    ));

    let dropping = start(Mode::Drop).await;
    let mut raw = RawConnection::connect(&dropping).await.unwrap();
    raw.send_binary(hello_bytes("gone")).await.unwrap();
    assert_eq!(raw.wait_close(WAIT).await.unwrap(), (1006, String::new()));

    let mut silent = RawConnection::connect(&url).await.unwrap();
    assert!(matches!(
        silent.wait_close(Duration::from_millis(100)).await,
        Err(ClientError::Timeout)
    ));
}

#[tokio::test]
async fn connecting_to_nothing_fails_cleanly() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = Client::connect(&format!("ws://{addr}/ws"), "x")
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::WebSocket(_)), "{err:?}");
    assert!(RawConnection::connect("not a url").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swarm_reports_what_it_measured() {
    let url = start(Mode::Play).await;
    let cfg = SwarmConfig {
        url: url.clone(),
        bots: 4,
        duration: Duration::from_secs(3),
        ramp_per_sec: 20.0,
        seed: 5,
        ..SwarmConfig::default()
    };
    let report = run_swarm(cfg, CancellationToken::new()).await;
    eprintln!("{report}");
    assert_eq!(
        (report.bots_connected, report.bots_failed),
        (4, 0),
        "{report:#?}"
    );
    assert!(report.errors.is_empty());
    assert_eq!(report.expected_snapshot_rate, TICK_RATE);
    assert!(
        report.snapshots_per_bot_per_sec_min > 15.0 && report.snapshots_per_bot_per_sec < 21.0,
        "{report:#?}"
    );
    assert!(report.rtt_samples >= 8, "{report:#?}");
    assert!(report.prediction_samples > 100, "{report:#?}");
    // The mock applies the newest input each tick, so timer jitter between bot and
    // mock can cost or add a tick of movement (0.3 m at 20 Hz) but never more.
    assert!(report.prediction_error_mm_p99 < 700.0, "{report:#?}");
    assert!(report.bytes_in_per_bot_per_sec > 0.0 && report.bytes_out_per_bot_per_sec > 0.0);
    assert!((report.duration_s - 3.0).abs() < 0.5);
    assert_eq!(report.behaviours.get(arena::GAME), Some(&4), "{report:#?}");
    assert_eq!(report.desyncs, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_wander_in_a_game_they_do_not_know_and_still_check_it() {
    let url = start(Mode::OtherGame).await;

    // The client decodes the unknown game through its schema alone.
    let mut client = Client::connect(&url, "eve").await.unwrap();
    assert_eq!(client.view().game(), "mock-ball");
    client.wait_until(WAIT, |v| v.snapshots >= 3).await.unwrap();
    let view = client.view();
    let me = view.own().unwrap();
    assert_eq!(view.text(me, "Walker", "label"), Some("eve"));
    let ball = view.with_component("Ball").next().unwrap();
    let (mx, _) = view.position(me).unwrap();
    let (bx, _) = view.position(ball).unwrap();
    assert!((bx - mx - 5.0).abs() < 0.05, "ball at {bx}, walker at {mx}");
    assert_eq!(view.desyncs, 0);
    client.close().await.unwrap();

    let cfg = SwarmConfig {
        url,
        bots: 2,
        duration: Duration::from_secs(2),
        ramp_per_sec: 20.0,
        seed: 9,
        ..SwarmConfig::default()
    };
    let report = run_swarm(cfg, CancellationToken::new()).await;
    assert_eq!(
        (report.bots_connected, report.bots_failed),
        (2, 0),
        "{report:#?}"
    );
    assert_eq!(report.behaviours.get(WANDER), Some(&2), "{report:#?}");
    assert!(report.snapshots_per_bot_per_sec_min > 10.0, "{report:#?}");
    assert_eq!((report.desyncs, report.keyframes), (0, 2), "{report:#?}");
    // Wandering predicts nothing, but it does send inputs.
    assert_eq!(report.prediction_samples, 0);
    assert!(report.bytes_out_per_bot_per_sec > 0.0);
}

#[tokio::test]
async fn a_schema_that_does_not_lay_out_is_an_error() {
    let url = start(Mode::BadSchema).await;
    match Client::connect(&url, "ada").await {
        Err(ClientError::InvalidSchema(_)) => {}
        other => panic!("expected an invalid schema, got {other:?}"),
    }
    let cfg = SwarmConfig {
        url,
        bots: 1,
        duration: Duration::from_secs(1),
        ..SwarmConfig::default()
    };
    let report = run_swarm(cfg, CancellationToken::new()).await;
    assert_eq!(report.bots_failed, 1, "{report:#?}");
    assert!(
        report.errors.keys().all(|e| e.contains("invalid schema")),
        "{:?}",
        report.errors
    );
}

#[tokio::test]
async fn a_swarm_counts_failures_and_stops_on_request() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let cfg = SwarmConfig {
        url: format!("ws://{addr}/ws"),
        bots: 3,
        duration: Duration::from_secs(60),
        ramp_per_sec: 100.0,
        ..SwarmConfig::default()
    };
    let shutdown = CancellationToken::new();
    let stopper = shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        stopper.cancel();
    });
    let report = tokio::time::timeout(WAIT, run_swarm(cfg, shutdown))
        .await
        .unwrap();
    assert_eq!((report.bots_connected, report.bots_failed), (0, 3));
    assert_eq!(report.errors.values().sum::<u64>(), 3);
    assert!(
        report.errors.keys().all(|e| e.starts_with("connect: ")),
        "{:?}",
        report.errors
    );
    assert!(report.duration_s < 5.0);
}
