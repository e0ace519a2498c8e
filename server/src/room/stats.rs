//! Tick timing: histograms of how long each tick and its replication took.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Summary of one reporting interval, published to whoever watches the room.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RoomStats {
    pub tick: u32,
    pub clients: usize,
    pub entities: usize,
    /// Ticks run in the interval.
    pub ticks: u64,
    /// Whole tick (input, simulation, replication), in milliseconds.
    pub tick_ms_p50: f64,
    pub tick_ms_p99: f64,
    pub tick_ms_max: f64,
    /// Replication part of the tick (snapshot ticks only), in milliseconds.
    pub replication_ms_p99: f64,
    /// The same in CPU time of the worker thread that ran the tick: what the tick
    /// costs, without the time the thread spent preempted on a busy machine.
    pub tick_cpu_ms_p50: f64,
    pub tick_cpu_ms_p99: f64,
    pub replication_cpu_ms_p99: f64,
    /// Ticks started later than their deadline by more than a whole tick.
    pub late_ticks: u64,
    /// Tick jitter: how far each tick started from its schedule (|actual start −
    /// scheduled start|; ticks never start early), in milliseconds.
    pub lateness_ms_p50: f64,
    pub lateness_ms_p99: f64,
    pub lateness_ms_max: f64,
    pub snapshots_sent: u64,
    /// Snapshots skipped because a client's outbound queue was full.
    pub snapshots_dropped: u64,
    /// Bytes handed to outbound queues.
    pub bytes_out: u64,
    /// Input frames discarded: a client's input queue was full or kept a backlog for a
    /// second (`room/inputs.rs`), or their seq was not new.
    pub inputs_dropped: u64,
    /// Client snapshot slots skipped because the client asked for a lower rate.
    pub rate_skipped: u64,
    /// Delta snapshots that were keyframes (joins, desync reports).
    pub keyframes: u64,
    /// Checksum mismatches reported by clients.
    pub desyncs: u64,
    /// Sum over sent delta snapshots of the entities in the client's view.
    pub in_view: u64,
    /// Sum over sent delta snapshots of the moving entities (non-zero velocity) in view.
    pub moving_in_view: u64,
    /// Entity records sent in delta snapshots: created, changed, removed.
    pub created: u64,
    pub changed: u64,
    pub removed: u64,
    /// Creations and changes held back by client byte budgets.
    pub deferred: u64,
    /// Delta payload bytes sent (without message headers).
    pub payload_bytes: u64,
    /// Client snapshot slots that passed because the budget's bucket could not pay even
    /// for the client's own player (a budget below one snapshot per slot).
    pub budget_skipped: u64,
    /// Sum over sent delta snapshots of the client's area-of-interest radius (position
    /// steps); see [`RoomStats::radius_m_mean`].
    pub radius_q_sum: u64,
    /// How stale the entities in clients' views were, per entity and snapshot (0 for
    /// current ones, the wait for what a byte budget held back), in milliseconds.
    pub staleness_ms_p50: f64,
    pub staleness_ms_p99: f64,
    pub staleness_ms_max: f64,
    /// The interval's tick durations in microseconds, for exact percentiles over
    /// several intervals (merge with `Histogram::add`).
    #[serde(skip)]
    pub tick_us: Histogram<u64>,
    /// The interval's replication durations in microseconds.
    #[serde(skip)]
    pub replication_us: Histogram<u64>,
    /// CPU time of the thread running the tick, per tick and per replication, in
    /// microseconds.
    #[serde(skip)]
    pub tick_cpu_us: Histogram<u64>,
    #[serde(skip)]
    pub replication_cpu_us: Histogram<u64>,
    /// The interval's tick start lateness in microseconds (0 recorded as 1).
    #[serde(skip)]
    pub lateness_us: Histogram<u64>,
    /// Staleness of in-view entities per snapshot, in milliseconds (0 included).
    #[serde(skip)]
    pub staleness_ms: Histogram<u64>,
}

impl Default for RoomStats {
    fn default() -> Self {
        RoomStats {
            tick: 0,
            clients: 0,
            entities: 0,
            ticks: 0,
            tick_ms_p50: 0.0,
            tick_ms_p99: 0.0,
            tick_ms_max: 0.0,
            replication_ms_p99: 0.0,
            tick_cpu_ms_p50: 0.0,
            tick_cpu_ms_p99: 0.0,
            replication_cpu_ms_p99: 0.0,
            late_ticks: 0,
            lateness_ms_p50: 0.0,
            lateness_ms_p99: 0.0,
            lateness_ms_max: 0.0,
            snapshots_sent: 0,
            snapshots_dropped: 0,
            bytes_out: 0,
            inputs_dropped: 0,
            rate_skipped: 0,
            keyframes: 0,
            desyncs: 0,
            in_view: 0,
            moving_in_view: 0,
            created: 0,
            changed: 0,
            removed: 0,
            deferred: 0,
            payload_bytes: 0,
            budget_skipped: 0,
            radius_q_sum: 0,
            staleness_ms_p50: 0.0,
            staleness_ms_p99: 0.0,
            staleness_ms_max: 0.0,
            tick_us: new_histogram(),
            replication_us: new_histogram(),
            tick_cpu_us: new_histogram(),
            replication_cpu_us: new_histogram(),
            lateness_us: new_histogram(),
            staleness_ms: new_histogram(),
        }
    }
}

