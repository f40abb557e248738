//! Fuzz target `roundtrip`: a differential between what one end sends and what the other end
//! receives. Arbitrary messages (text with multi-byte characters, binary), whole or as
//! fragments (`send_fragment`, text cut at arbitrary bytes, so characters split across
//! fragments), per-message compression on or off, automatic outgoing fragmentation, pings, and
//! delivery in arbitrary pieces, both ways, with or without permessage-deflate (takeover and
//! window sizes from the input).
//!
//! Checks: every command succeeds; each side receives exactly the messages the other sent, in
//! order, and the pongs of its pings; no error; the bytes on the wire are valid frames, and
//! each compressed message decodes with an independent decoder limited to exactly the window
//! the receiver expects (not 32 KiB), keeping history only where context takeover was agreed.
#![no_main]

use wsproto::{Config, Connection, Extension, Instant, MessageKind, Role, SendOptions};
use wsproto_fuzz::inflate_ref::RefInflater;
use wsproto_fuzz::wire::{Out, parse_strict};
use wsproto_fuzz::{Ev, Events, deflate_configs, negotiate_deflate};

/// Characters of 1 to 4 bytes, and boundaries of each length class.
const CHARS: [char; 16] = [
    'a',
    ' ',
    '{',
    'é',
    'ß',
    '€',
    '中',
    '😀',
    '\u{7f}',
    '\u{80}',
    '\u{7ff}',
    '\u{800}',
    '\u{ffff}',
    '\u{10000}',
    '\u{10ffff}',
    '\0',
];

struct Side {
    conn: Connection,
    events: Events,
    wire: Vec<u8>,
    /// Messages and pings sent: (text?, payload).
    sent: Vec<(bool, Vec<u8>)>,
    pings: Vec<Vec<u8>>,
}

fn side(role: Role, config: Config, ext: Option<Box<dyn Extension>>) -> Side {
    Side {
        conn: Connection::with_extensions(role, config, ext.into_iter().collect()),
        events: Events::default(),
        wire: Vec::new(),
        sent: Vec::new(),
        pings: Vec::new(),
    }
}

/// A payload from the input: `seed` bytes repeated to `len` (so there is something to
/// compress at a distance of `seed.len()`).
fn payload(text: bool, seed: &[u8], len: usize) -> Vec<u8> {
    if seed.is_empty() {
        return Vec::new();
    }
    if text {
        let mut s = String::new();
        for b in seed.iter().cycle() {
            if s.len() >= len {
                break;
            }
            s.push(CHARS[usize::from(b % 16)]);
        }
        s.into_bytes()
    } else {
        seed.iter().copied().cycle().take(len).collect()
    }
}

/// Moves up to `mtu` bytes from one side to the other.
fn step(from: &mut Side, to: &mut Side, mtu: usize) -> bool {
    let out = from.conn.poll_transmit();
    if out.is_empty() {
        return false;
    }
    let n = out.len().min(mtu);
    to.conn.receive(Instant::ZERO, &out[..n]);
    from.wire.extend_from_slice(&out[..n]);
    from.conn.advance_transmit(n);
    true
}

