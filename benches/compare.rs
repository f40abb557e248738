//! Side by side (issue 11): wsproto, tungstenite and fastwebsockets on identical pre-encoded
//! byte streams, beside the limits on the same data. Every benchmark id is
//! `<direction>/<case>/<size>/<lib>`, lib being `wsproto`, `tungstenite`, `fastwebsockets`,
//! `limit` (copy + word-wide XOR unmask, + simdutf8 for text; raw miniz_oxide for deflate) or
//! `memcpy` (the copy alone). One iteration is about 1 MiB of payload.
//!
//! * `receive/{binary,text-ascii,text-utf8}/{16,125,1024,65536,1048576}`: a server reading
//!   masked single-frame messages delivered in 64 KiB reads.
//! * `receive/fragmented-{binary,utf8}/1048576`: one 1 MiB message in 1 KiB fragments (UTF-8
//!   characters split across fragments).
//! * `send/binary/<size>`: a client framing and masking messages into an in-memory sink.
//! * `deflate-receive/binary/{1024,65536}`, `deflate-send/binary/{1024,65536}`: JSON-like
//!   messages with permessage-deflate (level 1, context takeover); wsproto against raw
//!   miniz_oxide (neither peer supports permessage-deflate in the versions measured).
//!
//! How each library is driven: benches/common/mod.rs. Tables: `python3 benches/report.py`.
//! Run briefly: `cargo bench --bench compare -- --warm-up-time 1 --measurement-time 2`.

mod common;

use std::rc::Rc;

use common::{Input, Kind, RECEIVERS, SENDERS, SIZES};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn receive(c: &mut Criterion) {
    for kind in [Kind::Binary, Kind::Ascii, Kind::Utf8] {
        for size in SIZES {
            let count = common::batch(size);
            let input = Rc::new(Input::messages(kind, size, count));
            run_receivers(
                c,
                &format!("receive/{}/{size}", kind.name()),
                &input,
                &RECEIVERS,
                common::receiver,
            );
        }
    }
    for (kind, name) in [
        (Kind::Binary, "fragmented-binary"),
        (Kind::Utf8, "fragmented-utf8"),
    ] {
        let size = 1 << 20;
        let input = Rc::new(Input::fragmented(kind, size, common::FRAGMENT, 1));
        run_receivers(
            c,
            &format!("receive/{name}/{size}"),
            &input,
            &RECEIVERS,
            common::receiver,
        );
    }
}

fn run_receivers(
    c: &mut Criterion,
    group: &str,
    input: &Rc<Input>,
    libs: &[&str],
    make: fn(&str, &Rc<Input>) -> Box<dyn common::Receiver>,
) {
    let count = input.messages.len();
    let mut g = c.benchmark_group(group);
    g.sample_size(20);
    g.throughput(Throughput::Bytes(input.payload_bytes as u64));
    for lib in libs {
        let mut r = make(lib, input);
        // Once outside the timing: buffers grown, and the byte count checked.
        assert_eq!(r.run(count), input.payload_bytes, "{group}/{lib}");
        g.bench_function(*lib, |b| b.iter(|| r.run(count)));
    }
    g.finish();
}

fn send(c: &mut Criterion) {
    for size in SIZES {
        let count = common::batch(size);
        let data = common::payload(Kind::Binary, size, 0);
        let mut g = c.benchmark_group(format!("send/binary/{size}"));
        g.sample_size(20);
        g.throughput(Throughput::Bytes((size * count) as u64));
        for lib in SENDERS {
            let mut s = common::sender(lib, &data);
            assert!(s.run(count) >= size * count, "send/{size}/{lib}");
            g.bench_function(lib, |b| b.iter(|| s.run(count)));
        }
        g.finish();
    }
}

fn deflate(c: &mut Criterion) {
    for size in [1024, 64 * 1024] {
        let count = common::batch(size);
        let input = Rc::new(Input::deflated(size, count));
        run_receivers(
            c,
            &format!("deflate-receive/binary/{size}"),
            &input,
            &["wsproto", "limit"],
            common::deflate_receiver,
        );
        let msgs = common::json_messages(size);
        let mut g = c.benchmark_group(format!("deflate-send/binary/{size}"));
        g.sample_size(20);
        g.throughput(Throughput::Bytes((size * count) as u64));
        for lib in ["wsproto", "limit"] {
            let mut s = common::deflate_sender(lib, &msgs);
            s.run(count);
            g.bench_function(lib, |b| b.iter(|| s.run(count)));
        }
        g.finish();
    }
}

criterion_group!(benches, receive, send, deflate);
criterion_main!(benches);
