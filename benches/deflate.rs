//! permessage-deflate throughput: compress and decompress 64 KiB JSON-like messages.
//!
//! Each iteration runs a sequence of 16 different messages through a fresh extension instance,
//! so context takeover sees realistic (similar, not identical) history. Figures are recorded in
//! docs/performance.md. Run with `cargo bench --bench deflate`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use wsproto::Extension;
use wsproto::deflate::{DeflateConfig, PerMessageDeflate};
use wsproto::extension::{ExtensionParam, RSV1};

const LEN: usize = 64 * 1024;
const COUNT: usize = 16;

fn json_like(len: usize, seed: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 128);
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    out.push(b'[');
    let mut i = 0u32;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let item = format!(
            "{{\"id\":{},\"name\":\"user{}\",\"active\":{},\"score\":{}.{},\"tags\":[\"t{}\",\"t{}\"]}},",
            i,
            x % 1000,
            x % 2 == 0,
            x % 97,
            x % 10,
            x % 13,
            (x >> 8) % 17
        );
        out.extend_from_slice(item.as_bytes());
        i += 1;
    }
    out.truncate(len - 1);
    out.push(b']');
    out
}

/// A server-side instance as negotiated for `offer`.
fn server(config: DeflateConfig, offer: &[ExtensionParam<'_>]) -> PerMessageDeflate {
    let mut ext = PerMessageDeflate::new(config.threshold(0));
    ext.accept_offer(offer).expect("accepted");
    ext
}

/// The client side of the same agreement (decodes what the server sent).
fn client(offer: &[ExtensionParam<'_>]) -> PerMessageDeflate {
    let no_takeover = !offer.is_empty() && offer[0].name == "server_no_context_takeover";
    let mut ext =
        PerMessageDeflate::new(DeflateConfig::new().server_no_context_takeover(no_takeover));
    if no_takeover {
        ext.accept_response(NO_TAKEOVER).expect("accepted");
    }
    ext
}

struct Case {
    name: &'static str,
    config: DeflateConfig,
    offer: &'static [ExtensionParam<'static>],
}

const TAKEOVER: &[ExtensionParam<'static>] = &[];
const NO_TAKEOVER: &[ExtensionParam<'static>] = &[
    ExtensionParam {
        name: "server_no_context_takeover",
        value: None,
    },
    ExtensionParam {
        name: "client_no_context_takeover",
        value: None,
    },
];
const WINDOW_10: &[ExtensionParam<'static>] = &[ExtensionParam {
    name: "server_max_window_bits",
    value: Some("10"),
}];
const WINDOW_8: &[ExtensionParam<'static>] = &[ExtensionParam {
    name: "server_max_window_bits",
    value: Some("8"),
}];

fn cases() -> Vec<Case> {
    let level1 = DeflateConfig::new();
    let level6 = DeflateConfig::new().level(6);
    vec![
        Case {
            name: "level1",
            config: level1,
            offer: TAKEOVER,
        },
        Case {
            name: "level6",
            config: level6,
            offer: TAKEOVER,
        },
        Case {
            name: "level1-no-takeover",
            config: level1,
            offer: NO_TAKEOVER,
        },
        Case {
            name: "level1-window10",
            config: level1,
            offer: WINDOW_10,
        },
        Case {
            name: "level1-window8",
            config: level1,
            offer: WINDOW_8,
        },
    ]
}

fn compress_all(ext: &mut PerMessageDeflate, msgs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    msgs.iter()
        .map(|m| {
            assert_eq!(ext.encode_start(Some(m.len()), true), Some(RSV1));
            let mut out = Vec::with_capacity(m.len() / 4);
            ext.encode(m, true, &mut out).unwrap();
            out
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let msgs: Vec<Vec<u8>> = (0..COUNT as u32).map(|i| json_like(LEN, i)).collect();
    let mut group = c.benchmark_group("deflate");
    group.throughput(Throughput::Bytes((LEN * COUNT) as u64));
    group.sample_size(20);
    for case in cases() {
        let compressed = compress_all(&mut server(case.config, case.offer), &msgs);
        let total: usize = compressed.iter().map(Vec::len).sum();
        eprintln!(
            "{}: {} -> {} bytes ({:.1}%)",
            case.name,
            LEN * COUNT,
            total,
            100.0 * total as f64 / (LEN * COUNT) as f64
        );

        group.bench_function(BenchmarkId::new("compress", case.name), |b| {
            b.iter(|| {
                let mut ext = server(case.config, case.offer);
                black_box(compress_all(&mut ext, black_box(&msgs)))
            })
        });

        // The peer decodes what the server sent: a client with the same agreement.
        group.bench_function(BenchmarkId::new("decompress", case.name), |b| {
            let mut out = Vec::with_capacity(LEN);
            b.iter(|| {
                let mut ext = client(case.offer);
                for z in &compressed {
                    out.clear();
                    assert!(ext.decode_start(RSV1).unwrap());
                    ext.decode(black_box(z), true, &mut out, usize::MAX)
                        .unwrap();
                    assert_eq!(out.len(), LEN);
                }
            })
        });
    }
    group.finish();
}

/// Many small messages: per-message costs (block headers, and without context takeover the
/// allocation of the (de)compressor for every message) dominate.
fn bench_small(c: &mut Criterion) {
    const SMALL: usize = 2048;
    const SMALL_COUNT: usize = 256;
    let msgs: Vec<Vec<u8>> = (0..SMALL_COUNT as u32)
        .map(|i| json_like(SMALL, i))
        .collect();
    let mut group = c.benchmark_group("deflate-2k");
    group.throughput(Throughput::Bytes((SMALL * SMALL_COUNT) as u64));
    group.sample_size(20);
    for case in cases().into_iter().take(3) {
        let compressed = compress_all(&mut server(case.config, case.offer), &msgs);
        let total: usize = compressed.iter().map(Vec::len).sum();
        eprintln!(
            "2k {}: {} -> {} bytes ({:.1}%)",
            case.name,
            SMALL * SMALL_COUNT,
            total,
            100.0 * total as f64 / (SMALL * SMALL_COUNT) as f64
        );
        group.bench_function(BenchmarkId::new("compress", case.name), |b| {
            b.iter(|| {
                let mut ext = server(case.config, case.offer);
                black_box(compress_all(&mut ext, black_box(&msgs)))
            })
        });
        group.bench_function(BenchmarkId::new("decompress", case.name), |b| {
            let mut out = Vec::with_capacity(SMALL);
            b.iter(|| {
                let mut ext = client(case.offer);
                for z in &compressed {
                    out.clear();
                    assert!(ext.decode_start(RSV1).unwrap());
                    ext.decode(black_box(z), true, &mut out, usize::MAX)
                        .unwrap();
                    assert_eq!(out.len(), SMALL);
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench, bench_small);
criterion_main!(benches);
