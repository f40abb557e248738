//! Property tests: masking equals the naive loop; encode → decode round-trips arbitrary messages
//! and fragmentations; any split of the input stream yields the same events.

mod common;

use common::*;
use proptest::prelude::*;
use wsproto::frame::{apply_mask, apply_mask_naive};
use wsproto::{Config, Connection, Instant, MessageKind, Role, SendOptions};

/// One thing a peer sends.
#[derive(Clone, Debug)]
enum Item {
    /// A data message, split into frames at these (relative) sizes.
    Message {
        text: bool,
        data: Vec<u8>,
        splits: Vec<usize>,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

/// Read sizes, cycled: mostly small, some large enough to carry whole frames after the one in
/// progress (the paths that unmask while `receive` copies: `push_payload`, `push_fragments`,
/// `push_next`).
fn cuts() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(prop_oneof![3 => 1usize..64, 1 => 64usize..1200], 1..8)
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => (any::<String>(), proptest::collection::vec(0usize..40, 0..5))
            .prop_map(|(s, splits)| Item::Message { text: true, data: s.into_bytes(), splits }),
        3 => (proptest::collection::vec(any::<u8>(), 0..300), proptest::collection::vec(0usize..100, 0..5))
            .prop_map(|(data, splits)| Item::Message { text: false, data, splits }),
        1 => proptest::collection::vec(any::<u8>(), 0..126).prop_map(Item::Ping),
        1 => proptest::collection::vec(any::<u8>(), 0..126).prop_map(Item::Pong),
    ]
}

/// Encodes items as a client would (masked), with control frames interleaved between
/// fragments of the following message. Returns the bytes and the expected (whole) events.
fn encode(items: &[Item], key_seed: u8) -> (Vec<u8>, Vec<Ev>) {
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    let mut key = [key_seed, key_seed.wrapping_mul(3), 0x5A, key_seed ^ 0xA5];
    let mut next_key = || {
        key = key.map(|k| k.wrapping_mul(31).wrapping_add(7));
        Some(key)
    };
    for item in items {
        match item {
            Item::Message { text, data, splits } => {
                let mut pieces = Vec::new();
                let mut rest = &data[..];
                for &s in splits {
                    let (a, b) = rest.split_at(s.min(rest.len()));
                    pieces.push(a);
                    rest = b;
                }
                pieces.push(rest);
                let n = pieces.len();
                for (i, p) in pieces.iter().enumerate() {
                    let op = if i > 0 {
                        0
                    } else if *text {
                        1
                    } else {
                        2
                    };
                    bytes.extend(frame(i + 1 == n, 0, op, p, next_key()));
                }
                expected.push(if *text {
                    Ev::Text(String::from_utf8(data.clone()).unwrap(), true)
                } else {
                    Ev::Binary(data.clone(), true)
                });
            }
            Item::Ping(p) => {
                bytes.extend(frame(true, 0, 9, p, next_key()));
                expected.push(Ev::Ping(p.clone()));
            }
            Item::Pong(p) => {
                bytes.extend(frame(true, 0, 0xA, p, next_key()));
                expected.push(Ev::Pong(p.clone()));
            }
        }
    }
    (bytes, expected)
}

/// Feeds `bytes` in chunks of the given sizes (cycled), draining events (and transmit, so
/// pongs never pile up) after each, then running the deferred checks as a driver does before
/// it waits for more (a no-op unless the connection defers them).
fn feed_chunks(conn: &mut Connection, bytes: &[u8], sizes: &[usize]) -> Vec<Ev> {
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(rest.len())
            .clamp(1, rest.len());
        i += 1;
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        if i % 2 == 0 {
            conn.receive(Instant::ZERO, chunk);
        } else {
            let buf = conn.recv_buf(chunk.len());
            buf[..chunk.len()].copy_from_slice(chunk);
            conn.commit_recv(Instant::ZERO, chunk.len());
        }
        out.extend(events(conn));
        if conn.check_deferred() {
            out.extend(events(conn));
        }
        transmit(conn);
    }
    out.extend(events(conn));
    out
}

/// Merges streamed chunks into whole messages (fin on the last), so that event lists from
/// different splits compare equal.
fn merge(events: Vec<Ev>) -> Vec<Ev> {
    let mut out: Vec<Ev> = Vec::new();
    for e in events {
        match (out.last_mut(), e) {
            (Some(Ev::Text(acc, fin @ false)), Ev::Text(more, f)) => {
                acc.push_str(&more);
                *fin = f;
            }
            (Some(Ev::Binary(acc, fin @ false)), Ev::Binary(more, f)) => {
                acc.extend(more);
                *fin = f;
            }
            (_, e) => out.push(e),
        }
    }
    out
}

fn server_with(assemble: bool, deferred: bool) -> Connection {
    let mut conn = Connection::new(
        Role::Server,
        Config::new()
            .assemble_messages(assemble)
            .max_pending_pongs(usize::MAX),
    );
    conn.set_deferred_checks(deferred);
    conn
}

