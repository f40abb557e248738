//! The `tracing` events: handshakes accepted, rejected (400 from the handshake, 403 from the
//! application) and timed out, protocol errors with their close code, normal closes, close
//! timeouts, and the server's connection limit. A capturing layer records every event of
//! target `wsproto` on the test's thread (`#[tokio::test]` runs on one thread).
#![cfg(all(feature = "tracing", feature = "tokio"))]

mod common;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::cframe;
use common::io::{read_head_tokio, upgrade_request};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use wsproto::handshake::{Accept, ClientOptions, Reject, Request, ServerOptions};
use wsproto::io::on_tokio::{WebSocket, accept, accept_with, connect, connect_with};
use wsproto::io::{AcceptOptions, ConnectOptions, Error};
use wsproto::{CloseCode, Config};

/// One captured event: its level, message and fields (values as text).
#[derive(Clone, Debug)]
struct Captured {
    level: Level,
    message: String,
    fields: BTreeMap<String, String>,
}

impl Captured {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

struct Fields<'a>(&'a mut Captured);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record(field, format!("{value:?}"));
    }
}

impl Fields<'_> {
    fn record(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.0.message = value;
        } else {
            self.0.fields.insert(field.name().to_string(), value);
        }
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "wsproto" {
            return;
        }
        let mut captured = Captured {
            level: *event.metadata().level(),
            message: String::new(),
            fields: BTreeMap::new(),
        };
        event.record(&mut Fields(&mut captured));
        self.0.lock().unwrap().push(captured);
    }
}

impl Capture {
    /// Captures this thread's events until the guard drops.
    fn install() -> (Capture, impl Sized) {
        let capture = Capture::default();
        let guard = tracing_subscriber::registry()
            .with(capture.clone())
            .set_default();
        (capture, guard)
    }

    /// The events with this message.
    fn named(&self, message: &str) -> Vec<Captured> {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter(|e| e.message == message)
            .cloned()
            .collect()
    }

    /// The one event with this message and role.
    fn one(&self, message: &str, role: &str) -> Captured {
        let found: Vec<_> = self
            .named(message)
            .into_iter()
            .filter(|e| e.field("role") == Some(role))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "{message} ({role}): {:#?}",
            self.0.lock().unwrap()
        );
        found.into_iter().next().unwrap()
    }
}

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/chat", listener.local_addr().unwrap());
    (listener, url)
}

type Accepted = Result<(WebSocket<TcpStream>, SocketAddr), Error>;

/// A server task accepting one TCP connection with `decide`, and its URL.
async fn serve_one(
    decide: fn(&Request) -> Result<Accept, Reject>,
) -> (JoinHandle<Accepted>, String) {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, addr) = listener.accept().await.unwrap();
        let ws = accept_with(tcp, AcceptOptions::default(), decide).await?;
        Ok((ws, addr))
    });
    (server, url)
}

#[tokio::test]
async fn accepted_handshake_and_normal_close() {
    let (capture, _guard) = Capture::install();
    let (server, url) = serve_one(|_| Ok(Accept::default())).await;
    let (mut client, response) = connect(&url, ClientOptions::default()).await.unwrap();
    assert_eq!(response.status, 101);
    let (ws, client_addr) = server.await.unwrap().unwrap();
    let echo = tokio::spawn(common::io::echo(ws));
    client.close(CloseCode::NORMAL, "bye").await.unwrap();
    echo.await.unwrap();

    let accepted = capture.one("handshake accepted", "server");
    assert_eq!(accepted.level, Level::DEBUG);
    assert_eq!(
        accepted.field("peer"),
        Some(client_addr.to_string().as_str())
    );
    assert_eq!(accepted.field("path"), Some("/chat"));

    let done = capture.one("handshake done", "client");
    assert_eq!(done.level, Level::DEBUG);
    assert_eq!(done.field("url"), Some(url.as_str()));
    assert_eq!(done.field("status"), Some("101"));

    // Both sides log the close: the server gets ours, we get its reply (same code and
    // reason, echoed).
    for role in ["server", "client"] {
        let closed = capture.one("connection closed", role);
        assert_eq!(closed.level, Level::DEBUG);
        assert_eq!(closed.field("close_code"), Some("1000"));
        assert_eq!(closed.field("reason"), Some("bye"));
    }
    let server_closed = capture.one("connection closed", "server");
    assert_eq!(
        server_closed.field("peer"),
        Some(client_addr.to_string().as_str())
    );
    assert!(capture.named("protocol error").is_empty());
}

/// A server task accepting one connection with `accept`, and the raw client's stream.
async fn raw_client() -> (JoinHandle<Result<WebSocket<TcpStream>, Error>>, TcpStream) {
    let (listener, _) = listener().await;
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        accept(tcp).await
    });
    (server, TcpStream::connect(addr).await.unwrap())
}

#[tokio::test]
async fn rejected_with_400_for_a_missing_key() {
    let (capture, _guard) = Capture::install();
    let (server, mut raw) = raw_client().await;
    let request =
        upgrade_request("/").replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
    raw.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    raw.read_to_end(&mut answer).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 400"));
    assert!(server.await.unwrap().is_err());

    let rejected = capture.one("handshake rejected", "server");
    assert_eq!(rejected.level, Level::INFO);
    assert_eq!(rejected.field("status"), Some("400"));
    assert_eq!(
        rejected.field("peer"),
        Some(raw.local_addr().unwrap().to_string().as_str())
    );
    let reason = rejected.field("reason").unwrap();
    assert!(reason.contains("Sec-WebSocket-Key"), "{reason}");
}

