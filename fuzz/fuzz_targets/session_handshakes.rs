//! Fuzz target `session_handshakes`: the sans-IO opening handshakes of the session layer.
//!
//! `Accepting` (server) gets arbitrary request bytes in arbitrary chunks, arbitrary times and
//! an accept-or-reject decision; `Dialing` (client) gets arbitrary response bytes, with
//! redirects allowed. Checks: never panics, every step sequence ends (Accepted/Connected or
//! Failed) within the input plus a bounded number of steps, nothing is read after the end,
//! and the deadline is honoured.
#![no_main]

use core::time::Duration;

use wsproto::handshake::{Accept, ClientOptions, Reject};
use wsproto::session::{AcceptOptions, AcceptStep, Accepting, ConnectOptions, DialStep, Dialing};
use wsproto::{Config, Instant};

fn accept(data: &[u8], chunk: usize, accept_it: bool, plain: bool) {
    let mut options = AcceptOptions::default().handshake_timeout(Some(Duration::from_secs(10)));
    if plain {
        options = options.plain_http(|r| {
            (r.path() == "/").then(|| Reject {
                status: 200,
                ..Reject::default()
            })
        });
    }
    let mut a = Accepting::new(Instant::ZERO, options);
    let mut input = data;
    let mut now = Instant::ZERO;
    for _ in 0..(data.len() + 64) {
        match a.step(now) {
            AcceptStep::Read(buf) => {
                let n = chunk.min(input.len()).min(buf.len());
                buf[..n].copy_from_slice(&input[..n]);
                input = &input[n..];
                a.received(now, n);
                now = now + Duration::from_millis(100);
            }
            AcceptStep::Decide(_request) => {
                let decision = if accept_it {
                    Ok(Accept::default())
                } else {
                    Err(Reject::new(403))
                };
                a.decide(now, decision);
            }
            AcceptStep::Write(buf) => {
                let n = buf.len();
                a.wrote(n);
            }
            AcceptStep::Flush => a.flushed(),
            AcceptStep::Shutdown => a.shut_down(),
            AcceptStep::Accepted => {
                let _ = a.into_session();
                return;
            }
            AcceptStep::Failed(_) => return,
        }
    }
    panic!("the accept handshake never ended");
}

fn dial(data: &[u8], chunk: usize) {
    let options = ConnectOptions::new(
        ClientOptions::default().config(Config::new().random(|b: &mut [u8]| b.fill(7))),
    )
    .max_redirects(2)
    .handshake_timeout(Some(Duration::from_secs(10)));
    let Ok(mut d) = Dialing::new("ws://example.com/chat", options) else {
        return;
    };
    let mut input = data;
    let mut now = Instant::ZERO;
    for _ in 0..(3 * data.len() + 64) {
        match d.step(now) {
            DialStep::Connect(_target) => d.connected(now),
            DialStep::Write(buf) => {
                let n = buf.len();
                d.wrote(n);
            }
            DialStep::Flush => d.flushed(),
            DialStep::Read(buf) => {
                let n = chunk.min(input.len()).min(buf.len());
                buf[..n].copy_from_slice(&input[..n]);
                input = &input[n..];
                d.received(now, n);
                now = now + Duration::from_millis(100);
            }
            DialStep::Connected => {
                let _ = d.into_session(now);
                return;
            }
            DialStep::Failed(_) => return,
        }
    }
    panic!("the dial never ended");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&options, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(options >> 3).max(1);
    if options & 1 == 0 {
        accept(rest, chunk, options & 2 != 0, options & 4 != 0);
    } else {
        dial(rest, chunk);
    }
});
