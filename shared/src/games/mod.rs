//! Rules of the games other than the arena that clients need as much as the server:
//! constants, wire values and pure geometry, one module per game. The arena's own are in
//! [`crate::rules`] (it came first), and every game's players move by
//! [`crate::movement`].
//!
//! - [`ball`]: the two-team ball game.

pub mod ball;
