//! What a swarm run measured: each bot's [`BotOutcome`] and their aggregation into a
//! [`SwarmReport`], which the CLI prints and writes as JSON and the benches assert on.
//!
//! Rates are per bot and per *connected* second (from `Welcome` to the end of the
//! session), so bots that joined late in a ramp are not penalised for the time before
//! they existed. Latency and prediction-error percentiles come from histograms merged
//! across all bots, so a few slow bots show up in p99 instead of being averaged away.

use std::collections::BTreeMap;
use std::fmt;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Largest round-trip time recorded, in microseconds (longer ones saturate).
const MAX_RTT_US: u64 = 60_000_000;
/// Largest prediction error recorded, in millimetres.
const MAX_PREDICTION_ERROR_MM: u64 = 10_000_000;
/// Two significant figures (1% precision) keep a histogram at tens of kilobytes, which
/// matters with thousands of bots each holding two.
const SIGFIG: u8 = 2;

fn histogram(max: u64) -> Histogram<u64> {
    // Constant, valid bounds: creation cannot fail.
    Histogram::new_with_bounds(1, max, SIGFIG).expect("histogram bounds are valid")
}

/// An empty round-trip-time histogram, in microseconds.
pub fn rtt_histogram() -> Histogram<u64> {
    histogram(MAX_RTT_US)
}

/// An empty histogram of times without a view, in milliseconds.
pub fn offline_histogram() -> Histogram<u64> {
    histogram(MAX_OFFLINE_MS)
}

/// Longest time without a view recorded: a bot gives up well before.
const MAX_OFFLINE_MS: u64 = 600_000;

/// An empty prediction-error histogram, in millimetres.
pub fn prediction_histogram() -> Histogram<u64> {
    histogram(MAX_PREDICTION_ERROR_MM)
}

/// What one bot saw.
#[derive(Debug, Clone)]
pub struct BotOutcome {
    /// Whether the handshake completed (`Welcome` arrived).
    pub connected: bool,
    /// Seconds from `Welcome` to the end of the session.
    pub connected_secs: f64,
    pub snapshots: u64,
    /// Payload bytes of binary frames, both directions.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// From `Welcome`; 0 if the bot never connected.
    pub tick_rate: u16,
    pub snapshot_rate: u16,
    /// Round-trip times of pongs, in microseconds.
    pub rtt_us: Histogram<u64>,
    /// Prediction errors, in millimetres.
    pub prediction_error_mm: Histogram<u64>,
    /// Snapshots that failed their checksum or did not apply (each triggers a keyframe).
    pub desyncs: u64,
    /// Keyframes received (the first snapshot, then one per desync report).
    pub keyframes: u64,
    /// Connections dropped on purpose (`--churn`) and resumed with the same entity.
    pub resumes: u64,
    /// Resumes that failed: refused, another entity, or a duplicate of the bot's player.
    pub resume_failures: u64,
    /// Fresh joins after a lost session could not be resumed (grace over, refused, or
    /// the server restarted).
    pub rejoins: u64,
    /// How long each lost session left the bot without a view (from the loss to the
    /// first snapshot of the new session), in milliseconds. A list, not a histogram:
    /// most bots never lose a session, and thousands of bots each holding an empty
    /// histogram would cost megabytes.
    pub offline_ms: Vec<u64>,
    /// Why resumes failed (error text).
    pub resume_errors: Vec<String>,
    /// Most snapshot bytes received within any one second (from the fifth snapshot
    /// after the session's settings took effect), to hold against a byte budget.
    pub max_bytes_in_1s: u64,
    /// What the bot played ([`crate::behaviour::Behaviour::name`]: the game's name, or
    /// `wander` for a game the bots do not know); `None` if it never played.
    pub behaviour: Option<&'static str>,
    /// The node hosting the bot's session when the run ended (the id the rooms API
    /// names, else the host:port of the session's URL); `None` if it had none then.
    pub node: Option<String>,
    /// Why the bot failed, if it did.
    pub error: Option<String>,
}

