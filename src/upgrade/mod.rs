//! WebSockets inside an existing HTTP server: hyper 1.x ([`hyper`], feature `hyper`) and axum
//! 0.8 ([`axum`], feature `axum`). The `ws` pattern of `noServer` + `handleUpgrade`, where
//! the HTTP server owns the port and hands WebSocket requests over.
//!
//! The flow is the same in both, and written once, in [`hyper::Upgrade`]:
//!
//! 1. The request's method, target, version and headers are validated as an upgrade
//!    ([`Request`](crate::handshake::Request), the same checks as the other accept paths).
//!    An invalid one is a [`Rejection`] carrying the handshake's own status: 400 (a missing
//!    `Upgrade`, `Connection`, `Host` or key, HTTP/1.0, a malformed header), 405 with
//!    `Allow: GET`, 426 with `Sec-WebSocket-Version: 13, 8` for a version other than 13 or 8,
//!    and 426 with `Upgrade: websocket` when the connection cannot be upgraded (hyper
//!    gave no `OnUpgrade`: HTTP/2, or a request that never went through a server).
//! 2. The application sets what it supports: subprotocols ([`hyper::Upgrade::protocols`]:
//!    the first the client offered that is in the list is selected), permessage-deflate (on
//!    by default, [`DeflateConfig::new`](crate::deflate::DeflateConfig::new)), the connection
//!    [`Config`](crate::Config) and extra response headers.
//! 3. [`session::negotiate`](crate::session::negotiate) answers the offer. The 101 goes back
//!    through the HTTP server (it writes it, so nothing is queued in the session), and once
//!    hyper hands over the upgraded stream the session runs on it with
//!    [`on_tokio::from_accepted`](crate::io::on_tokio::from_accepted).
//!
//! The resulting [`WebSocket`](hyper::WebSocket) is the tokio adapter's, over hyper's
//! `Upgraded` stream. Its [`protocol`](crate::io::nonblocking::WebSocket::protocol),
//! [`deflate`](crate::io::nonblocking::WebSocket::deflate) and
//! [`request`](crate::io::nonblocking::WebSocket::request) report what was negotiated and
//! answered: nothing is typed twice.
//!
//! Only HTTP/1.1 upgrades are supported (not RFC 8441 extended CONNECT over HTTP/2). With
//! hyper, serve connections with `http1::Builder::serve_connection(..).with_upgrades()`;
//! `axum::serve` does that already.
//!
//! See `docs/frameworks.md` and the examples `hyper_echo` and `axum_echo`.

// The crate is no_std; this layer is std-only.
use std::{format, string::String};

use core::fmt;

use crate::handshake::{HandshakeError, Reject};
use crate::session::Error;

#[cfg(feature = "axum")]
pub mod axum;
pub mod hyper;

/// The body of the responses built here (the 101 is empty, a rejection carries a short
/// plain-text explanation). Map it with `http_body_util::BodyExt` if your service uses
/// another body type.
pub type Body = http_body_util::Full<bytes::Bytes>;

/// Why an upgrade was refused, and the response to send: the status, its headers and a
/// plain-text body ([`Rejection::response`]; with axum it is the extractor's rejection and an
/// `IntoResponse`).
#[derive(Debug)]
pub struct Rejection {
    error: Option<HandshakeError>,
    reject: Reject,
}

impl Rejection {
    /// The HTTP status sent.
    pub fn status(&self) -> u16 {
        self.reject.effective_status()
    }

    /// The handshake error, if the request was an invalid upgrade (`None` when the connection
    /// could not be upgraded, or the negotiation failed for another reason).
    pub fn error(&self) -> Option<&HandshakeError> {
        self.error.as_ref()
    }

    /// The response: the status, its headers (`Allow`, `Sec-WebSocket-Version`, `Upgrade`
    /// where they apply), `Content-Type: text/plain; charset=utf-8` and the reason as the body.
    pub fn response(self) -> http::Response<Body> {
        http::Response::<std::vec::Vec<u8>>::from(self.reject).map(Body::from)
    }

    /// The connection cannot be upgraded (no `OnUpgrade` in the request): 426.
    pub(crate) fn not_upgradable() -> Self {
        Rejection {
            error: None,
            reject: Reject::new(426)
                .header("Upgrade", "websocket")
                .body("connection cannot be upgraded (HTTP/1.1 with upgrades required)\n"),
        }
    }
}

impl From<HandshakeError> for Rejection {
    fn from(error: HandshakeError) -> Self {
        let reject = error
            .to_reject()
            .unwrap_or_else(|| Reject::new(500).body(format!("{error}\n")));
        Rejection {
            error: Some(error),
            reject,
        }
    }
}

impl From<Error> for Rejection {
    fn from(error: Error) -> Self {
        match error {
            Error::Handshake(e) => Rejection::from(e),
            other => Rejection {
                error: None,
                reject: Reject::new(500).body(format!("{other}\n")),
            },
        }
    }
}

impl From<Rejection> for http::Response<Body> {
    fn from(rejection: Rejection) -> Self {
        rejection.response()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            Some(e) => write!(f, "WebSocket upgrade refused ({}): {e}", self.status()),
            None => write!(
                f,
                "WebSocket upgrade refused ({}): {}",
                self.status(),
                String::from_utf8_lossy(&self.reject.body).trim_end()
            ),
        }
    }
}

impl std::error::Error for Rejection {}
