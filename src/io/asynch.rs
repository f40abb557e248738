//! The runtime-agnostic async WebSocket: one implementation of the driver loop for every
//! poll-based runtime. [`tokio`](super::tokio) and [`futures`](super::futures) only implement
//! [`AsyncIo`] for their streams and timers; another runtime can do the same.
//!
//! A [`WebSocket`] is a [`Stream`] of received [`Message`]s and a [`Sink`] of messages to send.
//! [`WebSocket::split`] gives a [`ReadHalf`] and a [`WriteHalf`] that work concurrently from
//! different tasks. They share the connection behind a `std::sync::Mutex` that is held only
//! for the synchronous body of one `poll_*` call, never across an `.await`. Every poll of the
//! transport or the timer goes through a waker that wakes both halves, so whichever half gets
//! to the transport first does the work the other is waiting for (pongs and close replies owed
//! by the reader go out even while the writer is blocked, and the other way round).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Wake;

use futures_core::Stream;
use futures_sink::Sink;

use super::{
    AcceptOptions, Callback, ConnectOptions, Driver, Error, HANDSHAKE_CHUNK, Message, ServerDriver,
    ServerStep, Target, handshake_eof, next_redirect,
};
use crate::handshake::{ClientHandshake, Response};
use crate::{CloseCode, Connection, Instant, SendError, State, Status};

/// What the generic WebSocket needs from a runtime: poll-based I/O on one stream, a clock, and
/// a resettable sleep.
///
/// Implemented by [`tokio::TokioIo`](super::tokio::TokioIo) and
/// [`futures::FuturesIo`](super::futures::FuturesIo).
pub trait AsyncIo: Unpin {
    /// The runtime's sleep future.
    type Sleep: Future<Output = ()>;

    /// Reads into `buf` (0 bytes read: end of stream).
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
    /// Writes from `buf`.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
    /// Flushes.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Shuts the write side down (TCP FIN).
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// The time since this stream's epoch (taken when it was wrapped).
    fn now(&self) -> Instant;
    /// A sleep that completes `after` from now.
    fn sleep(after: Duration) -> Self::Sleep;
    /// Re-arms a sleep to complete `after` from now.
    fn reset(sleep: Pin<&mut Self::Sleep>, after: Duration);
}

// ---------------------------------------------------------------------------------------------
// Wakers: one waker per half, and a fan-out waker handed to the transport and the timer.

#[derive(Default)]
struct Wakers {
    read: Mutex<Option<Waker>>,
    write: Mutex<Option<Waker>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Read,
    Write,
}

