//! Unit tests of the private pieces; the public behaviour is tested in tests/deflate*.rs.

use alloc::vec;
use alloc::vec::Vec;

use super::codec::{Compressor, Decompressor, Inflated};
use super::params::Params;
use crate::extension::{ExtensionError, ExtensionParam};

fn p(name: &'static str, value: Option<&'static str>) -> ExtensionParam<'static> {
    ExtensionParam { name, value }
}

#[test]
fn parse_accepts_every_parameter_once() {
    let params = [
        p("server_no_context_takeover", None),
        p("Client_No_Context_Takeover", None),
        p("server_max_window_bits", Some("8")),
        p("client_max_window_bits", None),
    ];
    let parsed = Params::parse(&params).unwrap();
    assert_eq!(
        parsed,
        Params {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: Some(8),
            client_max_window_bits: Some(None),
        }
    );
}

#[test]
fn parse_rejects_bad_values_and_duplicates() {
    for bad in [
        vec![p("server_max_window_bits", None)],
        vec![p("server_max_window_bits", Some("7"))],
        vec![p("server_max_window_bits", Some("16"))],
        vec![p("server_max_window_bits", Some("010"))],
        vec![p("server_max_window_bits", Some("+9"))],
        vec![p("server_max_window_bits", Some(""))],
        vec![p("client_max_window_bits", Some("1a"))],
        vec![p("server_no_context_takeover", Some("1"))],
        vec![p("client_no_context_takeover", Some(""))],
        vec![p("x-unknown", None)],
        vec![
            p("server_no_context_takeover", None),
            p("server_no_context_takeover", None),
        ],
        vec![
            p("client_no_context_takeover", None),
            p("client_no_context_takeover", None),
        ],
        vec![
            p("server_max_window_bits", Some("9")),
            p("server_max_window_bits", Some("9")),
        ],
        vec![
            p("client_max_window_bits", None),
            p("client_max_window_bits", Some("9")),
        ],
    ] {
        assert!(Params::parse(&bad).is_err(), "{bad:?}");
    }
}

