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
    /// Processes the bots ran in (`bot-client --processes`; 0 where the caller did not
    /// say, as in a library run).
    #[serde(default)]
    pub processes: u32,
    /// CPU time (user + system) of every process that ran the bots, seconds, from the
    /// start of the run to the report; 0 when not measured (a library run, which shares
    /// its process with whatever else runs there).
    #[serde(default)]
    pub bot_cpu_s: f64,
    /// `bot_cpu_s` in microseconds over bots connected × `duration_s`: what one bot
    /// costs the load generator per second of play (0 when not measured).
    #[serde(default)]
    pub bot_cpu_us_per_bot_second: f64,
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
        Tally::from_outcomes(url, seed, bots_requested, duration_s, outcomes).report()
    }
}

/// What a [`SwarmReport`] is computed from, kept in a form that merges exactly: the
/// per-bot rates themselves (for means, minima and the bytes-in p95), the histograms
/// (for latency percentiles), sums, maxima and counts by kind. A swarm spread over
/// several processes ([`crate::loadgen`]) merges its children's tallies into one and
/// reports from that, so its percentiles are those of one histogram fed every sample,
/// not an average of percentiles.
///
/// It serialises to JSON with the histograms in HdrHistogram's V2 format (base64), which
/// is how a child process hands it to its parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub url: String,
    pub seed: u64,
    pub bots_requested: u32,
    /// The longest run (merged: of any part).
    pub duration_s: f64,
    pub bots_connected: u32,
    pub bots_failed: u32,
    pub tick_rate: u16,
    pub expected_snapshot_rate: u16,
    pub snapshots_total: u64,
    /// One entry per connected bot: snapshots, bytes received and bytes sent per
    /// connected second.
    #[serde(with = "f64_bits")]
    pub snapshot_rates: Vec<f64>,
    #[serde(with = "f64_bits")]
    pub bytes_in_rates: Vec<f64>,
    #[serde(with = "f64_bits")]
    pub bytes_out_rates: Vec<f64>,
    pub bytes_in_max_1s: u64,
    #[serde(with = "histogram_v2")]
    pub rtt_us: Histogram<u64>,
    #[serde(with = "histogram_v2")]
    pub prediction_error_mm: Histogram<u64>,
    #[serde(with = "histogram_v2")]
    pub offline_ms: Histogram<u64>,
    pub desyncs: u64,
    pub keyframes: u64,
    pub resumes: u64,
    pub resume_failures: u64,
    pub rejoins: u64,
    pub errors: BTreeMap<String, u64>,
    pub behaviours: BTreeMap<String, u64>,
    pub bots_per_node: BTreeMap<String, u64>,
    /// Processes the bots ran in (0 until the caller says).
    pub processes: u32,
    /// CPU time (user + system) of the processes that ran the bots, seconds; 0 when not
    /// measured (the caller measures: a library run shares its process with others).
    pub cpu_s: f64,
}

/// Why a tally could not be merged into another.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A histogram came with other bounds than ours (another build, or corrupt data).
    #[error("the {0} histogram has other bounds")]
    HistogramBounds(&'static str),
}

impl Tally {
    /// A tally of no bot, to merge others into.
    pub fn empty(url: &str, seed: u64) -> Tally {
        Tally::from_outcomes(url, seed, 0, 0.0, &[])
    }

    /// Tallies the outcomes of one run.
    pub fn from_outcomes(
        url: &str,
        seed: u64,
        bots_requested: u32,
        duration_s: f64,
        outcomes: &[BotOutcome],
    ) -> Tally {
        let connected: Vec<&BotOutcome> = outcomes.iter().filter(|o| o.connected).collect();
        let per_sec = |value: u64, o: &BotOutcome| {
            if o.connected_secs > 0.0 {
                value as f64 / o.connected_secs
            } else {
                0.0
            }
        };
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
        Tally {
            url: url.to_owned(),
            seed,
            bots_requested,
            duration_s,
            bots_connected: count(connected.len()),
            bots_failed: count(outcomes.iter().filter(|o| o.error.is_some()).count()),
            tick_rate: connected.iter().map(|o| o.tick_rate).max().unwrap_or(0),
            expected_snapshot_rate: connected.iter().map(|o| o.snapshot_rate).max().unwrap_or(0),
            snapshots_total: outcomes.iter().map(|o| o.snapshots).sum(),
            snapshot_rates: connected.iter().map(|o| per_sec(o.snapshots, o)).collect(),
            bytes_in_rates: connected.iter().map(|o| per_sec(o.bytes_in, o)).collect(),
            bytes_out_rates: connected.iter().map(|o| per_sec(o.bytes_out, o)).collect(),
            bytes_in_max_1s: outcomes
                .iter()
                .map(|o| o.max_bytes_in_1s)
                .max()
                .unwrap_or(0),
            rtt_us: rtt,
            prediction_error_mm: prediction,
            offline_ms: offline,
            desyncs: outcomes.iter().map(|o| o.desyncs).sum(),
            keyframes: outcomes.iter().map(|o| o.keyframes).sum(),
            resumes: outcomes.iter().map(|o| o.resumes).sum(),
            resume_failures: outcomes.iter().map(|o| o.resume_failures).sum(),
            rejoins: outcomes.iter().map(|o| o.rejoins).sum(),
            errors,
            behaviours,
            bots_per_node,
            processes: 0,
            cpu_s: 0.0,
        }
    }

