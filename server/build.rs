//! Build script: with the `agones` feature, generates the gRPC server side of the Agones
//! SDK from `proto/agones/` for the in-test SDK server (`tests/agones.rs`). Without the
//! feature it does nothing, so default builds need no `protoc`.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    #[cfg(feature = "agones")]
    agones_sdk_server();
}

/// The SDK's and its beta API's services as servers (the `agones` crate has the
/// clients). Cargo enables a build script's own optional build-dependencies with the
/// feature and sets `CARGO_FEATURE_AGONES`, which `cfg(feature)` here reflects.
#[cfg(feature = "agones")]
fn agones_sdk_server() {
    const ROOT: &str = "proto/agones";
    println!("cargo::rerun-if-changed={ROOT}");
    let result = tonic_build::configure()
        .build_client(false)
        .build_server(true)
        .compile_protos(
            &[
                format!("{ROOT}/sdk/sdk.proto"),
                format!("{ROOT}/sdk/beta/beta.proto"),
            ],
            &[
                format!("{ROOT}/googleapis"),
                format!("{ROOT}/grpc-gateway"),
                format!("{ROOT}/sdk"),
            ],
        );
    if let Err(e) = result {
        // A build script reports by panicking; protoc's message says what is missing.
        panic!("cannot generate the Agones SDK server from {ROOT} (is protoc installed?): {e}");
    }
}
