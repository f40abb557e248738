//! The receive path's short cuts against its general path: a whole single-frame message
//! (`whole_message`), a run of continuation frames (`continuation`) and payload unmasked as it
//! is copied in (`push_payload`, `MsgBuf::extend`) must give exactly the events and output the
//! general path gives. Input that arrives whole takes the short cuts; the same input fed one
//! byte at a time (or cut at other points) takes the general path.

mod common;

use common::*;
use wsproto::{Config, Connection, Role};

/// Events and output bytes for `bytes` fed in pieces of the given sizes (cycled).
fn run(mut conn: Connection, bytes: &[u8], sizes: &[usize], deferred: bool) -> (Vec<Ev>, Vec<u8>) {
    conn.set_deferred_checks(deferred);
    let mut evs = Vec::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        i += 1;
        conn.receive(T0, &rest[..n]);
        rest = &rest[n..];
        evs.extend(events(&mut conn));
        if deferred {
            conn.check_deferred();
            evs.extend(events(&mut conn));
        }
    }
    conn.receive_eof(T0);
    evs.extend(events(&mut conn));
    (evs, transmit(&mut conn))
}

/// Whole, byte by byte, and at odd cuts: the same events and output, eager or deferred checks.
fn same_every_way(make: impl Fn() -> Connection, bytes: &[u8]) -> Vec<Ev> {
    let whole = run(make(), bytes, &[bytes.len().max(1)], false);
    for sizes in [&[1][..], &[2, 3], &[5, 7, 11], &[13, 1, 64], &[1000, 3]] {
        for deferred in [false, true] {
            let cut = run(make(), bytes, sizes, deferred);
            // (Not assert_eq!: the events can be long.)
            assert!(
                cut == whole,
                "cuts {sizes:?}, deferred {deferred}: {}",
                diff(&cut, &whole)
            );
        }
    }
    let deferred = run(make(), bytes, &[bytes.len().max(1)], true);
    assert!(deferred == whole, "deferred: {}", diff(&deferred, &whole));
    whole.0
}

fn short(e: &Ev) -> String {
    match e {
        Ev::Text(t, fin) => format!("Text({} B, {fin})", t.len()),
        Ev::Binary(b, fin) => format!("Binary({} B, {fin})", b.len()),
        other => format!("{other:?}"),
    }
}

fn diff(a: &(Vec<Ev>, Vec<u8>), b: &(Vec<Ev>, Vec<u8>)) -> String {
    let at = a.0.iter().zip(&b.0).position(|(x, y)| x != y);
    format!(
        "events {:?} vs {:?} (first difference at {at:?}); output {:?} vs {:?}",
        a.0.iter().map(short).collect::<Vec<_>>(),
        b.0.iter().map(short).collect::<Vec<_>>(),
        a.1,
        b.1
    )
}

/// The events of valid input: its messages, then the end of the stream (1006).
fn then_eof(mut evs: Vec<Ev>) -> Vec<Ev> {
    evs.push(Ev::Close(1006, String::new()));
    evs
}

/// Makes a fresh connection for each run.
type MakeConn = dyn Fn() -> Connection;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn text(len: usize) -> String {
    "aé€😀"
        .chars()
        .cycle()
        .scan(0, |n, c| {
            *n += c.len_utf8();
            (*n <= len).then_some(c)
        })
        .collect()
}

fn key(i: usize) -> [u8; 4] {
    let i = i as u8;
    [
        i.wrapping_mul(31) ^ 0x5a,
        i.wrapping_add(7),
        !i,
        i.wrapping_mul(3),
    ]
}

#[test]
fn whole_messages_at_the_length_encodings() {
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for (i, len) in [0, 1, 15, 16, 125, 126, 127, 1000, 65535, 65536]
        .into_iter()
        .enumerate()
    {
        let data = pattern(len);
        bytes.extend(frame(true, 0, 2, &data, Some(key(i))));
        expected.push(Ev::binary(&data));
        let t = text(len);
        bytes.extend(frame(true, 0, 1, t.as_bytes(), Some(key(i + 50))));
        expected.push(Ev::text(&t));
    }
    assert!(same_every_way(server, &bytes) == then_eof(expected));
}

