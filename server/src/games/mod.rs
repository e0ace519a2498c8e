//! The games this server can run, each a [`crate::engine::Game`] in its own module.
//!
//! - [`arena`]: the flagship: a top-down arena shooter with drones.
//! - [`ball`]: a two-team ball game (possession, kicks, tackles, goals, timed matches).

pub mod arena;
pub mod ball;

use std::sync::Arc;

use crate::engine::Game;

/// Every game this server knows, by name.
fn all() -> [Arc<dyn Game>; 2] {
    [Arc::new(arena::Arena), Arc::new(ball::BallGame)]
}

/// The game called `name` (a room's `game` setting).
pub fn by_name(name: &str) -> Option<Arc<dyn Game>> {
    all().into_iter().find(|g| g.name() == name)
}

/// The game a room's settings name. Settings are validated before a room is made, the
/// game's name included; the arena stands in should one slip through.
pub fn of_room(name: &str) -> Arc<dyn Game> {
    by_name(name).unwrap_or_else(|| Arc::new(arena::Arena))
}

/// The names of every game, for messages and listings.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|g| g.name()).collect()
}

#[cfg(test)]
mod tests {
    /// A game's schema is its developer's declaration: checked here once for every game,
    /// so that a room never starts with one clients would refuse.
    #[test]
    fn every_game_declares_a_valid_schema() {
        for name in super::names() {
            let game = super::by_name(name).unwrap();
            let replication = game.replication();
            assert_eq!(replication.schema().game, name);
            replication.schema().layout().unwrap();
        }
    }
}
