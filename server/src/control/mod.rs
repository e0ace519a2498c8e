//! Control: what the server is told and what it keeps about rooms.
//!
//! - [`config`]: flags, environment, rooms files and their validation into `Settings`.
//! - [`registry`]: the rooms of a server (run by the room workers; idle API rooms close).
//! - [`tokens`]: signed join tokens (seat reservations) and resume tokens.

pub mod config;
pub mod registry;
pub mod tokens;
