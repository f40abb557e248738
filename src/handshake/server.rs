//! Server side: parse and validate the upgrade request, let the application look at it, then
//! accept (101) or reject.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::headers::{cookie_pairs, list_contains, parse_extensions, parse_token_list};
use super::{
    ExtensionOffer, HandshakeError, HeadReader, Version, accept_key, map_httparse, reason_phrase,
    valid_header, values, write_header,
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

/// A validated WebSocket upgrade request, for the application to inspect before deciding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    version: Version,
    key: String,
    protocols: Vec<String>,
    extensions: Vec<ExtensionOffer>,
}

impl Request {
    /// Validates a request another HTTP server already parsed (hyper, axum: ws `noServer` +
    /// `handleUpgrade`), assumed to be HTTP/1.1. `target` is the request target (path and
    /// query). Errors are the same as [`ServerHandshake::receive`]'s; answer them with
    /// [`HandshakeError::to_reject`].
    pub fn from_parts(
        method: &str,
        target: &str,
        headers: &[(&str, &[u8])],
    ) -> Result<Request, HandshakeError> {
        let headers = headers
            .iter()
            .map(|(n, v)| (String::from(*n), Vec::from(*v)))
            .collect();
        Self::validate(String::from(method), String::from(target), headers)
    }

    fn validate(
        method: String,
        target: String,
        headers: Vec<(String, Vec<u8>)>,
    ) -> Result<Request, HandshakeError> {
        if method != "GET" {
            return Err(HandshakeError::MethodNotAllowed);
        }
        if !target.starts_with('/') && !target.contains("://") {
            return Err(HandshakeError::Malformed("request target"));
        }
        {
            let mut hosts = values(&headers, "Host");
            if hosts.next().is_none() || hosts.next().is_some() {
                return Err(HandshakeError::MissingHost);
            }
        }
        if !values(&headers, "Upgrade").any(|v| list_contains(v, "websocket")) {
            return Err(HandshakeError::MissingUpgrade);
        }
        if !values(&headers, "Connection").any(|v| list_contains(v, "upgrade")) {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        let version = {
            let mut it = values(&headers, "Sec-WebSocket-Version");
            match (it.next().map(trim), it.next()) {
                (Some(b"13"), None) => Version::V13,
                (Some(b"8"), None) => Version::V8,
                _ => return Err(HandshakeError::UnsupportedVersion),
            }
        };
        let key = {
            let mut it = values(&headers, "Sec-WebSocket-Key");
            let (Some(k), None) = (it.next().map(trim), it.next()) else {
                return Err(HandshakeError::InvalidKey);
            };
            let mut raw = [0u8; 18];
            match BASE64.decode_slice(k, &mut raw) {
                Ok(16) if k.len() == 24 => {}
                _ => return Err(HandshakeError::InvalidKey),
            }
            String::from(core::str::from_utf8(k).map_err(|_| HandshakeError::InvalidKey)?)
        };
        let mut protocols = Vec::new();
        for v in values(&headers, "Sec-WebSocket-Protocol") {
            parse_token_list(v, &mut protocols).ok_or(HandshakeError::InvalidProtocolHeader)?;
        }
        let mut extensions = Vec::new();
        for v in values(&headers, "Sec-WebSocket-Extensions") {
            parse_extensions(v, &mut extensions).ok_or(HandshakeError::InvalidExtensionHeader)?;
        }
        Ok(Request {
            method,
            target,
            headers,
            version,
            key,
            protocols,
            extensions,
        })
    }

    /// The method (always `GET` once validated).
    pub fn method(&self) -> &str {
        &self.method
    }
    /// The request target as received (path and query, or an absolute URI).
    pub fn target(&self) -> &str {
        &self.target
    }
    /// The path: the target without its query (and without scheme and authority if the target
    /// was an absolute URI).
    pub fn path(&self) -> &str {
        let t = self
            .target
            .split_once('?')
            .map_or(self.target.as_str(), |(p, _)| p);
        match t.split_once("://") {
            Some((_, rest)) => rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/"),
            None => t,
        }
    }
    /// The query, without `?`.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }
    /// The `Host` header.
    pub fn host(&self) -> Option<&str> {
        self.header("Host")
    }
    /// `Origin`, or `Sec-WebSocket-Origin` (version 8).
    pub fn origin(&self) -> Option<&str> {
        self.header("Origin")
            .or_else(|| self.header("Sec-WebSocket-Origin"))
    }
    /// The subprotocols the client offered, in its order of preference.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }
    /// The extensions the client offered, parsed, in its order.
    pub fn extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }
    /// The protocol version the client asked for.
    pub fn version(&self) -> Version {
        self.version
    }
    /// `Sec-WebSocket-Key`.
    pub fn key(&self) -> &str {
        &self.key
    }
    /// All header fields in order, names as received.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }
    /// The first header with this name (case-insensitive), if its value is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        values(&self.headers, name)
            .next()
            .and_then(|v| core::str::from_utf8(v).ok())
    }
    /// The cookies of every `Cookie` header, as `(name, value)` split on `;` and the first `=`.
    pub fn cookies(&self) -> impl Iterator<Item = (&str, &str)> {
        values(&self.headers, "Cookie")
            .filter_map(|v| core::str::from_utf8(v).ok())
            .flat_map(cookie_pairs)
    }
}

