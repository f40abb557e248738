//! Chat server (tokio, the server layer). Keep this command line stable:
//!
//! ```text
//! cargo run --release --all-features --example chat -- --listen 127.0.0.1:0 [--redis redis://HOST:PORT]
//! ```
//!
//! With `--redis`, several chat processes on the same Redis are one chat room (the server
//! layer's Redis backplane, feature `redis`): every message reaches every client of every
//! process, exactly once, each sender's in order. If Redis goes away, each process goes on
//! serving its own clients at once (what is sent meanwhile stays on its process); once Redis
//! answers again, messages cross again within seconds, without a restart.
//!
//! Prints `LISTENING ip:port` once bound (stdout). `GET /` answers the chat page (its own
//! JavaScript client joins the chat); the WebSocket endpoint is `/ws`, any other upgrade
//! path gets 404. Every text message received from a client is relayed verbatim to every
//! client connected to `/ws`, the sender included, each sender's messages in the order
//! received, never twice. Each client may have 8 MiB queued; a client over that (it stopped
//! reading) is closed with 1013 without delaying the others. SIGTERM or SIGINT: every client
//! gets Close 1001, and the process exits 0 within 10 s.

#[path = "shared/signal.rs"]
mod signal;

use std::io::Write;
use std::time::Duration;

use wsproto::CloseCode;
use wsproto::handshake::{PlainRequest, Reject};
use wsproto::server::{Router, ServerBuilder};

const PAGE: &str = include_str!("chat.html");

fn usage() -> ! {
    eprintln!("usage: chat --listen ADDR [--redis redis://HOST:PORT]");
    std::process::exit(2);
}

/// `--listen ADDR` and `--redis URL`, in any order.
fn parse_args() -> (String, Option<String>) {
    let (mut listen, mut redis) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = Some(args.next().unwrap_or_else(|| usage())),
            "--redis" => redis = Some(args.next().unwrap_or_else(|| usage())),
            _ => usage(),
        }
    }
    (listen.unwrap_or_else(|| usage()), redis)
}

/// The Redis backplane for `--redis URL`, if given.
fn with_redis(builder: ServerBuilder, redis: Option<String>) -> ServerBuilder {
    let Some(url) = redis else { return builder };
    #[cfg(feature = "redis")]
    {
        use wsproto::server::{RedisBackplane, RedisOptions};
        match RedisBackplane::new(RedisOptions::new(url.as_str()).prefix("wsproto-chat")) {
            Ok(backplane) => builder.backplane(backplane),
            Err(e) => {
                eprintln!("--redis {url}: {e}");
                std::process::exit(2);
            }
        }
    }
    #[cfg(not(feature = "redis"))]
    {
        eprintln!("--redis {url}: this build has no Redis support (feature redis)");
        std::process::exit(2);
    }
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

#[tokio::main]
async fn main() {
    let (listen, redis) = parse_args();
    // Installed before LISTENING is printed: a signal right after it is never lost.
    let signalled = signal::shutdown_signal();
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
    let server = match with_redis(ServerBuilder::new(), redis)
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
    if let Some(mut status) = handle.backplane_status() {
        tokio::spawn(async move {
            loop {
                eprintln!("backplane: {:?}", *status.borrow_and_update());
                if status.changed().await.is_err() {
                    return;
                }
            }
        });
    }
    let running = tokio::spawn(server.run());
    signalled.await;
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
