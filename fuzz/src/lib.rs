//! Shared drivers and oracles of the fuzz targets (one copy of each harness; the targets pick
//! the inputs).
//!
//! The oracles, used by several targets:
//! - [`Events`] owns what a connection reports and counts its errors over its whole life (at
//!   most one, ever);
//! - [`wire::parse_strict`] checks every byte a connection writes (valid frames, valid Close,
//!   nothing after it);
//! - [`reference_messages`] decodes the peer's bytes independently of the crate (frames with
//!   [`wire::parse_lenient`], compressed messages with [`inflate_ref::RefInflater`]), so the
//!   messages a connection delivers can be compared with what was on the wire, UTF-8 included;
//! - the connection drivers run each input twice, cut in two different ways, and compare.

pub mod ext_params;
pub mod inflate_ref;
pub mod wire;

use ext_params::{as_params, parse_elements};
use wsproto::deflate::{Agreed, DeflateConfig, PerMessageDeflate};
use wsproto::{Config, Connection, Event, Extension, Instant, Role};

pub const MAX_FRAME: usize = 64 * 1024;
pub const MAX_MESSAGE: usize = 128 * 1024;

pub fn fixed_random(buf: &mut [u8]) {
    buf.fill(0x5A);
}

/// An owned event. Streamed chunks of one message are joined (the chunking depends on how the
/// input arrived; the message does not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Text(Vec<u8>),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
    /// A fatal error: its close code and its description.
    Err(u16, String),
}

/// Everything a connection reported over its life.
#[derive(Default, Debug)]
pub struct Events {
    pub list: Vec<Ev>,
    /// A streamed message not finished yet: (text?, bytes so far).
    partial: Option<(bool, Vec<u8>)>,
    pub errors: usize,
    pub closed: bool,
}

impl Events {
    /// Drains `conn` until `Ok(None)`; returns whether anything came out. Asserts the per-event
    /// invariants and that at most one error is ever reported.
    pub fn drain(&mut self, conn: &mut Connection) -> bool {
        let mut any = false;
        for _ in 0..1_000_000 {
            let ev = match conn.poll_event() {
                Ok(None) => return any,
                Ok(Some(Event::Text { data, fin })) => {
                    assert!(!self.closed, "data after Close");
                    self.chunk(true, data.as_bytes(), fin);
                    any = true;
                    continue;
                }
                Ok(Some(Event::Binary { data, fin })) => {
                    assert!(!self.closed, "data after Close");
                    assert!(data.len() <= MAX_MESSAGE);
                    self.chunk(false, data, fin);
                    any = true;
                    continue;
                }
                Ok(Some(Event::Ping(p))) => {
                    assert!(p.len() <= 125);
                    Ev::Ping(p.to_vec())
                }
                Ok(Some(Event::Pong(p))) => {
                    assert!(p.len() <= 125);
                    Ev::Pong(p.to_vec())
                }
                Ok(Some(Event::Close { code, reason })) => {
                    assert!(reason.len() <= 123);
                    assert!(!self.closed, "two Close events");
                    self.closed = true;
                    Ev::Close(code.as_u16(), reason.to_owned())
                }
                Err(e) => {
                    self.errors += 1;
                    assert_eq!(
                        self.errors, 1,
                        "a second error over the connection's life: {e:?}"
                    );
                    Ev::Err(e.close_code().as_u16(), format!("{e:?}"))
                }
            };
            // A message cut off by an error or Close is dropped: how much of it was lent
            // depends on the input's cuts.
            if matches!(ev, Ev::Close(..) | Ev::Err(..)) {
                self.partial = None;
            }
            self.list.push(ev);
            any = true;
        }
        panic!("poll_event never returned None");
    }

    fn chunk(&mut self, text: bool, data: &[u8], fin: bool) {
        let p = self.partial.get_or_insert_with(|| (text, Vec::new()));
        assert_eq!(p.0, text, "a message changed kind");
        p.1.extend_from_slice(data);
        assert!(p.1.len() <= MAX_MESSAGE, "message over the limit");
        if fin {
            let (text, data) = self.partial.take().unwrap_or_default();
            self.list.push(if text {
                Ev::Text(data)
            } else {
                Ev::Binary(data)
            });
        }
    }
}

/// A message or ping as the peer's bytes define it, decoded without the crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefEv {
    /// A whole message; `None` data: the reference could not decode it (compressed data it
    /// refuses, or after such a message with context takeover): not compared.
    Message(bool, Option<Vec<u8>>),
    Ping(Vec<u8>),
}

