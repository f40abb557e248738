//! Opening handshake: exact bytes, every failure status, version 8, URLs, extension and
//! subprotocol negotiation, caps, and "any split gives the same result" properties.

use std::string::String;
use std::vec::Vec;

use proptest::prelude::*;
use wsproto::extension::{Extension, ExtensionError, ExtensionParam};
use wsproto::handshake::*;
use wsproto::{Config, Status};

// ---------------------------------------------------------------- helpers

/// Fills with the RFC 6455 §1.3 sample nonce, so the key is `dGhlIHNhbXBsZSBub25jZQ==`.
fn sample_nonce(buf: &mut [u8]) {
    for (b, s) in buf.iter_mut().zip(b"the sample nonce".iter().cycle()) {
        *b = *s;
    }
}

fn fixed_config() -> Config {
    Config::new().random(sample_nonce)
}

const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

fn server_receive(bytes: &[u8]) -> (ServerHandshake, Result<Status<()>, HandshakeError>) {
    let mut s = ServerHandshake::new(ServerOptions::default());
    let r = s.receive(bytes);
    (s, r)
}

fn request_with(lines: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    for l in lines {
        v.extend_from_slice(l.as_bytes());
        v.extend_from_slice(b"\r\n");
    }
    v.extend_from_slice(b"\r\n");
    v
}

const GOOD: &[&str] = &[
    "GET /chat HTTP/1.1",
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
];

/// GOOD with line `i` replaced (or removed when `line` is None).
fn good_with(i: usize, line: Option<&str>) -> Vec<u8> {
    let mut lines: Vec<&str> = GOOD.to_vec();
    match line {
        Some(l) => lines[i] = l,
        None => {
            lines.remove(i);
        }
    }
    request_with(&lines)
}

/// A toy extension: offers `x-toy; level=N`, accepts offers whose params are all `level=<digit>`,
/// answers `x-toy; level=N`; the client accepts a response with `level` only.
#[derive(Debug, Default)]
struct Toy {
    level: Option<u8>,
    accepted: Option<String>,
}

