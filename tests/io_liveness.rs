//! Liveness under backpressure, for every adapter in both roles, over loopback TCP.
//!
//! The peer is raw (hand-written frames on a std socket): it floods 125-byte pings without
//! reading until its own writes stall, which means our side stopped reading because its pongs
//! no longer fit in the socket buffers. Then the peer reads again and sends one text message:
//! our side must write every pong it owes, echo the text, and finish the closing handshake
//! (code and reason echoed). Every wait is bounded; no sleep decides anything.
#![cfg(all(feature = "tokio", feature = "futures-io"))]

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use common::close_payload;
use common::io::{GUARD, RawFrame, RawPeer};
use wsproto::handshake::ClientOptions;
use wsproto::io::{CloseFrame, Error, Message, blocking, on_futures, on_tokio};
use wsproto::{CloseCode, SendError};

const PING_LEN: usize = 125;
/// A write that makes no progress for this long: the peer (our side) stopped reading.
const STALL: Duration = Duration::from_millis(250);
/// The flood must stall well before this (the socket buffers are a few MiB at most).
const FLOOD_CAP: usize = 64 << 20;
/// Bound on getting every pong and the echo once the raw peer reads again.
const ECHO_BOUND: Duration = Duration::from_secs(10);
/// Bound on our side's application ending after the closing handshake.
const END_BOUND: Duration = Duration::from_secs(5);

const TEXT: &str = "after-flood";
const REASON: &str = "flood over";

/// Ping `i`: its number, then filler, 125 bytes in all.
fn ping_payload(i: u64) -> Vec<u8> {
    let mut p = i.to_be_bytes().to_vec();
    p.resize(PING_LEN, (i % 251) as u8);
    p
}

fn opcode_name(f: &RawFrame) -> String {
    format!("opcode {:#x}, {} bytes", f.opcode, f.payload.len())
}

// ---- the raw peer's side of the scenario ----

/// Where the flood stopped: pings started (the last may be partial) and the rest of it.
struct Flood {
    pings: u64,
    rest: Vec<u8>,
    bytes: usize,
}

/// Writes pings, never reading, until a write makes no progress for [`STALL`].
fn flood(peer: &mut RawPeer) -> Flood {
    let size = peer.frame_len(PING_LEN);
    peer.stream.set_write_timeout(Some(STALL)).unwrap();
    let mut next = 0u64;
    let mut bytes = 0usize;
    let mut batch = Vec::with_capacity(512 * size);
    loop {
        let first = next;
        batch.clear();
        for _ in 0..512 {
            batch.extend(peer.frame(0x9, &ping_payload(next)));
            next += 1;
        }
        let mut off = 0;
        while off < batch.len() {
            match std::io::Write::write(&mut peer.stream, &batch[off..]) {
                Ok(0) => panic!("raw peer: write returned 0"),
                Ok(n) => off += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    let started = off.div_ceil(size);
                    peer.stream.set_write_timeout(Some(GUARD)).unwrap();
                    return Flood {
                        pings: first + started as u64,
                        rest: batch[off..started * size].to_vec(),
                        bytes: bytes + off,
                    };
                }
                Err(e) => panic!("raw peer: flood write failed: {e}"),
            }
        }
        bytes += batch.len();
        assert!(
            bytes < FLOOD_CAP,
            "{bytes} bytes of pings and our side still reads"
        );
    }
}

/// The next frame that is not a text message, and the texts read before it.
#[track_caller]
fn next_non_text(peer: &mut RawPeer, deadline: Instant) -> (RawFrame, Vec<String>) {
    let mut texts = Vec::new();
    loop {
        let f = peer.next_frame(deadline);
        if f.opcode != 0x1 {
            return (f, texts);
        }
        texts.push(String::from_utf8(f.payload).expect("UTF-8 text"));
    }
}

