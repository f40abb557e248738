//! Property tests for bad input on the public entry points (issue 13): handshake builders,
//! configuration setters and send calls get a clear error, never a panic (a panic fails the
//! property). Each property states exactly which inputs are refused and with what.

use core::time::Duration;

use proptest::prelude::*;
use wsproto::deflate::{DeflateConfig, PerMessageDeflate};
use wsproto::frame::PreparedFrame;
use wsproto::handshake::{
    Accept, ClientHandshake, ClientOptions, HandshakeError, Proxy, Reject, Request, ServerOptions,
    Tunnel, negotiate,
};
use wsproto::handshake::{ServerHandshake, accept_key};
use wsproto::{
    CloseCode, Config, Connection, Event, Extension, Instant, MessageKind, Role, SendError,
    SendOptions, State, Status,
};

// ---- the rules, restated from RFC 7230 §3.2.6 and RFC 6455 ----

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn is_value(s: &str) -> bool {
    !s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

fn sendable(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

// ---- strategies ----

/// Mostly header-ish strings, with CR, LF, NUL, spaces, colons and non-ASCII mixed in.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[A-Za-z0-9!#$%&'*+.^_`|~-]{0,12}",
        2 => "[A-Za-z0-9 :;,=\"\t\r\n\u{0}é€-]{0,16}",
        1 => any::<String>(),
    ]
}

fn extreme_usize() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0usize),
        Just(1),
        Just(125),
        Just(126),
        Just(65_535),
        Just(65_536),
        Just(usize::MAX / 2),
        Just(usize::MAX - 1),
        Just(usize::MAX),
        0usize..100_000,
    ]
}

fn extreme_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::from_nanos(1)),
        Just(Duration::from_millis(1)),
        Just(Duration::from_secs(1)),
        Just(Duration::from_secs(u64::MAX / 2)),
        Just(Duration::from_nanos(u64::MAX)),
        Just(Duration::MAX),
    ]
}

fn extreme_config() -> impl Strategy<Value = Config> {
    (
        (
            extreme_usize(),
            extreme_usize(),
            extreme_usize(),
            extreme_usize(),
            extreme_usize(),
        ),
        (
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(extreme_usize()),
        ),
        (
            extreme_duration(),
            proptest::option::of(extreme_duration()),
            extreme_duration(),
            proptest::option::of(extreme_duration()),
        ),
    )
        .prop_map(
            |(
                (frame, message, fragments, queue, pongs),
                (auto_pong, assemble, fragment_size),
                (close, keepalive, grace, idle),
            )| {
                Config::new()
                    .max_frame_size(frame)
                    .max_message_size(message)
                    .max_fragments(fragments)
                    .max_send_queue(queue)
                    .max_pending_pongs(pongs)
                    .auto_pong(auto_pong)
                    .assemble_messages(assemble)
                    .fragment_size(fragment_size)
                    .close_timeout(close)
                    .keepalive(keepalive, grace)
                    .idle_timeout(idle)
            },
        )
}

fn deflate_config() -> impl Strategy<Value = DeflateConfig> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        extreme_usize(),
    )
        .prop_map(|(snct, cnct, sbits, cbits, level, threshold)| {
            DeflateConfig::new()
                .server_no_context_takeover(snct)
                .client_no_context_takeover(cnct)
                .server_max_window_bits(sbits)
                .client_max_window_bits(cbits)
                .level(level)
                .threshold(threshold)
        })
}

/// A valid upgrade request offering these subprotocols and extensions.
fn upgrade_request(protocols: &str, extensions: &str) -> Request {
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("Host", b"example.com"),
        ("Upgrade", b"websocket"),
        ("Connection", b"Upgrade"),
        ("Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", b"13"),
    ];
    if !protocols.is_empty() {
        headers.push(("Sec-WebSocket-Protocol", protocols.as_bytes()));
    }
    if !extensions.is_empty() {
        headers.push(("Sec-WebSocket-Extensions", extensions.as_bytes()));
    }
    Request::from_parts("GET", "/chat", &headers).unwrap()
}

/// Parses an HTTP response head completely (no header smuggled in, nothing left over but
/// the body): status and headers.
fn parse_response(bytes: &[u8]) -> (u16, Vec<(String, Vec<u8>)>, usize) {
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut slots);
    let n = match response.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!("not a complete response head: {other:?}: {bytes:?}"),
    };
    let headers = response
        .headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect();
    (response.code.unwrap(), headers, n)
}

