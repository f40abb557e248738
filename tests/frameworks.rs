//! hyper 1.x and axum 0.8 integration (`wsproto::upgrade`), two ways:
//!
//! * the library API in process: `upgrade::hyper::Upgrade` on a request with exact statuses,
//!   headers and bodies for invalid upgrades; a real hyper server and a real axum server in
//!   this process, with the server-side `WebSocket` reporting the negotiated subprotocol,
//!   permessage-deflate parameters, request and peer address;
//! * the `hyper_echo` and `axum_echo` examples end to end, as other tools drive them: the
//!   binary on a free port, its `LISTENING` line, `GET /`, invalid upgrades at `/ws`, and the
//!   `echo_server` behaviour (echo of text and binary up to 64 KiB, permessage-deflate,
//!   `--protocol` selection, `__server_close__` → Close 4001 "server-initiated"), and exit
//!   status 0 on SIGTERM; `echo_server` itself against the same WebSocket checks.
#![cfg(all(feature = "axum", feature = "hyper", unix))]

mod common;

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use wsproto::CloseCode;
use wsproto::deflate::{Agreed, DeflateConfig};
use wsproto::handshake::{ClientOptions, HandshakeError, Response};
use wsproto::io::on_tokio::{ClientStream, WebSocket, connect};
use wsproto::io::{CloseFrame, Message};
use wsproto::upgrade::hyper::{Upgrade, Upgrading};
use wsproto::upgrade::{Body, Rejection};

use common::example;
use common::io::{Head, SAMPLE_ACCEPT, SAMPLE_KEY, pattern, read_head};

/// Bound on every wait of these tests.
const WAIT: Duration = Duration::from_secs(10);

// ---- raw HTTP/1.1 over std TCP ----

/// A response as received: the parsed head and the `Content-Length` body.
struct Answer {
    head: Head,
    body: Vec<u8>,
}

impl Answer {
    fn status(&self) -> &str {
        &self.head.start[1]
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }
}

/// Sends `request` (a whole HTTP/1.1 head) and reads the response head and its body.
fn exchange(addr: &str, request: &str) -> Answer {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let head = Head::parse(&read_head(&mut s).unwrap());
    let len: usize = head
        .header("Content-Length")
        .map_or(0, |v| v.parse().unwrap());
    let mut body = vec![0; len];
    s.read_exact(&mut body).unwrap();
    Answer { head, body }
}

/// Header edits: a name and its new value (`None` removes the header).
type Edits<'a> = &'a [(&'a str, Option<&'a str>)];

/// An upgrade request for `path` with the RFC 6455 sample key, with these header lines
/// replacing (same name) or adding to the valid ones; a value of `None` removes the header.
fn upgrade_head(method: &str, path: &str, edits: Edits<'_>) -> String {
    let mut headers = vec![
        ("Host", "x".to_owned()),
        ("Upgrade", "websocket".to_owned()),
        ("Connection", "Upgrade".to_owned()),
        ("Sec-WebSocket-Key", SAMPLE_KEY.to_owned()),
        ("Sec-WebSocket-Version", "13".to_owned()),
    ];
    for (name, value) in edits {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        if let Some(v) = value {
            headers.push((name, (*v).to_owned()));
        }
    }
    let mut out = format!("{method} {path} HTTP/1.1\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out
}

/// A plain GET (no upgrade), closing the connection after the answer.
fn plain_get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
}

// ---- the library API: rejections with exact statuses ----

fn http_request(method: &str, version: http::Version, edits: Edits<'_>) -> http::Request<()> {
    let head = upgrade_head(method, "/ws", edits);
    let head = Head::parse(head.as_bytes());
    let mut builder = http::Request::builder()
        .method(method)
        .uri("/ws")
        .version(version);
    for (n, v) in &head.headers {
        builder = builder.header(n.as_str(), v.as_slice());
    }
    builder.body(()).unwrap()
}

fn rejection(req: &mut http::Request<()>) -> Rejection {
    Upgrade::new(req).expect_err("the upgrade must be refused")
}

