//! Client⇄server scenarios on the in-memory pair with a virtual clock: closing handshakes from
//! both sides, close timeout, keepalive, idle timeout.

mod common;

use core::time::Duration;

use common::pair::Pair;
use common::*;
use wsproto::{CloseCode, Config, Error, Instant, State, Timeout};

fn pair_with(client: Config, server: Config) -> Pair {
    Pair::new(client.random(fixed_random), server)
}

#[test]
fn echo_messages_both_ways() {
    let mut p = Pair::default_pair();
    p.client.send_text("hello").unwrap();
    p.server.send_binary(&[1, 2, 3]).unwrap();
    p.client.send_ping(b"x").unwrap();
    p.drive();
    assert_eq!(
        p.take_server_events(),
        vec![Ev::text("hello"), Ev::Ping(b"x".to_vec())]
    );
    assert_eq!(
        p.take_client_events(),
        vec![Ev::binary(&[1, 2, 3]), Ev::Pong(b"x".to_vec())]
    );
}

#[test]
fn one_byte_at_a_time() {
    let mut p = Pair::default_pair();
    p.mtu = 1;
    p.client
        .send_text("a longer message of text, €uro")
        .unwrap();
    p.server.send_text("reply").unwrap();
    p.drive();
    assert_eq!(
        p.take_server_events(),
        vec![Ev::text("a longer message of text, €uro")]
    );
    assert_eq!(p.take_client_events(), vec![Ev::text("reply")]);
}

