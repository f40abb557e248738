//! The thread's shared (de)compressors for messages without context takeover (std only).
//!
//! Without context takeover a direction's state carries nothing from one message to the next,
//! so it need not belong to the connection: at the end of each message it goes back to a small
//! per-thread cache, and the next message of any connection on that thread takes it from
//! there (uWebSockets' shared compressor, per thread instead of per process so that no lock is
//! needed). Steady traffic allocates nothing, and an idle connection holds no deflate state.
//! Without `std` there are no thread-locals: the instance keeps its own (reset) state.

use super::codec::{Compressor, Decompressor};

/// At most this many compressors per thread. A whole message is compressed in one call, so
/// one is enough unless explicit fragments of several connections interleave.
#[cfg(feature = "std")]
const COMPRESSORS: usize = 2;
/// At most this many decompressors per thread: a message that arrives in several reads holds
/// one until it is complete, so several connections can be in the middle of one at once.
#[cfg(feature = "std")]
const DECOMPRESSORS: usize = 4;

#[cfg(feature = "std")]
mod imp {
    use std::cell::RefCell;
    use std::thread_local;
    use std::vec::Vec;

    use super::{Compressor, Decompressor};

    thread_local! {
        static COMPRESSOR_CACHE: RefCell<Vec<Compressor>> = const { RefCell::new(Vec::new()) };
        static DECOMPRESSOR_CACHE: RefCell<Vec<Decompressor>> =
            const { RefCell::new(Vec::new()) };
    }

    pub(super) fn take<T: 'static>(
        cache: &'static std::thread::LocalKey<RefCell<Vec<T>>>,
    ) -> Option<T> {
        cache
            .try_with(|c| c.try_borrow_mut().ok().and_then(|mut c| c.pop()))
            .ok()
            .flatten()
    }

    pub(super) fn give<T: 'static>(
        cache: &'static std::thread::LocalKey<RefCell<Vec<T>>>,
        item: T,
        cap: usize,
    ) {
        // During thread teardown, or when full, `item` is simply dropped.
        let _ = cache.try_with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                if c.len() < cap {
                    // One allocation per thread, of exactly `cap` slots.
                    let missing = cap.saturating_sub(c.len());
                    c.reserve_exact(missing);
                    c.push(item);
                }
            }
        });
    }

    pub(super) fn compressors() -> &'static std::thread::LocalKey<RefCell<Vec<Compressor>>> {
        &COMPRESSOR_CACHE
    }

    pub(super) fn decompressors() -> &'static std::thread::LocalKey<RefCell<Vec<Decompressor>>> {
        &DECOMPRESSOR_CACHE
    }

    pub(super) fn clear() {
        let _ = COMPRESSOR_CACHE.try_with(|c| c.try_borrow_mut().map(|mut c| *c = Vec::new()));
        let _ = DECOMPRESSOR_CACHE.try_with(|c| c.try_borrow_mut().map(|mut c| *c = Vec::new()));
    }
}

/// A context-free compressor from the thread's cache, if it has one (set up by the caller).
pub(super) fn take_compressor() -> Option<Compressor> {
    #[cfg(feature = "std")]
    {
        imp::take(imp::compressors())
    }
    #[cfg(not(feature = "std"))]
    {
        None
    }
}

/// Hand a compressor that just ended a message with a full flush (so holds no context) to the
/// thread's cache. Returns it when there is no cache (no `std`): the caller keeps it.
pub(super) fn give_compressor(compressor: Compressor) -> Option<Compressor> {
    #[cfg(feature = "std")]
    {
        imp::give(imp::compressors(), compressor, COMPRESSORS);
        None
    }
    #[cfg(not(feature = "std"))]
    {
        Some(compressor)
    }
}

/// A reset decompressor from the thread's cache, if it has one.
pub(super) fn take_decompressor() -> Option<Decompressor> {
    #[cfg(feature = "std")]
    {
        imp::take(imp::decompressors())
    }
    #[cfg(not(feature = "std"))]
    {
        None
    }
}

/// Hand a reset decompressor to the thread's cache. Returns it when there is no cache (no
/// `std`): the caller keeps it.
pub(super) fn give_decompressor(decompressor: Decompressor) -> Option<Decompressor> {
    #[cfg(feature = "std")]
    {
        imp::give(imp::decompressors(), decompressor, DECOMPRESSORS);
        None
    }
    #[cfg(not(feature = "std"))]
    {
        Some(decompressor)
    }
}

/// Frees the (de)compressors this thread keeps for permessage-deflate without context
/// takeover (at most 2 compressors of about 319 KiB and 4 decompressors of about 43 KiB; with
/// the `zlib-rs` feature about 371 KiB and 55 KiB; see docs/deflate.md). They are allocated again when the next such message is sent or received
/// on this thread. Useful after a burst of traffic, or to check for leaks. Without the `std`
/// feature there is no such cache and this does nothing.
pub fn release_thread_cache() {
    #[cfg(feature = "std")]
    imp::clear();
}
