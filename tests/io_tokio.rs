//! The tokio adapter over in-memory duplex streams and loopback TCP, with virtual time for
//! the timers.
#![cfg(feature = "tokio")]

mod common;

use std::time::Duration;

use common::cframe;
use common::io::{Head, echo, pattern, read_head_tokio, upgrade_request};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tokio::net::{TcpListener, TcpStream};
use wsproto::handshake::{Accept, ClientOptions, Reject, Request, ServerOptions};
use wsproto::io::on_tokio::{
    ClientStream, ReadHalf, WebSocket, WriteHalf, accept, accept_with, connect, connect_with,
};
use wsproto::io::{AcceptOptions, Bytes, CloseFrame, ConnectOptions, Error, Fragment, Message};
use wsproto::{CloseCode, Config, MessageKind, State, Timeout};

async fn duplex_pair(
    client: ClientOptions,
    server: ServerOptions,
) -> (WebSocket<DuplexStream>, WebSocket<DuplexStream>) {
    let (a, b) = duplex(64 * 1024);
    let server = tokio::spawn(async move {
        accept_with(b, server, |r: &Request| {
            let protocol = r.protocols().iter().find(|p| *p == "chat").cloned();
            Ok(Accept {
                protocol,
                ..Accept::default()
            })
        })
        .await
        .unwrap()
    });
    let (client, response) = connect_with(a, "ws://localhost/chat", client)
        .await
        .unwrap();
    assert_eq!(response.status, 101);
    (client, server.await.unwrap())
}

/// An echo server for one connection on a free loopback port: its address, and the
/// messages it saw once the connection is over.
async fn echo_server() -> (std::net::SocketAddr, tokio::task::JoinHandle<Vec<Message>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        echo(accept(stream).await.unwrap()).await
    });
    (addr, server)
}

/// A client of [`echo_server`], split into its halves.
async fn echo_client_halves() -> (
    ReadHalf<ClientStream>,
    WriteHalf<ClientStream>,
    tokio::task::JoinHandle<Vec<Message>>,
) {
    let (addr, server) = echo_server().await;
    let (ws, _) = connect(&format!("ws://{addr}/"), ClientOptions::default())
        .await
        .unwrap();
    let (read, write) = ws.split();
    (read, write, server)
}

#[tokio::test]
async fn duplex_echo_and_close() {
    let (mut client, server) = duplex_pair(
        ClientOptions::default().protocol("chat"),
        ServerOptions::default(),
    )
    .await;
    assert_eq!(client.protocol(), Some("chat"));
    assert_eq!(server.protocol(), Some("chat"));
    let server = tokio::spawn(echo(server));

    let sent = vec![
        Message::text("hello"),
        Message::text(""),
        Message::text("héllo ✓ 🎉"),
        Message::binary(vec![]),
        Message::binary(pattern(125)),
        Message::binary(pattern(70_000)),
    ];
    for m in &sent {
        client.send(m.clone()).await.unwrap();
        assert_eq!(client.next().await.unwrap().unwrap(), *m);
    }
    client.send(Message::ping(&b"p"[..])).await.unwrap();
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Message::pong(&b"p"[..])
    );

    client.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert_eq!(client.state(), State::Closed);
    assert!(client.next().await.is_none());
    let seen = server.await.unwrap();
    let mut expected = sent.clone();
    expected.push(Message::ping(&b"p"[..]));
    expected.push(Message::Close(Some(CloseFrame::new(
        CloseCode::NORMAL,
        "bye",
    ))));
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn server_initiated_close_is_an_event_then_the_end() {
    let (mut client, mut server) =
        duplex_pair(ClientOptions::default(), ServerOptions::default()).await;
    let server = tokio::spawn(async move {
        server
            .close(CloseCode::from(4001), "server-initiated")
            .await
            .unwrap();
    });
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Message::Close(Some(CloseFrame::new(
            CloseCode::from(4001),
            "server-initiated"
        )))
    );
    assert!(client.next().await.is_none());
    server.await.unwrap();
    // Sending after the close is refused, not a panic.
    assert!(matches!(
        client.send(Message::text("late")).await,
        Err(Error::Send(_))
    ));
}

