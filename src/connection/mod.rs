//! The post-handshake state machine.
//!
//! The code is split by direction: `recv` parses frames lazily in `poll_event`, `send`
//! encodes commands into the outbound queue, `close` holds the closing handshake and failure
//! paths, `timer` the deadlines, and `buffer` the receive buffers events borrow from.
//! docs/design.md describes the state machine and the buffers.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};

use crate::extension::Extension;
use crate::frame::apply_mask;
use crate::utf8::Utf8Carry;
use crate::{CloseCode, Config, Error, Event, Instant, SendError};

mod buffer;
pub(crate) use buffer::pins_too_much;
mod close;
mod recv;
mod send;
mod timer;

use buffer::RecvBuf;

/// Which end of the connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// We opened the connection: our frames are masked, the peer's must not be.
    Client,
    /// We accepted it: the peer's frames must be masked, ours are not.
    Server,
}

/// Where the closing handshake stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Data flows both ways.
    Open,
    /// We sent Close (by [`Connection::close`], or after a protocol error) and wait for the
    /// peer's. Incoming data is discarded.
    Closing,
    /// The closing handshake is over, the connection failed, or the stream ended. Write out what
    /// [`Connection::poll_transmit`] still holds, then close the transport when
    /// [`Connection::should_close_transport`] says so.
    Closed,
}

/// The kind of a data message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text (opcode 0x1).
    Text,
    /// Binary data (opcode 0x2).
    Binary,
}

/// Per-message send options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendOptions {
    pub(crate) compress: bool,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions { compress: true }
    }
}

impl SendOptions {
    /// Defaults: compression allowed (subject to the extension's own threshold).
    pub const fn new() -> Self {
        SendOptions { compress: true }
    }
    /// Allow or forbid compressing this message (ws `send(data, { compress })`).
    pub const fn compress(mut self, on: bool) -> Self {
        self.compress = on;
        self
    }
}

/// A WebSocket connection after the opening handshake: a pure state machine.
///
/// It never touches a socket, a clock or the OS. The caller drives it with four groups of
/// methods (quinn-proto's shape):
///
/// - **(A) getters**: [`state`](Connection::state), [`buffered_amount`](Connection::buffered_amount),
///   [`wants_read`](Connection::wants_read), [`should_close_transport`](Connection::should_close_transport).
/// - **(B) input**: bytes from the peer ([`receive`](Connection::receive), or
///   [`recv_buf`](Connection::recv_buf) + [`commit_recv`](Connection::commit_recv) to read the
///   socket straight into the connection), end of stream
///   ([`receive_eof`](Connection::receive_eof)) and time ([`handle_timeout`](Connection::handle_timeout)).
/// - **(C) commands**: send text, binary, fragments, ping, pong, close, drop.
/// - **(D) output**, after any (B) or (C), in this order: drain
///   [`poll_event`](Connection::poll_event) until `Ok(None)`, write out
///   [`poll_transmit`](Connection::poll_transmit) and report it with
///   [`advance_transmit`](Connection::advance_transmit), then sleep until
///   [`poll_timeout`](Connection::poll_timeout).
///
/// Input is processed lazily: `receive` only appends to the input buffer; frames are parsed,
/// unmasked in place and validated by `poll_event`, which lends each event straight from the
/// buffers (a single-frame message is never copied). Events come out in wire order, so a valid
/// message that precedes a protocol error is seen before the error.
///
/// Time is monotonic [`Instant`]s passed in by the caller; they must never go backwards.
///
/// ```
/// use wsproto::{CloseCode, Config, Connection, Event, Instant, Role};
///
/// let mut server = Connection::new(Role::Server, Config::new());
/// // A masked text frame "Hello" (RFC 6455 §5.7).
/// server.receive(Instant::ZERO, &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// match server.poll_event().unwrap() {
///     Some(Event::Text { data, fin }) => assert_eq!((data, fin), ("Hello", true)),
///     other => panic!("{other:?}"),
/// }
/// assert_eq!(server.poll_event().unwrap(), None);
/// server.send_text("Hi").unwrap();
/// assert_eq!(server.poll_transmit(), &[0x81, 0x02, b'H', b'i']);
/// server.advance_transmit(4);
/// server.close(Instant::ZERO, CloseCode::NORMAL, "").unwrap();
/// assert_eq!(server.poll_transmit(), &[0x88, 0x02, 0x03, 0xE8]);
/// ```
pub struct Connection {
    /// The buffers events borrow from.
    buf: RecvBuf,
    /// Everything else.
    core: Core,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.core.role)
            .field("state", &self.core.state)
            .field("buffered_input", &self.buf.available())
            .field("buffered_amount", &self.core.tx.buffered())
            .finish_non_exhaustive()
    }
}

