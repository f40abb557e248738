//! Chat server (tokio, the server layer). Keep this command line stable:
//!
//! ```text
//! cargo run --release --all-features --example chat -- --listen 127.0.0.1:0
//! ```
//!
//! Prints `LISTENING ip:port` once bound (stdout). `GET /` answers the chat page (its own
//! JavaScript client joins the chat); the WebSocket endpoint is `/ws`, any other upgrade
//! path gets 404. Every text message received from a client is relayed verbatim to every
//! client connected to `/ws`, the sender included, each sender's messages in the order
//! received, never twice. Each client may have 8 MiB queued; a client over that (it stopped
//! reading) is closed with 1013 without delaying the others. SIGTERM or SIGINT: every client
//! gets Close 1001, and the process exits 0 within 10 s.

use std::io::Write;
use std::time::Duration;

use wsproto::CloseCode;
use wsproto::handshake::{PlainRequest, Reject};
use wsproto::server::{Router, ServerBuilder};

const PAGE: &str = include_str!("chat.html");

fn usage() -> ! {
    eprintln!("usage: chat --listen ADDR");
    std::process::exit(2);
}

fn listen_addr() -> String {
    let mut listen = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = Some(args.next().unwrap_or_else(|| usage())),
            _ => usage(),
        }
    }
    listen.unwrap_or_else(|| usage())
}

/// The page at `/`; everything else that is not an upgrade gets 404.
fn page(request: &PlainRequest) -> Option<Reject> {
    let (status, body, kind) = match (request.method(), request.path()) {
        ("GET", "/") => (200, PAGE, "text/html; charset=utf-8"),
        _ => (404, "not found\n", "text/plain; charset=utf-8"),
    };
    Some(Reject {
        status,
        headers: vec![("Content-Type".into(), kind.into())],
        body: body.as_bytes().to_vec(),
        ..Reject::default()
    })
}

async fn signalled() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            std::future::pending::<()>().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() {
    let listen = listen_addr();
    let router = Router::new().route("/ws", |mut client| async move {
        // Relay: the broadcast is encoded once and queued for every client, this one too.
        while let Some(item) = client.recv().await {
            match item {
                Ok(message) if message.is_text() => {
                    client.server().broadcast(&message);
                }
                Ok(_) => {}
                Err(_) => {}
            }
        }
    });
    let server = match ServerBuilder::new()
        .router(router)
        .plain_http(page)
        .queue_limit(8 << 20)
        .bind(&listen)
        .await
    {
        Ok(server) => server,
        Err(e) => {
            eprintln!("cannot listen on {listen}: {e}");
            std::process::exit(1);
        }
    };
    let addr = match server.local_addr() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("no local address: {e}");
            std::process::exit(1);
        }
    };
    println!("LISTENING {addr}");
    let _ = std::io::stdout().flush();
    eprintln!("open http://{addr}/ in a browser");
    let handle = server.handle();
    let running = tokio::spawn(server.run());
    signalled().await;
    eprintln!("shutting down");
    handle
        .shutdown(
            CloseCode::GOING_AWAY,
            "server shutting down",
            Duration::from_secs(5),
        )
        .await;
    let _ = running.await;
}
