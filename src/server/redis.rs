//! The Redis backplane (feature `redis`): broadcasts and topics across server processes
//! through Redis pub/sub, with presence counts and reconnection.
//!
//! * Channels: `{prefix}:all` for broadcasts, `{prefix}:topic:{topic}` per topic. A process
//!   subscribes to `all` and to the topics it has local subscribers for, nothing else.
//! * Messages: one byte of version, one of kind (text or binary), the 16-byte id of the
//!   publishing process, the payload. A process skips its own messages when they come back
//!   (it delivered them locally already), so every client gets each message once.
//! * Order: one connection publishes, in order; one connection receives, in order; so each
//!   process's messages reach every other process in the order it published them.
//! * Presence: each live process keeps `{prefix}:alive:{id}` (expiring after the presence TTL,
//!   refreshed at a third of it) and its count in the hash `{prefix}:presence:{topic}`; a
//!   count is summed only while its process is alive, so a crashed process drops out after
//!   the TTL. A topic is reported only once its subscription is confirmed.
//! * Failure: publishing never waits for Redis: a message goes into a bounded queue, or is
//!   dropped when the queue is full or the backplane is down (at-most-once, counted in
//!   [`RedisStats::dropped`]). Every Redis call has a timeout. Connections are re-opened with
//!   exponential backoff (100 ms up to [`RedisOptions::reconnect_max`]), subscriptions and
//!   presence are restored, and [`BackplaneStatus`] goes `Down` then `Up` (also logged with the
//!   `tracing` feature).

// The crate is no_std; this layer is std-only.
#[allow(unused_imports)]
use std::{borrow::ToOwned, boxed::Box, format, string::String, string::ToString, vec, vec::Vec};

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_core::Stream;
use redis::aio::{MultiplexedConnection, PubSubSink};
use tokio::sync::{Notify, mpsc, watch};

use super::backplane::{
    Backplane, BackplaneError, BackplaneFuture, BackplaneStatus, Inbound, Scope,
};
use super::lock;
use crate::io::{Bytes, Message, Utf8Bytes};
use crate::trace::event;

const VERSION: u8 = 1;
const TEXT: u8 = b't';
const BINARY: u8 = b'b';
/// Version, kind, process id.
const HEADER: usize = 2 + 16;
/// Messages sent in one pipeline.
const BATCH: usize = 64;

/// Settings of a [`RedisBackplane`].
#[derive(Clone, Debug)]
pub struct RedisOptions {
    url: String,
    prefix: String,
    queue_limit: usize,
    presence_ttl: Duration,
    timeout: Duration,
    reconnect_max: Duration,
}

impl RedisOptions {
    /// Redis at `url` (`redis://[user:password@]host:port[/db]`), with the defaults below.
    pub fn new(url: impl Into<String>) -> Self {
        RedisOptions {
            url: url.into(),
            prefix: "wsproto".to_owned(),
            queue_limit: 10_000,
            presence_ttl: Duration::from_secs(15),
            timeout: Duration::from_secs(2),
            reconnect_max: Duration::from_secs(2),
        }
    }

    /// The prefix of every channel and key (default `wsproto`): servers with the same prefix
    /// on the same Redis form one group.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Most messages waiting to be published (default 10,000); more are dropped.
    pub fn queue_limit(mut self, messages: usize) -> Self {
        self.queue_limit = messages.max(1);
        self
    }

    /// How long a process that stopped reporting still counts in presence (default 15 s).
    pub fn presence_ttl(mut self, ttl: Duration) -> Self {
        self.presence_ttl = ttl.max(Duration::from_millis(300));
        self
    }

    /// Bound on each Redis call (connect, publish, subscribe, presence; default 2 s); a call
    /// over it counts as a lost connection.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Longest wait between reconnection attempts (default 2 s; the first is 100 ms).
    pub fn reconnect_max(mut self, max: Duration) -> Self {
        self.reconnect_max = max;
        self
    }
}

/// Counters of a [`RedisBackplane`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RedisStats {
    /// Messages published to Redis.
    pub published: u64,
    /// Messages from other processes delivered here.
    pub received: u64,
    /// Messages not published: queue full, backplane down, or a failed publish.
    pub dropped: u64,
    /// Messages from Redis that were not ours to read (bad envelope, invalid UTF-8 text).
    pub invalid: u64,
}

