//! Owned messages (no_std + alloc), the unit the [`session`](crate::session) and the adapters
//! exchange with the application.
//!
//! The core lends [`Event`]s that borrow the connection's buffers; a [`Message`] owns its data
//! and clones without copying: binary payloads are [`Bytes`], text is [`Utf8Bytes`] (shared,
//! valid UTF-8 by construction). An echo or a broadcast hands the same buffer on: nothing is
//! copied and text is not validated again.
//!
//! ```
//! use wsproto::message::{CloseFrame, Message};
//! use wsproto::CloseCode;
//! let m = Message::text("héllo");
//! assert_eq!(m.as_text(), Some("héllo"));
//! let copy = m.clone(); // shares the buffer
//! assert_eq!(copy.into_text().as_deref(), Some("héllo"));
//! let c = Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "bye")));
//! assert!(c.is_close());
//! ```

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Deref;

pub use bytes::Bytes;
use bytes::BytesMut;

use crate::connection::pins_too_much;
use crate::{CloseCode, Connection, Event, Instant, MessageKind, SendError, SendOptions};

/// Shared, immutable, valid UTF-8 text: clones without copying.
///
/// Made from a `String` or `&str` (valid by construction), or checked from bytes with
/// [`Utf8Bytes::try_from`]. It dereferences to `str`.
///
/// ```
/// use wsproto::message::Utf8Bytes;
/// let t = Utf8Bytes::from("hé");
/// assert_eq!(t, "hé");
/// assert_eq!(t.len(), 3);
/// assert!(Utf8Bytes::try_from(vec![0xff]).is_err());
/// ```
#[derive(Clone)]
pub struct Utf8Bytes(Text);

/// Where the text lives.
#[derive(Clone)]
enum Text {
    /// Made from a `&str` or an `Arc<str>`: one allocation holds count and text.
    Str(Arc<str>),
    /// A `String` kept as it came (not copied), or the string a [`MessageReader`] reuses for
    /// the next text message once this one is dropped.
    String(Arc<String>),
}

