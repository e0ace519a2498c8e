//! Protocol v7: the messages of a Tickwire WebSocket session.
//!
//! One message per binary WebSocket frame, encoded by [`crate::codec`]. PROTOCOL.md at the
//! repository root documents the byte layout; this module is its source of truth.
//!
//! Client messages carry no floating-point fields at all: movement is an `i8` pair and
//! aim a `u16` fraction of a turn. A peer therefore cannot send NaN or infinity, and the
//! remaining checks (name, version, ordering) live in [`Hello::validate`] and the session.

// Peer-controlled bytes flow through this module: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use arrayvec::ArrayVec;
use serde::{Deserialize, Serialize};

use crate::map::MapInfo;
use crate::schema::Schema;

/// Bumped on every incompatible change of the wire format.
pub const PROTOCOL_VERSION: u16 = 7;

/// Longest accepted player name, in characters.
pub const MAX_NAME_CHARS: usize = 16;

/// Most ticks' intents one [`Input`] carries (a client sending inputs at a fifth of
/// the tick rate or more never needs more); a longer list does not decode (4000).
pub const MAX_INPUT_FRAMES: usize = 8;

/// Longest join or resume token a `Hello` may carry, in bytes. Tokens are opaque to
/// clients (the server signs and checks them); real ones are about 150 bytes.
pub const MAX_TOKEN_BYTES: usize = 400;

/// Client → server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// First message of every session.
    Hello(Hello),
    /// The player's intents for one or more consecutive ticks.
    Input(Input),
    /// Round-trip measurement; answered with [`ServerMessage::Pong`].
    Ping(Ping),
    /// Asks for a snapshot rate and byte budget; answered with
    /// [`ServerMessage::SnapshotSettings`] carrying the values the room granted.
    SnapshotSettings(SnapshotSettings),
    /// The client's view failed a snapshot checksum; the server answers with a keyframe.
    Desync(Desync),
}

/// Snapshot rate and byte budget, asked by a client or granted by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotSettings {
    /// Snapshots per second (clamped to `1..=` the room's snapshot rate).
    pub rate: u16,
    /// Bytes per second of snapshot payload (clamped to the room's limits).
    pub max_bytes_per_sec: u32,
}

/// Reports a checksum mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desync {
    /// Tick of the snapshot whose checksum did not match.
    pub tick: u32,
}

/// Opens a session.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Hello {
    /// Must equal [`PROTOCOL_VERSION`].
    pub protocol_version: u16,
    /// Display name: 1 to [`MAX_NAME_CHARS`] characters, no control characters.
    pub name: String,
    /// A join token (a seat reservation from `POST /api/rooms/{id}/join`), or empty for
    /// an anonymous join where the server allows them.
    pub join_token: String,
    /// The `resume_token` of a previous session's [`Welcome`], to take back that
    /// session's player within the room's grace period; empty for a new player. When
    /// set, `join_token` is ignored.
    pub resume_token: String,
}

/// The player's intents for consecutive ticks, oldest first: one per message at the
/// tick rate, or several bundled at a lower input rate the client chooses. The server
/// queues them and applies one per tick. It never accepts positions from clients.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Input {
    /// Sequence number of the first frame; frame `i` is `seq + i`. The next message's
    /// `seq` must be greater than this one's last frame's. Snapshots echo the newest
    /// frame applied as `last_input_seq`.
    pub seq: u32,
    /// The newest snapshot tick this client has received.
    pub ack_tick: u32,
    /// One intent per tick, 1 to [`MAX_INPUT_FRAMES`] of them.
    pub frames: ArrayVec<Intent, MAX_INPUT_FRAMES>,
}

impl Input {
    /// An input of one frame.
    pub fn one(seq: u32, ack_tick: u32, intent: Intent) -> Input {
        let mut frames = ArrayVec::new();
        frames.push(intent);
        Input {
            seq,
            ack_tick,
            frames,
        }
    }

    /// The sequence number of the last frame: `None` when there is no frame or the
    /// numbers would pass `u32::MAX`.
    pub fn last_seq(&self) -> Option<u32> {
        let extra = u32::try_from(self.frames.len().checked_sub(1)?).ok()?;
        self.seq.checked_add(extra)
    }

    /// The frames with their sequence numbers (stopping at the one numbered
    /// `u32::MAX`; a valid input never passes it, see [`Input::last_seq`]).
    pub fn numbered(&self) -> impl Iterator<Item = (u32, Intent)> + '_ {
        (self.seq..=u32::MAX).zip(self.frames.iter().copied())
    }
}

