//! The `--agones*` flags, flattened into [`crate::ServerConfig`].

use std::time::Duration;

use super::AgonesError;

/// The SDK's port when neither `--agones-sdk-port` nor `AGONES_SDK_GRPC_PORT` names one
/// (the sidecar's default).
pub const DEFAULT_SDK_PORT: u16 = 9357;

/// Agones integration (needs a build with the `agones` feature).
#[derive(Debug, Clone, clap::Args)]
pub struct AgonesArgs {
    /// Run as an Agones GameServer: tell the SDK sidecar Ready once listening, send Health
    /// pings, keep the rooms, players and free seats current in labels and Beta counters
    /// (`rooms`, `players`), and Shutdown after a drain. The server exits with an error
    /// when the sidecar cannot be reached (see docs/agones.md).
    #[arg(long = "agones", env = "TICKWIRE_AGONES")]
    pub enabled: bool,

    /// Port of the Agones SDK sidecar's gRPC server on localhost; by default the
    /// `AGONES_SDK_GRPC_PORT` variable Agones sets in the container, else 9357.
    #[arg(long = "agones-sdk-port", env = "TICKWIRE_AGONES_SDK_PORT")]
    pub sdk_port: Option<u16>,

    /// Seconds between Health pings to the sidecar; keep it below the GameServer's
    /// `health.periodSeconds` (5 by default).
    #[arg(
        long = "agones-health-period-s",
        env = "TICKWIRE_AGONES_HEALTH_PERIOD",
        default_value_t = 2,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub health_period_s: u64,
}

impl AgonesArgs {
    /// The sidecar's port, found as the SDK itself would (flag, then
    /// `AGONES_SDK_GRPC_PORT`, then 9357), except that an unreadable variable is an error
    /// rather than silently the default: the message then names the port tried.
    pub fn sdk_port(&self) -> Result<u16, AgonesError> {
        if let Some(port) = self.sdk_port {
            return Ok(port);
        }
        match std::env::var("AGONES_SDK_GRPC_PORT") {
            Ok(value) => value
                .trim()
                .parse()
                .map_err(|_| AgonesError::SdkPortVariable(value)),
            Err(_) => Ok(DEFAULT_SDK_PORT),
        }
    }

    pub fn health_period(&self) -> Duration {
        Duration::from_secs(self.health_period_s)
    }
}