proptest! {

    #[test]
    fn mask_equals_naive(data in proptest::collection::vec(any::<u8>(), 0..200), key: [u8; 4], offset in 0usize..16) {
        let mut a = data.clone();
        let mut b = data;
        apply_mask(&mut a, key, offset);
        apply_mask_naive(&mut b, key, offset);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn any_split_yields_the_same_events(
        items in proptest::collection::vec(item(), 0..12),
        sizes in cuts(),
        seed: u8,
        assemble: bool,
        deferred: bool,
    ) {
        let (bytes, expected) = encode(&items, seed);
        let mut whole = server_with(assemble, deferred);
        let all_at_once = merge(feed_chunks(&mut whole, &bytes, &[bytes.len().max(1)]));
        prop_assert_eq!(&all_at_once, &expected);
        let mut split = server_with(assemble, deferred);
        prop_assert_eq!(merge(feed_chunks(&mut split, &bytes, &sizes)), expected.clone());
        let mut bytewise = server_with(assemble, deferred);
        prop_assert_eq!(merge(feed_chunks(&mut bytewise, &bytes, &[1])), expected);
    }

    #[test]
    fn any_split_of_garbage_yields_the_same_events(
        prefix in proptest::collection::vec(item(), 0..4),
        garbage in proptest::collection::vec(any::<u8>(), 0..200),
        sizes in cuts(),
        client_role: bool,
        assemble: bool,
        deferred: bool,
    ) {
        let (mut bytes, _) = encode(&prefix, 1);
        bytes.extend(garbage);
        let make = || {
            let role = if client_role { Role::Client } else { Role::Server };
            let config = Config::new().assemble_messages(assemble).max_pending_pongs(usize::MAX)
                .max_frame_size(1000).max_message_size(2000).random(fixed_random);
            let mut conn = Connection::new(role, config);
            conn.set_deferred_checks(deferred);
            conn
        };
        let mut whole = make();
        let a = merge(feed_chunks(&mut whole, &bytes, &[bytes.len().max(1)]));
        let mut split = make();
        let b = merge(feed_chunks(&mut split, &bytes, &sizes));
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(whole.state(), split.state());
        prop_assert_eq!(transmit(&mut whole), transmit(&mut split));
    }

    #[test]
    fn round_trip_through_the_encoder(
        messages in proptest::collection::vec((any::<bool>(), any::<String>(), proptest::collection::vec(any::<u8>(), 0..500)), 0..8),
        fragment_size in proptest::option::of(1usize..64),
        explicit in proptest::collection::vec(0usize..50, 0..4),
        client_sends: bool,
    ) {
        let sender_config = Config::new().fragment_size(fragment_size).random(fixed_random);
        let (mut tx, mut rx) = if client_sends {
            (Connection::new(Role::Client, sender_config), Connection::new(Role::Server, Config::new()))
        } else {
            (Connection::new(Role::Server, sender_config), Connection::new(Role::Client, Config::new().random(fixed_random)))
        };
        let mut expected = Vec::new();
        for (i, (text, s, b)) in messages.iter().enumerate() {
            let (kind, data) = if *text { (MessageKind::Text, s.as_bytes()) } else { (MessageKind::Binary, &b[..]) };
            if i % 2 == 0 {
                tx.send_message(kind, data, SendOptions::new()).unwrap();
            } else {
                // Explicit fragments at arbitrary byte offsets (text may split characters).
                let mut rest = data;
                for &n in &explicit {
                    let (a, r) = rest.split_at(n.min(rest.len()));
                    tx.send_fragment(kind, a, false, SendOptions::new()).unwrap();
                    rest = r;
                }
                tx.send_fragment(kind, rest, true, SendOptions::new()).unwrap();
            }
            expected.push(if *text { Ev::text(s) } else { Ev::binary(b) });
        }
        let bytes = transmit(&mut tx);
        prop_assert_eq!(feed_chunks(&mut rx, &bytes, &[7, 1, 300]), expected);
    }
}

proptest! {
    /// Deferring the UTF-8 checks (as the non-blocking adapters do) changes nothing a peer
    /// can see: the same events and output as eager checks, for any input and any cuts.
    #[test]
    fn deferred_checks_give_the_same_events_as_eager_ones(
        prefix in proptest::collection::vec(item(), 0..6),
        garbage in proptest::collection::vec(any::<u8>(), 0..200),
        sizes in cuts(),
        assemble: bool,
    ) {
        let (mut bytes, _) = encode(&prefix, 3);
        bytes.extend(garbage);
        let make = |deferred: bool| {
            let config = Config::new().assemble_messages(assemble).max_pending_pongs(usize::MAX)
                .max_frame_size(1000).max_message_size(2000);
            let mut conn = Connection::new(Role::Server, config);
            conn.set_deferred_checks(deferred);
            conn
        };
        let mut eager = make(false);
        let a = merge(feed_chunks(&mut eager, &bytes, &[bytes.len().max(1)]));
        let mut deferred = make(true);
        let b = merge(feed_chunks(&mut deferred, &bytes, &sizes));
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(eager.state(), deferred.state());
        prop_assert_eq!(transmit(&mut eager), transmit(&mut deferred));
    }
}
