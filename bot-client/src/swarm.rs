//! Many bots against one server for a fixed time.
//!
//! Each bot is one tokio task owning one [`Client`]. Bots join at a steady rate (a
//! thousand simultaneous upgrades would measure the accept queue, not the game), play
//! until the run's deadline or a shutdown request, then close with 1000. Everything a
//! bot measures stays in its own [`BotOutcome`] until the end, so the hot path shares
//! nothing but a few relaxed counters that feed the progress line.
//!
//! A bot that loses its session gets it back as the web client does (resume, else join
//! anew; `Bot::recover`); one that joined through the rooms API and finds its room gone
//! (a node of a cluster died with it, or it was deleted) joins another listed room
//! ([`choose_room`]), and the report says on which node each bot ended.
//!
//! The swarm knows no game: each session's view decodes whatever schema the `Welcome`
//! carries, and what a bot does is the [`Behaviour`] the registry picks for that game
//! ([`crate::behaviour::choose`]), rebuilt for every session.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use shared::map::Map;
use shared::protocol::close::{self, After};
use shared::protocol::{MAX_INPUT_FRAMES, Welcome};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite;
use tokio_util::sync::CancellationToken;

use crate::api::{ApiClient, MAX_RETRY_WAIT, RoomListing, node_of};
use crate::behaviour::{self, Behaviour, Setup};
use crate::client::{CLOSE_TIMEOUT, Client, ClientError, ConnectOptions, Event};
use crate::report::{BotOutcome, SwarmReport, Tally};

/// The timer of a session's input messages: one per `frames` ticks at `tick_rate`
/// (not 0). An overloaded bot process skips the messages it is late for rather than
/// sending a burst of stale inputs, which would only add load; the server copes with
/// missing inputs anyway.
fn new_input_timer(tick_rate: u16, frames: usize) -> tokio::time::Interval {
    let mut timer = tokio::time::interval(Duration::from_secs_f64(
        frames as f64 / f64::from(tick_rate.max(1)),
    ));
    timer.set_missed_tick_behavior(MissedTickBehavior::Skip);
    timer
}

/// How often the progress line refreshes.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);
/// How often each bot pings.
const PING_INTERVAL: Duration = Duration::from_secs(1);

/// What to run.
#[derive(Debug, Clone)]
pub struct SwarmConfig {
    /// WebSocket endpoint, e.g. `ws://127.0.0.1:8080/ws`.
    pub url: String,
    pub bots: u32,
    /// Bots stop this long after the run started (ramp included).
    pub duration: Duration,
    /// Bots connecting per second; values that are not positive and finite start every
    /// bot at once.
    pub ramp_per_sec: f64,
    /// Bot `i` draws its random choices from `seed + i`.
    pub seed: u64,
    /// Bots are named `{name_prefix}{i}`, `i` counting from 1.
    pub name_prefix: String,
    /// The index of this swarm's first bot: bot `k` of the swarm is bot
    /// `first_index + k` for its name, seed and room, so that a swarm split over
    /// processes ([`crate::loadgen`]) has the same bots as one run in a single process.
    pub first_index: u32,
    /// Draw a live progress line on stderr (only shown if stderr is a terminal).
    pub progress: bool,
    /// How bots get in: straight to `url`, or with a seat reserved through the API.
    pub join: Join,
    /// Each bot drops its connection this often (no close frame, like a lost network)
    /// and resumes with its resume token, checking it gets its own entity back.
    pub churn: Option<Duration>,
    /// TLS client settings for `wss://` (`None`: the web PKI roots).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Snapshot bytes per second each bot asks for (`SnapshotSettings`, at the rate
    /// `Welcome` offers); `None` keeps the room's default.
    pub budget: Option<u32>,
    /// Input messages per second each bot asks for (`--input-rate`): every message
    /// carries the intents of `tick_rate / input_rate` ticks, rounded up (at most
    /// `MAX_INPUT_FRAMES`), so the rate sent is the tick rate divided by that (20 at
    /// 60 Hz for 20; 30 for 40); at the tick rate or above, one message per tick.
    pub input_rate: u16,
}

/// Input messages per second a bot sends unless told otherwise: the usual snapshot
/// rate, a third of the usual tick rate. Bots gain nothing from sending every tick,
/// and three times fewer messages cost both ends less.
pub const DEFAULT_INPUT_RATE: u16 = 20;

/// How many ticks' intents each input message of a bot carries.
pub fn frames_per_input(tick_rate: u16, input_rate: u16) -> usize {
    usize::from(tick_rate.div_ceil(input_rate.max(1))).clamp(1, MAX_INPUT_FRAMES)
}

/// How a bot joins.
#[derive(Debug, Clone, Default)]
pub enum Join {
    /// Connect to `SwarmConfig::url` anonymously.
    #[default]
    Direct,
    /// Reserve a seat with `POST /api/rooms/{id}/join` and connect with its token; bot
    /// `i` goes to `rooms[i % rooms.len()]`. A bot whose room is gone after it lost its
    /// session lists the rooms again and joins another ([`choose_room`]).
    Api { api: ApiClient, rooms: Vec<String> },
}

