//! Graceful shutdown of the real binary: SIGTERM closes every session of every room with
//! 1001 ("going away: reconnect elsewhere"), and the process exits by itself, cleanly.

use std::process::{Command, Stdio};

use bot_client::{Client, Event};
use shared::protocol::close;

use crate::{WAIT, listening_addr, receive_snapshots, rooms_file};

/// Kills the child if the test fails half way.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn close_code(client: &mut Client) -> Option<u16> {
    tokio::time::timeout(WAIT, async {
        loop {
            match client.next_event().await {
                Ok(Event::Closed { code, .. }) => return code,
                Ok(_) => continue,
                Err(e) => panic!("expected a close frame, got {e}"),
            }
        }
    })
    .await
    .expect("no close frame")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_every_room_and_the_process_exits() {
    let rooms = rooms_file(
        "shutdown",
        "[[room]]\nid = \"a\"\ndrones = 5\n[[room]]\nid = \"b\"\ndrones = 5\n[[room]]\nid = \"c\"\ndrones = 0\ntick_rate = 20\nsnapshot_rate = 10\n",
    );
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .args([
                "--addr",
                "127.0.0.1:0",
                "--shutdown-timeout-s",
                "5",
                "--rooms",
            ])
            .arg(&rooms)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server binary runs"),
    );
    let addr = listening_addr(child.0.stdout.take().unwrap()).await;

    let mut clients = Vec::new();
    for room in ["a", "b", "c"] {
        for i in 0..2 {
            let url = format!("ws://{addr}/ws?room={room}");
            let mut client = Client::connect(&url, &format!("{room}{i}")).await.unwrap();
            receive_snapshots(&mut client, 1).await;
            clients.push(client);
        }
    }

    let pid = child.0.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());

    for client in &mut clients {
        assert_eq!(close_code(client).await, Some(close::GOING_AWAY));
    }
    // It stops accepting at once...
    assert!(
        Client::connect(&format!("ws://{addr}/ws"), "late")
            .await
            .is_err()
    );
    // ...and exits by itself, successfully (within its 5 s deadline; the bound here only
    // keeps a broken build from hanging).
    let mut process = child;
    let exit = tokio::task::spawn_blocking(move || {
        let status = process.0.wait();
        (process, status)
    });
    let (_process, status) = tokio::time::timeout(WAIT, exit)
        .await
        .expect("the server did not exit")
        .unwrap();
    assert!(status.unwrap().success());
}
