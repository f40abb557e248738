//! The executor for poll-based (non-blocking) runtimes: one implementation of the
//! [session](crate::session) contract for every async runtime. `on_tokio`
//! and `on_futures` only implement [`PollIo`] for their streams and
//! timers; another runtime can do the same.
//!
//! A [`WebSocket`] is a [`Stream`] of received [`Message`]s and a [`Sink`] of messages to send.
//! [`WebSocket::split`] gives a [`ReadHalf`] and a [`WriteHalf`] that work concurrently from
//! different tasks. They share the session behind a `std::sync::Mutex` held only for the
//! synchronous body of one `poll_*` call, never across an `.await`. The transport and the
//! timer are polled with a waker that wakes both halves, and each half's turn drives the whole
//! connection: a writer waiting under backpressure still answers pings and runs the timers,
//! and a reader writes the pongs and close replies it owes.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use bytes::BytesMut;
use core::future::Future;
use core::net::SocketAddr;
use core::ops::Deref;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::io;
use std::sync::PoisonError;
use std::task::Wake;
// The locks the halves share (the session's and the waker slots'): loom's in the model of the
// split halves (`loom_halves`, unit tests under `--cfg wsproto_loom`), so loom explores the
// interleavings of this very code; std's everywhere else.
#[cfg(all(test, wsproto_loom))]
use loom::sync::{Mutex, MutexGuard};
#[cfg(not(all(test, wsproto_loom)))]
use std::sync::{Mutex, MutexGuard};

use futures_core::Stream;
use futures_sink::Sink;

use super::{AcceptOptions, Callback, ConnectOptions, Error, Message, Target};
use crate::frame::PreparedFrame;
use crate::handshake::{Request, Response};
use crate::session::{AcceptStep, Accepting, Decision, DialStep, Dialing, Io, Session, Step, Turn};
use crate::{CloseCode, Instant, SendError, SendOptions, State};

#[cfg(all(test, wsproto_loom))]
mod loom_halves;

/// What the executor needs from a runtime: poll-based I/O on one stream, a clock, and a
/// resettable sleep.
///
/// Implemented by `on_tokio::TokioIo` and `on_futures::FuturesIo`.
pub trait PollIo: Unpin {
    /// The stream underneath.
    type Stream;
    /// The runtime's sleep future.
    type Sleep: Future<Output = ()>;
    /// A point on the runtime's monotonic clock.
    type Clock: Copy;

    /// Reads into `buf` (0 bytes read: end of stream).
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
    /// Writes from `buf`.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
    /// Writes from `runs` in order, in one vectored write if the stream can (a frame's header
    /// and its payload queued by reference; the executor calls it with two non-empty runs).
    /// Default: the first run alone.
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        runs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = runs.first().map_or(&[][..], |r| &r[..]);
        self.poll_write(cx, first)
    }
    /// Reads at most `max` bytes onto the end of `buf` (the rest of a large binary message,
    /// read where the message keeps it). Default: into zero-filled memory (at most 32 KiB at a
    /// time, the session's largest ordinary read) through [`poll_read`](Self::poll_read); a
    /// stream that can read into spare capacity overrides it and
    /// [`reads_owned`](Self::reads_owned).
    fn poll_read_owned(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        let at = buf.len();
        buf.resize(at + max.min(crate::session::READ_MAX), 0);
        let read = self.poll_read(cx, buf.get_mut(at..).unwrap_or_default());
        let n = match &read {
            Poll::Ready(Ok(n)) => *n,
            _ => 0,
        };
        buf.truncate(at + n);
        read
    }
    /// Whether [`poll_read_owned`](Self::poll_read_owned) reads without zero-filling first:
    /// then the executor reads large binary messages straight into their own memory.
    /// Default `false`.
    fn reads_owned(&self) -> bool {
        false
    }
    /// Flushes.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Shuts the write side down (TCP FIN, TLS close_notify).
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// The stream.
    fn stream(&self) -> &Self::Stream;
    /// Now, on the runtime's clock (tokio's, so paused-time tests work).
    fn clock() -> Self::Clock;
    /// Time since `start`.
    fn elapsed(start: Self::Clock) -> Duration;
    /// A sleep that completes `after` from now.
    fn sleep(after: Duration) -> Self::Sleep;
    /// Re-arms a sleep to complete `after` from now.
    fn reset(sleep: Pin<&mut Self::Sleep>, after: Duration);
    /// Whether writes go straight to the transport with nothing to flush (a plain TCP
    /// socket; not TLS). Default `false`: the executor flushes after writing.
    fn writes_through(&self) -> bool {
        false
    }
}

// ---------------------------------------------------------------------------------------------
// Wakers: one per half, and a fan-out waker handed to the transport and the timer when two
// tasks share the connection.

/// The wakers of the task polling each half, last seen.
#[derive(Default)]
struct Wakers {
    /// `[read, write]`, one lock for both.
    slots: Mutex<[Option<Waker>; 2]>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Read,
    Write,
}

impl Side {
    /// Its index in `[read, write]` pairs.
    fn index(self) -> usize {
        match self {
            Side::Read => 0,
            Side::Write => 1,
        }
    }

    fn other(self) -> Side {
        match self {
            Side::Read => Side::Write,
            Side::Write => Side::Read,
        }
    }
}