/// The room a bot whose room is gone joins instead: one of `rooms` with a free seat, not
/// one of `gone`, of `game` where any such room of that game is listed (else of any
/// game). Among those, drawn at random weighted by free seats (`draw` in `0..1`): bots
/// displaced together spread over the rooms in proportion to the room each has left,
/// where "the room with most seats" would send them all to the same one. `None` when no
/// listed room has a free seat.
pub fn choose_room<'a>(
    rooms: &'a [RoomListing],
    game: &str,
    gone: &[String],
    draw: f64,
) -> Option<&'a RoomListing> {
    let open = || {
        rooms
            .iter()
            .filter(|r| r.free_seats() > 0 && !gone.contains(&r.id))
    };
    let same_game = !game.is_empty() && open().any(|r| r.game == game);
    let pool = || open().filter(move |r| !same_game || r.game == game);
    let total: u64 = pool().map(|r| u64::from(r.free_seats())).sum();
    if total == 0 {
        return None;
    }
    // The seat drawn, counted over the pool's free seats in listing order.
    let mut seat = ((draw.clamp(0.0, 1.0) * total as f64) as u64).min(total - 1);
    for room in pool() {
        let free = u64::from(room.free_seats());
        if seat < free {
            return Some(room);
        }
        seat -= free;
    }
    None
}

impl Default for SwarmConfig {
    fn default() -> Self {
        SwarmConfig {
            url: "ws://127.0.0.1:8080/ws".to_owned(),
            bots: 10,
            duration: Duration::from_secs(30),
            ramp_per_sec: 50.0,
            seed: 0,
            name_prefix: "bot".to_owned(),
            first_index: 0,
            progress: false,
            join: Join::Direct,
            churn: None,
            tls: None,
            budget: None,
            input_rate: DEFAULT_INPUT_RATE,
        }
    }
}

/// Live totals of a running swarm (relaxed atomics, read at any time): what the progress
/// line shows, and what a caller that measures while the swarm runs (the capacity
/// search) samples. Several swarms may share one.
#[derive(Debug, Default)]
pub struct SwarmCounters {
    /// Bots with a session right now.
    pub connected: AtomicU64,
    /// Bots that ended with an error.
    pub failed: AtomicU64,
    /// Snapshots received, all bots.
    pub snapshots: AtomicU64,
    /// Bytes received in snapshot messages, all bots.
    pub bytes_in: AtomicU64,
}

type Live = SwarmCounters;

/// Snapshot bytes received over the last second, and the most seen.
#[derive(Debug, Default)]
struct ByteWindow {
    /// A budget was asked for and not granted yet: nothing counts before it is.
    wait_for_settings: bool,
    /// Snapshots to let pass first: those built before the settings took effect.
    settling: u32,
    recent: VecDeque<(Instant, u64)>,
    sum: u64,
}

/// Snapshots after the settings arrive that may still have been built under the old ones.
const SETTLING_SNAPSHOTS: u32 = 5;

impl ByteWindow {
    /// A snapshot of `bytes` arrived at `now`; returns the most bytes within one second.
    fn snapshot(&mut self, now: Instant, bytes: u64) -> u64 {
        if self.wait_for_settings || self.settling < SETTLING_SNAPSHOTS {
            if !self.wait_for_settings {
                self.settling += 1;
            }
            return 0;
        }
        self.recent.push_back((now, bytes));
        self.sum += bytes;
        while let Some(&(t, b)) = self.recent.front() {
            if now.duration_since(t) < Duration::from_secs(1) {
                break;
            }
            self.recent.pop_front();
            self.sum -= b;
        }
        self.sum
    }
}

/// Runs the swarm until `cfg.duration` has passed or `shutdown` is cancelled, then
/// waits for every bot to close and aggregates what they measured.
pub async fn run_swarm(cfg: SwarmConfig, shutdown: CancellationToken) -> SwarmReport {
    run_swarm_counted(cfg, shutdown, Arc::new(SwarmCounters::default())).await
}

/// [`run_swarm`], updating `live` as it goes.
pub async fn run_swarm_counted(
    cfg: SwarmConfig,
    shutdown: CancellationToken,
    live: Arc<SwarmCounters>,
) -> SwarmReport {
    run_swarm_tally(cfg, shutdown, live).await.report()
}