#[test]
fn sync_trailer_is_stripped() {
    let mut c = Compressor::new(6, 15);
    let mut out = Vec::new();
    c.compress(b"Hello", true, &mut out).unwrap();
    // The RFC 7692 §7.2.3.1 example.
    assert_eq!(out, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    // Context takeover: the second "Hello" is a back-reference (§7.2.3.2).
    let mut out2 = Vec::new();
    c.compress(b"Hello", true, &mut out2).unwrap();
    assert_eq!(out2, [0xf2, 0x00, 0x11, 0x00, 0x00]);
    c.reset();
    let mut out3 = Vec::new();
    c.compress(b"Hello", true, &mut out3).unwrap();
    assert_eq!(out3, out);
}

#[test]
fn bounded_inflate_stops_at_the_limit() {
    let data = vec![b'a'; 100_000];
    let mut c = Compressor::new(6, 15);
    let mut z = Vec::new();
    c.compress(&data, true, &mut z).unwrap();
    z.extend_from_slice(&super::codec::SYNC_TRAILER);
    for limit in [0, 1, 4095, 4096, 65_536, 99_999] {
        let mut d = Decompressor::new();
        let mut out = Vec::new();
        assert_eq!(
            d.inflate(&z, &mut out, limit),
            Err(ExtensionError::MessageTooLarge)
        );
        assert_eq!(out.len(), limit);
    }
    let mut d = Decompressor::new();
    let mut out = Vec::new();
    assert_eq!(d.inflate(&z, &mut out, 100_000), Ok(Inflated::NeedsInput));
    assert_eq!(out, data);
}

#[test]
fn inflate_byte_by_byte() {
    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut c = Compressor::new(9, 15);
    let mut z = Vec::new();
    c.compress(&data, true, &mut z).unwrap();
    z.extend_from_slice(&super::codec::SYNC_TRAILER);
    let mut d = Decompressor::new();
    let mut out = Vec::new();
    for b in &z {
        assert_eq!(
            d.inflate(core::slice::from_ref(b), &mut out, usize::MAX),
            Ok(Inflated::NeedsInput)
        );
    }
    assert_eq!(out, data);
}

#[test]
fn state_sizes() {
    // Recorded in docs/deflate.md; printed with `--nocapture`.
    let c = core::mem::size_of::<miniz_oxide::deflate::core::CompressorOxide>();
    let d = core::mem::size_of::<miniz_oxide::inflate::core::DecompressorOxide>();
    std::println!(
        "CompressorOxide: {c} bytes inline; DecompressorOxide: {d} bytes (+ 32 KiB window)"
    );
}

/// Compress `msgs` as whole messages with `c` and inflate them with a fresh decompressor that
/// keeps its context (a stream that `c` may have full-flushed in between).
fn round_trip(c: &mut Compressor, msgs: &[&[u8]]) {
    let mut d = Decompressor::new();
    for msg in msgs {
        let mut z = Vec::new();
        c.compress(msg, true, &mut z).unwrap();
        z.extend_from_slice(&super::codec::SYNC_TRAILER);
        let mut out = Vec::new();
        assert_eq!(
            d.inflate(&z, &mut out, usize::MAX),
            Ok(Inflated::NeedsInput)
        );
        assert_eq!(out, *msg);
    }
}

#[test]
fn an_empty_message_is_one_byte() {
    // RFC 7692 §7.2.3.6: an empty stored block, its `00 00 ff ff` stripped. zlib emits nothing
    // for a flush right after a flush; the zlib-rs backend writes that block itself.
    let mut c = Compressor::new(1, 15);
    for forget in [false, true] {
        c.set_forget(forget);
        for _ in 0..2 {
            let mut out = Vec::new();
            c.compress(b"", true, &mut out).unwrap();
            assert_eq!(out, [0x00]);
        }
        round_trip(&mut c, &[b"Hello", b"", b"", b"Hello"]);
    }
}

#[test]
fn a_reused_compressor_takes_the_new_level_and_window() {
    // As the thread's cache hands a compressor from one connection to the next.
    let text: Vec<u8> = (0..20_000u32)
        .flat_map(|i| alloc::format!("{{\"id\":{},\"name\":\"n{}\"}}", i % 97, i % 13).into_bytes())
        .collect();
    let mut c = Compressor::new(1, 15);
    c.set_forget(true);
    round_trip(&mut c, &[&text]);
    for (level, bits) in [(6, 15), (9, 15), (1, 10), (6, 10), (0, 8), (10, 15)] {
        c.reuse(level, bits, true);
        round_trip(&mut c, &[&text, &text[..1000], b""]);
    }
}

#[test]
fn a_grown_output_buffer_is_given_back_and_the_context_stays() {
    // Two large messages, the second repeating the first: under context takeover it is mostly
    // back-references into the first, so inflating it checks that the history survived.
    let text: Vec<u8> = (0..12_000u32)
        .flat_map(|i| alloc::format!("{{\"id\":{},\"v\":{}}}", i, i * 31 % 1000).into_bytes())
        .collect();
    let mut c = Compressor::new(1, 15);
    let mut d = Decompressor::new();
    assert_eq!(d.spare_memory(), 0);
    for round in 0..2 {
        let mut z = Vec::new();
        c.compress(&text, true, &mut z).unwrap();
        z.extend_from_slice(&super::codec::SYNC_TRAILER);
        let mut out = Vec::new();
        assert_eq!(
            d.inflate(&z, &mut out, usize::MAX),
            Ok(Inflated::NeedsInput)
        );
        assert_eq!(out, text, "round {round}");
        // zlib-rs inflates large messages into a buffer grown to 64 KiB (56 KiB over its
        // first 8 KiB); miniz_oxide's ring has nothing to give back.
        let grown = if cfg!(feature = "zlib-rs") {
            56 << 10
        } else {
            0
        };
        assert_eq!(d.spare_memory(), grown);
        d.release_memory();
        assert_eq!(d.spare_memory(), 0);
    }
}
