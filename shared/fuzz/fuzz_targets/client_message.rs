//! `shared::codec::decode_client` on arbitrary bytes (what the server does with every
//! binary frame a peer sends): never panics; a `Hello` that validates has a sane name;
//! any decoded message re-encodes canonically and decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shared_fuzz::fuzz_client_message(data));
