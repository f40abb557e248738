//! Fuzz target `send_path`: application commands and timers interleaved with a live peer.
//!
//! One connection (role, permessage-deflate, keepalive, idle timeout, outgoing fragmentation
//! and a small send queue chosen by the first byte) gets commands from the input: send text,
//! binary and fragments (text cut at arbitrary bytes, sometimes invalid UTF-8), ping and pong
//! (sometimes too long), close with valid and invalid codes and reasons, drop, time passing
//! with `handle_timeout`, partial writes of its output (a full send queue), and application
//! reads. A second connection in the other role reads its output and sends pings, messages and
//! Close back (pong backpressure when the first one's output is not written).
//!
//! Checks: a refused command changes nothing on the wire (`buffered_amount` unchanged); close
//! codes are refused exactly when they may not be sent; everything written parses as valid
//! frames in the order queued, with nothing after our Close, whose code is valid and, when our
//! own `close` started the closing handshake, the one asked for; pongs echo the pings the
//! connection reported (and the application's own pongs), in order; the peer receives every
//! message that was accepted, byte for byte, and never fails with a protocol error; at most
//! one error over the connection's life.
#![no_main]

use core::time::Duration;

use wsproto::{
    CloseCode, Config, Connection, Extension, Instant, MessageKind, Role, SendError, SendOptions,
    State,
};
use wsproto_fuzz::inflate_ref::RefInflater;
use wsproto_fuzz::wire::{Out, parse_strict};
use wsproto_fuzz::{Ev, Events, deflate_configs, negotiate_deflate};

const CODES: [u16; 16] = [
    1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1011, 1014, 1015, 1016, 2999, 3000, 4999, 5000,
];
const CHARS: [char; 8] = ['a', 'é', '€', '😀', '\u{7ff}', '\u{800}', '\u{10ffff}', ' '];

fn text(seed: u8, len: usize) -> String {
    (0..len)
        .map(|i| CHARS[(usize::from(seed) + i * 3) % CHARS.len()])
        .collect()
}

struct Harness {
    me: Connection,
    peer: Connection,
    now: Instant,
    events: Events,
    peer_events: Events,
    /// Everything `me` wrote, and everything the peer wrote.
    wire: Vec<u8>,
    peer_wire: Vec<u8>,
    /// Messages accepted by `me` (whole ones), in order.
    sent: Vec<(bool, Vec<u8>)>,
    /// A fragmented message being sent.
    open: Option<(bool, Vec<u8>)>,
    /// Pongs `me` owes, in the order queued (auto-pongs and the application's).
    pongs: Vec<Vec<u8>>,
    /// Whether `me` has queued or skipped its Close (no more auto-pongs).
    closing: bool,
    /// The Close our own `close` queued first: (code, reason).
    expected_close: Option<(Option<u16>, String)>,
}

impl Harness {
    fn drain(&mut self) {
        if self.me.state() != State::Open {
            // Our Close is queued (our close, drop or a timer): no more auto-pongs.
            self.closing = true;
        }
        let before = self.events.list.len();
        self.events.drain(&mut self.me);
        for ev in &self.events.list[before..] {
            match ev {
                Ev::Ping(p) if !self.closing => self.pongs.push(p.clone()),
                Ev::Close(..) | Ev::Err(..) => self.closing = true,
                _ => {}
            }
        }
    }

    /// Writes up to `n` bytes of `me`'s output to the peer.
    fn write(&mut self, n: usize) {
        let out = self.me.poll_transmit();
        let n = n.min(out.len());
        self.wire.extend_from_slice(&out[..n]);
        self.peer.receive(self.now, &out[..n]);
        self.me.advance_transmit(n);
        self.peer_events.drain(&mut self.peer);
    }

    /// Delivers up to `n` bytes of the peer's output to `me`.
    fn read(&mut self, n: usize) {
        self.peer_events.drain(&mut self.peer);
        let out = self.peer.poll_transmit();
        let n = n.min(out.len());
        self.peer_wire.extend_from_slice(&out[..n]);
        self.me.receive(self.now, &out[..n]);
        self.peer.advance_transmit(n);
    }

