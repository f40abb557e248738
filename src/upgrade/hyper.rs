//! Upgrading a hyper 1.x request (feature `hyper`): validate it, return the 101 from your
//! service, get the [`WebSocket`] once hyper hands the connection over.
//!
//! ```no_run
//! use std::convert::Infallible;
//! use futures_util::{SinkExt, StreamExt};
//! use hyper::body::Incoming;
//! use hyper::server::conn::http1;
//! use hyper::service::service_fn;
//! use hyper_util::rt::TokioIo;
//! use wsproto::upgrade::Body;
//! use wsproto::upgrade::hyper::Upgrade;
//!
//! async fn handle(mut req: hyper::Request<Incoming>) -> Result<hyper::Response<Body>, Infallible> {
//!     let upgrade = match Upgrade::new(&mut req) {
//!         Ok(upgrade) => upgrade.protocols(["chat.v2", "chat.v1"]),
//!         Err(rejection) => return Ok(rejection.response()), // 400, 405 or 426
//!     };
//!     Ok(upgrade.on_upgrade(|mut ws| async move {
//!         // ws.protocol(), ws.deflate(), ws.request(): what was negotiated.
//!         while let Some(Ok(message)) = ws.next().await {
//!             if message.is_data() && ws.send(message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     }))
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     tokio::spawn(
//!         http1::Builder::new()
//!             .serve_connection(TokioIo::new(stream), service_fn(handle))
//!             .with_upgrades(), // required: without it hyper never hands the stream over
//!     );
//! }
//! # }
//! ```
//!
//! [`Upgrade::accept`] is the same without the spawn: it returns the 101 and an
//! [`Upgrading`] to await (in a task of your own) for the [`WebSocket`].

// The crate is no_std; this layer is std-only.
use std::{boxed::Box, string::String, vec::Vec};

use core::fmt;
use core::future::Future;
use core::net::SocketAddr;
use std::io;

use ::hyper::upgrade::{OnUpgrade, Upgraded};

use super::{Body, Rejection};
use crate::Config;
use crate::deflate::{Agreed, DeflateConfig, PerMessageDeflate};
use crate::handshake::{Accept, HandshakeError, Request};
use crate::io::on_tokio;
use crate::session::{Error, Session};

/// The WebSocket of an upgraded hyper connection: the tokio adapter's
/// [`WebSocket`](crate::io::nonblocking::WebSocket) (a `Stream` of messages and a `Sink`)
/// over hyper's `Upgraded` stream.
pub type WebSocket = on_tokio::WebSocket<hyper_util::rt::TokioIo<Upgraded>>;

/// Called with the error when an accepted upgrade does not complete (see
/// [`Upgrade::on_failed_upgrade`]).
type OnFailed = Box<dyn FnOnce(Error) + Send>;

/// A validated WebSocket upgrade request, and what the server will accept: subprotocols,
/// permessage-deflate, the connection [`Config`], extra headers. Finish with
/// [`on_upgrade`](Upgrade::on_upgrade) or [`accept`](Upgrade::accept).
#[must_use = "an Upgrade does nothing until on_upgrade or accept"]
pub struct Upgrade {
    request: Request,
    on_upgrade: OnUpgrade,
    protocols: Vec<String>,
    deflate: Option<DeflateConfig>,
    config: Config,
    headers: Vec<(String, String)>,
    on_failed: Option<OnFailed>,
}

impl fmt::Debug for Upgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgrade")
            .field("request", &self.request)
            .field("protocols", &self.protocols)
            .field("deflate", &self.deflate)
            .field("config", &self.config)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl Upgrade {
    /// Validates `req` as a WebSocket upgrade (HTTP/1.1) and takes hyper's upgrade handle out
    /// of it. Defaults: no subprotocol, permessage-deflate with
    /// [`DeflateConfig::new`], [`Config::new`].
    ///
    /// An invalid request is a [`Rejection`] with the handshake's status (400, 405 with
    /// `Allow: GET`, 426 with `Sec-WebSocket-Version: 13, 8`), and a valid one on a connection
    /// hyper cannot upgrade is a 426.
    pub fn new<B>(req: &mut http::Request<B>) -> Result<Self, Rejection> {
        let request = Request::try_from(&*req);
        Self::validated(request, req.extensions_mut())
    }

    /// The same for the parts of a request (what axum's extractors see).
    pub fn from_parts(parts: &mut http::request::Parts) -> Result<Self, Rejection> {
        let request = Request::try_from(&*parts);
        Self::validated(request, &mut parts.extensions)
    }

    fn validated(
        request: Result<Request, HandshakeError>,
        extensions: &mut http::Extensions,
    ) -> Result<Self, Rejection> {
        let request = request?;
        let on_upgrade = extensions
            .remove::<OnUpgrade>()
            .ok_or_else(Rejection::not_upgradable)?;
        Ok(Upgrade {
            request,
            on_upgrade,
            protocols: Vec::new(),
            deflate: Some(DeflateConfig::new()),
            config: Config::new(),
            headers: Vec::new(),
            on_failed: None,
        })
    }

    /// The validated request: path, query, headers, cookies, the offered subprotocols and
    /// extensions (to decide on before accepting).
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The subprotocols the server speaks. The first one the client offered (in the client's
    /// order) that is in this list is selected; none in common selects none (check
    /// [`selected_protocol`](Upgrade::selected_protocol) to refuse instead).
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// The subprotocol that will be selected.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.request
            .protocols()
            .iter()
            .find(|offered| self.protocols.contains(offered))
            .map(String::as_str)
    }

    /// Negotiates permessage-deflate with these settings when the client offers it (the
    /// default: [`DeflateConfig::new`]).
    pub fn deflate(mut self, config: DeflateConfig) -> Self {
        self.deflate = Some(config);
        self
    }

    /// Never negotiates permessage-deflate.
    pub fn no_deflate(mut self) -> Self {
        self.deflate = None;
        self
    }

    /// The connection's configuration (limits, timeouts, keepalive).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Adds a header to the 101 response (e.g. `Set-Cookie`). A name or value that cannot be
    /// sent makes [`accept`](Upgrade::accept) fail with a 500.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Records the peer's address: shown by [`Request::peer_addr`] and the WebSocket's
    /// `peer_addr` (the axum extractor fills it in from `ConnectInfo<SocketAddr>`).
    pub fn peer_addr(mut self, addr: Option<SocketAddr>) -> Self {
        let secure = self.request.is_secure();
        self.request.set_transport(addr, secure);
        self
    }

    /// What [`on_upgrade`](Upgrade::on_upgrade) does when the accepted upgrade never
    /// completes (the client went away after the 101, the connection was served without
    /// upgrades). By default the error is dropped.
    pub fn on_failed_upgrade(mut self, f: impl FnOnce(Error) + Send + 'static) -> Self {
        self.on_failed = Some(Box::new(f));
        self
    }

    /// Negotiates: returns the 101 to send back from the service, and the WebSocket to come.
    /// Fails only with a 500 (a header that cannot be sent).
    pub fn accept(mut self) -> Result<(http::Response<Body>, Upgrading), Rejection> {
        let protocol = self.selected_protocol().map(String::from);
        let mut accept = Accept::new();
        accept.protocol = protocol;
        accept.headers = core::mem::take(&mut self.headers);
        if let Some(config) = self.deflate {
            accept
                .extensions
                .push(Box::new(PerMessageDeflate::new(config)));
        }
        let (session, parts) = crate::session::negotiate(&self.request, accept, self.config)?;
        let response = http::Response::<()>::from(parts).map(|()| Body::default());
        let upgrading = Upgrading {
            on_upgrade: self.on_upgrade,
            session,
            request: self.request,
        };
        Ok((response, upgrading))
    }

    /// Negotiates, spawns a tokio task that waits for the upgrade and runs `callback` with
    /// the [`WebSocket`], and returns the response: the 101, or the [`Rejection`]'s.
    pub fn on_upgrade<F, Fut>(mut self, callback: F) -> http::Response<Body>
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_failed = self.on_failed.take();
        match self.accept() {
            Ok((response, upgrading)) => {
                ::tokio::spawn(async move {
                    match upgrading.websocket().await {
                        Ok(ws) => callback(ws).await,
                        Err(e) => {
                            if let Some(on_failed) = on_failed {
                                on_failed(e);
                            }
                        }
                    }
                });
                response
            }
            Err(rejection) => rejection.response(),
        }
    }
}

