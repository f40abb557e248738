//! Fuzz target `mask`: differential test of the word-at-a-time mask against the byte loop, for
//! any key, offset and split point (unmasking in two pieces equals unmasking at once).
#![no_main]

use wsproto::frame::{apply_mask, apply_mask_naive};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [k0, k1, k2, k3, offset, split, rest @ ..] = data else {
        return;
    };
    let key = [*k0, *k1, *k2, *k3];
    let offset = usize::from(*offset);
    let mut fast = rest.to_vec();
    let mut naive = rest.to_vec();
    apply_mask(&mut fast, key, offset);
    apply_mask_naive(&mut naive, key, offset);
    assert_eq!(fast, naive);
    // In two pieces.
    let mut pieces = rest.to_vec();
    let at = usize::from(*split).min(pieces.len());
    let (a, b) = pieces.split_at_mut(at);
    apply_mask(a, key, offset);
    apply_mask(b, key, offset + at);
    assert_eq!(pieces, naive);
    // Involution.
    apply_mask(&mut fast, key, offset);
    assert_eq!(fast, rest);
});
