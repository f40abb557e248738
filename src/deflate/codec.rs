//! The compressor and the bounded inflater of permessage-deflate, over one of two backends:
//! miniz_oxide (the default, `codec/miniz.rs`) or zlib-rs (feature `zlib-rs`,
//! `codec/zlib_rs.rs`). What RFC 7692 asks of both lives here, once: the sync flush of every
//! piece and the stripped `00 00 ff ff` trailer, the full flush that ends a message without
//! context takeover, the window bound for a backend that has none, and the message limit
//! while inflating. A backend only runs its engine.

use alloc::vec::Vec;

#[cfg(not(feature = "zlib-rs"))]
#[path = "codec/miniz.rs"]
mod backend;
#[cfg(feature = "zlib-rs")]
#[path = "codec/zlib_rs.rs"]
mod backend;

use super::params::MAX_WINDOW_BITS;
use crate::extension::ExtensionError;

/// The empty stored block a sync flush ends with; RFC 7692 §7.2.1 strips it from every message
/// and §7.2.2 appends it again before inflating.
pub(super) const SYNC_TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The flushes the compressor asks a backend for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flush {
    /// Compress; output may stay buffered.
    None,
    /// Emit everything, byte-align with an empty stored block (`00 00 ff ff`).
    Sync,
    /// As `Sync`, and empty the dictionary: nothing after it refers to anything before it.
    Full,
}

/// A raw-deflate compressor whose back-references stay within `2^window_bits` bytes.
///
/// With a backend that bounds match distances itself (zlib-rs), the window goes to the
/// backend. miniz_oxide's dictionary is always 32 KiB and its own window-bits setting only
/// lowers the compression level; it does not bound match distances (see docs/deflate.md). For
/// such a backend and windows below 15 bits we bound them here: a full flush every
/// `2^window_bits` input bytes empties the dictionary, so no match can reach further back than
/// the last flush point, which is less than one window behind. Each such flush costs 4-5
/// bytes of output and the context before it.
pub(crate) struct Compressor {
    inner: backend::Deflater,
    /// `2^window_bits` when we bound the window ourselves, `None` when the backend does (or
    /// for the full 32 KiB window, where there is nothing to enforce).
    window: Option<usize>,
    /// Input bytes fed since the dictionary was last emptied (only counted with `window`).
    since_reset: usize,
    /// End each message with a full flush instead of a sync flush: no context takeover.
    forget: bool,
}

impl Compressor {
    /// A compressor at `level` (0..=10, zlib's scale plus miniz_oxide's 10; 0 stores) with a
    /// window of `window_bits` (8..=15), keeping its context across messages.
    pub(crate) fn new(level: u8, window_bits: u8) -> Self {
        let mut compressor = Compressor {
            inner: backend::Deflater::new(level, window_bits),
            window: None,
            since_reset: 0,
            forget: false,
        };
        compressor.set_window(window_bits);
        compressor
    }

    fn set_window(&mut self, window_bits: u8) {
        self.window = (window_bits < MAX_WINDOW_BITS && !backend::Deflater::BOUNDS_WINDOW)
            .then(|| 1usize << window_bits.clamp(8, MAX_WINDOW_BITS));
    }

    /// Without context takeover (`forget`), each message ends with a full flush: the same
    /// bytes on the wire as a sync flush (`00 00 ff ff`), but the dictionary and hash chains
    /// are emptied, so the next message refers to nothing before it. That is the whole of a
    /// reset for a raw-deflate stream that is byte-aligned at that point, without the
    /// reallocation (or the re-zeroing of the whole state that a backend's reset does).
    pub(crate) fn set_forget(&mut self, forget: bool) {
        self.forget = forget;
    }

    /// Make a compressor taken from the shared cache ready for a new owner: level and window
    /// as asked, no context (a cached compressor always ended its last message with a full
    /// flush, or is reset here).
    pub(crate) fn reuse(&mut self, level: u8, window_bits: u8, forget: bool) {
        self.inner.reuse(level, window_bits);
        self.set_window(window_bits);
        self.since_reset = 0;
        self.forget = forget;
    }

    /// Forget all context (used by the tests; the extension ends messages with a full flush).
    #[cfg(test)]
    pub(crate) fn reset(&mut self) {
        self.inner.reset();
        self.since_reset = 0;
    }