impl BotOutcome {
    /// A bot that completed its handshake; counters start at zero.
    pub fn connected(tick_rate: u16, snapshot_rate: u16) -> BotOutcome {
        BotOutcome {
            connected: true,
            connected_secs: 0.0,
            snapshots: 0,
            bytes_in: 0,
            bytes_out: 0,
            tick_rate,
            snapshot_rate,
            rtt_us: rtt_histogram(),
            prediction_error_mm: prediction_histogram(),
            desyncs: 0,
            keyframes: 0,
            resumes: 0,
            resume_failures: 0,
            rejoins: 0,
            offline_ms: Vec::new(),
            resume_errors: Vec::new(),
            max_bytes_in_1s: 0,
            behaviour: None,
            node: None,
            error: None,
        }
    }

    /// A bot that failed before connecting.
    pub fn failed(error: String) -> BotOutcome {
        BotOutcome {
            connected: false,
            error: Some(error),
            ..BotOutcome::connected(0, 0)
        }
    }
}

/// The result of a swarm run. Field names are a contract with the benches and CI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwarmReport {
    pub url: String,
    pub seed: u64,
    pub bots_requested: u32,
    /// Bots that completed the handshake (including ones that failed later).
    pub bots_connected: u32,
    /// Bots that could not connect or whose session ended before the run did.
    pub bots_failed: u32,
    /// Seconds from the start of the run until bots were told to stop.
    pub duration_s: f64,
    /// From `Welcome` (0 if no bot connected).
    pub tick_rate: u16,
    pub expected_snapshot_rate: u16,
    pub snapshots_total: u64,
    /// Mean over connected bots of snapshots per connected second.
    pub snapshots_per_bot_per_sec: f64,
    /// The slowest connected bot's snapshots per connected second.
    pub snapshots_per_bot_per_sec_min: f64,
    /// Mean over connected bots of payload bytes per connected second.
    pub bytes_in_per_bot_per_sec: f64,
    /// 95th percentile over connected bots of payload bytes received per second.
    pub bytes_in_per_bot_per_sec_p95: f64,
    /// Most snapshot bytes any bot received within one second (see
    /// [`BotOutcome::max_bytes_in_1s`]).
    #[serde(default)]
    pub bytes_in_max_1s: u64,
    pub bytes_out_per_bot_per_sec: f64,
    /// Number of pongs measured; the RTT fields are 0 when this is 0.
    pub rtt_samples: u64,
    pub rtt_ms_p50: f64,
    pub rtt_ms_p99: f64,
    pub rtt_ms_max: f64,
    /// Number of prediction-error measurements; the fields below are 0 when this is 0.
    pub prediction_samples: u64,
    pub prediction_error_mm_p50: f64,
    pub prediction_error_mm_p99: f64,
    pub prediction_error_mm_max: f64,
    /// Snapshots that failed their checksum or did not apply, over all bots.
    pub desyncs: u64,
    /// Keyframes received over all bots.
    pub keyframes: u64,
    /// Lost sessions (dropped on purpose with `--churn`, or by the network) resumed
    /// with the bot's own entity, over all bots.
    #[serde(default)]
    pub resumes: u64,
    /// Resumes refused, or that gave another entity or a duplicate player.
    #[serde(default)]
    pub resume_failures: u64,
    /// Lost sessions that could not be resumed and joined anew.
    #[serde(default)]
    pub rejoins: u64,
    /// Time without a view after a lost session, to the first snapshot of the next.
    #[serde(default)]
    pub offline_ms_p50: f64,
    #[serde(default)]
    pub offline_ms_p99: f64,
    /// Error text → number of bots that failed with it (resume failures included, as
    /// `resume: ...`).
    pub errors: BTreeMap<String, u64>,
    /// Behaviour played → number of bots that played it (see
    /// [`BotOutcome::behaviour`]): shows bots that fell back to `wander`.
    #[serde(default)]
    pub behaviours: BTreeMap<String, u64>,
    /// Node → bots whose session was on that node when the run ended (see
    /// [`BotOutcome::node`]; bots without a session then are not counted): how a run
    /// against a cluster spread, and where bots whose room went ended up.
    #[serde(default)]
    pub bots_per_node: BTreeMap<String, u64>,
}

