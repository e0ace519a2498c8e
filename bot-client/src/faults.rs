//! A fault-injecting TCP proxy for tests and benches, on loopback: what a bad network
//! does to a connection, on purpose and repeatably.
//!
//! [`FaultProxy`] forwards every connection it accepts to one upstream address and, per
//! direction ([`Dir::Up`]: client → server, [`Dir::Down`]: server → client), can
//! - delay bytes by a fixed latency plus a random jitter, never reordering them (each
//!   chunk is due no earlier than the one before it);
//! - cap the bandwidth (a slow link, or a client that reads slowly);
//! - stall a connection for a while (nothing is forwarded; the bounded buffer in between
//!   fills, so the sender feels the backpressure as it would on a real stalled link);
//! - go silent one way (a half-open connection: what is sent never arrives);
//! - reset a connection abruptly (an RST on both sides, no FIN, no close frame);
//! - refuse new connections (each reset as soon as it is accepted), as a dead server's
//!   address does.
//!
//! Faults are driven either by the test ([`FaultProxy::stall`], [`FaultProxy::reset`],
//! …, scripted against connection ids in accept order) or at random by a [`Faults`]
//! plan (stalls and resets at a mean interval per connection), from a seed, so a run is
//! repeatable up to the scheduler's timing.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Chunks (of at most `CHUNK_BYTES`) buffered between the two sides of one direction:
/// enough to smooth jitter, small enough (64 KiB at most) that a stall or a slow reader
/// reaches the sender as backpressure within a second or so.
const PIPE_CHUNKS: usize = 16;
const CHUNK_BYTES: usize = 4 * 1024;

/// One direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Client → server.
    Up,
    /// Server → client.
    Down,
}

impl Dir {
    fn index(self) -> usize {
        match self {
            Dir::Up => 0,
            Dir::Down => 1,
        }
    }
}

/// How one direction of a link behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Link {
    /// Added to every chunk.
    pub delay: Duration,
    /// A further delay, uniform in `0..=jitter`, drawn per chunk (order is kept).
    pub jitter: Duration,
    /// Bytes per second at most; `None` is unlimited.
    pub bytes_per_sec: Option<u64>,
}

/// What the proxy does to every connection.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub up: Link,
    pub down: Link,
    /// Each connection is stalled (both directions) after a random interval of this mean
    /// (exponentially distributed), for `stall_for`, again and again.
    pub stall_every: Option<Duration>,
    pub stall_for: Duration,
    /// Each connection is reset after a random interval of this mean.
    pub reset_every: Option<Duration>,
    /// Seed of the random delays and fault times (each connection draws from its own
    /// generator, seeded with this and its id).
    pub seed: u64,
    /// Kernel buffers (SO_RCVBUF, SO_SNDBUF) of the proxy's upstream sockets, in bytes;
    /// small ones make a stall reach the server within a second instead of after
    /// megabytes. `None` leaves them to the kernel.
    pub socket_buffer: Option<u32>,
}

impl Faults {
    /// The same `link` both ways, with random stalls (of `stall_for`) and resets at these
    /// mean intervals per connection (`None`: none), from `seed`.
    pub fn random(
        link: Link,
        stall_every: Option<Duration>,
        stall_for: Duration,
        reset_every: Option<Duration>,
        seed: u64,
    ) -> Faults {
        Faults {
            up: link,
            down: link,
            stall_every,
            stall_for,
            reset_every,
            seed,
            socket_buffer: None,
        }
    }
}

/// What the proxy has done so far.
#[derive(Debug, Default)]
pub struct ProxyCounters {
    pub connections: AtomicU64,
    /// Connections reset as they were accepted, while refusing ([`FaultProxy::refuse`]).
    pub refused: AtomicU64,
    pub resets: AtomicU64,
    pub stalls: AtomicU64,
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
}

/// Controls of one carried connection.
#[derive(Debug)]
struct Conn {
    id: u64,
    reset: CancellationToken,
    /// Cancelled once the connection is over, however it ended.
    closed: CancellationToken,
    /// Per direction: forwarding resumes at this instant (stalled until then).
    stalled_until: [Mutex<Option<Instant>>; 2],
    /// Per direction: what arrives is dropped (half-open).
    silent: [AtomicBool; 2],
    links: [Mutex<Link>; 2],
}

impl Conn {
    fn link(&self, dir: Dir) -> Link {
        *lock(&self.links[dir.index()])
    }

