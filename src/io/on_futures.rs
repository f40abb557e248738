//! The futures-io adapter (feature `futures-io`, alias `async-std`): for smol, async-std and
//! any runtime whose streams implement `futures_io::AsyncRead + AsyncWrite`.
//!
//! futures-io has no way to open a TCP connection, so [`connect`] takes a connector (any
//! `FnMut(Target) -> Future<Output = io::Result<S>>` that connects to
//! [`Target::address`], e.g. smol's `TcpStream::connect`; the proxy tunnel and TLS for
//! `wss://` are done over it), and [`connect_with`] a stream you connected. Timers use `futures-timer` and a
//! `std::time::Instant` epoch. All the logic is in [`crate::session`] and the executor
//! [`super::nonblocking`].
//!
//! ```no_run
//! # async fn run() -> Result<(), wsproto::io::Error> {
//! use futures_util::{SinkExt, StreamExt};
//! use wsproto::handshake::ClientOptions;
//! use wsproto::io::{Message, on_futures::connect};
//! let (mut ws, _response) = connect("ws://127.0.0.1:9001/", ClientOptions::default(), |t| {
//!     smol::net::TcpStream::connect(t.address())
//! })
//! .await?;
//! ws.send(Message::text("hello")).await?;
//! while let Some(message) = ws.next().await {
//!     println!("{:?}", message?);
//! }
//! # Ok(()) }
//! ```

#[cfg(feature = "rustls")]
use alloc::boxed::Box;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::io;

use futures_io::{AsyncRead, AsyncWrite};
use futures_timer::Delay;

use super::nonblocking::{self, PollIo};
use super::{AcceptAll, AcceptOptions, Callback, ConnectOptions, Error, Target};
use crate::handshake::{Accept, Request, Response};
use crate::session::Session;

/// A futures-io stream as [`PollIo`].
#[derive(Debug)]
pub struct FuturesIo<S> {
    stream: S,
}

impl<S> FuturesIo<S> {
    /// Wraps a stream.
    pub fn new(stream: S) -> Self {
        FuturesIo { stream }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> PollIo for FuturesIo<S> {
    type Stream = S;
    type Sleep = Delay;
    type Clock = std::time::Instant;

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        runs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, runs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_close(cx)
    }

    fn stream(&self) -> &S {
        &self.stream
    }

    fn clock() -> Self::Clock {
        std::time::Instant::now()
    }

    fn elapsed(start: Self::Clock) -> Duration {
        start.elapsed()
    }

    fn sleep(after: Duration) -> Delay {
        Delay::new(after)
    }

    fn reset(sleep: Pin<&mut Delay>, after: Duration) {
        sleep.get_mut().reset(after);
    }
}

/// A WebSocket over a futures-io stream (see [`nonblocking::WebSocket`] for its methods).
pub type WebSocket<S> = nonblocking::WebSocket<FuturesIo<S>>;
/// A byte stream over a WebSocket on this runtime (see [`ByteStream`](super::byte_stream::ByteStream)).
pub type ByteStream<S> = super::byte_stream::ByteStream<FuturesIo<S>>;
/// The receiving half of a [`WebSocket`].
pub type ReadHalf<S> = nonblocking::ReadHalf<FuturesIo<S>>;
/// The sending half of a [`WebSocket`].
pub type WriteHalf<S> = nonblocking::WriteHalf<FuturesIo<S>>;

/// Connects: `open(target)` opens the transport for each attempt (the URL and each redirect
/// followed) to [`Target::address`] (the proxy, if [`ConnectOptions::proxy`] is set; else the
/// URL's host and port); then come the proxy tunnel, TLS for `wss://` (feature `rustls`, with
/// the URL's host as the server name; without it `wss://` fails with
/// [`Error::TlsRequired`]) and the opening handshake, all within the handshake timeout.
pub async fn connect<S, C, Fut>(
    url: &str,
    options: impl Into<ConnectOptions>,
    mut open: C,
) -> Result<(WebSocket<ClientStream<S>>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: FnMut(Target) -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    let options = options.into();
    #[cfg(feature = "rustls")]
    let tls = options.get_tls().cloned();
    nonblocking::connect_via(url, options, |target| {
        let opened = open(target.clone());
        #[cfg(feature = "rustls")]
        let tls = tls.clone();
        async move {
            #[cfg(not(feature = "rustls"))]
            if target.tls {
                return Err(Error::TlsRequired(target.url));
            }
            let mut io = FuturesIo::new(opened.await?);
            nonblocking::open_tunnel(&mut io, &target).await?;
            if !target.tls {
                return Ok(FuturesIo::new(ClientStream::Plain(io.stream)));
            }
            #[cfg(feature = "rustls")]
            {
                let config = match tls {
                    Some(config) => config,
                    None => crate::tls::default_client_config()?,
                };
                let name = crate::tls::server_name(&target.host)?;
                let tls = futures_rustls::TlsConnector::from(config)
                    .connect(name, io.stream)
                    .await
                    .map_err(crate::tls::handshake_error)?;
                Ok(FuturesIo::new(ClientStream::Tls(Box::new(tls))))
            }
            #[cfg(not(feature = "rustls"))]
            Err(Error::TlsRequired(target.url))
        }
    })
    .await
}

/// The stream under a client from [`connect`]: yours for `ws://`, TLS over it for `wss://`.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientStream<S> {
    /// `ws://` (through a proxy: the tunnel).
    Plain(S),
    /// `wss://` (feature `rustls`).
    #[cfg(feature = "rustls")]
    Tls(Box<futures_rustls::client::TlsStream<S>>),
}

