//! Heap held by an idle open connection, engine and adapter together (issue: at most 4 KiB;
//! it used to be about 36 KB with a zero-filled 32 KiB read buffer). Measured with a counting
//! allocator over an in-memory transport, so only wsproto's own allocations count.
#![cfg(feature = "tokio")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::StreamExt;
use wsproto::io::nonblocking::{self, PollIo, WebSocket};
use wsproto::io::{AcceptAll, AcceptOptions};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// An in-memory transport: yields the request once, then is never readable again; takes
/// every write (and keeps nothing).
struct MemIo {
    request: &'static [u8],
}

struct Never;

impl Future for Never {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl PollIo for MemIo {
    type Stream = ();
    type Sleep = Never;
    type Clock = std::time::Instant;
    fn poll_read(&mut self, _cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if self.request.is_empty() {
            return Poll::Pending;
        }
        let n = buf.len().min(self.request.len());
        buf[..n].copy_from_slice(&self.request[..n]);
        self.request = &self.request[n..];
        Poll::Ready(Ok(n))
    }
    fn poll_write(&mut self, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn stream(&self) -> &() {
        &()
    }
    fn clock() -> std::time::Instant {
        std::time::Instant::now()
    }
    fn elapsed(start: std::time::Instant) -> Duration {
        start.elapsed()
    }
    fn sleep(_after: Duration) -> Never {
        Never
    }
    fn reset(_sleep: Pin<&mut Never>, _after: Duration) {}
}

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

fn open_idle() -> WebSocket<MemIo> {
    let mut cx = Context::from_waker(Waker::noop());
    let accept = nonblocking::accept_with(
        MemIo { request: REQUEST },
        AcceptOptions::default(),
        AcceptAll,
    );
    let mut accept = std::pin::pin!(accept);
    let mut ws = loop {
        if let Poll::Ready(r) = accept.as_mut().poll(&mut cx) {
            break r.expect("handshake");
        }
    };
    // Idle: waiting for input.
    assert!(ws.poll_next_unpin(&mut cx).is_pending());
    ws
}

#[test]
fn idle_connection_heap_is_small() {
    // Warm up lazily initialised statics (thread-locals, the entropy pool).
    let warm = open_idle();
    drop(warm);
    const N: usize = 200;
    let before = LIVE.load(Ordering::SeqCst);
    let sockets: Vec<_> = (0..N).map(|_| open_idle()).collect();
    let after = LIVE.load(Ordering::SeqCst);
    let vec_overhead = (N * std::mem::size_of::<WebSocket<MemIo>>()) as isize;
    let per_connection = (after - before - vec_overhead) / N as isize;
    eprintln!("idle heap per connection: {per_connection} bytes");
    assert!(
        per_connection <= 4096,
        "an idle connection holds {per_connection} bytes of heap (target: at most 4 KiB)"
    );
    drop(sockets);
}
