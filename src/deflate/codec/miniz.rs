//! The miniz_oxide backend (the default): pure Rust, `no_std` + `alloc`.

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

use super::{Flush, Step, Stepped};
use crate::extension::ExtensionError;

/// miniz_oxide's compressor: a 32 KiB dictionary whatever the window.
pub(super) struct Deflater {
    inner: Box<CompressorOxide>,
    /// The level `inner` was set up with.
    level: u8,
}

impl Deflater {
    /// miniz_oxide does not bound match distances below 32 KiB: the codec does it.
    pub(super) const BOUNDS_WINDOW: bool = false;

    /// Raw deflate at `level` (0..=10, miniz_oxide's scale). The window is the codec's job.
    pub(super) fn new(level: u8, _window_bits: u8) -> Self {
        // Negative window bits: raw deflate, no zlib header. Strategy 0: default.
        let flags = create_comp_flags_from_zip_params(i32::from(level), -15, 0);
        Deflater {
            inner: Box::new(CompressorOxide::new(flags)),
            level,
        }
    }

    /// Ready for a new owner at `level`; it holds no context (its last flush was full).
    pub(super) fn reuse(&mut self, level: u8, _window_bits: u8) {
        if level != self.level {
            self.inner.reset();
            self.inner
                .set_format_and_level(miniz_oxide::DataFormat::Raw, level);
            self.level = level;
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
        let flush = match flush {
            Flush::None => TDEFLFlush::None,
            Flush::Sync => TDEFLFlush::Sync,
            Flush::Full => TDEFLFlush::Full,
        };
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

/// The inflater's history: 32 KiB, so any window 8..=15 the peer uses.
const WINDOW: usize = TINFL_LZ_DICT_SIZE;

/// Raw deflate, more input may follow, no checksum.
const INFLATE_FLAGS: u32 =
    inflate_flags::TINFL_FLAG_HAS_MORE_INPUT | inflate_flags::TINFL_FLAG_IGNORE_ADLER32;

/// miniz_oxide's inflater in its wrapping output mode: it inflates into its own 32 KiB history
/// ring, which is also where the codec copies the output from.
pub(super) struct Inflater {
    state: Box<DecompressorOxide>,
    /// The history ring, `WINDOW` bytes.
    window: Box<[u8]>,
    /// Where the next output byte goes in `window`.
    pos: usize,
    /// Bytes of `window` written since it was last zeroed (a prefix, at most `WINDOW`).
    dirty: usize,
}

impl Inflater {
    pub(super) fn new() -> Self {
        Inflater {
            state: Box::default(),
            window: vec![0u8; WINDOW].into_boxed_slice(),
            pos: 0,
            dirty: 0,
        }
    }

    /// Bytes [`release_memory`](Self::release_memory) would free: none (the ring is the
    /// history a stream needs).
    pub(super) fn spare_memory(&self) -> usize {
        0
    }

    /// Nothing to give back.
    pub(super) fn release_memory(&mut self) {}

    /// Zeroes only the part of the history the last stream wrote (at most 32 KiB, less for
    /// small messages), so that a corrupt back-reference before the start of the stream reads
    /// zeros, as from a fresh decompressor, never an earlier message's bytes.
    pub(super) fn reset(&mut self) {
        self.state.init();
        if let Some(used) = self.window.get_mut(..self.dirty) {
            used.fill(0);
        }
        self.pos = 0;
        self.dirty = 0;
    }

    /// Inflate from `input`, at most `limit` bytes of output (up to the end of the ring).
    pub(super) fn step(
        &mut self,
        input: &[u8],
        limit: usize,
    ) -> Result<Stepped<'_>, ExtensionError> {
        let pos = self.pos;
        let (status, consumed, written) = decompress_with_limit(
            &mut self.state,
            input,
            &mut self.window,
            pos,
            limit,
            INFLATE_FLAGS,
        );
        let end = pos.saturating_add(written);
        self.dirty = self.dirty.max(end);
        self.pos = end & (WINDOW - 1);
        let step = match status {
            TINFLStatus::Done => Step::StreamEnd,
            TINFLStatus::NeedsMoreInput => Step::NeedsInput,
            TINFLStatus::HasMoreOutput => Step::HasMoreOutput,
            _ => Step::Invalid,
        };
        match self.window.get(pos..end) {
            Some(output) => Ok(Stepped {
                consumed,
                output,
                step,
            }),
            None => Err(ExtensionError::Internal("inflate window")),
        }
    }
}
