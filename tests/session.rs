//! The session layer on the virtual clock: liveness after backpressure in both roles, the
//! closing handshake and its close echo, shutdown after a protocol error, read gating, held
//! errors, timers, terminate, transport failure. No sockets, no sleeps.

mod common;

use core::time::Duration;

use common::session_pair::{Seen, SessionPair};
use common::{KEY, cframe};
use wsproto::message::{CloseFrame, Message};
use wsproto::session::{Error, Step, Turn};
use wsproto::{CloseCode, Config, Instant, State};

fn send(end: &mut common::session_pair::End, now: Instant, m: Message) {
    end.session.send(now, &m).unwrap();
}

/// The peer floods pings without reading until our writes stall, then reads again and sends
/// one text: the connection must resume (pongs written, the text delivered and answered).
fn flood_then_resume(server_side_floods: bool) {
    let mut p = SessionPair::default_pair();
    p.window = 4096;
    // The flooding end: its application sends pings but does not read.
    let ping = Message::ping(vec![7u8; 125]);
    for _ in 0..2000 {
        let flooder = if server_side_floods {
            &mut p.server
        } else {
            &mut p.client
        };
        flooder.reads = false;
        let _ = flooder.session.send(p.now, &ping);
        // Push what fits; the victim reads and answers, its pongs pile up.
        p.round();
    }
    let victim_pending = if server_side_floods {
        p.client.session.buffered_amount()
    } else {
        p.server.session.buffered_amount()
    };
    assert!(victim_pending > 0, "the victim's writes must have stalled");
    // The flooder reads again and sends one text message.
    {
        let flooder = if server_side_floods {
            &mut p.server
        } else {
            &mut p.client
        };
        flooder.reads = true;
        flooder
            .session
            .send(p.now, &Message::text("after the flood"))
            .unwrap();
    }
    p.drive();
    let victim = if server_side_floods {
        &p.client
    } else {
        &p.server
    };
    assert!(
        victim
            .messages()
            .iter()
            .any(|m| **m == Message::text("after the flood")),
        "the text after the flood was never delivered"
    );
    assert_eq!(
        victim.session.buffered_amount(),
        0,
        "the pongs owed were never written"
    );
    let flooder = if server_side_floods {
        &p.server
    } else {
        &p.client
    };
    let pongs = flooder.messages().iter().filter(|m| m.is_pong()).count();
    assert!(pongs > 100, "pongs reached the flooder: {pongs}");
}

#[test]
fn server_resumes_after_ping_flood() {
    flood_then_resume(false);
}

#[test]
fn client_resumes_after_ping_flood() {
    flood_then_resume(true);
}

#[test]
fn close_echoes_code_and_reason_and_both_end() {
    let mut p = SessionPair::default_pair();
    p.client
        .session
        .close(p.now, CloseCode::from(4001), "bye now")
        .unwrap();
    p.drive();
    let expected = Message::Close(Some(CloseFrame::new(CloseCode::from(4001), "bye now")));
    assert_eq!(p.server.messages(), vec![&expected]);
    assert_eq!(
        p.client.messages(),
        vec![&expected],
        "the echo carries the reason"
    );
    assert!(p.client.ended && p.server.ended);
    assert!(matches!(p.server.seen.last(), Some(Seen::End)));
    // The server closed TCP first (RFC 6455 §7.1.1).
    assert!(p.server.shut);
}

#[test]
fn close_without_status_is_not_1000() {
    let mut p = SessionPair::default_pair();
    send(&mut p.client, Instant::ZERO, Message::Close(None));
    p.drive();
    assert_eq!(p.server.messages(), vec![&Message::Close(None)]);
    assert_eq!(p.client.messages(), vec![&Message::Close(None)]);
}

#[test]
fn server_shuts_down_first_after_protocol_error() {
    let mut p = SessionPair::default_pair();
    // A client frame with a reserved opcode (0x3).
    p.to_server.bytes.extend(cframe(true, 0x3, b"x"));
    p.client.ended = true; // the client stays silent
    p.round();
    p.round();
    let failures = p.server.failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].close_code(), Some(CloseCode::PROTOCOL_ERROR));
    assert!(
        p.server.shut,
        "the server shut its side down before reporting"
    );
    // The Close(1002) reached the client before the FIN.
    assert!(p.to_client.fin);
    let close: Vec<u8> = p.to_client.bytes.iter().copied().collect();
    assert_eq!(close, [0x88, 0x02, 0x03, 0xEA]);
    let _ = KEY;
}

