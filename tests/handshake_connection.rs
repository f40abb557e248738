//! The handshake hands over to the Connection: the 101 goes out first through the
//! connection's `poll_transmit`, bytes pipelined after the request / response reach the
//! connection, negotiated extensions are installed.

use std::string::String;
use std::vec::Vec;

use wsproto::extension::{Extension, ExtensionError, ExtensionParam};
use wsproto::handshake::*;
use wsproto::{Config, Connection, Event, Instant, Role, Status};

fn sample_nonce(buf: &mut [u8]) {
    for (b, s) in buf.iter_mut().zip(b"the sample nonce".iter().cycle()) {
        *b = *s;
    }
}

fn config() -> Config {
    Config::new().random(sample_nonce)
}

/// A toy extension that claims nothing on the wire: negotiation only.
#[derive(Debug, Default)]
struct Toy;

impl Extension for Toy {
    fn name(&self) -> &str {
        "x-toy"
    }
    fn fresh(&self) -> Box<dyn Extension> {
        Box::new(Toy)
    }
    fn offer(&self) -> String {
        "x-toy".into()
    }
    fn accept_response(&mut self, _: &[ExtensionParam<'_>]) -> Result<(), ExtensionError> {
        Ok(())
    }
    fn accept_offer(&mut self, _: &[ExtensionParam<'_>]) -> Option<String> {
        Some("x-toy".into())
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

/// A masked text frame "hi" from a client (mask key 1,2,3,4).
const CLIENT_HI: &[u8] = &[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];

const RESPONSE_101: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\
Sec-WebSocket-Extensions: x-toy\r\n\
\r\n";

fn drain(conn: &mut Connection) -> Vec<u8> {
    let out = conn.poll_transmit().to_vec();
    conn.advance_transmit(out.len());
    out
}

fn next_text(conn: &mut Connection) -> String {
    match conn.poll_event().unwrap() {
        Some(Event::Text { data, fin: true }) => data.into(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

#[test]
fn client_and_server_connect_and_exchange() {
    let now = Instant::ZERO;
    let mut client = ClientHandshake::new(
        "ws://server.example.com/chat",
        ClientOptions::new()
            .protocol("chat")
            .extension(Toy)
            .config(config()),
    )
    .unwrap();
    let mut server = ServerHandshake::new(ServerOptions::default());

    // The client's request and its first frame arrive together.
    let mut wire = client.poll_transmit().to_vec();
    client.advance_transmit(wire.len());
    wire.extend_from_slice(CLIENT_HI);
    assert_eq!(server.receive(&wire), Ok(Status::Complete(())));
    assert!(server.poll_transmit().is_empty());
    let protocol = server.request().unwrap().protocols().first().cloned();
    let mut sconn = server
        .accept(
            now,
            Accept {
                protocol,
                ..Accept::default()
            }
            .extension(Toy),
        )
        .unwrap();
    assert_eq!(sconn.role(), Role::Server);
    assert_eq!(sconn.extensions().len(), 1);
    assert_eq!(next_text(&mut sconn), "hi");
    assert!(sconn.poll_event().unwrap().is_none());

    // The 101 goes out first, then the server's frame.
    sconn.send_text("yo").unwrap();
    let out = drain(&mut sconn);
    assert_eq!(&out[..RESPONSE_101.len()], RESPONSE_101);
    assert_eq!(&out[RESPONSE_101.len()..], b"\x81\x02yo");

    // The client gets 101 + frame in one read: the frame reaches the connection.
    assert_eq!(client.receive(&out), Ok(Status::Complete(())));
    let (mut cconn, response) = client.into_connection(now).unwrap();
    assert_eq!(response.status, 101);
    assert_eq!(response.protocol(), Some("chat"));
    assert_eq!(cconn.role(), Role::Client);
    assert_eq!(cconn.extensions().len(), 1);
    assert_eq!(next_text(&mut cconn), "yo");

    // And back.
    cconn.send_text("ok").unwrap();
    let frame = drain(&mut cconn);
    sconn.receive(now, &frame);
    assert_eq!(next_text(&mut sconn), "ok");
}

#[test]
fn byte_at_a_time_handover() {
    let now = Instant::ZERO;
    let mut client =
        ClientHandshake::new("ws://[::1]:9001/", ClientOptions::new().config(config())).unwrap();
    let mut server = ServerHandshake::new(ServerOptions::default());
    let mut wire = client.poll_transmit().to_vec();
    wire.extend_from_slice(CLIENT_HI);
    let mut done = false;
    for b in &wire {
        done = server
            .receive(std::slice::from_ref(b))
            .unwrap()
            .is_complete();
    }
    assert!(done);
    assert_eq!(server.request().unwrap().host(), Some("[::1]:9001"));
    let mut sconn = server.accept(now, Accept::new()).unwrap();
    assert_eq!(next_text(&mut sconn), "hi");
    sconn.send_text("yo").unwrap();
    let out = drain(&mut sconn);
    let mut complete = 0;
    for b in &out {
        if client
            .receive(std::slice::from_ref(b))
            .unwrap()
            .is_complete()
        {
            complete += 1;
        }
    }
    assert_eq!(complete, 5, "Complete from the last byte of the head on");
    let (mut cconn, _) = client.into_connection(now).unwrap();
    assert_eq!(next_text(&mut cconn), "yo");
}

#[test]
fn accept_parsed_queues_nothing() {
    let headers: &[(&str, &[u8])] = &[
        ("Host", b"h"),
        ("Upgrade", b"websocket"),
        ("Connection", b"Upgrade"),
        ("Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", b"13"),
        ("Sec-WebSocket-Extensions", b"x-toy"),
    ];
    let request = Request::from_parts("GET", "/", headers).unwrap();
    let (mut conn, parts) =
        accept_parsed(&request, Accept::new().extension(Toy), Config::new()).unwrap();
    assert_eq!(parts.status, 101);
    assert!(
        parts
            .headers
            .contains(&("Sec-WebSocket-Extensions".into(), "x-toy".into()))
    );
    assert!(conn.poll_transmit().is_empty());
    assert_eq!(conn.extensions().len(), 1);
    conn.receive(Instant::ZERO, CLIENT_HI);
    assert_eq!(next_text(&mut conn), "hi");
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let client = ClientHandshake::new("ws://h/", ClientOptions::new().config(config())).unwrap();
    assert_eq!(
        client.into_connection(Instant::ZERO).unwrap_err(),
        HandshakeError::InvalidState
    );
    let server = ServerHandshake::new(ServerOptions::default());
    assert_eq!(
        server.accept(Instant::ZERO, Accept::new()).unwrap_err(),
        HandshakeError::InvalidState
    );
    let mut server = ServerHandshake::new(ServerOptions::default());
    server.reject(Reject::new(403));
    assert_eq!(server.receive(b"GET"), Err(HandshakeError::InvalidState));
    assert_eq!(
        server.accept(Instant::ZERO, Accept::new()).unwrap_err(),
        HandshakeError::InvalidState
    );
}