impl Wakers {
    /// Records `waker` for `side`. Returns whether its task is the only one waiting on the
    /// connection (the other half has no waker, or the same task's): then the transport and
    /// the timer can hold `waker` itself instead of the fan-out.
    fn register(&self, side: Side, waker: &Waker) -> bool {
        let mut slots = lock(&self.slots);
        let [read, write] = &mut *slots;
        let (mine, theirs) = match side {
            Side::Read => (read, write),
            Side::Write => (write, read),
        };
        keep(mine, waker);
        theirs.as_ref().is_none_or(|w| w.will_wake(waker))
    }

    /// Records `waker` for `side` (without looking at the other side).
    fn park(&self, side: Side, waker: &Waker) {
        let mut slots = lock(&self.slots);
        if let Some(mine) = slots.get_mut(side.index()) {
            keep(mine, waker);
        }
    }

    fn wake_side(&self, side: Side) {
        let waker = lock(&self.slots)
            .get_mut(side.index())
            .and_then(Option::take);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let [read, write] = core::mem::take(&mut *lock(&self.slots));
        for w in [read, write].into_iter().flatten() {
            w.wake();
        }
    }
}

/// Puts `waker` in `slot` unless the waker there wakes the same task.
fn keep(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// The session with its transport and timer: the turn.

/// How a turn ended.
enum Outcome {
    Message(Message),
    Failed(Error),
    End,
    /// A send turn reached what it waited for, with the answer for the caller.
    Goal(Result<(), Error>),
}

/// `pair[side]`.
fn get(pair: &[bool; 2], side: Side) -> bool {
    pair.get(side.index()).copied().unwrap_or(false)
}

/// Sets `pair[side]`.
fn set(pair: &mut [bool; 2], side: Side, on: bool) {
    if let Some(v) = pair.get_mut(side.index()) {
        *v = on;
    }
}

/// What a send turn waits for: `Some(answer)` once it is reached.
type Goal = fn(&Session) -> Option<Result<(), Error>>;

fn closed() -> Error {
    Error::Send(SendError::Closed)
}

/// A data message can be queued (`Ok`), or never can (`Err`).
fn sendable(s: &Session) -> Option<Result<(), Error>> {
    if s.can_send() {
        Some(Ok(()))
    } else if s.state() != State::Open || s.is_closed() {
        Some(Err(closed()))
    } else {
        None
    }
}

/// Everything queued is written (`Ok`), or it cannot be any more (`Err`).
fn flushed(s: &Session) -> Option<Result<(), Error>> {
    if !s.is_flushed() {
        return None;
    }
    let lost = s.is_closed() && !s.connection().poll_transmit().is_empty();
    Some(if lost { Err(closed()) } else { Ok(()) })
}

/// The connection is over.
fn over(s: &Session) -> Option<Result<(), Error>> {
    s.is_closed().then_some(Ok(()))
}

/// Nothing: the turn runs until everything is blocked.
fn nothing(_: &Session) -> Option<Result<(), Error>> {
    None
}

/// Writes a [`Step::Write`]: the first run alone, or both in one vectored write.
fn write_runs<T: PollIo>(
    io: &mut T,
    cx: &mut Context<'_>,
    first: &[u8],
    then: &[u8],
) -> Poll<io::Result<usize>> {
    if then.is_empty() {
        return io.poll_write(cx, first);
    }
    io.poll_write_vectored(cx, &[io::IoSlice::new(first), io::IoSlice::new(then)])
}

struct SessionIo<T: PollIo> {
    io: T,
    session: Session,
    epoch: T::Clock,
    timer: Option<Pin<Box<T::Sleep>>>,
    armed: Option<Instant>,
    /// The latest deadline the timer reported passed: time never reads earlier than it.
    fired: Instant,
    /// The last clock reading.
    last: Instant,
    /// Per side (`[read, write]`): its last turn ended `Pending` and it has not been polled
    /// since, so its task may be waiting (its waker is in `Wakers`).
    parked: [bool; 2],
}

impl<T: PollIo> SessionIo<T> {
    /// Reads the clock (never earlier than a deadline the timer reported passed).
    fn now(&mut self) -> Instant {
        self.last = Instant::from_duration(T::elapsed(self.epoch)).max(self.fired);
        self.last
    }

    /// One turn: carries out the session's steps until it delivers, reaches `goal` (send
    /// turns), or everything is blocked (then the transport or the timer holds the waker).
    /// Returns whether bytes were written, for waking the other half.
    fn poll_turn(&mut self, cx: &mut Context<'_>, turn: Turn, goal: Goal) -> (Poll<Outcome>, bool) {
        self.session.start_turn();
        let mut wrote = false;
        // The clock is read only where time matters: when a deadline is armed, when bytes
        // arrive (the engine's timers and closing deadlines count from them), and for commands.
        // Otherwise the last reading stands in (nothing compares it with anything).
        let mut now = if self.session.deadline().is_some() {
            self.now()
        } else {
            self.last
        };
        // With no receiver left, a send turn also reads everything the transport has (pings
        // get their pongs), so it checks its goal only once all I/O is blocked.
        let eager = !self.session.has_receiver();
        loop {
            if turn == Turn::Send && !eager {
                if let Some(answer) = goal(&self.session) {
                    return (Poll::Ready(Outcome::Goal(answer)), wrote);
                }
            }
            match self.session.step(now, turn) {
                Step::Deliver(m) => return (Poll::Ready(Outcome::Message(m)), wrote),
                Step::Fail(e) => return (Poll::Ready(Outcome::Failed(e)), wrote),
                Step::End if turn == Turn::Send => {
                    let answer = goal(&self.session).unwrap_or_else(|| Err(closed()));
                    return (Poll::Ready(Outcome::Goal(answer)), wrote);
                }
                Step::End => return (Poll::Ready(Outcome::End), wrote),
                Step::Write([first, then]) => match write_runs(&mut self.io, cx, first, then) {
                    Poll::Ready(Ok(0)) => self.broken(io::ErrorKind::WriteZero.into()),
                    Poll::Ready(Ok(n)) => {
                        self.session.wrote(n);
                        wrote = true;
                    }
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                    Poll::Ready(Err(e)) => self.broken(e),
                    Poll::Pending => self.blocked(Io::Write),
                },
                Step::Flush => match self.io.poll_flush(cx) {
                    Poll::Ready(Ok(())) => {
                        self.session.flushed();
                        wrote = true;
                    }
                    Poll::Ready(Err(e)) => self.broken(e),
                    Poll::Pending => self.blocked(Io::Write),
                },
                Step::Shutdown => match self.io.poll_shutdown(cx) {
                    // Best effort: the peer may be gone already; either way it is over.
                    Poll::Ready(_) => {
                        self.session.shut_down();
                    }
                    Poll::Pending => self.blocked(Io::Write),
                },
                Step::Read(buf) => {
                    let read = self.io.poll_read(cx, buf);
                    self.read_done(read, Session::received, &mut now);
                }
                Step::ReadOwned(buf, max) => {
                    let read = self.io.poll_read_owned(cx, buf, max);
                    self.read_done(read, Session::received_owned, &mut now);
                }
                Step::Wait(deadline) => {
                    if turn == Turn::Send {
                        if let Some(answer) = goal(&self.session) {
                            return (Poll::Ready(Outcome::Goal(answer)), wrote);
                        }
                    }
                    if !self.poll_timer(cx, deadline) {
                        return (Poll::Pending, wrote);
                    }
                    now = self.now();
                }
            }
        }
    }

    /// Reports a read to the session: `received` (`Session::received` or
    /// `Session::received_owned`) with the count at the time it came, the end of the stream,
    /// the transport failing, or not ready.
    fn read_done(
        &mut self,
        read: Poll<io::Result<usize>>,
        received: fn(&mut Session, Instant, usize),
        now: &mut Instant,
    ) {
        match read {
            Poll::Ready(Ok(n)) => {
                *now = self.now();
                received(&mut self.session, *now, n);
            }
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            // TLS ended without close_notify: the end of the stream to the session, clean
            // after the closing handshake, 1006 before it (see crate::tls).
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                *now = self.now();
                self.session.received(*now, 0);
            }
            Poll::Ready(Err(e)) => self.broken(e),
            Poll::Pending => self.blocked(Io::Read),
        }
    }

    /// A direction is not ready: the transport holds the waker.
    fn blocked(&mut self, io: Io) {
        self.session.blocked(io);
    }

    /// The transport failed: the session ends.
    fn broken(&mut self, e: io::Error) {
        self.session.transport_error(Error::Io(e));
    }

    /// Arms the timer for `deadline`; true if it has passed (the next step fires it).
    fn poll_timer(&mut self, cx: &mut Context<'_>, deadline: Option<Instant>) -> bool {
        let Some(deadline) = deadline else {
            self.armed = None;
            return false;
        };
        let now = self.now();
        if deadline <= now {
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
        let fired = self
            .timer
            .as_mut()
            .is_some_and(|t| t.as_mut().poll(cx).is_ready());
        if fired {
            self.armed = None;
            self.fired = self.fired.max(deadline);
        }
        fired
    }
}

struct Inner<T: PollIo> {
    state: Mutex<SessionIo<T>>,
    wakers: Arc<Wakers>,
    fanout: Waker,
    protocol: Option<String>,
    request: Option<Request>,
    url: Option<String>,
    peer_addr: Option<SocketAddr>,
}

impl<T: PollIo> Inner<T> {
    fn lock(&self) -> MutexGuard<'_, SessionIo<T>> {
        lock(&self.state)
    }

    /// Runs a turn for `side` with its waker recorded for the other half (see
    /// `turn_locked`); wakes the other half when the connection moved. The transport and the
    /// timer are given the caller's waker when its task is the only one waiting on the
    /// connection, else the fan-out waker: a transport keeps one waker per direction, and a
    /// task must not take over one the other half waits on.
    fn turn(&self, cx: &mut Context<'_>, side: Side, turn: Turn, goal: Goal) -> Poll<Outcome> {
        self.turn_locked(self.lock(), cx, side, turn, goal)
    }

    /// [`turn`](Self::turn) with the session already locked.
    fn turn_locked(
        &self,
        mut s: MutexGuard<'_, SessionIo<T>>,
        cx: &mut Context<'_>,
        side: Side,
        turn: Turn,
        goal: Goal,
    ) -> Poll<Outcome> {
        // Being polled, this side waits for nothing until this poll says so.
        set(&mut s.parked, side, false);
        // With the other side not waiting, the turn is alone and its waker is recorded only
        // if it ends up waiting: nothing outside the session's lock reads it before then (the
        // transport and the timer hold the waker itself). Otherwise it is recorded first,
        // since the fan-out the transport may fire during the turn reads it.
        let other_waits = get(&s.parked, side.other());
        if other_waits && turn == Turn::Send && s.session.has_receiver() {
            if let Some(answer) = goal(&s.session) {
                // Already there (a send with room in the queue): no waker to record. (A turn
                // alone checks its goal first too, before any I/O.)
                return Poll::Ready(Outcome::Goal(answer));
            }
        }
        let alone = !other_waits || self.wakers.register(side, cx.waker());
        let before = s.session.watch();
        let (poll, wrote) = if alone {
            s.poll_turn(cx, turn, goal)
        } else {
            s.poll_turn(&mut Context::from_waker(&self.fanout), turn, goal)
        };
        if poll.is_pending() {
            if !other_waits {
                self.wakers.park(side, cx.waker());
            }
            set(&mut s.parked, side, true);
        }
        let changed = s.session.watch() != before;
        drop(s);
        // Wake the other half only if it waits, and only for what it waits on: a writer for
        // bytes written out or a change of state; a reader for a change of state or something
        // held for it. Pure writes do not concern a reader (its own transport interest wakes
        // it for I/O).
        match side {
            Side::Read if other_waits && (wrote || changed) => self.wakers.wake_side(Side::Write),
            Side::Write if other_waits && changed => self.wakers.wake_side(Side::Read),
            _ => {}
        }
        poll
    }

    /// An application command: runs `f` on the session and wakes both halves.
    fn command<R>(&self, f: impl FnOnce(&mut Session, Instant) -> R) -> R {
        let r = {
            let mut s = self.lock();
            let now = s.now();
            f(&mut s.session, now)
        };
        Wake::wake_by_ref(&self.wakers);
        r
    }

    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        match self.turn(cx, Side::Read, Turn::Receive, nothing) {
            Poll::Ready(Outcome::Message(m)) => Poll::Ready(Some(Ok(m))),
            Poll::Ready(Outcome::Failed(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Outcome::End | Outcome::Goal(_)) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Waits until a data message can be queued (or it never can).
    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.send_turn(cx, sendable)
    }

    /// Queues a message. Wakes no one: the sender itself writes it out in `poll_flush`.
    fn start_send(&self, message: &Message, options: SendOptions) -> Result<(), Error> {
        Self::queue(&mut self.lock(), message, options)
    }

    fn queue(s: &mut SessionIo<T>, message: &Message, options: SendOptions) -> Result<(), Error> {
        // Time only matters to a Close (its timeout); sending data does not look at it.
        let now = if message.is_close() { s.now() } else { s.last };
        s.session.send_with(now, message, options)
    }

    /// `poll_ready`, `start_send` and `poll_flush` in one: queues `message` (taking it) once
    /// there is room, then writes it out. With room in the queue (the common case) the
    /// message is queued and written under one lock.
    fn poll_send(
        &self,
        cx: &mut Context<'_>,
        message: &mut Option<Message>,
        options: SendOptions,
    ) -> Poll<Result<(), Error>> {
        let mut s = self.lock();
        if let Some(m) = message.as_ref() {
            // `turn_locked`'s own shortcut for `sendable`, kept under this lock; otherwise a
            // send turn until there is room (or never will be).
            if !(s.session.has_receiver() && s.session.can_send()) {
                drop(s);
                match self.send_turn(cx, sendable) {
                    Poll::Ready(Ok(())) => {}
                    other => return other,
                }
                s = self.lock();
            }
            Self::queue(&mut s, m, options)?;
            *message = None;
        }
        self.send_turn_locked(s, cx, flushed)
    }

    /// Waits until everything queued is written.
    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.send_turn(cx, flushed)
    }

    /// A send turn (the writer's side) until `goal` is reached.
    fn send_turn(&self, cx: &mut Context<'_>, goal: Goal) -> Poll<Result<(), Error>> {
        self.send_turn_locked(self.lock(), cx, goal)
    }

    /// [`send_turn`](Self::send_turn) with the session already locked.
    fn send_turn_locked(
        &self,
        s: MutexGuard<'_, SessionIo<T>>,
        cx: &mut Context<'_>,
        goal: Goal,
    ) -> Poll<Result<(), Error>> {
        match self.turn_locked(s, cx, Side::Write, Turn::Send, goal) {
            Poll::Ready(Outcome::Goal(answer)) => Poll::Ready(answer),
            // Send turns deliver nothing: their end is a `Goal` too.
            Poll::Ready(_) => Poll::Ready(Err(closed())),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Sends Close(1000) unless closing already, and writes it out. The command (which wakes
    /// both halves) runs only while the connection is open: repeated polls while the write is
    /// pending would otherwise wake this very task each time and spin.
    fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.lock().session.state() == State::Open {
            self.command(|s, now| s.close(now, CloseCode::NORMAL, ""))?;
        }
        match self.poll_flush(cx) {
            Poll::Ready(Err(_)) => Poll::Ready(Ok(())),
            other => other,
        }
    }

    /// Moves the connection without taking anything for the receiver (a send turn that waits
    /// for nothing): writes what is queued, reads what the transport has (pings get their
    /// pongs; a data message is held for the receiver), runs the timers, until everything
    /// is blocked. The writer's waker stays registered for the next change.
    fn poll_drive(&self, cx: &mut Context<'_>) {
        let _ = self.send_turn(cx, nothing);
    }

    /// Waits until the closing handshake is over (send turns: messages stay for the reader).
    fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.send_turn(cx, over).map(|_| ())
    }
}

// ---------------------------------------------------------------------------------------------
// Public types.

/// A WebSocket over a poll-based stream: a [`Stream`] of received messages and a [`Sink`] of
/// messages to send. See the [module docs](self) and [`crate::session`] for what it runs.
///
/// The stream yields every message (pings and pongs included; with auto-pong on, the pong is
/// already queued), then the peer's [`Message::Close`], then ends once the transport is closed.
/// A failed connection yields one error (after our Close frame went out) and then ends.
///
/// What to keep polling: the connection moves while any of its halves is polled. Read it
/// (`next`/`recv`) to receive; a task that only sends still answers pings and runs the timers
/// while it waits in `send`, but between sends nothing runs unless someone reads, so a
/// send-only application should keep a task reading (and dropping) messages, or drop the
/// [`ReadHalf`] (then sends alone keep the connection moving and incoming data is discarded).
pub struct WebSocket<T: PollIo> {
    inner: Arc<Inner<T>>,
}

/// The receiving half of a [`WebSocket`]: a [`Stream`] of messages. Its polls also write the
/// pongs and close replies the connection owes and run the timers. Dropping it discards
/// incoming data from then on.
pub struct ReadHalf<T: PollIo> {
    inner: Arc<Inner<T>>,
}

/// The sending half of a [`WebSocket`]: a [`Sink`] of messages.
pub struct WriteHalf<T: PollIo> {
    inner: Arc<Inner<T>>,
}

/// A locked view of the stream under a [`WebSocket`] (see [`WebSocket::get_ref`]). Holding it
/// blocks the connection's other tasks: drop it soon.
pub struct StreamRef<'a, T: PollIo> {
    guard: MutexGuard<'a, SessionIo<T>>,
}

