//! Unit tests that need crate-private access (configs without entropy, `queue_raw`).

use alloc::vec;
use alloc::vec::Vec;

use super::*;

fn no_entropy() -> Config {
    let mut config = Config::new();
    config.random = None;
    config
}

#[test]
fn client_without_entropy_refuses_sends() {
    let mut c = Connection::new(Role::Client, no_entropy());
    assert_eq!(c.send_text("x"), Err(SendError::NoEntropy));
    assert_eq!(c.send_ping(b""), Err(SendError::NoEntropy));
    assert_eq!(
        c.close(Instant::ZERO, CloseCode::NORMAL, ""),
        Err(SendError::NoEntropy)
    );
    assert_eq!(c.poll_transmit(), b"");
    // A server needs none.
    let mut s = Connection::new(Role::Server, no_entropy());
    assert_eq!(s.send_text("x"), Ok(()));
}

#[test]
fn queue_raw_goes_out_first() {
    let mut s = Connection::new(Role::Server, Config::new());
    s.queue_raw(b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
    s.send_text("hi").unwrap();
    let mut expected = b"HTTP/1.1 101 Switching Protocols\r\n\r\n".to_vec();
    expected.extend([0x81, 0x02, b'h', b'i']);
    assert_eq!(s.poll_transmit(), &expected[..]);
    s.advance_transmit(10);
    assert_eq!(s.buffered_amount(), expected.len() - 10);
}

#[test]
fn recv_buf_never_zero_fills_twice() {
    let mut s = Connection::new(Role::Server, Config::new());
    let n = s.recv_buf(100).len();
    assert!(n >= 100);
    let initialised = s.buf.data.len();
    for _ in 0..10 {
        let frame = [0x82, 0x80, 1, 2, 3, 4];
        let buf = s.recv_buf(6);
        buf[..6].copy_from_slice(&frame);
        s.commit_recv(Instant::ZERO, 6);
        assert!(matches!(
            s.poll_event(),
            Ok(Some(Event::Binary {
                data: b"",
                fin: true
            }))
        ));
        assert!(matches!(s.poll_event(), Ok(None)));
    }
    assert_eq!(
        s.buf.data.len(),
        initialised,
        "no regrowth, so nothing zero-filled again"
    );
}

#[test]
fn steady_state_does_not_reallocate() {
    let mut s = Connection::new(Role::Server, Config::new());
    let mut c = Connection::new(Role::Client, Config::new());
    let mut caps = Vec::new();
    let big = vec![7u8; 1 << 20];
    for round in 0..50 {
        c.send_binary(&[round as u8; 300]).unwrap();
        // Large messages too: buffers keep their size between them (no allocation, no
        // zero-fill per message) until the connection has been quiet for a while.
        c.send_binary(&big).unwrap();
        s.send_binary(&big).unwrap();
        let echo = s.poll_transmit().len();
        s.advance_transmit(echo);
        c.send_fragment(MessageKind::Text, b"ab", false, SendOptions::new())
            .unwrap();
        c.send_fragment(MessageKind::Text, b"cd", true, SendOptions::new())
            .unwrap();
        let out = c.poll_transmit().to_vec();
        c.advance_transmit(out.len());
        s.receive(Instant::ZERO, &out);
        while let Ok(Some(_)) = s.poll_event() {}
        if round > 2 {
            caps.push((
                s.buf.data.capacity(),
                s.buf.msg.capacity(),
                c.core.tx.out.capacity(),
            ));
        }
    }
    assert!(caps.windows(2).all(|w| w[0] == w[1]), "{caps:?}");
}

#[test]
fn owed_frames_go_out_over_the_cap_and_without_entropy() {
    // Owed frames go out even over the send cap; a client without entropy masks them with a
    // zero key rather than not answering.
    let mut c = Connection::new(Role::Client, no_entropy().max_send_queue(0));
    c.receive(Instant::ZERO, &[0x89, 0x01, b'p']);
    assert!(matches!(c.poll_event(), Ok(Some(Event::Ping(b"p")))));
    assert_eq!(c.poll_transmit(), &[0x8A, 0x81, 0, 0, 0, 0, b'p']);
}

#[test]
fn every_frame_gets_a_fresh_key() {
    use core::sync::atomic::{AtomicU8, Ordering};
    static NEXT: AtomicU8 = AtomicU8::new(0);
    fn counting(buf: &mut [u8]) {
        for b in buf {
            *b = NEXT.fetch_add(1, Ordering::Relaxed);
        }
    }
    let mut c = Connection::new(Role::Client, Config::new().random(counting));
    let mut keys = Vec::new();
    for _ in 0..20 {
        c.send_binary(b"").unwrap();
        let out = c.poll_transmit().to_vec();
        c.advance_transmit(out.len());
        assert_eq!(out.len(), 6);
        keys.push([out[2], out[3], out[4], out[5]]);
    }
    let expected: Vec<[u8; 4]> = (0..20u8)
        .map(|i| [4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3])
        .collect();
    assert_eq!(keys, expected, "consecutive, never repeated");
    assert!(
        c.core.key_pool[..c.core.key_pos].iter().all(|&b| b == 0),
        "used keys are wiped"
    );
}
