//! Errors: what the peer did wrong ([`ProtocolError`], each mapped to the close code we send),
//! why the connection ended ([`Error`]), and what the caller asked for that cannot be done
//! ([`SendError`]).

use core::fmt;

use crate::CloseCode;
use crate::extension::ExtensionError;

/// A fatal connection error, returned once by
/// [`Connection::poll_event`](crate::Connection::poll_event). Our Close frame (if any) is already
/// queued; keep writing [`poll_transmit`](crate::Connection::poll_transmit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol; we sent Close with [`ProtocolError::close_code`].
    Protocol(ProtocolError),
    /// A timer ran out.
    TimedOut(Timeout),
    /// The application called [`drop_connection`](crate::Connection::drop_connection).
    Dropped(CloseCode),
}

impl Error {
    /// The close code we sent (or would have sent) for this error.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Error::Protocol(e) => e.close_code(),
            Error::TimedOut(Timeout::Idle) => CloseCode::GOING_AWAY,
            Error::TimedOut(_) => CloseCode::ABNORMAL,
            Error::Dropped(code) => *code,
        }
    }
}

/// Which timer ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timeout {
    /// We sent Close and the peer did not answer within the close timeout.
    Close,
    /// Keepalive: nothing arrived within the grace period after our ping ("peer not responding").
    Keepalive,
    /// No data message was sent or received within the idle timeout; we sent Close(1001).
    Idle,
}

/// A violation of RFC 6455 / RFC 7692 by the peer.
///
/// Callers should not vary behaviour on the variants: they exist for diagnostics, and
/// [`close_code`](ProtocolError::close_code) says what went on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum ProtocolError {
    /// RSV bits set that no negotiated extension claims (1002).
    ReservedBits,
    /// Opcode 3–7 or 0xB–0xF (1002).
    UnknownOpcode(u8),
    /// A client sent an unmasked frame (1002).
    UnmaskedFrame,
    /// A server sent a masked frame (1002).
    MaskedFrame,
    /// A control frame with more than 125 bytes of payload (1002).
    ControlFrameTooLong,
    /// A control frame without FIN (1002).
    FragmentedControlFrame,
    /// A continuation frame with no message started (1002).
    UnexpectedContinuation,
    /// A new data frame inside a fragmented message (1002).
    ExpectedContinuation,
    /// A 64-bit length with the most significant bit set, or a non-minimal length (1002).
    InvalidLength,
    /// A frame larger than `max_frame_size` (1009).
    FrameTooLarge,
    /// A message larger than `max_message_size` (1009).
    MessageTooLarge,
    /// More fragments than `max_fragments` (1009).
    TooManyFragments,
    /// Invalid UTF-8 in a text message or close reason (1007).
    InvalidUtf8,
    /// A Close frame with a 1-byte payload (1002).
    InvalidClosePayload,
    /// A Close frame with a code peers may not send (1002).
    InvalidCloseCode(u16),
    /// A data frame after the peer's Close (1002).
    DataAfterClose,
    /// An extension rejected the frame or its payload.
    Extension(ExtensionError),
}

impl ProtocolError {
    /// The close code sent to the peer for this error.
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::FrameTooLarge
            | ProtocolError::MessageTooLarge
            | ProtocolError::TooManyFragments => CloseCode::MESSAGE_TOO_BIG,
            ProtocolError::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            ProtocolError::Extension(e) => e.close_code(),
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            ProtocolError::ReservedBits => "reserved bits set without an extension claiming them",
            ProtocolError::UnknownOpcode(_) => "unknown opcode",
            ProtocolError::UnmaskedFrame => "client frame not masked",
            ProtocolError::MaskedFrame => "server frame masked",
            ProtocolError::ControlFrameTooLong => "control frame payload over 125 bytes",
            ProtocolError::FragmentedControlFrame => "fragmented control frame",
            ProtocolError::UnexpectedContinuation => "continuation frame without a message",
            ProtocolError::ExpectedContinuation => "new data frame inside a fragmented message",
            ProtocolError::InvalidLength => "invalid payload length",
            ProtocolError::FrameTooLarge => "frame too large",
            ProtocolError::MessageTooLarge => "message too large",
            ProtocolError::TooManyFragments => "too many fragments",
            ProtocolError::InvalidUtf8 => "invalid UTF-8",
            ProtocolError::InvalidClosePayload => "close frame with a 1-byte payload",
            ProtocolError::InvalidCloseCode(_) => "invalid close code",
            ProtocolError::DataAfterClose => "data frame after close",
            ProtocolError::Extension(_) => "extension error",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::UnknownOpcode(op) => write!(f, "unknown opcode {op:#x}"),
            ProtocolError::InvalidCloseCode(c) => write!(f, "invalid close code {c}"),
            ProtocolError::Extension(e) => write!(f, "extension error: {e}"),
            other => f.write_str(other.describe()),
        }
    }
}

impl core::error::Error for ProtocolError {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Protocol(e) => write!(f, "protocol error: {e} (closed with {})", e.close_code()),
            Error::TimedOut(Timeout::Close) => {
                f.write_str("timed out waiting for the peer's close")
            }
            Error::TimedOut(Timeout::Keepalive) => f.write_str("peer not responding"),
            Error::TimedOut(Timeout::Idle) => f.write_str("idle timeout"),
            Error::Dropped(code) => write!(f, "connection dropped locally with {code}"),
        }
    }
}

impl core::error::Error for Error {}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

/// A command the connection cannot carry out. Nothing was queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// We already sent Close, or the connection is closed or failed.
    Closed,
    /// The send queue is at [`Config::max_send_queue`](crate::Config::max_send_queue): write out
    /// some of [`poll_transmit`](crate::Connection::poll_transmit) and try again.
    Full,
    /// A control frame payload over 125 bytes.
    ControlTooLong,
    /// A close code that may not be sent (1005, 1006, 1015, or outside the valid ranges).
    InvalidCloseCode(CloseCode),
    /// A close reason over 123 bytes.
    ReasonTooLong,
    /// Text that is not valid UTF-8 (for fragments sent as bytes).
    InvalidUtf8,
    /// A whole message or a first fragment while a fragmented message is still open.
    MessageInProgress,
    /// A continuation fragment with no fragmented message open, or of the other kind.
    NoMessageInProgress,
    /// A client has no entropy source for masking keys (set [`Config::random`](crate::Config::random)).
    NoEntropy,
    /// An extension failed to encode the payload.
    Extension(ExtensionError),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("connection is closing or closed"),
            SendError::Full => f.write_str("send queue full"),
            SendError::ControlTooLong => f.write_str("control frame payload over 125 bytes"),
            SendError::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            SendError::ReasonTooLong => f.write_str("close reason over 123 bytes"),
            SendError::InvalidUtf8 => f.write_str("text is not valid UTF-8"),
            SendError::MessageInProgress => f.write_str("a fragmented message is in progress"),
            SendError::NoMessageInProgress => {
                f.write_str("no matching fragmented message in progress")
            }
            SendError::NoEntropy => f.write_str("no entropy source for masking keys"),
            SendError::Extension(e) => write!(f, "extension error: {e}"),
        }
    }
}

impl core::error::Error for SendError {}