impl<T: PollIo> Deref for StreamRef<'_, T> {
    type Target = T::Stream;
    fn deref(&self) -> &T::Stream {
        self.guard.io.stream()
    }
}

impl<T: PollIo> core::fmt::Debug for WebSocket<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WebSocket")
            .field("protocol", &self.inner.protocol)
            .field("peer_addr", &self.inner.peer_addr)
            .finish_non_exhaustive()
    }
}

impl<T: PollIo> core::fmt::Debug for ReadHalf<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<T: PollIo> core::fmt::Debug for WriteHalf<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

/// Where a WebSocket came from, for its getters.
#[derive(Debug, Default)]
pub(crate) struct Origin {
    pub(crate) request: Option<Request>,
    pub(crate) url: Option<String>,
    pub(crate) peer_addr: Option<SocketAddr>,
}

impl<T: PollIo> WebSocket<T> {
    /// Runs a session over a stream (after a handshake done elsewhere, e.g.
    /// [`session::accept_parsed`](crate::session::accept_parsed), or a raw
    /// [`Session::new`]). Whatever the session already queued (e.g. a 101 response) is
    /// written first.
    pub fn from_session(io: T, session: Session) -> Self {
        Self::with_origin(io, session, T::clock(), Origin::default())
    }

    /// Runs a server session over a stream another HTTP server upgraded after answering
    /// `request` (hyper, axum: [`session::negotiate`](crate::session::negotiate)). The
    /// WebSocket reports the request ([`request`](Self::request)) and its peer address.
    pub fn from_accepted(io: T, session: Session, request: Request) -> Self {
        let origin = Origin {
            peer_addr: request.peer_addr(),
            request: Some(request),
            url: None,
        };
        Self::with_origin(io, session, T::clock(), origin)
    }

