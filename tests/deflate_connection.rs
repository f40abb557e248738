//! End to end: client and server `Connection`s with negotiated permessage-deflate instances
//! (`Connection::with_extensions`) exchanging whole, fragmented and streamed messages; the wire
//! format (RSV1 on the first frame only); limits and errors through the core.

mod deflate_common;

use deflate_common::*;
use wsproto::deflate::{DeflateConfig, PerMessageDeflate};
use wsproto::{
    CloseCode, Config, Connection, Error, Event, ExtensionError, Instant, MessageKind,
    ProtocolError, Role, SendOptions,
};

/// An owned event.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Text(String, bool),
    Binary(Vec<u8>, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16),
    Err(u16),
}

struct Pair {
    client: Connection,
    server: Connection,
    /// Bytes that went client -> server and server -> client.
    c2s: Vec<u8>,
    s2c: Vec<u8>,
    /// Bytes per delivery (to cut frames at arbitrary points).
    mtu: usize,
}

fn negotiated(
    client_config: DeflateConfig,
    server_config: DeflateConfig,
) -> (PerMessageDeflate, PerMessageDeflate) {
    let mut client = PerMessageDeflate::new(client_config);
    let mut server = PerMessageDeflate::new(server_config);
    negotiate(&mut client, &mut server)
        .unwrap()
        .expect("accepted");
    (client, server)
}

impl Pair {
    fn new(
        client_config: Config,
        server_config: Config,
        dc: DeflateConfig,
        ds: DeflateConfig,
    ) -> Pair {
        let (c, s) = negotiated(dc, ds);
        Pair {
            client: Connection::with_extensions(Role::Client, client_config, vec![Box::new(c)]),
            server: Connection::with_extensions(Role::Server, server_config, vec![Box::new(s)]),
            c2s: Vec::new(),
            s2c: Vec::new(),
            mtu: usize::MAX,
        }
    }

    fn default_pair() -> Pair {
        let d = DeflateConfig::new();
        Pair::new(Config::new(), Config::new(), d, d)
    }

    /// Moves bytes both ways until nothing moves; returns (client events, server events).
    fn drive(&mut self) -> (Vec<Ev>, Vec<Ev>) {
        let now = Instant::ZERO;
        let (mut ce, mut se) = (Vec::new(), Vec::new());
        loop {
            let mut moved = false;
            let out = self.client.poll_transmit();
            if !out.is_empty() {
                let n = out.len().min(self.mtu);
                let bytes = out[..n].to_vec();
                self.client.advance_transmit(n);
                self.c2s.extend_from_slice(&bytes);
                self.server.receive(now, &bytes);
                moved = true;
            }
            let out = self.server.poll_transmit();
            if !out.is_empty() {
                let n = out.len().min(self.mtu);
                let bytes = out[..n].to_vec();
                self.server.advance_transmit(n);
                self.s2c.extend_from_slice(&bytes);
                self.client.receive(now, &bytes);
                moved = true;
            }
            moved |= drain(&mut self.client, &mut ce);
            moved |= drain(&mut self.server, &mut se);
            if !moved {
                return (ce, se);
            }
        }
    }
}

fn drain(conn: &mut Connection, events: &mut Vec<Ev>) -> bool {
    let mut any = false;
    loop {
        let ev = match conn.poll_event() {
            Ok(None) => return any,
            Ok(Some(Event::Text { data, fin })) => Ev::Text(data.to_owned(), fin),
            Ok(Some(Event::Binary { data, fin })) => Ev::Binary(data.to_vec(), fin),
            Ok(Some(Event::Ping(p))) => Ev::Ping(p.to_vec()),
            Ok(Some(Event::Pong(p))) => Ev::Pong(p.to_vec()),
            Ok(Some(Event::Close { code, .. })) => Ev::Close(code.as_u16()),
            Err(e) => {
                events.push(Ev::Err(e.close_code().as_u16()));
                return true;
            }
        };
        events.push(ev);
        any = true;
    }
}

/// A parsed frame: (fin, rsv, opcode, unmasked payload).
type Frame = (bool, u8, u8, Vec<u8>);

