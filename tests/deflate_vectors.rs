//! Checked-in vectors produced by zlib (tests/tools/make_vectors.py: windows 9..=15, levels 1
//! and 9, context takeover on and off) decode to the expected messages.

mod deflate_common;

use deflate_common::*;
use wsproto::Extension;
use wsproto::deflate::{DeflateConfig, PerMessageDeflate};
use wsproto::extension::{ExtensionParam, RSV1};

#[test]
fn zlib_vectors_decode() {
    let expected = read_messages(&data_dir().join("messages.bin"));
    assert_eq!(expected.len(), 10);
    let mut files = 0;
    for bits in 9..=15u8 {
        for level in [1, 9] {
            for takeover in [true, false] {
                let name = format!(
                    "w{bits}_l{level}_{}.bin",
                    if takeover { "ctx" } else { "noctx" }
                );
                let compressed = read_messages(&data_dir().join(&name));
                assert_eq!(compressed.len(), expected.len(), "{name}");
                for chunk in [usize::MAX, 1000, 1] {
                    // A client that asked for this window (and no takeover when the peer did not use it).
                    let mut client = PerMessageDeflate::new(
                        DeflateConfig::new()
                            .server_max_window_bits(bits)
                            .server_no_context_takeover(!takeover),
                    );
                    let value = bits.to_string();
                    let mut response = vec![ExtensionParam {
                        name: "server_max_window_bits",
                        value: Some(&value),
                    }];
                    if !takeover {
                        response.push(ExtensionParam {
                            name: "server_no_context_takeover",
                            value: None,
                        });
                    }
                    client.accept_response(&response).unwrap();
                    for (i, (c, e)) in compressed.iter().zip(&expected).enumerate() {
                        let got = recv(&mut client, RSV1, c, chunk, 1 << 20).unwrap();
                        assert_eq!(&got, e, "{name} message {i} chunk {chunk}");
                        assert_eq!(client.has_decompressor(), takeover);
                    }
                }
                files += 1;
            }
        }
    }
    assert_eq!(files, 28);
}

#[test]
fn vectors_respect_the_message_limit() {
    // Message 7 is 70 000 bytes of 'a': exactly at the limit it passes, one below it fails.
    let expected = read_messages(&data_dir().join("messages.bin"));
    let compressed = read_messages(&data_dir().join("w15_l9_noctx.bin"));
    let (c, e) = (&compressed[7], &expected[7]);
    assert_eq!(e.len(), 70_000);
    let mut rx = PerMessageDeflate::default();
    assert_eq!(&recv(&mut rx, RSV1, c, 10, 70_000).unwrap(), e);
    let mut rx = PerMessageDeflate::default();
    assert_eq!(
        recv(&mut rx, RSV1, c, 10, 69_999),
        Err(wsproto::ExtensionError::MessageTooLarge)
    );
}
