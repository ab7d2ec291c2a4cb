//! [`CsrfTokens`]: synchronizer tokens bound to a session, a user or an anonymous browser
//! (cbcsrf's token service, spec §6, with its weaknesses fixed).
//!
//! 1. A token is 256 bits from the operating system's CSPRNG, base64url (43 characters);
//!    cbcsrf hashed ~16 random bits with guessable inputs.
//! 2. Tokens live in a bucket per [`CsrfBinding`] — the session, else the authenticated user,
//!    else an anonymous browser cookie — under named keys (`default` unless given).
//! 3. [`generate`](CsrfTokens::generate) returns the live token of a key, or makes a new one
//!    (forced, absent, or expired); [`verify`](CsrfTokens::verify) compares in constant time,
//!    case-sensitively, and does not consume the token.
//! 4. A token expires `rotation_timeout` after it was made (`0`: never); an expired token is
//!    refused and replaced by the next `generate`.
//! 5. [`rotate`](CsrfTokens::rotate) discards a binding's tokens — call it at login and logout
//!    ([`on_authentication_change`](CsrfTokens::on_authentication_change) does, unless
//!    `enable_auth_token_rotator` is off).
//!
//! Tokens are kept in a [`CsrfStore`]: process memory by default (several instances behind a
//! load balancer then need sticky sessions), or with `csrf.storage = "shared"` the backend of
//! `jwt.token_storage` (SQL or Redis), so that every instance verifies every token
//! ([`CsrfTokens::from_settings`]). A store that cannot be reached refuses every token.
//!
//! ```
//! use portcullis::csrf::{CsrfBinding, CsrfTokens};
//! use portcullis::settings::CsrfSettings;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let tokens = CsrfTokens::new(&CsrfSettings::default());
//! let alice = CsrfBinding::user("alice");
//! let token = tokens.generate(&alice, "default", false).await?;
//! assert_eq!(token.len(), 43);
//! assert_eq!(tokens.generate(&alice, "default", false).await?, token); // same until rotated
//! assert!(tokens.verify(&alice, "default", &token).await);
//! assert!(!tokens.verify(&CsrfBinding::user("mallory"), "default", &token).await);
//! tokens.rotate(&alice).await?;
//! assert!(!tokens.verify(&alice, "default", &token).await);
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest;
use base64::Engine as _;

use super::store::{store_from_settings, CsrfBucket, CsrfStore, MemoryCsrfStore, StoredToken};
use crate::session::SessionId;
use crate::settings::{CsrfSettings, Settings};
use crate::{Error, Result};

/// The key the auto verifier checks, and the key of an empty name (as cbcsrf).
pub const DEFAULT_KEY: &str = "default";

/// The longest key name.
pub const MAX_KEY_LENGTH: usize = 64;

/// How many named tokens one binding may hold; making one more drops the oldest.
pub const MAX_KEYS_PER_BINDING: usize = 32;

/// How many bindings a memory store keeps.
const DEFAULT_BINDINGS: u64 = 100_000;

/// How long an unused bucket of never-expiring tokens (`rotation_timeout = 0`) is kept.
const NEVER_EXPIRING_IDLE: Duration = Duration::from_secs(24 * 60 * 60);

/// What a token is bound to. Holds a SHA-256 digest of the session id, user id or cookie,
/// never the value itself; its `Debug` shows only the kind.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CsrfBinding {
    kind: &'static str,
    digest: Arc<str>,
}

impl CsrfBinding {
    fn new(kind: &'static str, value: &str) -> Self {
        let mut input = Vec::with_capacity(kind.len() + 1 + value.len());
        input.extend_from_slice(kind.as_bytes());
        input.push(0);
        input.extend_from_slice(value.as_bytes());
        let hash = digest::digest(&digest::SHA256, &input);
        let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        CsrfBinding {
            kind,
            digest: hex.into(),
        }
    }

    /// Tokens of a session (the [`SessionId`] the session layer puts into requests).
    pub fn session(id: &SessionId) -> Self {
        CsrfBinding::new("session", id.as_str())
    }

    /// Tokens of an authenticated user without a session (an API client): shared by all
    /// the user's clients.
    pub fn user(id: &str) -> Self {
        CsrfBinding::new("user", id)
    }

    /// Tokens of a guest browser, identified by the anonymous binding cookie's value.
    pub fn anonymous(cookie: &str) -> Self {
        CsrfBinding::new("anonymous", cookie)
    }

    /// `session`, `user` or `anonymous`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

impl fmt::Debug for CsrfBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CsrfBinding({}, <redacted>)", self.kind)
    }
}

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// How many locks serialise the changes to buckets in one process.
const LOCK_STRIPES: usize = 64;

