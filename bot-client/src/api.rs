//! A small client of a Tickwire server's rooms API (`/api/rooms`), over HTTP/1.1 or
//! HTTPS: list and create rooms, and reserve seats (join tokens) for bots.
//!
//! One connection per request: bots call it a few times each, not in a hot path.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::client::ClientError;

/// Longest wait for one API request, connection included.
pub const API_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest a bot waits in all, as `Retry-After` asks, for a seat the server's
/// per-address limits refused for now (HTTP 429).
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// A room as `GET /api/rooms` lists it (the fields bots use; others are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomListing {
    pub id: String,
    pub name: String,
    /// The game the room runs (absent from servers before it was listed).
    #[serde(default)]
    pub game: String,
    pub map: String,
    pub players: u32,
    #[serde(default)]
    pub held: u32,
    #[serde(default)]
    pub reserved: u32,
    pub max_players: u32,
    pub tick_rate: u16,
    pub snapshot_rate: u16,
    #[serde(default)]
    pub default: bool,
    /// The id of the node hosting the room, in a cluster (empty from a server that does
    /// not say; [`node_of`] names it by its URL then).
    #[serde(default)]
    pub node: String,
}

impl RoomListing {
    /// Seats neither taken, held for a resume nor reserved.
    pub fn free_seats(&self) -> u32 {
        self.max_players
            .saturating_sub(self.players)
            .saturating_sub(self.held)
            .saturating_sub(self.reserved)
    }
}

/// A seat reservation from `POST /api/rooms/{id}/join`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub room: String,
    pub player_id: String,
    pub token: String,
    pub url: String,
    pub expires_at: u64,
    pub expires_in_s: u64,
    /// The id of the node hosting the room (absent from a server that does not say).
    #[serde(default)]
    pub node: String,
}

impl Reservation {
    /// The node hosting the seat: the one the server names, else `url`'s host and port.
    pub fn node(&self) -> String {
        if self.node.is_empty() {
            node_of(&self.url)
        } else {
            self.node.clone()
        }
    }
}

/// A node named by the host and port of a URL (`ws://10.0.0.5:8080/ws` → `10.0.0.5:8080`),
/// for servers that do not name themselves; the whole URL if it has no host.
pub fn node_of(url: &str) -> String {
    url.parse::<Uri>()
        .ok()
        .and_then(|uri| uri.authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_else(|| url.to_owned())
}

/// The API of one server.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: Uri,
    https: bool,
    tls: Arc<rustls::ClientConfig>,
    admin_token: Option<String>,
}

fn web_pki() -> Arc<rustls::ClientConfig> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ));
    // The ring provider supports the default protocol versions; should that ever fail,
    // fall back to TLS 1.3 alone.
    let builder = match builder.with_safe_default_protocol_versions() {
        Ok(b) => b,
        Err(_) => rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap_or_else(|_| unreachable!("ring supports TLS 1.3")),
    };
    Arc::new(builder.with_root_certificates(roots).with_no_client_auth())
}

