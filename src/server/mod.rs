//! The server layer (feature `tokio`): what ws's `WebSocket.Server`, WebSocket-Node's server and
//! router, and uWebSockets' topics give their users, on top of the [session](crate::session).
//!
//! * [`ServerBuilder`] / [`Server`]: bind or take a listener, route upgrades by path and
//!   subprotocol ([`Router`]; no match is a 404), verify clients (now or later, with the
//!   whole request), limit connections in total and per address, answer plain HTTP requests
//!   (a page at `/`), and report handshake errors.
//! * Client tracking ([`ServerHandle::clients`]): every connection has a [`ClientId`], its
//!   address (`X-Forwarded-For` / `Forwarded` only when a proxy is trusted), its upgrade
//!   request and per-connection user data.
//! * Broadcast and topics ([`ServerHandle::broadcast`], [`ServerHandle::publish`]): a message
//!   is encoded once ([`PreparedFrame`], compressed once where recipients agreed no context
//!   takeover) and every recipient's bounded queue holds the same bytes; a full queue closes
//!   that client (or drops the message, [`Overflow`]), so one slow client never holds up the
//!   publisher or the others.
//! * Graceful shutdown ([`ServerHandle::shutdown`]): stop accepting, Close (1001) to everyone,
//!   wait up to a grace period, then end the rest.
//!
//! ```no_run
//! use wsproto::io::Message;
//! use wsproto::server::{Router, ServerBuilder};
//!
//! # async fn run() -> std::io::Result<()> {
//! // Every text message goes to every client (the ws README's broadcast example).
//! let router = Router::new().route("/ws", |mut client| async move {
//!     while let Some(Ok(message)) = client.recv().await {
//!         if message.is_text() {
//!             client.server().broadcast(&message);
//!         }
//!     }
//! });
//! let server = ServerBuilder::new().router(router).bind("127.0.0.1:8080").await?;
//! server.run().await
//! # }
//! ```

// The crate is no_std; this layer is std-only.
#[allow(unused_imports)]
use std::{borrow::ToOwned, boxed::Box, format, string::String, vec, vec::Vec};

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::Notify;

use crate::deflate::{DeflateConfig, PerMessageDeflate};
use crate::frame::PreparedFrame;
use crate::handshake::{Accept, PlainRequest, Reject, Request, ServerOptions};
use crate::io::on_tokio;
use crate::io::{AcceptOptions, Decision, Error, Message};
use crate::trace::event;
use crate::{CloseCode, Config};

mod backplane;
mod client;
mod cookie;
mod forwarded;
mod outbox;
#[cfg(feature = "redis")]
mod redis;
mod router;
mod topics;

pub use backplane::{Backplane, BackplaneError, BackplaneFuture, BackplaneStatus, Inbound, Scope};
#[cfg(feature = "redis")]
pub use redis::{RedisBackplane, RedisOptions, RedisStats};

pub use client::{Client, ClientId, ClientRef};
pub use cookie::{Cookie, SameSite};
pub use outbox::{Delivery, Overflow};
pub use router::Router;

use client::Entry;
use outbox::{Out, Outbox};
use topics::Topics;

/// Any stream a server accepts WebSockets on (TCP, or TLS over it: [`ServerBuilder::tls`]).
pub trait AsyncStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> AsyncStream for T {}

/// The transport of a server connection.
pub type Transport = Box<dyn AsyncStream>;

type Verify = Arc<dyn Fn(&Request) -> Decision + Send + Sync>;
type OnError = Arc<dyn Fn(&Error, Option<SocketAddr>) + Send + Sync>;
type MakeData<U> = Arc<dyn Fn(&Request) -> U + Send + Sync>;
type PlainHttp = Arc<dyn Fn(&PlainRequest) -> Option<Reject> + Send + Sync>;
type Acceptor = Arc<
    dyn Fn(TcpStream) -> Pin<Box<dyn Future<Output = std::io::Result<Transport>> + Send>>
        + Send
        + Sync,
>;

/// How many messages (or bytes) a fan-out reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fanout {
    /// Clients the message was queued for.
    pub queued: usize,
    /// Clients whose full queue dropped it ([`Overflow::Drop`]).
    pub dropped: usize,
    /// Clients closed because their queue was full ([`Overflow::Close`]).
    pub overflowed: usize,
}

