//! Connection configuration: limits, timers, fragmentation and entropy.

use core::time::Duration;

use crate::rand::{DEFAULT_RANDOM, FillRandom};

/// Bytes charged against [`Config::max_message_size`] for every fragment of a message, on top of
/// its payload, so that many tiny fragments cannot pin memory or CPU beyond the message limit
/// (the lesson of ws advisory GHSA-96hv-2xvq-fx4p).
pub const FRAGMENT_OVERHEAD: usize = 16;

/// Settings of a [`Connection`](crate::Connection).
///
/// Every setter is a `const fn` taking and returning `self`, so a configuration can live in a
/// `const` or `static` even without `std`:
///
/// ```
/// use core::time::Duration;
/// use wsproto::Config;
/// const CONFIG: Config = Config::new()
///     .max_message_size(1 << 20)
///     .keepalive(Some(Duration::from_secs(20)), Duration::from_secs(10));
/// assert_eq!(CONFIG.get_max_message_size(), 1 << 20);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) max_frame_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) max_fragments: usize,
    pub(crate) max_send_queue: usize,
    pub(crate) max_pending_pongs: usize,
    pub(crate) auto_pong: bool,
    pub(crate) assemble_messages: bool,
    pub(crate) fragment_size: Option<usize>,
    pub(crate) close_timeout: Duration,
    pub(crate) keepalive_interval: Option<Duration>,
    pub(crate) keepalive_grace: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) release_buffers_after: Option<Duration>,
    pub(crate) random: Option<FillRandom>,
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    /// The defaults: 16 MiB frames and messages, 262 144 fragments, 8 MiB send queue, 32 pending
    /// pongs, auto-pong on, whole messages, no outgoing fragmentation, 5 s close timeout, no
    /// keepalive, no idle timeout, large buffers released after 5 s without messages, OS
    /// entropy with `std`.
    pub const fn new() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 16 << 20,
            max_fragments: 1 << 18,
            max_send_queue: 8 << 20,
            max_pending_pongs: 32,
            auto_pong: true,
            assemble_messages: true,
            fragment_size: None,
            close_timeout: Duration::from_secs(5),
            keepalive_interval: None,
            keepalive_grace: Duration::from_secs(10),
            idle_timeout: None,
            release_buffers_after: Some(Duration::from_secs(5)),
            random: DEFAULT_RANDOM,
        }
    }

    /// Largest frame payload accepted from the peer, in bytes. Default 16 MiB.
    ///
    /// A larger frame fails the connection with 1009 as soon as its header is read, before any
    /// of its payload is buffered. Memory: a connection may buffer up to this much input.
    pub const fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Largest message accepted from the peer, in bytes after decompression, plus
    /// [`FRAGMENT_OVERHEAD`] per fragment. Default 16 MiB (Autobahn's largest messages).
    ///
    /// Exceeding it fails the connection with 1009, decided from the frame header before the
    /// payload is buffered. Memory: reassembling a message may hold up to this much.
    pub const fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Most fragments (frames) in one message. Default 262 144. More fails with 1009.
    pub const fn max_fragments(mut self, count: usize) -> Self {
        self.max_fragments = count;
        self
    }

    /// Cap on queued outbound bytes (ws `bufferedAmount`). Default 8 MiB.
    ///
    /// Once the queue holds this many bytes, new data sends fail with
    /// [`SendError::Full`](crate::SendError::Full) until the caller has written some out. A
    /// message is accepted whenever the queue is empty or below the cap, so a single message
    /// larger than the cap still goes out, and a cap of 0 sends one message at a time. Control frames the protocol owes (pongs, the close reply) are not
    /// refused; they have their own bound, [`Config::max_pending_pongs`].
    pub const fn max_send_queue(mut self, bytes: usize) -> Self {
        self.max_send_queue = bytes;
        self
    }

    /// Most automatic pongs queued but not yet written (ws `maxPendingAutoPongs`). Default 32.
    ///
    /// Past it, [`Connection::wants_read`](crate::Connection::wants_read) turns false: the driver
    /// should stop reading until it has written what the connection owes, so a peer that floods
    /// pings and never reads cannot grow our memory.
    pub const fn max_pending_pongs(mut self, count: usize) -> Self {
        self.max_pending_pongs = count;
        self
    }

    /// Answer pings automatically (ws `autoPong`). Default on. Off: the application sees
    /// [`Event::Ping`](crate::Event::Ping) and may answer with `send_pong`.
    pub const fn auto_pong(mut self, on: bool) -> Self {
        self.auto_pong = on;
        self
    }

    /// Deliver whole reassembled messages (default, `true`), or, when `false`, every piece of
    /// payload as it arrives with `fin` marking the end of the message (WebSocket-Node's
    /// `assembleFragments: false`), so huge messages stream through bounded memory.
    pub const fn assemble_messages(mut self, on: bool) -> Self {
        self.assemble_messages = on;
        self
    }

    /// Split outgoing messages into frames of at most this many payload bytes
    /// (WebSocket-Node `fragmentOutgoingMessages` / `fragmentationThreshold`). Default `None`:
    /// one frame per message.
    pub const fn fragment_size(mut self, bytes: Option<usize>) -> Self {
        self.fragment_size = bytes;
        self
    }

    /// How long to wait for the peer's Close after we sent ours, and (client) for the server to
    /// close the transport after the handshake. Default 5 s.
    pub const fn close_timeout(mut self, after: Duration) -> Self {
        self.close_timeout = after;
        self
    }

    /// Keepalive: when nothing has arrived for `interval`, send a ping; if nothing arrives within
    /// `grace` after it, fail with [`Timeout::Keepalive`](crate::Timeout::Keepalive) ("peer not
    /// responding"). Default off (grace 10 s).
    pub const fn keepalive(mut self, interval: Option<Duration>, grace: Duration) -> Self {
        self.keepalive_interval = interval;
        self.keepalive_grace = grace;
        self
    }

    /// Close with 1001 when no data message was sent or received for this long. Default off.
    pub const fn idle_timeout(mut self, after: Option<Duration>) -> Self {
        self.idle_timeout = after;
        self
    }

    /// Give memory back once no data message was sent or received for this long, if the
    /// connection holds a buffer larger than 64 KiB. Default 5 s.
    ///
    /// While messages flow, buffers keep their size, so large messages cost no allocation
    /// and no zero-fill each time; once the connection has been quiet this long, every empty
    /// buffer is freed (and [`Extension::release_memory`](crate::Extension::release_memory)
    /// is called), as [`Connection::release_buffers`](crate::Connection::release_buffers) does.
    /// The connection reports the deadline through
    /// [`Connection::poll_timeout`](crate::Connection::poll_timeout) only while it holds such a
    /// buffer that is not in use (a send queue with bytes still to write is not released, and
    /// arms no timer). `Some(Duration::ZERO)` frees them at the first timer call after each message;
    /// `None` never frees them on its own.
    pub const fn release_buffers_after(mut self, after: Option<Duration>) -> Self {
        self.release_buffers_after = after;
        self
    }

    /// The entropy source for masking keys and handshake keys. Default: OS entropy with `std`,
    /// none without (a client then fails its sends with
    /// [`SendError::NoEntropy`](crate::SendError::NoEntropy)).
    pub const fn random(mut self, fill: FillRandom) -> Self {
        self.random = Some(fill);
        self
    }

    /// See [`Config::max_frame_size`].
    pub const fn get_max_frame_size(&self) -> usize {
        self.max_frame_size
    }
    /// See [`Config::max_message_size`].
    pub const fn get_max_message_size(&self) -> usize {
        self.max_message_size
    }
    /// See [`Config::max_fragments`].
    pub const fn get_max_fragments(&self) -> usize {
        self.max_fragments
    }
    /// See [`Config::max_send_queue`].
    pub const fn get_max_send_queue(&self) -> usize {
        self.max_send_queue
    }
    /// See [`Config::max_pending_pongs`].
    pub const fn get_max_pending_pongs(&self) -> usize {
        self.max_pending_pongs
    }
    /// See [`Config::auto_pong`].
    pub const fn get_auto_pong(&self) -> bool {
        self.auto_pong
    }
    /// See [`Config::assemble_messages`].
    pub const fn get_assemble_messages(&self) -> bool {
        self.assemble_messages
    }
    /// See [`Config::fragment_size`].
    pub const fn get_fragment_size(&self) -> Option<usize> {
        self.fragment_size
    }
    /// See [`Config::close_timeout`].
    pub const fn get_close_timeout(&self) -> Duration {
        self.close_timeout
    }
    /// See [`Config::keepalive`].
    pub const fn get_keepalive(&self) -> (Option<Duration>, Duration) {
        (self.keepalive_interval, self.keepalive_grace)
    }
    /// See [`Config::idle_timeout`].
    pub const fn get_idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }
    /// See [`Config::release_buffers_after`].
    pub const fn get_release_buffers_after(&self) -> Option<Duration> {
        self.release_buffers_after
    }
    /// See [`Config::random`].
    pub const fn get_random(&self) -> Option<FillRandom> {
        self.random
    }
}
