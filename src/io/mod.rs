//! Adapters: the sans-IO core driven over real streams, blocking ([`blocking`], feature `std`),
//! on tokio ([`tokio`], feature `tokio`) and on any futures-io runtime such as smol or
//! async-std ([`futures`], feature `futures-io`).
//!
//! # The driver loop (the only one)
//!
//! Every adapter runs the same loop over a [`Connection`]; the bookkeeping lives once, in this
//! module (the private `Driver`), and the adapters only do the actual reads, writes and timer
//! waits:
//!
//! 1. **Deliver.** Drain [`Connection::poll_event`] into owned [`Message`]s (a
//!    [`MessageReader`] keeps track of streamed messages). A connection error is held until our
//!    Close frame is written, then returned once; the loop goes on until the transport closes.
//! 2. **Write.** Write [`Connection::poll_transmit`] and report it with
//!    [`Connection::advance_transmit`]; flush. Pongs and close replies the peer is owed go out
//!    here, whichever half (or task) runs the loop.
//! 3. **Timers.** When [`Connection::poll_timeout`] has passed, call
//!    [`Connection::handle_timeout`]; otherwise wait for it with the runtime's timer (tokio
//!    `Sleep`, `futures-timer`, or a socket read timeout for blocking streams). Keepalive pings,
//!    the idle timeout and the close timeout all come from here.
//! 4. **Finish.** Once [`Connection::should_close_transport`] says so (and everything is
//!    written), shut the transport down and end the stream.
//! 5. **Read.** Only while the connection wants input ([`Connection::wants_read`]: false while
//!    the pongs we owe cannot be written, so a peer that floods pings and never reads cannot
//!    grow our memory), read into [`Connection::recv_buf`] and
//!    [`commit_recv`](Connection::commit_recv); a read of 0 bytes is
//!    [`receive_eof`](Connection::receive_eof). After our side is closed, a client keeps
//!    reading only to see the server close the TCP connection.
//!
//! Time: each connection keeps its own epoch (a `std::time::Instant`, or a
//! `tokio::time::Instant` so tests with paused time work) and passes
//! `Instant::from_duration(epoch.elapsed())`.
//!
//! The two async adapters share one implementation, [`asynch::WebSocket`], generic over
//! [`asynch::AsyncIo`] (the runtime's read/write/flush/shutdown and sleep); `tokio` and
//! `futures` only implement that trait and add `connect`/`accept` entry points. The blocking
//! adapter runs the same steps with blocking calls.
//!
//! # Handshakes
//!
//! Client: [`ConnectOptions`] wraps the handshake's [`ClientOptions`] with a handshake timeout
//! (default 30 s) and redirects (off by default; with [`ConnectOptions::max_redirects`], 301,
//! 302, 303, 307 and 308 answers with a `Location` in the `ws`, `wss`, `http` or `https` scheme
//! are followed). A failed handshake's response is in [`Error::response`].
//!
//! Server: [`AcceptOptions`] wraps [`ServerOptions`] with a handshake timeout that is on by
//! default (10 s) so that stalled, half-sent requests cannot pile up (slowloris). A
//! [`Callback`] (any `FnOnce(&Request) -> Result<Accept, Reject>`) sees the request and picks
//! the subprotocol, extra headers and extensions, or rejects it. A stream that another HTTP
//! server already upgraded (hyper, axum) is wrapped with each adapter's `from_connection` after
//! [`handshake::accept_parsed`](crate::handshake::accept_parsed).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use core::time::Duration;

use crate::handshake::{
    Accept, ClientOptions, HandshakeError, Reject, Request, ServerHandshake, ServerOptions,
};
use crate::message::MessageReader;
use crate::{Connection, Instant, SendError, State, Status};

#[cfg(any(feature = "tokio", feature = "futures-io"))]
pub mod asynch;
pub mod blocking;
mod error;
#[cfg(feature = "futures-io")]
pub mod futures;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use crate::message::{CloseFrame, Fragment, Message};
pub use error::Error;