/// Broadcasts and topics across server processes through Redis pub/sub; give it to
/// [`ServerBuilder::backplane`](super::ServerBuilder::backplane).
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use wsproto::server::{RedisBackplane, RedisOptions, Router, ServerBuilder};
///
/// let router = Router::new().route("/ws", |mut client| async move {
///     client.subscribe("news");
///     while let Some(Ok(message)) = client.recv().await {
///         client.server().publish("news", &message); // every process's subscribers
///     }
/// });
/// let backplane = RedisBackplane::new(RedisOptions::new("redis://127.0.0.1:6379"))
///     .map_err(std::io::Error::other)?;
/// let server = ServerBuilder::new()
///     .backplane(backplane)
///     .router(router)
///     .bind("0.0.0.0:8080")
///     .await?;
/// server.run().await
/// # }
/// ```
pub struct RedisBackplane {
    link: Arc<Link>,
}

impl fmt::Debug for RedisBackplane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackplane")
            .field("url", &self.link.options.url)
            .field("prefix", &self.link.options.prefix)
            .field("status", &*self.link.status.borrow())
            .finish_non_exhaustive()
    }
}

/// A message to publish: (channel, envelope).
type Outgoing = (String, Vec<u8>);

/// What the backplane's handle and its three tasks (publisher, subscriber, presence) share.
struct Link {
    client: redis::Client,
    options: RedisOptions,
    id: [u8; 16],
    outbound: mpsc::Sender<Outgoing>,
    queued: Mutex<Option<mpsc::Receiver<Outgoing>>>,
    inbound: OnceLock<Inbound>,
    /// Local subscriber count per topic, as the server reports it.
    local: Mutex<HashMap<String, usize>>,
    /// Topics whose Redis subscription is confirmed.
    subscribed: Mutex<HashSet<String>>,
    local_changed: Notify,
    presence_changed: Notify,
    presence_conn: Mutex<Option<MultiplexedConnection>>,
    publisher_up: AtomicBool,
    subscriber_up: AtomicBool,
    status: watch::Sender<BackplaneStatus>,
    stop: watch::Sender<bool>,
    published: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    invalid: AtomicU64,
}