    pub(crate) fn with_origin(
        io: T,
        mut session: Session,
        epoch: T::Clock,
        origin: Origin,
    ) -> Self {
        session.set_write_through(io.writes_through());
        session.set_owned_reads(io.reads_owned());
        session.set_deferred_checks(true);
        let wakers = Arc::new(Wakers::default());
        let fanout = Waker::from(wakers.clone());
        let protocol = session.protocol().map(String::from);
        let state = SessionIo {
            io,
            session,
            epoch,
            timer: None,
            armed: None,
            fired: Instant::ZERO,
            last: Instant::ZERO,
            parked: [false; 2],
        };
        WebSocket {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                wakers,
                fanout,
                protocol,
                request: origin.request,
                url: origin.url,
                peer_addr: origin.peer_addr,
            }),
        }
    }

    /// See `Inner::poll_drive`: used by writers that want pings answered between writes
    /// ([`ByteStream`](super::byte_stream::ByteStream)).
    pub(crate) fn poll_drive(&self, cx: &mut Context<'_>) {
        self.inner.poll_drive(cx);
    }

    #[cfg(feature = "tokio")]
    pub(crate) fn with_peer_addr(mut self, addr: Option<SocketAddr>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.peer_addr = addr;
            lock(&inner.state).session.set_peer_addr(addr);
        }
        self
    }

    /// The negotiated subprotocol (never re-typed by the user: it comes from the handshake).
    pub fn protocol(&self) -> Option<&str> {
        self.inner.protocol.as_deref()
    }

    /// The agreed permessage-deflate parameters, if it was negotiated.
    pub fn deflate(&self) -> Option<crate::deflate::Agreed> {
        self.inner.lock().session.deflate()
    }

    /// The protocol version of the opening handshake (13, or 8).
    pub fn version(&self) -> crate::handshake::Version {
        self.inner.lock().session.version()
    }

    /// The names of the negotiated extensions.
    pub fn extensions(&self) -> alloc::vec::Vec<String> {
        self.inner
            .lock()
            .session
            .extensions()
            .map(String::from)
            .collect()
    }

    /// Server: the upgrade request this connection answered (ws `upgradeReq`).
    pub fn request(&self) -> Option<&Request> {
        self.inner.request.as_ref()
    }

    /// Client: the URL connected to (after redirects).
    pub fn url(&self) -> Option<&str> {
        self.inner.url.as_deref()
    }

    /// The peer's address, when the adapter knew it (TCP `connect`, or
    /// [`AcceptOptions::peer_addr`]).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner.peer_addr
    }

    /// The stream underneath, locked (see [`StreamRef`]): `ws.get_ref().local_addr()`.
    pub fn get_ref(&self) -> StreamRef<'_, T> {
        StreamRef {
            guard: self.inner.lock(),
        }
    }

    /// Where the closing handshake stands.
    pub fn state(&self) -> State {
        self.inner.lock().session.state()
    }

    /// Bytes queued and not yet written (ws `bufferedAmount`).
    pub fn buffered_amount(&self) -> usize {
        self.inner.lock().session.buffered_amount()
    }

    /// Bytes read from the transport since the handshake.
    pub fn bytes_received(&self) -> u64 {
        self.inner.lock().session.bytes_received()
    }

    /// Bytes written to the transport since the handshake.
    pub fn bytes_sent(&self) -> u64 {
        self.inner.lock().session.bytes_sent()
    }

    /// Stops reading (ws `pause()`): no messages are delivered and the peer meets TCP
    /// backpressure until [`resume`](WebSocket::resume).
    pub fn pause(&self) {
        self.inner.command(|s, _| s.pause());
    }

    /// Reads again (ws `resume()`).
    pub fn resume(&self) {
        self.inner.command(|s, _| s.resume());
    }

    /// Ends the connection now (ws `terminate`, WebSocket-Node `drop`): Close(code, reason)
    /// unless `skip_close_frame`, then the transport is closed; no closing handshake is waited
    /// for. Not an error: the stream just ends.
    pub fn terminate(&self, code: CloseCode, reason: &str, skip_close_frame: bool) {
        self.inner
            .command(|s, _| s.terminate(code, reason, skip_close_frame));
    }

    /// The next message; `None` once the connection is closed and the transport shut down.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        core::future::poll_fn(|cx| self.inner.poll_next(cx)).await
    }

    /// Sends a message: waits while the send queue is over its cap, queues it, writes it out.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        send(&self.inner, message, SendOptions::new()).await
    }

    /// [`send`](WebSocket::send) with options (compress this message or not). Fragments are
    /// sent as [`Message::Fragment`].
    pub async fn send_with(&mut self, message: Message, options: SendOptions) -> Result<(), Error> {
        send(&self.inner, message, options).await
    }

    /// Sends a message encoded once for many connections (see [`PreparedFrame`]): a server
    /// writes the shared bytes without a copy.
    pub async fn send_prepared(&mut self, frame: &PreparedFrame) -> Result<(), Error> {
        send_prepared(&self.inner, frame).await
    }

    /// Closes: sends Close(code, reason), then keeps reading (discarding data) until the
    /// peer's Close arrives and the transport is closed, or the close timeout runs out
    /// ([`Config::close_timeout`](crate::Config::close_timeout)): it never hangs. `Ok` after a
    /// clean closing handshake. If the closing handshake had already started, only waits.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.inner.command(|s, now| s.close(now, code, reason))?;
        let mut result = Ok(());
        while let Some(item) = self.recv().await {
            if let Err(e) = item {
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        result
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
        if !Arc::ptr_eq(&read.inner, &write.inner) {
            return Err((read, write));
        }
        let inner = read.inner.clone();
        drop(read);
        drop(write);
        inner.lock().session.receiver_back();
        Ok(WebSocket { inner })
    }
}