/// What a player wants in one tick: two axes, an aim and buttons, meant as the room's
/// game says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Intent {
    /// Intended movement direction; the vector is clamped to length 127.
    pub move_x: i8,
    /// Intended movement direction, y axis (down on screen is positive).
    pub move_y: i8,
    /// Aim angle as a fraction of a full turn (see [`crate::quant::q_to_angle`]).
    pub aim: u16,
    /// Button bits, see [`crate::rules::BUTTON_FIRE`].
    pub buttons: u8,
}

/// Round-trip probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    /// Opaque to the server, echoed back (typically milliseconds on the client's clock).
    pub client_time: u32,
}

/// Server → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// Answer to a valid [`Hello`].
    Welcome(Welcome),
    /// The replicated state.
    Snapshot(Snapshot),
    /// Answer to [`Ping`].
    Pong(Pong),
    /// The snapshot rate and budget this client now gets.
    SnapshotSettings(SnapshotSettings),
    /// The naive full state of every entity in the room (`--snapshots full` only).
    FullSnapshot(FullSnapshot),
}

/// Accepts a session into a room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// This session's id within the room.
    pub client_id: u32,
    /// Net id of the player entity this client controls.
    pub entity: u32,
    /// Simulation ticks per second.
    pub tick_rate: u16,
    /// Snapshots per second sent to this client.
    pub snapshot_rate: u16,
    /// The arena, quantised, for drawing and for predicting movement.
    pub map: MapInfo,
    /// Radius of the area of interest around the own player, in position steps.
    pub aoi_radius: u32,
    /// How snapshot payloads are packed.
    pub packing: Packing,
    /// The snapshot rate and budget granted until the client asks for others.
    pub settings: SnapshotSettings,
    /// Id of the room joined (what `/ws?room=` takes).
    pub room: String,
    /// The player's id: from the join token, or given by the server to an anonymous player.
    pub player: String,
    /// Send it back in [`Hello::resume_token`] after losing the connection to take back
    /// this player (same entity, position, health and score) within `resume_grace_s`.
    /// Each session gets a new one; a used one is void.
    pub resume_token: String,
    /// Seconds the room keeps a disconnected player for a resume.
    pub resume_grace_s: u16,
    /// What the room's game replicates: its components, their fields and how each is
    /// coded. Snapshots are decoded with it ([`crate::schema::Schema::layout`]).
    pub schema: Schema,
    /// Whether this session took back an existing player (resume, or a join token naming
    /// a player already in the room) rather than spawning a new one.
    pub resumed: bool,
}

/// Packing of the delta payload inside [`Snapshot`]. PROTOCOL.md documents both; `Bits`
/// is the default and the one browsers implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Packing {
    /// Bit-packed, Exp-Golomb coded integers.
    #[default]
    Bits,
    /// Byte-aligned LEB128 varints (zigzag for signed values).
    Bytes,
}

/// The change from a state the client holds (`baseline`) to the state it should hold
/// at `tick`; see [`crate::delta`] for the payload.
///
/// On the wire ([`SnapshotWire`]) the baseline is how far back it is and the checksum is
/// four raw bytes: a delta's baseline is a few ticks back (one byte instead of three
/// to five), and a hash is as likely to need five varint bytes as not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "SnapshotWire", try_from = "SnapshotWire")]
pub struct Snapshot {
    /// Simulation tick the state belongs to.
    pub tick: u32,
    /// Tick of the snapshot this one is relative to; 0 for a keyframe (relative to an
    /// empty view).
    pub baseline: u32,
    /// Newest input of this client that the simulation has applied (0 before any).
    pub last_input_seq: u32,
    /// Hash of the client's whole view after applying this snapshot
    /// ([`crate::delta::checksum`]).
    pub checksum: u32,
    /// Removed, created and changed entities, packed as [`Welcome::packing`] says.
    pub payload: Vec<u8>,
}

/// [`Snapshot`] as bincode writes it: `back` is `tick - baseline`, 0 for a keyframe.
#[derive(Clone, Serialize, Deserialize)]
struct SnapshotWire {
    tick: u32,
    back: u32,
    last_input_seq: u32,
    checksum: [u8; 4],
    payload: Vec<u8>,
}

impl From<Snapshot> for SnapshotWire {
    fn from(s: Snapshot) -> SnapshotWire {
        SnapshotWire {
            tick: s.tick,
            back: if s.baseline == 0 {
                0
            } else {
                s.tick.wrapping_sub(s.baseline)
            },
            last_input_seq: s.last_input_seq,
            checksum: s.checksum.to_le_bytes(),
            payload: s.payload,
        }
    }
}

