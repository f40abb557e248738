//! The opening handshake (RFC 6455 §4): HTTP/1.1 Upgrade, protocol versions 13 and 8, sans-IO.
//!
//! Bytes in, bytes out, no socket, like the [`Connection`](crate::Connection) it produces.
//!
//! * Client: [`ClientHandshake::new`] builds the request from a `ws://` / `wss://` URL and
//!   [`ClientOptions`]; write out [`ClientHandshake::poll_transmit`], feed the answer to
//!   [`ClientHandshake::receive`] until it is complete, then take the
//!   [`Connection`](crate::Connection) with [`ClientHandshake::into_connection`]. A non-101
//!   answer ends in [`HandshakeError::UnexpectedResponse`] carrying status, headers, body and
//!   `Location` (for redirects).
//! * Server: feed the request to [`ServerHandshake::receive`]; look at
//!   [`ServerHandshake::request`]; then [`ServerHandshake::accept`] (the 101 goes out through
//!   the connection's `poll_transmit`) or [`ServerHandshake::reject`]. Every invalid request
//!   gets a typed [`HandshakeError`] and a well-formed HTTP error response.
//! * A request another HTTP server already parsed (hyper, axum): [`Request::from_parts`] and
//!   [`accept_parsed`]; with the `http` feature, conversions from `http::Request` and to
//!   `http::Response`.
//!
//! Parsing is incremental and linear: only newly received bytes are scanned for the end of the
//! header block and `httparse` runs once, on the complete block (tungstenite CVE-2023-43669
//! re-parsed a growing buffer from scratch). Header bytes and header count are capped.
//!
//! ```
//! use wsproto::handshake::accept_key;
//! assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//! ```
//!
//! Both sides in memory (a real driver moves these bytes over a socket):
//!
//! ```
//! use wsproto::handshake::{Accept, ClientHandshake, ClientOptions, ServerHandshake, ServerOptions};
//! use wsproto::{Event, Instant, Status};
//!
//! let now = Instant::ZERO;
//! let options = ClientOptions::new().protocol("chat").header("Cookie", "id=7");
//! let mut client = ClientHandshake::new("ws://example.com/room?id=1", options)?;
//! let mut server = ServerHandshake::new(ServerOptions::default());
//!
//! // Client -> server: the request, in chunks of any size.
//! let request = client.poll_transmit().to_vec();
//! client.advance_transmit(request.len());
//! assert_eq!(server.receive(&request)?, Status::Complete(()));
//!
//! // The application looks at the request, then accepts (or rejects with a status).
//! let req = server.request().unwrap();
//! assert_eq!((req.path(), req.query(), req.host()), ("/room", Some("id=1"), Some("example.com")));
//! assert_eq!(req.cookies().collect::<Vec<_>>(), [("id", "7")]);
//! let accept = Accept::new().protocol("chat").header("Set-Cookie", "seen=1");
//! let mut server_conn = server.accept(now, accept)?;
//! server_conn.send_text("welcome").unwrap();
//!
//! // Server -> client: the 101 is the first thing the connection transmits.
//! let response = server_conn.poll_transmit().to_vec();
//! server_conn.advance_transmit(response.len());
//! assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//! assert_eq!(client.receive(&response)?, Status::Complete(()));
//!
//! // Bytes that followed the 101 are already in the client's connection.
//! let (mut client_conn, response) = client.into_connection(now)?;
//! assert_eq!(response.protocol(), Some("chat"));
//! assert_eq!(client_conn.poll_event(), Ok(Some(Event::Text { data: "welcome", fin: true })));
//! # Ok::<(), wsproto::handshake::HandshakeError>(())
//! ```

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest as _, Sha1};

use crate::extension::ExtensionError;

mod client;
mod headers;
#[cfg(feature = "http")]
mod http;
mod proxy;
mod request;
mod response;
mod server;
mod url;

pub use client::{ClientHandshake, ClientOptions, ClientParts};
pub use proxy::{Proxy, Tunnel};
pub use request::{PlainRequest, Request};
pub use response::{
    Accept, HeaderEditor, Negotiated, Reject, ResponseParts, accept_parsed, negotiate,
};
pub use server::{ServerHandshake, ServerOptions, ServerParts};

/// The GUID of RFC 6455 §1.3, appended to the key before hashing.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key ++ GUID)) (RFC 6455 §4.2.2).
pub fn accept_key(key: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(key);
    h.update(GUID);
    BASE64.encode(h.finalize())
}