async fn send<T: PollIo>(
    inner: &Inner<T>,
    message: Message,
    options: SendOptions,
) -> Result<(), Error> {
    let mut message = Some(message);
    core::future::poll_fn(|cx| inner.poll_send(cx, &mut message, options)).await
}

async fn send_prepared<T: PollIo>(inner: &Inner<T>, frame: &PreparedFrame) -> Result<(), Error> {
    feed_prepared(inner, frame).await?;
    core::future::poll_fn(|cx| inner.poll_flush(cx)).await
}

/// Waits for room and queues, without flushing.
async fn feed_prepared<T: PollIo>(inner: &Inner<T>, frame: &PreparedFrame) -> Result<(), Error> {
    core::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
    inner.lock().session.send_prepared(frame)
}

impl<T: PollIo> ReadHalf<T> {
    /// The next message; `None` once the connection is closed and the transport shut down.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        core::future::poll_fn(|cx| self.inner.poll_next(cx)).await
    }

    /// The negotiated subprotocol.
    pub fn protocol(&self) -> Option<&str> {
        self.inner.protocol.as_deref()
    }

    /// Stops reading (see [`WebSocket::pause`]).
    pub fn pause(&self) {
        self.inner.command(|s, _| s.pause());
    }

    /// Reads again.
    pub fn resume(&self) {
        self.inner.command(|s, _| s.resume());
    }
}