impl Wakers {
    fn register(&self, side: Side, waker: &Waker) {
        let slot = match side {
            Side::Read => &self.read,
            Side::Write => &self.write,
        };
        let mut slot = lock(slot);
        match &*slot {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let read = lock(&self.read).take();
        let write = lock(&self.write).take();
        if let Some(w) = read {
            w.wake();
        }
        if let Some(w) = write {
            w.wake();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// The shared state and the loop.

struct Shared<T: AsyncIo> {
    io: T,
    driver: Driver,
    timer: Option<Pin<Box<T::Sleep>>>,
    armed: Option<Instant>,
    needs_flush: bool,
    shutdown_done: bool,
    /// The stream ended (`None` was or will be returned).
    finished: bool,
    /// The transport failed with this kind; reported once by the reader.
    failed: Option<io::ErrorKind>,
    failure_reported: bool,
    /// A connection error held until our Close frame is written.
    pending_error: Option<Error>,
    read_half_alive: bool,
}

impl<T: AsyncIo> Shared<T> {
    fn fail(&mut self, e: &io::Error) {
        if self.failed.is_none() {
            self.failed = Some(e.kind());
        }
    }

    /// Step 2: writes and flushes what the connection holds. `Ready(Ok)`: all written.
    fn poll_transmit(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if let Some(kind) = self.failed {
            return Poll::Ready(Err(Error::Io(kind.into())));
        }
        loop {
            let buf = self.driver.transmit();
            if buf.is_empty() {
                break;
            }
            match self.io.poll_write(cx, buf) {
                Poll::Ready(Ok(0)) => {
                    let e = io::Error::from(io::ErrorKind::WriteZero);
                    self.fail(&e);
                    return Poll::Ready(Err(Error::Io(e)));
                }
                Poll::Ready(Ok(n)) => {
                    self.driver.advance(n);
                    self.needs_flush = true;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => {
                    self.fail(&e);
                    return Poll::Ready(Err(Error::Io(e)));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.needs_flush {
            match self.io.poll_flush(cx) {
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(e)) => {
                    self.fail(&e);
                    return Poll::Ready(Err(Error::Io(e)));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Step 3: fires due timers and arms the sleep for the next deadline. Returns whether a
    /// timer fired (the caller loops again).
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.driver.poll_timeout() else {
            self.armed = None;
            return false;
        };
        let now = self.io.now();
        if deadline <= now {
            self.armed = None;
            self.driver.handle_timeout(now);
            return true;
        }
        let after = deadline.saturating_duration_since(now);
        if self.armed != Some(deadline) {
            match self.timer.as_mut() {
                Some(t) => T::reset(t.as_mut(), after),
                None => self.timer = Some(Box::pin(T::sleep(after))),
            }
            self.armed = Some(deadline);
        }
        if let Some(t) = self.timer.as_mut() {
            if t.as_mut().poll(cx).is_ready() {
                self.armed = None;
                let now = self.io.now();
                self.driver.handle_timeout(now);
                return true;
            }
        }
        false
    }

    /// The whole loop, for the reader. With `discard`, data messages, pings and pongs are
    /// dropped (used by `close`).
    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        discard: bool,
    ) -> Poll<Option<Result<Message, Error>>> {
        loop {
            if self.finished {
                return Poll::Ready(None);
            }
            if let Some(error) = &self.pending_error {
                let shutdown = !self.shutdown_done && self.driver.shutdown_after(error);
                // Deliver the connection's error once our Close frame is out (or cannot be).
                match self.poll_transmit(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(())) if shutdown => match self.io.poll_shutdown(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(_) => self.shutdown_done = true,
                    },
                    Poll::Ready(_) => {}
                }
                return Poll::Ready(self.pending_error.take().map(Err));
            }
            if let Some(kind) = self.failed {
                if self.failure_reported {
                    self.finished = true;
                    return Poll::Ready(None);
                }
                self.failure_reported = true;
                return Poll::Ready(Some(Err(Error::Io(kind.into()))));
            }
            // 1. deliver
            match self.driver.next_message() {
                Some(Ok(m)) => {
                    if discard && !m.is_close() {
                        continue;
                    }
                    return Poll::Ready(Some(Ok(m)));
                }
                Some(Err(e)) => {
                    self.pending_error = Some(e);
                    continue;
                }
                None => {}
            }
            // 2. write what we owe
            let written = match self.poll_transmit(cx) {
                Poll::Ready(Ok(())) => true,
                Poll::Ready(Err(_)) => continue,
                Poll::Pending => false,
            };
            // 3. timers
            if self.poll_timer(cx) {
                continue;
            }
            // 4. finish
            if self.driver.should_close_transport() {
                if !written {
                    return Poll::Pending;
                }
                if !self.shutdown_done {
                    match self.io.poll_shutdown(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(_) => self.shutdown_done = true,
                    }
                }
                self.finished = true;
                return Poll::Ready(None);
            }
            // 5. read
            if self.driver.should_read() {
                let buf = self.driver.recv_buf();
                match self.io.poll_read(cx, buf) {
                    Poll::Ready(Ok(n)) => {
                        let now = self.io.now();
                        self.driver.commit(now, n);
                        continue;
                    }
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Poll::Ready(Err(e)) => {
                        self.fail(&e);
                        continue;
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }
            if self.driver.eof() && written {
                // Nothing more can arrive and nothing is owed.
                self.finished = true;
                return Poll::Ready(None);
            }
            return Poll::Pending;
        }
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if let Some(kind) = self.failed {
            return Poll::Ready(Err(Error::Io(kind.into())));
        }
        if self.driver.state() != State::Open {
            return Poll::Ready(Err(Error::Send(SendError::Closed)));
        }
        if self.driver.has_send_capacity() {
            return Poll::Ready(Ok(()));
        }
        // Backpressure: wait until the queue is written out.
        match self.poll_transmit(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => {
                self.poll_timer(cx);
                Poll::Pending
            }
        }
    }

    fn start_send(&mut self, message: &Message) -> Result<(), Error> {
        if let Some(kind) = self.failed {
            return Err(Error::Io(kind.into()));
        }
        let now = self.io.now();
        self.driver.send(now, message).map_err(Error::Send)
    }
}

struct Inner<T: AsyncIo> {
    shared: Mutex<Shared<T>>,
    wakers: Arc<Wakers>,
    fanout: Waker,
    protocol: Option<String>,
}

impl<T: AsyncIo> Inner<T> {
    /// Runs `f` on the shared state with the caller's waker registered for `side` and the
    /// fan-out waker in the context. The lock is held only for this synchronous call.
    fn with<R>(
        &self,
        cx: &mut Context<'_>,
        side: Side,
        f: impl FnOnce(&mut Shared<T>, &mut Context<'_>) -> R,
    ) -> R {
        self.wakers.register(side, cx.waker());
        let mut fanout = Context::from_waker(&self.fanout);
        let mut shared = lock(&self.shared);
        f(&mut shared, &mut fanout)
    }

    fn lock(&self) -> MutexGuard<'_, Shared<T>> {
        lock(&self.shared)
    }

    fn wake_all(&self) {
        self.wakers.wake_by_ref_all();
    }
}

impl Wakers {
    fn wake_by_ref_all(self: &Arc<Self>) {
        Wake::wake_by_ref(self);
    }
}

// ---------------------------------------------------------------------------------------------
// Public types.

/// A WebSocket over an async stream: a [`Stream`] of received messages and a [`Sink`] of
/// messages to send. See the [module docs](self) and [`super`] for the loop it runs.
///
/// The stream yields every message (pings and pongs included; with auto-pong on, the pong is
/// already queued), then the peer's [`Message::Close`], then ends once the transport is closed.
/// A failed connection yields one error (after our Close frame went out) and then ends.
/// Nothing happens while the WebSocket is not polled: keep reading from it (or from its
/// [`ReadHalf`]) so that pings are answered and timers run.
pub struct WebSocket<T: AsyncIo> {
    inner: Arc<Inner<T>>,
}

/// The receiving half of a [`WebSocket`]: a [`Stream`] of messages. It also writes the pongs
/// and close replies the connection owes and runs the timers.
pub struct ReadHalf<T: AsyncIo> {
    inner: Arc<Inner<T>>,
}

/// The sending half of a [`WebSocket`]: a [`Sink`] of messages.
pub struct WriteHalf<T: AsyncIo> {
    inner: Arc<Inner<T>>,
}

impl<T: AsyncIo> core::fmt::Debug for WebSocket<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WebSocket")
            .field("protocol", &self.inner.protocol)
            .finish_non_exhaustive()
    }
}

impl<T: AsyncIo> core::fmt::Debug for ReadHalf<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<T: AsyncIo> core::fmt::Debug for WriteHalf<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

fn poll_ready_inner<T: AsyncIo>(inner: &Inner<T>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
    inner.with(cx, Side::Write, |s, cx| s.poll_ready(cx))
}

fn start_send_inner<T: AsyncIo>(inner: &Inner<T>, message: &Message) -> Result<(), Error> {
    inner.lock().start_send(message)
}

fn poll_flush_inner<T: AsyncIo>(inner: &Inner<T>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
    inner.with(cx, Side::Write, |s, cx| s.poll_transmit(cx))
}

fn poll_close_inner<T: AsyncIo>(inner: &Inner<T>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
    inner.with(cx, Side::Write, |s, cx| {
        if s.failed.is_none() {
            let now = s.io.now();
            s.driver.start_close(now, CloseCode::NORMAL, "")?;
        }
        match s.poll_transmit(cx) {
            Poll::Ready(Err(Error::Io(_))) if s.finished => Poll::Ready(Ok(())),
            other => other,
        }
    })
}

fn poll_next_inner<T: AsyncIo>(
    inner: &Inner<T>,
    cx: &mut Context<'_>,
    discard: bool,
) -> Poll<Option<Result<Message, Error>>> {
    let (poll, finished) = inner.with(cx, Side::Read, |s, cx| {
        let p = s.poll_next(cx, discard);
        (p, s.finished)
    });
    if finished {
        // A writer waiting for the end (WriteHalf::close) must hear of it.
        inner.wake_all();
    }
    poll
}

async fn send_inner<T: AsyncIo>(inner: &Inner<T>, message: Message) -> Result<(), Error> {
    core::future::poll_fn(|cx| poll_ready_inner(inner, cx)).await?;
    start_send_inner(inner, &message)?;
    core::future::poll_fn(|cx| poll_flush_inner(inner, cx)).await
}

/// Starts the closing handshake, then runs the loop (discarding data) until the transport is
/// closed. The close timeout of the connection bounds it.
async fn close_inner<T: AsyncIo>(
    inner: &Inner<T>,
    code: CloseCode,
    reason: &str,
    read: bool,
) -> Result<(), Error> {
    {
        let mut s = inner.lock();
        if s.failed.is_none() && !s.finished {
            let now = s.io.now();
            s.driver.start_close(now, code, reason)?;
        }
    }
    if !read {
        // The ReadHalf runs the rest of the handshake; wait until it has. The timers run here
        // too, so that the close timeout ends the wait even if the ReadHalf is not polled.
        core::future::poll_fn(|cx| {
            inner.with(cx, Side::Write, |s, cx| {
                loop {
                    if s.finished || s.shutdown_done {
                        return Poll::Ready(Ok(()));
                    }
                    if s.poll_timer(cx) {
                        continue;
                    }
                    return match s.poll_transmit(cx) {
                        Poll::Ready(Ok(())) if s.driver.should_close_transport() => {
                            match s.io.poll_shutdown(cx) {
                                Poll::Pending => Poll::Pending,
                                Poll::Ready(_) => {
                                    s.shutdown_done = true;
                                    Poll::Ready(Ok(()))
                                }
                            }
                        }
                        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                        _ => Poll::Pending,
                    };
                }
            })
        })
        .await?;
        return Ok(());
    }
    let mut result = Ok(());
    while let Some(item) = core::future::poll_fn(|cx| poll_next_inner(inner, cx, true)).await {
        if let Err(e) = item {
            if result.is_ok() {
                result = Err(e);
            }
        }
    }
    result
}

impl<T: AsyncIo> WebSocket<T> {
    /// Wraps a stream and a connection (after a handshake done elsewhere: hyper/axum upgrades
    /// with [`accept_parsed`](crate::handshake::accept_parsed), or a raw
    /// [`Connection::new`]). Whatever the connection already queued (e.g. a 101 response) is
    /// written first.
    pub fn from_connection(io: T, conn: Connection, protocol: Option<String>) -> Self {
        let wakers = Arc::new(Wakers::default());
        let fanout = Waker::from(wakers.clone());
        let shared = Shared {
            io,
            driver: Driver::new(conn),
            timer: None,
            armed: None,
            needs_flush: false,
            shutdown_done: false,
            finished: false,
            failed: None,
            failure_reported: false,
            pending_error: None,
            read_half_alive: true,
        };
        WebSocket {
            inner: Arc::new(Inner {
                shared: Mutex::new(shared),
                wakers,
                fanout,
                protocol,
            }),
        }
    }

    /// The negotiated subprotocol.
    pub fn protocol(&self) -> Option<&str> {
        self.inner.protocol.as_deref()
    }

    /// Runs `f` on the connection (state, buffered amount, extensions, fragments, pings...).
    /// Bytes it queues go out on the next poll of either half.
    pub fn with_connection<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        let mut s = self.inner.lock();
        let r = f(s.driver.connection());
        drop(s);
        self.inner.wake_all();
        r
    }

    /// Where the closing handshake stands.
    pub fn state(&self) -> State {
        self.inner.lock().driver.state()
    }

    /// Bytes queued and not yet written.
    pub fn buffered_amount(&self) -> usize {
        self.inner.lock().driver.connection().buffered_amount()
    }

    /// The next message; `None` once the connection is closed and the transport shut down.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        core::future::poll_fn(|cx| poll_next_inner(&self.inner, cx, false)).await
    }

    /// Sends a message: waits while the send queue is over its cap, queues it, writes it out.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        send_inner(&self.inner, message).await
    }

    /// Closes: sends Close(code, reason), then keeps reading (discarding data) until the
    /// peer's Close arrives and the transport is closed, or the close timeout runs out
    /// ([`Config::close_timeout`](crate::Config::close_timeout)): it never hangs. `Ok` after a
    /// clean closing handshake. If the closing handshake had already started, only waits.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        close_inner(&self.inner, code, reason, true).await
    }

    /// Splits into halves that can be used from different tasks at the same time.
    pub fn split(self) -> (ReadHalf<T>, WriteHalf<T>) {
        let inner = self.inner;
        (
            ReadHalf {
                inner: inner.clone(),
            },
            WriteHalf { inner },
        )
    }

    /// Joins two halves of the same WebSocket again; gives them back if they do not match.
    pub fn reunite(
        read: ReadHalf<T>,
        write: WriteHalf<T>,
    ) -> Result<Self, (ReadHalf<T>, WriteHalf<T>)> {
        if Arc::ptr_eq(&read.inner, &write.inner) {
            let inner = read.inner.clone();
            drop(read);
            lock(&inner.shared).read_half_alive = true;
            drop(write);
            Ok(WebSocket { inner })
        } else {
            Err((read, write))
        }
    }
}

impl<T: AsyncIo> ReadHalf<T> {
    /// The next message; `None` once the connection is closed and the transport shut down.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        core::future::poll_fn(|cx| poll_next_inner(&self.inner, cx, false)).await
    }

    /// The negotiated subprotocol.
    pub fn protocol(&self) -> Option<&str> {
        self.inner.protocol.as_deref()
    }
}

impl<T: AsyncIo> Drop for ReadHalf<T> {
    fn drop(&mut self) {
        lock(&self.inner.shared).read_half_alive = false;
        self.inner.wake_all();
    }
}

impl<T: AsyncIo> WriteHalf<T> {
    /// Sends a message: waits while the send queue is over its cap, queues it, writes it out.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        send_inner(&self.inner, message).await
    }

    /// Sends Close(code, reason) and waits until the closing handshake is over. While the
    /// [`ReadHalf`] exists it is the one reading the peer's Close (it yields it, then ends),
    /// so keep polling it; once it is dropped, this reads (and discards) by itself. Bounded
    /// by the close timeout either way.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let read = !lock(&self.inner.shared).read_half_alive;
        close_inner(&self.inner, code, reason, read).await
    }

    /// Runs `f` on the connection (see [`WebSocket::with_connection`]).
    pub fn with_connection<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        let mut s = self.inner.lock();
        let r = f(s.driver.connection());
        drop(s);
        self.inner.wake_all();
        r
    }
}

