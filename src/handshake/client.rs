//! Client side: build the upgrade request, validate the response.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::headers::{list_contains, parse_extensions};
use super::url::WsUrl;
use super::{
    ExtensionOffer, HandshakeError, HeadReader, Response, Version, accept_key, map_httparse,
    valid_header, values, write_header,
};
use crate::extension::Extension;
use crate::{Config, Connection, Instant, Role, Status};

/// Client handshake settings.
#[derive(Debug)]
pub struct ClientOptions {
    /// Subprotocols to offer, most preferred first (`Sec-WebSocket-Protocol`).
    pub protocols: Vec<String>,
    /// `Origin` (version 13) or `Sec-WebSocket-Origin` (version 8).
    pub origin: Option<String>,
    /// Extra request headers (Authorization, Cookie, …), written after the WebSocket ones. A
    /// `Host` here replaces the one derived from the URL.
    pub headers: Vec<(String, String)>,
    /// The protocol version (13 by default).
    pub version: Version,
    /// Extensions to offer, one fresh instance each, in order of preference. By default
    /// permessage-deflate with its default settings (as ws offers it);
    /// [`no_extensions`](ClientOptions::no_extensions) clears the list.
    pub extensions: Vec<Box<dyn Extension>>,
    /// Cap on the response's header block, and separately on the body kept from a non-101
    /// response (default 16 KiB). A larger header block fails with
    /// [`HandshakeError::HeadersTooLarge`]; a larger body is truncated.
    pub max_response_bytes: usize,
    /// Cap on the response's header count (default 64).
    pub max_headers: usize,
    /// The configuration of the resulting [`Connection`]; its entropy source makes the key.
    pub config: Config,
}

/// Clones every setting; extensions are cloned as fresh, not yet negotiated instances
/// ([`Extension::fresh`]).
impl Clone for ClientOptions {
    fn clone(&self) -> Self {
        ClientOptions {
            protocols: self.protocols.clone(),
            origin: self.origin.clone(),
            headers: self.headers.clone(),
            version: self.version,
            extensions: self.extensions.iter().map(|e| e.fresh()).collect(),
            max_response_bytes: self.max_response_bytes,
            max_headers: self.max_headers,
            config: self.config.clone(),
        }
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            protocols: Vec::new(),
            origin: None,
            headers: Vec::new(),
            version: Version::V13,
            extensions: alloc::vec![Box::new(crate::deflate::PerMessageDeflate::default())],
            max_response_bytes: 16 << 10,
            max_headers: 64,
            config: Config::new(),
        }
    }
}

impl ClientOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Offer a subprotocol (call in order of preference).
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocols.push(protocol.into());
        self
    }
    /// Set the origin.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }
    /// Add a request header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// Set the protocol version.
    pub fn version(mut self, version: Version) -> Self {
        self.version = version;
        self
    }
    /// Offers no extension (not even the default permessage-deflate).
    pub fn no_extensions(mut self) -> Self {
        self.extensions.clear();
        self
    }

    /// Offer an extension (a fresh instance), after those already added; it replaces an
    /// earlier one of the same name (e.g. the default permessage-deflate).
    pub fn extension(mut self, extension: impl Extension + 'static) -> Self {
        self.extensions.retain(|e| e.name() != extension.name());
        self.extensions.push(Box::new(extension));
        self
    }
    /// See [`ClientOptions::max_response_bytes`].
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }
    /// See [`ClientOptions::max_headers`].
    pub fn max_headers(mut self, count: usize) -> Self {
        self.max_headers = count;
        self
    }
    /// Set the connection's configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }
}

#[derive(Debug)]
enum State {
    Head(HeadReader),
    /// A non-101 answer: reading its body; `remaining` from Content-Length, `None` until EOF.
    Body {
        response: Box<Response>,
        remaining: Option<usize>,
    },
    Complete(Response),
    Failed(HandshakeError),
}

/// A completed client handshake, taken apart ([`ClientHandshake::into_parts`]).
#[derive(Debug)]
pub struct ClientParts {
    /// The 101 response.
    pub response: Response,
    /// The extensions the server accepted, in its order.
    pub extensions: Vec<Box<dyn Extension>>,
    /// Bytes received after the 101: the first WebSocket bytes.
    pub leftover: Vec<u8>,
    /// The configuration from the options.
    pub config: Config,
}

