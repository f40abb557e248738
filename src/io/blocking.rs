//! The blocking adapter (feature `std`): a [`WebSocket`] over any [`Stream`] (a `Read +
//! Write` that can set a read timeout), with `connect` over TCP and `accept`.
//!
//! This is an executor of the [session](crate::session) contract with blocking calls: every
//! step is carried out at once (nothing is ever `blocked`), and timers (keepalive, idle and
//! close timeouts) run on socket read timeouts set to [`Session::deadline`]: while waiting for
//! input, a read returns at the next deadline. Writes block (that is the backpressure).
//!
//! What to keep calling: the connection only moves inside `recv`, `send` and `close`. A
//! blocking application that only sends does not answer pings between sends; give it a
//! thread that calls `recv`, or use an async adapter.
//!
//! ```no_run
//! # fn run() -> Result<(), wsproto::io::Error> {
//! use wsproto::handshake::ClientOptions;
//! use wsproto::io::{Message, blocking};
//! use wsproto::CloseCode;
//! let (mut ws, _response) = blocking::connect("ws://127.0.0.1:9001/", ClientOptions::default())?;
//! ws.send(Message::text("hello"))?;
//! if let Some(message) = ws.recv() {
//!     println!("{:?}", message?);
//! }
//! ws.close(CloseCode::NORMAL, "done")?;
//! # Ok(()) }
//! ```

use alloc::string::String;
use core::net::SocketAddr;
use core::time::Duration;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};

use super::{AcceptAll, AcceptOptions, Callback, ConnectOptions, Error, Message, Target};
use crate::handshake::{Accept, Request, Response};
use crate::session::{
    AcceptStep, Accepting, Decision, DialStep, Dialing, Io, Misuse, Session, Step, Turn,
};
use crate::{CloseCode, Instant, SendOptions, State};

/// A blocking byte stream the adapter can drive: `Read + Write` plus a read timeout (for the
/// timers) and a write shutdown.
///
/// Implemented for `TcpStream` and `UnixStream`. For a TLS stream, forward both methods to the
/// socket underneath. [`NoTimeouts`] wraps any `Read + Write` without them (timers then only
/// run when input arrives).
pub trait Stream: Read + Write {
    /// Sets (or clears) the read timeout: a read then fails with `WouldBlock` or `TimedOut`.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// Shuts the write side down (TCP FIN). Default: flush.
    fn shutdown(&mut self) -> io::Result<()> {
        self.flush()
    }

    /// The peer's address, if the stream has one. Default `None`.
    fn peer_addr(&self) -> Option<SocketAddr> {
        None
    }

    /// Sends small writes at once (`TCP_NODELAY`), where that applies. Default: nothing.
    fn set_nodelay(&self) {}
}

impl Stream for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        TcpStream::peer_addr(self).ok()
    }

    fn set_nodelay(&self) {
        let _ = TcpStream::set_nodelay(self, true);
    }

    fn shutdown(&mut self) -> io::Result<()> {
        TcpStream::shutdown(self, Shutdown::Write)
    }
}

#[cfg(unix)]
impl Stream for std::os::unix::net::UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        std::os::unix::net::UnixStream::shutdown(self, Shutdown::Write)
    }
}

/// Any `Read + Write` as a [`Stream`] without read timeouts.
#[derive(Debug)]
pub struct NoTimeouts<S>(pub S);

