//! The blocking adapter (feature `std`): a [`WebSocket`] over any [`Stream`] (a `Read +
//! Write` that can set a read timeout), with `connect` over TCP and `accept`.
//!
//! Timers (keepalive, idle and close timeouts) run on socket read timeouts derived from
//! [`Connection::poll_timeout`]: while waiting for input, a read returns at the next deadline.
//! Writes block (that is the backpressure). The loop is the one described in [`super`].
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
use alloc::vec;
use core::time::Duration;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};

use super::{
    AcceptAll, AcceptOptions, Callback, ConnectOptions, Driver, Error, HANDSHAKE_CHUNK, Message,
    ServerDriver, ServerStep, Target, handshake_eof, next_redirect,
};
use crate::handshake::{ClientHandshake, Response};
use crate::{CloseCode, Connection, Instant, SendError, State, Status};

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
}

impl Stream for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
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
    driver: Driver,
    epoch: std::time::Instant,
    protocol: Option<String>,
    read_timeout: Option<Duration>,
    finished: bool,
    failed: Option<io::ErrorKind>,
    failure_reported: bool,
    pending_error: Option<Error>,
    shutdown_done: bool,
}

/// The smallest read timeout (zero means "none" to the OS).
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

impl<S: Stream> WebSocket<S> {
    /// Wraps a stream and a connection (handshake done elsewhere, or a raw
    /// [`Connection::new`]). Whatever the connection already queued is written first.
    pub fn from_connection(stream: S, conn: Connection, protocol: Option<String>) -> Self {
        WebSocket {
            stream,
            driver: Driver::new(conn),
            epoch: std::time::Instant::now(),
            protocol,
            read_timeout: None,
            finished: false,
            failed: None,
            failure_reported: false,
            pending_error: None,
            shutdown_done: false,
        }
    }

    fn now(&self) -> Instant {
        Instant::from_duration(self.epoch.elapsed())
    }

    /// The negotiated subprotocol.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The connection (state, buffered amount, extensions, fragments, pings...).
    pub fn connection(&mut self) -> &mut Connection {
        self.driver.connection()
    }

    /// Where the closing handshake stands.
    pub fn state(&self) -> State {
        self.driver.state()
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, mutably (reading or writing it directly corrupts the connection).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    fn fail(&mut self, e: &io::Error) {
        if self.failed.is_none() {
            self.failed = Some(e.kind());
        }
    }

    /// Step 2: writes everything the connection holds (blocking) and flushes.
    fn write_out(&mut self) -> Result<(), Error> {
        if let Some(kind) = self.failed {
            return Err(Error::Io(kind.into()));
        }
        let mut wrote = false;
        loop {
            let buf = self.driver.transmit();
            if buf.is_empty() {
                break;
            }
            match self.stream.write(buf) {
                Ok(0) => {
                    let e = io::Error::from(io::ErrorKind::WriteZero);
                    self.fail(&e);
                    return Err(Error::Io(e));
                }
                Ok(n) => {
                    self.driver.advance(n);
                    wrote = true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(&e);
                    return Err(Error::Io(e));
                }
            }
        }
        if wrote {
            if let Err(e) = self.stream.flush() {
                self.fail(&e);
                return Err(Error::Io(e));
            }
        }
        Ok(())
    }

    fn recv_inner(&mut self, discard: bool) -> Option<Result<Message, Error>> {
        loop {
            if self.finished {
                return None;
            }
            if let Some(e) = self.pending_error.take() {
                if self.write_out().is_ok() && !self.shutdown_done && self.driver.shutdown_after(&e)
                {
                    let _ = self.stream.shutdown();
                    self.shutdown_done = true;
                }
                return Some(Err(e));
            }
            if let Some(kind) = self.failed {
                if self.failure_reported {
                    self.finished = true;
                    return None;
                }
                self.failure_reported = true;
                return Some(Err(Error::Io(kind.into())));
            }
            // 1. deliver
            match self.driver.next_message() {
                Some(Ok(m)) => {
                    if discard && !m.is_close() {
                        continue;
                    }
                    return Some(Ok(m));
                }
                Some(Err(e)) => {
                    self.pending_error = Some(e);
                    continue;
                }
                None => {}
            }
            // 2. write
            if self.write_out().is_err() {
                continue;
            }
            // 3. timers
            let now = self.now();
            let deadline = self.driver.poll_timeout();
            if let Some(deadline) = deadline {
                if deadline <= now {
                    self.driver.handle_timeout(now);
                    continue;
                }
            }
            // 4. finish
            if self.driver.should_close_transport() {
                if !self.shutdown_done {
                    let _ = self.stream.shutdown();
                }
                self.finished = true;
                return None;
            }
            // 5. read, waking up at the next deadline
            let timeout = deadline.map(|d| d.saturating_duration_since(now).max(MIN_TIMEOUT));
            if self.driver.should_read() {
                if timeout != self.read_timeout {
                    if let Err(e) = self.stream.set_read_timeout(timeout) {
                        self.fail(&e);
                        continue;
                    }
                    self.read_timeout = timeout;
                }
                let result = self.stream.read(self.driver.recv_buf());
                match result {
                    Ok(n) => {
                        let now = self.now();
                        self.driver.commit(now, n);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock
                                | io::ErrorKind::TimedOut
                                | io::ErrorKind::Interrupted
                        ) => {}
                    Err(e) => self.fail(&e),
                }
                continue;
            }
            if self.driver.eof() {
                self.finished = true;
                return None;
            }
            // Not reading and nothing to write: only a timer can change anything.
            match timeout {
                Some(t) => std::thread::sleep(t),
                None => {
                    self.finished = true;
                    return None;
                }
            }
        }
    }

    /// The next message (blocking); `None` once the connection is closed and the transport
    /// shut down.
    pub fn recv(&mut self) -> Option<Result<Message, Error>> {
        self.recv_inner(false)
    }

    /// Sends a message and writes it out (blocking).
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        if let Some(kind) = self.failed {
            return Err(Error::Io(kind.into()));
        }
        let now = self.now();
        match self.driver.send(now, &message) {
            Err(SendError::Full) => {
                self.write_out()?;
                let now = self.now();
                self.driver.send(now, &message)?;
            }
            other => other?,
        }
        self.write_out()
    }