/// The response of a rejection, with its body.
fn rejection_response(rejection: Rejection) -> (http::response::Parts, Vec<u8>) {
    use http_body_util::BodyExt;
    let (parts, body) = rejection.response().into_parts();
    let body = futures_util::FutureExt::now_or_never(body.collect())
        .unwrap()
        .unwrap()
        .to_bytes()
        .to_vec();
    (parts, body)
}

#[test]
fn hyper_upgrade_rejects_invalid_requests_with_the_handshake_status() {
    const HTTP_10: http::Version = http::Version::HTTP_10;
    const HTTP_11: http::Version = http::Version::HTTP_11;
    const HTTP_2: http::Version = http::Version::HTTP_2;

    // No Upgrade header (a plain GET): 400, the handshake's message as a text body.
    let r = rejection(&mut http_request("GET", HTTP_11, &[("Upgrade", None)]));
    assert_eq!(r.status(), 400);
    assert_eq!(r.error(), Some(&HandshakeError::MissingUpgrade));
    let (parts, body) = rejection_response(r);
    assert_eq!(parts.status, 400);
    assert_eq!(parts.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(body, b"missing Upgrade: websocket\n");

    // Other checks of the handshake, each with its status and headers.
    let r = rejection(&mut http_request(
        "GET",
        HTTP_11,
        &[("Connection", Some("keep-alive"))],
    ));
    assert_eq!(
        (r.status(), r.error()),
        (400, Some(&HandshakeError::MissingConnectionUpgrade))
    );
    let r = rejection(&mut http_request(
        "GET",
        HTTP_11,
        &[("Sec-WebSocket-Key", Some("c2hvcnQ="))],
    ));
    assert_eq!(
        (r.status(), r.error()),
        (400, Some(&HandshakeError::InvalidKey))
    );
    let r = rejection(&mut http_request("GET", HTTP_10, &[]));
    assert_eq!(
        (r.status(), r.error()),
        (400, Some(&HandshakeError::UnsupportedHttpVersion))
    );
    let r = rejection(&mut http_request("GET", HTTP_2, &[]));
    assert_eq!(
        (r.status(), r.error()),
        (400, Some(&HandshakeError::UnsupportedHttpVersion))
    );

    let r = rejection(&mut http_request("POST", HTTP_11, &[]));
    assert_eq!(
        (r.status(), r.error()),
        (405, Some(&HandshakeError::MethodNotAllowed))
    );
    let (parts, _) = rejection_response(r);
    assert_eq!(parts.status, 405);
    assert_eq!(parts.headers["allow"], "GET");

    let r = rejection(&mut http_request(
        "GET",
        HTTP_11,
        &[("Sec-WebSocket-Version", Some("12"))],
    ));
    assert_eq!(
        (r.status(), r.error()),
        (426, Some(&HandshakeError::UnsupportedVersion))
    );
    let (parts, body) = rejection_response(r);
    assert_eq!(parts.status, 426);
    assert_eq!(parts.headers["sec-websocket-version"], "13, 8");
    assert_eq!(body, b"unsupported Sec-WebSocket-Version\n");

    // A valid request hyper cannot upgrade (no OnUpgrade: it never went through a server).
    let r = rejection(&mut http_request("GET", HTTP_11, &[]));
    assert_eq!((r.status(), r.error()), (426, None));
    let (parts, _) = rejection_response(r);
    assert_eq!(parts.status, 426);
    assert_eq!(parts.headers["upgrade"], "websocket");
    assert_eq!(parts.headers.get("sec-websocket-version"), None);
}

#[tokio::test]
async fn axum_extractor_rejects_invalid_requests_with_the_handshake_status() {
    use axum::extract::FromRequestParts;
    use axum::response::IntoResponse;
    use wsproto::upgrade::axum::WebSocketUpgrade;

    // Method, header edits, status, a header the response must carry.
    type Case<'a> = (&'a str, Edits<'a>, u16, Option<(&'a str, &'a str)>);
    let cases: [Case<'_>; 4] = [
        ("GET", &[("Upgrade", None)], 400, None),
        ("PUT", &[], 405, Some(("allow", "GET"))),
        (
            "GET",
            &[("Sec-WebSocket-Version", Some("7"))],
            426,
            Some(("sec-websocket-version", "13, 8")),
        ),
        // Valid, but not from a server that can upgrade.
        ("GET", &[], 426, Some(("upgrade", "websocket"))),
    ];
    for (method, edits, status, header) in cases {
        let (mut parts, ()) = http_request(method, http::Version::HTTP_11, edits).into_parts();
        let rejection = WebSocketUpgrade::from_request_parts(&mut parts, &())
            .await
            .expect_err("the extractor must refuse");
        assert_eq!(rejection.status(), status, "{method} {edits:?}");
        let response = rejection.into_response();
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        if let Some((name, value)) = header {
            assert_eq!(response.headers()[name], value, "{method} {edits:?}");
        }
    }
}

// ---- the library API in a real hyper server ----

/// What the server side saw once upgraded.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    protocol: Option<String>,
    deflate: Option<Agreed>,
    path: String,
    peer_addr: Option<SocketAddr>,
}