#[test]
fn sender_turns_hold_messages_for_the_receiver() {
    let mut p = SessionPair::default_pair();
    p.server.receiving = false;
    send(&mut p.client, p.now, Message::text("one"));
    send(&mut p.client, p.now, Message::text("two"));
    p.drive();
    assert!(p.server.messages().is_empty());
    assert!(p.server.session.has_delivery(), "the first message is held");
    // Read gating: the second stays in the transport or the input until the first is taken.
    p.server.receiving = true;
    p.drive();
    assert_eq!(
        p.server.messages(),
        vec![&Message::text("one"), &Message::text("two")]
    );
}

#[test]
fn send_only_end_still_answers_pings() {
    let mut p = SessionPair::default_pair();
    p.client.receiving = false; // a client that only sends
    for i in 0..100u8 {
        send(&mut p.server, p.now, Message::ping(vec![i]));
        p.drive();
    }
    let pongs = p.server.messages().iter().filter(|m| m.is_pong()).count();
    assert_eq!(pongs, 100, "every ping was answered by the sending end");
    // Bounded: the pings held for a receiver that never comes are capped.
    let pings_held = p.client.session.has_delivery();
    assert!(pings_held);
}

#[test]
fn keepalive_times_out_on_the_virtual_clock() {
    let config = Config::new().keepalive(Some(Duration::from_secs(10)), Duration::from_secs(5));
    let mut p = SessionPair::new(Config::new(), config);
    p.drive();
    // The client goes deaf: it neither reads nor writes any more.
    p.client.ended = true;
    p.run_until(Instant::from_duration(Duration::from_secs(60)));
    let failures = p.server.failures();
    assert_eq!(failures.len(), 1, "{:?}", p.server.seen);
    assert!(matches!(
        failures[0],
        Error::Connection(wsproto::Error::TimedOut(_))
    ));
    assert!(p.server.ended);
    assert!(p.now <= Instant::from_duration(Duration::from_secs(16)));
}

#[test]
fn close_timeout_bounds_the_closing_wait() {
    let mut p = SessionPair::new(
        Config::new().close_timeout(Duration::from_secs(5)),
        Config::new(),
    );
    p.server.ended = true; // the server vanished without a word
    p.client
        .session
        .close(p.now, CloseCode::NORMAL, "")
        .unwrap();
    p.run_until(Instant::from_duration(Duration::from_secs(30)));
    assert!(p.client.ended, "{:?}", p.client.seen);
    assert!(p.now <= Instant::from_duration(Duration::from_secs(5)));
}

#[test]
fn terminate_is_not_an_error() {
    let mut p = SessionPair::default_pair();
    p.server
        .session
        .terminate(CloseCode::GOING_AWAY, "bye", false);
    p.drive();
    assert!(p.server.failures().is_empty(), "{:?}", p.server.seen);
    assert!(p.server.ended && p.server.shut);
    assert_eq!(
        p.client.messages(),
        vec![&Message::Close(Some(CloseFrame::new(
            CloseCode::GOING_AWAY,
            "bye"
        )))]
    );
}

#[cfg(feature = "std")]
#[test]
fn transport_error_is_reported_once_then_ends() {
    let mut p = SessionPair::default_pair();
    p.server
        .session
        .transport_error(Error::Io(std::io::ErrorKind::ConnectionReset.into()));
    p.drive();
    let failures = p.server.failures();
    assert_eq!(failures.len(), 1);
    assert!(matches!(failures[0], Error::Io(_)));
    assert!(matches!(p.server.seen.last(), Some(Seen::End)));
    assert!(p.server.session.send(p.now, &Message::text("x")).is_err());
}

#[test]
fn paused_reads_nothing_until_resumed() {
    let mut p = SessionPair::default_pair();
    p.server.session.pause();
    send(&mut p.client, p.now, Message::text("later"));
    p.drive();
    assert!(p.server.messages().is_empty());
    assert_eq!(p.server.read_total, 0, "a paused session does not read");
    p.server.session.resume();
    p.drive();
    assert_eq!(p.server.messages(), vec![&Message::text("later")]);
}

#[test]
fn counters_and_state() {
    let mut p = SessionPair::default_pair();
    send(&mut p.client, p.now, Message::binary(vec![1, 2, 3]));
    p.drive();
    // 2 header + 4 mask + 3 payload.
    assert_eq!(p.client.session.bytes_sent(), 9);
    assert_eq!(p.server.session.bytes_received(), 9);
    assert_eq!(p.server.session.state(), State::Open);
}