/// The WebSocket protocol version of the handshake (`Sec-WebSocket-Version`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 6455 (version 13), the default.
    #[default]
    V13,
    /// hybi-08 (version 8): `Sec-WebSocket-Origin` instead of `Origin`; the same framing and
    /// accept computation.
    V8,
}

impl Version {
    /// The header value, `"13"` or `"8"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::V13 => "13",
            Version::V8 => "8",
        }
    }

    /// The header naming the origin in this version.
    pub const fn origin_header(self) -> &'static str {
        match self {
            Version::V13 => "Origin",
            Version::V8 => "Sec-WebSocket-Origin",
        }
    }
}

/// One element of a `Sec-WebSocket-Extensions` header: a name and its parameters (values
/// unquoted).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ExtensionOffer {
    /// The extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// Parameters in order: `name` or `name=value`.
    pub params: Vec<(String, Option<String>)>,
}

impl ExtensionOffer {
    /// The parameters in the form [`Extension`](crate::Extension) negotiation takes.
    pub fn params(&self) -> Vec<crate::extension::ExtensionParam<'_>> {
        self.params
            .iter()
            .map(|(name, value)| crate::extension::ExtensionParam {
                name,
                value: value.as_deref(),
            })
            .collect()
    }
}

/// Why a handshake failed.
///
/// Server-side variants map to the HTTP status the server answers with
/// ([`HandshakeError::status`]); the response itself is already queued in
/// [`ServerHandshake::poll_transmit`] (or, for a pre-parsed request, build it with
/// [`HandshakeError::to_reject`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    // ---- both sides: the HTTP message ----
    /// The header block exceeded the byte cap (431 on the server).
    HeadersTooLarge,
    /// More header fields than the cap (431 on the server).
    TooManyHeaders,
    /// Not a valid HTTP/1.x request or response (400 on the server).
    Malformed(&'static str),
    /// The request uses HTTP/1.0 (400).
    UnsupportedHttpVersion,
    /// The method is not GET (405 with `Allow: GET`).
    MethodNotAllowed,
    /// No (or more than one) `Host` header (400).
    MissingHost,
    /// No `Upgrade: websocket` (400 on the server).
    MissingUpgrade,
    /// No `Upgrade` token in `Connection` (400 on the server).
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Key` is missing, repeated, or does not decode to 16 bytes (400).
    InvalidKey,
    /// `Sec-WebSocket-Version` is missing or not 13 / 8 (426 with `Sec-WebSocket-Version: 13, 8`).
    UnsupportedVersion,
    /// A malformed `Sec-WebSocket-Extensions` header (400 on the server).
    InvalidExtensionHeader,
    /// A malformed `Sec-WebSocket-Protocol` header (400 on the server).
    InvalidProtocolHeader,
    /// The peer closed the stream before the handshake completed.
    UnexpectedEof,

    // ---- client ----
    /// The URL is not a usable `ws://` / `wss://` URL.
    InvalidUrl(&'static str),
    /// The configuration has no entropy source for `Sec-WebSocket-Key` (set
    /// [`Config::random`](crate::Config::random)).
    NoEntropy,
    /// A header we were asked to send (or answer with) has an invalid name or value.
    InvalidHeader,
    /// The server answered with something other than 101: status, headers, body, `Location`.
    UnexpectedResponse(Box<Response>),
    /// The HTTP proxy refused the `CONNECT` tunnel (any answer but 2xx: 407 for missing or
    /// wrong credentials, 403 for a forbidden port...): status, reason, headers.
    ProxyRefused(Box<Response>),
    /// `Sec-WebSocket-Accept` is missing or wrong.
    AcceptMismatch,
    /// A subprotocol that was not offered was selected (client: by the server; server: by the
    /// application's [`Accept`]).
    ProtocolNotOffered,
    /// The server accepted an extension we did not offer (or twice).
    ExtensionNotOffered,
    /// An extension refused the server's parameters.
    Extension(ExtensionError),

    // ---- API misuse ----
    /// The call does not fit the handshake's state (e.g. accept before the request is complete).
    InvalidState,
}

impl HandshakeError {
    /// The HTTP status a server answers this error with, if it is a request error.
    pub fn status(&self) -> Option<u16> {
        use HandshakeError::*;
        match self {
            HeadersTooLarge | TooManyHeaders => Some(431),
            MethodNotAllowed => Some(405),
            UnsupportedVersion => Some(426),
            Malformed(_)
            | UnsupportedHttpVersion
            | MissingHost
            | MissingUpgrade
            | MissingConnectionUpgrade
            | InvalidKey
            | InvalidExtensionHeader
            | InvalidProtocolHeader => Some(400),
            _ => None,
        }
    }

    /// The error response a server sends for this error (`None` if it is not a request error):
    /// its status, `Allow: GET` for 405, `Sec-WebSocket-Version: 13, 8` for 426, and this error's
    /// message as a plain-text body.
    pub fn to_reject(&self) -> Option<Reject> {
        let status = self.status()?;
        let mut headers = Vec::new();
        match self {
            HandshakeError::MethodNotAllowed => {
                headers.push((String::from("Allow"), String::from("GET")))
            }
            HandshakeError::UnsupportedVersion => {
                headers.push((String::from("Sec-WebSocket-Version"), String::from("13, 8")));
            }
            _ => {}
        }
        let mut body = alloc::format!("{self}").into_bytes();
        body.push(b'\n');
        Some(Reject {
            status,
            reason: None,
            headers,
            body,
        })
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HandshakeError::*;
        match self {
            HeadersTooLarge => f.write_str("header block too large"),
            TooManyHeaders => f.write_str("too many header fields"),
            Malformed(what) => write!(f, "malformed HTTP message: {what}"),
            UnsupportedHttpVersion => f.write_str("HTTP/1.1 or later required"),
            MethodNotAllowed => f.write_str("method must be GET"),
            MissingHost => f.write_str("missing or repeated Host header"),
            MissingUpgrade => f.write_str("missing Upgrade: websocket"),
            MissingConnectionUpgrade => f.write_str("missing Connection: Upgrade"),
            InvalidKey => f.write_str("invalid Sec-WebSocket-Key"),
            UnsupportedVersion => f.write_str("unsupported Sec-WebSocket-Version"),
            InvalidExtensionHeader => f.write_str("malformed Sec-WebSocket-Extensions"),
            InvalidProtocolHeader => f.write_str("malformed Sec-WebSocket-Protocol"),
            UnexpectedEof => f.write_str("stream ended during the handshake"),
            InvalidUrl(what) => write!(f, "invalid WebSocket URL: {what}"),
            NoEntropy => f.write_str("no entropy source for Sec-WebSocket-Key"),
            InvalidHeader => f.write_str("invalid header name or value"),
            UnexpectedResponse(r) => {
                write!(f, "unexpected HTTP response: {} {}", r.status, r.reason)
            }
            ProxyRefused(r) => {
                write!(f, "the proxy refused the tunnel: {} {}", r.status, r.reason)
            }
            AcceptMismatch => f.write_str("missing or wrong Sec-WebSocket-Accept"),
            ProtocolNotOffered => f.write_str("subprotocol was not offered"),
            ExtensionNotOffered => f.write_str("extension was not offered"),
            Extension(e) => write!(f, "extension negotiation failed: {e}"),
            InvalidState => f.write_str("call out of order for the handshake state"),
        }
    }
}

impl core::error::Error for HandshakeError {}

/// A server's HTTP response, as the client received it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// All header fields in order, names as received.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body that arrived (non-101 only), at most
    /// [`ClientOptions::max_response_bytes`] bytes; chunked encoding is not decoded.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header with this name (case-insensitive), if its value is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| core::str::from_utf8(v).ok())
    }

    /// `Location`, for redirects.
    pub fn location(&self) -> Option<&str> {
        self.header("Location")
    }

    /// The subprotocol the server selected (`Sec-WebSocket-Protocol`).
    pub fn protocol(&self) -> Option<&str> {
        self.header("Sec-WebSocket-Protocol").map(str::trim)
    }
}

