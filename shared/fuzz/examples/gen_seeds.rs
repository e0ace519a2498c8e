//! Writes the seed inputs of both fuzz targets into `corpus/<target>/seed-<name>`
//! (or under the directory given as the first argument) and checks that each of them
//! runs through its target, and that every snapshot seed applies cleanly.
//!
//!     cargo run --example gen_seeds            # from shared/fuzz
//!     cargo run --example gen_seeds -- /tmp/seeds

use std::path::PathBuf;

use shared::codec::decode_server;
use shared::delta::decode_payload;
use shared::protocol::ServerMessage;
use shared_fuzz::{
    BASE_TICK_RATE, Header, PACKINGS, RAW_FRAME, base_view, client_seeds, empty_view, layout,
    snapshot_seeds,
};

fn main() -> std::io::Result<()> {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus"));

    for (target, seeds) in [
        ("client_message", client_seeds()),
        ("snapshot_delta", snapshot_seeds()),
    ] {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        for (name, bytes) in &seeds {
            match target {
                "client_message" => {
                    assert!(bytes.len() <= 1100, "{name} longer than -max_len");
                    shared_fuzz::fuzz_client_message(bytes);
                }
                _ => {
                    assert!(bytes.len() <= 4096, "{name} longer than -max_len");
                    check_snapshot_seed(name, bytes);
                    shared_fuzz::fuzz_snapshot_delta(bytes);
                }
            }
            std::fs::write(dir.join(format!("seed-{name}")), bytes)?;
        }
        println!("{}: {} seeds in {}", target, seeds.len(), dir.display());
    }
    Ok(())
}

/// Each snapshot seed must reach a successful decode through the path it is meant for.
fn check_snapshot_seed(name: &str, bytes: &[u8]) {
    let packing = if name.ends_with("-bytes") {
        PACKINGS[1]
    } else {
        PACKINGS[0]
    };
    if name.starts_with("msg-") {
        let msg = decode_server(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        match msg {
            ServerMessage::Snapshot(snap) => {
                let mut view = if snap.baseline == 0 {
                    empty_view()
                } else {
                    base_view().clone()
                };
                view.apply(&snap, BASE_TICK_RATE, packing)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            ServerMessage::FullSnapshot(full) => empty_view()
                .apply_full(&full)
                .unwrap_or_else(|e| panic!("{name}: {e}")),
            ServerMessage::Welcome(welcome) => {
                welcome
                    .schema
                    .layout()
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            ServerMessage::Pong(_) | ServerMessage::SnapshotSettings(_) => {}
        }
    } else if name.starts_with("raw-") {
        decode_payload(packing, layout(), &RAW_FRAME, base_view().entities(), bytes)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    } else {
        let (header, payload) = Header::split(bytes).expect("has a header");
        let mut view = if header.baseline() == 0 {
            empty_view()
        } else {
            base_view().clone()
        };
        let snap = header.snapshot(payload);
        match view.apply(&snap, header.tick_rate, packing) {
            Ok(()) | Err(shared::delta::DeltaError::Checksum { .. }) => {}
            Err(e) => panic!("{name}: {e}"),
        }
    }
}