fn seen<T: wsproto::io::nonblocking::PollIo>(ws: &wsproto::io::nonblocking::WebSocket<T>) -> Seen {
    Seen {
        protocol: ws.protocol().map(String::from),
        deflate: ws.deflate(),
        path: ws
            .request()
            .map(|r| r.path().to_owned())
            .unwrap_or_default(),
        peer_addr: ws.peer_addr(),
    }
}

/// Echoes data messages until the stream ends.
async fn echo<T: wsproto::io::nonblocking::PollIo>(mut ws: wsproto::io::nonblocking::WebSocket<T>) {
    while let Some(Ok(message)) = ws.next().await {
        if message.is_data() && ws.send(message).await.is_err() {
            break;
        }
    }
}

/// A hyper server in this process: `/ws` upgrades with `configure` applied, reports what the
/// `Upgrading` and the server's `WebSocket` saw, and echoes.
async fn hyper_server(
    configure: fn(Upgrade) -> Upgrade,
    with_upgrades: bool,
) -> (SocketAddr, mpsc::UnboundedReceiver<Result<Seen, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (stream, peer) = listener.accept().await.unwrap();
            let tx = tx.clone();
            let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                let tx = tx.clone();
                async move {
                    let upgrade = match Upgrade::new(&mut req) {
                        Ok(upgrade) => configure(upgrade.peer_addr(Some(peer))),
                        Err(rejection) => return Ok::<_, Infallible>(rejection.response()),
                    };
                    let (response, upgrading): (http::Response<Body>, Upgrading) =
                        match upgrade.accept() {
                            Ok(accepted) => accepted,
                            Err(rejection) => return Ok(rejection.response()),
                        };
                    tokio::spawn(async move {
                        // The negotiated values are known before the upgrade completes too.
                        let early = (upgrading.protocol().map(String::from), upgrading.deflate());
                        match upgrading.websocket().await {
                            Ok(ws) => {
                                let s = seen(&ws);
                                assert_eq!((s.protocol.clone(), s.deflate), early);
                                let _ = tx.send(Ok(s));
                                echo(ws).await;
                            }
                            Err(e) => {
                                let _ = tx.send(Err(e.to_string()));
                            }
                        }
                    });
                    Ok(response)
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            tokio::spawn(async move {
                let conn = http1::Builder::new().serve_connection(io, service);
                if with_upgrades {
                    let _ = conn.with_upgrades().await;
                } else {
                    let _ = conn.await;
                }
            });
        }
    });
    (addr, rx)
}

async fn next_seen(rx: &mut mpsc::UnboundedReceiver<Result<Seen, String>>) -> Result<Seen, String> {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap()
}

/// The permessage-deflate parameters the default offer and the default server agree on.
const DEFAULT_AGREED: Agreed = Agreed {
    server_no_context_takeover: false,
    client_no_context_takeover: false,
    server_max_window_bits: 15,
    client_max_window_bits: 15,
};

