//! Echo server (tokio) for conformance tools. Keep this command line stable:
//!
//! ```text
//! cargo run --release --all-features --example echo_server -- --listen 127.0.0.1:9001 \
//!     [--protocol NAME]... [--no-deflate]
//! ```
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
}

fn usage() -> ! {
    eprintln!("usage: echo_server --listen ADDR [--protocol NAME]... [--no-deflate]");
    std::process::exit(2);
}

fn parse_args() -> (String, Settings) {
    let mut listen = None;
    let mut settings = Settings {
        protocols: Vec::new(),
        deflate: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = Some(args.next().unwrap_or_else(|| usage())),
            "--protocol" => settings
                .protocols
                .push(args.next().unwrap_or_else(|| usage())),
            "--no-deflate" => settings.deflate = false,
            _ => usage(),
        }
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

async fn serve(stream: TcpStream, settings: Arc<Settings>) {
    let _ = stream.set_nodelay(true);
    let options = AcceptOptions::new(ServerOptions::default());
    let mut ws = match accept_with(stream, options, |r: &Request| decide(&settings, r)).await {
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
                tokio::spawn(serve(stream, settings.clone()));
            }
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}