#[tokio::test]
async fn tcp_loopback_echo() {
    let (addr, server) = echo_server().await;
    let (mut ws, response) = connect(&format!("ws://{addr}/x?y=1"), ClientOptions::default())
        .await
        .unwrap();
    assert_eq!(response.status, 101);
    let big = Message::binary(pattern(1 << 20));
    ws.send(big.clone()).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), big);
    // Sink + Stream: feed several, flush once.
    for i in 0..10 {
        ws.feed(Message::text(format!("m{i}"))).await.unwrap();
    }
    ws.flush().await.unwrap();
    for i in 0..10 {
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::text(format!("m{i}"))
        );
    }
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(server.await.unwrap().len(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_under_concurrent_load() {
    let (mut read, mut write, server) = echo_client_halves().await;
    const N: usize = 2000;
    let writer = tokio::spawn(async move {
        for i in 0..N {
            let m = if i % 3 == 0 {
                Message::binary(pattern(i * 37 % 20_000))
            } else {
                Message::text(format!("message {i}"))
            };
            write.send(m).await.unwrap();
        }
        write
    });
    let reader = tokio::spawn(async move {
        for i in 0..N {
            let expected = if i % 3 == 0 {
                Message::binary(pattern(i * 37 % 20_000))
            } else {
                Message::text(format!("message {i}"))
            };
            assert_eq!(read.next().await.unwrap().unwrap(), expected, "message {i}");
        }
        read
    });
    let mut write = writer.await.unwrap();
    let mut read = reader.await.unwrap();
    // Close from the write half while the read half sees the rest of the handshake.
    let closer = tokio::spawn(async move { write.close(CloseCode::NORMAL, "done").await });
    match read.next().await.unwrap().unwrap() {
        Message::Close(Some(frame)) => {
            assert_eq!(frame.code, CloseCode::NORMAL);
            // New: the close reply echoes our reason too (it used to echo only the code).
            assert_eq!(frame.reason, "done");
        }
        other => panic!("expected the server's Close, got {other:?}"),
    }
    assert!(read.next().await.is_none());
    closer.await.unwrap().unwrap();
    assert_eq!(server.await.unwrap().len(), N + 1);
}

/// Halves that were polled from two tasks (each left a waker behind, and a read was pending
/// when its future was dropped) are joined again and used from a third task: every wait of
/// the whole WebSocket is woken (a lost wake-up would hang the echoes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reunited_halves_are_woken_as_one() {
    let (mut read, mut write, server) = echo_client_halves().await;
    // A read pending in another task, dropped before anything arrives.
    let pending = tokio::spawn(async move {
        let waited = tokio::time::timeout(Duration::from_millis(20), read.next()).await;
        assert!(waited.is_err(), "nothing was sent yet");
        read
    });
    let read = pending.await.unwrap();
    write.send(Message::text("before")).await.unwrap();
    let mut ws = WebSocket::reunite(read, write).unwrap();
    let whole = tokio::spawn(async move {
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("before"));
        for i in 0..200 {
            ws.send(Message::text(format!("whole {i}"))).await.unwrap();
            let got = ws.next().await.unwrap().unwrap();
            assert_eq!(got, Message::text(format!("whole {i}")));
        }
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    });
    tokio::time::timeout(Duration::from_secs(20), whole)
        .await
        .expect("a wake-up was lost after reunite")
        .unwrap();
    assert_eq!(server.await.unwrap().len(), 202);
}

#[tokio::test(start_paused = true)]
async fn close_times_out_when_the_peer_never_answers() {
    let config = Config::new().close_timeout(Duration::from_secs(5));
    let (mut client, server) = duplex_pair(
        ClientOptions::default().config(config),
        ServerOptions::default(),
    )
    .await;
    // The server exists but is never polled: it never answers our Close.
    let started = tokio::time::Instant::now();
    let result = client.close(CloseCode::NORMAL, "").await;
    assert!(
        matches!(
            result,
            Err(Error::Connection(wsproto::Error::TimedOut(Timeout::Close)))
        ),
        "{result:?}"
    );
    assert_eq!(started.elapsed().as_secs(), 5);
    drop(server);
}

