//! Executors: the [session](crate::session) carried out over real streams, blocking
//! ([`blocking`], feature `std`), on tokio (`on_tokio`, feature `tokio`) and on any
//! futures-io runtime such as smol or async-std (`on_futures`, feature `futures-io`).
//!
//! All policy (message assembly, the held error, shutdown, the closing wait, read gating,
//! timers, the dial and accept flows with their deadlines and redirects) lives once, in
//! [`crate::session`]. The adapters only carry out its steps: [`blocking`] with blocking
//! calls and socket read timeouts, [`nonblocking`] with `poll_*` calls over any runtime that
//! implements [`nonblocking::PollIo`] (tokio and futures-io do, in about 60 lines each).
//!
//! # What to keep polling
//!
//! A connection only moves while one of its handles is in a call. With the async adapters,
//! a task reading the [`WebSocket`](nonblocking::WebSocket) (or its
//! [`ReadHalf`](nonblocking::ReadHalf)) keeps it alive: pongs, close replies, timers. A task
//! waiting in `send` drives it too (it answers pings while blocked under backpressure), and
//! once the `ReadHalf` is dropped, incoming data is discarded so a writer alone never stalls.
//! The blocking adapter moves only inside `recv`, `send` and `close`.
//!
//! # Handshakes
//!
//! Client: [`ConnectOptions`] wraps the handshake's
//! [`ClientOptions`](crate::handshake::ClientOptions) with a handshake timeout (default 30 s)
//! and redirects (off by default; with [`ConnectOptions::max_redirects`], 301, 302, 303, 307
//! and 308 answers with a `Location` in the `ws`, `wss`, `http` or `https` scheme are
//! followed), an HTTP `CONNECT` [proxy](ConnectOptions::proxy), and (feature `rustls`) the
//! [TLS configuration](crate::tls) for `wss://`. A failed handshake's response (or a proxy's
//! refusal) is in [`Error::response`].
//!
//! Server: [`AcceptOptions`] wraps [`ServerOptions`](crate::handshake::ServerOptions) with a
//! handshake timeout that is on by default (10 s) so that stalled, half-sent requests cannot
//! pile up (slowloris). A [`Callback`] sees the request (with the peer address and whether
//! the transport is TLS) and decides now (`Result<Accept, Reject>`) or later (a
//! [`Decision::later`] future, bounded by the handshake timeout). A stream that another HTTP
//! server upgraded after writing the 101 itself runs with the tokio adapter's `from_accepted`
//! and [`session::negotiate`](crate::session::negotiate) (for hyper and axum, the `upgrade`
//! module, feature `hyper`, does it all).
//!
//! # Byte streams
//!
//! `byte_stream::ByteStream` (features `tokio`, `futures-io`) is a WebSocket as an
//! `AsyncRead` + `AsyncWrite` byte stream over binary messages (ws `createWebSocketStream`):
//! `ws.into_byte_stream()`.

pub mod blocking;
#[cfg(any(feature = "tokio", feature = "futures-io"))]
pub mod byte_stream;
#[cfg(any(feature = "tokio", feature = "futures-io"))]
pub mod nonblocking;
#[cfg(feature = "futures-io")]
pub mod on_futures;
#[cfg(feature = "tokio")]
pub mod on_tokio;

pub use crate::message::{Bytes, CloseFrame, Fragment, Message, Utf8Bytes};
pub use crate::session::{
    AcceptAll, AcceptOptions, Callback, ConnectOptions, Decision, Error, Misuse, Target,
};
