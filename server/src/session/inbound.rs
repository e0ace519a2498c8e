//! What a session does with each frame its peer sends, without the socket: the
//! handshake (a `Hello` first, and only once), decoding, the checks that need the
//! session's history, and the message rate and flood rule. [`super::run`] feeds it the
//! frames it reads with the room's current tick, and does what each [`Step`] says; the
//! fuzz target `session_frames` (`server/fuzz`) feeds it any frames at all.

use governor::clock::{Clock, DefaultClock};
use shared::codec::{decode_client, peek_hello_version};
use shared::protocol::{
    ClientMessage, Hello, Input, PROTOCOL_VERSION, PlayerName, ProtocolError, SnapshotSettings,
};

use super::SessionError;
use crate::room::RoomInput;
use crate::transport::limits::{Admission, MessageLimiter, MessageLimits};

/// A frame as the WebSocket layer delivered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    Binary(&'a [u8]),
    Text,
    /// The peer's Close frame.
    Close,
    /// A ping or a pong (tungstenite answers pings itself).
    Control,
}

/// What to do with a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The handshake's `Hello`, valid: admit the player.
    Hello(Box<Hello>, PlayerName),
    /// Hand this to the room.
    Forward(RoomInput),
    /// Hand these input frames to the room, one [`RoomInput::Frame`] each.
    Input(Input),
    /// The client asks for other snapshot settings: clamp, tell the room, answer.
    Settings(SnapshotSettings),
    /// Answer a `Ping` carrying this client time.
    Pong(u32),
    /// Over the message rate: dropped (count it).
    Dropped,
    /// Nothing to do.
    Nothing,
    /// The peer closed the session.
    Closed,
}

/// The session's inbound side, from the first frame on.
#[derive(Debug)]
pub struct Inbound<C: Clock = DefaultClock> {
    greeted: bool,
    /// Newest input frame's `seq` received (dropped ones included).
    last_seq: u32,
    limits: MessageLimits,
    limiter: MessageLimiter<C>,
    /// The `Intent.buttons` bits the room's game defines; none until told.
    buttons: u8,
}

impl Inbound {
    pub fn new(limits: &MessageLimits) -> Inbound {
        Inbound::with_clock(limits, &DefaultClock::default())
    }
}

impl<C: Clock + Clone> Inbound<C> {
    pub fn with_clock(limits: &MessageLimits, clock: &C) -> Inbound<C> {
        Inbound {
            greeted: false,
            last_seq: 0,
            limits: *limits,
            limiter: MessageLimiter::with_clock(limits, clock),
            buttons: 0,
        }
    }

    /// Accepts inputs whose buttons are among `mask` (the room's game's buttons).
    pub fn with_buttons(mut self, mask: u8) -> Inbound<C> {
        self.buttons = mask;
        self
    }

    /// Whether the handshake is done (a valid `Hello` was read).
    pub fn greeted(&self) -> bool {
        self.greeted
    }

    /// What to do with `frame`, the room being at `current_tick`; an error closes the
    /// session with its code.
    pub fn on_frame(&mut self, frame: Frame<'_>, current_tick: u32) -> Result<Step, SessionError> {
        let bytes = match frame {
            Frame::Binary(bytes) => bytes,
            Frame::Text => return Err(ProtocolError::TextFrame.into()),
            Frame::Close => return Ok(Step::Closed),
            // Control frames count towards the rate, or a ping flood would be free.
            Frame::Control => {
                return Ok(if self.admit()? {
                    Step::Nothing
                } else {
                    Step::Dropped
                });
            }
        };
        if !self.greeted {
            return self.hello(bytes);
        }
        let message =
            decode_client(bytes).map_err(|e| ProtocolError::Undecodable(e.to_string()))?;
        if let ClientMessage::Hello(_) = message {
            return Err(ProtocolError::Unexpected("a second Hello").into());
        }
        // Invalid messages close the session even when they are over the rate.
        self.check(&message, current_tick)?;
        if !self.admit()? {
            return Ok(Step::Dropped);
        }
        Ok(match message {
            ClientMessage::Input(input) => Step::Input(input),
            ClientMessage::SnapshotSettings(asked) => Step::Settings(asked),
            ClientMessage::Desync(report) => Step::Forward(RoomInput::Desync(report.tick)),
            ClientMessage::Ping(ping) => Step::Pong(ping.client_time),
            // Refused above, before the rate.
            ClientMessage::Hello(_) => Step::Nothing,
        })
    }

