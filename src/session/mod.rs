//! The session: one WebSocket connection as an application uses it, with no I/O and no runtime
//! (no_std + alloc).
//!
//! A [`Session`] owns a [`Connection`] and everything an adapter has to remember around it:
//! owned-message assembly, the error held until our Close frame is out, the shutdown of the
//! transport, the closing wait, read gating (backpressure, `pause`, a message no one has taken
//! yet), the deadlines and the byte counters. It never reads, writes or sleeps: it tells its
//! *executor* what to do next, one [`Step`] at a time. [`Dialing`] (client: URL → handshake →
//! redirects → deadline) and [`Accepting`] (server: request → the application's decision,
//! which may take time → 101 or rejection → deadline) are the opening handshakes in the same
//! style. The blocking, tokio and futures-io adapters in [`crate::io`] are such executors.
//!
//! # The executor contract
//!
//! An executor owns the transport and a clock. It repeats:
//!
//! 1. Call [`Session::step`] with the current time and who is asking ([`Turn`]).
//! 2. Carry out the step and report how it went:
//!
//! | step | do | then report |
//! |---|---|---|
//! | [`Step::Deliver`] | hand the message to the application | nothing |
//! | [`Step::Fail`] | hand the error to the application (once) | nothing |
//! | [`Step::Write`] | write (a prefix of) the bytes: the first run, or both runs in one vectored write | [`wrote(n)`](Session::wrote), or [`blocked(Io::Write)`](Session::blocked) |
//! | [`Step::Flush`] | flush the transport | [`flushed`](Session::flushed), or `blocked(Io::Write)` |
//! | [`Step::Shutdown`] | shut the write side down (FIN, TLS close_notify) | [`shut_down`](Session::shut_down), or `blocked(Io::Write)` |
//! | [`Step::Read`] | read into the buffer | [`received(now, n)`](Session::received) (0 = end of stream), or `blocked(Io::Read)` |
//! | [`Step::ReadOwned`] | append at most `max` bytes read to the `BytesMut` (only after [`set_owned_reads`](Session::set_owned_reads)) | [`received_owned(now, n)`](Session::received_owned) (0 = end of stream), or `blocked(Io::Read)` |
//! | [`Step::Wait`] | wait until the transport is ready for what was blocked, the deadline passes, or the application acts | call [`start_turn`](Session::start_turn), then step again |
//! | [`Step::End`] | end the message stream | nothing; every later step is `End` too |
//!
//! A transport error at any point is reported with [`transport_error`](Session::transport_error).
//! A non-blocking executor calls [`start_turn`](Session::start_turn) each time it is woken:
//! `blocked` marks a direction as not ready *for this turn*, so the session moves on to the
//! other direction and the timers instead of asking again. A blocking executor never reports
//! `blocked`; it reads with a timeout at the [`Step::Wait`]/[`Session::deadline`] instant.
//!
//! The session guarantees liveness: it only answers [`Step::Wait`] when everything it could do
//! is blocked on the transport, on the deadline it names, or on the application (a message
//! not taken yet, paused reading). After any progress (bytes written, bytes read, a timer) the
//! next `step` looks at everything again, so a connection that stalled under backpressure
//! resumes as soon as the transport takes bytes: pongs owed, input parsed, messages
//! delivered.
//!
//! ```
//! use wsproto::session::{Session, Step, Turn};
//! use wsproto::{Config, Connection, Instant, Role};
//! use wsproto::message::Message;
//!
//! // A server session whose peer sent a masked "Hello" (RFC 6455 §5.7).
//! let mut session = Session::new(Connection::new(Role::Server, Config::new()));
//! let mut wire = vec![0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
//! let now = Instant::ZERO;
//! let message = loop {
//!     match session.step(now, Turn::Receive) {
//!         Step::Read(buf) => {
//!             let n = wire.len().min(buf.len());
//!             buf[..n].copy_from_slice(&wire[..n]);
//!             wire.drain(..n);
//!             session.received(now, n);
//!         }
//!         Step::Deliver(m) => break m,
//!         other => panic!("{other:?}"),
//!     }
//! };
//! assert_eq!(message, Message::text("Hello"));
//! ```

