//! The connection engine against RFC 6455: exact bytes, events and close codes.

mod common;

use common::*;
use wsproto::{
    CloseCode, Config, Connection, Error, Instant, MessageKind, ProtocolError, Role, SendError,
    SendOptions, State,
};

const T0: Instant = Instant::ZERO;

fn feed(conn: &mut Connection, bytes: &[u8]) -> Vec<Ev> {
    conn.receive(T0, bytes);
    events(conn)
}

// ---- RFC 6455 §5.7 examples, byte-exact ----

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

// ---- protocol rules: each fails with its close code ----

/// Feeds `bytes` to a server and expects exactly `expected_events` then the error, with our
/// Close carrying `code` as the only bytes queued after them.
fn expect_server_failure(bytes: &[u8], before: Vec<Ev>, err: ProtocolError, code: CloseCode) {
    let mut s = server();
    transmit(&mut s);
    let mut expected = before;
    expected.push(Ev::Err(Error::Protocol(err)));
    assert_eq!(feed(&mut s, bytes), expected);
    let out = transmit(&mut s);
    assert!(out.ends_with(&server_close(code)), "{out:x?}");
    assert_ne!(s.state(), State::Open);
    assert_eq!(events(&mut s), vec![], "error reported once");
}

#[test]
fn unmasked_frame_to_server_is_1002() {
    expect_server_failure(
        &sframe(true, 1, b"hi"),
        vec![],
        ProtocolError::UnmaskedFrame,
        CloseCode::PROTOCOL_ERROR,
    );
    let mut s = server();
    feed(&mut s, &sframe(true, 1, b"hi"));
    assert_eq!(s.state(), State::Closing, "waits for the peer's Close");
}

#[test]
fn masked_frame_to_client_is_1002() {
    let mut c = client();
    assert_eq!(
        feed(&mut c, &cframe(true, 1, b"hi")),
        vec![Ev::Err(Error::Protocol(ProtocolError::MaskedFrame))]
    );
    let out = transmit(&mut c);
    assert_eq!(out, cframe(true, 8, &1002u16.to_be_bytes()));
}

#[test]
fn reserved_bits_are_1002() {
    for rsv in 1..8 {
        let bytes = frame(true, rsv, 1, b"x", Some(KEY));
        expect_server_failure(
            &bytes,
            vec![],
            ProtocolError::ReservedBits,
            CloseCode::PROTOCOL_ERROR,
        );
    }
}

#[test]
fn reserved_opcodes_are_1002() {
    for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        expect_server_failure(
            &cframe(true, op, b""),
            vec![],
            ProtocolError::UnknownOpcode(op),
            CloseCode::PROTOCOL_ERROR,
        );
    }
}

#[test]
fn control_frame_rules_are_1002() {
    expect_server_failure(
        &cframe(true, 9, &[0; 126]),
        vec![],
        ProtocolError::ControlFrameTooLong,
        CloseCode::PROTOCOL_ERROR,
    );
    expect_server_failure(
        &cframe(false, 9, b""),
        vec![],
        ProtocolError::FragmentedControlFrame,
        CloseCode::PROTOCOL_ERROR,
    );
    expect_server_failure(
        &cframe(true, 8, &[0; 126]),
        vec![],
        ProtocolError::ControlFrameTooLong,
        CloseCode::PROTOCOL_ERROR,
    );
    // 125 bytes is fine.
    let mut s = server();
    assert_eq!(
        feed(&mut s, &cframe(true, 9, &[7; 125])),
        vec![Ev::Ping(vec![7; 125])]
    );
}

#[test]
fn control_frames_between_fragments() {
    let mut s = server();
    let mut bytes = cframe(false, 1, b"Hel");
    bytes.extend(cframe(true, 9, b"p"));
    bytes.extend(cframe(true, 0xA, b"q"));
    bytes.extend(cframe(true, 0, b"lo"));
    assert_eq!(
        feed(&mut s, &bytes),
        vec![
            Ev::Ping(b"p".to_vec()),
            Ev::Pong(b"q".to_vec()),
            Ev::text("Hello")
        ]
    );
    assert_eq!(transmit(&mut s), sframe(true, 0xA, b"p"));
}