#[tokio::test(start_paused = true)]
async fn keepalive_detects_a_silent_peer() {
    let config = Config::new().keepalive(Some(Duration::from_secs(2)), Duration::from_secs(3));
    let (mut client, server) = duplex_pair(
        ClientOptions::default().config(config),
        ServerOptions::default(),
    )
    .await;
    // Never polled: the server never answers the pings.
    match client.next().await {
        Some(Err(Error::Connection(wsproto::Error::TimedOut(Timeout::Keepalive)))) => {}
        other => panic!("expected a keepalive timeout, got {other:?}"),
    }
    drop(server);
}

#[tokio::test(start_paused = true)]
async fn keepalive_is_answered_by_a_live_peer() {
    let config = Config::new().keepalive(Some(Duration::from_secs(2)), Duration::from_secs(3));
    let (mut client, server) = duplex_pair(
        ClientOptions::default().config(config),
        ServerOptions::default(),
    )
    .await;
    let server = tokio::spawn(echo(server));
    // A minute of virtual time: pings go out, pongs come back, nothing fails.
    let mut pongs = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while let Ok(item) = tokio::time::timeout_at(deadline, client.next()).await {
        match item.unwrap().unwrap() {
            Message::Pong(_) => pongs += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(pongs >= 10, "{pongs} pongs");
    client.close(CloseCode::NORMAL, "").await.unwrap();
    server.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn server_handshake_times_out_on_a_stalled_request() {
    let (mut a, b) = duplex(1024);
    let server = tokio::spawn(accept(b));
    a.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // ...and never the rest (slowloris).
    let started = tokio::time::Instant::now();
    assert!(matches!(
        server.await.unwrap(),
        Err(Error::HandshakeTimeout)
    ));
    assert_eq!(started.elapsed().as_secs(), 10);
}

#[tokio::test]
async fn rejection_reaches_the_client_with_the_response() {
    let (a, b) = duplex(4096);
    let server = tokio::spawn(async move {
        accept_with(b, AcceptOptions::default(), |_: &Request| {
            Err(Reject::new(403).body("go away"))
        })
        .await
    });
    let err = connect_with(a, "ws://localhost/", ClientOptions::default())
        .await
        .unwrap_err();
    let response = err.response().expect("the failed handshake's response");
    assert_eq!(response.status, 403);
    assert_eq!(response.body, b"go away");
    assert!(matches!(server.await.unwrap(), Err(Error::Rejected(403))));
}

#[tokio::test]
async fn invalid_request_gets_an_http_error() {
    let (mut a, b) = duplex(4096);
    let server = tokio::spawn(accept(b));
    a.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    a.read_to_end(&mut answer).await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 405"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(matches!(server.await.unwrap(), Err(Error::Handshake(_))));
}

#[tokio::test]
#[cfg(not(feature = "rustls"))]
async fn wss_without_a_stream_is_a_clear_error() {
    let err = connect("wss://127.0.0.1:1/", ClientOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TlsRequired(_)), "{err:?}");
}

/// A plain HTTP server that answers every request with a redirect to `location`.
async fn redirector(location: String) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let location = location.clone();
            tokio::spawn(async move {
                if read_head_tokio(&mut s).await.is_err() {
                    return;
                }
                let answer = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
                );
                s.write_all(answer.as_bytes()).await.unwrap();
            });
        }
    });
    addr
}

#[tokio::test]
async fn redirects_are_off_by_default_and_bounded_when_on() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let real = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move { echo(accept(stream).await.unwrap()).await });
        }
    });
    let hop = redirector(format!("http://{real}/final")).await;
    let url = format!("ws://{hop}/start");

    // Off by default: the 302 comes back with its Location.
    let err = connect(&url, ClientOptions::default()).await.unwrap_err();
    assert_eq!(err.response().unwrap().status, 302);
    assert_eq!(
        err.response().unwrap().location(),
        Some(format!("http://{real}/final").as_str())
    );

    // On: followed.
    let options = ConnectOptions::new(ClientOptions::default()).max_redirects(3);
    let (mut ws, response) = connect(&url, options).await.unwrap();
    assert_eq!(response.status, 101);
    ws.send(Message::text("after redirect")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("after redirect")
    );
    ws.close(CloseCode::NORMAL, "").await.unwrap();

    // A loop is cut off at the bound.
    let looping = redirector("/again".into()).await;
    let options = ConnectOptions::new(ClientOptions::default()).max_redirects(2);
    let err = connect(&format!("ws://{looping}/"), options)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooManyRedirects(_)), "{err:?}");
}

