//! The tokio adapter (feature `tokio`): `connect`, `accept`, and a [`WebSocket`] that is a
//! `futures_core::Stream<Item = Result<Message, Error>>` and a `futures_sink::Sink<Message>`.
//! Named `on_tokio` so that it never shadows the `tokio` crate in a user's imports.
//!
//! Timers use `tokio::time` (so tests with `#[tokio::test(start_paused = true)]` run the close
//! timeout and keepalive in virtual time). All the logic is in [`crate::session`] and the
//! executor [`super::nonblocking`]; this module only adapts tokio's `AsyncRead`/`AsyncWrite`
//! and `Sleep`.
//!
//! ```no_run
//! # async fn run() -> Result<(), wsproto::io::Error> {
//! use futures_util::{SinkExt, StreamExt};
//! use wsproto::handshake::ClientOptions;
//! use wsproto::io::{Message, on_tokio::connect};
//! let (mut ws, _response) = connect("ws://127.0.0.1:9001/", ClientOptions::default()).await?;
//! ws.send(Message::text("hello")).await?;
//! while let Some(message) = ws.next().await {
//!     println!("{:?}", message?);
//! }
//! # Ok(()) }
//! ```

#[cfg(feature = "rustls")]
use alloc::boxed::Box;
use core::any::Any;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::io;

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ::tokio::net::TcpStream;
use ::tokio::time::Sleep;
use bytes::{BufMut, BytesMut};

use super::nonblocking::{self, PollIo};
use super::{AcceptAll, AcceptOptions, Callback, ConnectOptions, Error, Target};
use crate::handshake::{Accept, Request, Response};
use crate::session::Session;

/// A tokio stream as [`PollIo`].
#[derive(Debug)]
pub struct TokioIo<S> {
    stream: S,
    write_through: bool,
}

impl<S> TokioIo<S> {
    /// Wraps a stream.
    pub fn new(stream: S) -> Self {
        TokioIo {
            stream,
            write_through: false,
        }
    }

    /// Wraps a stream, recognising a plain `TcpStream` (its flush does nothing, so the
    /// executor skips it).
    pub fn detect(stream: S) -> Self
    where
        S: 'static,
    {
        let write_through = (&stream as &dyn Any).is::<TcpStream>();
        TokioIo {
            stream,
            write_through,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> PollIo for TokioIo<S> {
    type Stream = S;
    type Sleep = Sleep;
    type Clock = ::tokio::time::Instant;

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

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        runs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, runs)
    }

    /// Into the spare capacity, through tokio's uninitialised-memory reads (tokio-util's
    /// `poll_read_buf`): no zero-fill.
    fn poll_read_owned(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut buf.limit(max))
    }

    fn reads_owned(&self) -> bool {
        true
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn stream(&self) -> &S {
        &self.stream
    }

    fn clock() -> Self::Clock {
        ::tokio::time::Instant::now()
    }

    fn elapsed(start: Self::Clock) -> Duration {
        start.elapsed()
    }

    fn sleep(after: Duration) -> Sleep {
        ::tokio::time::sleep(after)
    }

    fn reset(sleep: Pin<&mut Sleep>, after: Duration) {
        sleep.reset(::tokio::time::Instant::now() + after);
    }

    fn writes_through(&self) -> bool {
        self.write_through
    }
}

/// A WebSocket over a tokio stream (see [`nonblocking::WebSocket`] for its methods).
pub type WebSocket<S> = nonblocking::WebSocket<TokioIo<S>>;
/// A byte stream over a WebSocket on this runtime (see [`ByteStream`](super::byte_stream::ByteStream)).
pub type ByteStream<S> = super::byte_stream::ByteStream<TokioIo<S>>;
/// The receiving half of a [`WebSocket`].
pub type ReadHalf<S> = nonblocking::ReadHalf<TokioIo<S>>;
/// The sending half of a [`WebSocket`].
pub type WriteHalf<S> = nonblocking::WriteHalf<TokioIo<S>>;

/// Connects to a `ws://` or `wss://` URL and runs the opening handshake. `options` is a
/// [`ClientOptions`](crate::handshake::ClientOptions) or a [`ConnectOptions`] (handshake
/// timeout, redirects, [proxy](ConnectOptions::proxy), [TLS](crate::tls)).
///
/// TCP goes to each resolved address in turn (`localhost` may be `::1` and `127.0.0.1`) with
/// `TCP_NODELAY` on; then the proxy tunnel, if any; then, for `wss://`, TLS with the URL's
/// host as the server name (feature `rustls`; without it `wss://` fails with
/// [`Error::TlsRequired`]). All of it counts against the handshake timeout.
pub async fn connect(
    url: &str,
    options: impl Into<ConnectOptions>,
) -> Result<(WebSocket<ClientStream>, Response), Error> {
    let options = options.into();
    #[cfg(feature = "rustls")]
    let tls = options.get_tls().cloned();
    let (ws, response) = nonblocking::connect_via(url, options, |target: Target| {
        #[cfg(feature = "rustls")]
        let tls = tls.clone();
        async move {
            #[cfg(not(feature = "rustls"))]
            if target.tls {
                return Err(Error::TlsRequired(target.url));
            }
            let mut tcp = TokioIo::new(open_tcp(target.address()).await?);
            nonblocking::open_tunnel(&mut tcp, &target).await?;
            let stream = if target.tls {
                #[cfg(feature = "rustls")]
                {
                    let config = match tls {
                        Some(config) => config,
                        None => crate::tls::default_client_config()?,
                    };
                    let name = crate::tls::server_name(&target.host)?;
                    let connector = tokio_rustls::TlsConnector::from(config);
                    let tls = connector
                        .connect(name, tcp.stream)
                        .await
                        .map_err(crate::tls::handshake_error)?;
                    ClientStream::Tls(Box::new(tls))
                }
                #[cfg(not(feature = "rustls"))]
                return Err(Error::TlsRequired(target.url));
            } else {
                ClientStream::Plain(tcp.stream)
            };
            let write_through = matches!(stream, ClientStream::Plain(_));
            Ok(TokioIo {
                stream,
                write_through,
            })
        }
    })
    .await?;
    let peer = ws.get_ref().tcp().peer_addr().ok();
    Ok((ws.with_peer_addr(peer), response))
}

/// TCP to each address `host:port` resolves to, in turn, until one answers.
async fn open_tcp(address: (alloc::string::String, u16)) -> Result<TcpStream, Error> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "host resolved to no address");
    for addr in ::tokio::net::lookup_host(address).await? {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(Error::Io(last))
}

