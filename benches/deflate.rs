//! permessage-deflate throughput: compress and decompress 64 KiB JSON-like messages.
//!
//! Each iteration runs a sequence of 16 different messages through a fresh extension instance,
//! so context takeover sees realistic (similar, not identical) history. Figures are recorded in
//! docs/performance.md. Run with `cargo bench --bench deflate`.
//!
//! Groups `deflate` and `deflate-2k` measure wsproto with the backend of the build:
//! miniz_oxide by default; with `--features zlib-rs` they are named `deflate-zlib-rs` and
//! `deflate-2k-zlib-rs` (so criterion keeps the two backends' baselines apart).
//!
//! In the 64 KiB group `inflate-limit/CASE` (the cases with context takeover) is the plain inflate
//! limit for `decompress/CASE`: the same compressed bytes through this build's engine alone.
//!
//! Group `engines`: the same messages through the raw engines, with no WebSocket layer:
//! miniz_oxide (our default backend), zlib-rs (the `zlib-rs` feature's) and C zlib (flate2
//! over the system's libz), each sync-flushing every message into a buffer allocated once, as
//! permessage-deflate does with context takeover; they all inflate one C zlib stream.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use wsproto::Extension;
use wsproto::deflate::{DeflateConfig, PerMessageDeflate};
use wsproto::extension::{ExtensionParam, RSV1};

#[path = "common/json.rs"]
mod json;
use json::json_like;

/// The suffix of the wsproto groups: which backend this build's permessage-deflate uses.
const BACKEND: &str = if cfg!(feature = "zlib-rs") {
    "-zlib-rs"
} else {
    ""
};

const LEN: usize = 64 * 1024;
const COUNT: usize = 16;

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
    let mut group = c.benchmark_group(format!("deflate{BACKEND}"));
    group.throughput(Throughput::Bytes((LEN * COUNT) as u64));
    group.sample_size(20);
    for case in cases() {
        let compressed = compress_all(&mut server(case.config, case.offer), &msgs);
        let total: usize = compressed.iter().map(Vec::len).sum();
        eprintln!(
            "{}{BACKEND}: {} -> {} bytes ({:.1}%)",
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

        // The plain inflate limit on these very bytes: this build's engine alone, one raw
        // inflater for the sequence (context takeover), each message with its `00 00 ff ff`
        // put back as the extension does, into an output buffer written once.
        if case.offer == TAKEOVER {
            let whole: Vec<Vec<u8>> = compressed
                .iter()
                .map(|z| [&z[..], &[0x00, 0x00, 0xff, 0xff]].concat())
                .collect();
            let mut out = vec![0u8; LEN + 1024];
            group.bench_function(BenchmarkId::new("inflate-limit", case.name), |b| {
                b.iter(|| inflate_all(black_box(&whole), &mut out))
            });
        }
    }
    group.finish();
}

/// Inflates `msgs` (raw deflate, each sync-flushed, one window for all) with this build's
/// backend, each into `out`.
#[cfg(not(feature = "zlib-rs"))]
fn inflate_all(msgs: &[Vec<u8>], out: &mut [u8]) {
    use miniz_oxide::inflate::stream::{InflateState, inflate};
    let mut st = InflateState::new_boxed(miniz_oxide::DataFormat::Raw);
    for z in msgs {
        let r = inflate(&mut st, z, out, miniz_oxide::MZFlush::Sync);
        assert_eq!(r.bytes_written, LEN);
    }
}

/// Inflates `msgs` (raw deflate, each sync-flushed, one window for all) with this build's
/// backend, each into `out`.
#[cfg(feature = "zlib-rs")]
fn inflate_all(msgs: &[Vec<u8>], out: &mut [u8]) {
    let mut st = zlib_rs::Inflate::new(false, 15);
    for z in msgs {
        let before = st.total_out();
        st.decompress(z, out, zlib_rs::InflateFlush::SyncFlush)
            .unwrap();
        assert_eq!((st.total_out() - before) as usize, LEN);
    }
}

/// Many small messages: per-message costs (block headers, and without context takeover the
/// allocation of the (de)compressor for every message) dominate.
fn bench_small(c: &mut Criterion) {
    const SMALL: usize = 2048;
    const SMALL_COUNT: usize = 256;
    let msgs: Vec<Vec<u8>> = (0..SMALL_COUNT as u32)
        .map(|i| json_like(SMALL, i))
        .collect();
    let mut group = c.benchmark_group(format!("deflate-2k{BACKEND}"));
    group.throughput(Throughput::Bytes((SMALL * SMALL_COUNT) as u64));
    group.sample_size(20);
    for case in cases().into_iter().take(3) {
        let compressed = compress_all(&mut server(case.config, case.offer), &msgs);
        let total: usize = compressed.iter().map(Vec::len).sum();
        eprintln!(
            "2k {}{BACKEND}: {} -> {} bytes ({:.1}%)",
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

/// One engine's streaming compressor: sync-flush `input` onto `out` (capacity reserved).
trait Engine {
    fn compress(&mut self, input: &[u8], out: &mut Vec<u8>);
}

struct Miniz(miniz_oxide::deflate::core::CompressorOxide);
impl Engine for Miniz {
    fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) {
        use miniz_oxide::deflate::core::{TDEFLFlush, TDEFLStatus, compress_to_output};
        let (status, used) = compress_to_output(&mut self.0, input, TDEFLFlush::Sync, |b| {
            out.extend_from_slice(b);
            true
        });
        assert!(status == TDEFLStatus::Okay && used == input.len());
    }
}

struct ZlibRs(zlib_rs::Deflate);
impl Engine for ZlibRs {
    fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        let before = self.0.total_in();
        out.resize(start + input.len() + input.len() / 8 + 64, 0);
        self.0
            .compress(input, &mut out[start..], zlib_rs::DeflateFlush::SyncFlush)
            .unwrap();
        assert_eq!((self.0.total_in() - before) as usize, input.len());
        let written = self.0.total_out() as usize;
        out.truncate(written);
    }
}

struct CZlib(flate2::Compress);
impl Engine for CZlib {
    fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let before = self.0.total_in();
        self.0
            .compress_vec(input, out, flate2::FlushCompress::Sync)
            .unwrap();
        assert_eq!((self.0.total_in() - before) as usize, input.len());
    }
}

