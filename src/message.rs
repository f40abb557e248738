//! Owned messages for adapters and applications that want them (no_std + alloc).
//!
//! The core lends [`Event`]s that borrow the connection's buffers; a [`Message`] owns its data,
//! the way tungstenite's `Message` does, so it can be sent to another task or kept around. The
//! adapters in [`crate::io`] yield and take `Message`s; a hand-written driver can use
//! [`MessageReader`] to turn events into messages, and [`Message::queue`] to send them.
//!
//! ```
//! use wsproto::message::{CloseFrame, Message};
//! use wsproto::CloseCode;
//! let m = Message::from("héllo");
//! assert!(m.is_text());
//! assert_eq!(m.as_bytes(), "héllo".as_bytes());
//! let c = Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "bye")));
//! assert!(c.is_close());
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::{CloseCode, Connection, Event, Instant, MessageKind, SendError, SendOptions};

/// An owned close code and reason (the owned twin of [`crate::CloseFrame`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason (at most 123 bytes of UTF-8 when sent).
    pub reason: String,
}

impl CloseFrame {
    /// A close frame with this code and reason.
    pub fn new(code: CloseCode, reason: impl Into<String>) -> Self {
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }
}

impl From<crate::CloseFrame<'_>> for CloseFrame {
    fn from(frame: crate::CloseFrame<'_>) -> Self {
        CloseFrame {
            code: frame.code,
            reason: String::from(frame.reason),
        }
    }
}

impl fmt::Display for CloseFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{} ({})", self.code, self.reason)
        }
    }
}

/// A piece of a message that is streamed rather than reassembled.
///
/// Received only with [`Config::assemble_messages(false)`](crate::Config::assemble_messages),
/// for messages that arrive in more than one piece: every piece but the last has `fin == false`.
/// Text pieces are split on character boundaries, so each `data` of a text message is valid
/// UTF-8 on its own.
///
/// Sent, a `Fragment` opens a message (the first one), continues it (same `kind`) or ends it
/// (`fin`), so a large message can go out without being held in memory whole. Text may then
/// split characters across fragments; the message as a whole must be UTF-8.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fragment {
    /// Text or binary: the same for every fragment of a message.
    pub kind: MessageKind,
    /// The payload of this piece.
    pub data: Vec<u8>,
    /// Whether this piece ends the message.
    pub fin: bool,
}

