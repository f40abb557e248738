//! Fuzz target `handshake_request`: the server's request parser never panics, and any split of
//! the input gives the same outcome (the first byte picks the chunk size).
#![no_main]

use wsproto::Status;
use wsproto::handshake::{Accept, HandshakeError, ServerHandshake, ServerOptions};

type Outcome = (
    Option<Result<(), HandshakeError>>,
    Option<wsproto::handshake::Request>,
    Vec<u8>,
);

fn run(data: &[u8], chunk: usize) -> Outcome {
    let mut s = ServerHandshake::new(ServerOptions::new().max_header_bytes(4096).max_headers(32));
    let mut first = None;
    for piece in data.chunks(chunk.max(1)) {
        match s.receive(piece) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(())) => {
                first.get_or_insert(Ok(()));
            }
            Err(e) => {
                first.get_or_insert(Err(e));
            }
        }
    }
    let _ = s.receive_eof();
    let request = s.request().cloned();
    if let Some(r) = &request {
        // Exercise every accessor of the request view.
        let _ = (
            r.method(),
            r.path(),
            r.query(),
            r.host(),
            r.origin(),
            r.version(),
            r.key(),
        );
        let _ = (
            r.protocols().len(),
            r.extensions()
                .iter()
                .map(|e| e.params().len())
                .sum::<usize>(),
        );
        let _ = (r.headers().count(), r.cookies().count(), r.header("x"));
    }
    let out = s.poll_transmit().to_vec();
    (first, request, out)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let whole = run(data, data.len());
    let split = run(data, usize::from(split));
    assert_eq!(whole, split);
    if let Some(Ok(())) = whole.0 {
        let mut s = ServerHandshake::new(ServerOptions::default());
        let _ = s.receive(data);
        let protocol = s.request().and_then(|r| r.protocols().first().cloned());
        let accept = Accept {
            protocol,
            ..Accept::default()
        };
        let parts = s
            .accept_parts(accept)
            .expect("a valid request can be accepted");
        assert!(
            parts
                .response
                .starts_with(b"HTTP/1.1 101 Switching Protocols\r\n")
        );
    }
});
