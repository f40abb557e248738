//! One library, one case, N messages: the program benches/callgrind.sh runs under
//! `valgrind --tool=callgrind` at N and at 0, so that (Ir(N) - Ir(0)) / N is the instruction
//! count per message with setup (input generation, buffers grown by one warm-up batch)
//! cancelling out. Same inputs and drivers as benches/compare.rs (benches/common/mod.rs).
//!
//! `cargo bench --bench instructions -- LIB CASE SIZE N`
//! * LIB: wsproto, tungstenite, fastwebsockets, limit, memcpy
//! * CASE: receive-binary, receive-text-ascii, receive-text-utf8, send-binary
//! * N: rounded up to a whole number of input batches (1024 messages, or about 1 MiB).
//!
//! Run without arguments (as `cargo bench` does) it prints this usage and exits.

mod common;

use std::rc::Rc;

use common::{Input, Kind};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [lib, case, size, n] = &args[..] else {
        eprintln!(
            "usage: instructions LIB CASE SIZE N (LIB: wsproto|tungstenite|fastwebsockets|limit|memcpy; \
             CASE: receive-binary|receive-text-ascii|receive-text-utf8|send-binary)"
        );
        return;
    };
    let size: usize = size.parse().expect("SIZE");
    let n: usize = n.parse().expect("N");
    let batch = common::batch(size).min(1024);
    // Whole batches, so every library ends on the same read boundary.
    let n = n.div_ceil(batch) * batch;
    let bytes = if let Some(kind) = case.strip_prefix("receive-") {
        let kind = Kind::from_name(kind).expect("CASE");
        let input = Rc::new(Input::messages(kind, size, batch));
        let mut r = common::receiver(lib, &input);
        assert_eq!(r.run(batch), input.payload_bytes);
        let got = r.run(n);
        assert_eq!(got, input.expected(n));
        got
    } else if case == "send-binary" {
        let data = common::payload(Kind::Binary, size, 0);
        let mut s = common::sender(lib, &data);
        s.run(batch);
        s.run(n)
    } else {
        panic!("unknown CASE {case}");
    };
    println!("{lib} {case} {size} n={n} bytes={bytes}");
}
