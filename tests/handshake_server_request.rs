//! Opening handshake, server side: parsing the request (the view, incremental input, targets)
//! and rejecting bad ones (every failure status and variant, header caps, hostile lists).

mod common;

use common::handshake::*;
use wsproto::Status;
use wsproto::handshake::*;

#[test]
fn request_view_query_cookies_extensions() {
    let req = request_with(&[
        "GET /a/b?x=1&y=%20 HTTP/1.1",
        "host: h:9",
        "upgrade: WebSocket",
        "connection: keep-alive, upgrade",
        "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version: 13",
        "Cookie: a=1; b=2",
        "Cookie: c=3",
        "Sec-WebSocket-Extensions: x-toy; level=9, permessage-deflate; client_max_window_bits",
        "Sec-WebSocket-Extensions: x-toy; level=\"3\"",
    ]);
    let (s, r) = server_receive(&req);
    assert_eq!(r, Ok(Status::Complete(())));
    let req = s.request().unwrap();
    assert_eq!(req.path(), "/a/b");
    assert_eq!(req.query(), Some("x=1&y=%20"));
    assert_eq!(req.target(), "/a/b?x=1&y=%20");
    assert_eq!(req.host(), Some("h:9"));
    assert_eq!(req.origin(), None);
    assert!(req.protocols().is_empty());
    assert_eq!(
        req.cookies().collect::<Vec<_>>(),
        [("a", "1"), ("b", "2"), ("c", "3")]
    );
    let names: Vec<&str> = req.extensions().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["x-toy", "permessage-deflate", "x-toy"]);
    assert_eq!(
        req.extensions()[0].params,
        [("level".into(), Some("9".into()))]
    );
    assert_eq!(
        req.extensions()[1].params,
        [("client_max_window_bits".into(), None)]
    );
    assert_eq!(
        req.extensions()[2].params,
        [("level".into(), Some("3".into()))]
    );
    assert_eq!(req.header("COOKIE"), Some("a=1; b=2"));
}

#[test]
fn one_byte_at_a_time_with_pipelined_frames() {
    let mut input = RFC_REQUEST.to_vec();
    input.extend_from_slice(b"\x81\x85frame");
    let mut s = ServerHandshake::new(ServerOptions::default());
    let mut complete_at = None;
    for (i, b) in input.iter().enumerate() {
        match s.receive(std::slice::from_ref(b)).unwrap() {
            Status::Partial => assert!(complete_at.is_none()),
            Status::Complete(()) => {
                complete_at.get_or_insert(i);
            }
        }
    }
    assert_eq!(complete_at, Some(RFC_REQUEST.len() - 1));
    let leftover = s.accept_parts(Accept::new()).unwrap().leftover;
    assert_eq!(leftover, b"\x81\x85frame");
}

