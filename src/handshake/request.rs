//! The upgrade request as the application sees it, and its validation (RFC 6455 §4.2.1).

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::headers::{cookie_pairs, list_contains, parse_extensions, parse_token_list};
use super::{ExtensionOffer, HandshakeError, Version, values};

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
    peer_addr: Option<core::net::SocketAddr>,
    secure: bool,
}

impl Request {
    /// Validates a request another HTTP server already parsed (hyper, axum: ws `noServer` +
    /// `handleUpgrade`), assumed to be HTTP/1.1. `target` is the request target (path and
    /// query). Errors are the same as
    /// [`ServerHandshake::receive`](super::ServerHandshake::receive)'s; answer them with
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

    pub(super) fn validate(
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
            peer_addr: None,
            secure: false,
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
    /// The address of the peer, as the executor that read the request knows it (ws
    /// `req.socket.remoteAddress`); `None` when it was not told. A proxy's address unless
    /// the server layer is configured to trust forwarding headers.
    pub fn peer_addr(&self) -> Option<core::net::SocketAddr> {
        self.peer_addr
    }
    /// Whether the transport is encrypted (ws `info.secure`): TLS under the WebSocket.
    pub fn is_secure(&self) -> bool {
        self.secure
    }
    /// Records where the request came from (executors call this before the decision).
    pub fn set_transport(&mut self, peer_addr: Option<core::net::SocketAddr>, secure: bool) {
        self.peer_addr = peer_addr;
        self.secure = secure;
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

/// An HTTP request that is not a WebSocket upgrade (no `Upgrade: websocket`), kept so that a
/// server can answer it itself (a page at `/`, a health check) through
/// [`ServerHandshake::answer_plain`](super::ServerHandshake::answer_plain).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlainRequest {
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
}

impl PlainRequest {
    pub(crate) fn new(method: String, target: String, headers: Vec<(String, Vec<u8>)>) -> Self {
        PlainRequest {
            method,
            target,
            headers,
        }
    }
    /// The method (`GET`, `POST`, …).
    pub fn method(&self) -> &str {
        &self.method
    }
    /// The request target as sent (path and query).
    pub fn target(&self) -> &str {
        &self.target
    }
    /// The path of the target, without the query.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(p, _)| p)
    }
    /// The first value of a header (case-insensitive name), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        values(&self.headers, name)
            .next()
            .and_then(|v| core::str::from_utf8(v).ok())
    }
}
