//! Joining, leaving and shutting down.

use bot_client::Event;
use shared::protocol::close;

use crate::{TestServer, WAIT, WHOLE_MAP, receive_snapshots};

#[tokio::test]
async fn a_leaving_player_disappears_from_others_views() {
    let server = TestServer::start(WHOLE_MAP).await;
    let mut stayer = server.client("stayer").await;
    let leaver = server.client("leaver").await;
    let leaver_id = leaver.welcome().entity;
    stayer
        .wait_until(WAIT, |v| v.get(leaver_id).is_some())
        .await
        .unwrap();
    leaver.close().await.unwrap();
    stayer
        .wait_until(WAIT, |v| v.get(leaver_id).is_none())
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_every_session_with_1001() {
    let server = TestServer::start(WHOLE_MAP).await;
    let mut a = server.client("a").await;
    let mut b = server.client("b").await;
    receive_snapshots(&mut a, 1).await;
    receive_snapshots(&mut b, 1).await;
    server.shutdown.cancel();
    for client in [&mut a, &mut b] {
        let code = tokio::time::timeout(WAIT, async {
            loop {
                match client.next_event().await {
                    Ok(Event::Closed { code, .. }) => return code,
                    Ok(_) => continue,
                    Err(e) => panic!("expected a close frame, got {e}"),
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(code, Some(close::GOING_AWAY));
    }
    tokio::time::timeout(WAIT, server.stop()).await.unwrap();
}