    /// The first message: a `Hello` of this version, with a valid name and tokens. One
    /// that does not decode but reads as a `Hello` of another version is refused as such
    /// (4001), anything else that does not decode as garbage (4000).
    fn hello(&mut self, bytes: &[u8]) -> Result<Step, SessionError> {
        let message = decode_client(bytes).map_err(|e| match peek_hello_version(bytes) {
            Some(got) if got != PROTOCOL_VERSION => ProtocolError::Version { got },
            _ => ProtocolError::Undecodable(e.to_string()),
        })?;
        match message {
            ClientMessage::Hello(hello) => {
                let name = hello.validate()?;
                self.greeted = true;
                Ok(Step::Hello(Box::new(hello), name))
            }
            ClientMessage::Input(_) => Err(ProtocolError::Unexpected("Input before Hello").into()),
            ClientMessage::Ping(_)
            | ClientMessage::SnapshotSettings(_)
            | ClientMessage::Desync(_) => {
                Err(ProtocolError::Unexpected("a message before Hello").into())
            }
        }
    }

    /// Validation that needs the session's history: what `decode_client` and
    /// `Hello::validate` cannot see on their own.
    fn check(&mut self, message: &ClientMessage, current_tick: u32) -> Result<(), SessionError> {
        match message {
            ClientMessage::Input(input) => {
                let unknown = input.frames.iter().fold(0, |b, f| b | f.buttons) & !self.buttons;
                if unknown != 0 {
                    return Err(SessionError::UnknownButtons(unknown));
                }
                let Some(last_seq) = input.last_seq() else {
                    return Err(SessionError::BadFrames {
                        seq: input.seq,
                        frames: input.frames.len(),
                    });
                };
                // TCP delivers in order, so a seq that does not increase is a broken or
                // replaying client. (A session would need 2.3 years at 60 Hz to wrap.)
                if input.seq <= self.last_seq {
                    return Err(SessionError::SeqNotIncreasing {
                        seq: input.seq,
                        last: self.last_seq,
                    });
                }
                if input.ack_tick > current_tick {
                    return Err(SessionError::FutureTick {
                        field: "ack_tick",
                        tick: input.ack_tick,
                        current: current_tick,
                    });
                }
                self.last_seq = last_seq;
            }
            ClientMessage::Desync(report) if report.tick > current_tick => {
                return Err(SessionError::FutureTick {
                    field: "desync tick",
                    tick: report.tick,
                    current: current_tick,
                });
            }
            // Every value of every other field is meaningful: names were checked by
            // `Hello::validate`, and snapshot settings are clamped to the room's limits.
            _ => {}
        }
        Ok(())
    }

