//! [`MemoryStorage`]: token storage in process memory (feature `storage-memory`).
//!
//! ```
//! use portcullis::storage::{MemoryStorage, Probe, StoredToken, TokenStorage};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let storage = MemoryStorage::new();
//! let now = 1_900_000_000; // expiries are Unix seconds
//! storage.set(StoredToken {
//!     jti: "j1".into(),
//!     token: "eyJ…".into(),
//!     subject: "user-7".into(),
//!     issued_at: now - 10,
//!     expires_at: i64::MAX,
//! }).await?;
//! assert!(storage.exists("j1").await?);
//! let standing = storage.check(Probe { jti: "j1", subject: "user-7", family: None }).await?;
//! assert!(standing.recorded);
//! assert_eq!(storage.keys().await?, ["j1"]);
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use moka::future::Cache;
use moka::ops::compute::{CompResult, Op};
use moka::Expiry;

use super::clock;
use super::{FamilyState, Probe, Standing, StoredToken, TokenStorage, ALL_SUBJECTS};
use crate::Result;

/// Token storage in process memory (feature `storage-memory`): nothing to install, nothing
/// shared between instances, nothing kept across restarts — for one instance, tests and
/// development.
///
/// Three [moka](https://docs.rs/moka) caches — token records, revocation epochs, refresh
/// families — in which every entry lives exactly until its own expiry (`expires_at`,
/// `keep_until`, the family's `expires_at`) and is then forgotten. There is **no capacity
/// limit and no eviction**: a cache that evicted under memory pressure would silently revoke
/// live tokens (allowlist mode) or silently un-revoke them (denylist mode), which is what
/// cbsecurity's CacheBox storage did. The cost is memory proportional to the live entries,
/// measured at about 600 bytes per record plus the token's length (32-character `jti`): about
/// 1 KiB per allowlisted 400-byte access token, about 600 bytes per denylisted `jti`, so a
/// million live allowlisted tokens need about 1 GiB. Size it, or use the `sql`/`redis`
/// drivers.
pub struct MemoryStorage {
    tokens: Cache<String, Arc<StoredToken>>,
    epochs: Cache<String, Epoch>,
    families: Cache<String, Arc<FamilyState>>,
}

/// A revocation epoch: tokens issued before `before` are revoked; kept until `keep_until`.
#[derive(Debug, Clone, Copy)]
struct Epoch {
    before: i64,
    keep_until: i64,
}

/// A cached value that knows when it expires.
trait Expires {
    fn expires_at(&self) -> i64;
}

impl Expires for StoredToken {
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

impl Expires for FamilyState {
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

impl Expires for Epoch {
    fn expires_at(&self) -> i64 {
        self.keep_until
    }
}

impl<T: Expires> Expires for Arc<T> {
    fn expires_at(&self) -> i64 {
        (**self).expires_at()
    }
}

/// Each entry expires at its own `expires_at`, whether created or replaced; reads never
/// extend it.
struct AtOwnExpiry;

impl<V: Expires> Expiry<String, V> for AtOwnExpiry {
    fn expire_after_create(&self, _: &String, value: &V, _: Instant) -> Option<Duration> {
        Some(time_left(value.expires_at()))
    }

    fn expire_after_update(
        &self,
        _: &String,
        value: &V,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(time_left(value.expires_at()))
    }
}

/// The longest lifetime handed to moka (100 years), whose clock counts nanoseconds in a
/// `u64`; liveness itself is always decided on `expires_at`.
const LONGEST: Duration = Duration::from_secs(100 * 365 * 24 * 3_600);

/// How long until the Unix time `expires_at` (zero if it has passed, at most [`LONGEST`]).
fn time_left(expires_at: i64) -> Duration {
    let secs = u64::try_from(clock::clamp(expires_at)).unwrap_or(0);
    let at = UNIX_EPOCH + Duration::from_secs(secs);
    at.duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
        .min(LONGEST)
}

fn cache<V: Expires + Clone + Send + Sync + 'static>() -> Cache<String, V> {
    // No `max_capacity`: entries leave at their expiry, never earlier.
    Cache::builder().expire_after(AtOwnExpiry).build()
}

fn live<V: Expires>(value: &V, now: i64) -> bool {
    clock::is_live(value.expires_at(), now)
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        MemoryStorage {
            tokens: cache(),
            epochs: cache(),
            families: cache(),
        }
    }

    async fn live_token(&self, jti: &str, now: i64) -> Option<Arc<StoredToken>> {
        self.tokens.get(jti).await.filter(|t| live(t, now))
    }

    async fn live_epoch(&self, scope: &str, now: i64) -> Option<i64> {
        let epoch = self.epochs.get(scope).await;
        epoch.filter(|e| live(e, now)).map(|e| e.before)
    }

    async fn live_family(&self, family: &str, now: i64) -> Option<Arc<FamilyState>> {
        self.families.get(family).await.filter(|f| live(f, now))
    }

    /// The live token records.
    fn live_tokens(&self) -> impl Iterator<Item = (Arc<String>, Arc<StoredToken>)> + '_ {
        let now = clock::now();
        self.tokens.iter().filter(move |(_, t)| live(t, now))
    }
}

