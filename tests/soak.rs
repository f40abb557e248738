//! Soak test (issue 13): about 1,000 WebSocket connections over loopback through the tokio
//! adapter, both ends wsproto, every connection following a random plan drawn from a fixed
//! seed. Ignored by default; `.ci/run` runs it as its own step:
//!
//! ```text
//! cargo test --release --all-features --test soak -- --ignored --nocapture
//! ```
//!
//! Knobs (environment): `SOAK_SEED` (decimal or `0x` hex, default [`DEFAULT_SEED`]),
//! `SOAK_SECS` (no connection starts after this many seconds, default [`DEFAULT_SECS`]; the
//! ones running then must end within [`DRAIN`]), `SOAK_CONNS` (default [`DEFAULT_CONNS`]),
//! `SOAK_CONC` (connections open at once, default [`DEFAULT_CONC`]); for debugging,
//! `SOAK_ONLY=<id>` runs that connection's plan alone and prints its traffic. Results and the
//! last numbers: docs/conformance.md, "Soak".
//!
//! Each connection's plan (the same on both ends: the server reads the connection id from the
//! request path and draws the same plan) picks message counts and sizes (0 to 256 KiB of body,
//! mostly small), text (multi-byte UTF-8) or binary, compressible or not, sent whole, without
//! compression, queued with `feed`, or as explicit fragments with pings between them;
//! permessage-deflate offered and accepted on random subsets with random window bits and
//! context takeover; outgoing fragmentation, small send queues, unassembled delivery and
//! keepalive on random subsets (client config per plan, server config per listener: four
//! listeners, four profiles); a transport wrapper that caps every read and write at a random
//! size, sometimes stalls for a few milliseconds (Pending, then a timer wakes it) and sometimes
//! yields (wake, Pending); readers that stop reading (up to three times, for up to 1 s), by
//! not polling or with `pause`/`resume`; writers that pause between messages; a client that
//! closes as soon as it has sent everything (before the server is done); and faults on about
//! one connection in eight, on either end, after a random number of messages: a TCP reset
//! (`SO_LINGER` 0 and drop), a plain drop, or `terminate` (with or without its Close frame).
//!
//! Every data message starts with a 42-byte ASCII header: kind, connection id, sequence
//! number, body length and an FNV-1a checksum of the body. Checks:
//!
//! - every message that arrives is intact, of the kind sent, for this connection and the next
//!   in sequence (no loss in the middle, no reordering, no duplicate), on every connection;
//! - on a connection with no fault and no error seen by either application, every message
//!   whose send was accepted arrives (`accepted <= delivered <= attempted`), both ways, except
//!   from the server after a client that closed early: once we have sent Close, incoming data
//!   is discarded by design (`RxMode::CloseOnly`), so only the prefix property holds there;
//! - a connection with no planned fault sees no error at all (only `send: closed` on a
//!   server whose client closed early);
//! - liveness: a connection that has not ended and has made no progress (a message sent or
//!   received) for [`STUCK`] is reported and aborted; a connection ends within
//!   [`END_BOUND`] of its plans completing (both writers done, by plan, fault or error, and
//!   the last message delivered both ways);
//! - after all connections are closed and their tasks joined, the heap (counting global
//!   allocator) and the open file descriptors (Linux `/proc/self/fd`) are back at their
//!   baseline, taken after a warm-up of [`WARMUP`] connections with the runtime, the
//!   listeners and the watchdog running, within [`HEAP_SLACK`] bytes and [`FD_SLACK`] fds.
#![cfg(feature = "tokio")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU32, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Sleep;
use wsproto::deflate::{DeflateConfig, PerMessageDeflate};
use wsproto::handshake::{Accept, ClientOptions, Reject, Request, ServerOptions};
use wsproto::io::{AcceptOptions, Bytes, Error, Fragment, Message, on_tokio};
use wsproto::{CloseCode, Config, MessageKind, SendError, SendOptions, Timeout};

// ---- the counting allocator (as in tests/idle_memory.rs) ----

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ---- knobs and bounds ----

const DEFAULT_SEED: u64 = 0x5EED_0013;
const DEFAULT_CONNS: u32 = 1000;
/// No connection starts after this many seconds (the run normally finishes well before).
const DEFAULT_SECS: u64 = 150;
const DEFAULT_CONC: usize = 100;
/// Connections run before the baselines are taken (they count in the totals).
const WARMUP: u32 = 16;
/// Listeners, one server configuration each ([`listener_config`]).
const LISTENERS: usize = 4;
/// A connection that has not ended and made no progress for this long is stuck.
const STUCK: Duration = Duration::from_secs(10);
/// A connection ends within this long of its plans completing (both writers done and the
/// last message delivered both ways): the closing handshake, or noticing a vanished peer.
const END_BOUND: Duration = Duration::from_secs(15);
/// The close timeout and keepalive grace everywhere. Some plans are slow on purpose (one
/// byte per read, a yield every twenty polls, pieces of unassembled messages delivered one by
/// one), and on two busy cores their backlog can take longer than the default 5 s to drain:
/// the timers would then fire, correctly, and hide what this test looks for. Stalls are the
/// watchdog's business ([`STUCK`]).
const PATIENCE: Duration = Duration::from_secs(30);
/// After `SOAK_SECS`, the connections still running must end within this long.
const DRAIN: Duration = Duration::from_secs(60);
/// Heap allowed above the baseline once everything is closed: tokio's internal caches (I/O
/// driver registrations, timer wheel slots, per-worker queues) may keep some of what the
/// peak of concurrent connections made them grow. Measured: under 1 KiB.
const HEAP_SLACK: isize = 64 << 10;
/// File descriptors allowed above the baseline.
const FD_SLACK: usize = 4;
/// Largest message body.
const MAX_BODY: usize = 256 << 10;
/// Largest body on connections with tiny read/write chunks.
const SMALL_BODY: usize = 4 << 10;
/// Longest a reader stops reading, and how many times it does.
const MAX_READ_PAUSE_MS: u64 = 1000;
const MAX_READ_PAUSES: u32 = 3;
/// The message header: `W`, kind, id, seq, body length (8 hex digits each), checksum (16).
const HEADER: usize = 42;

// ---- deterministic randomness ----

/// xorshift64* seeded through splitmix64.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// 0..n (0 for n = 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    /// lo..=hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn pct(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

// ---- plans ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// `SO_LINGER` 0, then drop: the peer gets a TCP reset.
    Reset,
    /// Drop everything (FIN, or a reset if unread input is left).
    Drop,
    /// `terminate(1001, ..)`, with or without the Close frame.
    Terminate { skip_close_frame: bool },
}

