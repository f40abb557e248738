//! The echo server of `echo_server`, inside a hyper 1.x server (`wsproto::upgrade::hyper`).
//! Keep this command line stable:
//!
//! ```text
//! cargo run --features hyper --example hyper_echo -- --listen 127.0.0.1:9001 \
//!     [--protocol NAME]... [--no-deflate]
//! ```
//!
//! Prints `LISTENING ip:port` once bound (port 0 works). `GET /` answers 200 `text/plain`;
//! `/ws` is the WebSocket echo endpoint (a request there that is not a valid upgrade gets
//! 400, 405 or 426); anything else is 404. The WebSocket behaves exactly like `echo_server`'s:
//! permessage-deflate unless `--no-deflate`, the first offered subprotocol that is in the
//! `--protocol` list, every text and binary message echoed, and the text `__server_close__`
//! answered with Close(4001, "server-initiated"). Exits with status 0 on SIGTERM or ctrl-c.

#[path = "shared/echo.rs"]
mod echo;
#[path = "shared/signal.rs"]
mod signal;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use wsproto::upgrade::Body;
use wsproto::upgrade::hyper::Upgrade;

use echo::Settings;

/// A plain-text response.
fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

async fn handle(
    mut req: Request<Incoming>,
    peer: SocketAddr,
    settings: Arc<Settings>,
) -> Result<Response<Body>, Infallible> {
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => text(
            StatusCode::OK,
            "wsproto hyper_echo: WebSocket echo at /ws\n",
        ),
        (_, "/ws") => {
            // Validate the upgrade (400 / 405 / 426 otherwise), then say what we speak.
            let upgrade = match Upgrade::new(&mut req) {
                Ok(upgrade) => upgrade.protocols(settings.protocols.iter().cloned()),
                Err(rejection) => return Ok(rejection.response()),
            };
            let upgrade = upgrade.peer_addr(Some(peer));
            let upgrade = if settings.deflate {
                upgrade
            } else {
                upgrade.no_deflate()
            };
            // The 101 goes back through hyper; the echo runs once hyper hands the stream over.
            upgrade.on_upgrade(echo::echo)
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    })
}

#[tokio::main]
async fn main() {
    let settings = Arc::new(echo::parse_args("hyper_echo", false));
    let (listener, shutdown) = echo::listen(&settings).await;
    echo::accept_loop(listener, shutdown, |stream, peer| {
        let settings = settings.clone();
        let service = service_fn(move |req| handle(req, peer, settings.clone()));
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                // Required: without it hyper never hands the upgraded stream over.
                .with_upgrades();
            if let Err(e) = connection.await {
                eprintln!("connection error: {e}");
            }
        });
    })
    .await;
}