impl Default for MemoryStorage {
    fn default() -> Self {
        MemoryStorage::new()
    }
}

impl std::fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStorage")
            .field("tokens", &self.tokens.entry_count())
            .field("epochs", &self.epochs.entry_count())
            .field("families", &self.families.entry_count())
            .finish()
    }
}

#[async_trait]
impl TokenStorage for MemoryStorage {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn set(&self, token: StoredToken) -> Result<()> {
        self.tokens.insert(token.jti.clone(), Arc::new(token)).await;
        Ok(())
    }

    async fn exists(&self, jti: &str) -> Result<bool> {
        Ok(self.live_token(jti, clock::now()).await.is_some())
    }

    async fn get(&self, jti: &str) -> Result<Option<StoredToken>> {
        let token = self.live_token(jti, clock::now()).await;
        Ok(token.map(|t| (*t).clone()))
    }

    async fn clear(&self, jti: &str) -> Result<bool> {
        let now = clock::now();
        Ok(self.tokens.remove(jti).await.is_some_and(|t| live(&t, now)))
    }

    async fn clear_all(&self) -> Result<u64> {
        let jtis: Vec<Arc<String>> = self.tokens.iter().map(|(jti, _)| jti).collect();
        let now = clock::now();
        let mut removed = 0;
        for jti in jtis {
            if self
                .tokens
                .remove(jti.as_str())
                .await
                .is_some_and(|t| live(&t, now))
            {
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn keys(&self) -> Result<Vec<String>> {
        let mut keys: Vec<String> = self.live_tokens().map(|(jti, _)| (*jti).clone()).collect();
        keys.sort_unstable();
        Ok(keys)
    }

    async fn size(&self) -> Result<u64> {
        Ok(self.live_tokens().count() as u64)
    }

    async fn sweep(&self, _now: i64) -> Result<u64> {
        // Expired entries are already invisible; this only hands their memory back now
        // rather than at moka's next maintenance.
        self.tokens.run_pending_tasks().await;
        self.epochs.run_pending_tasks().await;
        self.families.run_pending_tasks().await;
        Ok(0)
    }

    async fn revoke_before(&self, scope: &str, before: i64, keep_until: i64) -> Result<()> {
        let now = clock::now();
        self.epochs
            .entry_by_ref(scope)
            .and_upsert_with(|current| {
                let new = Epoch { before, keep_until };
                let merged = match current.map(|e| e.into_value()) {
                    Some(old) if live(&old, now) => Epoch {
                        before: old.before.max(before),
                        keep_until: old.keep_until.max(keep_until),
                    },
                    _ => new,
                };
                std::future::ready(merged)
            })
            .await;
        Ok(())
    }

    async fn revoked_before(&self, scope: &str) -> Result<Option<i64>> {
        Ok(self.live_epoch(scope, clock::now()).await)
    }

    async fn family(&self, family: &str) -> Result<Option<FamilyState>> {
        let family = self.live_family(family, clock::now()).await;
        Ok(family.map(|f| (*f).clone()))
    }

    async fn swap_family(&self, expected: Option<u64>, state: &FamilyState) -> Result<bool> {
        let now = clock::now();
        let new = Arc::new(state.clone());
        // `and_compute_with` runs calls on the same key one after the other: the version
        // check and the write cannot interleave with another swap.
        let result = self
            .families
            .entry_by_ref(state.family.as_str())
            .and_compute_with(|current| {
                let current = current.map(|e| e.into_value()).filter(|f| live(f, now));
                let matches = match (current, expected) {
                    (None, None) => true,
                    (Some(stored), Some(version)) => stored.version == version,
                    _ => false,
                };
                std::future::ready(if matches { Op::Put(new) } else { Op::Nop })
            })
            .await;
        Ok(matches!(
            result,
            CompResult::Inserted(_) | CompResult::ReplacedWith(_)
        ))
    }

    // The same answers as the trait's default, without copying the record or the family.
    async fn ping(&self) -> Result<()> {
        // Process memory is always there.
        Ok(())
    }

    async fn check(&self, probe: Probe<'_>) -> Result<Standing> {
        let now = clock::now();
        let recorded = self.live_token(probe.jti, now).await.is_some();
        let own = self.live_epoch(probe.subject, now).await;
        let all = self.live_epoch(ALL_SUBJECTS, now).await;
        let family_revoked = match probe.family {
            Some(family) => self
                .live_family(family, now)
                .await
                .is_some_and(|f| f.revoked),
            None => false,
        };
        Ok(Standing {
            recorded,
            revoked_before: own.max(all),
            family_revoked,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_is_zero_in_the_past_and_clamped_in_the_future() {
        assert_eq!(time_left(0), Duration::ZERO);
        assert_eq!(time_left(i64::MIN), Duration::ZERO);
        assert_eq!(time_left(i64::MAX), LONGEST);
        let soon = time_left(clock::now() + 10);
        assert!(soon <= Duration::from_secs(10) && soon > Duration::from_secs(8));
    }
}