/// How the transport wrapper of one end behaves.
#[derive(Clone, Copy, Debug)]
struct Chunking {
    /// Each read and write moves 1..=min(len, max) bytes; `usize::MAX`: all of it.
    max: usize,
    /// After 1..=this many bytes moved, stall (0: never).
    stall_every: usize,
    /// A stall lasts 1..=this many milliseconds.
    stall_ms: u64,
    /// Percent of polls that yield (wake, Pending) first.
    yield_pct: u64,
}

const PASS_THROUGH: Chunking = Chunking {
    max: usize::MAX,
    stall_every: 0,
    stall_ms: 0,
    yield_pct: 0,
};

#[derive(Clone, Debug)]
struct SidePlan {
    seed: u64,
    messages: u32,
    max_body: usize,
    chunking: Chunking,
    /// Percent chance, before each receive, of not reading for a while.
    slow_reader: u64,
    /// Stop reading with `pause`/`resume` (else: just do not poll).
    pause_api: bool,
    /// Longest pause between two sends (0: none).
    gap_ms: u64,
    /// A fault after this many messages.
    fault: Option<(u32, Fault)>,
}

#[derive(Clone, Debug)]
struct Plan {
    listener: usize,
    offer_deflate: Option<DeflateConfig>,
    accept_deflate: Option<DeflateConfig>,
    client_config: Config,
    /// The client closes as soon as it has sent everything, without waiting for the server.
    eager_close: bool,
    client: SidePlan,
    server: SidePlan,
}

fn deflate_config(r: &mut Rng) -> DeflateConfig {
    DeflateConfig::new()
        .client_no_context_takeover(r.pct(30))
        .server_no_context_takeover(r.pct(30))
        .client_max_window_bits(r.range(9, 15) as u8)
        .server_max_window_bits(if r.pct(50) { 15 } else { r.range(9, 15) as u8 })
        .level(r.pick(&[0, 1, 1, 1, 3, 6]))
        .threshold(r.pick(&[0, 64, 1024]))
}

impl Plan {
    fn new(seed: u64, id: u32) -> Plan {
        let mut r = Rng::new(seed ^ u64::from(id).wrapping_mul(0xA076_1D64_78BD_642F));
        let tiny = r.pct(10);
        let chatty = r.pct(10);
        let side = |r: &mut Rng| {
            let max = if tiny {
                r.pick(&[1, 7, 64])
            } else {
                r.pick(&[
                    200,
                    1500,
                    1500,
                    16 << 10,
                    16 << 10,
                    64 << 10,
                    usize::MAX,
                    usize::MAX,
                ])
            };
            let stalls = r.pct(30);
            let chunking = Chunking {
                max,
                stall_every: if stalls {
                    r.range(4 << 10, 256 << 10) as usize
                } else {
                    0
                },
                stall_ms: r.range(1, 30),
                yield_pct: if r.pct(30) { 5 } else { 0 },
            };
            // A tiny-chunk end moves one poll budget (tokio: 128 reads) of 1 to 64 bytes per
            // turn of the scheduler: keep its traffic small.
            let messages = if tiny {
                r.range(0, 16) as u32
            } else if chatty {
                r.range(60, 200) as u32
            } else {
                r.range(0, 60) as u32
            };
            SidePlan {
                seed: r.next(),
                messages,
                max_body: if tiny {
                    SMALL_BODY
                } else if chatty {
                    2048
                } else {
                    MAX_BODY
                },
                chunking,
                slow_reader: if r.pct(25) { r.range(5, 20) } else { 0 },
                pause_api: r.pct(50),
                gap_ms: if r.pct(30) { r.range(1, 50) } else { 0 },
                fault: None,
            }
        };
        let mut client = side(&mut r);
        let mut server = side(&mut r);
        if r.pct(12) {
            let fault = match r.below(10) {
                0..=3 => Fault::Reset,
                4..=6 => Fault::Drop,
                _ => Fault::Terminate {
                    skip_close_frame: r.pct(50),
                },
            };
            let who = if r.pct(50) { &mut client } else { &mut server };
            who.fault = Some((r.range(0, u64::from(who.messages)) as u32, fault));
        }
        let mut config = Config::new();
        if r.pct(30) {
            config = config.fragment_size(Some(r.range(1000, 64 << 10) as usize));
        }
        if r.pct(30) {
            config = config.max_send_queue(r.range(16 << 10, 512 << 10) as usize);
        }
        if r.pct(25) {
            config = config.assemble_messages(false);
        }
        config = config.close_timeout(PATIENCE);
        if r.pct(20) {
            config = config.keepalive(Some(Duration::from_millis(r.range(200, 1000))), PATIENCE);
        }
        Plan {
            listener: r.below(LISTENERS as u64) as usize,
            offer_deflate: r.pct(50).then(|| deflate_config(&mut r)),
            accept_deflate: r.pct(80).then(|| deflate_config(&mut r)),
            client_config: config,
            eager_close: r.pct(15),
            client,
            server,
        }
    }

    fn side(&self, side: Side) -> &SidePlan {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }
}

/// The server's configuration on each listener.
fn listener_config(listener: usize) -> Config {
    let config = Config::new().close_timeout(PATIENCE);
    match listener {
        0 => config,
        1 => config
            .max_send_queue(64 << 10)
            .fragment_size(Some(16 << 10)),
        2 => config.assemble_messages(false).max_send_queue(256 << 10),
        _ => config
            .fragment_size(Some(1000))
            .assemble_messages(false)
            .keepalive(Some(Duration::from_millis(300)), PATIENCE),
    }
}

// ---- messages ----

const CHARS: &[char] = &[
    'a', 'b', 'c', 'x', 'y', 'z', ' ', '\n', 'é', 'ß', 'ø', '€', '中', '文', '😀', '𝄞',
];

fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    h
}

fn body_len(r: &mut Rng, max: usize) -> usize {
    let len = match r.below(100) {
        0..=54 => r.range(0, 256),
        55..=79 => r.range(257, 2048),
        80..=92 => r.range(2049, 16 << 10),
        93..=97 => r.range((16 << 10) + 1, 64 << 10),
        _ => r.range((64 << 10) + 1, MAX_BODY as u64),
    };
    (len as usize).min(max)
}

