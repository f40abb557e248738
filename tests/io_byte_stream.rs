//! `ByteStream` (ws `createWebSocketStream`) over loopback TCP: tokio's and futures-io's
//! `AsyncRead`/`AsyncWrite`, message boundaries, EOF, errors, shutdown, pings.
#![cfg(feature = "tokio")]

mod common;

use common::cframe;
use common::io::{pattern, read_head_tokio, upgrade_request};
use futures_util::StreamExt;
use std::io;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsproto::handshake::ClientOptions;
use wsproto::io::on_tokio::{ByteStream, ClientStream, WebSocket, accept, connect};
use wsproto::io::{CloseFrame, Error, Message};
use wsproto::{CloseCode, Config};

/// A connected (client, server) pair of WebSockets over loopback TCP.
async fn tcp_pair() -> (WebSocket<ClientStream>, WebSocket<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        accept(tcp).await.unwrap()
    });
    let (client, _) = connect(url.as_str(), ClientOptions::default().no_extensions())
        .await
        .unwrap();
    (client, server.await.unwrap())
}

/// A server `ByteStream` and a raw TCP client that did the handshake by hand.
async fn raw_client_pair() -> (TcpStream, ByteStream<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        accept(tcp).await.unwrap().into_byte_stream()
    });
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw.write_all(upgrade_request("/").as_bytes())
        .await
        .unwrap();
    let head = read_head_tokio(&mut raw).await.unwrap();
    assert!(head.starts_with(b"HTTP/1.1 101"));
    (raw, server.await.unwrap())
}

/// The wsproto error behind an `io::Error` from a `ByteStream`.
fn ws_error(e: &io::Error) -> &Error {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>())
        .expect("a wsproto error inside")
}

#[tokio::test]
async fn tokio_copy_mib_both_ways_exact() {
    let (client, server) = tcp_pair().await;
    // The server echoes the byte stream with tokio::io::copy, then shuts down at EOF.
    let echo = tokio::spawn(async move {
        let (mut r, mut w) = tokio::io::split(server.into_byte_stream());
        let n = tokio::io::copy(&mut r, &mut w).await.unwrap();
        w.shutdown().await.unwrap();
        n
    });
    let data = pattern(3 * 1024 * 1024 + 17);
    let (mut r, mut w) = tokio::io::split(client.into_byte_stream());
    let to_send = data.clone();
    let writer = tokio::spawn(async move {
        let n = tokio::io::copy(&mut &to_send[..], &mut w).await.unwrap();
        w.flush().await.unwrap();
        (n, w)
    });
    let mut back = vec![0u8; data.len()];
    r.read_exact(&mut back).await.unwrap();
    assert!(back == data, "echoed bytes differ");
    let (n, w) = writer.await.unwrap();
    assert_eq!(n, data.len() as u64);
    // Our Close(1000); the server reaches EOF, shuts down (its Close is the reply), and our
    // read side ends.
    let mut stream = r.unsplit(w);
    stream.shutdown().await.unwrap();
    let mut rest = Vec::new();
    assert_eq!(stream.read_to_end(&mut rest).await.unwrap(), 0);
    assert_eq!(echo.await.unwrap(), data.len() as u64);
    assert_eq!(
        stream.close_frame().map(|f| f.code),
        Some(CloseCode::NORMAL)
    );
    assert_eq!(
        stream.read(&mut [0u8; 8]).await.unwrap(),
        0,
        "EOF stays EOF"
    );
}

#[tokio::test]
async fn small_reads_cross_message_boundaries() {
    let (mut client, server) = tcp_pair().await;
    let messages: Vec<Vec<u8>> = vec![
        pattern(1),
        vec![],
        pattern(5),
        pattern(7),
        vec![],
        pattern(1000),
        pattern(3),
    ];
    for m in &messages {
        client.send(Message::binary(m.clone())).await.unwrap();
    }
    client.send(Message::ping(&b"invisible"[..])).await.unwrap();
    client
        .send(Message::close(CloseCode::NORMAL, "done"))
        .await
        .unwrap();
    let mut stream = server.into_byte_stream();
    let mut got = Vec::new();
    let mut buf = [0u8; 3];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, messages.concat());
    assert_eq!(
        stream.close_frame(),
        Some(&CloseFrame::new(CloseCode::NORMAL, "done"))
    );
}

#[tokio::test]
async fn buffered_reads_lend_each_message_without_copy() {
    let (mut client, server) = tcp_pair().await;
    client.send(Message::binary(pattern(10))).await.unwrap();
    client.send(Message::binary(pattern(4))).await.unwrap();
    let mut stream = server.into_byte_stream();
    assert_eq!(stream.fill_buf().await.unwrap(), &pattern(10)[..]);
    stream.consume(6);
    assert_eq!(stream.unread(), &pattern(10)[6..]);
    let mut four = [0u8; 4];
    stream.read_exact(&mut four).await.unwrap();
    assert_eq!(&four[..], &pattern(10)[6..]);
    assert_eq!(stream.fill_buf().await.unwrap(), &pattern(4)[..]);
}

