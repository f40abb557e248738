//! The zlib-rs backend (feature `zlib-rs`): pure Rust, about twice as fast as miniz_oxide at
//! level 1 and three times at level 6, and it bounds match distances to the window itself.
//!
//! Neither direction writes into uninitialised spare `Vec` capacity (safe code cannot): the
//! compressor zero-extends `out` by a piece sized from the input and truncates it to what was
//! written; the inflater writes into a buffer of its own (8 KiB, growing to 64 KiB for large
//! messages) and the codec copies from there.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use zlib_rs::{Deflate, DeflateFlush, Inflate, InflateError, InflateFlush, Status};

use super::{Flush, Step, Stepped};
use crate::extension::ExtensionError;

/// The window zlib-rs compresses with for `window_bits`. Like C zlib it cannot compress raw
/// deflate with 8 bits and takes 9 instead; that still honours an 8-bit window, because zlib
/// never refers further back than the window less `MIN_LOOKAHEAD` (262 bytes): at most 250
/// bytes with 9 bits (tests/deflate_window.rs checks every distance).
fn zlib_window_bits(window_bits: u8) -> u8 {
    window_bits.clamp(9, 15)
}

/// zlib's levels are 0..=9; miniz_oxide's 10 ("uber") is zlib's 9.
fn zlib_level(level: u8) -> i32 {
    i32::from(level.min(9))
}

/// The bytes a sync or full flush emits when the stream is already byte-aligned: an empty
/// stored block (3 header bits and padding, then `00 00 ff ff`).
const EMPTY_STORED_BLOCK: [u8; 5] = [0x00, 0x00, 0x00, 0xff, 0xff];

/// The output room of the first compress call: a quarter of the input (text compresses to
/// less) and some; each further call of the same feed doubles it.
fn first_room(input: usize) -> usize {
    input / 4 + 512
}

/// zlib-rs's compressor with the agreed window (memory: 2 windows, hash chains of 2 windows,
/// a 128 KiB hash head and a 64 KiB symbol buffer: about 320 KiB at 15 bits, docs/deflate.md).
pub(super) struct Deflater {
    inner: Deflate,
    /// The level asked for (our scale, 0..=10).
    level: u8,
    /// The window `inner` was created with (9..=15).
    window_bits: u8,
}

fn progress(before: u64, after: u64) -> Result<usize, ExtensionError> {
    usize::try_from(after.saturating_sub(before))
        .map_err(|_| ExtensionError::Internal("zlib-rs progress"))
}

impl Deflater {
    /// zlib-rs bounds match distances to its window: the codec need not.
    pub(super) const BOUNDS_WINDOW: bool = true;

    /// Raw deflate at `level` with `window_bits` (8..=15; 8 compresses as 9, see
    /// [`zlib_window_bits`]).
    pub(super) fn new(level: u8, window_bits: u8) -> Self {
        let window_bits = zlib_window_bits(window_bits);
        Deflater {
            // Valid level and window: zlib-rs panics only on invalid parameters.
            inner: Deflate::new(zlib_level(level), false, window_bits),
            level,
            window_bits,
        }
    }

    /// Ready for a new owner at `level` and `window_bits`; it holds no context (its last flush
    /// was full). Another window needs another allocation (zlib sizes its buffers by it);
    /// another level only a reset.
    pub(super) fn reuse(&mut self, level: u8, window_bits: u8) {
        if zlib_window_bits(window_bits) != self.window_bits {
            *self = Deflater::new(level, window_bits);
        } else if level != self.level {
            // After a reset, changing the level compresses nothing (no pending flush).
            self.inner.reset();
            match self.inner.set_level(zlib_level(level)) {
                Ok(Status::Ok) => self.level = level,
                _ => *self = Deflater::new(level, window_bits),
            }
        }
    }

    /// Forget all context.
    #[cfg(test)]
    pub(super) fn reset(&mut self) {
        self.inner.reset();
    }

