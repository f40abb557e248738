//! The server's opening handshake as steps: read the request, ask the application (which may
//! take time), answer with 101 or a rejection, all before a deadline.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::net::SocketAddr;
use core::pin::Pin;
use core::time::Duration;

use super::{Error, Misuse, Session};
use crate::handshake::{
    Accept, HandshakeError, PlainRequest, Reject, Request, ResponseParts, ServerHandshake,
    ServerOptions,
};
use crate::trace::{self, event};
use crate::{Config, Connection, Instant, Status};

/// Read size while the request comes in.
const REQUEST_CHUNK: usize = 2048;

/// Answers plain HTTP requests (not upgrades) on a WebSocket port; `None` keeps the
/// handshake's error response (400 or 405).
pub type PlainHandler = Arc<dyn Fn(&PlainRequest) -> Option<Reject> + Send + Sync>;

/// Server options of the adapters: the handshake's [`ServerOptions`], a handshake timeout, and
/// what the executor knows about the transport (peer address, TLS) for the decision.
#[derive(Clone)]
pub struct AcceptOptions {
    server: ServerOptions,
    handshake_timeout: Option<Duration>,
    peer_addr: Option<SocketAddr>,
    secure: bool,
    plain: Option<PlainHandler>,
}

impl fmt::Debug for AcceptOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptOptions")
            .field("server", &self.server)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("peer_addr", &self.peer_addr)
            .field("secure", &self.secure)
            .field("plain", &self.plain.is_some())
            .finish()
    }
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
            peer_addr: None,
            secure: false,
            plain: None,
        }
    }

    /// Answers requests that are not WebSocket upgrades with `handler`'s response (a page at
    /// `/`, a health check; the connection is closed after it). Without it, or when it
    /// returns `None`, they get the handshake's error (400, or 405 for other methods).
    pub fn plain_http(
        mut self,
        handler: impl Fn(&PlainRequest) -> Option<Reject> + Send + Sync + 'static,
    ) -> Self {
        self.plain = Some(Arc::new(handler));
        self
    }

    /// Bound on receiving the request, deciding, and sending the response. Default 10 s.
    /// `None` turns it off: then a client that sends half a request and stalls holds the
    /// connection open forever (slowloris); only do that behind something else that bounds it.
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The peer's address, shown to the decision as [`Request::peer_addr`] (the TCP adapters
    /// fill it in themselves where they can).
    pub fn peer_addr(mut self, addr: Option<SocketAddr>) -> Self {
        self.peer_addr = addr;
        self
    }

    /// Whether the transport is TLS, shown to the decision as [`Request::is_secure`].
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The configuration the connection will get.
    pub fn config(&self) -> &Config {
        &self.server.config
    }

    /// The handshake timeout.
    pub fn get_handshake_timeout(&self) -> Option<Duration> {
        self.handshake_timeout
    }

    /// The peer address set with [`peer_addr`](AcceptOptions::peer_addr).
    pub fn get_peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr
    }
}

/// A decision on an upgrade request that is ready now or comes later (ws `verifyClient` with
/// a callback: a token check, a database lookup).
pub enum Decision {
    /// Decided.
    Now(Result<Accept, Reject>),
    /// Decided when this future completes (within the handshake timeout).
    Later(Pin<Box<dyn Future<Output = Result<Accept, Reject>> + Send>>),
}

impl Decision {
    /// A decision that takes time: the future owns what it needs (clone it from the request).
    pub fn later(decision: impl Future<Output = Result<Accept, Reject>> + Send + 'static) -> Self {
        Decision::Later(Box::pin(decision))
    }
}

impl fmt::Debug for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Now(r) => f.debug_tuple("Now").field(r).finish(),
            Decision::Later(_) => f.write_str("Later(..)"),
        }
    }
}

impl From<Result<Accept, Reject>> for Decision {
    fn from(result: Result<Accept, Reject>) -> Self {
        Decision::Now(result)
    }
}

impl From<Accept> for Decision {
    fn from(accept: Accept) -> Self {
        Decision::Now(Ok(accept))
    }
}

impl From<Reject> for Decision {
    fn from(reject: Reject) -> Self {
        Decision::Now(Err(reject))
    }
}

