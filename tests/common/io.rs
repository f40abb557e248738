//! Helpers shared by the adapter tests (`io_*`): payload patterns, echo loops for every
//! adapter, raw HTTP heads, and a raw WebSocket peer over std TCP (no wsproto on its side
//! except the frame builders of the parent module) for driving an adapter byte by byte.
#![cfg(feature = "std")]

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use wsproto::io::Message;
use wsproto::io::blocking;

use super::{cframe, sframe};

/// Deterministic test payload of `len` bytes.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

// ---- echo loops: echo data messages until the stream ends; return everything seen ----

/// Blocking adapter.
pub fn echo_blocking<S: blocking::Stream>(mut ws: blocking::WebSocket<S>) -> Vec<Message> {
    let mut seen = Vec::new();
    while let Some(item) = ws.recv() {
        let m = item.expect("server error");
        if m.is_data() {
            let _ = ws.send(m.clone());
        }
        seen.push(m);
    }
    seen
}

/// tokio and futures-io adapters (both are the poll-based executor underneath).
#[cfg(any(feature = "tokio", feature = "futures-io"))]
pub async fn echo<T: wsproto::io::nonblocking::PollIo>(
    mut ws: wsproto::io::nonblocking::WebSocket<T>,
) -> Vec<Message> {
    let mut seen = Vec::new();
    while let Some(item) = ws.recv().await {
        let m = item.expect("server error");
        if m.is_data() {
            let _ = ws.send(m.clone()).await;
        }
        seen.push(m);
    }
    seen
}

// ---- HTTP heads ----

/// The RFC 6455 §1.3 sample key and its `Sec-WebSocket-Accept`.
pub const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A valid upgrade request for `path` with [`SAMPLE_KEY`].
pub fn upgrade_request(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// Whether `buf` holds a whole HTTP head (ends with the blank line).
pub fn head_complete(buf: &[u8]) -> bool {
    buf.ends_with(b"\r\n\r\n")
}

/// Reads an HTTP head byte by byte (nothing after it is consumed).
pub fn read_head<R: Read>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    while !head_complete(&head) {
        let mut byte = [0u8; 1];
        r.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    Ok(head)
}

/// The same over a tokio stream.
#[cfg(feature = "tokio")]
pub async fn read_head_tokio<R: tokio::io::AsyncRead + Unpin>(r: &mut R) -> io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    while !head_complete(&head) {
        let mut byte = [0u8; 1];
        r.read_exact(&mut byte).await?;
        head.push(byte[0]);
    }
    Ok(head)
}

/// A parsed HTTP head: the start line's parts and the headers.
#[derive(Debug)]
pub struct Head {
    pub start: Vec<String>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Head {
    pub fn parse(head: &[u8]) -> Head {
        let text = std::str::from_utf8(head).expect("ASCII head");
        let mut lines = text.split("\r\n");
        let start = lines
            .next()
            .unwrap_or_default()
            .split(' ')
            .map(String::from)
            .collect();
        let headers = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').expect("header line");
                (n.trim().to_owned(), v.trim().as_bytes().to_vec())
            })
            .collect();
        Head { start, headers }
    }

    /// The headers as `Request::from_parts` takes them.
    pub fn header_refs(&self) -> Vec<(&str, &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

// ---- a raw WebSocket peer over std TCP ----

/// One frame as the raw peer read it (payload unmasked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFrame {
    pub fin: bool,
    pub opcode: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

/// Reads one frame (hand-written parser, independent of the crate's); `Ok(None)` at a clean
/// end of stream between frames.
pub fn read_frame<R: Read>(r: &mut R) -> io::Result<Option<RawFrame>> {
    let mut head = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match r.read(&mut head[got..])? {
            0 if got == 0 => return Ok(None),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => got += n,
        }
    }
    let fin = head[0] & 0x80 != 0;
    let opcode = head[0] & 0x0f;
    let masked = head[1] & 0x80 != 0;
    let len = match head[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b)?;
            u64::from(u16::from_be_bytes(b))
        }
        127 => {
            let mut b = [0u8; 8];
            r.read_exact(&mut b)?;
            u64::from_be_bytes(b)
        }
        n => u64::from(n),
    };
    let mut key = [0u8; 4];
    if masked {
        r.read_exact(&mut key)?;
    }
    let mut payload = vec![0u8; usize::try_from(len).expect("frame length")];
    r.read_exact(&mut payload)?;
    if masked {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    Ok(Some(RawFrame {
        fin,
        opcode,
        masked,
        payload,
    }))
}

/// What the raw peer's reader thread saw.
#[derive(Debug)]
pub enum Seen {
    Frame(RawFrame),
    Eof,
    Error(io::Error),
}

