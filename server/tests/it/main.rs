//! Integration tests: the real server in-process on 127.0.0.1:0, driven by real
//! WebSocket clients from the bot-client library. One binary, grouped by topic.
//!
//! Nothing here sleeps to synchronise: every wait is for a condition, with a timeout
//! that only bounds how long a broken build takes to fail.

mod gameplay;
mod handshake;
mod hardening;
mod lifecycle;
mod replication;

use std::time::Duration;

use bot_client::{Client, WorldView};
use clap::Parser;
use server::{Server, ServerConfig};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// An area of interest covering the whole 200 m arena (its diagonal is 283 m), for
/// tests about what players see of each other wherever they spawn.
pub const WHOLE_MAP: &[&str] = &["--aoi-radius", "300"];

/// Generous bound for conditions that normally hold within a second.
pub const WAIT: Duration = Duration::from_secs(15);

#[derive(Debug)]
pub struct TestServer {
    server: Option<Server>,
    pub shutdown: CancellationToken,
}

impl TestServer {
    /// Starts a server with a small, fast test room plus the given extra flags.
    pub async fn start(extra: &[&str]) -> TestServer {
        let mut args = vec![
            "server",
            "--drones",
            "10",
            "--seed",
            "1",
            "--stats-interval-s",
            "1",
        ];
        args.extend_from_slice(extra);
        let settings = ServerConfig::parse_from(args).validate().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shutdown = CancellationToken::new();
        let server = server::start(listener, settings, shutdown.clone()).unwrap();
        TestServer {
            server: Some(server),
            shutdown,
        }
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.server().local_addr())
    }

    pub async fn client(&self, name: &str) -> Client {
        Client::connect(&self.url(), name).await.unwrap()
    }

    /// Cancels and waits for the server to finish its shutdown.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.wait().await.unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Reads `n` more snapshots, failing if they do not come within [`WAIT`].
pub async fn receive_snapshots(client: &mut Client, n: u32) {
    let mut seen = 0;
    client
        .wait_until(WAIT, |_: &WorldView| {
            seen += 1;
            seen >= n
        })
        .await
        .unwrap();
}