/// Settings of a [`Server`] (ws `WebSocket.Server` options).
///
/// ```
/// use std::time::Duration;
/// use wsproto::server::{Overflow, ServerBuilder};
/// use wsproto::{CloseCode, Config};
/// let builder: ServerBuilder = ServerBuilder::new()
///     .config(Config::new().max_message_size(1 << 20))
///     .handshake_timeout(Duration::from_secs(5))
///     .max_connections(10_000)
///     .max_connections_per_ip(100)
///     .queue_limit(8 << 20)
///     .overflow(Overflow::Close(CloseCode::POLICY_VIOLATION));
/// # let _ = builder;
/// ```
pub struct ServerBuilder<U = ()> {
    config: Config,
    deflate: Option<DeflateConfig>,
    handshake_timeout: Duration,
    max_connections: usize,
    max_per_ip: usize,
    trust_proxy: bool,
    queue_limit: usize,
    overflow: Overflow,
    router: Router<U>,
    verify: Option<Verify>,
    on_error: Option<OnError>,
    plain_http: Option<PlainHttp>,
    make_data: MakeData<U>,
    acceptor: Option<(Acceptor, bool)>,
    backplane: Option<Arc<dyn Backplane>>,
}

impl<U: Default + Send + Sync + 'static> Default for ServerBuilder<U> {
    fn default() -> Self {
        Self::new()
    }
}

impl<U: Send + Sync + 'static> std::fmt::Debug for ServerBuilder<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("router", &self.router)
            .field("max_connections", &self.max_connections)
            .field("queue_limit", &self.queue_limit)
            .finish_non_exhaustive()
    }
}

impl<U: Default + Send + Sync + 'static> ServerBuilder<U> {
    /// Defaults: the connection [`Config`] defaults, permessage-deflate granted to clients
    /// that ask, without context takeover either way (`server_no_context_takeover`, so
    /// broadcasts compress once; `client_no_context_takeover`, so an idle connection holds no
    /// deflate state: see docs/deflate.md), a 10 s
    /// handshake timeout, at most 100 000 connections and 1 000 per address, 4 MiB queued per
    /// client then [`Overflow::Close`] with 1013, no proxy trusted, no routes.
    pub fn new() -> Self {
        ServerBuilder {
            config: Config::new(),
            deflate: Some(
                DeflateConfig::new()
                    .server_no_context_takeover(true)
                    .client_no_context_takeover(true),
            ),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 100_000,
            max_per_ip: 1_000,
            trust_proxy: false,
            queue_limit: 4 << 20,
            overflow: Overflow::default(),
            router: Router::default(),
            verify: None,
            on_error: None,
            plain_http: None,
            make_data: Arc::new(|_| U::default()),
            acceptor: None,
            backplane: None,
        }
    }
}