    /// Checks a command's result: a refusal leaves the queue as it was.
    fn refused(&self, before: usize, r: &Result<(), SendError>) -> bool {
        if r.is_err() {
            assert_eq!(
                self.me.buffered_amount(),
                before,
                "a refused command queued bytes: {r:?}"
            );
        }
        r.is_err()
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [opts, a, b, rest @ ..] = data else {
        return;
    };
    let mut rest: &[u8] = rest;
    let (opts, a, b) = (*opts, *a, *b);
    let role = if opts & 0x10 != 0 {
        Role::Client
    } else {
        Role::Server
    };
    let peer_role = if role == Role::Client {
        Role::Server
    } else {
        Role::Client
    };
    let config = Config::new()
        .random(wsproto_fuzz::fixed_random)
        .max_send_queue(256 + usize::from(b) * 16)
        .max_pending_pongs(2)
        .fragment_size((opts & 0x20 != 0).then_some(usize::from(a) + 1))
        .close_timeout(Duration::from_secs(5))
        .keepalive(
            (opts & 2 != 0).then_some(Duration::from_secs(10)),
            Duration::from_secs(5),
        )
        .idle_timeout((opts & 4 != 0).then_some(Duration::from_secs(30)));
    let peer_config = Config::new()
        .random(wsproto_fuzz::fixed_random)
        .close_timeout(Duration::from_secs(3600));
    let deflate = opts & 1 != 0;
    let mut windows = None;
    let (me, peer) = if deflate {
        let (cc, sc) = deflate_configs(a, b);
        let (c, s, _) = negotiate_deflate(cc, sc);
        let (ca, sa) = (c.agreed().unwrap(), s.agreed().unwrap());
        // The window the peer expects of us (see `check_agreed`), and whether history is kept.
        windows = Some(match role {
            Role::Client => (sa.client_max_window_bits, !sa.client_no_context_takeover),
            Role::Server => (ca.server_max_window_bits, !ca.server_no_context_takeover),
        });
        let (mine, theirs): (Box<dyn Extension>, Box<dyn Extension>) = match role {
            Role::Client => (Box::new(c), Box::new(s)),
            Role::Server => (Box::new(s), Box::new(c)),
        };
        (
            Connection::with_extensions(role, config, vec![mine]),
            Connection::with_extensions(peer_role, peer_config, vec![theirs]),
        )
    } else {
        (
            Connection::new(role, config),
            Connection::new(peer_role, peer_config),
        )
    };
    let mut h = Harness {
        me,
        peer,
        now: Instant::ZERO,
        events: Events::default(),
        peer_events: Events::default(),
        wire: Vec::new(),
        peer_wire: Vec::new(),
        sent: Vec::new(),
        open: None,
        pongs: Vec::new(),
        closing: false,
        expected_close: None,
    };
    h.me.handle_timeout(h.now);

    let mut steps = 0;
    while let [op, arg, tail @ ..] = rest {
        rest = tail;
        steps += 1;
        if steps > 200 {
            break;
        }
        let (op, arg) = (*op, *arg);
        let before = h.me.buffered_amount();
        let options = SendOptions::new().compress(op & 0x80 == 0);
        match op & 15 {
            0 | 1 => {
                let is_text = op & 1 == 0;
                let len = usize::from(arg) * if op & 0x40 != 0 { 8 } else { 1 };
                let p = if is_text {
                    text(op, len).into_bytes()
                } else {
                    vec![arg; len]
                };
                let kind = if is_text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                let r = h.me.send_message(kind, &p, options);
                if !h.refused(before, &r) {
                    assert!(h.open.is_none(), "a whole message inside a fragmented one");
                    h.sent.push((is_text, p));
                }
            }
            2 => {
                // A fragment: continue the open message (or start one), text cut anywhere.
                let is_text = h.open.as_ref().map_or(op & 0x10 == 0, |o| o.0)
                    ^ (op & 0x20 != 0 && op & 0x40 != 0);
                let fin = op & 0x40 != 0;
                let mut p = if is_text {
                    text(arg, usize::from(arg % 16)).into_bytes()
                } else {
                    vec![arg; usize::from(arg % 16)]
                };
                // Cut the text at an arbitrary byte, keeping the rest for the next fragment.
                let cut = usize::from(arg % 7).min(p.len());
                p.truncate(p.len() - cut);
                if op & 0x20 != 0 && rest.first().is_some_and(|&x| x > 0xf0) {
                    p.push(0xff); // never valid in UTF-8
                }
                let kind = if is_text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                let r = h.me.send_fragment(kind, &p, fin, options);
                if !h.refused(before, &r) {
                    let open = h.open.get_or_insert_with(|| (is_text, Vec::new()));
                    assert_eq!(open.0, is_text, "a fragment of the other kind was accepted");
                    open.1.extend_from_slice(&p);
                    if fin {
                        let (t, m) = h.open.take().unwrap_or_default();
                        if t {
                            assert!(std::str::from_utf8(&m).is_ok(), "invalid UTF-8 accepted");
                        }
                        h.sent.push((t, m));
                    }
                }
            }
            3 => {
                let p = vec![arg; usize::from(arg % 130)];
                let r = h.me.send_ping(&p);
                if p.len() > 125 {
                    assert!(r.is_err());
                }
                h.refused(before, &r);
            }
            4 => {
                let p = vec![arg; usize::from(arg % 130)];
                let r = h.me.send_pong(&p);
                if p.len() > 125 {
                    assert!(r.is_err());
                }
                if !h.refused(before, &r) {
                    h.pongs.push(p);
                }
            }
            5 | 6 => {
                let code = CODES[usize::from(arg % 16)];
                let reason = text(arg, usize::from(arg >> 4) * 9);
                let reason = if op & 0x10 != 0 { "" } else { reason.as_str() };
                if op & 15 == 5 {
                    let r = h.me.close(h.now, CloseCode::from(code), reason);
                    let sendable =
                        CloseCode::from(code).is_sendable() || (code == 1005 && reason.is_empty());
                    if !sendable {
                        assert!(r.is_err(), "close({code}) accepted");
                    }
                    if reason.len() > 123 {
                        assert!(r.is_err(), "a {}-byte reason accepted", reason.len());
                    }
                    if !h.refused(before, &r) {
                        assert!(!h.closing, "close accepted twice");
                        h.closing = true;
                        h.expected_close =
                            Some(((code != 1005).then_some(code), reason.to_owned()));
                    }
                } else {
                    h.me.drop_connection(CloseCode::from(code), reason, op & 0x20 != 0);
                    h.closing = true;
                    assert_eq!(h.me.state(), State::Closed);
                }
            }
            7 => {
                h.now = h.now + Duration::from_millis(u64::from(arg) * 250);
                h.me.handle_timeout(h.now);
                h.peer.handle_timeout(h.now);
            }
            8 => h.write(usize::from(arg) * 8),
            9 => h.read(usize::from(arg) * 8),
            10 => {
                let _ = h.peer.send_ping(&vec![arg; usize::from(arg % 126)]);
            }
            11 => {
                let _ = h.peer.send_text(&text(arg, usize::from(arg)));
            }
            12 => {
                let _ = h.peer.close(h.now, CloseCode::NORMAL, "peer");
            }
            _ => h.drain(),
        }
        if h.me.state() != State::Open {
            // Closed (or closing) from any side: no more auto-pongs once our Close is queued.
            h.drain();
        }
    }

    // Let everything through both ways, time passing, until nothing moves.
    for _ in 0..50 {
        h.drain();
        h.write(usize::MAX);
        h.read(usize::MAX);
        h.drain();
        h.write(usize::MAX);
        if h.me.poll_transmit().is_empty() && h.peer.poll_transmit().is_empty() {
            break;
        }
        h.now = h.now + Duration::from_millis(100);
        h.me.handle_timeout(h.now);
        h.peer.handle_timeout(h.now);
    }

    let out = parse_strict(&h.wire, role == Role::Client, deflate, true);
    let pongs: Vec<&Vec<u8>> = out
        .iter()
        .filter_map(|o| match o {
            Out::Pong(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(
        pongs,
        h.pongs.iter().collect::<Vec<_>>(),
        "pongs out of order or missing"
    );
    if let Some(expected) = &h.expected_close {
        let sent = out.iter().find_map(|o| match o {
            Out::Close(code, reason) => Some((*code, reason.clone())),
            _ => None,
        });
        assert_eq!(
            sent.as_ref(),
            Some(expected),
            "our Close is not the one asked for"
        );
    }
    // Every accepted message went on the wire, in order (whatever happened afterwards), and
    // decodes with an independent decoder within the window the peer expects.
    let mut inflater = windows.map(|(bits, takeover)| RefInflater::new(bits, takeover, usize::MAX));
    let on_wire: Vec<(bool, Vec<u8>)> = out
        .iter()
        .filter_map(|o| match o {
            Out::Message {
                text,
                compressed,
                payload,
                ..
            } => {
                let payload = if *compressed {
                    let inf = inflater.as_mut().expect("compressed without deflate");
                    inf.message(payload)
                        .unwrap_or_else(|e| panic!("compressed message: {e:?}"))
                } else {
                    payload.clone()
                };
                Some((*text, payload))
            }
            _ => None,
        })
        .collect();
    assert!(
        on_wire == h.sent,
        "the wire differs from the messages accepted"
    );
    // The peer found nothing wrong with our bytes, and got the messages in order (it discards
    // those that arrive after its own Close).
    let mut received = Vec::new();
    for ev in &h.peer_events.list {
        match ev {
            Ev::Text(d) => received.push((true, d.clone())),
            Ev::Binary(d) => received.push((false, d.clone())),
            Ev::Err(_, e) => assert!(!e.starts_with("Protocol"), "the peer failed: {e}"),
            _ => {}
        }
    }
    assert!(
        h.sent.starts_with(&received),
        "the peer's messages are not those accepted"
    );
});
