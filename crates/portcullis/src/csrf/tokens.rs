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
//! Tokens are kept in process memory (moka): several instances behind a load balancer need
//! sticky sessions, or the Fetch Metadata checks instead.
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
//! tokens.rotate(&alice).await;
//! assert!(!tokens.verify(&alice, "default", &token).await);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest;
use base64::Engine as _;
use moka::future::Cache;

use crate::session::SessionId;
use crate::settings::CsrfSettings;
use crate::{Error, Result};

/// The key the auto verifier checks, and the key of an empty name (as cbcsrf).
pub const DEFAULT_KEY: &str = "default";

/// The longest key name.
pub const MAX_KEY_LENGTH: usize = 64;

/// How many named tokens one binding may hold; making one more drops the oldest.
pub const MAX_KEYS_PER_BINDING: usize = 32;

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

#[derive(Clone)]
struct Entry {
    token: String,
    created: SystemTime,
    expires: Option<SystemTime>,
}

impl Entry {
    fn is_live(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|expires| now < expires)
    }
}

type Bucket = Arc<Mutex<HashMap<String, Entry>>>;
type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The token store and its rules (see the module docs). Cheap to clone; clones share the
/// tokens.
#[derive(Clone)]
pub struct CsrfTokens {
    buckets: Cache<Arc<str>, Bucket>,
    timeout: Option<Duration>,
    rotator: bool,
    clock: Clock,
}

impl fmt::Debug for CsrfTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfTokens")
            .field("bindings", &self.buckets.entry_count())
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

impl CsrfTokens {
    /// A store keeping up to 100 000 bindings, with `settings`' `rotation_timeout` and
    /// `enable_auth_token_rotator`.
    pub fn new(settings: &CsrfSettings) -> Self {
        CsrfTokens::with_capacity(settings, 100_000)
    }

    /// A store keeping up to `bindings` bindings (the least recently used are dropped).
    pub fn with_capacity(settings: &CsrfSettings, bindings: u64) -> Self {
        let timeout = (!settings.rotation_timeout.is_zero()).then_some(settings.rotation_timeout);
        let buckets = Cache::builder()
            .max_capacity(bindings)
            .time_to_idle(timeout.unwrap_or(NEVER_EXPIRING_IDLE))
            .build();
        CsrfTokens {
            buckets,
            timeout,
            rotator: settings.enable_auth_token_rotator,
            clock: Arc::new(SystemTime::now),
        }
    }

    /// Reads the time from `clock` instead of the system clock (for tests).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    async fn bucket(&self, binding: &CsrfBinding) -> Bucket {
        self.buckets
            .get_with(binding.digest.clone(), async { Bucket::default() })
            .await
    }

    /// The live token of `key` for `binding`, made anew when `force_new`, absent or expired.
    /// An empty key is [`DEFAULT_KEY`].
    ///
    /// # Errors
    /// [`Error::Config`] for a key that [`is_valid_key`] refuses; [`Error::Unavailable`] if
    /// the system random generator fails.
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
        let now = (self.clock)();
        let bucket = self.bucket(binding).await;
        let mut entries = bucket.lock().unwrap_or_else(|e| e.into_inner());
        if !force_new {
            if let Some(entry) = entries.get(key).filter(|e| e.is_live(now)) {
                return Ok(entry.token.clone());
            }
        }
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
        entries.insert(
            key.to_owned(),
            Entry {
                token: token.clone(),
                created: now,
                expires: self.timeout.and_then(|timeout| now.checked_add(timeout)),
            },
        );
        Ok(token)
    }

    /// Whether `token` is the live token of `key` for `binding` (constant-time comparison).
    /// An empty key is [`DEFAULT_KEY`].
    pub async fn verify(&self, binding: &CsrfBinding, key: &str, token: &str) -> bool {
        let key = if key.is_empty() { DEFAULT_KEY } else { key };
        let Some(bucket) = self.buckets.get(&binding.digest).await else {
            return false;
        };
        let now = (self.clock)();
        let entries = bucket.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).is_some_and(|entry| {
            entry.is_live(now)
                && verify_slices_are_equal(entry.token.as_bytes(), token.as_bytes()).is_ok()
        })
    }

    /// Discards every token of `binding` (cbcsrf's `rotate()`).
    pub async fn rotate(&self, binding: &CsrfBinding) {
        self.buckets.invalidate(&binding.digest).await;
    }

    /// Call at login and logout: rotates `binding`'s tokens when `enable_auth_token_rotator`
    /// is on (the default), so a token issued before cannot be replayed after.
    pub async fn on_authentication_change(&self, binding: &CsrfBinding) {
        if self.rotator {
            self.rotate(binding).await;
        }
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