#[test]
fn whole_message_rules_are_the_general_paths() {
    // A 16-bit length that fits 7 bits is 1002.
    let mut bad_len = vec![0x82, 0xFE, 0x00, 0x10];
    bad_len.extend(KEY);
    bad_len.extend([0; 16]);
    // The frame limit and the message limit, at and over.
    let limited = || Connection::new(Role::Server, Config::new().max_frame_size(16));
    let small_msg = || Connection::new(Role::Server, Config::new().max_message_size(16));
    let streaming = || Connection::new(Role::Server, Config::new().assemble_messages(false));
    let cases: Vec<(Box<MakeConn>, Vec<u8>)> = vec![
        (Box::new(server), bad_len),
        (Box::new(server), sframe(true, 2, b"unmasked")),
        (Box::new(client), cframe(true, 2, b"masked")),
        (Box::new(server), frame(true, 4, 2, b"rsv", Some(KEY))),
        (Box::new(server), cframe(true, 1, b"bad \xff utf-8")),
        (
            Box::new(limited),
            [cframe(true, 2, &[1; 16]), cframe(true, 2, &[2; 17])].concat(),
        ),
        (
            Box::new(small_msg),
            [cframe(true, 2, &[1; 16]), cframe(true, 2, &[2; 17])].concat(),
        ),
        (Box::new(client), sframe(true, 2, &pattern(300))),
    ];
    for (make, bytes) in cases {
        same_every_way(make, &bytes);
    }
    // Streaming (pieces lent as they arrive, so the events depend on the cuts): whole frames
    // come out whole.
    let bytes = [cframe(true, 2, &[1; 16]), cframe(true, 1, b"")].concat();
    let (evs, _) = run(streaming(), &bytes, &[bytes.len()], false);
    assert_eq!(evs, then_eof(vec![Ev::binary(&[1; 16]), Ev::text("")]));
}

/// A message in fragments of `piece` bytes (each masked with its own key, if `masked`).
fn fragmented(kind: u8, data: &[u8], piece: usize, masked: bool) -> Vec<u8> {
    let pieces: Vec<&[u8]> = data.chunks(piece).collect();
    let mut out = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        let op = if i == 0 { kind } else { 0 };
        let mask = masked.then(|| key(i));
        out.extend(frame(i + 1 == pieces.len(), 0, op, p, mask));
    }
    out
}

#[test]
fn fragment_runs_give_the_general_paths_events() {
    // Odd piece sizes put each fragment at another mask phase and cut characters apart.
    for piece in [1, 3, 7, 125, 126, 1000] {
        let data = pattern(3000);
        let bytes = fragmented(2, &data, piece, true);
        assert!(
            same_every_way(server, &bytes) == then_eof(vec![Ev::binary(&data)]),
            "{piece}"
        );
        let t = text(3000);
        let bytes = fragmented(1, t.as_bytes(), piece, true);
        assert!(
            same_every_way(server, &bytes) == then_eof(vec![Ev::text(&t)]),
            "{piece}"
        );
        // Unmasked, as a client receives them.
        let bytes = fragmented(2, &data, piece, false);
        assert!(
            same_every_way(client, &bytes) == then_eof(vec![Ev::binary(&data)]),
            "{piece}"
        );
    }
}