/// Server: decides on an opening handshake request. Implemented by every
/// `FnOnce(&Request) -> D` where `D` is a `Result<Accept, Reject>` (decided now) or a
/// [`Decision`] (possibly later).
///
/// ```
/// use wsproto::handshake::{Accept, Reject, Request};
/// use wsproto::session::Decision;
/// // Now:
/// fn decide(request: &Request) -> Result<Accept, Reject> {
///     if request.path() != "/chat" {
///         return Err(Reject { status: 404, ..Reject::default() });
///     }
///     let protocol = request.protocols().iter().find(|p| *p == "chat.v1").cloned();
///     Ok(Accept { protocol, ..Accept::default() })
/// }
/// // Later: look the token up somewhere that takes time.
/// fn verify(request: &Request) -> Decision {
///     let token = request.header("Authorization").map(String::from);
///     Decision::later(async move {
///         match token {
///             Some(t) if t == "Bearer sesame" => Ok(Accept::default()),
///             _ => Err(Reject { status: 401, ..Reject::default() }),
///         }
///     })
/// }
/// # fn check<C: wsproto::session::Callback>(_: C) {}
/// # check(decide);
/// # check(verify);
/// ```
pub trait Callback {
    /// Accept (with a subprotocol, headers, extensions) or reject (with a status).
    fn on_request(self, request: &Request) -> Decision;
}

impl<F, D> Callback for F
where
    F: FnOnce(&Request) -> D,
    D: Into<Decision>,
{
    fn on_request(self, request: &Request) -> Decision {
        self(request).into()
    }
}

/// The default [`Callback`]: accepts every valid request, with no subprotocol and no
/// extensions.
#[derive(Clone, Copy, Debug, Default)]
pub struct AcceptAll;

impl Callback for AcceptAll {
    fn on_request(self, _request: &Request) -> Decision {
        Decision::Now(Ok(Accept::default()))
    }
}

