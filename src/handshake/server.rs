//! Server side: parse and validate the upgrade request, let the application look at it, then
//! accept (101) or reject.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use super::request::HeaderList;
use super::{
    Accept, HandshakeError, HeadReader, Negotiated, PlainRequest, Reject, Request, map_httparse,
    negotiate,
};
use crate::extension::Extension;
use crate::{Config, Connection, Instant, Role, Status};

/// Server handshake settings.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Cap on the request's header block, request line included (default 8 KiB). More: 431.
    pub max_header_bytes: usize,
    /// Cap on the number of header fields (default 64). More: 431.
    pub max_headers: usize,
    /// The configuration of the resulting [`Connection`].
    pub config: Config,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_header_bytes: 8 << 10,
            max_headers: 64,
            config: Config::new(),
        }
    }
}

impl ServerOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// See [`ServerOptions::max_header_bytes`].
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }
    /// See [`ServerOptions::max_headers`].
    pub fn max_headers(mut self, count: usize) -> Self {
        self.max_headers = count;
        self
    }
    /// See [`ServerOptions::config`].
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }
}

/// An accepted server handshake, taken apart ([`ServerHandshake::accept_parts`]).
#[derive(Debug)]
pub struct ServerParts {
    /// The 101 response bytes, to write before any frame.
    pub response: Vec<u8>,
    /// The accepted extensions, in negotiation order.
    pub extensions: Vec<Box<dyn Extension>>,
    /// Bytes the client sent after its request: its first frames.
    pub leftover: Vec<u8>,
}

#[derive(Debug)]
enum State {
    Reading(HeadReader),
    Complete,
    Failed(HandshakeError),
    Rejected,
}

/// The server side of the opening handshake.
#[derive(Debug)]
pub struct ServerHandshake {
    options: ServerOptions,
    state: State,
    request: Option<Request>,
    /// A request that parsed as HTTP but is not an upgrade.
    plain: Option<PlainRequest>,
    /// Bytes after the request (the client's first frames).
    leftover: Vec<u8>,
    transmit: Vec<u8>,
    sent: usize,
}

impl ServerHandshake {
    /// A handshake waiting for the request.
    pub fn new(options: ServerOptions) -> Self {
        let reader = HeadReader::new(options.max_header_bytes);
        ServerHandshake {
            options,
            state: State::Reading(reader),
            request: None,
            plain: None,
            leftover: Vec::new(),
            transmit: Vec::new(),
            sent: 0,
        }
    }

    /// Request bytes, in chunks of any size (one byte at a time works). `Complete` once the
    /// request is in and valid: look at [`request`](Self::request), then accept or reject. On
    /// `Err` an error response is queued in [`poll_transmit`](Self::poll_transmit): write it,
    /// then close. Bytes after the request are kept for the connection.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Status<()>, HandshakeError> {
        let reader = match &mut self.state {
            State::Reading(r) => r,
            State::Complete => {
                self.leftover.extend_from_slice(bytes);
                return Ok(Status::Complete(()));
            }
            State::Failed(e) => return Err(e.clone()),
            State::Rejected => return Err(HandshakeError::InvalidState),
        };
        let result = match reader.feed(bytes) {
            Ok(None) => return Ok(Status::Partial),
            Ok(Some(n)) => {
                self.leftover
                    .extend_from_slice(bytes.get(n..).unwrap_or_default());
                parse_request(reader, self.options.max_headers, &mut self.plain)
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(request) => {
                self.request = Some(request);
                self.state = State::Complete;
                Ok(Status::Complete(()))
            }
            Err(e) => {
                if let Some(reject) = e.to_reject() {
                    self.transmit = reject.to_bytes();
                    self.sent = 0;
                }
                self.leftover = Vec::new();
                self.state = State::Failed(e.clone());
                Err(e)
            }
        }
    }

    /// The client closed the stream before its request was complete.
    pub fn receive_eof(&mut self) -> Result<(), HandshakeError> {
        match self.state {
            State::Reading(_) => {
                self.state = State::Failed(HandshakeError::UnexpectedEof);
                Err(HandshakeError::UnexpectedEof)
            }
            _ => Ok(()),
        }
    }

