//! Fuzz target `handshake_negotiation`: extension offers through the handshakes, and the hand-
//! over of bytes that arrive with the handshake into the connection.
//!
//! The first byte picks the mode:
//! - `0`: a `ClientHandshake` offering permessage-deflate with up to three configurations
//!   (the first and its fallbacks, from the input) against a `ServerHandshake` accepting with
//!   its own configuration, request and response cut at input-chosen points. The handshake must
//!   succeed (the server can honour any valid offer, the client any answer to its own), both
//!   ends must agree (see `check_agreed` in fuzz/src/lib.rs), and a message each way must go
//!   through the two connections with the agreed compression.
//! - `2`: a request whose `Sec-WebSocket-Extensions` header is arbitrary input text, accepted
//!   with permessage-deflate: never panics; if accepted, the response names the extension
//!   exactly when the connection holds it, with agreed windows in 8..=15.
//! - `1`: server hand-over: a valid request followed by arbitrary peer bytes in one buffer,
//!   cut two ways: the bytes after the request become events of the accepted connection, the
//!   same events and output for either cut, and the same as a connection built from
//!   `accept_parts` that receives the leftover at once.
//! - `3`: the client's hand-over of the bytes after the 101, likewise.
#![no_main]

use wsproto::deflate::PerMessageDeflate;
use wsproto::handshake::{Accept, ClientHandshake, ClientOptions, ServerHandshake, ServerOptions};
use wsproto::{Config, Connection, Instant, Role, Status};
use wsproto_fuzz::{Ev, Events, check_output, deflate_configs, pieces, settle};

fn client_options(ext: Option<PerMessageDeflate>) -> ClientOptions {
    let o = ClientOptions::new()
        .no_extensions()
        .config(Config::new().random(wsproto_fuzz::fixed_random));
    match ext {
        Some(e) => o.extension(e),
        None => o,
    }
}

fn server_options() -> ServerOptions {
    ServerOptions::new().config(
        Config::new()
            .max_frame_size(wsproto_fuzz::MAX_FRAME)
            .max_message_size(wsproto_fuzz::MAX_MESSAGE)
            .random(wsproto_fuzz::fixed_random),
    )
}

/// Feeds `bytes` to the server in `cuts`; returns the handshake once complete.
fn server_receive(s: &mut ServerHandshake, bytes: &[u8], cuts: &[usize]) -> bool {
    let mut done = false;
    for piece in pieces(bytes, cuts) {
        match s.receive(piece) {
            Ok(Status::Complete(())) => done = true,
            Ok(Status::Partial) => assert!(!done, "Partial after Complete"),
            Err(_) => return false,
        }
    }
    done
}