impl<T: AsyncIo> Stream for WebSocket<T> {
    type Item = Result<Message, Error>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        poll_next_inner(&self.inner, cx, false)
    }
}

impl<T: AsyncIo> Stream for ReadHalf<T> {
    type Item = Result<Message, Error>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        poll_next_inner(&self.inner, cx, false)
    }
}

macro_rules! impl_sink {
    ($ty:ident) => {
        impl<T: AsyncIo> Sink<Message> for $ty<T> {
            type Error = Error;
            fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                poll_ready_inner(&self.inner, cx)
            }
            fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
                start_send_inner(&self.inner, &item)
            }
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                poll_flush_inner(&self.inner, cx)
            }
            /// Sends Close(1000) if the closing handshake has not started, and writes it out.
            /// The rest of the handshake happens as the stream is read; use `close` to wait
            /// for it.
            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                poll_close_inner(&self.inner, cx)
            }
        }
    };
}

impl_sink!(WebSocket);
impl_sink!(WriteHalf);

// ---------------------------------------------------------------------------------------------
// Handshakes over any AsyncIo.

/// Runs `fut`, failing with [`Error::HandshakeTimeout`] after `after`.
pub(crate) async fn with_timeout<T: AsyncIo, F: Future<Output = Result<R, Error>>, R>(
    after: Option<Duration>,
    fut: F,
) -> Result<R, Error> {
    let mut fut = core::pin::pin!(fut);
    let mut sleep = after.map(|d| Box::pin(T::sleep(d)));
    core::future::poll_fn(|cx| {
        if let Poll::Ready(r) = fut.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        if let Some(s) = sleep.as_mut() {
            if s.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(Error::HandshakeTimeout));
            }
        }
        Poll::Pending
    })
    .await
}

