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
//! its own task.

use std::io::Write;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::net::{TcpListener, TcpStream};
use wsproto::deflate::PerMessageDeflate;
use wsproto::handshake::{Accept, Reject, Request, ServerOptions};
use wsproto::io::on_tokio::accept_with;
use wsproto::io::{AcceptOptions, Message};
use wsproto::{CloseCode, Extension};

struct Settings {
    protocols: Vec<String>,
    deflate: bool,
    tls_cert: Option<String>,
    tls_key: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: echo_server --listen ADDR [--protocol NAME]... [--no-deflate] \
         [--tls-cert CERT.pem --tls-key KEY.pem]"
    );
    std::process::exit(2);
}

fn parse_args() -> (String, Settings) {
    let mut listen = None;
    let mut settings = Settings {
        protocols: Vec::new(),
        deflate: true,
        tls_cert: None,
        tls_key: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = Some(args.next().unwrap_or_else(|| usage())),
            "--protocol" => settings
                .protocols
                .push(args.next().unwrap_or_else(|| usage())),
            "--no-deflate" => settings.deflate = false,
            "--tls-cert" => settings.tls_cert = Some(args.next().unwrap_or_else(|| usage())),
            "--tls-key" => settings.tls_key = Some(args.next().unwrap_or_else(|| usage())),
            _ => usage(),
        }
    }
    if settings.tls_cert.is_some() != settings.tls_key.is_some() {
        usage();
    }
    (listen.unwrap_or_else(|| usage()), settings)
}

/// The extensions offered to the handshake: permessage-deflate with its default settings.
fn extensions(settings: &Settings) -> Vec<Box<dyn Extension>> {
    let mut extensions: Vec<Box<dyn Extension>> = Vec::new();
    if settings.deflate {
        extensions.push(Box::new(PerMessageDeflate::default()));
    }
    extensions
}

fn decide(settings: &Settings, request: &Request) -> Result<Accept, Reject> {
    let protocol = request
        .protocols()
        .iter()
        .find(|p| settings.protocols.contains(p))
        .cloned();
    Ok(Accept {
        protocol,
        extensions: extensions(settings),
        ..Accept::default()
    })
}

/// The TLS acceptor for `--tls-cert`/`--tls-key`, if given.
#[cfg(feature = "rustls")]
type Tls = Option<wsproto::tls::tokio_rustls::TlsAcceptor>;
#[cfg(not(feature = "rustls"))]
type Tls = Option<std::convert::Infallible>;

fn tls_acceptor(settings: &Settings) -> Result<Tls, String> {
    let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) else {
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
async fn serve(stream: TcpStream, settings: Arc<Settings>, tls: Arc<Tls>) {
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok();
    let options = AcceptOptions::new(ServerOptions::default()).peer_addr(peer);
    match tls.as_ref() {
        None => echo(stream, options, &settings).await,
        #[cfg(feature = "rustls")]
        Some(acceptor) => {
            let timeout = AcceptOptions::DEFAULT_HANDSHAKE_TIMEOUT;
            match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => echo(tls, options.secure(true), &settings).await,
                Ok(Err(e)) => eprintln!("TLS handshake failed: {e}"),
                Err(_) => eprintln!("TLS handshake timed out"),
            }
        }
        #[cfg(not(feature = "rustls"))]
        Some(never) => match *never {},
    }
}

async fn echo<S>(stream: S, options: AcceptOptions, settings: &Settings)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
{
    let mut ws = match accept_with(stream, options, |r: &Request| decide(settings, r)).await {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("handshake failed: {e}");
            return;
        }
    };
    while let Some(item) = ws.next().await {
        match item {
            Ok(Message::Text(text)) if text == "__server_close__" => {
                let _ = ws.close(CloseCode::from(4001), "server-initiated").await;
                return;
            }
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                if ws.send(message).await.is_err() {
                    // Closing or gone: keep reading so the closing handshake completes.
                    continue;
                }
            }
            Ok(_) => {}
            // The connection failed (our Close is out); the stream ends after the handshake.
            Err(_) => {}
        }
    }
}

#[tokio::main]
async fn main() {
    let (listen, settings) = parse_args();
    let tls = match tls_acceptor(&settings) {
        Ok(tls) => Arc::new(tls),
        Err(e) => {
            eprintln!("cannot set up TLS: {e}");
            std::process::exit(1);
        }
    };
    let settings = Arc::new(settings);
    let listener = match TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {listen}: {e}");
            std::process::exit(1);
        }
    };
    let addr = listener.local_addr().expect("bound address");
    println!("LISTENING {addr}");
    std::io::stdout().flush().expect("flush stdout");
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream, settings.clone(), tls.clone()));
            }
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}