/// Message `seq` of connection `id`: its kind and bytes (header and body).
fn make_message(r: &mut Rng, id: u32, seq: u32, max_body: usize) -> (MessageKind, Vec<u8>) {
    let len = body_len(r, max_body);
    let text = r.pct(50);
    let compressible = r.pct(50);
    let mut body = Vec::with_capacity(len);
    if text {
        let mut s = String::with_capacity(len);
        if compressible {
            let mut phrase = String::new();
            for _ in 0..r.range(4, 24) {
                phrase.push(r.pick(CHARS));
            }
            while s.len() + phrase.len() <= len {
                s.push_str(&phrase);
            }
        }
        while s.len() < len {
            let c = r.pick(CHARS);
            s.push(if s.len() + c.len_utf8() <= len {
                c
            } else {
                '.'
            });
        }
        body.extend_from_slice(s.as_bytes());
    } else if compressible {
        let phrase: Vec<u8> = (0..r.range(4, 64)).map(|_| r.next() as u8).collect();
        while body.len() < len {
            let n = phrase.len().min(len - body.len());
            body.extend_from_slice(&phrase[..n]);
        }
    } else {
        while body.len() < len {
            let n = 8.min(len - body.len());
            body.extend_from_slice(&r.next().to_le_bytes()[..n]);
        }
    }
    let kind = if text { 'T' } else { 'B' };
    let mut data = format!("W{kind}{id:08x}{seq:08x}{len:08x}{:016x}", fnv1a(&body)).into_bytes();
    data.extend_from_slice(&body);
    let kind = if text {
        MessageKind::Text
    } else {
        MessageKind::Binary
    };
    (kind, data)
}

/// The end marker: sent after the last message, with the message count as its sequence.
fn done_message(id: u32, count: u32) -> Message {
    Message::text(format!("WD{id:08x}{count:08x}{:08x}{:016x}", 0, 0))
}

fn parse_header(data: &[u8]) -> Option<(u8, u32, u32, usize, u64)> {
    if data.len() < HEADER || data[0] != b'W' {
        return None;
    }
    let hex = |from: usize, to: usize| {
        std::str::from_utf8(&data[from..to])
            .ok()
            .and_then(|s| u64::from_str_radix(s, 16).ok())
    };
    Some((
        data[1],
        hex(2, 10)? as u32,
        hex(10, 18)? as u32,
        hex(18, 26)? as usize,
        hex(26, 42)?,
    ))
}

/// Checks what one end receives: intact, in order, for this connection.
struct Verifier {
    id: u32,
    expect: u32,
    partial: Option<(MessageKind, Vec<u8>)>,
}

impl Verifier {
    /// A whole message: `Ok(Some(count))` for the end marker.
    fn whole(&mut self, kind: MessageKind, data: &[u8]) -> Result<Option<u32>, String> {
        if self.partial.is_some() {
            return Err("a whole message inside a fragmented one".into());
        }
        self.check(kind, data)
    }

    fn fragment(&mut self, f: &Fragment) -> Result<Option<u32>, String> {
        if f.kind == MessageKind::Text && std::str::from_utf8(&f.data).is_err() {
            return Err("a received text fragment is not UTF-8 on its own".into());
        }
        let (kind, buf) = self
            .partial
            .get_or_insert_with(|| (f.kind, Vec::with_capacity(f.data.len())));
        if *kind != f.kind {
            return Err(format!("fragment kind changed: {kind:?} then {:?}", f.kind));
        }
        buf.extend_from_slice(&f.data);
        if !f.fin {
            return Ok(None);
        }
        let (kind, buf) = self.partial.take().unwrap();
        self.check(kind, &buf)
    }

    fn check(&mut self, kind: MessageKind, data: &[u8]) -> Result<Option<u32>, String> {
        let Some((k, id, seq, len, sum)) = parse_header(data) else {
            return Err(format!(
                "bad header ({} bytes, expected seq {}): {:?}",
                data.len(),
                self.expect,
                String::from_utf8_lossy(&data[..data.len().min(HEADER)])
            ));
        };
        let sent_kind = if k == b'B' {
            MessageKind::Binary
        } else {
            MessageKind::Text
        };
        if sent_kind != kind || !matches!(k, b'T' | b'B' | b'D') {
            return Err(format!(
                "seq {seq}: sent as {:?}, received as {kind:?}",
                k as char
            ));
        }
        if id != self.id {
            return Err(format!(
                "message of connection {id} on connection {}",
                self.id
            ));
        }
        if seq != self.expect {
            return Err(format!("seq {seq} received, {} expected", self.expect));
        }
        if k == b'D' {
            return Ok(Some(seq));
        }
        let body = &data[HEADER..];
        if body.len() != len || fnv1a(body) != sum {
            return Err(format!(
                "seq {seq}: body corrupted ({} bytes, {len} sent)",
                body.len()
            ));
        }
        self.expect += 1;
        Ok(None)
    }
}

// ---- what happened, per connection ----

/// Kinds of errors and abnormal ends the applications saw.
const KINDS: [&str; 15] = [
    "io: connection reset",
    "io: broken pipe",
    "io: unexpected eof",
    "io: other",
    "protocol error",
    "timeout: close",
    "timeout: keepalive",
    "timeout: other",
    "connection: other",
    "send: closed",
    "send: other",
    "handshake",
    "other",
    "close 1006 (no Close frame)",
    "close: code other than 1000",
];
const SEND_CLOSED: usize = 9;

fn error_kind(e: &Error) -> usize {
    match e {
        Error::Io(io) => match io.kind() {
            io::ErrorKind::ConnectionReset => 0,
            io::ErrorKind::BrokenPipe => 1,
            io::ErrorKind::UnexpectedEof => 2,
            _ => 3,
        },
        Error::Connection(wsproto::Error::Protocol(_)) => 4,
        Error::Connection(wsproto::Error::TimedOut(Timeout::Close)) => 5,
        Error::Connection(wsproto::Error::TimedOut(Timeout::Keepalive)) => 6,
        Error::Connection(wsproto::Error::TimedOut(_)) => 7,
        Error::Connection(_) => 8,
        Error::Send(SendError::Closed) => SEND_CLOSED,
        Error::Send(_) => 10,
        Error::Handshake(_) | Error::HandshakeTimeout => 11,
        _ => 12,
    }
}

#[derive(Default)]
struct SideStats {
    attempted: AtomicU32,
    accepted: AtomicU32,
    /// The peer's messages delivered here, verified.
    delivered: AtomicU32,
    /// When the last of them (or the end marker) was delivered.
    last_delivery: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    controls: AtomicU64,
    /// Bit per [`KINDS`] entry.
    errors: AtomicU32,
    deflate: AtomicBool,
    /// Milliseconds since the start (+1; 0: not yet): the writer finished.
    writer_done: AtomicU64,
    /// The reader ended (the connection is over for this end).
    ended: AtomicU64,
    /// Task handles while the end runs (for the watchdog).
    tasks: Mutex<Vec<AbortHandle>>,
}