/// Finds the end of an HTTP header block in a stream of chunks, scanning every byte once, and
/// keeps the block (at most `limit` bytes).
#[derive(Debug)]
pub(crate) struct HeadReader {
    buf: Vec<u8>,
    /// 0: inside a line; 1: just after LF; 2: after LF CR.
    state: u8,
    limit: usize,
}

impl HeadReader {
    pub(crate) fn new(limit: usize) -> Self {
        HeadReader {
            buf: Vec::new(),
            state: 0,
            limit,
        }
    }

    /// Takes bytes of the head from `input`. `Ok(Some(n))`: the head is complete and is the
    /// first `n` bytes of `input` plus what came before; `Ok(None)`: all of `input` was taken and
    /// more is needed. The end is an empty line (`\r\n\r\n`, or bare LFs as httparse accepts).
    pub(crate) fn feed(&mut self, input: &[u8]) -> Result<Option<usize>, HandshakeError> {
        let room = self.limit.saturating_sub(self.buf.len());
        let mut end = None;
        for (i, &b) in input.iter().take(room).enumerate() {
            self.state = match (self.state, b) {
                (1 | 2, b'\n') => {
                    end = Some(i + 1);
                    break;
                }
                (_, b'\n') => 1,
                (1, b'\r') => 2,
                _ => 0,
            };
        }
        match end {
            Some(n) => {
                self.buf.extend_from_slice(input.get(..n).unwrap_or(input));
                Ok(Some(n))
            }
            None if input.len() > room => Err(HandshakeError::HeadersTooLarge),
            None => {
                self.buf.extend_from_slice(input);
                Ok(None)
            }
        }
    }

