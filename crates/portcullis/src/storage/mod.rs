//! Token storage: what portcullis remembers about issued tokens so that they can be revoked.
//!
//! A [`TokenStorage`] records three kinds of facts, each with an expiry after which it is
//! forgotten:
//!
//! 1. **token records**, keyed by `jti` ([`StoredToken`]). Their meaning depends on the
//!    [`StorageMode`]: in `allowlist` mode (cbsecurity's) every issued token is recorded and
//!    a token that is absent is revoked; in `denylist` mode only revoked tokens are recorded,
//!    so issuing a token writes nothing;
//! 2. **revocation epochs**, keyed by subject (or [`ALL_SUBJECTS`]): every token of that
//!    subject issued before the epoch is revoked — "log out everywhere" and password changes
//!    in one write, in either mode, without scanning;
//! 3. **refresh-token families** ([`FamilyState`]): the chain of refresh tokens descending
//!    from one login, so that presenting an already-rotated refresh token revokes the whole
//!    family (reuse detection). Families change only by compare-and-swap on their
//!    [`FamilyState::version`]; the rotation rules live in [`FamilyState::rotate`], once.
//!
//! [`TokenStorage::check`] answers every question a request needs in one call, which the
//! network drivers turn into one round trip. Every method fails with
//! [`Error::Unavailable`](crate::Error::Unavailable) when the backend cannot be reached; the
//! caller then refuses the request (fail closed).
//!
//! ```
//! use portcullis::storage::{FamilyState, NextRefresh, Rotation};
//!
//! // The rotation rules, independent of any backend.
//! let mut family = FamilyState::new("fam-1", "user-7", "r1", "token-r1", 1_000, 8_000);
//! let next = NextRefresh { jti: "r2".into(), token: "token-r2".into(), access_jti: None, access_expires_at: 0 };
//! assert_eq!(family.rotate("r1", &next, 1_010, 10), Rotation::Rotated { revoked_access: None });
//! // The previous token once more within the overlap window: the current token is handed back.
//! let again = NextRefresh { jti: "r3".into(), token: "token-r3".into(), access_jti: None, access_expires_at: 0 };
//! assert_eq!(family.rotate("r1", &again, 1_015, 10), Rotation::Grace { current_token: "token-r2".into() });
//! // Any further reuse is theft: the family is revoked.
//! assert_eq!(family.rotate("r1", &again, 1_016, 10), Rotation::Reused);
//! assert!(family.revoked);
//! ```

#[cfg(any(
    feature = "storage-memory",
    feature = "storage-sqlite",
    feature = "storage-postgres",
    feature = "storage-redis"
))]
pub(crate) mod clock;
#[cfg(any(
    feature = "storage-sqlite",
    feature = "storage-postgres",
    feature = "storage-redis"
))]
pub(crate) mod failure;
mod family;
#[cfg(feature = "storage-memory")]
mod memory;
#[cfg(feature = "storage-redis")]
pub(crate) mod redis;
mod select;
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
pub(crate) mod sql;

use async_trait::async_trait;

pub use self::family::{FamilyState, NextRefresh, Rotation};
#[cfg(feature = "storage-memory")]
pub use self::memory::MemoryStorage;
#[cfg(feature = "storage-redis")]
pub use self::redis::RedisStorage;
pub use self::select::from_settings;
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
pub use self::sql::SqlStorage;
pub use crate::settings::StorageMode;
use crate::Result;

/// The scope whose revocation epoch applies to every subject (`invalidate_all`).
pub const ALL_SUBJECTS: &str = "*";

/// A token as recorded in storage.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// The token's `jti`: the record's key.
    pub jti: String,
    /// The compact token (empty for denylist records, which need only the `jti`).
    pub token: String,
    /// The token's `sub`.
    pub subject: String,
    /// `iat`, Unix seconds.
    pub issued_at: i64,
    /// `exp`, Unix seconds: the record is forgotten after it.
    pub expires_at: i64,
}

impl std::fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredToken")
            .field("jti", &self.jti)
            .field("token", &"<redacted>")
            .field("subject", &self.subject)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What a request asks storage about its token.
#[derive(Debug, Clone, Copy)]
pub struct Probe<'a> {
    /// The token's `jti`.
    pub jti: &'a str,
    /// The token's `sub`.
    pub subject: &'a str,
    /// The token's refresh family, if it belongs to one.
    pub family: Option<&'a str>,
}