/// How much spare input capacity each read asks the connection for.
const READ_CHUNK: usize = 32 * 1024;
/// Read buffer for the opening handshake.
const HANDSHAKE_CHUNK: usize = 4096;

/// The runtime-independent state of one adapter connection: the [`Connection`] plus what the
/// loop needs to remember (the streaming state of received messages, whether the peer's side of
/// the stream ended). Each step is a method; the adapters call them around their own I/O.
pub(crate) struct Driver {
    conn: Connection,
    reader: MessageReader,
    eof: bool,
}

impl core::fmt::Debug for Driver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver")
            .field("role", &self.conn.role())
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

impl Driver {
    pub(crate) fn new(conn: Connection) -> Self {
        Driver {
            conn,
            reader: MessageReader::new(),
            eof: false,
        }
    }

    pub(crate) fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub(crate) fn state(&self) -> State {
        self.conn.state()
    }

    /// Step 1: the next message, or the connection's error (once).
    pub(crate) fn next_message(&mut self) -> Option<Result<Message, Error>> {
        match self.reader.next(&mut self.conn) {
            Ok(Some(m)) => Some(Ok(m)),
            Ok(None) => None,
            Err(e) => Some(Err(Error::Connection(e))),
        }
    }

    /// Step 2: what to write.
    pub(crate) fn transmit(&self) -> &[u8] {
        self.conn.poll_transmit()
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.conn.advance_transmit(n);
    }

    /// Step 3: the next deadline.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.conn.poll_timeout()
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.conn.handle_timeout(now);
    }

    /// Step 4: whether to shut the transport down (once everything is written).
    pub(crate) fn should_close_transport(&self) -> bool {
        self.conn.should_close_transport()
    }

    /// Step 5: whether to read now.
    pub(crate) fn should_read(&self) -> bool {
        !self.eof
            && (self.conn.wants_read()
                || (self.conn.state() == State::Closed && !self.conn.should_close_transport()))
    }

    pub(crate) fn eof(&self) -> bool {
        self.eof
    }

    pub(crate) fn recv_buf(&mut self) -> &mut [u8] {
        self.conn.recv_buf(READ_CHUNK)
    }

    /// `n` bytes were read into [`recv_buf`](Driver::recv_buf); 0 is the end of the stream.
    pub(crate) fn commit(&mut self, now: Instant, n: usize) {
        if n == 0 {
            self.eof = true;
            self.conn.receive_eof(now);
        } else {
            self.conn.commit_recv(now, n);
        }
    }

    /// Whether to shut the transport down as soon as our Close is written, without waiting
    /// for the peer's: a server whose peer broke the protocol closes the TCP connection first
    /// (RFC 6455 §7.1.1, §7.1.7), so a misbehaving client cannot hold it open until the close
    /// timeout.
    pub(crate) fn shutdown_after(&self, error: &Error) -> bool {
        self.conn.role() == crate::Role::Server
            && matches!(error, Error::Connection(crate::Error::Protocol(_)))
    }

    /// Queues a message; [`SendError::Full`] means: write some out first.
    pub(crate) fn send(&mut self, now: Instant, message: &Message) -> Result<(), SendError> {
        message.queue(&mut self.conn, now)
    }

    /// Whether a data message would be accepted now (the send queue is under its cap).
    #[cfg(any(feature = "tokio", feature = "futures-io"))]
    pub(crate) fn has_send_capacity(&self) -> bool {
        self.conn.buffered_amount() < self.conn.config().get_max_send_queue()
    }

    /// Starts the closing handshake unless it already started.
    pub(crate) fn start_close(
        &mut self,
        now: Instant,
        code: crate::CloseCode,
        reason: &str,
    ) -> Result<(), Error> {
        if self.conn.state() != State::Open {
            return Ok(());
        }
        self.conn.close(now, code, reason).map_err(Error::Send)
    }
}