#[tokio::test]
async fn large_messages_stream_fragment_by_fragment() {
    let client_config = Config::new().fragment_size(Some(16 * 1024));
    let server_config = Config::new().assemble_messages(false);
    let (mut client, mut server) = duplex_pair(
        ClientOptions::default().config(client_config),
        ServerOptions::default().config(server_config),
    )
    .await;
    let data = pattern(256 * 1024);
    let sent = data.clone();
    let sender = tokio::spawn(async move {
        client.send(Message::binary(sent.clone())).await.unwrap();
        // And a message streamed out piece by piece.
        for (i, chunk) in sent.chunks(50_000).enumerate() {
            let last = (i + 1) * 50_000 >= sent.len();
            client
                .send(Message::Fragment(Fragment {
                    kind: MessageKind::Binary,
                    data: Bytes::copy_from_slice(chunk),
                    fin: last,
                }))
                .await
                .unwrap();
        }
        client
    });
    for _ in 0..2 {
        let mut got = Vec::new();
        let mut pieces = 0;
        loop {
            match server.next().await.unwrap().unwrap() {
                Message::Fragment(f) => {
                    assert_eq!(f.kind, MessageKind::Binary);
                    assert!(f.data.len() <= 64 * 1024);
                    got.extend_from_slice(&f.data);
                    pieces += 1;
                    if f.fin {
                        break;
                    }
                }
                other => panic!("expected fragments, got {other:?}"),
            }
        }
        assert!(pieces > 1);
        assert_eq!(got, data);
    }
    let mut client = sender.await.unwrap();
    let closer = tokio::spawn(async move { client.close(CloseCode::NORMAL, "").await });
    assert!(matches!(server.next().await, Some(Ok(Message::Close(_)))));
    assert!(server.next().await.is_none());
    closer.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn send_waits_while_the_queue_is_over_its_cap() {
    let config = Config::new().max_send_queue(16 * 1024);
    let (a, b) = duplex(1024);
    let server = tokio::spawn(accept(b));
    let (mut client, _) = connect_with(
        a,
        "ws://localhost/",
        ClientOptions::default().config(config),
    )
    .await
    .unwrap();
    let server = server.await.unwrap().unwrap();
    // The server never reads: the first big message fills the pipe and the queue.
    let first = tokio::time::timeout(
        Duration::from_secs(1),
        client.send(Message::binary(pattern(64 * 1024))),
    )
    .await;
    assert!(
        first.is_err(),
        "the send cannot complete while nobody reads"
    );
    assert!(client.buffered_amount() > 16 * 1024);
    // poll_ready stays pending while over the cap.
    let ready = tokio::time::timeout(
        Duration::from_secs(1),
        futures_util::future::poll_fn(|cx| {
            futures_util::Sink::<Message>::poll_ready(std::pin::Pin::new(&mut client), cx)
        }),
    )
    .await;
    assert!(ready.is_err());
    // Once the server reads, everything flows.
    let server = tokio::spawn(echo(server));
    client.flush().await.unwrap();
    assert_eq!(client.next().await.unwrap().unwrap().len(), 64 * 1024);
    client.close(CloseCode::NORMAL, "").await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn pongs_owed_by_the_reader_go_out_while_the_writer_is_idle() {
    // Raw client bytes: a masked ping from a "client" that does its own handshake is more work
    // than using the adapter on both sides; the server side is split and only its read half
    // is polled.
    let (client, server) = duplex_pair(ClientOptions::default(), ServerOptions::default()).await;
    let (mut server_read, _server_write) = server.split();
    let server = tokio::spawn(async move {
        let mut n = 0;
        while let Some(item) = server_read.next().await {
            if let Ok(Message::Ping(_)) = item {
                n += 1;
            }
        }
        n
    });
    let (mut client_read, mut client_write) = client.split();
    for i in 0..50u8 {
        client_write.send(Message::ping(vec![i])).await.unwrap();
        assert_eq!(
            client_read.next().await.unwrap().unwrap(),
            Message::pong(vec![i])
        );
    }
    drop(client_read);
    client_write.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(server.await.unwrap(), 50);
}

#[tokio::test]
async fn peer_vanishing_mid_message_ends_the_stream() {
    let (mut a, b) = duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let mut ws = accept(b).await.unwrap();
        let mut items = Vec::new();
        while let Some(item) = ws.next().await {
            items.push(item.map_err(|e| e.to_string()));
        }
        items
    });
    raw_client(&mut a).await;
    // Half a masked binary frame of 100 bytes, then gone.
    a.write_all(&[0x82, 0x80 | 100, 1, 2, 3, 4, 9, 9, 9])
        .await
        .unwrap();
    drop(a);
    let items = server.await.unwrap();
    // The end of the stream without a Close is reported as Close(1006), then the end.
    assert_eq!(
        items.last().cloned(),
        Some(Ok(Message::Close(Some(CloseFrame::new(
            CloseCode::ABNORMAL,
            ""
        )))))
    );
}

