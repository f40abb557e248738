//! Opening handshake, client side: exact request bytes, URLs, response validation, extension
//! acceptance, non-101 responses, header caps, and a client and server agreeing.

mod common;

use common::handshake::*;
use wsproto::Status;
use wsproto::extension::ExtensionError;
use wsproto::handshake::*;

#[test]
fn client_request_bytes() {
    let c = client(
        "ws://server.example.com/chat",
        ClientOptions::new()
            .no_extensions()
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
            .no_extensions()
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