/// Client options of the adapters: the handshake's [`ClientOptions`] plus a handshake timeout
/// and redirects.
///
/// ```
/// use core::time::Duration;
/// use wsproto::handshake::ClientOptions;
/// use wsproto::io::ConnectOptions;
/// let options = ConnectOptions::from_fn(ClientOptions::default)
///     .handshake_timeout(Some(Duration::from_secs(5)))
///     .max_redirects(3);
/// # let _ = options;
/// ```
pub struct ConnectOptions {
    source: OptionsSource,
    handshake_timeout: Option<Duration>,
    max_redirects: usize,
}

enum OptionsSource {
    Once(Option<Box<ClientOptions>>),
    Factory(Box<dyn FnMut() -> ClientOptions + Send>),
}

impl core::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_redirects", &self.max_redirects)
            .finish_non_exhaustive()
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self::new(ClientOptions::default())
    }
}

impl From<ClientOptions> for ConnectOptions {
    fn from(options: ClientOptions) -> Self {
        Self::new(options)
    }
}

impl ConnectOptions {
    /// Default handshake timeout of a client (covers the TCP connect and the HTTP exchange).
    pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

    /// One connection attempt with these options. Redirects need fresh options (extensions
    /// are per connection), so they are only followed with [`ConnectOptions::from_fn`].
    pub fn new(options: ClientOptions) -> Self {
        ConnectOptions {
            source: OptionsSource::Once(Some(Box::new(options))),
            handshake_timeout: Some(Self::DEFAULT_HANDSHAKE_TIMEOUT),
            max_redirects: 0,
        }
    }

    /// Options made fresh for every attempt (the first and each redirect), e.g.
    /// `ConnectOptions::from_fn(|| ClientOptions::default().extension(PerMessageDeflate::default()))`.
    pub fn from_fn(make: impl FnMut() -> ClientOptions + Send + 'static) -> Self {
        ConnectOptions {
            source: OptionsSource::Factory(Box::new(make)),
            handshake_timeout: Some(Self::DEFAULT_HANDSHAKE_TIMEOUT),
            max_redirects: 0,
        }
    }

    /// Bound on connecting plus the opening handshake (per attempt). Default 30 s; `None`
    /// waits forever.
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Most redirects followed (301, 302, 303, 307, 308 with a `Location`). Default 0: a
    /// redirect is returned as [`Error::Handshake`] with the response.
    pub fn max_redirects(mut self, count: usize) -> Self {
        self.max_redirects = count;
        self
    }

    pub(crate) fn get_handshake_timeout(&self) -> Option<Duration> {
        self.handshake_timeout
    }

    /// Options for the next attempt; `None` when they cannot be made again.
    pub(crate) fn next_options(&mut self) -> Option<ClientOptions> {
        match &mut self.source {
            OptionsSource::Once(options) => options.take().map(|o| *o),
            OptionsSource::Factory(make) => Some(make()),
        }
    }

    fn can_redirect(&self) -> bool {
        matches!(self.source, OptionsSource::Factory(_))
    }
}

/// Where a client connects: from the URL (or a redirect).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Whether the URL was `wss://` (the stream must be TLS).
    pub tls: bool,
    /// The URL.
    pub url: String,
}

/// Decides what to do with a failed client handshake: the next URL (a redirect to follow),
/// or the error to return. `followed` counts the redirects already followed.
pub(crate) fn next_redirect(
    error: HandshakeError,
    target: &Target,
    options: &ConnectOptions,
    followed: &mut usize,
) -> Result<String, Error> {
    let HandshakeError::UnexpectedResponse(response) = error else {
        return Err(Error::Handshake(error));
    };
    if !matches!(response.status, 301 | 302 | 303 | 307 | 308) || options.max_redirects == 0 {
        return Err(Error::Handshake(HandshakeError::UnexpectedResponse(
            response,
        )));
    }
    if *followed >= options.max_redirects || !options.can_redirect() {
        return Err(Error::TooManyRedirects(response));
    }
    let Some(next) = response
        .location()
        .and_then(|location| resolve_location(target, location))
    else {
        return Err(Error::BadRedirect(response));
    };
    *followed += 1;
    Ok(next)
}