/// Which side of the connection the raw peer plays (a client masks its frames).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// A hand-driven WebSocket peer on a std TCP stream: writes frames (masked as a client),
/// and reads on a thread of its own once [`RawPeer::start_reading`] is called, so it can
/// stop reading (flood without reading) and resume.
pub struct RawPeer {
    pub stream: TcpStream,
    pub side: Side,
    frames: Option<Receiver<Seen>>,
}

/// Hang guard for every blocking wait of the raw peer.
pub const GUARD: Duration = Duration::from_secs(10);

impl RawPeer {
    /// Raw client: sends the upgrade request and checks the 101.
    pub fn client(mut stream: TcpStream) -> RawPeer {
        stream.set_read_timeout(Some(GUARD)).unwrap();
        stream.set_write_timeout(Some(GUARD)).unwrap();
        stream.write_all(upgrade_request("/").as_bytes()).unwrap();
        let head = Head::parse(&read_head(&mut stream).expect("101 response"));
        assert_eq!(
            head.start.get(1).map(String::as_str),
            Some("101"),
            "{head:?}"
        );
        assert_eq!(head.header("sec-websocket-accept"), Some(SAMPLE_ACCEPT));
        RawPeer {
            stream,
            side: Side::Client,
            frames: None,
        }
    }

    /// Raw server: reads the upgrade request and answers 101 with the right accept key.
    pub fn server(mut stream: TcpStream) -> RawPeer {
        stream.set_read_timeout(Some(GUARD)).unwrap();
        stream.set_write_timeout(Some(GUARD)).unwrap();
        let head = Head::parse(&read_head(&mut stream).expect("upgrade request"));
        assert_eq!(
            head.start.first().map(String::as_str),
            Some("GET"),
            "{head:?}"
        );
        let key = head.header("sec-websocket-key").expect("a key");
        let accept = wsproto::handshake::accept_key(key.as_bytes());
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        stream.write_all(answer.as_bytes()).unwrap();
        RawPeer {
            stream,
            side: Side::Server,
            frames: None,
        }
    }

    /// One frame as this side sends it.
    pub fn frame(&self, opcode: u8, payload: &[u8]) -> Vec<u8> {
        match self.side {
            Side::Client => cframe(true, opcode, payload),
            Side::Server => sframe(true, opcode, payload),
        }
    }

    /// The size of a frame with a payload of `len` (< 126) bytes as this side sends it.
    pub fn frame_len(&self, len: usize) -> usize {
        assert!(len < 126);
        match self.side {
            Side::Client => 2 + 4 + len,
            Side::Server => 2 + len,
        }
    }

    pub fn send(&mut self, opcode: u8, payload: &[u8]) {
        let f = self.frame(opcode, payload);
        self.stream.write_all(&f).expect("raw peer write");
    }

    /// Starts reading every frame on a thread of its own.
    pub fn start_reading(&mut self) {
        assert!(self.frames.is_none());
        let stream = self.stream.try_clone().unwrap();
        stream.set_read_timeout(Some(GUARD)).unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut stream = io::BufReader::with_capacity(64 * 1024, stream);
            loop {
                let seen = match read_frame(&mut stream) {
                    Ok(Some(f)) => Seen::Frame(f),
                    Ok(None) => Seen::Eof,
                    Err(e) => Seen::Error(e),
                };
                let last = !matches!(seen, Seen::Frame(_));
                if tx.send(seen).is_err() || last {
                    return;
                }
            }
        });
        self.frames = Some(rx);
    }

    /// The next thing the reader saw, waiting until `deadline`.
    #[track_caller]
    pub fn next(&mut self, deadline: Instant) -> Seen {
        let rx = self.frames.as_ref().expect("start_reading first");
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(seen) => seen,
            Err(RecvTimeoutError::Timeout) => panic!("raw peer: nothing read in time"),
            Err(RecvTimeoutError::Disconnected) => panic!("raw peer: reader gone"),
        }
    }

    /// The next frame (panics on the end of the stream or an error).
    #[track_caller]
    pub fn next_frame(&mut self, deadline: Instant) -> RawFrame {
        match self.next(deadline) {
            Seen::Frame(f) => {
                // RFC 6455 §5.1: clients mask, servers do not.
                assert_eq!(f.masked, self.side == Side::Server, "masking of {f:?}");
                f
            }
            other => panic!("raw peer: expected a frame, got {other:?}"),
        }
    }

    /// Expects the end of the stream next.
    #[track_caller]
    pub fn expect_eof(&mut self, deadline: Instant) {
        match self.next(deadline) {
            Seen::Eof => {}
            Seen::Error(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            other => panic!("raw peer: expected the end of the stream, got {other:?}"),
        }
    }

    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}
