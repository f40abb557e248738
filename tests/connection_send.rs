//! The connection engine's sending side: send errors, outgoing fragmentation, backpressure,
//! the bound on owed pongs, and auto-pong off.

mod common;

use common::*;
use wsproto::{Config, Connection, MessageKind, Role, SendError, SendOptions};

#[test]
fn send_errors() {
    let mut c = Connection::new(Role::Client, Config::new().random(fixed_random));
    assert_eq!(
        c.send_message(MessageKind::Text, &[0xFF], SendOptions::new()),
        Err(SendError::InvalidUtf8)
    );
    c.send_fragment(MessageKind::Text, b"a", false, SendOptions::new())
        .unwrap();
    assert_eq!(c.send_text("x"), Err(SendError::MessageInProgress));
    assert_eq!(
        c.send_fragment(MessageKind::Binary, b"b", true, SendOptions::new()),
        Err(SendError::NoMessageInProgress)
    );
    // A character split across fragments is fine; an incomplete one at the end is not.
    c.send_fragment(MessageKind::Text, &[0xE2, 0x82], false, SendOptions::new())
        .unwrap();
    assert_eq!(
        c.send_fragment(MessageKind::Text, &[0x28], false, SendOptions::new()),
        Err(SendError::InvalidUtf8)
    );
    c.send_fragment(MessageKind::Text, &[0xAC], true, SendOptions::new())
        .unwrap();
    let out = transmit(&mut c);
    let mut s = server();
    assert_eq!(feed(&mut s, &out), vec![Ev::text("a€")]);
}

#[test]
fn outgoing_fragmentation() {
    let mut s = Connection::new(Role::Server, Config::new().fragment_size(Some(2)));
    s.send_text("Hello").unwrap();
    let mut expected = sframe(false, 1, b"He");
    expected.extend(sframe(false, 0, b"ll"));
    expected.extend(sframe(true, 0, b"o"));
    assert_eq!(transmit(&mut s), expected);
    s.send_binary(b"").unwrap();
    assert_eq!(transmit(&mut s), sframe(true, 2, b""));
}

#[test]
fn backpressure() {
    let mut s = Connection::new(Role::Server, Config::new().max_send_queue(10));
    s.send_binary(&[0; 20]).unwrap();
    assert_eq!(s.buffered_amount(), 22);
    assert_eq!(s.send_binary(b"x"), Err(SendError::Full));
    assert_eq!(s.send_ping(b"x"), Err(SendError::Full));
    // Owed frames still go out.
    assert_eq!(
        feed(&mut s, &cframe(true, 9, b"p")),
        vec![Ev::Ping(b"p".to_vec())]
    );
    assert_eq!(s.buffered_amount(), 25);
    s.advance_transmit(20);
    assert_eq!(s.send_binary(b"x"), Ok(()));
    assert_eq!(s.buffered_amount(), 8);
}

#[test]
fn pending_pongs_are_bounded() {
    let mut s = Connection::new(Role::Server, Config::new().max_pending_pongs(2));
    let mut pings = Vec::new();
    for i in 0..10u8 {
        pings.extend(cframe(true, 9, &[i]));
    }
    s.receive(T0, &pings);
    // Three pings are answered, then processing stops until pongs are written.
    assert_eq!(
        events(&mut s),
        vec![Ev::Ping(vec![0]), Ev::Ping(vec![1]), Ev::Ping(vec![2])]
    );
    assert!(!s.wants_read());
    assert_eq!(s.buffered_amount(), 9);
    assert_eq!(
        events(&mut s),
        vec![],
        "no progress while too many pongs are owed"
    );
    s.advance_transmit(2);
    assert!(!s.wants_read(), "a partly written pong is still owed");
    s.advance_transmit(1);
    assert!(s.wants_read());
    assert_eq!(events(&mut s), vec![Ev::Ping(vec![3])]);
    assert!(!s.wants_read());
    let mut seen = 4;
    while seen < 10 {
        s.advance_transmit(s.buffered_amount());
        let evs = events(&mut s);
        assert_eq!(evs.len(), 3.min(10 - seen));
        seen += evs.len();
    }
    s.advance_transmit(s.buffered_amount());
    assert!(s.wants_read());
}

#[test]
fn auto_pong_off() {
    let mut s = Connection::new(Role::Server, Config::new().auto_pong(false));
    assert_eq!(
        feed(&mut s, &cframe(true, 9, b"p")),
        vec![Ev::Ping(b"p".to_vec())]
    );
    assert_eq!(transmit(&mut s), b"");
    s.send_pong(b"p").unwrap();
    assert_eq!(transmit(&mut s), sframe(true, 0xA, b"p"));
}
