//! Echo server (tokio) for conformance tools. Keep this command line stable:
//!
//! ```text
//! cargo run --release --all-features --example echo_server -- --listen 127.0.0.1:9001 \
//!     [--protocol NAME]... [--no-deflate] [--tls-cert CERT.pem --tls-key KEY.pem]
//! ```
//!
//! With `--tls-cert` and `--tls-key` it serves `wss://` (feature `rustls`): the certificate
//! file may hold a chain (leaf first), the key is PEM (PKCS#8 ECDSA P-256 or RSA; PKCS#1 and
//! SEC1 too), ALPN offers `http/1.1`. The TLS handshake runs in each connection's task within
//! the 10 s handshake timeout; after the closing handshake the server sends `close_notify`.
//!
//! Prints `LISTENING ip:port` once bound (port 0 works). Accepts any path and origin, echoes
//! text as text and binary as binary (whole messages up to 16 MiB), negotiates
//! permessage-deflate unless `--no-deflate`, selects the first offered subprotocol that is in
//! its `--protocol` list, and answers the text `__server_close__` with
//! Close(4001, "server-initiated"). One task per connection; a client that vanishes only ends
//! its own task. Exits with status 0 on SIGTERM or ctrl-c.

#[path = "shared/echo.rs"]
mod echo;
#[path = "shared/signal.rs"]
mod signal;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use wsproto::deflate::PerMessageDeflate;
use wsproto::handshake::{Accept, Reject, Request, ServerOptions};
use wsproto::io::AcceptOptions;
use wsproto::io::on_tokio::accept_with;

use echo::Settings;

fn decide(settings: &Settings, request: &Request) -> Result<Accept, Reject> {
    let mut accept = Accept {
        protocol: settings.select(request.protocols()).cloned(),
        ..Accept::default()
    };
    if settings.deflate {
        // permessage-deflate with its default settings.
        accept
            .extensions
            .push(Box::new(PerMessageDeflate::default()));
    }
    Ok(accept)
}

/// The TLS acceptor for `--tls-cert`/`--tls-key`, if given.
#[cfg(feature = "rustls")]
type Tls = Option<wsproto::tls::tokio_rustls::TlsAcceptor>;
#[cfg(not(feature = "rustls"))]
type Tls = Option<std::convert::Infallible>;

fn tls_acceptor(settings: &Settings) -> Result<Tls, String> {
    let Some((cert, key)) = &settings.tls else {
        return Ok(None);
    };
    #[cfg(feature = "rustls")]
    {
        use wsproto::tls;
        let read = |path: &str| std::fs::read(path).map_err(|e| format!("{path}: {e}"));
        let chain = tls::certificates_from_pem(&read(cert)?).map_err(|e| format!("{cert}: {e}"))?;
        let key = tls::private_key_from_pem(&read(key)?).map_err(|e| format!("{key}: {e}"))?;
        let config = tls::server_config(chain, key).map_err(|e| e.to_string())?;
        Ok(Some(config.into()))
    }
    #[cfg(not(feature = "rustls"))]
    Err(format!(
        "{cert}, {key}: this build has no TLS (feature rustls)"
    ))
}

/// One connection: TLS first if configured (within the handshake timeout), then the echo.
async fn serve(stream: TcpStream, peer: SocketAddr, settings: Arc<Settings>, tls: Arc<Tls>) {
    let options = AcceptOptions::new(ServerOptions::default()).peer_addr(Some(peer));
    match tls.as_ref() {
        None => echo_over(stream, options, &settings).await,
        #[cfg(feature = "rustls")]
        Some(acceptor) => {
            let timeout = AcceptOptions::DEFAULT_HANDSHAKE_TIMEOUT;
            match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => echo_over(tls, options.secure(true), &settings).await,
                Ok(Err(e)) => eprintln!("TLS handshake failed: {e}"),
                Err(_) => eprintln!("TLS handshake timed out"),
            }
        }
        #[cfg(not(feature = "rustls"))]
        Some(never) => match *never {},
    }
}

async fn echo_over<S>(stream: S, options: AcceptOptions, settings: &Settings)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
{
    match accept_with(stream, options, |r: &Request| decide(settings, r)).await {
        Ok(ws) => echo::echo(ws).await,
        Err(e) => eprintln!("handshake failed: {e}"),
    }
}

#[tokio::main]
async fn main() {
    let settings = echo::parse_args("echo_server", true);
    let tls = match tls_acceptor(&settings) {
        Ok(tls) => Arc::new(tls),
        Err(e) => {
            eprintln!("cannot set up TLS: {e}");
            std::process::exit(1);
        }
    };
    let settings = Arc::new(settings);
    let (listener, shutdown) = echo::listen(&settings).await;
    echo::accept_loop(listener, shutdown, |stream, peer| {
        tokio::spawn(serve(stream, peer, settings.clone(), tls.clone()));
    })
    .await;
}
