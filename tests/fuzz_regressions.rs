//! Regressions found by the fuzz targets (fuzz/fuzz_targets/, campaign in docs/conformance.md).
//! Each test keeps the input that found it as bytes and replays what the target did with
//! them through the public API (see the target's harness in fuzz/src/lib.rs).

use core::time::Duration;

use wsproto::{Config, Connection, Error, Instant, ProtocolError, Role, State, Timeout};

fn random(buf: &mut [u8]) {
    buf.fill(0x5a);
}

/// Every error `poll_event` reports until it has nothing more.
fn errors(conn: &mut Connection) -> Vec<Error> {
    let mut out = Vec::new();
    for _ in 0..1000 {
        match conn.poll_event() {
            Ok(None) => return out,
            Ok(Some(_)) => {}
            Err(e) => out.push(e),
        }
    }
    panic!("poll_event never returned None");
}

/// `send_path`, input below (seed `timers`): a server with keepalive (10 s) and an idle
/// timeout (30 s) sees no traffic. The idle timeout sends Close(1001) and reports
/// `TimedOut(Idle)`; when the peer does not answer, the close timeout fired and reported
/// `TimedOut(Close)` as a second error, though `poll_event` reports one error per connection.
#[test]
fn close_timeout_after_idle_timeout_is_not_a_second_error() {
    const INPUT: [u8; 31] = [
        0x06, 0x00, 0x00, 0x07, 0xff, 0x07, 0xff, 0x07, 0xff, 0x07, 0xff, 0x09, 0xff, 0x0d, 0x00,
        0x07, 0xff, 0x07, 0xff, 0x07, 0xff, 0x07, 0xff, 0x07, 0xff, 0x07, 0xff, 0x07, 0xff, 0x07,
        0xff,
    ];
    assert_eq!(INPUT[0] & 0b110, 0b110, "keepalive and idle timeout on");
    let config = Config::new()
        .random(random)
        .close_timeout(Duration::from_secs(5))
        .keepalive(Some(Duration::from_secs(10)), Duration::from_secs(5))
        .idle_timeout(Some(Duration::from_secs(30)));
    let mut conn = Connection::new(Role::Server, config);
    let mut now = Instant::ZERO;
    conn.handle_timeout(now);
    let mut all = Vec::new();
    // Op 0x07 0xff: 63.75 s pass, then handle_timeout; the application reads after each.
    for _ in 0..12 {
        now = now + Duration::from_millis(255 * 250);
        conn.handle_timeout(now);
        all.extend(errors(&mut conn));
    }
    assert_eq!(all, vec![Error::TimedOut(Timeout::Idle)]);
    assert_eq!(conn.state(), State::Closed);
}

/// The `send_path` finding above reached through a protocol error instead of the idle timeout
/// (a reduction by hand, same cause): the error sends our Close and is reported; the peer
/// never answers, and the close timeout reported `TimedOut(Close)` as well.
#[test]
fn close_timeout_after_protocol_error_is_not_a_second_error() {
    // Options byte, then an unmasked text frame from a client (1002).
    const INPUT: [u8; 4] = [0x04, 0x81, 0x01, b'a'];
    let mut conn = Connection::new(Role::Server, Config::new().random(random));
    conn.receive(Instant::from_millis(1), &INPUT[1..]);
    assert_eq!(
        errors(&mut conn),
        vec![Error::Protocol(ProtocolError::UnmaskedFrame)]
    );
    assert_eq!(conn.state(), State::Closing);
    conn.receive_eof(Instant::from_millis(2));
    conn.handle_timeout(Instant::from_millis(1_000_000));
    assert_eq!(errors(&mut conn), vec![]);
    assert_eq!(conn.state(), State::Closed);
}

/// The same cause through `drop_connection` (found reading the fix for `send_path`'s finding,
/// not by a fuzzer): a drop after an error was reported reported `Dropped` too.
#[test]
fn drop_after_an_error_is_not_a_second_error() {
    let mut conn = Connection::new(Role::Server, Config::new().random(random));
    conn.receive(Instant::from_millis(1), &[0x81, 0x01, b'a']);
    assert_eq!(errors(&mut conn).len(), 1);
    conn.drop_connection(wsproto::CloseCode::NORMAL, "", false);
    assert_eq!(errors(&mut conn), vec![]);
    assert_eq!(conn.state(), State::Closed);
}