#[test]
fn continuation_rules_are_1002() {
    expect_server_failure(
        &cframe(true, 0, b"x"),
        vec![],
        ProtocolError::UnexpectedContinuation,
        CloseCode::PROTOCOL_ERROR,
    );
    let mut bytes = cframe(false, 1, b"a");
    bytes.extend(cframe(true, 2, b"b"));
    expect_server_failure(
        &bytes,
        vec![],
        ProtocolError::ExpectedContinuation,
        CloseCode::PROTOCOL_ERROR,
    );
    // RSV on a continuation frame.
    let mut bytes = cframe(false, 2, b"a");
    bytes.extend(frame(true, 4, 0, b"b", Some(KEY)));
    expect_server_failure(
        &bytes,
        vec![],
        ProtocolError::ReservedBits,
        CloseCode::PROTOCOL_ERROR,
    );
}

#[test]
fn invalid_lengths_are_1002() {
    let bytes = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4];
    expect_server_failure(
        &bytes,
        vec![],
        ProtocolError::InvalidLength,
        CloseCode::PROTOCOL_ERROR,
    );
    let bytes = [0x82, 0xFE, 0x00, 0x05, 1, 2, 3, 4];
    expect_server_failure(
        &bytes,
        vec![],
        ProtocolError::InvalidLength,
        CloseCode::PROTOCOL_ERROR,
    );
}

#[test]
fn size_limits_are_1009_from_the_header() {
    let config = Config::new()
        .max_frame_size(100)
        .max_message_size(200)
        .max_fragments(3);
    // Frame too large: decided from the header alone, nothing of the payload needed.
    let mut s = Connection::new(Role::Server, config.clone());
    let header = &cframe(true, 2, &[0; 101])[..8];
    assert_eq!(
        feed(&mut s, header),
        vec![Ev::Err(Error::Protocol(ProtocolError::FrameTooLarge))]
    );
    assert_eq!(transmit(&mut s), server_close(CloseCode::MESSAGE_TOO_BIG));
    // Message too large: 100 + 16 + 100 > 200.
    let mut s = Connection::new(Role::Server, config.clone());
    let mut bytes = cframe(false, 2, &[0; 100]);
    bytes.extend(&cframe(true, 0, &[0; 100])[..8]);
    assert_eq!(
        feed(&mut s, &bytes),
        vec![Ev::Err(Error::Protocol(ProtocolError::MessageTooLarge))]
    );
    assert_eq!(transmit(&mut s), server_close(CloseCode::MESSAGE_TOO_BIG));
    // 100 + 16 + 84 = 200 fits.
    let mut s = Connection::new(Role::Server, config.clone());
    let mut bytes = cframe(false, 2, &[1; 100]);
    bytes.extend(cframe(true, 0, &[2; 84]));
    let mut expected = vec![1; 100];
    expected.extend([2; 84]);
    assert_eq!(feed(&mut s, &bytes), vec![Ev::binary(&expected)]);
    // Too many fragments.
    let mut s = Connection::new(Role::Server, config);
    let mut bytes = cframe(false, 2, b"");
    for _ in 0..3 {
        bytes.extend(cframe(false, 0, b""));
    }
    assert_eq!(
        feed(&mut s, &bytes),
        vec![Ev::Err(Error::Protocol(ProtocolError::TooManyFragments))]
    );
    assert_eq!(transmit(&mut s), server_close(CloseCode::MESSAGE_TOO_BIG));
}

#[test]
fn invalid_utf8_is_1007() {
    expect_server_failure(
        &cframe(true, 1, &[0xFF]),
        vec![],
        ProtocolError::InvalidUtf8,
        CloseCode::INVALID_PAYLOAD,
    );
    // Truncated at the end of the message.
    expect_server_failure(
        &cframe(true, 1, &[b'a', 0xE2, 0x82]),
        vec![],
        ProtocolError::InvalidUtf8,
        CloseCode::INVALID_PAYLOAD,
    );
    // Across fragments.
    let mut bytes = cframe(false, 1, &[0xE2, 0x82]);
    bytes.extend(cframe(true, 0, &[0x28]));
    expect_server_failure(
        &bytes,
        vec![],
        ProtocolError::InvalidUtf8,
        CloseCode::INVALID_PAYLOAD,
    );
}

#[test]
fn utf8_split_across_fragments_is_fine() {
    let euro = "€".as_bytes();
    let mut s = server();
    let mut bytes = cframe(false, 1, &euro[..1]);
    bytes.extend(cframe(false, 0, &euro[1..2]));
    bytes.extend(cframe(true, 0, &euro[2..]));
    assert_eq!(feed(&mut s, &bytes), vec![Ev::text("€")]);
}

