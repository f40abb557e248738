//! The server's answer: [`Accept`] (negotiation and the 101) or [`Reject`].

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::{HandshakeError, Request, accept_key, reason_phrase, valid_header, write_header};
use crate::extension::Extension;
use crate::{Config, Connection, Role};

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
/// headers, the application's header edit. The building block of [`ServerHandshake::accept`](super::ServerHandshake::accept)
/// and [`accept_parsed`], for callers that construct the [`Connection`] themselves.
pub fn negotiate(request: &Request, accept: Accept) -> Result<Negotiated, HandshakeError> {
    let Accept {
        protocol,
        headers: extra,
        extensions: candidates,
        edit_headers,
    } = accept;
    if let Some(p) = &protocol {
        if !request.protocols().iter().any(|o| o == p) {
            return Err(HandshakeError::ProtocolNotOffered);
        }
    }
    let mut candidates: Vec<Option<Box<dyn Extension>>> =
        candidates.into_iter().map(Some).collect();
    let mut active = Vec::new();
    let mut elements = Vec::new();
    for offer in request.extensions() {
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
        accept_key(request.key().as_bytes()),
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