    /// The rate: `Ok(true)` to handle the message, `Ok(false)` to drop it, an error
    /// (flooding) to close the session.
    fn admit(&self) -> Result<bool, SessionError> {
        match self.limiter.admit() {
            Admission::Accept => Ok(true),
            Admission::Drop => Ok(false),
            Admission::Flood => Err(SessionError::Flooding {
                factor: self.limits.flood_factor,
                window: self.limits.flood_window,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::time::Duration;

    use governor::clock::FakeRelativeClock;
    use shared::codec::encode;
    use shared::protocol::{Desync, Input, Intent, Ping, close};
    use shared::rules::BUTTON_FIRE;

    use super::*;

    fn inbound() -> Inbound<FakeRelativeClock> {
        let limits = MessageLimits {
            per_second: NonZeroU32::new(1000).unwrap(),
            burst: NonZeroU32::new(1000).unwrap(),
            flood_factor: 10,
            flood_window: Duration::from_secs(2),
        };
        Inbound::with_clock(&limits, &FakeRelativeClock::default()).with_buttons(BUTTON_FIRE)
    }

    fn hello() -> Vec<u8> {
        encode(&ClientMessage::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            name: "ada".into(),
            ..Hello::default()
        }))
        .unwrap()
    }

    fn input(seq: u32, ack_tick: u32, buttons: u8) -> Vec<u8> {
        let intent = Intent {
            buttons,
            ..Intent::default()
        };
        encode(&ClientMessage::Input(Input::one(seq, ack_tick, intent))).unwrap()
    }

    fn code(r: Result<Step, SessionError>) -> Option<u16> {
        r.err().and_then(|e| e.close_code())
    }

    fn greeted() -> Inbound<FakeRelativeClock> {
        let mut i = inbound();
        assert!(matches!(
            i.on_frame(Frame::Binary(&hello()), 0),
            Ok(Step::Hello(..))
        ));
        i
    }

    /// The buttons a session accepts are the room's game's, and none until it is told.
    #[test]
    fn the_buttons_accepted_are_the_games() {
        let limits = MessageLimits {
            per_second: NonZeroU32::new(1000).unwrap(),
            burst: NonZeroU32::new(1000).unwrap(),
            flood_factor: 10,
            flood_window: Duration::from_secs(2),
        };
        for (mask, buttons, ok) in [(0, 1, false), (0b11, 0b10, true), (0b11, 0b100, false)] {
            let mut i =
                Inbound::with_clock(&limits, &FakeRelativeClock::default()).with_buttons(mask);
            assert!(i.on_frame(Frame::Binary(&hello()), 0).is_ok());
            let got = i.on_frame(Frame::Binary(&input(1, 0, buttons)), 0);
            assert_eq!(got.is_ok(), ok, "mask {mask:#b}, buttons {buttons:#b}");
        }
    }

    #[test]
    fn inputs_must_have_known_buttons_increasing_seqs_and_past_ticks() {
        let mut c = greeted();
        let bin = |b: &[u8], c: &mut Inbound<FakeRelativeClock>| c.on_frame(Frame::Binary(b), 10);
        assert!(bin(&input(1, 0, BUTTON_FIRE), &mut c).is_ok());
        assert!(bin(&input(5, 10, 0), &mut c).is_ok(), "gaps are fine");
        for bad in [
            input(5, 10, 0),
            input(4, 10, 0),
            input(6, 0, 0b10),
            input(6, 11, 0),
        ] {
            assert_eq!(
                code(bin(&bad, &mut greeted_after(&[1, 5]))),
                Some(close::INVALID_INPUT)
            );
        }
        assert!(matches!(bin(&input(6, 10, 0), &mut c), Ok(Step::Input(_))));
        let desync = |tick| encode(&ClientMessage::Desync(Desync { tick })).unwrap();
        assert!(bin(&desync(10), &mut c).is_ok());
        assert_eq!(code(bin(&desync(11), &mut c)), Some(close::INVALID_INPUT));
        let ping = encode(&ClientMessage::Ping(Ping {
            client_time: u32::MAX,
        }))
        .unwrap();
        assert_eq!(bin(&ping, &mut greeted()).unwrap(), Step::Pong(u32::MAX));
    }

    #[test]
    fn bundled_inputs_are_numbered_frame_by_frame() {
        let bundle = |seq: u32, frames: usize, buttons: u8| {
            let mut input = Input::one(seq, 0, Intent::default());
            input.frames.clear();
            input.frames.extend((0..frames).map(|i| Intent {
                buttons: if i == 1 { buttons } else { 0 },
                ..Intent::default()
            }));
            encode(&ClientMessage::Input(input)).unwrap()
        };
        let mut c = greeted();
        assert!(c.on_frame(Frame::Binary(&bundle(1, 3, 0)), 10).is_ok());
        // Frames 1–3 went: the next must start after 3.
        let after = |seq, frames| {
            let mut c = greeted_after(&[]);
            assert!(c.on_frame(Frame::Binary(&bundle(1, 3, 0)), 10).is_ok());
            code(c.on_frame(Frame::Binary(&bundle(seq, frames, 0)), 10))
        };
        assert_eq!(after(3, 1), Some(close::INVALID_INPUT));
        assert_eq!(after(4, 2), None);
        // No frames; numbers past u32::MAX; a bad button on any frame.
        for bad in [
            bundle(10, 0, 0),
            bundle(u32::MAX - 1, 3, 0),
            bundle(10, 2, 0b10),
        ] {
            assert_eq!(
                code(greeted().on_frame(Frame::Binary(&bad), 10)),
                Some(close::INVALID_INPUT)
            );
        }
        assert_eq!(
            code(greeted().on_frame(Frame::Binary(&bundle(u32::MAX - 2, 3, 0)), 10)),
            None
        );
    }

    /// A greeted session that has received inputs with these seqs.
    fn greeted_after(seqs: &[u32]) -> Inbound<FakeRelativeClock> {
        let mut i = greeted();
        for &seq in seqs {
            assert!(i.on_frame(Frame::Binary(&input(seq, 0, 0)), 10).is_ok());
        }
        i
    }

    #[test]
    fn the_handshake_wants_one_hello_first() {
        // Another version's Hello: 4001; garbage: 4000; anything else first: 4002.
        let v2 = [0, 2, 3, b'a', b'd', b'a'];
        assert_eq!(
            code(inbound().on_frame(Frame::Binary(&v2), 0)),
            Some(close::PROTOCOL_VERSION)
        );
        assert_eq!(
            code(inbound().on_frame(Frame::Binary(&[0xff, 0]), 0)),
            Some(close::BAD_MESSAGE)
        );
        assert_eq!(
            code(inbound().on_frame(Frame::Binary(&input(1, 0, 0)), 0)),
            Some(close::UNEXPECTED_MESSAGE)
        );
        assert_eq!(
            code(inbound().on_frame(Frame::Text, 0)),
            Some(close::UNSUPPORTED_DATA)
        );
        assert_eq!(inbound().on_frame(Frame::Close, 0).unwrap(), Step::Closed);
        assert_eq!(
            inbound().on_frame(Frame::Control, 0).unwrap(),
            Step::Nothing
        );
        let mut i = greeted();
        assert!(i.greeted());
        assert_eq!(
            code(i.on_frame(Frame::Binary(&hello()), 0)),
            Some(close::UNEXPECTED_MESSAGE)
        );
    }
}
