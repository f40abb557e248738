//! Shared by benches/compare.rs (criterion, time) and benches/instructions.rs (callgrind,
//! instruction counts): the pre-encoded inputs and one driver per library, so both measure
//! exactly the same work.
//!
//! Inputs are masked client frames, as a server receives them. Every library gets them in the
//! same reads: an in-memory stream never returns bytes across a 64 KiB boundary of the input
//! (nor across its end), and wsproto is pushed the same 64 KiB slices with `receive`. Each
//! library copies the bytes it reads into its own buffer once, as it would from a socket.
//! The input is replayed cyclically, so a driver can read any number of whole inputs.
//!
//! How each library is used (its fastest documented use that still hands whole messages to
//! the application):
//! * wsproto: `Connection` (server role) `receive` + `poll_event`, messages assembled
//!   (the default), lent as `&[u8]`/`&str`; with deferred UTF-8 checks, as the crate's
//!   non-blocking adapters drive it, and `check_deferred` where a socket loop would wait (at
//!   the end of each batch: the in-memory stream never blocks).
//! * tungstenite: `WebSocket::from_raw_socket` over a blocking `Read + Write`, `read()` per
//!   message (owned `Bytes`/`Utf8Bytes`), no message or frame size limit.
//! * fastwebsockets: `WebSocket::after_handshake` wrapped in a `FragmentCollector` (the
//!   type that assembles fragmented messages and validates their UTF-8; without it
//!   `read_frame` returns fragments unvalidated), over an in-memory tokio stream, driven by
//!   a current-thread runtime's `block_on` once per batch (not per message). Default features
//!   (`simd`: simdutf8 for single-frame text).
//! * Sending (client, masked): wsproto `send_binary` + `poll_transmit` copied to the sink +
//!   `advance_transmit`; tungstenite `send(Message::Binary(bytes.clone()))` (a reference-count
//!   clone; `send` = `write` + `flush` into the sink); fastwebsockets `write_frame` of a
//!   `Payload::BorrowedMut` over a reused scratch copy of the message (it masks the payload in
//!   place; `Payload::Borrowed` would allocate a copy per message instead), vectored write
//!   above 1 KiB as it chooses.
//! * Limits: `memcpy` copies each payload into a reused buffer; `limit` copies and unmasks
//!   it with `wsproto::frame::apply_mask` (word-wide, safe code) and, for text, validates the
//!   whole message with simdutf8 (`basic::from_utf8`). Deflate limits run miniz_oxide
//!   directly with one persistent (de)compressor, as context takeover allows.

#![allow(dead_code)]

pub mod json;
pub use json::json_like;

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use wsproto::deflate::{DeflateConfig, PerMessageDeflate};
use wsproto::extension::{ExtensionParam, RSV1};
use wsproto::frame::{FrameHeader, OpCode, apply_mask};
use wsproto::{Config, Connection, Event, Extension, Instant, Role};

/// The size of one read from the "socket".
pub const READ: usize = 64 * 1024;
/// Message sizes of the plain receive and send cases.
pub const SIZES: [usize; 5] = [16, 125, 1024, 64 * 1024, 1024 * 1024];
/// Fragment size of the fragmented cases.
pub const FRAGMENT: usize = 1024;

/// What a message holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Binary,
    /// Text, ASCII only.
    Ascii,
    /// Text mixing 1-, 2-, 3- and 4-byte characters.
    Utf8,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Binary => "binary",
            Kind::Ascii => "text-ascii",
            Kind::Utf8 => "text-utf8",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        [Kind::Binary, Kind::Ascii, Kind::Utf8]
            .into_iter()
            .find(|k| k.name() == name)
    }

    pub fn is_text(self) -> bool {
        self != Kind::Binary
    }
}

/// A payload of exactly `size` bytes (valid UTF-8 for text; `seed` varies binary content).
pub fn payload(kind: Kind, size: usize, seed: usize) -> Vec<u8> {
    let pattern = match kind {
        Kind::Binary => {
            return (0..size)
                .map(|i| (i.wrapping_mul(31).wrapping_add(seed * 7)) as u8)
                .collect();
        }
        Kind::Ascii => "The quick brown fox jumps over the lazy dog; websocket text 0123456789. ",
        Kind::Utf8 => "héllo wörld, привет мир, 你好世界, γειά σου, 😀🎉 naïve café ",
    };
    let mut s = String::with_capacity(size + 4);
    for c in pattern.chars().cycle() {
        if s.len() + c.len_utf8() > size {
            break;
        }
        s.push(c);
    }
    while s.len() < size {
        s.push('a');
    }
    s.into_bytes()
}

