//! HTTP endpoints besides the WebSocket: the rooms API and its abuse guard.
//!
//! - [`api`]: list, create, delete and join rooms (seat reservations).
//! - [`guard`]: who may call the API how often; the ledger of unused reservations.
//!
//! The probes (`/healthz`, `/readyz`), `/metrics` and the web client's static files are
//! routed in [`crate::transport::front`], next to the upgrade they share a router with.

pub mod api;
pub mod guard;