/// The peer's messages and pings in `input`, up to its first Close frame. `inflater`: the
/// negotiated permessage-deflate receiver, if any.
pub fn reference_messages(
    input: &[u8],
    mut inflater: Option<inflate_ref::RefInflater>,
) -> Vec<RefEv> {
    let mut out = Vec::new();
    let mut open: Option<(bool, bool, Vec<u8>)> = None;
    let mut broken = false;
    for f in wire::parse_lenient(input) {
        match f.opcode {
            1 | 2 => open = Some((f.opcode == 1, f.rsv & 0b100 != 0, f.payload)),
            0 => match open.as_mut() {
                Some(m) => m.2.extend_from_slice(&f.payload),
                None => continue,
            },
            8 => break,
            9 => {
                out.push(RefEv::Ping(f.payload));
                continue;
            }
            _ => continue,
        }
        if f.fin {
            let Some((text, compressed, payload)) = open.take() else {
                continue;
            };
            let data = match (compressed, inflater.as_mut()) {
                (false, _) => Some(payload),
                (true, Some(inf)) if !broken => match inf.message(&payload) {
                    Ok(d) => Some(d),
                    Err(_) => {
                        broken = true;
                        None
                    }
                },
                _ => None,
            };
            out.push(RefEv::Message(text, data));
        }
    }
    out
}

/// Checks the delivered events against the reference decoding of the input: every delivered
/// message and ping is the next one on the wire, byte for byte, and a delivered text message
/// is valid UTF-8 on the wire (checked on the reference's bytes, not on a `&str`).
pub fn check_against_reference(events: &[Ev], reference: &[RefEv]) {
    let mut refs_pings = reference.iter().filter_map(|r| match r {
        RefEv::Ping(p) => Some(p),
        _ => None,
    });
    let mut refs_msgs = reference.iter().filter_map(|r| match r {
        RefEv::Message(t, d) => Some((*t, d)),
        _ => None,
    });
    for ev in events {
        match ev {
            Ev::Text(d) | Ev::Binary(d) => {
                let text = matches!(ev, Ev::Text(_));
                let (rt, rd) = refs_msgs
                    .next()
                    .unwrap_or_else(|| panic!("a message the wire does not hold: {ev:?}"));
                assert_eq!(text, rt, "message kind differs from the wire");
                if let Some(rd) = rd {
                    assert!(d == rd, "message differs from the wire");
                    if text {
                        assert!(
                            std::str::from_utf8(rd).is_ok(),
                            "invalid UTF-8 on the wire delivered as Text"
                        );
                    }
                }
            }
            Ev::Ping(p) => {
                let r = refs_pings.next().expect("a ping the wire does not hold");
                assert_eq!(p, r, "ping payload differs from the wire");
            }
            _ => {}
        }
    }
}

/// Checks a connection's written bytes and that its pongs echo the pings it reported before
/// it closed (auto-pong). Returns the parsed output.
pub fn check_output(
    output: &[u8],
    role: Role,
    deflate: bool,
    events: &[Ev],
    auto_pong: bool,
) -> Vec<wire::Out> {
    let out = wire::parse_strict(output, role == Role::Client, deflate, true);
    if auto_pong {
        let pongs: Vec<&Vec<u8>> = out
            .iter()
            .filter_map(|o| match o {
                wire::Out::Pong(p) => Some(p),
                _ => None,
            })
            .collect();
        let pings: Vec<&Vec<u8>> = events
            .iter()
            .take_while(|e| !matches!(e, Ev::Close(..) | Ev::Err(..)))
            .filter_map(|e| match e {
                Ev::Ping(p) => Some(p),
                _ => None,
            })
            .collect();
        assert_eq!(pongs, pings, "pongs do not echo the pings");
    }
    out
}

/// Input cuts: a fixed chunk size, or a cycle of sizes.
pub fn pieces<'a>(data: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        out.push(&rest[..n]);
        rest = &rest[n..];
        i += 1;
    }
    out
}

/// What one run of a connection produced.
#[derive(Debug)]
pub struct Outcome {
    pub events: Events,
    pub output: Vec<u8>,
}

/// Writes out everything and drains events until neither moves (pongs owed can hold the
/// input back until written).
pub fn settle(conn: &mut Connection, events: &mut Events, output: &mut Vec<u8>) {
    for _ in 0..10_000 {
        let moved = events.drain(conn);
        let out = conn.poll_transmit();
        if out.is_empty() && !moved {
            return;
        }
        output.extend_from_slice(out);
        let n = out.len();
        conn.advance_transmit(n);
    }
    panic!("the connection never settled");
}

