//! The extension interface (RFC 6455 §9): negotiation in the opening handshake, RSV bits and
//! payload transforms in the connection. permessage-deflate ([`crate::deflate`]) is its first
//! implementation; users can add their own.
//!
//! Life cycle: the client builds one instance per connection and passes it to the client
//! handshake, which sends [`Extension::offer`] and calls [`Extension::accept_response`] on the
//! server's answer; the server passes fresh instances to its handshake, which calls
//! [`Extension::accept_offer`] for each offer of the same name, in the client's order, until one
//! is accepted. The negotiated instances move into the [`Connection`](crate::Connection), which
//! calls the framing hooks. The core never special-cases any extension.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::CloseCode;

/// One parameter of an offer or response element: `name` or `name=value` (value unquoted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtensionParam<'a> {
    /// The parameter name (case as received).
    pub name: &'a str,
    /// The value, with quotes removed, if any.
    pub value: Option<&'a str>,
}

/// RSV1 in [`Extension::rsv_bits`] terms (bit 2 of the 3-bit RSV field).
pub const RSV1: u8 = 0b100;
/// RSV2.
pub const RSV2: u8 = 0b010;
/// RSV3.
pub const RSV3: u8 = 0b001;

/// A WebSocket extension: negotiation plus per-message transforms.
pub trait Extension: Send + fmt::Debug {
    /// The registered token, e.g. `permessage-deflate`.
    fn name(&self) -> &str;

    /// A new instance with the same settings, not negotiated yet: options that hold
    /// extensions are cloned this way (a client following a redirect offers them afresh).
    fn fresh(&self) -> Box<dyn Extension>;

    /// The agreed permessage-deflate parameters, for the permessage-deflate extension once
    /// negotiated; `None` for every other extension.
    fn permessage_deflate(&self) -> Option<crate::deflate::Agreed> {
        None
    }

    // ---- negotiation (called by the handshake) ----

    /// Client: the offer(s) as `Sec-WebSocket-Extensions` elements, most preferred first,
    /// comma-separated, e.g. `permessage-deflate; client_max_window_bits`.
    fn offer(&self) -> String;

    /// Client: the server accepted with these parameters. `Ok` makes this instance active;
    /// `Err` fails the handshake (RFC 7692 §5: the client must fail on a response it cannot honour).
    fn accept_response(&mut self, params: &[ExtensionParam<'_>]) -> Result<(), ExtensionError>;

    /// Server: one offer from the client. Return the full response element (e.g.
    /// `permessage-deflate; server_no_context_takeover`) to accept it and become active, or
    /// `None` to decline this offer (invalid or unsupported parameters).
    fn accept_offer(&mut self, params: &[ExtensionParam<'_>]) -> Option<String>;

    // ---- framing (called by the connection once negotiated) ----

    /// RSV bits this extension claims ([`RSV1`], [`RSV2`], [`RSV3`]); frames with other RSV bits
    /// set fail the connection with 1002.
    fn rsv_bits(&self) -> u8;

    /// Inbound: the first frame of a data message carries these RSV bits (only the claimed
    /// ones). Return `Ok(true)` if this message is to be decoded by this extension. Called for
    /// data messages only; RSV bits on control or continuation frames are the core's 1002.
    fn decode_start(&mut self, rsv: u8) -> Result<bool, ExtensionError>;

    /// Inbound payload (unmasked) of a message this extension claimed, in order, in pieces of any
    /// size; `fin` on the last call of the message (its `input` may be empty). Append the decoded
    /// bytes to `out`, and never let `out.len()` exceed `max_len`: return
    /// [`ExtensionError::MessageTooLarge`] instead, before allocating more.
    fn decode(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
        max_len: usize,
    ) -> Result<(), ExtensionError>;

    /// Outbound: a data message is starting. `len` is its total length when known (whole
    /// messages), `None` for explicit fragments. `compress` is `false` when the caller opted out
    /// for this message. Return `Some(rsv)` to transform it (those RSV bits go on its first
    /// frame), `None` to send it unchanged.
    fn encode_start(&mut self, len: Option<usize>, compress: bool) -> Option<u8>;

    /// Outbound payload of a message [`encode_start`](Extension::encode_start) claimed, in
    /// order; `fin` on the last piece. Append the transformed bytes to `out`.
    fn encode(&mut self, input: &[u8], fin: bool, out: &mut Vec<u8>) -> Result<(), ExtensionError>;

    // ---- memory (called by the connection) ----

    /// Heap bytes this extension holds between messages that
    /// [`release_memory`](Extension::release_memory) would free (state that must persist does
    /// not count). The connection arms its release timer
    /// ([`Config::release_buffers_after`](crate::Config::release_buffers_after)) while it is
    /// large. Default 0.
    fn memory(&self) -> usize {
        0
    }

    /// The connection has been quiet: free what can be rebuilt later without changing what
    /// goes on the wire (state that must persist, like an LZ77 window under context takeover,
    /// stays). Never called in the middle of a message. Default: nothing to free.
    fn release_memory(&mut self) {}
}

/// An extension's failure, mapped to the close code or handshake failure it causes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionError {
    /// Decoded output would exceed the message limit (1009).
    MessageTooLarge,
    /// The payload cannot be decoded, e.g. corrupt compressed data (1007).
    InvalidData(&'static str),
    /// The peer misused the extension, e.g. a bad RSV bit pattern (1002).
    Protocol(&'static str),
    /// The handshake response is unacceptable (fails the handshake).
    Negotiation(&'static str),
    /// Our own failure (1011).
    Internal(&'static str),
}

impl ExtensionError {
    /// The close code this error sends.
    pub fn close_code(&self) -> CloseCode {
        match self {
            ExtensionError::MessageTooLarge => CloseCode::MESSAGE_TOO_BIG,
            ExtensionError::InvalidData(_) => CloseCode::INVALID_PAYLOAD,
            ExtensionError::Protocol(_) | ExtensionError::Negotiation(_) => {
                CloseCode::PROTOCOL_ERROR
            }
            ExtensionError::Internal(_) => CloseCode::INTERNAL_ERROR,
        }
    }
}

impl fmt::Display for ExtensionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtensionError::MessageTooLarge => f.write_str("decoded message too large"),
            ExtensionError::InvalidData(s) => write!(f, "invalid data: {s}"),
            ExtensionError::Protocol(s) => write!(f, "protocol: {s}"),
            ExtensionError::Negotiation(s) => write!(f, "negotiation: {s}"),
            ExtensionError::Internal(s) => write!(f, "internal: {s}"),
        }
    }
}

impl core::error::Error for ExtensionError {}