    /// Adds `other`'s bots to this tally: counts and sums add up, per-bot rates and
    /// histogram samples join, maxima take the larger. The URL and seed stay this
    /// tally's.
    pub fn merge(&mut self, other: &Tally) -> Result<(), MergeError> {
        // Checked before anything changes, so that a refused merge leaves `self` whole.
        for (ours, theirs, name) in [
            (&self.rtt_us, &other.rtt_us, "rtt"),
            (
                &self.prediction_error_mm,
                &other.prediction_error_mm,
                "prediction",
            ),
            (&self.offline_ms, &other.offline_ms, "offline"),
        ] {
            if (ours.low(), ours.high(), ours.sigfig())
                != (theirs.low(), theirs.high(), theirs.sigfig())
            {
                return Err(MergeError::HistogramBounds(name));
            }
        }
        // Same bounds: adding cannot fail.
        let _ = self.rtt_us.add(&other.rtt_us);
        let _ = self.prediction_error_mm.add(&other.prediction_error_mm);
        let _ = self.offline_ms.add(&other.offline_ms);
        self.bots_requested = self.bots_requested.saturating_add(other.bots_requested);
        self.duration_s = self.duration_s.max(other.duration_s);
        self.bots_connected = self.bots_connected.saturating_add(other.bots_connected);
        self.bots_failed = self.bots_failed.saturating_add(other.bots_failed);
        self.tick_rate = self.tick_rate.max(other.tick_rate);
        self.expected_snapshot_rate = self
            .expected_snapshot_rate
            .max(other.expected_snapshot_rate);
        self.snapshots_total += other.snapshots_total;
        self.snapshot_rates.extend_from_slice(&other.snapshot_rates);
        self.bytes_in_rates.extend_from_slice(&other.bytes_in_rates);
        self.bytes_out_rates
            .extend_from_slice(&other.bytes_out_rates);
        self.bytes_in_max_1s = self.bytes_in_max_1s.max(other.bytes_in_max_1s);
        self.desyncs += other.desyncs;
        self.keyframes += other.keyframes;
        self.resumes += other.resumes;
        self.resume_failures += other.resume_failures;
        self.rejoins += other.rejoins;
        for (mine, theirs) in [
            (&mut self.errors, &other.errors),
            (&mut self.behaviours, &other.behaviours),
            (&mut self.bots_per_node, &other.bots_per_node),
        ] {
            for (key, n) in theirs {
                *mine.entry(key.clone()).or_insert(0) += n;
            }
        }
        self.processes = self.processes.saturating_add(other.processes);
        self.cpu_s += other.cpu_s;
        Ok(())
    }

    /// Counts `bots` more bots, requested and failed with `error`: the share of a
    /// process that died before it reported.
    pub fn add_failed(&mut self, bots: u32, error: String) {
        self.bots_requested = self.bots_requested.saturating_add(bots);
        self.bots_failed = self.bots_failed.saturating_add(bots);
        *self.errors.entry(error).or_insert(0) += u64::from(bots);
    }

