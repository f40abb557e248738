//! Shared test helpers: owned events, frame builders, a deterministic entropy source, the
//! client⇄server [`pair::Pair`], and the opening-handshake helpers in [`handshake`].
#![allow(dead_code, unreachable_pub)]

pub mod example;
pub mod handshake;
pub mod io;
pub mod pair;
#[cfg(feature = "rustls")]
pub mod pki;
pub mod session_pair;
pub mod tempdir;

use wsproto::frame::{FrameHeader, OpCode, apply_mask};
use wsproto::{CloseCode, Config, Connection, Error, Event, Instant, ProtocolError, Role, State};

/// The RFC 6455 §5.7 masking key.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Entropy that always yields the RFC 6455 §5.7 key (byte-exact client output in tests).
pub fn fixed_random(buf: &mut [u8]) {
    for (b, k) in buf.iter_mut().zip(KEY.iter().cycle()) {
        *b = *k;
    }
}

/// An owned copy of an [`Event`] or error, for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Text(String, bool),
    Binary(Vec<u8>, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
    Err(Error),
}

impl Ev {
    pub fn text(s: &str) -> Ev {
        Ev::Text(s.to_owned(), true)
    }
    pub fn binary(b: &[u8]) -> Ev {
        Ev::Binary(b.to_vec(), true)
    }
}

pub fn own(event: Event<'_>) -> Ev {
    match event {
        Event::Text { data, fin } => Ev::Text(data.to_owned(), fin),
        Event::Binary { data, fin } => Ev::Binary(data.to_vec(), fin),
        Event::Ping(p) => Ev::Ping(p.to_vec()),
        Event::Pong(p) => Ev::Pong(p.to_vec()),
        Event::Close { code, reason } => Ev::Close(code.as_u16(), reason.to_owned()),
    }
}

/// Drains `poll_event` (errors included) until `Ok(None)`.
pub fn events(conn: &mut Connection) -> Vec<Ev> {
    let mut out = Vec::new();
    for _ in 0..1_000_000 {
        match conn.poll_event() {
            Ok(Some(e)) => out.push(own(e)),
            Ok(None) => return out,
            Err(e) => out.push(Ev::Err(e)),
        }
    }
    panic!("poll_event never returned Ok(None)");
}

/// Takes everything queued for the peer (`poll_transmit` hands shared frames out as pieces
/// of their own).
pub fn transmit(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while !conn.poll_transmit().is_empty() {
        let n = conn.poll_transmit().len();
        out.extend_from_slice(conn.poll_transmit());
        conn.advance_transmit(n);
    }
    out
}

/// A server with defaults.
pub fn server() -> Connection {
    Connection::new(Role::Server, Config::new())
}

/// A client with the fixed masking key.
pub fn client() -> Connection {
    Connection::new(Role::Client, Config::new().random(fixed_random))
}

/// Builds one frame. `rsv` as a 3-bit value.
pub fn frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let header = FrameHeader {
        fin,
        rsv,
        opcode: OpCode::from_bits(opcode),
        mask,
        payload_len: payload.len() as u64,
    };
    let mut head = [0u8; FrameHeader::MAX_LEN];
    let n = header.encode(&mut head);
    let mut out = head[..n].to_vec();
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key, 0);
    }
    out
}

/// A frame as a client sends it (masked with [`KEY`]).
pub fn cframe(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(fin, 0, opcode, payload, Some(KEY))
}

/// A frame as a server sends it (unmasked).
pub fn sframe(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(fin, 0, opcode, payload, None)
}

/// A Close payload.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

/// The unmasked close frame a server queues for `code`.
pub fn server_close(code: CloseCode) -> Vec<u8> {
    sframe(true, 0x8, &code.as_u16().to_be_bytes())
}

/// The `now` the connection tests pass (their clock never moves).
pub const T0: Instant = Instant::ZERO;

/// Receives `bytes` at [`T0`] and drains the events.
pub fn feed(conn: &mut Connection, bytes: &[u8]) -> Vec<Ev> {
    conn.receive(T0, bytes);
    events(conn)
}

/// Feeds `bytes` to a server and expects exactly the events `before`, then the error, with our
/// Close carrying `code` as the only bytes queued after them.
pub fn expect_server_failure(bytes: &[u8], before: Vec<Ev>, err: ProtocolError, code: CloseCode) {
    let mut s = server();
    transmit(&mut s);
    let mut expected = before;
    expected.push(Ev::Err(Error::Protocol(err)));
    assert_eq!(feed(&mut s, bytes), expected);
    let out = transmit(&mut s);
    assert!(out.ends_with(&server_close(code)), "{out:x?}");
    assert_ne!(s.state(), State::Open);
    assert_eq!(events(&mut s), vec![], "error reported once");
}