#[derive(Default)]
struct Conn {
    started: AtomicBool,
    stuck: AtomicBool,
    last_progress: AtomicU64,
    client: SideStats,
    server: SideStats,
    violation: Mutex<Option<String>>,
}

impl Conn {
    fn side(&self, side: Side) -> &SideStats {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }
    fn progress(&self) {
        self.last_progress.store(now_ms(), Relaxed);
    }
    fn violation(&self, what: String) {
        let mut v = self.violation.lock().unwrap();
        if v.is_none() {
            *v = Some(what);
        }
    }
    fn saw(&self, side: Side, kind: usize) {
        self.side(side).errors.fetch_or(1 << kind, Relaxed);
        SEEN[side as usize][kind].fetch_add(1, Relaxed);
    }
    fn ended(&self) -> bool {
        self.client.ended.load(SeqCst) != 0 && self.server.ended.load(SeqCst) != 0
    }
}

static SEEN: [[AtomicU64; KINDS.len()]; 2] =
    [const { [const { AtomicU64::new(0) }; KINDS.len()] }; 2];
static SERVER_HANDSHAKE_ERRORS: AtomicU64 = AtomicU64::new(0);
static STALLS: AtomicU64 = AtomicU64::new(0);
/// `SOAK_ONLY`: print every message sent and received.
static TRACE: AtomicBool = AtomicBool::new(false);

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Milliseconds since the start, plus one (0 means "not yet" in the stats).
fn now_ms() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

struct Ctx {
    seed: u64,
    conns: Vec<Conn>,
    addrs: Vec<SocketAddr>,
    servers_live: AtomicUsize,
    accepted: AtomicU64,
}

impl Ctx {
    fn conn(&self, id: u32) -> &Conn {
        &self.conns[id as usize]
    }
}

// ---- the transport wrapper ----

/// A TCP stream that moves a random number of bytes per read and write, stalls now and then
/// (Pending until a timer fires) and sometimes yields (wakes itself, Pending).
struct Chunky {
    tcp: TcpStream,
    rng: Rng,
    /// Until [`configure`](Chunky::configure) (the server learns its plan from the request).
    preset: Chunking,
    plan: OnceLock<Chunking>,
    budget: usize,
    stall: Option<Pin<Box<Sleep>>>,
}

impl Chunky {
    fn new(tcp: TcpStream, seed: u64, preset: Chunking) -> Chunky {
        Chunky {
            tcp,
            rng: Rng::new(seed),
            preset,
            plan: OnceLock::new(),
            budget: 0,
            stall: None,
        }
    }
    fn configure(&self, chunking: Chunking) {
        let _ = self.plan.set(chunking);
    }
    fn chunking(&self) -> Chunking {
        *self.plan.get().unwrap_or(&self.preset)
    }
    /// Pending while stalled, or to yield.
    fn gate(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(stall) = self.stall.as_mut() {
            ready!(stall.as_mut().poll(cx));
            self.stall = None;
        }
        let c = self.chunking();
        if c.yield_pct > 0 && self.rng.pct(c.yield_pct) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(())
    }
    fn cap(&mut self, len: usize) -> usize {
        let max = self.chunking().max;
        if max == usize::MAX || len == 0 {
            len
        } else {
            self.rng.range(1, len.min(max) as u64) as usize
        }
    }
    fn moved(&mut self, n: usize) {
        let c = self.chunking();
        if c.stall_every == 0 || n == 0 {
            return;
        }
        if self.budget == 0 {
            self.budget = self.rng.range(1, c.stall_every as u64) as usize;
        }
        self.budget = self.budget.saturating_sub(n);
        if self.budget == 0 {
            STALLS.fetch_add(1, Relaxed);
            let ms = self.rng.range(1, c.stall_ms);
            self.stall = Some(Box::pin(tokio::time::sleep(Duration::from_millis(ms))));
        }
    }
}

impl AsyncRead for Chunky {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.gate(cx));
        let n = this.cap(buf.remaining());
        let got = {
            let mut sub = ReadBuf::new(buf.initialize_unfilled_to(n));
            ready!(Pin::new(&mut this.tcp).poll_read(cx, &mut sub))?;
            sub.filled().len()
        };
        buf.advance(got);
        this.moved(got);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Chunky {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.gate(cx));
        let n = this.cap(buf.len());
        let wrote = ready!(Pin::new(&mut this.tcp).poll_write(cx, &buf[..n]))?;
        this.moved(wrote);
        Poll::Ready(Ok(wrote))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

// ---- one end of a connection ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PeerState {
    Running,
    /// The peer's end marker arrived.
    Done,
    /// Our reader ended.
    Ended,
}

enum WriterEnd {
    /// Plan done, or the writer stopped on an error or after `terminate`: the reader runs on
    /// until the stream ends.
    Finished,
    /// Reset or drop: everything goes now.
    Abort,
}

type Ws = on_tokio::WebSocket<Chunky>;
type Rd = on_tokio::ReadHalf<Chunky>;
type Wr = on_tokio::WriteHalf<Chunky>;

async fn run_side(ctx: Arc<Ctx>, id: u32, side: Side, plan: Arc<Plan>, ws: Ws) {
    let (rd, wr) = ws.split();
    let (tx, rx) = watch::channel(PeerState::Running);
    let reader = tokio::spawn(reader(ctx.clone(), id, side, plan.clone(), rd, tx));
    let writer = tokio::spawn(writer(ctx.clone(), id, side, plan, wr, rx));
    let conn = ctx.conn(id);
    *conn.side(side).tasks.lock().unwrap() = vec![reader.abort_handle(), writer.abort_handle()];
    match writer.await {
        Ok(WriterEnd::Finished) => {}
        Ok(WriterEnd::Abort) | Err(_) => reader.abort(),
    }
    let _ = reader.await;
    let stats = conn.side(side);
    *stats.tasks.lock().unwrap() = Vec::new();
    if stats.writer_done.load(SeqCst) == 0 {
        stats.writer_done.store(now_ms(), SeqCst);
    }
    stats.ended.store(now_ms(), SeqCst);
    conn.progress();
}