/// The client side of the opening handshake.
#[derive(Debug)]
pub struct ClientHandshake {
    url: WsUrl,
    protocols: Vec<String>,
    offered: Vec<Box<dyn Extension>>,
    accepted: Vec<Box<dyn Extension>>,
    config: Config,
    max_headers: usize,
    max_body: usize,
    accept: String,
    request: Vec<u8>,
    sent: usize,
    state: State,
    leftover: Vec<u8>,
}

impl ClientHandshake {
    /// Builds the request for `url` (`ws://` or `wss://`; host, port, path, query, `[IPv6]`).
    /// Fails on a bad URL, an invalid header in `options`, or no entropy source.
    pub fn new(url: &str, options: ClientOptions) -> Result<Self, HandshakeError> {
        let url = super::url::parse(url)?;
        let fill = options
            .config
            .get_random()
            .ok_or(HandshakeError::NoEntropy)?;
        let mut raw = [0u8; 16];
        fill(&mut raw);
        let key = BASE64.encode(raw);

        let custom = |name: &str| {
            options
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        let mut req = Vec::with_capacity(256);
        req.extend_from_slice(b"GET ");
        req.extend_from_slice(url.target.as_bytes());
        req.extend_from_slice(b" HTTP/1.1\r\n");
        if !custom("Host") {
            write_header(&mut req, "Host", url.host_header.as_bytes());
        }
        write_header(&mut req, "Upgrade", b"websocket");
        write_header(&mut req, "Connection", b"Upgrade");
        write_header(&mut req, "Sec-WebSocket-Key", key.as_bytes());
        write_header(
            &mut req,
            "Sec-WebSocket-Version",
            options.version.as_str().as_bytes(),
        );
        if let Some(origin) = &options.origin {
            if !super::headers::is_valid_value(origin.as_bytes()) {
                return Err(HandshakeError::InvalidHeader);
            }
            write_header(&mut req, options.version.origin_header(), origin.as_bytes());
        }
        if !options.protocols.is_empty() {
            if !options
                .protocols
                .iter()
                .all(|p| super::headers::is_token(p.as_bytes()))
            {
                return Err(HandshakeError::InvalidHeader);
            }
            write_header(
                &mut req,
                "Sec-WebSocket-Protocol",
                options.protocols.join(", ").as_bytes(),
            );
        }
        let offers: Vec<String> = options
            .extensions
            .iter()
            .map(|e| e.offer())
            .filter(|o| !o.is_empty())
            .collect();
        if !offers.is_empty() {
            let value = offers.join(", ");
            if !super::headers::is_valid_value(value.as_bytes()) {
                return Err(HandshakeError::InvalidHeader);
            }
            write_header(&mut req, "Sec-WebSocket-Extensions", value.as_bytes());
        }
        for (n, v) in &options.headers {
            if !valid_header(n, v.as_bytes()) {
                return Err(HandshakeError::InvalidHeader);
            }
            write_header(&mut req, n, v.as_bytes());
        }
        req.extend_from_slice(b"\r\n");

        Ok(ClientHandshake {
            url,
            protocols: options.protocols,
            offered: options.extensions,
            accepted: Vec::new(),
            config: options.config,
            max_headers: options.max_headers,
            max_body: options.max_response_bytes,
            accept: accept_key(key.as_bytes()),
            request: req,
            sent: 0,
            state: State::Head(HeadReader::new(options.max_response_bytes)),
            leftover: Vec::new(),
        })
    }

    /// The host to connect to (IPv6 without brackets), also the TLS server name.
    pub fn host(&self) -> &str {
        &self.url.host
    }
    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.url.port
    }
    /// Whether the URL was `wss://`.
    pub fn is_tls(&self) -> bool {
        self.url.tls
    }
    /// The request target (path and query) sent.
    pub fn target(&self) -> &str {
        &self.url.target
    }

    /// Request bytes still to write.
    pub fn poll_transmit(&self) -> &[u8] {
        self.request.get(self.sent..).unwrap_or_default()
    }
    /// `n` bytes of [`poll_transmit`](Self::poll_transmit) were written.
    pub fn advance_transmit(&mut self, n: usize) {
        self.sent = self.sent.saturating_add(n).min(self.request.len());
    }