impl RedisBackplane {
    /// A backplane on this Redis. Nothing connects until the server is built; a bad URL is an
    /// error now.
    pub fn new(options: RedisOptions) -> Result<Self, BackplaneError> {
        let client = redis::Client::open(options.url.as_str())
            .map_err(|e| BackplaneError(format!("{}: {e}", options.url)))?;
        let mut id = [0u8; 16];
        crate::rand::os_random(&mut id);
        let (outbound, queued) = mpsc::channel(options.queue_limit);
        Ok(RedisBackplane {
            link: Arc::new(Link {
                client,
                options,
                id,
                outbound,
                queued: Mutex::new(Some(queued)),
                inbound: OnceLock::new(),
                local: Mutex::new(HashMap::new()),
                subscribed: Mutex::new(HashSet::new()),
                local_changed: Notify::new(),
                presence_changed: Notify::new(),
                presence_conn: Mutex::new(None),
                publisher_up: AtomicBool::new(false),
                subscriber_up: AtomicBool::new(false),
                status: watch::Sender::new(BackplaneStatus::Connecting),
                stop: watch::Sender::new(false),
                published: AtomicU64::new(0),
                received: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                invalid: AtomicU64::new(0),
            }),
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> RedisStats {
        self.link.stats()
    }
}

impl Drop for RedisBackplane {
    fn drop(&mut self) {
        self.link.stop();
    }
}

impl Backplane for RedisBackplane {
    fn attach(&self, inbound: Inbound) {
        if self.link.inbound.set(inbound).is_err() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.link
                .set_status(BackplaneStatus::Down("no tokio runtime".to_owned()));
            return;
        };
        if let Some(queued) = lock(&self.link.queued).take() {
            runtime.spawn(publisher(self.link.clone(), queued));
        }
        runtime.spawn(subscriber(self.link.clone()));
        runtime.spawn(presence(self.link.clone()));
    }

    fn publish(&self, scope: Scope<'_>, message: &Message) {
        let link = &self.link;
        let kind = match message {
            Message::Text(_) => TEXT,
            Message::Binary(_) => BINARY,
            _ => return,
        };
        // Down: nothing crosses now, and nothing is kept for later (at-most-once).
        if *link.status.borrow() != BackplaneStatus::Up {
            link.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let payload = message.as_bytes();
        let mut envelope = Vec::with_capacity(HEADER + payload.len());
        envelope.extend_from_slice(&[VERSION, kind]);
        envelope.extend_from_slice(&link.id);
        envelope.extend_from_slice(payload);
        if link
            .outbound
            .try_send((link.channel(scope), envelope))
            .is_err()
        {
            link.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn subscribers_changed(&self, topic: &str, count: usize) {
        let mut local = lock(&self.link.local);
        if count == 0 {
            local.remove(topic);
        } else {
            local.insert(topic.to_owned(), count);
        }
        drop(local);
        self.link.local_changed.notify_one();
        self.link.presence_changed.notify_one();
    }

    fn presence<'a>(
        &'a self,
        topic: &'a str,
    ) -> BackplaneFuture<'a, Result<usize, BackplaneError>> {
        Box::pin(self.link.presence(topic))
    }

    fn status(&self) -> watch::Receiver<BackplaneStatus> {
        self.link.status.subscribe()
    }

    fn detach(&self) {
        self.link.stop();
    }
}

impl Link {
    fn stats(&self) -> RedisStats {
        RedisStats {
            published: self.published.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            invalid: self.invalid.load(Ordering::Relaxed),
        }
    }

    fn channel(&self, scope: Scope<'_>) -> String {
        match scope {
            Scope::All => format!("{}:all", self.options.prefix),
            Scope::Topic(topic) => format!("{}:topic:{topic}", self.options.prefix),
        }
    }

    /// The scope of a channel we receive on.
    fn scope_of<'a>(&self, channel: &'a str) -> Option<Scope<'a>> {
        let rest = channel.strip_prefix(self.options.prefix.as_str())?;
        match rest {
            ":all" => Some(Scope::All),
            _ => rest.strip_prefix(":topic:").map(Scope::Topic),
        }
    }

    fn alive_key(&self, id: &str) -> String {
        format!("{}:alive:{id}", self.options.prefix)
    }

    fn presence_key(&self, topic: &str) -> String {
        format!("{}:presence:{topic}", self.options.prefix)
    }

    fn id_hex(&self) -> String {
        self.id.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    fn stop(&self) {
        if self.stop.send_replace(true) {
            return;
        }
        self.set_status(BackplaneStatus::Stopped);
        // Withdraw this process's presence, best effort, if a runtime is still there.
        let conn = lock(&self.presence_conn).take();
        let (Some(mut conn), Ok(runtime)) = (conn, tokio::runtime::Handle::try_current()) else {
            return;
        };
        let id = self.id_hex();
        let mut pipe = redis::pipe();
        pipe.del(self.alive_key(&id)).ignore();
        for topic in lock(&self.local).keys() {
            pipe.hdel(self.presence_key(topic), &id).ignore();
        }
        let timeout = self.options.timeout;
        runtime.spawn(async move {
            let _ = tokio::time::timeout(timeout, pipe.query_async::<()>(&mut conn)).await;
        });
    }

    fn set_status(&self, status: BackplaneStatus) {
        let changed = self.status.send_if_modified(|now| {
            // Stopped is final.
            if *now == status || *now == BackplaneStatus::Stopped {
                return false;
            }
            *now = status.clone();
            true
        });
        if !changed {
            return;
        }
        match &status {
            BackplaneStatus::Up => event!(INFO, "backplane up", url = self.options.url.as_str()),
            BackplaneStatus::Down(error) => event!(
                WARN,
                "backplane down: local delivery only, reconnecting",
                url = self.options.url.as_str(),
                error = error.as_str(),
            ),
            BackplaneStatus::Stopped => event!(DEBUG, "backplane stopped"),
            BackplaneStatus::Connecting => {}
        }
    }

    /// One side (publisher or subscriber) is connected or lost.
    fn side(&self, flag: &AtomicBool, up: bool, error: Option<String>) {
        flag.store(up, Ordering::Release);
        let both =
            self.publisher_up.load(Ordering::Acquire) && self.subscriber_up.load(Ordering::Acquire);
        if both {
            self.set_status(BackplaneStatus::Up);
        } else if let Some(error) = error {
            self.set_status(BackplaneStatus::Down(error));
        }
    }

    /// Waits `after`, or less if the backplane stops; `false` if it stopped.
    async fn pause(&self, after: Duration) -> bool {
        let mut stop = self.stop.subscribe();
        if *stop.borrow_and_update() {
            return false;
        }
        tokio::select! {
            _ = stop.changed() => false,
            () = tokio::time::sleep(after) => !self.stopped(),
        }
    }

    async fn call<T>(&self, fut: impl Future<Output = redis::RedisResult<T>>) -> Result<T, String> {
        match tokio::time::timeout(self.options.timeout, fut).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.options.timeout)),
        }
    }

    /// Delivers one message from Redis, unless it is our own.
    fn receive(&self, channel: &str, envelope: &[u8]) {
        let (Some(scope), Some(inbound)) = (self.scope_of(channel), self.inbound.get()) else {
            return;
        };
        let (Some(header), Some(payload)) = (envelope.get(..HEADER), envelope.get(HEADER..)) else {
            self.invalid.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if header.get(2..) == Some(&self.id[..]) {
            return;
        }
        let payload = Bytes::copy_from_slice(payload);
        let message = match (header.first(), header.get(1)) {
            (Some(&VERSION), Some(&TEXT)) => match Utf8Bytes::try_from(payload) {
                Ok(text) => Message::Text(text),
                Err(_) => {
                    self.invalid.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            },
            (Some(&VERSION), Some(&BINARY)) => Message::Binary(payload),
            _ => {
                self.invalid.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        self.received.fetch_add(1, Ordering::Relaxed);
        inbound.deliver(scope, &message);
    }

    async fn presence(&self, topic: &str) -> Result<usize, BackplaneError> {
        let local = lock(&self.local).get(topic).copied().unwrap_or(0);
        let Some(mut conn) = lock(&self.presence_conn).clone() else {
            return Err(BackplaneError("not connected to Redis".to_owned()));
        };
        let key = self.presence_key(topic);
        let counts: Vec<(String, usize)> = self
            .call(redis::cmd("HGETALL").arg(&key).query_async(&mut conn))
            .await
            .map_err(BackplaneError)?;
        let id = self.id_hex();
        let others: Vec<_> = counts.into_iter().filter(|(p, _)| *p != id).collect();
        if others.is_empty() {
            return Ok(local);
        }
        let keys: Vec<String> = others.iter().map(|(p, _)| self.alive_key(p)).collect();
        let alive: Vec<Option<String>> = self
            .call(redis::cmd("MGET").arg(&keys).query_async(&mut conn))
            .await
            .map_err(BackplaneError)?;
        let mut total = local;
        let mut stale = Vec::new();
        for ((process, count), alive) in others.into_iter().zip(alive) {
            match alive {
                Some(_) => total += count,
                None => stale.push(process),
            }
        }
        if !stale.is_empty() {
            let _ = self
                .call(
                    redis::cmd("HDEL")
                        .arg(&key)
                        .arg(&stale)
                        .query_async::<()>(&mut conn),
                )
                .await;
        }
        Ok(total)
    }
}

/// Backoff between reconnection attempts: 100 ms, doubling, at most `max`.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    fn new(max: Duration) -> Self {
        Backoff {
            next: Duration::from_millis(100),
            max,
        }
    }

    fn next(&mut self) -> Duration {
        let now = self.next.min(self.max);
        self.next = (self.next * 2).min(self.max);
        now
    }

    fn reset(&mut self) {
        self.next = Duration::from_millis(100);
    }
}

/// Publishes what the server queued, in order, in pipelines of up to [`BATCH`].
async fn publisher(link: Arc<Link>, mut queued: mpsc::Receiver<Outgoing>) {
    let mut backoff = Backoff::new(link.options.reconnect_max);
    let mut stop = link.stop.subscribe();
    loop {
        let conn = link
            .call(link.client.get_multiplexed_async_connection())
            .await;
        let mut conn = match conn {
            Ok(conn) => conn,
            Err(e) => {
                link.side(&link.publisher_up, false, Some(e));
                // What was queued when the connection went is dropped, not sent late.
                while queued.try_recv().is_ok() {
                    link.dropped.fetch_add(1, Ordering::Relaxed);
                }
                if !link.pause(backoff.next()).await {
                    return;
                }
                continue;
            }
        };
        backoff.reset();
        link.side(&link.publisher_up, true, None);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                n = queued.recv_many(&mut batch, BATCH) => if n == 0 { return },
            }
            let mut pipe = redis::pipe();
            for (channel, envelope) in &batch {
                pipe.publish(channel, envelope).ignore();
            }
            let sent = batch.len() as u64;
            batch.clear();
            match link.call(pipe.query_async::<()>(&mut conn)).await {
                Ok(()) => {
                    link.published.fetch_add(sent, Ordering::Relaxed);
                }
                Err(e) => {
                    // Not retried: it may have reached Redis (at-most-once, never twice).
                    link.dropped.fetch_add(sent, Ordering::Relaxed);
                    link.side(&link.publisher_up, false, Some(e));
                    break;
                }
            }
        }
    }
}