impl<S> ClientStream<S> {
    /// The stream your connector opened.
    pub fn inner(&self) -> &S {
        match self {
            ClientStream::Plain(s) => s,
            #[cfg(feature = "rustls")]
            ClientStream::Tls(tls) => tls.get_ref().0,
        }
    }

    /// Whether this is TLS.
    pub fn is_tls(&self) -> bool {
        !matches!(self, ClientStream::Plain(_))
    }
}

/// `$call` on whichever stream `$self` holds.
macro_rules! each_stream {
    ($self:ident, $s:ident => $call:expr) => {
        match $self.get_mut() {
            ClientStream::Plain($s) => $call,
            #[cfg(feature = "rustls")]
            ClientStream::Tls($s) => $call,
        }
    };
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for ClientStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for ClientStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self, s => Pin::new(s).poll_close(cx))
    }
}

/// Runs the client handshake over a stream you connected (TCP for `ws://`, TLS for
/// `wss://`). No redirects (a redirect is returned as an error with the response).
pub async fn connect_with<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    url: &str,
    options: impl Into<ConnectOptions>,
) -> Result<(WebSocket<S>, Response), Error> {
    nonblocking::connect_with(FuturesIo::new(stream), url, options).await
}

/// Connects with your connector for each attempt (the URL and each redirect followed), with
/// the adapter's error type.
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
    nonblocking::connect_via(url, options, |target| {
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

/// Accepts a WebSocket on a stream, asking `callback` about the request (now or later). Set
/// `TCP_NODELAY` and [`AcceptOptions::peer_addr`] yourself: futures-io streams do not expose
/// the socket.
pub async fn accept_with<S: AsyncRead + AsyncWrite + Unpin, C: Callback>(
    stream: S,
    options: impl Into<AcceptOptions>,
    callback: C,
) -> Result<WebSocket<S>, Error> {
    nonblocking::accept_with(FuturesIo::new(stream), options, callback).await
}

/// Runs a session over a stream whose handshake was done elsewhere, or a raw one.
pub fn from_session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    session: Session,
) -> WebSocket<S> {
    nonblocking::WebSocket::from_session(FuturesIo::new(stream), session)
}

/// Accepts a request that was already read from `stream` and parsed elsewhere (ws
/// `handleUpgrade`): the 101 response is written first, then the WebSocket runs.
pub fn accept_parsed<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    request: &Request,
    accept: Accept,
    config: crate::Config,
) -> Result<WebSocket<S>, Error> {
    nonblocking::accept_parsed(FuturesIo::new(stream), request, accept, config)
}