/// What the executor of an [`Accepting`] does next.
#[must_use]
#[derive(Debug)]
pub enum AcceptStep<'a> {
    /// Read into this buffer, then [`Accepting::received`].
    Read(&'a mut [u8]),
    /// Ask the application about this request, then [`Accepting::decide`].
    Decide(&'a Request),
    /// Write these bytes (the 101 or the error response), then [`Accepting::wrote`].
    Write(&'a [u8]),
    /// Flush, then [`Accepting::flushed`].
    Flush,
    /// Shut the write side down (after an error response), then [`Accepting::shut_down`].
    Shutdown,
    /// The 101 is out: take the session with [`Accepting::into_session`].
    Accepted,
    /// The handshake failed (the error response, if any, is out).
    Failed(Error),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Reading,
    Deciding,
    /// Writing the 101 (held in the connection).
    Answering,
    /// Writing an error response, then shutting down.
    Refusing,
    Done,
}

/// The server's opening handshake, sans-IO: the executor reads, asks the [`Callback`],
/// writes and waits as told, and never past [`deadline`](Accepting::deadline).
pub struct Accepting {
    handshake: ServerHandshake,
    conn: Option<Connection>,
    request: Option<Request>,
    protocol: Option<alloc::string::String>,
    phase: Phase,
    buf: Vec<u8>,
    needs_flush: bool,
    shut_down: bool,
    error: Option<Error>,
    deadline: Option<Instant>,
    peer_addr: Option<SocketAddr>,
    secure: bool,
    plain: Option<PlainHandler>,
}

impl fmt::Debug for Accepting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accepting")
            .field("phase", &self.phase)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Accepting {
    /// A handshake that starts now.
    pub fn new(now: Instant, options: AcceptOptions) -> Self {
        Accepting {
            handshake: ServerHandshake::new(options.server),
            conn: None,
            request: None,
            protocol: None,
            phase: Phase::Reading,
            buf: Vec::new(),
            needs_flush: false,
            shut_down: false,
            error: None,
            deadline: options.handshake_timeout.map(|t| now + t),
            peer_addr: options.peer_addr,
            secure: options.secure,
            plain: options.plain,
        }
    }

    /// When the handshake times out (the executor bounds every wait by it).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// What to do next.
    pub fn step(&mut self, now: Instant) -> AcceptStep<'_> {
        if self.phase != Phase::Done && self.deadline.is_some_and(|d| now >= d) {
            self.phase = Phase::Done;
            event!(
                INFO,
                "handshake timed out",
                role = "server",
                peer = trace::peer(self.peer_addr),
                timeout = "handshake",
            );
            return AcceptStep::Failed(Error::HandshakeTimeout);
        }
        match self.phase {
            Phase::Reading => {
                if self.buf.len() < REQUEST_CHUNK {
                    self.buf = vec![0; REQUEST_CHUNK];
                }
                AcceptStep::Read(&mut self.buf)
            }
            Phase::Deciding => {
                if self.handshake.request().is_none() {
                    return self.fail(Error::Misuse(Misuse::HandshakeOver));
                }
                match self.handshake.request() {
                    Some(request) => AcceptStep::Decide(request),
                    None => AcceptStep::Failed(Error::Misuse(Misuse::HandshakeOver)),
                }
            }
            Phase::Answering => {
                let pending = self.conn.as_ref().map(|c| c.poll_transmit().len());
                match pending {
                    None => return self.fail(Error::Misuse(Misuse::HandshakeOver)),
                    Some(0) => {}
                    Some(_) => {
                        let out = self.conn.as_ref().map_or(&[][..], |c| c.poll_transmit());
                        return AcceptStep::Write(out);
                    }
                }
                if self.needs_flush {
                    return AcceptStep::Flush;
                }
                self.phase = Phase::Done;
                log_accepted(self.request.as_ref(), self.protocol.as_deref());
                AcceptStep::Accepted
            }
            Phase::Refusing => {
                if !self.handshake.poll_transmit().is_empty() {
                    return AcceptStep::Write(self.handshake.poll_transmit());
                }
                if self.needs_flush {
                    return AcceptStep::Flush;
                }
                if !self.shut_down {
                    return AcceptStep::Shutdown;
                }
                let error = self
                    .error
                    .take()
                    .unwrap_or(Error::Misuse(Misuse::HandshakeOver));
                log_refused(self.peer_addr, &error);
                self.fail(error)
            }
            Phase::Done => AcceptStep::Failed(Error::Misuse(Misuse::HandshakeOver)),
        }
    }

    fn fail(&mut self, error: Error) -> AcceptStep<'static> {
        self.phase = Phase::Done;
        AcceptStep::Failed(error)
    }

    /// `n` bytes were read into the buffer of [`AcceptStep::Read`]; 0 is the end of the
    /// stream.
    pub fn received(&mut self, _now: Instant, n: usize) {
        if self.phase != Phase::Reading {
            return;
        }
        if n == 0 {
            let _ = self.handshake.receive_eof();
            self.error = Some(Error::Handshake(HandshakeError::UnexpectedEof));
            self.phase = Phase::Refusing;
            self.shut_down = true;
            return;
        }
        let bytes = self.buf.get(..n).unwrap_or_default();
        match self.handshake.receive(bytes) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(())) => {
                self.buf = Vec::new();
                if let Some(request) = self.handshake.request_mut() {
                    request.set_transport(self.peer_addr, self.secure);
                }
                self.phase = Phase::Deciding;
            }
            Err(e) => {
                self.buf = Vec::new();
                let answer = match (&self.plain, self.handshake.plain_request()) {
                    (Some(handler), Some(request)) => handler(request),
                    _ => None,
                };
                self.error = Some(match answer {
                    Some(response) => {
                        let status = response.status;
                        self.handshake.answer_plain(response);
                        Error::PlainHttp(status)
                    }
                    None => Error::Handshake(e),
                });
                self.phase = Phase::Refusing;
            }
        }
    }

    /// The application's decision on the request of [`AcceptStep::Decide`].
    pub fn decide(&mut self, now: Instant, decision: Result<Accept, Reject>) {
        if self.phase != Phase::Deciding {
            return;
        }
        match decision {
            Ok(accept) => {
                let protocol = accept.protocol.clone();
                self.request = self.handshake.request().cloned();
                let handshake = core::mem::replace(
                    &mut self.handshake,
                    ServerHandshake::new(ServerOptions::default()),
                );
                match handshake.accept(now, accept) {
                    Ok(conn) => {
                        self.conn = Some(conn);
                        self.protocol = protocol;
                        self.phase = Phase::Answering;
                    }
                    Err(e) => {
                        // Negotiation failed (e.g. a subprotocol the client did not offer):
                        // answer like any invalid request.
                        if let Some(reject) = e.to_reject() {
                            self.handshake.reject(reject);
                        }
                        self.error = Some(Error::Handshake(e));
                        self.phase = Phase::Refusing;
                    }
                }
            }
            Err(reject) => {
                let status = reject.status;
                self.handshake.reject(reject);
                self.error = Some(Error::Rejected(status));
                self.phase = Phase::Refusing;
            }
        }
    }

    /// `n` bytes of [`AcceptStep::Write`] were written.
    pub fn wrote(&mut self, n: usize) {
        match (self.phase, self.conn.as_mut()) {
            (Phase::Answering, Some(conn)) => conn.advance_transmit(n),
            _ => self.handshake.advance_transmit(n),
        }
        self.needs_flush = true;
    }

    /// The transport was flushed.
    pub fn flushed(&mut self) {
        self.needs_flush = false;
    }

    /// The write side was shut down (or could not be: it is over either way).
    pub fn shut_down(&mut self) {
        self.shut_down = true;
        self.needs_flush = false;
    }

    /// After [`AcceptStep::Accepted`]: the session (the 101 is written) and the request it
    /// answered (ws `upgradeReq`).
    pub fn into_session(self) -> Result<(Session, Request), Error> {
        match (self.conn, self.request) {
            (Some(conn), Some(request)) => {
                let session = Session::accepted(conn, self.protocol, &request);
                Ok((session, request))
            }
            _ => Err(Error::Misuse(Misuse::HandshakeOver)),
        }
    }
}