/// How incoming frames are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RxMode {
    /// Open: every frame is checked and delivered.
    Normal,
    /// We sent Close (the application's `close` or the idle timeout): data and pings are
    /// discarded, the peer's Close is delivered.
    CloseOnly,
    /// We failed the connection and reported it: only the peer's Close is looked for, silently.
    Silent,
    /// Nothing more is read (stream out of sync, closed, or dropped).
    Dead,
}

/// What to do with the payload of the current frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FrameKind {
    /// A whole single-frame message: unmask and validate in place, lend from the input buffer.
    Lend,
    /// Append to (or decode into) the message buffer.
    Copy,
    /// A large single-frame binary message: assemble in `RecvBuf::owned`.
    Own,
    /// Streaming without extension: lend pieces from the input buffer as they arrive.
    Stream,
    /// Ping, pong or close: wait for the whole payload.
    Control,
    /// Discard.
    Skip,
}

/// The frame whose header has been consumed and whose payload is being processed. Offsets
/// `unmasked` and `checked` count from the front of the unprocessed input (`RecvBuf::start`).
#[derive(Clone, Copy, Debug)]
struct RxFrame {
    opcode: crate::frame::OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    kind: FrameKind,
    /// Payload length (at most `max_frame_size`, so it fits memory).
    len: usize,
    /// Payload bytes already consumed from the input.
    done: usize,
    /// Bytes at the front of the input already unmasked.
    unmasked: usize,
    /// Of those, text bytes forming complete valid characters.
    checked: usize,
}

/// The data message being received.
#[derive(Clone, Copy, Debug)]
struct RxMsg {
    kind: MessageKind,
    /// The extension decoding it.
    ext: Option<usize>,
    /// Frames so far.
    fragments: usize,
    /// Bytes charged against `max_message_size` (payload + overhead per continuation).
    charged: usize,
    /// Bytes of `RecvBuf::msg` validated as complete characters.
    checked: usize,
    /// Bytes an extension decoded so far.
    decoded: usize,
}

/// The data message being sent with `send_fragment`.
#[derive(Clone, Copy, Debug)]
struct TxMsg {
    kind: MessageKind,
    ext: Option<usize>,
    utf8: Utf8Carry,
}

/// The outbound queue: `out[pos..]` is unwritten, with shared frames (encoded once for many
/// connections) placed between its bytes.
#[derive(Debug, Default)]
struct TxQueue {
    out: Vec<u8>,
    pos: usize,
    /// Bytes reported written since the start.
    written: u64,
    /// End offsets (in `written` terms) of automatic pongs not yet written.
    pongs: VecDeque<u64>,
    /// Owned bytes (of `out`) reported written since the start.
    owned_written: u64,
    /// Shared frames, each after the owned bytes up to its mark (in `owned_written` terms).
    shared: VecDeque<(u64, bytes::Bytes)>,
    /// Bytes of the front shared frame already written.
    shared_pos: usize,
    /// Unwritten bytes of all shared frames.
    shared_len: usize,
}