/// Resolves a `Location` against the current target into a `ws://` or `wss://` URL.
fn resolve_location(target: &Target, location: &str) -> Option<String> {
    let location = location.trim();
    let scheme_end = location.find("://");
    if let Some(end) = scheme_end {
        let (scheme, rest) = location.split_at_checked(end)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "ws" | "http" => "ws",
            "wss" | "https" => "wss",
            _ => return None,
        };
        return Some(format!("{scheme}{rest}"));
    }
    let scheme = if target.tls { "wss" } else { "ws" };
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        let host = if target.host.contains(':') {
            format!("[{}]", target.host)
        } else {
            target.host.to_string()
        };
        return Some(format!("{scheme}://{host}:{}{location}", target.port));
    }
    None
}

/// Server options of the adapters: the handshake's [`ServerOptions`] plus a handshake timeout.
#[derive(Debug)]
pub struct AcceptOptions {
    server: ServerOptions,
    handshake_timeout: Option<Duration>,
}

impl Default for AcceptOptions {
    fn default() -> Self {
        Self::new(ServerOptions::default())
    }
}

impl From<ServerOptions> for AcceptOptions {
    fn from(server: ServerOptions) -> Self {
        Self::new(server)
    }
}

impl AcceptOptions {
    /// Default server handshake timeout.
    pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

    /// These server options, with the default handshake timeout (10 s).
    pub fn new(server: ServerOptions) -> Self {
        AcceptOptions {
            server,
            handshake_timeout: Some(Self::DEFAULT_HANDSHAKE_TIMEOUT),
        }
    }

    /// Bound on receiving the request and sending the response. Default 10 s. `None` turns it
    /// off: then a client that sends half a request and stalls holds the connection open
    /// forever (slowloris); only do that behind something else that bounds it.
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    pub(crate) fn get_handshake_timeout(&self) -> Option<Duration> {
        self.handshake_timeout
    }

    pub(crate) fn into_server(self) -> ServerOptions {
        self.server
    }
}

/// Server: decides on an opening handshake request. Implemented by every
/// `FnOnce(&Request) -> Result<Accept, Reject>`.
///
/// ```
/// use wsproto::handshake::{Accept, Reject, Request};
/// fn decide(request: &Request) -> Result<Accept, Reject> {
///     if request.path() != "/chat" {
///         return Err(Reject { status: 404, ..Reject::default() });
///     }
///     let protocol = request.protocols().iter().find(|p| *p == "chat.v1").cloned();
///     Ok(Accept { protocol, ..Accept::default() })
/// }
/// # fn check<C: wsproto::io::Callback>(_: C) {}
/// # check(decide);
/// ```
pub trait Callback {
    /// Accept (with a subprotocol, headers, extensions) or reject (with a status).
    fn on_request(self, request: &Request) -> Result<Accept, Reject>;
}

impl<F: FnOnce(&Request) -> Result<Accept, Reject>> Callback for F {
    fn on_request(self, request: &Request) -> Result<Accept, Reject> {
        self(request)
    }
}

/// The default [`Callback`]: accepts every valid request, with no subprotocol and no
/// extensions.
#[derive(Clone, Copy, Debug, Default)]
pub struct AcceptAll;

impl Callback for AcceptAll {
    fn on_request(self, _request: &Request) -> Result<Accept, Reject> {
        Ok(Accept::default())
    }
}

/// What the server handshake needs next.
pub(crate) enum ServerStep {
    /// Read more.
    Continue,
    /// Accepted: the 101 response is queued in the connection's transmit.
    Accepted(Box<Connection>, Option<String>),
    /// Failed or rejected: write [`ServerDriver::transmit`], shut down, return the error.
    Failed(Error),
}

/// The server side of the opening handshake, shared by all adapters.
pub(crate) struct ServerDriver<C> {
    handshake: Option<ServerHandshake>,
    callback: Option<C>,
}

