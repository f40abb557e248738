//! Frames encoded once for many connections (`PreparedFrame`, `Connection::send_prepared`):
//! shared bytes keep their place among a connection's own frames under any partial writes,
//! compressed-once frames only where the connection agreed no context takeover, and a client
//! encodes the payload itself. Payloads queued by reference (`Connection::send_bytes`) the
//! same way.

mod common;
mod deflate_common;

use common::{Ev, KEY, client, events, server, transmit};
use deflate_common::negotiate;
use proptest::prelude::*;
use wsproto::deflate::{DeflateConfig, PerMessageDeflate};
use wsproto::frame::PreparedFrame;
use wsproto::{Config, Connection, Instant, MessageKind, Role, SendError, SendOptions};

fn sframe_text(s: &str) -> Vec<u8> {
    common::sframe(true, 1, s.as_bytes())
}

#[test]
fn shared_frames_keep_their_place() {
    let mut s = server();
    // Over 1 KiB, so it is shared rather than copied.
    let big = "shared ".repeat(200);
    let shared = PreparedFrame::text(big.as_str());
    s.send_text("a").unwrap();
    s.send_prepared(&shared).unwrap();
    s.send_text("b").unwrap();
    s.send_prepared(&shared).unwrap();
    s.send_prepared(&shared).unwrap();
    let mut expected = sframe_text("a");
    expected.extend(sframe_text(&big));
    expected.extend(sframe_text("b"));
    expected.extend(sframe_text(&big));
    expected.extend(sframe_text(&big));
    assert_eq!(s.buffered_amount(), expected.len());
    // One byte at a time: the shared bytes never mix with the owned ones.
    let mut out = Vec::new();
    while !s.poll_transmit().is_empty() {
        out.push(s.poll_transmit()[0]);
        s.advance_transmit(1);
    }
    assert_eq!(out, expected);
    assert_eq!(s.buffered_amount(), 0);
}

#[test]
fn the_frame_is_shared_not_copied() {
    let frame = PreparedFrame::binary(vec![7u8; 4000]);
    let mut a = server();
    let mut b = server();
    a.send_prepared(&frame).unwrap();
    b.send_prepared(&frame).unwrap();
    // Both connections hand out the prepared frame's own bytes.
    assert_eq!(a.poll_transmit().as_ptr(), frame.plain().as_ptr());
    assert_eq!(b.poll_transmit().as_ptr(), frame.plain().as_ptr());
}

#[test]
fn a_client_masks_it_itself() {
    let mut c = client();
    c.send_prepared(&PreparedFrame::text("Hello")).unwrap();
    // RFC 6455 §5.7 with the fixed key.
    assert_eq!(
        transmit(&mut c),
        [
            0x81, 0x85, KEY[0], KEY[1], KEY[2], KEY[3], 0x7f, 0x9f, 0x4d, 0x51, 0x58
        ]
    );
}

#[test]
fn refused_like_any_message() {
    let mut s = Connection::new(Role::Server, Config::new().max_send_queue(10));
    let frame = PreparedFrame::binary(vec![0u8; 20]);
    s.send_prepared(&frame).unwrap(); // the cap is checked before queueing
    assert_eq!(s.send_prepared(&frame), Err(SendError::Full));
    let mut s = server();
    s.send_fragment(MessageKind::Text, b"a", false, SendOptions::new())
        .unwrap();
    assert_eq!(s.send_prepared(&frame), Err(SendError::MessageInProgress));
    let mut s = server();
    s.close(Instant::ZERO, wsproto::CloseCode::NORMAL, "")
        .unwrap();
    assert_eq!(s.send_prepared(&frame), Err(SendError::Closed));
}

/// A client and a server with permessage-deflate negotiated from these configs.
fn deflate_pair(server_config: DeflateConfig) -> (Connection, Connection) {
    let mut c = PerMessageDeflate::new(DeflateConfig::new());
    let mut s = PerMessageDeflate::new(server_config);
    negotiate(&mut c, &mut s).unwrap().expect("accepted");
    (
        Connection::with_extensions(
            Role::Client,
            Config::new().random(common::fixed_random),
            vec![Box::new(c)],
        ),
        Connection::with_extensions(Role::Server, Config::new(), vec![Box::new(s)]),
    )
}