impl<U: Send + Sync + 'static> ServerBuilder<U> {
    /// The connection configuration (max payload, keepalive, close timeout, …).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// permessage-deflate settings, or `None` to never negotiate it (ws `perMessageDeflate`).
    pub fn deflate(mut self, deflate: Option<DeflateConfig>) -> Self {
        self.deflate = deflate;
        self
    }

    /// Bound on reading the request, deciding and answering (ws: none; default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Most connections at once, handshakes included; more get 503.
    pub fn max_connections(mut self, count: usize) -> Self {
        self.max_connections = count;
        self
    }

    /// Most connections at once from one address; more get 503.
    pub fn max_connections_per_ip(mut self, count: usize) -> Self {
        self.max_per_ip = count;
        self
    }

    /// Take the client's address from `X-Forwarded-For` / `Forwarded` (a proxy in front of
    /// the server; WebSocket-Node `ignoreXForwardedFor: false`). Off by default: those
    /// headers are then ignored.
    pub fn trust_proxy(mut self, trust: bool) -> Self {
        self.trust_proxy = trust;
        self
    }

    /// Bytes queued per client before the [`Overflow`] policy applies (default 4 MiB).
    pub fn queue_limit(mut self, bytes: usize) -> Self {
        self.queue_limit = bytes;
        self
    }

    /// What happens to a client whose queue is full (default: closed with 1013).
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// The routes.
    pub fn router(mut self, router: Router<U>) -> Self {
        self.router = router;
        self
    }

    /// Client verification (ws `verifyClient`): sees the whole request (origin, cookies,
    /// [`Request::peer_addr`], [`Request::is_secure`]) and accepts (with extra headers, e.g.
    /// [`Cookie`]s) or rejects with a status, now or later. The route's subprotocol and the
    /// server's extensions are added to the `Accept` it returns.
    pub fn verify(mut self, verify: impl Fn(&Request) -> Decision + Send + Sync + 'static) -> Self {
        self.verify = Some(Arc::new(verify));
        self
    }

    /// Called for every connection that fails before its handshake completes (ws
    /// `wsClientError`), with the client's address.
    pub fn on_handshake_error(
        mut self,
        hook: impl Fn(&Error, Option<SocketAddr>) + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Some(Arc::new(hook));
        self
    }

    /// Answers requests that are not upgrades (a page at `/`); `None` keeps the handshake's
    /// error status.
    pub fn plain_http(
        mut self,
        handler: impl Fn(&PlainRequest) -> Option<Reject> + Send + Sync + 'static,
    ) -> Self {
        self.plain_http = Some(Arc::new(handler));
        self
    }

    /// Wraps each accepted TCP stream before the WebSocket handshake, e.g. a TLS acceptor
    /// (`tokio_rustls::TlsAcceptor::accept`); it runs in the connection's own task, within
    /// the handshake timeout. `secure` is what verification sees as [`Request::is_secure`].
    pub fn acceptor<F, Fut, S>(mut self, secure: bool, accept: F) -> Self
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::io::Result<S>> + Send + 'static,
        S: AsyncStream,
    {
        let accept: Acceptor = Arc::new(move |tcp| {
            let fut = accept(tcp);
            Box::pin(async move { fut.await.map(|s| Box::new(s) as Transport) })
        });
        self.acceptor = Some((accept, secure));
        self
    }

    /// Serves `wss://`: TLS with this configuration (e.g.
    /// [`tls::server_config`](crate::tls::server_config)) on every accepted connection, in the connection's own task
    /// within the handshake timeout, so a client that connects and sends nothing holds up
    /// no one. Verification sees [`Request::is_secure`] as true; after the closing handshake
    /// the server sends TLS `close_notify`. Feature `rustls`.
    #[cfg(feature = "rustls")]
    pub fn tls(self, config: Arc<rustls::ServerConfig>) -> Self {
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        self.acceptor(true, move |tcp| acceptor.accept(tcp))
    }

    /// Scale-out: broadcasts and topic messages reach the clients of every server process
    /// that shares this backplane (e.g. [`RedisBackplane`], feature `redis`); see
    /// [`Backplane`] and docs/scale-out.md.
    pub fn backplane(mut self, backplane: impl Backplane) -> Self {
        self.backplane = Some(Arc::new(backplane));
        self
    }

    /// Makes each connection's user data from its request ([`ClientRef::data`]).
    pub fn user_data(mut self, make: impl Fn(&Request) -> U + Send + Sync + 'static) -> Self {
        self.make_data = Arc::new(make);
        self
    }

    /// Binds a TCP listener.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> std::io::Result<Server<U>> {
        Ok(self.listener(TcpListener::bind(addr).await?))
    }

    /// Serves on an existing listener.
    pub fn listener(self, listener: TcpListener) -> Server<U> {
        let registry = Arc::new(Registry {
            clients: Mutex::new(HashMap::new()),
            topics: Mutex::new(Topics::default()),
            per_ip: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            connections: AtomicUsize::new(0),
            shutting_down: AtomicBool::new(false),
            stop: Notify::new(),
            shutdown_started: Notify::new(),
            shutdown_done: AtomicBool::new(false),
            changed: Notify::new(),
            close_timeout: self.config.get_close_timeout(),
            deflate: self.deflate,
            backplane: self.backplane.clone(),
        });
        if let Some(backplane) = &registry.backplane {
            let weak = Arc::downgrade(&registry);
            backplane.attach(Inbound::new(move |scope, message| {
                let Some(registry) = weak.upgrade() else {
                    return Fanout::default();
                };
                let handle = ServerHandle { registry };
                match scope {
                    Scope::All => handle.broadcast_local(message),
                    Scope::Topic(topic) => handle.publish_local(topic, message, None),
                }
            }));
        }
        Server {
            listener,
            registry,
            settings: Arc::new(self),
        }
    }
}

