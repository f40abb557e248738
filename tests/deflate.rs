//! permessage-deflate through the public `Extension` interface: negotiation in both roles and
//! round trips for every parameter combination.

mod deflate_common;

use deflate_common::*;
use proptest::prelude::*;
use wsproto::Extension;
use wsproto::deflate::{Agreed, DeflateConfig, PerMessageDeflate};
use wsproto::extension::{ExtensionError, ExtensionParam, RSV1};

fn params(list: &[(&'static str, Option<&'static str>)]) -> Vec<ExtensionParam<'static>> {
    list.iter()
        .map(|&(name, value)| ExtensionParam { name, value })
        .collect()
}

// ---------------------------------------------------------------- negotiation

#[test]
fn default_offer_and_response() {
    let mut client = PerMessageDeflate::default();
    let mut server = PerMessageDeflate::default();
    assert_eq!(client.offer(), "permessage-deflate; client_max_window_bits");
    assert_eq!(client.name(), "permessage-deflate");
    assert_eq!(client.rsv_bits(), RSV1);
    assert_eq!(client.agreed(), None);
    let response = negotiate(&mut client, &mut server).unwrap();
    assert_eq!(response.as_deref(), Some("permessage-deflate"));
    let plain = Agreed {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    assert_eq!(client.agreed(), Some(plain));
    assert_eq!(server.agreed(), Some(plain));
}

#[test]
fn full_offer_is_granted() {
    let config = DeflateConfig::new()
        .server_no_context_takeover(true)
        .client_no_context_takeover(true)
        .server_max_window_bits(10)
        .client_max_window_bits(12);
    let mut client = PerMessageDeflate::new(config);
    let mut server = PerMessageDeflate::default();
    assert_eq!(
        client.offer(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=12"
    );
    let response = negotiate(&mut client, &mut server).unwrap();
    assert_eq!(
        response.as_deref(),
        Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10"
        )
    );
    let agreed = Agreed {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 10,
        client_max_window_bits: 15,
    };
    assert_eq!(
        server.agreed(),
        Some(Agreed {
            client_max_window_bits: 12,
            ..agreed
        })
    );
    assert_eq!(client.agreed(), Some(agreed));
    // The client still keeps to the window it offered.
    assert_eq!(client.compress_window_bits(), 12);
    assert_eq!(server.compress_window_bits(), 10);
}

#[test]
fn server_limits_from_its_config() {
    let mut server = PerMessageDeflate::new(
        DeflateConfig::new()
            .server_max_window_bits(11)
            .client_max_window_bits(9)
            .server_no_context_takeover(true)
            .client_no_context_takeover(true),
    );
    let response = server
        .accept_offer(&params(&[("client_max_window_bits", None)]))
        .unwrap();
    assert_eq!(
        response,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=11; client_max_window_bits=9"
    );
    assert_eq!(server.compress_window_bits(), 11);

    // The client asked for 13 and we want 11: 11 it is. It offered 10 for itself, we want 9.
    let mut server = PerMessageDeflate::new(
        DeflateConfig::new()
            .server_max_window_bits(11)
            .client_max_window_bits(9),
    );
    let response = server
        .accept_offer(&params(&[
            ("server_max_window_bits", Some("13")),
            ("client_max_window_bits", Some("10")),
        ]))
        .unwrap();
    assert_eq!(
        response,
        "permessage-deflate; server_max_window_bits=11; client_max_window_bits=9"
    );

    // Without client_max_window_bits in the offer we must not limit the client.
    let mut server = PerMessageDeflate::new(DeflateConfig::new().client_max_window_bits(9));
    assert_eq!(server.accept_offer(&[]).unwrap(), "permessage-deflate");
    assert_eq!(server.agreed().unwrap().client_max_window_bits, 15);
}

#[test]
fn server_honours_small_windows_and_hints() {
    for bits in 8..=15u8 {
        let value = bits.to_string();
        let mut server = PerMessageDeflate::default();
        let offer = [
            ExtensionParam {
                name: "server_max_window_bits",
                value: Some(&value),
            },
            ExtensionParam {
                name: "client_no_context_takeover",
                value: None,
            },
        ];
        let response = server.accept_offer(&offer).unwrap();
        assert_eq!(
            response,
            format!(
                "permessage-deflate; client_no_context_takeover; server_max_window_bits={bits}"
            )
        );
        assert_eq!(server.compress_window_bits(), bits);
    }
}

#[test]
fn server_declines_invalid_offers() {
    let bad: &[&[(&str, Option<&str>)]] = &[
        &[("server_max_window_bits", None)],
        &[("server_max_window_bits", Some("7"))],
        &[("server_max_window_bits", Some("16"))],
        &[("server_max_window_bits", Some("08"))],
        &[("client_max_window_bits", Some("0"))],
        &[("client_max_window_bits", Some("abc"))],
        &[("server_no_context_takeover", Some("true"))],
        &[("client_no_context_takeover", Some("1"))],
        &[("mux", None)],
        &[
            ("server_no_context_takeover", None),
            ("server_no_context_takeover", None),
        ],
        &[
            ("client_no_context_takeover", None),
            ("client_no_context_takeover", None),
        ],
        &[
            ("client_max_window_bits", None),
            ("client_max_window_bits", None),
        ],
        &[
            ("server_max_window_bits", Some("10")),
            ("server_max_window_bits", Some("11")),
        ],
    ];
    for offer in bad {
        let list: Vec<ExtensionParam<'_>> = offer
            .iter()
            .map(|&(name, value)| ExtensionParam { name, value })
            .collect();
        let mut server = PerMessageDeflate::default();
        assert_eq!(server.accept_offer(&list), None, "{offer:?}");
        assert_eq!(server.agreed(), None);
    }
}

#[test]
fn server_takes_first_valid_offer() {
    // The first element is invalid (duplicate), the second is taken.
    let mut server = PerMessageDeflate::default();
    let header = "permessage-deflate; server_max_window_bits=9; server_max_window_bits=9, \
                  permessage-deflate; server_max_window_bits=12, permessage-deflate";
    let mut accepted = None;
    for (_, p) in parse_header(header) {
        if let Some(r) = server.accept_offer(&as_params(&p)) {
            accepted = Some(r);
            break;
        }
    }
    assert_eq!(
        accepted.as_deref(),
        Some("permessage-deflate; server_max_window_bits=12")
    );
}

#[test]
fn client_offers_several_elements_and_uses_the_answered_one() {
    let primary = DeflateConfig::new()
        .server_max_window_bits(9)
        .server_no_context_takeover(true)
        .level(9);
    let fallback = DeflateConfig::new().level(1).threshold(0);
    let client = PerMessageDeflate::new(primary).with_fallback(fallback);
    assert_eq!(
        client.offer(),
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits, \
         permessage-deflate; client_max_window_bits"
    );
    // A server that cannot honour the first element answers the second.
    let mut c = client;
    c.accept_response(&[]).unwrap();
    assert_eq!(c.config(), fallback);
    assert_eq!(
        c.encode_start(Some(0), true),
        Some(RSV1),
        "the fallback's threshold applies"
    );

    // Our server takes the first.
    let mut client = PerMessageDeflate::new(primary).with_fallback(fallback);
    let mut server = PerMessageDeflate::default();
    let response = negotiate(&mut client, &mut server).unwrap().unwrap();
    assert_eq!(
        response,
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=9"
    );
    assert_eq!(client.config(), primary);
}

#[test]
fn client_fails_on_bad_responses() {
    let config = DeflateConfig::new()
        .server_no_context_takeover(true)
        .server_max_window_bits(10)
        .client_max_window_bits(12);
    let bad: &[&[(&str, Option<&str>)]] = &[
        // Not what we asked for.
        &[("server_max_window_bits", Some("10"))],
        &[("server_no_context_takeover", None)],
        &[
            ("server_no_context_takeover", None),
            ("server_max_window_bits", Some("11")),
        ],
        // client_max_window_bits: needs a value, at most what we offered.
        &[
            ("server_no_context_takeover", None),
            ("server_max_window_bits", Some("10")),
            ("client_max_window_bits", None),
        ],
        &[
            ("server_no_context_takeover", None),
            ("server_max_window_bits", Some("10")),
            ("client_max_window_bits", Some("13")),
        ],
        // Malformed, unknown, duplicated.
        &[
            ("server_no_context_takeover", None),
            ("server_max_window_bits", Some("1O")),
        ],
        &[
            ("server_no_context_takeover", None),
            ("server_max_window_bits", Some("10")),
            ("foo", None),
        ],
        &[
            ("server_no_context_takeover", None),
            ("server_no_context_takeover", None),
            ("server_max_window_bits", Some("10")),
        ],
    ];
    for response in bad {
        let list: Vec<ExtensionParam<'_>> = response
            .iter()
            .map(|&(name, value)| ExtensionParam { name, value })
            .collect();
        let mut client = PerMessageDeflate::new(config);
        let err = client.accept_response(&list).unwrap_err();
        assert!(
            matches!(err, ExtensionError::Negotiation(_)),
            "{response:?}: {err:?}"
        );
        assert_eq!(err.close_code(), wsproto::CloseCode::PROTOCOL_ERROR);
    }
    // A good one: smaller windows than asked are fine, extra client_no_context_takeover too.
    let mut client = PerMessageDeflate::new(config);
    client
        .accept_response(&params(&[
            ("server_no_context_takeover", None),
            ("client_no_context_takeover", None),
            ("server_max_window_bits", Some("8")),
            ("client_max_window_bits", Some("9")),
        ]))
        .unwrap();
    assert_eq!(
        client.agreed(),
        Some(Agreed {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 8,
            client_max_window_bits: 9,
        })
    );
    assert_eq!(client.compress_window_bits(), 9);
    // With the default offer (valueless client_max_window_bits), a server may pick any value.
    let mut client = PerMessageDeflate::default();
    client
        .accept_response(&params(&[("client_max_window_bits", Some("8"))]))
        .unwrap();
    assert_eq!(client.compress_window_bits(), 8);
}

// ---------------------------------------------------------------- per message

#[test]
fn threshold_and_opt_out() {
    let mut ext = PerMessageDeflate::default();
    assert_eq!(ext.encode_start(Some(1023), true), None);
    assert_eq!(ext.encode_start(Some(1024), true), Some(RSV1));
    assert_eq!(ext.encode_start(Some(1 << 20), false), None);
    assert_eq!(ext.encode_start(None, true), Some(RSV1));
    assert_eq!(ext.encode_start(None, false), None);
    let mut ext = PerMessageDeflate::new(DeflateConfig::new().threshold(0));
    assert_eq!(ext.encode_start(Some(0), true), Some(RSV1));
    assert_eq!(ext.decode_start(0), Ok(false));
    assert_eq!(ext.decode_start(RSV1), Ok(true));
}

#[test]
fn rfc7692_examples() {
    // §7.2.3.1: "Hello" in one message; §7.2.3.2: the second one refers to the first.
    // (Level 6 reproduces the RFC's bytes exactly; level 1 picks another valid encoding.)
    let mut ext = PerMessageDeflate::new(DeflateConfig::new().level(6).threshold(0));
    assert_eq!(
        send(&mut ext, b"Hello", true),
        (RSV1, vec![0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
    );
    assert_eq!(
        send(&mut ext, b"Hello", true),
        (RSV1, vec![0xf2, 0x00, 0x11, 0x00, 0x00])
    );
    let mut rx = PerMessageDeflate::default();
    assert_eq!(
        recv(
            &mut rx,
            RSV1,
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            3,
            100
        )
        .unwrap(),
        b"Hello"
    );
    assert_eq!(
        recv(&mut rx, RSV1, &[0xf2, 0x00, 0x11, 0x00, 0x00], 1, 100).unwrap(),
        b"Hello"
    );
    // §7.2.3.1 fragmented: the same payload split over two frames.
    assert_eq!(
        recv(
            &mut PerMessageDeflate::default(),
            RSV1,
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            3,
            5
        )
        .unwrap(),
        b"Hello"
    );
    // §7.2.3.3: a stored block.
    assert_eq!(
        recv(
            &mut PerMessageDeflate::default(),
            RSV1,
            &[
                0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00
            ],
            4,
            100
        )
        .unwrap(),
        b"Hello"
    );
    // §7.2.3.4: a block with BFINAL set (and the padding byte after it); the next message
    // starts a new stream.
    let mut rx = PerMessageDeflate::default();
    assert_eq!(
        recv(
            &mut rx,
            RSV1,
            &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
            2,
            100
        )
        .unwrap(),
        b"Hello"
    );
    assert_eq!(
        recv(
            &mut rx,
            RSV1,
            &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
            100,
            100
        )
        .unwrap(),
        b"Hello"
    );
    assert_eq!(
        recv(
            &mut rx,
            RSV1,
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            100,
            100
        )
        .unwrap(),
        b"Hello"
    );
    // §7.2.3.5: two blocks in one message (the first ended by a sync flush that stays).
    assert_eq!(
        recv(
            &mut PerMessageDeflate::default(),
            RSV1,
            &[
                0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00
            ],
            5,
            100
        )
        .unwrap(),
        b"Hello"
    );
    // An empty compressed payload is an empty message, and leaves the stream intact.
    assert_eq!(recv(&mut rx, RSV1, &[], 1, 100).unwrap(), b"");
    assert_eq!(
        recv(&mut rx, RSV1, &[0xf2, 0x00, 0x11, 0x00, 0x00], 1, 100).unwrap(),
        b"Hello"
    );
}

#[test]
fn corrupt_data_is_1007() {
    let mut rx = PerMessageDeflate::default();
    // BTYPE 11 is reserved.
    let err = recv(&mut rx, RSV1, &[0xff, 0xff, 0xff], 10, 1000).unwrap_err();
    assert!(matches!(err, ExtensionError::InvalidData(_)), "{err:?}");
    assert_eq!(err.close_code(), wsproto::CloseCode::INVALID_PAYLOAD);
    // A stored block whose length check fails.
    let mut rx = PerMessageDeflate::default();
    let err = recv(
        &mut rx,
        RSV1,
        &[0x00, 0x05, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5],
        10,
        1000,
    )
    .unwrap_err();
    assert!(matches!(err, ExtensionError::InvalidData(_)), "{err:?}");
    // A truncated stream followed by garbage.
    let mut rx = PerMessageDeflate::default();
    let err = recv(
        &mut rx,
        RSV1,
        &[
            0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xff, 0xff, 0xff, 0xff,
        ],
        3,
        1000,
    )
    .unwrap_err();
    assert!(matches!(err, ExtensionError::InvalidData(_)), "{err:?}");
    // A back-reference before the start of the stream (a literal "H" then a 4-byte match at
    // distance 5). Known leniency of the default backend (docs/deflate.md): miniz_oxide's
    // streaming inflater does not check for it and reads zeros, bounded all the same; zlib-rs
    // rejects it as C zlib does ("invalid distance too far back").
    let mut rx = PerMessageDeflate::default();
    let out = recv(&mut rx, RSV1, &[0xf2, 0x00, 0x11, 0x00, 0x00], 10, 1000);
    assert_eq!(out, too_far_back());
}

/// What the backend makes of `f2 00 11 00 00` at the start of a stream: a literal "H", then a
/// match at distance 5, before the start of the stream.
fn too_far_back() -> Result<Vec<u8>, ExtensionError> {
    if cfg!(feature = "zlib-rs") {
        Err(ExtensionError::InvalidData("corrupt deflate data"))
    } else {
        Ok(b"H\0\0\0\0".to_vec())
    }
}

#[test]
fn deflate_bomb_is_cut_at_the_limit() {
    // A message of about 1 MiB that inflates to 1 GiB of zeros. Built from sync-flushed 1 MiB
    // pieces: once the window is all zeros, every further piece compresses to the same bytes.
    let mut tx = PerMessageDeflate::new(DeflateConfig::new().level(9));
    let zeros = vec![0u8; 1 << 20];
    let (_, first) = send(&mut tx, &zeros, true);
    let (_, steady) = send(&mut tx, &zeros, true);
    let (_, again) = send(&mut tx, &zeros, true);
    assert_eq!(steady, again, "steady state");
    let mut bomb = first;
    for _ in 1..1024 {
        bomb.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
        bomb.extend_from_slice(&steady);
    }
    assert!(bomb.len() < 3 << 20, "bomb is {} bytes", bomb.len());
    let max_len = 16 << 20;
    let mut rx = PerMessageDeflate::default();
    assert_eq!(rx.decode_start(RSV1), Ok(true));
    let mut out = Vec::new();
    let mut result = Ok(());
    for piece in bomb.chunks(64 << 10) {
        result = rx.decode(piece, false, &mut out, max_len);
        assert!(out.len() <= max_len);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(ExtensionError::MessageTooLarge));
    assert_eq!(
        result.unwrap_err().close_code(),
        wsproto::CloseCode::MESSAGE_TOO_BIG
    );
    assert_eq!(out.len(), max_len);
    assert!(out.capacity() <= 2 * max_len, "capacity {}", out.capacity());
    assert!(!rx.has_decompressor(), "state freed after the failure");
}

#[test]
fn limit_counts_bytes_already_in_out() {
    let mut tx = PerMessageDeflate::new(DeflateConfig::new().threshold(0));
    let (rsv, payload) = send(&mut tx, &[b'x'; 100], true);
    let mut rx = PerMessageDeflate::default();
    assert!(rx.decode_start(rsv).unwrap());
    let mut out = vec![0u8; 50];
    assert_eq!(
        rx.decode(&payload, true, &mut out, 149),
        Err(ExtensionError::MessageTooLarge)
    );
    assert_eq!(out.len(), 149);
    let mut rx = PerMessageDeflate::default();
    assert!(rx.decode_start(rsv).unwrap());
    let mut out = vec![0u8; 50];
    rx.decode(&payload, true, &mut out, 150).unwrap();
    assert_eq!(&out[50..], &[b'x'; 100]);
}

// ---------------------------------------------------------------- round trips

/// Every combination of the four parameters (windows at 8, 9, 12 and 15 bits).
fn all_configs() -> Vec<DeflateConfig> {
    let mut out = Vec::new();
    for snct in [false, true] {
        for cnct in [false, true] {
            for sbits in [8, 9, 12, 15] {
                for cbits in [8, 9, 12, 15] {
                    out.push(
                        DeflateConfig::new()
                            .server_no_context_takeover(snct)
                            .client_no_context_takeover(cnct)
                            .server_max_window_bits(sbits)
                            .client_max_window_bits(cbits)
                            .threshold(0),
                    );
                }
            }
        }
    }
    out
}

fn check_direction(
    tx: &mut PerMessageDeflate,
    rx: &mut PerMessageDeflate,
    takeover: bool,
    what: &str,
) {
    let first = json_like(3000, 1);
    let messages = [
        first.clone(),
        first.clone(),
        json_like(12_000, 2),
        noise(3000, 3),
        Vec::new(),
        json_like(40_000, 4),
        first.clone(),
    ];
    let mut sizes = Vec::new();
    for (i, msg) in messages.iter().enumerate() {
        let (rsv, payload) = send(tx, msg, true);
        assert_eq!(rsv, RSV1);
        sizes.push(payload.len());
        assert_eq!(
            tx.has_compressor(),
            takeover,
            "{what}: compressor kept iff context takeover"
        );
        let chunk = if i % 2 == 0 { usize::MAX } else { 7 };
        let got = recv(rx, rsv, &payload, chunk, 1 << 20).unwrap();
        assert_eq!(&got, msg, "{what}: message {i}");
        assert_eq!(
            rx.has_decompressor(),
            takeover,
            "{what}: decompressor kept iff context takeover"
        );
    }
    if takeover && tx.compress_window_bits() == 15 {
        assert!(sizes[1] < sizes[0] / 2, "{what}: context used: {sizes:?}");
    } else if takeover {
        // Smaller windows are emptied every 2^bits bytes (docs/deflate.md): less to gain.
        assert!(sizes[1] <= sizes[0] * 11 / 10, "{what}: {sizes:?}");
    } else {
        assert_eq!(sizes[1], sizes[0], "{what}: no context: {sizes:?}");
    }
}

#[test]
fn round_trip_every_parameter_combination() {
    for client_config in all_configs() {
        for server_config in [DeflateConfig::new().threshold(0), client_config] {
            let mut client = PerMessageDeflate::new(client_config);
            let mut server = PerMessageDeflate::new(server_config);
            negotiate(&mut client, &mut server)
                .unwrap()
                .expect("accepted");
            let agreed = client.agreed().unwrap();
            assert_eq!(
                server.agreed().unwrap().server_max_window_bits,
                agreed.server_max_window_bits
            );
            let what = format!("{client_config:?} / {server_config:?} -> {agreed:?}");
            let client_takeover = !(agreed.client_no_context_takeover
                || client_config.get_client_no_context_takeover());
            check_direction(&mut client, &mut server, client_takeover, &what);
            check_direction(
                &mut server,
                &mut client,
                !agreed.server_no_context_takeover,
                &what,
            );
        }
    }
}

#[test]
fn fragmented_send_and_chunked_receive() {
    for bits in [8, 10, 15] {
        let mut client = PerMessageDeflate::new(DeflateConfig::new().client_max_window_bits(bits));
        let mut server = PerMessageDeflate::default();
        negotiate(&mut client, &mut server).unwrap().unwrap();
        for round in 0..3 {
            let msg = json_like(20_000 + round * 1000, round as u32);
            let pieces: Vec<&[u8]> = msg.chunks(777).chain([&[][..]]).collect();
            let (rsv, frames) = send_fragments(&mut client, &pieces);
            assert_eq!(rsv, RSV1);
            assert!(server.decode_start(rsv).unwrap());
            let mut out = Vec::new();
            for (i, frame) in frames.iter().enumerate() {
                for piece in frame.chunks(5) {
                    server.decode(piece, false, &mut out, usize::MAX).unwrap();
                }
                // Each fragment was flushed: it inflates completely on arrival.
                let sent: usize = pieces[..=i].iter().map(|p| p.len()).sum();
                assert_eq!(out.len(), sent, "bits {bits} round {round} fragment {i}");
            }
            assert!(
                frames.last().unwrap().is_empty()
                    || !frames.last().unwrap().ends_with(&[0, 0, 0xff, 0xff])
            );
            server.decode(&[], true, &mut out, usize::MAX).unwrap();
            assert_eq!(out, msg, "bits {bits} round {round}");
        }
    }
}

#[test]
fn uncompressed_messages_interleave() {
    let mut client = PerMessageDeflate::default();
    let mut server = PerMessageDeflate::default();
    negotiate(&mut client, &mut server).unwrap().unwrap();
    for (i, len) in [10usize, 5000, 1023, 1024, 0, 100_000]
        .into_iter()
        .enumerate()
    {
        let msg = json_like(len, i as u32);
        let compress = i != 5;
        let (rsv, payload) = send(&mut client, &msg, compress);
        assert_eq!(rsv != 0, compress && len >= 1024, "message {i}");
        assert_eq!(
            recv(&mut server, rsv, &payload, 1000, 1 << 20).unwrap(),
            msg
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn proptest_round_trip(
        messages in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..2000),
                proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'{')], 0..5000),
            ],
            1..6,
        ),
        snct in any::<bool>(),
        cnct in any::<bool>(),
        bits in 8u8..=15,
        level in 0u8..=10,
        chunk in 1usize..300,
    ) {
        let config = DeflateConfig::new()
            .server_no_context_takeover(snct)
            .client_no_context_takeover(cnct)
            .server_max_window_bits(bits)
            .client_max_window_bits(bits)
            .level(level)
            .threshold(0);
        let mut client = PerMessageDeflate::new(config);
        let mut server = PerMessageDeflate::new(config);
        negotiate(&mut client, &mut server).unwrap().unwrap();
        for msg in &messages {
            let (rsv, payload) = send(&mut client, msg, true);
            prop_assert_eq!(&recv(&mut server, rsv, &payload, chunk, 1 << 20).unwrap(), msg);
            let (rsv, payload) = send(&mut server, msg, true);
            prop_assert_eq!(&recv(&mut client, rsv, &payload, chunk, 1 << 20).unwrap(), msg);
        }
    }
}