#[tokio::test]
async fn text_messages_read_as_their_utf8_bytes() {
    let (mut client, server) = tcp_pair().await;
    client.send(Message::text("héllo ")).await.unwrap();
    client
        .send(Message::binary(&b"\xff\x00"[..]))
        .await
        .unwrap();
    client.send(Message::text("✓")).await.unwrap();
    let closer = tokio::spawn(async move { client.close(CloseCode::NORMAL, "").await });
    let mut stream = server.into_byte_stream();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).await.unwrap();
    closer.await.unwrap().unwrap();
    assert_eq!(got, b"h\xc3\xa9llo \xff\x00\xe2\x9c\x93");
}

#[tokio::test]
async fn peer_close_with_any_code_is_eof() {
    let (mut client, server) = tcp_pair().await;
    client.send(Message::binary(&b"last"[..])).await.unwrap();
    let closer = tokio::spawn(async move { client.close(CloseCode::GOING_AWAY, "bye").await });
    let mut stream = server.into_byte_stream();
    let mut got = Vec::new();
    assert_eq!(stream.read_to_end(&mut got).await.unwrap(), 4);
    assert_eq!(got, b"last");
    assert_eq!(
        stream.close_frame(),
        Some(&CloseFrame::new(CloseCode::GOING_AWAY, "bye"))
    );
    // The reply went out: the peer's closing handshake completes cleanly.
    closer.await.unwrap().unwrap();
    // No half-close in WebSocket: writes after the peer's Close fail.
    let e = stream.write_all(b"late").await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotConnected);
}

#[tokio::test]
async fn transport_ending_without_close_is_unexpected_eof() {
    let (client, server) = tcp_pair().await;
    let mut stream = client.into_byte_stream();
    let mut server = server;
    server.send(Message::binary(&b"partial"[..])).await.unwrap();
    // Ends the TCP connection without a Close frame.
    server.terminate(CloseCode::NORMAL, "", true);
    while server.next().await.is_some() {}
    let mut got = Vec::new();
    let e = stream.read_to_end(&mut got).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(got, b"partial");
    assert_eq!(
        stream.close_frame().map(|f| f.code),
        Some(CloseCode::ABNORMAL)
    );
    assert_eq!(stream.read(&mut [0u8; 4]).await.unwrap(), 0);
}

#[tokio::test]
async fn protocol_error_is_invalid_data_after_the_good_bytes() {
    let (mut raw, mut stream) = raw_client_pair().await;
    raw.write_all(&cframe(true, 0x2, b"good")).await.unwrap();
    // Opcode 0x3 is reserved: a protocol error (1002).
    raw.write_all(&cframe(true, 0x3, b"bad")).await.unwrap();
    let mut buf = [0u8; 16];
    let n = stream.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"good");
    let e = stream.read(&mut buf).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    assert_eq!(ws_error(&e).close_code(), Some(CloseCode::PROTOCOL_ERROR));
    // Our Close(1002) went out (unmasked server frame: 0x88, length 2, code), then FIN.
    let mut wire = Vec::new();
    raw.read_to_end(&mut wire).await.unwrap();
    assert_eq!(wire, [0x88, 0x02, 0x03, 0xea]);
}

#[tokio::test]
async fn abrupt_reset_is_a_transport_error() {
    let (raw, mut stream) = raw_client_pair().await;
    // SO_LINGER 0: close sends RST instead of FIN.
    let raw = raw.into_std().unwrap();
    socket_linger_zero(&raw);
    drop(raw);
    let e = stream.read(&mut [0u8; 16]).await.unwrap_err();
    assert!(
        matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
        ),
        "{e:?}"
    );
}

/// Sets SO_LINGER to 0 through tokio (std has no stable setter).
fn socket_linger_zero(stream: &std::net::TcpStream) {
    let clone = stream.try_clone().unwrap();
    clone.set_nonblocking(true).unwrap();
    let tokio_stream = TcpStream::from_std(clone).unwrap();
    #[allow(deprecated)]
    tokio_stream
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
}

#[tokio::test]
async fn shutdown_sends_close_1000_and_completes_when_written() {
    let (client, mut server) = tcp_pair().await;
    let mut stream = client.into_byte_stream();
    stream.write_all(b"abc").await.unwrap();
    stream.shutdown().await.unwrap();
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::binary(&b"abc"[..])
    );
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "")))
    );
    assert!(server.next().await.is_none());
    // Shutting down again is harmless; writing is not possible any more.
    stream.shutdown().await.unwrap();
    assert_eq!(
        stream.write(b"x").await.unwrap_err().kind(),
        io::ErrorKind::NotConnected
    );
    let mut rest = Vec::new();
    assert_eq!(stream.read_to_end(&mut rest).await.unwrap(), 0);
}

#[tokio::test]
async fn zero_length_write_sends_nothing() {
    let (client, mut server) = tcp_pair().await;
    let mut stream = client.into_byte_stream();
    assert_eq!(stream.write(b"").await.unwrap(), 0);
    stream.write_all(b"x").await.unwrap();
    stream.flush().await.unwrap();
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::binary(&b"x"[..])
    );
}