/// [`run_swarm_counted`], returning what the report is computed from, in the form that
/// merges with other swarms' ([`Tally::merge`]).
pub async fn run_swarm_tally(
    cfg: SwarmConfig,
    shutdown: CancellationToken,
    live: Arc<SwarmCounters>,
) -> Tally {
    let start = Instant::now();
    let deadline = start + cfg.duration;
    let stop = shutdown.child_token();

    let mut bots = Vec::with_capacity(cfg.bots as usize);
    let join = Arc::new(cfg.join.clone());
    for k in 0..cfg.bots {
        let i = cfg.first_index.saturating_add(k);
        let offset = if cfg.ramp_per_sec.is_finite() && cfg.ramp_per_sec > 0.0 {
            Duration::from_secs_f64(f64::from(k) / cfg.ramp_per_sec)
        } else {
            Duration::ZERO
        };
        let bot = Bot {
            url: cfg.url.clone(),
            name: format!("{}{}", cfg.name_prefix, u64::from(i) + 1),
            seed: cfg.seed.wrapping_add(u64::from(i)),
            start_at: start + offset,
            stop: stop.clone(),
            live: Arc::clone(&live),
            index: i,
            join: join.clone(),
            churn: cfg.churn,
            tls: cfg.tls.clone(),
            budget: cfg.budget,
            input_rate: cfg.input_rate,
        };
        bots.push(tokio::spawn(bot.run()));
    }

    let progress_done = CancellationToken::new();
    let progress = tokio::spawn(show_progress(
        cfg.progress,
        0,
        cfg.bots,
        start,
        Arc::clone(&live),
        progress_done.clone(),
    ));

    tokio::select! {
        _ = tokio::time::sleep_until(deadline) => {}
        _ = shutdown.cancelled() => {}
    }
    let stopped_at = Instant::now();
    stop.cancel();

    let mut outcomes = Vec::with_capacity(bots.len());
    for bot in bots {
        outcomes.push(match bot.await {
            Ok(outcome) => outcome,
            Err(e) => BotOutcome::failed(format!("bot task failed: {e}")),
        });
    }
    progress_done.cancel();
    let _ = progress.await;

    Tally::from_outcomes(
        &cfg.url,
        cfg.seed,
        cfg.bots,
        (stopped_at - start).as_secs_f64(),
        &outcomes,
    )
}

/// Draws the live progress line on stderr from `live` (if `enabled` and stderr is a
/// terminal) until `done`; `processes` > 0 names how many processes the bots run in.
pub async fn show_progress(
    enabled: bool,
    processes: u32,
    total: u32,
    start: Instant,
    live: Arc<Live>,
    done: CancellationToken,
) {
    let bar = if enabled {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    let mut timer = tokio::time::interval(PROGRESS_INTERVAL);
    timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let (mut last_at, mut last_snapshots, mut last_bytes) = (Instant::now(), 0u64, 0u64);
    loop {
        tokio::select! {
            _ = timer.tick() => {}
            _ = done.cancelled() => break,
        }
        let now = Instant::now();
        let secs = (now - last_at).as_secs_f64().max(1e-3);
        let snapshots = live.snapshots.load(Ordering::Relaxed);
        let bytes = live.bytes_in.load(Ordering::Relaxed);
        bar.set_message(format!(
            "connected {}/{}{}  failed {}  {:.0} snapshots/s  {:.1} kB/s in  {:.1} s",
            live.connected.load(Ordering::Relaxed),
            total,
            if processes > 0 {
                format!(" in {processes} processes")
            } else {
                String::new()
            },
            live.failed.load(Ordering::Relaxed),
            (snapshots - last_snapshots) as f64 / secs,
            (bytes - last_bytes) as f64 / secs / 1000.0,
            (now - start).as_secs_f64(),
        ));
        bar.tick();
        (last_at, last_snapshots, last_bytes) = (now, snapshots, bytes);
    }
    bar.finish_and_clear();
}

/// One bot's parameters.
#[derive(Debug)]
struct Bot {
    url: String,
    name: String,
    seed: u64,
    start_at: Instant,
    stop: CancellationToken,
    live: Arc<Live>,
    index: u32,
    join: Arc<Join>,
    churn: Option<Duration>,
    tls: Option<Arc<rustls::ClientConfig>>,
    budget: Option<u32>,
    input_rate: u16,
}

/// Where a bot's session is.
#[derive(Debug, Clone)]
struct Place {
    /// The WebSocket URL the session was opened on (resumes go there: the hosting node).
    url: String,
    /// The room joined through the API; `None` for a direct join.
    room: Option<String>,
    /// The node hosting the session: the id the API names, else the URL's host:port.
    node: String,
}

/// Whether `e`, from getting a session back, says its room is gone: the server does not
/// know it (4013, on a resume or a join), or the API has no room of that id to reserve a
/// seat in (404).
fn room_gone(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Closed {
            code: Some(close::UNKNOWN_ROOM),
            ..
        } | ClientError::Http { status: 404, .. }
    )
}

/// Whether `e` says the node hosting the session could not be reached (refused, reset,
/// silent, gone without a close frame): it may have died with its rooms, which only the
/// API can tell.
fn node_unreachable(e: &ClientError) -> bool {
    match e {
        // An HTTP answer to the upgrade came from a live node.
        ClientError::WebSocket(tungstenite::Error::Http(_)) => false,
        ClientError::WebSocket(_) | ClientError::Timeout => true,
        ClientError::Closed { code, .. } => {
            code.is_none_or(|c| c == crate::client::ABNORMAL_CLOSURE)
        }
        _ => false,
    }
}