fn negotiation(data: &[u8]) {
    let [c0, c1, c2, c3, c4, c5, s0, cut, ..] = *data else {
        return;
    };
    let (first, server) = deflate_configs(c0, c1);
    let (second, _) = deflate_configs(c2, c3);
    let (third, _) = deflate_configs(c4, c5);
    let mut ext = PerMessageDeflate::new(first);
    if s0 & 1 != 0 {
        ext = ext.with_fallback(second);
    }
    if s0 & 2 != 0 {
        ext = ext.with_fallback(third);
    }
    let server_config = if s0 & 4 != 0 {
        deflate_configs(s0, c5).1
    } else {
        server
    };
    let mut client = ClientHandshake::new("ws://example.com/chat", client_options(Some(ext)))
        .expect("valid options");
    let request = client.poll_transmit().to_vec();
    client.advance_transmit(request.len());
    let mut s = ServerHandshake::new(server_options());
    assert!(
        server_receive(&mut s, &request, &[usize::from(cut).max(1)]),
        "our own request was refused"
    );
    let offers = s.request().map(|r| r.extensions().len()).unwrap_or(0);
    assert!(offers >= 1, "the offer was lost");
    let accept = Accept::new().extension(PerMessageDeflate::new(server_config));
    let mut server = s
        .accept(Instant::ZERO, accept)
        .expect("a valid request is accepted");
    let response = server.poll_transmit().to_vec();
    server.advance_transmit(response.len());
    for piece in pieces(&response, &[usize::from(cut >> 4).max(1)]) {
        client
            .receive(piece)
            .unwrap_or_else(|e| panic!("the client refused the answer to its own offer: {e:?}"));
    }
    assert!(client.response().is_some(), "the response was not complete");
    let (mut client, _) = client.into_connection(Instant::ZERO).expect("complete");
    let ca = client.extensions()[0]
        .permessage_deflate()
        .expect("client agreed");
    let sa = server.extensions()[0]
        .permessage_deflate()
        .expect("server agreed");
    assert_eq!(ca.server_no_context_takeover, sa.server_no_context_takeover);
    assert_eq!(ca.client_no_context_takeover, sa.client_no_context_takeover);
    assert_eq!(ca.server_max_window_bits, sa.server_max_window_bits);
    assert!(
        sa.client_max_window_bits <= ca.client_max_window_bits,
        "{ca:?} {sa:?}"
    );
    // A message each way, twice (the second can refer to the first where takeover is kept).
    let text = "negotiated ".repeat(60);
    for _ in 0..2 {
        client.send_text(&text).expect("send");
        server.send_text(&text).expect("send");
    }
    let (mut ce, mut se) = (Events::default(), Events::default());
    let (mut c_out, mut s_out) = (Vec::new(), Vec::new());
    for _ in 0..8 {
        settle(&mut client, &mut ce, &mut c_out);
        settle(&mut server, &mut se, &mut s_out);
        let (cn, sn) = (c_out.len(), s_out.len());
        server.receive(Instant::ZERO, &c_out[..cn]);
        client.receive(Instant::ZERO, &s_out[..sn]);
        c_out.clear();
        s_out.clear();
    }
    let expected = vec![
        Ev::Text(text.clone().into_bytes()),
        Ev::Text(text.into_bytes()),
    ];
    assert_eq!(ce.list, expected, "client side");
    assert_eq!(se.list, expected, "server side");
}

fn raw_offer(data: &[u8]) {
    let [cfg, offer @ ..] = data else {
        return;
    };
    let Ok(offer) = std::str::from_utf8(offer) else {
        return;
    };
    if offer.contains(['\r', '\n']) {
        return;
    }
    let request = format!(
        "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: {offer}\r\n\r\n"
    );
    let mut s = ServerHandshake::new(server_options());
    if !server_receive(&mut s, request.as_bytes(), &[request.len()]) {
        return;
    }
    let (_, config) = deflate_configs(*cfg, cfg.rotate_left(3));
    let accept = Accept::new().extension(PerMessageDeflate::new(config));
    let Ok(conn) = s.accept(Instant::ZERO, accept) else {
        return;
    };
    let response = String::from_utf8(conn.poll_transmit().to_vec()).expect("ASCII response");
    let named = response.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("sec-websocket-extensions:")
    });
    assert_eq!(named, !conn.extensions().is_empty(), "{response}");
    for e in conn.extensions() {
        let a = e.permessage_deflate().expect("only permessage-deflate");
        assert!((8..=15).contains(&a.server_max_window_bits), "{a:?}");
        assert!((8..=15).contains(&a.client_max_window_bits), "{a:?}");
    }
}

/// Events and output (after the handshake's own bytes) of a connection.
fn finish(mut conn: Connection, skip: usize) -> (Vec<Ev>, Vec<u8>) {
    let mut events = Events::default();
    let mut out = Vec::new();
    settle(&mut conn, &mut events, &mut out);
    conn.receive_eof(Instant::from_millis(1));
    settle(&mut conn, &mut events, &mut out);
    (events.list, out.split_off(skip.min(out.len())))
}

