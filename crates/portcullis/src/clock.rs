//! The time as the session store and the login throttle see it, replaceable in tests.
//!
//! Sessions expire and login lockouts end by the [`Clock`] their owner was built with:
//! [`SystemClock`] (the default) reads the system time; [`ManualClock`] stands still until it
//! is moved, so a test can cross a timeout without sleeping.
//!
//! ```
//! use std::time::Duration;
//! use portcullis::clock::{Clock, ManualClock};
//!
//! let clock = ManualClock::new();
//! let start = clock.now_ms();
//! clock.advance(Duration::from_secs(90));
//! assert_eq!(clock.now_ms() - start, 90_000);
//! ```

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current time in Unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        unix_ms(SystemTime::now())
    }
}

/// A clock that moves only when told to; it starts at the current system time (backends
/// that expire entries themselves, Redis and the memory store, must not be handed times in
/// the past).
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    /// A clock standing at the current system time.
    pub fn new() -> Self {
        ManualClock {
            now_ms: AtomicI64::new(SystemClock.now_ms()),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.now_ms.fetch_add(millis(by), Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

/// `time` in Unix milliseconds (0 before the epoch).
pub(crate) fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, millis)
}

/// The system time of the Unix milliseconds `ms`.
pub(crate) fn system_time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// `duration` in whole milliseconds, saturating.
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
