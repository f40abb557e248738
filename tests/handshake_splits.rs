//! Opening handshake: "any split gives the same result" properties for the server (requests)
//! and the client (responses).

mod common;

use common::handshake::*;
use proptest::prelude::*;
use wsproto::Status;
use wsproto::handshake::*;

fn split_points(len: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..=len, 0..8).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

fn chunks<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts {
        out.push(&input[at..c]);
        at = c;
    }
    out.push(&input[at..]);
    out
}

type ServerOutcome = (
    Option<Result<(), HandshakeError>>,
    Option<Request>,
    Vec<u8>,
    Option<Vec<u8>>,
);

/// Server outcome: the first non-Partial result, the request, the output, the leftover.
fn server_run(pieces: &[&[u8]]) -> ServerOutcome {
    let mut s = ServerHandshake::new(ServerOptions::new().max_header_bytes(300).max_headers(8));
    let mut result = None;
    for p in pieces {
        match s.receive(p) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(())) => {
                result.get_or_insert(Ok(()));
            }
            Err(e) => {
                result.get_or_insert(Err(e));
            }
        }
    }
    let req = s.request().cloned();
    let out = s.poll_transmit().to_vec();
    let leftover = s.accept_parts(Accept::new()).ok().map(|p| p.leftover);
    (result, req, out, leftover)
}

fn client_run(pieces: &[&[u8]]) -> (Option<Result<(), HandshakeError>>, Option<Response>) {
    let mut c = client(
        "ws://h/",
        ClientOptions::new()
            .max_response_bytes(200)
            .extension(Toy::default()),
    );
    let mut result = None;
    for p in pieces {
        match c.receive(p) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(())) => {
                result.get_or_insert(Ok(()));
            }
            Err(e) => {
                result.get_or_insert(Err(e));
            }
        }
    }
    (result, c.response().cloned())
}

fn request_inputs() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just({
            let mut v = RFC_REQUEST.to_vec();
            v.extend_from_slice(b"\x81\x80abcd");
            v
        }),
        Just(good_with(0, Some("POST / HTTP/1.1"))),
        Just(good_with(5, Some("Sec-WebSocket-Version: 7"))),
        Just(request_with(&[
            GOOD[0],
            GOOD[1],
            "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            GOOD[2],
            GOOD[3],
            GOOD[4],
            GOOD[5]
        ])),
        Just(b"GET / HTTP/1.1\nHost: a\n\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..400),
        proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'a'), Just(b':'), Just(b' ')],
            0..100
        ),
    ]
}

fn response_inputs() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just({
            let mut v = with_header("Sec-WebSocket-Extensions: x-toy; level=1");
            v.extend_from_slice(b"\x81\x00");
            v
        }),
        Just(b"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 3\r\n\r\nabcdef".to_vec()),
        Just(b"HTTP/1.1 500 Oops\r\n\r\nbody".to_vec()),
        Just(with_header("Sec-WebSocket-Protocol: x")),
        proptest::collection::vec(any::<u8>(), 0..300),
    ]
}

proptest! {
    #[test]
    fn server_any_split_same_result(input in request_inputs(), cuts in split_points(400)) {
        let cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
        let whole = server_run(&[&input]);
        let split = server_run(&chunks(&input, &cuts));
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn client_any_split_same_result(input in response_inputs(), cuts in split_points(300)) {
        let cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
        let whole = client_run(&[&input]);
        let split = client_run(&chunks(&input, &cuts));
        prop_assert_eq!(whole, split);
    }
}