    fn stall_end(&self, dir: Dir) -> Option<Instant> {
        *lock(&self.stalled_until[dir.index()])
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    faults: Faults,
    conns: Mutex<Vec<Arc<Conn>>>,
    counters: ProxyCounters,
    stop: CancellationToken,
    /// New connections are reset at once (see [`FaultProxy::refuse`]).
    refusing: AtomicBool,
}

/// The proxy; see the module docs. Stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Listens on `127.0.0.1:0` and forwards to `upstream` with `faults`.
    pub async fn start(upstream: SocketAddr, faults: Faults) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            faults,
            conns: Mutex::default(),
            counters: ProxyCounters::default(),
            stop: CancellationToken::new(),
            refusing: AtomicBool::new(false),
        });
        tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(FaultProxy { addr, shared })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn counters(&self) -> &ProxyCounters {
        &self.shared.counters
    }

    /// Ids of the connections still carried, in accept order (the first is 0).
    pub fn connections(&self) -> Vec<u64> {
        lock(&self.shared.conns)
            .iter()
            .filter(|c| !c.reset.is_cancelled() && !c.closed.is_cancelled())
            .map(|c| c.id)
            .collect()
    }

    fn conn(&self, id: u64) -> Option<Arc<Conn>> {
        lock(&self.shared.conns)
            .iter()
            .find(|c| c.id == id)
            .cloned()
    }

    /// Resets connection `id` (RST both ways). Returns whether it was carried.
    pub fn reset(&self, id: u64) -> bool {
        match self.conn(id) {
            Some(c) if !c.reset.is_cancelled() => {
                c.reset.cancel();
                self.shared.counters.resets.fetch_add(1, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    /// Resets every connection carried now; returns how many.
    pub fn reset_all(&self) -> usize {
        self.connections()
            .into_iter()
            .filter(|&id| self.reset(id))
            .count()
    }

    /// Refuses new connections (`true`: each is reset as soon as it is accepted, so that
    /// the client's connect or handshake fails as against a dead server) or carries them
    /// again (`false`). Connections carried already are not touched.
    pub fn refuse(&self, refusing: bool) {
        self.shared.refusing.store(refusing, Ordering::Relaxed);
    }

    /// Stalls direction `dir` of connection `id` for `for_`, from now.
    pub fn stall(&self, id: u64, dir: Dir, for_: Duration) {
        if let Some(c) = self.conn(id) {
            *lock(&c.stalled_until[dir.index()]) = Some(Instant::now() + for_);
            self.shared.counters.stalls.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Makes direction `dir` of connection `id` silent (or speaking again).
    pub fn set_silent(&self, id: u64, dir: Dir, silent: bool) {
        if let Some(c) = self.conn(id) {
            c.silent[dir.index()].store(silent, Ordering::Relaxed);
        }
    }

    /// Changes how direction `dir` of connection `id` behaves from now on (for example a
    /// bandwidth cap that makes its client a slow reader).
    pub fn set_link(&self, id: u64, dir: Dir, link: Link) {
        if let Some(c) = self.conn(id) {
            *lock(&c.links[dir.index()]) = link;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.cancel();
        for c in lock(&self.shared.conns).iter() {
            c.reset.cancel();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut next_id = 0;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = shared.stop.cancelled() => return,
        };
        let Ok((client, _)) = accepted else {
            continue;
        };
        if shared.refusing.load(Ordering::Relaxed) {
            // Zero linger: the close is an RST, not an orderly end.
            let _ = client.set_zero_linger();
            drop(client);
            shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let id = next_id;
        next_id += 1;
        let f = &shared.faults;
        let conn = Arc::new(Conn {
            id,
            reset: shared.stop.child_token(),
            closed: CancellationToken::new(),
            stalled_until: [Mutex::new(None), Mutex::new(None)],
            silent: [AtomicBool::new(false), AtomicBool::new(false)],
            links: [Mutex::new(f.up), Mutex::new(f.down)],
        });
        {
            let mut conns = lock(&shared.conns);
            conns.retain(|c| !c.closed.is_cancelled());
            conns.push(conn.clone());
        }
        shared.counters.connections.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(carry(client, conn, shared.clone()));
    }
}

/// Carries one connection until either side closes or it is reset.
async fn carry(client: TcpStream, conn: Arc<Conn>, shared: Arc<Shared>) {
    carry_until_closed(client, &conn, shared).await;
    conn.closed.cancel();
}

async fn carry_until_closed(client: TcpStream, conn: &Arc<Conn>, shared: Arc<Shared>) {
    let Ok(server) = connect(shared.upstream, shared.faults.socket_buffer).await else {
        conn.reset.cancel();
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let seed = shared.faults.seed ^ conn.id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    tokio::spawn(random_faults(conn.clone(), shared.clone(), seed));
    let (client_r, client_w) = client.into_split();
    let (server_r, server_w) = server.into_split();
    let up = pump(
        client_r,
        server_w,
        Dir::Up,
        conn.clone(),
        shared.clone(),
        seed,
    );
    let down = pump(
        server_r,
        client_w,
        Dir::Down,
        conn.clone(),
        shared,
        seed ^ 1,
    );
    tokio::join!(up, down);
}

async fn connect(to: SocketAddr, buffer: Option<u32>) -> std::io::Result<TcpStream> {
    let socket = if to.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(bytes) = buffer {
        socket.set_recv_buffer_size(bytes)?;
        socket.set_send_buffer_size(bytes)?;
    }
    socket.connect(to).await
}

/// One direction: reads from `from`, delays and paces, writes to `to`.
async fn pump(
    mut from: OwnedReadHalf,
    to: OwnedWriteHalf,
    dir: Dir,
    conn: Arc<Conn>,
    shared: Arc<Shared>,
    seed: u64,
) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>(PIPE_CHUNKS);
    let writer = tokio::spawn(write_side(rx, to, dir, conn.clone(), shared.clone()));
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut last_due = Instant::now();
    let mut buf = vec![0u8; CHUNK_BYTES];
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) => break,
                Ok(n) => n,
                // The peer reset its connection: so does the proxy, to the other side.
                Err(_) => {
                    conn.reset.cancel();
                    break;
                }
            },
            () = conn.reset.cancelled() => break,
        };
        if conn.silent[dir.index()].load(Ordering::Relaxed) {
            continue;
        }
        let link = conn.link(dir);
        let jitter_us = u64::try_from(link.jitter.as_micros()).unwrap_or(u64::MAX);
        let jitter = Duration::from_micros(rng.random_range(0..=jitter_us));
        // Never before the previous chunk: delay and jitter do not reorder a stream.
        let due = (Instant::now() + link.delay + jitter).max(last_due);
        last_due = due;
        let chunk = buf.get(..n).unwrap_or_default().to_vec();
        let sent = tokio::select! {
            r = tx.send((due, chunk)) => r.is_ok(),
            () = conn.reset.cancelled() => false,
        };
        if !sent {
            break;
        }
    }
    // The read half goes now: with the write half's zero linger on a reset, the socket's
    // close is an RST.
    drop(from);
    drop(tx);
    let _ = writer.await;
}

async fn write_side(
    mut rx: mpsc::Receiver<(Instant, Vec<u8>)>,
    mut to: OwnedWriteHalf,
    dir: Dir,
    conn: Arc<Conn>,
    shared: Arc<Shared>,
) {
    let counter = match dir {
        Dir::Up => &shared.counters.bytes_up,
        Dir::Down => &shared.counters.bytes_down,
    };
    let reset = conn.reset.clone();
    let forward = async {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            while let Some(end) = conn.stall_end(dir)
                && end > Instant::now()
            {
                tokio::time::sleep_until(end).await;
            }
            if to.write_all(&chunk).await.is_err() {
                return Ended::WriteFailed;
            }
            counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            if let Some(rate) = conn.link(dir).bytes_per_sec.filter(|&r| r > 0) {
                let secs = chunk.len() as f64 / rate as f64;
                tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            }
        }
        Ended::Eof
    };
    let ended = tokio::select! {
        ended = forward => ended,
        () = reset.cancelled() => Ended::Reset,
    };
    match ended {
        // The source closed: pass the FIN on.
        Ended::Eof if !conn.reset.is_cancelled() => {
            let _ = to.shutdown().await;
        }
        // The destination is gone: only this direction ends; what the other direction
        // still has in flight (a close frame, say) is delivered as on a real link.
        Ended::WriteFailed if !conn.reset.is_cancelled() => {}
        // A reset: abort, so the peer sees an RST rather than an orderly close.
        _ => {
            let _ = to.as_ref().set_zero_linger();
            to.forget();
        }
    }
}

/// How one direction's writer ended.
enum Ended {
    Eof,
    WriteFailed,
    Reset,
}

/// The random stalls and resets of one connection, from its seed.
async fn random_faults(conn: Arc<Conn>, shared: Arc<Shared>, seed: u64) {
    let f = &shared.faults;
    if f.stall_every.is_none() && f.reset_every.is_none() {
        return;
    }
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5eed);
    let mut draw = |mean: Option<Duration>| {
        mean.map(|m| {
            // Exponential: the time to the next event of a Poisson process of this mean.
            let u: f64 = rng.random_range(f64::EPSILON..1.0);
            Instant::now() + m.mul_f64(-u.ln())
        })
    };
    let mut next_stall = draw(f.stall_every);
    let next_reset = draw(f.reset_every);
    loop {
        let next = match (next_stall, next_reset) {
            (Some(s), Some(r)) => s.min(r),
            (Some(s), None) => s,
            (None, Some(r)) => r,
            (None, None) => return,
        };
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = conn.reset.cancelled() => return,
            () = conn.closed.cancelled() => return,
        }
        let now = Instant::now();
        if next_reset.is_some_and(|r| r <= now) {
            conn.reset.cancel();
            shared.counters.resets.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if next_stall.is_some_and(|s| s <= now) {
            for d in &conn.stalled_until {
                *lock(d) = Some(now + f.stall_for);
            }
            shared.counters.stalls.fetch_add(1, Ordering::Relaxed);
            next_stall = draw(f.stall_every).map(|t| t + f.stall_for);
        }
    }
}