/// The scenario after the handshake, from the raw peer's side: flood until stalled, read
/// again, send a text, expect every pong in order and then the echo, close and expect the
/// close reply with our code and reason. Returns the number of pings sent.
fn flood_then_talk(peer: &mut RawPeer) -> u64 {
    let started = Instant::now();
    let flooded = flood(peer);
    // Shown with a failure: how far the flood went.
    eprintln!(
        "flood: {} pings, {} bytes, stalled after {:?}",
        flooded.pings,
        flooded.bytes,
        started.elapsed()
    );
    assert!(flooded.pings > 0);
    // Read again, finish the ping cut by the stall, send the text.
    peer.start_reading();
    let mut tail = flooded.rest;
    tail.extend(peer.frame(0x1, TEXT.as_bytes()));
    std::io::Write::write_all(&mut peer.stream, &tail)
        .expect("our side reads again once its pongs can go out");
    let deadline = Instant::now() + ECHO_BOUND;
    for i in 0..flooded.pings {
        let f = peer.next_frame(deadline);
        assert_eq!(
            (f.opcode, f.payload.as_slice()),
            (0xA, ping_payload(i).as_slice()),
            "pong {i} of {} ({} bytes flooded): got {}",
            flooded.pings,
            flooded.bytes,
            opcode_name(&f)
        );
    }
    let f = peer.next_frame(deadline);
    assert_eq!(
        (f.opcode, f.payload.as_slice()),
        (0x1, TEXT.as_bytes()),
        "the echo"
    );
    peer.send(0x8, &close_payload(1000, REASON));
    let f = peer.next_frame(deadline);
    // The close reply echoes the code and the reason (new: the reason used to be dropped).
    assert_eq!(
        (f.opcode, f.payload),
        (0x8, close_payload(1000, REASON)),
        "the close reply"
    );
    flooded.pings
}

// ---- our side: an application on one of the adapters ----

#[derive(Clone, Copy, Debug)]
enum Adapter {
    Blocking,
    Tokio,
    Futures,
}

/// What our application saw, sent when its message stream ended.
#[derive(Debug, Default)]
struct Log {
    pings: u64,
    texts: Vec<String>,
    close: Option<Option<CloseFrame>>,
    errors: Vec<String>,
}

impl Log {
    /// Records a message; returns the reply to send (text is echoed).
    fn see(&mut self, m: Message) -> Option<Message> {
        match m {
            Message::Ping(_) => self.pings += 1,
            Message::Text(t) => {
                self.texts.push(t.to_string());
                return Some(Message::Text(t));
            }
            Message::Close(c) => self.close = Some(c),
            other => self.errors.push(format!("unexpected {other:?}")),
        }
        None
    }

    fn error(&mut self, e: Error) {
        self.errors.push(e.to_string());
    }
}

/// Our side running; `done` gets its log when its stream ends.
struct Ours {
    done: Receiver<Log>,
    _runtime: Option<tokio::runtime::Runtime>,
}

impl Ours {
    /// Runs the raw peer's part; if it fails, shows what our side saw first.
    fn check(&self, raw_peer: impl FnOnce()) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(raw_peer));
        if let Err(panic) = result {
            match self.done.recv_timeout(Duration::from_millis(100)) {
                Ok(log) => eprintln!("our side ended with {log:?}"),
                Err(_) => eprintln!("our side is still running"),
            }
            std::panic::resume_unwind(panic);
        }
    }

    fn ended(&self) -> Log {
        match self.done.recv_timeout(END_BOUND) {
            Ok(log) => log,
            Err(RecvTimeoutError::Timeout) => panic!("our side did not end"),
            Err(RecvTimeoutError::Disconnected) => panic!("our side panicked"),
        }
    }
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn run_blocking<S: blocking::Stream>(mut ws: blocking::WebSocket<S>, done: Sender<Log>) {
    let mut log = Log::default();
    while let Some(item) = ws.recv() {
        match item {
            Ok(m) => {
                if let Some(reply) = log.see(m) {
                    if let Err(e) = ws.send(reply) {
                        log.error(e);
                    }
                }
            }
            Err(e) => {
                // A failed connection yields one error, then ends.
                log.error(e);
                break;
            }
        }
    }
    let _ = done.send(log);
}

