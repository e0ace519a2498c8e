//! What the benches that run the server in their own process (`rooms`, `idle_rooms`)
//! share: quiet logs and the server's settings from flags, without the per-address
//! limits (one address makes all the load).

use clap::Parser;
use server::ServerConfig;
use server::control::config::Settings;

use crate::child::LOAD_GENERATOR_ARGS;

/// Logs warnings and errors only: the server's per-room lines would flood the output.
pub fn warn_logs() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .init();
}

/// The server's settings from `flags` (as on its command line, without the program
/// name), the rooms and entities budgets lifted, plus [`LOAD_GENERATOR_ARGS`].
pub fn settings(flags: &[&str]) -> anyhow::Result<Settings> {
    let args = ["server", "--max-entities", "1000000000"]
        .into_iter()
        .chain(flags.iter().copied())
        .chain(LOAD_GENERATOR_ARGS);
    Ok(ServerConfig::try_parse_from(args)?.validate()?)
}