/// Receives `all` and the topics with local subscribers, keeping the subscriptions in step
/// with the server's counts; pings to notice a dead connection.
async fn subscriber(link: Arc<Link>) {
    let mut backoff = Backoff::new(link.options.reconnect_max);
    let mut stop = link.stop.subscribe();
    let every = link.options.timeout.max(Duration::from_millis(500));
    loop {
        let opened = link.call(link.client.get_async_pubsub()).await;
        let error = match opened {
            Ok(pubsub) => {
                let (mut sink, mut stream) = pubsub.split();
                let mut ping = tokio::time::interval(every);
                let result = async {
                    link.call(sink.subscribe(link.channel(Scope::All))).await?;
                    reconcile(&link, &mut sink).await?;
                    backoff.reset();
                    link.side(&link.subscriber_up, true, None);
                    loop {
                        tokio::select! {
                            _ = stop.changed() => return Ok(()),
                            message = std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)) => match message {
                                Some(message) => {
                                    link.receive(message.get_channel_name(), message.get_payload_bytes());
                                }
                                None => return Err("connection lost".to_owned()),
                            },
                            () = link.local_changed.notified() => reconcile(&link, &mut sink).await?,
                            _ = ping.tick() => {
                                link.call(sink.ping::<redis::Value>()).await?;
                            }
                        }
                    }
                }
                .await;
                match result {
                    Ok(()) => return,
                    Err(e) => e,
                }
            }
            Err(e) => e,
        };
        lock(&link.subscribed).clear();
        link.presence_changed.notify_one();
        link.side(&link.subscriber_up, false, Some(error));
        if !link.pause(backoff.next()).await {
            return;
        }
    }
}

