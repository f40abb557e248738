//! Each client's outgoing queue: bounded in bytes, with the slow-client policy, drained into
//! the socket by the connection's writer. Publishing never waits: a push either queues, or
//! applies the policy (close the client, or drop the message and count it).

// The crate is no_std; this layer is std-only.
#[allow(unused_imports)]
use std::{borrow::ToOwned, boxed::Box, format, string::String, vec, vec::Vec};

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::CloseCode;
use crate::frame::PreparedFrame;
use crate::message::Message;

/// What a server does with a client whose queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// Close it with this code (the default, 1013 "try again later", as uWebSockets'
    /// `closeOnBackpressureLimit`): its queue is dropped and the connection ends within the
    /// close timeout even if it never reads again.
    Close(CloseCode),
    /// Drop the message for this client and count it ([`ClientRef::dropped`]); the client
    /// stays.
    ///
    /// [`ClientRef::dropped`]: super::ClientRef::dropped
    Drop,
}

impl Default for Overflow {
    fn default() -> Self {
        Overflow::Close(CloseCode::TRY_AGAIN_LATER)
    }
}

/// What happened to one message for one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for the client.
    Queued,
    /// Not queued: the client's queue was full and the policy is [`Overflow::Drop`].
    Dropped,
    /// Not queued: the client's queue was full and it is being closed ([`Overflow::Close`]).
    Overflowed,
    /// Not queued: the client is closing or gone.
    Closed,
}

/// An item for the writer.
pub(crate) enum Out {
    Frame(PreparedFrame),
    Message(Message),
}

/// What the writer does next.
pub(crate) enum Next {
    Send(Out, usize),
    /// Close with this code and reason, then stop.
    Close(CloseCode, String),
    /// Send Close and end the connection without waiting for the peer, then stop.
    Terminate(CloseCode, String),
}

#[derive(Default)]
struct Queue {
    items: VecDeque<(Out, usize)>,
    bytes: usize,
    /// Set once: the writer closes (after the queue, or at once for `urgent`).
    end: Option<(CloseCode, String, bool)>,
    dropped: u64,
}

pub(crate) struct Outbox {
    queue: Mutex<Queue>,
    ready: Notify,
    limit: usize,
    overflow: Overflow,
}

impl Outbox {
    pub(crate) fn new(limit: usize, overflow: Overflow) -> Self {
        Outbox {
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            limit,
            overflow,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `out` (`bytes` on the wire), or applies the overflow policy.
    pub(crate) fn push(&self, out: Out, bytes: usize) -> Delivery {
        let mut q = self.lock();
        if q.end.is_some() {
            return Delivery::Closed;
        }
        if q.bytes.saturating_add(bytes) > self.limit && !q.items.is_empty() {
            return match self.overflow {
                Overflow::Drop => {
                    q.dropped += 1;
                    Delivery::Dropped
                }
                Overflow::Close(code) => {
                    q.items.clear();
                    q.bytes = 0;
                    q.end = Some((code, String::from("send queue full"), true));
                    drop(q);
                    self.ready.notify_one();
                    Delivery::Overflowed
                }
            };
        }
        q.items.push_back((out, bytes));
        q.bytes += bytes;
        drop(q);
        self.ready.notify_one();
        Delivery::Queued
    }

    /// Ends the connection after what is queued (`urgent`: at once, dropping the queue, and
    /// without waiting for the peer's Close).
    pub(crate) fn close(&self, code: CloseCode, reason: &str, urgent: bool) {
        let mut q = self.lock();
        if urgent {
            q.items.clear();
            q.bytes = 0;
        }
        match &mut q.end {
            Some(end) => end.2 |= urgent,
            None => q.end = Some((code, String::from(reason), urgent)),
        }
        drop(q);
        self.ready.notify_one();
    }

    /// Whether the connection is being ended.
    pub(crate) fn is_ending(&self) -> bool {
        self.lock().end.is_some()
    }

    /// Bytes queued and not yet handed to the socket.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Messages dropped by [`Overflow::Drop`].
    pub(crate) fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Whether an urgent end was asked for (checked while a send is in progress).
    pub(crate) async fn urgent(&self) {
        loop {
            let notified = self.ready.notified();
            if self.lock().end.as_ref().is_some_and(|e| e.2) {
                return;
            }
            notified.await;
        }
    }

    /// The next queued message, if one is there now (for batching several into one write).
    pub(crate) fn try_next(&self) -> Option<Out> {
        let mut q = self.lock();
        if q.end.as_ref().is_some_and(|e| e.2) {
            return None;
        }
        let (out, bytes) = q.items.pop_front()?;
        q.bytes -= bytes;
        Some(out)
    }

    /// The writer's next step (waits while there is nothing to do).
    pub(crate) async fn next(&self) -> Next {
        loop {
            let notified = self.ready.notified();
            {
                let mut q = self.lock();
                if let Some((code, reason, urgent)) = &q.end {
                    if *urgent {
                        return Next::Terminate(*code, reason.clone());
                    }
                    if q.items.is_empty() {
                        return Next::Close(*code, reason.clone());
                    }
                }
                if let Some((out, bytes)) = q.items.pop_front() {
                    q.bytes -= bytes;
                    return Next::Send(out, bytes);
                }
            }
            notified.await;
        }
    }
}