async fn write_all<T: AsyncIo>(io: &mut T, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = core::future::poll_fn(|cx| io.poll_write(cx, buf)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = buf.get(n..).unwrap_or_default();
    }
    core::future::poll_fn(|cx| io.poll_flush(cx)).await
}

async fn read<T: AsyncIo>(io: &mut T, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match core::future::poll_fn(|cx| io.poll_read(cx, buf)).await {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

async fn client_exchange<T: AsyncIo>(io: &mut T, hs: &mut ClientHandshake) -> Result<(), Error> {
    // Copied out: a borrow of the handshake held across an await would make this future
    // !Send (extensions are Send, not Sync).
    let request = hs.poll_transmit().to_vec();
    hs.advance_transmit(request.len());
    write_all(io, &request).await?;
    let mut buf = vec![0u8; HANDSHAKE_CHUNK];
    loop {
        let n = read(io, &mut buf).await?;
        if n == 0 {
            hs.receive_eof()?;
            return Err(handshake_eof());
        }
        if let Status::Complete(()) = hs.receive(buf.get(..n).unwrap_or_default())? {
            return Ok(());
        }
    }
}

/// Client over a stream that is already connected (TLS included): one attempt, no redirects.
pub async fn connect_with<T: AsyncIo>(
    mut io: T,
    url: &str,
    options: impl Into<ConnectOptions>,
) -> Result<(WebSocket<T>, Response), Error> {
    let mut options = options.into();
    let client = options.next_options().unwrap_or_default();
    let mut hs = ClientHandshake::new(url, client)?;
    with_timeout::<T, _, _>(
        options.get_handshake_timeout(),
        client_exchange(&mut io, &mut hs),
    )
    .await?;
    finish_client(io, hs)
}

fn finish_client<T: AsyncIo>(
    io: T,
    hs: ClientHandshake,
) -> Result<(WebSocket<T>, Response), Error> {
    let (conn, response) = hs.into_connection(io.now())?;
    let protocol = response.protocol().map(String::from);
    Ok((WebSocket::from_connection(io, conn, protocol), response))
}

/// Client with a connector: `connect` opens the transport for each attempt (the first URL and
/// every redirect followed), e.g. a TCP connect plus TLS for `wss://`.
pub async fn connect_via<T, C, Fut>(
    url: &str,
    options: impl Into<ConnectOptions>,
    mut connect: C,
) -> Result<(WebSocket<T>, Response), Error>
where
    T: AsyncIo,
    C: FnMut(Target) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut options = options.into();
    let mut url = String::from(url);
    let mut followed = 0;
    loop {
        let Some(client) = options.next_options() else {
            return Err(Error::Send(SendError::Closed));
        };
        let mut hs = ClientHandshake::new(&url, client)?;
        let target = Target {
            host: String::from(hs.host()),
            port: hs.port(),
            tls: hs.is_tls(),
            url: url.clone(),
        };
        let attempt = with_timeout::<T, _, _>(options.get_handshake_timeout(), async {
            let mut io = connect(target.clone()).await?;
            client_exchange(&mut io, &mut hs).await?;
            Ok(io)
        })
        .await;
        match attempt {
            Ok(io) => return finish_client(io, hs),
            Err(Error::Handshake(e)) => url = next_redirect(e, &target, &options, &mut followed)?,
            Err(e) => return Err(e),
        }
    }
}

/// Server: reads the opening handshake request (within the handshake timeout), asks the
/// callback, and answers. A rejected or invalid request gets its HTTP error response and the
/// stream is shut down.
pub async fn accept_with<T: AsyncIo, C: Callback>(
    mut io: T,
    options: impl Into<AcceptOptions>,
    callback: C,
) -> Result<WebSocket<T>, Error> {
    let options = options.into();
    let timeout = options.get_handshake_timeout();
    let mut server = ServerDriver::new(options.into_server(), callback);
    let (conn, protocol) = with_timeout::<T, _, _>(timeout, async {
        let mut buf = vec![0u8; HANDSHAKE_CHUNK];
        loop {
            let n = read(&mut io, &mut buf).await?;
            if n == 0 {
                return Err(handshake_eof());
            }
            match server.receive(io.now(), buf.get(..n).unwrap_or_default()) {
                ServerStep::Continue => {}
                ServerStep::Accepted(mut conn, protocol) => {
                    // The 101 response (queued in the connection) goes out now, within the
                    // handshake timeout, whether or not the WebSocket is polled soon. (Copied
                    // out: a borrow of the connection held across an await would make this
                    // future !Send.)
                    let response = conn.poll_transmit().to_vec();
                    conn.advance_transmit(response.len());
                    write_all(&mut io, &response).await?;
                    return Ok((*conn, protocol));
                }
                ServerStep::Failed(e) => {
                    let response = server.transmit().to_vec();
                    server.advance(response.len());
                    // Best effort: the peer may be gone already.
                    if write_all(&mut io, &response).await.is_ok() {
                        let _ = core::future::poll_fn(|cx| io.poll_shutdown(cx)).await;
                    }
                    return Err(e);
                }
            }
        }
    })
    .await?;
    Ok(WebSocket::from_connection(io, conn, protocol))
}