async fn run_async<T: wsproto::io::nonblocking::PollIo>(
    mut ws: wsproto::io::nonblocking::WebSocket<T>,
    done: Sender<Log>,
) {
    let mut log = Log::default();
    while let Some(item) = ws.recv().await {
        match item {
            Ok(m) => {
                if let Some(reply) = log.see(m) {
                    if let Err(e) = ws.send(reply).await {
                        log.error(e);
                    }
                }
            }
            Err(e) => {
                // A failed connection yields one error, then ends.
                log.error(e);
                break;
            }
        }
    }
    let _ = done.send(log);
}

/// Our echo server on `listener` (one connection).
fn serve(adapter: Adapter, listener: TcpListener) -> Ours {
    let (tx, done) = mpsc::channel();
    let mut runtime = None;
    match adapter {
        Adapter::Blocking => {
            thread::spawn(move || {
                let (stream, _) = listener.accept().unwrap();
                run_blocking(blocking::accept(stream).unwrap(), tx);
            });
        }
        Adapter::Tokio => {
            let rt = tokio_runtime();
            listener.set_nonblocking(true).unwrap();
            rt.spawn(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let (stream, _) = listener.accept().await.unwrap();
                run_async(on_tokio::accept(stream).await.unwrap(), tx).await;
            });
            runtime = Some(rt);
        }
        Adapter::Futures => {
            thread::spawn(move || {
                smol::block_on(async move {
                    let listener = smol::net::TcpListener::try_from(listener).unwrap();
                    let (stream, _) = listener.accept().await.unwrap();
                    run_async(on_futures::accept(stream).await.unwrap(), tx).await;
                })
            });
        }
    }
    Ours {
        done,
        _runtime: runtime,
    }
}

/// Our echo client, connected to `addr`.
fn dial(adapter: Adapter, addr: SocketAddr) -> Ours {
    let url = format!("ws://{addr}/");
    let (tx, done) = mpsc::channel();
    let mut runtime = None;
    match adapter {
        Adapter::Blocking => {
            thread::spawn(move || {
                let (ws, _) = blocking::connect(&url, ClientOptions::default()).unwrap();
                run_blocking(ws, tx);
            });
        }
        Adapter::Tokio => {
            let rt = tokio_runtime();
            rt.spawn(async move {
                let (ws, _) = on_tokio::connect(&url, ClientOptions::default())
                    .await
                    .unwrap();
                run_async(ws, tx).await;
            });
            runtime = Some(rt);
        }
        Adapter::Futures => {
            thread::spawn(move || {
                smol::block_on(async move {
                    let (ws, _) = on_futures::connect(&url, ClientOptions::default(), |t| {
                        smol::net::TcpStream::connect((t.host, t.port))
                    })
                    .await
                    .unwrap();
                    run_async(ws, tx).await;
                })
            });
        }
    }
    Ours {
        done,
        _runtime: runtime,
    }
}

fn assert_log(log: &Log, pings: u64) {
    assert_eq!(log.errors, Vec::<String>::new());
    assert_eq!(log.pings, pings, "pings delivered to the application");
    assert_eq!(log.texts, vec![TEXT.to_owned()]);
    assert_eq!(
        log.close,
        Some(Some(CloseFrame::new(CloseCode::NORMAL, REASON)))
    );
}

// ---- server role: a raw client floods our echo server ----

fn server_answers_after_a_ping_flood(adapter: Adapter) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let ours = serve(adapter, listener);
    let mut pings = 0;
    ours.check(|| {
        let mut peer = RawPeer::client(TcpStream::connect(addr).unwrap());
        pings = flood_then_talk(&mut peer);
        // The server closes TCP right after its close reply.
        peer.expect_eof(Instant::now() + END_BOUND);
    });
    assert_log(&ours.ended(), pings);
}