/// The token service and its rules (see the module docs), over a [`CsrfStore`]. Cheap to
/// clone; clones share the store.
#[derive(Clone)]
pub struct CsrfTokens {
    store: Arc<dyn CsrfStore>,
    /// Changes to one binding's bucket (load, change, save; or delete) run one at a time in
    /// this process, so that two requests never lose each other's token nor bring back
    /// rotated ones.
    locks: Arc<[tokio::sync::Mutex<()>]>,
    timeout: Option<Duration>,
    rotator: bool,
    clock: Clock,
}

impl fmt::Debug for CsrfTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfTokens")
            .field("store", &self.store.name())
            .field("timeout", &self.timeout)
            .field("rotator", &self.rotator)
            .finish_non_exhaustive()
    }
}

/// Whether `key` may name a token: 1 to [`MAX_KEY_LENGTH`] letters, digits, `_`, `-`, `.`
/// or `:`.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_LENGTH
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// A fresh random value: 256 bits, base64url without padding.
pub(crate) fn random_value() -> Result<String> {
    let bytes = crate::random::bytes::<32>()?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// `duration` in milliseconds, saturating.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// `time` in Unix milliseconds (0 before 1970).
fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, millis)
}

/// How long an unused bucket is kept: the token lifetime, or a day for never-expiring
/// tokens.
fn idle_of(settings: &CsrfSettings) -> Duration {
    if settings.rotation_timeout.is_zero() {
        NEVER_EXPIRING_IDLE
    } else {
        settings.rotation_timeout
    }
}

impl CsrfTokens {
    /// A service keeping tokens in process memory, for up to 100 000 bindings, with
    /// `settings`' `rotation_timeout` and `enable_auth_token_rotator` (`storage` is not
    /// read: use [`CsrfTokens::from_settings`] to follow it).
    pub fn new(settings: &CsrfSettings) -> Self {
        CsrfTokens::with_capacity(settings, DEFAULT_BINDINGS)
    }

    /// A service keeping tokens in process memory for up to `bindings` bindings (the least
    /// recently used are dropped).
    pub fn with_capacity(settings: &CsrfSettings, bindings: u64) -> Self {
        let store = Arc::new(MemoryCsrfStore::new(bindings, idle_of(settings)));
        CsrfTokens::with_store(settings, store)
    }

    /// A service keeping tokens in `store` (e.g. your own [`CsrfStore`]).
    pub fn with_store(settings: &CsrfSettings, store: Arc<dyn CsrfStore>) -> Self {
        let timeout = (!settings.rotation_timeout.is_zero()).then_some(settings.rotation_timeout);
        CsrfTokens {
            store,
            locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            timeout,
            rotator: settings.enable_auth_token_rotator,
            clock: Arc::new(SystemTime::now),
        }
    }

    /// The service `settings.csrf` describes, on the store `csrf.storage` selects (see
    /// [`store_from_settings`](super::store_from_settings)): process memory, or the backend
    /// of `jwt.token_storage` shared by every instance.
    ///
    /// # Errors
    /// [`Error::Config`] for a driver the tokens cannot follow or bad properties;
    /// [`Error::Unavailable`] when the shared backend cannot be reached.
    pub async fn from_settings(settings: &Settings) -> Result<Self> {
        let csrf = &settings.csrf;
        let store = store_from_settings(settings, DEFAULT_BINDINGS, idle_of(csrf)).await?;
        Ok(CsrfTokens::with_store(csrf, store))
    }

    /// Reads the time from `clock` instead of the system clock (for tests).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The store the tokens are kept in.
    pub fn store(&self) -> &Arc<dyn CsrfStore> {
        &self.store
    }

    fn lock(&self, binding: &CsrfBinding) -> &tokio::sync::Mutex<()> {
        let stripe = binding
            .digest
            .get(..2)
            .and_then(|hex| usize::from_str_radix(hex, 16).ok())
            .unwrap_or(0);
        &self.locks[stripe % self.locks.len()]
    }

    /// How long a bucket is kept: until its last token expires, or a day from `now` when
    /// tokens never expire.
    fn bucket_expiry(&self, bucket: &CsrfBucket, now: i64) -> i64 {
        let idle = millis(NEVER_EXPIRING_IDLE);
        bucket
            .tokens
            .values()
            .map(|t| t.expires.unwrap_or_else(|| now.saturating_add(idle)))
            .max()
            .unwrap_or(now)
    }