/// Moves everything queued from `a` to `b` and back until both are quiet; drains events.
fn pump(a: &mut Connection, b: &mut Connection, now: Instant) {
    fn one_way(from: &mut Connection, to: &mut Connection, now: Instant) -> bool {
        let out = from.poll_transmit().to_vec();
        from.advance_transmit(out.len());
        to.receive(now, &out);
        while let Ok(Some(_)) = to.poll_event() {}
        while let Ok(Some(_)) = from.poll_event() {}
        !out.is_empty()
    }
    for _ in 0..64 {
        let there = one_way(a, b, now);
        let back = one_way(b, a, now);
        if !there && !back {
            break;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    // ---- client handshake builders ----

    /// An extra header is written as given, or refused with `InvalidHeader`: a token name and
    /// a value without CR, LF or NUL.
    #[test]
    fn client_header_is_written_or_refused(name in header_text(), value in header_text()) {
        let options = ClientOptions::new().no_extensions().header(name.clone(), value.clone());
        let result = ClientHandshake::new("ws://example.com/", options);
        if is_token(&name) && is_value(&value) {
            let hs = result.unwrap();
            let line = format!("\r\n{name}: {value}\r\n");
            prop_assert!(hs.poll_transmit().windows(line.len()).any(|w| w == line.as_bytes()));
        } else {
            prop_assert_eq!(result.err(), Some(HandshakeError::InvalidHeader));
        }
    }

    /// Subprotocols must be tokens; the origin a header value.
    #[test]
    fn client_protocols_and_origin(protocols in proptest::collection::vec(header_text(), 0..4), origin in proptest::option::of(header_text())) {
        let mut options = ClientOptions::new();
        for p in &protocols {
            options = options.protocol(p.clone());
        }
        if let Some(o) = &origin {
            options = options.origin(o.clone());
        }
        let valid = protocols.iter().all(|p| is_token(p)) && origin.as_deref().is_none_or(is_value);
        let result = ClientHandshake::new("ws://example.com/", options);
        if valid {
            prop_assert!(result.is_ok());
        } else {
            prop_assert_eq!(result.err(), Some(HandshakeError::InvalidHeader));
        }
    }

    /// Any URL: a handshake whose request is one well-formed request line and head (nothing
    /// smuggled through the path, query or host), or `InvalidUrl`.
    #[test]
    fn client_url_is_parsed_or_refused(url in prop_oneof![
        3 => "(ws|wss|WS|http)://[a-z0-9.:\\[\\]@#?/%é -]{0,24}",
        1 => "ws://[a-z]{1,8}(:[0-9]{0,7})?(/[ -~]{0,16})?",
        1 => "ws://x/[\r\n\t\u{0}a-z ]{0,8}",
        1 => any::<String>(),
    ]) {
        match ClientHandshake::new(&url, ClientOptions::new().no_extensions()) {
            Ok(hs) => {
                let mut slots = [httparse::EMPTY_HEADER; 16];
                let mut request = httparse::Request::new(&mut slots);
                let parsed = request.parse(hs.poll_transmit());
                prop_assert!(matches!(parsed, Ok(httparse::Status::Complete(n)) if n == hs.poll_transmit().len()),
                    "{:?} gave {:?}", url, String::from_utf8_lossy(hs.poll_transmit()));
                prop_assert_eq!(request.path, Some(hs.target()));
                prop_assert!(hs.target().starts_with('/'));
                prop_assert_eq!(request.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("host")).count(), 1);
            }
            Err(e) => prop_assert!(matches!(e, HandshakeError::InvalidUrl(_)), "{url:?}: {e:?}"),
        }
    }

    /// Response caps from 0 to `usize::MAX`: a valid 101 is taken or refused as too large,
    /// never a panic or an allocation of the cap.
    #[test]
    fn client_response_caps(bytes in extreme_usize(), count in extreme_usize()) {
        let options = ClientOptions::new().no_extensions().max_response_bytes(bytes).max_headers(count);
        let mut hs = ClientHandshake::new("ws://example.com/", options).unwrap();
        let head = String::from_utf8(hs.poll_transmit().to_vec()).unwrap();
        let key = head.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).unwrap();
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(key.as_bytes())
        );
        match hs.receive(response.as_bytes()) {
            Ok(Status::Complete(())) => prop_assert!(bytes >= response.len() && count >= 3),
            Ok(Status::Partial) => prop_assert!(false, "a whole response is partial"),
            Err(e) => prop_assert!(
                matches!(e, HandshakeError::HeadersTooLarge | HandshakeError::TooManyHeaders),
                "{e:?}"
            ),
        }
    }

    /// permessage-deflate with any parameters: window bits clamped to 8..=15, level to
    /// 0..=10; the offer is a valid header value; a server answers it or declines.
    #[test]
    fn deflate_parameters_are_clamped(client in deflate_config(), server in deflate_config()) {
        for c in [client, server] {
            prop_assert!((8..=15).contains(&c.get_server_max_window_bits()));
            prop_assert!((8..=15).contains(&c.get_client_max_window_bits()));
            prop_assert!(c.get_level() <= 10);
        }
        let offer = PerMessageDeflate::new(client);
        prop_assert!(is_value(&offer.offer()));
        let hs = ClientHandshake::new("ws://example.com/", ClientOptions::new().extension(PerMessageDeflate::new(client)));
        prop_assert!(hs.is_ok());
        let request = upgrade_request("", &offer.offer());
        let negotiated = negotiate(&request, Accept::new().extension(PerMessageDeflate::new(server))).unwrap();
        prop_assert!(negotiated.extensions.len() <= 1);
    }

    /// `Proxy::new`: an `http://` proxy or `InvalidUrl`; a tunnel request to a host from a
    /// URL is one well-formed request head.
    #[test]
    fn proxy_urls(url in prop_oneof![
        2 => "(http|HTTP|https|ws)://([a-z%0-9:]{0,8}@)?[a-z0-9.\\[\\]:]{0,16}(/[a-z?#]{0,4})?",
        1 => any::<String>(),
    ], user in any::<String>(), password in any::<String>()) {
        match Proxy::new(&url) {
            Ok(proxy) => {
                let proxy = proxy.basic_auth(&user, &password);
                prop_assert!(proxy.has_credentials());
                let tunnel = Tunnel::new(&proxy, "example.com", 443).unwrap();
                let mut slots = [httparse::EMPTY_HEADER; 8];
                let mut request = httparse::Request::new(&mut slots);
                prop_assert!(matches!(request.parse(tunnel.poll_transmit()), Ok(httparse::Status::Complete(_))));
                prop_assert_eq!(request.method, Some("CONNECT"));
            }
            Err(e) => prop_assert!(matches!(e, HandshakeError::InvalidUrl(_)), "{url:?}: {e:?}"),
        }
    }

    /// `Tunnel::new` with any host: one well-formed `CONNECT` request whose only header is
    /// `Host` (nothing smuggled in through the host), or `InvalidUrl` for a host that is not a
    /// registered name or an IPv6 address. Regression: any string used to go into the
    /// request line and the `Host` header as it was.
    #[test]
    fn tunnel_hosts(host in prop_oneof![header_text(), "[0-9a-f:.]{1,12}", "[a-z0-9.-]{1,12}"], port in any::<u16>()) {
        let proxy = Proxy::new("http://127.0.0.1:3128").unwrap();
        let reg_name = host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&b));
        let v6 = host.contains(':') && host.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        let tunnel = match Tunnel::new(&proxy, &host, port) {
            Ok(tunnel) => {
                prop_assert!(!host.is_empty() && (reg_name || v6));
                tunnel
            }
            Err(e) => {
                prop_assert!(host.is_empty() || !(reg_name || v6));
                prop_assert!(matches!(e, HandshakeError::InvalidUrl(_)));
                return Ok(());
            }
        };
        let bytes = tunnel.poll_transmit();
        let mut slots = [httparse::EMPTY_HEADER; 8];
        let mut request = httparse::Request::new(&mut slots);
        let parsed = request.parse(bytes);
        prop_assert!(matches!(parsed, Ok(httparse::Status::Complete(n)) if n == bytes.len()),
            "{:?}: {:?}", host, String::from_utf8_lossy(bytes));
        prop_assert_eq!(request.method, Some("CONNECT"));
        prop_assert_eq!(request.headers.len(), 1);
    }

    // ---- server builders ----

    /// `Reject`: any status, reason, headers and body make one well-formed response: the
    /// status (500 outside 200..=599), the reason if it is a valid value, the valid headers
    /// only, and exactly the body.
    #[test]
    fn reject_is_always_well_formed(
        status in any::<u16>(),
        reason in proptest::option::of(header_text()),
        headers in proptest::collection::vec((header_text(), header_text()), 0..4),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut reject = Reject::new(status).body(body.clone());
        if let Some(r) = &reason {
            reject = reject.reason(r.clone());
        }
        for (n, v) in &headers {
            reject = reject.header(n.clone(), v.clone());
        }
        let bytes = reject.to_bytes();
        let (code, parsed, n) = parse_response(&bytes);
        let expected = if (200..=599).contains(&status) { status } else { 500 };
        prop_assert_eq!(code, expected);
        prop_assert_eq!(reject.effective_status(), expected);
        prop_assert_eq!(&bytes[n..], &body[..]);
        let lengths: Vec<_> = parsed.iter().filter(|(n, _)| n.eq_ignore_ascii_case("content-length")).collect();
        prop_assert_eq!(lengths.len(), 1);
        prop_assert_eq!(&lengths[0].1, &body.len().to_string().into_bytes());
        for (n, v) in &headers {
            let valid = is_token(n) && is_value(v);
            let special = n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("connection");
            if !valid {
                // Left out: nothing of an invalid header reaches the wire as a header line.
                prop_assert!(is_token(n) || !parsed.iter().any(|(pn, _)| pn == n));
            } else if !special {
                prop_assert!(parsed.iter().any(|(pn, pv)| pn == n && pv == v.trim_matches([' ', '\t']).as_bytes()));
            }
        }
    }

    /// `Accept`: extra headers valid or `InvalidHeader`; a subprotocol offered or
    /// `ProtocolNotOffered`; the header editor's output checked the same way.
    #[test]
    fn accept_headers_and_protocol(
        headers in proptest::collection::vec((header_text(), header_text()), 0..3),
        protocol in proptest::option::of(header_text()),
        edited in proptest::option::of((header_text(), header_text())),
    ) {
        let request = upgrade_request("chat, superchat", "");
        let mut accept = Accept::new();
        for (n, v) in &headers {
            accept = accept.header(n.clone(), v.clone());
        }
        if let Some(p) = &protocol {
            accept = accept.protocol(p.clone());
        }
        if let Some((n, v)) = edited.clone() {
            accept = accept.edit_headers(move |h| h.push((n, v)));
        }
        let result = negotiate(&request, accept);
        let offered = protocol.as_deref().is_none_or(|p| p == "chat" || p == "superchat");
        let valid = headers.iter().chain(edited.iter()).all(|(n, v)| is_token(n) && is_value(v));
        match result {
            Ok(n) => {
                prop_assert!(offered && valid);
                let bytes = n.response.to_bytes();
                let (code, _, len) = parse_response(&bytes);
                prop_assert_eq!((code, len), (101, bytes.len()));
            }
            Err(HandshakeError::ProtocolNotOffered) => prop_assert!(!offered),
            Err(HandshakeError::InvalidHeader) => prop_assert!(offered && !valid),
            Err(e) => prop_assert!(false, "{e:?}"),
        }
    }

    /// Server caps from 0 to `usize::MAX`: a valid request completes or is refused as too
    /// large (431), never a panic.
    #[test]
    fn server_request_caps(bytes in extreme_usize(), count in extreme_usize(), config in extreme_config()) {
        let options = ServerOptions::new().max_header_bytes(bytes).max_headers(count).config(config);
        let mut hs = ServerHandshake::new(options);
        let request = b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        match hs.receive(request) {
            Ok(Status::Complete(())) => {
                let conn = hs.accept(Instant::ZERO, Accept::new()).unwrap();
                prop_assert_eq!(conn.state(), State::Open);
            }
            Ok(Status::Partial) => prop_assert!(false, "a whole request is partial"),
            Err(e) => {
                prop_assert!(matches!(e, HandshakeError::HeadersTooLarge | HandshakeError::TooManyHeaders), "{e:?}");
                prop_assert_eq!(e.status(), Some(431));
            }
        }
    }

    /// `Request::from_parts` with any method, target and headers: a request or a handshake
    /// error that maps to an HTTP status (so it can be answered).
    #[test]
    fn request_from_any_parts(
        method in prop_oneof![Just("GET".to_string()), header_text()],
        target in prop_oneof![Just("/".to_string()), "/[ -~]{0,12}", any::<String>()],
        extra in proptest::collection::vec((header_text(), proptest::collection::vec(any::<u8>(), 0..24)), 0..4),
    ) {
        let mut headers: Vec<(&str, &[u8])> = vec![
            ("Host", b"x"),
            ("Upgrade", b"websocket"),
            ("Connection", b"Upgrade"),
            ("Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", b"13"),
        ];
        for (n, v) in &extra {
            headers.push((n.as_str(), v.as_slice()));
        }
        match Request::from_parts(&method, &target, &headers) {
            Ok(r) => {
                prop_assert_eq!(r.method(), "GET");
                let _ = negotiate(&r, Accept::new().extension(PerMessageDeflate::default()));
            }
            Err(e) => prop_assert!(e.status().is_some() && e.to_reject().is_some(), "{e:?}"),
        }
    }

    // ---- configuration and send calls ----

    /// Any configuration: a client/server pair sends, receives, times out and closes without
    /// a panic; data sends are accepted when the queue is empty (whatever the cap), or refused
    /// with the documented error.
    #[test]
    fn extreme_configs_never_panic(
        client in extreme_config(),
        server in extreme_config(),
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..4),
        times in proptest::collection::vec(any::<u64>(), 1..4),
    ) {
        let mut c = Connection::new(Role::Client, client);
        let mut s = Connection::new(Role::Server, server);
        let mut now = Instant::ZERO;
        for p in &payloads {
            let empty = c.buffered_amount() == 0;
            // Closed: the peer failed the connection (a limit of 0 bytes, say) or it closed.
            let open = c.state() == State::Open;
            match c.send_binary(p) {
                Ok(()) => prop_assert!(open),
                Err(SendError::Full) => prop_assert!(!empty, "refused on an empty queue"),
                Err(SendError::Closed) => prop_assert!(!open),
                Err(e) => prop_assert!(false, "{e:?}"),
            }
            let open = s.state() == State::Open;
            match s.send_message(MessageKind::Text, &p.iter().map(|b| b & 0x7f).collect::<Vec<_>>(), SendOptions::new()) {
                Ok(()) => prop_assert!(open),
                Err(SendError::Full) => {}
                Err(SendError::Closed) => prop_assert!(!open),
                Err(e) => prop_assert!(false, "{e:?}"),
            }
            pump(&mut c, &mut s, now);
        }
        let mut sorted = times.clone();
        sorted.sort_unstable();
        for t in sorted {
            now = Instant::from_nanos(t).max(now);
            if let Some(deadline) = c.poll_timeout() {
                c.handle_timeout(deadline.max(now));
            }
            s.handle_timeout(now);
            pump(&mut c, &mut s, now);
        }
        let _ = c.close(now, CloseCode::NORMAL, "bye");
        pump(&mut c, &mut s, now);
        let _ = c.poll_timeout();
        c.handle_timeout(Instant::from_nanos(u64::MAX));
        s.handle_timeout(Instant::from_nanos(u64::MAX));
    }

    /// `close` with any code and reason: `InvalidCloseCode` for codes that may not be sent
    /// (1005 only with an empty reason), `ReasonTooLong` over 123 bytes, else sent once.
    #[test]
    fn close_codes_and_reasons(code in any::<u16>(), reason in prop_oneof![".{0,40}", "é{60,64}", "[a-z]{120,130}"]) {
        let mut c = Connection::new(Role::Server, Config::new());
        let result = c.close(Instant::ZERO, CloseCode::from(code), &reason);
        if reason.len() > 123 {
            prop_assert_eq!(result, Err(SendError::ReasonTooLong));
        } else if sendable(code) || (code == 1005 && reason.is_empty()) {
            prop_assert_eq!(result, Ok(()));
            prop_assert_eq!(c.close(Instant::ZERO, CloseCode::NORMAL, ""), Err(SendError::Closed));
            prop_assert_eq!(c.send_text("late"), Err(SendError::Closed));
        } else {
            prop_assert_eq!(result, Err(SendError::InvalidCloseCode(CloseCode::from(code))));
        }
    }

    /// `drop_connection` with any code and reason (reasons over 123 bytes, split characters)
    /// ends the connection; a Close frame that goes out is valid.
    #[test]
    fn drop_connection_any_code_and_reason(code in any::<u16>(), reason in prop_oneof![".{0,40}", "é{60,70}", "[a-z]{120,200}"], skip in any::<bool>()) {
        let mut c = Connection::new(Role::Server, Config::new());
        c.drop_connection(CloseCode::from(code), &reason, skip);
        prop_assert_eq!(c.state(), State::Closed);
        let out = c.poll_transmit().to_vec();
        if !out.is_empty() {
            // A whole Close frame whose payload fits a control frame and whose reason is UTF-8.
            prop_assert_eq!(out[0], 0x88);
            prop_assert!(usize::from(out[1]) <= 125 && out.len() == 2 + usize::from(out[1]));
            prop_assert!(std::str::from_utf8(&out[4..]).is_ok());
        }
        prop_assert!(c.poll_event().is_err());
    }

    /// Pings and pongs: over 125 bytes `ControlTooLong`, else queued.
    #[test]
    fn control_payloads(len in 0usize..300, pong in any::<bool>()) {
        let mut c = Connection::new(Role::Client, Config::new());
        let data = vec![0x5a; len];
        let result = if pong { c.send_pong(&data) } else { c.send_ping(&data) };
        if len > 125 {
            prop_assert_eq!(result, Err(SendError::ControlTooLong));
        } else {
            prop_assert_eq!(result, Ok(()));
        }
    }

    /// Fragments in any order, of any kind, with any bytes: the documented errors
    /// (`MessageInProgress`, `NoMessageInProgress`, `InvalidUtf8`), and what was accepted
    /// arrives as whole, valid messages.
    #[test]
    fn fragment_sequences(steps in proptest::collection::vec((any::<bool>(), any::<bool>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..8)), 0..12)) {
        let mut c = Connection::new(Role::Client, Config::new());
        let mut s = Connection::new(Role::Server, Config::new());
        let mut open: Option<MessageKind> = None;
        for (whole, text, fin, data) in steps {
            let kind = if text { MessageKind::Text } else { MessageKind::Binary };
            let result = if whole {
                c.send_message(kind, &data, SendOptions::new())
            } else {
                c.send_fragment(kind, &data, fin, SendOptions::new())
            };
            match result {
                Ok(()) => {
                    if !whole {
                        open = if fin { None } else { Some(kind) };
                    }
                }
                Err(SendError::MessageInProgress) => prop_assert!(whole && open.is_some()),
                Err(SendError::NoMessageInProgress) => prop_assert!(!whole && open.is_some_and(|k| k != kind)),
                Err(SendError::InvalidUtf8) => {
                    prop_assert!(text);
                    // A text fragment that cannot be valid UTF-8 abandons nothing: the open
                    // message stays open, a whole message is refused.
                }
                Err(e) => prop_assert!(false, "{e:?}"),
            }
            let out = c.poll_transmit().to_vec();
            c.advance_transmit(out.len());
            s.receive(Instant::ZERO, &out);
            loop {
                match s.poll_event() {
                    Ok(Some(Event::Text { data, .. })) => prop_assert!(std::str::from_utf8(data.as_bytes()).is_ok()),
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => prop_assert!(false, "the peer failed: {e:?}"),
                }
            }
        }
    }

    /// Prepared frames of any payload, sent by a server with and without deflate.
    #[test]
    fn prepared_frames(data in proptest::collection::vec(any::<u8>(), 0..2000), text in any::<bool>(), deflate in any::<bool>(), queue in extreme_usize()) {
        let frame = if text {
            PreparedFrame::text(String::from_utf8_lossy(&data).into_owned())
        } else {
            PreparedFrame::binary(data.clone())
        };
        let frame = if deflate { frame.with_deflate() } else { frame };
        let mut s = Connection::new(Role::Server, Config::new().max_send_queue(queue));
        match s.send_prepared(&frame) {
            Ok(()) => {}
            Err(e) => prop_assert!(false, "{e:?} on an empty queue"),
        }
    }
}

