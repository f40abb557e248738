//! Entropy for masking keys (RFC 6455 §5.3, §10.3) and `Sec-WebSocket-Key`.
//!
//! The core draws no randomness itself: it calls a [`FillRandom`] function taken from the
//! [`Config`](crate::Config). With the `std` feature the default is [`os_random`], which refills a
//! small per-thread pool from the operating system in batches (one system call per 1024 masking
//! keys, never one per frame). Without `std` the caller supplies its own function (ws's
//! `generateMask`), e.g. one reading a hardware RNG.

/// Fills the buffer with unpredictable bytes.
///
/// It must be cryptographically unpredictable to the peer: an attacker who can predict masking
/// keys can make a client's frames look like arbitrary bytes to intermediaries (RFC 6455 §10.3).
pub type FillRandom = fn(&mut [u8]);

#[cfg(feature = "std")]
mod os {
    use core::cell::RefCell;

    const POOL: usize = 4096;

    struct Pool {
        bytes: [u8; POOL],
        used: usize,
    }

    std::thread_local! {
        static THREAD_POOL: RefCell<Pool> = const { RefCell::new(Pool { bytes: [0; POOL], used: POOL }) };
    }

    /// Fills `buf` from the operating system's CSPRNG, batched through a per-thread pool.
    ///
    /// # Panics
    /// Only if the operating system has no entropy source at all (getrandom fails), which no
    /// peer input can cause.
    pub fn os_random(buf: &mut [u8]) {
        if buf.len() > POOL / 2 {
            fill_os(buf);
            return;
        }
        THREAD_POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            if POOL - pool.used < buf.len() {
                let Pool { bytes, used } = &mut *pool;
                fill_os(bytes);
                *used = 0;
            }
            let start = pool.used;
            let end = start + buf.len();
            if let Some(src) = pool.bytes.get_mut(start..end) {
                buf.copy_from_slice(src);
                // Never hand the same bytes out twice.
                src.fill(0);
            }
            pool.used = end;
        });
    }

    fn fill_os(buf: &mut [u8]) {
        #[allow(clippy::expect_used)]
        getrandom::fill(buf).expect("the operating system has no entropy source");
    }
}

#[cfg(feature = "std")]
pub use os::os_random;

/// The default entropy source: [`os_random`] with `std`, none without.
pub(crate) const DEFAULT_RANDOM: Option<FillRandom> = {
    #[cfg(feature = "std")]
    {
        Some(os_random as FillRandom)
    }
    #[cfg(not(feature = "std"))]
    {
        None
    }
};

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn os_random_differs_between_calls() {
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        os_random(&mut a);
        os_random(&mut b);
        assert_ne!(a, b);
        let mut big = [0u8; 1000];
        os_random(&mut big);
        assert!(big.iter().any(|&x| x != 0));
    }
}