/// The server's shared state: who is connected, their topics, and the counts.
pub(crate) struct Registry<U> {
    clients: Mutex<HashMap<ClientId, Arc<Entry<U>>>>,
    topics: Mutex<Topics>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    next_id: AtomicU64,
    /// Connections, handshakes included.
    connections: AtomicUsize,
    shutting_down: AtomicBool,
    /// Tells the accept loop to stop.
    stop: Notify,
    /// Handshakes in progress give up.
    shutdown_started: Notify,
    /// `shutdown` returned (`run` stops waiting even for handlers that never return).
    shutdown_done: AtomicBool,
    /// A connection ended.
    changed: Notify,
    /// The connections' close timeout (bounds the last wait of a shutdown).
    close_timeout: Duration,
    deflate: Option<DeflateConfig>,
    /// The other processes (scale-out), if any.
    backplane: Option<Arc<dyn Backplane>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<U> Registry<U> {
    pub(crate) fn topics(&self) -> MutexGuard<'_, Topics> {
        lock(&self.topics)
    }

    fn entries(&self) -> Vec<Arc<Entry<U>>> {
        let mut entries: Vec<_> = lock(&self.clients).values().cloned().collect();
        entries.sort_by_key(|e| e.id);
        entries
    }

    fn remove(&self, id: ClientId) {
        lock(&self.clients).remove(&id);
        let mut topics = self.topics();
        for (topic, count) in topics.remove_client(id) {
            self.subscribers_changed(&topic, count);
        }
    }

    /// Subscribes a client; `true` if it was not subscribed yet. The backplane hears of the
    /// new count under the topic lock, so it sees the changes in order.
    pub(crate) fn subscribe(&self, id: ClientId, topic: &str) -> bool {
        let mut topics = self.topics();
        let added = topics.subscribe(id, topic);
        if added {
            self.subscribers_changed(topic, topics.count(topic));
        }
        added
    }

    /// Unsubscribes a client; `true` if it was subscribed.
    pub(crate) fn unsubscribe(&self, id: ClientId, topic: &str) -> bool {
        let mut topics = self.topics();
        let removed = topics.unsubscribe(id, topic);
        if removed {
            self.subscribers_changed(topic, topics.count(topic));
        }
        removed
    }

    fn subscribers_changed(&self, topic: &str, count: usize) {
        if let Some(backplane) = &self.backplane {
            backplane.subscribers_changed(topic, count);
        }
    }

    /// Hands a message this process published to the other processes.
    fn publish_remote(&self, scope: Scope<'_>, message: &Message) {
        if let Some(backplane) = &self.backplane {
            backplane.publish(scope, message);
        }
    }

    /// Encodes a message once for fan-out.
    fn prepare(&self, message: &Message) -> Option<(PreparedFrame, usize)> {
        let frame = PreparedFrame::from_message(message)?;
        let frame = if self.deflate.is_some() && message.len() >= 64 {
            frame.with_deflate()
        } else {
            frame
        };
        let bytes = frame.plain().len();
        Some((frame, bytes))
    }

    fn fan_out<'a>(
        &self,
        message: &Message,
        to: impl IntoIterator<Item = &'a Arc<Entry<U>>>,
    ) -> Fanout
    where
        U: 'a,
    {
        let mut report = Fanout::default();
        let Some((frame, bytes)) = self.prepare(message) else {
            return report;
        };
        for entry in to {
            match entry.outbox.push(Out::Frame(frame.clone()), bytes) {
                Delivery::Queued => report.queued += 1,
                Delivery::Dropped => report.dropped += 1,
                Delivery::Overflowed => report.overflowed += 1,
                Delivery::Closed => {}
            }
        }
        report
    }
}

/// A handle on a running server: its clients, broadcast, topics, shutdown. Cheap to clone.
pub struct ServerHandle<U = ()> {
    pub(crate) registry: Arc<Registry<U>>,
}

