//! TLS with rustls (feature `rustls`): `wss://` clients and TLS servers.
//!
//! * Clients: `connect("wss://…")` in [`on_tokio`](crate::io::on_tokio) and
//!   [`on_futures`](crate::io::on_futures) runs TLS over the TCP connection (inside the proxy
//!   tunnel, if there is one) before the WebSocket request, with the host name of the URL as
//!   the server name. The configuration is [`ConnectOptions::tls`](crate::io::ConnectOptions::tls)
//!   or else [`default_client_config`], which trusts [`default_roots`]: Mozilla's roots
//!   compiled in (feature `webpki-roots`) and/or the platform's store (feature
//!   `native-roots`). An untrusted certificate or one not valid for the host name fails the
//!   connection with [`crate::io::Error::Tls`] before a byte of the request is
//!   sent.
//! * Servers: [`server_config`] from a PEM certificate chain and key (ALPN `http/1.1`), then
//!   [`ServerBuilder::tls`](crate::server::ServerBuilder::tls), or your own accept loop with
//!   [`tokio_rustls::TlsAcceptor`] and [`on_tokio::accept_with`](crate::io::on_tokio::accept_with).
//!   After the closing handshake the server's shutdown sends TLS `close_notify`.
//!
//! Ending without `close_notify` after the peer's Close frame is a clean end: the WebSocket
//! closing handshake already says where the data ends, so a truncation cannot go unnoticed
//! (the executors read an `UnexpectedEof` from TLS as the end of the stream; before the
//! closing handshake that is an abnormal closure, 1006, as for TCP).
//!
//! Crypto comes from the process-wide default [`rustls::crypto::CryptoProvider`] if one is
//! installed, else from *ring*.
//!
//! ```no_run
//! # async fn run() -> Result<(), wsproto::io::Error> {
//! use wsproto::io::{ConnectOptions, on_tokio::connect};
//! use wsproto::tls;
//!
//! // Trust the default roots plus a private CA.
//! let mut roots = tls::default_roots();
//! for ca in tls::certificates_from_pem(&std::fs::read("ca.pem")?)? {
//!     roots.add(ca).map_err(wsproto::io::Error::Tls)?;
//! }
//! let options = ConnectOptions::default().tls(tls::client_config(roots)?);
//! let (ws, _response) = connect("wss://example.com/chat", options).await?;
//! # drop(ws); Ok(()) }
//! ```

use std::borrow::ToOwned;
use std::format;
use std::io;
use std::sync::{Arc, OnceLock};
use std::vec::Vec;

#[cfg(feature = "futures-io")]
pub use futures_rustls;
pub use rustls;
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
#[cfg(feature = "tokio")]
pub use tokio_rustls;

use crate::io::Error;

/// ALPN protocol id of HTTP/1.1, the only one a WebSocket handshake speaks (RFC 6455 §4.1;
/// RFC 8441 WebSockets over HTTP/2 are not supported).
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// The trust roots of a client by default: `webpki-roots` (Mozilla's, compiled in) and/or the
/// platform's certificate store (`native-roots`), by feature; empty with neither (then only
/// a configuration of your own can connect). Certificates of the platform store that rustls
/// cannot parse are skipped.
pub fn default_roots() -> RootCertStore {
    #[allow(unused_mut)]
    let mut roots = RootCertStore::empty();
    #[cfg(feature = "webpki-roots")]
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    #[cfg(feature = "native-roots")]
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    roots
}

/// A client configuration trusting `roots`: TLS 1.2 and 1.3, ALPN `http/1.1`, no client
/// certificate.
pub fn client_config(roots: RootCertStore) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = std::vec![ALPN_HTTP11.to_vec()];
    Ok(Arc::new(config))
}

/// The configuration `wss://` uses when [`ConnectOptions::tls`](crate::io::ConnectOptions::tls)
/// is not set: [`client_config`] over [`default_roots`], built once per process.
pub fn default_client_config() -> Result<Arc<rustls::ClientConfig>, Error> {
    static DEFAULT: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(config) = DEFAULT.get() {
        return Ok(config.clone());
    }
    let config = client_config(default_roots())?;
    Ok(DEFAULT.get_or_init(|| config).clone())
}

/// A server configuration presenting `chain` (leaf first) with `key`: TLS 1.2 and 1.3, ALPN
/// `http/1.1`, no client certificates.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(Error::Tls)?;
    config.alpn_protocols = std::vec![ALPN_HTTP11.to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file (`-----BEGIN CERTIFICATE-----` blocks, other blocks
/// skipped). None at all is an error.
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error("certificate", &e))?;
    if certs.is_empty() {
        return Err(pem_error("certificate", &"no CERTIFICATE block"));
    }
    Ok(certs)
}

/// The first private key in a PEM file: PKCS#8 (`PRIVATE KEY`, ECDSA or RSA), PKCS#1
/// (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`).
pub fn private_key_from_pem(pem: &[u8]) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| pem_error("private key", &e))
}

fn pem_error(what: &str, e: &dyn core::fmt::Display) -> Error {
    Error::Tls(rustls::Error::General(format!("bad PEM {what}: {e}")))
}

/// The TLS server name for a URL's host (a DNS name or an IP address).
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(host.to_owned()).map_err(|_| {
        Error::Tls(rustls::Error::General(format!(
            "{host:?} is not a valid TLS server name"
        )))
    })
}

/// The error of a failed TLS handshake: rustls' own error when the runtime wrapper carried
/// one (certificate, name, alert), else the I/O error.
pub(crate) fn handshake_error(e: io::Error) -> Error {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => Error::Tls(tls.clone()),
        None => Error::Io(e),
    }
}
