//! The part of Tickwire that every peer shares: the server, the bot client and (through
//! golden test vectors) the browser client all build on these definitions.
//!
//! Modules:
//! - [`protocol`]: the messages exchanged over the WebSocket, the protocol version, the
//!   close codes, and the checks that turn a decoded message into trusted values.
//! - [`codec`]: the one wire encoding (bincode 2, standard configuration) with size limits.
//! - [`schema`]: the replication schema a game declares and the generic entity record.
//! - [`delta`]: delta snapshots: diff, payload coding, the client's view, checksums.
//! - [`pack`]: the two payload packings (bit-packed Exp-Golomb, byte LEB128).
//! - [`quant`]: quantisation of positions, velocities and angles to the integers on the wire.
//! - [`map`]: arena maps (bounds, walls, spawn points), loaded from JSON and quantised.
//! - [`movement`]: the deterministic movement and collision rules that clients predict with.
//! - [`rules`]: game constants (speeds, health, cooldowns) shared by server and clients.
//! - [`games`]: the rules of the other games (the ball game) that clients need too.
//!
//! This crate is pure on purpose: no tokio, no bevy_ecs, no IO, no clock. Time comes in
//! as data (a fixed `dt`), so the same inputs give the same outputs on every peer.

pub mod codec;
pub mod delta;
pub mod games;
pub mod map;
pub mod movement;
pub mod pack;
pub mod protocol;
pub mod quant;
pub mod rules;
pub mod schema;
