//! The split halves, model-checked with loom (issue 13): no lost wake-up, no deadlock, every
//! message delivered once, for send / receive / close interleavings.
//!
//! Built only under `RUSTFLAGS="--cfg wsproto_loom"` (then the executor's locks are loom's):
//!
//! ```text
//! RUSTFLAGS="--cfg wsproto_loom" cargo test --release --features futures-io --lib loom_halves
//! ```
//!
//! What runs is the executor itself: a real [`Session`] (server role) in a real
//! [`WebSocket`], split, its [`ReadHalf`] and [`WriteHalf`] each driven by `block_on` on its
//! own loom thread, over an in-memory [`PollIo`] that answers `Pending` and keeps the waker it
//! was given (the fan-out waker), as a socket does. The model's main thread is the peer: it
//! sends frames, makes room for our writes and ends its side, waking what the transport holds.
//! A half that waits forever (a lost wake-up) or a lock cycle makes every thread block, which
//! loom reports as a deadlock; the assertions check what was delivered and written.
//!
//! Time stands still (the clock reads zero and sleeps never end): nothing here may depend on a
//! timer, so a run that only a timeout could finish fails too.
//!
//! Bounds: at most [`WIDE`] or [`NARROW`] preemptions per execution, or
//! `LOOM_MAX_PREEMPTIONS` for every scenario.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::future::{Pending, pending};
use core::pin::Pin;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::io;

use loom::future::block_on;
use loom::sync::{Arc, Mutex};
use loom::thread::{self, JoinHandle};

use super::{PollIo, ReadHalf, WebSocket, WriteHalf, lock};
use crate::io::{Error, Message};
use crate::session::Session;
use crate::{CloseCode, Config, Connection, Role, SendError};

/// Preemptions per execution for the scenarios with few steps, unless `LOOM_MAX_PREEMPTIONS`
/// says otherwise.
const WIDE: usize = 3;
/// The same for the closing scenarios, which have more steps: at 3 one of them takes over ten
/// minutes (see docs/conformance.md, "Model checking").
const NARROW: usize = 2;

/// The transport between our server and the peer, as both ends see it.
#[derive(Default)]
struct Wire {
    /// Bytes the peer sent that we have not read.
    inbound: VecDeque<u8>,
    /// The peer ended its side: reads give 0 once `inbound` is empty.
    inbound_end: bool,
    /// Bytes we wrote.
    outbound: Vec<u8>,
    /// How many more bytes the transport takes before it pushes back.
    room: usize,
    /// We shut our side down.
    shut: bool,
    /// Who waits for input: the last waker a pending read was given (a socket keeps one).
    read_waiter: Option<Waker>,
    /// Who waits for room: the last waker a pending write was given.
    write_waiter: Option<Waker>,
    /// The peer, waiting for our bytes or our shutdown.
    peer: Option<Waker>,
}

/// Our end of the [`Wire`].
struct ModelIo(Arc<Mutex<Wire>>);

