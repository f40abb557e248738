//! miniz_oxide wrappers: a raw-deflate compressor that honours windows below 32 KiB, and a
//! bounded streaming inflater.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress_to_output, create_comp_flags_from_zip_params,
};
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{
    DecompressorOxide, TINFL_LZ_DICT_SIZE, decompress_with_limit, inflate_flags,
};

use super::params::MAX_WINDOW_BITS;
use crate::extension::ExtensionError;

/// The empty stored block a sync flush ends with; RFC 7692 §7.2.1 strips it from every message
/// and §7.2.2 appends it again before inflating.
pub(super) const SYNC_TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// A raw-deflate compressor whose back-references stay within `2^window_bits` bytes.
///
/// miniz_oxide's dictionary is always 32 KiB, and its own window-bits setting only lowers the
/// compression level; it does not bound match distances (see docs/deflate.md). For windows
/// below 15 bits we bound them ourselves: a full flush every `2^window_bits` input bytes
/// empties the dictionary, so no match can reach further back than the last flush point, which
/// is less than one window behind. Each such flush costs 4-5 bytes of output and the context
/// before it.
pub(crate) struct Compressor {
    inner: Box<CompressorOxide>,
    /// The level `inner` was set up with.
    level: u8,
    /// `2^window_bits`, or `None` for the full 32 KiB window (nothing to enforce).
    window: Option<usize>,
    /// Input bytes fed since the dictionary was last emptied (only counted with `window`).
    since_reset: usize,
    /// End each message with a full flush instead of a sync flush: no context takeover.
    forget: bool,
}

impl Compressor {
    /// A compressor at `level` (0..=10, miniz_oxide's scale; 0 stores) with a window of
    /// `window_bits` (8..=15), keeping its context across messages.
    pub(crate) fn new(level: u8, window_bits: u8) -> Self {
        // Negative window bits: raw deflate, no zlib header. Strategy 0: default.
        let flags = create_comp_flags_from_zip_params(i32::from(level), -15, 0);
        let mut compressor = Compressor {
            inner: Box::new(CompressorOxide::new(flags)),
            level,
            window: None,
            since_reset: 0,
            forget: false,
        };
        compressor.set_window(window_bits);
        compressor
    }

    fn set_window(&mut self, window_bits: u8) {
        self.window = (window_bits < MAX_WINDOW_BITS)
            .then(|| 1usize << window_bits.clamp(8, MAX_WINDOW_BITS));
    }

    /// Without context takeover (`forget`), each message ends with a full flush: the same
    /// bytes on the wire as a sync flush (`00 00 ff ff`), but the dictionary and hash chains
    /// are emptied, so the next message refers to nothing before it. That is the whole of a
    /// reset for a raw-deflate stream that is byte-aligned at that point, without the
    /// reallocation (or the 300 KiB re-zeroing of `CompressorOxide::reset`).
    pub(crate) fn set_forget(&mut self, forget: bool) {
        self.forget = forget;
    }