/// The stream under a client from [`connect`]: TCP for `ws://`, TLS over TCP for `wss://`.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientStream {
    /// `ws://` (through a proxy: the tunnel).
    Plain(TcpStream),
    /// `wss://` (feature `rustls`).
    #[cfg(feature = "rustls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl ClientStream {
    /// The TCP connection (to the proxy, if there is one).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            ClientStream::Plain(tcp) => tcp,
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

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each_stream!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for ClientStream {
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

    fn is_write_vectored(&self) -> bool {
        match self {
            ClientStream::Plain(s) => s.is_write_vectored(),
            #[cfg(feature = "rustls")]
            ClientStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// Runs the client handshake over a stream you connected (e.g. TLS for `wss://`). No
/// redirects (a redirect is returned as an error with the response).
pub async fn connect_with<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    url: &str,
    options: impl Into<ConnectOptions>,
) -> Result<(WebSocket<S>, Response), Error> {
    nonblocking::connect_with(TokioIo::new(stream), url, options).await
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
    nonblocking::connect_via(url, options, |target| {
        let fut = connect(target);
        async move { fut.await.map(TokioIo::new) }
    })
    .await
}

/// Accepts a WebSocket on a stream: every valid request is accepted with no subprotocol and
/// no extensions, within the default 10 s handshake timeout.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin + 'static>(
    stream: S,
) -> Result<WebSocket<S>, Error> {
    accept_with(stream, AcceptOptions::default(), AcceptAll).await
}

/// Accepts a WebSocket on a stream: `callback` sees the request and accepts (subprotocol,
/// headers, extensions) or rejects it, now or later (a [`Decision`](crate::session::Decision)).
/// `options` is a [`ServerOptions`](crate::handshake::ServerOptions) or an [`AcceptOptions`]
/// (handshake timeout, 10 s by default). On a `TcpStream` this turns `TCP_NODELAY` on and
/// records the peer address (shown to the callback as [`Request::peer_addr`]).
pub async fn accept_with<S: AsyncRead + AsyncWrite + Unpin + 'static, C: Callback>(
    stream: S,
    options: impl Into<AcceptOptions>,
    callback: C,
) -> Result<WebSocket<S>, Error> {
    let mut options = options.into();
    if let Some(tcp) = (&stream as &dyn Any).downcast_ref::<TcpStream>() {
        let _ = tcp.set_nodelay(true);
        if options.get_peer_addr().is_none() {
            options = options.peer_addr(tcp.peer_addr().ok());
        }
    }
    nonblocking::accept_with(TokioIo::detect(stream), options, callback).await
}

/// Runs a session over a stream whose handshake was done elsewhere (e.g. after
/// [`session::accept_parsed`](crate::session::accept_parsed)), or a raw one.
pub fn from_session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    session: Session,
) -> WebSocket<S> {
    nonblocking::WebSocket::from_session(TokioIo::new(stream), session)
}

/// Runs a server session over a stream another HTTP server upgraded after writing the 101
/// for `request` itself (hyper, axum: [`session::negotiate`](crate::session::negotiate); the
/// `upgrade` module, feature `hyper`, does all of this). The WebSocket reports the request
/// and its peer address.
pub fn from_accepted<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    session: Session,
    request: Request,
) -> WebSocket<S> {
    nonblocking::WebSocket::from_accepted(TokioIo::new(stream), session, request)
}

/// Accepts a request that was already read from `stream` and parsed elsewhere
/// ([`Request::from_parts`]; ws `handleUpgrade`): the 101 response is written first, then the
/// WebSocket runs. An invalid request is an error (answer it with
/// [`HandshakeError::to_reject`](crate::handshake::HandshakeError::to_reject)). If another
/// HTTP server writes the 101 itself (hyper/axum), use [`from_accepted`] with a session from
/// [`session::negotiate`](crate::session::negotiate) instead.
pub fn accept_parsed<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    request: &Request,
    accept: Accept,
    config: crate::Config,
) -> Result<WebSocket<S>, Error> {
    nonblocking::accept_parsed(TokioIo::new(stream), request, accept, config)
}
