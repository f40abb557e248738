//! Masking alone: the word-at-a-time XOR against the naive byte loop.

use core::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wsproto::frame::{apply_mask, apply_mask_naive};

fn bench(c: &mut Criterion) {
    let key = [0x12, 0x34, 0x56, 0x78];
    let mut group = c.benchmark_group("mask");
    for (size, label) in [
        (16, "16B"),
        (1024, "1KiB"),
        (64 * 1024, "64KiB"),
        (1024 * 1024, "1MiB"),
    ] {
        let mut buf = vec![0u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("words", label), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), key, 1));
        });
        group.bench_function(BenchmarkId::new("naive", label), |b| {
            b.iter(|| apply_mask_naive(black_box(&mut buf), key, 1));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
