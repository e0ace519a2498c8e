//! Integration tests: the real server in-process on 127.0.0.1:0, driven by real
//! WebSocket clients from the bot-client library. One binary, grouped by topic.
//!
//! Nothing here sleeps to synchronise: every wait is for a condition, with a timeout
//! that only bounds how long a broken build takes to fail.

mod arena;
mod ball;
mod closing;
mod cluster;
mod console;
mod gameplay;
mod handshake;
mod hardening;
mod jitter;
mod lifecycle;
mod metrics;
mod network;
mod parking;
mod relocation;
mod replication;
mod resume;
mod rooms;
mod security;
mod shutdown;
mod tls;

use std::path::PathBuf;
use std::time::Duration;

use bot_client::api::ApiClient;
use bot_client::{Client, ClientError, ConnectOptions, WorldView};
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        TestServer::start_on(listener, extra).await
    }

    /// [`TestServer::start`] on a listener bound already (so that its address can go in
    /// the flags, a proxy's upstream, say).
    pub async fn start_on(listener: TcpListener, extra: &[&str]) -> TestServer {
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

    /// The WebSocket URL of room `id`.
    pub fn room_url(&self, id: &str) -> String {
        format!("ws://{}/ws?room={id}", self.server().local_addr())
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.server().local_addr())
    }

    /// The rooms API, without an admin token.
    pub fn api(&self) -> ApiClient {
        ApiClient::new(&self.base(), None, None).unwrap()
    }

    /// The rooms API with the admin token `token`.
    pub fn admin(&self, token: &str) -> ApiClient {
        ApiClient::new(&self.base(), None, Some(token.to_owned())).unwrap()
    }

    pub async fn client(&self, name: &str) -> Client {
        Client::connect(&self.url(), name).await.unwrap()
    }

    /// Connects to `url` with a join token; the error if the server refuses.
    pub async fn join_with(
        &self,
        url: &str,
        name: &str,
        token: &str,
    ) -> Result<Client, ClientError> {
        let options = ConnectOptions {
            join_token: token.to_owned(),
            ..ConnectOptions::default()
        };
        Client::connect_with(url, name, &options).await
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

/// The close code a refused connection got (panics if it was welcomed).
pub fn refused_with(result: Result<Client, ClientError>) -> u16 {
    match result {
        Err(ClientError::Closed {
            code: Some(code), ..
        }) => code,
        Err(e) => panic!("expected a close code, got {e}"),
        Ok(client) => panic!("expected a refusal, got {:?}", client.welcome()),
    }
}

/// A directory of its own under the system's temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tickwire-it-{name}-{}-{:x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a rooms file and returns its path.
pub fn rooms_file(name: &str, toml: &str) -> PathBuf {
    let path = temp_dir(name).join("rooms.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// A JSON body as a `serde_json::Value`.
pub fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

/// Status and JSON body (null when empty) of an API request.
pub async fn call(
    api: &ApiClient,
    method: hyper::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (hyper::StatusCode, serde_json::Value) {
    let body = body.map(|b| b.to_string().into_bytes());
    let (status, bytes) = api.request(method, path, body).await.unwrap();
    let value = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        json(&bytes)
    };
    (status, value)
}

/// The `host:port` a server binary printed on its first line of stdout; the rest of its
/// output is drained, so that it never blocks on a full pipe.
pub async fn listening_addr(stdout: std::process::ChildStdout) -> String {
    use std::io::{BufRead, BufReader};
    let line = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).map(|_| {
            std::thread::spawn(move || for _ in reader.lines() {});
            line
        })
    })
    .await
    .unwrap()
    .unwrap();
    // "Tickwire listening: web client at http://ADDR/ , WebSocket at ws://ADDR/ws"
    line.split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned()
}