impl RoomStats {
    /// Mean entities in a client's view per delta snapshot.
    pub fn in_view_mean(&self) -> f64 {
        self.in_view as f64 / self.snapshots_sent.max(1) as f64
    }

    /// Mean area-of-interest radius of the delta snapshots sent, in metres.
    pub fn radius_m_mean(&self) -> f64 {
        self.radius_q_sum as f64 / 64.0 / self.snapshots_sent.max(1) as f64
    }

    /// Mean bytes per snapshot sent.
    pub fn bytes_per_snapshot(&self) -> f64 {
        self.bytes_out as f64 / self.snapshots_sent.max(1) as f64
    }
}

/// Accumulates one interval.
#[derive(Debug, Default)]
pub struct TickTimer {
    pub current: RoomStats,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[allow(
    clippy::expect_used,
    reason = "the bounds are constants that hdrhistogram accepts; no input reaches this"
)]
pub fn new_histogram() -> Histogram<u64> {
    // 1 µs to 60 s at 2 significant digits (1% resolution, plenty for percentiles of
    // tick times): 20 KiB of counts each, where 3 digits took 136 KiB. A room keeps a
    // few of these twice (the interval being filled, the one published), so this is
    // most of a ticking room's memory, and each stats interval replaces them. (Not
    // auto-resizing ones: `saturating_record` clamps to their current bound instead of
    // growing them.)
    Histogram::new_with_bounds(1, 60_000_000, 2).expect("constant histogram bounds are valid")
}

impl RoomStats {
    /// The summary a room publishes before its first report: nothing recorded, so its
    /// histograms are the smallest there are (a few hundred bytes, where the six of
    /// [`RoomStats::default`] take 120 KiB), which a room that never ticks keeps.
    #[allow(
        clippy::expect_used,
        reason = "the bounds are constants that hdrhistogram accepts; no input reaches this"
    )]
    pub fn unreported() -> RoomStats {
        let empty = || Histogram::new_with_bounds(1, 2, 1).expect("constant bounds are valid");
        RoomStats {
            tick_us: empty(),
            replication_us: empty(),
            tick_cpu_us: empty(),
            replication_cpu_us: empty(),
            lateness_us: empty(),
            staleness_ms: empty(),
            ..RoomStats::default()
        }
    }
}

impl TickTimer {
    pub fn record_tick(&mut self, d: Duration, cpu: Duration, lateness: Duration) {
        self.current
            .lateness_us
            .saturating_record(micros(lateness).max(1));
        self.current.tick_us.saturating_record(micros(d).max(1));
        self.current
            .tick_cpu_us
            .saturating_record(micros(cpu).max(1));
        self.current.ticks += 1;
    }

    pub fn record_replication(&mut self, d: Duration, cpu: Duration) {
        self.current
            .replication_us
            .saturating_record(micros(d).max(1));
        self.current
            .replication_cpu_us
            .saturating_record(micros(cpu).max(1));
    }

    /// Closes the interval: returns its summary and starts a new one.
    pub fn finish(&mut self) -> RoomStats {
        let ms = |us: u64| us as f64 / 1000.0;
        let mut out = std::mem::take(&mut self.current);
        out.tick_ms_p50 = ms(out.tick_us.value_at_quantile(0.5));
        out.tick_ms_p99 = ms(out.tick_us.value_at_quantile(0.99));
        out.tick_ms_max = ms(out.tick_us.max());
        out.replication_ms_p99 = ms(out.replication_us.value_at_quantile(0.99));
        out.tick_cpu_ms_p50 = ms(out.tick_cpu_us.value_at_quantile(0.5));
        out.tick_cpu_ms_p99 = ms(out.tick_cpu_us.value_at_quantile(0.99));
        out.replication_cpu_ms_p99 = ms(out.replication_cpu_us.value_at_quantile(0.99));
        out.lateness_ms_p50 = ms(out.lateness_us.value_at_quantile(0.5));
        out.lateness_ms_p99 = ms(out.lateness_us.value_at_quantile(0.99));
        out.lateness_ms_max = ms(out.lateness_us.max());
        out.staleness_ms_p50 = out.staleness_ms.value_at_quantile(0.5) as f64;
        out.staleness_ms_p99 = out.staleness_ms.value_at_quantile(0.99) as f64;
        out.staleness_ms_max = out.staleness_ms.max() as f64;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ticks of milliseconds come out as milliseconds (histograms that clamp their
    /// values to a small bound would say microseconds), also after an unreported start.
    #[test]
    fn a_window_summarises_what_was_recorded() {
        let mut timer = TickTimer {
            current: RoomStats::default(),
        };
        for ms in [2, 5, 40] {
            let d = Duration::from_millis(ms);
            timer.record_tick(d, d, d);
        }
        let s = timer.finish();
        assert_eq!(s.ticks, 3);
        assert!((39.0..41.0).contains(&s.tick_ms_max), "{}", s.tick_ms_max);
        assert!((39.0..41.0).contains(&s.lateness_ms_max));
        let mut merged = new_histogram();
        merged.add(&RoomStats::unreported().lateness_us).unwrap();
        merged.add(&s.lateness_us).unwrap();
        assert_eq!(merged.len(), 3);
    }
}