impl<C: Callback> ServerDriver<C> {
    pub(crate) fn new(options: ServerOptions, callback: C) -> Self {
        ServerDriver {
            handshake: Some(ServerHandshake::new(options)),
            callback: Some(callback),
        }
    }

    pub(crate) fn receive(&mut self, now: Instant, bytes: &[u8]) -> ServerStep {
        let Some(handshake) = self.handshake.as_mut() else {
            return ServerStep::Failed(Error::Io(std::io::ErrorKind::InvalidInput.into()));
        };
        match handshake.receive(bytes) {
            Ok(Status::Partial) => ServerStep::Continue,
            Err(e) => ServerStep::Failed(Error::Handshake(e)),
            Ok(Status::Complete(())) => {
                let decision = match (handshake.request(), self.callback.take()) {
                    (Some(request), Some(callback)) => callback.on_request(request),
                    _ => {
                        return ServerStep::Failed(Error::Io(
                            std::io::ErrorKind::InvalidInput.into(),
                        ));
                    }
                };
                match decision {
                    Ok(accept) => {
                        let protocol = accept.protocol.clone();
                        let Some(handshake) = self.handshake.take() else {
                            return ServerStep::Continue;
                        };
                        match handshake.accept(now, accept) {
                            Ok(conn) => ServerStep::Accepted(Box::new(conn), protocol),
                            Err(e) => ServerStep::Failed(Error::Handshake(e)),
                        }
                    }
                    Err(reject) => {
                        let status = reject.status;
                        handshake.reject(reject);
                        ServerStep::Failed(Error::Rejected(status))
                    }
                }
            }
        }
    }

    pub(crate) fn transmit(&self) -> &[u8] {
        self.handshake.as_ref().map_or(&[], |h| h.poll_transmit())
    }

    pub(crate) fn advance(&mut self, n: usize) {
        if let Some(h) = self.handshake.as_mut() {
            h.advance_transmit(n);
        }
    }
}

/// Server, for a request another component already read and parsed (ws `handleUpgrade`, a
/// router that peeked at the request): validates and negotiates it like
/// [`handshake::accept_parsed`](crate::handshake::accept_parsed), then queues the 101 response
/// at the front of the connection's output, so the adapter writes it before any frame.
pub(crate) fn upgrade_parsed(
    request: &Request,
    accept: Accept,
    config: crate::Config,
) -> Result<(Connection, Option<String>), Error> {
    let protocol = accept.protocol.clone();
    let (mut conn, parts) = crate::handshake::accept_parsed(request, accept, config)?;
    conn.queue_raw(&parts.to_bytes());
    Ok((conn, protocol))
}

/// A closed stream during the handshake.
pub(crate) fn handshake_eof() -> Error {
    Error::Io(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "connection closed during the opening handshake",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(tls: bool) -> Target {
        Target {
            host: "example.com".into(),
            port: 8080,
            tls,
            url: String::new(),
        }
    }

    #[test]
    fn locations_resolve() {
        let t = target(false);
        assert_eq!(
            resolve_location(&t, "ws://a/b").as_deref(),
            Some("ws://a/b")
        );
        assert_eq!(
            resolve_location(&t, "HTTPS://a:1/b?c").as_deref(),
            Some("wss://a:1/b?c")
        );
        assert_eq!(resolve_location(&t, "http://a").as_deref(), Some("ws://a"));
        assert_eq!(resolve_location(&t, "//b/c").as_deref(), Some("ws://b/c"));
        assert_eq!(
            resolve_location(&target(true), "//b/c").as_deref(),
            Some("wss://b/c")
        );
        assert_eq!(
            resolve_location(&t, "/x?y").as_deref(),
            Some("ws://example.com:8080/x?y")
        );
        let v6 = Target {
            host: "::1".into(),
            port: 9,
            tls: false,
            url: String::new(),
        };
        assert_eq!(
            resolve_location(&v6, "/x").as_deref(),
            Some("ws://[::1]:9/x")
        );
        assert_eq!(resolve_location(&t, "ftp://a/b"), None);
        assert_eq!(resolve_location(&t, "relative"), None);
    }
}