fn trim(v: &[u8]) -> &[u8] {
    v.trim_ascii()
}

/// Edits the final header list of a 101 response (ws `headers` event).
pub type HeaderEditor = Box<dyn FnOnce(&mut Vec<(String, String)>) + Send>;

/// The application's decision to accept.
#[derive(Default)]
pub struct Accept {
    /// The subprotocol to select; must be one the client offered.
    pub protocol: Option<String>,
    /// Extra response headers (e.g. `Set-Cookie`), after the WebSocket ones.
    pub headers: Vec<(String, String)>,
    /// Server-side extension candidates, fresh instances. For each client offer in order, the
    /// first not yet accepted candidate of that name gets [`Extension::accept_offer`]; accepted
    /// candidates go into the connection in the client's order, the others are dropped.
    pub extensions: Vec<Box<dyn Extension>>,
    /// Called last with the complete header list of the 101, to edit it before it is written.
    pub edit_headers: Option<HeaderEditor>,
}

impl fmt::Debug for Accept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accept")
            .field("protocol", &self.protocol)
            .field("headers", &self.headers)
            .field("extensions", &self.extensions)
            .field("edit_headers", &self.edit_headers.is_some())
            .finish()
    }
}

impl Accept {
    /// Accept with no subprotocol, no extensions, no extra headers.
    pub fn new() -> Self {
        Self::default()
    }
    /// Select a subprotocol.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }
    /// Add a response header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// Add an extension candidate (a fresh instance).
    pub fn extension(mut self, extension: impl Extension + 'static) -> Self {
        self.extensions.push(Box::new(extension));
        self
    }
    /// Edit the final header list before it is written.
    pub fn edit_headers(
        mut self,
        f: impl FnOnce(&mut Vec<(String, String)>) + Send + 'static,
    ) -> Self {
        self.edit_headers = Some(Box::new(f));
        self
    }
}

/// The application's decision to refuse (WebSocket-Node's `reject`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// The status code; outside 200..=599 it is sent as 500.
    pub status: u16,
    /// The reason phrase; `None` (or one containing CR/LF) uses the standard phrase.
    pub reason: Option<String>,
    /// Extra headers; invalid ones (CR/LF in the value, a non-token name) are left out.
    pub headers: Vec<(String, String)>,
    /// The body (sent with `Content-Length`).
    pub body: Vec<u8>,
}