    /// Closes: sends Close(code, reason), then reads (discarding data) until the peer's Close
    /// arrives and the transport is closed, or the close timeout runs out: it never hangs
    /// (given a stream with read timeouts). `Ok` after a clean closing handshake.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if self.failed.is_none() && !self.finished {
            let now = self.now();
            self.driver.start_close(now, code, reason)?;
        }
        let mut result = Ok(());
        while let Some(item) = self.recv_inner(true) {
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
// Handshakes.

fn deadline_of(timeout: Option<Duration>) -> Option<std::time::Instant> {
    timeout.map(|t| std::time::Instant::now() + t)
}

/// Sets the read timeout to what is left before `deadline`; `Err(HandshakeTimeout)` if none.
fn arm<S: Stream>(stream: &mut S, deadline: Option<std::time::Instant>) -> Result<(), Error> {
    let Some(deadline) = deadline else {
        return Ok(());
    };
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    if left.is_zero() {
        return Err(Error::HandshakeTimeout);
    }
    stream.set_read_timeout(Some(left.max(MIN_TIMEOUT)))?;
    Ok(())
}

fn read_handshake<S: Stream>(
    stream: &mut S,
    buf: &mut [u8],
    deadline: Option<std::time::Instant>,
) -> Result<usize, Error> {
    loop {
        arm(stream, deadline)?;
        match stream.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if deadline.is_some() {
                    return Err(Error::HandshakeTimeout);
                }
            }
            Err(e) => return Err(Error::Io(e)),
        }
    }
}

fn client_exchange<S: Stream>(
    stream: &mut S,
    hs: &mut ClientHandshake,
    deadline: Option<std::time::Instant>,
) -> Result<(), Error> {
    while !hs.poll_transmit().is_empty() {
        let n = stream.write(hs.poll_transmit())?;
        if n == 0 {
            return Err(Error::Io(io::ErrorKind::WriteZero.into()));
        }
        hs.advance_transmit(n);
    }
    stream.flush()?;
    let mut buf = vec![0u8; HANDSHAKE_CHUNK];
    loop {
        let n = read_handshake(stream, &mut buf, deadline)?;
        if n == 0 {
            hs.receive_eof()?;
            return Err(handshake_eof());
        }
        if let Status::Complete(()) = hs.receive(buf.get(..n).unwrap_or_default())? {
            break;
        }
    }
    if deadline.is_some() {
        stream.set_read_timeout(None)?;
    }
    Ok(())
}

fn finish_client<S: Stream>(
    stream: S,
    hs: ClientHandshake,
) -> Result<(WebSocket<S>, Response), Error> {
    let epoch = std::time::Instant::now();
    let (conn, response) = hs.into_connection(Instant::ZERO)?;
    let protocol = response.protocol().map(String::from);
    let mut ws = WebSocket::from_connection(stream, conn, protocol);
    ws.epoch = epoch;
    Ok((ws, response))
}

/// Runs the client handshake over a stream you connected (TLS for `wss://`). No redirects.
pub fn connect_with<S: Stream>(
    mut stream: S,
    url: &str,
    options: impl Into<ConnectOptions>,
) -> Result<(WebSocket<S>, Response), Error> {
    let mut options = options.into();
    let deadline = deadline_of(options.get_handshake_timeout());
    let client = options.next_options().unwrap_or_default();
    let mut hs = ClientHandshake::new(url, client)?;
    client_exchange(&mut stream, &mut hs, deadline)?;
    finish_client(stream, hs)
}

