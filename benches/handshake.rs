//! Opening-handshake parsing cost: a typical request and response, whole and one byte at a
//! time, and a near-cap (8 KiB) header block fed one byte at a time, which must cost about as
//! much as feeding it whole (linear parsing; tungstenite CVE-2023-43669 was quadratic here).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wsproto::Config;
use wsproto::handshake::{
    Accept, ClientHandshake, ClientOptions, ServerHandshake, ServerOptions, accept_key,
};

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\
\r\n";

fn sample_nonce(buf: &mut [u8]) {
    for (b, s) in buf.iter_mut().zip(b"the sample nonce".iter().cycle()) {
        *b = *s;
    }
}

/// A valid request padded with headers up to just under 8 KiB.
fn big_request() -> Vec<u8> {
    let mut v = REQUEST[..REQUEST.len() - 2].to_vec();
    let mut i = 0;
    while v.len() < (8 << 10) - 200 {
        v.extend_from_slice(format!("X-Pad-{i}: {}\r\n", "p".repeat(400)).as_bytes());
        i += 1;
    }
    v.extend_from_slice(b"\r\n");
    v
}

fn server(input: &[u8], chunk: usize) -> usize {
    let mut s = ServerHandshake::new(ServerOptions::default());
    for piece in input.chunks(chunk) {
        let _ = s.receive(piece);
    }
    let parts = s.accept_parts(Accept::new().protocol("chat")).unwrap();
    parts.response.len()
}

fn client(input: &[u8], chunk: usize) -> usize {
    let options = ClientOptions::new()
        .protocol("chat")
        .config(Config::new().random(sample_nonce));
    let mut c = ClientHandshake::new("ws://server.example.com/chat", options).unwrap();
    for piece in input.chunks(chunk) {
        let _ = c.receive(piece);
    }
    c.response().unwrap().headers.len()
}

fn benches(c: &mut Criterion) {
    c.bench_function("accept_key", |b| {
        b.iter(|| accept_key(black_box(b"dGhlIHNhbXBsZSBub25jZQ==")))
    });

    let big = big_request();
    let mut g = c.benchmark_group("server_request");
    for (name, input) in [("typical", REQUEST), ("8k", &big[..])] {
        g.throughput(Throughput::Bytes(input.len() as u64));
        for chunk in [input.len(), 1] {
            let id = BenchmarkId::new(name, if chunk == 1 { "bytewise" } else { "whole" });
            g.bench_with_input(id, input, |b, i| b.iter(|| server(black_box(i), chunk)));
        }
    }
    g.finish();

    let mut g = c.benchmark_group("client_response");
    g.throughput(Throughput::Bytes(RESPONSE.len() as u64));
    for chunk in [RESPONSE.len(), 1] {
        let id = BenchmarkId::new("typical", if chunk == 1 { "bytewise" } else { "whole" });
        g.bench_with_input(id, RESPONSE, |b, i| b.iter(|| client(black_box(i), chunk)));
    }
    g.finish();
}

criterion_group!(handshake, benches);
criterion_main!(handshake);
