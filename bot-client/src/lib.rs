//! Tickwire's headless client: a library for talking to a Tickwire server from Rust (the
//! server's integration tests and the benchmarks use it) and the bot swarm behind the
//! `bot-client` command-line tool.
//!
//! Modules:
//! - [`client`]: [`Client`], a connected and welcomed session that sends inputs and pings
//!   and turns server frames into [`Event`]s, and [`RawConnection`], a bare WebSocket for
//!   tests that need to send malformed data or handshake by hand.
//! - [`view`]: [`WorldView`], the client's copy of the replicated state, replaced by
//!   every full snapshot.
//! - [`api`]: [`api::ApiClient`], the rooms API (list and create rooms, reserve seats).
//! - [`behaviour`]: what a bot does each tick (wander, aim, fire) and how it predicts its
//!   own movement with the shared movement rules.
//! - [`swarm`]: runs many bots against one server for a fixed time ([`swarm::run_swarm`]).
//! - [`report`]: per-bot outcomes and their aggregation into a [`report::SwarmReport`].
//! - [`faults`]: [`faults::FaultProxy`], a TCP proxy on loopback that delays, throttles,
//!   stalls, silences and resets connections, for tests and benches under bad networks.

pub mod api;
pub mod behaviour;
pub mod client;
pub mod faults;
pub mod report;
pub mod swarm;
pub mod view;

pub use client::{Client, ClientError, ConnectOptions, Event, RawConnection, trust_certificate};
pub use view::WorldView;