#[test]
fn blocking_server_answers_after_a_ping_flood() {
    server_answers_after_a_ping_flood(Adapter::Blocking);
}

#[test]
fn tokio_server_answers_after_a_ping_flood() {
    server_answers_after_a_ping_flood(Adapter::Tokio);
}

#[test]
fn futures_server_answers_after_a_ping_flood() {
    server_answers_after_a_ping_flood(Adapter::Futures);
}

// ---- client role: a raw server floods our echo client ----

fn client_answers_after_a_ping_flood(adapter: Adapter) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let ours = dial(adapter, listener.local_addr().unwrap());
    let mut pings = 0;
    ours.check(|| {
        let (stream, _) = listener.accept().unwrap();
        let mut peer = RawPeer::server(stream);
        pings = flood_then_talk(&mut peer);
        // The server closes TCP first (RFC 6455 §7.1.1); the client then closes its side and
        // its application loop ends.
        peer.shutdown_write();
        peer.expect_eof(Instant::now() + END_BOUND);
    });
    assert_log(&ours.ended(), pings);
}

#[test]
fn blocking_client_answers_after_a_ping_flood() {
    client_answers_after_a_ping_flood(Adapter::Blocking);
}

#[test]
fn tokio_client_answers_after_a_ping_flood() {
    client_answers_after_a_ping_flood(Adapter::Tokio);
}

#[test]
fn futures_client_answers_after_a_ping_flood() {
    client_answers_after_a_ping_flood(Adapter::Futures);
}

// ---- a client that only sends still answers every ping ----

#[test]
fn tokio_send_only_client_answers_every_ping() {
    const PINGS: u64 = 20;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let rt = tokio_runtime();
    let (tx, done) = mpsc::channel();
    rt.spawn(async move {
        let (ws, _) = on_tokio::connect(&url, ClientOptions::default())
            .await
            .unwrap();
        // Nobody reads: the read half is gone, only sends drive the connection.
        let (read, mut write) = ws.split();
        drop(read);
        let mut sent = 0u64;
        let error = loop {
            if let Err(e) = write.send(Message::text(format!("tick {sent}"))).await {
                break e;
            }
            sent += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let _ = tx.send((sent, error));
    });
    let (stream, _) = listener.accept().unwrap();
    let mut peer = RawPeer::server(stream);
    peer.start_reading();
    let mut ticks = Vec::new();
    for i in 0..PINGS {
        peer.send(0x9, &ping_payload(i));
        // Shown with a failure: where it stopped.
        eprintln!("ping {i} sent ({} ticks so far)", ticks.len());
        // Each ping is answered within a bound, whatever the sends in between.
        let (f, texts) = next_non_text(&mut peer, Instant::now() + GUARD);
        ticks.extend(texts);
        assert_eq!(
            (f.opcode, f.payload.as_slice()),
            (0xA, ping_payload(i).as_slice()),
            "pong {i}: got {}",
            opcode_name(&f)
        );
    }
    peer.send(0x8, &close_payload(1000, REASON));
    let (f, texts) = next_non_text(&mut peer, Instant::now() + GUARD);
    ticks.extend(texts);
    assert_eq!((f.opcode, f.payload), (0x8, close_payload(1000, REASON)));
    peer.shutdown_write();
    peer.expect_eof(Instant::now() + END_BOUND);
    let (sent, error) = done.recv_timeout(END_BOUND).expect("the writer ends");
    // Every send that succeeded is on the wire, in order, before the close reply.
    let expected: Vec<String> = (0..sent).map(|i| format!("tick {i}")).collect();
    assert_eq!(ticks, expected);
    // After the closing handshake, sending is refused.
    assert!(matches!(error, Error::Send(SendError::Closed)), "{error:?}");
}
