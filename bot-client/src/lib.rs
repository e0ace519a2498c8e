//! Tickwire's headless client: a library for talking to a Tickwire server from Rust (the
//! server's integration tests and the benchmarks use it) and the bot swarm behind the
//! `bot-client` command-line tool.
//!
//! Modules:
//! - [`client`]: [`Client`], a connected and welcomed session that sends inputs and pings
//!   and turns server frames into [`Event`]s, and [`RawConnection`], a bare WebSocket for
//!   tests that need to send malformed data or handshake by hand.
//! - [`view`]: [`WorldView`], the client's copy of the replicated state of any game,
//!   decoded through the schema the server sends in `Welcome`.
//! - [`api`]: [`api::ApiClient`], the rooms API (list and create rooms, reserve seats).
//! - [`behaviour`]: the [`behaviour::Behaviour`] trait (what a bot does each tick), the
//!   registry that picks one by the game `Welcome` announces, and the generic fallback.
//! - [`games`]: one behaviour per game the bots know (the arena: wander, aim, fire, and
//!   predict the own movement with the shared movement rules).
//! - [`swarm`]: runs many bots against one server for a fixed time ([`swarm::run_swarm`]).
//! - [`loadgen`]: [`loadgen::LoadGenerator`], a swarm spread over several processes of
//!   the `bot-client` binary, whose reports merge exactly into one.
//! - [`report`]: per-bot outcomes and their aggregation into a [`report::SwarmReport`].
//! - [`faults`]: [`faults::FaultProxy`], a TCP proxy on loopback that delays, throttles,
//!   stalls, silences and resets connections, for tests and benches under bad networks.

pub mod api;
pub mod behaviour;
pub mod client;
pub mod faults;
pub mod games;
pub mod loadgen;
pub mod report;
pub mod swarm;
pub mod view;

pub use client::{Client, ClientError, ConnectOptions, Event, RawConnection, trust_certificate};
pub use view::WorldView;