/// What the select loop of a session woke up for.
enum Wake {
    Stop,
    Input,
    Ping,
    Churn,
    Event(Result<Event, ClientError>),
}

/// How a session was lost, and so how to get it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lost {
    /// Dropped on purpose (`--churn`): resume.
    Churn,
    /// The connection went: no close frame, 4006 (too slow), 4008 (silent), a socket
    /// error. Resume.
    Connection,
    /// The server went away (1001): resume tokens are void, join anew.
    Restart,
}

impl Lost {
    /// Whether `e` lost the session in a way the bot recovers from, and how.
    fn after(e: &ClientError) -> Option<Lost> {
        match e {
            ClientError::Closed { code: None, .. } => Some(Lost::Connection),
            ClientError::Closed {
                code: Some(code), ..
            } => match close::after(*code) {
                After::Retry => Some(Lost::Connection),
                After::Rejoin => Some(Lost::Restart),
                _ => None,
            },
            ClientError::WebSocket(_) | ClientError::Timeout => Some(Lost::Connection),
            _ => None,
        }
    }
}

/// How long a bot keeps trying to get a lost session back before it fails.
pub const MAX_RECOVERY: Duration = Duration::from_secs(60);

/// Why [`Bot::recover`] stopped when the run ended first.
const RUN_ENDED: &str = "the run ended while reconnecting";

/// A resume whose keyframe is still to be checked.
struct PendingResume {
    entity: u32,
}

impl Bot {
    async fn run(self) -> BotOutcome {
        let outcome = self.play().await;
        if outcome.error.is_some() {
            self.live.failed.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }

    async fn play(&self) -> BotOutcome {
        tokio::select! {
            _ = tokio::time::sleep_until(self.start_at) => {}
            _ = self.stop.cancelled() => {
                return BotOutcome::failed("not started: the run ended before its turn to connect".to_owned());
            }
        }
        // A first join that fails for a reason worth retrying (the network, a busy
        // server) is tried again with backoff, as the web client does.
        let first_try = Instant::now();
        let mut backoff = Duration::from_millis(500);
        let (client, place) = loop {
            let result = tokio::select! {
                result = self.connect(None) => result,
                _ = self.stop.cancelled() => {
                    return BotOutcome::failed("connect: the run ended during the handshake".to_owned());
                }
            };
            match result {
                Ok(connected) => break connected,
                Err(e) if e.is_retryable() && first_try.elapsed() < MAX_RECOVERY => {
                    tracing::debug!(bot = %self.name, "join failed, retrying: {e}");
                    let pause = backoff.mul_f64(0.75 + rand::random::<f64>() * 0.5);
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        _ = self.stop.cancelled() => {
                            return BotOutcome::failed(format!("connect: the run ended while retrying after: {e}"));
                        }
                    }
                }
                Err(e) => return BotOutcome::failed(format!("connect: {e}")),
            }
        };
        self.live.connected.fetch_add(1, Ordering::Relaxed);
        let outcome = self.session(client, place).await;
        self.live.connected.fetch_sub(1, Ordering::Relaxed);
        outcome
    }

    /// A new session: anonymous on `url`, or with a seat reserved through the API in
    /// `room` (`None`: the bot's room of the configured ones).
    async fn connect(&self, room: Option<&str>) -> Result<(Client, Place), ClientError> {
        let mut options = ConnectOptions {
            tls: self.tls.clone(),
            ..ConnectOptions::default()
        };
        let place = match &*self.join {
            Join::Direct => Place {
                url: self.url.clone(),
                room: None,
                node: node_of(&self.url),
            },
            Join::Api { api, rooms } => {
                let room = match room {
                    Some(room) => room,
                    None => rooms
                        .get(self.index as usize % rooms.len().max(1))
                        .ok_or_else(|| ClientError::Unexpected("no room to join".into()))?,
                };
                let seat = api.join(room, None).await?;
                let node = seat.node();
                options.join_token = seat.token;
                Place {
                    url: seat.url,
                    room: Some(room.to_owned()),
                    node,
                }
            }
        };
        // Refused for now (the server's per-address limits): wait as told, then again.
        let mut waited = Duration::ZERO;
        loop {
            match Client::connect_with(&place.url, &self.name, &options).await {
                Ok(client) => return Ok((client, place)),
                Err(e) => match e.retry_after() {
                    Some(after)
                        if waited
                            .checked_add(after)
                            .is_some_and(|w| w <= MAX_RETRY_WAIT) =>
                    {
                        let pause = after + Duration::from_millis(rand::random_range(0..500));
                        tokio::time::sleep(pause).await;
                        waited += pause;
                    }
                    _ => return Err(e),
                },
            }
        }
    }

