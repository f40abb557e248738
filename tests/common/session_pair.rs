//! Two [`Session`]s joined by in-memory pipes with a bounded window and a virtual clock: the
//! executor contract carried out by hand, so adapter policy (closing waits, shutdown after a
//! protocol error, read gating, timers, backpressure) is tested without sockets or sleeps.

use std::collections::VecDeque;

use wsproto::message::Message;
use wsproto::session::{Error, Io, Session, Step, Turn};
use wsproto::{Config, Connection, Instant, Role};

use super::fixed_random;

/// What a side's application saw.
#[derive(Debug)]
pub enum Seen {
    Message(Message),
    Failed(Error),
    End,
}

/// One end: a session, what it delivered, and how its application behaves.
pub struct End {
    pub session: Session,
    pub seen: Vec<Seen>,
    /// The application polls for messages (Receive turns); otherwise only Send turns run.
    pub receiving: bool,
    /// The transport delivers input to this end (false: as if the peer's bytes never arrive).
    pub reads: bool,
    /// The transport's write side was shut down.
    pub shut: bool,
    pub ended: bool,
    /// Bytes this end has read, in total (from the pipe).
    pub read_total: usize,
}

impl End {
    pub fn new(session: Session) -> Self {
        End {
            session,
            seen: Vec::new(),
            receiving: true,
            reads: true,
            shut: false,
            ended: false,
            read_total: 0,
        }
    }

    pub fn messages(&self) -> Vec<&Message> {
        self.seen
            .iter()
            .filter_map(|s| match s {
                Seen::Message(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    pub fn failures(&self) -> Vec<&Error> {
        self.seen
            .iter()
            .filter_map(|s| match s {
                Seen::Failed(e) => Some(e),
                _ => None,
            })
            .collect()
    }
}

/// How many bytes a read of at most `max` takes from `inp` (0: the end of the stream), or
/// `None` if it would block.
fn readable(reads: bool, inp: &Pipe, max: usize) -> Option<usize> {
    if !reads || (inp.bytes.is_empty() && !inp.fin) {
        return None;
    }
    Some(max.min(inp.bytes.len()))
}

/// A pipe: bytes in flight, at most `window`, and whether the writer shut it.
#[derive(Default)]
pub struct Pipe {
    pub bytes: VecDeque<u8>,
    pub fin: bool,
}

pub struct SessionPair {
    pub client: End,
    pub server: End,
    pub now: Instant,
    pub to_server: Pipe,
    pub to_client: Pipe,
    /// Most bytes in flight per direction (the transport's buffers).
    pub window: usize,
    /// Bytes a read takes at most.
    pub read_chunk: usize,
}

impl SessionPair {
    pub fn new(client: Config, server: Config) -> Self {
        SessionPair {
            client: End::new(Session::new(Connection::new(
                Role::Client,
                client.random(fixed_random),
            ))),
            server: End::new(Session::new(Connection::new(Role::Server, server))),
            now: Instant::ZERO,
            to_server: Pipe::default(),
            to_client: Pipe::default(),
            window: 1 << 20,
            read_chunk: usize::MAX,
        }
    }

    pub fn default_pair() -> Self {
        Self::new(Config::new(), Config::new())
    }

    /// One turn of one end. Returns whether anything moved.
    fn turn(
        end: &mut End,
        out: &mut Pipe,
        inp: &mut Pipe,
        now: Instant,
        window: usize,
        chunk: usize,
    ) -> bool {
        if end.ended {
            return false;
        }
        let turn = if end.receiving {
            Turn::Receive
        } else {
            Turn::Send
        };
        end.session.start_turn();
        let mut moved = false;
        for _ in 0..100_000 {
            match end.session.step(now, turn) {
                Step::Deliver(m) => end.seen.push(Seen::Message(m)),
                Step::Fail(e) => end.seen.push(Seen::Failed(e)),
                Step::End => {
                    end.seen.push(Seen::End);
                    end.ended = true;
                    return true;
                }
                Step::Write([first, then]) => {
                    if out.fin {
                        end.session.transport_error(Error::Misuse(
                            wsproto::session::Misuse::HandshakeOver,
                        ));
                    } else {
                        let room = window.saturating_sub(out.bytes.len());
                        // As a vectored write: both runs, up to the room.
                        let n = room.min(first.len() + then.len());
                        if n == 0 {
                            end.session.blocked(Io::Write);
                            continue;
                        }
                        let taken = first.iter().chain(then).take(n);
                        out.bytes.extend(taken);
                        end.session.wrote(n);
                    }
                }
                Step::Flush => end.session.flushed(),
                Step::Shutdown => {
                    out.fin = true;
                    end.shut = true;
                    end.session.shut_down();
                }
                Step::Read(buf) => match readable(end.reads, inp, buf.len().min(chunk)) {
                    None => {
                        end.session.blocked(Io::Read);
                        continue;
                    }
                    Some(n) => {
                        for (dst, src) in buf.iter_mut().zip(inp.bytes.drain(..n)) {
                            *dst = src;
                        }
                        end.read_total += n;
                        end.session.received(now, n);
                    }
                },
                Step::ReadOwned(buf, max) => match readable(end.reads, inp, max.min(chunk)) {
                    None => {
                        end.session.blocked(Io::Read);
                        continue;
                    }
                    Some(n) => {
                        buf.extend(inp.bytes.drain(..n));
                        end.read_total += n;
                        end.session.received_owned(now, n);
                    }
                },
                Step::Wait(_) => return moved,
            }
            moved = true;
        }
        panic!("a turn never ended: the session loops");
    }

    /// One round: each end takes a turn. Returns whether anything moved.
    pub fn round(&mut self) -> bool {
        let now = self.now;
        let a = Self::turn(
            &mut self.client,
            &mut self.to_server,
            &mut self.to_client,
            now,
            self.window,
            self.read_chunk,
        );
        let b = Self::turn(
            &mut self.server,
            &mut self.to_client,
            &mut self.to_server,
            now,
            self.window,
            self.read_chunk,
        );
        a || b
    }

    /// Rounds until nothing moves (bounded).
    pub fn drive(&mut self) {
        for _ in 0..10_000 {
            if !self.round() {
                return;
            }
        }
        panic!("the pair never went idle");
    }

    /// The earliest deadline of either end.
    pub fn next_deadline(&self) -> Option<Instant> {
        [&self.client, &self.server]
            .iter()
            .filter(|e| !e.ended)
            .filter_map(|e| e.session.deadline())
            .min()
    }

    /// Drives, then jumps the clock to each next deadline, until both are idle with no
    /// deadline or `until` is reached.
    pub fn run_until(&mut self, until: Instant) {
        for _ in 0..10_000 {
            self.drive();
            match self.next_deadline() {
                Some(d) if d <= until => self.now = self.now.max(d),
                _ => return,
            }
        }
        panic!("timers never settled");
    }
}