impl TryFrom<SnapshotWire> for Snapshot {
    type Error = &'static str;

    /// A `back` of `tick` or more would put the baseline at tick 0 or before it.
    fn try_from(w: SnapshotWire) -> Result<Snapshot, Self::Error> {
        let baseline = match w.back {
            0 => 0,
            back if back < w.tick => w.tick - back,
            _ => return Err("snapshot baseline at or before tick 0"),
        };
        Ok(Snapshot {
            tick: w.tick,
            baseline,
            last_input_seq: w.last_input_seq,
            checksum: u32::from_le_bytes(w.checksum),
            payload: w.payload,
        })
    }
}

/// Every replicated entity of the room, uncompressed: what a straightforward server
/// sends, kept as the baseline that `--snapshots full` measures against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullSnapshot {
    /// Simulation tick the state belongs to.
    pub tick: u32,
    /// Newest input of this client that the simulation has applied (0 before any).
    pub last_input_seq: u32,
    /// Every replicated entity, ordered by id.
    pub entities: Vec<EntityState>,
}

pub use crate::schema::EntityState;

/// Answer to [`Ping`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    /// Copied from the ping.
    pub client_time: u32,
    /// The server's newest simulated tick when the ping was answered.
    pub server_tick: u32,
}

/// WebSocket close codes Tickwire sends. PROTOCOL.md lists them with their meaning.
pub mod close {
    /// Normal end of a session.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A text frame was received; the protocol is binary only.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// A frame or message exceeded the size limits.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The server failed internally; the client may retry.
    pub const INTERNAL_ERROR: u16 = 1011;
    /// Bytes that do not decode as a client message.
    pub const BAD_MESSAGE: u16 = 4000;
    /// `Hello.protocol_version` differs from the server's.
    pub const PROTOCOL_VERSION: u16 = 4001;
    /// A message out of order: anything before `Hello`, or a second `Hello`.
    pub const UNEXPECTED_MESSAGE: u16 = 4002;
    /// The name in `Hello` is empty, too long or has control characters.
    pub const INVALID_NAME: u16 = 4003;
    /// The room has no free seat.
    pub const ROOM_FULL: u16 = 4004;
    /// No `Hello` arrived within the handshake timeout.
    pub const HANDSHAKE_TIMEOUT: u16 = 4005;
    /// The client could not keep up with its snapshots and was disconnected.
    pub const TOO_SLOW: u16 = 4006;
    /// An input with values the protocol forbids (unknown button bits, `seq` going
    /// backwards). Snapshot settings out of range are clamped, not refused.
    pub const INVALID_INPUT: u16 = 4007;
    /// Sustained message flooding beyond the rate limit.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// Nothing (no message, no pong) arrived for the idle timeout.
    pub const IDLE_TIMEOUT: u16 = 4008;
    /// The join token is missing (and this join needs one), malformed or not signed by
    /// this server (forged).
    pub const TOKEN_INVALID: u16 = 4009;
    /// The join token has expired: ask for a new one.
    pub const TOKEN_EXPIRED: u16 = 4010;
    /// The join token was used already: ask for a new one.
    pub const TOKEN_REUSED: u16 = 4011;
    /// The join or resume token names another room than the one the URL asks for.
    pub const WRONG_ROOM: u16 = 4012;
    /// The room in the URL does not exist (or no longer does).
    pub const UNKNOWN_ROOM: u16 = 4013;
    /// The resume token is invalid, or the player is gone (grace period over): join anew.
    pub const RESUME_FAILED: u16 = 4014;
    /// Another session took over this player (a resume or a join with the same player
    /// id); do not reconnect automatically.
    pub const REPLACED: u16 = 4015;
    /// The room was closed (deleted through the API): go back to the lobby.
    pub const ROOM_CLOSED: u16 = 4016;
    /// An operator removed the player from the room (`POST /api/rooms/{id}/kick`): the
    /// seat is freed and the player is gone; do not reconnect automatically.
    pub const KICKED: u16 = 4017;
    /// The server cannot admit the join right now (too many join tokens in flight).
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// RFC 6455: the WebSocket framing was invalid.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// RFC 6455: a close reason or text frame was not valid UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// RFC 6455's code for "ended without a close frame": never sent, only observed (by
    /// a client) and counted (by the server).
    pub const ABNORMAL: u16 = 1006;