impl PollIo for ModelIo {
    type Stream = ();
    type Sleep = Pending<()>;
    type Clock = ();

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut wire = lock(&self.0);
        if wire.inbound.is_empty() && !wire.inbound_end {
            wire.read_waiter = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(wire.inbound.len());
        for (to, from) in buf.iter_mut().zip(wire.inbound.drain(..n)) {
            *to = from;
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let (n, peer) = {
            let mut wire = lock(&self.0);
            if wire.room == 0 {
                wire.write_waiter = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let n = buf.len().min(wire.room);
            wire.room -= n;
            wire.outbound.extend_from_slice(&buf[..n]);
            (n, wire.peer.take())
        };
        wake(peer);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let peer = {
            let mut wire = lock(&self.0);
            wire.shut = true;
            wire.peer.take()
        };
        wake(peer);
        Poll::Ready(Ok(()))
    }

    fn stream(&self) -> &() {
        &()
    }

    fn clock() {}

    fn elapsed((): ()) -> Duration {
        Duration::ZERO
    }

    fn sleep(_: Duration) -> Pending<()> {
        pending()
    }

    fn reset(_: Pin<&mut Pending<()>>, _: Duration) {}

    fn writes_through(&self) -> bool {
        true
    }
}

/// Wakes outside the transport's lock, as runtimes do.
fn wake(waker: Option<Waker>) {
    if let Some(w) = waker {
        w.wake();
    }
}

/// The peer's end of the [`Wire`] (the model's main thread).
struct Peer(Arc<Mutex<Wire>>);

impl Peer {
    /// Sends bytes and wakes whoever waits to read.
    fn send(&self, bytes: &[u8]) {
        let waiter = {
            let mut wire = lock(&self.0);
            wire.inbound.extend(bytes);
            wire.read_waiter.take()
        };
        wake(waiter);
    }

    /// Ends the peer's side (FIN) and wakes whoever waits to read.
    fn end(&self) {
        let waiter = {
            let mut wire = lock(&self.0);
            wire.inbound_end = true;
            wire.read_waiter.take()
        };
        wake(waiter);
    }

    /// Takes `n` more bytes from us and wakes whoever waits to write.
    fn make_room(&self, n: usize) {
        let waiter = {
            let mut wire = lock(&self.0);
            wire.room += n;
            wire.write_waiter.take()
        };
        wake(waiter);
    }

    /// Waits until `done` holds (it is checked after each of our writes and our shutdown).
    fn wait_for(&self, done: impl Fn(&Wire) -> bool) {
        block_on(core::future::poll_fn(|cx| {
            let mut wire = lock(&self.0);
            if done(&wire) {
                return Poll::Ready(());
            }
            wire.peer = Some(cx.waker().clone());
            Poll::Pending
        }));
    }

    fn written(&self) -> Vec<u8> {
        lock(&self.0).outbound.clone()
    }
}

/// A client frame: masked with the zero key, so the payload reads as it is.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = alloc::vec![0x80 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    f
}

/// A server frame (unmasked).
fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = alloc::vec![0x80 | opcode, payload.len() as u8];
    f.extend_from_slice(payload);
    f
}

const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
/// A Close frame's payload: 1000, no reason.
const NORMAL: [u8; 2] = [0x03, 0xE8];

/// An open server WebSocket over a fresh wire that takes `room` bytes before pushing back,
/// split.
fn open(room: usize) -> (ReadHalf<ModelIo>, WriteHalf<ModelIo>, Peer) {
    let wire = Arc::new(Mutex::new(Wire {
        room,
        ..Wire::default()
    }));
    let session = Session::new(Connection::new(Role::Server, Config::new()));
    let (read, write) = WebSocket::from_session(ModelIo(wire.clone()), session).split();
    (read, write, Peer(wire))
}

/// What a receive gave: a message or an error (as its text); `None` at the end.
type Received = Option<Result<Message, String>>;

fn receive(read: &mut ReadHalf<ModelIo>) -> Received {
    block_on(read.recv()).map(|item| item.map_err(|e| alloc::format!("{e}")))
}

/// Receives until the stream ends.
fn receive_all(read: &mut ReadHalf<ModelIo>) -> Vec<Result<Message, String>> {
    core::iter::from_fn(|| receive(read)).collect()
}

/// A reader thread that receives once and then keeps its half (it does not read again).
fn receive_once(mut read: ReadHalf<ModelIo>) -> JoinHandle<(ReadHalf<ModelIo>, Received)> {
    thread::spawn(move || {
        let got = receive(&mut read);
        (read, got)
    })
}

/// Explores every interleaving of `scenario` within the bound, then prints how many there
/// were (run with `--nocapture` to see them).
fn check(name: &str, preemptions: usize, scenario: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(preemptions);
    }
    let runs = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let started = std::time::Instant::now();
    builder.check(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        scenario();
    });
    std::println!(
        "{name}: {} interleavings, at most {} preemptions, {:.1?}",
        runs.load(Ordering::Relaxed),
        builder.preemption_bound.unwrap_or(preemptions),
        started.elapsed()
    );
}