use alloc::collections::VecDeque;
use alloc::string::String;
use bytes::BytesMut;
use core::fmt;
use core::net::SocketAddr;

use crate::handshake::{Request, Version};
use crate::message::{Message, MessageReader};
use crate::trace::{self, event};
use crate::{CloseCode, Connection, Instant, Role, SendError, SendOptions, State};

mod accept;
mod dial;
mod error;

pub use accept::{
    AcceptAll, AcceptOptions, AcceptStep, Accepting, Callback, Decision, PlainHandler,
    accept_parsed, negotiate,
};
pub use dial::{ConnectOptions, DialStep, Dialing, Target};
pub use error::{Error, Misuse};

/// Smallest and largest read a session asks for. An idle connection starts with the smallest,
/// so it holds no large read buffer; each read that fills the buffer doubles the next one.
const READ_MIN: usize = 256;
pub(crate) const READ_MAX: usize = 32 * 1024;
/// Control messages (pings, pongs) held for a receiver that is not polling; past this, the
/// oldest is dropped (its pong was already sent), so a send-only application still answers
/// pings and its memory stays bounded.
const MAX_HELD_CONTROL: usize = 16;

/// The earlier of two optional instants.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Who runs a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turn {
    /// The receiver (a `recv`, `Stream::poll_next`): messages and errors are delivered.
    Receive,
    /// A sender or `close` waiting on the transport: the connection is driven (pongs, timers,
    /// input), but messages and errors are held for the receiver.
    Send,
}

/// A transport direction that is not ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Io {
    /// Reading would block.
    Read,
    /// Writing, flushing or shutting down would block.
    Write,
}

/// What the executor does next (see the [module docs](self) for the contract).
#[must_use]
pub enum Step<'a> {
    /// A message for the application.
    Deliver(Message),
    /// The connection failed; our Close frame (if any) is out. Reported once.
    Fail(Error),
    /// Write these bytes, then [`Session::wrote`]: two runs, the second empty unless the
    /// first is followed by bytes kept elsewhere (a large payload queued by reference, a
    /// shared frame), for a vectored write. An executor may write the first run alone.
    Write([&'a [u8]; 2]),
    /// Flush the transport, then [`Session::flushed`].
    Flush,
    /// Shut the transport's write side down, then [`Session::shut_down`].
    Shutdown,
    /// Read into this buffer, then [`Session::received`].
    Read(&'a mut [u8]),
    /// Read at most this many bytes onto the end of this buffer (into its spare capacity:
    /// nothing to zero-fill), then [`Session::received_owned`]. The rest of a large binary
    /// message's payload, read straight into the memory the message will own. Only asked of
    /// an executor that called [`Session::set_owned_reads`].
    ReadOwned(&'a mut BytesMut, usize),
    /// Nothing to do until the blocked directions are ready, this instant (if any) passes, or
    /// the application acts.
    Wait(Option<Instant>),
    /// The stream of messages is over and the transport closed.
    End,
}

impl fmt::Debug for Step<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Deliver(m) => f.debug_tuple("Deliver").field(m).finish(),
            Step::Fail(e) => f.debug_tuple("Fail").field(e).finish(),
            Step::Write([a, b]) => write!(f, "Write({} + {} bytes)", a.len(), b.len()),
            Step::Flush => f.write_str("Flush"),
            Step::Shutdown => f.write_str("Shutdown"),
            Step::Read(b) => write!(f, "Read({} bytes)", b.len()),
            Step::ReadOwned(_, max) => write!(f, "ReadOwned(at most {max} bytes)"),
            Step::Wait(d) => f.debug_tuple("Wait").field(d).finish(),
            Step::End => f.write_str("End"),
        }
    }
}

