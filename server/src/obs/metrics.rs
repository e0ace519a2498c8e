//! `/metrics` in the Prometheus text format, through `metrics` and
//! `metrics-exporter-prometheus`.
//!
//! The recorder is the server's own, never installed as the process-global one: several
//! servers run in one test process, and each renders only its own numbers. Code that
//! records gets metric *handles* registered on this recorder ([`RoomMetrics`] for a room
//! thread: tick duration and tick lateness histograms, seats, snapshots, bytes, desyncs);
//! handles are atomics, so a room records on whichever worker runs it, without locks
//! or channels. The
//! connection and session counters of [`Counters`] (already atomics, which tests wait
//! on) are copied into the recorder at each scrape.
//!
//! Histograms are buffered by the exporter until drained; [`ServerMetrics::run_upkeep`]
//! runs every few seconds so that an unscraped server does not accumulate samples. A
//! deleted room's series disappear after [`IDLE_TIMEOUT`]: live rooms touch every
//! series of theirs each tick.

use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use metrics_util::MetricKindMask;

use crate::obs::counters::{Counters, Metric};

/// Series not updated for this long are dropped (a deleted room's).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// How often buffered histogram samples are folded into their buckets.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Bucket bounds of tick durations and tick lateness, in seconds: 50 µs to 250 ms.
const TICK_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.004, 0.008, 0.016, 0.033, 0.066, 0.25,
];

static METADATA: Metadata<'static> =
    Metadata::new("tickwire", metrics::Level::INFO, Some(module_path!()));

/// The server's recorder and its render handle.
#[derive(Debug)]
pub struct ServerMetrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

/// One room's metric handles, labelled `room="<id>"`.
#[derive(Debug, Clone)]
pub struct RoomMetrics {
    pub players: Gauge,
    pub held: Gauge,
    pub reserved: Gauge,
    pub max_players: Gauge,
    pub tick_seconds: Histogram,
    pub tick_lateness_seconds: Histogram,
    pub snapshots_sent: Counter,
    pub snapshots_skipped: Counter,
    pub bytes_out: Counter,
    pub keyframes: Counter,
    pub desyncs: Counter,
    pub inputs_dropped: Counter,
    pub resumes: Counter,
}

impl RoomMetrics {
    /// Marks every series of the room as alive (called each tick), so that counters which
    /// rarely move are not dropped as idle while their room runs.
    pub fn touch(&self, max_players: u32) {
        self.max_players.set(f64::from(max_players));
        self.desyncs.increment(0);
        self.inputs_dropped.increment(0);
        self.resumes.increment(0);
        self.snapshots_sent.increment(0);
        self.snapshots_skipped.increment(0);
        self.bytes_out.increment(0);
        self.keyframes.increment(0);
    }

    /// Handles that record nothing (unit tests, tools without a server).
    pub fn noop() -> RoomMetrics {
        RoomMetrics {
            players: Gauge::noop(),
            held: Gauge::noop(),
            reserved: Gauge::noop(),
            max_players: Gauge::noop(),
            tick_seconds: Histogram::noop(),
            tick_lateness_seconds: Histogram::noop(),
            snapshots_sent: Counter::noop(),
            snapshots_skipped: Counter::noop(),
            bytes_out: Counter::noop(),
            keyframes: Counter::noop(),
            desyncs: Counter::noop(),
            inputs_dropped: Counter::noop(),
            resumes: Counter::noop(),
        }
    }
}

impl Default for ServerMetrics {
    fn default() -> Self {
        ServerMetrics::new()
    }
}