/// Server, for a request another component already read and parsed (ws `handleUpgrade`, a
/// router that peeked at the request): validates and negotiates it like
/// [`handshake::accept_parsed`](crate::handshake::accept_parsed), then queues the 101 response
/// at the front of the session's output, so the executor writes it before any frame.
pub fn accept_parsed(request: &Request, accept: Accept, config: Config) -> Result<Session, Error> {
    let (mut session, parts) = negotiate(request, accept, config)?;
    session.conn.queue_raw(&parts.to_bytes());
    Ok(session)
}

/// Server, for an HTTP server that writes the 101 itself (hyper, axum; see
/// `wsproto::upgrade`): negotiates like [`accept_parsed`] and returns the session with
/// nothing queued, and the 101 for that server to send. The session reports the negotiated
/// subprotocol, extensions and protocol version; run it over the upgraded stream (the tokio
/// adapter's `from_accepted`).
pub fn negotiate(
    request: &Request,
    accept: Accept,
    config: Config,
) -> Result<(Session, ResponseParts), Error> {
    let protocol = accept.protocol.clone();
    let (conn, parts) = crate::handshake::accept_parsed(request, accept, config)
        .inspect_err(|e| log_refused(request.peer_addr(), &Error::Handshake(e.clone())))?;
    log_accepted(Some(request), protocol.as_deref());
    Ok((Session::accepted(conn, protocol, request), parts))
}

/// The log event of an accepted handshake (the 101 is written or queued).
fn log_accepted(request: Option<&Request>, protocol: Option<&str>) {
    event!(
        DEBUG,
        "handshake accepted",
        role = "server",
        peer = trace::peer(request.and_then(Request::peer_addr)),
        path = request.map_or("", Request::path),
        protocol = protocol,
    );
}

/// The log event of a refused handshake, once the answer (if any) is out: rejected with an
/// HTTP status (invalid request, the application's decision, a failed negotiation), a plain
/// HTTP request answered, or a connection that ended before its request did.
fn log_refused(peer: Option<SocketAddr>, error: &Error) {
    let peer = trace::peer(peer);
    match error {
        Error::PlainHttp(status) => event!(
            DEBUG,
            "plain HTTP request answered",
            role = "server",
            peer = peer,
            status = *status,
        ),
        Error::Handshake(HandshakeError::UnexpectedEof) => event!(
            DEBUG,
            "handshake abandoned",
            role = "server",
            peer = peer,
            reason = %error,
        ),
        _ => event!(
            INFO,
            "handshake rejected",
            role = "server",
            peer = peer,
            status = match error {
                Error::Rejected(status) => Some(*status),
                Error::Handshake(e) => e.status(),
                _ => None,
            },
            reason = %error,
        ),
    }
}
