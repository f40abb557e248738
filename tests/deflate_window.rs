//! Windows below 32 KiB are honoured: what our compressor emits for a window of 2^N bytes
//! never refers further back than 2^N bytes. Checked two ways: by zlib itself (Python's
//! `zlib.decompressobj(wbits=-N)`, fed so that every distance is checked, N = 8..=15; skipped
//! with a note without python3), and by an independent decoder that records the largest
//! distance (always).

mod deflate_common;

use std::path::PathBuf;
use std::process::Command;

use deflate_common::inflate_ref::RefInflater;
use deflate_common::*;
use wsproto::Extension;
use wsproto::deflate::{DeflateConfig, PerMessageDeflate};
use wsproto::extension::ExtensionParam;

/// Messages with repeats at every distance scale (the vector corpus plus some more).
fn corpus() -> Vec<Vec<u8>> {
    let mut msgs = read_messages(&data_dir().join("messages.bin"));
    let block = noise(20_000, 9);
    let mut far = block.clone();
    far.extend_from_slice(&json_like(10_000, 5));
    far.extend_from_slice(&block);
    msgs.push(far);
    msgs.push(block); // repeats across the message boundary
    for period in [
        200usize, 255, 256, 257, 300, 511, 513, 1000, 4095, 4097, 16_000,
    ] {
        let unit = noise(period, period as u64);
        msgs.push(unit.iter().cycle().take(period * 5 + 17).copied().collect());
    }
    msgs
}

/// A server that agreed to compress with a 2^bits window.
fn server_with_window(bits: u8, level: u8, takeover: bool) -> PerMessageDeflate {
    let mut server = PerMessageDeflate::new(DeflateConfig::new().level(level).threshold(0));
    let value = bits.to_string();
    let mut offer = vec![ExtensionParam {
        name: "server_max_window_bits",
        value: Some(&value),
    }];
    if !takeover {
        offer.push(ExtensionParam {
            name: "server_no_context_takeover",
            value: None,
        });
    }
    server.accept_offer(&offer).unwrap();
    assert_eq!(server.compress_window_bits(), bits);
    server
}

fn compress_all(ext: &mut PerMessageDeflate, msgs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    msgs.iter().map(|m| send(ext, m, true).1).collect()
}

/// The stream as the peer's inflater sees it: each message with its trailer restored.
/// Decodes messages with the reference decoder and a 32 KiB window (each message its own
/// stream without takeover): the output and the farthest back-reference.
fn decode(compressed: &[Vec<u8>], takeover: bool) -> (Vec<u8>, usize) {
    let mut reference = RefInflater::new(15, takeover, usize::MAX);
    let output = compressed
        .iter()
        .flat_map(|c| reference.message(c).unwrap())
        .collect();
    (output, reference.max_distance())
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wsproto-deflate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs tests/tools/inflate_window.py: Ok(()) if zlib with a 2^bits window inflates it all.
fn zlib_check(
    python: &str,
    bits: u8,
    compressed: &[Vec<u8>],
    expected: &[Vec<u8>],
    tag: &str,
) -> Result<(), String> {
    let cpath = tmp(&format!("{tag}-c.bin"));
    let epath = tmp(&format!("{tag}-e.bin"));
    write_messages(&cpath, compressed);
    write_messages(&epath, expected);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/inflate_window.py");
    let out = Command::new(python)
        .arg(script)
        .arg(bits.to_string())
        .arg(&cpath)
        .arg(&epath)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(cpath);
    let _ = std::fs::remove_file(epath);
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn distances_stay_within_the_window() {
    let msgs = corpus();
    for bits in 8..=15u8 {
        for level in [1, 6, 9] {
            for takeover in [true, false] {
                let mut server = server_with_window(bits, level, takeover);
                let compressed = compress_all(&mut server, &msgs);
                let (output, farthest) = decode(&compressed, takeover);
                assert_eq!(output, msgs.concat(), "bits {bits} level {level}");
                assert!(
                    farthest <= 1 << bits,
                    "bits {bits} level {level} takeover {takeover}: distance {}",
                    farthest
                );
                if level > 0 && bits >= 9 {
                    // LZ77 is really used, not just literals: some match reaches past half of
                    // what the compressor can reach. zlib-rs, like C zlib, never refers further
                    // back than its window less MIN_LOOKAHEAD (262 bytes); miniz_oxide up to the
                    // window.
                    let reach = if cfg!(feature = "zlib-rs") {
                        (1 << bits) - 262
                    } else {
                        1 << bits
                    };
                    assert!(farthest > reach / 2, "bits {bits}: {}", farthest);
                }
            }
        }
    }
}

#[test]
fn zlib_inflates_our_output_with_exactly_that_window() {
    let Some(python) = python3() else { return };
    let msgs = corpus();
    for bits in 8..=15u8 {
        for level in [1, 9] {
            let mut server = server_with_window(bits, level, true);
            let compressed = compress_all(&mut server, &msgs);
            zlib_check(
                python,
                bits,
                &compressed,
                &msgs,
                &format!("w{bits}-l{level}"),
            )
            .unwrap_or_else(|e| panic!("window {bits} level {level}: {e}"));
        }
    }
}

#[test]
fn the_zlib_check_catches_a_too_large_window() {
    // Negative control: 32 KiB-window output is rejected by a 2^N-window zlib, so the check
    // above has teeth.
    let Some(python) = python3() else { return };
    let msgs = corpus();
    let mut server = server_with_window(15, 6, true);
    let compressed = compress_all(&mut server, &msgs);
    assert!(decode(&compressed, true).1 > 1 << 14);
    zlib_check(python, 15, &compressed, &msgs, "ctl15").unwrap();
    for bits in [8, 9, 12, 14] {
        let err = zlib_check(python, bits, &compressed, &msgs, &format!("ctl{bits}")).unwrap_err();
        assert!(err.contains("invalid distance too far back"), "{err}");
    }
}

#[test]
fn miniz_oxide_window_bits_alone_is_not_a_bound() {
    // Why codec.rs enforces windows itself: miniz_oxide 0.9's own window-bits parameter only
    // lowers the level (12..=14 bits) or asks for run-length matches (below 12), and either way
    // the output still refers up to 32 KiB back. Recorded in docs/deflate.md.
    use miniz_oxide::DataFormat;
    use miniz_oxide::deflate::core::{
        CompressionStrategy, CompressorOxide, TDEFLFlush, compress_to_output,
    };
    let msgs = corpus();
    let input = msgs.concat();
    for bits in [9u8, 12, 14] {
        let mut c =
            CompressorOxide::with_params(DataFormat::Raw, 6, CompressionStrategy::Default, bits);
        let mut out = Vec::new();
        let (status, consumed) = compress_to_output(&mut c, &input, TDEFLFlush::Sync, |b| {
            out.extend_from_slice(b);
            true
        });
        assert_eq!(consumed, input.len(), "{status:?}");
        // A message as permessage-deflate sends it: the sync flush's 00 00 ff ff removed.
        let message = out.strip_suffix(&[0, 0, 0xff, 0xff]).unwrap().to_vec();
        let (output, farthest) = decode(&[message], true);
        assert_eq!(output, input);
        // Even below 12 bits, where it asks for run-length matches, level 1's fast path
        // ignores that flag and searches the whole 32 KiB dictionary.
        assert!(farthest > 1 << bits, "bits {bits}: max distance {farthest}");
    }
}
