//! A byte stream over a WebSocket (ws `createWebSocketStream`): [`ByteStream`] is
//! `AsyncRead` + `AsyncBufRead` + `AsyncWrite`, for tokio (feature `tokio`) and futures-io
//! (feature `futures-io`), over the payloads of binary messages.
//!
//! ```no_run
//! # #[cfg(feature = "tokio")]
//! # async fn run() -> std::io::Result<()> {
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use wsproto::handshake::ClientOptions;
//! use wsproto::io::on_tokio::connect;
//!
//! let (ws, _response) = connect("ws://127.0.0.1:9001/", ClientOptions::default()).await?;
//! let mut stream = ws.into_byte_stream();
//! stream.write_all(b"hello").await?; // one binary message
//! stream.flush().await?;
//! let mut reply = [0u8; 5];
//! stream.read_exact(&mut reply).await?; // message boundaries do not matter
//! stream.shutdown().await?; // Close(1000)
//! let mut rest = Vec::new();
//! stream.read_to_end(&mut rest).await?; // until the peer's Close
//! # Ok(()) }
//! ```
//!
//! # Reading
//!
//! Reads return the payload bytes of the data messages in order, without their boundaries.
//! A read smaller than the current message takes part of it; the rest is kept (a shared
//! [`Bytes`], advanced, never copied again) for the next read. The buffered-read interface
//! (`poll_fill_buf`/`consume`, tokio's and futures-io's `AsyncBufRead`) lends the message's
//! bytes without any copy.
//!
//! - **Text messages** are read as their UTF-8 bytes, as ws does (its stream pushes every
//!   message's data, whatever its type); they are not an error. Streamed pieces
//!   ([`Message::Fragment`], with [`Config::assemble_messages(false)`](crate::Config::assemble_messages))
//!   are read as they come.
//! - **Empty messages** are skipped (a read of 0 bytes would mean end of stream).
//! - **Pings and pongs** are invisible (the connection answers pings by itself).
//! - **The peer's Close** is the end of the stream: reads return `Ok(0)` from then on. Any
//!   close code counts, as in ws; [`ByteStream::close_frame`] tells which one it was. Our
//!   reply is already written by then, and the read lets the connection finish what it can
//!   without waiting (a server shuts the transport down; a client's later reads see the
//!   server close it).
//! - **Errors** are `io::Error`s, converted by `From<Error> for io::Error` (the
//!   [`Error`](super::Error) is the source): a transport error keeps its kind (for example
//!   `ConnectionReset`), a protocol error is `InvalidData` (our Close frame with its code
//!   was sent), a timeout `TimedOut`. The transport ending **without** a Close frame (an
//!   abnormal close, 1006) is `UnexpectedEof`. After an error, reads return `Ok(0)`.
//!
//! # Writing
//!
//! Each write sends the buffer as one binary message (up to [`ByteStream::max_write`],
//! default 64 KiB: a larger buffer is written in part, which `write_all` and `copy` handle).
//! A write waits (`Pending`) only while the connection's send queue is over its cap
//! ([`Config::max_send_queue`](crate::Config::max_send_queue)): the same readiness as the
//! WebSocket's `Sink`. Having queued the message, a write also moves the connection: it
//! writes what the transport takes, reads what arrived (pings get their pongs, so a task
//! that only writes still answers pings; a data message waits for the next read) and runs
//! the timers. A write of 0 bytes returns `Ok(0)` and sends nothing.
//!
//! - **Flush** writes out everything queued and flushes the transport.
//! - **Shutdown** (tokio `poll_shutdown`, futures-io `poll_close`) sends Close(1000), unless
//!   the closing handshake already started, and completes once that frame is written. It
//!   does not wait for the peer's Close: keep reading to the end (`Ok(0)`) for that, which
//!   also lets a client see the server close the TCP connection. Writes after it fail
//!   (`NotConnected`). WebSocket has no half-close: once the peer gets our Close it answers
//!   and sends no more data, so shut down only when you have read what you expect (and
//!   writes fail once the peer's Close has arrived).
//!
//! # What to keep polling
//!
//! As with the [`WebSocket`], the connection moves only while the stream is in a call: reads
//! and writes both drive it. A `ByteStream` split with `tokio::io::split` (or futures'
//! `AsyncReadExt::split`) works from two tasks: reads and writes register different wakers.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::io;

