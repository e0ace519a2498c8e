//! TLS: HTTPS and WSS on the game port with a certificate made here (rcgen), spoken to
//! by the real bot client trusting exactly that certificate.

use std::path::PathBuf;
use std::time::Duration;

use bot_client::api::ApiClient;
use bot_client::swarm::{Join, SwarmConfig, run_swarm};
use bot_client::{Client, ConnectOptions, RawConnection, trust_certificate};
use hyper::{Method, StatusCode};
use tokio_util::sync::CancellationToken;

use crate::{TestServer, receive_snapshots, temp_dir};

/// A self-signed certificate for 127.0.0.1 and localhost: (certificate, key) PEM files.
fn certificate() -> (PathBuf, PathBuf) {
    let dir = temp_dir("tls");
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, signing_key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_plays_over_wss_and_the_api_answers_over_https() {
    let (cert, key) = certificate();
    let server = TestServer::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
    .await;
    let addr = server.server().local_addr();
    let trust = trust_certificate(&cert).unwrap();
    let wss = format!("wss://{addr}/ws");

    // One client by hand: welcomed, and snapshots flow.
    let options = ConnectOptions {
        tls: Some(trust.clone()),
        ..ConnectOptions::default()
    };
    let mut client = Client::connect_with(&wss, "secure", &options)
        .await
        .unwrap();
    receive_snapshots(&mut client, 3).await;

    // The API over HTTPS hands out wss:// URLs.
    let api = ApiClient::new(&format!("https://{addr}"), Some(trust.clone()), None).unwrap();
    let (status, _) = api.request(Method::GET, "/healthz", None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let seat = api.join("default", None).await.unwrap();
    assert!(seat.url.starts_with("wss://"), "{}", seat.url);

    // A swarm plays over wss through the API.
    let report = run_swarm(
        SwarmConfig {
            url: format!("https://{addr}"),
            bots: 3,
            duration: Duration::from_secs(2),
            ramp_per_sec: 100.0,
            seed: 5,
            name_prefix: "tls".into(),
            progress: false,
            join: Join::Api {
                api,
                rooms: vec!["default".into()],
            },
            churn: None,
            tls: Some(trust),
            budget: None,
            ..SwarmConfig::default()
        },
        CancellationToken::new(),
    )
    .await;
    assert_eq!(report.bots_failed, 0, "{report}");
    assert!(report.snapshots_total > 0, "{report}");

    // Without trusting the certificate, the handshake fails; plain ws:// gets no game.
    assert!(RawConnection::connect(&wss).await.is_err());
    assert!(
        Client::connect(&format!("ws://{addr}/ws"), "plain")
            .await
            .is_err()
    );
    receive_snapshots(&mut client, 2).await;
    server.stop().await;
}
