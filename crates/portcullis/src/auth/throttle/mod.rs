//! Login protection: failed logins counted per username and per client address, with
//! exponential back-off (`authentication.login_protection`; cbsecurity had none).
//!
//! 1. Usernames are counted normalised: trimmed, lower-cased, at most 200 characters.
//!    Addresses are counted as sent by the client behind trusted proxies; an IPv6 client by
//!    its /64, which one machine usually holds whole.
//! 2. Every failed login counts against its username and its address, in the backend
//!    `jwt.token_storage` selects (one atomic increment: several instances share the counts).
//!    A count is forgotten `window` after its last failure.
//! 3. From the `max_failures`-th failure of a username (`max_failures_per_ip`-th of an
//!    address), each further attempt must wait `base_delay × 2^(failures − max_failures)`,
//!    at most `max_delay`, after the last failure. An attempt made earlier is refused with
//!    [`Error::LoginLocked`] — 429 with `Retry-After` — without checking its password, and is
//!    not counted.
//! 4. A successful login clears its username's count (not its address's: one account of
//!    one's own must not reset a guessing campaign).
//! 5. Each failure emits [`SecurityEvent::LoginFailure`]; each failure that locks a username
//!    or an address emits [`SecurityEvent::LoginLockout`] with the time it ends. Passwords
//!    are never stored, logged or put into events.
//! 6. A backend that cannot be reached refuses the login (503): the protection fails closed.
//!
//! ```
//! use std::sync::Arc;
//! use portcullis::auth::{LoginThrottle, MemoryAttemptStore};
//! use portcullis::settings::LoginProtectionSettings;
//! use portcullis::Error;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let mut settings = LoginProtectionSettings::default();
//! settings.max_failures = 2;
//! let throttle = LoginThrottle::new(settings, Arc::new(MemoryAttemptStore::new()));
//! let ip = Some("203.0.113.9".parse().unwrap());
//!
//! for _ in 0..2 {
//!     throttle.check("Alice", ip).await?;
//!     throttle.record_failure("Alice", ip).await?;
//! }
//! // Two failures: the next attempt must wait one second.
//! match throttle.check(" alice ", ip).await {
//!     Err(Error::LoginLocked { retry_after }) => assert!(retry_after.as_secs() <= 1),
//!     other => panic!("{other:?}"),
//! }
//! # Ok(()) }
//! ```

mod store;

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "storage-memory")]
pub use self::store::MemoryAttemptStore;
#[cfg(feature = "storage-redis")]
pub use self::store::RedisAttemptStore;
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
pub use self::store::SqlAttemptStore;
pub use self::store::{AttemptStore, Attempts};

use crate::clock::{millis, system_time, Clock, SystemClock};
use crate::events::{EventBus, SecurityEvent};
use crate::settings::{LoginProtectionSettings, Settings};
use crate::{Error, Result};

/// The longest username counted; longer ones are counted by their first 200 characters.
pub const MAX_USERNAME_CHARS: usize = 200;

/// Which count locked a login out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockoutScope {
    /// The username's failures.
    Username,
    /// The client address's failures.
    Ip,
}

/// Counts failed logins and refuses attempts during back-off (see the module docs). Cheap
/// to clone; clones share the store.
#[derive(Clone)]
pub struct LoginThrottle {
    inner: Arc<Inner>,
}

struct Inner {
    settings: LoginProtectionSettings,
    store: Option<Arc<dyn AttemptStore>>,
    clock: Arc<dyn Clock>,
    events: EventBus,
}

/// One count a login attempt is checked against.
struct Counter {
    key: String,
    scope: LockoutScope,
    threshold: u32,
}

impl LoginThrottle {
    /// A throttle configured by `settings`, counting in `store` (with
    /// `settings.enabled = false`, one that lets every attempt through).
    pub fn new(settings: LoginProtectionSettings, store: Arc<dyn AttemptStore>) -> Self {
        let store = settings.enabled.then_some(store);
        LoginThrottle {
            inner: Arc::new(Inner {
                settings,
                store,
                clock: Arc::new(SystemClock),
                events: EventBus::new(),
            }),
        }
    }

