//! Interoperability of the two permessage-deflate backends: our extension (whichever backend
//! this build uses: miniz_oxide by default, zlib-rs with `--features zlib-rs`) against peers
//! that drive miniz_oxide and zlib-rs directly, both ways, with and without context takeover,
//! windows 8, 9, 12 and 15, levels 1, 6 and 9. CI runs this file under both backends, so each
//! backend meets the other (and itself) in both directions.

mod deflate_common;

use deflate_common::*;
use miniz_oxide::DataFormat;
use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress_to_output, create_comp_flags_from_zip_params,
};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{MZFlush, MZStatus};
use wsproto::deflate::{DeflateConfig, PerMessageDeflate};
use zlib_rs::{Deflate, DeflateFlush, Inflate, InflateFlush, Status};

const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Messages of several sizes and kinds, an empty one among them, with repeats across message
/// boundaries.
fn corpus() -> Vec<Vec<u8>> {
    let json = json_like(40_000, 3);
    vec![
        json_like(2_000, 1),
        Vec::new(),
        b"Hello".to_vec(),
        json.clone(),
        noise(5_000, 7),
        Vec::new(),
        json_like(70_000, 4),
        json,
        vec![b'a'; 10_000],
        b"Hello".to_vec(),
    ]
}

/// A compressing peer that drives an engine directly (RFC 7692 §7.2.1 by hand).
trait PeerDeflate {
    fn message(&mut self, msg: &[u8]) -> Vec<u8>;
}

/// An inflating peer that drives an engine directly (§7.2.2 by hand).
trait PeerInflate {
    fn message(&mut self, payload: &[u8]) -> Vec<u8>;
}

/// miniz_oxide as the peer's compressor: 32 KiB window only (miniz_oxide cannot bound it).
struct MinizDeflate {
    inner: Box<CompressorOxide>,
    takeover: bool,
}

impl MinizDeflate {
    fn new(level: u8, takeover: bool) -> Self {
        let flags = create_comp_flags_from_zip_params(i32::from(level), -15, 0);
        MinizDeflate {
            inner: Box::new(CompressorOxide::new(flags)),
            takeover,
        }
    }
}

impl PeerDeflate for MinizDeflate {
    fn message(&mut self, msg: &[u8]) -> Vec<u8> {
        let flush = if self.takeover {
            TDEFLFlush::Sync
        } else {
            TDEFLFlush::Full
        };
        let mut out = Vec::new();
        let (status, consumed) = compress_to_output(&mut self.inner, msg, flush, |b| {
            out.extend_from_slice(b);
            true
        });
        assert_eq!((status, consumed), (TDEFLStatus::Okay, msg.len()));
        out.strip_suffix(&TRAILER).unwrap().to_vec()
    }
}

/// miniz_oxide as the peer's inflater (its streaming API, 32 KiB window).
struct MinizInflate {
    inner: Box<InflateState>,
    takeover: bool,
}

impl MinizInflate {
    fn new(takeover: bool) -> Self {
        MinizInflate {
            inner: InflateState::new_boxed(DataFormat::Raw),
            takeover,
        }
    }
}

impl PeerInflate for MinizInflate {
    fn message(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut input = [payload, &TRAILER[..]].concat();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let r = miniz_oxide::inflate::stream::inflate(
                &mut self.inner,
                &input,
                &mut buf,
                MZFlush::None,
            );
            out.extend_from_slice(&buf[..r.bytes_written]);
            input.drain(..r.bytes_consumed);
            match r.status {
                Ok(MZStatus::Ok) if input.is_empty() && r.bytes_written < buf.len() => break,
                Ok(MZStatus::Ok) => {}
                Err(miniz_oxide::MZError::Buf) if input.is_empty() => break,
                other => panic!("miniz_oxide inflate: {other:?}"),
            }
        }
        if !self.takeover {
            self.inner.reset(DataFormat::Raw);
        }
        out
    }
}

/// zlib-rs as the peer's compressor, with its window bounded natively (8 compresses as 9).
struct ZlibDeflate {
    inner: Deflate,
    takeover: bool,
}

impl ZlibDeflate {
    fn new(level: u8, bits: u8, takeover: bool) -> Self {
        ZlibDeflate {
            inner: Deflate::new(i32::from(level), false, bits.max(9)),
            takeover,
        }
    }
}

impl PeerDeflate for ZlibDeflate {
    fn message(&mut self, msg: &[u8]) -> Vec<u8> {
        let flush = if self.takeover {
            DeflateFlush::SyncFlush
        } else {
            DeflateFlush::FullFlush
        };
        let mut out = vec![0u8; msg.len() * 2 + 1024];
        let before = (self.inner.total_in(), self.inner.total_out());
        let status = self.inner.compress(msg, &mut out, flush).unwrap();
        let consumed = (self.inner.total_in() - before.0) as usize;
        let written = (self.inner.total_out() - before.1) as usize;
        assert_eq!(consumed, msg.len());
        out.truncate(written);
        if status == Status::BufError && written == 0 {
            // A flush right after a flush: zlib emits nothing; the empty message is `00`.
            return vec![0x00];
        }
        out.strip_suffix(&TRAILER).unwrap().to_vec()
    }
}