    /// What a client does after a session ended with a code.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum After {
        /// Nothing: the session is over as asked.
        Done,
        /// Reconnect after a backoff: with the resume token while the grace period
        /// lasts (the server holds the player), else join anew.
        Retry,
        /// Join anew after a backoff: resume tokens are void.
        Rejoin,
        /// Join anew at once: the resume token was refused.
        RejoinNow,
        /// Get a new join token, then join.
        NewToken,
        /// The room is gone or not this one: back to the room list.
        Lobby,
        /// Do not reconnect automatically: another session has this player, or an
        /// operator removed it.
        Stop,
        /// The client (or its name) was refused: retrying the same would fail the same
        /// way; report the reason.
        GiveUp,
    }

    /// One row of the close-code table.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
    pub struct Code {
        pub code: u16,
        /// The short name PROTOCOL.md's table gives it.
        pub name: &'static str,
        pub after: After,
    }

    const fn row(code: u16, name: &'static str, after: After) -> Code {
        Code { code, name, after }
    }

    /// Every close code a Tickwire session can end with, in PROTOCOL.md's order: the one
    /// table the server's counters, the bot-client, PROTOCOL.md and the JavaScript
    /// client are checked against (`shared/tests/close_codes.rs` writes
    /// `assets/web/testdata/close_codes.json` from it).
    pub const TABLE: &[Code] = &[
        row(NORMAL, "normal closure", After::Done),
        row(GOING_AWAY, "going away", After::Rejoin),
        row(PROTOCOL_ERROR, "protocol error", After::GiveUp),
        row(UNSUPPORTED_DATA, "unsupported data", After::GiveUp),
        row(ABNORMAL, "abnormal closure", After::Retry),
        row(INVALID_PAYLOAD, "invalid payload", After::GiveUp),
        row(POLICY_VIOLATION, "policy violation", After::GiveUp),
        row(MESSAGE_TOO_BIG, "message too big", After::GiveUp),
        row(INTERNAL_ERROR, "internal error", After::Retry),
        row(TRY_AGAIN_LATER, "try again later", After::Retry),
        row(BAD_MESSAGE, "bad message", After::GiveUp),
        row(PROTOCOL_VERSION, "protocol version", After::GiveUp),
        row(UNEXPECTED_MESSAGE, "unexpected message", After::GiveUp),
        row(INVALID_NAME, "invalid name", After::GiveUp),
        row(ROOM_FULL, "room full", After::Retry),
        row(HANDSHAKE_TIMEOUT, "handshake timeout", After::Retry),
        row(TOO_SLOW, "too slow", After::Retry),
        row(INVALID_INPUT, "invalid input", After::GiveUp),
        row(IDLE_TIMEOUT, "idle timeout", After::Retry),
        row(TOKEN_INVALID, "invalid token", After::GiveUp),
        row(TOKEN_EXPIRED, "token expired", After::NewToken),
        row(TOKEN_REUSED, "token reused", After::NewToken),
        row(WRONG_ROOM, "wrong room", After::Lobby),
        row(UNKNOWN_ROOM, "unknown room", After::Lobby),
        row(RESUME_FAILED, "resume failed", After::RejoinNow),
        row(REPLACED, "replaced", After::Stop),
        row(ROOM_CLOSED, "room closed", After::Lobby),
        row(KICKED, "kicked", After::Stop),
    ];

    /// The table's row of `code`, if it is one of ours.
    pub fn lookup(code: u16) -> Option<&'static Code> {
        TABLE.iter().find(|c| c.code == code)
    }

    /// What a client does after `code`; codes outside the table are given up on.
    pub fn after(code: u16) -> After {
        lookup(code).map_or(After::GiveUp, |c| c.after)
    }
}