#[tokio::test]
async fn stream_sink_interop_with_raw_tcp_stream() {
    let (addr, server) = echo_server().await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (ws, _) = connect_with(stream, &format!("ws://{addr}/"), ClientOptions::default())
        .await
        .unwrap();
    let (mut sink, mut stream) = ws.split_sink_stream();
    sink.send(Message::text("x")).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap(), Message::text("x"));
    sink.close().await.unwrap();
    assert!(matches!(stream.next().await, Some(Ok(Message::Close(_)))));
    assert!(stream.next().await.is_none());
    server.await.unwrap();
}

trait SplitSinkStream: Sized {
    fn split_sink_stream(
        self,
    ) -> (
        futures_util::stream::SplitSink<Self, Message>,
        futures_util::stream::SplitStream<Self>,
    );
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> SplitSinkStream for WebSocket<S> {
    fn split_sink_stream(
        self,
    ) -> (
        futures_util::stream::SplitSink<Self, Message>,
        futures_util::stream::SplitStream<Self>,
    ) {
        StreamExt::split(self)
    }
}

/// Raw client side of a handshake over a duplex stream: sends the request, reads the 101.
async fn raw_client(a: &mut DuplexStream) {
    a.write_all(upgrade_request("/").as_bytes()).await.unwrap();
    let response = read_head_tokio(a).await.unwrap();
    assert!(response.starts_with(b"HTTP/1.1 101"));
}

#[tokio::test]
async fn server_closes_the_tcp_connection_right_after_a_failed_connection_is_closed() {
    let (mut a, b) = duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let mut ws = accept(b).await.unwrap();
        let mut items = Vec::new();
        while let Some(item) = ws.next().await {
            items.push(item.map_err(|e| e.close_code()));
        }
        items
    });
    raw_client(&mut a).await;
    // Invalid UTF-8 in a text frame: the server fails the connection with 1007.
    a.write_all(&cframe(true, 0x1, &[0xf7, 0xbf, 0xbf, 0xbf]))
        .await
        .unwrap();
    let mut close = [0u8; 4];
    a.read_exact(&mut close).await.unwrap();
    assert_eq!(close, [0x88, 0x02, 0x03, 0xef]);
    // Our Close reply: the server must then close the TCP connection at once.
    a.write_all(&cframe(true, 0x8, &[0x03, 0xe8]))
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), a.read_to_end(&mut rest))
        .await
        .expect("server closes TCP")
        .unwrap();
    assert!(rest.is_empty());
    drop(a);
    let items = server.await.unwrap();
    assert_eq!(items, vec![Err(Some(CloseCode::INVALID_PAYLOAD))]);
}

