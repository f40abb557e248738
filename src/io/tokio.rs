//! The tokio adapter (feature `tokio`): `connect`, `accept`, and a [`WebSocket`] that is a
//! `futures_core::Stream<Item = Result<Message, Error>>` and a `futures_sink::Sink<Message>`.
//!
//! Timers use `tokio::time` (so tests with `#[tokio::test(start_paused = true)]` run the close
//! timeout and keepalive in virtual time). All the logic is in [`super::asynch`]; this module
//! only adapts tokio's `AsyncRead`/`AsyncWrite` and `Sleep`.
//!
//! ```no_run
//! # async fn run() -> Result<(), wsproto::io::Error> {
//! use futures_util::{SinkExt, StreamExt};
//! use wsproto::handshake::ClientOptions;
//! use wsproto::io::{Message, tokio::connect};
//! let (mut ws, _response) = connect("ws://127.0.0.1:9001/", ClientOptions::default()).await?;
//! ws.send(Message::text("hello")).await?;
//! while let Some(message) = ws.next().await {
//!     println!("{:?}", message?);
//! }
//! # Ok(()) }
//! ```

use alloc::string::String;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::io;

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ::tokio::net::TcpStream;
use ::tokio::time::Sleep;

use super::asynch::{self, AsyncIo};
use super::{AcceptAll, AcceptOptions, Callback, ConnectOptions, Error, Target};
use crate::Connection;
use crate::handshake::Response;

/// A tokio stream with its clock epoch, as [`AsyncIo`].
#[derive(Debug)]
pub struct TokioIo<S> {
    stream: S,
    epoch: ::tokio::time::Instant,
}

impl<S> TokioIo<S> {
    /// Wraps a stream; its epoch is now.
    pub fn new(stream: S) -> Self {
        TokioIo {
            stream,
            epoch: ::tokio::time::Instant::now(),
        }
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncIo for TokioIo<S> {
    type Sleep = Sleep;

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn now(&self) -> crate::Instant {
        crate::Instant::from_duration(self.epoch.elapsed())
    }

    fn sleep(after: Duration) -> Sleep {
        ::tokio::time::sleep(after)
    }

    fn reset(sleep: Pin<&mut Sleep>, after: Duration) {
        sleep.reset(::tokio::time::Instant::now() + after);
    }
}

/// A WebSocket over a tokio stream (see [`asynch::WebSocket`] for its methods).
pub type WebSocket<S> = asynch::WebSocket<TokioIo<S>>;
/// The receiving half of a [`WebSocket`].
pub type ReadHalf<S> = asynch::ReadHalf<TokioIo<S>>;
/// The sending half of a [`WebSocket`].
pub type WriteHalf<S> = asynch::WriteHalf<TokioIo<S>>;

/// Connects to a `ws://` URL over TCP and runs the opening handshake. `options` is a
/// [`ClientOptions`](crate::handshake::ClientOptions) or a [`ConnectOptions`] (handshake
/// timeout, redirects). `wss://` fails with [`Error::TlsRequired`]: connect TLS yourself and
/// use [`connect_with`], or [`connect_via`] to follow redirects.
pub async fn connect(
    url: &str,
    options: impl Into<ConnectOptions>,
) -> Result<(WebSocket<TcpStream>, Response), Error> {
    asynch::connect_via(url, options, |target: Target| async move {
        if target.tls {
            return Err(Error::TlsRequired(target.url));
        }
        let stream = TcpStream::connect((target.host.as_str(), target.port)).await?;
        let _ = stream.set_nodelay(true);
        Ok(TokioIo::new(stream))
    })
    .await
}

/// Runs the client handshake over a stream you connected (e.g. TLS for `wss://`). No
/// redirects (a redirect is returned as an error with the response).
pub async fn connect_with<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    url: &str,
    options: impl Into<ConnectOptions>,
) -> Result<(WebSocket<S>, Response), Error> {
    asynch::connect_with(TokioIo::new(stream), url, options).await
}

/// Connects with your connector for each attempt (the URL and each redirect followed):
/// `connect(target)` returns the stream (TCP, TLS...).
pub async fn connect_via<S, C, Fut>(
    url: &str,
    options: impl Into<ConnectOptions>,
    mut connect: C,
) -> Result<(WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: FnMut(Target) -> Fut,
    Fut: Future<Output = Result<S, Error>>,
{
    asynch::connect_via(url, options, |target| {
        let fut = connect(target);
        async move { fut.await.map(TokioIo::new) }
    })
    .await
}

/// Accepts a WebSocket on a stream: every valid request is accepted with no subprotocol and
/// no extensions, within the default 10 s handshake timeout.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> Result<WebSocket<S>, Error> {
    accept_with(stream, AcceptOptions::default(), AcceptAll).await
}

/// Accepts a WebSocket on a stream: `callback` sees the request and accepts (subprotocol,
/// headers, extensions) or rejects it. `options` is a
/// [`ServerOptions`](crate::handshake::ServerOptions) or an [`AcceptOptions`] (handshake
/// timeout, 10 s by default).
pub async fn accept_with<S: AsyncRead + AsyncWrite + Unpin, C: Callback>(
    stream: S,
    options: impl Into<AcceptOptions>,
    callback: C,
) -> Result<WebSocket<S>, Error> {
    asynch::accept_with(TokioIo::new(stream), options, callback).await
}

/// Wraps a stream whose handshake was done elsewhere (hyper/axum upgrade after
/// [`accept_parsed`](crate::handshake::accept_parsed)), or a raw connection.
pub fn from_connection<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    conn: Connection,
    protocol: Option<String>,
) -> WebSocket<S> {
    asynch::WebSocket::from_connection(TokioIo::new(stream), conn, protocol)
}

/// Accepts a request that was already read from `stream` and parsed elsewhere
/// ([`Request::from_parts`](crate::handshake::Request::from_parts); ws `handleUpgrade`): the
/// 101 response is written first, then the WebSocket runs. An invalid request is an error
/// (answer it with [`HandshakeError::to_reject`](crate::handshake::HandshakeError::to_reject)).
/// If another HTTP server writes the 101 itself (hyper/axum), use `from_connection` with
/// [`handshake::accept_parsed`](crate::handshake::accept_parsed) instead.
pub fn accept_parsed<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    request: &crate::handshake::Request,
    accept: crate::handshake::Accept,
    config: crate::Config,
) -> Result<WebSocket<S>, Error> {
    let (conn, protocol) = super::upgrade_parsed(request, accept, config)?;
    Ok(asynch::WebSocket::from_connection(
        TokioIo::new(stream),
        conn,
        protocol,
    ))
}