/// Feeds `pieces` into `conn` (through `receive` or `recv_buf`), draining events and writing
/// output after each, checks the buffer bound, then ends the stream and runs out the timers.
pub fn feed(mut conn: Connection, pieces: &[&[u8]], recv_buf: bool) -> Outcome {
    let mut events = Events::default();
    let mut output = Vec::new();
    let mut t = 0u64;
    let max_chunk = pieces.iter().map(|p| p.len()).max().unwrap_or(0);
    for piece in pieces {
        t += 1;
        if recv_buf {
            let buf = conn.recv_buf(piece.len());
            buf[..piece.len()].copy_from_slice(piece);
            conn.commit_recv(Instant::from_millis(t), piece.len());
        } else {
            conn.receive(Instant::from_millis(t), piece);
        }
        events.drain(&mut conn);
        // Where a non-blocking driver would wait: deferred UTF-8 checks run (no-op otherwise).
        if conn.check_deferred() {
            events.drain(&mut conn);
        }
        // Bounded memory: one frame (plus header and one chunk) of input, one message, and
        // a few control frames of output, each at most doubled by Vec growth.
        let bound = 2 * (MAX_FRAME + 14 + max_chunk) + 2 * MAX_MESSAGE + 64 * 1024;
        assert!(
            conn.buffer_capacity() <= bound,
            "{} > {bound}",
            conn.buffer_capacity()
        );
        let out = conn.poll_transmit();
        output.extend_from_slice(out);
        let n = out.len();
        conn.advance_transmit(n);
        conn.handle_timeout(Instant::from_millis(t));
    }
    settle(&mut conn, &mut events, &mut output);
    conn.receive_eof(Instant::from_millis(t + 1));
    settle(&mut conn, &mut events, &mut output);
    conn.handle_timeout(Instant::from_millis(t + 1_000_000));
    settle(&mut conn, &mut events, &mut output);
    Outcome { events, output }
}

fn connection_config(opts: u8) -> Config {
    Config::new()
        .max_frame_size(MAX_FRAME)
        .max_message_size(MAX_MESSAGE)
        .max_fragments(1024)
        .max_pending_pongs(4)
        .assemble_messages(opts & 1 == 0)
        .auto_pong(opts & 2 == 0)
        .random(fixed_random)
}

/// Runs `make()` over `rest` cut two ways and checks both runs against each other, against
/// the reference decoding of the input, and the output bytes.
fn run_twice(
    role: Role,
    opts: u8,
    rest: &[u8],
    make: &dyn Fn() -> Connection,
    deflate: bool,
    inflater: Option<inflate_ref::RefInflater>,
) {
    let chunk = usize::from(opts >> 2).max(1);
    let recv_buf = opts & 0x80 != 0;
    let a = feed(make(), &pieces(rest, &[chunk]), recv_buf);
    // The second run defers its UTF-8 checks, as the non-blocking adapters do: the events and
    // output must not depend on that either.
    let mut deferred = make();
    deferred.set_deferred_checks(true);
    let b = feed(deferred, &pieces(rest, &[1, 7, 64, 3, 300, 2]), !recv_buf);
    // Error variants are diagnostics (which of two faults is seen first may depend on the
    // cuts, e.g. corrupt deflate data after invalid UTF-8); the close code may not.
    let norm = |list: &[Ev]| -> Vec<Ev> {
        list.iter()
            .map(|e| match e {
                Ev::Err(code, _) => Ev::Err(*code, String::new()),
                e => e.clone(),
            })
            .collect()
    };
    assert_eq!(
        norm(&a.events.list),
        norm(&b.events.list),
        "events depend on the input's cuts"
    );
    assert!(a.output == b.output, "output depends on the input's cuts");
    let reference = reference_messages(rest, inflater);
    check_against_reference(&a.events.list, &reference);
    check_output(&a.output, role, deflate, &a.events.list, opts & 2 == 0);
}

/// Feeds `data` (first byte: options; rest: peer bytes) into a connection of `role` and checks
/// the invariants: never panics, buffers stay within the limits, one error at most over the
/// connection's life, the same events and output for two cuts of the input (the second with
/// deferred UTF-8 checks), delivered messages equal to the wire's, valid output with pongs
/// echoing pings.
pub fn run_connection(role: Role, data: &[u8]) {
    let Some((&opts, rest)) = data.split_first() else {
        return;
    };
    run_twice(
        role,
        opts,
        rest,
        &|| Connection::new(role, connection_config(opts)),
        false,
        None,
    );
}

