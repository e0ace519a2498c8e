//! The Tickwire server: HTTP and WebSocket front, sessions, and rooms that run the game.
//!
//! Modules:
//! - [`config`]: command line / environment configuration and its validation.
//! - [`net`]: the axum router (web client, `/healthz`, `/ws`), the WebSocket upgrade and
//!   its limits, and [`net::start`] / [`net::run`], which serve an already bound listener.
//! - [`session`]: one connection: handshake, validation, relay to and from its room.
//! - [`room`]: a room's tick loop on its own thread, with [`room::game`] (the ECS
//!   simulation), [`room::replication`] (snapshot encoding) and [`room::stats`] (tick timing).
//!
//! See ARCHITECTURE.md for how they fit together and the invariants they keep.

pub mod config;
pub mod net;
pub mod room;
pub mod session;

pub use config::{ConfigError, ServerConfig, Settings};
pub use net::{ServeError, Server, run, start};
