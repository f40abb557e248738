//! The extension hook with a toy extension: XOR every payload byte with 0xFF, flagged by RSV1.
//! It proves the core drives any extension through the trait (no deflate special case), in both
//! directions, whole and streamed, with the message limit passed down.

mod common;

use common::*;
use wsproto::extension::{Extension, ExtensionError, ExtensionParam, RSV1};
use wsproto::{
    CloseCode, Config, Connection, Error, Instant, MessageKind, ProtocolError, Role, SendOptions,
};

#[derive(Debug, Default)]
struct Xor {
    decoding: bool,
}

impl Extension for Xor {
    fn name(&self) -> &str {
        "x-xor"
    }
    fn fresh(&self) -> Box<dyn Extension> {
        Box::new(Xor::default())
    }
    fn offer(&self) -> String {
        "x-xor".into()
    }
    fn accept_response(&mut self, _: &[ExtensionParam<'_>]) -> Result<(), ExtensionError> {
        Ok(())
    }
    fn accept_offer(&mut self, _: &[ExtensionParam<'_>]) -> Option<String> {
        Some("x-xor".into())
    }
    fn rsv_bits(&self) -> u8 {
        RSV1
    }
    fn decode_start(&mut self, rsv: u8) -> Result<bool, ExtensionError> {
        assert_eq!(rsv, RSV1);
        self.decoding = true;
        Ok(true)
    }
    fn decode(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
        max_len: usize,
    ) -> Result<(), ExtensionError> {
        assert!(self.decoding);
        if out.len() + input.len() > max_len {
            return Err(ExtensionError::MessageTooLarge);
        }
        if input.contains(&(0xFF ^ b'!')) {
            return Err(ExtensionError::InvalidData("no bangs"));
        }
        out.extend(input.iter().map(|b| b ^ 0xFF));
        if fin {
            self.decoding = false;
        }
        Ok(())
    }
    fn encode_start(&mut self, _len: Option<usize>, compress: bool) -> Option<u8> {
        compress.then_some(RSV1)
    }
    fn encode(
        &mut self,
        input: &[u8],
        _fin: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), ExtensionError> {
        out.extend(input.iter().map(|b| b ^ 0xFF));
        Ok(())
    }
}

fn xor(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| b ^ 0xFF).collect()
}

fn with_xor(role: Role, config: Config) -> Connection {
    Connection::with_extensions(
        role,
        config.random(fixed_random),
        vec![Box::new(Xor::default())],
    )
}

#[test]
fn outbound_sets_rsv1_and_transforms() {
    let mut s = with_xor(Role::Server, Config::new());
    s.send_text("Hi").unwrap();
    assert_eq!(transmit(&mut s), frame(true, 0b100, 1, &xor(b"Hi"), None));
    // Opting out of "compression" sends the message unchanged.
    s.send_message(
        MessageKind::Binary,
        b"raw",
        SendOptions::new().compress(false),
    )
    .unwrap();
    assert_eq!(transmit(&mut s), sframe(true, 2, b"raw"));
    // Fragments: RSV1 on the first frame only.
    s.send_fragment(MessageKind::Binary, b"ab", false, SendOptions::new())
        .unwrap();
    s.send_fragment(MessageKind::Binary, b"c", true, SendOptions::new())
        .unwrap();
    let mut expected = frame(false, 0b100, 2, &xor(b"ab"), None);
    expected.extend(frame(true, 0, 0, &xor(b"c"), None));
    assert_eq!(transmit(&mut s), expected);
}

#[test]
fn inbound_decodes_claimed_messages() {
    let mut s = with_xor(Role::Server, Config::new());
    let mut bytes = frame(true, 0b100, 1, &xor("Hé".as_bytes()), Some(KEY));
    bytes.extend(cframe(true, 2, b"plain"));
    bytes.extend(frame(false, 0b100, 2, &xor(b"frag"), Some(KEY)));
    bytes.extend(cframe(true, 9, b"p"));
    bytes.extend(cframe(true, 0, &xor(b"mented")));
    s.receive(Instant::ZERO, &bytes);
    assert_eq!(
        events(&mut s),
        vec![
            Ev::text("Hé"),
            Ev::binary(b"plain"),
            Ev::Ping(b"p".to_vec()),
            Ev::binary(b"fragmented")
        ]
    );
}

#[test]
fn round_trip_between_two_extended_peers() {
    let mut c = with_xor(Role::Client, Config::new());
    let mut s = with_xor(Role::Server, Config::new().assemble_messages(false));
    c.send_text("über").unwrap();
    let out = transmit(&mut c);
    assert_eq!(out[0], 0xC1, "FIN + RSV1 + text");
    s.receive(Instant::ZERO, &out);
    assert_eq!(events(&mut s), vec![Ev::Text("über".into(), true)]);
}

#[test]
fn decoded_text_is_validated() {
    let mut s = with_xor(Role::Server, Config::new());
    s.receive(
        Instant::ZERO,
        &frame(true, 0b100, 1, &xor(&[b'a', 0xFF]), Some(KEY)),
    );
    assert_eq!(
        events(&mut s),
        vec![Ev::Err(Error::Protocol(ProtocolError::InvalidUtf8))]
    );
    assert_eq!(transmit(&mut s), server_close(CloseCode::INVALID_PAYLOAD));
}

#[test]
fn extension_errors_map_to_close_codes() {
    let mut s = with_xor(Role::Server, Config::new());
    s.receive(
        Instant::ZERO,
        &frame(true, 0b100, 1, &xor(b"bang!"), Some(KEY)),
    );
    assert_eq!(
        events(&mut s),
        vec![Ev::Err(Error::Protocol(ProtocolError::Extension(
            ExtensionError::InvalidData("no bangs")
        )))]
    );
    assert_eq!(transmit(&mut s), server_close(CloseCode::INVALID_PAYLOAD));
    // The decoded size is bounded by max_message_size.
    let mut s = with_xor(Role::Server, Config::new().max_message_size(4));
    s.receive(
        Instant::ZERO,
        &frame(true, 0b100, 2, &xor(b"12345"), Some(KEY)),
    );
    assert_eq!(
        events(&mut s),
        vec![Ev::Err(Error::Protocol(ProtocolError::Extension(
            ExtensionError::MessageTooLarge
        )))]
    );
    assert_eq!(transmit(&mut s), server_close(CloseCode::MESSAGE_TOO_BIG));
}

#[test]
fn unclaimed_bits_still_fail() {
    let mut s = with_xor(Role::Server, Config::new());
    s.receive(Instant::ZERO, &frame(true, 0b010, 1, b"x", Some(KEY)));
    assert_eq!(
        events(&mut s),
        vec![Ev::Err(Error::Protocol(ProtocolError::ReservedBits))]
    );
    // RSV1 on a control frame or a continuation is a protocol error even when claimed.
    let mut s = with_xor(Role::Server, Config::new());
    s.receive(Instant::ZERO, &frame(true, 0b100, 9, b"", Some(KEY)));
    assert_eq!(
        events(&mut s),
        vec![Ev::Err(Error::Protocol(ProtocolError::ReservedBits))]
    );
    let mut s = with_xor(Role::Server, Config::new());
    let mut bytes = frame(false, 0b100, 2, b"", Some(KEY));
    bytes.extend(frame(true, 0b100, 0, b"", Some(KEY)));
    s.receive(Instant::ZERO, &bytes);
    assert_eq!(
        events(&mut s),
        vec![Ev::Err(Error::Protocol(ProtocolError::ReservedBits))]
    );
}