    /// Make a compressor taken from the shared cache ready for a new owner: level and window
    /// as asked, no context (a cached compressor always ended its last message with a full
    /// flush, or is reset here).
    pub(crate) fn reuse(&mut self, level: u8, window_bits: u8, forget: bool) {
        if level != self.level {
            self.inner.reset();
            self.inner
                .set_format_and_level(miniz_oxide::DataFormat::Raw, level);
            self.level = level;
        }
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
        if let Some(window) = self.window {
            // Feed at most up to the next window boundary, then empty the dictionary.
            while !input.is_empty() {
                let room = window.saturating_sub(self.since_reset);
                let take = room.min(input.len());
                let (piece, rest) = input.split_at(take);
                let boundary = take == room;
                let flush = if boundary {
                    TDEFLFlush::Full
                } else {
                    TDEFLFlush::None
                };
                self.feed(piece, flush, out)?;
                self.since_reset = if boundary { 0 } else { self.since_reset + take };
                input = rest;
            }
        } else {
            self.feed(input, TDEFLFlush::None, out)?;
        }
        let forget = end_message && self.forget;
        let flush = if forget {
            TDEFLFlush::Full
        } else {
            TDEFLFlush::Sync
        };
        self.feed(&[], flush, out)?;
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

    /// One miniz_oxide call (repeated until it has taken all of `input`).
    fn feed(
        &mut self,
        mut input: &[u8],
        flush: TDEFLFlush,
        out: &mut Vec<u8>,
    ) -> Result<(), ExtensionError> {
        loop {
            let (status, consumed) = compress_to_output(&mut self.inner, input, flush, |bytes| {
                out.extend_from_slice(bytes);
                true
            });
            if status != TDEFLStatus::Okay {
                return Err(ExtensionError::Internal("deflate failed"));
            }
            input = input.get(consumed..).unwrap_or_default();
            if input.is_empty() {
                return Ok(());
            }
            if consumed == 0 {
                return Err(ExtensionError::Internal("deflate made no progress"));
            }
        }
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

/// The inflater's history: 32 KiB, so any window 8..=15 the peer uses.
const WINDOW: usize = TINFL_LZ_DICT_SIZE;

/// Raw deflate, more input may follow, no checksum.
const INFLATE_FLAGS: u32 =
    inflate_flags::TINFL_FLAG_HAS_MORE_INPUT | inflate_flags::TINFL_FLAG_IGNORE_ADLER32;

/// A raw-deflate decompressor (32 KiB window, so any window 8..=15 the peer uses).
///
/// It inflates into its own 32 KiB history ring (miniz_oxide's wrapping output mode) and
/// appends from there to the caller's `Vec`, so the output is never zero-filled first: a `Vec`
/// that keeps its capacity between messages takes the output without any allocation.
pub(crate) struct Decompressor {
    state: Box<DecompressorOxide>,
    /// The history ring, `WINDOW` bytes.
    window: Box<[u8]>,
    /// Where the next output byte goes in `window`.
    pos: usize,
    /// Bytes of `window` written since it was last zeroed (a prefix, at most `WINDOW`).
    dirty: usize,
}

impl Decompressor {
    /// A fresh decompressor.
    pub(crate) fn new() -> Self {
        Decompressor {
            state: Box::default(),
            window: vec![0u8; WINDOW].into_boxed_slice(),
            pos: 0,
            dirty: 0,
        }
    }

    /// Start a new stream: forget the context. Allocates nothing; zeroes only the part of the
    /// history the last stream wrote (at most 32 KiB, less for small messages), so that a
    /// corrupt back-reference before the start of the stream reads zeros, as from a fresh
    /// decompressor, never an earlier message's bytes.
    pub(crate) fn reset(&mut self) {
        self.state.init();
        if let Some(used) = self.window.get_mut(..self.dirty) {
            used.fill(0);
        }
        self.pos = 0;
        self.dirty = 0;
    }

    /// Inflate `input` onto `out`, never letting `out.len()` exceed `max_len`: as soon as more
    /// output would be needed, fail with [`ExtensionError::MessageTooLarge`]. Corrupt data is
    /// [`ExtensionError::InvalidData`]. On `MessageTooLarge`, `out` holds exactly `max_len`
    /// bytes; one byte beyond the budget is inflated (into the history, not `out`) to tell.
    pub(crate) fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        max_len: usize,
    ) -> Result<Inflated, ExtensionError> {
        loop {
            let budget = max_len.saturating_sub(out.len());
            let pos = self.pos;
            let (status, consumed, written) = decompress_with_limit(
                &mut self.state,
                input,
                &mut self.window,
                pos,
                budget.saturating_add(1),
                INFLATE_FLAGS,
            );
            let end = pos.saturating_add(written);
            let keep = pos.saturating_add(written.min(budget));
            match self.window.get(pos..keep) {
                Some(produced) => out.extend_from_slice(produced),
                None => return Err(ExtensionError::Internal("inflate window")),
            }
            if written > budget {
                // The output fills the budget exactly, and more was coming.
                return Err(ExtensionError::MessageTooLarge);
            }
            self.dirty = self.dirty.max(end);
            self.pos = end & (WINDOW - 1);
            input = input.get(consumed..).unwrap_or_default();
            match status {
                TINFLStatus::Done => return Ok(Inflated::StreamEnd),
                TINFLStatus::NeedsMoreInput if input.is_empty() => return Ok(Inflated::NeedsInput),
                TINFLStatus::NeedsMoreInput | TINFLStatus::HasMoreOutput => {
                    if consumed == 0 && written == 0 {
                        return Err(ExtensionError::Internal("inflate made no progress"));
                    }
                }
                _ => return Err(ExtensionError::InvalidData("corrupt deflate data")),
            }
        }
    }
}
