//! The server layer over loopback TCP: routing, tracking, broadcast and topics (encoded once),
//! a slow client isolated by its bounded queue, limits, verification, plain HTTP, graceful
//! shutdown.
#![cfg(feature = "tokio")]

mod common;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::net::TcpStream;
use wsproto::handshake::{Accept, ClientOptions, PlainRequest, Reject, Request};
use wsproto::io::on_tokio::{ClientStream, WebSocket, connect};
use wsproto::io::{Decision, Error, Message};
use wsproto::server::{ClientRef, Cookie, Delivery, Overflow, Router, Server, ServerBuilder};
use wsproto::{CloseCode, Config};

type Ws = WebSocket<ClientStream>;

/// A chat-like server: /ws relays text to everyone; /topic/:name subscribes to that topic
/// and publishes what it receives to it (excluding the sender); /quiet returns at once.
fn chat_router() -> Router {
    Router::new()
        .route("/ws", |mut client| async move {
            while let Some(Ok(message)) = client.recv().await {
                if message.is_text() {
                    client.server().broadcast(&message);
                }
            }
        })
        .route("/topic/:name", |mut client| async move {
            let topic = client.param("name").unwrap().to_owned();
            client.subscribe(&topic);
            while let Some(Ok(message)) = client.recv().await {
                if message.is_text() {
                    client.publish(&topic, &message);
                }
            }
        })
        .route_protocols("/proto", ["v2", "v1"], |mut client| async move {
            let protocol = client.protocol().unwrap_or("none").to_owned();
            client.send(Message::text(protocol));
            while client.recv().await.is_some() {}
        })
        .route("/quiet", |_client| async move {})
}

async fn start(
    builder: ServerBuilder,
) -> (
    String,
    wsproto::server::ServerHandle,
    tokio::task::JoinHandle<()>,
) {
    let server: Server = builder.bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let handle = server.handle();
    let task = tokio::spawn(async move {
        server.run().await.unwrap();
    });
    (format!("ws://{addr}"), handle, task)
}

async fn client(base: &str, path: &str) -> Ws {
    connect(&format!("{base}{path}"), ClientOptions::default())
        .await
        .unwrap()
        .0
}