fn engine(name: &str, level: u8, bits: u8) -> Box<dyn Engine> {
    match name {
        "miniz_oxide" => {
            use miniz_oxide::deflate::core::{CompressorOxide, create_comp_flags_from_zip_params};
            // Like ours: the full dictionary (miniz_oxide's window bits do not bound distances).
            assert_eq!(bits, 15);
            let flags = create_comp_flags_from_zip_params(i32::from(level), -15, 0);
            Box::new(Miniz(CompressorOxide::new(flags)))
        }
        "zlib-rs" => Box::new(ZlibRs(zlib_rs::Deflate::new(i32::from(level), false, bits))),
        _ => Box::new(CZlib(flate2::Compress::new_with_window_bits(
            flate2::Compression::new(u32::from(level)),
            false,
            bits,
        ))),
    }
}

/// Raw engines on the same 16 × 64 KiB messages: compress at levels 1 and 6 and with 10- and
/// 9-bit windows (zlib turns 8 into 9), decompress what each produced at level 1.
fn bench_engines(c: &mut Criterion) {
    let msgs: Vec<Vec<u8>> = (0..COUNT as u32).map(|i| json_like(LEN, i)).collect();
    let mut group = c.benchmark_group("engines");
    group.throughput(Throughput::Bytes((LEN * COUNT) as u64));
    group.sample_size(10);
    let engines = ["miniz_oxide", "zlib-rs", "zlib"];
    for (level, bits) in [(1u8, 15u8), (6, 15), (1, 10), (1, 9)] {
        for name in engines {
            if name == "miniz_oxide" && bits < 15 {
                continue; // no bounded window: see wsproto's own window10/window8 cases
            }
            let mut out = Vec::with_capacity(2 * LEN * COUNT);
            let mut e = engine(name, level, bits);
            for m in &msgs {
                e.compress(m, &mut out);
            }
            eprintln!(
                "engines {name} level {level} window {bits}: {:.1}%",
                100.0 * out.len() as f64 / (LEN * COUNT) as f64
            );
            let id = format!("{name}-level{level}-window{bits}");
            group.bench_function(BenchmarkId::new("compress", &id), |b| {
                b.iter(|| {
                    out.clear();
                    let mut e = engine(name, level, bits);
                    for m in &msgs {
                        e.compress(black_box(m), &mut out);
                    }
                    black_box(out.len())
                })
            });
        }
    }
    // Decompress: every engine inflates the same level-1 stream (one per message,
    // sync-flushed, context takeover) into an output buffer allocated and written once.
    let mut e = engine("zlib", 1, 15);
    let compressed: Vec<Vec<u8>> = msgs
        .iter()
        .map(|m| {
            let mut z = Vec::with_capacity(LEN);
            e.compress(m, &mut z);
            z
        })
        .collect();
    let mut out = vec![0u8; LEN + 1024];
    group.bench_function(BenchmarkId::new("decompress", "miniz_oxide"), |b| {
        use miniz_oxide::inflate::stream::{InflateState, inflate};
        b.iter(|| {
            let mut st = InflateState::new_boxed(miniz_oxide::DataFormat::Raw);
            for z in &compressed {
                let r = inflate(&mut st, black_box(z), &mut out, miniz_oxide::MZFlush::Sync);
                assert_eq!(r.bytes_written, LEN);
            }
        })
    });
    group.bench_function(BenchmarkId::new("decompress", "zlib-rs"), |b| {
        b.iter(|| {
            let mut st = zlib_rs::Inflate::new(false, 15);
            for z in &compressed {
                let before = st.total_out();
                st.decompress(black_box(z), &mut out, zlib_rs::InflateFlush::SyncFlush)
                    .unwrap();
                assert_eq!((st.total_out() - before) as usize, LEN);
            }
        })
    });
    group.bench_function(BenchmarkId::new("decompress", "zlib"), |b| {
        b.iter(|| {
            let mut st = flate2::Decompress::new_with_window_bits(false, 15);
            for z in &compressed {
                let before = st.total_out();
                st.decompress(black_box(z), &mut out, flate2::FlushDecompress::Sync)
                    .unwrap();
                assert_eq!((st.total_out() - before) as usize, LEN);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench, bench_small, bench_engines);
criterion_main!(benches);
