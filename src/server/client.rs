//! One connected client: its entry in the server's registry ([`ClientRef`]), the handle its
//! route handler owns ([`Client`]), and the writer that drains its queue into the socket.

// The crate is no_std; this layer is std-only.
#[allow(unused_imports)]
use std::{borrow::ToOwned, boxed::Box, format, string::String, vec, vec::Vec};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures_core::Stream;

use super::outbox::{Delivery, Next, Out, Outbox};
use super::{Registry, ServerHandle, Transport};
use crate::CloseCode;
use crate::handshake::Request;
use crate::io::on_tokio::{ReadHalf, WriteHalf};
use crate::io::{Error, Message};

/// A connection's id, unique for the server's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub(crate) u64);

impl ClientId {
    /// The number behind the id.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What the server keeps of a client.
pub(crate) struct Entry<U> {
    pub(crate) id: ClientId,
    pub(crate) peer_addr: Option<SocketAddr>,
    pub(crate) request: Request,
    pub(crate) protocol: Option<String>,
    pub(crate) params: HashMap<String, String>,
    pub(crate) data: U,
    pub(crate) outbox: Outbox,
    /// The WebSocket is open (handshake done, connection not ended).
    pub(crate) open: AtomicBool,
}

/// A tracked client, as the server and other handlers see it (ws `server.clients`): its id,
/// address, upgrade request, user data, and a way to send to it or close it. Cheap to clone.
pub struct ClientRef<U = ()> {
    pub(crate) entry: Arc<Entry<U>>,
    pub(crate) registry: Arc<Registry<U>>,
}

impl<U> Clone for ClientRef<U> {
    fn clone(&self) -> Self {
        ClientRef {
            entry: self.entry.clone(),
            registry: self.registry.clone(),
        }
    }
}

impl<U> std::fmt::Debug for ClientRef<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRef")
            .field("id", &self.entry.id)
            .field("peer_addr", &self.entry.peer_addr)
            .field("path", &self.entry.request.path())
            .finish_non_exhaustive()
    }
}

impl<U: Send + Sync + 'static> ClientRef<U> {
    /// The client's id.
    pub fn id(&self) -> ClientId {
        self.entry.id
    }

    /// The client's address: the TCP peer, or the first `X-Forwarded-For` / `Forwarded`
    /// address when the server trusts a proxy ([`ServerBuilder::trust_proxy`]).
    ///
    /// [`ServerBuilder::trust_proxy`]: super::ServerBuilder::trust_proxy
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.entry.peer_addr
    }

    /// The upgrade request (ws `upgradeReq`): path, headers, cookies.
    pub fn request(&self) -> &Request {
        &self.entry.request
    }

    /// The subprotocol the route selected.
    pub fn protocol(&self) -> Option<&str> {
        self.entry.protocol.as_deref()
    }

    /// A named segment of the route's pattern (`/rooms/:id` → `param("id")`).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.entry.params.get(name).map(String::as_str)
    }

    /// The per-connection user data (made by [`ServerBuilder::user_data`]).
    ///
    /// [`ServerBuilder::user_data`]: super::ServerBuilder::user_data
    pub fn data(&self) -> &U {
        &self.entry.data
    }

    /// Whether the WebSocket is open.
    pub fn is_open(&self) -> bool {
        self.entry.open.load(Ordering::Acquire)
    }

    /// Queues a message for this client, after everything queued before (broadcasts too).
    /// Never waits; a full queue applies the server's [`Overflow`](super::Overflow) policy.
    pub fn send(&self, message: Message) -> Delivery {
        let bytes = message.len() + 14;
        self.entry.outbox.push(Out::Message(message), bytes)
    }

    /// Closes the connection after what is queued: Close(code, reason), then the closing
    /// handshake (bounded by the close timeout).
    pub fn close(&self, code: CloseCode, reason: &str) {
        self.entry.outbox.close(code, reason, false);
    }

    /// Ends the connection now (ws `terminate`): the queue is dropped, Close(code) is sent if
    /// the socket takes it, and the peer's Close is not waited for.
    pub fn terminate(&self, code: CloseCode, reason: &str) {
        self.entry.outbox.close(code, reason, true);
    }

    /// Bytes queued for this client and not yet handed to its socket.
    pub fn queued_bytes(&self) -> usize {
        self.entry.outbox.queued_bytes()
    }

    /// Messages dropped for this client by [`Overflow::Drop`](super::Overflow::Drop).
    pub fn dropped(&self) -> u64 {
        self.entry.outbox.dropped()
    }

    /// Subscribes this client to a topic; `true` if it was not subscribed yet.
    pub fn subscribe(&self, topic: &str) -> bool {
        self.registry.subscribe(self.entry.id, topic)
    }

    /// Unsubscribes this client from a topic; `true` if it was subscribed.
    pub fn unsubscribe(&self, topic: &str) -> bool {
        self.registry.unsubscribe(self.entry.id, topic)
    }

    /// The topics this client is subscribed to.
    pub fn topics(&self) -> Vec<String> {
        self.registry.topics().of(self.entry.id)
    }

    /// Publishes to a topic's subscribers other than this client (uWebSockets'
    /// `ws.publish`).
    pub fn publish(&self, topic: &str, message: &Message) -> super::Fanout {
        self.server().publish_except(self.entry.id, topic, message)
    }

    /// The server this client belongs to.
    pub fn server(&self) -> ServerHandle<U> {
        ServerHandle {
            registry: self.registry.clone(),
        }
    }
}

