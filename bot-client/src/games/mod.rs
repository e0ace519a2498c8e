//! Per-game behaviours: what a bot does in each game it knows, reading that game's
//! components by the names its schema gives them.
//!
//! Each module exports `GAME` (the name the game's schema announces) and `build` (its
//! [`crate::behaviour::Behaviour`] from a [`crate::behaviour::Setup`]); the registry in
//! [`crate::behaviour`] lists them. Decoding is not done here: [`crate::view::WorldView`]
//! decodes any game through its schema, so a new game needs a module here and nothing
//! else.
//!
//! - [`arena`]: the top-down shooter: wander, aim at the nearest living target, fire
//!   when close, and predict the own player's movement with the shared rules.
//! - [`ball`]: the two-team ball game: chase the loose ball, carry it at the opponents'
//!   goal and kick when in range, tackle the opponent holding it, keep apart otherwise.

pub mod arena;
pub mod ball;