#[test]
fn a_shared_decompressor_never_shows_another_connections_bytes() {
    // Without context takeover the decompressor goes back to the thread's cache after each
    // message and the next connection on the thread takes it. A corrupt back-reference
    // before the start of that connection's stream must read zeros, as from a fresh
    // decompressor (miniz_oxide), or fail (zlib-rs), never show the previous connection's
    // message.
    let server = || PerMessageDeflate::new(DeflateConfig::new().client_no_context_takeover(true));
    let mut client_a = PerMessageDeflate::default();
    let mut server_a = server();
    negotiate(&mut client_a, &mut server_a).unwrap().unwrap();
    let secret = b"SECRET-SECRET-SECRET-SECRET".repeat(1600); // more than the 32 KiB window
    let (rsv, payload) = send(&mut client_a, &secret, true);
    assert_eq!(
        recv(&mut server_a, rsv, &payload, 7, 1 << 20).unwrap(),
        secret
    );

    let mut client_b = PerMessageDeflate::default();
    let mut server_b = server();
    negotiate(&mut client_b, &mut server_b).unwrap().unwrap();
    // A literal "H", then a 4-byte match at distance 5: before the start of the stream.
    let out = recv(
        &mut server_b,
        RSV1,
        &[0xf2, 0x00, 0x11, 0x00, 0x00],
        10,
        1000,
    );
    assert_eq!(out, too_far_back());
}