/// Client and server permessage-deflate configurations from two input bytes: context takeover
/// each way, window bits each way (8..=15), level, threshold.
pub fn deflate_configs(a: u8, b: u8) -> (DeflateConfig, DeflateConfig) {
    let client = DeflateConfig::new()
        .server_no_context_takeover(a & 1 != 0)
        .client_no_context_takeover(a & 2 != 0)
        .server_max_window_bits(if a & 4 != 0 { 8 + (b & 7) } else { 15 })
        .client_max_window_bits(8 + ((b >> 3) & 7))
        .level((a >> 4) % 11)
        .threshold(if a & 8 != 0 { 0 } else { 16 });
    let server = DeflateConfig::new()
        .server_no_context_takeover(b & 0x40 != 0)
        .client_no_context_takeover(b & 0x80 != 0)
        .server_max_window_bits(8 + ((a >> 5) & 7))
        .client_max_window_bits(if b & 0x80 != 0 {
            15
        } else {
            8 + ((a >> 4) & 7)
        })
        .level(a % 11)
        .threshold(if a & 8 != 0 { 0 } else { 16 });
    (client, server)
}

/// Negotiates permessage-deflate as the handshake does (offer, server answer, client check):
/// the client's and the server's instances, and what they agreed (asserted equal on both).
pub fn negotiate_deflate(
    client: DeflateConfig,
    server: DeflateConfig,
) -> (PerMessageDeflate, PerMessageDeflate, Agreed) {
    let mut c = PerMessageDeflate::new(client);
    let mut s = PerMessageDeflate::new(server);
    let offer = c.offer();
    for (name, params) in parse_elements(&offer) {
        assert_eq!(name, PerMessageDeflate::NAME);
        if let Some(response) = s.accept_offer(&as_params(&params)) {
            let parsed = parse_elements(&response);
            assert_eq!(parsed.len(), 1);
            c.accept_response(&as_params(&parsed[0].1))
                .expect("the client accepts the server's answer to its own offer");
            let agreed = c.agreed().expect("client agreed");
            check_agreed(&c, &s);
            return (c, s, agreed);
        }
    }
    panic!("the server declined a valid offer: {offer}");
}

/// The two ends of a negotiation agree: the same context takeover both ways and the same
/// server window; each compressor stays within the window the other end expects. The one
/// allowed difference (tests/deflate.rs `full_offer_is_granted`): a server may take the
/// client's `client_max_window_bits` hint without echoing it, so it records a smaller client
/// window than the client's `agreed()`, which the client keeps to anyway.
pub fn check_agreed(c: &PerMessageDeflate, s: &PerMessageDeflate) {
    let (ca, sa) = (
        c.agreed().expect("client agreed"),
        s.agreed().expect("server agreed"),
    );
    assert_eq!(
        ca.server_no_context_takeover, sa.server_no_context_takeover,
        "{ca:?} {sa:?}"
    );
    assert_eq!(
        ca.client_no_context_takeover, sa.client_no_context_takeover,
        "{ca:?} {sa:?}"
    );
    assert_eq!(
        ca.server_max_window_bits, sa.server_max_window_bits,
        "{ca:?} {sa:?}"
    );
    assert!(
        sa.client_max_window_bits <= ca.client_max_window_bits,
        "{ca:?} {sa:?}"
    );
    assert!(
        c.compress_window_bits() <= sa.client_max_window_bits,
        "{ca:?} {sa:?}"
    );
    assert!(
        s.compress_window_bits() <= ca.server_max_window_bits,
        "{ca:?} {sa:?}"
    );
}

/// `connection_deflate`: like [`run_connection`], with permessage-deflate negotiated from the
/// input's second and third bytes; compressed messages are compared with the reference
/// inflater's output.
pub fn run_connection_deflate(data: &[u8]) {
    let [opts, a, b, rest @ ..] = data else {
        return;
    };
    let (opts, a, b) = (*opts, *a, *b);
    let role = if b & 0x20 != 0 {
        Role::Client
    } else {
        Role::Server
    };
    let (cc, sc) = deflate_configs(a, b);
    let (_, _, agreed) = negotiate_deflate(cc, sc);
    let make = || {
        let (c, s, _) = negotiate_deflate(cc, sc);
        let ext: Box<dyn Extension> = match role {
            Role::Client => Box::new(c),
            Role::Server => Box::new(s),
        };
        Connection::with_extensions(role, connection_config(opts), vec![ext])
    };
    // The peer's direction: the receiver inflates with a 32 KiB window whatever was agreed
    // (RFC 7692 §7.2.2 lets it), keeping the context unless the peer resets its own.
    let peer_takeover = match role {
        Role::Client => !agreed.server_no_context_takeover,
        Role::Server => !agreed.client_no_context_takeover,
    };
    let inflater = inflate_ref::RefInflater::new(15, peer_takeover, MAX_MESSAGE);
    run_twice(role, opts, rest, &make, true, Some(inflater));
}