#[tokio::test(start_paused = true)]
async fn a_peer_flooding_pings_without_reading_cannot_grow_our_memory() {
    let (mut a, b) = duplex(4096);
    let server = tokio::spawn(async move { accept(b).await.unwrap() });
    raw_client(&mut a).await;
    let server = server.await.unwrap();
    let (mut read, write) = server.split();
    let reader = tokio::spawn(async move {
        let mut pings = 0u64;
        while let Some(Ok(Message::Ping(_))) = read.next().await {
            pings += 1;
        }
        pings
    });
    // 200 000 empty pings (1.2 MB) while never reading a single pong.
    let ping = cframe(true, 0x9, b"");
    let flood: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 200_000)
        .collect();
    let sent = tokio::time::timeout(Duration::from_secs(5), a.write_all(&flood)).await;
    assert!(
        sent.is_err(),
        "the server must stop reading while it cannot write its pongs"
    );
    // What the server holds stays bounded: the pipe is full and the owed pongs are capped.
    let buffered = write.buffered_amount();
    assert!(buffered <= 4 * 1024, "{buffered} bytes buffered");
    drop(a);
    reader.abort();
}

#[tokio::test]
async fn upgrade_done_by_another_http_server() {
    use wsproto::handshake::accept_parsed;
    use wsproto::io::on_tokio::from_session;
    use wsproto::session::Session;
    let (a, mut b) = duplex(64 * 1024);
    let server = tokio::spawn(async move {
        // "hyper": read and parse the request head itself...
        let head = Head::parse(&read_head_tokio(&mut b).await.unwrap());
        let (method, target) = (&head.start[0], &head.start[1]);
        let request =
            wsproto::handshake::Request::from_parts(method, target, &head.header_refs()).unwrap();
        assert_eq!(request.path(), "/upgraded");
        let (conn, parts) = accept_parsed(&request, Accept::default(), Config::new()).unwrap();
        // ...write the 101 itself, then hand the upgraded stream over.
        b.write_all(&parts.to_bytes()).await.unwrap();
        echo(from_session(b, Session::with_protocol(conn, None))).await
    });
    let (mut ws, response) = connect_with(a, "ws://localhost/upgraded", ClientOptions::default())
        .await
        .unwrap();
    assert_eq!(response.status, 101);
    ws.send(Message::text("through hyper")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("through hyper")
    );
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(server.await.unwrap().len(), 2);
}