/// What the halves of an executor wait on ([`Session::watch`]); compare two snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watch {
    state: State,
    changes: u32,
}

/// One WebSocket connection with everything an executor needs around it (see the
/// [module docs](self)).
///
/// Its methods come in the four groups of [`Connection`]: getters
/// ([`state`](Session::state), [`protocol`](Session::protocol),
/// [`bytes_received`](Session::bytes_received), …), input from the executor
/// ([`received`](Session::received), [`wrote`](Session::wrote), …), application commands
/// ([`send`](Session::send), [`close`](Session::close), [`terminate`](Session::terminate),
/// [`pause`](Session::pause), …), and the output, [`step`](Session::step).
pub struct Session {
    conn: Connection,
    reader: MessageReader,
    protocol: Option<String>,
    version: Version,
    /// Messages read while no receiver was polling (at most one data message).
    held: VecDeque<Message>,
    /// A failure held until our Close frame is out, then delivered once.
    failure: Option<Error>,
    /// A failure was recorded: later ones (a close timeout after an idle timeout, a transport
    /// error after a protocol error) are not reported again.
    failed: bool,
    /// Directions not ready in this turn.
    read_blocked: bool,
    write_blocked: bool,
    needs_flush: bool,
    /// The peer's side of the stream ended.
    eof: bool,
    /// Our write side is shut down.
    shut_down: bool,
    /// The transport failed: no more I/O.
    broken: bool,
    /// The message stream ended (`End` was returned).
    ended: bool,
    paused: bool,
    receiver_gone: bool,
    /// The application ended the connection on purpose (not an error).
    terminated: bool,
    /// The connection may have events to give: input, a timer or a command since
    /// `poll_event` last returned nothing (so an idle step does not parse again).
    parse_ready: bool,
    read_size: usize,
    /// When a connection that is over stops waiting for its last bytes to drain.
    drain_deadline: Option<Instant>,
    /// Counts changes a waiting half may care about (messages held or taken, failure, end,
    /// shutdown, end of input); see [`Session::watch`].
    changes: u32,
    write_through: bool,
    owned_reads: bool,
    bytes_received: u64,
    bytes_sent: u64,
    /// The peer's address, for log events only (see [`Session::set_peer_addr`]).
    #[cfg(feature = "tracing")]
    peer_addr: Option<SocketAddr>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("role", &self.conn.role())
            .field("state", &self.conn.state())
            .field("protocol", &self.protocol)
            .field("held", &self.held.len())
            .field("eof", &self.eof)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session over a connection whose opening handshake is done (whatever it already
    /// queued, e.g. a 101 response, is written first).
    pub fn new(mut conn: Connection) -> Self {
        // Its reader takes large binary messages as the memory they were assembled in.
        conn.set_owned_messages(true);
        Session {
            conn,
            reader: MessageReader::new(),
            protocol: None,
            version: Version::V13,
            held: VecDeque::new(),
            failure: None,
            failed: false,
            read_blocked: false,
            write_blocked: false,
            needs_flush: false,
            eof: false,
            shut_down: false,
            broken: false,
            ended: false,
            paused: false,
            receiver_gone: false,
            terminated: false,
            parse_ready: true,
            read_size: READ_MIN,
            drain_deadline: None,
            changes: 0,
            write_through: false,
            owned_reads: false,
            bytes_received: 0,
            bytes_sent: 0,
            #[cfg(feature = "tracing")]
            peer_addr: None,
        }
    }

    /// The same, recording the subprotocol the handshake selected.
    pub fn with_protocol(conn: Connection, protocol: Option<String>) -> Self {
        let mut session = Session::new(conn);
        session.protocol = protocol;
        session
    }

    /// A server session for an accepted request: its subprotocol and protocol version.
    fn accepted(conn: Connection, protocol: Option<String>, request: &Request) -> Self {
        let mut session = Session::with_protocol(conn, protocol);
        session.set_version(request.version());
        session.set_peer_addr(request.peer_addr());
        session
    }

    // ---- (A) getters ----

    /// Our role.
    pub fn role(&self) -> Role {
        self.conn.role()
    }

    /// Where the closing handshake stands.
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// The subprotocol the opening handshake selected.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The protocol version of the opening handshake (13, or 8 for old clients).
    pub fn version(&self) -> Version {
        self.version
    }

    /// Records the protocol version the handshake used (the handshakes of this module do).
    pub fn set_version(&mut self, version: Version) {
        self.version = version;
    }

    /// Records the peer's address for the log events of the `tracing` feature (the server
    /// handshakes of this module and the adapters' TCP `connect` do). Without that feature
    /// nothing is kept.
    pub fn set_peer_addr(&mut self, addr: Option<SocketAddr>) {
        #[cfg(feature = "tracing")]
        {
            self.peer_addr = addr;
        }
        let _ = addr;
    }

    /// The address given to [`set_peer_addr`](Session::set_peer_addr), for log events.
    fn peer_addr(&self) -> Option<SocketAddr> {
        #[cfg(feature = "tracing")]
        return self.peer_addr;
        #[cfg(not(feature = "tracing"))]
        None
    }

    /// The names of the negotiated extensions, in negotiation order.
    pub fn extensions(&self) -> impl Iterator<Item = &str> {
        self.conn.extensions().iter().map(|e| e.name())
    }

    /// The agreed permessage-deflate parameters (window bits, context takeover), if it was
    /// negotiated.
    pub fn deflate(&self) -> Option<crate::deflate::Agreed> {
        self.conn
            .extensions()
            .iter()
            .find_map(|e| e.permessage_deflate())
    }

    /// Bytes queued for the peer and not yet written (ws `bufferedAmount`).
    pub fn buffered_amount(&self) -> usize {
        self.conn.buffered_amount()
    }

    /// Bytes read from the transport so far (handshake excluded).
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// Bytes written to the transport by this session so far (a 101 response it was given
    /// to write counts; the handshake's own bytes do not).
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }

    /// Whether a data message would be accepted now (open, and the send queue empty or under
    /// its cap).
    pub fn can_send(&self) -> bool {
        !self.broken
            && self.conn.state() == State::Open
            && (self.conn.buffered_amount() == 0
                || self.conn.buffered_amount() < self.conn.config().get_max_send_queue())
    }

    /// Whether everything queued is written and flushed.
    pub fn is_flushed(&self) -> bool {
        self.broken || (self.conn.poll_transmit().is_empty() && !self.needs_flush)
    }

    /// Whether the connection is over: the transport is shut down or broken, or the stream
    /// ended.
    pub fn is_closed(&self) -> bool {
        self.ended || self.broken || self.shut_down || (self.eof && self.is_flushed())
    }

    /// Whether a message or an error waits for the receiver.
    pub fn has_delivery(&self) -> bool {
        !self.held.is_empty()
    }

    /// A snapshot of what the halves of an executor wait on (state, closed, something held
    /// for the receiver or taken by it): an executor wakes the other half when it changes
    /// over a turn.
    pub fn watch(&self) -> Watch {
        Watch {
            state: self.conn.state(),
            changes: self.changes,
        }
    }

    /// The transport does not buffer writes (a plain TCP socket): no [`Step::Flush`] is
    /// asked for.
    pub fn set_write_through(&mut self, on: bool) {
        self.write_through = on;
    }

    /// The executor can read into a `BytesMut`'s spare capacity ([`Step::ReadOwned`]): the rest
    /// of a large binary message is then read where the message keeps it, and handed over
    /// without a copy.
    pub fn set_owned_reads(&mut self, on: bool) {
        self.owned_reads = on;
    }

    /// Whether a receiver may still take messages (see [`receiver_gone`](Session::receiver_gone)).
    pub fn has_receiver(&self) -> bool {
        !self.receiver_gone
    }