impl<U> Clone for ServerHandle<U> {
    fn clone(&self) -> Self {
        ServerHandle {
            registry: self.registry.clone(),
        }
    }
}

impl<U> std::fmt::Debug for ServerHandle<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("clients", &lock(&self.registry.clients).len())
            .finish_non_exhaustive()
    }
}

impl<U: Send + Sync + 'static> ServerHandle<U> {
    fn client_ref(&self, entry: Arc<Entry<U>>) -> ClientRef<U> {
        ClientRef {
            entry,
            registry: self.registry.clone(),
        }
    }

    /// The open clients, in the order they connected (ws `server.clients`).
    pub fn clients(&self) -> Vec<ClientRef<U>> {
        self.registry
            .entries()
            .into_iter()
            .filter(|e| e.open.load(Ordering::Acquire))
            .map(|e| self.client_ref(e))
            .collect()
    }

    /// How many clients are open.
    pub fn client_count(&self) -> usize {
        lock(&self.registry.clients)
            .values()
            .filter(|e| e.open.load(Ordering::Acquire))
            .count()
    }

    /// A client by id.
    pub fn client(&self, id: ClientId) -> Option<ClientRef<U>> {
        let entry = lock(&self.registry.clients).get(&id).cloned()?;
        Some(self.client_ref(entry))
    }

    /// Sends a text or binary message to every client, encoded once, and through the
    /// [backplane](ServerBuilder::backplane) to every client of the other processes. Never
    /// waits. The [`Fanout`] counts this process's clients.
    pub fn broadcast(&self, message: &Message) -> Fanout {
        let fanout = self.broadcast_local(message);
        self.registry.publish_remote(Scope::All, message);
        fanout
    }

    /// Sends to every client but one (usually the sender), on every process.
    pub fn broadcast_except(&self, except: ClientId, message: &Message) -> Fanout {
        let fanout = self.broadcast_to(message, |c| c.id() != except);
        self.registry.publish_remote(Scope::All, message);
        fanout
    }

    /// Sends to the clients of this process that `filter` picks (a filter does not cross
    /// processes: use topics for that).
    pub fn broadcast_to(
        &self,
        message: &Message,
        filter: impl Fn(&ClientRef<U>) -> bool,
    ) -> Fanout {
        // Unsorted, one pass: the order of recipients does not matter to a fan-out.
        let entries: Vec<_> = lock(&self.registry.clients)
            .values()
            .filter(|e| e.open.load(Ordering::Acquire))
            .cloned()
            .collect();
        let chosen: Vec<_> = entries
            .into_iter()
            .map(|entry| self.client_ref(entry))
            .filter(|c| filter(c))
            .map(|c| c.entry)
            .collect();
        self.registry.fan_out(message, &chosen)
    }

    /// Sends to every client of this process, encoded once.
    fn broadcast_local(&self, message: &Message) -> Fanout {
        let entries: Vec<_> = lock(&self.registry.clients)
            .values()
            .filter(|e| e.open.load(Ordering::Acquire))
            .cloned()
            .collect();
        self.registry.fan_out(message, &entries)
    }

    /// Sends to every subscriber of a topic (uWebSockets' `app.publish`), on this process and,
    /// through the [backplane](ServerBuilder::backplane), on the others. The [`Fanout`]
    /// counts this process's subscribers.
    pub fn publish(&self, topic: &str, message: &Message) -> Fanout {
        let fanout = self.publish_local(topic, message, None);
        self.registry.publish_remote(Scope::Topic(topic), message);
        fanout
    }

    /// Sends to every subscriber of a topic but one (the sender), on every process.
    pub fn publish_except(&self, sender: ClientId, topic: &str, message: &Message) -> Fanout {
        let fanout = self.publish_local(topic, message, Some(sender));
        self.registry.publish_remote(Scope::Topic(topic), message);
        fanout
    }

    fn publish_local(&self, topic: &str, message: &Message, except: Option<ClientId>) -> Fanout {
        let ids = self.registry.topics().subscribers(topic);
        let entries: Vec<_> = {
            let clients = lock(&self.registry.clients);
            ids.iter()
                .filter(|id| Some(**id) != except)
                .filter_map(|id| clients.get(id).cloned())
                .collect()
        };
        self.registry.fan_out(message, &entries)
    }

    /// Subscribes a client to a topic; `true` if it was not subscribed yet.
    pub fn subscribe(&self, id: ClientId, topic: &str) -> bool {
        lock(&self.registry.clients).contains_key(&id) && self.registry.subscribe(id, topic)
    }

    /// Unsubscribes a client from a topic; `true` if it was subscribed.
    pub fn unsubscribe(&self, id: ClientId, topic: &str) -> bool {
        self.registry.unsubscribe(id, topic)
    }

    /// How many clients of this process are subscribed to a topic.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.registry.topics().count(topic)
    }

    /// How many clients are subscribed to a topic on every process that shares the
    /// [backplane](ServerBuilder::backplane) (processes that stopped reporting expire); without
    /// a backplane, [`subscriber_count`](Self::subscriber_count).
    pub async fn presence(&self, topic: &str) -> Result<usize, BackplaneError> {
        match &self.registry.backplane {
            Some(backplane) => backplane.presence(topic).await,
            None => Ok(self.subscriber_count(topic)),
        }
    }

    /// The backplane's state and its changes (`None` without a backplane).
    pub fn backplane_status(&self) -> Option<tokio::sync::watch::Receiver<BackplaneStatus>> {
        self.registry.backplane.as_ref().map(|b| b.status())
    }

    /// Graceful shutdown (ws `server.close` + closing every client, WebSocket-Node
    /// `shutDown`): stop accepting (handshakes in progress get 503), send Close(code,
    /// reason) to every client at once (their queues are dropped), wait up to `grace` for
    /// them to finish the closing handshake, then end the rest. Returns once every
    /// connection is over.
    pub async fn shutdown(&self, code: CloseCode, reason: &str, grace: Duration) {
        event!(
            INFO,
            "server shutting down",
            role = "server",
            connections = self.registry.connections.load(Ordering::Acquire),
            close_code = code.as_u16(),
            reason = reason,
            grace_ms = grace.as_millis() as u64,
        );
        self.registry.shutting_down.store(true, Ordering::Release);
        self.registry.stop.notify_one();
        self.registry.shutdown_started.notify_waiters();
        if let Some(backplane) = &self.registry.backplane {
            backplane.detach();
        }
        for entry in self.registry.entries() {
            entry.outbox.close(code, reason, false);
        }
        let all_closed = self.wait_closed();
        let forced = tokio::time::timeout(grace, all_closed).await.is_err();
        if forced {
            for entry in self.registry.entries() {
                entry.outbox.close(code, reason, true);
            }
            // Ended connections finish within the close timeout; a handler that ignores
            // the end of its connection is not waited for beyond that.
            let last = self.registry.close_timeout + Duration::from_secs(1);
            let _ = tokio::time::timeout(last, self.wait_closed()).await;
        }
        self.registry.shutdown_done.store(true, Ordering::Release);
        self.registry.changed.notify_waiters();
        event!(
            INFO,
            "server shut down",
            role = "server",
            forced = forced,
            connections_left = self.registry.connections.load(Ordering::Acquire),
        );
    }

    /// Waits until no connection is left (after [`shutdown`](Self::shutdown), or when the
    /// last client leaves).
    pub async fn wait_closed(&self) {
        loop {
            let changed = self.registry.changed.notified();
            if self.registry.connections.load(Ordering::Acquire) == 0
                || self.registry.shutdown_done.load(Ordering::Acquire)
            {
                return;
            }
            changed.await;
        }
    }
}