/// The next data message (skipping pings/pongs), bounded.
async fn next_text(ws: &mut Ws) -> String {
    let deadline = Duration::from_secs(10);
    loop {
        match tokio::time::timeout(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return t.to_string(),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

async fn wait_for(mut check: impl FnMut() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_reaches_every_client_once_in_order() {
    let (base, handle, _task) = start(ServerBuilder::new().router(chat_router())).await;
    let mut clients = Vec::new();
    for _ in 0..20 {
        clients.push(client(&base, "/ws").await);
    }
    wait_for(|| handle.client_count() == 20).await;
    // Two senders, interleaved; every client (senders included) gets each sender's messages
    // in order, exactly once.
    for i in 0..50 {
        clients[0]
            .send(Message::text(format!("a{i}")))
            .await
            .unwrap();
        clients[1]
            .send(Message::text(format!("b{i}")))
            .await
            .unwrap();
    }
    for ws in clients.iter_mut() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        for _ in 0..100 {
            let t = next_text(ws).await;
            match t.as_bytes()[0] {
                b'a' => a.push(t),
                _ => b.push(t),
            }
        }
        assert_eq!(a, (0..50).map(|i| format!("a{i}")).collect::<Vec<_>>());
        assert_eq!(b, (0..50).map(|i| format!("b{i}")).collect::<Vec<_>>());
    }
    // Tracking: ids in connection order, paths, addresses.
    let tracked = handle.clients();
    assert_eq!(tracked.len(), 20);
    assert!(tracked.windows(2).all(|w| w[0].id() < w[1].id()));
    assert!(tracked.iter().all(|c| c.request().path() == "/ws"));
    let local = clients[0].get_ref().tcp().local_addr().unwrap();
    assert_eq!(tracked[0].peer_addr(), Some(local));
    assert_eq!(
        handle.client(tracked[3].id()).unwrap().id(),
        tracked[3].id()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_publish_to_subscribers_only() {
    let (base, handle, _task) = start(ServerBuilder::new().router(chat_router())).await;
    let mut red1 = client(&base, "/topic/red").await;
    let mut red2 = client(&base, "/topic/red").await;
    let mut blue = client(&base, "/topic/blue").await;
    wait_for(|| handle.subscriber_count("red") == 2 && handle.subscriber_count("blue") == 1).await;
    red1.send(Message::text("to red")).await.unwrap();
    assert_eq!(next_text(&mut red2).await, "to red");
    // The sender is excluded (uWebSockets' ws.publish); blue hears nothing.
    handle.publish("blue", &Message::text("to blue"));
    assert_eq!(next_text(&mut blue).await, "to blue");
    handle.publish("red", &Message::text("server to red"));
    assert_eq!(next_text(&mut red1).await, "server to red");
    assert_eq!(next_text(&mut red2).await, "server to red");
    let id = handle.clients()[0].id();
    assert!(handle.unsubscribe(id, "red"));
    assert_eq!(handle.subscriber_count("red"), 1);
    drop(blue);
    wait_for(|| handle.subscriber_count("blue") == 0).await;
}

/// A raw client that completes the handshake and then never reads.
fn raw_silent_client(addr: &str) -> std::net::TcpStream {
    let mut s = std::net::TcpStream::connect(addr.trim_start_matches("ws://")).unwrap();
    // A tiny receive buffer, so the server's writes stall quickly.
    write!(
        s,
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_is_closed_and_the_others_get_everything() {
    let builder = ServerBuilder::new()
        .router(chat_router())
        .queue_limit(4 << 20)
        .config(Config::new().close_timeout(Duration::from_secs(1)));
    let (base, handle, _task) = start(builder).await;
    let _slow = raw_silent_client(&base);
    let mut healthy = client(&base, "/ws").await;
    wait_for(|| handle.client_count() == 2).await;
    let healthy_addr = healthy.get_ref().tcp().local_addr().unwrap();
    let healthy_ref = handle
        .clients()
        .into_iter()
        .find(|c| c.peer_addr() == Some(healthy_addr))
        .unwrap();
    let reader = tokio::spawn(async move {
        let mut got = 0usize;
        while got < 2_000 {
            let t = next_text(&mut healthy).await;
            assert_eq!(t, format!("{got:05}{}", "x".repeat(16_000)));
            got += 1;
        }
        got
    });
    // The publisher never waits: 2,000 x 16 KB (more than the kernel's socket buffers hold
    // for the silent client) into the queues.
    let mut overflowed = 0;
    for i in 0..2_000 {
        let report = handle.broadcast(&Message::text(format!("{i:05}{}", "x".repeat(16_000))));
        overflowed += report.overflowed;
        // A healthy reader is a burst behind at most: pace the publisher on it (never on
        // the silent one).
        if i % 50 == 49 {
            wait_for(|| healthy_ref.queued_bytes() < 1 << 20).await;
        }
    }
    assert_eq!(overflowed, 1, "the silent client overflowed once");
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(20), reader)
            .await
            .unwrap()
            .unwrap(),
        2_000
    );
    // The silent client is gone within the close timeout, with no help from it.
    wait_for(|| handle.client_count() == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_drop_counts_and_keeps_the_client() {
    let builder = ServerBuilder::new()
        .router(chat_router())
        .queue_limit(64 << 10)
        .overflow(Overflow::Drop);
    let (base, handle, _task) = start(builder).await;
    let _slow = raw_silent_client(&base);
    wait_for(|| handle.client_count() == 1).await;
    let c = handle.clients().remove(0);
    let mut dropped = 0;
    for _ in 0..1_000 {
        if c.send(Message::binary(vec![0u8; 4096])) == Delivery::Dropped {
            dropped += 1;
        }
    }
    assert!(dropped > 0);
    assert_eq!(c.dropped(), dropped);
    assert!(c.is_open());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_protocols_and_plain_http() {
    let page = |r: &PlainRequest| {
        (r.path() == "/").then(|| Reject {
            status: 200,
            body: b"<html>hi</html>".to_vec(),
            headers: vec![("Content-Type".into(), "text/html".into())],
            ..Reject::default()
        })
    };
    let (base, _handle, _task) =
        start(ServerBuilder::new().router(chat_router()).plain_http(page)).await;
    let err = connect(&format!("{base}/nowhere"), ClientOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.response().map(|r| r.status), Some(404));
    // The route's preference order picks the subprotocol.
    let (mut ws, response) = connect(
        &format!("{base}/proto"),
        ClientOptions::default().protocol("v1").protocol("v2"),
    )
    .await
    .unwrap();
    assert_eq!(response.protocol(), Some("v2"));
    assert_eq!(next_text(&mut ws).await, "v2");
    // No acceptable subprotocol: no route.
    let err = connect(
        &format!("{base}/proto"),
        ClientOptions::default().protocol("v9"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.response().map(|r| r.status), Some(404));
    // A plain GET gets the page.
    let mut s = std::net::TcpStream::connect(base.trim_start_matches("ws://")).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("<html>hi</html>"));
    // A handler that returns closes its connection with 1000.
    let mut quiet = client(&base, "/quiet").await;
    match tokio::time::timeout(Duration::from_secs(5), quiet.next())
        .await
        .unwrap()
    {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::NORMAL),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_verification() {
    let seen_errors = Arc::new(AtomicUsize::new(0));
    let errors = seen_errors.clone();
    let builder = ServerBuilder::new()
        .router(chat_router())
        .max_connections(2)
        .verify(|request: &Request| {
            let token = request.header("Authorization").map(String::from);
            Decision::later(async move {
                match token.as_deref() {
                    Some("Bearer ok") => {
                        let mut accept = Accept::default();
                        accept
                            .headers
                            .push(Cookie::new("seen", "1").path("/").header());
                        Ok(accept)
                    }
                    _ => Err(Reject::new(401)),
                }
            })
        })
        .on_handshake_error(move |_, _| {
            errors.fetch_add(1, Ordering::SeqCst);
        });
    let (base, handle, _task) = start(builder).await;
    let ok = || ClientOptions::default().header("Authorization", "Bearer ok");
    let err = connect(&format!("{base}/ws"), ClientOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.response().map(|r| r.status), Some(401));
    let (_a, response) = connect(&format!("{base}/ws"), ok()).await.unwrap();
    assert_eq!(response.header("Set-Cookie"), Some("seen=1; Path=/"));
    let (_b, _) = connect(&format!("{base}/ws"), ok()).await.unwrap();
    wait_for(|| handle.client_count() == 2).await;
    let err = connect(&format!("{base}/ws"), ok()).await.unwrap_err();
    assert_eq!(err.response().map(|r| r.status), Some(503));
    wait_for(|| seen_errors.load(Ordering::SeqCst) == 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_proxy_address_and_user_data() {
    let builder: ServerBuilder<String> = ServerBuilder::new()
        .router(
            Router::<String>::default().route("/ws", |mut c| async move {
                while c.recv().await.is_some() {}
            }),
        )
        .trust_proxy(true)
        .user_data(|r: &Request| r.query().unwrap_or("").to_owned());
    let server: Server<String> = builder.bind("127.0.0.1:0").await.unwrap();
    let base = format!("ws://{}", server.local_addr().unwrap());
    let handle = server.handle();
    tokio::spawn(server.run());
    let options = ClientOptions::default().header("X-Forwarded-For", "203.0.113.9, 10.0.0.1");
    let (_ws, _) = connect(&format!("{base}/ws?alice"), options).await.unwrap();
    wait_for(|| handle.client_count() == 1).await;
    let c: ClientRef<String> = handle.clients().remove(0);
    assert_eq!(c.peer_addr().unwrap().ip().to_string(), "203.0.113.9");
    assert_eq!(c.data(), "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_closes_everyone_with_1001() {
    let (base, handle, task) = start(ServerBuilder::new().router(chat_router())).await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(client(&base, "/ws").await);
    }
    wait_for(|| handle.client_count() == 5).await;
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let mut close = None;
                while let Some(item) = ws.next().await {
                    if let Ok(Message::Close(frame)) = item {
                        close = frame.map(|f| f.code);
                    }
                }
                close
            })
        })
        .collect();
    let started = std::time::Instant::now();
    handle
        .shutdown(CloseCode::GOING_AWAY, "bye", Duration::from_secs(5))
        .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    for r in readers {
        assert_eq!(r.await.unwrap(), Some(CloseCode::GOING_AWAY));
    }
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    // Nothing is accepted any more.
    assert!(matches!(
        connect(&format!("{base}/ws"), ClientOptions::default()).await,
        Err(Error::Io(_) | Error::Handshake(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pluggable_acceptor_wraps_each_stream() {
    let wrapped = Arc::new(AtomicUsize::new(0));
    let count = wrapped.clone();
    let builder = ServerBuilder::new()
        .router(chat_router())
        // Stands in for a TLS acceptor: any stream type will do.
        .acceptor(true, move |tcp: TcpStream| {
            count.fetch_add(1, Ordering::SeqCst);
            async move { Ok(tcp) }
        })
        .verify(|request: &Request| {
            Decision::Now(if request.is_secure() {
                Ok(Accept::default())
            } else {
                Err(Reject::new(400))
            })
        });
    let (base, handle, _task) = start(builder).await;
    let mut a = client(&base, "/ws").await;
    wait_for(|| handle.client_count() == 1).await;
    a.send(Message::text("through the acceptor")).await.unwrap();
    assert_eq!(next_text(&mut a).await, "through the acceptor");
    assert_eq!(wrapped.load(Ordering::SeqCst), 1);
}