    /// Whether reading is paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// The next deadline: the connection's timers, or the end of the wait for the last
    /// bytes of a connection that is over.
    #[inline]
    pub fn deadline(&self) -> Option<Instant> {
        earliest(self.conn.poll_timeout(), self.drain_deadline)
    }

    /// The connection underneath, read-only.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    // ---- (B) input from the executor ----

    /// A new turn of a non-blocking executor: forget which directions were blocked.
    pub fn start_turn(&mut self) {
        self.read_blocked = false;
        self.write_blocked = false;
    }

    /// `n` bytes of a [`Step::Write`] were written (0 is a transport error: `WriteZero`).
    pub fn wrote(&mut self, n: usize) {
        self.conn.advance_transmit(n);
        self.bytes_sent += n as u64;
        self.needs_flush = !self.write_through;
        if self.conn.has_unprocessed_input() {
            // Parsing may have stopped on the pongs we owed; they are going out now.
            self.parse_ready = true;
        }
    }

    /// Defer the fail-fast UTF-8 checks of partial text to the moments the executor reports
    /// [`blocked`](Self::blocked) on a read
    /// ([`Connection::set_deferred_checks`](crate::Connection::set_deferred_checks)), so text
    /// that keeps arriving is validated once. For executors that report every read that would
    /// block; a blocking executor leaves it off.
    pub fn set_deferred_checks(&mut self, on: bool) {
        self.conn.set_deferred_checks(on);
    }

    /// The transport was flushed.
    pub fn flushed(&mut self) {
        self.needs_flush = false;
    }

    /// The write side was shut down (or the attempt failed: either way, it is over).
    pub fn shut_down(&mut self) {
        self.shut_down = true;
        self.needs_flush = false;
        self.changes = self.changes.wrapping_add(1);
    }

    /// `n` bytes were read into the buffer of a [`Step::Read`]; 0 is the end of the stream.
    pub fn received(&mut self, now: Instant, n: usize) {
        self.parse_ready = true;
        if n == 0 {
            self.eof = true;
            self.changes = self.changes.wrapping_add(1);
            self.conn.receive_eof(now);
            return;
        }
        self.bytes_received += n as u64;
        if n >= self.read_size {
            self.read_size = (self.read_size * 2).min(READ_MAX);
        }
        self.conn.commit_recv(now, n);
    }

    /// `n` bytes were appended to the buffer of a [`Step::ReadOwned`]; 0 is the end of the
    /// stream.
    pub fn received_owned(&mut self, now: Instant, n: usize) {
        if n == 0 {
            self.received(now, 0);
            return;
        }
        self.parse_ready = true;
        self.bytes_received += n as u64;
        self.conn.commit_owned(now);
    }

    /// The direction is not ready in this turn (a non-blocking executor registered interest).
    pub fn blocked(&mut self, io: Io) {
        match io {
            Io::Read => {
                self.read_blocked = true;
                // About to wait for the peer: partial text gets its fail-fast check now.
                if self.conn.check_deferred() {
                    self.parse_ready = true;
                }
            }
            Io::Write => self.write_blocked = true,
        }
    }

    /// The transport failed: no more I/O; the error is delivered once (unless a connection
    /// error is already waiting), then the stream ends.
    pub fn transport_error(&mut self, error: Error) {
        if self.broken {
            return;
        }
        self.broken = true;
        self.changes = self.changes.wrapping_add(1);
        self.fail(error);
        self.conn.drop_connection(CloseCode::ABNORMAL, "", true);
    }

    // ---- (C) application commands ----

    /// Queues a message. [`SendError::Full`] means: let the executor write first (wait for
    /// [`can_send`](Session::can_send)).
    pub fn send(&mut self, now: Instant, message: &Message) -> Result<(), Error> {
        self.send_with(now, message, SendOptions::new())
    }

    /// Queues a message with options (compress or not).
    pub fn send_with(
        &mut self,
        now: Instant,
        message: &Message,
        options: SendOptions,
    ) -> Result<(), Error> {
        if self.broken {
            return Err(Error::Send(SendError::Closed));
        }
        message
            .queue_with(&mut self.conn, now, options)
            .map_err(Error::Send)
    }