/// Moves up to `mtu` bytes each way per step until nothing moves.
fn deliver(c: &mut Side, s: &mut Side, mtu: usize) {
    for _ in 0..100_000 {
        let mut moved = step(c, s, mtu);
        moved |= step(s, c, mtu);
        moved |= c.events.drain(&mut c.conn);
        moved |= s.events.drain(&mut s.conn);
        if !moved {
            return;
        }
    }
    panic!("delivery never ended");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [opts, a, b, rest @ ..] = data else {
        return;
    };
    let mut rest: &[u8] = rest;
    let (opts, a, b) = (*opts, *a, *b);
    let deflate = opts & 1 != 0;
    let config = |assemble: bool| {
        Config::new()
            .assemble_messages(assemble)
            .fragment_size((opts & 8 != 0).then_some(usize::from(b) + 1))
            .random(wsproto_fuzz::fixed_random)
    };
    let (mut c, mut s, windows) = if deflate {
        let (cc, sc) = deflate_configs(a, b);
        let (ce, se, _) = negotiate_deflate(cc, sc);
        let (ca, sa) = (ce.agreed().unwrap(), se.agreed().unwrap());
        // The window each receiver expects: the server's record of the client's (which may be
        // smaller than the client's own, see `check_agreed`), the client's of the server's.
        let windows = (
            (sa.client_max_window_bits, !sa.client_no_context_takeover),
            (ca.server_max_window_bits, !ca.server_no_context_takeover),
        );
        (
            side(Role::Client, config(opts & 2 == 0), Some(Box::new(ce))),
            side(Role::Server, config(opts & 4 == 0), Some(Box::new(se))),
            Some(windows),
        )
    } else {
        (
            side(Role::Client, config(opts & 2 == 0), None),
            side(Role::Server, config(opts & 4 == 0), None),
            None,
        )
    };

    let mut ops = 0;
    while let [op, arg, tail @ ..] = rest {
        rest = tail;
        ops += 1;
        if ops > 64 {
            break;
        }
        let (op, arg) = (*op, *arg);
        let from = if op & 0x80 != 0 { &mut s } else { &mut c };
        let text = op & 0x40 != 0;
        let kind = if text {
            MessageKind::Text
        } else {
            MessageKind::Binary
        };
        let options = SendOptions::new().compress(op & 0x20 == 0);
        match op & 3 {
            0 => {
                // A whole message.
                let seed_len = usize::from(arg % 32).min(rest.len());
                let (seed, tail) = rest.split_at(seed_len);
                rest = tail;
                let len = usize::from(arg) * if op & 0x10 != 0 { 16 } else { 1 };
                let p = payload(text, seed, len);
                from.conn
                    .send_message(kind, &p, options)
                    .expect("send_message");
                from.sent.push((text, p));
            }
            1 => {
                // A fragmented message, cut at arbitrary byte offsets.
                let seed_len = usize::from(arg % 32).min(rest.len());
                let (seed, tail) = rest.split_at(seed_len);
                rest = tail;
                let len = usize::from(arg) * if op & 0x10 != 0 { 16 } else { 1 };
                let p = payload(text, seed, len);
                let cuts = 1 + usize::from((op >> 2) & 3);
                let mut at = 0;
                for i in 0..cuts {
                    let end = if i + 1 == cuts {
                        p.len()
                    } else {
                        let step = rest.first().map_or(1, |&x| usize::from(x));
                        rest = rest.get(1..).unwrap_or_default();
                        (at + step).min(p.len())
                    };
                    from.conn
                        .send_fragment(kind, &p[at..end], i + 1 == cuts, options)
                        .expect("send_fragment");
                    at = end;
                }
                from.sent.push((text, p));
            }
            2 => deliver(&mut c, &mut s, usize::from(arg) + 1),
            _ => {
                let p: Vec<u8> = (0..arg % 126).collect();
                from.conn.send_ping(&p).expect("send_ping");
                from.pings.push(p);
            }
        }
    }
    deliver(&mut c, &mut s, usize::MAX);

    for (me, peer, windows, from_client) in [
        (&c, &s, windows.map(|w| w.0), true),
        (&s, &c, windows.map(|w| w.1), false),
    ] {
        // What the peer received.
        let messages: Vec<(bool, Vec<u8>)> = peer
            .events
            .list
            .iter()
            .filter_map(|e| match e {
                Ev::Text(d) => Some((true, d.clone())),
                Ev::Binary(d) => Some((false, d.clone())),
                Ev::Err(..) | Ev::Close(..) => panic!("{e:?}"),
                _ => None,
            })
            .collect();
        assert!(
            messages == me.sent,
            "received messages differ from those sent"
        );
        let pongs: Vec<&Vec<u8>> = me
            .events
            .list
            .iter()
            .filter_map(|e| match e {
                Ev::Pong(p) => Some(p),
                _ => None,
            })
            .collect();
        assert_eq!(pongs, me.pings.iter().collect::<Vec<_>>());
        // What went on the wire, decoded without the crate.
        let mut inflater =
            windows.map(|(bits, takeover)| RefInflater::new(bits, takeover, usize::MAX));
        let on_wire: Vec<(bool, Vec<u8>)> = parse_strict(&me.wire, from_client, deflate, true)
            .into_iter()
            .filter_map(|o| match o {
                Out::Message {
                    text,
                    compressed,
                    payload,
                    ..
                } => {
                    let payload = if compressed {
                        let inf = inflater.as_mut().expect("compressed without deflate");
                        inf.message(&payload)
                            .unwrap_or_else(|e| panic!("compressed message: {e:?}"))
                    } else {
                        payload
                    };
                    Some((text, payload))
                }
                _ => None,
            })
            .collect();
        assert!(
            on_wire == me.sent,
            "the wire differs from the messages sent"
        );
    }
});
