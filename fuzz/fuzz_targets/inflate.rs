//! Fuzz permessage-deflate's bounded inflate: arbitrary compressed messages, cut into
//! arbitrary pieces, against a small message limit. Must never panic, never exceed the limit,
//! and fail only with 1009 or 1007; where an independent decoder (fuzz/src/inflate_ref.rs)
//! also decodes a message, both give the same bytes. A second half round-trips the input
//! through our own compressor (window and level taken from the input) and decodes it with
//! the independent decoder limited to exactly the agreed window (not 32 KiB), history kept
//! across messages: a back-reference past the window fails.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsproto::Extension;
use wsproto::deflate::{DeflateConfig, PerMessageDeflate};
use wsproto::extension::{ExtensionError, RSV1};
use wsproto_fuzz::inflate_ref::RefInflater;

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let max_len = usize::from(control) * 256;
    let chunk = usize::from(control % 17) + 1;

    // Inflate: the input is several messages separated by 0xff 0x00 0xff markers.
    let mut rx = PerMessageDeflate::new(DeflateConfig::new());
    let mut reference = Some(RefInflater::new(15, true, max_len));
    for message in split(rest) {
        if !rx.decode_start(RSV1).unwrap() {
            return;
        }
        let mut out = Vec::new();
        let mut result = Ok(());
        for piece in message.chunks(chunk) {
            result = rx.decode(piece, false, &mut out, max_len);
            assert!(out.len() <= max_len);
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = rx.decode(&[], true, &mut out, max_len);
            assert!(out.len() <= max_len);
        }
        let expected = reference.as_mut().map(|r| r.message(message));
        match (&result, expected) {
            (Ok(()), Some(Ok(expected))) => assert!(out == expected, "inflaters disagree"),
            (_, Some(Err(_))) => reference = None,
            _ => {}
        }
        match result {
            Ok(()) => {}
            Err(ExtensionError::MessageTooLarge | ExtensionError::InvalidData(_)) => return,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }

    // Round trip through our compressor with a window of 8..=15 bits.
    let bits = 8 + (control % 8);
    let config = DeflateConfig::new()
        .client_max_window_bits(bits)
        .server_max_window_bits(bits)
        .level(control % 11)
        .threshold(0);
    let mut tx = PerMessageDeflate::new(config);
    let mut rx = PerMessageDeflate::new(config);
    let mut exact = RefInflater::new(bits, true, usize::MAX);
    for message in split(rest) {
        let rsv = tx.encode_start(Some(message.len()), true).unwrap();
        let mut z = Vec::new();
        for (i, piece) in message.chunks(chunk * 97).enumerate() {
            let last = (i + 1) * chunk * 97 >= message.len();
            tx.encode(piece, last, &mut z).unwrap();
        }
        if message.is_empty() {
            tx.encode(&[], true, &mut z).unwrap();
        }
        assert!(rx.decode_start(rsv).unwrap());
        let mut out = Vec::new();
        rx.decode(&z, true, &mut out, usize::MAX).unwrap();
        assert_eq!(out, message);
        match exact.message(&z) {
            Ok(out) => assert_eq!(out, message),
            Err(e) => panic!("{bits}-bit window: {e:?}"),
        }
    }
});

fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(pos) = rest.windows(3).position(|w| w == [0xff, 0x00, 0xff]) {
        out.push(&rest[..pos]);
        rest = &rest[pos + 3..];
    }
    out.push(rest);
    out
}