    /// The throttle `settings.authentication.login_protection` configures, counting in the
    /// backend of `jwt.token_storage` ([`store_from_settings`](Self::store_from_settings));
    /// nothing is connected when the protection is disabled.
    ///
    /// # Errors
    /// As [`LoginThrottle::store_from_settings`].
    pub async fn from_settings(settings: &Settings) -> Result<Self> {
        let protection = settings.authentication.login_protection.clone();
        if !protection.enabled {
            return Ok(LoginThrottle {
                inner: Arc::new(Inner {
                    settings: protection,
                    store: None,
                    clock: Arc::new(SystemClock),
                    events: EventBus::new(),
                }),
            });
        }
        let store = Self::store_from_settings(settings).await?;
        Ok(LoginThrottle::new(protection, store))
    }

    /// The counter store on the backend `jwt.token_storage.driver` selects:
    /// [`MemoryAttemptStore`], [`SqlAttemptStore`] on table
    /// `authentication.login_protection.table`, or [`RedisAttemptStore`] under its
    /// `key_prefix`.
    ///
    /// # Errors
    /// [`Error::Config`] for a custom driver (give your own store to
    /// [`LoginThrottle::new`]), a driver not compiled in, or bad properties;
    /// [`Error::Unavailable`] when the backend cannot be reached.
    pub async fn store_from_settings(settings: &Settings) -> Result<Arc<dyn AttemptStore>> {
        store::from_settings(settings).await
    }

    /// Reads the time from `clock` (tests: a [`ManualClock`](crate::clock::ManualClock)).
    pub fn clock(self, clock: Arc<dyn Clock>) -> Self {
        self.rebuild(|inner| inner.clock = clock)
    }

    /// Announces failures and lockouts on `events`.
    pub fn events(self, events: EventBus) -> Self {
        self.rebuild(|inner| inner.events = events)
    }

