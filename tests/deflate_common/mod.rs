//! Helpers shared by the deflate integration tests.
#![allow(dead_code)]

/// The fuzz targets' window-exact reference decoder: one copy for both.
#[path = "../../fuzz/src/inflate_ref.rs"]
pub mod inflate_ref;

/// Extension header values split for the trait: the fuzz harness's copy.
#[path = "../../fuzz/src/ext_params.rs"]
mod ext_params;
#[allow(unused_imports)] // not every test that includes these helpers uses both
pub use ext_params::{as_params, parse_elements as parse_header};

/// The benches' JSON-like message generator: one copy for benches and tests.
#[path = "../../benches/common/json.rs"]
mod json;
#[allow(unused_imports)] // not every test that includes these helpers uses it
pub use json::json_like;

use wsproto::Extension;
use wsproto::extension::ExtensionError;

/// Runs the negotiation like the handshake does: the server tries each offer element in order.
/// Returns the response header value, or `None` when every offer was declined.
pub fn negotiate(
    client: &mut dyn Extension,
    server: &mut dyn Extension,
) -> Result<Option<String>, ExtensionError> {
    let offer = client.offer();
    for (name, params) in parse_header(&offer) {
        assert_eq!(name, "permessage-deflate");
        if let Some(response) = server.accept_offer(&as_params(&params)) {
            let parsed = parse_header(&response);
            assert_eq!(parsed.len(), 1);
            client.accept_response(&as_params(&parsed[0].1))?;
            return Ok(Some(response));
        }
    }
    Ok(None)
}

/// Encodes one whole message as the connection would: `(rsv, payload)`.
pub fn send(ext: &mut dyn Extension, msg: &[u8], compress: bool) -> (u8, Vec<u8>) {
    match ext.encode_start(Some(msg.len()), compress) {
        None => (0, msg.to_vec()),
        Some(rsv) => {
            let mut out = Vec::new();
            ext.encode(msg, true, &mut out).unwrap();
            (rsv, out)
        }
    }
}

/// Encodes a message given as explicit fragments: `(rsv, payload of each frame)`.
pub fn send_fragments(ext: &mut dyn Extension, pieces: &[&[u8]]) -> (u8, Vec<Vec<u8>>) {
    let rsv = ext
        .encode_start(None, true)
        .expect("fragments are compressed");
    let n = pieces.len();
    let frames = pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut out = Vec::new();
            ext.encode(p, i + 1 == n, &mut out).unwrap();
            out
        })
        .collect();
    (rsv, frames)
}

/// Decodes one message delivered in `chunk`-byte pieces (then an empty fin call).
pub fn recv(
    ext: &mut dyn Extension,
    rsv: u8,
    payload: &[u8],
    chunk: usize,
    max_len: usize,
) -> Result<Vec<u8>, ExtensionError> {
    if !ext.decode_start(rsv)? {
        return Ok(payload.to_vec());
    }
    let mut out = Vec::new();
    for piece in payload.chunks(chunk.max(1)) {
        ext.decode(piece, false, &mut out, max_len)?;
        assert!(out.len() <= max_len);
    }
    ext.decode(&[], true, &mut out, max_len)?;
    assert!(out.len() <= max_len);
    Ok(out)
}

/// Pseudo-random bytes (deterministic): compresses badly.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// python3, if installed (tests that need it skip with a note otherwise).
pub fn python3() -> Option<&'static str> {
    let ok = std::process::Command::new("python3")
        .arg("-c")
        .arg("import zlib")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Some("python3")
    } else {
        eprintln!("note: python3 with zlib not found; skipping the zlib cross-check");
        None
    }
}

/// Reads a length-prefixed message file (see tests/tools/make_vectors.py).
pub fn read_messages(path: &std::path::Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut rest = &data[..];
    while !rest.is_empty() {
        let n = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        out.push(rest[4..4 + n].to_vec());
        rest = &rest[4 + n..];
    }
    out
}

/// Writes a length-prefixed message file.
pub fn write_messages(path: &std::path::Path, messages: &[Vec<u8>]) {
    let mut data = Vec::new();
    for m in messages {
        data.extend_from_slice(&(m.len() as u32).to_be_bytes());
        data.extend_from_slice(m);
    }
    std::fs::write(path, data).unwrap();
}

/// The checked-in vectors directory.
pub fn data_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/deflate")
}