async fn writer(
    ctx: Arc<Ctx>,
    id: u32,
    side: Side,
    plan: Arc<Plan>,
    mut wr: Wr,
    mut peer: watch::Receiver<PeerState>,
) -> WriterEnd {
    let conn = ctx.conn(id);
    let stats = conn.side(side);
    let sp = plan.side(side);
    let mut r = Rng::new(sp.seed);
    let end = |e: Option<Error>| {
        if let Some(e) = e {
            conn.saw(side, error_kind(&e));
        }
        stats.writer_done.store(now_ms(), SeqCst);
    };
    for seq in 0..=sp.messages {
        if let Some((at, fault)) = sp.fault {
            if at == seq {
                end(None);
                return match fault {
                    Fault::Terminate { skip_close_frame } => {
                        wr.terminate(CloseCode::GOING_AWAY, "soak fault", skip_close_frame);
                        WriterEnd::Finished
                    }
                    Fault::Reset | Fault::Drop => WriterEnd::Abort,
                };
            }
        }
        if seq == sp.messages {
            break;
        }
        if sp.gap_ms > 0 && r.pct(30) {
            tokio::time::sleep(Duration::from_millis(r.range(1, sp.gap_ms))).await;
        }
        if r.pct(4) {
            if let Err(e) = wr.send(Message::ping(Bytes::from_static(b"soak"))).await {
                end(Some(e));
                return WriterEnd::Finished;
            }
        }
        let (kind, data) = make_message(&mut r, id, seq, sp.max_body);
        let len = data.len() as u64;
        let whole = || match kind {
            MessageKind::Text => Message::text(String::from_utf8(data.clone()).unwrap()),
            MessageKind::Binary => Message::binary(data.clone()),
        };
        stats.attempted.fetch_add(1, SeqCst);
        let result = match r.below(100) {
            0..=59 => wr.send(whole()).await,
            60..=69 => {
                wr.send_with(whole(), SendOptions::new().compress(false))
                    .await
            }
            70..=81 => wr.feed(whole()).await,
            _ => send_fragments(&mut wr, &mut r, kind, Bytes::from(data.clone())).await,
        };
        if TRACE.load(Relaxed) {
            eprintln!(
                "{:>6} ms {side:?} sent seq {seq} ({len} bytes): {result:?}",
                now_ms()
            );
        }
        match result {
            Ok(()) => {
                stats.accepted.fetch_add(1, SeqCst);
                stats.bytes_sent.fetch_add(len, Relaxed);
                conn.progress();
            }
            Err(e) => {
                end(Some(e));
                return WriterEnd::Finished;
            }
        }
    }
    let flushed = match wr.flush().await {
        Ok(()) => wr.send(done_message(id, sp.messages)).await,
        Err(e) => Err(e),
    };
    conn.progress();
    if let Err(e) = flushed {
        end(Some(e));
        return WriterEnd::Finished;
    }
    if side == Side::Client {
        if !plan.eager_close {
            let _ = peer.wait_for(|s| *s != PeerState::Running).await;
        }
        // Both plans are complete (or the server's end is gone): close.
        end(None);
        if let Err(e) = wr.close(CloseCode::NORMAL, "done").await {
            conn.saw(side, error_kind(&e));
        }
    } else {
        end(None);
    }
    WriterEnd::Finished
}

/// A message as 1 to 6 explicit fragments (some may be empty), with pings between some.
async fn send_fragments(
    wr: &mut Wr,
    r: &mut Rng,
    kind: MessageKind,
    data: Bytes,
) -> Result<(), Error> {
    let pieces = r.range(1, 6) as usize;
    let mut cuts: Vec<usize> = (1..pieces)
        .map(|_| r.below(data.len() as u64 + 1) as usize)
        .collect();
    cuts.sort_unstable();
    cuts.push(data.len());
    let mut from = 0;
    for (i, &to) in cuts.iter().enumerate() {
        if i > 0 && r.pct(25) {
            wr.send(Message::ping(Bytes::from_static(b"between")))
                .await?;
        }
        let fragment = Fragment {
            kind,
            data: data.slice(from..to),
            fin: i + 1 == cuts.len(),
        };
        wr.send(Message::Fragment(fragment)).await?;
        from = to;
    }
    Ok(())
}

async fn reader(
    ctx: Arc<Ctx>,
    id: u32,
    side: Side,
    plan: Arc<Plan>,
    mut rd: Rd,
    tx: watch::Sender<PeerState>,
) {
    let conn = ctx.conn(id);
    let stats = conn.side(side);
    let sp = plan.side(side);
    let mut r = Rng::new(sp.seed ^ 0x5245_4144);
    let mut v = Verifier {
        id,
        expect: 0,
        partial: None,
    };
    let mut broken = false;
    // Pauses come between whole messages (not between the pieces of an unassembled one),
    // at most MAX_READ_PAUSES of them: together well under the 5 s close timeout.
    let mut pauses = 0;
    let mut between = true;
    loop {
        if between && pauses < MAX_READ_PAUSES && sp.slow_reader > 0 && r.pct(sp.slow_reader) {
            pauses += 1;
            let pause = Duration::from_millis(r.range(50, MAX_READ_PAUSE_MS));
            if sp.pause_api {
                rd.pause();
                tokio::time::sleep(pause).await;
                rd.resume();
            } else {
                tokio::time::sleep(pause).await;
            }
        }
        let Some(item) = rd.recv().await else {
            break;
        };
        if !matches!(item, Ok(Message::Ping(_) | Message::Pong(_))) {
            conn.progress();
        }
        between = !matches!(&item, Ok(Message::Fragment(f)) if !f.fin);
        if TRACE.load(Relaxed) {
            let what = match &item {
                Ok(m) => format!(
                    "{} bytes {:?}",
                    m.len(),
                    &m.as_bytes()[..m.len().min(HEADER)]
                ),
                Err(e) => format!("error {e}"),
            };
            eprintln!("{:>6} ms {side:?} received {what}", now_ms());
        }
        let checked = match item {
            Ok(Message::Text(t)) => {
                stats.bytes_received.fetch_add(t.len() as u64, Relaxed);
                v.whole(MessageKind::Text, t.as_bytes())
            }
            Ok(Message::Binary(b)) => {
                stats.bytes_received.fetch_add(b.len() as u64, Relaxed);
                v.whole(MessageKind::Binary, &b)
            }
            Ok(Message::Fragment(f)) => {
                stats.bytes_received.fetch_add(f.data.len() as u64, Relaxed);
                v.fragment(&f)
            }
            Ok(Message::Ping(_) | Message::Pong(_)) => {
                stats.controls.fetch_add(1, Relaxed);
                Ok(None)
            }
            Ok(Message::Close(frame)) => {
                match frame.map(|f| f.code) {
                    Some(CloseCode::NORMAL) => {}
                    Some(CloseCode::ABNORMAL) => conn.saw(side, 13),
                    _ => conn.saw(side, 14),
                }
                Ok(None)
            }
            Err(e) => {
                conn.saw(side, error_kind(&e));
                Ok(None)
            }
        };
        if broken {
            continue;
        }
        if v.expect != stats.delivered.load(SeqCst) || matches!(checked, Ok(Some(_))) {
            stats.last_delivery.store(now_ms(), SeqCst);
        }
        match checked {
            Ok(None) => {}
            Ok(Some(_count)) => {
                // The marker's sequence was checked against the messages delivered.
                let _ = tx.send(PeerState::Done);
            }
            Err(what) => {
                broken = true;
                conn.violation(format!("{side:?} received: {what}"));
            }
        }
        stats.delivered.store(v.expect, SeqCst);
    }
    let _ = tx.send(PeerState::Ended);
}

