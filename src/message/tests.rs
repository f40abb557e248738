use super::*;
use alloc::{format, vec};

#[test]
fn events_become_messages() {
    let mut r = MessageReader::new();
    assert_eq!(
        r.convert(Event::Text {
            data: "hé",
            fin: true
        }),
        Message::text("hé")
    );
    assert_eq!(
        r.convert(Event::Binary {
            data: &[1, 2],
            fin: true
        }),
        Message::binary(vec![1, 2])
    );
    assert_eq!(r.convert(Event::Ping(b"p")), Message::ping(&b"p"[..]));
    assert_eq!(r.convert(Event::Pong(b"")), Message::pong(Bytes::new()));
    assert_eq!(
        r.convert(Event::Close {
            code: CloseCode::NO_STATUS,
            reason: ""
        }),
        Message::Close(None)
    );
    assert_eq!(
        r.convert(Event::Close {
            code: CloseCode::from(4001),
            reason: "x"
        }),
        Message::close(CloseCode::from(4001), "x")
    );
}

#[test]
fn streamed_pieces_become_fragments() {
    let mut r = MessageReader::new();
    let frag = |kind, data: &[u8], fin| {
        Message::Fragment(Fragment {
            kind,
            data: Bytes::copy_from_slice(data),
            fin,
        })
    };
    assert_eq!(
        r.convert(Event::Text {
            data: "ab",
            fin: false
        }),
        frag(MessageKind::Text, b"ab", false)
    );
    // A control frame in the middle does not end the message.
    assert_eq!(r.convert(Event::Ping(b"")), Message::ping(Bytes::new()));
    assert_eq!(
        r.convert(Event::Text {
            data: "",
            fin: true
        }),
        frag(MessageKind::Text, b"", true)
    );
    // The next single-piece message is whole again.
    assert_eq!(
        r.convert(Event::Binary {
            data: &[7],
            fin: true
        }),
        Message::binary(vec![7])
    );
}

#[test]
fn accessors_and_sharing() {
    let m = Message::from(&b"abc"[..]);
    assert!(m.is_binary() && m.is_data() && !m.is_text());
    assert_eq!(m.len(), 3);
    assert_eq!(m.as_text(), None);
    assert_eq!(m.clone().into_data(), Bytes::from_static(b"abc"));
    let t = Message::text(alloc::string::String::from("héllo"));
    let shared = t.clone().into_text().unwrap();
    // The clone shares the text; into_bytes shares it too.
    if let Message::Text(orig) = &t {
        assert_eq!(orig.as_ptr(), shared.as_ptr());
        assert_eq!(shared.clone().into_bytes().as_ptr(), orig.as_ptr());
    }
    let c = Message::close(CloseCode::NORMAL, "bye");
    assert_eq!(c.len(), 5);
    assert_eq!(c.as_text(), Some("bye"));
    assert!(Message::Close(None).is_empty());
    assert_eq!(
        format!("{}", CloseFrame::new(CloseCode::NORMAL, "")),
        "1000"
    );
    assert_eq!(
        format!("{}", CloseFrame::new(CloseCode::NORMAL, "x")),
        "1000 (x)"
    );
    assert_eq!(Utf8Bytes::try_from(vec![0xc3]), Err(NotUtf8));
    assert_eq!(
        Utf8Bytes::try_from(Bytes::from_static("é".as_bytes())).unwrap(),
        "é"
    );
}

#[test]
fn close_none_sends_no_status() {
    let mut conn = Connection::new(crate::Role::Server, crate::Config::new());
    Message::Close(None)
        .queue(&mut conn, Instant::ZERO)
        .unwrap();
    assert_eq!(conn.poll_transmit(), &[0x88, 0x00]);
}

#[test]
fn received_payloads_reuse_the_readers_buffer() {
    let mut r = MessageReader::new();
    let binary =
        |r: &mut MessageReader, data: &[u8]| match r.convert(Event::Binary { data, fin: true }) {
            Message::Binary(b) => b,
            other => panic!("{other:?}"),
        };
    let first = binary(&mut r, &[1; 1000]);
    let at = first.as_ptr();
    drop(first);
    // Dropped before the next one arrives (an echo): the same memory, nothing allocated.
    for n in [1000, 10, 999] {
        let again = binary(&mut r, &vec![2; n]);
        assert_eq!(again.as_ptr(), at);
        assert_eq!(&again[..], &vec![2; n][..]);
    }
    // Kept by the application: later messages take the rest of that buffer, then memory of
    // their own size; the kept bytes never change.
    let kept = binary(&mut r, &[3; 500]);
    let next = binary(&mut r, &[4; 20]);
    assert_eq!(next.as_ptr(), kept.as_ptr().wrapping_add(500));
    let big = binary(&mut r, &[5; 1000]);
    assert_eq!(
        r.buffer_capacity(),
        0,
        "a new buffer, all of it for this message"
    );
    assert_eq!(&kept[..], &[3; 500][..]);
    assert_eq!(&next[..], &[4; 20][..]);
    assert_eq!(&big[..], &[5; 1000][..]);
    drop((kept, next, big));
    // After a large message, a small one gets a small buffer of its own.
    drop(binary(&mut r, &vec![6; 1 << 20]));
    let small = binary(&mut r, &[7; 100]);
    assert_eq!(r.buffer_capacity(), 0);
    assert_eq!(&small[..], &[7; 100][..]);
    r.release_memory();
    assert_eq!(r.buffer_capacity(), 0);
}

#[test]
fn received_text_reuses_the_readers_string() {
    let mut r = MessageReader::new();
    let text = |r: &mut MessageReader, data: &str| match r.convert(Event::Text { data, fin: true })
    {
        Message::Text(t) => t,
        other => panic!("{other:?}"),
    };
    let first = text(&mut r, "the first message, the longest");
    let at = first.as_ptr();
    drop(first);
    // Dropped before the next one arrives (an echo): the same memory, nothing allocated.
    for s in ["second", "a third, shorter than first", "é"] {
        let again = text(&mut r, s);
        assert_eq!(again.as_ptr(), at);
        assert_eq!(again, s);
    }
    // Kept by the application: the next message gets a string of its own, and the kept one
    // never changes.
    let kept = text(&mut r, "kept");
    let next = text(&mut r, "next");
    assert_ne!(next.as_ptr(), kept.as_ptr());
    assert_eq!((kept.as_str(), next.as_str()), ("kept", "next"));
    drop((kept, next));
    // After a large message, a small one does not pin the large string.
    drop(text(&mut r, &"x".repeat(1 << 20)));
    let small = text(&mut r, "small");
    assert!(r.buffer_capacity() < 1024);
    assert_eq!(small, "small");
    drop(small);
    r.release_memory();
    assert_eq!(r.buffer_capacity(), 0);
    // Equality, order and hashing look at the text, not at where it lives.
    let owned = Utf8Bytes::from(String::from("same"));
    let shared = Utf8Bytes::from("same");
    assert_eq!(owned, shared);
    assert_eq!(owned.cmp(&shared), core::cmp::Ordering::Equal);
    assert_eq!(owned.clone().into_bytes(), shared.into_bytes());
}