#[tokio::test]
async fn rejected_with_403_by_the_callback() {
    let (capture, _guard) = Capture::install();
    let (server, url) = serve_one(|_| Err(Reject::new(403))).await;
    let e = connect(&url, ClientOptions::default()).await.unwrap_err();
    assert_eq!(e.response().map(|r| r.status), Some(403));
    assert!(matches!(server.await.unwrap(), Err(Error::Rejected(403))));

    let rejected = capture.one("handshake rejected", "server");
    assert_eq!(rejected.level, Level::INFO);
    assert_eq!(rejected.field("status"), Some("403"));
    assert_eq!(
        rejected.field("reason"),
        Some("handshake rejected with HTTP 403")
    );
    let failed = capture.one("handshake failed", "client");
    assert_eq!(failed.level, Level::INFO);
    assert_eq!(failed.field("status"), Some("403"));
    assert_eq!(failed.field("url"), Some(url.as_str()));
    assert!(capture.named("handshake accepted").is_empty());
}

#[tokio::test]
async fn protocol_error_carries_its_close_code() {
    let (capture, _guard) = Capture::install();
    let (server, mut raw) = raw_client().await;
    raw.write_all(upgrade_request("/").as_bytes())
        .await
        .unwrap();
    read_head_tokio(&mut raw).await.unwrap();
    let mut ws = server.await.unwrap().unwrap();
    // Opcode 0x3 is reserved.
    raw.write_all(&cframe(true, 0x3, b"")).await.unwrap();
    let e = ws.next().await.unwrap().unwrap_err();
    assert_eq!(e.close_code(), Some(CloseCode::PROTOCOL_ERROR));

    let event = capture.one("protocol error", "server");
    assert_eq!(event.level, Level::INFO);
    assert_eq!(event.field("close_code"), Some("1002"));
    assert_eq!(
        event.field("peer"),
        Some(raw.local_addr().unwrap().to_string().as_str())
    );
    assert!(event.field("error").is_some_and(|e| !e.is_empty()));
}

#[tokio::test(start_paused = true)]
async fn close_timeout() {
    let (capture, _guard) = Capture::install();
    let (mut a, b) = duplex(64 * 1024);
    let config = Config::new().close_timeout(Duration::from_secs(5));
    let server = tokio::spawn(async move {
        let mut ws = accept_with(
            b,
            ServerOptions::default().config(config),
            wsproto::io::AcceptAll,
        )
        .await
        .unwrap();
        ws.close(CloseCode::NORMAL, "").await
    });
    a.write_all(upgrade_request("/").as_bytes()).await.unwrap();
    read_head_tokio(&mut a).await.unwrap();
    // The client reads our Close and never answers.
    let result = server.await.unwrap();
    assert!(
        matches!(
            result,
            Err(Error::Connection(wsproto::Error::TimedOut(
                wsproto::Timeout::Close
            )))
        ),
        "{result:?}"
    );
    let event = capture.one("timed out", "server");
    assert_eq!(event.level, Level::INFO);
    assert_eq!(event.field("timeout"), Some("close"));
    assert_eq!(event.field("close_code"), Some("1006"));
    drop(a);
}

#[tokio::test(start_paused = true)]
async fn handshake_timeouts() {
    let (capture, _guard) = Capture::install();
    // Server: a request that never completes.
    let (mut a, b) = duplex(1024);
    let server = tokio::spawn(accept(b));
    a.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    assert!(matches!(
        server.await.unwrap(),
        Err(Error::HandshakeTimeout)
    ));
    let event = capture.one("handshake timed out", "server");
    assert_eq!(event.level, Level::INFO);
    assert_eq!(event.field("timeout"), Some("handshake"));

    // Client: a server that never answers.
    let (c, _silent) = duplex(1024);
    let options = ConnectOptions::new(ClientOptions::default())
        .handshake_timeout(Some(Duration::from_secs(3)));
    let e = connect_with(c, "ws://example.com/x", options)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::HandshakeTimeout), "{e:?}");
    let event = capture.one("handshake timed out", "client");
    assert_eq!(event.level, Level::INFO);
    assert_eq!(event.field("url"), Some("ws://example.com/x"));
    assert_eq!(event.field("timeout"), Some("handshake"));
}

#[tokio::test]
async fn server_connection_limit_is_a_warning() {
    use wsproto::server::{Router, ServerBuilder};
    let (capture, _guard) = Capture::install();
    let router = Router::new().route("/", |mut client| async move {
        while client.recv().await.is_some() {}
    });
    let server = ServerBuilder::<()>::new()
        .router(router)
        .max_connections(1)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("ws://{}/", server.local_addr().unwrap());
    let handle = server.handle();
    let running = tokio::spawn(server.run());
    let (mut first, _) = connect(&url, ClientOptions::default()).await.unwrap();
    let e = connect(&url, ClientOptions::default()).await.unwrap_err();
    assert_eq!(e.response().map(|r| r.status), Some(503));

    let over = capture.one("connection over limit", "server");
    assert_eq!(over.level, Level::WARN);
    assert_eq!(over.field("limit"), Some("max_connections"));
    assert_eq!(over.field("max"), Some("1"));
    let rejected = capture.one("handshake rejected", "server");
    assert_eq!(rejected.field("status"), Some("503"));

    first.close(CloseCode::NORMAL, "").await.unwrap();
    handle
        .shutdown(CloseCode::GOING_AWAY, "", Duration::from_secs(1))
        .await;
    running.await.unwrap().unwrap();
    let down = capture.one("server shut down", "server");
    assert_eq!(down.level, Level::INFO);
    assert_eq!(down.field("forced"), Some("false"));
}