impl ServerMetrics {
    pub fn new() -> ServerMetrics {
        let builder =
            PrometheusBuilder::new().idle_timeout(MetricKindMask::ALL, Some(IDLE_TIMEOUT));
        // Constant, valid bucket lists: setting them cannot fail; keep the default
        // (summaries) if it ever did.
        let builder = match builder
            .set_buckets_for_metric(Matcher::Prefix("tickwire_room_tick".into()), TICK_BUCKETS)
        {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "tick histogram buckets refused");
                PrometheusBuilder::new()
            }
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let m = ServerMetrics { recorder, handle };
        m.describe();
        m
    }

    fn describe(&self) {
        let r = &self.recorder;
        let d = |name: &'static str, unit: Option<Unit>, help: &'static str| {
            r.describe_gauge(KeyName::from_const_str(name), unit, help.into());
        };
        d("tickwire_rooms", None, "Rooms running.");
        d(
            "tickwire_room_players",
            None,
            "Players with a connected session, per room.",
        );
        d(
            "tickwire_room_players_held",
            None,
            "Players whose connection was lost, kept for a resume, per room.",
        );
        d(
            "tickwire_room_seats_reserved",
            None,
            "Join tokens not used yet, per room.",
        );
        d("tickwire_room_max_players", None, "Seats of each room.");
        d(
            "tickwire_room_tick_seconds",
            Some(Unit::Seconds),
            "Duration of each tick (inputs, simulation, replication), per room.",
        );
        d(
            "tickwire_room_tick_lateness_seconds",
            Some(Unit::Seconds),
            "How late each tick started against its schedule (tick jitter), per room.",
        );
        d(
            "tickwire_room_snapshots_sent_total",
            None,
            "Snapshots queued to clients.",
        );
        d(
            "tickwire_room_snapshots_skipped_total",
            None,
            "Snapshots skipped because a client's outbound queue was full.",
        );
        d(
            "tickwire_room_bytes_out_total",
            Some(Unit::Bytes),
            "Snapshot bytes queued to clients.",
        );
        d(
            "tickwire_room_desyncs_total",
            None,
            "Checksum mismatches reported by clients.",
        );
        d(
            "tickwire_room_keyframes_total",
            None,
            "Keyframes sent (joins, resumes, desyncs).",
        );
        d(
            "tickwire_room_resumes_total",
            None,
            "Players taken back by a resume or takeover.",
        );
        d(
            "tickwire_session_closes_total",
            None,
            "Sessions ended, by the close code the server chose (1006: no close frame).",
        );
        d(
            "tickwire_client_messages_rate_limited_total",
            None,
            "Client messages dropped by the per-session rate limiter.",
        );
        d(
            "tickwire_bytes_in_total",
            Some(Unit::Bytes),
            "WebSocket payload bytes received.",
        );
        d(
            "tickwire_bytes_out_total",
            Some(Unit::Bytes),
            "WebSocket payload bytes sent.",
        );
    }

    fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
        let labels: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label::new(*k, (*v).to_owned()))
            .collect();
        Key::from_parts(name, labels)
    }

    fn counter(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Counter {
        self.recorder
            .register_counter(&Self::key(name, labels), &METADATA)
    }

    fn gauge(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Gauge {
        self.recorder
            .register_gauge(&Self::key(name, labels), &METADATA)
    }

    fn histogram(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Histogram {
        self.recorder
            .register_histogram(&Self::key(name, labels), &METADATA)
    }

    /// The handles of room `id`.
    pub fn room(&self, id: &str) -> RoomMetrics {
        let l = [("room", id)];
        RoomMetrics {
            players: self.gauge("tickwire_room_players", &l),
            held: self.gauge("tickwire_room_players_held", &l),
            reserved: self.gauge("tickwire_room_seats_reserved", &l),
            max_players: self.gauge("tickwire_room_max_players", &l),
            tick_seconds: self.histogram("tickwire_room_tick_seconds", &l),
            tick_lateness_seconds: self.histogram("tickwire_room_tick_lateness_seconds", &l),
            snapshots_sent: self.counter("tickwire_room_snapshots_sent_total", &l),
            snapshots_skipped: self.counter("tickwire_room_snapshots_skipped_total", &l),
            bytes_out: self.counter("tickwire_room_bytes_out_total", &l),
            keyframes: self.counter("tickwire_room_keyframes_total", &l),
            desyncs: self.counter("tickwire_room_desyncs_total", &l),
            inputs_dropped: self.counter("tickwire_room_inputs_dropped_total", &l),
            resumes: self.counter("tickwire_room_resumes_total", &l),
        }
    }

    /// The exposition: the server-wide counters as of now, the number of rooms, and
    /// every room's series.
    /// The exposition: the room metrics recorded so far, the server's counters, and
    /// `extra` (the cluster's, on a cluster node).
    pub fn render(&self, counters: &Counters, extra: Vec<Metric>, rooms: usize) -> String {
        for m in counters.metrics().into_iter().chain(extra) {
            let labels: Vec<(&'static str, &str)> =
                m.labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
            if m.gauge {
                self.gauge(m.name, &labels).set(m.value as f64);
            } else {
                self.counter(m.name, &labels).absolute(m.value);
            }
        }
        self.gauge("tickwire_rooms", &[]).set(rooms as f64);
        self.handle.render()
    }

    /// Folds buffered histogram samples into their buckets and drops idle series.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_render_their_own_numbers() {
        let (a, b) = (ServerMetrics::new(), ServerMetrics::new());
        let ra = a.room("duel");
        ra.snapshots_sent.increment(3);
        ra.tick_seconds.record(0.0015);
        ra.players.set(2.0);
        let counters = Counters::default();
        Counters::inc(&counters.sessions_total);
        let text = a.render(&counters, Vec::new(), 1);
        assert!(
            text.contains(r#"tickwire_room_snapshots_sent_total{room="duel"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(r#"tickwire_room_players{room="duel"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"tickwire_room_tick_seconds_bucket{room="duel",le="0.002"} 1"#),
            "{text}"
        );
        assert!(text.contains("tickwire_sessions_total 1"), "{text}");
        assert!(text.contains("tickwire_rooms 1"), "{text}");
        assert!(
            !b.render(&Counters::default(), Vec::new(), 0)
                .contains("duel")
        );
    }
}