/// An accepted upgrade whose 101 is on its way: await [`websocket`](Upgrading::websocket)
/// (after the service returned the response; in a task of its own).
#[must_use = "the WebSocket only runs once websocket() is awaited"]
pub struct Upgrading {
    on_upgrade: OnUpgrade,
    session: Session,
    request: Request,
}

impl fmt::Debug for Upgrading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgrading")
            .field("session", &self.session)
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl Upgrading {
    /// The negotiated subprotocol.
    pub fn protocol(&self) -> Option<&str> {
        self.session.protocol()
    }

    /// The agreed permessage-deflate parameters, if it was negotiated.
    pub fn deflate(&self) -> Option<Agreed> {
        self.session.deflate()
    }

    /// The request that was accepted.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Waits until hyper hands the connection over, then runs the session on it. Fails with
    /// [`Error::Io`] if the upgrade does not happen (the connection closed, or it is served
    /// without `with_upgrades()`).
    pub async fn websocket(self) -> Result<WebSocket, Error> {
        let upgraded = self
            .on_upgrade
            .await
            .map_err(|e| Error::Io(io::Error::other(e)))?;
        let stream = hyper_util::rt::TokioIo::new(upgraded);
        Ok(on_tokio::from_accepted(stream, self.session, self.request))
    }
}
