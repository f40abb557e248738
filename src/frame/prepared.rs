//! Frames encoded once and shared by many connections (broadcast, topics).
//!
//! A [`PreparedFrame`] holds a text or binary message as a complete unmasked server frame,
//! and optionally a permessage-deflate compressed one, encoded once. Every server connection
//! that sends it queues the same bytes ([`Connection::send_prepared`]): no per-recipient
//! encoding, allocation or copy, only a reference count. (A frame of at most 1 KiB is
//! copied into the connection's output buffer instead, so that it goes out in the same
//! write as its neighbours: for small messages a copy is cheaper than a write of its own.) The compressed form is used for connections
//! that agreed `server_no_context_takeover` with a 15-bit window (the message then does not
//! depend on, or change, that connection's compression context); every other server
//! connection gets the plain frame (RFC 7692 lets any message go uncompressed). A client
//! connection masks each frame itself, so it encodes the payload as for any message.
//!
//! [`Connection::send_prepared`]: crate::Connection::send_prepared
//!
//! ```
//! use wsproto::frame::PreparedFrame;
//! use wsproto::{Config, Connection, Role};
//! let frame = PreparedFrame::binary(vec![7u8; 4096]);
//! let mut a = Connection::new(Role::Server, Config::new());
//! let mut b = Connection::new(Role::Server, Config::new());
//! a.send_prepared(&frame).unwrap();
//! b.send_prepared(&frame).unwrap();
//! // Both hand out the prepared bytes themselves.
//! assert_eq!(a.poll_transmit().as_ptr(), frame.plain().as_ptr());
//! assert_eq!(b.poll_transmit().as_ptr(), frame.plain().as_ptr());
//! ```

use alloc::vec::Vec;

use bytes::Bytes;

use super::{FrameHeader, OpCode};
use crate::MessageKind;
use crate::deflate::codec::Compressor;
use crate::message::{Message, Utf8Bytes};

/// A text or binary message encoded once as a server frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedFrame {
    kind: MessageKind,
    payload: Bytes,
    plain: Bytes,
    deflated: Option<Bytes>,
}

impl PreparedFrame {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::encode(MessageKind::Text, text.into().into_bytes())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::encode(MessageKind::Binary, data.into())
    }

    /// The frame of a whole text or binary message; `None` for other messages.
    pub fn from_message(message: &Message) -> Option<Self> {
        match message {
            Message::Text(t) => Some(Self::text(t.clone())),
            Message::Binary(b) => Some(Self::binary(b.clone())),
            _ => None,
        }
    }

    fn encode(kind: MessageKind, payload: Bytes) -> Self {
        let plain = frame(kind, 0, &payload);
        PreparedFrame {
            kind,
            payload,
            plain,
            deflated: None,
        }
    }

    /// Also compresses it once (permessage-deflate, 15-bit window, no context), kept only if
    /// it is smaller than the plain frame.
    pub fn with_deflate(mut self) -> Self {
        let mut out = Vec::new();
        let mut compressor = Compressor::new(crate::deflate::DeflateConfig::new().level, 15);
        if compressor.compress(&self.payload, true, &mut out).is_ok() {
            let deflated = frame(self.kind, 0b100, &out);
            if deflated.len() < self.plain.len() {
                self.deflated = Some(deflated);
            }
        }
        self
    }

    /// Text or binary.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The message payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The plain frame's bytes (header and payload).
    pub fn plain(&self) -> &Bytes {
        &self.plain
    }

    /// The compressed frame's bytes, if [`with_deflate`](Self::with_deflate) made one.
    pub fn deflated(&self) -> Option<&Bytes> {
        self.deflated.as_ref()
    }
}

/// One unmasked frame with FIN set.
fn frame(kind: MessageKind, rsv: u8, payload: &[u8]) -> Bytes {
    let header = FrameHeader {
        fin: true,
        rsv,
        opcode: match kind {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        },
        mask: None,
        payload_len: payload.len() as u64,
    };
    let mut head = [0u8; FrameHeader::MAX_LEN];
    let n = header.encode(&mut head);
    let mut out = Vec::with_capacity(n + payload.len());
    out.extend_from_slice(head.get(..n).unwrap_or_default());
    out.extend_from_slice(payload);
    Bytes::from(out)
}