/// The connection state other than the receive buffers.
struct Core {
    role: Role,
    config: Config,
    extensions: Vec<Box<dyn Extension>>,
    /// RSV bits claimed by the negotiated extensions.
    claimed_rsv: u8,
    state: State,
    /// The latest time passed in.
    now: Option<Instant>,
    eof: bool,
    rx_mode: RxMode,
    frame: Option<RxFrame>,
    msg: Option<RxMsg>,
    tx: TxQueue,
    tx_msg: Option<TxMsg>,
    /// Scratch space for extension-encoded payloads.
    enc_buf: Vec<u8>,
    /// Masking keys drawn ahead from the entropy source (client), and how many bytes are used.
    key_pool: [u8; 64],
    key_pos: usize,
    close_sent: bool,
    /// The peer's Close frame arrived.
    peer_close_seen: bool,
    /// A header could not be framed: the input is out of step, stop reading it.
    rx_desync: bool,
    /// Close the transport now (failure, timeout, drop, or the client's wait is over).
    close_transport: bool,
    /// An error to report from the next `poll_event`.
    pending_error: Option<Error>,
    /// `poll_event` has returned an error: no other is ever reported.
    error_reported: bool,
    /// A protocol error found while lending the valid data before it.
    rx_fail: Option<crate::ProtocolError>,
    close_deadline: Option<Instant>,
    /// Client: closed, waiting for the server to close the transport.
    linger_deadline: Option<Instant>,
    last_rx: Option<Instant>,
    ping_sent: Option<Instant>,
    idle_since: Option<Instant>,
    /// When buffers were last released: memory still in use then (bytes waiting to be
    /// written) is tried again a period later, not at once.
    released_at: Option<Instant>,
    /// Partial text is validated by `check_deferred`, not as it arrives.
    defer_checks: bool,
    /// Large single binary frames are assembled in `RecvBuf::owned` (see
    /// [`Connection::set_owned_messages`]).
    owned_messages: bool,
    /// A single-frame data message shorter than this is lent from the input buffer (the
    /// frame and message size limits; 0 when messages are streamed rather than assembled).
    lend_below: usize,
}

impl Connection {
    /// A connection with no extensions.
    pub fn new(role: Role, config: Config) -> Self {
        Self::with_extensions(role, config, Vec::new())
    }

    /// A connection with the extensions the handshake negotiated, in negotiation order.
    pub fn with_extensions(
        role: Role,
        config: Config,
        extensions: Vec<Box<dyn Extension>>,
    ) -> Self {
        let lend_below = if config.assemble_messages {
            config
                .max_frame_size
                .min(config.max_message_size)
                .saturating_add(1)
        } else {
            0
        };
        let claimed_rsv = extensions
            .iter()
            .fold(0, |acc, e| acc | (e.rsv_bits() & 0b111));
        Connection {
            buf: RecvBuf::default(),
            core: Core {
                role,
                config,
                extensions,
                claimed_rsv,
                state: State::Open,
                now: None,
                eof: false,
                rx_mode: RxMode::Normal,
                frame: None,
                msg: None,
                tx: TxQueue::default(),
                tx_msg: None,
                enc_buf: Vec::new(),
                key_pool: [0; 64],
                key_pos: 64,
                close_sent: false,
                peer_close_seen: false,
                rx_desync: false,
                close_transport: false,
                pending_error: None,
                error_reported: false,
                rx_fail: None,
                close_deadline: None,
                linger_deadline: None,
                last_rx: None,
                ping_sent: None,
                idle_since: None,
                released_at: None,
                defer_checks: false,
                owned_messages: false,
                lend_below,
            },
        }
    }

    // ---- (A) getters ----