    /// A seat in another room, for a bot whose room is gone: lists the rooms and joins
    /// one ([`choose_room`]: of `game` where one has a seat, none of `gone`). A failure
    /// says which room it tried, if it got as far as picking one.
    async fn relocate(
        &self,
        game: &str,
        gone: &[String],
    ) -> Result<(Client, Place), (Option<String>, ClientError)> {
        let Join::Api { api, .. } = &*self.join else {
            let e = ClientError::Unexpected("only bots that joined through the API move".into());
            return Err((None, e));
        };
        let rooms = api.rooms().await.map_err(|e| (None, e))?;
        let room = choose_room(&rooms, game, gone, rand::random())
            .map(|r| r.id.clone())
            .ok_or_else(|| {
                let gone = gone.first().cloned().unwrap_or_default();
                (None, ClientError::NoRoom { gone })
            })?;
        self.connect(Some(&room)).await.map_err(|e| (Some(room), e))
    }

    /// Gets the session back after it was lost (`Lost::Connection`: no close frame,
    /// 4006, 4008, a socket error; or dropped on purpose, `Lost::Churn`), with the web
    /// client's policy: resume with the newest resume token while at least a second of
    /// the grace period is left, retrying with backoff (0.5 s doubling to 10 s, ±25 %
    /// jitter, capped to fit the grace); once the grace is over, or the resume is refused
    /// (4014), or the server restarted (1001: tokens are void), join anew.
    ///
    /// A bot that joined through the API whose room is gone (4013 on the resume or join,
    /// 404 for the reservation, or its node unreachable while `GET /api/rooms/{id}`
    /// answers 404) lists the rooms again and joins another ([`Bot::relocate`]), with
    /// the same backoff while the API cannot answer (503) or no room has a seat.
    ///
    /// Gives up when the run ends, after [`MAX_RECOVERY`], or on a refusal that says the
    /// room is not to be had (4012, 4016, and 4013 for a direct join), the player was
    /// taken over (4015) or kicked (4017). A room closed on purpose (4016) is not
    /// replaced: its bots were told to leave, as the web client sends its player to the
    /// lobby.
    async fn recover(
        &self,
        welcome: &Welcome,
        place: &mut Place,
        outcome: &mut BotOutcome,
        lost_at: Instant,
        resume: bool,
    ) -> Result<(Client, Option<PendingResume>), String> {
        let entity = welcome.entity;
        let grace_end = lost_at + Duration::from_secs(u64::from(welcome.resume_grace_s));
        let mut try_resume = resume && !welcome.resume_token.is_empty();
        let mut backoff = Duration::from_millis(500);
        // Rooms found gone while getting this session back; non-empty: join another.
        let mut gone: Vec<String> = Vec::new();
        loop {
            if self.stop.is_cancelled() {
                return Err(RUN_ENDED.to_owned());
            }
            if lost_at.elapsed() > MAX_RECOVERY {
                return Err(format!("gave up reconnecting after {MAX_RECOVERY:?}"));
            }
            if try_resume && Instant::now() + Duration::from_secs(1) >= grace_end {
                try_resume = false;
            }
            let attempt = if try_resume {
                let options = ConnectOptions {
                    resume_token: welcome.resume_token.clone(),
                    tls: self.tls.clone(),
                    ..ConnectOptions::default()
                };
                Client::connect_with(&place.url, &self.name, &options).await
            } else {
                let joined = if gone.is_empty() {
                    self.connect(place.room.as_deref()).await
                } else {
                    match self.relocate(&welcome.schema.game, &gone).await {
                        Ok(joined) => Ok(joined),
                        Err((tried, e)) => {
                            // The room picked went too (a dead node's rooms stay listed
                            // for a few seconds, a room may close): not again.
                            if let Some(room) = tried
                                && (room_gone(&e)
                                    || matches!(
                                        e,
                                        ClientError::Closed {
                                            code: Some(close::ROOM_CLOSED | close::WRONG_ROOM),
                                            ..
                                        }
                                    ))
                            {
                                gone.push(room);
                            }
                            Err(e)
                        }
                    }
                };
                match joined {
                    Ok((client, joined)) => {
                        *place = joined;
                        Ok(client)
                    }
                    Err(e) => Err(e),
                }
            };
            let error = match attempt {
                Ok(client) if !try_resume => {
                    outcome.rejoins += 1;
                    return Ok((client, None));
                }
                Ok(client) if client.welcome().resumed && client.welcome().entity == entity => {
                    return Ok((client, Some(PendingResume { entity })));
                }
                Ok(other) => {
                    outcome.resume_failures += 1;
                    outcome.resume_errors.push(format!(
                        "resumed into entity {} (resumed: {}), not {entity}",
                        other.welcome().entity,
                        other.welcome().resumed
                    ));
                    return Ok((other, None));
                }
                Err(e) => e,
            };
            // Is the bot's room gone? Asked only of rooms joined through the API (there
            // are others to go to), until it is known gone: from then on the bot looks
            // for another room, and a failure to join one is tried again after the
            // backoff.
            if let (Join::Api { api, .. }, Some(room)) = (&*self.join, &place.room)
                && !gone.contains(room)
            {
                let is_gone = if room_gone(&error) {
                    true
                } else if node_unreachable(&error) {
                    // 503 (the directory is down) or no answer: not known to be gone;
                    // keep trying the node.
                    matches!(api.room_exists(room).await, Ok(false))
                } else {
                    false
                };
                if is_gone {
                    tracing::debug!(bot = %self.name, %room, "room gone: {error}");
                    if try_resume {
                        outcome.resume_failures += 1;
                        outcome.resume_errors.push(error.to_string());
                        try_resume = false;
                    }
                    gone.push(room.clone());
                    // To another room at once; should that fail, after the backoff.
                    continue;
                }
            }
            let after = match &error {
                ClientError::Closed {
                    code: Some(code), ..
                } if gone.is_empty() => Some(close::after(*code)),
                _ => None,
            };
            match after {
                Some(After::Lobby | After::Stop) => return Err(error.to_string()),
                // Refused or void: join anew at once.
                Some(After::RejoinNow | After::Rejoin | After::NewToken) if try_resume => {
                    outcome.resume_failures += 1;
                    outcome.resume_errors.push(error.to_string());
                    try_resume = false;
                    continue;
                }
                _ => {}
            }
            // Not reachable yet: wait, and try again.
            let jitter = 0.75 + rand::random::<f64>() * 0.5;
            let mut pause = backoff.mul_f64(jitter);
            if try_resume {
                let left =
                    grace_end.saturating_duration_since(Instant::now() + Duration::from_secs(1));
                pause = pause.min(left);
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = self.stop.cancelled() => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    /// The behaviour for `client`'s game, its random choices drawn from the bot's seed
    /// for its first session and from a seed mixed with `session` for the later ones
    /// (so a resumed bot does not replay its first moves).
    fn behaviour(&self, client: &Client, map: &Map, session: u64) -> Box<dyn Behaviour> {
        let view = client.view();
        behaviour::choose(&Setup {
            seed: self.seed ^ session.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            tick_rate: view.tick_rate(),
            map,
            layout: view.layout(),
        })
    }

    /// Plays one welcomed session until told to stop or until it fails.
    async fn session(&self, mut client: Client, mut place: Place) -> BotOutcome {
        let connected_at = Instant::now();
        let welcome = client.welcome().clone();
        let mut outcome = BotOutcome::connected(welcome.tick_rate, welcome.snapshot_rate);

        let setup = if welcome.tick_rate == 0 {
            Err("Welcome announced a tick rate of 0".to_owned())
        } else {
            Map::from_info(welcome.map.clone()).map_err(|e| ClientError::from(e).to_string())
        };
        let mut map = match setup {
            Ok(map) => map,
            Err(e) => {
                outcome.error = Some(e);
                let _ = client.close().await;
                return outcome;
            }
        };

        let mut welcome = welcome;
        let mut sessions = 0u64;
        let mut behaviour = self.behaviour(&client, &map, sessions);
        outcome.behaviour = Some(behaviour.name());
        // Traffic and sync counts of sessions replaced by a churn.
        let (mut past_in, mut past_out, mut past_desyncs, mut past_keyframes) = (0, 0, 0, 0);
        let mut pending_resume: Option<PendingResume> = None;
        let mut churn_timer = self
            .churn
            .map(|every| tokio::time::interval_at(Instant::now() + every, every));
        let mut tick_rate = welcome.tick_rate;
        let mut frames = frames_per_input(tick_rate, self.input_rate);
        let mut intents = Vec::with_capacity(frames);
        let mut input_timer = new_input_timer(tick_rate, frames);
        let mut ping_timer = tokio::time::interval(PING_INTERVAL);
        ping_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut counted_bytes_in = client.bytes_in();
        let mut window = ByteWindow::default();
        if let Some(budget) = self.budget {
            if let Err(e) = client.request_settings(welcome.snapshot_rate, budget).await {
                outcome.error = Some(format!("request settings: {e}"));
                return outcome;
            }
            window.wait_for_settings = true;
        }

        // Set by a wake that lost the session; handled after the match.
        let mut lost: Option<Lost> = None;
        // Since when the bot has had no view (a lost session not yet back).
        let mut offline_since: Option<Instant> = None;
        let error = loop {
            let wake = tokio::select! {
                _ = self.stop.cancelled() => Wake::Stop,
                _ = input_timer.tick() => Wake::Input,
                _ = ping_timer.tick() => Wake::Ping,
                _ = async { churn_timer.as_mut()?.tick().await; Some(()) }, if churn_timer.is_some() => Wake::Churn,
                // Cancel safe: a frame half read when a timer fires stays buffered.
                event = client.next_event() => Wake::Event(event),
            };
            match wake {
                Wake::Stop => break None,
                Wake::Input => {
                    // The intents of the next `frames` ticks (the room applies one a
                    // tick), on the newest view, each told to the behaviour before the
                    // next is decided: a predicting behaviour steers frame 2 from where
                    // frame 1 takes it.
                    intents.clear();
                    let first = client.next_seq();
                    for s in (first..).take(frames) {
                        let intent = behaviour.decide(client.view());
                        behaviour.on_input(s, intent);
                        intents.push(intent);
                    }
                    match client.send_inputs(&intents).await {
                        Ok(_) => {}
                        Err(e) => match Lost::after(&e) {
                            Some(l) => lost = Some(l),
                            None => break Some(format!("send input: {e}")),
                        },
                    }
                }
                Wake::Ping => {
                    if let Err(e) = client.send_ping().await {
                        match Lost::after(&e) {
                            Some(l) => lost = Some(l),
                            None => break Some(format!("send ping: {e}")),
                        }
                    }
                }
                Wake::Churn => lost = Some(Lost::Churn),
                Wake::Event(Ok(Event::Snapshot { bytes, .. })) => {
                    outcome.snapshots += 1;
                    self.live.snapshots.fetch_add(1, Ordering::Relaxed);
                    let bytes_in = client.bytes_in();
                    self.live
                        .bytes_in
                        .fetch_add(bytes_in - counted_bytes_in, Ordering::Relaxed);
                    if let Some(since) = offline_since.take() {
                        let ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX);
                        outcome.offline_ms.push(ms);
                    }
                    let max = window.snapshot(Instant::now(), bytes);
                    outcome.max_bytes_in_1s = outcome.max_bytes_in_1s.max(max);
                    counted_bytes_in = bytes_in;

                    let view = client.view();
                    if let Some(check) = pending_resume.take() {
                        // The keyframe after a resume: our own entity is back, and the
                        // room shows exactly one player of ours (where the game's
                        // behaviour can tell players by name).
                        let back = view.get(check.entity).is_some();
                        let mine = behaviour.players_named(view, &self.name);
                        if back && mine.is_none_or(|n| n == 1) {
                            outcome.resumes += 1;
                        } else {
                            let mine = mine.map_or_else(|| "?".to_owned(), |n| n.to_string());
                            outcome.resume_failures += 1;
                            outcome.resume_errors.push(format!(
                                "after the resume: own entity in view {back}, {mine} players named {}",
                                self.name
                            ));
                        }
                    }
                    if let Some(error_m) = behaviour.on_snapshot(view) {
                        outcome
                            .prediction_error_mm
                            .saturating_record((error_m * 1000.0).round() as u64);
                    }
                }
                Wake::Event(Ok(Event::Settings(_))) => window.wait_for_settings = false,
                Wake::Event(Ok(Event::Pong { rtt, .. })) => {
                    let micros = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX);
                    outcome.rtt_us.saturating_record(micros);
                }
                Wake::Event(Ok(Event::Closed { code, reason })) => {
                    let e = ClientError::Closed { code, reason };
                    match Lost::after(&e) {
                        Some(l) => lost = Some(l),
                        None => break Some(e.to_string()),
                    }
                }
                Wake::Event(Err(e)) => match Lost::after(&e) {
                    Some(l) => lost = Some(l),
                    None => break Some(format!("receive: {e}")),
                },
            }
            let Some(why) = lost.take() else { continue };
            // The session is gone: keep its counts, then get a new one.
            past_in += client.bytes_in();
            past_out += client.bytes_out();
            past_desyncs += client.view().desyncs;
            past_keyframes += client.view().keyframes;
            client.abort();
            let lost_at = Instant::now();
            offline_since = Some(lost_at);
            let resume = !matches!(why, Lost::Restart);
            match self
                .recover(&welcome, &mut place, &mut outcome, lost_at, resume)
                .await
            {
                Ok((next, check)) => {
                    client = next;
                    pending_resume = check;
                    welcome = client.welcome().clone();
                    // Another room (the bot's was gone) may play another map at another
                    // tick rate.
                    if welcome.tick_rate == 0 {
                        break Some("Welcome announced a tick rate of 0".to_owned());
                    }
                    match Map::from_info(welcome.map.clone()) {
                        Ok(m) => map = m,
                        Err(e) => break Some(ClientError::from(e).to_string()),
                    }
                    if welcome.tick_rate != tick_rate {
                        tick_rate = welcome.tick_rate;
                        frames = frames_per_input(tick_rate, self.input_rate);
                        input_timer = new_input_timer(tick_rate, frames);
                    }
                    // The new session may lay its schema out anew (a restarted server):
                    // the behaviour looks its fields up again, and predicts afresh.
                    sessions += 1;
                    behaviour = self.behaviour(&client, &map, sessions);
                    outcome.behaviour = Some(behaviour.name());
                    counted_bytes_in = client.bytes_in();
                    // A new session starts with the room's settings: ask again.
                    window = ByteWindow::default();
                    if let Some(budget) = self.budget {
                        if let Err(e) = client.request_settings(welcome.snapshot_rate, budget).await
                        {
                            lost = Lost::after(&e);
                        }
                        window.wait_for_settings = true;
                    }
                }
                Err(e) => {
                    outcome.connected_secs = connected_at.elapsed().as_secs_f64();
                    outcome.bytes_in = past_in;
                    outcome.bytes_out = past_out;
                    outcome.desyncs = past_desyncs;
                    outcome.keyframes = past_keyframes;
                    // The run ending while the bot was still getting its session back is
                    // no failure of the bot: its policy had not given up.
                    if e != RUN_ENDED {
                        outcome.error = Some(format!("reconnect: {e}"));
                    }
                    return outcome;
                }
            }
        };

        outcome.connected_secs = connected_at.elapsed().as_secs_f64();
        outcome.bytes_in = past_in + client.bytes_in();
        outcome.bytes_out = past_out + client.bytes_out();
        outcome.desyncs = past_desyncs + client.view().desyncs;
        outcome.keyframes = past_keyframes + client.view().keyframes;
        if error.is_none() {
            outcome.node = Some(place.node);
        }
        outcome.error = error;
        // The close handshake is good manners, not part of the measurement: a server too
        // busy to answer it does not make the bot a failure.
        match tokio::time::timeout(CLOSE_TIMEOUT * 2, client.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(bot = %self.name, "close failed: {e}"),
            Err(_) => tracing::debug!(bot = %self.name, "close timed out"),
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(id: &str, game: &str, players: u32, max_players: u32) -> RoomListing {
        RoomListing {
            id: id.into(),
            name: id.into(),
            game: game.into(),
            map: "m".into(),
            players,
            held: 0,
            reserved: 0,
            max_players,
            tick_rate: 60,
            snapshot_rate: 20,
            default: false,
            node: String::new(),
        }
    }

    fn picks(rooms: &[RoomListing], game: &str, gone: &[&str], draw: f64) -> Option<String> {
        let gone: Vec<String> = gone.iter().map(|g| (*g).to_owned()).collect();
        choose_room(rooms, game, &gone, draw).map(|r| r.id.clone())
    }

    #[test]
    fn a_gone_or_full_room_is_never_chosen() {
        let mut held = room("held", "arena", 2, 4);
        held.held = 1;
        held.reserved = 1;
        let rooms = [
            room("dead", "arena", 0, 8),
            room("full", "arena", 8, 8),
            held,
            room("open", "arena", 1, 4),
        ];
        for draw in [0.0, 0.2, 0.5, 0.8, 0.999, 1.0] {
            assert_eq!(
                picks(&rooms, "arena", &["dead"], draw).as_deref(),
                Some("open")
            );
        }
        assert_eq!(picks(&rooms, "arena", &["dead", "open"], 0.5), None);
    }

    #[test]
    fn the_same_game_is_preferred_while_one_of_its_rooms_has_a_seat() {
        let rooms = [
            room("ball-1", "ball", 0, 10),
            room("arena-1", "arena", 0, 1),
            room("ball-2", "ball", 0, 10),
        ];
        for draw in [0.0, 0.5, 0.99] {
            assert_eq!(
                picks(&rooms, "arena", &[], draw).as_deref(),
                Some("arena-1")
            );
        }
        // No seat left in that game: any other.
        assert!(picks(&rooms, "arena", &["arena-1"], 0.3).is_some_and(|r| r.starts_with("ball")));
        // A game the listing does not name (an old server): any room.
        assert_eq!(picks(&rooms, "", &[], 0.0).as_deref(), Some("ball-1"));
    }

    #[test]
    fn the_draw_spreads_bots_in_proportion_to_free_seats() {
        // 3 free seats in a, 1 in b: a quarter of the draws go to b.
        let rooms = [room("a", "arena", 1, 4), room("b", "arena", 3, 4)];
        let n = 1000;
        let to_b = (0..n)
            .filter(|i| {
                picks(&rooms, "arena", &[], f64::from(*i) / f64::from(n)).as_deref() == Some("b")
            })
            .count();
        assert_eq!(to_b, 250);
        assert_eq!(picks(&rooms, "arena", &[], 0.0).as_deref(), Some("a"));
        assert_eq!(picks(&rooms, "arena", &[], 1.0).as_deref(), Some("b"));
        assert_eq!(picks(&[], "arena", &[], 0.5), None);
    }

    #[test]
    fn only_a_missing_room_or_an_unreachable_node_can_mean_gone() {
        let closed = |code| ClientError::Closed {
            code: Some(code),
            reason: String::new(),
        };
        assert!(room_gone(&closed(close::UNKNOWN_ROOM)));
        assert!(room_gone(&ClientError::Http {
            status: 404,
            body: String::new()
        }));
        assert!(!room_gone(&closed(close::ROOM_CLOSED)));
        assert!(!room_gone(&ClientError::Http {
            status: 503,
            body: String::new()
        }));
        assert!(node_unreachable(&closed(close::ABNORMAL)));
        assert!(node_unreachable(&ClientError::Timeout));
        assert!(node_unreachable(&ClientError::WebSocket(
            tungstenite::Error::Io(std::io::ErrorKind::ConnectionRefused.into())
        )));
        assert!(!node_unreachable(&closed(close::ROOM_FULL)));
        assert!(!node_unreachable(&ClientError::Http {
            status: 503,
            body: String::new()
        }));
    }
}