// ---- the two ends ----

fn id_of(path: &str) -> Option<u32> {
    path.strip_prefix("/soak/")?.parse().ok()
}

async fn client(ctx: Arc<Ctx>, id: u32) {
    let conn = ctx.conn(id);
    conn.started.store(true, SeqCst);
    conn.progress();
    let plan = Arc::new(Plan::new(ctx.seed, id));
    let addr = ctx.addrs[plan.listener];
    let fail = |what: String| {
        conn.violation(what);
        conn.client.ended.store(now_ms(), SeqCst);
        conn.server.ended.store(now_ms(), SeqCst);
    };
    let tcp = match TcpStream::connect(addr).await {
        Ok(tcp) => tcp,
        Err(e) => return fail(format!("client: connect: {e}")),
    };
    let _ = tcp.set_nodelay(true);
    if matches!(plan.client.fault, Some((_, Fault::Reset))) {
        tcp.set_zero_linger().unwrap();
    }
    let stream = Chunky::new(tcp, plan.client.seed ^ 0x4348_554E, plan.client.chunking);
    let mut options = ClientOptions::new().config(plan.client_config.clone());
    options = match plan.offer_deflate {
        Some(c) => options.extension(PerMessageDeflate::new(c)),
        None => options.no_extensions(),
    };
    let url = format!("ws://{addr}/soak/{id}");
    let ws = match on_tokio::connect_with(stream, &url, options).await {
        Ok((ws, _)) => ws,
        Err(e) => {
            conn.saw(Side::Client, error_kind(&e));
            return fail(format!("client: handshake: {e}"));
        }
    };
    conn.client.deflate.store(ws.deflate().is_some(), Relaxed);
    run_side(ctx.clone(), id, Side::Client, plan, ws).await;
}

async fn serve(ctx: Arc<Ctx>, tcp: TcpStream, listener: usize) {
    struct Live<'a>(&'a AtomicUsize);
    impl Drop for Live<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, SeqCst);
        }
    }
    let _live = Live(&ctx.servers_live);
    let _ = tcp.set_nodelay(true);
    let n = ctx.accepted.fetch_add(1, Relaxed);
    // Until the plan is known: small random chunks for the handshake.
    let preset = Chunking {
        max: 512,
        ..PASS_THROUGH
    };
    let stream = Chunky::new(tcp, ctx.seed ^ n, preset);
    let options = AcceptOptions::new(ServerOptions::new().config(listener_config(listener)));
    let (seed, count) = (ctx.seed, ctx.conns.len() as u32);
    let decide = move |request: &Request| -> Result<Accept, Reject> {
        let id = id_of(request.path()).filter(|id| *id < count);
        let Some(id) = id else {
            return Err(Reject::new(404));
        };
        let mut accept = Accept::new();
        if let Some(c) = Plan::new(seed, id).accept_deflate {
            accept = accept.extension(PerMessageDeflate::new(c));
        }
        Ok(accept)
    };
    let ws = match on_tokio::accept_with(stream, options, decide).await {
        Ok(ws) => ws,
        Err(_) => {
            SERVER_HANDSHAKE_ERRORS.fetch_add(1, Relaxed);
            return;
        }
    };
    let id = ws.request().and_then(|r| id_of(r.path())).unwrap();
    let plan = Arc::new(Plan::new(ctx.seed, id));
    let conn = ctx.conn(id);
    conn.server.deflate.store(ws.deflate().is_some(), Relaxed);
    {
        let stream = ws.get_ref();
        stream.configure(plan.server.chunking);
        if matches!(plan.server.fault, Some((_, Fault::Reset))) {
            stream.tcp.set_zero_linger().unwrap();
        }
    }
    run_side(ctx.clone(), id, Side::Server, plan, ws).await;
}

async fn accept_loop(ctx: Arc<Ctx>, listener: TcpListener, index: usize) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        ctx.servers_live.fetch_add(1, SeqCst);
        tokio::spawn(serve(ctx.clone(), tcp, index));
    }
}

/// Every 250 ms: a connection that has not ended and made no progress for [`STUCK`] is
/// reported and aborted.
async fn watchdog(ctx: Arc<Ctx>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut ticks = 0u64;
    loop {
        tick.tick().await;
        ticks += 1;
        let now = now_ms();
        if ticks % 40 == 0 {
            let started = ctx.conns.iter().filter(|c| c.started.load(SeqCst)).count();
            let ended = ctx.conns.iter().filter(|c| c.ended()).count();
            println!(
                "soak: {:>4} s: {started} started, {ended} ended",
                now / 1000
            );
        }
        for (id, conn) in ctx.conns.iter().enumerate() {
            if !conn.started.load(SeqCst) || conn.ended() || conn.stuck.load(SeqCst) {
                continue;
            }
            let idle = now.saturating_sub(conn.last_progress.load(Relaxed));
            if idle < STUCK.as_millis() as u64 {
                continue;
            }
            conn.stuck.store(true, SeqCst);
            let state = |s: &SideStats| {
                format!(
                    "sent {}/{} delivered-here {} writer-done {} ended {} errors {:#x}",
                    s.accepted.load(SeqCst),
                    s.attempted.load(SeqCst),
                    s.delivered.load(SeqCst),
                    s.writer_done.load(SeqCst) != 0,
                    s.ended.load(SeqCst) != 0,
                    s.errors.load(SeqCst)
                )
            };
            let what = format!(
                "stuck: no progress for {idle} ms; client: {}; server: {}; plan: {:?}",
                state(&conn.client),
                state(&conn.server),
                Plan::new(ctx.seed, id as u32)
            );
            eprintln!("connection {id} {what}");
            conn.violation(what);
            for side in [&conn.client, &conn.server] {
                for task in side.tasks.lock().unwrap().iter() {
                    task.abort();
                }
            }
        }
    }
}

