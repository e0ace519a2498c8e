//! The games this server can run, each a [`crate::engine::Game`] in its own module.
//!
//! - [`arena`]: the flagship: a top-down arena shooter with drones.

pub mod arena;

use std::sync::Arc;

use crate::engine::Game;

/// The game rooms run when they name none.
pub fn default_game() -> Arc<dyn Game> {
    Arc::new(arena::Arena)
}
