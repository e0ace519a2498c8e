//! HTTP endpoints besides the WebSocket: the rooms API and its abuse guard.
//!
//! - [`api`]: the handlers: list, create, delete, join (seat reservations), kick, nodes;
//!   who the caller is; in a cluster, which node a request goes to.
//! - [`local`]: what this node does with its own rooms (also for other nodes).
//! - [`types`]: the API's JSON bodies; [`error`]: its errors.
//! - [`guard`]: who may call the API how often; the ledger of unused reservations.
//!
//! The probes (`/healthz`, `/readyz`), `/metrics` and the web client's static files are
//! routed in [`crate::transport::front`], next to the upgrade they share a router with.

pub mod api;
pub mod error;
pub mod guard;
pub mod local;
pub mod types;