    fn rebuild(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Inner {
            settings: self.inner.settings.clone(),
            store: self.inner.store.clone(),
            clock: self.inner.clock.clone(),
            events: self.inner.events.clone(),
        };
        change(&mut inner);
        LoginThrottle {
            inner: Arc::new(inner),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &LoginProtectionSettings {
        &self.inner.settings
    }

    /// The store failures are counted in; `None` when the protection is disabled.
    pub fn store(&self) -> Option<&Arc<dyn AttemptStore>> {
        self.inner.store.as_ref()
    }

    /// Refuses an attempt for `username` from `ip` during back-off.
    ///
    /// # Errors
    /// [`Error::LoginLocked`] with the time left; [`Error::Unavailable`] when the store
    /// cannot answer.
    pub async fn check(&self, username: &str, ip: Option<IpAddr>) -> Result<()> {
        let Some(store) = &self.inner.store else {
            return Ok(());
        };
        let now = self.inner.clock.now_ms();
        let mut until = None;
        for counter in self.counters(&normalise(username), ip) {
            if let Some(attempts) = store.get(&counter.key, now).await? {
                until = until.max(self.locked_until(attempts, counter.threshold));
            }
        }
        match until {
            Some(until) if until > now => Err(Error::LoginLocked {
                retry_after: Duration::from_millis(u64::try_from(until - now).unwrap_or(0)),
            }),
            _ => Ok(()),
        }
    }

    /// Counts a failed login of `username` from `ip`, announcing it and any lockout it
    /// causes.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the store cannot count.
    pub async fn record_failure(&self, username: &str, ip: Option<IpAddr>) -> Result<()> {
        let Some(store) = &self.inner.store else {
            return Ok(());
        };
        let settings = &self.inner.settings;
        let now = self.inner.clock.now_ms();
        let keep_until = now.saturating_add(millis(settings.window.max(settings.max_delay)));
        let username = normalise(username);
        let events = &self.inner.events;
        for counter in self.counters(&username, ip) {
            let failures = store.record_failure(&counter.key, now, keep_until).await?;
            let attempts = Attempts {
                failures,
                last_failure: now,
            };
            if counter.scope == LockoutScope::Username && !events.is_empty() {
                events.emit(SecurityEvent::LoginFailure {
                    username: username.clone(),
                    ip,
                    failures,
                });
            }
            let Some(until) = self.locked_until(attempts, counter.threshold) else {
                continue;
            };
            tracing::warn!(
                username = %username,
                ip = ?ip,
                by = ?counter.scope,
                failures,
                "login locked after repeated failures"
            );
            if !events.is_empty() {
                events.emit(SecurityEvent::LoginLockout {
                    username: username.clone(),
                    ip,
                    by: counter.scope,
                    failures,
                    until: system_time(until),
                });
            }
        }
        Ok(())
    }

    /// Clears the count of `username` after a successful login (the address's count stays).
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the store cannot be reached.
    pub async fn record_success(&self, username: &str) -> Result<()> {
        let Some(store) = &self.inner.store else {
            return Ok(());
        };
        store.reset(&username_key(&normalise(username))).await
    }

    /// Runs `login` — typically [`AuthService::authenticate`](super::AuthService::authenticate)
    /// — for `username` from `ip` under the throttle: refused during back-off, its
    /// [`Error::InvalidCredentials`] counted, its success clearing the username's count.
    ///
    /// # Errors
    /// [`Error::LoginLocked`] during back-off, `login`'s error, or [`Error::Unavailable`]
    /// when the store cannot be reached.
    pub async fn attempt<T>(
        &self,
        username: &str,
        ip: Option<IpAddr>,
        login: impl Future<Output = Result<T>> + Send,
    ) -> Result<T> {
        self.check(username, ip).await?;
        match login.await {
            Ok(value) => {
                self.record_success(username).await?;
                Ok(value)
            }
            Err(Error::InvalidCredentials) => {
                self.record_failure(username, ip).await?;
                Err(Error::InvalidCredentials)
            }
            Err(other) => Err(other),
        }
    }

    /// The counts an attempt is checked against.
    fn counters(&self, username: &str, ip: Option<IpAddr>) -> Vec<Counter> {
        let settings = &self.inner.settings;
        let mut counters = vec![Counter {
            key: username_key(username),
            scope: LockoutScope::Username,
            threshold: settings.max_failures,
        }];
        if let (Some(ip), 1..) = (ip, settings.max_failures_per_ip) {
            counters.push(Counter {
                key: ip_key(ip),
                scope: LockoutScope::Ip,
                threshold: settings.max_failures_per_ip,
            });
        }
        counters
    }

    /// When attempts may resume after `attempts`, if they locked (Unix ms).
    fn locked_until(&self, attempts: Attempts, threshold: u32) -> Option<i64> {
        let beyond = attempts.failures.checked_sub(u64::from(threshold))?;
        let settings = &self.inner.settings;
        let factor = 1_i64 << beyond.min(62);
        let delay = millis(settings.base_delay)
            .saturating_mul(factor)
            .min(millis(settings.max_delay));
        Some(attempts.last_failure.saturating_add(delay))
    }
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("settings", &self.inner.settings)
            .field("store", &self.inner.store.as_ref().map(|s| s.name()))
            .finish_non_exhaustive()
    }
}

/// `username` as counted: trimmed, lower case, at most [`MAX_USERNAME_CHARS`].
pub fn normalise(username: &str) -> String {
    username
        .trim()
        .chars()
        .flat_map(char::to_lowercase)
        .take(MAX_USERNAME_CHARS)
        .collect()
}

fn username_key(normalised: &str) -> String {
    format!("user:{normalised}")
}

/// The key of an address: IPv4 as is, IPv6 by its /64.
fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = v6.segments();
                format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_addresses_are_normalised() {
        assert_eq!(normalise("  Alice "), "alice");
        assert_eq!(normalise("ÉLODIE"), "élodie");
        assert_eq!(
            normalise(&"x".repeat(500)).chars().count(),
            MAX_USERNAME_CHARS
        );
        assert_eq!(ip_key("203.0.113.9".parse().unwrap()), "ip:203.0.113.9");
        assert_eq!(
            ip_key("::ffff:203.0.113.9".parse().unwrap()),
            "ip:203.0.113.9"
        );
        assert_eq!(
            ip_key("2001:db8:1:2:aaaa::1".parse().unwrap()),
            ip_key("2001:db8:1:2:bbbb::9".parse().unwrap())
        );
        assert_eq!(
            ip_key("2001:db8:1:2::1".parse().unwrap()),
            "ip:2001:db8:1:2::/64"
        );
    }

    #[cfg(feature = "storage-memory")]
    #[test]
    fn delays_double_from_the_threshold_up_to_the_cap() {
        let settings = LoginProtectionSettings {
            max_failures: 3,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
            ..LoginProtectionSettings::default()
        };
        let throttle = LoginThrottle::new(settings, Arc::new(MemoryAttemptStore::new()));
        let delay = |failures| {
            throttle
                .locked_until(
                    Attempts {
                        failures,
                        last_failure: 1_000,
                    },
                    3,
                )
                .map(|until| until - 1_000)
        };
        assert_eq!(delay(2), None);
        assert_eq!(delay(3), Some(2_000));
        assert_eq!(delay(4), Some(4_000));
        assert_eq!(delay(7), Some(32_000));
        assert_eq!(delay(8), Some(60_000));
        assert_eq!(delay(u64::MAX), Some(60_000));
    }
}
