//! The conformance endpoint: an echo server on the game's accept path (per-address rate
//! limit, connection cap, request-head timeout) and WebSocket configuration (frame,
//! message and buffer limits), for the Autobahn|Testsuite `fuzzingclient`. It takes the
//! game server's flags; `server/conformance/run.sh` runs the suite against it.
//!
//! ```sh
//! cargo run --release -p server --example echo -- --addr 127.0.0.1:9001
//! cargo run --release -p server --example echo -- --addr 127.0.0.1:9001 --max-message-bytes 16777216
//! ```

use anyhow::Context;
use clap::Parser;
use server::ServerConfig;

/// The game server's flags, and the one knob of the conformance profiles.
#[derive(Debug, Parser)]
struct EchoArgs {
    #[command(flatten)]
    server: ServerConfig,
    /// Largest message and frame accepted, in bytes; the game's 1 KiB when absent. The
    /// `layer` profile of `run.sh` raises it to show the WebSocket layer's own behaviour.
    #[arg(long, env = "TICKWIRE_ECHO_MAX_MESSAGE_BYTES")]
    max_message_bytes: Option<usize>,
}
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .init();
    let args = EchoArgs::parse();
    let config = args.server;
    let settings = config.validate().context("invalid configuration")?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    println!(
        "echo endpoint listening at ws://{}/",
        listener.local_addr()?
    );

    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
        }
    });
    let echo = server::start_echo(listener, &settings, args.max_message_bytes, shutdown)?;
    let counters = echo.counters().clone();
    echo.wait().await?;
    for metric in counters.metrics() {
        if metric.value > 0 {
            println!("{metric}");
        }
    }
    Ok(())
}