    /// The validated request, once [`receive`](Self::receive) returned `Complete`.
    pub fn request(&self) -> Option<&Request> {
        self.request.as_ref()
    }

    /// The validated request, mutably (an executor records the peer address in it).
    pub fn request_mut(&mut self) -> Option<&mut Request> {
        self.request.as_mut()
    }

    /// Accepts: negotiates (see [`negotiate`]) and returns the connection, with the 101 queued at
    /// the front of its `poll_transmit` and the bytes the client sent after its request already
    /// fed to it.
    pub fn accept(self, now: Instant, accept: Accept) -> Result<Connection, HandshakeError> {
        let (Some(request), State::Complete) = (&self.request, &self.state) else {
            return Err(HandshakeError::InvalidState);
        };
        let Negotiated {
            response,
            extensions,
        } = negotiate(request, accept)?;
        let mut conn = Connection::with_extensions(Role::Server, self.options.config, extensions);
        conn.queue_raw(&response.to_bytes());
        if !self.leftover.is_empty() {
            conn.receive(now, &self.leftover);
        }
        Ok(conn)
    }

    /// Like [`accept`](Self::accept), but returns the parts, for building a connection
    /// yourself.
    pub fn accept_parts(self, accept: Accept) -> Result<ServerParts, HandshakeError> {
        let (Some(request), State::Complete) = (&self.request, &self.state) else {
            return Err(HandshakeError::InvalidState);
        };
        let Negotiated {
            response,
            extensions,
        } = negotiate(request, accept)?;
        Ok(ServerParts {
            response: response.to_bytes(),
            extensions,
            leftover: self.leftover,
        })
    }

    /// A request that parsed as HTTP/1.x but is not a WebSocket upgrade (after
    /// [`receive`](Self::receive) failed with [`HandshakeError::MissingUpgrade`] or
    /// [`HandshakeError::MethodNotAllowed`]).
    pub fn plain_request(&self) -> Option<&PlainRequest> {
        self.plain.as_ref()
    }

    /// Answers a [`plain_request`](Self::plain_request) with this response (status, headers,
    /// body) instead of the error response: write it, then close.
    pub fn answer_plain(&mut self, response: Reject) {
        if self.plain.is_some() {
            self.transmit = response.to_bytes();
            self.sent = 0;
        }
    }

    /// Refuses: queues the response in [`poll_transmit`](Self::poll_transmit); write it, then
    /// close. Ignored if an error response is already queued.
    pub fn reject(&mut self, reject: Reject) {
        if matches!(self.state, State::Failed(_)) {
            return;
        }
        self.transmit = reject.to_bytes();
        self.sent = 0;
        self.leftover = Vec::new();
        self.state = State::Rejected;
    }

    /// Bytes to write (an error or rejection response).
    pub fn poll_transmit(&self) -> &[u8] {
        self.transmit.get(self.sent..).unwrap_or_default()
    }

    /// `n` bytes of [`poll_transmit`](Self::poll_transmit) were written.
    pub fn advance_transmit(&mut self, n: usize) {
        self.sent = self.sent.saturating_add(n).min(self.transmit.len());
    }
}

fn parse_request(
    reader: &HeadReader,
    max_headers: usize,
    plain: &mut Option<PlainRequest>,
) -> Result<Request, HandshakeError> {
    let mut slots = reader.header_slots(max_headers);
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(reader.head()) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(HandshakeError::Malformed("incomplete request"));
        }
        Err(e) => return Err(map_httparse(e)),
    }
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Err(HandshakeError::Malformed("request line"));
    };
    let upgrade = req.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("Upgrade")
            && h.value
                .split(|b| *b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"websocket"))
    });
    if !upgrade {
        *plain = Some(PlainRequest::new(
            String::from(method),
            String::from(target),
            HeaderList::from_httparse(req.headers),
        ));
    }
    if method != "GET" {
        return Err(HandshakeError::MethodNotAllowed);
    }
    if version < 1 {
        return Err(HandshakeError::UnsupportedHttpVersion);
    }
    Request::validate(
        method,
        String::from(target),
        HeaderList::from_httparse(req.headers),
    )
}