    pub(crate) fn head(&self) -> &[u8] {
        &self.buf
    }

    /// httparse header slots for this head: `max`, but never more than the head could hold.
    pub(crate) fn header_slots(&self, max: usize) -> Vec<httparse::Header<'static>> {
        alloc::vec![httparse::EMPTY_HEADER; max.min(self.buf.len() / 3 + 1)]
    }
}

/// Maps an httparse error on a complete head.
pub(crate) fn map_httparse(e: httparse::Error) -> HandshakeError {
    match e {
        httparse::Error::TooManyHeaders => HandshakeError::TooManyHeaders,
        httparse::Error::Version => HandshakeError::Malformed("bad HTTP version"),
        httparse::Error::HeaderName => HandshakeError::Malformed("bad header name"),
        httparse::Error::HeaderValue => HandshakeError::Malformed("bad header value"),
        httparse::Error::Token => HandshakeError::Malformed("bad token"),
        httparse::Error::Status => HandshakeError::Malformed("bad status"),
        httparse::Error::NewLine => HandshakeError::Malformed("bad line ending"),
    }
}

/// Whether a header may be written: a token name and a value without CR, LF or NUL.
pub(crate) fn valid_header(name: &str, value: &[u8]) -> bool {
    headers::is_token(name.as_bytes()) && headers::is_valid_value(value)
}

/// Appends `Name: value\r\n`.
pub(crate) fn write_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The standard reason phrase of a status we are likely to send.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Case-insensitive lookup of every value of a header.
pub(crate) fn values<'a, 'h>(
    headers: &'a [(String, Vec<u8>)],
    name: &'h str,
) -> impl Iterator<Item = &'a [u8]> + use<'a, 'h> {
    matching(
        headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())),
        name,
    )
}

/// The values of the fields named `name` (case-insensitive), in order.
pub(crate) fn matching<'a, 'h, I>(
    fields: I,
    name: &'h str,
) -> impl Iterator<Item = &'a [u8]> + use<'a, 'h, I>
where
    I: Iterator<Item = (&'a str, &'a [u8])>,
{
    fields
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Copies httparse's headers into owned pairs.
pub(crate) fn own_headers(headers: &[httparse::Header<'_>]) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|h| (String::from(h.name), Vec::from(h.value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_accept_vector() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    fn feed_all(r: &mut HeadReader, chunks: &[&[u8]]) -> Result<Option<usize>, HandshakeError> {
        let mut last = Ok(None);
        for c in chunks {
            last = r.feed(c);
            if !matches!(last, Ok(None)) {
                break;
            }
        }
        last
    }

    #[test]
    fn head_reader_finds_the_end_across_chunks() {
        let mut r = HeadReader::new(100);
        assert_eq!(
            feed_all(&mut r, &[b"GET / HTTP/1.1\r", b"\nA: b\r\n\r", b"\nrest"]),
            Ok(Some(1))
        );
        assert_eq!(r.head(), b"GET / HTTP/1.1\r\nA: b\r\n\r\n");
        let mut r = HeadReader::new(100);
        assert_eq!(r.feed(b"GET / HTTP/1.1\nA: b\n\nxx"), Ok(Some(21)));
        let mut r = HeadReader::new(100);
        assert_eq!(r.feed(b"a\r\r\n\r\r\n"), Ok(None));
        assert_eq!(r.feed(b"\r\n"), Ok(Some(2)));
    }

    #[test]
    fn head_reader_caps_bytes() {
        let mut r = HeadReader::new(10);
        assert_eq!(r.feed(b"0123456\r\n"), Ok(None));
        assert_eq!(r.feed(b"\r\n"), Err(HandshakeError::HeadersTooLarge));
        let mut r = HeadReader::new(11);
        assert_eq!(r.feed(b"0123456\r\n"), Ok(None));
        assert_eq!(r.feed(b"\r\nmore"), Ok(Some(2)));
        let mut r = HeadReader::new(4);
        assert_eq!(r.feed(b"\r\n\r\n"), Ok(Some(4)));
    }
}
