//! The conformance session: echoes every text and binary message, as the Autobahn
//! `fuzzingclient` expects. It runs behind the game's own accept path and WebSocket
//! configuration ([`crate::transport::front::start_echo`]), so the test suite exercises exactly the
//! framing, limits and close handling the game serves with.

// Peer-controlled frames: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use shared::protocol::close;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tracing::debug;

use crate::obs::counters::Counters;
use crate::session::{close_with, websocket_close_code};

/// Echoes until the peer closes, then counts how the session ended.
pub async fn run<S>(mut ws: WebSocketStream<S>, counters: Arc<Counters>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    Counters::inc(&counters.sessions_total);
    Counters::inc(&counters.sessions_open);
    let mut code = close::ABNORMAL;
    while let Some(frame) = ws.next().await {
        let result = match frame {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => ws.send(message).await,
            // tungstenite queues the reply; reading on sends it and ends the stream.
            Ok(Message::Close(_)) => {
                code = close::NORMAL;
                Ok(())
            }
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            debug!(error = %e, "echo session failed");
            if let Some(c) = websocket_close_code(&e) {
                close_with(&mut ws, c, &e.to_string()).await;
                code = c;
            }
            break;
        }
    }
    counters.session_closed(code);
}
