//! The connection engine's receive buffers: streaming delivery of partial frames
//! (`assemble_messages(false)`), the `recv_buf`/`commit_recv` path, and an idle connection
//! giving its memory back.

mod common;

use common::*;
use core::time::Duration;
use wsproto::{Config, Connection, Instant, MessageKind, Role, SendOptions};

#[test]
fn streaming_delivers_partial_frames() {
    let mut s = Connection::new(Role::Server, Config::new().assemble_messages(false));
    let bytes = cframe(true, 2, &[1, 2, 3, 4, 5]);
    assert_eq!(
        feed(&mut s, &bytes[..8]),
        vec![Ev::Binary(vec![1, 2], false)]
    );
    assert_eq!(
        feed(&mut s, &bytes[8..]),
        vec![Ev::Binary(vec![3, 4, 5], true)]
    );
    // Text cut on character boundaries, across frames too.
    let text = "a€b😀";
    let raw = text.as_bytes();
    let mut bytes = cframe(false, 1, &raw[..2]);
    bytes.extend(cframe(true, 0, &raw[2..]));
    let mut s = Connection::new(Role::Server, Config::new().assemble_messages(false));
    let mut got = Vec::new();
    for b in &bytes {
        got.extend(feed(&mut s, std::slice::from_ref(b)));
    }
    let mut all = String::new();
    for e in &got {
        match e {
            Ev::Text(t, _) => all.push_str(t),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(all, text);
    assert!(matches!(got.last(), Some(Ev::Text(_, true))));
    // Empty final frame.
    let mut s = Connection::new(Role::Server, Config::new().assemble_messages(false));
    let mut bytes = cframe(false, 1, b"ab");
    bytes.extend(cframe(true, 0, b""));
    assert_eq!(
        feed(&mut s, &bytes),
        vec![Ev::Text("ab".into(), false), Ev::Text(String::new(), true)]
    );
}

#[test]
fn recv_buf_path() {
    let mut s = server();
    let bytes = cframe(true, 1, b"Hello");
    let buf = s.recv_buf(bytes.len());
    assert!(buf.len() >= bytes.len());
    buf[..bytes.len()].copy_from_slice(&bytes);
    s.commit_recv(T0, bytes.len());
    assert_eq!(events(&mut s), vec![Ev::text("Hello")]);
}

#[test]
fn idle_connection_holds_little_memory() {
    let mut pair = common::pair::Pair::default_pair();
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| i as u8).collect();
    pair.client.send_binary(&big).unwrap();
    pair.server.send_binary(&big).unwrap();
    pair.client
        .send_fragment(
            MessageKind::Binary,
            &big[..1 << 19],
            false,
            SendOptions::new(),
        )
        .unwrap();
    pair.client
        .send_fragment(
            MessageKind::Binary,
            &big[1 << 19..],
            true,
            SendOptions::new(),
        )
        .unwrap();
    pair.drive();
    assert_eq!(
        pair.take_server_events(),
        vec![Ev::binary(&big), Ev::binary(&big)]
    );
    assert_eq!(pair.take_client_events(), vec![Ev::binary(&big)]);
    // A small message afterwards, then idle.
    pair.client.send_text("small").unwrap();
    pair.drive();
    assert_eq!(pair.take_server_events(), vec![Ev::text("small")]);
    // While messages flow the buffers keep their size (no allocation per message)...
    assert!(pair.server.buffer_capacity() > 1 << 20);
    assert!(pair.client.buffer_capacity() > 1 << 20);
    // ...and both ends arm the release timer, which fires after 5 s without messages.
    let quiet = pair.now + Duration::from_secs(5);
    assert_eq!(pair.server.poll_timeout(), Some(quiet));
    assert_eq!(pair.client.poll_timeout(), Some(quiet));
    pair.advance(Duration::from_millis(4999));
    assert!(
        pair.server.buffer_capacity() > 1 << 20,
        "not before the deadline"
    );
    pair.advance(Duration::from_millis(1));
    assert_eq!(pair.server.poll_timeout(), None, "nothing left to release");
    assert!(
        pair.server.buffer_capacity() < 1024,
        "server holds {}",
        pair.server.buffer_capacity()
    );
    assert!(
        pair.client.buffer_capacity() < 1024,
        "client holds {}",
        pair.client.buffer_capacity()
    );
}

#[test]
fn buffers_are_kept_without_a_release_period() {
    let config = || Config::new().release_buffers_after(None);
    let mut pair = common::pair::Pair::new(config().random(common::fixed_random), config());
    pair.client.send_binary(&vec![1; 1 << 20]).unwrap();
    pair.drive();
    assert_eq!(pair.server.poll_timeout(), None);
    pair.advance(Duration::from_secs(3600));
    assert!(pair.server.buffer_capacity() > 1 << 20);
    pair.server.release_buffers();
    assert_eq!(pair.server.buffer_capacity(), 0);
}

/// A large send queue the peer does not read is in use, not idle: no release timer is armed
/// for it (a deadline that releases nothing and stays due would have the driver call
/// `handle_timeout` again at once, forever: found by the `session` fuzz target). Once the
/// bytes are written it is released a period after the last message.
#[test]
fn memory_in_use_arms_no_timer() {
    let mut s = Connection::new(Role::Server, Config::new());
    let start = Instant::ZERO;
    s.handle_timeout(start);
    s.send_binary(&vec![7; 200 * 1024]).unwrap();
    assert_eq!(s.poll_timeout(), None, "the queue holds bytes to write");
    let later = start + Duration::from_secs(60);
    s.handle_timeout(later);
    assert_eq!(s.poll_timeout(), None);
    let n = s.poll_transmit().len();
    s.advance_transmit(n);
    assert!(s.poll_transmit().is_empty());
    // Written out: the empty queue is released 5 s after the message was queued, so at once.
    assert_eq!(s.poll_timeout(), Some(start + Duration::from_secs(5)));
    s.handle_timeout(later);
    assert_eq!(s.poll_timeout(), None);
    assert!(s.buffer_capacity() < 1024, "{}", s.buffer_capacity());
}
