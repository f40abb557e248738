//! What the peer sent: the events [`Connection::poll_event`](crate::Connection::poll_event) lends.

use crate::CloseCode;

/// One event from the peer, borrowing its payload from the connection's buffers.
///
/// With [`Config::assemble_messages`](crate::Config::assemble_messages) on (the default), every
/// `Text`/`Binary` event is a whole message and `fin` is `true`. With it off, a message arrives
/// as a sequence of chunks (each possibly part of a frame) and `fin` marks the last one, which
/// may be empty; text chunks are always split on character boundaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Text data (validated UTF-8).
    Text {
        /// The message, or a chunk of it.
        data: &'a str,
        /// Whether this ends the message.
        fin: bool,
    },
    /// Binary data.
    Binary {
        /// The message, or a chunk of it.
        data: &'a [u8],
        /// Whether this ends the message.
        fin: bool,
    },
    /// A ping. With auto-pong on, its pong is already queued.
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// The peer's Close frame (our echo is already queued), or the end of the stream without a
    /// closing handshake (code [`CloseCode::ABNORMAL`], 1006). A Close frame without a status
    /// code reports [`CloseCode::NO_STATUS`] (1005). The owned form is
    /// [`message::CloseFrame`](crate::message::CloseFrame).
    Close {
        /// The status code.
        code: CloseCode,
        /// The reason (valid UTF-8, at most 123 bytes).
        reason: &'a str,
    },
}