/// Runs clients `ids`, at most `conc` at once, starting none after `stop_starting`; `false`
/// if some did not end by `hard_stop` (they are aborted).
async fn run_clients(
    ctx: &Arc<Ctx>,
    ids: std::ops::Range<u32>,
    conc: usize,
    stop_starting: Instant,
    hard_stop: Instant,
) -> u32 {
    let mut set = JoinSet::new();
    let mut next = ids.start;
    loop {
        while set.len() < conc && next < ids.end && Instant::now() < stop_starting {
            set.spawn(client(ctx.clone(), next));
            next += 1;
        }
        if set.is_empty() {
            break;
        }
        let wait = hard_stop.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, set.join_next()).await {
            Ok(Some(joined)) => joined.unwrap(),
            Ok(None) => break,
            Err(_) => {
                eprintln!("{} clients still running at the hard stop", set.len());
                set.abort_all();
                while set.join_next().await.is_some() {}
                break;
            }
        }
    }
    next - ids.start
}

fn open_fds() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count())
}

/// Lets the runtime finish deregistering sockets and dropping finished tasks.
async fn settle() {
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        tokio::task::yield_now().await;
    }
}

/// Set while the heap is measured: parked worker threads empty their deflate caches.
static MEASURING: AtomicBool = AtomicBool::new(false);

/// The live heap once everything is quiet and the threads' deflate caches are empty.
async fn quiet_heap() -> isize {
    MEASURING.store(true, SeqCst);
    // Wake every worker so that each parks again (and empties its cache) while measuring.
    let wake: Vec<_> = (0..8)
        .map(|_| {
            tokio::spawn(async {
                tokio::time::sleep(Duration::from_millis(10)).await;
            })
        })
        .collect();
    for task in wake {
        let _ = task.await;
    }
    settle().await;
    wsproto::deflate::release_thread_cache();
    let heap = LIVE.load(SeqCst);
    MEASURING.store(false, SeqCst);
    heap
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seed() -> u64 {
    match std::env::var("SOAK_SEED") {
        Ok(v) => match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).expect("SOAK_SEED"),
            None => v.parse().expect("SOAK_SEED"),
        },
        Err(_) => DEFAULT_SEED,
    }
}

#[test]
#[ignore = "soak: about a minute in release; .ci/run step soak"]
fn soak() {
    let seed = seed();
    let secs: u64 = env_or("SOAK_SECS", DEFAULT_SECS);
    let total: u32 = env_or("SOAK_CONNS", DEFAULT_CONNS).max(WARMUP);
    let conc: usize = env_or("SOAK_CONC", DEFAULT_CONC).max(1);
    // Debugging: run only this connection's plan.
    let only: Option<u32> = std::env::var("SOAK_ONLY").ok().and_then(|v| v.parse().ok());
    let total = total.max(only.map_or(0, |id| id + 1));
    println!(
        "soak: seed {seed:#x}, {total} connections, {conc} at once, none started after {secs} s"
    );
    let started = Instant::now();
    EPOCH.get_or_init(Instant::now);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // The per-thread permessage-deflate cache is memory kept on purpose (bounded per
        // thread, docs/deflate.md): emptied on every thread before the heap is measured.
        .on_thread_park(|| {
            if MEASURING.load(SeqCst) {
                wsproto::deflate::release_thread_cache();
            }
        })
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(async move {
        let mut listeners = Vec::new();
        let mut addrs = Vec::new();
        for _ in 0..LISTENERS {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            addrs.push(l.local_addr().unwrap());
            listeners.push(l);
        }
        let ctx = Arc::new(Ctx {
            seed,
            conns: (0..total).map(|_| Conn::default()).collect(),
            addrs,
            servers_live: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
        });
        let mut background = Vec::new();
        for (i, l) in listeners.into_iter().enumerate() {
            background.push(tokio::spawn(accept_loop(ctx.clone(), l, i)));
        }
        background.push(tokio::spawn(watchdog(ctx.clone())));

        let far = Instant::now() + Duration::from_secs(3600);
        if let Some(only) = only {
            // Debugging one plan: no warm-up, no baselines, every message printed.
            TRACE.store(true, SeqCst);
            let t0 = Instant::now();
            run_clients(&ctx, only..only + 1, 1, far, Instant::now() + DRAIN).await;
            let servers_done = wait_servers(&ctx, Duration::from_secs(30)).await;
            return Report {
                ctx,
                first: only,
                ran: 1,
                servers_done,
                run_time: t0.elapsed(),
                heap: (0, 0),
                fds: (None, None),
            };
        }
        let warm = run_clients(&ctx, 0..WARMUP, conc, far, far).await;
        assert_eq!(warm, WARMUP);
        wait_servers(&ctx, Duration::from_secs(30)).await;
        let heap_before = quiet_heap().await;
        let fds_before = open_fds();

        let t0 = Instant::now();
        let stop_starting = t0 + Duration::from_secs(secs);
        let ran = run_clients(
            &ctx,
            WARMUP..total,
            conc,
            stop_starting,
            stop_starting + DRAIN,
        )
        .await;
        let servers_done = wait_servers(&ctx, Duration::from_secs(30)).await;
        let run_time = t0.elapsed();
        let heap_after = quiet_heap().await;
        let fds_after = open_fds();

        for task in &background {
            task.abort();
        }
        for task in background {
            let _ = task.await;
        }
        Report {
            ctx,
            first: 0,
            ran: warm + ran,
            servers_done,
            run_time,
            heap: (heap_before, heap_after),
            fds: (fds_before, fds_after),
        }
    });
    drop(runtime);
    report.check(started.elapsed());
}

