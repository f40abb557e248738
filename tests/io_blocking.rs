//! The blocking adapter over loopback TCP (a socket pair) and over an in-memory stream.
#![cfg(feature = "std")]

mod common;

use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use common::cframe;
use common::io::{SAMPLE_ACCEPT, echo_blocking as echo, pattern, upgrade_request};
use wsproto::handshake::{Accept, ClientOptions, Request};
use wsproto::io::blocking;
use wsproto::io::{AcceptOptions, CloseFrame, Error, Message};
use wsproto::{CloseCode, Config, Timeout};

fn server(options: AcceptOptions) -> (String, thread::JoinHandle<Vec<Message>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let ws = blocking::accept_with(stream, options, |r: &Request| {
            let protocol = r.protocols().first().cloned();
            Ok(Accept {
                protocol,
                ..Accept::default()
            })
        })
        .unwrap();
        echo(ws)
    });
    (format!("ws://{addr}/path"), handle)
}

#[test]
fn loopback_echo_and_close() {
    let (url, handle) = server(AcceptOptions::default());
    let (mut ws, response) =
        blocking::connect(&url, ClientOptions::default().protocol("p1")).unwrap();
    assert_eq!(response.status, 101);
    assert_eq!(ws.protocol(), Some("p1"));
    let sent = vec![
        Message::text("hello"),
        Message::text(""),
        Message::text("日本語 ✓"),
        Message::binary(vec![]),
        Message::binary(pattern(125)),
        Message::binary(pattern(1 << 20)),
    ];
    for m in &sent {
        ws.send(m.clone()).unwrap();
        assert_eq!(ws.recv().unwrap().unwrap(), *m);
    }
    ws.close(CloseCode::NORMAL, "bye").unwrap();
    assert!(ws.recv().is_none());
    let mut expected = sent;
    expected.push(Message::Close(Some(CloseFrame::new(
        CloseCode::NORMAL,
        "bye",
    ))));
    assert_eq!(handle.join().unwrap(), expected);
}

#[test]
fn server_close_then_end() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = blocking::accept(stream).unwrap();
        ws.close(CloseCode::from(4001), "server-initiated").unwrap();
    });
    let (mut ws, _) =
        blocking::connect(&format!("ws://{addr}/"), ClientOptions::default()).unwrap();
    assert_eq!(
        ws.recv().unwrap().unwrap(),
        Message::Close(Some(CloseFrame::new(
            CloseCode::from(4001),
            "server-initiated"
        )))
    );
    assert!(ws.recv().is_none());
    handle.join().unwrap();
}

#[test]
fn handshake_timeout_on_a_silent_client() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let _silent = TcpStream::connect(addr).unwrap();
    let (stream, _) = listener.accept().unwrap();
    let options = AcceptOptions::default().handshake_timeout(Some(Duration::from_millis(100)));
    let result = blocking::accept_with(stream, options, wsproto::io::AcceptAll);
    assert!(matches!(result, Err(Error::HandshakeTimeout)), "{result:?}");
}

#[test]
fn close_timeout_against_a_peer_that_never_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let ws = blocking::accept(stream).unwrap();
        // Hold the connection without reading until the client is done.
        rx.recv().unwrap();
        drop(ws);
    });
    let config = Config::new().close_timeout(Duration::from_millis(200));
    let (mut ws, _) = blocking::connect(
        &format!("ws://{addr}/"),
        ClientOptions::default().config(config),
    )
    .unwrap();
    let result = ws.close(CloseCode::NORMAL, "");
    assert!(
        matches!(
            result,
            Err(Error::Connection(wsproto::Error::TimedOut(Timeout::Close)))
        ),
        "{result:?}"
    );
    tx.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn io_error_conversion_keeps_the_kind() {
    let e: std::io::Error = Error::HandshakeTimeout.into();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    let e: std::io::Error = Error::Send(wsproto::SendError::Closed).into();
    assert_eq!(e.kind(), std::io::ErrorKind::NotConnected);
    assert!(e.get_ref().is_some());
}

#[test]
fn keepalive_runs_on_read_timeouts() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let ws = blocking::accept(stream).unwrap();
        // Never reads, so never answers the client's pings.
        rx.recv().unwrap();
        drop(ws);
    });
    let config =
        Config::new().keepalive(Some(Duration::from_millis(50)), Duration::from_millis(100));
    let (mut ws, _) = blocking::connect(
        &format!("ws://{addr}/"),
        ClientOptions::default().config(config),
    )
    .unwrap();
    match ws.recv() {
        Some(Err(Error::Connection(wsproto::Error::TimedOut(Timeout::Keepalive)))) => {}
        other => panic!("expected a keepalive timeout, got {other:?}"),
    }
    tx.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn in_memory_stream_without_timeouts() {
    // A Read + Write that is not a socket: the request and two frames in, responses out.
    struct Mem {
        input: std::io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }
    impl std::io::Read for Mem {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.input.read(buf)
        }
    }
    impl std::io::Write for Mem {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut input = upgrade_request("/").into_bytes();
    input.extend(cframe(true, 0x1, b"hey"));
    input.extend(cframe(true, 0x8, &[0x03, 0xe8]));
    let mem = blocking::NoTimeouts(Mem {
        input: std::io::Cursor::new(input),
        output: Vec::new(),
    });
    let mut ws = blocking::accept(mem).unwrap();
    assert_eq!(ws.recv().unwrap().unwrap(), Message::text("hey"));
    ws.send(Message::text("ho")).unwrap();
    assert_eq!(
        ws.recv().unwrap().unwrap(),
        Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "")))
    );
    assert!(ws.recv().is_none());
    let body = &ws.get_ref().0.output;
    let head_end = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(body.starts_with(b"HTTP/1.1 101"));
    assert!(String::from_utf8_lossy(&body[..head_end]).contains(SAMPLE_ACCEPT));
    // Our text frame, then our Close reply echoing 1000.
    assert_eq!(
        &body[head_end..],
        &[0x81, 2, b'h', b'o', 0x88, 2, 0x03, 0xe8]
    );
}

#[test]
fn ipv6_literal_url() {
    // Skipped where the machine has no IPv6 loopback.
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        echo(blocking::accept(stream).unwrap())
    });
    let (mut ws, response) =
        blocking::connect(&format!("ws://[::1]:{port}/v6"), ClientOptions::default()).unwrap();
    assert_eq!(response.status, 101);
    ws.send(Message::text("v6")).unwrap();
    assert_eq!(ws.recv().unwrap().unwrap(), Message::text("v6"));
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(handle.join().unwrap().len(), 2);
}
