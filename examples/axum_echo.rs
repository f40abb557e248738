//! The echo server of `echo_server`, as an axum 0.8 route (`wsproto::upgrade::axum`). Keep
//! this command line stable:
//!
//! ```text
//! cargo run --features axum --example axum_echo -- --listen 127.0.0.1:9001 \
//!     [--protocol NAME]... [--no-deflate]
//! ```
//!
//! Prints `LISTENING ip:port` once bound (port 0 works). `GET /` answers 200 `text/plain`;
//! `/ws` is the WebSocket echo endpoint (a request there that is not a valid upgrade gets
//! 400, 405 or 426 from the extractor's rejection); anything else is 404. The WebSocket
//! behaves exactly like `echo_server`'s: permessage-deflate unless `--no-deflate`, the first
//! offered subprotocol that is in the `--protocol` list, every text and binary message
//! echoed, and the text `__server_close__` answered with Close(4001, "server-initiated").
//! Exits with status 0 on SIGTERM or ctrl-c.

#[path = "shared/echo.rs"]
mod echo;
#[path = "shared/signal.rs"]
mod signal;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{any, get};
use wsproto::upgrade::axum::WebSocketUpgrade;

use echo::Settings;

async fn ws(State(settings): State<Arc<Settings>>, upgrade: WebSocketUpgrade) -> Response {
    let upgrade = upgrade.protocols(settings.protocols.iter().cloned());
    let upgrade = if settings.deflate {
        upgrade
    } else {
        upgrade.no_deflate()
    };
    upgrade.on_upgrade(echo::echo)
}

#[tokio::main]
async fn main() {
    let settings = Arc::new(echo::parse_args("axum_echo", false));
    let app = Router::new()
        .route(
            "/",
            get(|| async { "wsproto axum_echo: WebSocket echo at /ws\n" }),
        )
        // `any`: the extractor answers other methods with 405 itself.
        .route("/ws", any(ws))
        .with_state(settings.clone());
    let (listener, shutdown) = echo::listen(&settings).await;
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("server error: {e}");
        std::process::exit(1);
    }
}
