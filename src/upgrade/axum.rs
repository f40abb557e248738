//! The axum 0.8 extractor (feature `axum`): [`WebSocketUpgrade`], in the spirit of axum's own
//! `extract::ws::WebSocketUpgrade`, with subprotocol and permessage-deflate negotiation, and
//! wsproto's [`WebSocket`] in the callback.
//!
//! ```no_run
//! use axum::Router;
//! use axum::response::Response;
//! use axum::routing::get;
//! use futures_util::{SinkExt, StreamExt};
//! use wsproto::upgrade::axum::WebSocketUpgrade;
//!
//! async fn ws(upgrade: WebSocketUpgrade) -> Response {
//!     upgrade
//!         .protocols(["chat.v2", "chat.v1"]) // the first the client offered wins
//!         .on_upgrade(|mut ws| async move {
//!             // ws.protocol(), ws.deflate(), ws.request(): what was negotiated.
//!             while let Some(Ok(message)) = ws.next().await {
//!                 if message.is_data() && ws.send(message).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         })
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let app = Router::new().route("/ws", get(ws));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! An invalid upgrade request never reaches the handler: the extractor's rejection,
//! [`Rejection`], answers it with the handshake's status (400, 405, 426). Differences from
//! axum's extractor: the subprotocol is the first one the *client* offered that the server
//! lists (as `ws` and the `echo_server` example), permessage-deflate is negotiated (on by
//! default), and the header checks are the handshake's (tokens, a 16-byte key).
//!
//! With `into_make_service_with_connect_info::<SocketAddr>()`, the peer address is recorded
//! ([`Request::peer_addr`](crate::handshake::Request::peer_addr) and the WebSocket's
//! `peer_addr`).

use core::future::Future;
use core::net::SocketAddr;
use std::string::String;

use ::axum::extract::{ConnectInfo, FromRequestParts};
use ::axum::response::{IntoResponse, Response};
use http::request::Parts;

use super::Rejection;
use super::hyper::Upgrade;
use crate::Config;
use crate::deflate::DeflateConfig;
use crate::handshake::Request;
use crate::session::Error;

pub use super::hyper::WebSocket;

/// Extractor of a WebSocket upgrade: a thin layer over [`Upgrade`], whose builder methods it
/// repeats, with [`on_upgrade`](WebSocketUpgrade::on_upgrade) returning an axum [`Response`].
/// Its rejection is a [`Rejection`] (an `IntoResponse`).
#[derive(Debug)]
#[must_use = "a WebSocketUpgrade does nothing until on_upgrade"]
pub struct WebSocketUpgrade(Upgrade);

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0);
        Ok(WebSocketUpgrade(
            Upgrade::from_parts(parts)?.peer_addr(peer),
        ))
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.response().into_response()
    }
}

impl WebSocketUpgrade {
    /// The validated request (path, headers, offered subprotocols and extensions).
    pub fn request(&self) -> &Request {
        self.0.request()
    }

    /// See [`Upgrade::protocols`]: the first subprotocol the client offered that is listed.
    pub fn protocols<I>(self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        WebSocketUpgrade(self.0.protocols(protocols))
    }

    /// See [`Upgrade::selected_protocol`].
    pub fn selected_protocol(&self) -> Option<&str> {
        self.0.selected_protocol()
    }

    /// See [`Upgrade::deflate`] (on by default).
    pub fn deflate(self, config: DeflateConfig) -> Self {
        WebSocketUpgrade(self.0.deflate(config))
    }

    /// See [`Upgrade::no_deflate`].
    pub fn no_deflate(self) -> Self {
        WebSocketUpgrade(self.0.no_deflate())
    }

    /// See [`Upgrade::config`].
    pub fn config(self, config: Config) -> Self {
        WebSocketUpgrade(self.0.config(config))
    }

    /// See [`Upgrade::header`].
    pub fn header(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        WebSocketUpgrade(self.0.header(name, value))
    }

    /// See [`Upgrade::on_failed_upgrade`].
    pub fn on_failed_upgrade(self, f: impl FnOnce(Error) + Send + 'static) -> Self {
        WebSocketUpgrade(self.0.on_failed_upgrade(f))
    }

    /// The [`Upgrade`] underneath (for [`Upgrade::accept`]).
    pub fn into_inner(self) -> Upgrade {
        self.0
    }

    /// Negotiates and returns the 101 (or the rejection's response); once axum hands the
    /// connection over, `callback` runs with the [`WebSocket`] in a tokio task.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.0.on_upgrade(callback).into_response()
    }
}