impl Utf8Bytes {
    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Text::Str(s) => s,
            Text::String(s) => s,
        }
    }

    /// The text as shared bytes, without copying.
    pub fn into_bytes(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl Default for Utf8Bytes {
    fn default() -> Self {
        Utf8Bytes::from("")
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

impl PartialEq for Utf8Bytes {
    fn eq(&self, other: &Utf8Bytes) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Utf8Bytes {}

impl PartialOrd for Utf8Bytes {
    fn partial_cmp(&self, other: &Utf8Bytes) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Utf8Bytes {
    fn cmp(&self, other: &Utf8Bytes) -> core::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl core::hash::Hash for Utf8Bytes {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Utf8Bytes(Text::Str(Arc::from(s)))
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Utf8Bytes(Text::String(Arc::new(s)))
    }
}

impl From<&String> for Utf8Bytes {
    fn from(s: &String) -> Self {
        Utf8Bytes::from(s.as_str())
    }
}

impl From<Arc<str>> for Utf8Bytes {
    fn from(s: Arc<str>) -> Self {
        Utf8Bytes(Text::Str(s))
    }
}

/// Bytes that are not valid UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotUtf8;

impl fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not valid UTF-8")
    }
}

impl core::error::Error for NotUtf8 {}

impl TryFrom<Vec<u8>> for Utf8Bytes {
    type Error = NotUtf8;
    fn try_from(v: Vec<u8>) -> Result<Self, NotUtf8> {
        String::from_utf8(v)
            .map(Utf8Bytes::from)
            .map_err(|_| NotUtf8)
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = NotUtf8;
    fn try_from(b: Bytes) -> Result<Self, NotUtf8> {
        simdutf8::basic::from_utf8(&b)
            .map(Utf8Bytes::from)
            .map_err(|_| NotUtf8)
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Utf8Bytes {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Utf8Bytes> for &str {
    fn eq(&self, other: &Utf8Bytes) -> bool {
        *self == other.as_str()
    }
}

/// A close code and reason: sent, or received from the peer (the one close frame type;
/// [`Event::Close`] lends the same two fields).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason (at most 123 bytes of UTF-8 when sent).
    pub reason: Utf8Bytes,
}

impl CloseFrame {
    /// A close frame with this code and reason.
    pub fn new(code: CloseCode, reason: impl Into<Utf8Bytes>) -> Self {
        CloseFrame {
            code,
            reason: reason.into(),
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
    pub data: Bytes,
    /// Whether this piece ends the message.
    pub fin: bool,
}

/// A WebSocket message with owned, shared data.
///
/// Data messages are [`Text`](Message::Text) and [`Binary`](Message::Binary); with
/// [`Config::assemble_messages(false)`](crate::Config::assemble_messages) a message that
/// arrives in pieces is yielded as a sequence of [`Fragment`](Message::Fragment)s instead.
///
/// [`Close`](Message::Close): received, `Some` carries the peer's code and reason and `None`
/// means its Close frame had no status code (1005); the end of the stream without a Close
/// frame is `Some` with [`CloseCode::ABNORMAL`] (1006). Sent, `Some` sends that code and
/// reason and `None` sends a Close frame without a status code.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// A whole text message.
    Text(Utf8Bytes),
    /// A whole binary message.
    Binary(Bytes),
    /// A ping (at most 125 bytes). With auto-pong on (the default) its pong is already queued.
    Ping(Bytes),
    /// A pong (at most 125 bytes).
    Pong(Bytes),
    /// A Close frame (see the type's docs for `None`). Received: our reply is already queued.
    Close(Option<CloseFrame>),
    /// One piece of a streamed message (see [`Fragment`]).
    Fragment(Fragment),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Message::Binary(data.into())
    }

    /// A ping.
    pub fn ping(data: impl Into<Bytes>) -> Self {
        Message::Ping(data.into())
    }

    /// A pong.
    pub fn pong(data: impl Into<Bytes>) -> Self {
        Message::Pong(data.into())
    }

    /// A Close with this code and reason.
    pub fn close(code: CloseCode, reason: impl Into<Utf8Bytes>) -> Self {
        Message::Close(Some(CloseFrame::new(code, reason)))
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

    /// The payload as shared bytes, without copying (a Close gives its reason).
    pub fn into_data(self) -> Bytes {
        match self {
            Message::Text(s) => s.into_bytes(),
            Message::Binary(d) | Message::Ping(d) | Message::Pong(d) => d,
            Message::Close(None) => Bytes::new(),
            Message::Close(Some(f)) => f.reason.into_bytes(),
            Message::Fragment(f) => f.data,
        }
    }

    /// The text of a text message or a close reason, without copying; `None` otherwise.
    pub fn into_text(self) -> Option<Utf8Bytes> {
        match self {
            Message::Text(s) => Some(s),
            Message::Close(Some(f)) => Some(f.reason),
            Message::Close(None) => Some(Utf8Bytes::default()),
            _ => None,
        }
    }

    /// The text of a text message or a close reason; `None` otherwise.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(s) => Some(s),
            Message::Close(Some(f)) => Some(&f.reason),
            Message::Close(None) => Some(""),
            _ => None,
        }
    }

    /// Converts a borrowed event into an owned message (one copy of the payload). `whole` says
    /// whether a `fin` data event is a complete message (true with
    /// [`Config::assemble_messages`](crate::Config::assemble_messages) on, or when no earlier
    /// piece of this message was seen); otherwise data events become
    /// [`Message::Fragment`]s. [`MessageReader`] tracks `whole` for you.
    pub fn from_event(event: Event<'_>, whole: bool) -> Self {
        Self::convert(event, whole, Bytes::copy_from_slice, |d| Utf8Bytes::from(d))
    }

    /// [`from_event`](Message::from_event), with the payload bytes copied by `copy` and whole
    /// text messages by `text`.
    fn convert(
        event: Event<'_>,
        whole: bool,
        mut copy: impl FnMut(&[u8]) -> Bytes,
        text: impl FnOnce(&str) -> Utf8Bytes,
    ) -> Self {
        match event {
            Event::Text { data, fin: true } if whole => Message::Text(text(data)),
            Event::Binary { data, fin: true } if whole => Message::Binary(copy(data)),
            Event::Text { data, fin } => Message::Fragment(Fragment {
                kind: MessageKind::Text,
                data: copy(data.as_bytes()),
                fin,
            }),
            Event::Binary { data, fin } => Message::Fragment(Fragment {
                kind: MessageKind::Binary,
                data: copy(data),
                fin,
            }),
            Event::Ping(d) => Message::Ping(copy(d)),
            Event::Pong(d) => Message::Pong(copy(d)),
            Event::Close { code, .. } if code == CloseCode::NO_STATUS => Message::Close(None),
            Event::Close { code, reason } => Message::Close(Some(CloseFrame::new(code, reason))),
        }
    }

    /// Queues this message on a connection: text, binary, ping, pong, a fragment
    /// ([`Connection::send_fragment`]), or Close (starts the closing handshake at `now`).
    pub fn queue(&self, conn: &mut Connection, now: Instant) -> Result<(), SendError> {
        self.queue_with(conn, now, SendOptions::new())
    }

    /// [`queue`](Message::queue) with per-message options (compression). Text is not
    /// validated again: [`Utf8Bytes`] is valid by construction.
    pub fn queue_with(
        &self,
        conn: &mut Connection,
        now: Instant,
        options: SendOptions,
    ) -> Result<(), SendError> {
        match self {
            Message::Text(s) => conn.send_valid_text(s, options),
            Message::Binary(d) => conn.send_bytes(MessageKind::Binary, d, options),
            Message::Ping(d) => conn.send_ping(d),
            Message::Pong(d) => conn.send_pong(d),
            Message::Close(None) => conn.close(now, CloseCode::NO_STATUS, ""),
            Message::Close(Some(f)) => conn.close(now, f.code, &f.reason),
            Message::Fragment(f) => conn.send_fragment(f.kind, &f.data, f.fin, options),
        }
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::Text(s.into())
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Message::Text(s.into())
    }
}

impl From<Utf8Bytes> for Message {
    fn from(s: Utf8Bytes) -> Self {
        Message::Text(s)
    }
}

impl From<Vec<u8>> for Message {
    fn from(d: Vec<u8>) -> Self {
        Message::Binary(d.into())
    }
}

impl From<&[u8]> for Message {
    fn from(d: &[u8]) -> Self {
        Message::Binary(Bytes::copy_from_slice(d))
    }
}

impl From<Bytes> for Message {
    fn from(d: Bytes) -> Self {
        Message::Binary(d)
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
///
/// Binary payloads are copied into a buffer the reader keeps: each message is a [`Bytes`]
/// view of it, and once the application has dropped the messages it was given (an echo, a
/// relay), the next one reuses the same memory, so receiving allocates nothing in steady
/// state. While the application keeps a message, later ones take the rest of its buffer, then
/// a new buffer of their own size; a message never comes from a buffer over 64 KiB and four
/// times its size, so a kept message pins little more than its own bytes.
/// Whole text messages work the same way with a string: once the application has dropped the
/// last one, the next is copied into the same memory.
/// [`release_memory`](MessageReader::release_memory) gives the buffers back.
#[derive(Clone, Debug, Default)]
pub struct MessageReader {
    in_message: bool,
    staging: BytesMut,
    /// The last whole text message's string (shared with it while the application keeps it).
    text: Option<Arc<String>>,
}

impl MessageReader {
    /// A reader between messages.
    pub fn new() -> Self {
        MessageReader {
            in_message: false,
            staging: BytesMut::new(),
            text: None,
        }
    }

    /// Converts one event, updating the streaming state.
    pub fn convert(&mut self, event: Event<'_>) -> Message {
        let whole = !self.in_message;
        match event {
            Event::Text { fin, .. } | Event::Binary { fin, .. } => self.in_message = !fin,
            _ => {}
        }
        let staging = &mut self.staging;
        let text = &mut self.text;
        Message::convert(
            event,
            whole,
            |data| copy_into(staging, data),
            |data| text_into(text, data),
        )
    }

    /// The next event of `conn`, owned; `Ok(None)` when there is none right now. A large
    /// binary message that the connection assembled in memory of its own becomes the
    /// message's `Bytes` without a copy.
    pub fn next(&mut self, conn: &mut Connection) -> Result<Option<Message>, crate::Error> {
        Ok(conn.poll_owned()?.map(|polled| match polled {
            Ok(bytes) => Message::Binary(bytes),
            Err(event) => self.convert(event),
        }))
    }

    /// Heap bytes of the reader's own buffers (not counting messages handed out).
    pub fn buffer_capacity(&self) -> usize {
        let text = match &self.text {
            Some(s) if Arc::strong_count(s) == 1 => s.capacity(),
            _ => 0,
        };
        self.staging.capacity() + text
    }

    /// Gives the reader's buffers back (messages handed out keep their bytes).
    pub fn release_memory(&mut self) {
        self.staging = BytesMut::new();
        self.text = None;
    }
}

/// Copies `data` into `staging` and splits it off as a `Bytes`: the memory of earlier
/// messages is reused once they are all dropped, else a buffer of this message's size is
/// allocated. A small message never goes into a buffer that pins too much (if the
/// application kept it, it would pin all of that).
fn copy_into(staging: &mut BytesMut, data: &[u8]) -> Bytes {
    if data.is_empty() {
        return Bytes::new();
    }
    let reused = staging.try_reclaim(data.len());
    if !reused || pins_too_much(staging.capacity(), data.len()) {
        *staging = BytesMut::with_capacity(data.len());
    }
    staging.extend_from_slice(data);
    staging.split().freeze()
}

/// Copies a whole text message into the reader's string if the application has dropped the
/// last message made of it (and it does not pin too much), else into a new one, which the
/// reader keeps for the next message.
fn text_into(slot: &mut Option<Arc<String>>, data: &str) -> Utf8Bytes {
    if let Some(kept) = slot {
        if let Some(s) = Arc::get_mut(kept) {
            if !pins_too_much(s.capacity(), data.len()) {
                s.clear();
                s.push_str(data);
                return Utf8Bytes(Text::String(kept.clone()));
            }
        }
    }
    let s = Arc::new(String::from(data));
    *slot = Some(s.clone());
    Utf8Bytes(Text::String(s))
}

#[cfg(test)]
mod tests;
