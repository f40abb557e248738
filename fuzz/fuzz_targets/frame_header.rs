//! Fuzz target `frame_header`: parsing arbitrary bytes never panics, and a parsed header
//! re-encodes to exactly the bytes it came from (lengths are minimal on both sides).
#![no_main]

use wsproto::Status;
use wsproto::frame::FrameHeader;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match FrameHeader::parse(data) {
        Ok(Status::Complete((header, n))) => {
            assert!(n <= FrameHeader::MAX_LEN && n <= data.len());
            assert_eq!(header.encoded_len(), n);
            let mut out = [0u8; FrameHeader::MAX_LEN];
            let len = header.encode(&mut out);
            assert_eq!(&out[..len], &data[..n]);
        }
        Ok(Status::Partial) => assert!(data.len() < FrameHeader::MAX_LEN),
        Err(_) => {}
    }
});