#[test]
fn a_lone_session_reports_its_steps() {
    // The session doc example's shape, plus Wait with no deadline when idle.
    let mut s = wsproto::session::Session::new(wsproto::Connection::new(
        wsproto::Role::Server,
        Config::new(),
    ));
    assert!(matches!(
        s.step(Instant::ZERO, Turn::Receive),
        Step::Read(_)
    ));
    s.blocked(wsproto::session::Io::Read);
    assert!(matches!(
        s.step(Instant::ZERO, Turn::Receive),
        Step::Wait(None)
    ));
}

#[test]
fn every_connection_ends_once_both_stop() {
    // Random-ish mix: both send, then one closes; with no more commands both must end.
    for closer_is_client in [true, false] {
        let mut p = SessionPair::default_pair();
        p.window = 64;
        p.read_chunk = 7;
        for i in 0..20 {
            send(&mut p.client, p.now, Message::text(format!("c{i}")));
            send(&mut p.server, p.now, Message::binary(vec![i as u8; 300]));
            p.round();
        }
        let closer = if closer_is_client {
            &mut p.client
        } else {
            &mut p.server
        };
        closer.session.close(p.now, CloseCode::NORMAL, "").unwrap();
        p.run_until(Instant::from_duration(Duration::from_secs(60)));
        assert!(p.client.ended && p.server.ended);
        // Everything the closer sent before its Close arrives (data after our own Close is
        // discarded by the closer, as RFC 6455 §5.5.1 allows).
        if closer_is_client {
            assert_eq!(
                p.server.messages().iter().filter(|m| m.is_text()).count(),
                20
            );
        } else {
            assert_eq!(
                p.client.messages().iter().filter(|m| m.is_binary()).count(),
                20
            );
        }
    }
}

#[test]
fn a_peer_that_never_reads_cannot_hold_a_failed_connection() {
    let mut p = SessionPair::new(
        Config::new(),
        Config::new().close_timeout(Duration::from_secs(5)),
    );
    p.window = 0; // nothing the server writes ever leaves
    p.to_server.bytes.extend(cframe(true, 0x3, b"x")); // a reserved opcode
    p.client.ended = true;
    p.run_until(Instant::from_duration(Duration::from_secs(60)));
    assert!(p.server.ended, "{:?}", p.server.seen);
    assert!(
        p.now <= Instant::from_duration(Duration::from_secs(10)),
        "{:?}",
        p.now
    );
    let failures = p.server.failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].close_code(), Some(CloseCode::PROTOCOL_ERROR));
}

#[test]
fn terminate_is_bounded_when_the_close_frame_cannot_leave() {
    let mut p = SessionPair::new(
        Config::new(),
        Config::new().close_timeout(Duration::from_secs(5)),
    );
    p.drive();
    p.window = 0;
    p.client.ended = true;
    p.server.session.terminate(CloseCode::GOING_AWAY, "", false);
    p.run_until(Instant::from_duration(Duration::from_secs(60)));
    assert!(p.server.ended);
    assert!(p.server.failures().is_empty(), "{:?}", p.server.seen);
    assert!(p.now <= Instant::from_duration(Duration::from_secs(5)));
}

mod splits {
    use super::*;
    use proptest::prelude::*;

    /// The client sends `messages` and closes: the server's application sees them, in order,
    /// then the Close, and both ends end.
    fn exchange(p: &mut SessionPair, messages: &[Message]) -> Result<(), TestCaseError> {
        for m in messages {
            p.client.session.send(p.now, m).unwrap();
        }
        p.client
            .session
            .close(p.now, CloseCode::NORMAL, "done")
            .unwrap();
        p.run_until(Instant::from_duration(Duration::from_secs(60)));
        let mut expected: Vec<&Message> = messages.iter().collect();
        let close = Message::close(CloseCode::NORMAL, "done");
        expected.push(&close);
        prop_assert_eq!(p.server.messages(), expected);
        prop_assert!(p.client.ended && p.server.ended);
        Ok(())
    }

    fn message() -> impl Strategy<Value = Message> {
        prop_oneof![
            ".{0,40}".prop_map(Message::text),
            prop::collection::vec(any::<u8>(), 0..300).prop_map(Message::binary),
            prop::collection::vec(any::<u8>(), 0..125).prop_map(Message::ping),
        ]
    }

    proptest! {
        /// Whatever the read sizes and however little the transport takes per write, the
        /// server's application sees the client's messages, in order, then the Close.
        #[test]
        fn any_split_gives_the_same_messages(
            messages in prop::collection::vec(message(), 0..20),
            read_chunk in 1usize..64,
            window in 1usize..200,
        ) {
            let mut p = SessionPair::default_pair();
            p.read_chunk = read_chunk;
            p.window = window;
            exchange(&mut p, &messages)?;
        }
    }

