//! The wall clock the drivers compare expiries with, and the range of times they store.
//!
//! Every driver decides "is this record live?" the same way: a record is live while
//! `now < expires_at`, both in Unix seconds.
//!
//! ```text
//! expires_at = 1_900_000_000
//! now = 1_899_999_999  → live
//! now = 1_900_000_000  → expired (the same second as `exp`: RFC 7519 "on or after")
//! ```

/// The latest time any driver stores: 9999-12-31T23:59:59Z. Later expiries are clamped to it,
/// so that no backend refuses a far-future date.
pub(crate) const MAX_TIME: i64 = 253_402_300_799;

/// The current time in Unix seconds.
#[cfg(any(
    feature = "storage-memory",
    feature = "storage-sqlite",
    feature = "storage-postgres"
))]
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `time` within what every backend can store (0 ..= [`MAX_TIME`]).
pub(crate) fn clamp(time: i64) -> i64 {
    time.clamp(0, MAX_TIME)
}

/// Whether something expiring at `expires_at` is still live at `now`.
#[cfg(any(
    feature = "storage-memory",
    feature = "storage-sqlite",
    feature = "storage-postgres"
))]
pub(crate) fn is_live(expires_at: i64, now: i64) -> bool {
    now < expires_at
}

#[cfg(all(test, feature = "storage-memory"))]
mod tests {
    use super::*;

    #[test]
    fn live_until_the_expiry_second() {
        assert!(is_live(10, 9));
        assert!(!is_live(10, 10));
        assert_eq!(clamp(i64::MAX), MAX_TIME);
        assert_eq!(clamp(-5), 0);
        assert!(now() > 1_600_000_000);
    }
}