async fn echo_round_trip(ws: &mut WebSocket<ClientStream>, message: Message) {
    ws.send(message.clone()).await.unwrap();
    let echoed = tokio::time::timeout(WAIT, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(echoed, message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_upgrade_negotiates_and_reports_on_both_sides() {
    let (addr, mut rx) = hyper_server(
        |u| {
            u.protocols(["chat.v1", "chat.v2"])
                .header("Set-Cookie", "seen=1")
        },
        true,
    )
    .await;

    // The client prefers chat.v2; the server lists chat.v1 first: the client's order wins.
    let options = ClientOptions::new()
        .protocol("x-unknown")
        .protocol("chat.v2")
        .protocol("chat.v1");
    let (mut ws, response): (_, Response) = connect(&format!("ws://{addr}/ws?room=1"), options)
        .await
        .unwrap();
    assert_eq!(response.status, 101);
    assert_eq!(response.protocol(), Some("chat.v2"));
    assert_eq!(
        response.header("Sec-WebSocket-Extensions"),
        Some("permessage-deflate")
    );
    assert_eq!(response.header("Set-Cookie"), Some("seen=1"));
    assert_eq!(ws.protocol(), Some("chat.v2"));
    assert_eq!(ws.deflate(), Some(DEFAULT_AGREED));

    let server = next_seen(&mut rx).await.unwrap();
    let local = ws.get_ref().tcp().local_addr().unwrap();
    assert_eq!(
        server,
        Seen {
            protocol: Some("chat.v2".into()),
            deflate: Some(DEFAULT_AGREED),
            path: "/ws".into(),
            peer_addr: Some(local),
        }
    );

    echo_round_trip(&mut ws, Message::text("héllo")).await;
    echo_round_trip(&mut ws, Message::binary(pattern(64 << 10))).await;
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_upgrade_without_deflate_or_common_protocol() {
    let (addr, mut rx) = hyper_server(|u| u.protocols(["chat.v1"]).no_deflate(), true).await;
    let options = ClientOptions::new().protocol("other");
    let (mut ws, response) = connect(&format!("ws://{addr}/ws"), options).await.unwrap();
    assert_eq!(response.protocol(), None);
    assert_eq!(response.header("Sec-WebSocket-Extensions"), None);
    assert_eq!((ws.protocol(), ws.deflate()), (None, None));
    let server = next_seen(&mut rx).await.unwrap();
    assert_eq!((server.protocol, server.deflate), (None, None));
    echo_round_trip(&mut ws, Message::text("plain")).await;

    // Deflate with chosen parameters: the server grants no context takeover.
    let (addr, mut rx) = hyper_server(
        |u| u.deflate(DeflateConfig::new().server_no_context_takeover(true)),
        true,
    )
    .await;
    let (mut ws, response) = connect(&format!("ws://{addr}/ws"), ClientOptions::new())
        .await
        .unwrap();
    assert_eq!(
        response.header("Sec-WebSocket-Extensions"),
        Some("permessage-deflate; server_no_context_takeover")
    );
    let agreed = Agreed {
        server_no_context_takeover: true,
        ..DEFAULT_AGREED
    };
    assert_eq!(ws.deflate(), Some(agreed));
    assert_eq!(next_seen(&mut rx).await.unwrap().deflate, Some(agreed));
    echo_round_trip(&mut ws, Message::text("x".repeat(5000))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_upgrade_101_is_byte_exact_and_invalid_requests_get_their_status() {
    let (addr, _rx) = hyper_server(|u| u, true).await;
    let addr = addr.to_string();
    tokio::task::spawn_blocking(move || {
        // The 101 for the RFC 6455 sample key (no extension offered: no extension header).
        let a = exchange(&addr, &upgrade_head("GET", "/ws", &[]));
        assert_eq!(a.head.start[..3], ["HTTP/1.1", "101", "Switching"]);
        assert_eq!(a.header("Upgrade"), Some("websocket"));
        assert_eq!(a.header("Connection"), Some("Upgrade"));
        assert_eq!(a.header("Sec-WebSocket-Accept"), Some(SAMPLE_ACCEPT));
        assert_eq!(a.header("Sec-WebSocket-Extensions"), None);
        assert_eq!(a.header("Sec-WebSocket-Protocol"), None);

        let a = exchange(&addr, &plain_get("/ws"));
        assert_eq!(a.status(), "400");
        assert_eq!(a.header("Content-Type"), Some("text/plain; charset=utf-8"));
        assert_eq!(a.body, b"missing Upgrade: websocket\n");
        let a = exchange(
            &addr,
            &upgrade_head("GET", "/ws", &[("Sec-WebSocket-Version", Some("12"))]),
        );
        assert_eq!(a.status(), "426");
        assert_eq!(a.header("Sec-WebSocket-Version"), Some("13, 8"));
        let a = exchange(&addr, &upgrade_head("DELETE", "/ws", &[]));
        assert_eq!(a.status(), "405");
        assert_eq!(a.header("Allow"), Some("GET"));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_upgrade_fails_cleanly_without_with_upgrades() {
    // Served without `with_upgrades()`: the 101 goes out but hyper never hands the stream
    // over; the waiting side gets an I/O error instead of hanging.
    let (addr, mut rx) = hyper_server(|u| u, false).await;
    let _ = connect(&format!("ws://{addr}/ws"), ClientOptions::new()).await;
    let error = next_seen(&mut rx).await.unwrap_err();
    assert!(!error.is_empty());
}

// ---- the axum extractor in a real axum server ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_extractor_negotiates_and_reports_on_both_sides() {
    use axum::Router;
    use axum::extract::State;
    use axum::response::Response as AxumResponse;
    use axum::routing::get;
    use wsproto::upgrade::axum::WebSocketUpgrade;

    type Tx = mpsc::UnboundedSender<Result<Seen, String>>;
    async fn handler(State(tx): State<Tx>, upgrade: WebSocketUpgrade) -> AxumResponse {
        assert_eq!(upgrade.request().protocols(), ["b", "a"]);
        let upgrade = upgrade.protocols(["a", "b"]);
        assert_eq!(upgrade.selected_protocol(), Some("b"));
        upgrade.on_upgrade(move |ws| async move {
            let _ = tx.send(Ok(seen(&ws)));
            echo(ws).await;
        })
    }

    let (tx, mut rx) = mpsc::unbounded_channel();
    let app = Router::new().route("/chat", get(handler)).with_state(tx);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });

    let options = ClientOptions::new().protocol("b").protocol("a");
    let (mut ws, response) = connect(&format!("ws://{addr}/chat"), options)
        .await
        .unwrap();
    assert_eq!(response.protocol(), Some("b"));
    assert_eq!(
        response.header("Sec-WebSocket-Extensions"),
        Some("permessage-deflate")
    );
    let server = next_seen(&mut rx).await.unwrap();
    assert_eq!(
        server,
        Seen {
            protocol: Some("b".into()),
            deflate: Some(DEFAULT_AGREED),
            path: "/chat".into(),
            peer_addr: Some(ws.get_ref().tcp().local_addr().unwrap()),
        }
    );
    echo_round_trip(&mut ws, Message::binary(pattern(64 << 10))).await;

    // The extractor's rejection through axum: a plain GET is 400.
    let addr = addr.to_string();
    let a = tokio::task::spawn_blocking(move || exchange(&addr, &plain_get("/chat")))
        .await
        .unwrap();
    assert_eq!(a.status(), "400");
    assert_eq!(a.body, b"missing Upgrade: websocket\n");
}

// ---- the examples end to end ----

async fn next_message(ws: &mut WebSocket<ClientStream>) -> Option<Message> {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no message in time")
        {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(item) => return Some(item.unwrap()),
            None => return None,
        }
    }
}

/// `GET /`, and invalid upgrades at `/ws`, as raw HTTP/1.1.
fn example_http(name: &str) {
    let server = example::start(name, &[]);
    let a = exchange(&server.addr, &plain_get("/"));
    assert_eq!(a.status(), "200", "{name}");
    assert!(
        a.header("Content-Type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{name}: {:?}",
        a.header("Content-Type")
    );
    assert!(!a.body.is_empty());

    let a = exchange(&server.addr, &plain_get("/ws"));
    assert_eq!(a.status(), "400", "{name}");
    let a = exchange(
        &server.addr,
        &upgrade_head("GET", "/ws", &[("Sec-WebSocket-Version", Some("12"))]),
    );
    assert_eq!(a.status(), "426", "{name}");
    assert_eq!(a.header("Sec-WebSocket-Version"), Some("13, 8"), "{name}");
    let a = exchange(&server.addr, &upgrade_head("POST", "/ws", &[]));
    assert_eq!(a.status(), "405", "{name}");
    assert_eq!(a.header("Allow"), Some("GET"), "{name}");
    let a = exchange(&server.addr, &plain_get("/nope"));
    assert_eq!(a.status(), "404", "{name}");
}

/// The `echo_server` behaviour at `/ws`.
async fn example_websocket(name: &str) {
    let server = example::start(name, &["--protocol", "echo.v1", "--protocol", "echo.v2"]);
    let url = format!("ws://{}/ws", server.addr);

    // `--protocol` selection: the first offered that is in the list.
    let options = ClientOptions::new()
        .protocol("x")
        .protocol("echo.v2")
        .protocol("echo.v1");
    let (mut ws, response) = connect(&url, options).await.unwrap();
    assert_eq!(response.protocol(), Some("echo.v2"), "{name}");
    assert_eq!(ws.protocol(), Some("echo.v2"));
    assert_eq!(
        response.header("Sec-WebSocket-Extensions"),
        Some("permessage-deflate"),
        "{name}"
    );
    assert_eq!(ws.deflate(), Some(DEFAULT_AGREED));

    let big_text: String = (0..64 << 10)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    for message in [
        Message::text("hello ✓ 🎉"),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::text(""),
        Message::binary(pattern(64 << 10)),
        Message::text(big_text),
    ] {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(next_message(&mut ws).await, Some(message), "{name}");
    }

    ws.send(Message::text("__server_close__")).await.unwrap();
    assert_eq!(
        next_message(&mut ws).await,
        Some(Message::Close(Some(CloseFrame::new(
            CloseCode::from(4001),
            "server-initiated"
        )))),
        "{name}"
    );
    assert_eq!(next_message(&mut ws).await, None, "{name}");

    // No subprotocol in common, no deflate offered: neither is negotiated.
    let options = ClientOptions::new().protocol("other").no_extensions();
    let (mut ws, response) = connect(&url, options).await.unwrap();
    assert_eq!(response.protocol(), None);
    assert_eq!(response.header("Sec-WebSocket-Extensions"), None);
    ws.send(Message::text("again")).await.unwrap();
    assert_eq!(next_message(&mut ws).await, Some(Message::text("again")));
}

/// `--no-deflate`: permessage-deflate is never negotiated.
async fn example_no_deflate(name: &str) {
    let server = example::start(name, &["--no-deflate"]);
    let (mut ws, response) = connect(&format!("ws://{}/ws", server.addr), ClientOptions::new())
        .await
        .unwrap();
    assert_eq!(response.header("Sec-WebSocket-Extensions"), None, "{name}");
    assert_eq!(ws.deflate(), None);
    ws.send(Message::binary(pattern(70_000))).await.unwrap();
    assert_eq!(
        next_message(&mut ws).await,
        Some(Message::binary(pattern(70_000)))
    );
}

/// SIGTERM: the example exits with status 0.
fn example_sigterm(name: &str) {
    let mut server = example::start(name, &[]);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "{name}: {status:?}");
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn hyper_echo_http() {
    example_http("hyper_echo");
}

#[test]
fn axum_echo_http() {
    example_http("axum_echo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_echo_websocket() {
    example_websocket("hyper_echo").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_echo_websocket() {
    example_websocket("axum_echo").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_echo_no_deflate() {
    example_no_deflate("hyper_echo").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_echo_no_deflate() {
    example_no_deflate("axum_echo").await;
}

#[test]
fn hyper_echo_sigterm() {
    example_sigterm("hyper_echo");
}

#[test]
fn axum_echo_sigterm() {
    example_sigterm("axum_echo");
}

/// The reference the framework examples follow, sharing their echo loop: same behaviour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_server_websocket() {
    example_websocket("echo_server").await;
}
