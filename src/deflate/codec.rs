//! miniz_oxide wrappers: a raw-deflate compressor that honours windows below 32 KiB, and a
//! bounded streaming inflater.

use alloc::boxed::Box;
use alloc::vec::Vec;

use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress_to_output, create_comp_flags_from_zip_params,
};
use miniz_oxide::inflate::stream::{InflateState, inflate};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

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
    /// `2^window_bits`, or `None` for the full 32 KiB window (nothing to enforce).
    window: Option<usize>,
    /// Input bytes fed since the dictionary was last emptied (only counted with `window`).
    since_reset: usize,
}

impl Compressor {
    /// A compressor at `level` (0..=10, miniz_oxide's scale; 0 stores) with a window of
    /// `window_bits` (8..=15).
    pub(crate) fn new(level: u8, window_bits: u8) -> Self {
        // Negative window bits: raw deflate, no zlib header. Strategy 0: default.
        let flags = create_comp_flags_from_zip_params(i32::from(level), -15, 0);
        let window = (window_bits < MAX_WINDOW_BITS)
            .then(|| 1usize << window_bits.clamp(8, MAX_WINDOW_BITS));
        Compressor {
            inner: Box::new(CompressorOxide::new(flags)),
            window,
            since_reset: 0,
        }
    }

    /// Forget all context (used by the tests; the extension drops the compressor instead).
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
        self.feed(&[], TDEFLFlush::Sync, out)?;
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

/// Output is produced in steps that start at this size and double while they fill up, so that
/// small messages do not zero large buffers and large ones do not take many calls.
const FIRST_STEP: usize = 4 * 1024;
const MAX_STEP: usize = 256 * 1024;

/// A raw-deflate decompressor (32 KiB window, so any window 8..=15 the peer uses).
pub(crate) struct Decompressor {
    inner: Box<InflateState>,
}

impl Decompressor {
    /// A fresh decompressor.
    pub(crate) fn new() -> Self {
        Decompressor {
            inner: InflateState::new_boxed(DataFormat::Raw),
        }
    }

    /// Inflate `input` onto `out`, never letting `out.len()` exceed `max_len`: as soon as more
    /// output would be needed, fail with [`ExtensionError::MessageTooLarge`]. Corrupt data is
    /// [`ExtensionError::InvalidData`].
    pub(crate) fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        max_len: usize,
    ) -> Result<Inflated, ExtensionError> {
        let mut step = FIRST_STEP.min(input.len().saturating_mul(4).max(256));
        loop {
            let budget = max_len.saturating_sub(out.len());
            let (consumed, written, full, status) = if budget == 0 {
                // Any further output is one byte too many: probe for it.
                let mut probe = [0u8; 1];
                let res = inflate(&mut self.inner, input, &mut probe, MZFlush::None);
                if res.bytes_written > 0 {
                    return Err(ExtensionError::MessageTooLarge);
                }
                (res.bytes_consumed, 0, false, res.status)
            } else {
                let n = step.min(budget);
                let start = out.len();
                out.resize(start + n, 0);
                let res = match out.get_mut(start..) {
                    Some(space) => inflate(&mut self.inner, input, space, MZFlush::None),
                    None => return Err(ExtensionError::Internal("inflate buffer")),
                };
                let written = res.bytes_written.min(n);
                out.truncate(start + written);
                if written == n {
                    step = step.saturating_mul(2).min(MAX_STEP);
                }
                (res.bytes_consumed, written, written == n, res.status)
            };
            input = input.get(consumed..).unwrap_or_default();
            match status {
                Ok(MZStatus::StreamEnd) => return Ok(Inflated::StreamEnd),
                // Out of input with room to spare: everything it yields has been produced.
                Err(MZError::Buf) if !full => return Ok(Inflated::NeedsInput),
                Ok(_) | Err(MZError::Buf) => {
                    if consumed == 0 && written == 0 {
                        return Err(ExtensionError::Internal("inflate made no progress"));
                    }
                }
                Err(_) => return Err(ExtensionError::InvalidData("corrupt deflate data")),
            }
        }
    }
}