#[test]
fn client_initiated_close() {
    let mut p = Pair::default_pair();
    p.client.close(p.now, CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(p.client.state(), State::Closing);
    p.drive();
    assert_eq!(p.take_server_events(), vec![Ev::Close(1000, "bye".into())]);
    // The reply echoes the code and the reason.
    assert_eq!(p.take_client_events(), vec![Ev::Close(1000, "bye".into())]);
    assert_eq!(p.server.state(), State::Closed);
    assert_eq!(p.client.state(), State::Closed);
    // The server closed TCP first; the client saw EOF and then closed its side.
    assert!(p.server_transport_closed);
    assert!(p.client_transport_closed);
    assert!(p.client.should_close_transport());
}

#[test]
fn server_initiated_close() {
    let mut p = Pair::default_pair();
    p.server
        .close(p.now, CloseCode::GOING_AWAY, "restart")
        .unwrap();
    p.drive();
    assert_eq!(
        p.take_client_events(),
        vec![Ev::Close(1001, "restart".into())]
    );
    assert_eq!(
        p.take_server_events(),
        vec![Ev::Close(1001, "restart".into())]
    );
    assert!(p.server_transport_closed && p.client_transport_closed);
    assert_eq!(p.next_deadline(), None);
}

#[test]
fn simultaneous_close() {
    let mut p = Pair::default_pair();
    p.client.close(p.now, CloseCode::NORMAL, "c").unwrap();
    p.server.close(p.now, CloseCode::NORMAL, "s").unwrap();
    p.drive();
    assert_eq!(p.take_client_events(), vec![Ev::Close(1000, "s".into())]);
    assert_eq!(p.take_server_events(), vec![Ev::Close(1000, "c".into())]);
    assert_eq!(
        (p.client.state(), p.server.state()),
        (State::Closed, State::Closed)
    );
    assert!(p.server_transport_closed && p.client_transport_closed);
}

#[test]
fn close_timeout_when_peer_never_answers() {
    let mut p = pair_with(
        Config::new(),
        Config::new().close_timeout(Duration::from_secs(2)),
    );
    p.client_reads = false;
    p.server.close(p.now, CloseCode::NORMAL, "").unwrap();
    p.drive();
    assert_eq!(p.server.state(), State::Closing);
    assert_eq!(p.server.poll_timeout(), Some(Instant::from_millis(2000)));
    p.advance(Duration::from_millis(1999));
    assert_eq!(p.server.state(), State::Closing);
    assert_eq!(p.take_server_events(), vec![]);
    p.advance(Duration::from_millis(1));
    assert_eq!(
        p.take_server_events(),
        vec![Ev::Err(Error::TimedOut(Timeout::Close))]
    );
    assert_eq!(p.server.state(), State::Closed);
    assert!(p.server_transport_closed);
}

#[test]
fn client_closes_transport_after_linger_if_server_does_not() {
    // A server that never closes TCP: the client gives up after the close timeout.
    let mut p = pair_with(
        Config::new().close_timeout(Duration::from_secs(1)),
        Config::new(),
    );
    p.server.close(p.now, CloseCode::NORMAL, "").unwrap();
    // Deliver the server's Close to the client without letting the server see the reply.
    p.server_reads = false;
    p.drive();
    assert_eq!(p.client.state(), State::Closed);
    assert!(
        !p.client_transport_closed,
        "waits for the server to close first"
    );
    p.advance(Duration::from_secs(1));
    assert!(p.client_transport_closed);
    assert_eq!(p.take_client_events(), vec![Ev::Close(1000, String::new())]);
}

#[test]
fn keepalive_pings_and_survives() {
    let mut p = pair_with(
        Config::new(),
        Config::new().keepalive(Some(Duration::from_secs(10)), Duration::from_secs(5)),
    );
    p.drive();
    // The timers start at the first time seen.
    assert_eq!(p.server.poll_timeout(), Some(Instant::ZERO));
    p.advance(Duration::ZERO);
    assert_eq!(p.server.poll_timeout(), Some(Instant::from_millis(10_000)));
    p.advance(Duration::from_secs(10));
    // The server pinged, the client answered automatically.
    assert_eq!(p.take_client_events(), vec![Ev::Ping(vec![])]);
    assert_eq!(p.take_server_events(), vec![Ev::Pong(vec![])]);
    p.advance(Duration::from_secs(60));
    assert_eq!(p.server.state(), State::Open);
    assert_eq!(p.take_client_events().len(), 6, "one ping every 10 s");
}

#[test]
fn keepalive_fails_when_peer_is_silent() {
    let mut p = pair_with(
        Config::new(),
        Config::new().keepalive(Some(Duration::from_secs(10)), Duration::from_secs(5)),
    );
    p.client_reads = false;
    p.advance(Duration::ZERO);
    p.advance(Duration::from_secs(10));
    assert_eq!(p.server.state(), State::Open);
    p.advance(Duration::from_millis(4999));
    assert_eq!(p.server.state(), State::Open);
    p.advance(Duration::from_millis(1));
    assert_eq!(
        p.take_server_events(),
        vec![Ev::Err(Error::TimedOut(Timeout::Keepalive))]
    );
    assert_eq!(p.server.state(), State::Closed);
    assert!(p.server_transport_closed);
    // No Close frame was queued: only the ping went out.
    assert_eq!(p.server.buffered_amount(), 0);
}

#[test]
fn idle_timeout_closes_with_1001() {
    let idle = Config::new().idle_timeout(Some(Duration::from_secs(30)));
    let mut p = pair_with(Config::new(), idle);
    p.advance(Duration::ZERO);
    p.advance(Duration::from_secs(20));
    p.client.send_text("activity").unwrap();
    p.advance(Duration::from_secs(20));
    assert_eq!(
        p.server.state(),
        State::Open,
        "activity at 20 s re-armed the timer"
    );
    assert_eq!(p.take_server_events(), vec![Ev::text("activity")]);
    p.advance(Duration::from_secs(10));
    assert_eq!(p.server.state(), State::Closed);
    assert_eq!(
        p.take_server_events(),
        vec![
            Ev::Err(Error::TimedOut(Timeout::Idle)),
            Ev::Close(1001, String::new())
        ]
    );
    assert_eq!(p.take_client_events(), vec![Ev::Close(1001, String::new())]);
    assert!(p.server_transport_closed && p.client_transport_closed);
}

#[test]
fn protocol_error_then_peer_close() {
    let mut p = Pair::default_pair();
    // The server receives garbage (an unmasked frame) from the "client" side.
    p.server.receive(p.now, &sframe(true, 1, b"x"));
    p.drive();
    assert_eq!(
        p.take_server_events(),
        vec![Ev::Err(Error::Protocol(
            wsproto::ProtocolError::UnmaskedFrame
        ))]
    );
    // The client saw the server's 1002 and echoed it; the server closed TCP.
    assert_eq!(p.take_client_events(), vec![Ev::Close(1002, String::new())]);
    assert_eq!(p.server.state(), State::Closed);
    assert!(p.server_transport_closed);
}

#[test]
fn spurious_timeouts_are_harmless() {
    let mut p = Pair::default_pair();
    for t in 0..100 {
        p.client.handle_timeout(Instant::from_millis(t));
        p.server.handle_timeout(Instant::from_millis(t));
    }
    assert_eq!(p.next_deadline(), None);
    p.drive();
    assert_eq!(p.take_client_events(), vec![]);
    assert_eq!(p.take_server_events(), vec![]);
    assert_eq!(
        (p.client.state(), p.server.state()),
        (State::Open, State::Open)
    );
}