/// The 64 different JSON-like messages of `size` bytes the deflate cases cycle through.
pub fn json_messages(size: usize) -> Vec<Vec<u8>> {
    (0..64).map(|i| json_like(size, i)).collect()
}

/// Messages per batch: about 1 MiB of payload (at least one message).
pub fn batch(size: usize) -> usize {
    ((1 << 20) / size.max(1)).max(1)
}

/// Where one frame's (masked) payload lies in the input.
#[derive(Clone, Copy, Debug)]
pub struct FrameAt {
    pub start: usize,
    pub len: usize,
    pub key: [u8; 4],
}

/// A pre-encoded byte stream of masked client frames.
pub struct Input {
    pub bytes: Rc<[u8]>,
    pub text: bool,
    /// Every frame, in order.
    pub frames: Vec<FrameAt>,
    /// For each message, its range in `frames`.
    pub messages: Vec<(usize, usize)>,
    /// Payload bytes of one whole input (uncompressed, for deflate).
    pub payload_bytes: usize,
    /// Uncompressed size of each message (deflate inputs; equals the frame payloads otherwise).
    pub message_len: Vec<usize>,
}

fn key(i: usize) -> [u8; 4] {
    ((i as u32).wrapping_mul(0x9E37_79B9) ^ 0x1234_5678).to_le_bytes()
}

fn push_frame(
    out: &mut Vec<u8>,
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    data: &[u8],
    key: [u8; 4],
) -> FrameAt {
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask: Some(key),
        payload_len: data.len() as u64,
    };
    let mut head = [0u8; FrameHeader::MAX_LEN];
    let n = header.encode(&mut head);
    out.extend_from_slice(&head[..n]);
    let start = out.len();
    out.extend_from_slice(data);
    apply_mask(&mut out[start..], key, 0);
    FrameAt {
        start,
        len: data.len(),
        key,
    }
}

impl Input {
    /// `count` single-frame messages of `size` bytes.
    pub fn messages(kind: Kind, size: usize, count: usize) -> Input {
        Input::fragmented(kind, size, size.max(1), count)
    }

    /// `count` messages of `size` bytes, each sent in frames of `fragment` bytes (text is cut
    /// at byte offsets, so characters straddle fragments).
    pub fn fragmented(kind: Kind, size: usize, fragment: usize, count: usize) -> Input {
        let opcode = if kind.is_text() {
            OpCode::Text
        } else {
            OpCode::Binary
        };
        let mut bytes = Vec::new();
        let mut frames = Vec::new();
        let mut messages = Vec::new();
        for m in 0..count {
            let data = payload(kind, size, m);
            let first = frames.len();
            let pieces: Vec<&[u8]> = if data.is_empty() {
                vec![&data[..]]
            } else {
                data.chunks(fragment).collect()
            };
            let last = pieces.len() - 1;
            for (i, piece) in pieces.into_iter().enumerate() {
                let op = if i == 0 { opcode } else { OpCode::Continuation };
                let at = push_frame(&mut bytes, i == last, 0, op, piece, key(frames.len()));
                frames.push(at);
            }
            messages.push((first, frames.len()));
        }
        Input {
            bytes: bytes.into(),
            text: kind.is_text(),
            frames,
            messages,
            payload_bytes: size * count,
            message_len: vec![size; count],
        }
    }