impl<T: PollIo> Drop for ReadHalf<T> {
    fn drop(&mut self) {
        self.inner.command(|s, _| s.receiver_gone());
    }
}

impl<T: PollIo> WriteHalf<T> {
    /// Sends a message: waits while the send queue is over its cap, queues it, writes it out.
    /// While it waits, the connection keeps answering pings and running its timers.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        send(&self.inner, message, SendOptions::new()).await
    }

    /// [`send`](WriteHalf::send) with options.
    pub async fn send_with(&mut self, message: Message, options: SendOptions) -> Result<(), Error> {
        send(&self.inner, message, options).await
    }

    /// Sends a message encoded once for many connections (see [`PreparedFrame`]).
    pub async fn send_prepared(&mut self, frame: &PreparedFrame) -> Result<(), Error> {
        send_prepared(&self.inner, frame).await
    }

    /// Queues a message without writing it out yet (waits only for room in the send
    /// queue): several queued messages then go out in as few writes as the transport allows
    /// at the next [`flush`](WriteHalf::flush) (or send).
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        core::future::poll_fn(|cx| self.inner.poll_ready(cx)).await?;
        self.inner.start_send(&message, SendOptions::new())
    }

    /// [`feed`](WriteHalf::feed) for a message encoded once for many connections.
    pub async fn feed_prepared(&mut self, frame: &PreparedFrame) -> Result<(), Error> {
        feed_prepared(&self.inner, frame).await
    }

    /// Writes out everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        core::future::poll_fn(|cx| self.inner.poll_flush(cx)).await
    }

    /// Sends Close(code, reason) and waits until the closing handshake is over (the
    /// [`ReadHalf`], if it still exists, receives the peer's Close and then ends). Bounded by
    /// the close timeout.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.inner.command(|s, now| s.close(now, code, reason))?;
        core::future::poll_fn(|cx| self.inner.poll_closed(cx)).await;
        Ok(())
    }

    /// Ends the connection now (see [`WebSocket::terminate`]).
    pub fn terminate(&self, code: CloseCode, reason: &str, skip_close_frame: bool) {
        self.inner
            .command(|s, _| s.terminate(code, reason, skip_close_frame));
    }

    /// Bytes queued and not yet written.
    pub fn buffered_amount(&self) -> usize {
        self.inner.lock().session.buffered_amount()
    }
}

