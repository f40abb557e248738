//! The connection engine's closing handshake: echoing the peer's Close, Close payload rules,
//! EOF without Close (1006), local close, close argument errors, dropping a connection, and the
//! client waiting for the server's EOF.

mod common;

use common::*;
use wsproto::{CloseCode, Error, ProtocolError, SendError, State};

#[test]
fn peer_close_is_echoed() {
    let mut s = server();
    let close = cframe(true, 8, &close_payload(1000, "bye"));
    assert_eq!(feed(&mut s, &close), vec![Ev::Close(1000, "bye".into())]);
    // The reply carries the peer's code and reason (as ws, websockets and tungstenite do).
    assert_eq!(
        transmit(&mut s),
        sframe(true, 8, &close_payload(1000, "bye"))
    );
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
    // 1005 with no reason is "a Close frame without a status code"; with a reason it has no
    // wire form.
    assert_eq!(
        s.close(T0, CloseCode::NO_STATUS, "x"),
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
