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
//! its own task. Exits with status 0 on SIGTERM or ctrl-c.

#[path = "shared/echo.rs"]
mod echo;

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

async fn serve(stream: TcpStream, settings: Arc<Settings>) {
    let options = AcceptOptions::new(ServerOptions::default());
    match accept_with(stream, options, |r: &Request| decide(&settings, r)).await {
        Ok(ws) => echo::echo(ws).await,
        Err(e) => eprintln!("handshake failed: {e}"),
    }
}

#[tokio::main]
async fn main() {
    let settings = Arc::new(echo::parse_args("echo_server"));
    let listener = echo::listen(&settings).await;
    echo::accept_loop(listener, |stream, _peer| {
        tokio::spawn(serve(stream, settings.clone()));
    })
    .await;
}