    /// The report of these bots.
    pub fn report(&self) -> SwarmReport {
        let quantile = |h: &Histogram<u64>, q: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(q)
            }
        };
        let (rtt, prediction, offline) =
            (&self.rtt_us, &self.prediction_error_mm, &self.offline_ms);
        let bot_seconds = f64::from(self.bots_connected) * self.duration_s;
        SwarmReport {
            url: self.url.clone(),
            seed: self.seed,
            bots_requested: self.bots_requested,
            bots_connected: self.bots_connected,
            bots_failed: self.bots_failed,
            duration_s: self.duration_s,
            tick_rate: self.tick_rate,
            expected_snapshot_rate: self.expected_snapshot_rate,
            snapshots_total: self.snapshots_total,
            snapshots_per_bot_per_sec: mean(&self.snapshot_rates),
            snapshots_per_bot_per_sec_min: self
                .snapshot_rates
                .iter()
                .copied()
                .reduce(f64::min)
                .unwrap_or(0.0),
            bytes_in_per_bot_per_sec: mean(&self.bytes_in_rates),
            bytes_in_per_bot_per_sec_p95: percentile(&self.bytes_in_rates, 0.95),
            bytes_in_max_1s: self.bytes_in_max_1s,
            bytes_out_per_bot_per_sec: mean(&self.bytes_out_rates),
            rtt_samples: rtt.len(),
            rtt_ms_p50: quantile(rtt, 0.5) as f64 / 1000.0,
            rtt_ms_p99: quantile(rtt, 0.99) as f64 / 1000.0,
            rtt_ms_max: if rtt.is_empty() {
                0.0
            } else {
                rtt.max() as f64 / 1000.0
            },
            prediction_samples: prediction.len(),
            prediction_error_mm_p50: quantile(prediction, 0.5) as f64,
            prediction_error_mm_p99: quantile(prediction, 0.99) as f64,
            prediction_error_mm_max: if prediction.is_empty() {
                0.0
            } else {
                prediction.max() as f64
            },
            desyncs: self.desyncs,
            keyframes: self.keyframes,
            resumes: self.resumes,
            resume_failures: self.resume_failures,
            rejoins: self.rejoins,
            offline_ms_p50: quantile(offline, 0.5) as f64,
            offline_ms_p99: quantile(offline, 0.99) as f64,
            errors: self.errors.clone(),
            behaviours: self.behaviours.clone(),
            bots_per_node: self.bots_per_node.clone(),
            processes: self.processes,
            bot_cpu_s: self.cpu_s,
            bot_cpu_us_per_bot_second: if bot_seconds > 0.0 {
                self.cpu_s * 1e6 / bot_seconds
            } else {
                0.0
            },
        }
    }
}

/// Floats as their bit patterns, for [`Tally`]'s JSON: serde_json's default float parser
/// may miss the last bit, and a merged minimum should be the very value of one bot.
mod f64_bits {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(values.iter().map(|v| v.to_bits()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let bits = Vec::<u64>::deserialize(d)?;
        Ok(bits.into_iter().map(f64::from_bits).collect())
    }
}

/// A histogram as a base64 string of its V2 serialisation (the format HdrHistogram's
/// implementations share), for [`Tally`]'s JSON.
mod histogram_v2 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use hdrhistogram::Histogram;
    use hdrhistogram::serialization::{Serializer as _, V2Serializer};
    use serde::{Deserialize, Deserializer, Serializer, de, ser};

