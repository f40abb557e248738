//! Opening handshake, server side: answering a valid request (exact 101 bytes, version 8,
//! accept headers and subprotocols, rejections, extension negotiation, pre-parsed requests and
//! the `http` crate conversions).

mod common;

use common::handshake::*;
use wsproto::Status;
use wsproto::handshake::*;

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
            .no_extensions()
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
