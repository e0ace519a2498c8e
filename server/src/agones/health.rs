//! Health pings to the sidecar, every `--agones-health-period-s`, until stopped.

use std::time::Duration;

use ::agones::Sdk;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Pings until `stop`, then returns when the last ping was sent. The SDK streams pings on
/// one gRPC stream; if it ends (the sidecar restarted, the connection broke), another is
/// opened. Failures are logged, never fatal: the sidecar marks the GameServer Unhealthy
/// when pings stop arriving, which is the signal Agones acts on.
pub(super) async fn ping(sdk: Sdk, period: Duration, stop: CancellationToken) -> Option<Instant> {
    let mut pings = sdk.health_check();
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last = None;
    let mut failing = false;
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => return last,
            _ = ticks.tick() => {}
        }
        let sent = match pings.try_send(()) {
            Ok(()) => true,
            // Pings queue up while the stream is not taking them: one more adds nothing.
            Err(TrySendError::Full(())) => false,
            Err(TrySendError::Closed(())) => {
                pings = sdk.health_check();
                pings.try_send(()).is_ok()
            }
        };
        if sent {
            last = Some(Instant::now());
        }
        // A queued ping is not a delivered one: the stream's health shows in whether the
        // queue drains (its capacity back to full) by the next tick.
        let stuck = !sent || pings.capacity() < pings.max_capacity() - 1;
        if stuck && !failing {
            tracing::warn!("Agones health pings are not getting through to the sidecar");
        } else if !stuck && failing {
            tracing::info!("Agones health pings get through again");
        }
        failing = stuck;
    }
}