#[test]
fn invalid_utf8_fails_fast_mid_frame() {
    // Only the first bytes of a 1000-byte text frame have arrived: the invalid byte fails at once.
    let mut payload = b"hello".to_vec();
    payload.push(0xC0);
    payload.resize(1000, b'a');
    let bytes = cframe(true, 1, &payload);
    let mut s = server();
    // Header: 2 + 2 (16-bit length) + 4 (mask) bytes.
    assert_eq!(feed(&mut s, &bytes[..8 + 3]), vec![]);
    assert_eq!(
        feed(&mut s, &bytes[11..8 + 6]),
        vec![Ev::Err(Error::Protocol(ProtocolError::InvalidUtf8))]
    );
    assert_eq!(transmit(&mut s), server_close(CloseCode::INVALID_PAYLOAD));
    // Fragmented message: fails within the second fragment, before it is complete.
    let mut s = server();
    let mut bytes = cframe(false, 1, b"ok");
    let second = cframe(true, 0, &[0xF4, 0x90, 0x80, 0x80, b'x', b'y']);
    bytes.extend(&second[..6 + 2]);
    assert_eq!(
        feed(&mut s, &bytes),
        vec![Ev::Err(Error::Protocol(ProtocolError::InvalidUtf8))]
    );
}

#[test]
fn valid_message_is_seen_before_the_error() {
    let mut s = server();
    let mut bytes = cframe(true, 1, b"first");
    bytes.extend(frame(true, 2, 1, b"bad", Some(KEY)));
    s.receive(T0, &bytes);
    assert_eq!(
        events_until_error(&mut s),
        vec![
            Ev::text("first"),
            Ev::Err(Error::Protocol(ProtocolError::ReservedBits))
        ]
    );
}

/// Drains events, echoing text messages (as an echo server would) before the error.
fn events_until_error(s: &mut Connection) -> Vec<Ev> {
    let mut out = Vec::new();
    loop {
        match s.poll_event() {
            Ok(Some(e)) => {
                let e = own(e);
                if let Ev::Text(t, true) = &e {
                    s.send_text(t).unwrap();
                }
                out.push(e);
            }
            Ok(None) => return out,
            Err(e) => out.push(Ev::Err(e)),
        }
    }
}

// ---- close ----

#[test]
fn peer_close_is_echoed() {
    let mut s = server();
    let close = cframe(true, 8, &close_payload(1000, "bye"));
    assert_eq!(feed(&mut s, &close), vec![Ev::Close(1000, "bye".into())]);
    assert_eq!(transmit(&mut s), server_close(CloseCode::NORMAL));
    assert_eq!(s.state(), State::Closed);
    assert!(s.should_close_transport());
    assert_eq!(s.send_text("late"), Err(SendError::Closed));
    assert_eq!(feed(&mut s, &cframe(true, 1, b"more")), vec![]);
}

#[test]
fn empty_close_is_1005_and_echoed_empty() {
    let mut s = server();
    assert_eq!(
        feed(&mut s, &cframe(true, 8, b"")),
        vec![Ev::Close(1005, String::new())]
    );
    assert_eq!(transmit(&mut s), sframe(true, 8, b""));
}

#[test]
fn close_payload_rules() {
    expect_server_failure(
        &cframe(true, 8, &[3]),
        vec![],
        ProtocolError::InvalidClosePayload,
        CloseCode::PROTOCOL_ERROR,
    );
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        expect_server_failure(
            &cframe(true, 8, &code.to_be_bytes()),
            vec![],
            ProtocolError::InvalidCloseCode(code),
            CloseCode::PROTOCOL_ERROR,
        );
    }
    let mut p = 1000u16.to_be_bytes().to_vec();
    p.push(0xFF);
    expect_server_failure(
        &cframe(true, 8, &p),
        vec![],
        ProtocolError::InvalidUtf8,
        CloseCode::INVALID_PAYLOAD,
    );
    // After an invalid Close the handshake is over: the server closes the transport.
    let mut s = server();
    feed(&mut s, &cframe(true, 8, &[3]));
    assert_eq!(s.state(), State::Closed);
    assert!(s.should_close_transport());
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
    ] {
        let mut s = server();
        assert_eq!(
            feed(&mut s, &cframe(true, 8, &code.to_be_bytes())),
            vec![Ev::Close(code, String::new())]
        );
        assert_eq!(transmit(&mut s), sframe(true, 8, &code.to_be_bytes()));
    }
}