/// A protocol rule a peer broke. Each variant maps to one close code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The frame did not decode; the payload is the decoder's explanation.
    #[error("undecodable message: {0}")]
    Undecodable(String),
    /// A text frame arrived.
    #[error("text frames are not part of the protocol")]
    TextFrame,
    /// The client speaks another protocol version.
    #[error("protocol version {got} is not supported (server speaks {PROTOCOL_VERSION})")]
    Version {
        /// The version the client announced.
        got: u16,
    },
    /// A message arrived in a state where it is not allowed.
    #[error("{0} is not allowed here")]
    Unexpected(&'static str),
    /// The player name is unacceptable.
    #[error("invalid name: {0}")]
    InvalidName(&'static str),
    /// A token in `Hello` is too long or not printable ASCII.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
}

impl ProtocolError {
    /// The close code the server sends for this error.
    pub fn close_code(&self) -> u16 {
        match self {
            ProtocolError::Undecodable(_) => close::BAD_MESSAGE,
            ProtocolError::TextFrame => close::UNSUPPORTED_DATA,
            ProtocolError::Version { .. } => close::PROTOCOL_VERSION,
            ProtocolError::Unexpected(_) => close::UNEXPECTED_MESSAGE,
            ProtocolError::InvalidName(_) => close::INVALID_NAME,
            ProtocolError::InvalidToken(_) => close::TOKEN_INVALID,
        }
    }
}

/// A name that passed [`Hello::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerName(String);

impl PlayerName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl Hello {
    /// Checks version and name, returning the trimmed name. Parse, don't validate: the
    /// server only ever holds a [`PlayerName`], never an unchecked string.
    pub fn validate(&self) -> Result<PlayerName, ProtocolError> {
        if self.protocol_version != PROTOCOL_VERSION {
            return Err(ProtocolError::Version {
                got: self.protocol_version,
            });
        }
        let name = self.name.trim();
        if name.is_empty() {
            return Err(ProtocolError::InvalidName("empty"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(ProtocolError::InvalidName("longer than 16 characters"));
        }
        if name.chars().any(char::is_control) {
            return Err(ProtocolError::InvalidName("contains control characters"));
        }
        for token in [&self.join_token, &self.resume_token] {
            if token.len() > MAX_TOKEN_BYTES {
                return Err(ProtocolError::InvalidToken("longer than 400 bytes"));
            }
            if !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ProtocolError::InvalidToken("not printable ASCII"));
            }
        }
        Ok(PlayerName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(name: &str) -> Hello {
        Hello {
            protocol_version: PROTOCOL_VERSION,
            name: name.to_owned(),
            ..Hello::default()
        }
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(
            hello("  ada ").validate().map(|n| n.into_string()),
            Ok("ada".into())
        );
        assert_eq!(
            hello(" ").validate().map_err(|e| e.close_code()),
            Err(close::INVALID_NAME)
        );
        assert!(hello("a\u{7}b").validate().is_err());
        assert!(hello(&"x".repeat(17)).validate().is_err());
        assert!(hello(&"é".repeat(16)).validate().is_ok());
    }

    #[test]
    fn tokens_must_be_short_printable_ascii() {
        let mut h = hello("ada");
        h.join_token = "a.b-c_d".into();
        assert!(h.validate().is_ok());
        h.resume_token = "x".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(
            h.validate().map_err(|e| e.close_code()),
            Err(close::TOKEN_INVALID)
        );
        h.resume_token = "a b".into();
        assert!(h.validate().is_err());
    }

    #[test]
    fn wrong_version_is_refused() {
        let h = Hello {
            protocol_version: PROTOCOL_VERSION + 1,
            name: "ada".into(),
            ..Hello::default()
        };
        assert_eq!(
            h.validate().map_err(|e| e.close_code()),
            Err(close::PROTOCOL_VERSION)
        );
    }

    /// A delta's baseline goes as how far back it is, the checksum as four raw bytes:
    /// PROTOCOL.md's worked example, byte for byte.
    #[test]
    fn snapshots_send_how_far_back_their_baseline_is() {
        let snap = Snapshot {
            tick: 1003,
            baseline: 1000,
            last_input_seq: 9,
            checksum: 0x9b85_02b0,
            payload: vec![0x13],
        };
        let message = ServerMessage::Snapshot(snap.clone());
        let bytes = crate::codec::encode(&message).unwrap();
        assert_eq!(
            bytes,
            [
                0x01, 0xfb, 0xeb, 0x03, 0x03, 0x09, 0xb0, 0x02, 0x85, 0x9b, 0x01, 0x13
            ]
        );
        assert_eq!(crate::codec::decode_server(&bytes).unwrap(), message);
        let key = ServerMessage::Snapshot(Snapshot {
            baseline: 0,
            ..snap
        });
        let bytes = crate::codec::encode(&key).unwrap();
        assert_eq!(bytes.get(4), Some(&0), "a keyframe is back 0");
        assert_eq!(crate::codec::decode_server(&bytes).unwrap(), key);
        // A back of the tick or more would put the baseline at or before tick 0.
        let mut bad = bytes.clone();
        bad[4] = 0xfb;
        bad.splice(5..5, [0xeb, 0x03]);
        assert!(crate::codec::decode_server(&bad).is_err());
    }
}
