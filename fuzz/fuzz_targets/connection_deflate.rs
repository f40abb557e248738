//! Fuzz target `connection_deflate`: arbitrary bytes from the peer into a connection that
//! negotiated permessage-deflate (role, context takeover each way, window sizes, level and
//! threshold from the input's first bytes, negotiated through the extension's own offer and
//! answer as the handshake does).
//!
//! Checks (harness in `fuzz/src/lib.rs`): never panics; buffers within the limits; at most one
//! error over the connection's life; the same events and output for two cuts of the input
//! (the second deferring its UTF-8 checks);
//! every delivered message equals the reference decoding of the wire (an independent frame
//! parser and raw-deflate decoder), so a Text event holds valid UTF-8 of the wire's bytes; the
//! output is a valid frame stream whose pongs echo the pings.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wsproto_fuzz::run_connection_deflate(data);
});