    fn large_message() -> impl Strategy<Value = Message> {
        prop_oneof![
            (16_000usize..40_000).prop_map(|n| Message::binary(vec![0x5a; n])),
            (0usize..300).prop_map(|n| Message::binary(vec![7; n])),
            (16_000usize..40_000).prop_map(|n| Message::text("ü".repeat(n / 2))),
            prop::collection::vec(any::<u8>(), 0..125).prop_map(Message::ping),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Large messages that arrive in reads smaller than themselves are assembled apart
        /// (binary in memory the message keeps, read straight into it with owned reads): the
        /// same messages whatever the reads, with owned reads or without.
        #[test]
        fn large_messages_split_anywhere(
            messages in prop::collection::vec(large_message(), 1..5),
            read_chunk in 1000usize..40_000,
            owned in any::<bool>(),
        ) {
            let mut p = SessionPair::default_pair();
            p.read_chunk = read_chunk;
            p.server.session.set_owned_reads(owned);
            exchange(&mut p, &messages)?;
        }
    }
}

mod owned_reads {
    //! The contract of `Step::ReadOwned` held against an executor that breaks it: bytes read
    //! past the payload are not lost, and a buffer the executor shortened fails the connection
    //! (1011) rather than delivering a corrupt message.

    use super::*;
    use wsproto::session::Session;
    use wsproto::{Connection, Role};

    const LEN: usize = 40_000;

    fn payload() -> Vec<u8> {
        (0..LEN).map(|i| (i % 251) as u8).collect()
    }

    /// A server session with owned reads that has read the header and the first
    /// `FIRST` bytes of a `LEN`-byte binary frame; `wire` holds the rest of the input.
    fn started(wire: &mut Vec<u8>) -> Session {
        let mut s = Session::new(Connection::new(Role::Server, Config::new()));
        s.set_owned_reads(true);
        match s.step(Instant::ZERO, Turn::Receive) {
            Step::Read(buf) => {
                let n = FIRST + 8; // 8: a 16-bit length and the key
                buf[..n].copy_from_slice(&wire[..n]);
                wire.drain(..n);
                s.received(Instant::ZERO, n);
            }
            other => panic!("{other:?}"),
        }
        s
    }

    /// Payload bytes in the first read (the session's first reads are 256 bytes).
    const FIRST: usize = 200;

    #[test]
    fn bytes_read_past_the_payload_are_kept() {
        let mut wire = [cframe(true, 2, &payload()), cframe(true, 2, b"next")].concat();
        let mut s = started(&mut wire);
        match s.step(Instant::ZERO, Turn::Receive) {
            Step::ReadOwned(buf, max) => {
                assert_eq!(max, LEN - FIRST);
                // More than asked: the rest of the payload and the next frame.
                buf.extend_from_slice(&wire);
                s.received_owned(Instant::ZERO, wire.len());
            }
            other => panic!("{other:?}"),
        }
        let mut got = Vec::new();
        while let Step::Deliver(m) = s.step(Instant::ZERO, Turn::Receive) {
            got.push(m);
        }
        assert_eq!(
            got,
            [Message::binary(payload()), Message::binary(&b"next"[..])]
        );
    }

    #[test]
    fn a_shortened_buffer_fails_the_connection() {
        let mut wire = cframe(true, 2, &payload());
        let mut s = started(&mut wire);
        match s.step(Instant::ZERO, Turn::Receive) {
            Step::ReadOwned(buf, _) => {
                buf.clear();
                buf.extend_from_slice(&wire[..10]);
                s.received_owned(Instant::ZERO, 10);
            }
            other => panic!("{other:?}"),
        }
        // Our Close with 1011 goes out, then the failure; no message.
        match s.step(Instant::ZERO, Turn::Receive) {
            Step::Write([first, then]) => {
                let close = [first, then].concat();
                assert_eq!(close, [0x88, 0x02, 0x03, 0xf3]);
                s.wrote(close.len());
            }
            other => panic!("{other:?}"),
        }
        loop {
            match s.step(Instant::ZERO, Turn::Receive) {
                Step::Flush => s.flushed(),
                Step::Shutdown => s.shut_down(),
                Step::Fail(e) => {
                    assert_eq!(e.close_code(), Some(CloseCode::INTERNAL_ERROR), "{e}");
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
