//! The connection engine against the RFC 6455 §5.7 examples, byte-exact: single-frame and
//! fragmented text, masked and unmasked, ping/pong, 256-byte and 64 KiB binary lengths.

mod common;

use common::*;
use wsproto::{MessageKind, SendOptions};

#[test]
fn rfc_single_frame_unmasked_text() {
    let bytes = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let mut c = client();
    assert_eq!(feed(&mut c, &bytes), vec![Ev::text("Hello")]);
    let mut s = server();
    s.send_text("Hello").unwrap();
    assert_eq!(transmit(&mut s), bytes);
}

#[test]
fn rfc_single_frame_masked_text() {
    let bytes = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let mut s = server();
    assert_eq!(feed(&mut s, &bytes), vec![Ev::text("Hello")]);
    let mut c = client();
    c.send_text("Hello").unwrap();
    assert_eq!(transmit(&mut c), bytes);
}

#[test]
fn rfc_fragmented_unmasked_text() {
    let first = [0x01, 0x03, 0x48, 0x65, 0x6c];
    let last = [0x80, 0x02, 0x6c, 0x6f];
    let mut c = client();
    assert_eq!(feed(&mut c, &first), vec![]);
    assert_eq!(feed(&mut c, &last), vec![Ev::text("Hello")]);
    let mut s = server();
    s.send_fragment(MessageKind::Text, b"Hel", false, SendOptions::new())
        .unwrap();
    assert_eq!(transmit(&mut s), first);
    s.send_fragment(MessageKind::Text, b"lo", true, SendOptions::new())
        .unwrap();
    assert_eq!(transmit(&mut s), last);
}

#[test]
fn rfc_ping_and_masked_pong() {
    // Unmasked ping "Hello" to a client: it answers with the masked pong of §5.7.
    let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let mut c = client();
    assert_eq!(feed(&mut c, &ping), vec![Ev::Ping(b"Hello".to_vec())]);
    assert_eq!(transmit(&mut c), pong);
    let mut s = server();
    assert_eq!(feed(&mut s, &pong), vec![Ev::Pong(b"Hello".to_vec())]);
    assert_eq!(transmit(&mut s), b"");
    // The server answers a masked ping with an unmasked pong.
    let mut s = server();
    let mut masked_ping = pong;
    masked_ping[0] = 0x89;
    assert_eq!(
        feed(&mut s, &masked_ping),
        vec![Ev::Ping(b"Hello".to_vec())]
    );
    assert_eq!(transmit(&mut s), [0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    s.send_ping(b"Hello").unwrap();
    assert_eq!(transmit(&mut s), ping);
}

#[test]
fn rfc_256_and_64k_binary() {
    let data: Vec<u8> = (0..=255u8).collect();
    let mut s = server();
    s.send_binary(&data).unwrap();
    let out = transmit(&mut s);
    assert_eq!(&out[..4], &[0x82, 0x7E, 0x01, 0x00]);
    assert_eq!(&out[4..], &data[..]);
    let mut c = client();
    assert_eq!(feed(&mut c, &out), vec![Ev::binary(&data)]);

    let big: Vec<u8> = (0..65536u32).map(|i| (i * 7) as u8).collect();
    s.send_binary(&big).unwrap();
    let out = transmit(&mut s);
    assert_eq!(
        &out[..10],
        &[0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
    );
    assert_eq!(out.len(), 10 + 65536);
    assert_eq!(feed(&mut c, &out), vec![Ev::binary(&big)]);

    // And masked, client to server.
    let mut c = client();
    c.send_binary(&big).unwrap();
    let out = transmit(&mut c);
    assert_eq!(
        &out[..14],
        &[0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 0x37, 0xfa, 0x21, 0x3d]
    );
    let mut s = server();
    assert_eq!(feed(&mut s, &out), vec![Ev::binary(&big)]);
}