/// Parses frames (server -> client: unmasked; client -> server: masked) into
/// (fin, rsv, opcode, unmasked payload).
fn frames(mut wire: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    while wire.len() >= 2 {
        let fin = wire[0] & 0x80 != 0;
        let rsv = (wire[0] >> 4) & 7;
        let opcode = wire[0] & 0x0f;
        let masked = wire[1] & 0x80 != 0;
        let (len, mut at) = match wire[1] & 0x7f {
            126 => (u16::from_be_bytes([wire[2], wire[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(wire[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let key = if masked {
            let k = [wire[at], wire[at + 1], wire[at + 2], wire[at + 3]];
            at += 4;
            k
        } else {
            [0; 4]
        };
        let payload: Vec<u8> = wire[at..at + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        out.push((fin, rsv, opcode, payload));
        wire = &wire[at + len..];
    }
    assert!(wire.is_empty(), "trailing partial frame");
    out
}

/// A masked client frame (key 0: payload as is).
fn client_frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n < 65536 => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

#[test]
fn messages_both_ways_are_compressed() {
    // Level 6: its hash chains find the previous copy (level 1 keeps one candidate per hash).
    let d = DeflateConfig::new().level(6);
    let mut p = Pair::new(Config::new(), Config::new(), d, d);
    let big = String::from_utf8(json_like(50_000, 1)).unwrap();
    let bin = json_like(20_000, 2);
    p.client.send_text(&big).unwrap();
    p.client.send_text("small").unwrap();
    p.server.send_binary(&bin).unwrap();
    p.server.send_binary(&bin).unwrap();
    let (ce, se) = p.drive();
    assert_eq!(
        se,
        vec![Ev::Text(big.clone(), true), Ev::Text("small".into(), true)]
    );
    assert_eq!(
        ce,
        vec![Ev::Binary(bin.clone(), true), Ev::Binary(bin.clone(), true)]
    );
    // On the wire: RSV1 on the compressed ones, not on the one under the threshold.
    let c2s = frames(&p.c2s);
    assert_eq!(
        c2s.iter().map(|f| (f.0, f.1, f.2)).collect::<Vec<_>>(),
        vec![(true, 4, 1), (true, 0, 1)]
    );
    assert!(c2s[0].3.len() < big.len() / 3);
    assert_eq!(c2s[1].3, b"small");
    let s2c = frames(&p.s2c);
    assert_eq!(
        s2c.iter().map(|f| (f.0, f.1, f.2)).collect::<Vec<_>>(),
        vec![(true, 4, 2), (true, 4, 2)]
    );
    // Context takeover: the second copy costs far less than the first.
    assert!(
        s2c[1].3.len() < s2c[0].3.len() / 4,
        "{} vs {}",
        s2c[1].3.len(),
        s2c[0].3.len()
    );
}

#[test]
fn opt_out_per_message() {
    let mut p = Pair::default_pair();
    let data = json_like(10_000, 3);
    p.client
        .send_message(
            MessageKind::Binary,
            &data,
            SendOptions::new().compress(false),
        )
        .unwrap();
    p.client
        .send_message(MessageKind::Binary, &data, SendOptions::new())
        .unwrap();
    let (_, se) = p.drive();
    assert_eq!(
        se,
        vec![
            Ev::Binary(data.clone(), true),
            Ev::Binary(data.clone(), true)
        ]
    );
    let f = frames(&p.c2s);
    assert_eq!((f[0].1, f[0].3.len()), (0, data.len()));
    assert_eq!(f[1].1, 4);
}

#[test]
fn explicit_fragments_rsv1_on_first_frame_only() {
    for mtu in [usize::MAX, 1, 7] {
        let mut p = Pair::default_pair();
        p.mtu = mtu;
        let text = "€uro ünïcødé ✓ ".repeat(300);
        let bytes = text.as_bytes();
        // Split inside multi-byte characters.
        let cuts = [0, 1, 1000, 1001, 2500, bytes.len()];
        for w in cuts.windows(2) {
            let fin = w[1] == bytes.len();
            p.server
                .send_fragment(
                    MessageKind::Text,
                    &bytes[w[0]..w[1]],
                    fin,
                    SendOptions::new(),
                )
                .unwrap();
        }
        let (ce, _) = p.drive();
        assert_eq!(ce, vec![Ev::Text(text.clone(), true)], "mtu {mtu}");
        let f = frames(&p.s2c);
        assert_eq!(f.len(), 5);
        assert_eq!((f[0].0, f[0].1, f[0].2), (false, 4, 1));
        for fr in &f[1..4] {
            assert_eq!((fr.0, fr.1, fr.2), (false, 0, 0));
        }
        assert_eq!((f[4].0, f[4].1, f[4].2), (true, 0, 0));
    }
}

#[test]
fn configured_fragmentation_splits_the_compressed_payload() {
    let d = DeflateConfig::new();
    let mut p = Pair::new(Config::new(), Config::new().fragment_size(Some(100)), d, d);
    let data = json_like(30_000, 4);
    p.server.send_binary(&data).unwrap();
    let (ce, _) = p.drive();
    assert_eq!(ce, vec![Ev::Binary(data.clone(), true)]);
    let f = frames(&p.s2c);
    assert!(f.len() > 10);
    assert_eq!(f[0].1, 4);
    assert!(f[1..].iter().all(|fr| fr.1 == 0 && fr.2 == 0));
    assert!(f.iter().all(|fr| fr.3.len() <= 100));
    // Reassembled, the frames are one deflate message.
    let payload: Vec<u8> = f.iter().flat_map(|fr| fr.3.clone()).collect();
    let mut rx = PerMessageDeflate::default();
    assert_eq!(recv(&mut rx, 4, &payload, 1000, 1 << 20).unwrap(), data);
}

#[test]
fn streamed_delivery_inflates_as_frames_arrive() {
    let d = DeflateConfig::new();
    let mut p = Pair::new(Config::new().assemble_messages(false), Config::new(), d, d);
    let text = "streamed ✓ text ".repeat(2000);
    // Cut inside multi-byte characters: UTF-8 is checked incrementally on the inflated text.
    let pieces: Vec<&[u8]> = text.as_bytes().chunks(4999).collect();
    let mut received = String::new();
    for (i, piece) in pieces.iter().enumerate() {
        let fin = i + 1 == pieces.len();
        p.server
            .send_fragment(MessageKind::Text, piece, fin, SendOptions::new())
            .unwrap();
        let (ce, _) = p.drive();
        // Each fragment is inflated and delivered before the next one is sent (up to the
        // bytes of a character cut at its end).
        assert!(!ce.is_empty(), "fragment {i} delivered");
        for (j, e) in ce.iter().enumerate() {
            match e {
                Ev::Text(s, f) => {
                    received.push_str(s);
                    assert_eq!(*f, fin && j + 1 == ce.len());
                }
                other => panic!("{other:?}"),
            }
        }
        let sent: usize = pieces[..=i].iter().map(|p| p.len()).sum();
        assert!(
            received.len() + 3 >= sent,
            "fragment {i}: {} of {sent}",
            received.len()
        );
    }
    assert_eq!(received, text);
}

#[test]
fn every_parameter_combination_through_connections() {
    for snct in [false, true] {
        for cnct in [false, true] {
            for bits in [8u8, 11, 15] {
                let dc = DeflateConfig::new()
                    .server_no_context_takeover(snct)
                    .client_no_context_takeover(cnct)
                    .server_max_window_bits(bits)
                    .client_max_window_bits(bits)
                    .threshold(64);
                let mut p = Pair::new(
                    Config::new(),
                    Config::new(),
                    dc,
                    DeflateConfig::new().threshold(64),
                );
                p.mtu = 1000;
                for round in 0..3u32 {
                    let a = json_like(5000 + round as usize * 100, round);
                    let b = noise(3000, u64::from(round));
                    p.client.send_binary(&a).unwrap();
                    p.server.send_binary(&b).unwrap();
                    p.server.send_binary(&a).unwrap();
                    let (ce, se) = p.drive();
                    assert_eq!(se, vec![Ev::Binary(a.clone(), true)]);
                    assert_eq!(
                        ce,
                        vec![Ev::Binary(b.clone(), true), Ev::Binary(a.clone(), true)]
                    );
                }
            }
        }
    }
}

fn server_receiving(config: Config, frames: &[Vec<u8>]) -> (Vec<Ev>, Vec<Frame>) {
    let (_, s) = negotiated(DeflateConfig::new(), DeflateConfig::new());
    let mut server = Connection::with_extensions(Role::Server, config, vec![Box::new(s)]);
    for f in frames {
        server.receive(Instant::ZERO, f);
    }
    let mut events = Vec::new();
    drain(&mut server, &mut events);
    let sent = frames_of(server.poll_transmit());
    (events, sent)
}

fn frames_of(wire: &[u8]) -> Vec<Frame> {
    frames(wire)
}

#[test]
fn deflate_bomb_through_the_connection_is_1009() {
    // ~1 MiB of compressed zeros inflating to 1 GiB; the limit is 16 MiB (the default).
    let mut tx = PerMessageDeflate::new(DeflateConfig::new().level(9));
    let zeros = vec![0u8; 1 << 20];
    let (_, first) = send(&mut tx, &zeros, true);
    let (_, steady) = send(&mut tx, &zeros, true);
    let mut bomb = first;
    for _ in 1..1024 {
        bomb.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
        bomb.extend_from_slice(&steady);
    }
    let wire: Vec<Vec<u8>> = bomb
        .chunks(256 << 10)
        .enumerate()
        .map(|(i, c)| {
            let last = (i + 1) * (256 << 10) >= bomb.len();
            client_frame(
                last,
                if i == 0 { 4 } else { 0 },
                if i == 0 { 2 } else { 0 },
                c,
            )
        })
        .collect();
    let (events, sent) = server_receiving(Config::new(), &wire);
    assert_eq!(events, vec![Ev::Err(1009)]);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].2, &sent[0].3[..2]), (8, &[0x03, 0xf1][..]));
}

#[test]
fn corrupt_data_through_the_connection_is_1007() {
    let (events, sent) = server_receiving(
        Config::new(),
        &[client_frame(true, 4, 2, &[0xff, 0xff, 0xff, 0xff])],
    );
    assert_eq!(events, vec![Ev::Err(1007)]);
    assert_eq!(&sent[0].3[..2], &[0x03, 0xef]);
}

#[test]
fn rsv1_misuse_is_1002() {
    let z = {
        let mut tx = PerMessageDeflate::new(DeflateConfig::new().threshold(0));
        send(&mut tx, b"hello hello hello", true).1
    };
    // RSV1 on a continuation frame.
    let (events, _) = server_receiving(
        Config::new(),
        &[
            client_frame(false, 4, 1, &z[..2]),
            client_frame(true, 4, 0, &z[2..]),
        ],
    );
    assert_eq!(events, vec![Ev::Err(1002)]);
    // RSV1 on a control frame.
    let (events, _) = server_receiving(Config::new(), &[client_frame(true, 4, 9, b"")]);
    assert_eq!(events, vec![Ev::Err(1002)]);
    // RSV1 without deflate negotiated.
    let mut server = Connection::new(Role::Server, Config::new());
    server.receive(Instant::ZERO, &client_frame(true, 4, 1, &z));
    assert!(matches!(
        server.poll_event(),
        Err(Error::Protocol(ProtocolError::ReservedBits))
    ));
    // A correct one still works.
    let (events, _) = server_receiving(
        Config::new(),
        &[
            client_frame(false, 4, 1, &z[..3]),
            client_frame(true, 0, 0, &z[3..]),
        ],
    );
    assert_eq!(events, vec![Ev::Text("hello hello hello".into(), true)]);
}

#[test]
fn decoded_size_counts_against_the_message_limit() {
    let mut tx = PerMessageDeflate::new(DeflateConfig::new().threshold(0));
    let msg = vec![b'a'; 10_000];
    let (_, z) = send(&mut tx, &msg, true);
    // 64 bytes with miniz_oxide, 100 with zlib-rs (its level 1 uses fixed Huffman codes).
    assert!(z.len() <= 100, "{}", z.len());
    let (events, _) = server_receiving(
        Config::new().max_message_size(10_000),
        &[client_frame(true, 4, 2, &z)],
    );
    assert_eq!(events, vec![Ev::Binary(msg.clone(), true)]);
    let mut tx = PerMessageDeflate::new(DeflateConfig::new().threshold(0));
    let (_, z) = send(&mut tx, &msg, true);
    let (events, _) = server_receiving(
        Config::new().max_message_size(9_999),
        &[client_frame(true, 4, 2, &z)],
    );
    assert_eq!(events, vec![Ev::Err(1009)]);
    let _ = (CloseCode::MESSAGE_TOO_BIG, ExtensionError::MessageTooLarge);
}

#[test]
fn extension_is_visible_on_the_connection() {
    let p = Pair::default_pair();
    let exts = p.client.extensions();
    assert_eq!(exts.len(), 1);
    assert_eq!(exts[0].name(), "permessage-deflate");
}

#[test]
fn the_rest_of_a_corrupt_compressed_frame_is_skipped_and_the_close_after_it_is_read() {
    // The error comes from the first bytes of a 300-byte frame that arrives in pieces: the
    // rest of it is skipped, and the peer's Close after it ends the closing handshake.
    let mut corrupt = vec![0xffu8; 300];
    corrupt[299] = 0;
    let mut wire = client_frame(true, 4, 2, &corrupt);
    wire.extend(client_frame(true, 8, 8, &[0x03, 0xef]));
    let (_, s) = negotiated(DeflateConfig::new(), DeflateConfig::new());
    let mut server = Connection::with_extensions(Role::Server, Config::new(), vec![Box::new(s)]);
    let mut events = Vec::new();
    for piece in wire.chunks(7) {
        server.receive(Instant::ZERO, piece);
        drain(&mut server, &mut events);
    }
    assert_eq!(events, vec![Ev::Err(1007)]);
    assert_eq!(server.state(), wsproto::State::Closed);
    let sent = frames_of(server.poll_transmit());
    assert_eq!(sent.len(), 1);
    assert_eq!(&sent[0].3[..2], &[0x03, 0xef]);
}
