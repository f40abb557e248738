//! The futures-io adapter (feature `futures-io`, alias `async-std`): for smol, async-std and
//! any runtime whose streams implement `futures_io::AsyncRead + AsyncWrite`.
//!
//! futures-io has no way to open a TCP connection, so the client runs over a stream you
//! connected ([`connect_with`]) or a connector ([`connect_via`]). Timers use `futures-timer`
//! and a `std::time::Instant` epoch. All the logic is in [`super::asynch`].
//!
//! ```no_run
//! # async fn run() -> Result<(), wsproto::io::Error> {
//! use futures_util::{SinkExt, StreamExt};
//! use wsproto::handshake::ClientOptions;
//! use wsproto::io::{Message, futures::connect_with};
//! let tcp = smol::net::TcpStream::connect("127.0.0.1:9001").await?;
//! let (mut ws, _response) = connect_with(tcp, "ws://127.0.0.1:9001/", ClientOptions::default()).await?;
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

use futures_io::{AsyncRead, AsyncWrite};
use futures_timer::Delay;

use super::asynch::{self, AsyncIo};
use super::{AcceptAll, AcceptOptions, Callback, ConnectOptions, Error, Target};
use crate::Connection;
use crate::handshake::Response;

/// A futures-io stream with its clock epoch, as [`AsyncIo`].
#[derive(Debug)]
pub struct FuturesIo<S> {
    stream: S,
    epoch: std::time::Instant,
}

impl<S> FuturesIo<S> {
    /// Wraps a stream; its epoch is now.
    pub fn new(stream: S) -> Self {
        FuturesIo {
            stream,
            epoch: std::time::Instant::now(),
        }
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncIo for FuturesIo<S> {
    type Sleep = Delay;

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_close(cx)
    }

    fn now(&self) -> crate::Instant {
        crate::Instant::from_duration(self.epoch.elapsed())
    }

    fn sleep(after: Duration) -> Delay {
        Delay::new(after)
    }

    fn reset(sleep: Pin<&mut Delay>, after: Duration) {
        sleep.get_mut().reset(after);
    }
}

/// A WebSocket over a futures-io stream (see [`asynch::WebSocket`] for its methods).
pub type WebSocket<S> = asynch::WebSocket<FuturesIo<S>>;
/// The receiving half of a [`WebSocket`].
pub type ReadHalf<S> = asynch::ReadHalf<FuturesIo<S>>;
/// The sending half of a [`WebSocket`].
pub type WriteHalf<S> = asynch::WriteHalf<FuturesIo<S>>;

/// Runs the client handshake over a stream you connected (TCP for `ws://`, TLS for
/// `wss://`). No redirects (a redirect is returned as an error with the response).
pub async fn connect_with<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    url: &str,
    options: impl Into<ConnectOptions>,
) -> Result<(WebSocket<S>, Response), Error> {
    asynch::connect_with(FuturesIo::new(stream), url, options).await
}

/// Connects with your connector for each attempt (the URL and each redirect followed).
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
        async move { fut.await.map(FuturesIo::new) }
    })
    .await
}

/// Accepts a WebSocket on a stream: every valid request, no subprotocol, no extensions,
/// default 10 s handshake timeout.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> Result<WebSocket<S>, Error> {
    accept_with(stream, AcceptOptions::default(), AcceptAll).await
}

/// Accepts a WebSocket on a stream, asking `callback` about the request.
pub async fn accept_with<S: AsyncRead + AsyncWrite + Unpin, C: Callback>(
    stream: S,
    options: impl Into<AcceptOptions>,
    callback: C,
) -> Result<WebSocket<S>, Error> {
    asynch::accept_with(FuturesIo::new(stream), options, callback).await
}

/// Wraps a stream whose handshake was done elsewhere, or a raw connection.
pub fn from_connection<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    conn: Connection,
    protocol: Option<String>,
) -> WebSocket<S> {
    asynch::WebSocket::from_connection(FuturesIo::new(stream), conn, protocol)
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
        FuturesIo::new(stream),
        conn,
        protocol,
    ))
}
