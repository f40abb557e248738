//! Connection-engine regressions from the Autobahn runs: the peer's Close after an error is
//! still processed, oversized Close frames, bounded memory while streaming and under steady
//! traffic, the close codes we may send, and the bound on unread input.

mod common;

use common::*;
use wsproto::{
    CloseCode, Config, Connection, Error, MessageKind, ProtocolError, Role, SendError, SendOptions,
    State,
};

#[test]
fn peer_close_after_whole_frame_utf8_error_is_processed() {
    // Autobahn 6.x: a whole text frame with invalid UTF-8, then the peer's answer to our 1007.
    for split in [false, true] {
        let mut s = server();
        let bad = cframe(true, 1, &[b'o', b'k', 0xED, 0xA0, 0x80]);
        let close = cframe(true, 8, &close_payload(1000, ""));
        if split {
            assert_eq!(
                feed(&mut s, &bad),
                vec![Ev::Err(Error::Protocol(ProtocolError::InvalidUtf8))]
            );
            assert_eq!(s.state(), State::Closing);
            assert_eq!(feed(&mut s, &close), vec![]);
        } else {
            let mut both = bad.clone();
            both.extend(&close);
            assert_eq!(
                feed(&mut s, &both),
                vec![Ev::Err(Error::Protocol(ProtocolError::InvalidUtf8))]
            );
        }
        assert_eq!(transmit(&mut s), server_close(CloseCode::INVALID_PAYLOAD));
        assert_eq!(s.state(), State::Closed);
        assert!(s.should_close_transport());
    }
}

#[test]
fn oversized_close_frame_ends_the_handshake() {
    // Autobahn 7.3.6: the peer's Close has a 126-byte payload; we answer 1002 and are done.
    let mut s = server();
    let mut payload = close_payload(1000, "");
    payload.resize(126, b'*');
    assert_eq!(
        feed(&mut s, &cframe(true, 8, &payload)),
        vec![Ev::Err(Error::Protocol(ProtocolError::ControlFrameTooLong))]
    );
    assert_eq!(transmit(&mut s), server_close(CloseCode::PROTOCOL_ERROR));
    assert_eq!(s.state(), State::Closed);
    assert!(s.should_close_transport());
}

#[test]
fn errors_in_every_path_keep_reading_for_the_close() {
    // Whatever raised the error (header, mid-frame, fragment, end of message), the peer's
    // Close that follows is seen and the server closes the transport.
    let close = cframe(true, 8, &close_payload(1000, ""));
    let cases: Vec<(Vec<u8>, Config)> = vec![
        (cframe(true, 1, &[0xFF]), Config::new()),
        (
            [cframe(false, 1, b"a"), cframe(true, 0, &[0xE2, 0x82])].concat(),
            Config::new(),
        ),
        (
            [cframe(false, 1, &[0xE2]), cframe(true, 0, &[0x82])].concat(),
            Config::new().assemble_messages(false),
        ),
        (
            cframe(true, 1, &[b'a', 0xFF, b'b']),
            Config::new().assemble_messages(false),
        ),
        (frame(true, 4, 2, b"abc", Some(KEY)), Config::new()),
        (cframe(true, 2, &[0; 50]), Config::new().max_frame_size(10)),
        (cframe(true, 0, b"x"), Config::new()),
    ];
    for (bad, config) in cases {
        let mut s = Connection::new(Role::Server, config);
        s.receive(T0, &bad);
        s.receive(T0, &close);
        let evs = events(&mut s);
        assert!(
            matches!(evs.last(), Some(Ev::Err(Error::Protocol(_)))),
            "{evs:?}"
        );
        assert_eq!(s.state(), State::Closed, "{bad:x?}");
        assert!(s.should_close_transport());
    }
}

#[test]
fn streaming_a_16_mib_frame_uses_bounded_memory() {
    let size = 16 << 20;
    let mut s = Connection::new(Role::Server, Config::new().assemble_messages(false));
    let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let bytes = cframe(true, 2, &payload);
    let mut received = 0;
    let mut max_capacity = 0;
    for chunk in bytes.chunks(64 * 1024) {
        s.receive(T0, chunk);
        while let Some(event) = s.poll_event().unwrap() {
            match event {
                wsproto::Event::Binary { data, fin } => {
                    assert!(
                        data.iter()
                            .enumerate()
                            .all(|(i, &b)| b == ((received + i) % 251) as u8)
                    );
                    received += data.len();
                    assert_eq!(fin, received == size);
                }
                other => panic!("{other:?}"),
            }
        }
        max_capacity = max_capacity.max(s.buffer_capacity());
    }
    assert_eq!(received, size);
    assert!(max_capacity <= 256 * 1024, "{max_capacity}");
}

#[test]
fn input_buffer_shrinks_back_with_a_partial_frame_in_it() {
    // A 1 MiB frame followed, in the same read, by the start of the next one: the buffer is
    // never empty, yet it gives back the large allocation once the connection is quiet.
    let mut s = server();
    let mut bytes = cframe(true, 2, &vec![7; 1 << 20]);
    let small = cframe(true, 1, b"small");
    bytes.extend(&small[..4]);
    s.receive(T0, &bytes);
    assert!(matches!(
        s.poll_event(),
        Ok(Some(wsproto::Event::Binary { fin: true, .. }))
    ));
    assert!(matches!(s.poll_event(), Ok(None)));
    assert!(s.buffer_capacity() > 1 << 20, "kept while messages flow");
    let quiet = s.poll_timeout().unwrap();
    s.handle_timeout(quiet);
    assert!(s.buffer_capacity() <= 2 * 1024, "{}", s.buffer_capacity());
    assert_eq!(feed(&mut s, &small[4..]), vec![Ev::text("small")]);
}

