//! The arena's fields as its tests read them: by name, through the schema the server
//! sent (the bot-client's view knows no game's fields).

use bot_client::WorldView;
use shared::schema::{EntityState, MotionValue};

/// The motion that places `e`: a player's `Body.motion` or a drone's or projectile's
/// `Flight.path`.
pub fn motion(v: &WorldView, e: &EntityState) -> MotionValue {
    v.field("Body", "motion")
        .and_then(|f| e.get_motion(&f))
        .or_else(|| v.field("Flight", "path").and_then(|f| e.get_motion(&f)))
        .unwrap_or_default()
}

pub fn name<'a>(v: &WorldView, e: &'a EntityState) -> &'a str {
    v.text(e, "Player", "name").unwrap_or_default()
}

pub fn owner(v: &WorldView, e: &EntityState) -> u32 {
    v.value(e, "Projectile", "owner").unwrap_or(0) as u32
}

pub fn health(v: &WorldView, e: &EntityState) -> i64 {
    v.value(e, "Health", "hp").unwrap_or(0)
}

pub fn score(v: &WorldView, e: &EntityState) -> i64 {
    v.value(e, "Player", "score").unwrap_or(0)
}

/// Where `e` is at the view's tick, in position steps.
pub fn position(v: &WorldView, e: &EntityState) -> (i32, i32) {
    v.position_steps(e).expect("arena entities have a motion")
}
