//! Fuzz target `connection_server`: arbitrary bytes from the peer into a server connection.
//!
//! Never panics, and memory stays bounded by the limits: the first byte picks options
//! (streaming or whole messages, auto-pong, chunking), the rest is fed in chunks with events
//! drained and output written after each, checking buffer capacities against the limits
//! (harness in `fuzz/src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wsproto_fuzz::run_connection(wsproto::Role::Server, data);
});