use bytes::Buf;
use futures_core::Stream;
use futures_sink::Sink;

use super::nonblocking::{PollIo, WebSocket};
use super::{Bytes, CloseFrame, Message};
use crate::CloseCode;

/// The largest message one write sends by default.
const DEFAULT_MAX_WRITE: usize = 64 * 1024;

/// A byte stream over a [`WebSocket`]'s binary messages (ws `createWebSocketStream`): see the
/// [module docs](self) for what reads, writes, flush and shutdown do.
///
/// Made with [`WebSocket::into_byte_stream`] or [`ByteStream::new`].
pub struct ByteStream<T: PollIo> {
    ws: WebSocket<T>,
    /// The unread rest of the current message.
    chunk: Bytes,
    /// The read side ended (the peer's Close, the end of the messages, or an error).
    eof: bool,
    /// The peer's Close frame, once it came.
    close_frame: Option<CloseFrame>,
    max_write: usize,
}

impl<T: PollIo> fmt::Debug for ByteStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByteStream")
            .field("ws", &self.ws)
            .field("unread", &self.chunk.len())
            .field("eof", &self.eof)
            .field("close_frame", &self.close_frame)
            .finish_non_exhaustive()
    }
}

impl<T: PollIo> WebSocket<T> {
    /// This WebSocket as a byte stream over binary messages (ws `createWebSocketStream`);
    /// see [`ByteStream`].
    pub fn into_byte_stream(self) -> ByteStream<T> {
        ByteStream::new(self)
    }
}

impl<T: PollIo> ByteStream<T> {
    /// A byte stream over `ws`.
    pub fn new(ws: WebSocket<T>) -> Self {
        ByteStream {
            ws,
            chunk: Bytes::new(),
            eof: false,
            close_frame: None,
            max_write: DEFAULT_MAX_WRITE,
        }
    }

    /// Sets the largest message one write sends (default 64 KiB; at least 1). Keep it under
    /// the peer's message size limit.
    pub fn max_write(mut self, bytes: usize) -> Self {
        self.max_write = bytes.max(1);
        self
    }

    /// The WebSocket underneath.
    pub fn get_ref(&self) -> &WebSocket<T> {
        &self.ws
    }

    /// The WebSocket underneath, mutably. Messages sent through it go between the stream's
    /// own writes; messages received through it are not seen by the stream.
    pub fn get_mut(&mut self) -> &mut WebSocket<T> {
        &mut self.ws
    }

    /// The WebSocket back. The unread rest of the current message is dropped; read it first
    /// (or use [`ByteStream::unread`]).
    pub fn into_inner(self) -> WebSocket<T> {
        self.ws
    }

    /// The bytes of the current message not read yet.
    pub fn unread(&self) -> &[u8] {
        &self.chunk
    }