#[test]
fn compressed_once_only_without_context_takeover() {
    let text = "compress me ".repeat(50);
    let frame = PreparedFrame::text(text.as_str()).with_deflate();
    let deflated = frame
        .deflated()
        .expect("repetitive text compresses")
        .clone();
    for no_takeover in [true, false] {
        let config = DeflateConfig::new().server_no_context_takeover(no_takeover);
        let (mut c, mut s) = deflate_pair(config);
        // The server's own compressed messages around the shared one must still decode.
        s.send_text(&text).unwrap();
        s.send_prepared(&frame).unwrap();
        s.send_text(&text).unwrap();
        let wire = transmit(&mut s);
        let shared_used = wire.windows(deflated.len()).any(|w| w == &deflated[..]);
        assert_eq!(
            shared_used, no_takeover,
            "no_context_takeover={no_takeover}"
        );
        c.receive(Instant::ZERO, &wire);
        assert_eq!(
            events(&mut c),
            vec![Ev::text(&text), Ev::text(&text), Ev::text(&text)]
        );
    }
}

proptest! {
    /// Any mix of own frames, shared frames and payloads queued by reference, written in any
    /// pieces (one run at a time, or both runs of `poll_transmit_vectored`), comes out in
    /// order.
    #[test]
    fn any_mix_and_any_writes(
        ops in prop::collection::vec((0u8..3, 0usize..3000), 1..20),
        writes in prop::collection::vec(1usize..5000, 1..200),
        vectored in any::<bool>(),
    ) {
        let mut s = server();
        let mut expected = Vec::new();
        for (i, (how, len)) in ops.iter().enumerate() {
            let payload = vec![i as u8; *len];
            match how {
                0 => s.send_binary(&payload).unwrap(),
                1 => s.send_prepared(&PreparedFrame::binary(payload.clone())).unwrap(),
                _ => {
                    let bytes = bytes::Bytes::from(payload.clone());
                    s.send_bytes(MessageKind::Binary, &bytes, SendOptions::new()).unwrap();
                }
            }
            expected.extend(common::sframe(true, 2, &payload));
        }
        prop_assert_eq!(s.buffered_amount(), expected.len());
        let mut out: Vec<u8> = Vec::new();
        let mut writes = writes.iter().cycle();
        while !s.poll_transmit().is_empty() {
            let [first, then] = s.poll_transmit_vectored();
            prop_assert_eq!(first, s.poll_transmit());
            let room = *writes.next().unwrap();
            let n = if vectored {
                room.min(first.len() + then.len())
            } else {
                room.min(first.len())
            };
            out.extend(first.iter().chain(then).take(n));
            s.advance_transmit(n);
        }
        prop_assert_eq!(s.buffered_amount(), 0);
        prop_assert_eq!(out, expected);
    }
}

#[test]
fn a_large_payload_goes_out_from_its_own_bytes() {
    let payload = bytes::Bytes::from(vec![7u8; 4000]);
    let mut s = server();
    s.send_text("a").unwrap();
    s.send_bytes(MessageKind::Binary, &payload, SendOptions::new())
        .unwrap();
    // The text frame and the binary header are copied; the payload is not.
    let [first, then] = s.poll_transmit_vectored();
    assert_eq!(first, [0x81, 0x01, b'a', 0x82, 126, 0x0f, 0xa0]);
    assert_eq!(then.as_ptr(), payload.as_ptr());
    assert_eq!(then.len(), 4000);
    // Up to 1 KiB it is copied like any payload, and so is a client's (masked) one.
    let small = bytes::Bytes::from(vec![7u8; 1024]);
    let mut s = server();
    s.send_bytes(MessageKind::Binary, &small, SendOptions::new())
        .unwrap();
    assert_eq!(s.poll_transmit_vectored()[1], [0u8; 0]);
    let mut c = client();
    c.send_bytes(MessageKind::Binary, &payload, SendOptions::new())
        .unwrap();
    assert_eq!(c.poll_transmit_vectored()[1], [0u8; 0]);
    assert_eq!(c.poll_transmit().len(), 8 + 4000);
}

#[test]
fn a_payload_an_extension_or_fragmentation_changes_is_copied() {
    let payload = bytes::Bytes::from("compress me ".repeat(400));
    let (mut c, mut s) = deflate_pair(DeflateConfig::new());
    s.send_bytes(MessageKind::Binary, &payload, SendOptions::new())
        .unwrap();
    assert_eq!(s.poll_transmit_vectored()[1], [0u8; 0]);
    c.receive(Instant::ZERO, &transmit(&mut s));
    assert_eq!(events(&mut c), vec![Ev::binary(&payload)]);
    let mut s = Connection::new(Role::Server, Config::new().fragment_size(Some(1000)));
    s.send_bytes(MessageKind::Binary, &payload, SendOptions::new())
        .unwrap();
    assert_eq!(s.poll_transmit_vectored()[1], [0u8; 0]);
    let wire = transmit(&mut s);
    assert_eq!(wire.get(..2), Some(&[0x02, 126][..]), "a first fragment");
}
