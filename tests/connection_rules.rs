//! The connection engine against RFC 6455 protocol rules: each violation fails with its close
//! code (masking, reserved bits and opcodes, control frames, continuations, lengths, size
//! limits, UTF-8), and valid input around the violations is still delivered.

mod common;

use common::*;
use wsproto::{CloseCode, Config, Connection, Error, ProtocolError, Role, State};

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