    /// The peer's Close frame, once reading reached it (`None` before, and for a Close
    /// frame without a status code). After the transport ended without a Close frame, its
    /// code is 1006 ([`CloseCode::ABNORMAL`]).
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.close_frame.as_ref()
    }

    /// Buffered read: the unread bytes of the current message, receiving the next data
    /// message when there are none. Empty at the end of the stream. Pair with
    /// [`consume`](ByteStream::consume).
    pub fn poll_fill_buf(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        if self.eof {
            self.finish(cx);
        }
        while self.chunk.is_empty() && !self.eof {
            let Some(item) = ready!(Pin::new(&mut self.ws).poll_next(cx)) else {
                self.eof = true;
                break;
            };
            match item {
                Ok(Message::Binary(data)) => self.chunk = data,
                Ok(Message::Text(text)) => self.chunk = text.into_bytes(),
                Ok(Message::Fragment(piece)) => self.chunk = piece.data,
                Ok(Message::Ping(_) | Message::Pong(_)) => {}
                Ok(Message::Close(frame)) => {
                    self.eof = true;
                    self.finish(cx);
                    let abnormal = frame
                        .as_ref()
                        .is_some_and(|f| f.code == CloseCode::ABNORMAL);
                    self.close_frame = frame;
                    if abnormal {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the WebSocket connection ended without a Close frame (1006)",
                        )));
                    }
                }
                Err(e) => {
                    self.eof = true;
                    return Poll::Ready(Err(e.into()));
                }
            }
        }
        Poll::Ready(Ok(&self.chunk))
    }

    /// After the end of the stream: lets the connection finish what it can without waiting
    /// (a server shuts the transport down once its Close reply is out; a client waits for
    /// that), dropping anything that still arrives.
    fn finish(&mut self, cx: &mut Context<'_>) {
        while let Poll::Ready(Some(_)) = Pin::new(&mut self.ws).poll_next(cx) {}
    }

    /// Marks `n` bytes of [`poll_fill_buf`](ByteStream::poll_fill_buf) as read (at most what
    /// it returned).
    pub fn consume(&mut self, n: usize) {
        self.chunk.advance(n.min(self.chunk.len()));
    }

    /// Reads into `buf` (see the [module docs](self)); `Ok(0)` is the end of the stream.
    pub fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = copy_into(ready!(self.poll_fill_buf(cx))?, buf);
        self.consume(n);
        Poll::Ready(Ok(n))
    }

    /// Sends (up to [`max_write`](ByteStream::max_write) bytes of) `buf` as one binary
    /// message; `Pending` while the send queue is over its cap.
    pub fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let n = buf.len().min(self.max_write);
        let Some(data) = buf.get(..n).filter(|d| !d.is_empty()) else {
            return Poll::Ready(Ok(0));
        };
        ready!(Pin::new(&mut self.ws).poll_ready(cx))?;
        Pin::new(&mut self.ws).start_send(Message::Binary(Bytes::copy_from_slice(data)))?;
        self.ws.poll_drive(cx);
        Poll::Ready(Ok(n))
    }

    /// Writes out everything queued and flushes the transport.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws)
            .poll_flush(cx)
            .map_err(io::Error::from)
    }

    /// Sends Close(1000) unless the closing handshake already started, and completes once it
    /// is written (not when the peer answers).
    pub fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws)
            .poll_close(cx)
            .map_err(io::Error::from)
    }
}

/// Copies what fits of `from` into `to`; returns how much.
fn copy_into(from: &[u8], to: &mut [u8]) -> usize {
    let n = from.len().min(to.len());
    if let (Some(dst), Some(src)) = (to.get_mut(..n), from.get(..n)) {
        dst.copy_from_slice(src);
    }
    n
}

/// `AsyncBufRead` and `AsyncWrite` of one runtime's traits (`$io`), whose shutdown method
/// is `$close`, delegating to the inherent methods.
macro_rules! impl_buf_read_write {
    ($io:path, $close:ident) => {
        use $io::{AsyncBufRead, AsyncWrite};

        impl<T: PollIo> AsyncBufRead for ByteStream<T> {
            fn poll_fill_buf(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<io::Result<&[u8]>> {
                self.get_mut().poll_fill_buf(cx)
            }

            fn consume(self: Pin<&mut Self>, amt: usize) {
                self.get_mut().consume(amt);
            }
        }

        impl<T: PollIo> AsyncWrite for ByteStream<T> {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().poll_write(cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().poll_flush(cx)
            }

            fn $close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().poll_shutdown(cx)
            }
        }
    };
}

#[cfg(feature = "tokio")]
mod impl_tokio {
    use super::{ByteStream, Context, Pin, Poll, PollIo, io, ready};
    use tokio::io::{AsyncRead, ReadBuf};

    impl<T: PollIo> AsyncRead for ByteStream<T> {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let chunk = ready!(this.poll_fill_buf(cx))?;
            let n = chunk.len().min(buf.remaining());
            buf.put_slice(chunk.get(..n).unwrap_or_default());
            this.consume(n);
            Poll::Ready(Ok(()))
        }
    }

    impl_buf_read_write!(tokio::io, poll_shutdown);
}

#[cfg(feature = "futures-io")]
mod impl_futures {
    use super::{ByteStream, Context, Pin, Poll, PollIo, io};
    use futures_io::AsyncRead;

    impl<T: PollIo> AsyncRead for ByteStream<T> {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            self.get_mut().poll_read(cx, buf)
        }
    }

    impl_buf_read_write!(futures_io, poll_close);
}
