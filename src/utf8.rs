//! Incremental, fail-fast UTF-8 validation on top of `simdutf8`.
//!
//! The connection validates text where it lies (the input buffer, the message buffer), so most
//! of the time it needs [`valid_prefix`]: how much of a slice is complete valid characters, given
//! that the slice may end inside a character. Bytes that can never become valid fail at once,
//! even when the rest of the character has not arrived (e.g. `F4 90`, beyond U+10FFFF).
//! [`Utf8Carry`] holds the at most 3 bytes of a character split across two slices that are not
//! contiguous in memory (text fragments sent by the application, streamed frames).

/// The bytes cannot be part of valid UTF-8, whatever follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Invalid {
    /// Bytes before the error that are complete valid characters.
    pub(crate) valid_up_to: usize,
}

/// The length of the longest prefix of `bytes` made of complete valid characters, if the rest
/// (at most 3 bytes) is a valid start of a character. `Err` if `bytes` is invalid.
///
/// One SIMD pass in the common case: a possibly incomplete last character is split off first
/// (at most 3 bytes, checked on its own), so the bulk is validated once by simdutf8's fast
/// `basic` validator; only on error does the `compat` validator run to say where.
#[inline]
pub(crate) fn valid_prefix(bytes: &[u8]) -> Result<usize, Invalid> {
    let cut = incomplete_tail_start(bytes);
    let (head, tail) = bytes.split_at(cut);
    if simdutf8::basic::from_utf8(head).is_err() {
        return match simdutf8::compat::from_utf8(head) {
            Ok(_) => Ok(cut),
            Err(e) => Err(Invalid {
                valid_up_to: e.valid_up_to(),
            }),
        };
    }
    match simdutf8::compat::from_utf8(tail) {
        Ok(_) => Ok(bytes.len()),
        Err(e) if e.error_len().is_none() => Ok(cut + e.valid_up_to()),
        Err(e) => Err(Invalid {
            valid_up_to: cut + e.valid_up_to(),
        }),
    }
}

/// Where a last character that is cut short starts (`bytes.len()` if the last one is complete
/// or `bytes` ends in something the validator must judge).
#[inline]
fn incomplete_tail_start(bytes: &[u8]) -> usize {
    let n = bytes.len();
    for (i, &b) in bytes.iter().enumerate().rev().take(4) {
        if b & 0xC0 != 0x80 {
            return if i + char_width(b) > n { i } else { n };
        }
    }
    n
}

/// The length of a character from its lead byte (1 for ASCII or an invalid lead).
#[inline]
fn char_width(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

/// An incremental validator over pieces that are not contiguous in memory: keeps the at most 3
/// bytes of a character split between two pieces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Utf8Carry {
    bytes: [u8; 4],
    len: u8,
}

impl Utf8Carry {
    /// An empty carry.
    pub(crate) const fn new() -> Self {
        Utf8Carry {
            bytes: [0; 4],
            len: 0,
        }
    }

    /// Whether no partial character is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The held bytes (a complete character right after [`Utf8Carry::complete`] returned
    /// `Ok(Some(_))`).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// Forget the held bytes.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// Completes the held partial character from the front of `bytes`: returns how many bytes
    /// were taken and whether the character is now complete. `Err` if it cannot be valid.
    pub(crate) fn complete(&mut self, bytes: &[u8]) -> Result<(usize, bool), Invalid> {
        let Some(&lead) = self.bytes.first() else {
            return Err(Invalid { valid_up_to: 0 });
        };
        let width = char_width(lead);
        let have = usize::from(self.len);
        let take = width.saturating_sub(have).min(bytes.len());
        for (dst, src) in self
            .bytes
            .iter_mut()
            .skip(have)
            .zip(bytes.iter().take(take))
        {
            *dst = *src;
        }
        self.len = (have + take) as u8;
        match valid_prefix(self.as_bytes()).map_err(|_| Invalid { valid_up_to: 0 })? {
            n if n == usize::from(self.len) => Ok((take, true)),
            _ => Ok((take, false)),
        }
    }

