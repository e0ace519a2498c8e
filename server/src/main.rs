use anyhow::Context;
use clap::Parser;
use server::ServerConfig;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = ServerConfig::parse();
    #[cfg_attr(not(feature = "agones"), allow(unused_mut))]
    let mut settings = config.validate().context("invalid configuration")?;
    // Before listening: a node under Agones without its sidecar is misconfigured, and
    // should fail before it takes a port or starts a room.
    #[cfg(feature = "agones")]
    let mut agones = server::agones::Agones::connect(&config.agones).await?;
    // Under Agones players reach the node at its GameServer's address and port, which
    // only the SDK knows: reservations (other nodes' too, in a cluster) point there.
    #[cfg(feature = "agones")]
    if let Some(node) = agones.as_mut()
        && settings.public_url.is_none()
    {
        settings.public_url = Some(node.public_url(settings.tls.is_some()).await?);
    }
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    let addr = listener.local_addr()?;
    let (http, ws) = if settings.tls.is_some() {
        ("https", "wss")
    } else {
        ("http", "ws")
    };
    let deadline = settings.shutdown_timeout;

    let shutdown = CancellationToken::new();
    let server = server::start(listener, settings, shutdown.clone())?;
    println!("Tickwire listening: web client at {http}://{addr}/ , WebSocket at {ws}://{addr}/ws");
    tracing::info!(
        rooms = server.registry().len(),
        default_room = server.registry().default_room(),
        "rooms API at {http}://{addr}/api/rooms, metrics at {http}://{addr}/metrics"
    );
    #[cfg(feature = "agones")]
    let agones = match agones {
        Some(node) => Some(
            node.ready(server.registry().clone(), config.max_rooms)
                .await?,
        ),
        None => None,
    };
    cancel_on_signal(shutdown.clone()).await;
    // Stop accepting, tell every session (1001), let rooms finish their tick: all within
    // the deadline, or exit anyway.
    let drained = match tokio::time::timeout(deadline + GRACE, server.wait()).await {
        Ok(result) => result.map_err(anyhow::Error::from),
        Err(_) => Err(anyhow::anyhow!(
            "shutdown took longer than {deadline:?}; exiting anyway"
        )),
    };
    // Agones deletes the Pod on Shutdown: only once the drain is over, whatever its outcome.
    #[cfg(feature = "agones")]
    let told = match agones {
        Some(node) => node.shutdown().await,
        None => Ok(()),
    };
    drained?;
    #[cfg(feature = "agones")]
    told?;
    Ok(())
}

/// Slack above the shutdown deadline for the last room and room worker to end.
const GRACE: std::time::Duration = std::time::Duration::from_millis(500);

async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    shutdown.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}
