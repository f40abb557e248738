//! Fuzz target `connection_server`: arbitrary bytes from the peer into a server connection.
//!
//! Checks (harness in `fuzz/src/lib.rs`): never panics; memory stays bounded by the limits; at
//! most one error over the connection's life; the same events and output for two cuts of the
//! input, the second deferring its UTF-8 checks; every delivered message and ping equals the wire's (an independent frame parser), so
//! a Text event holds valid UTF-8 of the wire's bytes; the output is a valid frame stream
//! (valid Close code, nothing after Close) whose pongs echo the pings. The first byte picks options
//! (streaming or whole messages, auto-pong, chunking), the rest is fed in chunks with events
//! drained and output written after each, checking buffer capacities against the limits
//! (harness in `fuzz/src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wsproto_fuzz::run_connection(wsproto::Role::Server, data);
});