/// Subscribes to the topics the server has subscribers for and unsubscribes from the rest.
async fn reconcile(link: &Link, sink: &mut PubSubSink) -> Result<(), String> {
    let wanted: HashSet<String> = lock(&link.local).keys().cloned().collect();
    let have = lock(&link.subscribed).clone();
    let add: Vec<String> = wanted
        .difference(&have)
        .map(|t| link.channel(Scope::Topic(t)))
        .collect();
    let remove: Vec<String> = have
        .difference(&wanted)
        .map(|t| link.channel(Scope::Topic(t)))
        .collect();
    if !add.is_empty() {
        link.call(sink.subscribe(&add)).await?;
    }
    if !remove.is_empty() {
        link.call(sink.unsubscribe(&remove)).await?;
    }
    if !add.is_empty() || !remove.is_empty() {
        *lock(&link.subscribed) = wanted;
        link.presence_changed.notify_one();
    }
    Ok(())
}

/// Keeps this process alive in Redis and its subscribed topics' counts current.
async fn presence(link: Arc<Link>) {
    let mut backoff = Backoff::new(link.options.reconnect_max);
    let ttl = link.options.presence_ttl;
    let id = link.id_hex();
    // Topics reported with a count, to withdraw when they drop out.
    let mut reported: HashSet<String> = HashSet::new();
    loop {
        let mut conn = match link
            .call(link.client.get_multiplexed_async_connection())
            .await
        {
            Ok(conn) => conn,
            Err(_) => {
                if !link.pause(backoff.next()).await {
                    return;
                }
                continue;
            }
        };
        backoff.reset();
        *lock(&link.presence_conn) = Some(conn.clone());
        loop {
            let counts: Vec<(String, usize)> = {
                let subscribed = lock(&link.subscribed);
                lock(&link.local)
                    .iter()
                    .filter(|(topic, _)| subscribed.contains(*topic))
                    .map(|(topic, count)| (topic.clone(), *count))
                    .collect()
            };
            let mut pipe = redis::pipe();
            pipe.cmd("SET")
                .arg(link.alive_key(&id))
                .arg(1)
                .arg("PX")
                .arg(ttl.as_millis() as u64)
                .ignore();
            for (topic, count) in &counts {
                let key = link.presence_key(topic);
                pipe.hset(&key, &id, *count).ignore();
                pipe.pexpire(&key, (ttl.as_millis() * 4) as i64).ignore();
            }
            let now: HashSet<String> = counts.into_iter().map(|(t, _)| t).collect();
            for gone in reported.difference(&now) {
                pipe.hdel(link.presence_key(gone), &id).ignore();
            }
            if link.call(pipe.query_async::<()>(&mut conn)).await.is_err() {
                *lock(&link.presence_conn) = None;
                break;
            }
            reported = now;
            let mut stop = link.stop.subscribe();
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(ttl / 3) => {}
                () = link.presence_changed.notified() => {
                    // A burst of changes is reported once.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            if link.stopped() {
                return;
            }
        }
        if !link.pause(backoff.next()).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    type Seen = Arc<StdMutex<Vec<(String, Message)>>>;

    fn backplane() -> (RedisBackplane, Seen) {
        let backplane =
            RedisBackplane::new(RedisOptions::new("redis://127.0.0.1:1/").prefix("p")).unwrap();
        let seen = Arc::new(StdMutex::new(Vec::new()));
        let sink = seen.clone();
        let _ = backplane
            .link
            .inbound
            .set(Inbound::new(move |scope, message| {
                let scope = match scope {
                    Scope::All => "*".to_owned(),
                    Scope::Topic(t) => t.to_owned(),
                };
                sink.lock().unwrap().push((scope, message.clone()));
                super::super::Fanout::default()
            }));
        (backplane, seen)
    }

    fn envelope(kind: u8, id: [u8; 16], payload: &[u8]) -> Vec<u8> {
        let mut e = vec![VERSION, kind];
        e.extend_from_slice(&id);
        e.extend_from_slice(payload);
        e
    }

    #[test]
    fn channels_and_scopes() {
        let (b, _) = backplane();
        let link = &b.link;
        assert_eq!(link.channel(Scope::All), "p:all");
        assert_eq!(link.channel(Scope::Topic("a:b")), "p:topic:a:b");
        assert_eq!(link.scope_of("p:all"), Some(Scope::All));
        assert_eq!(link.scope_of("p:topic:a:b"), Some(Scope::Topic("a:b")));
        assert_eq!(link.scope_of("q:all"), None);
        assert_eq!(link.scope_of("p:other"), None);
    }

    #[test]
    fn receive_keeps_kinds_skips_our_own_and_counts_the_invalid() {
        let (b, seen) = backplane();
        let link = &b.link;
        let other = [7u8; 16];
        link.receive("p:topic:news", &envelope(TEXT, other, "héllo".as_bytes()));
        link.receive("p:all", &envelope(BINARY, other, &[0, 255]));
        link.receive("p:all", &envelope(TEXT, link.id, b"mine"));
        link.receive("p:all", &envelope(TEXT, other, &[0xff, 0xfe]));
        link.receive("p:all", &envelope(b'x', other, b"?"));
        link.receive("p:all", &[VERSION, TEXT, 1, 2]);
        link.receive("p:all", &[]);
        link.receive("elsewhere", &envelope(TEXT, other, b"not ours"));
        assert_eq!(
            *seen.lock().unwrap(),
            [
                ("news".to_owned(), Message::text("héllo")),
                ("*".to_owned(), Message::binary(vec![0, 255])),
            ]
        );
        let stats = b.stats();
        assert_eq!((stats.received, stats.invalid), (2, 4));
    }

    #[test]
    fn publishing_while_not_up_drops_and_never_waits() {
        let (b, _) = backplane();
        b.publish(Scope::All, &Message::text("x"));
        b.publish(Scope::Topic("t"), &Message::binary(vec![1]));
        assert_eq!(b.stats().dropped, 2);
    }

    #[test]
    fn backoff_doubles_to_its_ceiling() {
        let mut backoff = Backoff::new(Duration::from_millis(500));
        let steps: Vec<_> = (0..5).map(|_| backoff.next().as_millis()).collect();
        assert_eq!(steps, [100, 200, 400, 500, 500]);
        backoff.reset();
        assert_eq!(backoff.next().as_millis(), 100);
    }
}