    /// `count` JSON-like binary messages of `size` bytes compressed with permessage-deflate
    /// (level 1, context takeover, 32 KiB window: wsproto's defaults), as one client would
    /// send them (RSV1, masked).
    pub fn deflated(size: usize, count: usize) -> Input {
        let mut ext = deflate_peer();
        let mut bytes = Vec::new();
        let mut frames = Vec::new();
        let mut messages = Vec::new();
        for m in 0..count {
            let data = json_like(size, m as u32 % 64);
            assert_eq!(ext.encode_start(Some(data.len()), true), Some(RSV1));
            let mut z = Vec::with_capacity(size / 2);
            ext.encode(&data, true, &mut z).unwrap();
            let at = push_frame(&mut bytes, true, RSV1, OpCode::Binary, &z, key(m));
            messages.push((frames.len(), frames.len() + 1));
            frames.push(at);
        }
        Input {
            bytes: bytes.into(),
            text: false,
            frames,
            messages,
            payload_bytes: size * count,
            message_len: vec![size; count],
        }
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The end of the read that starts at `pos`.
    pub fn read_end(&self, pos: usize) -> usize {
        ((pos / READ + 1) * READ).min(self.bytes.len())
    }

    /// Payload bytes a driver reports for `n` messages starting at message 0 (n a multiple of
    /// the input's message count, or at most one input).
    pub fn expected(&self, n: usize) -> usize {
        let per = self.messages.len();
        let whole = n / per;
        let rest: usize = self.message_len[..n % per].iter().sum();
        whole * self.payload_bytes + rest
    }
}

/// A permessage-deflate instance with wsproto's default agreement (context takeover both
/// ways, 32 KiB windows, level 1), compressing everything.
pub fn deflate_peer() -> PerMessageDeflate {
    let mut ext = PerMessageDeflate::new(DeflateConfig::new().threshold(0));
    ext.accept_offer(&[] as &[ExtensionParam<'_>])
        .expect("accepted");
    ext
}

// ---- the in-memory stream ----

/// Serves `input` cyclically in reads that stop at its 64 KiB boundaries and at its end;
/// collects writes in `sink`.
pub struct MemStream {
    pub input: Rc<[u8]>,
    pub pos: usize,
    pub sink: Rc<RefCell<Vec<u8>>>,
}

impl MemStream {
    pub fn new(input: Rc<[u8]>) -> Self {
        MemStream {
            input,
            pos: 0,
            sink: Rc::new(RefCell::new(Vec::new())),
        }
    }

    fn serve(&mut self, max: usize) -> &[u8] {
        if self.input.is_empty() {
            return &[];
        }
        let end = ((self.pos / READ + 1) * READ).min(self.input.len());
        let n = (end - self.pos).min(max);
        let start = self.pos;
        self.pos += n;
        if self.pos == self.input.len() {
            self.pos = 0;
        }
        &self.input[start..start + n]
    }
}

impl Read for MemStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let chunk = self.serve(buf.len());
        let n = chunk.len();
        buf[..n].copy_from_slice(chunk);
        Ok(n)
    }
}

impl Write for MemStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let mut sink = self.sink.borrow_mut();
        let mut n = 0;
        for b in bufs {
            sink.extend_from_slice(b);
            n += b.len();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for MemStream {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let chunk = this.serve(buf.remaining());
        buf.put_slice(chunk);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for MemStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.get_mut().write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.get_mut().write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The send sink is emptied once it holds this much (its capacity stays).
const SINK_CLEAR: usize = 1 << 20;

fn trim_sink(sink: &RefCell<Vec<u8>>) {
    let mut s = sink.borrow_mut();
    if s.len() >= SINK_CLEAR {
        s.clear();
    }
}

// ---- receive drivers ----

/// One library (or limit) reading messages from an [`Input`]: `run(n)` reads the next `n`
/// messages and returns their payload bytes (uncompressed).
pub trait Receiver {
    fn run(&mut self, n: usize) -> usize;
}

pub const RECEIVERS: [&str; 5] = [
    "wsproto",
    "tungstenite",
    "fastwebsockets",
    "limit",
    "memcpy",
];

pub fn receiver(lib: &str, input: &Rc<Input>) -> Box<dyn Receiver> {
    match lib {
        "wsproto" => Box::new(WsprotoRecv::new(input.clone(), Vec::new())),
        "tungstenite" => Box::new(TungsteniteRecv::new(input)),
        "fastwebsockets" => Box::new(FwsRecv::new(input)),
        "limit" => Box::new(LimitRecv::new(input.clone(), true)),
        "memcpy" => Box::new(LimitRecv::new(input.clone(), false)),
        _ => panic!("unknown receiver {lib}"),
    }
}

pub fn deflate_receiver(lib: &str, input: &Rc<Input>) -> Box<dyn Receiver> {
    match lib {
        "wsproto" => Box::new(WsprotoRecv::new(
            input.clone(),
            vec![Box::new(deflate_peer()) as Box<dyn Extension>],
        )),
        "limit" => Box::new(InflateLimit::new(input.clone())),
        _ => panic!("unknown deflate receiver {lib}"),
    }
}

pub struct WsprotoRecv {
    conn: Connection,
    input: Rc<Input>,
    pos: usize,
    /// Messages already received beyond what `run` asked for (a read holds several).
    ahead: usize,
    ahead_bytes: usize,
}

impl WsprotoRecv {
    pub fn new(input: Rc<Input>, extensions: Vec<Box<dyn Extension>>) -> Self {
        let config = Config::new()
            .max_message_size(usize::MAX / 2)
            .max_frame_size(usize::MAX / 2);
        let mut conn = Connection::with_extensions(Role::Server, config, extensions);
        conn.set_deferred_checks(true);
        WsprotoRecv {
            conn,
            input,
            pos: 0,
            ahead: 0,
            ahead_bytes: 0,
        }
    }
}

impl Receiver for WsprotoRecv {
    fn run(&mut self, n: usize) -> usize {
        // Push one read at a time and drain it, as a socket loop would; a read may end past
        // the n-th message (the surplus counts towards the next call).
        let (mut msgs, mut bytes) = (self.ahead, self.ahead_bytes);
        while msgs < n {
            let end = self.input.read_end(self.pos);
            self.conn
                .receive(Instant::ZERO, &self.input.bytes[self.pos..end]);
            self.pos = if end == self.input.len() { 0 } else { end };
            while let Some(event) = self.conn.poll_event().unwrap() {
                match event {
                    Event::Text { data, .. } => {
                        bytes += core::hint::black_box(data).len();
                        msgs += 1;
                    }
                    Event::Binary { data, .. } => {
                        bytes += core::hint::black_box(data).len();
                        msgs += 1;
                    }
                    _ => {}
                }
            }
        }
        // Where a socket loop would wait for more input: this stream never runs dry before
        // the batch is done (a loaded server's reads rarely block mid-message either).
        assert!(!self.conn.check_deferred(), "valid input");
        // Attribute the surplus to the next call (only happens when n is not a whole input).
        self.ahead = msgs - n;
        self.ahead_bytes = 0;
        if self.ahead > 0 {
            let per = bytes / msgs;
            self.ahead_bytes = per * self.ahead;
            bytes -= self.ahead_bytes;
        }
        bytes
    }
}

pub struct TungsteniteRecv {
    ws: tungstenite::WebSocket<MemStream>,
}

impl TungsteniteRecv {
    pub fn new(input: &Input) -> Self {
        let config = tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(None)
            .max_frame_size(None);
        TungsteniteRecv {
            ws: tungstenite::WebSocket::from_raw_socket(
                MemStream::new(input.bytes.clone()),
                tungstenite::protocol::Role::Server,
                Some(config),
            ),
        }
    }
}

impl Receiver for TungsteniteRecv {
    fn run(&mut self, n: usize) -> usize {
        let mut bytes = 0;
        let mut msgs = 0;
        while msgs < n {
            match self.ws.read().unwrap() {
                tungstenite::Message::Binary(data) => {
                    bytes += core::hint::black_box(data).len();
                    msgs += 1;
                }
                tungstenite::Message::Text(data) => {
                    bytes += core::hint::black_box(data).len();
                    msgs += 1;
                }
                _ => {}
            }
        }
        bytes
    }
}

pub struct FwsRecv {
    ws: fastwebsockets::FragmentCollector<MemStream>,
    rt: tokio::runtime::Runtime,
}

impl FwsRecv {
    pub fn new(input: &Input) -> Self {
        let mut ws = fastwebsockets::WebSocket::after_handshake(
            MemStream::new(input.bytes.clone()),
            fastwebsockets::Role::Server,
        );
        ws.set_max_message_size(usize::MAX / 2);
        FwsRecv {
            ws: fastwebsockets::FragmentCollector::new(ws),
            rt: current_thread(),
        }
    }
}

pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

impl Receiver for FwsRecv {
    fn run(&mut self, n: usize) -> usize {
        let ws = &mut self.ws;
        self.rt.block_on(async {
            let mut bytes = 0;
            let mut msgs = 0;
            while msgs < n {
                let frame = ws.read_frame().await.unwrap();
                match frame.opcode {
                    fastwebsockets::OpCode::Binary | fastwebsockets::OpCode::Text => {
                        bytes += core::hint::black_box(&frame.payload[..]).len();
                        msgs += 1;
                    }
                    _ => {}
                }
            }
            bytes
        })
    }
}

/// The least a receiver can do: copy each payload out of the input once (`memcpy`), and
/// unmask it and validate text (`limit`).
pub struct LimitRecv {
    input: Rc<Input>,
    next: usize,
    unmask: bool,
    buf: Vec<u8>,
}

impl LimitRecv {
    pub fn new(input: Rc<Input>, unmask: bool) -> Self {
        LimitRecv {
            input,
            next: 0,
            unmask,
            buf: Vec::new(),
        }
    }
}

impl Receiver for LimitRecv {
    fn run(&mut self, n: usize) -> usize {
        let input = &*self.input;
        let bytes = &input.bytes[..];
        let mut total = 0;
        for _ in 0..n {
            let (first, last) = input.messages[self.next];
            self.next += 1;
            if self.next == input.messages.len() {
                self.next = 0;
            }
            self.buf.clear();
            for f in &input.frames[first..last] {
                let start = self.buf.len();
                self.buf.extend_from_slice(&bytes[f.start..f.start + f.len]);
                if self.unmask {
                    apply_mask(&mut self.buf[start..], f.key, 0);
                }
            }
            if self.unmask && input.text {
                assert!(simdutf8::basic::from_utf8(&self.buf).is_ok());
            }
            total += core::hint::black_box(&self.buf).len();
        }
        total
    }
}

/// Copy + unmask each compressed payload, then inflate it with one persistent raw inflater
/// (context takeover) into a reused buffer.
pub struct InflateLimit {
    input: Rc<Input>,
    next: usize,
    state: Box<miniz_oxide::inflate::stream::InflateState>,
    z: Vec<u8>,
    out: Vec<u8>,
}

impl InflateLimit {
    pub fn new(input: Rc<Input>) -> Self {
        let max = input.message_len.iter().copied().max().unwrap_or(0);
        InflateLimit {
            input,
            next: 0,
            state: miniz_oxide::inflate::stream::InflateState::new_boxed(
                miniz_oxide::DataFormat::Raw,
            ),
            z: Vec::new(),
            out: vec![0; max + 1024],
        }
    }
}

const SYNC_TRAILER: [u8; 4] = [0, 0, 0xff, 0xff];

impl Receiver for InflateLimit {
    fn run(&mut self, n: usize) -> usize {
        use miniz_oxide::MZFlush;
        use miniz_oxide::inflate::stream::inflate;
        let input = &*self.input;
        let mut total = 0;
        for _ in 0..n {
            let (first, _) = input.messages[self.next];
            let want = input.message_len[self.next];
            self.next += 1;
            if self.next == input.messages.len() {
                self.next = 0;
            }
            let f = input.frames[first];
            self.z.clear();
            self.z
                .extend_from_slice(&input.bytes[f.start..f.start + f.len]);
            apply_mask(&mut self.z, f.key, 0);
            self.z.extend_from_slice(&SYNC_TRAILER);
            let mut produced = 0;
            let mut src = &self.z[..];
            while !src.is_empty() {
                let res = inflate(
                    &mut self.state,
                    src,
                    &mut self.out[produced..],
                    MZFlush::None,
                );
                res.status.unwrap();
                src = &src[res.bytes_consumed..];
                produced += res.bytes_written;
                if res.bytes_consumed == 0 && res.bytes_written == 0 {
                    panic!("inflate made no progress");
                }
            }
            assert_eq!(produced, want);
            total += core::hint::black_box(&self.out[..produced]).len();
        }
        total
    }
}

// ---- send drivers (client role: masked) ----

/// One library (or limit) sending `n` copies of `data` as binary messages into a sink.
pub trait Sender {
    fn run(&mut self, n: usize) -> usize;
}

pub const SENDERS: [&str; 5] = [
    "wsproto",
    "tungstenite",
    "fastwebsockets",
    "limit",
    "memcpy",
];

pub fn sender(lib: &str, data: &[u8]) -> Box<dyn Sender> {
    match lib {
        "wsproto" => Box::new(WsprotoSend::new(data, Vec::new())),
        "tungstenite" => Box::new(TungsteniteSend::new(data)),
        "fastwebsockets" => Box::new(FwsSend::new(data)),
        "limit" => Box::new(LimitSend::new(data, true)),
        "memcpy" => Box::new(LimitSend::new(data, false)),
        _ => panic!("unknown sender {lib}"),
    }
}

/// Deflate senders send `msgs` in turn (different messages, as context takeover would see).
pub fn deflate_sender(lib: &str, msgs: &[Vec<u8>]) -> Box<dyn Sender> {
    match lib {
        "wsproto" => Box::new(WsprotoSend::rotating(
            msgs.to_vec(),
            vec![Box::new(deflate_client()) as Box<dyn Extension>],
        )),
        "limit" => Box::new(DeflateLimit::new(msgs.to_vec())),
        _ => panic!("unknown deflate sender {lib}"),
    }
}

/// The client side of wsproto's default permessage-deflate agreement, compressing
/// everything.
pub fn deflate_client() -> PerMessageDeflate {
    let mut ext = PerMessageDeflate::new(DeflateConfig::new().threshold(0));
    ext.accept_response(&[] as &[ExtensionParam<'_>])
        .expect("accepted");
    ext
}

pub struct WsprotoSend {
    conn: Connection,
    msgs: Vec<Vec<u8>>,
    next: usize,
    sink: Vec<u8>,
}

impl WsprotoSend {
    pub fn new(data: &[u8], extensions: Vec<Box<dyn Extension>>) -> Self {
        Self::rotating(vec![data.to_vec()], extensions)
    }

    pub fn rotating(msgs: Vec<Vec<u8>>, extensions: Vec<Box<dyn Extension>>) -> Self {
        WsprotoSend {
            conn: Connection::with_extensions(Role::Client, Config::new(), extensions),
            msgs,
            next: 0,
            sink: Vec::new(),
        }
    }
}

impl Sender for WsprotoSend {
    fn run(&mut self, n: usize) -> usize {
        let mut total = 0;
        for _ in 0..n {
            if self.sink.len() >= SINK_CLEAR {
                self.sink.clear();
            }
            let data = &self.msgs[self.next];
            self.next = if self.next + 1 == self.msgs.len() {
                0
            } else {
                self.next + 1
            };
            self.conn.send_binary(data).unwrap();
            let out = self.conn.poll_transmit();
            let len = out.len();
            self.sink.extend_from_slice(out);
            self.conn.advance_transmit(len);
            total += len;
        }
        total
    }
}

pub struct TungsteniteSend {
    ws: tungstenite::WebSocket<MemStream>,
    sink: Rc<RefCell<Vec<u8>>>,
    data: Bytes,
}

impl TungsteniteSend {
    pub fn new(data: &[u8]) -> Self {
        let stream = MemStream::new(Rc::from(&[][..]));
        let sink = stream.sink.clone();
        let config = tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(None)
            .max_frame_size(None);
        TungsteniteSend {
            ws: tungstenite::WebSocket::from_raw_socket(
                stream,
                tungstenite::protocol::Role::Client,
                Some(config),
            ),
            sink,
            data: Bytes::copy_from_slice(data),
        }
    }
}

impl Sender for TungsteniteSend {
    fn run(&mut self, n: usize) -> usize {
        let mut total = 0;
        for _ in 0..n {
            trim_sink(&self.sink);
            let before = self.sink.borrow().len();
            self.ws
                .send(tungstenite::Message::Binary(self.data.clone()))
                .unwrap();
            total += self.sink.borrow().len() - before;
        }
        total
    }
}

pub struct FwsSend {
    ws: fastwebsockets::WebSocket<MemStream>,
    sink: Rc<RefCell<Vec<u8>>>,
    rt: tokio::runtime::Runtime,
    data: Vec<u8>,
    scratch: Vec<u8>,
}

impl FwsSend {
    pub fn new(data: &[u8]) -> Self {
        let stream = MemStream::new(Rc::from(&[][..]));
        let sink = stream.sink.clone();
        FwsSend {
            ws: fastwebsockets::WebSocket::after_handshake(stream, fastwebsockets::Role::Client),
            sink,
            rt: current_thread(),
            data: data.to_vec(),
            scratch: Vec::with_capacity(data.len()),
        }
    }
}

impl Sender for FwsSend {
    fn run(&mut self, n: usize) -> usize {
        let (ws, sink, data, scratch) = (&mut self.ws, &self.sink, &self.data, &mut self.scratch);
        self.rt.block_on(async {
            let mut total = 0;
            for _ in 0..n {
                trim_sink(sink);
                let before = sink.borrow().len();
                scratch.clear();
                scratch.extend_from_slice(data);
                let frame = fastwebsockets::Frame::binary(fastwebsockets::Payload::BorrowedMut(
                    &mut scratch[..],
                ));
                ws.write_frame(frame).await.unwrap();
                total += sink.borrow().len() - before;
            }
            total
        })
    }
}

/// The least a masking sender can do: write the header and copy the payload into the sink
/// (`memcpy`), and mask it there (`limit`).
pub struct LimitSend {
    data: Vec<u8>,
    sink: Vec<u8>,
    mask: bool,
    counter: u32,
}

impl LimitSend {
    pub fn new(data: &[u8], mask: bool) -> Self {
        LimitSend {
            data: data.to_vec(),
            sink: Vec::new(),
            mask,
            counter: 0,
        }
    }
}

fn header(len: usize, key: [u8; 4], out: &mut Vec<u8>) {
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::Binary,
        mask: Some(key),
        payload_len: len as u64,
    };
    let mut head = [0u8; FrameHeader::MAX_LEN];
    let n = header.encode(&mut head);
    out.extend_from_slice(&head[..n]);
}

impl Sender for LimitSend {
    fn run(&mut self, n: usize) -> usize {
        let mut total = 0;
        for _ in 0..n {
            if self.sink.len() >= SINK_CLEAR {
                self.sink.clear();
            }
            let start = self.sink.len();
            self.counter = self.counter.wrapping_add(0x9E37_79B9);
            let key = self.counter.to_le_bytes();
            header(self.data.len(), key, &mut self.sink);
            let body = self.sink.len();
            self.sink.extend_from_slice(&self.data);
            if self.mask {
                apply_mask(&mut self.sink[body..], key, 0);
            }
            total += self.sink.len() - start;
        }
        total
    }
}

/// One persistent raw deflater (level 1, as wsproto's default), sync flush per message,
/// trailer stripped, then masked in the sink.
pub struct DeflateLimit {
    comp: Box<miniz_oxide::deflate::core::CompressorOxide>,
    msgs: Vec<Vec<u8>>,
    next: usize,
    sink: Vec<u8>,
    counter: u32,
}

impl DeflateLimit {
    pub fn new(msgs: Vec<Vec<u8>>) -> Self {
        let flags = miniz_oxide::deflate::core::create_comp_flags_from_zip_params(1, -15, 0);
        DeflateLimit {
            comp: Box::new(miniz_oxide::deflate::core::CompressorOxide::new(flags)),
            msgs,
            next: 0,
            sink: Vec::new(),
            counter: 0,
        }
    }
}

impl Sender for DeflateLimit {
    fn run(&mut self, n: usize) -> usize {
        use miniz_oxide::deflate::core::{TDEFLFlush, TDEFLStatus, compress_to_output};
        let mut total = 0;
        for _ in 0..n {
            if self.sink.len() >= SINK_CLEAR {
                self.sink.clear();
            }
            let start = self.sink.len();
            // Room for the header, written once the length is known.
            self.sink.extend_from_slice(&[0; FrameHeader::MAX_LEN]);
            let body = self.sink.len();
            let sink = &mut self.sink;
            let mut src = &self.msgs[self.next][..];
            self.next = if self.next + 1 == self.msgs.len() {
                0
            } else {
                self.next + 1
            };
            loop {
                let (status, used) =
                    compress_to_output(&mut self.comp, src, TDEFLFlush::Sync, |b| {
                        sink.extend_from_slice(b);
                        true
                    });
                assert_eq!(status, TDEFLStatus::Okay);
                src = &src[used..];
                if src.is_empty() {
                    break;
                }
            }
            assert!(sink.ends_with(&SYNC_TRAILER));
            sink.truncate(sink.len() - SYNC_TRAILER.len());
            let zlen = sink.len() - body;
            self.counter = self.counter.wrapping_add(0x9E37_79B9);
            let key = self.counter.to_le_bytes();
            let header = FrameHeader {
                fin: true,
                rsv: RSV1,
                opcode: OpCode::Binary,
                mask: Some(key),
                payload_len: zlen as u64,
            };
            let mut head = [0u8; FrameHeader::MAX_LEN];
            let hlen = header.encode(&mut head);
            // The header goes right before the payload, in the room reserved for the longest
            // one (the bytes before it stay unused: no second copy of the payload).
            sink[body - hlen..body].copy_from_slice(&head[..hlen]);
            apply_mask(&mut sink[body..], key, 0);
            total += sink.len() - start;
        }
        total
    }
}