#[tokio::test]
async fn large_writes_are_split_at_max_write() {
    let (client, mut server) = tcp_pair().await;
    let mut stream = client.into_byte_stream().max_write(1000);
    let data = pattern(2500);
    stream.write_all(&data).await.unwrap();
    stream.flush().await.unwrap();
    let mut sizes = Vec::new();
    let mut got = Vec::new();
    while got.len() < data.len() {
        let m = server.next().await.unwrap().unwrap();
        sizes.push(m.len());
        got.extend_from_slice(m.as_bytes());
    }
    assert_eq!(sizes, [1000, 1000, 500]);
    assert_eq!(got, data);
}

#[tokio::test]
async fn pings_answered_while_only_writing() {
    let (client, server) = tcp_pair().await;
    let (mut peer_rx, mut peer_tx) = client.split();
    let pings: Vec<Vec<u8>> = vec![b"p1".to_vec(), b"p2".to_vec(), b"p3".to_vec()];
    for p in &pings {
        peer_tx.send(Message::ping(p.clone())).await.unwrap();
    }
    // The server never reads: it only writes, one byte per message, until the peer has its
    // three pongs.
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel();
    let writer = tokio::spawn(async move {
        let mut stream = server.into_byte_stream();
        let mut written = Vec::new();
        for i in 0..10_000u32 {
            if done_rx.try_recv().is_ok() {
                return (stream, written);
            }
            let byte = [i as u8];
            stream.write_all(&byte).await.unwrap();
            written.push(byte[0]);
            tokio::task::yield_now().await;
        }
        panic!("the peer never got its pongs");
    });
    let mut pongs = Vec::new();
    let mut data = Vec::new();
    while pongs.len() < pings.len() {
        match peer_rx.next().await.unwrap().unwrap() {
            Message::Pong(p) => pongs.push(p.to_vec()),
            Message::Binary(b) => data.extend_from_slice(&b),
            other => panic!("unexpected {other:?}"),
        }
    }
    done_tx.send(()).unwrap();
    assert_eq!(pongs, pings);
    let (mut stream, written) = writer.await.unwrap();
    stream.shutdown().await.unwrap();
    // Everything written arrives, in order, before the Close.
    loop {
        match peer_rx.next().await.unwrap().unwrap() {
            Message::Binary(b) => data.extend_from_slice(&b),
            Message::Close(frame) => {
                assert_eq!(frame.map(|f| f.code), Some(CloseCode::NORMAL));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(data, written);
    // The pings did not show up as bytes on the stream's read side.
    let mut rest = Vec::new();
    assert_eq!(stream.read_to_end(&mut rest).await.unwrap(), 0);
}

#[tokio::test]
async fn streamed_fragments_are_read_as_they_come() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let options = wsproto::handshake::ServerOptions::default()
            .config(Config::new().assemble_messages(false));
        wsproto::io::on_tokio::accept_with(tcp, options, wsproto::io::AcceptAll)
            .await
            .unwrap()
    });
    let (mut client, _) = connect(url.as_str(), ClientOptions::default().no_extensions())
        .await
        .unwrap();
    let mut stream = server.await.unwrap().into_byte_stream();
    for (data, fin) in [(&b"one,"[..], false), (b"two,", false), (b"three", true)] {
        client
            .send(Message::Fragment(wsproto::io::Fragment {
                kind: wsproto::MessageKind::Binary,
                data: data.to_vec().into(),
                fin,
            }))
            .await
            .unwrap();
    }
    let closer = tokio::spawn(async move { client.close(CloseCode::NORMAL, "").await });
    let mut got = Vec::new();
    stream.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"one,two,three");
    closer.await.unwrap().unwrap();
}

#[cfg(feature = "futures-io")]
#[test]
fn smol_copy_mib_exact() {
    // Both features are on in this test, so the stream has tokio's and futures-io's traits:
    // name the futures-io ones.
    use smol::io::{AsyncReadExt as FRead, AsyncWriteExt as FWrite};
    use wsproto::io::on_futures;
    smol::block_on(async {
        let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = smol::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut stream = on_futures::accept(tcp).await.unwrap().into_byte_stream();
            let mut got = Vec::new();
            FRead::read_to_end(&mut stream, &mut got).await.unwrap();
            (got, stream.close_frame().cloned())
        });
        let tcp = smol::net::TcpStream::connect(addr).await.unwrap();
        let (ws, _) = on_futures::connect_with(tcp, "ws://x/", ClientOptions::default())
            .await
            .unwrap();
        let mut stream: on_futures::ByteStream<_> = ws.into_byte_stream();
        let data = pattern(2 * 1024 * 1024 + 5);
        let n = smol::io::copy(&mut &data[..], &mut stream).await.unwrap();
        assert_eq!(n, data.len() as u64);
        FWrite::close(&mut stream).await.unwrap();
        let (got, close) = server.await;
        assert!(got == data, "bytes differ");
        assert_eq!(close, Some(CloseFrame::new(CloseCode::NORMAL, "")));
        // The server's reply ends our read side.
        let mut rest = Vec::new();
        assert_eq!(FRead::read_to_end(&mut stream, &mut rest).await.unwrap(), 0);
    });
}