/// A WebSocket message with owned data.
///
/// Data messages are [`Text`](Message::Text) and [`Binary`](Message::Binary); with
/// [`Config::assemble_messages(false)`](crate::Config::assemble_messages) a message that
/// arrives in pieces is yielded as a sequence of [`Fragment`](Message::Fragment)s instead.
/// [`Close`](Message::Close) reports the peer's Close frame (`None` when it carried no status
/// code), or the end of the stream without one (code 1006, [`CloseCode::ABNORMAL`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// A whole text message.
    Text(String),
    /// A whole binary message.
    Binary(Vec<u8>),
    /// A ping (at most 125 bytes). With auto-pong on (the default) its pong is already queued.
    Ping(Vec<u8>),
    /// A pong (at most 125 bytes).
    Pong(Vec<u8>),
    /// A Close frame. Received: the peer's (our reply is already queued). Sent: starts the
    /// closing handshake (`None` sends 1000 with no reason).
    Close(Option<CloseFrame>),
    /// One piece of a streamed message (see [`Fragment`]).
    Fragment(Fragment),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Vec<u8>>) -> Self {
        Message::Binary(data.into())
    }

    /// Whether this is a whole text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// Whether this is a whole binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

    /// Whether this is a ping.
    pub fn is_ping(&self) -> bool {
        matches!(self, Message::Ping(_))
    }

    /// Whether this is a pong.
    pub fn is_pong(&self) -> bool {
        matches!(self, Message::Pong(_))
    }

    /// Whether this is a Close.
    pub fn is_close(&self) -> bool {
        matches!(self, Message::Close(_))
    }

    /// Whether this carries application data (text, binary or a fragment).
    pub fn is_data(&self) -> bool {
        matches!(
            self,
            Message::Text(_) | Message::Binary(_) | Message::Fragment(_)
        )
    }

    /// The payload length in bytes (a Close counts its reason plus the two code bytes).
    pub fn len(&self) -> usize {
        match self {
            Message::Text(s) => s.len(),
            Message::Binary(d) | Message::Ping(d) | Message::Pong(d) => d.len(),
            Message::Close(None) => 0,
            Message::Close(Some(f)) => 2 + f.reason.len(),
            Message::Fragment(f) => f.data.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The payload as bytes (a Close gives its reason).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(s) => s.as_bytes(),
            Message::Binary(d) | Message::Ping(d) | Message::Pong(d) => d,
            Message::Close(None) => &[],
            Message::Close(Some(f)) => f.reason.as_bytes(),
            Message::Fragment(f) => &f.data,
        }
    }

    /// The payload, owned (a Close gives its reason).
    pub fn into_data(self) -> Vec<u8> {
        match self {
            Message::Text(s) => s.into_bytes(),
            Message::Binary(d) | Message::Ping(d) | Message::Pong(d) => d,
            Message::Close(None) => Vec::new(),
            Message::Close(Some(f)) => f.reason.into_bytes(),
            Message::Fragment(f) => f.data,
        }
    }

    /// The text of a text message or a close reason; `None` for other messages or payloads
    /// that are not UTF-8.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(s) => Some(s),
            Message::Close(Some(f)) => Some(&f.reason),
            Message::Close(None) => Some(""),
            Message::Binary(d) | Message::Ping(d) | Message::Pong(d) => {
                core::str::from_utf8(d).ok()
            }
            Message::Fragment(f) => core::str::from_utf8(&f.data).ok(),
        }
    }

    /// Converts a borrowed event into an owned message. `whole` says whether a `fin` data event
    /// is a complete message (true with [`Config::assemble_messages`](crate::Config::assemble_messages)
    /// on, or when no earlier piece of this message was seen); otherwise data events become
    /// [`Message::Fragment`]s. [`MessageReader`] tracks `whole` for you.
    pub fn from_event(event: Event<'_>, whole: bool) -> Self {
        match event {
            Event::Text { data, fin: true } if whole => Message::Text(String::from(data)),
            Event::Binary { data, fin: true } if whole => Message::Binary(Vec::from(data)),
            Event::Text { data, fin } => Message::Fragment(Fragment {
                kind: MessageKind::Text,
                data: Vec::from(data.as_bytes()),
                fin,
            }),
            Event::Binary { data, fin } => Message::Fragment(Fragment {
                kind: MessageKind::Binary,
                data: Vec::from(data),
                fin,
            }),
            Event::Ping(d) => Message::Ping(Vec::from(d)),
            Event::Pong(d) => Message::Pong(Vec::from(d)),
            Event::Close(frame) if frame.code == CloseCode::NO_STATUS => Message::Close(None),
            Event::Close(frame) => Message::Close(Some(frame.into())),
        }
    }

    /// Queues this message on a connection: text, binary, ping, pong, a fragment
    /// ([`Connection::send_fragment`]), or Close (starts the closing handshake at `now`).
    pub fn queue(&self, conn: &mut Connection, now: Instant) -> Result<(), SendError> {
        self.queue_with(conn, now, SendOptions::new())
    }

    /// [`queue`](Message::queue) with per-message options (compression).
    pub fn queue_with(
        &self,
        conn: &mut Connection,
        now: Instant,
        options: SendOptions,
    ) -> Result<(), SendError> {
        match self {
            Message::Text(s) => conn.send_message(MessageKind::Text, s.as_bytes(), options),
            Message::Binary(d) => conn.send_message(MessageKind::Binary, d, options),
            Message::Ping(d) => conn.send_ping(d),
            Message::Pong(d) => conn.send_pong(d),
            Message::Close(None) => conn.close(now, CloseCode::NORMAL, ""),
            Message::Close(Some(f)) => conn.close(now, f.code, &f.reason),
            Message::Fragment(f) => conn.send_fragment(f.kind, &f.data, f.fin, options),
        }
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::Text(s)
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Message::Text(String::from(s))
    }
}

impl From<Vec<u8>> for Message {
    fn from(d: Vec<u8>) -> Self {
        Message::Binary(d)
    }
}

impl From<&[u8]> for Message {
    fn from(d: &[u8]) -> Self {
        Message::Binary(Vec::from(d))
    }
}

