//! The games this server can run, each a [`crate::engine::Game`] in its own module.
//!
//! - [`arena`]: the flagship: a top-down arena shooter with drones.

pub mod arena;

use std::sync::Arc;

use crate::engine::Game;

/// Every game this server knows, by name.
fn all() -> [Arc<dyn Game>; 1] {
    [Arc::new(arena::Arena)]
}

/// The game called `name` (a room's `game` setting).
pub fn by_name(name: &str) -> Option<Arc<dyn Game>> {
    all().into_iter().find(|g| g.name() == name)
}

/// The names of every game, for messages and listings.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|g| g.name()).collect()
}
