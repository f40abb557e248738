//! Receive throughput as a server sees it: masked client frames pushed with `receive`, then
//! drained with `poll_event` (unmask in place, UTF-8 validation for text, zero-copy lending).

use core::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wsproto::frame::{FrameHeader, OpCode, apply_mask};
use wsproto::{Config, Connection, Event, Instant, Role};

const SIZES: [(usize, &str); 4] = [
    (16, "16B"),
    (1024, "1KiB"),
    (64 * 1024, "64KiB"),
    (1024 * 1024, "1MiB"),
];

/// `count` masked frames of `size` bytes; text is ASCII with some 2- and 3-byte characters.
fn frames(text: bool, size: usize, count: usize) -> Vec<u8> {
    let payload: Vec<u8> = if text {
        "websocket ascii text, é and € too. "
            .bytes()
            .cycle()
            .take(size)
            .collect()
    } else {
        (0..size).map(|i| (i * 31) as u8).collect()
    };
    // Keep text valid when cut at `size`.
    let payload = if text {
        let mut s = String::from_utf8_lossy(&payload).into_owned();
        while s.len() > size {
            s.pop();
        }
        while s.len() < size {
            s.push('a');
        }
        s.into_bytes()
    } else {
        payload
    };
    let key = [0x12, 0x34, 0x56, 0x78];
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: if text { OpCode::Text } else { OpCode::Binary },
        mask: Some(key),
        payload_len: size as u64,
    };
    let mut head = [0u8; FrameHeader::MAX_LEN];
    let n = header.encode(&mut head);
    let mut one = head[..n].to_vec();
    let start = one.len();
    one.extend_from_slice(&payload);
    apply_mask(&mut one[start..], key, 0);
    one.repeat(count)
}

fn bench(c: &mut Criterion) {
    for text in [false, true] {
        let mut group = c.benchmark_group(if text { "decode_text" } else { "decode_binary" });
        for (size, name) in SIZES {
            // About 1 MiB per iteration.
            let count = ((1 << 20) / size).max(1);
            let input = frames(text, size, count);
            let mut conn = Connection::new(Role::Server, Config::new());
            group.throughput(Throughput::Bytes((size * count) as u64));
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| {
                    // Push as a socket read loop would, 64 KiB at a time.
                    let mut got = 0;
                    for chunk in input.chunks(64 * 1024) {
                        conn.receive(Instant::ZERO, chunk);
                        while let Some(event) = conn.poll_event().unwrap() {
                            match event {
                                Event::Text { data, .. } => got += black_box(data).len(),
                                Event::Binary { data, .. } => got += black_box(data).len(),
                                _ => {}
                            }
                        }
                    }
                    assert_eq!(got, size * count);
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