/// Turns a connection's events into owned [`Message`]s, keeping track of streamed messages.
///
/// With [`Config::assemble_messages`](crate::Config::assemble_messages) on, every data event is
/// a whole message. With it off, a message that arrives in one piece still comes out as
/// [`Message::Text`]/[`Message::Binary`], and one that arrives in several pieces as a sequence
/// of [`Message::Fragment`]s ending with `fin`.
///
/// ```no_run
/// # fn f(conn: &mut wsproto::Connection) -> Result<(), wsproto::Error> {
/// use wsproto::message::MessageReader;
/// let mut reader = MessageReader::new();
/// while let Some(message) = reader.next(conn)? {
///     println!("{message:?}");
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct MessageReader {
    in_message: bool,
}

impl MessageReader {
    /// A reader between messages.
    pub const fn new() -> Self {
        MessageReader { in_message: false }
    }

    /// Converts one event, updating the streaming state.
    pub fn convert(&mut self, event: Event<'_>) -> Message {
        let whole = !self.in_message;
        match event {
            Event::Text { fin, .. } | Event::Binary { fin, .. } => self.in_message = !fin,
            _ => {}
        }
        Message::from_event(event, whole)
    }

    /// The next event of `conn`, owned; `Ok(None)` when there is none right now.
    pub fn next(&mut self, conn: &mut Connection) -> Result<Option<Message>, crate::Error> {
        Ok(conn.poll_event()?.map(|event| self.convert(event)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CloseFrame as Borrowed;
    use alloc::{format, vec};

    #[test]
    fn events_become_messages() {
        let mut r = MessageReader::new();
        assert_eq!(
            r.convert(Event::Text {
                data: "hé",
                fin: true
            }),
            Message::Text("hé".into())
        );
        assert_eq!(
            r.convert(Event::Binary {
                data: &[1, 2],
                fin: true
            }),
            Message::Binary(vec![1, 2])
        );
        assert_eq!(r.convert(Event::Ping(b"p")), Message::Ping(b"p".to_vec()));
        assert_eq!(r.convert(Event::Pong(b"")), Message::Pong(Vec::new()));
        assert_eq!(
            r.convert(Event::Close(Borrowed {
                code: CloseCode::NO_STATUS,
                reason: ""
            })),
            Message::Close(None)
        );
        assert_eq!(
            r.convert(Event::Close(Borrowed {
                code: CloseCode::from(4001),
                reason: "x"
            })),
            Message::Close(Some(CloseFrame::new(CloseCode::from(4001), "x")))
        );
    }

    #[test]
    fn streamed_pieces_become_fragments() {
        let mut r = MessageReader::new();
        let frag = |kind, data: &[u8], fin| {
            Message::Fragment(Fragment {
                kind,
                data: data.to_vec(),
                fin,
            })
        };
        assert_eq!(
            r.convert(Event::Text {
                data: "ab",
                fin: false
            }),
            frag(MessageKind::Text, b"ab", false)
        );
        // A control frame in the middle does not end the message.
        assert_eq!(r.convert(Event::Ping(b"")), Message::Ping(Vec::new()));
        assert_eq!(
            r.convert(Event::Text {
                data: "c",
                fin: false
            }),
            frag(MessageKind::Text, b"c", false)
        );
        assert_eq!(
            r.convert(Event::Text {
                data: "",
                fin: true
            }),
            frag(MessageKind::Text, b"", true)
        );
        // The next single-piece message is whole again.
        assert_eq!(
            r.convert(Event::Binary {
                data: &[7],
                fin: true
            }),
            Message::Binary(vec![7])
        );
        assert_eq!(
            r.convert(Event::Binary {
                data: &[7],
                fin: false
            }),
            frag(MessageKind::Binary, &[7], false)
        );
        assert_eq!(
            r.convert(Event::Binary {
                data: &[8],
                fin: true
            }),
            frag(MessageKind::Binary, &[8], true)
        );
    }

    #[test]
    fn accessors() {
        let m = Message::from(&b"abc"[..]);
        assert!(m.is_binary() && m.is_data() && !m.is_text());
        assert_eq!(m.len(), 3);
        assert_eq!(m.as_text(), Some("abc"));
        assert_eq!(m.clone().into_data(), b"abc".to_vec());
        let c = Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "bye")));
        assert_eq!(c.len(), 5);
        assert_eq!(c.as_text(), Some("bye"));
        assert!(Message::Close(None).is_empty());
        assert_eq!(
            format!("{}", CloseFrame::new(CloseCode::NORMAL, "")),
            "1000"
        );
        assert_eq!(
            format!("{}", CloseFrame::new(CloseCode::NORMAL, "x")),
            "1000 (x)"
        );
    }
}
