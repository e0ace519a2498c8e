//! HTTPS and WSS on the game port: rustls with the `ring` provider (no OpenSSL, no
//! cmake), certificate chain and key from PEM files (`--tls-cert`, `--tls-key`).
//!
//! Browsers on an https page may only open `wss://`, and operators of dedicated rooms
//! often have no proxy in front, so the server terminates TLS itself: the accept loop
//! runs the TLS handshake (bounded by the request-head timeout) before hyper sees the
//! connection, and everything above (HTTP, the API, `/metrics`, the WebSocket upgrade)
//! is unchanged.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::control::config::{ConfigError, TlsFiles};

/// The rustls crypto provider every TLS endpoint of Tickwire uses.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the acceptor from the PEM files.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, ConfigError> {
    let certs = load_certs(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| ConfigError::Tls(format!("key {}: {e}", files.key.display())))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ConfigError::Tls(format!("certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ConfigError::Tls(format!("certificate {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(ConfigError::Tls(format!(
            "no certificate in {}",
            path.display()
        )));
    }
    Ok(certs)
}
