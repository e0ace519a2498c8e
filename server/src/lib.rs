//! The Tickwire server: HTTP and WebSocket front, sessions, and rooms that run the game.
//!
//! Modules:
//! - [`config`]: command line / environment configuration and its validation.
//! - [`net`]: the accept loop (per-address rate limit, connection cap, request-head
//!   timeout, TLS), the axum router (web client, API, `/metrics`, `/healthz`, `/readyz`,
//!   `/ws`), the WebSocket upgrade and its limits, and [`net::start`] / [`net::run`],
//!   which serve an already bound listener; [`net::start_echo`] serves the conformance
//!   endpoint the same way.
//! - [`rooms`]: the room registry (many rooms, each on its own thread; idle API rooms close).
//! - [`api`]: the rooms API: list, create, delete, and join (seat reservations).
//! - [`tokens`]: signed join tokens (seat reservations) and resume tokens.
//! - [`metrics`]: the Prometheus exposition (`/metrics`), one recorder per server.
//! - [`tls`]: HTTPS and WSS with rustls.
//! - [`session`]: one connection: handshake, validation, rate limit, keepalive, relay to
//!   and from its room.
//! - [`echo`]: the conformance endpoint's echo session.
//! - [`limits`]: the rate limiters (per address, per session).
//! - [`counters`]: what was accepted, refused, dropped and closed, as metrics.
//! - [`room`]: a room: [`room::core`] (World, seats and replication without IO), driven
//!   on its own thread by the room driver, with [`room::game`] (the ECS simulation),
//!   [`room::replication`] (snapshot encoding) and [`room::stats`] (tick timing).
//!
//! See ARCHITECTURE.md for how they fit together and the invariants they keep.

pub mod api;
pub mod config;
pub mod counters;
pub mod echo;
pub mod guard;
pub mod limits;
pub mod metrics;
pub mod net;
pub mod room;
pub mod rooms;
pub mod session;
pub mod tls;
pub mod tokens;

pub use config::{ConfigError, RoomSettings, RoomSpec, ServerConfig, Settings};
pub use counters::Counters;
pub use net::{EchoServer, ServeError, Server, run, start, start_echo};
