//! The post-handshake state machine.
//!
//! SKELETON: the public API below is the contract other modules build on; the bodies are being
//! written (core issue). Signatures may only change in agreement with the handshake, deflate and
//! adapter code.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::extension::Extension;
use crate::{CloseCode, Config, Error, Event, Instant, SendError};

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
pub struct Connection {
    #[allow(dead_code)]
    role: Role,
    #[allow(dead_code)]
    config: Config,
    #[allow(dead_code)]
    extensions: Vec<Box<dyn Extension>>,
}

#[allow(unused_variables, clippy::todo)]
impl Connection {
    /// A connection with no extensions.
    pub fn new(role: Role, config: Config) -> Self {
        Self::with_extensions(role, config, Vec::new())
    }

    /// A connection with the extensions the handshake negotiated, in negotiation order.
    pub fn with_extensions(role: Role, config: Config, extensions: Vec<Box<dyn Extension>>) -> Self {
        Connection { role, config, extensions }
    }

    // ---- (A) getters ----

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// The negotiated extensions.
    pub fn extensions(&self) -> &[Box<dyn Extension>] {
        &self.extensions
    }
    /// Where the closing handshake stands.
    pub fn state(&self) -> State {
        todo!()
    }
    /// Bytes queued for the peer and not yet reported written (ws `bufferedAmount`).
    pub fn buffered_amount(&self) -> usize {
        todo!()
    }
    /// Whether the driver should read more from the transport. False while the control frames
    /// we owe the peer exceed their bound (stop reading until they are written), and once
    /// closed.
    pub fn wants_read(&self) -> bool {
        todo!()
    }
    /// Whether the driver should now close the transport (after writing out `poll_transmit`).
    /// Server: as soon as the connection is [`State::Closed`]. Client: once closed and the
    /// server has closed its side, or the close timeout ran out (RFC 6455 §7.1.1).
    pub fn should_close_transport(&self) -> bool {
        todo!()
    }

    // ---- (B) input from the network and the clock ----

    /// Bytes from the peer, in chunks of any size. Never fails: errors surface from `poll_event`.
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) {
        todo!()
    }
    /// Spare input capacity of at least `min` bytes to read the socket into directly; report
    /// how much was filled with [`commit_recv`](Connection::commit_recv). Never zero-fills
    /// memory that was already initialised.
    pub fn recv_buf(&mut self, min: usize) -> &mut [u8] {
        todo!()
    }
    /// `n` bytes of [`recv_buf`](Connection::recv_buf) were filled.
    pub fn commit_recv(&mut self, now: Instant, n: usize) {
        todo!()
    }
    /// The peer closed the stream (read returned 0).
    pub fn receive_eof(&mut self, now: Instant) {
        todo!()
    }
    /// Time passed: fire due timers. Spurious calls are harmless no-ops.
    pub fn handle_timeout(&mut self, now: Instant) {
        todo!()
    }

    // ---- (C) commands ----

    /// Queue a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        todo!()
    }
    /// Queue a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        todo!()
    }
    /// Queue a whole message with options. Text must be UTF-8.
    pub fn send_message(&mut self, kind: MessageKind, data: &[u8], options: SendOptions) -> Result<(), SendError> {
        todo!()
    }
    /// Queue one fragment of a message: the first call opens it with `kind`, later calls with
    /// the same kind continue it, and `fin` ends it. Text may split characters across fragments.
    pub fn send_fragment(&mut self, kind: MessageKind, data: &[u8], fin: bool, options: SendOptions) -> Result<(), SendError> {
        todo!()
    }
    /// Queue a ping (payload at most 125 bytes).
    pub fn send_ping(&mut self, data: &[u8]) -> Result<(), SendError> {
        todo!()
    }
    /// Queue a pong (payload at most 125 bytes).
    pub fn send_pong(&mut self, data: &[u8]) -> Result<(), SendError> {
        todo!()
    }
    /// Start the closing handshake (reason at most 123 bytes); arms the close timeout.
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), SendError> {
        todo!()
    }
    /// Fail the connection at once (WebSocket-Node `drop`): queue Close(code, reason) unless
    /// `skip_close_frame`, discard everything else, go to [`State::Closed`].
    pub fn drop_connection(&mut self, code: CloseCode, reason: &str, skip_close_frame: bool) {
        todo!()
    }

    /// Queue raw bytes ahead of any frame (the handshake's HTTP response goes out through the
    /// connection this way, so a driver only ever writes `poll_transmit`).
    pub(crate) fn queue_raw(&mut self, bytes: &[u8]) {
        todo!()
    }

    // ---- (D) output: call after any (B) or (C) ----

    /// The next event from the peer, borrowing from the connection until the next call.
    #[must_use = "events carry the peer's data and errors"]
    pub fn poll_event(&mut self) -> Result<Option<Event<'_>>, Error> {
        todo!()
    }
    /// Bytes to write to the transport (empty: nothing to write).
    #[must_use]
    pub fn poll_transmit(&self) -> &[u8] {
        todo!()
    }
    /// `n` bytes of [`poll_transmit`](Connection::poll_transmit) were written.
    pub fn advance_transmit(&mut self, n: usize) {
        todo!()
    }
    /// The next deadline: call [`handle_timeout`](Connection::handle_timeout) then.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }
}