/// One message each way at once: the reader waits for the peer's text while the writer is
/// blocked writing (no room yet). Whichever half reads the text (a send turn holds it for
/// the reader), the reader gets it, once; the writer's bytes go out, once.
#[test]
fn a_message_each_way() {
    check("a_message_each_way", WIDE, || {
        let (read, mut write, peer) = open(0);
        let reader = receive_once(read);
        let writer = thread::spawn(move || {
            let sent = block_on(write.send(Message::text("yo"))).is_ok();
            (write, sent)
        });
        peer.send(&client_frame(TEXT, b"hi"));
        peer.make_room(64);
        peer.wait_for(|w| w.outbound.len() >= 4);

        let (read, got) = reader.join().unwrap();
        let (write, sent) = writer.join().unwrap();
        assert_eq!(got, Some(Ok(Message::text("hi"))));
        assert!(sent);
        assert_eq!(peer.written(), server_frame(TEXT, b"yo"));
        let ws = WebSocket::reunite(read, write).unwrap();
        let s = ws.inner.lock();
        assert!(!s.session.has_delivery(), "the text was held a second time");
        assert!(lock(&peer.0).inbound.is_empty());
    });
}

/// The writer closes while the reader reads: the reader gets the peer's Close reply and
/// then the end; `close` returns once the closing handshake is over (our transport shut
/// down), whichever half read the reply.
#[test]
fn close_while_receiving() {
    check("close_while_receiving", NARROW, || {
        let (mut read, mut write, peer) = open(64);
        let reader = thread::spawn(move || receive_all(&mut read));
        let writer = thread::spawn(move || block_on(write.close(CloseCode::NORMAL, "")).is_ok());
        peer.wait_for(|w| !w.outbound.is_empty());
        peer.send(&client_frame(CLOSE, &NORMAL));
        peer.wait_for(|w| w.shut);
        peer.end();

        let got = reader.join().unwrap();
        assert!(writer.join().unwrap());
        assert_eq!(got, [Ok(Message::close(CloseCode::NORMAL, ""))]);
        assert_eq!(peer.written(), server_frame(CLOSE, &NORMAL));
    });
}

/// The peer closes while the writer sends (blocked: no room yet): the reader gets the Close
/// and the end; the send either went out before our Close reply or failed as `Closed`.
#[test]
fn peer_closes_while_sending() {
    check("peer_closes_while_sending", WIDE, || {
        let (mut read, mut write, peer) = open(0);
        let reader = thread::spawn(move || receive_all(&mut read));
        let writer = thread::spawn(move || block_on(write.send(Message::text("yo"))));
        peer.send(&client_frame(CLOSE, &NORMAL));
        peer.make_room(64);
        peer.wait_for(|w| w.shut);
        peer.end();

        let got = reader.join().unwrap();
        let sent = writer.join().unwrap();
        assert_eq!(got, [Ok(Message::close(CloseCode::NORMAL, ""))]);
        let reply = server_frame(CLOSE, &NORMAL);
        match sent {
            Ok(()) => assert_eq!(peer.written(), [server_frame(TEXT, b"yo"), reply].concat()),
            Err(Error::Send(SendError::Closed)) => assert_eq!(peer.written(), reply),
            Err(e) => panic!("send failed with {e}"),
        }
    });
}

/// The reader takes one message and then does not read again for a while (its task waits
/// for the writer first); the writer sends under backpressure, then closes. When the
/// writer's send turn read the peer's text, it holds it for the reader and stops parsing
/// there (read gating). Once the reader has taken the text, the gate is open again and the
/// writer must be woken to go on by itself: to read the peer's Close and finish `close`.
/// (Data that reaches us after our Close is discarded by design: then the reader's one
/// message is the peer's Close.)
#[test]
fn close_after_one_receive() {
    check("close_after_one_receive", NARROW, || {
        let (read, mut write, peer) = open(0);
        let reader = receive_once(read);
        let writer = thread::spawn(move || {
            let sent = block_on(write.send(Message::text("yo"))).is_ok();
            sent && block_on(write.close(CloseCode::NORMAL, "")).is_ok()
        });
        peer.send(&client_frame(TEXT, b"hi"));
        peer.make_room(64);
        let ours = [server_frame(TEXT, b"yo"), server_frame(CLOSE, &NORMAL)].concat();
        peer.wait_for(|w| w.outbound.len() >= ours.len());
        peer.send(&client_frame(CLOSE, &NORMAL));
        peer.wait_for(|w| w.shut);
        peer.end();

        assert!(writer.join().unwrap());
        let (_read, got) = reader.join().unwrap();
        let close = Message::close(CloseCode::NORMAL, "");
        assert!(
            got == Some(Ok(Message::text("hi"))) || got == Some(Ok(close)),
            "the reader got {got:?}"
        );
        assert_eq!(peer.written(), ours);
    });
}
