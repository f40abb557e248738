//! Masking (RFC 6455 §5.3): XOR with a repeating 4-byte key, word at a time, in safe Rust.

/// XORs `buf` with the masking `key`, as if `buf` started `offset` bytes into the masked payload
/// (so a payload can be unmasked in pieces: pass the number of payload bytes before this piece).
///
/// Applying it twice restores the input. The bulk runs 32 bytes at a time as four `u64`s, which
/// the compiler vectorises: safe Rust, no alignment tricks.
///
/// ```
/// use wsproto::frame::apply_mask;
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut data = *b"Hello";
/// apply_mask(&mut data, key, 0);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// // Unmask in two pieces: the second starts 2 bytes into the payload.
/// let (a, b) = data.split_at_mut(2);
/// apply_mask(a, key, 0);
/// apply_mask(b, key, 2);
/// assert_eq!(&data, b"Hello");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = (u32::from_le_bytes(key).rotate_right(8 * (offset % 4) as u32)).to_le_bytes();
    // The key twice over, as a word in memory order (both halves alike: any endianness).
    let k = u64::from(u32::from_ne_bytes(key)) * 0x1_0000_0001;
    let rest = if buf.len() >= 32 {
        // Four words per step: the loop the compiler turns into vector instructions.
        let mut blocks = buf.chunks_exact_mut(32);
        for block in &mut blocks {
            for word in block.chunks_exact_mut(8) {
                xor_word(word, k);
            }
        }
        blocks.into_remainder()
    } else {
        buf
    };
    let mut words = rest.chunks_exact_mut(8);
    for word in &mut words {
        xor_word(word, k);
    }
    naive(words.into_remainder(), key);
}

/// Copies `src` into `dst` XORed with the masking `key`, as [`apply_mask`] would unmask it at
/// `offset`: the copy and the unmask in one pass. Copies as many bytes as the shorter of the
/// two holds.
#[inline]
pub(crate) fn copy_masked(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) {
    let key = (u32::from_le_bytes(key).rotate_right(8 * (offset % 4) as u32)).to_le_bytes();
    let k = u64::from(u32::from_ne_bytes(key)) * 0x1_0000_0001;
    let n = dst.len().min(src.len());
    let (dst, src) = (
        dst.get_mut(..n).unwrap_or_default(),
        src.get(..n).unwrap_or_default(),
    );
    let mut dst = dst.chunks_exact_mut(64);
    let mut src = src.chunks_exact(64);
    for (d, s) in (&mut dst).zip(&mut src) {
        if let (Ok(d), Ok(s)) = (<&mut [u8; 64]>::try_from(d), <&[u8; 64]>::try_from(s)) {
            let mut block = *s;
            for word in block.chunks_exact_mut(8) {
                xor_word(word, k);
            }
            *d = block;
        }
    }
    let mut dst = dst.into_remainder().chunks_exact_mut(8);
    let mut src = src.remainder().chunks_exact(8);
    for (d, s) in (&mut dst).zip(&mut src) {
        copy_word(d, s, k);
    }
    let tail = dst.into_remainder().iter_mut().zip(src.remainder());
    for ((d, s), k) in tail.zip(key.iter().cycle()) {
        *d = s ^ k;
    }
}

/// One 8-byte word of [`copy_masked`].
#[inline(always)]
fn copy_word(dst: &mut [u8], src: &[u8], k: u64) {
    if let (Ok(d), Ok(s)) = (<&mut [u8; 8]>::try_from(dst), <&[u8; 8]>::try_from(src)) {
        *d = (u64::from_ne_bytes(*s) ^ k).to_ne_bytes();
    }
}

/// XORs one 8-byte word with the repeated key.
#[inline(always)]
fn xor_word(word: &mut [u8], k: u64) {
    if let Ok(word) = <&mut [u8; 8]>::try_from(word) {
        *word = (u64::from_ne_bytes(*word) ^ k).to_ne_bytes();
    }
}

/// The byte loop (tails and tiny buffers), also the oracle in tests and fuzzing.
#[inline]
fn naive(buf: &mut [u8], key: [u8; 4]) {
    for (b, k) in buf.iter_mut().zip(key.iter().cycle()) {
        *b ^= k;
    }
}

/// The reference implementation: `buf[i] ^= key[(offset + i) % 4]`, one byte at a time.
#[doc(hidden)]
pub fn apply_mask_naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (b, k) in buf.iter_mut().zip(key.iter().cycle().skip(offset % 4)) {
        *b ^= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_masked_equals_naive() {
        let key = [0x12, 0x34, 0x56, 0xF8];
        // Up to three 64-byte blocks, each remainder length, every key phase.
        for len in 0..200 {
            for offset in 0..9 {
                let src: std::vec::Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37)).collect();
                let mut expected = src.clone();
                apply_mask_naive(&mut expected, key, offset);
                // A longer destination keeps its bytes past the copy.
                let mut dst = std::vec![0xAA; len + 3];
                copy_masked(&mut dst, &src, key, offset);
                assert_eq!(&dst[..len], &expected[..], "len {len} offset {offset}");
                assert_eq!(&dst[len..], &[0xAA; 3], "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn equals_naive() {
        let key = [0x12, 0x34, 0x56, 0xF8];
        for len in 0..100 {
            for offset in 0..9 {
                let data: std::vec::Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37)).collect();
                let mut a = data.clone();
                let mut b = data.clone();
                apply_mask(&mut a, key, offset);
                apply_mask_naive(&mut b, key, offset);
                assert_eq!(a, b, "len {len} offset {offset}");
            }
        }
    }
}
