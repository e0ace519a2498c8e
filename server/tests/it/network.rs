//! Bots over connections that break: a small TCP proxy on loopback between the bots and
//! the server drops every connection it carries at once (no close frame, as a lost
//! network looks), and the bots get their sessions back, by resuming within the grace
//! period or by joining anew after it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bot_client::swarm::{SwarmConfig, SwarmCounters, run_swarm_counted};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{TestServer, WAIT};

/// Forwards connections to `upstream`; [`Proxy::reset_all`] drops the ones it carries.
struct Proxy {
    addr: SocketAddr,
    carried: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let carried: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let carried = carried.clone();
            async move {
                while let Ok((mut down, _)) = listener.accept().await {
                    let task = tokio::spawn(async move {
                        if let Ok(mut up) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                        }
                    });
                    carried.lock().unwrap().push(task);
                }
            }
        });
        Proxy {
            addr,
            carried,
            accept,
        }
    }

    /// Drops every connection carried so far, both ends, without a WebSocket close.
    fn reset_all(&self) -> usize {
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.carried.lock().unwrap());
        let n = tasks.iter().filter(|t| !t.is_finished()).count();
        for t in tasks {
            t.abort();
        }
        n
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.reset_all();
    }
}

/// Runs `bots` bots through `proxy` for `secs`; once every bot has a session (the room's
/// stats say so), drops all their connections once. Returns the swarm's report.
async fn swarm_with_one_reset(
    server: &TestServer,
    proxy: &Proxy,
    bots: u32,
    secs: u64,
) -> bot_client::report::SwarmReport {
    let live = Arc::new(SwarmCounters::default());
    let swarm = tokio::spawn(run_swarm_counted(
        SwarmConfig {
            url: format!("ws://{}/ws", proxy.addr),
            bots,
            duration: Duration::from_secs(secs),
            ramp_per_sec: 0.0,
            seed: 7,
            name_prefix: "net".into(),
            ..SwarmConfig::default()
        },
        CancellationToken::new(),
        live,
    ));
    let mut stats = server.server().room().stats();
    tokio::time::timeout(WAIT, async {
        while stats.borrow_and_update().clients < bots as usize {
            stats.changed().await.unwrap();
        }
    })
    .await
    .expect("every bot joined");
    assert_eq!(proxy.reset_all(), bots as usize, "one connection per bot");
    tokio::time::timeout(Duration::from_secs(secs) + WAIT, swarm)
        .await
        .expect("the swarm ends")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_resume_after_their_connections_are_lost() {
    let server = TestServer::start(&[]).await;
    let proxy = Proxy::start(server.server().local_addr()).await;
    let report = swarm_with_one_reset(&server, &proxy, 4, 6).await;
    assert_eq!(report.bots_failed, 0, "{:?}", report.errors);
    assert_eq!(report.resumes, 4, "every bot took its own player back");
    assert_eq!((report.rejoins, report.resume_failures), (0, 0));
    assert_eq!(report.desyncs, 0);
    assert!(report.offline_ms_p99 > 0.0 && report.offline_ms_p99 < 5_000.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_join_anew_when_a_resume_cannot_be_had() {
    // A grace period of one second leaves no time to resume (the policy wants a second
    // to spare): the bots join again as new players.
    let server = TestServer::start(&["--resume-grace-s", "1"]).await;
    let proxy = Proxy::start(server.server().local_addr()).await;
    let report = swarm_with_one_reset(&server, &proxy, 3, 6).await;
    assert_eq!(report.bots_failed, 0, "{:?}", report.errors);
    assert_eq!(report.rejoins, 3);
    assert_eq!(report.resumes, 0);
    assert_eq!(report.desyncs, 0);
    server.stop().await;
}
