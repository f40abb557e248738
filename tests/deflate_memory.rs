//! Per-connection memory of permessage-deflate, measured with a counting allocator: what an
//! idle connection holds with and without context takeover, and that steady traffic allocates
//! nothing per message (figures in docs/deflate.md). One test only: the counters are global to
//! this binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use wsproto::Extension;
use wsproto::deflate::{DeflateConfig, PerMessageDeflate};
use wsproto::extension::{ExtensionParam, RSV1};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
static ALLOCS: AtomicIsize = AtomicIsize::new(0);

std::thread_local! {
    /// Allocations are counted on the test's own thread only (the harness allocates on
    /// others). A const, destructor-free thread-local: reading it never allocates.
    static COUNT_HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count_allocation() {
    if COUNT_HERE.try_with(|c| c.get()).unwrap_or(false) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Bytes held by `ext` (beyond its own struct) after sending and receiving one message.
fn held_after_one_message(offer: &[ExtensionParam<'_>]) -> (isize, isize, bool, bool) {
    held_after_one_message_with(DeflateConfig::new(), offer)
}

fn held_after_one_message_with(
    config: DeflateConfig,
    offer: &[ExtensionParam<'_>],
) -> (isize, isize, bool, bool) {
    let before = live();
    let mut ext = Box::new(PerMessageDeflate::new(config.threshold(0)));
    ext.accept_offer(offer).unwrap();
    let negotiated = live() - before;
    let msg = vec![b'x'; 4096];
    let mut z = Vec::new();
    assert_eq!(ext.encode_start(Some(msg.len()), true), Some(RSV1));
    ext.encode(&msg, true, &mut z).unwrap();
    let mut peer = PerMessageDeflate::new(DeflateConfig::new());
    let mut back = Vec::new();
    peer.decode_start(RSV1).unwrap();
    peer.decode(&z, true, &mut back, usize::MAX).unwrap();
    // Decode our own output (the peer's direction uses the same format).
    let mut out = Vec::new();
    assert!(ext.decode_start(RSV1).unwrap());
    ext.decode(&z, true, &mut out, usize::MAX).unwrap();
    assert_eq!(out, msg);
    drop((z, out, back, peer, msg));
    // The (de)compressors of directions without context takeover went back to the thread's
    // cache: what the connection itself holds is measured without it.
    let with_cache = live() - before;
    wsproto::deflate::release_thread_cache();
    let idle = live() - before;
    // (Not printed here: printing allocates into the harness's capture buffer.)
    let _cached = with_cache - idle;
    let state = (ext.has_compressor(), ext.has_decompressor());
    drop(ext);
    assert_eq!(live(), before, "everything freed on drop");
    (negotiated, idle, state.0, state.1)
}

fn allocs() -> isize {
    ALLOCS.load(Ordering::Relaxed)
}

const BOTH_NO_TAKEOVER: &[ExtensionParam<'static>] = &[
    ExtensionParam {
        name: "server_no_context_takeover",
        value: None,
    },
    ExtensionParam {
        name: "client_no_context_takeover",
        value: None,
    },
];

/// JSON-like, compressible but not trivially.
fn message(len: usize, seed: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut i = seed;
    while out.len() < len {
        out.extend_from_slice(format!("{{\"id\":{i},\"v\":{}}},", i * 7919 % 1013).as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

/// Allocations made by `rounds` messages each way once warmed up: a server with `offer`
/// negotiated compresses each message, its peer's direction is decoded by the server itself
/// (same format), into buffers that keep their capacity, as the connection's do.
fn allocations_per_round(offer: &[ExtensionParam<'_>], len: usize, rounds: usize) -> isize {
    let mut server = PerMessageDeflate::new(DeflateConfig::new().threshold(0));
    server.accept_offer(offer).unwrap();
    let msgs: Vec<Vec<u8>> = (0..8).map(|i| message(len, i * 1000)).collect();
    let mut z = Vec::with_capacity(2 * len + 64);
    let mut out = Vec::with_capacity(len);
    let mut round = |server: &mut PerMessageDeflate, i: usize| {
        let msg = &msgs[i % msgs.len()];
        z.clear();
        assert_eq!(server.encode_start(Some(msg.len()), true), Some(RSV1));
        server.encode(msg, true, &mut z).unwrap();
        out.clear();
        assert!(server.decode_start(RSV1).unwrap());
        // In two pieces, as when a frame arrives in two reads.
        let (a, b) = z.split_at(z.len() / 2);
        server.decode(a, false, &mut out, usize::MAX).unwrap();
        server.decode(b, true, &mut out, usize::MAX).unwrap();
        assert_eq!(&out, msg);
    };
    for i in 0..4 {
        round(&mut server, i);
    }
    let before = allocs();
    for i in 0..rounds {
        round(&mut server, i);
    }
    allocs() - before
}

#[test]
fn idle_connection_memory() {
    COUNT_HERE.with(|c| c.set(true));
    // Steady traffic allocates nothing per message, with and without context takeover, small
    // and large messages (the output buffers keep their capacity, as the connection's do).
    for len in [2048, 64 * 1024, 200 * 1024] {
        for offer in [&[][..], BOTH_NO_TAKEOVER] {
            let n = allocations_per_round(offer, len, 50);
            assert_eq!(
                n, 0,
                "{len} bytes, offer {offer:?}: {n} allocations in 50 rounds"
            );
        }
    }
    wsproto::deflate::release_thread_cache();

    let (negotiated, takeover, c, d) = held_after_one_message(&[]);
    assert!(c && d);
    let (_, none, c2, d2) = held_after_one_message(BOTH_NO_TAKEOVER);
    assert!(!c2 && !d2);
    // The server layer's default (`ServerBuilder`), answering a browser's offer: nothing held
    // between messages.
    let server_default = DeflateConfig::new()
        .server_no_context_takeover(true)
        .client_no_context_takeover(true);
    let browser = [ExtensionParam {
        name: "client_max_window_bits",
        value: None,
    }];
    let (_, server_idle, c3, d3) = held_after_one_message_with(server_default, &browser);
    assert!(!c3 && !d3);
    assert!(server_idle < 1024, "{server_idle}");
    println!("idle with the server layer's default: {server_idle} bytes");
    println!("negotiated, before any message: {negotiated} bytes");
    println!("idle with context takeover: {takeover} bytes");
    println!("idle without context takeover: {none} bytes");
    // Nothing but the instance itself (its Box and the config list) without takeover.
    assert!(none < 1024, "{none}");
    assert!(negotiated < 1024, "{negotiated}");
    assert!(takeover > 300_000, "{takeover}");

    // With context takeover the zlib-rs backend's output buffer grows for large messages
    // (8 KiB to 64 KiB) and `release_memory` gives it back, keeping the context.
    let grown = if cfg!(feature = "zlib-rs") {
        56 << 10
    } else {
        0
    };
    let mut ext = PerMessageDeflate::new(DeflateConfig::new().threshold(0));
    ext.accept_offer(&[]).unwrap();
    let msg = message(200 * 1024, 7);
    let mut out = Vec::new();
    for round in 0..2 {
        let mut z = Vec::new();
        assert_eq!(ext.encode_start(Some(msg.len()), true), Some(RSV1));
        ext.encode(&msg, true, &mut z).unwrap();
        out.clear();
        assert!(ext.decode_start(RSV1).unwrap());
        ext.decode(&z, true, &mut out, usize::MAX).unwrap();
        assert_eq!(out, msg, "round {round}");
        assert_eq!(ext.memory(), grown);
        let before = live();
        ext.release_memory();
        assert_eq!(before - live(), grown as isize, "freed by release_memory");
        assert_eq!(ext.memory(), 0);
    }
}
