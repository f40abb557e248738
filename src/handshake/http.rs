//! Conversions with the `http` crate (feature `http`), for servers such as hyper and axum.
//!
//! ```
//! use wsproto::handshake::{Accept, Request, accept_parsed};
//! let req = http::Request::get("/chat")
//!     .header("Host", "example.com")
//!     .header("Upgrade", "websocket")
//!     .header("Connection", "Upgrade")
//!     .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
//!     .header("Sec-WebSocket-Version", "13")
//!     .body(())
//!     .unwrap();
//! let request = Request::try_from(&req).unwrap();
//! assert_eq!(request.path(), "/chat");
//! let parts = wsproto::handshake::negotiate(&request, Accept::new()).unwrap().response;
//! let res: http::Response<()> = parts.into();
//! assert_eq!(res.status(), 101);
//! assert_eq!(res.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use super::{HandshakeError, Reject, Request, ResponseParts};

impl<B> TryFrom<&http::Request<B>> for Request {
    type Error = HandshakeError;

    /// Validates an `http::Request` (HTTP/1.1 only; HTTP/1.0, 2 and 3 give
    /// [`HandshakeError::UnsupportedHttpVersion`]).
    fn try_from(req: &http::Request<B>) -> Result<Self, HandshakeError> {
        validate(req.version(), req.method(), req.uri(), req.headers())
    }
}

impl TryFrom<&http::request::Parts> for Request {
    type Error = HandshakeError;

    /// Validates the parts of an `http::Request` (axum's `Parts` extractor); HTTP/1.1 only.
    fn try_from(parts: &http::request::Parts) -> Result<Self, HandshakeError> {
        validate(parts.version, &parts.method, &parts.uri, &parts.headers)
    }
}

fn validate(
    version: http::Version,
    method: &http::Method,
    uri: &http::Uri,
    headers: &http::HeaderMap,
) -> Result<Request, HandshakeError> {
    if version != http::Version::HTTP_11 {
        return Err(HandshakeError::UnsupportedHttpVersion);
    }
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let headers: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    Request::from_parts(method.as_str(), target, &headers)
}

fn build<T>(status: u16, headers: &[(String, String)], body: T) -> http::Response<T> {
    let mut res = http::Response::new(body);
    *res.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    for (n, v) in headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(n.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            res.headers_mut().append(n, v);
        }
    }
    res
}

impl From<ResponseParts> for http::Response<()> {
    /// The 101 with its headers (invalid header names or values are left out).
    fn from(parts: ResponseParts) -> Self {
        build(parts.status, &parts.headers, ())
    }
}

impl From<Reject> for http::Response<Vec<u8>> {
    /// The rejection with its headers and body (the HTTP server adds framing headers), and
    /// `Content-Type: text/plain; charset=utf-8` if there is a body and the headers have no
    /// `Content-Type` (as [`Reject::to_bytes`]).
    fn from(reject: Reject) -> Self {
        let status = reject.effective_status();
        let mut res = build(status, &reject.headers, reject.body);
        if !res.body().is_empty() && !res.headers().contains_key(http::header::CONTENT_TYPE) {
            res.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
        }
        res
    }
}