impl Default for Reject {
    fn default() -> Self {
        Reject {
            status: 403,
            reason: None,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

impl Reject {
    /// A rejection with this status and no body.
    pub fn new(status: u16) -> Self {
        Reject {
            status,
            ..Self::default()
        }
    }
    /// Set the reason phrase.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
    /// Add a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// Set the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The status actually sent.
    pub fn effective_status(&self) -> u16 {
        if (200..=599).contains(&self.status) {
            self.status
        } else {
            500
        }
    }

    /// The response bytes: status line, `Connection: close`, the extra headers,
    /// `Content-Length`, `Content-Type: text/plain; charset=utf-8` if there is a body and the
    /// headers have no `Content-Type`, then the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let status = self.effective_status();
        let reason = match &self.reason {
            Some(r) if super::headers::is_valid_value(r.as_bytes()) => r.as_str(),
            _ => reason_phrase(status),
        };
        let mut out = Vec::with_capacity(128 + self.body.len());
        out.extend_from_slice(alloc::format!("HTTP/1.1 {status} {reason}\r\n").as_bytes());
        write_header(&mut out, "Connection", b"close");
        let mut has_type = false;
        for (n, v) in &self.headers {
            if valid_header(n, v.as_bytes())
                && !n.eq_ignore_ascii_case("Content-Length")
                && !n.eq_ignore_ascii_case("Connection")
            {
                has_type |= n.eq_ignore_ascii_case("Content-Type");
                write_header(&mut out, n, v.as_bytes());
            }
        }
        if !self.body.is_empty() && !has_type {
            write_header(&mut out, "Content-Type", b"text/plain; charset=utf-8");
        }
        write_header(
            &mut out,
            "Content-Length",
            super::url::itoa(self.body.len() as u64).as_bytes(),
        );
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// A 101 response as status and headers, for an HTTP server that writes it itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseParts {
    /// Always 101.
    pub status: u16,
    /// The header fields in order.
    pub headers: Vec<(String, String)>,
}

impl ResponseParts {
    /// The response bytes: `HTTP/1.1 101 Switching Protocols`, the headers, an empty line.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(
            alloc::format!(
                "HTTP/1.1 {} {}\r\n",
                self.status,
                reason_phrase(self.status)
            )
            .as_bytes(),
        );
        for (n, v) in &self.headers {
            write_header(&mut out, n, v.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// The outcome of an accepted negotiation: the 101 and the extensions that became active.
#[derive(Debug)]
pub struct Negotiated {
    /// The 101 response.
    pub response: ResponseParts,
    /// The accepted extensions, in negotiation order (for [`Connection::with_extensions`]).
    pub extensions: Vec<Box<dyn Extension>>,
}

/// Runs the server side of the negotiation for a validated request: subprotocol, extensions,
/// headers, the application's header edit. The building block of [`ServerHandshake::accept`]
/// and [`accept_parsed`], for callers that construct the [`Connection`] themselves.
pub fn negotiate(request: &Request, accept: Accept) -> Result<Negotiated, HandshakeError> {
    let Accept {
        protocol,
        headers: extra,
        extensions: candidates,
        edit_headers,
    } = accept;
    if let Some(p) = &protocol {
        if !request.protocols.iter().any(|o| o == p) {
            return Err(HandshakeError::ProtocolNotOffered);
        }
    }
    let mut candidates: Vec<Option<Box<dyn Extension>>> =
        candidates.into_iter().map(Some).collect();
    let mut active = Vec::new();
    let mut elements = Vec::new();
    for offer in &request.extensions {
        let params = offer.params();
        let slot = candidates
            .iter_mut()
            .find(|c| c.as_ref().is_some_and(|e| e.name() == offer.name));
        if let Some(slot) = slot {
            if let Some(ext) = slot.as_mut() {
                if let Some(element) = ext.accept_offer(&params) {
                    elements.push(element);
                    if let Some(ext) = slot.take() {
                        active.push(ext);
                    }
                }
            }
        }
    }
    let mut headers: Vec<(String, String)> = Vec::with_capacity(6 + extra.len());
    headers.push(("Upgrade".into(), "websocket".into()));
    headers.push(("Connection".into(), "Upgrade".into()));
    headers.push((
        "Sec-WebSocket-Accept".into(),
        accept_key(request.key.as_bytes()),
    ));
    if let Some(p) = protocol {
        headers.push(("Sec-WebSocket-Protocol".into(), p));
    }
    if !elements.is_empty() {
        headers.push(("Sec-WebSocket-Extensions".into(), elements.join(", ")));
    }
    headers.extend(extra);
    if let Some(edit) = edit_headers {
        edit(&mut headers);
    }
    if !headers.iter().all(|(n, v)| valid_header(n, v.as_bytes())) {
        return Err(HandshakeError::InvalidHeader);
    }
    Ok(Negotiated {
        response: ResponseParts {
            status: 101,
            headers,
        },
        extensions: active,
    })
}

/// Accepts a request another HTTP server parsed ([`Request::from_parts`]): returns the
/// connection and the 101 for that server to write. Nothing is queued in the connection.
pub fn accept_parsed(
    request: &Request,
    accept: Accept,
    config: Config,
) -> Result<(Connection, ResponseParts), HandshakeError> {
    let Negotiated {
        response,
        extensions,
    } = negotiate(request, accept)?;
    Ok((
        Connection::with_extensions(Role::Server, config, extensions),
        response,
    ))
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
                parse_request(reader, self.options.max_headers)
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

fn parse_request(reader: &HeadReader, max_headers: usize) -> Result<Request, HandshakeError> {
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
    if method != "GET" {
        return Err(HandshakeError::MethodNotAllowed);
    }
    if version < 1 {
        return Err(HandshakeError::UnsupportedHttpVersion);
    }
    Request::validate(
        String::from(method),
        String::from(target),
        super::own_headers(req.headers),
    )
}