    /// Compress `input`, appending to `out`, and sync-flush so that everything given so far
    /// can be inflated by the peer (as ws does per fragment). With `end_message`, strip the
    /// trailing `00 00 ff ff` of that flush (RFC 7692 §7.2.1). An empty piece that does not end
    /// the message produces nothing.
    pub(crate) fn compress(
        &mut self,
        mut input: &[u8],
        end_message: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), ExtensionError> {
        if input.is_empty() && !end_message {
            return Ok(());
        }
        let start = out.len();
        let forget = end_message && self.forget;
        let flush = if forget { Flush::Full } else { Flush::Sync };
        if let Some(window) = self.window {
            // Feed at most up to the next window boundary, then empty the dictionary.
            while !input.is_empty() {
                let room = window.saturating_sub(self.since_reset);
                let take = room.min(input.len());
                let (piece, rest) = input.split_at(take);
                let boundary = take == room;
                let flush = if boundary { Flush::Full } else { Flush::None };
                self.inner.feed(piece, flush, out)?;
                self.since_reset = if boundary { 0 } else { self.since_reset + take };
                input = rest;
            }
            self.inner.feed(&[], flush, out)?;
        } else {
            // One call: the engine sees all the input with the flush that ends it.
            self.inner.feed(input, flush, out)?;
        }
        if forget {
            self.since_reset = 0;
        }
        if end_message {
            // Strip the empty stored block the sync flush ended with. Only bytes we appended
            // can be stripped.
            let appended = out.len().saturating_sub(start);
            if appended < SYNC_TRAILER.len() || !out.ends_with(&SYNC_TRAILER) {
                return Err(ExtensionError::Internal(
                    "sync flush without an empty stored block",
                ));
            }
            out.truncate(out.len() - SYNC_TRAILER.len());
        }
        Ok(())
    }
}

/// How a bounded inflate call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Inflated {
    /// All input was consumed and all output it yields was produced.
    NeedsInput,
    /// The deflate stream ended (a block with BFINAL set); later input is ignored.
    StreamEnd,
}

/// What one backend step left to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// It took what input it could and produced all the output that input yields so far.
    NeedsInput,
    /// It stopped because its output space (or the limit) ran out: call again.
    HasMoreOutput,
    /// The deflate stream ended (a block with BFINAL set).
    StreamEnd,
    /// The input is not valid deflate data.
    Invalid,
}

/// One backend step: how much input it took, the output it produced (into its own buffer),
/// and why it stopped.
struct Stepped<'a> {
    consumed: usize,
    output: &'a [u8],
    step: Step,
}

/// A raw-deflate decompressor (32 KiB window, so any window 8..=15 the peer uses), bounded by
/// the message limit.
///
/// The backend inflates into a buffer of its own (miniz_oxide: its 32 KiB history ring;
/// zlib-rs: an output buffer beside its history, 8 KiB growing to 64 KiB), and the output is
/// appended from there to the caller's `Vec`, so that `Vec` is never zero-filled first: one
/// that keeps its capacity between messages takes the output without any allocation.
pub(crate) struct Decompressor {
    inner: backend::Inflater,
}

impl Decompressor {
    /// A fresh decompressor.
    pub(crate) fn new() -> Self {
        Decompressor {
            inner: backend::Inflater::new(),
        }
    }

    /// Start a new stream: forget the context. Allocates nothing; a back-reference before the
    /// start of the new stream never sees an earlier message's bytes (miniz_oxide reads zeros
    /// there, zlib-rs rejects it).
    pub(crate) fn reset(&mut self) {
        self.inner.reset();
    }

    /// Heap bytes [`release_memory`](Self::release_memory) would free: the part of the
    /// backend's output buffer grown for large messages (zlib-rs; none with miniz_oxide).
    pub(crate) fn spare_memory(&self) -> usize {
        self.inner.spare_memory()
    }

    /// Gives back what [`spare_memory`](Self::spare_memory) counts; the context stays.
    pub(crate) fn release_memory(&mut self) {
        self.inner.release_memory();
    }

    /// Inflate `input` onto `out`, never letting `out.len()` exceed `max_len`: as soon as more
    /// output would be needed, fail with [`ExtensionError::MessageTooLarge`]. Corrupt data is
    /// [`ExtensionError::InvalidData`]. On `MessageTooLarge`, `out` holds exactly `max_len`
    /// bytes; one byte beyond the budget is inflated (into the backend's buffer, not `out`) to
    /// tell.
    pub(crate) fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        max_len: usize,
    ) -> Result<Inflated, ExtensionError> {
        loop {
            let budget = max_len.saturating_sub(out.len());
            let Stepped {
                consumed,
                output,
                step,
            } = self.inner.step(input, budget.saturating_add(1))?;
            let written = output.len();
            out.extend_from_slice(output.get(..budget).unwrap_or(output));
            if written > budget {
                // The output fills the budget exactly, and more was coming.
                return Err(ExtensionError::MessageTooLarge);
            }
            input = input.get(consumed..).unwrap_or_default();
            match step {
                Step::StreamEnd => return Ok(Inflated::StreamEnd),
                Step::Invalid => return Err(ExtensionError::InvalidData("corrupt deflate data")),
                Step::NeedsInput if input.is_empty() => return Ok(Inflated::NeedsInput),
                Step::NeedsInput | Step::HasMoreOutput => {
                    if consumed == 0 && written == 0 {
                        return Err(ExtensionError::Internal("inflate made no progress"));
                    }
                }
            }
        }
    }
}
