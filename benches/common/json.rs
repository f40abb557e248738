//! The JSON-like messages the permessage-deflate benches and tests compress: one generator,
//! included by benches/common, benches/deflate.rs and tests/deflate_common.

/// A JSON-like message of `len` bytes (at least 1), different for each `seed`.
pub fn json_like(len: usize, seed: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 128);
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    out.push(b'[');
    let mut i = 0u32;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let item = format!(
            "{{\"id\":{},\"name\":\"user{}\",\"active\":{},\"score\":{}.{},\"tags\":[\"t{}\",\"t{}\"]}},",
            i,
            x % 1000,
            x % 2 == 0,
            x % 97,
            x % 10,
            x % 13,
            (x >> 8) % 17
        );
        out.extend_from_slice(item.as_bytes());
        i += 1;
    }
    out.truncate(len.saturating_sub(1));
    out.push(b']');
    out
}