#[test]
fn close_codes_we_may_send() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999,
    ] {
        let mut s = server();
        s.close(T0, CloseCode::from(code), "r").unwrap();
        assert_eq!(transmit(&mut s), sframe(true, 8, &close_payload(code, "r")));
        assert_eq!(s.send_ping(b""), Err(SendError::Closed));
        assert_eq!(s.send_pong(b""), Err(SendError::Closed));
        assert_eq!(
            s.send_fragment(MessageKind::Binary, b"", true, SendOptions::new()),
            Err(SendError::Closed)
        );
    }
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        let mut s = server();
        let code = CloseCode::from(code);
        // (1005 with an empty reason means "Close without a status code": with a reason it
        // has no wire form.)
        assert_eq!(
            s.close(T0, code, "r"),
            Err(SendError::InvalidCloseCode(code))
        );
        assert_eq!(s.state(), State::Open);
    }
}

#[test]
fn unread_input_is_bounded() {
    // An application that never polls: the driver is told to stop reading at 64 KiB.
    let mut s = server();
    let frame = cframe(true, 2, &[0; 1000]);
    let mut fed = 0;
    while s.wants_read() {
        s.receive(T0, &frame);
        fed += frame.len();
        assert!(fed < 80 * 1024);
    }
    assert!(fed >= 64 * 1024);
    // Polling drains it and reading resumes.
    assert_eq!(events(&mut s).len(), fed / frame.len());
    assert!(s.wants_read());
    // A frame being lent whole may exceed it: reading continues until it is complete.
    let mut s = server();
    let big = cframe(true, 2, &vec![1; 200 * 1024]);
    s.receive(T0, &big[..100 * 1024]);
    assert_eq!(events(&mut s), vec![]);
    assert!(s.wants_read());
    s.receive(T0, &big[100 * 1024..]);
    assert_eq!(events(&mut s), vec![Ev::binary(&vec![1; 200 * 1024])]);
}

#[test]
fn deferred_checks_fail_fast_when_the_driver_would_wait() {
    // Autobahn 6.4.3: invalid UTF-8 in the first part of a text frame whose rest is late.
    // Eager (default): 1007 at once. Deferred: nothing until the driver is about to wait,
    // then the same 1007; valid text that keeps arriving is validated once, when lent.
    let bad = cframe(true, 1, &[b'a', b'b', 0xF4, 0x90, 0x80, 0x80, b'z', b'z']);
    let (head, tail) = bad.split_at(bad.len() - 2);
    let err = vec![Ev::Err(Error::Protocol(ProtocolError::InvalidUtf8))];

    let mut eager = server();
    assert_eq!(feed(&mut eager, head), err);

    let mut deferred = server();
    deferred.set_deferred_checks(true);
    assert_eq!(feed(&mut deferred, head), vec![]);
    assert!(deferred.check_deferred());
    assert_eq!(events(&mut deferred), err);
    assert!(transmit(&mut deferred).ends_with(&server_close(CloseCode::INVALID_PAYLOAD)));
    assert_eq!(feed(&mut deferred, tail), vec![]);

    // The same in a fragmented message: the first fragment ends inside a character that the
    // second makes invalid.
    let mut s = server();
    s.set_deferred_checks(true);
    let first = cframe(false, 1, &[b'x', 0xE2, 0x82]);
    assert_eq!(feed(&mut s, &first), vec![]);
    assert!(
        !s.check_deferred(),
        "a character cut short is not an error yet"
    );
    assert_eq!(feed(&mut s, &cframe(false, 0, &[0x28])), vec![]);
    assert!(s.check_deferred());
    assert_eq!(events(&mut s), err);

    // Valid text split anywhere gives the one whole message.
    let text = "héllo wörld ✓ 🎉".repeat(50);
    let bytes = cframe(true, 1, text.as_bytes());
    for cut in [3, 100, bytes.len() - 1] {
        let mut s = server();
        s.set_deferred_checks(true);
        assert_eq!(feed(&mut s, &bytes[..cut]), vec![]);
        assert!(!s.check_deferred());
        assert_eq!(feed(&mut s, &bytes[cut..]), vec![Ev::text(&text)]);
    }
}

#[test]
fn the_rest_of_a_partial_text_frame_that_failed_is_skipped() {
    // Invalid UTF-8 at the start of a text frame whose rest is late: 1007 at once, then the
    // rest of that frame is skipped (not read as headers) and the peer's Close is processed.
    // Unmasked (key f0 40 00 00), the payload starts D8 00: read as a header, that would be an
    // empty Close frame, ending the handshake early (found by the deferred/eager property
    // test).
    let mut bad = vec![0x81, 0x91, 0xf0, 0x40, 0x00, 0x00, 0x28, 0x40];
    bad.resize(6 + 17, 0);
    let close = cframe(true, 8, &close_payload(1000, ""));
    for deferred in [false, true] {
        let mut s = server();
        s.set_deferred_checks(deferred);
        let (head, tail) = bad.split_at(bad.len() - 1);
        let mut events = feed(&mut s, head);
        if s.check_deferred() {
            events.extend(common::events(&mut s));
        }
        assert_eq!(
            events,
            vec![Ev::Err(Error::Protocol(ProtocolError::InvalidUtf8))]
        );
        assert_eq!(s.state(), State::Closing, "deferred: {deferred}");
        let mut rest = tail.to_vec();
        rest.extend(&close);
        assert_eq!(feed(&mut s, &rest), vec![], "deferred: {deferred}");
        assert_eq!(s.state(), State::Closed, "deferred: {deferred}");
    }
}