/// Regression: with `max_send_queue(0)` every send was refused (`Full` on an empty queue), so
/// the async adapters' `send` waited forever for room. Now one message goes at a time.
#[cfg(feature = "tokio")]
#[test]
fn a_send_queue_cap_of_zero_sends_one_message_at_a_time() {
    use wsproto::io::{Message, on_tokio};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (a, b) = tokio::io::duplex(64);
        let zero = Config::new().max_send_queue(0);
        let options = ClientOptions::new().no_extensions().config(zero);
        let (client, server) = tokio::join!(
            on_tokio::connect_with(a, "ws://x/", options),
            on_tokio::accept(b)
        );
        let (mut client, mut server) = (client.unwrap().0, server.unwrap());
        let echo = async {
            let mut got = Vec::new();
            while let Some(Ok(m)) = server.recv().await {
                if m.is_data() {
                    got.push(m);
                }
            }
            got
        };
        let send = async {
            for i in 0..3 {
                client
                    .send(Message::text(format!("message {i} of a long enough text")))
                    .await
                    .unwrap();
            }
            client.close(CloseCode::NORMAL, "").await.unwrap();
        };
        let bounded = tokio::time::timeout(Duration::from_secs(10), async {
            tokio::join!(send, echo).1
        });
        let got = bounded.await.expect("sends with a cap of 0 complete");
        assert_eq!(got.len(), 3);
    });
}
