//! Agones: with `--agones`, a node runs as an Agones GameServer and keeps the SDK sidecar
//! of its Pod told: Ready once it listens, Health pings every `--agones-health-period-s`,
//! its rooms, players and free seats as labels and Beta counters (so that a
//! FleetAutoscaler can keep a buffer of free seats), and Shutdown once SIGTERM's drain
//! is over. docs/agones.md has the Fleet side.
//!
//! - [`args`]: the flags; [`status`]: what is reported, from the room registry;
//! - `health`: the pings; `publish`: the labels and counters, sent when they change.

mod args;
mod health;
mod publish;
pub mod status;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ::agones::Sdk;
use ::agones::errors::Error as SdkError;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::control::registry::RoomRegistry;

pub use args::{AgonesArgs, DEFAULT_SDK_PORT};
pub use status::NodeStatus;

/// Longest wait for one SDK call: the sidecar is on localhost, so a call that takes this
/// long is a sidecar in trouble, and shutdown must not hang on it.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Least time between the last Health ping and Shutdown. The SDK streams pings on a gRPC
/// stream of their own, so one sent just before Shutdown could reach the sidecar after
/// it; the gap keeps Shutdown the last thing the sidecar hears.
const QUIET_BEFORE_SHUTDOWN: Duration = Duration::from_millis(100);

/// What went wrong between the node and its Agones sidecar.
#[derive(Debug, thiserror::Error)]
pub enum AgonesError {
    #[error("AGONES_SDK_GRPC_PORT is {0:?}, not a port number")]
    SdkPortVariable(String),
    #[error(
        "cannot reach the Agones SDK sidecar at localhost:{port} (a node run with --agones \
         must be an Agones GameServer; see --agones-sdk-port): {}",
        chain(error.as_ref())
    )]
    Connect { port: u16, error: Box<SdkError> },
    #[error("Agones SDK call {call} failed: {}", chain(error.as_ref()))]
    Call {
        call: &'static str,
        error: Box<SdkError>,
    },
    #[error("Agones SDK call {call} got no answer within {CALL_TIMEOUT:?}")]
    TimedOut { call: &'static str },
    #[error(
        "the GameServer has no address or port yet, so players could not be sent here; give --public-url"
    )]
    NoAddress,
}

/// An error and its sources, on one line (the SDK's own messages say little, e.g. "rpc
/// failure", and keep the gRPC status as their source).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// One SDK call, bounded by [`CALL_TIMEOUT`].
async fn call<T>(
    call: &'static str,
    request: impl Future<Output = Result<T, SdkError>>,
) -> Result<T, AgonesError> {
    match tokio::time::timeout(CALL_TIMEOUT, request).await {
        Ok(result) => result.map_err(|error| AgonesError::Call {
            call,
            error: Box::new(error),
        }),
        Err(_) => Err(AgonesError::TimedOut { call }),
    }
}

/// A node connected to its sidecar, not yet Ready.
pub struct Agones {
    sdk: Sdk,
    health_period: Duration,
}

impl fmt::Debug for Agones {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agones")
            .field("health_period", &self.health_period)
            .finish_non_exhaustive()
    }
}

impl Agones {
    /// Connects to the sidecar when `--agones` is given (`None` otherwise). The SDK tries
    /// for 30 s: a sidecar that is still starting is waited for, a missing one is an error.
    pub async fn connect(args: &AgonesArgs) -> Result<Option<Agones>, AgonesError> {
        if !args.enabled {
            return Ok(None);
        }
        let port = args.sdk_port()?;
        let sdk = Sdk::new(Some(port), None)
            .await
            .map_err(|error| AgonesError::Connect {
                port,
                error: Box::new(error),
            })?;
        tracing::info!(port, "connected to the Agones SDK sidecar");
        Ok(Some(Agones {
            sdk,
            health_period: args.health_period(),
        }))
    }

    /// Where players reach this node: `http(s)://ADDRESS:PORT` from its GameServer's
    /// status (the port named `default`, the Fleet's, else the first). Join
    /// reservations point there, also those other nodes of a cluster answer.
    pub async fn public_url(&mut self, tls: bool) -> Result<String, AgonesError> {
        let gameserver = call("GetGameServer", self.sdk.get_gameserver()).await?;
        let status = gameserver.status.unwrap_or_default();
        let port = status
            .ports
            .iter()
            .find(|p| p.name == "default")
            .or_else(|| status.ports.first())
            .map(|p| p.port);
        match (status.address.as_str(), port) {
            ("", _) | (_, None) => Err(AgonesError::NoAddress),
            (address, Some(port)) => {
                let scheme = if tls { "https" } else { "http" };
                // An IPv6 address goes in brackets in a URL.
                if address.contains(':') {
                    Ok(format!("{scheme}://[{address}]:{port}"))
                } else {
                    Ok(format!("{scheme}://{address}:{port}"))
                }
            }
        }
    }

    /// Tells Agones the node is Ready (call it once the server listens), then starts the
    /// Health pings and the status reports.
    pub async fn ready(
        self,
        registry: Arc<RoomRegistry>,
        max_rooms: usize,
    ) -> Result<Reporting, AgonesError> {
        let mut sdk = self.sdk;
        call("Ready", sdk.ready()).await?;
        tracing::info!("told Agones: Ready");
        let stop = CancellationToken::new();
        let health = tokio::spawn(health::ping(sdk.clone(), self.health_period, stop.clone()));
        let status = tokio::spawn(publish::keep_current(
            sdk.clone(),
            registry,
            max_rooms,
            stop.clone(),
        ));
        Ok(Reporting {
            sdk,
            stop,
            health,
            status,
        })
    }
}

/// A Ready node: pinging and reporting until [`Reporting::shutdown`].
pub struct Reporting {
    sdk: Sdk,
    stop: CancellationToken,
    /// Returns when the last ping was sent.
    health: JoinHandle<Option<Instant>>,
    status: JoinHandle<()>,
}

impl fmt::Debug for Reporting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reporting")
            .field("stopped", &self.stop.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl Reporting {
    /// Stops the pings and reports (a report under way finishes first), then tells Agones
    /// Shutdown: call it once the drain is over, so that Agones deletes the Pod.
    pub async fn shutdown(mut self) -> Result<(), AgonesError> {
        self.stop.cancel();
        let last_ping = match (&mut self.health).await {
            Ok(at) => at,
            Err(e) => {
                tracing::warn!(error = %e, "the Agones health task failed");
                None
            }
        };
        if let Err(e) = (&mut self.status).await {
            tracing::warn!(error = %e, "the Agones status task failed");
        }
        if let Some(at) = last_ping {
            tokio::time::sleep_until(at + QUIET_BEFORE_SHUTDOWN).await;
        }
        call("Shutdown", self.sdk.shutdown()).await?;
        tracing::info!("told Agones: Shutdown");
        Ok(())
    }
}
