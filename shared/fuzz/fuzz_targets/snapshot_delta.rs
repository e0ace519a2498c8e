//! What a bot does with bytes from a server: `shared::codec::decode_server`, then
//! `ClientView::apply` of snapshots in both packings onto an empty view and onto a fixed
//! keyframe view; plus the structured (header + payload) and raw paths into
//! `shared::delta::decode_payload`. See `shared_fuzz::fuzz_snapshot_delta`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shared_fuzz::fuzz_snapshot_delta(data));