fn expect_failure(input: &[u8], err: HandshakeError, status: u16) -> Vec<u8> {
    let (mut s, r) = server_receive(input);
    assert_eq!(r, Err(err.clone()), "{}", String::from_utf8_lossy(input));
    assert_eq!(err.status(), Some(status));
    let out = s.poll_transmit().to_vec();
    assert!(
        out.starts_with(format!("HTTP/1.1 {status} ").as_bytes()),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(out.windows(19).any(|w| w == b"Connection: close\r\n"));
    // The error sticks, and no more output is produced.
    s.advance_transmit(out.len());
    assert_eq!(s.receive(b"more"), Err(err));
    assert!(s.poll_transmit().is_empty());
    assert!(s.request().is_none());
    out
}

#[test]
fn every_failure_has_its_status_and_variant() {
    use HandshakeError::*;
    let out = expect_failure(
        &good_with(0, Some("POST /chat HTTP/1.1")),
        MethodNotAllowed,
        405,
    );
    assert_eq!(
        out,
        b"HTTP/1.1 405 Method Not Allowed\r\n\
Connection: close\r\n\
Allow: GET\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Length: 19\r\n\
\r\n\
method must be GET\n"
    );
    expect_failure(
        &good_with(0, Some("get /chat HTTP/1.1")),
        MethodNotAllowed,
        405,
    );
    expect_failure(
        &good_with(0, Some("GET /chat HTTP/1.0")),
        UnsupportedHttpVersion,
        400,
    );
    expect_failure(
        &good_with(0, Some("GET /chat HTTP/2.0")),
        Malformed("bad HTTP version"),
        400,
    );
    expect_failure(
        &good_with(0, Some("GET  HTTP/1.1")),
        Malformed("bad token"),
        400,
    );
    expect_failure(
        &good_with(0, Some("GET chat HTTP/1.1")),
        Malformed("request target"),
        400,
    );
    expect_failure(
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        Malformed("bad token"),
        400,
    );
    expect_failure(&good_with(1, None), MissingHost, 400);
    let mut twice = GOOD.to_vec();
    twice.push("Host: other");
    expect_failure(&request_with(&twice), MissingHost, 400);
    expect_failure(&good_with(2, None), MissingUpgrade, 400);
    expect_failure(&good_with(2, Some("Upgrade: h2c")), MissingUpgrade, 400);
    expect_failure(&good_with(3, None), MissingConnectionUpgrade, 400);
    expect_failure(
        &good_with(3, Some("Connection: keep-alive")),
        MissingConnectionUpgrade,
        400,
    );
    expect_failure(&good_with(4, None), InvalidKey, 400);
    expect_failure(
        &good_with(4, Some("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ")),
        InvalidKey,
        400,
    );
    expect_failure(
        &good_with(4, Some("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==AAAA")),
        InvalidKey,
        400,
    );
    expect_failure(
        &good_with(4, Some("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j!Q==")),
        InvalidKey,
        400,
    );
    expect_failure(
        &good_with(4, Some("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=")),
        InvalidKey,
        400,
    );
    let out = expect_failure(
        &good_with(5, Some("Sec-WebSocket-Version: 12")),
        UnsupportedVersion,
        426,
    );
    assert_eq!(
        out,
        b"HTTP/1.1 426 Upgrade Required\r\n\
Connection: close\r\n\
Sec-WebSocket-Version: 13, 8\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Length: 34\r\n\
\r\n\
unsupported Sec-WebSocket-Version\n"
    );
    expect_failure(&good_with(5, None), UnsupportedVersion, 426);
    expect_failure(
        &good_with(5, Some("Sec-WebSocket-Version: 13, 8")),
        UnsupportedVersion,
        426,
    );
    let mut ext = GOOD.to_vec();
    ext.push("Sec-WebSocket-Extensions: x-toy; =1");
    expect_failure(&request_with(&ext), InvalidExtensionHeader, 400);
    let mut proto = GOOD.to_vec();
    proto.push("Sec-WebSocket-Protocol: chat, sup er");
    expect_failure(&request_with(&proto), InvalidProtocolHeader, 400);
    expect_failure(
        b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",
        Malformed("bad header name"),
        400,
    );
}

#[test]
fn header_caps_give_431() {
    let mut big = GOOD.to_vec();
    let filler = format!("X-Filler: {}", "a".repeat(8 << 10));
    big.push(&filler);
    let out = expect_failure(&request_with(&big), HandshakeError::HeadersTooLarge, 431);
    assert!(out.starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"));

    // The cap is exact: a head of exactly max_header_bytes passes, one more byte fails.
    let req = request_with(GOOD);
    let mut s = ServerHandshake::new(ServerOptions::new().max_header_bytes(req.len()));
    assert_eq!(s.receive(&req), Ok(Status::Complete(())));
    let mut s = ServerHandshake::new(ServerOptions::new().max_header_bytes(req.len() - 1));
    assert_eq!(s.receive(&req), Err(HandshakeError::HeadersTooLarge));
    // It fails as soon as the cap is passed, without waiting for the end of the head.
    let mut s = ServerHandshake::new(ServerOptions::default());
    assert_eq!(s.receive(&vec![b'a'; 8 << 10]), Ok(Status::Partial));
    assert_eq!(s.receive(b"a"), Err(HandshakeError::HeadersTooLarge));

    let mut many = GOOD.to_vec();
    let extra: Vec<String> = (0..59).map(|i| format!("X-{i}: v")).collect();
    many.extend(extra.iter().map(String::as_str));
    assert_eq!(many.len() - 1, 64);
    assert_eq!(
        server_receive(&request_with(&many)).1,
        Ok(Status::Complete(()))
    );
    let more = String::from("X-last: v");
    many.push(&more);
    expect_failure(&request_with(&many), HandshakeError::TooManyHeaders, 431);
}

#[test]
fn many_tiny_headers_under_the_byte_cap_are_cheap() {
    // ws CVE-2024-37890: thousands of headers must not crash or blow up.
    let mut req = b"GET / HTTP/1.1\r\n".to_vec();
    for _ in 0..2500 {
        req.extend_from_slice(b"a:\r\n");
    }
    req.extend_from_slice(b"\r\n");
    let mut s = ServerHandshake::new(
        ServerOptions::new()
            .max_header_bytes(1 << 20)
            .max_headers(usize::MAX),
    );
    assert_eq!(s.receive(&req), Err(HandshakeError::MissingHost));
}

#[test]
fn hostile_list_values_parse_in_one_pass() {
    // ws CVE-2021-32640: a regex over Sec-WebSocket-Protocol went quadratic. Ours is one pass;
    // these near-cap values must simply parse (or fail) like any other.
    let protocols = format!("Sec-WebSocket-Protocol: {}x", "a,".repeat(3500));
    let mut lines = GOOD.to_vec();
    lines.push(&protocols);
    let (s, r) = server_receive(&request_with(&lines));
    assert_eq!(r, Ok(Status::Complete(())));
    assert_eq!(s.request().unwrap().protocols().len(), 3501);

    let spaces = format!("Sec-WebSocket-Protocol: a{}b", " ".repeat(7000));
    let mut lines = GOOD.to_vec();
    lines.push(&spaces);
    expect_failure(
        &request_with(&lines),
        HandshakeError::InvalidProtocolHeader,
        400,
    );

    let quotes = format!("Sec-WebSocket-Extensions: x; p=\"{}", "\\\"".repeat(3500));
    let mut lines = GOOD.to_vec();
    lines.push(&quotes);
    expect_failure(
        &request_with(&lines),
        HandshakeError::InvalidExtensionHeader,
        400,
    );

    let params = format!("Sec-WebSocket-Extensions: x{}", "; p".repeat(2300));
    let mut lines = GOOD.to_vec();
    lines.push(&params);
    let (s, r) = server_receive(&request_with(&lines));
    assert_eq!(r, Ok(Status::Complete(())));
    assert_eq!(s.request().unwrap().extensions()[0].params.len(), 2300);
}

#[test]
fn request_targets() {
    let h: &[(&str, &[u8])] = &[
        ("Host", b"h"),
        ("Upgrade", b"websocket"),
        ("Connection", b"Upgrade"),
        ("Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", b"13"),
    ];
    let path_query = |t: &str| {
        let r = Request::from_parts("GET", t, h).unwrap();
        (String::from(r.path()), r.query().map(String::from))
    };
    assert_eq!(path_query("/"), ("/".into(), None));
    assert_eq!(path_query("/?"), ("/".into(), Some("".into())));
    assert_eq!(path_query("/a?b?c"), ("/a".into(), Some("b?c".into())));
    assert_eq!(path_query("wss://h"), ("/".into(), None));
    assert_eq!(
        path_query("http://h:1/x/y?z"),
        ("/x/y".into(), Some("z".into()))
    );
    for bad in ["*", "", "h/x"] {
        assert_eq!(
            Request::from_parts("GET", bad, h).unwrap_err(),
            HandshakeError::Malformed("request target"),
            "{bad}"
        );
    }
}