    /// Our role.
    pub fn role(&self) -> Role {
        self.core.role
    }
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.core.config
    }
    /// The negotiated extensions.
    pub fn extensions(&self) -> &[Box<dyn Extension>] {
        &self.core.extensions
    }
    /// Where the closing handshake stands.
    pub fn state(&self) -> State {
        self.core.state
    }
    /// Bytes queued for the peer and not yet reported written (ws `bufferedAmount`).
    pub fn buffered_amount(&self) -> usize {
        self.core.tx.buffered()
    }
    /// Whether the driver should read more from the transport. False while the control frames
    /// we owe the peer exceed their bound (stop reading until they are written), and once
    /// closed.
    pub fn wants_read(&self) -> bool {
        let c = &self.core;
        if c.eof || c.close_transport || (c.state == State::Closed && c.role == Role::Server) {
            return false;
        }
        if c.tx.pongs.len() > c.config.max_pending_pongs {
            return false;
        }
        // Bound unprocessed input when the application does not poll: read while less than
        // 64 KiB waits, or while the frame being lent needs more.
        let pending = self.buf.available();
        let frame_need = match c.frame {
            Some(f) if f.kind == FrameKind::Lend || f.kind == FrameKind::Control => f.len - f.done,
            _ => 0,
        };
        pending < buffer::SHRINK_ABOVE.max(frame_need)
    }
    /// Whether received bytes wait to be processed by [`poll_event`](Connection::poll_event).
    pub(crate) fn has_unprocessed_input(&self) -> bool {
        self.buf.available() > 0
    }
    /// Whether the driver should now close the transport (after writing out `poll_transmit`).
    /// Server: as soon as the connection is [`State::Closed`]. Client: once closed and the
    /// server has closed its side, or the close timeout ran out (RFC 6455 §7.1.1).
    pub fn should_close_transport(&self) -> bool {
        let c = &self.core;
        c.state == State::Closed && (c.role == Role::Server || c.eof || c.close_transport)
    }

    /// Heap bytes held by the connection's own buffers (input, message, output, scratch), not
    /// counting extensions. Buffers keep their size while messages flow; once no data message
    /// has moved for [`Config::release_buffers_after`] (with a buffer over 64 KiB), or when
    /// [`release_buffers`](Connection::release_buffers) is called, the empty ones are freed.
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
            + self.core.tx.out.capacity()
            + self.core.tx.pongs.capacity() * core::mem::size_of::<u64>()
            + self.core.enc_buf.capacity()
    }

    /// Frees every buffer that is currently empty (e.g. before a connection goes idle for a
    /// long time), and, between messages, what the extensions can rebuild
    /// ([`Extension::release_memory`]). They are allocated again when needed.
    pub fn release_buffers(&mut self) {
        self.buf.settle();
        self.buf.release_unused();
        self.core.tx.release_empty();
        self.core.enc_buf = Vec::new();
        if self.core.between_messages() {
            for e in &mut self.core.extensions {
                e.release_memory();
            }
        }
    }

    /// When the memory held while idle is to be given back: [`Config::release_buffers_after`]
    /// after the last data message (or after the last release), while a buffer or an
    /// extension holds more than 64 KiB that [`release_buffers`](Self::release_buffers) would
    /// free.
    #[inline]
    fn release_deadline(&self) -> Option<Instant> {
        if !self.holds_large_memory() {
            return None;
        }
        let since = match (self.core.idle_since?, self.core.released_at) {
            (idle, Some(released)) => idle.max(released),
            (idle, None) => idle,
        };
        Some(since + self.core.config.release_buffers_after?)
    }

    /// Whether a buffer or an extension holds more than 64 KiB that
    /// [`release_buffers`](Self::release_buffers) would free: memory in use (bytes waiting to
    /// be written, a message being received) does not count, so no timer fires in vain
    /// (checked on every `poll_timeout`, so the common answer, no, costs a few loads).
    #[inline]
    fn holds_large_memory(&self) -> bool {
        let c = &self.core;
        let limit = buffer::SHRINK_ABOVE;
        self.buf.can_release_above(limit)
            || c.tx.can_release_above(limit)
            || c.enc_buf.capacity() > limit
            || (!c.extensions.is_empty()
                && c.between_messages()
                && c.extensions.iter().any(|e| e.memory() > limit))
    }

    /// Defer the fail-fast checks of partial text to [`check_deferred`](Self::check_deferred).
    ///
    /// By default, text that arrives in pieces (a frame split across reads, fragments, or
    /// compressed data) is validated as each piece arrives, so invalid UTF-8 fails the
    /// connection (1007) without waiting for the rest; the whole message is validated again
    /// when it is lent as `&str`, which safe Rust cannot skip. A driver that knows when it is
    /// about to wait for input turns this on and calls `check_deferred` then: text that keeps
    /// arriving is validated once, and invalid text still fails before the driver waits. The
    /// crate's non-blocking adapters do this.
    pub fn set_deferred_checks(&mut self, on: bool) {
        self.core.defer_checks = on;
    }

    /// The driver is about to wait for input: runs the checks deferred by
    /// [`set_deferred_checks`](Self::set_deferred_checks). Returns `true` if they failed the
    /// connection; [`poll_event`](Self::poll_event) then reports it.
    pub fn check_deferred(&mut self) -> bool {
        self.core.check_deferred(&self.buf)
    }

    // ---- (B) input from the network and the clock ----

    /// Bytes from the peer, in chunks of any size. Never fails: errors surface from `poll_event`.
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) {
        self.buf.settle();
        self.core.tick(now);
        if bytes.is_empty() {
            return;
        }
        self.core.note_rx(now);
        if self.core.accepts_input() {
            let rest = self.core.push_payload(&mut self.buf, bytes);
            self.core.push_next(&mut self.buf, rest);
        }
    }
    /// Spare input capacity of at least `min` bytes to read the socket into directly; report
    /// how much was filled with [`commit_recv`](Connection::commit_recv). Never zero-fills
    /// memory that was already initialised.
    pub fn recv_buf(&mut self, min: usize) -> &mut [u8] {
        self.buf.settle();
        self.buf.spare(min.max(1))
    }
    /// `n` bytes of [`recv_buf`](Connection::recv_buf) were filled.
    pub fn commit_recv(&mut self, now: Instant, n: usize) {
        self.core.tick(now);
        if n == 0 {
            return;
        }
        self.core.note_rx(now);
        if self.core.accepts_input() {
            self.buf.commit(n);
        }
    }
    /// Assemble a single binary frame over 16 KiB that arrives in pieces in memory the message
    /// can keep, for a driver that takes messages as owned `Bytes` through
    /// [`poll_owned`](Self::poll_owned) (the session's [`MessageReader`] does): it then gets
    /// them without a copy, and can read the rest of the payload straight into that memory
    /// ([`owned_room`](Self::owned_room)). Off, such a frame is lent from the input buffer,
    /// unmasked in place, which is cheaper for a driver that lends events.
    ///
    /// [`MessageReader`]: crate::message::MessageReader
    pub(crate) fn set_owned_messages(&mut self, on: bool) {
        self.core.owned_messages = on;
    }

    /// Room to read the rest of a large binary message's payload straight into the memory the
    /// message will own ([`poll_owned`](Self::poll_owned) hands it over without a copy): `Some(max)`
    /// while such a message is being assembled and no other input waits. Append at most `max`
    /// bytes to [`owned_buf`](Self::owned_buf) (e.g. a read into its spare capacity), then call
    /// [`commit_owned`](Self::commit_owned).
    #[inline]
    pub(crate) fn owned_room(&mut self) -> Option<usize> {
        // Asked before every read: the common answer, no frame being assembled, comes first.
        let f = self.core.frame.filter(|f| f.kind == FrameKind::Own)?;
        self.buf.settle();
        if !self.core.accepts_input() || self.buf.available() != 0 || self.core.rx_fail.is_some() {
            return None;
        }
        Some(f.len - f.done).filter(|&max| max > 0)
    }

    /// The buffer of [`owned_room`](Self::owned_room).
    pub(crate) fn owned_buf(&mut self) -> &mut BytesMut {
        self.buf.owned_mut()
    }

    /// Bytes were appended to the buffer of [`owned_room`](Self::owned_room): they are
    /// unmasked where they landed and count as received. Bytes past the payload go to the
    /// input buffer; a buffer that was shortened instead lost payload bytes, and the
    /// connection is dropped (1011).
    pub(crate) fn commit_owned(&mut self, now: Instant) {
        self.core.tick(now);
        let Some(f) = self
            .core
            .frame
            .as_mut()
            .filter(|f| f.kind == FrameKind::Own)
        else {
            return;
        };
        let owned = self.buf.owned_mut();
        let Some(n) = owned.len().checked_sub(f.done) else {
            self.drop_connection(CloseCode::INTERNAL_ERROR, "", false);
            return;
        };
        if n == 0 {
            return;
        }
        let payload = n.min(f.len - f.done);
        let past = (payload < n).then(|| owned.split_off(f.done + payload));
        if let (Some(key), Some(new)) = (f.mask, owned.get_mut(f.done..)) {
            apply_mask(new, key, f.done);
        }
        f.done += payload;
        self.core.note_rx(now);
        if let Some(past) = past {
            self.buf.push(&past);
        }
    }

    /// The peer closed the stream (read returned 0).
    pub fn receive_eof(&mut self, now: Instant) {
        self.buf.settle();
        self.core.tick(now);
        self.core.eof = true;
    }
    /// Time passed: fire due timers. Spurious calls are harmless no-ops.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.buf.settle();
        self.core.tick(now);
        self.core.handle_timeout(now, &mut self.buf);
        if self.release_deadline().is_some_and(|t| now >= t) {
            self.release_buffers();
            // What is still held is in use: the next try is a period later (a deadline left
            // in the past would have the driver call again at once, forever).
            self.core.released_at = Some(now);
        }
    }

    // ---- (C) commands ----

    /// Queue a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.core.send_data(
            MessageKind::Text,
            text.as_bytes(),
            None,
            true,
            true,
            SendOptions::new(),
            true,
        )
    }
    /// Queue a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.core.send_data(
            MessageKind::Binary,
            data,
            None,
            true,
            true,
            SendOptions::new(),
            false,
        )
    }
    /// Queue a text message known to be valid UTF-8 (not checked again).
    pub(crate) fn send_valid_text(
        &mut self,
        text: &str,
        options: SendOptions,
    ) -> Result<(), SendError> {
        self.core.send_data(
            MessageKind::Text,
            text.as_bytes(),
            None,
            true,
            true,
            options,
            true,
        )
    }
    /// Queue a whole message with options. Text must be UTF-8.
    pub fn send_message(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        options: SendOptions,
    ) -> Result<(), SendError> {
        self.core
            .send_data(kind, data, None, true, true, options, false)
    }
    /// Queue a whole message whose payload is already shared bytes. The same as
    /// [`send_message`](Connection::send_message), except that a server queues a payload over
    /// 1 KiB that goes out as it is (no extension transforms it, `fragment_size` does not
    /// split it) by reference, without copying it: it is written from `data`
    /// ([`poll_transmit_vectored`](Connection::poll_transmit_vectored) gives it with its
    /// header).
    ///
    /// ```
    /// use wsproto::{Config, Connection, MessageKind, Role, SendOptions};
    ///
    /// let mut server = Connection::new(Role::Server, Config::new());
    /// let payload = bytes::Bytes::from(vec![7u8; 4096]);
    /// server.send_bytes(MessageKind::Binary, &payload, SendOptions::new()).unwrap();
    /// let [header, body] = server.poll_transmit_vectored();
    /// assert_eq!(header, [0x82, 126, 0x10, 0x00]);
    /// assert_eq!(body.as_ptr(), payload.as_ptr()); // the same memory
    /// server.advance_transmit(header.len() + body.len());
    /// assert!(server.poll_transmit().is_empty());
    /// ```
    pub fn send_bytes(
        &mut self,
        kind: MessageKind,
        data: &bytes::Bytes,
        options: SendOptions,
    ) -> Result<(), SendError> {
        self.core
            .send_data(kind, data, Some(data), true, true, options, false)
    }
    /// Queue one fragment of a message: the first call opens it with `kind`, later calls with
    /// the same kind continue it, and `fin` ends it. Text may split characters across fragments.
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
        options: SendOptions,
    ) -> Result<(), SendError> {
        self.core
            .send_data(kind, data, None, fin, false, options, false)
    }
    /// Queue a text or binary message encoded once for many connections: a server queues
    /// the shared frame itself (its compressed form where this connection agreed
    /// `server_no_context_takeover` with a 15-bit window), with no copy; a client, a
    /// connection with another extension or with outgoing fragmentation encodes the payload
    /// as for [`send_message`](Connection::send_message).
    pub fn send_prepared(&mut self, frame: &crate::frame::PreparedFrame) -> Result<(), SendError> {
        self.core.send_prepared(frame)
    }
    /// Queue a ping (payload at most 125 bytes).
    pub fn send_ping(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.core.send_control(crate::frame::OpCode::Ping, data)
    }
    /// Queue a pong (payload at most 125 bytes).
    pub fn send_pong(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.core.send_control(crate::frame::OpCode::Pong, data)
    }
    /// Start the closing handshake (reason at most 123 bytes); arms the close timeout.
    /// [`CloseCode::NO_STATUS`] (1005) with an empty reason sends a Close frame without a
    /// status code.
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.buf.settle();
        self.core.tick(now);
        self.core.close(code, reason)
    }
    /// Fail the connection at once (WebSocket-Node `drop`): queue Close(code, reason) unless
    /// `skip_close_frame`, discard everything else, go to [`State::Closed`].
    ///
    /// "Everything else" is the unprocessed input and any partial message; bytes already queued
    /// for the peer stay queued (they are whole frames), so write out `poll_transmit` and then
    /// close the transport ([`should_close_transport`](Connection::should_close_transport) is
    /// true at once). A code that may not be sent (1005, 1006, 1015, ...) skips the frame.
    /// `poll_event` reports [`Error::Dropped`] once.
    pub fn drop_connection(&mut self, code: CloseCode, reason: &str, skip_close_frame: bool) {
        self.buf.settle();
        self.core
            .drop_connection(code, reason, skip_close_frame, &mut self.buf);
    }

    /// Queue raw bytes ahead of any frame (the handshake's HTTP response goes out through the
    /// connection this way, so a driver only ever writes `poll_transmit`).
    #[allow(dead_code)] // used by the handshake
    pub(crate) fn queue_raw(&mut self, bytes: &[u8]) {
        self.core.tx.push_raw(bytes);
    }

    // ---- (D) output: call after any (B) or (C) ----

    /// The next event from the peer, borrowing from the connection until the next call.
    ///
    /// Call it until it returns `Ok(None)` after every (B) or (C) call. A fatal error is
    /// returned once (our Close is already queued); afterwards it returns `Ok(None)` while the
    /// connection still watches for the peer's Close.
    #[must_use = "events carry the peer's data and errors"]
    pub fn poll_event(&mut self) -> Result<Option<Event<'_>>, Error> {
        recv::poll_event(self)
    }
    /// [`poll_event`](Self::poll_event), except that a whole binary message assembled in
    /// memory it can own (a large single frame that arrived in pieces) comes as `Ok` of its
    /// `Bytes`, taken without a copy; every other event as `Err(event)`.
    pub(crate) fn poll_owned(&mut self) -> Result<Option<Result<Bytes, Event<'_>>>, Error> {
        recv::poll_owned(self)
    }
    /// Bytes to write to the transport (empty: nothing to write). Frames queued with
    /// [`send_prepared`](Connection::send_prepared) come out as pieces of their own: write,
    /// [`advance_transmit`](Connection::advance_transmit), and call again until it is empty.
    #[must_use]
    pub fn poll_transmit(&self) -> &[u8] {
        self.core.tx.pending()
    }
    /// The same bytes as two runs for a vectored write: what
    /// [`poll_transmit`](Connection::poll_transmit) gives, and the run after it (empty if
    /// there is none), e.g. a frame's header and its shared payload
    /// ([`send_bytes`](Connection::send_bytes)). Report what was written with
    /// [`advance_transmit`](Connection::advance_transmit), across both runs.
    #[must_use]
    pub fn poll_transmit_vectored(&self) -> [&[u8]; 2] {
        self.core.tx.pending_pair()
    }
    /// `n` bytes of [`poll_transmit`](Connection::poll_transmit) (or of
    /// [`poll_transmit_vectored`](Connection::poll_transmit_vectored)) were written.
    pub fn advance_transmit(&mut self, n: usize) {
        self.core.tx.advance(n);
    }
    /// The next deadline: call [`handle_timeout`](Connection::handle_timeout) then.
    ///
    /// Before any time was passed in, a connection with keepalive or an idle timeout returns
    /// [`Instant::ZERO`] (call `handle_timeout` at once, which starts the timers).
    #[must_use]
    #[inline(always)]
    pub fn poll_timeout(&self) -> Option<Instant> {
        // Drivers ask after every step: the common case (open, no timers configured, small
        // buffers, no extension) is answered without a call.
        let c = &self.core;
        if c.state == State::Open
            && c.config.keepalive_interval.is_none()
            && c.config.idle_timeout.is_none()
            && c.extensions.is_empty()
            && !self.holds_large_memory()
        {
            return None;
        }
        self.next_deadline()
    }

    /// [`poll_timeout`](Self::poll_timeout) in full.
    #[inline(never)]
    fn next_deadline(&self) -> Option<Instant> {
        match (self.core.poll_timeout(), self.release_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests;
