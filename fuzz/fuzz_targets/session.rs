//! Fuzz target `session`: the session layer under arbitrary peer bytes, times, application
//! commands, receiver/sender turns and a transport that refuses bytes for a while, with or
//! without owned reads.
//!
//! Checks: never panics; every turn ends (a bounded number of steps); `Fail` is delivered at
//! most once and nothing but `End` follows `End`; once the input ends and the transport takes
//! everything, the session ends within the close timeout (no connection is left neither
//! progressing nor ending).
#![no_main]

use core::time::Duration;

use wsproto::message::Message;
use wsproto::session::{Error, Io, Session, Step, Turn};
use wsproto::{CloseCode, Config, Connection, Instant, Role};

/// How many bytes of `input` a read of at most `max` takes (0: the end of the stream), or
/// `None` if it would block.
fn readable(input: &[u8], ended: bool, max: usize) -> Option<usize> {
    if input.is_empty() && !ended {
        return None;
    }
    Some(max.min(input.len()))
}

struct Driver {
    session: Session,
    now: Instant,
    input: Vec<u8>,
    input_ended: bool,
    /// Bytes the transport takes per write (0: blocked).
    window: usize,
    failures: usize,
    ended: bool,
}

impl Driver {
    /// One turn; panics if it takes 10,000 steps without moving a byte.
    fn turn(&mut self, turn: Turn) {
        self.session.start_turn();
        let mut idle_steps = 0;
        while idle_steps < 10_000 {
            idle_steps += 1;
            match self.session.step(self.now, turn) {
                Step::Deliver(m) => {
                    assert!(!self.ended, "a message after End: {m:?}");
                    if turn == Turn::Receive {
                        return;
                    }
                }
                Step::Fail(_) => {
                    assert!(!self.ended);
                    self.failures += 1;
                    assert!(self.failures <= 1, "more than one failure delivered");
                    return;
                }
                Step::End => {
                    self.ended = true;
                    return;
                }
                Step::Write([first, then]) => {
                    // As a vectored write: both runs, up to the window.
                    let n = (first.len() + then.len()).min(self.window);
                    if n == 0 {
                        self.session.blocked(Io::Write);
                    } else {
                        self.session.wrote(n);
                        idle_steps = 0;
                    }
                }
                Step::Flush => self.session.flushed(),
                Step::Shutdown => self.session.shut_down(),
                Step::Read(buf) => match readable(&self.input, self.input_ended, buf.len()) {
                    None => self.session.blocked(Io::Read),
                    Some(n) => {
                        buf[..n].copy_from_slice(&self.input[..n]);
                        self.input.drain(..n);
                        self.session.received(self.now, n);
                        idle_steps = 0;
                    }
                },
                Step::ReadOwned(buf, max) => match readable(&self.input, self.input_ended, max) {
                    None => self.session.blocked(Io::Read),
                    Some(n) => {
                        buf.extend_from_slice(&self.input[..n]);
                        self.input.drain(..n);
                        self.session.received_owned(self.now, n);
                        idle_steps = 0;
                    }
                },
                Step::Wait(deadline) => {
                    if let Some(d) = deadline {
                        // Jump to the deadline (the timer fired).
                        self.now = self.now.max(d);
                        continue;
                    }
                    return;
                }
            }
        }
        panic!("a turn took 10,000 steps without moving a byte");
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&options, mut rest)) = data.split_first() else {
        return;
    };
    let role = if options & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let config = Config::new()
        .random(|b: &mut [u8]| b.fill(0x5a))
        .assemble_messages(options & 2 == 0)
        .max_message_size(64 << 10)
        .close_timeout(Duration::from_secs(5))
        .keepalive(
            (options & 4 != 0).then_some(Duration::from_secs(10)),
            Duration::from_secs(5),
        )
        .idle_timeout((options & 8 != 0).then_some(Duration::from_secs(30)));
    let mut session = Session::new(Connection::new(role, config));
    // Large binary messages read straight into their own memory (Step::ReadOwned).
    session.set_owned_reads(options & 16 != 0);
    let mut d = Driver {
        session,
        now: Instant::ZERO,
        input: Vec::new(),
        input_ended: false,
        window: usize::MAX,
        failures: 0,
        ended: false,
    };
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let arg = rest.first().copied().unwrap_or(0) as usize;
        match op % 12 {
            0..=3 => {
                // Peer bytes: a chunk of up to 64 bytes of the input.
                let n = (arg % 64).min(rest.len());
                d.input.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
            }
            4 => d.turn(Turn::Receive),
            5 => d.turn(Turn::Send),
            6 => d.now = d.now + Duration::from_millis(arg as u64 * 100),
            7 => d.window = [0, 1, 7, usize::MAX][arg % 4],
            8 => {
                let m = match arg % 5 {
                    0 => Message::text("hé"),
                    1 => Message::binary(vec![arg as u8; arg]),
                    2 => Message::ping(vec![1, 2]),
                    3 => Message::Close(None),
                    _ => Message::close(CloseCode::from(4000 + arg as u16), "r"),
                };
                let _ = d.session.send(d.now, &m);
            }
            9 => match arg % 4 {
                0 => d.session.terminate(CloseCode::GOING_AWAY, "", arg & 4 != 0),
                1 => d.session.pause(),
                2 => d.session.resume(),
                _ => d.session.receiver_gone(),
            },
            10 => {
                let _ = d.session.close(d.now, CloseCode::NORMAL, "bye");
            }
            _ => d
                .session
                .transport_error(Error::Misuse(wsproto::session::Misuse::HandshakeOver)),
        }
    }
    // Liveness: the peer goes quiet (its input ends), the transport takes everything, and the
    // application keeps receiving: the session must end within the timers.
    d.input_ended = true;
    d.window = usize::MAX;
    d.session.resume();
    for _ in 0..1000 {
        if d.ended {
            return;
        }
        d.turn(Turn::Receive);
        d.now = d.now + Duration::from_secs(1);
    }
    panic!("the session never ended");
});