async fn wait_servers(ctx: &Ctx, bound: Duration) -> bool {
    let until = Instant::now() + bound;
    while ctx.servers_live.load(SeqCst) > 0 {
        if Instant::now() > until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

struct Report {
    ctx: Arc<Ctx>,
    /// Connections `first..first + ran` ran.
    first: u32,
    ran: u32,
    servers_done: bool,
    run_time: Duration,
    heap: (isize, isize),
    fds: (Option<usize>, Option<usize>),
}

impl Report {
    fn check(self, wall: Duration) {
        let ctx = &self.ctx;
        let mut failures: Vec<String> = Vec::new();
        let mut fail = |id: Option<usize>, what: String| {
            if failures.len() < 30 {
                match id {
                    Some(id) => eprintln!("FAIL connection {id}: {what}"),
                    None => eprintln!("FAIL {what}"),
                }
            }
            failures.push(what);
        };
        let (mut messages, mut bytes, mut controls) = (0u64, 0u64, 0u64);
        let (mut deflate, mut faults, mut eager, mut strict) = (0, [0u32; 3], 0, 0);
        let (mut slowest_end, mut slowest_id) = (0u64, 0usize);
        let ran = self.first as usize..(self.first + self.ran) as usize;
        for (id, conn) in ctx.conns.iter().enumerate().take(ran.end).skip(ran.start) {
            let plan = Plan::new(ctx.seed, id as u32);
            if let Some(v) = conn.violation.lock().unwrap().as_ref() {
                fail(Some(id), v.clone());
                continue;
            }
            if !conn.ended() {
                fail(Some(id), "did not end".into());
                continue;
            }
            let fault = plan.client.fault.or(plan.server.fault);
            if let Some((_, f)) = fault {
                faults[match f {
                    Fault::Reset => 0,
                    Fault::Drop => 1,
                    Fault::Terminate { .. } => 2,
                }] += 1;
            }
            eager += u32::from(plan.eager_close);
            deflate += u32::from(conn.client.deflate.load(SeqCst));
            if conn.client.deflate.load(SeqCst) != conn.server.deflate.load(SeqCst) {
                fail(
                    Some(id),
                    "the two ends disagree on permessage-deflate".into(),
                );
            }
            let (c, s) = (&conn.client, &conn.server);
            let client_errors = c.errors.load(SeqCst);
            let mut server_errors = s.errors.load(SeqCst);
            if plan.eager_close {
                server_errors &= !(1 << SEND_CLOSED);
            }
            let clean = fault.is_none() && client_errors == 0 && server_errors == 0;
            if fault.is_none() && !clean {
                let kinds = |mask: u32| {
                    (0..KINDS.len())
                        .filter(|k| mask & (1 << k) != 0)
                        .map(|k| KINDS[k])
                        .collect::<Vec<_>>()
                };
                fail(
                    Some(id),
                    format!(
                        "errors with no fault planned: client {:?}, server {:?}; plan {plan:?}",
                        kinds(client_errors),
                        kinds(server_errors)
                    ),
                );
            }
            for (from, to, name, strict_here) in [
                (c, s, "client to server", clean),
                (s, c, "server to client", clean && !plan.eager_close),
            ] {
                let (att, acc) = (from.attempted.load(SeqCst), from.accepted.load(SeqCst));
                let got = to.delivered.load(SeqCst);
                messages += u64::from(got);
                bytes += to.bytes_received.load(SeqCst);
                if got > att {
                    fail(
                        Some(id),
                        format!("{name}: {got} delivered, {att} attempted"),
                    );
                }
                if strict_here {
                    strict += 1;
                    if got < acc {
                        fail(
                            Some(id),
                            format!("{name}: {got} delivered, {acc} accepted; plan {plan:?}"),
                        );
                    }
                }
            }
            controls += c.controls.load(SeqCst) + s.controls.load(SeqCst);
            // Both plans complete (or cut short) to both ends ended.
            let complete = [
                &c.writer_done,
                &s.writer_done,
                &c.last_delivery,
                &s.last_delivery,
            ]
            .iter()
            .map(|t| t.load(SeqCst))
            .max()
            .unwrap();
            let ended = c.ended.load(SeqCst).max(s.ended.load(SeqCst));
            let end = ended.saturating_sub(complete);
            if end > slowest_end {
                (slowest_end, slowest_id) = (end, id);
            }
        }
        if slowest_end > END_BOUND.as_millis() as u64 {
            fail(
                Some(slowest_id),
                format!("ended {slowest_end} ms after its plans completed (bound {END_BOUND:?})"),
            );
        }
        if !self.servers_done {
            fail(
                None,
                "server tasks still running after all clients ended".into(),
            );
        }
        let handshake_errors = SERVER_HANDSHAKE_ERRORS.load(SeqCst);
        if handshake_errors > 0 {
            fail(None, format!("{handshake_errors} server handshakes failed"));
        }
        if self.first == 0 && self.ran < ctx.conns.len() as u32 {
            fail(
                None,
                format!(
                    "only {} of {} connections started within SOAK_SECS",
                    self.ran,
                    ctx.conns.len()
                ),
            );
        }
        let heap_delta = self.heap.1 - self.heap.0;
        if heap_delta > HEAP_SLACK {
            fail(
                None,
                format!("heap {heap_delta} bytes above the baseline (slack {HEAP_SLACK})"),
            );
        }
        let fd_delta = match self.fds {
            (Some(before), Some(after)) => {
                if after > before + FD_SLACK {
                    fail(
                        None,
                        format!("{after} fds open, {before} at the baseline (slack {FD_SLACK})"),
                    );
                }
                format!("{before} -> {after}")
            }
            _ => "not checked (no /proc/self/fd)".into(),
        };

        println!("---- soak summary ----");
        println!("seed              {:#x}", ctx.seed);
        println!(
            "connections       {} ({WARMUP} warm-up), {} with permessage-deflate, {} closed early by the client",
            self.ran, deflate, eager
        );
        println!(
            "faults            {} resets, {} drops, {} terminates",
            faults[0], faults[1], faults[2]
        );
        println!(
            "delivered         {messages} data messages, {:.1} MiB, {controls} pings/pongs; {strict} directions checked strictly",
            bytes as f64 / (1 << 20) as f64
        );
        println!("transport stalls  {}", STALLS.load(SeqCst));
        for (side, name) in [(0, "client"), (1, "server")] {
            let seen: Vec<String> = (0..KINDS.len())
                .filter_map(|k| {
                    let n = SEEN[side][k].load(SeqCst);
                    (n > 0).then(|| format!("{}: {n}", KINDS[k]))
                })
                .collect();
            println!(
                "seen by {name}    {}",
                if seen.is_empty() {
                    "none".into()
                } else {
                    seen.join(", ")
                }
            );
        }
        println!(
            "slowest end       {slowest_end} ms after both plans completed (connection {slowest_id})"
        );
        println!(
            "heap              {} -> {} bytes ({heap_delta:+}), fds {fd_delta}",
            self.heap.0, self.heap.1
        );
        println!(
            "time              {:.1} s for the connections after the warm-up, {:.1} s in all",
            self.run_time.as_secs_f64(),
            wall.as_secs_f64()
        );
        assert!(
            failures.is_empty(),
            "{} soak failures (first ones above)",
            failures.len()
        );
    }
}
