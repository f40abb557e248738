//! Fuzz target `handshake_response`: the client's response parser never panics, and any split
//! of the input gives the same outcome (the first byte picks the chunk size).
#![no_main]

use wsproto::handshake::{ClientHandshake, ClientOptions, HandshakeError, Response};
use wsproto::{Config, Status};

/// The RFC 6455 §1.3 sample nonce, so a fuzzer can find the matching accept key in the corpus.
fn sample_nonce(buf: &mut [u8]) {
    for (b, s) in buf.iter_mut().zip(b"the sample nonce".iter().cycle()) {
        *b = *s;
    }
}

type Outcome = (
    Option<Result<(), HandshakeError>>,
    Option<Response>,
    Option<Vec<u8>>,
);

fn run(data: &[u8], chunk: usize) -> Outcome {
    let options = ClientOptions::new()
        .protocol("chat")
        .max_response_bytes(2048)
        .max_headers(32)
        .config(Config::new().random(sample_nonce));
    let mut c = ClientHandshake::new("ws://server.example.com/chat", options).expect("valid URL");
    let mut first = None;
    for piece in data.chunks(chunk.max(1)) {
        match c.receive(piece) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(())) => {
                first.get_or_insert(Ok(()));
            }
            Err(e) => {
                first.get_or_insert(Err(e));
            }
        }
    }
    if first.is_none() {
        first = c.receive_eof().err().map(Err);
    }
    let response = c.response().cloned();
    if let Some(r) = &response {
        let _ = (r.location(), r.protocol(), r.header("x"));
    }
    let leftover = c.into_parts().ok().map(|p| p.leftover);
    (first, response, leftover)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let whole = run(data, data.len());
    let split = run(data, usize::from(split));
    assert_eq!(whole, split);
});