    /// Queues a message encoded once for many connections ([`PreparedFrame`]): a server
    /// shares its bytes, without a copy.
    ///
    /// [`PreparedFrame`]: crate::frame::PreparedFrame
    pub fn send_prepared(&mut self, frame: &crate::frame::PreparedFrame) -> Result<(), Error> {
        if self.broken {
            return Err(Error::Send(SendError::Closed));
        }
        self.conn.send_prepared(frame).map_err(Error::Send)
    }

    /// Starts the closing handshake with this code and reason, unless it already started
    /// (then `Ok`: the caller waits for it to finish either way).
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), Error> {
        if self.broken || self.conn.state() != State::Open {
            return Ok(());
        }
        if code == CloseCode::NO_STATUS && reason.is_empty() {
            return Message::Close(None)
                .queue(&mut self.conn, now)
                .map_err(Error::Send);
        }
        self.conn.close(now, code, reason).map_err(Error::Send)
    }

    /// Ends the connection at once (ws `terminate`, WebSocket-Node `drop`): sends
    /// Close(code, reason) unless `skip_close_frame`, discards what was not delivered, and
    /// closes the transport once that frame is written. Not reported as an error.
    pub fn terminate(&mut self, code: CloseCode, reason: &str, skip_close_frame: bool) {
        event!(
            DEBUG,
            "connection terminated",
            role = trace::role(self.role()),
            peer = trace::peer(self.peer_addr()),
            close_code = code.as_u16(),
            reason = reason,
            close_frame_sent = !skip_close_frame,
        );
        self.terminated = true;
        self.parse_ready = true;
        self.held.clear();
        self.conn.drop_connection(code, reason, skip_close_frame);
    }

    /// Stops reading from the transport and delivering messages (ws `pause()`); the peer's
    /// data waits in the transport, which applies TCP backpressure to it.
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Reads and delivers again (ws `resume()`).
    pub fn resume(&mut self) {
        self.paused = false;
    }

    /// No receiver will ever poll again (a dropped read half): data messages are discarded
    /// instead of held, so a sender alone keeps the connection moving.
    pub fn receiver_gone(&mut self) {
        self.receiver_gone = true;
        self.held.clear();
    }

    /// A receiver polls again (halves reunited).
    pub fn receiver_back(&mut self) {
        self.receiver_gone = false;
    }

    // ---- (D) output ----

    /// What to do next (see the [module docs](self)). Due timers fire here.
    pub fn step(&mut self, now: Instant, turn: Turn) -> Step<'_> {
        // Every pass either returns or changes state that the next pass looks at, and each
        // such change (a timer fired, a message parsed) is bounded by the input held.
        // Timers first, once per call: a deadline that falls due later in this call comes
        // back with the `Wait` it leads to, and the executor calls again at once.
        if !self.ended && self.deadline().is_some_and(|d| d <= now) {
            self.conn.handle_timeout(now);
            if self.conn.buffer_capacity() == 0 {
                // The engine gave its buffers back after a quiet period: so does the reader
                // (its buffer is as large as the largest recent message).
                self.reader.release_memory();
            }
            self.parse_ready = true;
        }
        loop {
            if self.ended {
                return Step::End;
            }
            let receiving = turn == Turn::Receive && !self.receiver_gone;
            // 1. write what we owe first (pongs, close replies, messages), so a reply the
            // peer is owed never waits for the application to poll again
            if !self.broken && !self.write_blocked {
                if !self.conn.poll_transmit().is_empty() {
                    return Step::Write(self.conn.poll_transmit_vectored());
                }
                if self.needs_flush {
                    return Step::Flush;
                }
            }
            // 2. deliver what is held (in order: messages before the failure after them)
            if receiving && !self.paused {
                if let Some(message) = self.held.pop_front() {
                    // Taking a held data message or Close lets parsing go on (read gating):
                    // a writer waiting behind it must be woken to drive the connection.
                    self.changes = self.changes.wrapping_add(1);
                    return Step::Deliver(message);
                }
            }
            // 3. parse input into messages, unless someone has not taken the last one
            if self.parse_ready
                && self.failure.is_none()
                && !self.broken
                && !self.paused
                && self.can_parse()
            {
                match self.reader.next(&mut self.conn) {
                    Ok(Some(message)) => {
                        if let Message::Close(frame) = &message {
                            self.log_close(frame.as_ref());
                        }
                        let owes = !self.write_blocked && !self.conn.poll_transmit().is_empty();
                        if receiving && !owes {
                            return Step::Deliver(message);
                        }
                        // Held: a receiver gets it after the reply it caused is written.
                        self.hold(message);
                        continue;
                    }
                    Ok(None) => self.parse_ready = false,
                    Err(crate::Error::Dropped(_)) if self.terminated => continue,
                    Err(e) => {
                        self.fail(Error::Connection(e));
                        continue;
                    }
                }
            }
            let written = self.is_flushed();
            // A connection that is over (failed, closed, terminated) gives what it still owes
            // the peer the close timeout to drain; a peer that never reads cannot hold it.
            if !written && !self.broken && self.is_over() {
                match self.drain_deadline {
                    Some(limit) if now >= limit => {
                        self.give_up();
                        continue;
                    }
                    Some(_) => {}
                    None => {
                        let limit = now + self.conn.config().get_close_timeout();
                        self.drain_deadline = Some(limit);
                        continue;
                    }
                }
            }
            // 4. a held failure goes out once our Close is written (or cannot be); with no
            // receiver left there is no one to tell (a sender learns from its own calls)
            if self.receiver_gone {
                self.failure = None;
            }
            if let Some(failure) = &self.failure {
                if !written && !self.broken {
                    return Step::Wait(self.deadline());
                }
                let close_first = self.role() == Role::Server
                    && matches!(failure, Error::Connection(crate::Error::Protocol(_)));
                if close_first && !self.shut_down && !self.broken && !self.write_blocked {
                    // RFC 6455 §7.1.7: after a protocol error the server closes TCP first,
                    // so a misbehaving client cannot hold the connection until the timeout.
                    return Step::Shutdown;
                }
                if receiving && self.held.is_empty() {
                    if let Some(failure) = self.failure.take() {
                        if self.broken {
                            self.ended = true;
                            self.changes = self.changes.wrapping_add(1);
                        }
                        return Step::Fail(failure);
                    }
                }
            }
            if self.broken {
                if (receiving || self.receiver_gone)
                    && self.held.is_empty()
                    && self.failure.is_none()
                {
                    self.ended = true;
                    self.changes = self.changes.wrapping_add(1);
                    return Step::End;
                }
                return Step::Wait(None);
            }
            // 5. finish: the closing handshake is over and everything is written
            if self.conn.should_close_transport() && written {
                if !self.shut_down {
                    if self.write_blocked {
                        return Step::Wait(self.deadline());
                    }
                    return Step::Shutdown;
                }
                return self.end_if_drained(receiving);
            }
            // 6. read, while the connection wants input and nothing waits for a receiver
            if self.should_read() && !self.read_blocked {
                if self.owned_reads {
                    if let Some(max) = self.conn.owned_room() {
                        // The read after this message starts small again: if another large
                        // message follows, little of it is read into the input buffer before
                        // its header tells where the rest goes.
                        self.read_size = READ_MIN;
                        return Step::ReadOwned(self.conn.owned_buf(), max);
                    }
                }
                let size = self.read_size;
                return Step::Read(self.conn.recv_buf(size));
            }
            if self.eof && written && !self.conn.wants_read() {
                // Nothing more can arrive and nothing is owed.
                return self.end_if_drained(receiving);
            }
            return Step::Wait(self.deadline());
        }
    }

    /// Whether nothing but draining and closing is left.
    fn is_over(&self) -> bool {
        self.failure.is_some()
            || self.failed
            || self.terminated
            || self.conn.state() == State::Closed
    }

    /// The last bytes did not drain in time: stop writing, as if the transport broke (a held
    /// failure is still reported; no new one is added).
    fn give_up(&mut self) {
        event!(
            INFO,
            "timed out",
            role = trace::role(self.role()),
            peer = trace::peer(self.peer_addr()),
            timeout = "drain",
        );
        self.broken = true;
        self.changes = self.changes.wrapping_add(1);
        self.conn.drop_connection(CloseCode::ABNORMAL, "", true);
    }

    /// Records the connection's failure, the first one only.
    fn fail(&mut self, error: Error) {
        if !self.failed && !self.ended && !self.terminated {
            self.log_failure(&error);
            self.failed = true;
            self.failure = Some(error);
            self.changes = self.changes.wrapping_add(1);
        }
    }

    /// The log event of a failure: a protocol error or a timeout (with the close code we
    /// sent; 1006 when none was), or the transport failing.
    fn log_failure(&self, error: &Error) {
        let role = trace::role(self.role());
        let peer = trace::peer(self.peer_addr());
        match error {
            Error::Connection(crate::Error::Protocol(e)) => event!(
                INFO,
                "protocol error",
                role = role,
                peer = peer,
                close_code = e.close_code().as_u16(),
                error = %e,
            ),
            Error::Connection(e @ crate::Error::TimedOut(timeout)) => event!(
                INFO,
                "timed out",
                role = role,
                peer = peer,
                timeout = trace::timeout(*timeout),
                close_code = e.close_code().as_u16(),
            ),
            other => event!(
                DEBUG,
                "connection failed",
                role = role,
                peer = peer,
                error = %other,
            ),
        }
    }

    /// The log event of the peer's Close: the closing handshake is complete (ours went
    /// first, or our reply is queued), or the transport ended without one (1006).
    fn log_close(&self, frame: Option<&crate::CloseFrame>) {
        event!(
            DEBUG,
            "connection closed",
            role = trace::role(self.role()),
            peer = trace::peer(self.peer_addr()),
            close_code = frame.map_or(CloseCode::NO_STATUS, |f| f.code).as_u16(),
            reason = frame.map_or("", |f| f.reason.as_str()),
        );
    }

    /// `End` once the receiver has everything; otherwise wait for it to come.
    fn end_if_drained(&mut self, receiving: bool) -> Step<'_> {
        if (receiving || self.receiver_gone) && self.held.is_empty() && self.failure.is_none() {
            self.ended = true;
            self.changes = self.changes.wrapping_add(1);
            return Step::End;
        }
        Step::Wait(self.conn.poll_timeout())
    }

    /// Whether input may be turned into messages now: not while a data message waits for the
    /// receiver (read gating: the peer's data stays in the transport).
    fn can_parse(&self) -> bool {
        // A held data message or Close is always the last one held: parsing stops there.
        self.held
            .back()
            .is_none_or(|m| !m.is_data() && !m.is_close())
    }

    /// Whether to read from the transport now.
    fn should_read(&self) -> bool {
        if self.eof || self.paused || !self.can_parse() {
            return false;
        }
        self.conn.wants_read()
            || (self.conn.state() == State::Closed && !self.conn.should_close_transport())
    }

    /// Keeps a message parsed in a send turn for the receiver.
    fn hold(&mut self, message: Message) {
        if self.receiver_gone {
            return;
        }
        if !message.is_data() && !message.is_close() {
            let controls = self.held.iter().filter(|m| !m.is_data()).count();
            if controls >= MAX_HELD_CONTROL {
                if let Some(i) = self.held.iter().position(|m| !m.is_data()) {
                    self.held.remove(i);
                }
            }
        }
        self.held.push_back(message);
        self.changes = self.changes.wrapping_add(1);
    }
}
