//! Steady-state echo through the session layer allocates nothing per message: text and
//! binary, small and large (issue 11). A server `Session` reads masked client frames from
//! memory, delivers each message, and sends it back; a counting allocator (this thread only)
//! sees the rounds after a warm-up. One test only: the counters are global to this binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use wsproto::message::Message;
use wsproto::session::{Session, Step, Turn};
use wsproto::{Config, Connection, Instant, Role};

struct Counting;
static ALLOCS: AtomicIsize = AtomicIsize::new(0);

std::thread_local! {
    /// Counted on the test's own thread only (the harness allocates on others). A const,
    /// destructor-free thread-local: reading it never allocates.
    static COUNT_HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count_allocation() {
    if COUNT_HERE.with(|c| c.get()) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator and only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A masked client frame (RFC 6455 §5.2).
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n < 65536 => {
            f.push(0x80 | 126);
            f.extend((n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend((n as u64).to_be_bytes());
        }
    }
    f.extend(key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

/// Feeds `wire` to the session (in reads of at most `chunk` bytes) until it delivers one
/// message, echoes it, and writes the echo out (into `out`, cleared first). Returns the length
/// of the echoed payload.
fn echo_one(session: &mut Session, wire: &[u8], chunk: usize, out: &mut Vec<u8>) -> usize {
    let now = Instant::ZERO;
    let mut input = wire;
    let message = loop {
        match session.step(now, Turn::Receive) {
            Step::Read(buf) => {
                let n = input.len().min(buf.len()).min(chunk);
                buf[..n].copy_from_slice(&input[..n]);
                input = &input[n..];
                session.received(now, n);
            }
            Step::ReadOwned(buf, max) => {
                let n = input.len().min(max).min(chunk);
                buf.extend_from_slice(&input[..n]);
                input = &input[n..];
                session.received_owned(now, n);
            }
            Step::Deliver(m) => break m,
            other => panic!("{other:?}"),
        }
    };
    assert!(input.is_empty());
    let len = match &message {
        Message::Text(t) => t.len(),
        Message::Binary(b) => b.len(),
        other => panic!("{other:?}"),
    };
    session.send(now, &message).unwrap();
    drop(message);
    out.clear();
    loop {
        match session.step(now, Turn::Send) {
            Step::Write([first, then]) => {
                out.extend_from_slice(first);
                out.extend_from_slice(then);
                let n = first.len() + then.len();
                session.wrote(n);
            }
            Step::Flush => session.flushed(),
            Step::Read(_) => {
                session.blocked(wsproto::session::Io::Read);
            }
            Step::Wait(_) => break,
            other => panic!("{other:?}"),
        }
    }
    session.start_turn();
    len
}

#[test]
fn an_echo_allocates_nothing_per_message() {
    let text_small = client_frame(0x1, "héllo, wörld 16B".as_bytes());
    let text_large = client_frame(0x1, "wörds ".repeat(200).as_bytes());
    let binary_small = client_frame(0x2, &[7; 16]);
    let binary_large = client_frame(0x2, &vec![9; 64 * 1024]);
    let text_huge = client_frame(0x1, "wörds ".repeat(64 * 1024 / 7).as_bytes());
    // A 64 KiB frame in 16 KiB reads is assembled apart, with or without reads straight
    // into the message's own memory (Step::ReadOwned).
    for (name, wire, chunk, owned) in [
        ("text 16 B", &text_small, usize::MAX, false),
        ("text 1.4 KiB", &text_large, usize::MAX, false),
        ("binary 16 B", &binary_small, usize::MAX, false),
        ("binary 64 KiB", &binary_large, usize::MAX, false),
        (
            "binary 64 KiB in 16 KiB reads",
            &binary_large,
            16 * 1024,
            false,
        ),
        (
            "binary 64 KiB in 16 KiB owned reads",
            &binary_large,
            16 * 1024,
            true,
        ),
        ("text 64 KiB in 16 KiB reads", &text_huge, 16 * 1024, true),
    ] {
        let mut session = Session::new(Connection::new(Role::Server, Config::new()));
        session.set_owned_reads(owned);
        let mut out = Vec::with_capacity(2 * wire.len());
        // Warm-up: buffers grow to their working size (the read size doubles at most once per
        // message when the rest of each is read into its own memory).
        for _ in 0..10 {
            echo_one(&mut session, wire, chunk, &mut out);
        }
        COUNT_HERE.with(|c| c.set(true));
        let before = ALLOCS.load(Ordering::Relaxed);
        let mut echoed = 0;
        for _ in 0..50 {
            echoed += echo_one(&mut session, wire, chunk, &mut out);
        }
        let allocations = ALLOCS.load(Ordering::Relaxed) - before;
        COUNT_HERE.with(|c| c.set(false));
        assert!(echoed > 0);
        assert_eq!(
            allocations, 0,
            "{name}: {allocations} allocations in 50 echoes"
        );
        // The echo is the unmasked frame: the client's frame without mask bit and key.
        assert_eq!(out.first(), wire.first(), "{name}");
    }
}
