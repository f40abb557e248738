//! Send throughput: framing a message into the outbound queue, masked (client) and unmasked
//! (server), then reporting it written.

use core::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wsproto::{Config, Connection, Role};

const SIZES: [(usize, &str); 4] = [
    (16, "16B"),
    (1024, "1KiB"),
    (64 * 1024, "64KiB"),
    (1024 * 1024, "1MiB"),
];

fn bench(c: &mut Criterion) {
    for role in [Role::Client, Role::Server] {
        let name = if role == Role::Client {
            "encode_masked"
        } else {
            "encode_unmasked"
        };
        let mut group = c.benchmark_group(name);
        for (size, label) in SIZES {
            let data = vec![0xA5u8; size];
            let count = ((1 << 20) / size).max(1);
            let mut conn = Connection::new(role, Config::new());
            group.throughput(Throughput::Bytes((size * count) as u64));
            group.bench_function(BenchmarkId::from_parameter(label), |b| {
                b.iter(|| {
                    for _ in 0..count {
                        conn.send_binary(black_box(&data)).unwrap();
                        let n = black_box(conn.poll_transmit()).len();
                        conn.advance_transmit(n);
                    }
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
