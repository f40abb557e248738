//! The error of a session and of every adapter: transport, handshake and connection errors in
//! one enum (no_std; the `Io` variant comes with the `std` feature).

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;
#[cfg(feature = "std")]
use std::io;

use crate::handshake::{HandshakeError, Response};
use crate::{CloseCode, SendError};

/// Why an adapter operation failed.
///
/// A normal close is not an error: it is a [`Message::Close`](crate::message::Message::Close)
/// followed by the end of the stream, and neither is a connection the application ended on
/// purpose (`terminate`). With `std`, every variant converts into a [`std::io::Error`] (with
/// this error as its source), so `?` works in functions returning `io::Result`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (connect, read, write).
    #[cfg(feature = "std")]
    Io(io::Error),
    /// The transport failed (an executor without `std`).
    Transport(Box<dyn core::error::Error + Send + Sync>),
    /// The opening handshake failed. For a client that got an answer other than 101, the
    /// answer is in [`HandshakeError::UnexpectedResponse`] (see [`Error::response`]).
    Handshake(HandshakeError),
    /// The opening handshake did not complete within the handshake timeout.
    HandshakeTimeout,
    /// Server: the accept callback rejected the request with this HTTP status (the response
    /// was sent).
    Rejected(u16),
    /// Server: the request was plain HTTP, not an upgrade, and was answered with this status
    /// ([`AcceptOptions::plain_http`](crate::session::AcceptOptions::plain_http)).
    PlainHttp(u16),
    /// Client: the URL needs TLS (`wss://`) and this build has no TLS (feature `rustls`), or
    /// the connector supplied none: enable `rustls`, or connect the TLS stream yourself and use
    /// the adapter's `connect_with`. The URL is given.
    TlsRequired(String),
    /// TLS failed (feature `rustls`): an untrusted or expired certificate, a certificate not
    /// valid for the host name, a handshake alert... Nothing was sent over the connection.
    #[cfg(feature = "rustls")]
    Tls(rustls::Error),
    /// Client: a redirect pointed to a URL the client cannot follow (unknown scheme, no
    /// `Location`, a relative location it cannot resolve). The response is given.
    BadRedirect(Box<Response>),
    /// Client: more redirects than allowed (redirects are off by default). The last redirect
    /// response is given.
    TooManyRedirects(Box<Response>),
    /// The connection failed after the handshake: the peer broke the protocol or a timer ran
    /// out (our Close frame, if any, was sent).
    Connection(crate::Error),
    /// A message could not be sent (for example after the closing handshake started).
    Send(SendError),
    /// The application used the API in a way that cannot work (see [`Misuse`]).
    Misuse(Misuse),
}

/// Ways the application can misuse a WebSocket; each is a bug in the caller, not a network
/// condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misuse {
    /// Reading was paused ([`pause`](crate::session::Session::pause)) and the blocking adapter
    /// was asked for a message: it would wait forever.
    ReceiveWhilePaused,
    /// The handshake state machine was driven after it finished, or out of order.
    HandshakeOver,
}

impl fmt::Display for Misuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Misuse::ReceiveWhilePaused => "receive called while reading is paused",
            Misuse::HandshakeOver => "the handshake was driven after it finished",
        })
    }
}

impl Error {
    /// The HTTP response of a failed client handshake (non-101 answer, redirect not
    /// followed), if that is what failed.
    pub fn response(&self) -> Option<&Response> {
        match self {
            Error::Handshake(
                HandshakeError::UnexpectedResponse(r) | HandshakeError::ProxyRefused(r),
            )
            | Error::BadRedirect(r)
            | Error::TooManyRedirects(r) => Some(r),
            _ => None,
        }
    }

    /// The close code sent to the peer for a failed connection.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Connection(e) => Some(e.close_code()),
            _ => None,
        }
    }

    /// The [`io::ErrorKind`] this error maps to in `From<Error> for io::Error`.
    #[cfg(feature = "std")]
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::Io(e) => e.kind(),
            Error::Transport(_) => io::ErrorKind::Other,
            Error::Misuse(_) => io::ErrorKind::InvalidInput,
            Error::HandshakeTimeout => io::ErrorKind::TimedOut,
            Error::Connection(crate::Error::TimedOut(_)) => io::ErrorKind::TimedOut,
            Error::Connection(_) => io::ErrorKind::InvalidData,
            Error::Handshake(
                HandshakeError::UnexpectedResponse(_) | HandshakeError::ProxyRefused(_),
            )
            | Error::Rejected(_)
            | Error::PlainHttp(_)
            | Error::TooManyRedirects(_)
            | Error::BadRedirect(_) => io::ErrorKind::ConnectionRefused,
            Error::Handshake(_) => io::ErrorKind::InvalidData,
            Error::TlsRequired(_) => io::ErrorKind::Unsupported,
            #[cfg(feature = "rustls")]
            Error::Tls(_) => io::ErrorKind::InvalidData,
            Error::Send(SendError::Closed) => io::ErrorKind::NotConnected,
            Error::Send(SendError::Full) => io::ErrorKind::WouldBlock,
            Error::Send(_) => io::ErrorKind::InvalidInput,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "std")]
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Transport(e) => write!(f, "transport error: {e}"),
            Error::Misuse(m) => write!(f, "API misuse: {m}"),
            Error::Handshake(e) => write!(f, "handshake failed: {e}"),
            Error::HandshakeTimeout => f.write_str("handshake timed out"),
            Error::Rejected(status) => write!(f, "handshake rejected with HTTP {status}"),
            Error::PlainHttp(status) => write!(f, "plain HTTP request answered with {status}"),
            Error::TlsRequired(url) => {
                write!(
                    f,
                    "{url} needs TLS: enable the rustls feature, or connect a TLS stream and use connect_with"
                )
            }
            #[cfg(feature = "rustls")]
            Error::Tls(e) => write!(f, "TLS failed: {e}"),
            Error::BadRedirect(r) => write!(f, "cannot follow redirect (HTTP {})", r.status),
            Error::TooManyRedirects(r) => write!(f, "too many redirects (last HTTP {})", r.status),
            Error::Connection(e) => write!(f, "connection failed: {e}"),
            Error::Send(e) => write!(f, "cannot send: {e}"),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            #[cfg(feature = "std")]
            Error::Io(e) => Some(e),
            Error::Transport(e) => Some(&**e),
            Error::Handshake(e) => Some(e),
            Error::Connection(e) => Some(e),
            Error::Send(e) => Some(e),
            #[cfg(feature = "rustls")]
            Error::Tls(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(feature = "std")]
impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Error::Handshake(e)
    }
}

impl From<crate::Error> for Error {
    fn from(e: crate::Error) -> Self {
        Error::Connection(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        Error::Send(e)
    }
}

#[cfg(feature = "std")]
impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            other => io::Error::new(other.kind(), other),
        }
    }
}