impl<T: PollIo> Stream for WebSocket<T> {
    type Item = Result<Message, Error>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next(cx)
    }
}

impl<T: PollIo> Stream for ReadHalf<T> {
    type Item = Result<Message, Error>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next(cx)
    }
}

macro_rules! impl_sink {
    ($ty:ident) => {
        impl<T: PollIo> Sink<Message> for $ty<T> {
            type Error = Error;
            fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                self.inner.poll_ready(cx)
            }
            fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
                self.inner.start_send(&item, SendOptions::new())
            }
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                self.inner.poll_flush(cx)
            }
            /// Sends Close(1000) if the closing handshake has not started, and writes it out.
            /// The rest of the handshake happens as the stream is read; use `close` to wait
            /// for it.
            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                self.inner.poll_close(cx)
            }
        }
    };
}

impl_sink!(WebSocket);
impl_sink!(WriteHalf);

// ---------------------------------------------------------------------------------------------
// The opening handshakes over any PollIo.

/// Runs `fut` unless `deadline` passes first (`None`: the deadline passed).
async fn until<T: PollIo, F: Future>(
    epoch: T::Clock,
    deadline: Option<Instant>,
    fut: F,
) -> Option<F::Output> {
    let mut fut = core::pin::pin!(fut);
    let Some(deadline) = deadline else {
        return Some(fut.await);
    };
    let now = Instant::from_duration(T::elapsed(epoch));
    let mut sleep = core::pin::pin!(T::sleep(deadline.saturating_duration_since(now)));
    core::future::poll_fn(|cx| {
        if let Poll::Ready(r) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(r));
        }
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

async fn write_some<T: PollIo>(io: &mut T, buf: &[u8]) -> io::Result<usize> {
    loop {
        match core::future::poll_fn(|cx| io.poll_write(cx, buf)).await {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

async fn read_some<T: PollIo>(io: &mut T, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match core::future::poll_fn(|cx| io.poll_read(cx, buf)).await {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Opens the proxy tunnel of `target` over a freshly connected transport (the adapters'
/// connectors run this before TLS); nothing to do without a proxy.
pub(crate) async fn open_tunnel<T: PollIo>(io: &mut T, target: &Target) -> Result<(), Error> {
    let Some(mut tunnel) = target.tunnel() else {
        return Ok(());
    };
    while !tunnel.poll_transmit().is_empty() {
        let n = write_some(io, tunnel.poll_transmit()).await?;
        tunnel.advance_transmit(n);
    }
    core::future::poll_fn(|cx| io.poll_flush(cx)).await?;
    let mut buf = [0u8; 512];
    loop {
        let n = read_some(io, &mut buf).await?;
        if tunnel
            .receive(buf.get(..n).unwrap_or_default())?
            .is_complete()
        {
            return Ok(());
        }
    }
}

/// The clock at `epoch`, as the session's time.
fn since<T: PollIo>(epoch: T::Clock) -> Instant {
    Instant::from_duration(T::elapsed(epoch))
}

/// Server: carries out an [`Accepting`] over `io`.
pub async fn accept_with<T: PollIo, C: Callback>(
    mut io: T,
    options: impl Into<AcceptOptions>,
    callback: C,
) -> Result<WebSocket<T>, Error> {
    let options = options.into();
    let peer_addr = options.get_peer_addr();
    let epoch = T::clock();
    // Boxed: the handshake state is large and short-lived; inline, it would stay in the
    // task's future (and so in every idle connection) for the connection's whole life.
    let mut accepting = Box::new(Accepting::new(since::<T>(epoch), options));
    let mut callback = Some(callback);
    loop {
        let deadline = accepting.deadline();
        match accepting.step(since::<T>(epoch)) {
            AcceptStep::Read(buf) => {
                if let Some(n) = until::<T, _>(epoch, deadline, read_some(&mut io, buf)).await {
                    accepting.received(since::<T>(epoch), n?);
                }
            }
            AcceptStep::Decide(request) => {
                let decision = match callback.take() {
                    Some(callback) => callback.on_request(request),
                    None => Decision::Now(Err(crate::handshake::Reject::new(500))),
                };
                let decided = match decision {
                    Decision::Now(result) => Some(result),
                    Decision::Later(fut) => until::<T, _>(epoch, deadline, fut).await,
                };
                if let Some(result) = decided {
                    accepting.decide(since::<T>(epoch), result);
                }
            }
            AcceptStep::Write(buf) => {
                if let Some(n) = until::<T, _>(epoch, deadline, write_some(&mut io, buf)).await {
                    accepting.wrote(n?);
                }
            }
            AcceptStep::Flush => {
                let flush = core::future::poll_fn(|cx| io.poll_flush(cx));
                if let Some(r) = until::<T, _>(epoch, deadline, flush).await {
                    r?;
                    accepting.flushed();
                }
            }
            AcceptStep::Shutdown => {
                let shutdown = core::future::poll_fn(|cx| io.poll_shutdown(cx));
                let _ = until::<T, _>(epoch, deadline, shutdown).await;
                accepting.shut_down();
            }
            AcceptStep::Accepted => break,
            AcceptStep::Failed(e) => return Err(e),
        }
    }
    let (session, request) = (*accepting).into_session()?;
    let origin = Origin {
        request: Some(request),
        url: None,
        peer_addr,
    };
    Ok(WebSocket::with_origin(io, session, epoch, origin))
}

/// Client: carries out a [`Dialing`], opening each transport with `connect` (the first URL
/// and every redirect followed).
pub async fn connect_via<T, C, Fut>(
    url: &str,
    options: impl Into<ConnectOptions>,
    mut connect: C,
) -> Result<(WebSocket<T>, Response), Error>
where
    T: PollIo,
    C: FnMut(Target) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let epoch = T::clock();
    let dialing = Box::new(Dialing::new(url, options)?);
    dial(epoch, dialing, None, &mut connect).await
}

/// Client over a transport that is already open (TLS included): one attempt, no redirects.
pub async fn connect_with<T: PollIo>(
    io: T,
    url: &str,
    options: impl Into<ConnectOptions>,
) -> Result<(WebSocket<T>, Response), Error> {
    let epoch = T::clock();
    let dialing = Box::new(Dialing::over_transport(since::<T>(epoch), url, options)?);
    let mut no_connect =
        |_: Target| async { Err::<T, Error>(Error::Misuse(crate::session::Misuse::HandshakeOver)) };
    dial(epoch, dialing, Some(io), &mut no_connect).await
}

async fn dial<T, C, Fut>(
    epoch: T::Clock,
    mut dialing: Box<Dialing>,
    mut io: Option<T>,
    connect: &mut C,
) -> Result<(WebSocket<T>, Response), Error>
where
    T: PollIo,
    C: FnMut(Target) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    loop {
        let deadline = dialing.deadline();
        let step = dialing.step(since::<T>(epoch));
        if let DialStep::Connect(target) = step {
            io = None;
            let opened = until::<T, _>(epoch, deadline, connect(target.clone())).await;
            if let Some(opened) = opened {
                io = Some(opened?);
                dialing.connected(since::<T>(epoch));
            }
            continue;
        }
        let Some(stream) = io.as_mut() else {
            return Err(Error::Misuse(crate::session::Misuse::HandshakeOver));
        };
        match step {
            DialStep::Write(buf) => {
                if let Some(n) = until::<T, _>(epoch, deadline, write_some(stream, buf)).await {
                    dialing.wrote(n?);
                }
            }
            DialStep::Flush => {
                let flush = core::future::poll_fn(|cx| stream.poll_flush(cx));
                if let Some(r) = until::<T, _>(epoch, deadline, flush).await {
                    r?;
                    dialing.flushed();
                }
            }
            DialStep::Read(buf) => {
                if let Some(n) = until::<T, _>(epoch, deadline, read_some(stream, buf)).await {
                    dialing.received(since::<T>(epoch), n?);
                }
            }
            DialStep::Connected => break,
            DialStep::Failed(e) => return Err(e),
            DialStep::Connect(_) => {}
        }
    }
    let url = String::from(dialing.url());
    let (session, response) = (*dialing).into_session(since::<T>(epoch))?;
    let io = io.ok_or(Error::Misuse(crate::session::Misuse::HandshakeOver))?;
    let origin = Origin {
        request: None,
        url: Some(url),
        peer_addr: None,
    };
    Ok((WebSocket::with_origin(io, session, epoch, origin), response))
}

/// Server, for a request already read and parsed elsewhere (ws `handleUpgrade`): the 101 is
/// written first, then the WebSocket runs.
pub fn accept_parsed<T: PollIo>(
    io: T,
    request: &Request,
    accept: crate::handshake::Accept,
    config: crate::Config,
) -> Result<WebSocket<T>, Error> {
    let session = crate::session::accept_parsed(request, accept, config)?;
    Ok(WebSocket::from_accepted(io, session, request.clone()))
}