impl SwarmReport {
    /// Aggregates the outcomes of one run.
    pub fn aggregate(
        url: &str,
        seed: u64,
        bots_requested: u32,
        duration_s: f64,
        outcomes: &[BotOutcome],
    ) -> SwarmReport {
        let connected: Vec<&BotOutcome> = outcomes.iter().filter(|o| o.connected).collect();
        let per_sec = |value: u64, o: &BotOutcome| {
            if o.connected_secs > 0.0 {
                value as f64 / o.connected_secs
            } else {
                0.0
            }
        };
        let snapshot_rates: Vec<f64> = connected.iter().map(|o| per_sec(o.snapshots, o)).collect();
        let bytes_in: Vec<f64> = connected.iter().map(|o| per_sec(o.bytes_in, o)).collect();
        let bytes_out: Vec<f64> = connected.iter().map(|o| per_sec(o.bytes_out, o)).collect();

        let mut rtt = rtt_histogram();
        let mut prediction = prediction_histogram();
        let mut offline = offline_histogram();
        let mut errors = BTreeMap::new();
        let mut behaviours = BTreeMap::new();
        let mut bots_per_node = BTreeMap::new();
        for o in outcomes {
            if let Some(node) = &o.node {
                *bots_per_node.entry(node.clone()).or_insert(0) += 1;
            }
            if let Some(b) = o.behaviour {
                *behaviours.entry(b.to_owned()).or_insert(0) += 1;
            }
            // Every histogram comes from the same constructor, so the ranges match and
            // adding cannot fail.
            let _ = rtt.add(&o.rtt_us);
            let _ = prediction.add(&o.prediction_error_mm);
            for &ms in &o.offline_ms {
                offline.saturating_record(ms.max(1));
            }
            if let Some(e) = &o.error {
                *errors.entry(e.clone()).or_insert(0) += 1;
            }
            for e in &o.resume_errors {
                *errors.entry(format!("resume: {e}")).or_insert(0) += 1;
            }
        }
        let quantile = |h: &Histogram<u64>, q: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(q)
            }
        };

        SwarmReport {
            url: url.to_owned(),
            seed,
            bots_requested,
            bots_connected: count(connected.len()),
            bots_failed: count(outcomes.iter().filter(|o| o.error.is_some()).count()),
            duration_s,
            tick_rate: connected.iter().map(|o| o.tick_rate).max().unwrap_or(0),
            expected_snapshot_rate: connected.iter().map(|o| o.snapshot_rate).max().unwrap_or(0),
            snapshots_total: outcomes.iter().map(|o| o.snapshots).sum(),
            snapshots_per_bot_per_sec: mean(&snapshot_rates),
            snapshots_per_bot_per_sec_min: snapshot_rates
                .iter()
                .copied()
                .reduce(f64::min)
                .unwrap_or(0.0),
            bytes_in_per_bot_per_sec: mean(&bytes_in),
            bytes_in_per_bot_per_sec_p95: percentile(&bytes_in, 0.95),
            bytes_in_max_1s: outcomes
                .iter()
                .map(|o| o.max_bytes_in_1s)
                .max()
                .unwrap_or(0),
            bytes_out_per_bot_per_sec: mean(&bytes_out),
            rtt_samples: rtt.len(),
            rtt_ms_p50: quantile(&rtt, 0.5) as f64 / 1000.0,
            rtt_ms_p99: quantile(&rtt, 0.99) as f64 / 1000.0,
            rtt_ms_max: if rtt.is_empty() {
                0.0
            } else {
                rtt.max() as f64 / 1000.0
            },
            prediction_samples: prediction.len(),
            prediction_error_mm_p50: quantile(&prediction, 0.5) as f64,
            prediction_error_mm_p99: quantile(&prediction, 0.99) as f64,
            prediction_error_mm_max: if prediction.is_empty() {
                0.0
            } else {
                prediction.max() as f64
            },
            desyncs: outcomes.iter().map(|o| o.desyncs).sum(),
            keyframes: outcomes.iter().map(|o| o.keyframes).sum(),
            resumes: outcomes.iter().map(|o| o.resumes).sum(),
            resume_failures: outcomes.iter().map(|o| o.resume_failures).sum(),
            rejoins: outcomes.iter().map(|o| o.rejoins).sum(),
            offline_ms_p50: quantile(&offline, 0.5) as f64,
            offline_ms_p99: quantile(&offline, 0.99) as f64,
            errors,
            behaviours,
            bots_per_node,
        }
    }
}