#[test]
fn fragment_runs_end_where_the_rules_do() {
    let data = pattern(400);
    let mut frags = fragmented(2, &data, 100, true);
    // A ping between fragments, then a second message. Fragments of 100 B take 6 + 100 bytes
    // each; the second of two is made not FIN.
    let mut with_ping = fragmented(2, &data[..200], 100, true);
    with_ping[106] &= 0x7F;
    with_ping.extend(cframe(true, 9, b"p"));
    with_ping.extend(frame(true, 0, 0, &data[200..], Some(key(9))));
    with_ping.extend(cframe(true, 2, b"next"));
    let evs = same_every_way(server, &with_ping);
    assert_eq!(evs[0], Ev::Ping(b"p".to_vec()));
    assert_eq!(evs[1], Ev::binary(&data));
    assert_eq!(evs[2], Ev::binary(b"next"));
    // Too many fragments, too large a message, a non-continuation, RSV on a continuation.
    let few = || Connection::new(Role::Server, Config::new().max_fragments(3));
    same_every_way(few, &frags);
    let small = || Connection::new(Role::Server, Config::new().max_message_size(250));
    same_every_way(small, &frags);
    let mut restart = fragmented(2, &data[..200], 100, true);
    restart.extend(cframe(true, 2, b"new message mid-way"));
    same_every_way(server, &restart);
    let mut rsv = fragmented(2, &data[..200], 100, true);
    rsv[106] &= 0x7F;
    rsv.extend(frame(true, 4, 0, b"rsv", Some(KEY)));
    same_every_way(server, &rsv);
    // Invalid UTF-8 in a middle fragment, then more fragments and a Close.
    let mut t = text(600).into_bytes();
    t[250] = 0xFF;
    frags = fragmented(1, &t, 100, true);
    frags.extend(cframe(true, 8, &1000u16.to_be_bytes()));
    same_every_way(server, &frags);
}

#[test]
fn payload_unmasked_as_it_arrives_across_reads() {
    // A frame larger than the reads: its payload is unmasked while it is copied in, from
    // every mask phase, whatever the cut; text is still checked as it arrives.
    for len in [200, 4096, 70_000] {
        let data = pattern(len);
        for k in 0..4 {
            let bytes = [
                frame(true, 0, 2, &data, Some(key(k))),
                cframe(true, 2, b"after"),
            ]
            .concat();
            let evs = same_every_way(server, &bytes);
            let expected = then_eof(vec![Ev::binary(&data), Ev::binary(b"after")]);
            assert!(evs == expected, "{len} {k}");
            let t = text(len);
            let mut bad = t.clone().into_bytes();
            bad[len / 2] = 0xFF;
            for payload in [t.as_bytes(), &bad[..]] {
                let bytes = frame(true, 0, 1, payload, Some(key(k)));
                same_every_way(server, &bytes);
            }
        }
    }
}

#[test]
fn large_frames_across_reads() {
    // A single frame over 16 KiB that arrives in reads smaller than itself (unmasked in place
    // and as later reads are copied in): the same events as the frame read whole, in either
    // role (masked or not), text or binary, with eager or deferred checks, wherever the reads
    // end (also mid-header, and with a second large frame starting partway through a read).
    // (The session's owned assembly: tests/session.rs, large_messages_split_anywhere.)
    let cuts: [&[usize]; 6] = [
        &[4096],
        &[16 * 1024, 5],
        &[65536],
        &[1000, 3],
        &[30_000, 7],
        &[1],
    ];
    for len in [16 * 1024 + 1, 70_000, 200_000] {
        for (role, make) in [("server", server as fn() -> Connection), ("client", client)] {
            let mask = |i| (role == "server").then(|| key(i));
            let data = pattern(len);
            let t = text(len);
            let mut bad = t.clone().into_bytes();
            bad[len * 3 / 4] = 0xFF;
            let valid = [
                frame(true, 0, 2, &data, mask(1)),
                frame(true, 0, 1, b"between", mask(2)),
                frame(true, 0, 1, t.as_bytes(), mask(3)),
                frame(true, 0, 2, &data[..len / 2], mask(4)),
            ]
            .concat();
            let invalid = [
                frame(true, 0, 2, &data, mask(5)),
                frame(true, 0, 1, &bad, mask(6)),
            ]
            .concat();
            for bytes in [valid, invalid] {
                let whole = run(make(), &bytes, &[bytes.len()], false);
                for sizes in cuts {
                    if sizes == [1] && len > 20_000 {
                        continue; // (byte by byte: the smallest length covers it)
                    }
                    for deferred in [false, true] {
                        let cut = run(make(), &bytes, sizes, deferred);
                        assert!(
                            cut == whole,
                            "{role} {len} cuts {sizes:?} deferred {deferred}: {}",
                            diff(&cut, &whole)
                        );
                    }
                }
            }
            let whole = run(
                make(),
                &[frame(true, 0, 2, &data, mask(7))].concat(),
                &[usize::MAX],
                false,
            );
            assert!(whole.0 == then_eof(vec![Ev::binary(&data)]), "{role} {len}");
        }
    }
}
