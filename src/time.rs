//! Monotonic time without `std`: an [`Instant`] is an offset from an epoch the caller chooses.
//!
//! The core never reads a clock. Every verb that can arm or check a timer takes `now: Instant`;
//! adapters keep a `std::time::Instant` epoch and pass `Instant::from_duration(epoch.elapsed())`.
//! Times must never go backwards between calls on one connection (later calls with an earlier
//! time are treated as the latest time seen).

use core::ops::{Add, Sub};
use core::time::Duration;

/// A point on a monotonic clock, counted in nanoseconds since a caller-chosen epoch.
///
/// ```
/// use core::time::Duration;
/// use wsproto::Instant;
/// let t0 = Instant::ZERO;
/// let t1 = t0 + Duration::from_millis(1500);
/// assert_eq!(t1.saturating_duration_since(t0), Duration::from_millis(1500));
/// assert_eq!(t1.as_nanos(), 1_500_000_000);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant(0);

    /// An instant `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }

    /// An instant `millis` milliseconds after the epoch (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis.saturating_mul(1_000_000))
    }

    /// An instant `d` after the epoch (saturating at about 584 years).
    pub const fn from_duration(d: Duration) -> Self {
        let n = d.as_nanos();
        Instant(if n > u64::MAX as u128 {
            u64::MAX
        } else {
            n as u64
        })
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The time since the epoch.
    pub const fn as_duration(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, saturating at the far future.
    pub const fn saturating_add(self, d: Duration) -> Instant {
        let n = d.as_nanos();
        let n = if n > u64::MAX as u128 {
            u64::MAX
        } else {
            n as u64
        };
        Instant(self.0.saturating_add(n))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturating addition.
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturating difference.
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}