/// Connects with your connector for each attempt (the URL and each redirect followed). The
/// connector gets the target and what is left of the handshake timeout.
pub fn connect_via<S: Stream>(
    url: &str,
    options: impl Into<ConnectOptions>,
    mut connect: impl FnMut(Target, Option<Duration>) -> Result<S, Error>,
) -> Result<(WebSocket<S>, Response), Error> {
    let mut options = options.into();
    let mut url = String::from(url);
    let mut followed = 0;
    loop {
        let Some(client) = options.next_options() else {
            return Err(Error::Send(SendError::Closed));
        };
        let timeout = options.get_handshake_timeout();
        let deadline = deadline_of(timeout);
        let mut hs = ClientHandshake::new(&url, client)?;
        let target = Target {
            host: String::from(hs.host()),
            port: hs.port(),
            tls: hs.is_tls(),
            url: url.clone(),
        };
        let mut stream = connect(target.clone(), timeout)?;
        match client_exchange(&mut stream, &mut hs, deadline) {
            Ok(()) => return finish_client(stream, hs),
            Err(Error::Handshake(e)) => url = next_redirect(e, &target, &options, &mut followed)?,
            Err(e) => return Err(e),
        }
    }
}

/// Connects to a `ws://` URL over TCP (each resolved address in turn, within the handshake
/// timeout) and runs the opening handshake. `wss://` fails with [`Error::TlsRequired`]: connect
/// TLS yourself and use [`connect_with`] or [`connect_via`].
pub fn connect(
    url: &str,
    options: impl Into<ConnectOptions>,
) -> Result<(WebSocket<TcpStream>, Response), Error> {
    connect_via(url, options, |target, timeout| {
        if target.tls {
            return Err(Error::TlsRequired(target.url));
        }
        let mut last = io::Error::new(io::ErrorKind::NotFound, "host resolved to no address");
        for addr in (target.host.as_str(), target.port).to_socket_addrs()? {
            let attempt = match timeout {
                Some(t) => TcpStream::connect_timeout(&addr, t),
                None => TcpStream::connect(addr),
            };
            match attempt {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(e) => last = e,
            }
        }
        Err(Error::Io(last))
    })
}

/// Accepts a WebSocket on a stream: every valid request, no subprotocol, no extensions,
/// default 10 s handshake timeout.
pub fn accept<S: Stream>(stream: S) -> Result<WebSocket<S>, Error> {
    accept_with(stream, AcceptOptions::default(), AcceptAll)
}

/// Accepts a WebSocket on a stream, asking `callback` about the request. A rejected or
/// invalid request gets its HTTP error response and the stream is shut down.
pub fn accept_with<S: Stream, C: Callback>(
    mut stream: S,
    options: impl Into<AcceptOptions>,
    callback: C,
) -> Result<WebSocket<S>, Error> {
    let options = options.into();
    let deadline = deadline_of(options.get_handshake_timeout());
    let epoch = std::time::Instant::now();
    let mut server = ServerDriver::new(options.into_server(), callback);
    let mut buf = vec![0u8; HANDSHAKE_CHUNK];
    loop {
        let n = read_handshake(&mut stream, &mut buf, deadline)?;
        if n == 0 {
            return Err(handshake_eof());
        }
        let now = Instant::from_duration(epoch.elapsed());
        match server.receive(now, buf.get(..n).unwrap_or_default()) {
            ServerStep::Continue => {}
            ServerStep::Accepted(conn, protocol) => {
                if deadline.is_some() {
                    stream.set_read_timeout(None)?;
                }
                let mut ws = WebSocket::from_connection(stream, *conn, protocol);
                ws.epoch = epoch;
                ws.write_out()?;
                return Ok(ws);
            }
            ServerStep::Failed(e) => {
                let response = server.transmit().to_vec();
                server.advance(response.len());
                if stream
                    .write_all(&response)
                    .and_then(|()| stream.flush())
                    .is_ok()
                {
                    let _ = stream.shutdown();
                }
                return Err(e);
            }
        }
    }
}

/// Accepts a request that was already read from `stream` and parsed elsewhere
/// ([`Request::from_parts`](crate::handshake::Request::from_parts); ws `handleUpgrade`): the
/// 101 response is written first, then the WebSocket runs. An invalid request is an error
/// (answer it with [`HandshakeError::to_reject`](crate::handshake::HandshakeError::to_reject)).
/// If another HTTP server writes the 101 itself (hyper/axum), use `from_connection` with
/// [`handshake::accept_parsed`](crate::handshake::accept_parsed) instead.
pub fn accept_parsed<S: Stream>(
    stream: S,
    request: &crate::handshake::Request,
    accept: crate::handshake::Accept,
    config: crate::Config,
) -> Result<WebSocket<S>, Error> {
    let (conn, protocol) = super::upgrade_parsed(request, accept, config)?;
    Ok(WebSocket::from_connection(stream, conn, protocol))
}
