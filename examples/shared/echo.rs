//! What the echo examples (`echo_server`, `hyper_echo`, `axum_echo`) share: the command line,
//! the `LISTENING` line, the echo loop, and the shutdown signal. Included with
//! `#[path = "shared/echo.rs"] mod echo;` (not an example of its own).
#![allow(dead_code)]

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;

use futures_util::StreamExt;
use wsproto::CloseCode;
use wsproto::io::Message;
use wsproto::io::nonblocking::{PollIo, WebSocket};

/// The command line: `--listen ADDR [--protocol NAME]... [--no-deflate]`, in any order
/// (`echo_server` also takes `--tls-cert CERT.pem --tls-key KEY.pem`).
pub struct Settings {
    pub listen: String,
    /// Subprotocols the server speaks; the first one the client offers that is listed wins.
    pub protocols: Vec<String>,
    /// Negotiate permessage-deflate (on unless `--no-deflate`).
    pub deflate: bool,
    /// `--tls-cert` and `--tls-key` (both or neither), where the example takes them.
    pub tls: Option<(String, String)>,
}

impl Settings {
    /// The first subprotocol in `offered` that is in the `--protocol` list.
    pub fn select<'a>(&self, offered: &'a [String]) -> Option<&'a String> {
        offered.iter().find(|p| self.protocols.contains(p))
    }
}

fn usage(name: &str, tls: bool) -> ! {
    let tls = if tls {
        " [--tls-cert CERT.pem --tls-key KEY.pem]"
    } else {
        ""
    };
    eprintln!("usage: {name} --listen ADDR [--protocol NAME]... [--no-deflate]{tls}");
    std::process::exit(2);
}

/// Parses the command line of the example `name` (exit status 2 on a bad one); `tls`: it
/// takes `--tls-cert` and `--tls-key`.
pub fn parse_args(name: &str, tls: bool) -> Settings {
    let value = |arg: Option<String>| arg.unwrap_or_else(|| usage(name, tls));
    let (mut listen, mut cert, mut key) = (None, None, None);
    let mut settings = Settings {
        listen: String::new(),
        protocols: Vec::new(),
        deflate: true,
        tls: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = Some(value(args.next())),
            "--protocol" => settings.protocols.push(value(args.next())),
            "--no-deflate" => settings.deflate = false,
            "--tls-cert" if tls => cert = Some(value(args.next())),
            "--tls-key" if tls => key = Some(value(args.next())),
            _ => usage(name, tls),
        }
    }
    settings.listen = value(listen);
    settings.tls = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => usage(name, tls),
    };
    settings
}

/// Binds `--listen` (exit status 1 if it cannot), installs the SIGTERM/ctrl-c handlers, then
/// prints `LISTENING ip:port`, flushed: a tool that signals as soon as it reads that line
/// always meets the handler, never the default action. Returns the listener and the shutdown
/// signal.
pub async fn listen(
    settings: &Settings,
) -> (
    tokio::net::TcpListener,
    impl Future<Output = ()> + Send + 'static,
) {
    let listener = match tokio::net::TcpListener::bind(&settings.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", settings.listen);
            std::process::exit(1);
        }
    };
    let shutdown = super::signal::shutdown_signal();
    let addr: SocketAddr = listener.local_addr().expect("bound address");
    println!("LISTENING {addr}");
    std::io::stdout().flush().expect("flush stdout");
    (listener, shutdown)
}

/// Echoes text as text and binary as binary; the text `__server_close__` is answered with
/// Close(4001, "server-initiated").
pub async fn echo<T: PollIo>(mut ws: WebSocket<T>) {
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

/// Accepts connections (`TCP_NODELAY` on) and hands each to `serve` until `shutdown`; an
/// accept error is logged and retried after 10 ms.
pub async fn accept_loop(
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
    mut serve: impl FnMut(tokio::net::TcpStream, SocketAddr),
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    serve(stream, peer);
                }
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            () = &mut shutdown => return,
        }
    }
}
