//! Per-connection memory of permessage-deflate, measured with a counting allocator: what an
//! idle connection holds with and without context takeover (figures in docs/deflate.md).
//! One test only: the counter is global to this binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use wsproto::Extension;
use wsproto::deflate::{DeflateConfig, PerMessageDeflate};
use wsproto::extension::{ExtensionParam, RSV1};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
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
    let before = live();
    let mut ext = Box::new(PerMessageDeflate::new(DeflateConfig::new().threshold(0)));
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
    let idle = live() - before;
    let state = (ext.has_compressor(), ext.has_decompressor());
    drop(ext);
    assert_eq!(live(), before, "everything freed on drop");
    (negotiated, idle, state.0, state.1)
}

#[test]
fn idle_connection_memory() {
    let (negotiated, takeover, c, d) = held_after_one_message(&[]);
    assert!(c && d);
    let (_, none, c2, d2) = held_after_one_message(&[
        ExtensionParam {
            name: "server_no_context_takeover",
            value: None,
        },
        ExtensionParam {
            name: "client_no_context_takeover",
            value: None,
        },
    ]);
    assert!(!c2 && !d2);
    println!("negotiated, before any message: {negotiated} bytes");
    println!("idle with context takeover: {takeover} bytes");
    println!("idle without context takeover: {none} bytes");
    // Nothing but the instance itself (its Box and the config list) without takeover.
    assert!(none < 1024, "{none}");
    assert!(negotiated < 1024, "{negotiated}");
    assert!(takeover > 300_000, "{takeover}");
}