/// Everything storage knows about one token, from one [`TokenStorage::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    /// A record with the token's `jti` exists (and has not expired).
    pub recorded: bool,
    /// The latest revocation epoch covering the subject (its own or [`ALL_SUBJECTS`]'s):
    /// tokens issued before it are revoked.
    pub revoked_before: Option<i64>,
    /// The token's family exists and is revoked.
    pub family_revoked: bool,
}

/// Where portcullis records tokens, revocation epochs and refresh families.
///
/// Implement it to bring your own backend; the built-in drivers are `MemoryStorage`
/// (feature `storage-memory`), `SqlStorage` (features `storage-sqlite`, `storage-postgres`)
/// and `RedisStorage` (feature `storage-redis`). Every method must be safe to call concurrently, and
/// must return [`Error::Unavailable`](crate::Error::Unavailable) rather than a guess when the
/// backend cannot answer.
#[async_trait]
pub trait TokenStorage: Send + Sync + 'static {
    /// A short name for logs and metrics, e.g. `memory`, `sqlite`, `postgres`, `redis`.
    fn name(&self) -> &'static str;

    /// Records a token until its `expires_at` (replacing a record with the same `jti`).
    async fn set(&self, token: StoredToken) -> Result<()>;

    /// Whether a live record with this `jti` exists.
    async fn exists(&self, jti: &str) -> Result<bool>;

    /// The live record with this `jti`.
    async fn get(&self, jti: &str) -> Result<Option<StoredToken>>;

    /// Removes the record with this `jti`; whether one existed.
    async fn clear(&self, jti: &str) -> Result<bool>;

    /// Removes every token record of this storage (and nothing else sharing the backend),
    /// returning how many there were.
    async fn clear_all(&self) -> Result<u64>;

    /// The `jti`s of the live records, sorted.
    async fn keys(&self) -> Result<Vec<String>>;

    /// How many live records there are.
    async fn size(&self) -> Result<u64>;

    /// Deletes every record, epoch and family that expired before `now` (Unix seconds),
    /// returning how many were removed. Drivers whose backend expires entries itself may
    /// return 0.
    async fn sweep(&self, now: i64) -> Result<u64>;

    /// Revokes every token of `scope` (a subject, or [`ALL_SUBJECTS`]) issued before
    /// `before`; the epoch is kept until `keep_until`. A later epoch replaces an earlier one,
    /// never the reverse.
    async fn revoke_before(&self, scope: &str, before: i64, keep_until: i64) -> Result<()>;

    /// The revocation epoch of `scope`, if any.
    async fn revoked_before(&self, scope: &str) -> Result<Option<i64>>;

    /// The state of a refresh family.
    async fn family(&self, family: &str) -> Result<Option<FamilyState>>;

    /// Stores `state` if the stored family's version is `expected` (`None`: the family must
    /// not exist yet); whether it was stored. A `false` means another request changed the
    /// family first: read it again and retry.
    async fn swap_family(&self, expected: Option<u64>, state: &FamilyState) -> Result<bool>;

    /// One cheap round trip to the backend, for health checks: `Ok` when it answers now.
    /// The built-in drivers run the [`check`](TokenStorage::check) statement for a token that
    /// does not exist (SQL: it reads all three tables) or send `PING` (Redis); memory always
    /// answers. The default reads the [`ALL_SUBJECTS`] revocation epoch.
    ///
    /// # Errors
    /// [`Error::Unavailable`](crate::Error::Unavailable) when the backend cannot be reached.
    async fn ping(&self) -> Result<()> {
        self.revoked_before(ALL_SUBJECTS).await.map(drop)
    }

    /// Everything a request needs to know about its token. The default asks the other
    /// methods one by one; network drivers answer in one round trip.
    async fn check(&self, probe: Probe<'_>) -> Result<Standing> {
        let recorded = self.exists(probe.jti).await?;
        let own = self.revoked_before(probe.subject).await?;
        let all = self.revoked_before(ALL_SUBJECTS).await?;
        let family_revoked = match probe.family {
            Some(family) => self.family(family).await?.is_some_and(|f| f.revoked),
            None => false,
        };
        Ok(Standing {
            recorded,
            revoked_before: own.max(all),
            family_revoked,
        })
    }
}