impl<S: Read> Read for NoTimeouts<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<S: Write> Write for NoTimeouts<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<S: Read + Write> Stream for NoTimeouts<S> {
    fn set_read_timeout(&mut self, _timeout: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

/// A WebSocket over a blocking stream.
///
/// [`recv`](WebSocket::recv) yields every message (pings and pongs too; with auto-pong on,
/// the pong is already queued), then the peer's [`Message::Close`], then `None` once the
/// transport is closed. A failed connection yields one error (after our Close frame was
/// written) and then `None`.
#[derive(Debug)]
pub struct WebSocket<S: Stream> {
    stream: S,
    session: Session,
    epoch: std::time::Instant,
    read_timeout: Option<Duration>,
    request: Option<Request>,
    url: Option<String>,
    peer_addr: Option<SocketAddr>,
}

/// The smallest read timeout (zero means "none" to the OS).
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

impl<S: Stream> WebSocket<S> {
    /// Runs a session over a stream (handshake done elsewhere, or a raw [`Session::new`]).
    /// Whatever the session already queued is written first.
    pub fn from_session(stream: S, session: Session) -> Self {
        WebSocket {
            stream,
            session,
            epoch: std::time::Instant::now(),
            read_timeout: None,
            request: None,
            url: None,
            peer_addr: None,
        }
    }

    fn now(&self) -> Instant {
        Instant::from_duration(self.epoch.elapsed())
    }

    /// The negotiated subprotocol.
    pub fn protocol(&self) -> Option<&str> {
        self.session.protocol()
    }

    /// The agreed permessage-deflate parameters, if it was negotiated.
    pub fn deflate(&self) -> Option<crate::deflate::Agreed> {
        self.session.deflate()
    }

    /// The protocol version of the opening handshake (13, or 8).
    pub fn version(&self) -> crate::handshake::Version {
        self.session.version()
    }

    /// Server: the upgrade request this connection answered (ws `upgradeReq`).
    pub fn request(&self) -> Option<&Request> {
        self.request.as_ref()
    }

    /// Client: the URL connected to (after redirects).
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The peer's address, when the adapter knew it.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr
    }

    /// The session (state, counters, extensions), read-only.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Where the closing handshake stands.
    pub fn state(&self) -> State {
        self.session.state()
    }

    /// Bytes read from the transport since the handshake.
    pub fn bytes_received(&self) -> u64 {
        self.session.bytes_received()
    }

    /// Bytes written to the transport since the handshake.
    pub fn bytes_sent(&self) -> u64 {
        self.session.bytes_sent()
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, mutably (reading or writing it directly corrupts the connection).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Carries out one I/O step; `Some` when the step was for the application.
    fn run(&mut self, turn: Turn) -> Option<Option<Result<Message, Error>>> {
        let deadline = self.session.deadline();
        let now = self.now();
        match self.session.step(now, turn) {
            Step::Deliver(m) => return Some(Some(Ok(m))),
            Step::Fail(e) => return Some(Some(Err(e))),
            Step::End => return Some(None),
            Step::Write(runs) => match write_runs(&mut self.stream, runs) {
                Ok(0) => self
                    .session
                    .transport_error(io::Error::from(io::ErrorKind::WriteZero).into()),
                Ok(n) => self.session.wrote(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.session.transport_error(e.into()),
            },
            Step::Flush => match self.stream.flush() {
                Ok(()) => self.session.flushed(),
                Err(e) => self.session.transport_error(e.into()),
            },
            Step::Shutdown => {
                let _ = self.stream.shutdown();
                self.session.shut_down();
            }
            Step::Read(buf) => {
                if turn == Turn::Send {
                    // A sender never blocks on input.
                    self.session.blocked(Io::Read);
                    return None;
                }
                let timeout = deadline.map(|d| d.saturating_duration_since(now).max(MIN_TIMEOUT));
                if timeout != self.read_timeout {
                    if let Err(e) = self.stream.set_read_timeout(timeout) {
                        self.session.transport_error(e.into());
                        return None;
                    }
                    self.read_timeout = timeout;
                }
                match self.stream.read(buf) {
                    Ok(n) => {
                        let now = self.now();
                        self.session.received(now, n);
                    }
                    // TLS ended without close_notify: the end of the stream (see io::on_tokio).
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        let now = self.now();
                        self.session.received(now, 0);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock
                                | io::ErrorKind::TimedOut
                                | io::ErrorKind::Interrupted
                        ) => {}
                    Err(e) => self.session.transport_error(e.into()),
                }
            }
            // Reads here go through `Read` into initialised memory: the session asks for owned
            // reads only of executors that turned them on, and this one does not.
            Step::ReadOwned(..) => self.session.set_owned_reads(false),
            Step::Wait(Some(deadline)) => {
                std::thread::sleep(deadline.saturating_duration_since(now).max(MIN_TIMEOUT));
            }
            Step::Wait(None) => {
                if turn == Turn::Receive {
                    return Some(Some(Err(Error::Misuse(Misuse::ReceiveWhilePaused))));
                }
                return Some(None);
            }
        }
        None
    }

    /// The next message (blocking); `None` once the connection is closed and the transport
    /// shut down.
    pub fn recv(&mut self) -> Option<Result<Message, Error>> {
        // A blocking executor is never blocked: forget what a send turn marked.
        self.session.start_turn();
        loop {
            if let Some(item) = self.run(Turn::Receive) {
                return item;
            }
        }
    }

    /// Writes out everything queued (a send turn: input is left for `recv`).
    fn write_out(&mut self) -> Result<(), Error> {
        self.session.start_turn();
        self.session.blocked(Io::Read);
        while !self.session.is_flushed() {
            if self.run(Turn::Send).is_some() {
                break;
            }
        }
        if self.session.is_flushed() {
            Ok(())
        } else {
            Err(Error::Send(crate::SendError::Closed))
        }
    }

    /// Sends a message and writes it out (blocking).
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.send_with(message, SendOptions::new())
    }

    /// [`send`](WebSocket::send) with options (compress this message or not).
    pub fn send_with(&mut self, message: Message, options: SendOptions) -> Result<(), Error> {
        let now = self.now();
        match self.session.send_with(now, &message, options) {
            Err(Error::Send(crate::SendError::Full)) => {
                self.write_out()?;
                let now = self.now();
                self.session.send_with(now, &message, options)?;
            }
            other => other?,
        }
        self.write_out()
    }

    /// Ends the connection now (ws `terminate`): Close(code, reason) unless
    /// `skip_close_frame`, then the transport is closed without waiting for the peer. Not an
    /// error.
    pub fn terminate(&mut self, code: CloseCode, reason: &str, skip_close_frame: bool) {
        self.session.terminate(code, reason, skip_close_frame);
        while self.recv().is_some() {}
    }

    /// Closes: sends Close(code, reason), then reads (discarding data) until the peer's Close
    /// arrives and the transport is closed, or the close timeout runs out: it never hangs
    /// (given a stream with read timeouts). `Ok` after a clean closing handshake.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let now = self.now();
        self.session.close(now, code, reason)?;
        let mut result = Ok(());
        while let Some(item) = self.recv() {
            if let Err(e) = item {
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        result
    }
}

impl<S: Stream> Iterator for WebSocket<S> {
    type Item = Result<Message, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        self.recv()
    }
}

// ---------------------------------------------------------------------------------------------
// The opening handshakes.

/// Sets the read timeout to what is left before `deadline` (a blocking wait never outlasts
/// it; the state machine then reports the timeout).
fn arm<S: Stream>(stream: &mut S, now: Instant, deadline: Option<Instant>) -> io::Result<()> {
    let timeout = deadline.map(|d| d.saturating_duration_since(now).max(MIN_TIMEOUT));
    stream.set_read_timeout(timeout)
}

fn read_some<S: Stream>(stream: &mut S, buf: &mut [u8]) -> Result<Option<usize>, Error> {
    match stream.read(buf) {
        Ok(n) => Ok(Some(n)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::Io(e)),
    }
}

/// Writes the runs of a [`Step::Write`]: one write, vectored when the second is not empty.
fn write_runs<S: Stream>(stream: &mut S, [first, then]: [&[u8]; 2]) -> io::Result<usize> {
    if then.is_empty() {
        stream.write(first)
    } else {
        stream.write_vectored(&[io::IoSlice::new(first), io::IoSlice::new(then)])
    }
}

fn write_some<S: Stream>(stream: &mut S, buf: &[u8]) -> Result<usize, Error> {
    loop {
        match stream.write(buf) {
            Ok(0) => return Err(Error::Io(io::ErrorKind::WriteZero.into())),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
}

/// Runs a decision that may come later to completion on this thread.
fn block_on_decision(decision: Decision) -> Result<Accept, crate::handshake::Reject> {
    match decision {
        Decision::Now(result) => result,
        Decision::Later(fut) => block_on(fut),
    }
}

/// A minimal executor for one future: parks the thread until woken.
fn block_on<F: core::future::Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: alloc::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = core::task::Waker::from(alloc::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = core::task::Context::from_waker(&waker);
    let mut fut = core::pin::pin!(fut);
    loop {
        if let core::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// Server: carries out an [`Accepting`] over `stream` (a `Decision::Later` runs on this
/// thread).
pub fn accept_with<S: Stream, C: Callback>(
    mut stream: S,
    options: impl Into<AcceptOptions>,
    callback: C,
) -> Result<WebSocket<S>, Error> {
    let mut options = options.into();
    stream.set_nodelay();
    if options.get_peer_addr().is_none() {
        options = options.peer_addr(stream.peer_addr());
    }
    let peer_addr = options.get_peer_addr();
    let epoch = std::time::Instant::now();
    let now = || Instant::from_duration(epoch.elapsed());
    let mut accepting = Accepting::new(now(), options);
    let mut callback = Some(callback);
    loop {
        let deadline = accepting.deadline();
        match accepting.step(now()) {
            AcceptStep::Read(buf) => {
                arm(&mut stream, now(), deadline)?;
                if let Some(n) = read_some(&mut stream, buf)? {
                    accepting.received(now(), n);
                }
            }
            AcceptStep::Decide(request) => {
                let decision = match callback.take() {
                    Some(callback) => callback.on_request(request),
                    None => Decision::Now(Err(crate::handshake::Reject::new(500))),
                };
                accepting.decide(now(), block_on_decision(decision));
            }
            AcceptStep::Write(buf) => {
                let n = write_some(&mut stream, buf)?;
                accepting.wrote(n);
            }
            AcceptStep::Flush => {
                stream.flush()?;
                accepting.flushed();
            }
            AcceptStep::Shutdown => {
                let _ = stream.shutdown();
                accepting.shut_down();
            }
            AcceptStep::Accepted => break,
            AcceptStep::Failed(e) => return Err(e),
        }
    }
    stream.set_read_timeout(None)?;
    let (session, request) = accepting.into_session()?;
    let mut ws = WebSocket::from_session(stream, session);
    ws.epoch = epoch;
    ws.request = Some(request);
    ws.peer_addr = peer_addr;
    Ok(ws)
}

/// Accepts a WebSocket on a stream: every valid request, no subprotocol, no extensions,
/// default 10 s handshake timeout.
pub fn accept<S: Stream>(stream: S) -> Result<WebSocket<S>, Error> {
    accept_with(stream, AcceptOptions::default(), AcceptAll)
}

/// Accepts a request that was already read from `stream` and parsed elsewhere
/// ([`Request::from_parts`]; ws `handleUpgrade`): the 101 response is written first, then the
/// WebSocket runs.
pub fn accept_parsed<S: Stream>(
    stream: S,
    request: &Request,
    accept: Accept,
    config: crate::Config,
) -> Result<WebSocket<S>, Error> {
    let session = crate::session::accept_parsed(request, accept, config)?;
    let mut ws = WebSocket::from_session(stream, session);
    ws.request = Some(request.clone());
    ws.peer_addr = request.peer_addr();
    Ok(ws)
}

/// Client: carries out a [`Dialing`], opening each transport with `connect` (the target and
/// what is left of the handshake timeout), for the first URL and every redirect followed.
pub fn connect_via<S: Stream>(
    url: &str,
    options: impl Into<ConnectOptions>,
    connect: impl FnMut(Target, Option<Duration>) -> Result<S, Error>,
) -> Result<(WebSocket<S>, Response), Error> {
    let epoch = std::time::Instant::now();
    let dialing = Dialing::new(url, options)?;
    dial(epoch, dialing, None, connect)
}

/// Runs the client handshake over a stream you connected (TLS for `wss://`). No redirects.
pub fn connect_with<S: Stream>(
    stream: S,
    url: &str,
    options: impl Into<ConnectOptions>,
) -> Result<(WebSocket<S>, Response), Error> {
    let epoch = std::time::Instant::now();
    let dialing = Dialing::over_transport(Instant::ZERO, url, options)?;
    dial(epoch, dialing, Some(stream), |_, _| {
        Err(Error::Misuse(Misuse::HandshakeOver))
    })
}

fn dial<S: Stream>(
    epoch: std::time::Instant,
    mut dialing: Dialing,
    mut stream: Option<S>,
    mut connect: impl FnMut(Target, Option<Duration>) -> Result<S, Error>,
) -> Result<(WebSocket<S>, Response), Error> {
    let now = || Instant::from_duration(epoch.elapsed());
    loop {
        let deadline = dialing.deadline();
        let step = dialing.step(now());
        if let DialStep::Connect(target) = step {
            let target = target.clone();
            drop(stream.take());
            let left = dialing_left(now(), dialing.deadline());
            stream = Some(connect(target, left)?);
            dialing.connected(now());
            continue;
        }
        let Some(s) = stream.as_mut() else {
            return Err(Error::Misuse(Misuse::HandshakeOver));
        };
        match step {
            DialStep::Write(buf) => {
                let n = write_some(s, buf)?;
                dialing.wrote(n);
            }
            DialStep::Flush => {
                s.flush()?;
                dialing.flushed();
            }
            DialStep::Read(buf) => {
                arm(s, now(), deadline)?;
                if let Some(n) = read_some(s, buf)? {
                    dialing.received(now(), n);
                }
            }
            DialStep::Connected => break,
            DialStep::Failed(e) => return Err(e),
            DialStep::Connect(_) => {}
        }
    }
    let mut stream = stream.ok_or(Error::Misuse(Misuse::HandshakeOver))?;
    stream.set_read_timeout(None)?;
    let url = String::from(dialing.url());
    let (session, response) = dialing.into_session(now())?;
    let mut ws = WebSocket::from_session(stream, session);
    ws.epoch = epoch;
    ws.url = Some(url);
    Ok((ws, response))
}

/// Opens the proxy tunnel of `target` (if any) over a fresh TCP stream, within `timeout`.
fn open_tunnel(
    stream: &mut TcpStream,
    target: &Target,
    timeout: Option<Duration>,
) -> Result<(), Error> {
    let Some(mut tunnel) = target.tunnel() else {
        return Ok(());
    };
    stream.set_read_timeout(timeout.map(|t| t.max(MIN_TIMEOUT)))?;
    stream.set_write_timeout(timeout.map(|t| t.max(MIN_TIMEOUT)))?;
    stream.write_all(tunnel.poll_transmit())?;
    tunnel.advance_transmit(tunnel.poll_transmit().len());
    let mut buf = [0u8; 512];
    loop {
        let n = match stream.read(&mut buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(Error::HandshakeTimeout);
            }
            other => other?,
        };
        if tunnel
            .receive(buf.get(..n).unwrap_or_default())?
            .is_complete()
        {
            stream.set_write_timeout(None)?;
            return Ok(());
        }
    }
}

fn dialing_left(now: Instant, deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(now))
}

/// Connects to a `ws://` URL over TCP (each resolved address in turn, within the handshake
/// timeout, `TCP_NODELAY` on), through the HTTP proxy of
/// [`ConnectOptions::proxy`](super::ConnectOptions::proxy) if there is one, and runs the
/// opening handshake. `wss://` fails with [`Error::TlsRequired`]: connect TLS yourself and
/// use [`connect_with`] or [`connect_via`] (the async adapters have TLS with the `rustls`
/// feature).
pub fn connect(
    url: &str,
    options: impl Into<ConnectOptions>,
) -> Result<(WebSocket<TcpStream>, Response), Error> {
    let (mut ws, response) = connect_via(url, options, |target, timeout| {
        if target.tls {
            return Err(Error::TlsRequired(target.url));
        }
        let mut last = io::Error::new(io::ErrorKind::NotFound, "host resolved to no address");
        for addr in target.address().to_socket_addrs()? {
            let attempt = match timeout {
                Some(t) => TcpStream::connect_timeout(&addr, t.max(MIN_TIMEOUT)),
                None => TcpStream::connect(addr),
            };
            match attempt {
                Ok(mut stream) => {
                    let _ = stream.set_nodelay(true);
                    open_tunnel(&mut stream, &target, timeout)?;
                    return Ok(stream);
                }
                Err(e) => last = e,
            }
        }
        Err(Error::Io(last))
    })?;
    ws.peer_addr = Stream::peer_addr(&ws.stream);
    ws.session.set_peer_addr(ws.peer_addr);
    Ok((ws, response))
}