impl ApiClient {
    /// `base` is the server's `http://host:port` or `https://host:port`; `tls` (from
    /// [`crate::trust_certificate`]) replaces the web PKI roots for HTTPS.
    pub fn new(
        base: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
        admin_token: Option<String>,
    ) -> Result<ApiClient, ClientError> {
        let base: Uri = base
            .trim_end_matches('/')
            .parse()
            .map_err(|e| ClientError::Unexpected(format!("API URL {base:?}: {e}")))?;
        let https = match base.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => {
                return Err(ClientError::Unexpected(format!(
                    "API URL {base}: http:// or https:// expected"
                )));
            }
        };
        if base.authority().is_none() {
            return Err(ClientError::Unexpected(format!("API URL {base}: no host")));
        }
        Ok(ApiClient {
            base,
            https,
            tls: tls.unwrap_or_else(web_pki),
            admin_token,
        })
    }

    /// `GET /api/rooms`
    pub async fn rooms(&self) -> Result<Vec<RoomListing>, ClientError> {
        self.json(Method::GET, "/api/rooms", None).await
    }

    /// `GET /api/rooms/{id}`: the room with its latest tick statistics, as JSON.
    pub async fn room(&self, id: &str) -> Result<serde_json::Value, ClientError> {
        self.json(Method::GET, &format!("/api/rooms/{id}"), None)
            .await
    }

    /// Whether `GET /api/rooms/{id}` finds the room (`false` on 404); other answers
    /// (503 while the cluster's directory is down, say) are errors.
    pub async fn room_exists(&self, id: &str) -> Result<bool, ClientError> {
        let (status, body) = self
            .request(Method::GET, &format!("/api/rooms/{id}"), None)
            .await?;
        match status {
            StatusCode::NOT_FOUND => Ok(false),
            s if s.is_success() => Ok(true),
            _ => Err(http_error(status, &body)),
        }
    }

    /// `POST /api/rooms` with a room spec (`{"id": ..., "max_players": ...}`); `Ok(false)`
    /// when a room with that id exists already (409).
    pub async fn create_room(&self, spec: &serde_json::Value) -> Result<bool, ClientError> {
        let body = serde_json::to_vec(spec)
            .map_err(|e| ClientError::Unexpected(format!("room spec: {e}")))?;
        let (status, body) = self.request(Method::POST, "/api/rooms", Some(body)).await?;
        match status {
            StatusCode::CREATED => Ok(true),
            StatusCode::CONFLICT => Ok(false),
            _ => Err(http_error(status, &body)),
        }
    }

    /// `POST /api/rooms/{id}/join`: a join token for `room` (for `player_id`, which needs
    /// the admin token where one is configured, or a new player).
    pub async fn join(
        &self,
        room: &str,
        player_id: Option<&str>,
    ) -> Result<Reservation, ClientError> {
        let body = player_id.map(|p| {
            serde_json::json!({ "player_id": p })
                .to_string()
                .into_bytes()
        });
        let path = format!("/api/rooms/{room}/join");
        let mut waited = Duration::ZERO;
        loop {
            let answer = self.answer(Method::POST, &path, body.clone()).await?;
            // Refused for now (the server's per-address limits): wait as told, then again.
            if answer.status == StatusCode::TOO_MANY_REQUESTS
                && let Some(after) = answer.retry_after
                && waited
                    .checked_add(after)
                    .is_some_and(|w| w <= MAX_RETRY_WAIT)
            {
                // Jitter, so that bots refused together do not come back together.
                let pause = after + Duration::from_millis(rand::random_range(0..500));
                tokio::time::sleep(pause).await;
                waited += pause;
                continue;
            }
            if !answer.status.is_success() {
                return Err(http_error(answer.status, &answer.body));
            }
            return serde_json::from_slice(&answer.body)
                .map_err(|e| ClientError::Unexpected(format!("API answer to {path}: {e}")));
        }
    }

    async fn json<T: for<'de> Deserialize<'de>>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T, ClientError> {
        let (status, body) = self.request(method, path, body).await?;
        if !status.is_success() {
            return Err(http_error(status, &body));
        }
        serde_json::from_slice(&body)
            .map_err(|e| ClientError::Unexpected(format!("API answer to {path}: {e}")))
    }

    /// One request on a fresh connection: status and body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let answer = self.answer(method, path, body).await?;
        Ok((answer.status, answer.body))
    }

    async fn answer(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, ClientError> {
        tokio::time::timeout(API_TIMEOUT, self.request_inner(method, path, body))
            .await
            .map_err(|_| ClientError::Timeout)?
    }

    async fn request_inner(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, ClientError> {
        let authority = self
            .base
            .authority()
            .ok_or_else(|| ClientError::Unexpected("API URL without a host".into()))?
            .clone();
        let port = authority
            .port_u16()
            .unwrap_or(if self.https { 443 } else { 80 });
        let tcp = TcpStream::connect((authority.host(), port))
            .await
            .map_err(|e| ClientError::ApiUnreachable(format!("connect to {authority}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, authority.as_str())
            .header(hyper::header::CONNECTION, "close");
        if let Some(token) = &self.admin_token {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| ClientError::Unexpected(format!("API request: {e}")))?;
        if self.https {
            let name = rustls_pki_types::ServerName::try_from(authority.host().to_owned())
                .map_err(|e| ClientError::Tls(format!("{}: {e}", authority.host())))?;
            let tls = TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| ClientError::Tls(format!("{authority}: {e}")))?;
            send(tls, request).await
        } else {
            send(tcp, request).await
        }
    }
}

/// What the server answered.
struct Answer {
    status: StatusCode,
    /// `Retry-After`, in seconds.
    retry_after: Option<Duration>,
    body: Bytes,
}

async fn send<I>(io: I, request: Request<Full<Bytes>>) -> Result<Answer, ClientError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let http = |e: hyper::Error| ClientError::ApiUnreachable(e.to_string());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(http)?;
    let driver = tokio::spawn(connection);
    let response = sender.send_request(request).await.map_err(http)?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(hyper::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_secs);
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(http)?
        .to_bytes();
    driver.abort();
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

fn http_error(status: StatusCode, body: &[u8]) -> ClientError {
    let text = String::from_utf8_lossy(body);
    let excerpt: String = text.chars().take(200).collect();
    ClientError::Http {
        status: status.as_u16(),
        body: excerpt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_is_optional_and_falls_back_to_the_url() {
        let listed: RoomListing = serde_json::from_str(
            r#"{"id": "a", "name": "A", "map": "m", "players": 3, "held": 1, "reserved": 1,
                "max_players": 8, "tick_rate": 60, "snapshot_rate": 20}"#,
        )
        .expect("a listing without node decodes");
        assert_eq!(listed.node, "");
        assert_eq!(listed.free_seats(), 3);
        let seat: Reservation = serde_json::from_str(
            r#"{"room": "a", "player_id": "p", "token": "t", "url": "ws://10.0.0.5:8080/ws?room=a",
                "expires_at": 1, "expires_in_s": 1}"#,
        )
        .expect("a reservation without node decodes");
        assert_eq!(seat.node(), "10.0.0.5:8080");
        let named = Reservation {
            node: "node-2".into(),
            ..seat
        };
        assert_eq!(named.node(), "node-2");
        assert_eq!(node_of("not a url"), "not a url");
    }

    #[test]
    fn free_seats_never_underflow() {
        let room = RoomListing {
            id: "a".into(),
            name: "A".into(),
            game: "arena".into(),
            map: "m".into(),
            players: 9,
            held: 2,
            reserved: 1,
            max_players: 8,
            tick_rate: 60,
            snapshot_rate: 20,
            default: false,
            node: String::new(),
        };
        assert_eq!(room.free_seats(), 0);
    }
}