    /// Validates the next piece: `Ok` when it continues valid text (an incomplete last character
    /// is kept). Nothing is changed on `Err`.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Invalid> {
        let saved = *self;
        if !self.is_empty() {
            match self.complete(bytes) {
                Ok((taken, true)) => {
                    self.len = 0;
                    bytes = bytes.get(taken..).unwrap_or_default();
                }
                Ok((_, false)) => return Ok(()),
                Err(e) => {
                    *self = saved;
                    return Err(e);
                }
            }
        }
        match valid_prefix(bytes) {
            Ok(n) => {
                let tail = bytes.get(n..).unwrap_or_default();
                self.set(tail);
                Ok(())
            }
            Err(e) => {
                *self = saved;
                Err(e)
            }
        }
    }

    /// Replaces the held bytes with `tail` (at most 4 bytes; a valid character start).
    pub(crate) fn set(&mut self, tail: &[u8]) {
        let n = tail.len().min(4);
        for (dst, src) in self.bytes.iter_mut().zip(tail.iter().take(n)) {
            *dst = *src;
        }
        self.len = n as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std_prefix(bytes: &[u8]) -> Result<usize, Invalid> {
        match core::str::from_utf8(bytes) {
            Ok(_) => Ok(bytes.len()),
            Err(e) if e.error_len().is_none() => Ok(e.valid_up_to()),
            Err(e) => Err(Invalid {
                valid_up_to: e.valid_up_to(),
            }),
        }
    }

    proptest::proptest! {
        #[test]
        fn prop_matches_std(
            text in ".{0,20}",
            noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..8),
            at in 0usize..64,
        ) {
            let mut bytes = text.into_bytes();
            let at = at.min(bytes.len());
            bytes.splice(at..at, noise);
            for end in 0..=bytes.len() {
                proptest::prop_assert_eq!(valid_prefix(&bytes[..end]), std_prefix(&bytes[..end]));
            }
        }
    }

    #[test]
    fn matches_std_on_every_prefix() {
        let samples: [&[u8]; 6] = [
            "a€😀bκόσμε".as_bytes(),
            &[0xF4, 0x8F, 0xBF, 0xBF, 0xF4, 0x90, 0x80, 0x80],
            &[0xED, 0x9F, 0xBF, 0xED, 0xA0, 0x80],
            &[0xE0, 0xA0, 0x80, 0xE0, 0x9F, 0x80],
            &[0xC2, 0x80, 0xC1, 0xBF, b'x'],
            &[0x80, 0x80, 0x80, 0x80, 0x80],
        ];
        for s in samples {
            for end in 0..=s.len() {
                let bytes = &s[..end];
                let expected = match core::str::from_utf8(bytes) {
                    Ok(_) => Ok(end),
                    Err(e) if e.error_len().is_none() => Ok(e.valid_up_to()),
                    Err(e) => Err(Invalid {
                        valid_up_to: e.valid_up_to(),
                    }),
                };
                assert_eq!(valid_prefix(bytes), expected, "{bytes:x?}");
            }
        }
    }

    #[test]
    fn prefix() {
        assert_eq!(valid_prefix(b"hello"), Ok(5));
        assert_eq!(valid_prefix("κόσμε".as_bytes()), Ok(10));
        assert_eq!(valid_prefix(&"κόσμε".as_bytes()[..9]), Ok(8));
        assert_eq!(valid_prefix(&[b'a', 0xF0, 0x9F]), Ok(1));
        // Fail fast: F4 90 can never be valid (above U+10FFFF), nor can ED A0 (a surrogate).
        assert_eq!(
            valid_prefix(&[b'a', 0xF4, 0x90]),
            Err(Invalid { valid_up_to: 1 })
        );
        assert_eq!(valid_prefix(&[0xED, 0xA0]), Err(Invalid { valid_up_to: 0 }));
        assert_eq!(valid_prefix(&[0xFF]), Err(Invalid { valid_up_to: 0 }));
        assert_eq!(valid_prefix(&[0xC0, 0x80]), Err(Invalid { valid_up_to: 0 }));
        assert_eq!(valid_prefix(&[b'a', 0x80]), Err(Invalid { valid_up_to: 1 }));
        assert_eq!(
            valid_prefix(&[b'a', 0xE2, b'b']),
            Err(Invalid { valid_up_to: 1 })
        );
        assert_eq!(valid_prefix(&[0xE2, 0x82, 0xAC, 0xE2]), Ok(3));
        assert_eq!(valid_prefix(&[0xF8]), Err(Invalid { valid_up_to: 0 }));
        assert_eq!(valid_prefix(b""), Ok(0));
    }

    #[test]
    fn carry_across_pieces() {
        let text = "a€😀b".as_bytes();
        for split in 0..=text.len() {
            let mut c = Utf8Carry::new();
            c.feed(&text[..split]).unwrap();
            c.feed(&text[split..]).unwrap();
            assert!(c.is_empty(), "{split}");
        }
        // One byte at a time.
        let mut c = Utf8Carry::new();
        for b in text {
            c.feed(core::slice::from_ref(b)).unwrap();
        }
        assert!(c.is_empty());
        // Invalid continuation after a carried lead byte, state unchanged on error.
        let mut c = Utf8Carry::new();
        c.feed(&[0xF4]).unwrap();
        assert_eq!(c.feed(&[0x90]), Err(Invalid { valid_up_to: 0 }));
        assert_eq!(c.as_bytes(), &[0xF4]);
        c.feed(&[0x8F, 0xBF, 0xBF]).unwrap();
        assert!(c.is_empty());
    }
}