fn server_handover(data: &[u8]) {
    let [deflate, cut_a, cut_b, frames @ ..] = data else {
        return;
    };
    let ext = (deflate & 1 != 0).then(PerMessageDeflate::default);
    let client = ClientHandshake::new("ws://example.com/chat", client_options(ext)).expect("valid");
    let mut buffer = client.poll_transmit().to_vec();
    let request_len = buffer.len();
    buffer.extend_from_slice(frames);
    let accept = || Accept::new().extension(PerMessageDeflate::default());

    // Reference: the parts, the leftover received at once by a connection built from them.
    let mut s = ServerHandshake::new(server_options());
    assert!(
        server_receive(&mut s, &buffer, &[buffer.len()]),
        "valid request"
    );
    let parts = s.accept_parts(accept()).expect("accepted");
    assert_eq!(
        parts.leftover, frames,
        "the leftover is not what followed the request"
    );
    let mut reference =
        Connection::with_extensions(Role::Server, server_options().config, parts.extensions);
    reference.receive(Instant::ZERO, &parts.leftover);
    let expected = finish(reference, 0);

    for (i, cut) in [*cut_a, *cut_b].into_iter().enumerate() {
        let mut s = ServerHandshake::new(server_options());
        let all = pieces(&buffer, &[usize::from(cut).max(1)]);
        // First way: every piece through the handshake; second: accept at Complete and feed
        // the rest to the connection.
        let mut rest = Vec::new();
        let mut complete = false;
        for piece in all {
            if complete && i == 1 {
                rest.push(piece);
                continue;
            }
            match s.receive(piece) {
                Ok(Status::Complete(())) => complete = true,
                Ok(Status::Partial) => {}
                Err(e) => panic!("valid request refused: {e:?}"),
            }
        }
        assert!(complete);
        let mut conn = s.accept(Instant::ZERO, accept()).expect("accepted");
        let head = conn.poll_transmit().len();
        assert!(head > 0 && request_len > 0);
        for piece in rest {
            conn.receive(Instant::ZERO, piece);
        }
        let got = finish(conn, head);
        assert_eq!(got.0, expected.0, "events differ with the cut");
        assert!(got.1 == expected.1, "output differs with the cut");
    }
    check_output(&expected.1, Role::Server, true, &expected.0, true);
}

fn client_handover(data: &[u8]) {
    let [cut_a, cut_b, frames @ ..] = data else {
        return;
    };
    let make = || {
        let mut client =
            ClientHandshake::new("ws://example.com/chat", client_options(None)).expect("valid");
        let request = client.poll_transmit().to_vec();
        client.advance_transmit(request.len());
        let mut s = ServerHandshake::new(server_options());
        assert!(server_receive(&mut s, &request, &[request.len()]));
        let parts = s.accept_parts(Accept::new()).expect("accepted");
        (client, parts.response)
    };
    let (_, response) = make();
    let mut buffer = response.clone();
    buffer.extend_from_slice(frames);
    let (client, _) = make();
    let mut reference = client;
    assert!(matches!(
        reference.receive(&response),
        Ok(Status::Complete(()))
    ));
    let (mut reference, _) = reference.into_connection(Instant::ZERO).expect("complete");
    reference.receive(Instant::ZERO, frames);
    let expected = finish(reference, 0);
    for cut in [*cut_a, *cut_b] {
        let (mut client, _) = make();
        for piece in pieces(&buffer, &[usize::from(cut).max(1)]) {
            client.receive(piece).expect("valid response refused");
        }
        let (conn, _) = client.into_connection(Instant::ZERO).expect("complete");
        let got = finish(conn, 0);
        assert_eq!(got.0, expected.0, "events differ with the cut");
        assert!(got.1 == expected.1, "output differs with the cut");
    }
    check_output(&expected.1, Role::Client, false, &expected.0, true);
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode & 3 {
        0 => negotiation(rest),
        1 => server_handover(rest),
        2 => raw_offer(rest),
        _ => client_handover(rest),
    }
});