    pub fn serialize<S: Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(h, &mut bytes)
            .map_err(|e| ser::Error::custom(format!("histogram: {e:?}")))?;
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = STANDARD.decode(text).map_err(de::Error::custom)?;
        hdrhistogram::serialization::Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| de::Error::custom(format!("histogram: {e:?}")))
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
        if self.bot_cpu_s > 0.0 {
            writeln!(
                f,
                "  bots' cpu:   {:.1} s in {} process{}, {:.0} µs per bot-second",
                self.bot_cpu_s,
                self.processes,
                if self.processes == 1 { "" } else { "es" },
                self.bot_cpu_us_per_bot_second
            )?;
        }
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

    /// Bots with samples in every histogram, a failure, a node and a behaviour, drawn
    /// from `seed` so that two sets differ.
    fn varied_bots(seed: u64, n: u64) -> Vec<BotOutcome> {
        (0..n)
            .map(|i| {
                let k = seed * 100 + i;
                let rtts: Vec<u64> = (0..20).map(|j| 500 + (k * 37 + j * 911) % 40_000).collect();
                let mut o = bot(
                    5.0 + (k % 7) as f64,
                    90 + k % 30,
                    10_000 + k * 13,
                    &rtts,
                    k.is_multiple_of(5).then_some("server closed"),
                );
                for j in 0..10 {
                    o.prediction_error_mm
                        .saturating_record(1 + (k * 53 + j * 97) % 900);
                }
                o.offline_ms = vec![100 + k * 7];
                o.max_bytes_in_1s = 1_000 + k * 3;
                o.rejoins = k % 2;
                o.node = Some(format!("node-{}", k % 3));
                o.behaviour = Some(if k.is_multiple_of(4) {
                    "wander"
                } else {
                    "arena"
                });
                o
            })
            .collect()
    }

    /// What a child process sends: its tally through JSON, histograms in V2 format.
    fn over_the_pipe(t: &Tally) -> Tally {
        let json = serde_json::to_string(t).expect("serialises");
        serde_json::from_str(&json).expect("deserialises")
    }

    #[test]
    fn merged_tallies_report_as_one_run_of_all_the_bots() {
        let (a, b) = (varied_bots(1, 7), varied_bots(2, 5));
        let mut failed = vec![BotOutcome::failed("connect: refused".into())];
        failed.extend(b);
        let b = failed;
        let mut merged = Tally::empty("ws://x/ws", 9);
        merged
            .merge(&over_the_pipe(&Tally::from_outcomes(
                "ws://x/ws",
                9,
                7,
                10.0,
                &a,
            )))
            .expect("merges");
        merged
            .merge(&over_the_pipe(&Tally::from_outcomes(
                "ws://x/ws",
                9,
                6,
                12.0,
                &b,
            )))
            .expect("merges");
        let all: Vec<BotOutcome> = a.iter().chain(&b).cloned().collect();
        let one = SwarmReport::aggregate("ws://x/ws", 9, 13, 12.0, &all);
        let r = merged.report();

        // Percentiles: those of one histogram fed both sets of samples.
        let mut rtt = rtt_histogram();
        for o in &all {
            rtt.add(&o.rtt_us).expect("same bounds");
        }
        assert_eq!(r.rtt_samples, rtt.len());
        assert_eq!(r.rtt_ms_p50, rtt.value_at_quantile(0.5) as f64 / 1000.0);
        assert_eq!(r.rtt_ms_p99, rtt.value_at_quantile(0.99) as f64 / 1000.0);
        assert_eq!(r.rtt_ms_max, rtt.max() as f64 / 1000.0);
        assert!(r.rtt_samples > 0 && r.prediction_samples > 0);
        // Sums, minima, maxima, counts by kind: the whole report is the one-run report.
        assert_eq!(
            (r.bots_requested, r.bots_connected, r.bots_failed),
            (13, 12, 4)
        );
        assert_eq!(r.duration_s, 12.0);
        assert_eq!(r, one);
        assert_eq!(r.errors.get("connect: refused"), Some(&1));
        assert_eq!(r.bots_per_node.values().sum::<u64>(), 12);
    }

    #[test]
    fn the_slowest_bot_of_any_part_is_the_minimum() {
        let mut slow = vec![bot(10.0, 50, 10, &[], None)];
        slow.extend(varied_bots(3, 3));
        let mut merged = Tally::from_outcomes("u", 1, 3, 10.0, &varied_bots(4, 3));
        merged
            .merge(&Tally::from_outcomes("u", 1, 4, 10.0, &slow))
            .expect("merges");
        assert_eq!(merged.report().snapshots_per_bot_per_sec_min, 5.0);
    }

    #[test]
    fn cpu_is_summed_and_divided_by_connected_bot_seconds() {
        let mut a = Tally::from_outcomes("u", 1, 2, 10.0, &varied_bots(5, 2));
        a.processes = 1;
        a.cpu_s = 0.5;
        let mut b = Tally::from_outcomes("u", 1, 2, 10.0, &varied_bots(6, 2));
        b.processes = 1;
        b.cpu_s = 1.5;
        a.merge(&b).expect("merges");
        let r = a.report();
        assert_eq!((r.processes, r.bot_cpu_s), (2, 2.0));
        // 2 s of CPU over 4 bots × 10 s.
        assert!((r.bot_cpu_us_per_bot_second - 50_000.0).abs() < 1e-6);
        assert!(
            r.to_string()
                .contains("2.0 s in 2 processes, 50000 µs per bot-second")
        );
    }

    #[test]
    fn bots_of_a_missing_part_count_as_failed() {
        let mut t = Tally::from_outcomes("u", 1, 3, 10.0, &varied_bots(7, 3));
        let failed_before = t.bots_failed;
        t.add_failed(4, "bot process 2 (pid 9) ended without a report".into());
        let r = t.report();
        assert_eq!(r.bots_requested, 7);
        assert_eq!(r.bots_connected, 3);
        assert_eq!(r.bots_failed, failed_before + 4);
        assert_eq!(
            r.errors.get("bot process 2 (pid 9) ended without a report"),
            Some(&4)
        );
    }

    #[test]
    fn a_histogram_of_other_bounds_is_refused_and_changes_nothing() {
        let mut ours = Tally::from_outcomes("u", 1, 2, 10.0, &varied_bots(8, 2));
        let before = ours.clone();
        let mut theirs = ours.clone();
        theirs.rtt_us = Histogram::new_with_bounds(1, 1000, 3).expect("valid bounds");
        assert!(matches!(
            ours.merge(&theirs),
            Err(MergeError::HistogramBounds("rtt"))
        ));
        assert_eq!(ours, before);
    }

    #[test]
    fn a_tally_that_is_not_v2_does_not_deserialise() {
        let mut json =
            serde_json::to_value(Tally::from_outcomes("u", 1, 1, 1.0, &varied_bots(9, 1)))
                .expect("serialises");
        json["rtt_us"] = "bm90IGEgaGlzdG9ncmFt".into();
        assert!(serde_json::from_value::<Tally>(json).is_err());
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