/// The handle a route handler gets for its connection: everything of [`ClientRef`] (it
/// dereferences to it) plus the incoming messages ([`recv`](Client::recv), or as a
/// `Stream`). When the handler returns, the connection is closed (1000) if it is still open.
pub struct Client<U = ()> {
    pub(crate) client: ClientRef<U>,
    pub(crate) read: ReadHalf<Transport>,
}

impl<U> std::fmt::Debug for Client<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.client.fmt(f)
    }
}

impl<U> std::ops::Deref for Client<U> {
    type Target = ClientRef<U>;
    fn deref(&self) -> &ClientRef<U> {
        &self.client
    }
}

impl<U: Send + Sync + 'static> Client<U> {
    /// The next message from the client; `None` once the connection is over. Pings and pongs
    /// come through too (their pongs are already sent).
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        let item = self.read.recv().await;
        if item.is_none() {
            self.client.entry.open.store(false, Ordering::Release);
        }
        item
    }

    /// A [`ClientRef`] to keep (for sending from elsewhere).
    pub fn handle(&self) -> ClientRef<U> {
        self.client.clone()
    }
}

impl<U: Send + Sync + 'static> Stream for Client<U> {
    type Item = Result<Message, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let poll = Pin::new(&mut self.read).poll_next(cx);
        if let Poll::Ready(None) = poll {
            self.client.entry.open.store(false, Ordering::Release);
        }
        poll
    }
}

/// Drains a client's queue into its socket until the connection ends. A send blocked on a
/// slow client gives way to an urgent end (overflow, terminate, shutdown past its grace).
pub(crate) async fn write_loop<U>(mut write: WriteHalf<Transport>, entry: Arc<Entry<U>>) {
    loop {
        match entry.outbox.next().await {
            Next::Send(out, _bytes) => {
                let sent = tokio::select! {
                    biased;
                    () = entry.outbox.urgent() => None,
                    r = send_batch(&mut write, out, &entry.outbox) => Some(r),
                };
                match sent {
                    Some(Ok(())) => {}
                    Some(Err(_)) => break,
                    None => continue, // the next step is the urgent end
                }
            }
            Next::Close(code, reason) => {
                let _ = write.close(code, &reason).await;
                break;
            }
            Next::Terminate(code, reason) => {
                write.terminate(code, &reason, false);
                // Drive it to its end (bounded by the close timeout even if the peer never
                // reads), whether or not the handler still polls the read half.
                let _ = write.close(code, &reason).await;
                break;
            }
        }
    }
    entry.open.store(false, Ordering::Release);
}

/// Most messages queued into the session before one flush.
const BATCH: usize = 64;

/// Queues `first` and what else is waiting (up to [`BATCH`]), then writes them out together:
/// one write for many small messages instead of one each.
async fn send_batch(
    write: &mut WriteHalf<Transport>,
    first: Out,
    outbox: &Outbox,
) -> Result<(), Error> {
    feed(write, first).await?;
    for _ in 1..BATCH {
        let Some(out) = outbox.try_next() else {
            break;
        };
        feed(write, out).await?;
    }
    write.flush().await
}

async fn feed(write: &mut WriteHalf<Transport>, out: Out) -> Result<(), Error> {
    match out {
        Out::Frame(frame) => write.feed_prepared(&frame).await,
        Out::Message(message) => write.feed(message).await,
    }
}
