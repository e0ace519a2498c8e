//! The body of the `session_frames` target, and the layout of its input.
//!
//! Input: 4 bytes of the room's current tick (LE), then frames, each a header byte and,
//! for binary frames, a 2-byte length (LE, at most 1,100) and that many bytes. The
//! header's low 2 bits are the kind (0 binary, 1 text, 2 close, 3 ping/pong); the high
//! 6 bits are milliseconds of time passing before the frame (the rate limiter's fake
//! clock). The frames go through one `Inbound` until it answers an error or `Closed`.
//!
//! Checks: nothing panics; every error carries a close code; the `Hello` is admitted at
//! most once, and before anything is forwarded; forwarded inputs have increasing `seq`
//! and an `ack_tick` not after the current tick; a `Pong` answers only a greeted session.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::FakeRelativeClock;
use server::transport::limits::MessageLimits;
use server::room::RoomInput;
use server::session::{Frame, Inbound, Step};

/// Largest binary frame the target makes (the game's limit is 1,024; the WebSocket
/// layer refuses more before a session ever sees it).
pub const MAX_FRAME: usize = 1100;

pub fn fuzz_session_frames(data: &[u8]) {
    let Some((tick, mut rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let tick = u32::from_le_bytes(*tick);
    let limits = MessageLimits {
        per_second: NonZeroU32::new(120).unwrap_or(NonZeroU32::MIN),
        burst: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
        flood_factor: 10,
        flood_window: Duration::from_secs(2),
    };
    let clock = FakeRelativeClock::default();
    // The arena's buttons (bit 0), as the target was first fuzzed with.
    let mut inbound = Inbound::with_clock(&limits, &clock).with_buttons(1);
    let mut hellos = 0;
    let mut last_seq = 0;
    while let Some((&header, tail)) = rest.split_first() {
        rest = tail;
        clock.advance(Duration::from_millis(u64::from(header >> 2)));
        let frame = match header & 3 {
            0 => {
                let Some((len, tail)) = rest.split_first_chunk::<2>() else {
                    return;
                };
                let len = usize::from(u16::from_le_bytes(*len)).min(MAX_FRAME);
                let (bytes, tail) = tail.split_at(len.min(tail.len()));
                rest = tail;
                Frame::Binary(bytes)
            }
            1 => Frame::Text,
            2 => Frame::Close,
            _ => Frame::Control,
        };
        let was_greeted = inbound.greeted();
        match inbound.on_frame(frame, tick) {
            Err(e) => {
                assert!(e.close_code().is_some(), "no close code for {e}");
                return;
            }
            Ok(Step::Closed) => return,
            Ok(Step::Hello(hello, name)) => {
                hellos += 1;
                assert_eq!(hellos, 1, "a second Hello admitted");
                assert!(!was_greeted);
                assert!(name.as_str().chars().count() <= 16);
                assert!(hello.join_token.len() <= 400 && hello.resume_token.len() <= 400);
            }
            Ok(Step::Input(input)) => {
                assert!(was_greeted, "forwarded before the Hello");
                assert!(input.seq > last_seq, "seq {} after {last_seq}", input.seq);
                assert!(input.ack_tick <= tick);
                let last = input.last_seq();
                assert!(last.is_some(), "an input of no frames, or numbered past u32::MAX");
                last_seq = last.unwrap_or(u32::MAX);
            }
            Ok(Step::Forward(RoomInput::Frame { .. })) => {
                panic!("the inbound side forwards inputs as whole messages")
            }
            Ok(Step::Forward(RoomInput::Desync(t))) => {
                assert!(was_greeted);
                assert!(t <= tick);
            }
            Ok(Step::Forward(RoomInput::Settings(_) | RoomInput::Leave)) => {
                panic!("the inbound side never forwards settings or a leave itself")
            }
            Ok(Step::Pong(_) | Step::Settings(_)) => assert!(was_greeted),
            Ok(Step::Dropped | Step::Nothing) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_run_clean() {
        // Tick 100; a Hello "ada" (v5); an Input of one frame; a ping; a close.
        let mut seed = 100u32.to_le_bytes().to_vec();
        let hello = [0u8, 5, 3, b'a', b'd', b'a', 0, 0];
        seed.extend([0, hello.len() as u8, 0]);
        seed.extend(hello);
        let input = [1u8, 1, 50, 1, 0, 0, 0, 0];
        seed.extend([4, input.len() as u8, 0]);
        seed.extend(input);
        seed.extend([3, 2]);
        fuzz_session_frames(&seed);
        fuzz_session_frames(&[]);
        fuzz_session_frames(&[1, 2, 3, 4, 0, 0xff, 0xff]);
    }
}