impl Extension for Toy {
    fn name(&self) -> &str {
        "x-toy"
    }
    fn offer(&self) -> String {
        format!("x-toy; level={}", self.level.unwrap_or(1))
    }
    fn accept_response(&mut self, params: &[ExtensionParam<'_>]) -> Result<(), ExtensionError> {
        match params {
            [
                ExtensionParam {
                    name: "level",
                    value: Some(v),
                },
            ] if v.len() == 1 => {
                self.accepted = Some(String::from(*v));
                Ok(())
            }
            _ => Err(ExtensionError::Negotiation("bad x-toy response")),
        }
    }
    fn accept_offer(&mut self, params: &[ExtensionParam<'_>]) -> Option<String> {
        match params {
            [
                ExtensionParam {
                    name: "level",
                    value: Some(v),
                },
            ] if v.len() == 1 && v.as_bytes()[0].is_ascii_digit() => {
                self.accepted = Some(String::from(*v));
                Some(format!("x-toy; level={v}"))
            }
            _ => None,
        }
    }
    fn rsv_bits(&self) -> u8 {
        0
    }
    fn decode_start(&mut self, _: u8) -> Result<bool, ExtensionError> {
        Ok(false)
    }
    fn decode(
        &mut self,
        _: &[u8],
        _: bool,
        _: &mut Vec<u8>,
        _: usize,
    ) -> Result<(), ExtensionError> {
        Ok(())
    }
    fn encode_start(&mut self, _: Option<usize>, _: bool) -> Option<u8> {
        None
    }
    fn encode(&mut self, _: &[u8], _: bool, _: &mut Vec<u8>) -> Result<(), ExtensionError> {
        Ok(())
    }
}

// ---------------------------------------------------------------- server

#[test]
fn rfc6455_example_request_and_response_bytes() {
    let (s, r) = server_receive(RFC_REQUEST);
    assert_eq!(r, Ok(Status::Complete(())));
    let req = s.request().unwrap();
    assert_eq!(req.method(), "GET");
    assert_eq!(req.path(), "/chat");
    assert_eq!(req.query(), None);
    assert_eq!(req.host(), Some("server.example.com"));
    assert_eq!(req.origin(), Some("http://example.com"));
    assert_eq!(req.protocols(), ["chat", "superchat"]);
    assert_eq!(req.version(), Version::V13);
    assert_eq!(req.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(req.headers().count(), 7);
    assert!(s.poll_transmit().is_empty());

    let ServerParts {
        response: bytes,
        extensions: exts,
        leftover,
    } = s.accept_parts(Accept::new().protocol("chat")).unwrap();
    assert_eq!(
        bytes,
        b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\
\r\n"
    );
    assert!(exts.is_empty());
    assert!(leftover.is_empty());
}

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
fn version_8_uses_sec_websocket_origin() {
    let req = request_with(&[
        "GET /chat HTTP/1.1",
        "Host: server.example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 8",
        "Sec-WebSocket-Origin: http://example.com",
    ]);
    let (s, r) = server_receive(&req);
    assert_eq!(r, Ok(Status::Complete(())));
    let request = s.request().unwrap();
    assert_eq!(request.version(), Version::V8);
    assert_eq!(request.origin(), Some("http://example.com"));
    let bytes = s.accept_parts(Accept::new()).unwrap().response;
    assert_eq!(
        bytes,
        b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
\r\n"
    );

    let client = ClientHandshake::new(
        "ws://server.example.com/chat",
        ClientOptions::new()
            .version(Version::V8)
            .origin("http://example.com")
            .config(fixed_config()),
    )
    .unwrap();
    assert_eq!(client.poll_transmit(), &req[..]);
}

#[test]
fn accept_headers_edit_and_protocol_check() {
    let (s, _) = server_receive(RFC_REQUEST);
    let accept = Accept::new()
        .protocol("superchat")
        .header("Set-Cookie", "id=1")
        .edit_headers(|h| {
            h.retain(|(n, _)| n != "Sec-WebSocket-Protocol");
            h.push(("X-Edited".into(), "yes".into()));
        });
    let bytes = s.accept_parts(accept).unwrap().response;
    assert_eq!(
        bytes,
        b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Set-Cookie: id=1\r\n\
X-Edited: yes\r\n\
\r\n"
    );
    let (s, _) = server_receive(RFC_REQUEST);
    assert_eq!(
        s.accept_parts(Accept::new().protocol("other")).unwrap_err(),
        HandshakeError::ProtocolNotOffered
    );
    let (s, _) = server_receive(RFC_REQUEST);
    assert_eq!(
        s.accept_parts(Accept::new().header("X", "a\r\nb"))
            .unwrap_err(),
        HandshakeError::InvalidHeader
    );
    let s = ServerHandshake::new(ServerOptions::default());
    assert_eq!(
        s.accept_parts(Accept::new()).unwrap_err(),
        HandshakeError::InvalidState
    );
}

#[test]
fn reject_bytes() {
    let (mut s, _) = server_receive(RFC_REQUEST);
    s.reject(
        Reject::new(401)
            .header("WWW-Authenticate", "Basic")
            .header("Bad", "x\r\ny")
            .body("no"),
    );
    assert_eq!(
        s.poll_transmit(),
        b"HTTP/1.1 401 Unauthorized\r\n\
Connection: close\r\n\
WWW-Authenticate: Basic\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Length: 2\r\n\
\r\n\
no"
    );
    s.advance_transmit(5);
    assert!(s.poll_transmit().starts_with(b"1.1 401"));
    s.advance_transmit(usize::MAX);
    assert!(s.poll_transmit().is_empty());
    assert_eq!(
        Reject::new(101).reason("Go\r\naway").to_bytes(),
        b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    assert_eq!(
        Reject::new(503)
            .reason("Busy")
            .header("Retry-After", "3")
            .to_bytes(),
        b"HTTP/1.1 503 Busy\r\nConnection: close\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n"
    );
}

#[test]
fn server_extension_negotiation_in_client_order() {
    let mut lines = GOOD.to_vec();
    lines.push(
        "Sec-WebSocket-Extensions: x-toy; level=x, other, x-toy; level=\"4\", x-toy; level=5",
    );
    let (s, r) = server_receive(&request_with(&lines));
    assert_eq!(r, Ok(Status::Complete(())));
    let ServerParts {
        response: bytes,
        extensions: exts,
        ..
    } = s
        .accept_parts(Accept::new().extension(Toy::default()))
        .unwrap();
    assert!(
        bytes
            .windows(33)
            .any(|w| w == b"Sec-WebSocket-Extensions: x-toy; "),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert!(
        String::from_utf8_lossy(&bytes).contains("Sec-WebSocket-Extensions: x-toy; level=4\r\n")
    );
    assert_eq!(exts.len(), 1);
    assert_eq!(
        format!("{:?}", exts[0]),
        format!(
            "{:?}",
            Toy {
                level: None,
                accepted: Some("4".into())
            }
        )
    );

    // No acceptable offer: no header, no extension.
    let mut lines = GOOD.to_vec();
    lines.push("Sec-WebSocket-Extensions: x-toy; level=x");
    let (s, _) = server_receive(&request_with(&lines));
    let ServerParts {
        response: bytes,
        extensions: exts,
        ..
    } = s
        .accept_parts(Accept::new().extension(Toy::default()))
        .unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("Extensions"));
    assert!(exts.is_empty());
}

#[test]
fn pre_parsed_request() {
    let headers: &[(&str, &[u8])] = &[
        ("host", b"example.com"),
        ("upgrade", b"websocket"),
        ("connection", b"Upgrade"),
        ("sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", b"13"),
        ("sec-websocket-protocol", b"a, b"),
    ];
    let req = Request::from_parts("GET", "/x?y", headers).unwrap();
    assert_eq!((req.path(), req.query()), ("/x", Some("y")));
    let n = negotiate(&req, Accept::new().protocol("b")).unwrap();
    assert_eq!(n.response.status, 101);
    assert_eq!(
        n.response.headers,
        [
            ("Upgrade".into(), "websocket".into()),
            ("Connection".into(), "Upgrade".into()),
            (
                "Sec-WebSocket-Accept".into(),
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into()
            ),
            ("Sec-WebSocket-Protocol".into(), "b".into()),
        ]
    );
    let e = Request::from_parts("PUT", "/", headers).unwrap_err();
    assert_eq!(e, HandshakeError::MethodNotAllowed);
    let reject = e.to_reject().unwrap();
    assert_eq!(reject.status, 405);
    assert_eq!(reject.headers, [("Allow".into(), "GET".into())]);
    assert_eq!(
        Request::from_parts("GET", "/", &headers[1..]).unwrap_err(),
        HandshakeError::MissingHost
    );
    // An absolute-form target.
    let req = Request::from_parts("GET", "ws://example.com/p?q", headers).unwrap();
    assert_eq!((req.path(), req.query()), ("/p", Some("q")));
}

#[cfg(feature = "http")]
#[test]
fn http_crate_conversions() {
    let mut req = http::Request::get("/chat?room=1")
        .header("Host", "example.com")
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("Sec-WebSocket-Version", "13")
        .body(())
        .unwrap();
    let request = Request::try_from(&req).unwrap();
    assert_eq!(request.query(), Some("room=1"));
    let res: http::Response<()> = negotiate(&request, Accept::new()).unwrap().response.into();
    assert_eq!(res.status(), http::StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(res.headers()["upgrade"], "websocket");
    let (parts, ()) = req.clone().into_parts();
    assert_eq!(Request::try_from(&parts).unwrap(), request);
    *req.version_mut() = http::Version::HTTP_10;
    assert_eq!(
        Request::try_from(&req).unwrap_err(),
        HandshakeError::UnsupportedHttpVersion
    );
    let res: http::Response<Vec<u8>> = Reject::new(403).body("no").into();
    assert_eq!(res.status(), 403);
    assert_eq!(res.body(), b"no");
}

// ---------------------------------------------------------------- client

fn client(url: &str, options: ClientOptions) -> ClientHandshake {
    ClientHandshake::new(url, options.config(fixed_config())).unwrap()
}

const GOOD_101: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
\r\n";

#[test]
fn client_request_bytes() {
    let c = client(
        "ws://server.example.com/chat",
        ClientOptions::new()
            .origin("http://example.com")
            .protocol("chat")
            .protocol("superchat"),
    );
    assert_eq!(
        c.poll_transmit(),
        b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
\r\n"
    );
    assert_eq!(
        (c.host(), c.port(), c.is_tls()),
        ("server.example.com", 80, false)
    );

    let mut c = client(
        "wss://[::1]:8443/a?b=c",
        ClientOptions::new()
            .extension(Toy {
                level: Some(7),
                accepted: None,
            })
            .header("Authorization", "Bearer t")
            .header("Cookie", "a=1"),
    );
    assert_eq!(
        (c.host(), c.port(), c.is_tls(), c.target()),
        ("::1", 8443, true, "/a?b=c")
    );
    assert_eq!(
        c.poll_transmit(),
        b"GET /a?b=c HTTP/1.1\r\n\
Host: [::1]:8443\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: x-toy; level=7\r\n\
Authorization: Bearer t\r\n\
Cookie: a=1\r\n\
\r\n"
    );
    let n = c.poll_transmit().len();
    c.advance_transmit(n - 4);
    assert_eq!(c.poll_transmit(), b"\r\n\r\n");
    c.advance_transmit(100);
    assert!(c.poll_transmit().is_empty());
}

#[test]
fn client_setup_errors() {
    let e = ClientHandshake::new("ws://h/", ClientOptions::new().header("X", "a\nb")).unwrap_err();
    assert_eq!(e, HandshakeError::InvalidHeader);
    let e = ClientHandshake::new("ws://h/", ClientOptions::new().protocol("a b")).unwrap_err();
    assert_eq!(e, HandshakeError::InvalidHeader);
    let e = ClientHandshake::new("http://h/", ClientOptions::new()).unwrap_err();
    assert!(matches!(e, HandshakeError::InvalidUrl(_)));
    // A Host header in the options replaces the URL's.
    let c = ClientHandshake::new(
        "ws://h/",
        ClientOptions::new()
            .header("Host", "proxy")
            .config(fixed_config()),
    )
    .unwrap();
    assert!(
        c.poll_transmit()
            .starts_with(b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n")
    );
    assert!(c.poll_transmit().ends_with(b"Host: proxy\r\n\r\n"));
}

#[test]
fn client_accepts_101_and_keeps_leftover() {
    let mut c = client("ws://h/", ClientOptions::new().protocol("chat"));
    let mut input = GOOD_101.to_vec();
    input.splice(
        input.len() - 2..input.len() - 2,
        b"Sec-WebSocket-Protocol: chat\r\n".iter().copied(),
    );
    input.extend_from_slice(b"\x81\x02hi");
    assert_eq!(c.receive(&input), Ok(Status::Complete(())));
    assert_eq!(c.receive(b"!"), Ok(Status::Complete(())));
    assert_eq!(c.receive_eof(), Ok(()));
    let resp = c.response().unwrap();
    assert_eq!(resp.status, 101);
    assert_eq!(resp.protocol(), Some("chat"));
    let ClientParts {
        response: resp,
        extensions: exts,
        leftover,
        ..
    } = c.into_parts().unwrap();
    assert_eq!(resp.reason, "Switching Protocols");
    assert!(exts.is_empty());
    assert_eq!(leftover, b"\x81\x02hi!");
}

fn client_err(options: ClientOptions, response: &[u8]) -> HandshakeError {
    let mut c = client("ws://h/", options);
    let e = c.receive(response).unwrap_err();
    assert_eq!(c.receive(b"x").unwrap_err(), e);
    assert!(c.response().is_none());
    e
}

fn with_header(h: &str) -> Vec<u8> {
    let mut v = GOOD_101[..GOOD_101.len() - 2].to_vec();
    v.extend_from_slice(h.as_bytes());
    v.extend_from_slice(b"\r\n\r\n");
    v
}

#[test]
fn client_response_validation() {
    use HandshakeError::*;
    let replace = |from: &str, to: &str| {
        String::from_utf8(GOOD_101.to_vec())
            .unwrap()
            .replace(from, to)
            .into_bytes()
    };
    let o = ClientOptions::new;
    assert_eq!(
        client_err(o(), &replace("Upgrade: websocket\r\n", "")),
        MissingUpgrade
    );
    assert_eq!(
        client_err(o(), &replace("Connection: Upgrade", "Connection: close")),
        MissingConnectionUpgrade
    );
    assert_eq!(
        client_err(
            o(),
            &replace(
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo"
            )
        ),
        AcceptMismatch
    );
    assert_eq!(
        client_err(
            o(),
            &replace("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", "")
        ),
        AcceptMismatch
    );
    assert_eq!(
        client_err(
            o(),
            &with_header("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        ),
        AcceptMismatch
    );
    assert_eq!(
        client_err(o(), &with_header("Sec-WebSocket-Protocol: chat")),
        ProtocolNotOffered
    );
    assert_eq!(
        client_err(
            o().protocol("chat"),
            &with_header("Sec-WebSocket-Protocol: other")
        ),
        ProtocolNotOffered
    );
    assert_eq!(
        client_err(
            o(),
            &with_header("Sec-WebSocket-Extensions: x-toy; level=1")
        ),
        ExtensionNotOffered
    );
    let toy = || o().extension(Toy::default());
    assert_eq!(
        client_err(
            toy(),
            &with_header("Sec-WebSocket-Extensions: x-toy; level=1, x-toy")
        ),
        ExtensionNotOffered
    );
    assert_eq!(
        client_err(toy(), &with_header("Sec-WebSocket-Extensions: x-toy; bad")),
        Extension(ExtensionError::Negotiation("bad x-toy response"))
    );
    assert_eq!(
        client_err(toy(), &with_header("Sec-WebSocket-Extensions: x-toy; =")),
        InvalidExtensionHeader
    );
    assert_eq!(
        client_err(o(), b"HTTP/1.1 101\r\nBad Header: x\r\n\r\n"),
        Malformed("bad header name")
    );
    assert_eq!(
        client_err(o(), b"HTTP/1.1 1010 Nope\r\n\r\n"),
        Malformed("bad status")
    );
    assert_eq!(
        client_err(o(), b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
        Malformed("bad HTTP version")
    );
    let big = with_header(&format!("X: {}", "a".repeat(16 << 10)));
    assert_eq!(client_err(o(), &big), HeadersTooLarge);
    let mut c = client("ws://h/", o());
    assert_eq!(c.receive(b"HTTP/1.1 101 Switching"), Ok(Status::Partial));
    assert_eq!(c.receive_eof(), Err(UnexpectedEof));
}

#[test]
fn client_extension_accepted() {
    let mut c = client("ws://h/", ClientOptions::new().extension(Toy::default()));
    assert_eq!(
        c.receive(&with_header("Sec-WebSocket-Extensions: x-toy;level=\"3\"")),
        Ok(Status::Complete(()))
    );
    assert_eq!(c.extensions().len(), 1);
    assert_eq!(
        format!("{:?}", c.extensions()[0]),
        format!(
            "{:?}",
            Toy {
                level: None,
                accepted: Some("3".into())
            }
        )
    );
    // The server may decline: no header, no extension.
    let mut c = client("ws://h/", ClientOptions::new().extension(Toy::default()));
    assert_eq!(c.receive(GOOD_101), Ok(Status::Complete(())));
    assert!(c.extensions().is_empty());
}

fn unexpected(e: HandshakeError) -> Response {
    match e {
        HandshakeError::UnexpectedResponse(r) => *r,
        other => panic!("expected UnexpectedResponse, got {other:?}"),
    }
}

#[test]
fn non_101_exposes_status_headers_body_location() {
    let mut c = client("ws://h/", ClientOptions::new());
    let resp = b"HTTP/1.1 302 Found\r\nLocation: wss://other/x\r\nContent-Length: 5\r\n\r\nmoved";
    assert_eq!(c.receive(&resp[..resp.len() - 1]), Ok(Status::Partial));
    let r = unexpected(c.receive(b"d and more").unwrap_err());
    assert_eq!(r.status, 302);
    assert_eq!(r.reason, "Found");
    assert_eq!(r.location(), Some("wss://other/x"));
    assert_eq!(r.body, b"moved");
    assert_eq!(r.headers.len(), 2);

    // No length: read to EOF, bounded.
    let mut c = client("ws://h/", ClientOptions::new().max_response_bytes(64));
    assert_eq!(
        c.receive(b"HTTP/1.1 500 Oops\r\n\r\nbody"),
        Ok(Status::Partial)
    );
    assert_eq!(c.receive(b" more"), Ok(Status::Partial));
    let r = unexpected(c.receive_eof().unwrap_err());
    assert_eq!(
        (r.status, r.reason.as_str(), r.body.as_slice()),
        (500, "Oops", &b"body more"[..])
    );
    let mut c = client("ws://h/", ClientOptions::new().max_response_bytes(64));
    assert_eq!(c.receive(b"HTTP/1.1 500 Oops\r\n\r\n"), Ok(Status::Partial));
    let r = unexpected(c.receive(&[b'x'; 100]).unwrap_err());
    assert_eq!(r.body.len(), 64);

    // Huge Content-Length: truncated at the cap.
    let mut c = client("ws://h/", ClientOptions::new().max_response_bytes(100));
    let head = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 99999999999999999999999\r\n\r\n";
    assert_eq!(c.receive(head), Ok(Status::Partial));
    let r = unexpected(c.receive(&[b'y'; 120]).unwrap_err());
    assert_eq!(r.body, [b'y'; 100]);
    assert_eq!(r.status, 403);

    // No body statuses and zero length finish at once.
    let mut c = client("ws://h/", ClientOptions::new());
    let r = unexpected(
        c.receive(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap_err(),
    );
    assert_eq!(
        (r.status, r.header("www-authenticate")),
        (401, Some("Basic"))
    );
    let mut c = client("ws://h/", ClientOptions::new());
    assert_eq!(
        unexpected(c.receive(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap_err()).status,
        204
    );
    let mut c = client("ws://h/", ClientOptions::new());
    let e = c
        .receive(b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n")
        .unwrap_err();
    assert_eq!(e, HandshakeError::Malformed("Content-Length"));
}

#[test]
fn client_and_server_agree() {
    let mut c = client(
        "ws://localhost:9001/path?q",
        ClientOptions::new()
            .protocol("a")
            .protocol("b")
            .extension(Toy {
                level: Some(2),
                accepted: None,
            }),
    );
    let mut s = ServerHandshake::new(ServerOptions::default());
    assert_eq!(s.receive(c.poll_transmit()), Ok(Status::Complete(())));
    let n = c.poll_transmit().len();
    c.advance_transmit(n);
    let req = s.request().unwrap();
    assert_eq!(req.host(), Some("localhost:9001"));
    assert_eq!(req.protocols(), ["a", "b"]);
    let ServerParts {
        response: bytes,
        extensions: server_exts,
        ..
    } = s
        .accept_parts(Accept::new().protocol("b").extension(Toy::default()))
        .unwrap();
    assert_eq!(server_exts.len(), 1);
    assert_eq!(c.receive(&bytes), Ok(Status::Complete(())));
    assert_eq!(c.response().unwrap().protocol(), Some("b"));
    assert_eq!(c.extensions().len(), 1);
}

// ---------------------------------------------------------------- splits

fn split_points(len: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..=len, 0..8).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

fn chunks<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts {
        out.push(&input[at..c]);
        at = c;
    }
    out.push(&input[at..]);
    out
}

type ServerOutcome = (
    Option<Result<(), HandshakeError>>,
    Option<Request>,
    Vec<u8>,
    Option<Vec<u8>>,
);

/// Server outcome: the first non-Partial result, the request, the output, the leftover.
fn server_run(pieces: &[&[u8]]) -> ServerOutcome {
    let mut s = ServerHandshake::new(ServerOptions::new().max_header_bytes(300).max_headers(8));
    let mut result = None;
    for p in pieces {
        match s.receive(p) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(())) => {
                result.get_or_insert(Ok(()));
            }
            Err(e) => {
                result.get_or_insert(Err(e));
            }
        }
    }
    let req = s.request().cloned();
    let out = s.poll_transmit().to_vec();
    let leftover = s.accept_parts(Accept::new()).ok().map(|p| p.leftover);
    (result, req, out, leftover)
}

fn client_run(pieces: &[&[u8]]) -> (Option<Result<(), HandshakeError>>, Option<Response>) {
    let mut c = client(
        "ws://h/",
        ClientOptions::new()
            .max_response_bytes(200)
            .extension(Toy::default()),
    );
    let mut result = None;
    for p in pieces {
        match c.receive(p) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(())) => {
                result.get_or_insert(Ok(()));
            }
            Err(e) => {
                result.get_or_insert(Err(e));
            }
        }
    }
    (result, c.response().cloned())
}

fn request_inputs() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just({
            let mut v = RFC_REQUEST.to_vec();
            v.extend_from_slice(b"\x81\x80abcd");
            v
        }),
        Just(good_with(0, Some("POST / HTTP/1.1"))),
        Just(good_with(5, Some("Sec-WebSocket-Version: 7"))),
        Just(request_with(&[
            GOOD[0],
            GOOD[1],
            "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            GOOD[2],
            GOOD[3],
            GOOD[4],
            GOOD[5]
        ])),
        Just(b"GET / HTTP/1.1\nHost: a\n\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..400),
        proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'a'), Just(b':'), Just(b' ')],
            0..100
        ),
    ]
}

fn response_inputs() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just({
            let mut v = with_header("Sec-WebSocket-Extensions: x-toy; level=1");
            v.extend_from_slice(b"\x81\x00");
            v
        }),
        Just(b"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 3\r\n\r\nabcdef".to_vec()),
        Just(b"HTTP/1.1 500 Oops\r\n\r\nbody".to_vec()),
        Just(with_header("Sec-WebSocket-Protocol: x")),
        proptest::collection::vec(any::<u8>(), 0..300),
    ]
}

proptest! {
    #[test]
    fn server_any_split_same_result(input in request_inputs(), cuts in split_points(400)) {
        let cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
        let whole = server_run(&[&input]);
        let split = server_run(&chunks(&input, &cuts));
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn client_any_split_same_result(input in response_inputs(), cuts in split_points(300)) {
        let cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
        let whole = client_run(&[&input]);
        let split = client_run(&chunks(&input, &cuts));
        prop_assert_eq!(whole, split);
    }
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
fn client_header_count_cap() {
    let extra: String = (0..10).map(|i| format!("X-{i}: v\r\n")).collect();
    let mut resp = GOOD_101[..GOOD_101.len() - 2].to_vec();
    resp.extend_from_slice(extra.as_bytes());
    resp.extend_from_slice(b"\r\n");
    let e = client_err(ClientOptions::new().max_headers(12), &resp);
    assert_eq!(e, HandshakeError::TooManyHeaders);
    let mut c = client("ws://h/", ClientOptions::new().max_headers(13));
    assert_eq!(c.receive(&resp), Ok(Status::Complete(())));
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
