//! The Tickwire server: HTTP and WebSocket front, sessions, and rooms that run the game.
//!
//! Layers, outside in (ARCHITECTURE.md has each one's invariants):
//! - [`transport`]: accept, TLS, the WebSocket upgrade and its limits, the conformance
//!   echo; [`transport::front`] serves an already bound listener.
//! - [`session`]: one connection: handshake, validation, rate limit, keepalive, relay to
//!   and from its room, the close handshake.
//! - [`http`]: the rooms API and its guard.
//! - [`control`]: configuration, the room registry, join and resume tokens.
//! - [`cluster`]: nodes that share a Redis directory and answer for each other's rooms.
//! - [`room`]: a room: [`room::core`] (World, seats and replication without IO), driven
//!   by the room driver on the room workers ([`room::pool`]), with [`room::replication`] (snapshot
//!   encoding) and [`room::stats`] (tick timing).
//! - [`obs`]: counters and the Prometheus exposition.
//! - [`engine`]: the game API ([`engine::Game`]) and what the engine gives every game;
//!   [`games`]: the games (the arena).
//! - `agones` (the `agones` feature): with `--agones`, the node reports to Agones' SDK
//!   sidecar (Ready, Health, rooms and seats, Shutdown).

#[cfg(feature = "agones")]
pub mod agones;
pub mod cluster;
pub mod control;
pub mod engine;
pub mod games;
pub mod http;
pub mod obs;
pub mod room;
pub mod session;
pub mod transport;

pub use control::config::{ConfigError, RoomSettings, RoomSpec, ServerConfig, Settings};
pub use obs::counters::Counters;
pub use transport::front::{EchoServer, ServeError, Server, run, start, start_echo};
