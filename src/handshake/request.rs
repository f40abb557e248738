//! The upgrade request as the application sees it, and its validation (RFC 6455 §4.2.1).

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::headers::{cookie_pairs, list_contains, parse_extensions, parse_token_list};
use super::{ExtensionOffer, HandshakeError, Version, matching};

/// A validated WebSocket upgrade request, for the application to inspect before deciding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    target: String,
    headers: HeaderList,
    version: Version,
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
        let headers = HeaderList::from_pairs(headers.iter().copied());
        Self::validate(method, String::from(target), headers)
    }

    pub(super) fn validate(
        method: &str,
        target: String,
        headers: HeaderList,
    ) -> Result<Request, HandshakeError> {
        if method != "GET" {
            return Err(HandshakeError::MethodNotAllowed);
        }
        if !target.starts_with('/') && !target.contains("://") {
            return Err(HandshakeError::Malformed("request target"));
        }
        {
            let mut hosts = headers.values("Host");
            if hosts.next().is_none() || hosts.next().is_some() {
                return Err(HandshakeError::MissingHost);
            }
        }
        if !headers
            .values("Upgrade")
            .any(|v| list_contains(v, "websocket"))
        {
            return Err(HandshakeError::MissingUpgrade);
        }
        if !headers
            .values("Connection")
            .any(|v| list_contains(v, "upgrade"))
        {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        let version = {
            let mut it = headers.values("Sec-WebSocket-Version");
            match (it.next().map(trim), it.next()) {
                (Some(b"13"), None) => Version::V13,
                (Some(b"8"), None) => Version::V8,
                _ => return Err(HandshakeError::UnsupportedVersion),
            }
        };
        {
            let mut it = headers.values("Sec-WebSocket-Key");
            let (Some(k), None) = (it.next().map(trim), it.next()) else {
                return Err(HandshakeError::InvalidKey);
            };
            let mut raw = [0u8; 18];
            match BASE64.decode_slice(k, &mut raw) {
                Ok(16) if k.len() == 24 => {}
                _ => return Err(HandshakeError::InvalidKey),
            }
            // Kept where it is, in the header list (`key()` finds it again): base64 is ASCII.
            if core::str::from_utf8(k).is_err() {
                return Err(HandshakeError::InvalidKey);
            }
        };
        let mut protocols = Vec::new();
        for v in headers.values("Sec-WebSocket-Protocol") {
            parse_token_list(v, &mut protocols).ok_or(HandshakeError::InvalidProtocolHeader)?;
        }
        let mut extensions = Vec::new();
        for v in headers.values("Sec-WebSocket-Extensions") {
            parse_extensions(v, &mut extensions).ok_or(HandshakeError::InvalidExtensionHeader)?;
        }
        Ok(Request {
            target,
            headers,
            version,
            protocols,
            extensions,
            peer_addr: None,
            secure: false,
        })
    }

    /// The method (always `GET` once validated).
    pub fn method(&self) -> &str {
        "GET"
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
    /// `Sec-WebSocket-Key` (validated: exactly one, 16 bytes in base64).
    pub fn key(&self) -> &str {
        self.headers
            .values("Sec-WebSocket-Key")
            .next()
            .and_then(|k| core::str::from_utf8(k.trim_ascii()).ok())
            .unwrap_or_default()
    }
    /// All header fields in order, names as received.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter()
    }
    /// The first header with this name (case-insensitive), if its value is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .values(name)
            .next()
            .and_then(|v| core::str::from_utf8(v).ok())
    }
    /// The cookies of every `Cookie` header, as `(name, value)` split on `;` and the first `=`.
    pub fn cookies(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .values("Cookie")
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
    headers: HeaderList,
}

impl PlainRequest {
    pub(crate) fn new(method: String, target: String, headers: HeaderList) -> Self {
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
        self.headers
            .values(name)
            .next()
            .and_then(|v| core::str::from_utf8(v).ok())
    }
}

/// Header fields in three allocations whatever their number (names, values, bounds), rather
/// than two per field: a request is kept for the life of its connection (`ws.request()`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeaderList {
    names: String,
    values: Vec<u8>,
    /// Per field: where its name ends in `names`, where its value ends in `values`.
    ends: Vec<(u32, u32)>,
}

impl HeaderList {
    /// From `(name, value)` pairs. Heads are bounded far below 4 GiB (the head reader's limit).
    pub(crate) fn from_pairs<'a>(fields: impl Iterator<Item = (&'a str, &'a [u8])>) -> Self {
        let mut list = HeaderList::default();
        for (name, value) in fields {
            list.names.push_str(name);
            list.values.extend_from_slice(value);
            let ends = (
                u32::try_from(list.names.len()).unwrap_or(u32::MAX),
                u32::try_from(list.values.len()).unwrap_or(u32::MAX),
            );
            list.ends.push(ends);
        }
        list
    }

    /// httparse's fields, copied.
    pub(crate) fn from_httparse(fields: &[httparse::Header<'_>]) -> Self {
        Self::from_pairs(fields.iter().map(|h| (h.name, h.value)))
    }

    /// Every field in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        let mut from = (0usize, 0usize);
        self.ends.iter().map(move |&(n, v)| {
            let (n, v) = (n as usize, v as usize);
            let name = self.names.get(from.0..n).unwrap_or_default();
            let value = self.values.get(from.1..v).unwrap_or_default();
            from = (n, v);
            (name, value)
        })
    }

    /// Every value of the fields with this name (case-insensitive).
    pub(crate) fn values<'a, 'h>(
        &'a self,
        name: &'h str,
    ) -> impl Iterator<Item = &'a [u8]> + use<'a, 'h> {
        matching(self.iter(), name)
    }
}
