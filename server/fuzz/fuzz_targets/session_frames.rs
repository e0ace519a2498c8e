//! A session's inbound state machine (`server::session::Inbound`) fed any sequence of
//! frames: handshake, admission of the `Hello`, inputs, rate and flood rule. Never
//! panics; see `server_fuzz::fuzz_session_frames` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| server_fuzz::fuzz_session_frames(data));