    /// Response bytes, in chunks of any size. `Complete` once a valid 101 is in (call
    /// [`into_connection`](Self::into_connection); later bytes are kept for the connection).
    /// A non-101 answer: its body is read (Content-Length, capped) and then
    /// `Err(UnexpectedResponse)`; without Content-Length, call
    /// [`receive_eof`](Self::receive_eof) at the end of the stream.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Status<()>, HandshakeError> {
        match &mut self.state {
            State::Head(reader) => {
                let n = match reader.feed(bytes) {
                    Ok(None) => return Ok(Status::Partial),
                    Ok(Some(n)) => n,
                    Err(e) => return Err(self.fail(e)),
                };
                let rest = bytes.get(n..).unwrap_or_default();
                match self.parse_head() {
                    Ok(None) => {
                        self.leftover.extend_from_slice(rest);
                        Ok(Status::Complete(()))
                    }
                    Ok(Some(body_state)) => {
                        self.state = body_state;
                        self.receive(rest)
                    }
                    Err(e) => Err(self.fail(e)),
                }
            }
            State::Body {
                response,
                remaining,
            } => {
                let room = self.max_body.saturating_sub(response.body.len());
                let want = remaining.unwrap_or(usize::MAX).min(room);
                let take = bytes.get(..want.min(bytes.len())).unwrap_or_default();
                response.body.extend_from_slice(take);
                if let Some(r) = remaining {
                    *r -= take.len();
                }
                if *remaining == Some(0) || response.body.len() >= self.max_body {
                    let e = HandshakeError::UnexpectedResponse(response.clone());
                    return Err(self.fail(e));
                }
                Ok(Status::Partial)
            }
            State::Complete(_) => {
                self.leftover.extend_from_slice(bytes);
                Ok(Status::Complete(()))
            }
            State::Failed(e) => Err(e.clone()),
        }
    }

    /// The server closed the stream: ends a non-101 body read to EOF
    /// (`Err(UnexpectedResponse)`), or fails an incomplete handshake (`Err(UnexpectedEof)`).
    pub fn receive_eof(&mut self) -> Result<(), HandshakeError> {
        match &mut self.state {
            State::Head(_) => Err(self.fail(HandshakeError::UnexpectedEof)),
            State::Body { response, .. } => {
                let e = HandshakeError::UnexpectedResponse(response.clone());
                Err(self.fail(e))
            }
            State::Failed(e) => Err(e.clone()),
            State::Complete(_) => Ok(()),
        }
    }

    /// The 101 response, once [`receive`](Self::receive) returned `Complete`.
    pub fn response(&self) -> Option<&Response> {
        match &self.state {
            State::Complete(r) => Some(r),
            _ => None,
        }
    }

    /// The extensions the server accepted, in its order (after `Complete`).
    pub fn extensions(&self) -> &[Box<dyn Extension>] {
        &self.accepted
    }

    /// The connection (with the negotiated extensions and the bytes received after the 101
    /// already fed to it) and the 101 response. Call after `Complete`.
    ///
    /// # Errors
    /// [`HandshakeError::InvalidState`] before `Complete`.
    pub fn into_connection(self, now: Instant) -> Result<(Connection, Response), HandshakeError> {
        let ClientParts {
            response,
            extensions,
            leftover,
            config,
        } = self.into_parts()?;
        let mut conn = Connection::with_extensions(Role::Client, config, extensions);
        if !leftover.is_empty() {
            conn.receive(now, &leftover);
        }
        Ok((conn, response))
    }

    /// The parts of a completed handshake, for building a connection yourself.
    ///
    /// # Errors
    /// [`HandshakeError::InvalidState`] before `Complete`.
    pub fn into_parts(self) -> Result<ClientParts, HandshakeError> {
        match self.state {
            State::Complete(response) => Ok(ClientParts {
                response,
                extensions: self.accepted,
                leftover: self.leftover,
                config: self.config,
            }),
            _ => Err(HandshakeError::InvalidState),
        }
    }

    fn fail(&mut self, e: HandshakeError) -> HandshakeError {
        self.state = State::Failed(e.clone());
        e
    }

    /// Parses the complete head: `Ok(None)` for a valid 101 (state set to Complete), `Ok(Some)`
    /// for the body state of a non-101 answer.
    fn parse_head(&mut self) -> Result<Option<State>, HandshakeError> {
        let State::Head(reader) = &self.state else {
            return Err(HandshakeError::InvalidState);
        };
        let mut slots = reader.header_slots(self.max_headers);
        let mut resp = httparse::Response::new(&mut slots);
        match resp.parse(reader.head()) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => {
                return Err(HandshakeError::Malformed("incomplete response"));
            }
            Err(e) => return Err(map_httparse(e)),
        }
        let status = resp.code.unwrap_or(0);
        let response = Response {
            status,
            reason: String::from(resp.reason.unwrap_or("")),
            headers: super::own_headers(resp.headers),
            body: Vec::new(),
        };
        if status != 101 {
            let remaining = if (100..200).contains(&status) || status == 204 || status == 304 {
                Some(0)
            } else {
                content_length(&response.headers)?
            };
            return Ok(Some(State::Body {
                response: Box::new(response),
                remaining,
            }));
        }
        self.accepted = self.validate_101(&response)?;
        self.state = State::Complete(response);
        Ok(None)
    }

    fn validate_101(
        &mut self,
        response: &Response,
    ) -> Result<Vec<Box<dyn Extension>>, HandshakeError> {
        let h = &response.headers;
        if !values(h, "Upgrade").any(|v| list_contains(v, "websocket")) {
            return Err(HandshakeError::MissingUpgrade);
        }
        if !values(h, "Connection").any(|v| list_contains(v, "upgrade")) {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        let mut accept = values(h, "Sec-WebSocket-Accept");
        match (accept.next(), accept.next()) {
            (Some(v), None) if v.trim_ascii() == self.accept.as_bytes() => {}
            _ => return Err(HandshakeError::AcceptMismatch),
        }
        let mut proto = values(h, "Sec-WebSocket-Protocol");
        match (proto.next(), proto.next()) {
            (None, _) => {}
            (Some(p), None) => {
                let p = p.trim_ascii();
                if !self.protocols.iter().any(|o| o.as_bytes() == p) {
                    return Err(HandshakeError::ProtocolNotOffered);
                }
            }
            (Some(_), Some(_)) => return Err(HandshakeError::ProtocolNotOffered),
        }
        let mut elements: Vec<ExtensionOffer> = Vec::new();
        for v in values(h, "Sec-WebSocket-Extensions") {
            parse_extensions(v, &mut elements).ok_or(HandshakeError::InvalidExtensionHeader)?;
        }
        let mut active = Vec::with_capacity(elements.len());
        for element in &elements {
            let pos = self
                .offered
                .iter()
                .position(|e| e.name() == element.name)
                .ok_or(HandshakeError::ExtensionNotOffered)?;
            let mut ext = self.offered.swap_remove(pos);
            ext.accept_response(&element.params())
                .map_err(HandshakeError::Extension)?;
            active.push(ext);
        }
        Ok(active)
    }
}

/// The body length of a non-101 response: `Some(n)` from one valid Content-Length, `None`
/// (read to EOF) without one or with Transfer-Encoding.
fn content_length(headers: &[(String, Vec<u8>)]) -> Result<Option<usize>, HandshakeError> {
    if values(headers, "Transfer-Encoding").next().is_some() {
        return Ok(None);
    }
    let mut it = values(headers, "Content-Length");
    match (it.next(), it.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => {
            let v = v.trim_ascii();
            if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
                return Err(HandshakeError::Malformed("Content-Length"));
            }
            // Saturate: a huge length just means "more than we keep".
            let n = core::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .unwrap_or(usize::MAX);
            Ok(Some(n))
        }
        (Some(_), Some(_)) => Err(HandshakeError::Malformed("repeated Content-Length")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_entropy_is_an_error() {
        let mut config = Config::new();
        config.random = None;
        let e = ClientHandshake::new("ws://h/", ClientOptions::new().config(config)).unwrap_err();
        assert_eq!(e, HandshakeError::NoEntropy);
    }
}