#[test]
fn eof_without_close_is_1006() {
    let mut s = server();
    s.receive(T0, &cframe(true, 1, b"x")[..3]);
    s.receive_eof(T0);
    assert_eq!(events(&mut s), vec![Ev::Close(1006, String::new())]);
    assert_eq!(s.state(), State::Closed);
    assert_eq!(transmit(&mut s), b"", "nothing sent to a closed stream");
    // Complete messages before the EOF still come out first.
    let mut s = server();
    s.receive(T0, &cframe(true, 1, b"x"));
    s.receive_eof(T0);
    assert_eq!(
        events(&mut s),
        vec![Ev::text("x"), Ev::Close(1006, String::new())]
    );
}

#[test]
fn local_close_then_peer_reply() {
    let mut s = server();
    s.close(T0, CloseCode::NORMAL, "done").unwrap();
    assert_eq!(
        transmit(&mut s),
        sframe(true, 8, &close_payload(1000, "done"))
    );
    assert_eq!(s.state(), State::Closing);
    assert_eq!(s.send_text("x"), Err(SendError::Closed));
    assert_eq!(s.close(T0, CloseCode::NORMAL, ""), Err(SendError::Closed));
    // Data and pings after our Close are discarded; the reply is delivered, not echoed.
    let mut bytes = cframe(true, 1, b"ignored");
    bytes.extend(cframe(true, 9, b"p"));
    bytes.extend(cframe(true, 8, &close_payload(1000, "")));
    assert_eq!(feed(&mut s, &bytes), vec![Ev::Close(1000, String::new())]);
    assert_eq!(transmit(&mut s), b"");
    assert_eq!(s.state(), State::Closed);
    assert!(s.should_close_transport());
}

#[test]
fn close_argument_errors() {
    let mut s = server();
    assert_eq!(
        s.close(T0, CloseCode::NO_STATUS, ""),
        Err(SendError::InvalidCloseCode(CloseCode::NO_STATUS))
    );
    assert_eq!(
        s.close(T0, CloseCode::ABNORMAL, ""),
        Err(SendError::InvalidCloseCode(CloseCode::ABNORMAL))
    );
    assert_eq!(
        s.close(T0, CloseCode::NORMAL, &"x".repeat(124)),
        Err(SendError::ReasonTooLong)
    );
    assert_eq!(s.send_ping(&[0; 126]), Err(SendError::ControlTooLong));
    assert_eq!(transmit(&mut s), b"");
    s.close(T0, CloseCode::NORMAL, &"x".repeat(123)).unwrap();
    assert_eq!(transmit(&mut s).len(), 2 + 125);
}

#[test]
fn drop_connection_reports_once() {
    let mut s = server();
    s.receive(T0, &cframe(true, 1, b"pending"));
    s.drop_connection(CloseCode::POLICY_VIOLATION, "go", false);
    assert_eq!(s.state(), State::Closed);
    assert!(s.should_close_transport());
    assert_eq!(
        transmit(&mut s),
        sframe(true, 8, &close_payload(1008, "go"))
    );
    assert_eq!(
        events(&mut s),
        vec![Ev::Err(Error::Dropped(CloseCode::POLICY_VIOLATION))]
    );
    assert_eq!(events(&mut s), vec![]);
    let mut s = server();
    s.drop_connection(CloseCode::GOING_AWAY, "", true);
    assert_eq!(transmit(&mut s), b"");
    assert_eq!(
        events(&mut s),
        vec![Ev::Err(Error::Dropped(CloseCode::GOING_AWAY))]
    );
}

#[test]
fn client_waits_for_server_eof() {
    let mut c = client();
    assert_eq!(
        feed(&mut c, &sframe(true, 8, &close_payload(1000, ""))),
        vec![Ev::Close(1000, String::new())]
    );
    assert_eq!(transmit(&mut c), cframe(true, 8, &close_payload(1000, "")));
    assert_eq!(c.state(), State::Closed);
    assert!(!c.should_close_transport(), "the server closes TCP first");
    assert!(c.wants_read());
    c.receive_eof(T0);
    assert!(c.should_close_transport());
    assert_eq!(events(&mut c), vec![]);
}

// ---- sending ----

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

// ---- streaming ----

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

// ---- buffers ----

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

// ---- regressions from the Autobahn runs ----

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
fn input_buffer_shrinks_back_under_steady_traffic() {
    // A 1 MiB frame followed, in the same read, by the start of the next one: the buffer is
    // never empty, yet it gives back the large allocation once the big frame is consumed.
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
    assert!(s.buffer_capacity() <= 64 * 1024, "{}", s.buffer_capacity());
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
        assert_eq!(
            s.close(T0, code, ""),
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
