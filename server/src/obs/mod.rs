//! Observability: what the server counts and exports.
//!
//! - [`counters`]: what was accepted, refused, dropped and closed, as atomics named like
//!   Prometheus metrics.
//! - [`metrics`]: the Prometheus exposition (`/metrics`), one recorder per server, and
//!   the room metric handles. A room's tick timing lives with the room
//!   ([`crate::room::stats`]).

pub mod counters;
pub mod metrics;