/// A bound server; [`run`](Server::run) accepts connections until shut down.
pub struct Server<U = ()> {
    listener: TcpListener,
    registry: Arc<Registry<U>>,
    settings: Arc<ServerBuilder<U>>,
}

impl<U> std::fmt::Debug for Server<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

/// A reserved connection slot, released when the connection ends.
struct Slot<U> {
    registry: Arc<Registry<U>>,
    ip: IpAddr,
    id: Option<ClientId>,
}

impl<U> Drop for Slot<U> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.registry.remove(id);
        }
        {
            let mut per_ip = lock(&self.registry.per_ip);
            if let Some(n) = per_ip.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    per_ip.remove(&self.ip);
                }
            }
        }
        self.registry.connections.fetch_sub(1, Ordering::AcqRel);
        self.registry.changed.notify_waiters();
    }
}

impl<U: Send + Sync + 'static> Server<U> {
    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle for broadcast, topics, client lookup and shutdown.
    pub fn handle(&self) -> ServerHandle<U> {
        ServerHandle {
            registry: self.registry.clone(),
        }
    }

    /// Accepts connections (each in its own task) until [`ServerHandle::shutdown`], then
    /// waits for every connection to end.
    pub async fn run(self) -> std::io::Result<()> {
        loop {
            let accepted = tokio::select! {
                () = self.registry.stop.notified() => break,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, addr)) => {
                    let slot = self.reserve(addr);
                    let settings = self.settings.clone();
                    tokio::spawn(connection(stream, addr, slot, settings));
                }
                // Out of descriptors and the like: the listener is fine, try again shortly.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
            if self.registry.shutting_down.load(Ordering::Acquire) {
                break;
            }
        }
        let handle = self.handle();
        drop(self.listener);
        handle.wait_closed().await;
        Ok(())
    }

    /// Counts a new connection; whether it is over a limit (then it gets 503).
    fn reserve(&self, addr: SocketAddr) -> (Slot<U>, bool) {
        let ip = addr.ip();
        let total = self.registry.connections.fetch_add(1, Ordering::AcqRel) + 1;
        let at_ip = {
            let mut per_ip = lock(&self.registry.per_ip);
            let n = per_ip.entry(ip).or_insert(0);
            *n += 1;
            *n
        };
        let over = if total > self.settings.max_connections {
            Some(("max_connections", total, self.settings.max_connections))
        } else if at_ip > self.settings.max_per_ip {
            Some(("max_connections_per_ip", at_ip, self.settings.max_per_ip))
        } else {
            None
        };
        if let Some((limit, count, max)) = over {
            event!(
                WARN,
                "connection over limit",
                role = "server",
                peer = %addr,
                limit = limit,
                connections = count,
                max = max,
            );
        }
        let slot = Slot {
            registry: self.registry.clone(),
            ip,
            id: None,
        };
        (slot, over.is_some())
    }
}