/// Nearest-rank percentile of a sample (0 when empty).
fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).saturating_sub(1);
    sorted.get(rank).copied().unwrap_or(0.0)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

impl fmt::Display for SwarmReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Tickwire swarm against {} (seed {})",
            self.url, self.seed
        )?;
        writeln!(
            f,
            "  bots:        {} requested, {} connected, {} failed, {:.1} s",
            self.bots_requested, self.bots_connected, self.bots_failed, self.duration_s
        )?;
        writeln!(
            f,
            "  snapshots:   {:.2}/s per bot (min {:.2}; Welcome promised {}/s at {} ticks/s), {} total",
            self.snapshots_per_bot_per_sec,
            self.snapshots_per_bot_per_sec_min,
            self.expected_snapshot_rate,
            self.tick_rate,
            self.snapshots_total
        )?;
        writeln!(
            f,
            "  bandwidth:   {:.1} kB/s in, {:.2} kB/s out per bot",
            self.bytes_in_per_bot_per_sec / 1000.0,
            self.bytes_out_per_bot_per_sec / 1000.0
        )?;
        writeln!(
            f,
            "  rtt:         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} pongs)",
            self.rtt_ms_p50, self.rtt_ms_p99, self.rtt_ms_max, self.rtt_samples
        )?;
        writeln!(
            f,
            "  prediction:  error p50 {} mm, p99 {} mm, max {} mm ({} samples)",
            self.prediction_error_mm_p50,
            self.prediction_error_mm_p99,
            self.prediction_error_mm_max,
            self.prediction_samples
        )?;
        if self.resumes + self.resume_failures + self.rejoins > 0 {
            writeln!(
                f,
                "  resumes:     {} with the same entity, {} failed, {} joined anew; without a view p50 {} ms, p99 {} ms",
                self.resumes,
                self.resume_failures,
                self.rejoins,
                self.offline_ms_p50,
                self.offline_ms_p99
            )?;
        }
        if !self.behaviours.is_empty() {
            let played: Vec<String> = self
                .behaviours
                .iter()
                .map(|(b, n)| format!("{b} × {n}"))
                .collect();
            writeln!(f, "  behaviour:   {}", played.join(", "))?;
        }
        if !self.bots_per_node.is_empty() {
            let nodes: Vec<String> = self
                .bots_per_node
                .iter()
                .map(|(node, n)| format!("{node} × {n}"))
                .collect();
            writeln!(f, "  nodes:       {} (bots at the end)", nodes.join(", "))?;
        }
        if !self.errors.is_empty() {
            writeln!(f, "  errors:")?;
            for (error, n) in &self.errors {
                writeln!(f, "    {n:>5} × {error}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot(
        secs: f64,
        snapshots: u64,
        bytes_in: u64,
        rtts_us: &[u64],
        error: Option<&str>,
    ) -> BotOutcome {
        let mut o = BotOutcome::failed(String::new());
        o.connected = true;
        o.connected_secs = secs;
        o.snapshots = snapshots;
        o.bytes_in = bytes_in;
        o.bytes_out = snapshots;
        o.tick_rate = 60;
        o.snapshot_rate = 20;
        for &r in rtts_us {
            o.rtt_us.saturating_record(r);
        }
        o.error = error.map(str::to_owned);
        o
    }

    #[test]
    fn rates_are_per_connected_second_and_averaged_over_connected_bots() {
        let outcomes = vec![
            // 20/s and 1000 B/s.
            bot(10.0, 200, 10_000, &[1_000, 2_000], None),
            // Joined late: 5 s connected, 18/s and 2000 B/s.
            bot(5.0, 90, 10_000, &[3_000], None),
            // Kicked after 2 s: 10/s, still counted as connected, and as failed.
            bot(2.0, 20, 0, &[], Some("server closed")),
            BotOutcome::failed("connect: refused".into()),
            BotOutcome::failed("connect: refused".into()),
        ];
        let r = SwarmReport::aggregate("ws://x/ws", 9, 5, 10.0, &outcomes);
        assert_eq!(
            (r.bots_requested, r.bots_connected, r.bots_failed),
            (5, 3, 3)
        );
        assert_eq!(r.snapshots_total, 310);
        assert!((r.snapshots_per_bot_per_sec - 16.0).abs() < 1e-9);
        assert!((r.snapshots_per_bot_per_sec_min - 10.0).abs() < 1e-9);
        assert!((r.bytes_in_per_bot_per_sec - 1000.0).abs() < 1e-9);
        assert!((r.bytes_out_per_bot_per_sec - 16.0).abs() < 1e-9);
        assert_eq!((r.tick_rate, r.expected_snapshot_rate), (60, 20));
        assert_eq!(r.rtt_samples, 3);
        // Two significant figures: within 1%.
        assert!((r.rtt_ms_p50 - 2.0).abs() <= 0.02, "p50 {}", r.rtt_ms_p50);
        assert!((r.rtt_ms_p99 - 3.0).abs() <= 0.03, "p99 {}", r.rtt_ms_p99);
        assert_eq!(r.prediction_samples, 0);
        assert_eq!(r.prediction_error_mm_p99, 0.0);
        assert_eq!(r.errors.get("connect: refused"), Some(&2));
        assert_eq!(r.errors.get("server closed"), Some(&1));
        assert!(r.behaviours.is_empty());
    }

    #[test]
    fn behaviours_are_counted_per_bot() {
        let mut outcomes = vec![bot(1.0, 1, 1, &[], None); 3];
        outcomes[0].behaviour = Some("arena");
        outcomes[1].behaviour = Some("wander");
        outcomes[2].behaviour = Some("arena");
        let r = SwarmReport::aggregate("ws://x/ws", 1, 3, 1.0, &outcomes);
        assert_eq!(r.behaviours.get("arena"), Some(&2));
        assert_eq!(r.behaviours.get("wander"), Some(&1));
        assert!(r.to_string().contains("behaviour:   arena × 2, wander × 1"));
    }

    #[test]
    fn bots_are_counted_on_the_node_of_their_last_session() {
        let mut outcomes = vec![bot(1.0, 1, 1, &[], None); 4];
        outcomes[0].node = Some("node-a".into());
        outcomes[1].node = Some("node-b".into());
        outcomes[2].node = Some("node-b".into());
        // Failed: no session at the end.
        outcomes[3].error = Some("reconnect: gave up".into());
        let r = SwarmReport::aggregate("ws://x/ws", 1, 4, 1.0, &outcomes);
        assert_eq!(r.bots_per_node.get("node-a"), Some(&1));
        assert_eq!(r.bots_per_node.get("node-b"), Some(&2));
        assert_eq!(r.bots_per_node.len(), 2);
        assert!(
            r.to_string()
                .contains("nodes:       node-a × 1, node-b × 2")
        );
        let json = serde_json::to_value(&r).expect("serialises");
        assert_eq!(json["bots_per_node"]["node-b"], 2);
    }

    #[test]
    fn a_report_without_bots_per_node_still_reads() {
        let r = SwarmReport::aggregate("ws://x/ws", 1, 0, 0.0, &[]);
        let mut json = serde_json::to_value(&r).expect("serialises");
        json.as_object_mut()
            .expect("an object")
            .remove("bots_per_node");
        let back: SwarmReport = serde_json::from_value(json).expect("deserialises");
        assert!(back.bots_per_node.is_empty());
    }

    #[test]
    fn an_empty_run_reports_zeros_and_round_trips_as_json() {
        let r = SwarmReport::aggregate("ws://x/ws", 1, 0, 0.0, &[]);
        assert_eq!(r.snapshots_per_bot_per_sec, 0.0);
        assert_eq!(r.snapshots_per_bot_per_sec_min, 0.0);
        assert_eq!(r.rtt_ms_p99, 0.0);
        let json = serde_json::to_string(&r).expect("serialises");
        for key in [
            "bots_connected",
            "bots_failed",
            "duration_s",
            "snapshots_per_bot_per_sec",
            "snapshots_per_bot_per_sec_min",
            "expected_snapshot_rate",
            "bytes_in_per_bot_per_sec",
            "bytes_out_per_bot_per_sec",
            "rtt_ms_p50",
            "rtt_ms_p99",
            "prediction_error_mm_p99",
            "resumes",
            "resume_failures",
            "errors",
        ] {
            assert!(json.contains(&format!("\"{key}\":")), "missing {key}");
        }
        let back: SwarmReport = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, r);
    }
}
