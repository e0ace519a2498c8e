//! Keeps the GameServer's labels and counters current: reads the node's status every
//! second and sends what changed since the last successful send.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ::agones::Sdk;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::status::{NodeStatus, Report};
use super::{AgonesError, call};
use crate::control::registry::RoomRegistry;

/// How often the status is read. The sidecar writes what it is sent to the GameServer at
/// most every half second (its default rate limit), and a FleetAutoscaler looks every 30 s
/// by default: reading more often would show nothing sooner.
const PERIOD: Duration = Duration::from_secs(1);

/// Reports until `stop` (a round of sends under way is finished first). A failed send is
/// logged (once until it succeeds again) and tried again the next second.
pub(super) async fn keep_current(
    mut sdk: Sdk,
    registry: Arc<RoomRegistry>,
    max_rooms: usize,
    stop: CancellationToken,
) {
    let mut beta = sdk.beta().clone();
    let mut sent: HashMap<Report, i64> = HashMap::new();
    let mut failing: HashSet<Report> = HashSet::new();
    let mut ticks = tokio::time::interval(PERIOD);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let status = NodeStatus::read(&registry);
        for (report, value) in status.reports(max_rooms) {
            if sent.get(&report) == Some(&value) {
                continue;
            }
            let result: Result<(), AgonesError> = match report {
                Report::Label(key) => call("SetLabel", sdk.set_label(key, value.to_string())).await,
                Report::Capacity(key) => {
                    call("SetCounterCapacity", beta.set_counter_capacity(key, value)).await
                }
                Report::Count(key) => {
                    call("SetCounterCount", beta.set_counter_count(key, value)).await
                }
            };
            match result {
                Ok(()) => {
                    sent.insert(report, value);
                    if failing.remove(&report) {
                        tracing::info!(?report, value, "Agones report sent again");
                    }
                }
                Err(e) => {
                    // A counter the Fleet does not declare fails every second: say it once.
                    if failing.insert(report) {
                        tracing::warn!(?report, value, error = %e, "cannot report to Agones (retrying every second)");
                    }
                }
            }
        }
    }
}