/// One connection: the handshake (routing, limits, verification), then the route's handler
/// and the writer draining the client's queue.
async fn connection<U: Send + Sync + 'static>(
    stream: TcpStream,
    addr: SocketAddr,
    (mut slot, over_limit): (Slot<U>, bool),
    settings: Arc<ServerBuilder<U>>,
) {
    let _ = stream.set_nodelay(true);
    let registry = slot.registry.clone();
    let mut options = AcceptOptions::new(ServerOptions::default().config(settings.config.clone()))
        .handshake_timeout(Some(settings.handshake_timeout))
        .peer_addr(Some(addr));
    if let Some(plain) = settings.plain_http.clone() {
        options = options.plain_http(move |r| plain(r));
    }
    let chosen: Arc<Mutex<Option<Arc<Entry<U>>>>> = Arc::new(Mutex::new(None));
    let handler = Arc::new(Mutex::new(None));
    let decide = {
        let settings = settings.clone();
        let registry = registry.clone();
        let chosen = chosen.clone();
        let handler = handler.clone();
        move |request: &Request| -> Decision {
            if over_limit || registry.shutting_down.load(Ordering::Acquire) {
                return Decision::Now(Err(Reject::new(503)));
            }
            let Some(route) = settings.router.find(request.path(), request.protocols()) else {
                return Decision::Now(Err(Reject::new(404)));
            };
            *lock(&handler) = Some(route.handler.clone());
            let verdict = settings.verify.as_ref().map(|v| v(request));
            let request = request.clone();
            let register = move |accept: Accept| -> Result<Accept, Reject> {
                if registry.shutting_down.load(Ordering::Acquire) {
                    return Err(Reject::new(503));
                }
                let mut accept = accept;
                accept.protocol = route.protocol.clone();
                if let Some(deflate) = registry.deflate {
                    accept.extensions = vec![Box::new(PerMessageDeflate::new(deflate))];
                }
                let peer_addr = forwarded::client_addr(&request, addr, settings.trust_proxy);
                let id = ClientId(registry.next_id.fetch_add(1, Ordering::Relaxed));
                let entry = Arc::new(Entry {
                    id,
                    peer_addr: Some(peer_addr),
                    data: (settings.make_data)(&request),
                    protocol: route.protocol.clone(),
                    params: route.params.clone(),
                    request: request.clone(),
                    outbox: Outbox::new(settings.queue_limit, settings.overflow),
                    open: AtomicBool::new(true),
                });
                // Tracked from the decision on: broadcasts from now on reach it (queued
                // behind the 101).
                lock(&registry.clients).insert(id, entry.clone());
                *lock(&chosen) = Some(entry);
                Ok(accept)
            };
            match verdict {
                None => Decision::Now(register(Accept::default())),
                Some(Decision::Now(result)) => Decision::Now(result.and_then(register)),
                Some(Decision::Later(fut)) => {
                    Decision::later(async move { fut.await.and_then(register) })
                }
            }
        }
    };
    let transport: Transport = match &settings.acceptor {
        None => Box::new(stream),
        Some((accept, secure)) => {
            options = options.secure(*secure);
            let wrapped = tokio::time::timeout(settings.handshake_timeout, accept(stream));
            match wrapped.await {
                Ok(Ok(transport)) => transport,
                Ok(Err(e)) => {
                    event!(
                        INFO,
                        "transport handshake failed",
                        role = "server",
                        peer = %addr,
                        error = %e,
                    );
                    if let Some(hook) = &settings.on_error {
                        #[cfg(feature = "rustls")]
                        let error = crate::tls::handshake_error(e);
                        #[cfg(not(feature = "rustls"))]
                        let error = Error::Io(e);
                        hook(&error, Some(addr));
                    }
                    return;
                }
                Err(_) => {
                    event!(
                        INFO,
                        "handshake timed out",
                        role = "server",
                        peer = %addr,
                        timeout = "transport",
                    );
                    if let Some(hook) = &settings.on_error {
                        hook(&Error::HandshakeTimeout, Some(addr));
                    }
                    return;
                }
            }
        }
    };
    let accepted = tokio::select! {
        accepted = on_tokio::accept_with(transport, options, decide) => accepted,
        // A handshake in progress when the server shuts down is dropped.
        () = registry.shutdown_started.notified() => {
            event!(DEBUG, "handshake dropped: shutting down", role = "server", peer = %addr);
            Err(Error::Rejected(503))
        }
    };
    let ws = match accepted {
        Ok(ws) => ws,
        Err(e) => {
            if let Some(entry) = lock(&chosen).take() {
                registry.remove(entry.id);
            }
            if !matches!(e, Error::PlainHttp(_)) {
                if let Some(hook) = &settings.on_error {
                    hook(&e, Some(addr));
                }
            }
            return;
        }
    };
    let (Some(entry), Some(handler)) = (lock(&chosen).take(), lock(&handler).take()) else {
        return;
    };
    slot.id = Some(entry.id);
    let (read, write) = ws.split();
    let writer = tokio::spawn(client::write_loop(write, entry.clone()));
    let client = Client {
        client: ClientRef {
            entry: entry.clone(),
            registry: registry.clone(),
        },
        read,
    };
    handler(client).await;
    if !entry.outbox.is_ending() {
        entry.outbox.close(CloseCode::NORMAL, "", false);
    }
    let _ = writer.await;
    entry.open.store(false, Ordering::Release);
    drop(slot);
}

#[cfg(test)]
mod default_tests {
    use super::*;
    use crate::Extension;

    /// The default grants no context takeover either way, also to a browser that only offers
    /// `client_max_window_bits`: an idle connection then holds no deflate state
    /// (tests/deflate_memory.rs measures it).
    #[test]
    fn default_deflate_has_no_context_takeover_either_way() {
        let builder = ServerBuilder::<()>::new();
        let config = builder.deflate.expect("deflate on by default");
        let mut ext = PerMessageDeflate::new(config);
        let offer = [crate::extension::ExtensionParam {
            name: "client_max_window_bits",
            value: None,
        }];
        assert_eq!(
            ext.accept_offer(&offer).as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        );
    }
}