    /// The live token of `key` for `binding`, made anew when `force_new`, absent or expired.
    /// An empty key is [`DEFAULT_KEY`].
    ///
    /// # Errors
    /// [`Error::Config`] for a key that [`is_valid_key`] refuses; [`Error::Unavailable`] if
    /// the system random generator fails or the store cannot be reached.
    pub async fn generate(
        &self,
        binding: &CsrfBinding,
        key: &str,
        force_new: bool,
    ) -> Result<String> {
        let key = if key.is_empty() { DEFAULT_KEY } else { key };
        if !is_valid_key(key) {
            return Err(Error::config(
                "csrf key",
                "use 1 to 64 letters, digits, '_', '-', '.' or ':'",
            ));
        }
        let _guard = self.lock(binding).lock().await;
        let now = unix_ms((self.clock)());
        let mut bucket = self
            .store
            .load(&binding.digest, now)
            .await?
            .unwrap_or_default();
        if !force_new {
            if let Some(entry) = bucket.tokens.get(key).filter(|e| e.is_live(now)) {
                return Ok(entry.token.clone());
            }
        }
        let entries = &mut bucket.tokens;
        entries.retain(|_, entry| entry.is_live(now));
        if entries.len() >= MAX_KEYS_PER_BINDING && !entries.contains_key(key) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, entry)| entry.created)
                .map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        let token = random_value()?;
        let expires = self
            .timeout
            .map(|timeout| now.saturating_add(millis(timeout)));
        entries.insert(
            key.to_owned(),
            StoredToken {
                token: token.clone(),
                created: now,
                expires,
            },
        );
        let expires_at = self.bucket_expiry(&bucket, now);
        self.store
            .save(&binding.digest, &bucket, expires_at)
            .await?;
        Ok(token)
    }

    /// Whether `token` is the live token of `key` for `binding` (constant-time comparison).
    /// An empty key is [`DEFAULT_KEY`]. Fails closed: `false` when the store cannot be
    /// reached (logged as a warning).
    pub async fn verify(&self, binding: &CsrfBinding, key: &str, token: &str) -> bool {
        let key = if key.is_empty() { DEFAULT_KEY } else { key };
        let now = unix_ms((self.clock)());
        let bucket = match self.store.load(&binding.digest, now).await {
            Ok(Some(bucket)) => bucket,
            Ok(None) => return false,
            Err(error) => {
                tracing::warn!(%error, "csrf: the token store cannot be read, token refused");
                return false;
            }
        };
        bucket.tokens.get(key).is_some_and(|entry| {
            entry.is_live(now)
                && verify_slices_are_equal(entry.token.as_bytes(), token.as_bytes()).is_ok()
        })
    }

    /// Discards every token of `binding` (cbcsrf's `rotate()`).
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the store cannot be reached (the tokens may then live on).
    pub async fn rotate(&self, binding: &CsrfBinding) -> Result<()> {
        let _guard = self.lock(binding).lock().await;
        self.store.delete(&binding.digest).await
    }

    /// Call at login and logout: rotates `binding`'s tokens when `enable_auth_token_rotator`
    /// is on (the default), so a token issued before cannot be replayed after.
    ///
    /// # Errors
    /// As [`CsrfTokens::rotate`].
    pub async fn on_authentication_change(&self, binding: &CsrfBinding) -> Result<()> {
        if self.rotator {
            self.rotate(binding).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[tokio::test]
    async fn tokens_expire_and_are_replaced() {
        let offset = Arc::new(AtomicU64::new(0));
        let clock = offset.clone();
        let settings = CsrfSettings::default(); // 30 minutes
        let tokens = CsrfTokens::new(&settings).with_clock(move || {
            SystemTime::UNIX_EPOCH
                + Duration::from_secs(1_700_000_000 + clock.load(Ordering::SeqCst))
        });
        let binding = CsrfBinding::anonymous("cookie");
        let first = tokens.generate(&binding, "", false).await.unwrap();
        offset.store(29 * 60, Ordering::SeqCst);
        assert!(tokens.verify(&binding, DEFAULT_KEY, &first).await);
        let swapped: String = first
            .chars()
            .map(|c| {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        assert!(
            !tokens.verify(&binding, DEFAULT_KEY, &swapped).await,
            "case-sensitive"
        );
        offset.store(30 * 60, Ordering::SeqCst);
        assert!(
            !tokens.verify(&binding, DEFAULT_KEY, &first).await,
            "expired at the timeout"
        );
        let second = tokens.generate(&binding, DEFAULT_KEY, false).await.unwrap();
        assert_ne!(first, second);
        let forced = tokens.generate(&binding, DEFAULT_KEY, true).await.unwrap();
        assert_ne!(second, forced);
        assert!(!tokens.verify(&binding, DEFAULT_KEY, &second).await);
    }

    #[tokio::test]
    async fn keys_are_separate_and_bounded() {
        let tokens = CsrfTokens::new(&CsrfSettings::default());
        let binding = CsrfBinding::user("7");
        let a = tokens.generate(&binding, "a", false).await.unwrap();
        assert!(!tokens.verify(&binding, "b", &a).await);
        assert!(tokens.generate(&binding, "bad key", false).await.is_err());
        for i in 0..MAX_KEYS_PER_BINDING {
            tokens
                .generate(&binding, &format!("k{i}"), false)
                .await
                .unwrap();
        }
        assert!(
            !tokens.verify(&binding, "a", &a).await,
            "the oldest key was dropped"
        );
        assert_ne!(CsrfBinding::user("7"), CsrfBinding::anonymous("7"));
        assert!(!format!("{binding:?}").contains('7'));
    }
}