    /// Compress all of `input` with `flush`, appending to `out`.
    pub(super) fn feed(
        &mut self,
        mut input: &[u8],
        flush: Flush,
        out: &mut Vec<u8>,
    ) -> Result<(), ExtensionError> {
        let zflush = match flush {
            Flush::None => DeflateFlush::NoFlush,
            Flush::Sync => DeflateFlush::SyncFlush,
            Flush::Full => DeflateFlush::FullFlush,
        };
        let mut room = first_room(input.len());
        loop {
            let start = out.len();
            out.resize(start.saturating_add(room), 0);
            let (in_before, out_before) = (self.inner.total_in(), self.inner.total_out());
            let result = match out.get_mut(start..) {
                Some(space) => self.inner.compress(input, space, zflush),
                None => Err(zlib_rs::DeflateError::StreamError),
            };
            let consumed = progress(in_before, self.inner.total_in())?;
            let written = progress(out_before, self.inner.total_out())?;
            out.truncate(start.saturating_add(written));
            match result {
                Ok(Status::Ok | Status::StreamEnd) => {}
                // Nothing to do: no input, no pending output, and no stronger flush than the
                // last call's. With no flush we are done. A sync or full flush right after a
                // sync or full flush finds the stream byte-aligned with nothing to add, and
                // zlib emits nothing: write the empty stored block that flush stands for.
                Ok(Status::BufError) if input.is_empty() && written == 0 => {
                    if flush != Flush::None {
                        out.extend_from_slice(&EMPTY_STORED_BLOCK);
                    }
                    return Ok(());
                }
                Ok(Status::BufError) => {}
                Err(_) => return Err(ExtensionError::Internal("deflate failed")),
            }
            input = input.get(consumed..).unwrap_or_default();
            if input.is_empty() && written < room {
                // All input taken and output space left over: the flush is complete.
                return Ok(());
            }
            if consumed == 0 && written == 0 {
                return Err(ExtensionError::Internal("deflate made no progress"));
            }
            room = room.saturating_mul(2);
        }
    }
}

/// The inflater's output buffer: what one step can produce, at first.
const OUT_MIN: usize = 8 << 10;
/// The most it grows to. zlib-rs inflates a large message at about 1.35x its own speed into an
/// 8 KiB buffer (each call ends its fast loop early and copies its output into the history
/// window), about 1.12x into 32 KiB, and at its own speed into 64 KiB (docs/performance.md).
const OUT_MAX: usize = 64 << 10;

/// zlib-rs's inflater, always with a 32 KiB window (any window 8..=15 the peer uses; a reset
/// restores 15 bits anyway), and an output buffer the codec copies from: 8 KiB, doubled up to
/// 64 KiB each time a step fills it, so only a connection that receives large messages holds
/// the large one ([`release_memory`](Self::release_memory) gives it back).
pub(super) struct Inflater {
    inner: Inflate,
    out: Box<[u8]>,
    /// The last step filled `out`: the next one gets a larger buffer.
    filled: bool,
}

impl Inflater {
    pub(super) fn new() -> Self {
        Inflater {
            // Raw deflate, 15 bits: valid, so it does not panic.
            inner: Inflate::new(false, 15),
            out: vec![0u8; OUT_MIN].into_boxed_slice(),
            filled: false,
        }
    }

    /// Bytes [`release_memory`](Self::release_memory) would free.
    pub(super) fn spare_memory(&self) -> usize {
        self.out.len().saturating_sub(OUT_MIN)
    }

    /// Shrinks a grown output buffer back to its first size.
    pub(super) fn release_memory(&mut self) {
        if self.out.len() > OUT_MIN {
            self.out = vec![0u8; OUT_MIN].into_boxed_slice();
            self.filled = false;
        }
    }

    /// A new stream: zlib-rs keeps its window allocation and forgets its contents; a
    /// back-reference before the start of the new stream is invalid data ("invalid distance
    /// too far back").
    pub(super) fn reset(&mut self) {
        self.inner.reset(false);
    }

    /// Inflate from `input`, at most `limit` bytes of output (and at most the buffer).
    pub(super) fn step(
        &mut self,
        input: &[u8],
        limit: usize,
    ) -> Result<Stepped<'_>, ExtensionError> {
        if self.filled && self.out.len() < OUT_MAX {
            // Its contents were taken by the last step's caller.
            self.out = vec![0u8; (2 * self.out.len()).min(OUT_MAX)].into_boxed_slice();
        }
        let room = limit.min(self.out.len());
        let (in_before, out_before) = (self.inner.total_in(), self.inner.total_out());
        let result = match self.out.get_mut(..room) {
            Some(space) => self.inner.decompress(input, space, InflateFlush::NoFlush),
            None => return Err(ExtensionError::Internal("inflate buffer")),
        };
        let consumed = progress(in_before, self.inner.total_in())?;
        let written = progress(out_before, self.inner.total_out())?;
        self.filled = written == self.out.len();
        let step = match result {
            Ok(Status::StreamEnd) => Step::StreamEnd,
            Ok(Status::Ok | Status::BufError) if written == room => Step::HasMoreOutput,
            Ok(Status::Ok | Status::BufError) => Step::NeedsInput,
            Err(InflateError::DataError) => Step::Invalid,
            Err(_) => return Err(ExtensionError::Internal("inflate failed")),
        };
        match self.out.get(..written) {
            Some(output) => Ok(Stepped {
                consumed,
                output,
                step,
            }),
            None => Err(ExtensionError::Internal("inflate buffer")),
        }
    }
}
