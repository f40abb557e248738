//! Scale-out: a backplane carries broadcasts and topic messages between server processes
//! (socket.io's adapter idea). The server delivers locally itself, then hands the message to
//! the backplane for the other processes; what arrives from them is delivered locally through
//! [`Inbound`], never published again. The server tells the backplane how many local clients
//! each topic has, so a process receives only the topics it has subscribers for.
//!
//! [`RedisBackplane`](super::RedisBackplane) (feature `redis`) is the one in this crate; another
//! engine (NATS, a database's notifications) implements [`Backplane`] the same way, without
//! touching the server.

// The crate is no_std; this layer is std-only.
#[allow(unused_imports)]
use std::{borrow::ToOwned, boxed::Box, format, string::String, vec, vec::Vec};

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::watch;

use super::Fanout;
use crate::io::Message;

/// Who a message is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Every client ([`ServerHandle::broadcast`](super::ServerHandle::broadcast)).
    All,
    /// The subscribers of a topic ([`ServerHandle::publish`](super::ServerHandle::publish)).
    Topic(&'a str),
}

/// Where a backplane is, as the server and its users see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackplaneStatus {
    /// Not connected yet (the first attempt is under way).
    Connecting,
    /// Connected: messages cross to and from the other processes.
    Up,
    /// Disconnected: local delivery goes on, nothing crosses (at-most-once: what is published
    /// now is not sent later); reconnecting with backoff. The last error is given.
    Down(String),
    /// Stopped (the server shut down or the backplane was dropped).
    Stopped,
}

/// A failure to answer a question that needs the other processes (e.g.
/// [`Backplane::presence`] while the backplane is down).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackplaneError(pub String);

impl fmt::Display for BackplaneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "backplane: {}", self.0)
    }
}

impl std::error::Error for BackplaneError {}

/// A future a backplane returns.
pub type BackplaneFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Carries messages between server processes. Every method but
/// [`presence`](Backplane::presence) is called on the publishing path or under the server's
/// topic lock, so it must not wait: queue, and drop what cannot be queued.
pub trait Backplane: Send + Sync + 'static {
    /// Called once, when the server is built, inside the tokio runtime: where messages from
    /// the other processes go.
    fn attach(&self, inbound: Inbound);

    /// A message this process published (already delivered to its own clients), for the other
    /// processes.
    fn publish(&self, scope: Scope<'_>, message: &Message);

    /// This process now has `count` clients subscribed to `topic`: from 0 to 1 it should start
    /// receiving the topic, at 0 stop. Called in order, for every change.
    fn subscribers_changed(&self, topic: &str, count: usize);

    /// How many clients are subscribed to `topic` across every live process (this one
    /// included).
    fn presence<'a>(&'a self, topic: &'a str)
    -> BackplaneFuture<'a, Result<usize, BackplaneError>>;

    /// The state now, and its changes.
    fn status(&self) -> watch::Receiver<BackplaneStatus>;

    /// The server shut down: stop receiving, withdraw this process's presence.
    fn detach(&self);
}

type Deliver = dyn Fn(Scope<'_>, &Message) -> Fanout + Send + Sync;

/// Delivers messages from other processes to this process's clients (without publishing
/// them again). Cheap to clone.
#[derive(Clone)]
pub struct Inbound {
    deliver: Arc<Deliver>,
}

impl fmt::Debug for Inbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbound").finish_non_exhaustive()
    }
}

impl Inbound {
    pub(crate) fn new(
        deliver: impl Fn(Scope<'_>, &Message) -> Fanout + Send + Sync + 'static,
    ) -> Self {
        Inbound {
            deliver: Arc::new(deliver),
        }
    }

    /// Delivers a message published on another process to the local clients in `scope`.
    pub fn deliver(&self, scope: Scope<'_>, message: &Message) -> Fanout {
        (self.deliver)(scope, message)
    }
}
