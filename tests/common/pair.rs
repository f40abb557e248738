//! A client⇄server pair joined by in-memory pipes, with a virtual clock (quinn-proto's `Pair`).
//! No sockets, no sleeps: `step` moves bytes once each way, `drive` runs until idle, and
//! `advance_to`/`run_timers` jump the clock to the next deadline.

use core::time::Duration;

use wsproto::{Config, Connection, Instant, Role};

use super::{Ev, events, fixed_random};

pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub now: Instant,
    pub client_events: Vec<Ev>,
    pub server_events: Vec<Ev>,
    /// The client (server) closed its transport.
    pub client_transport_closed: bool,
    pub server_transport_closed: bool,
    /// Deliver at most this many bytes per write (exercises partial input).
    pub mtu: usize,
    /// Whether the client (server) reads: a side that does not read lets bytes pile up.
    pub client_reads: bool,
    pub server_reads: bool,
    /// Bytes in flight to the client (server).
    to_client: Vec<u8>,
    to_server: Vec<u8>,
    client_eof: bool,
    server_eof: bool,
}

impl Pair {
    pub fn new(client: Config, server: Config) -> Self {
        Pair {
            client: Connection::new(Role::Client, client),
            server: Connection::new(Role::Server, server),
            now: Instant::ZERO,
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_transport_closed: false,
            server_transport_closed: false,
            mtu: usize::MAX,
            client_reads: true,
            server_reads: true,
            to_client: Vec::new(),
            to_server: Vec::new(),
            client_eof: false,
            server_eof: false,
        }
    }

    pub fn default_pair() -> Self {
        Self::new(Config::new().random(fixed_random), Config::new())
    }

    /// One round: write out both sides, deliver, drain events, close transports when told.
    /// Returns whether anything happened.
    pub fn step(&mut self) -> bool {
        let mut progress = false;
        let now = self.now;
        // Writes.
        if !self.client_transport_closed {
            let out = self.client.poll_transmit();
            let n = out.len().min(self.mtu);
            if n > 0 {
                self.to_server.extend_from_slice(&out[..n]);
                self.client.advance_transmit(n);
                progress = true;
            }
        }
        if !self.server_transport_closed {
            let out = self.server.poll_transmit();
            let n = out.len().min(self.mtu);
            if n > 0 {
                self.to_client.extend_from_slice(&out[..n]);
                self.server.advance_transmit(n);
                progress = true;
            }
        }
        // Reads.
        if self.server_reads
            && !self.server_transport_closed
            && !self.to_server.is_empty()
            && self.server.wants_read()
        {
            let n = self.to_server.len().min(self.mtu);
            let chunk: Vec<u8> = self.to_server.drain(..n).collect();
            self.server.receive(now, &chunk);
            progress = true;
        }
        if self.client_reads
            && !self.client_transport_closed
            && !self.to_client.is_empty()
            && self.client.wants_read()
        {
            let n = self.to_client.len().min(self.mtu);
            let chunk: Vec<u8> = self.to_client.drain(..n).collect();
            self.client.receive(now, &chunk);
            progress = true;
        }
        progress |= self.drain_events();
        // Transport closes (after writing everything out).
        if !self.server_transport_closed
            && self.server.should_close_transport()
            && self.server.poll_transmit().is_empty()
        {
            self.server_transport_closed = true;
            progress = true;
        }
        if !self.client_transport_closed
            && self.client.should_close_transport()
            && self.client.poll_transmit().is_empty()
        {
            self.client_transport_closed = true;
            progress = true;
        }
        // A closed transport: the other side reads EOF once it has read everything before it.
        if self.server_transport_closed
            && self.to_client.is_empty()
            && !self.client_transport_closed
            && !self.client_eof
        {
            self.client_eof = true;
            self.client.receive_eof(now);
            progress = true;
        }
        if self.client_transport_closed
            && self.to_server.is_empty()
            && !self.server_transport_closed
            && !self.server_eof
        {
            self.server_eof = true;
            self.server.receive_eof(now);
            progress = true;
        }
        progress |= self.drain_events();
        progress
    }

    fn drain_events(&mut self) -> bool {
        let c = events(&mut self.client);
        let s = events(&mut self.server);
        let progress = !c.is_empty() || !s.is_empty();
        self.client_events.extend(c);
        self.server_events.extend(s);
        progress
    }

    /// Steps until nothing happens (bounded).
    pub fn drive(&mut self) {
        for _ in 0..100_000 {
            if !self.step() {
                return;
            }
        }
        panic!("pair never went idle");
    }

    /// The earliest deadline of either side.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.client.poll_timeout(), self.server.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Moves the clock to `t`, firing every deadline on the way and driving after each.
    pub fn advance_to(&mut self, t: Instant) {
        self.drive();
        for _ in 0..10_000 {
            match self.next_deadline() {
                Some(d) if d <= t => {
                    self.now = self.now.max(d);
                    let now = self.now;
                    self.client.handle_timeout(now);
                    self.server.handle_timeout(now);
                    self.drive();
                }
                _ => break,
            }
        }
        self.now = self.now.max(t);
        let now = self.now;
        self.client.handle_timeout(now);
        self.server.handle_timeout(now);
        self.drive();
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&mut self, d: Duration) {
        let t = self.now + d;
        self.advance_to(t);
    }

    pub fn take_client_events(&mut self) -> Vec<Ev> {
        core::mem::take(&mut self.client_events)
    }

    pub fn take_server_events(&mut self) -> Vec<Ev> {
        core::mem::take(&mut self.server_events)
    }
}