#[tokio::test]
async fn permessage_deflate_between_adapters() {
    use wsproto::deflate::PerMessageDeflate;
    let (a, b) = duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let ws = accept_with(b, AcceptOptions::default(), |_: &Request| {
            Ok(Accept::default().extension(PerMessageDeflate::default()))
        })
        .await
        .unwrap();
        assert_eq!(ws.extensions().len(), 1);
        echo(ws).await
    });
    let options = ClientOptions::default().extension(PerMessageDeflate::default());
    let (mut ws, response) = connect_with(a, "ws://localhost/", options).await.unwrap();
    assert!(
        response
            .header("sec-websocket-extensions")
            .unwrap()
            .starts_with("permessage-deflate")
    );
    let text = "compress me ".repeat(50_000);
    ws.send(Message::text(text.clone())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text(text));
    let noise: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    ws.send(Message::binary(noise.clone())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::binary(noise));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(server.await.unwrap().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn write_half_close_is_bounded_even_if_the_read_half_is_idle() {
    let config = Config::new().close_timeout(Duration::from_secs(3));
    let (client, server) = duplex_pair(
        ClientOptions::default().config(config),
        ServerOptions::default(),
    )
    .await;
    let (_read, mut write) = client.split();
    // Neither the server nor our read half is polled: only the close timeout ends this.
    write.close(CloseCode::NORMAL, "").await.unwrap();
    drop(server);
}

#[tokio::test]
async fn accept_a_request_parsed_elsewhere() {
    let (a, mut b) = duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let head = Head::parse(&read_head_tokio(&mut b).await.unwrap());
        let request =
            wsproto::handshake::Request::from_parts("GET", "/parsed", &head.header_refs()).unwrap();
        let accept = Accept::default().protocol("p2");
        let ws = wsproto::io::on_tokio::accept_parsed(b, &request, accept, Config::new()).unwrap();
        assert_eq!(ws.protocol(), Some("p2"));
        echo(ws).await
    });
    let options = ClientOptions::default().protocol("p1").protocol("p2");
    let (mut ws, response) = connect_with(a, "ws://localhost/parsed", options)
        .await
        .unwrap();
    assert_eq!(response.protocol(), Some("p2"));
    ws.send(Message::text("parsed")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("parsed"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(server.await.unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn client_handshake_times_out_when_the_server_never_answers() {
    let (a, _b) = duplex(4096);
    let options = ConnectOptions::new(ClientOptions::default())
        .handshake_timeout(Some(Duration::from_secs(7)));
    let started = tokio::time::Instant::now();
    let err = connect_with(a, "ws://localhost/", options)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HandshakeTimeout), "{err:?}");
    assert_eq!(started.elapsed().as_secs(), 7);
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
}

#[test]
fn futures_and_types_are_send() {
    fn send<T: Send>(_: &T) {}
    fn sync<T: Sync>() {}
    let connect_future = connect("ws://127.0.0.1:1/", ClientOptions::default());
    send(&connect_future);
    let (a, _b) = duplex(16);
    let accept_future = accept(a);
    send(&accept_future);
    sync::<WebSocket<TcpStream>>();
    sync::<wsproto::io::on_tokio::ReadHalf<TcpStream>>();
    sync::<wsproto::io::on_tokio::WriteHalf<TcpStream>>();
    fn ws_send<T: Send>() {}
    ws_send::<WebSocket<TcpStream>>();
    #[cfg(feature = "futures-io")]
    ws_send::<wsproto::io::on_futures::WebSocket<smol::net::TcpStream>>();
}

/// Found by the loom model of the split halves (src/io/nonblocking/loom_halves.rs, issue 13):
/// a writer whose turn read the peer's text holds it for the reader and stops parsing there
/// (read gating). Once the reader has taken it, the writer must be woken to go on by itself,
/// here to read the peer's Close reply and finish `close`, though the reader does not read
/// again. It used to wait for the close timeout.
#[tokio::test]
async fn a_waiting_writer_goes_on_once_the_reader_takes_what_it_held() {
    use wsproto::session::Session;
    use wsproto::{Connection, Role};

    let (mut peer, ours) = duplex(64);
    let config = Config::new().close_timeout(Duration::from_secs(60));
    let session = Session::new(Connection::new(Role::Server, config));
    let (mut read, mut write) = wsproto::io::on_tokio::from_session(ours, session).split();
    // The text is there before the writer's first turn, which blocks on a message bigger
    // than the pipe: that turn reads the text and holds it for the reader.
    peer.write_all(&cframe(true, 0x1, b"hi")).await.unwrap();
    let big = vec![7u8; 1000];
    let ours_len = common::sframe(true, 0x2, &big).len() + 4;
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
    let peer_task = tokio::spawn(async move {
        let mut got = vec![0u8; ours_len];
        peer.read_exact(&mut got).await.unwrap();
        seen_tx.send(got).unwrap();
        let reply = cframe(true, 0x8, &common::close_payload(1000, ""));
        peer.write_all(&reply).await.unwrap();
        let mut rest = Vec::new();
        peer.read_to_end(&mut rest).await.unwrap();
        rest
    });
    let writer = tokio::spawn(async move {
        write.send(Message::binary(big)).await.unwrap();
        write.close(CloseCode::NORMAL, "").await.unwrap();
    });
    // Our message and our Close are out: the writer's close turn waits behind the text.
    let got = seen_rx.await.unwrap();
    assert_eq!(got[got.len() - 4..], [0x88, 0x02, 0x03, 0xe8]);
    assert_eq!(read.next().await.unwrap().unwrap(), Message::text("hi"));
    tokio::time::timeout(Duration::from_secs(5), writer)
        .await
        .expect("close waited for the reader to read again")
        .unwrap();
    assert!(peer_task.await.unwrap().is_empty());
}
