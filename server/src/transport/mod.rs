//! Transport: bytes in and out before anything is a game message.
//!
//! - [`front`]: the accept loop (per-address rate limit and connection cap, request-head
//!   timeout, TLS), the HTTP/1 service around the axum router, the WebSocket upgrade and
//!   its limits; [`front::start`] / [`front::run`] serve an already bound listener.
//! - [`tls`]: HTTPS and WSS with rustls.
//! - [`limits`]: the rate limiters (per address, per session) and message limits.
//! - [`echo`]: the conformance endpoint's echo session, on the same accept path.

pub mod echo;
pub mod front;
pub mod limits;
pub mod tls;
