//! Tickwire's benchmarks.
//!
//! - `benches/codec.rs` (criterion): full-state snapshot encode (whole, body once,
//!   per-client header splice) and decode.
//! - `benches/delta.rs` (criterion): one client's delta with 1,000 entities in view at 0%,
//!   10% and 100% changed, encode and decode; grid build plus AOI queries for 64 clients
//!   over 1,000 entities.
//! - `src/bin/scenario.rs`: a whole server and bot swarm in one process, measured
//!   (`cargo run --release -p benches --bin scenario -- --preset arena-64 ...`).
//!
//! - `src/bin/rooms.rs`: many rooms with bots in one process (one of them busy), per-room
//!   tick start lateness; `src/bin/idle_rooms.rs`: RSS and CPU per empty room. Both run
//!   the server in their own process ([`in_process`]).
//!
//! - `src/bin/idle_connections.rs`: server RSS per idle connected client (starts the
//!   release server as a child process and opens N real sessions; the code is [`idle`]).
//! - `src/bin/capacity.rs`: the capacity search (server as a child process, bots in
//!   this process, 100 per room, more and more until a limit breaks).
//!
//! - `src/bin/memory.rs`: server RSS over a long bot-swarm run, and its slope.
//! - `src/bin/soak.rs`: bots through the fault-injecting proxy for minutes (latency,
//!   jitter, stalls, resets), with the server's RSS and CPU sampled ([`run`] holds what
//!   the long runs share).
//!
//! - [`views`]: arena-like views through the arena's schema, for the codec benches.
//! - [`walk`] and `src/bin/random_walk.rs`: bytes per patch on the field's reference
//!   motion (100 named entities on a random walk), for two schemas.
//!
//! Results and method are in BENCHMARKS.md.

pub mod child;
pub mod idle;
pub mod in_process;
pub mod run;
pub mod views;
pub mod walk;