/// zlib-rs as the peer's inflater, with exactly the agreed window.
struct ZlibInflate {
    inner: Inflate,
    takeover: bool,
}

impl ZlibInflate {
    fn new(bits: u8, takeover: bool) -> Self {
        ZlibInflate {
            inner: Inflate::new(false, bits),
            takeover,
        }
    }
}

impl PeerInflate for ZlibInflate {
    fn message(&mut self, payload: &[u8]) -> Vec<u8> {
        let input = [payload, &TRAILER[..]].concat();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut taken = 0;
        loop {
            let before = (self.inner.total_in(), self.inner.total_out());
            let status = self
                .inner
                .decompress(&input[taken..], &mut buf, InflateFlush::NoFlush)
                .unwrap();
            taken += (self.inner.total_in() - before.0) as usize;
            let written = (self.inner.total_out() - before.1) as usize;
            out.extend_from_slice(&buf[..written]);
            assert_ne!(status, Status::StreamEnd);
            if taken == input.len() && written < buf.len() {
                break;
            }
        }
        if !self.takeover {
            // A reset restores a 15-bit window: fine for checking content.
            self.inner.reset(false);
        }
        out
    }
}

/// Our server and client, negotiated so that the server compresses with `bits` and keeps
/// its context or not, at `level`.
fn ours(bits: u8, level: u8, takeover: bool) -> (PerMessageDeflate, PerMessageDeflate) {
    let config = DeflateConfig::new()
        .server_max_window_bits(bits)
        .server_no_context_takeover(!takeover)
        .level(level)
        .threshold(0);
    let mut client = PerMessageDeflate::new(config);
    let mut server = PerMessageDeflate::new(config);
    negotiate(&mut client, &mut server).unwrap().unwrap();
    assert_eq!(server.compress_window_bits(), bits);
    (client, server)
}

#[test]
fn our_output_inflates_in_both_engines() {
    let msgs = corpus();
    for bits in [8, 9, 12, 15] {
        for level in [1, 6, 9] {
            for takeover in [true, false] {
                let (_, mut server) = ours(bits, level, takeover);
                let mut peers: [Box<dyn PeerInflate>; 2] = [
                    Box::new(MinizInflate::new(takeover)),
                    Box::new(ZlibInflate::new(bits, takeover)),
                ];
                for (i, msg) in msgs.iter().enumerate() {
                    let (rsv, payload) = send(&mut server, msg, true);
                    assert_ne!(rsv, 0);
                    for (p, peer) in peers.iter_mut().enumerate() {
                        assert!(
                            peer.message(&payload) == *msg,
                            "bits {bits} level {level} takeover {takeover} message {i} peer {p}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn engine_output_inflates_in_ours() {
    let msgs = corpus();
    for bits in [8, 9, 12, 15] {
        for level in [1, 6, 9] {
            for takeover in [true, false] {
                let mut peers: Vec<(&str, Box<dyn PeerDeflate>)> =
                    vec![("zlib-rs", Box::new(ZlibDeflate::new(level, bits, takeover)))];
                if bits == 15 {
                    peers.push(("miniz_oxide", Box::new(MinizDeflate::new(level, takeover))));
                }
                for (name, mut peer) in peers {
                    let (mut client, _) = ours(bits, level, takeover);
                    for (i, msg) in msgs.iter().enumerate() {
                        let payload = peer.message(msg);
                        let got = recv(
                            &mut client,
                            wsproto::extension::RSV1,
                            &payload,
                            4096,
                            1 << 20,
                        )
                        .unwrap();
                        assert!(
                            got == *msg,
                            "{name}: bits {bits} level {level} takeover {takeover} message {i}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn explicit_fragments_interoperate() {
    // Each fragment is sync-flushed (its 00 00 ff ff stays); an empty middle piece adds nothing.
    let text = json_like(30_000, 9);
    let pieces: Vec<&[u8]> = vec![&text[..10_000], &[], &text[10_000..25_000], &text[25_000..]];
    for takeover in [true, false] {
        let (_, mut server) = ours(15, 6, takeover);
        let (rsv, frames) = send_fragments(&mut server, &pieces);
        assert_ne!(rsv, 0);
        let payload = frames.concat();
        assert!(MinizInflate::new(takeover).message(&payload) == text);
        assert!(ZlibInflate::new(15, takeover).message(&payload) == text);
    }
}
