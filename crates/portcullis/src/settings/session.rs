//! Cookie sessions (`session`) and login protection (`authentication.login_protection`).
//!
//! Both keep their state in the backend `jwt.token_storage.driver` selects (memory, SQL or
//! Redis), on the same connection settings (`jwt.token_storage.properties`), in a table or
//! under a key prefix of their own.
//!
//! ```
//! use std::time::Duration;
//! use portcullis::settings::{SameSite, Settings};
//!
//! let settings = Settings::from_toml_str(r#"
//!     [session]
//!     idle_timeout = 20              # minutes, as every duration
//!     same_site = "strict"
//!
//!     [authentication.login_protection]
//!     max_failures = 3
//!     base_delay = "2s"
//! "#).unwrap();
//! assert_eq!(settings.session.idle_timeout, Duration::from_secs(20 * 60));
//! assert_eq!(settings.session.same_site, SameSite::Strict);
//! assert_eq!(settings.session.effective_cookie_name(), "__Host-portcullis_session");
//! let protection = &settings.authentication.login_protection;
//! assert_eq!((protection.max_failures, protection.max_failures_per_ip), (3, 20));
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration;
use super::keyword::keyword_enum;
use super::list;
use super::TokenStorageSettings;
use crate::{Error, Result};

keyword_enum! {
    /// The session cookie's `SameSite` attribute.
    #[derive(Default)]
    pub enum SameSite ("a SameSite value") {
        /// `Lax`: sent on top-level navigations from other sites, not on their sub-requests
        /// or forms posted from them. The default.
        #[default]
        Lax = "lax",
        /// `Strict`: never sent on requests started by another site.
        Strict = "strict",
        /// `None`: sent on every request; needs `secure`.
        None = "none",
    }
}

impl SameSite {
    /// The attribute's value as written in `Set-Cookie`.
    pub const fn attribute(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

/// The prefix browsers reserve for cookies that are `Secure`, `Path=/` and host-only.
pub const HOST_PREFIX: &str = "__Host-";

/// The `session` section: the cookie session of browser clients (cbauth's session storage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct SessionSettings {
    /// `cookie_name`: the session cookie's name, without prefix. Default:
    /// `portcullis_session`.
    pub cookie_name: String,
    /// `secure`: mark the cookie `Secure` (sent over HTTPS only) and prefix its name with
    /// `__Host-`, so that no sub-domain or plain-HTTP page can set it. Default: `true`; turn it
    /// off only for plain-HTTP development.
    pub secure: bool,
    /// `http_only`: hide the cookie from scripts. Default: `true`.
    pub http_only: bool,
    /// `same_site`: `lax`, `strict` or `none` (needs `secure`). Default: `lax`.
    pub same_site: SameSite,
    /// `idle_timeout`: a session unused for this long ends. Default: 30 minutes.
    #[serde(with = "duration::minutes")]
    pub idle_timeout: Duration,
    /// `absolute_timeout`: a session ends this long after it began, however busy. Default:
    /// 12 hours.
    #[serde(with = "duration::minutes")]
    pub absolute_timeout: Duration,
    /// `table`: the sessions table (driver `sql`), a plain SQL identifier in the token
    /// storage's `schema`. Default: `portcullis_sessions`.
    pub table: String,
    /// `key_prefix`: the prefix of session keys (driver `redis`); neither it nor the token
    /// storage's `key_prefix` may start with the other. Default: `portcullis_session_`.
    pub key_prefix: String,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            cookie_name: "portcullis_session".to_owned(),
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 3600),
            table: "portcullis_sessions".to_owned(),
            key_prefix: "portcullis_session_".to_owned(),
        }
    }
}

impl SessionSettings {
    /// The cookie's name as sent: `cookie_name`, prefixed with `__Host-` when `secure`.
    pub fn effective_cookie_name(&self) -> String {
        if self.secure {
            format!("{HOST_PREFIX}{}", self.cookie_name)
        } else {
            self.cookie_name.clone()
        }
    }

    /// Checks the section against the token storage whose backend it shares; errors name
    /// the offending key.
    pub(crate) fn validate(&self, storage: &TokenStorageSettings) -> Result<()> {
        const KEY: &str = "session";
        let name = &self.cookie_name;
        if name.is_empty() || !list::is_http_token(name) {
            return Err(Error::config(
                format!("{KEY}.cookie_name"),
                format!("{name:?} is not a cookie name (letters, digits and !#$%&'*+-.^_`|~)"),
            ));
        }
        if name.starts_with("__") {
            return Err(Error::config(
                format!("{KEY}.cookie_name"),
                "leave out the __Host-/__Secure- prefix: `secure = true` adds __Host-",
            ));
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(Error::config(
                format!("{KEY}.same_site"),
                "browsers refuse SameSite=None without Secure: set secure = true",
            ));
        }
        positive(&format!("{KEY}.idle_timeout"), self.idle_timeout)?;
        if self.absolute_timeout < self.idle_timeout {
            return Err(Error::config(
                format!("{KEY}.absolute_timeout"),
                "shorter than idle_timeout: a session could never be idle that long",
            ));
        }
        backend_names(KEY, &self.table, &self.key_prefix, storage)
    }
}

/// The `authentication.login_protection` table: failed logins counted per username and per
/// client address, with exponential back-off (cbsecurity had none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct LoginProtectionSettings {
    /// `enabled`: count failures and refuse attempts while locked. Default: `true`.
    pub enabled: bool,
    /// `max_failures`: failures of one username before each further attempt waits.
    /// Default: `5`.
    pub max_failures: u32,
    /// `max_failures_per_ip`: failures from one client address (an IPv6 client's /64)
    /// before each further attempt from it waits; `0` = do not count by address (behind a
    /// proxy that is not in `firewall.trusted_proxies`, every client has the proxy's
    /// address). Default: `20`.
    pub max_failures_per_ip: u32,
    /// `window`: failures are forgotten this long after the last one. Default: 15 minutes.
    #[serde(with = "duration::minutes")]
    pub window: Duration,
    /// `base_delay`: the wait after the `max_failures`-th failure; it doubles with each
    /// further failure. A unit is required. Default: `1s`.
    #[serde(with = "duration::literal")]
    pub base_delay: Duration,
    /// `max_delay`: the longest wait. Default: 15 minutes.
    #[serde(with = "duration::minutes")]
    pub max_delay: Duration,
    /// `table`: the counters table (driver `sql`), a plain SQL identifier in the token
    /// storage's `schema`. Default: `portcullis_login_failures`.
    pub table: String,
    /// `key_prefix`: the prefix of counter keys (driver `redis`); neither it nor the token
    /// storage's `key_prefix` may start with the other. Default: `portcullis_login_`.
    pub key_prefix: String,
}

impl Default for LoginProtectionSettings {
    fn default() -> Self {
        LoginProtectionSettings {
            enabled: true,
            max_failures: 5,
            max_failures_per_ip: 20,
            window: Duration::from_secs(15 * 60),
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            table: "portcullis_login_failures".to_owned(),
            key_prefix: "portcullis_login_".to_owned(),
        }
    }
}

impl LoginProtectionSettings {
    /// Checks the table against the token storage whose backend it shares; errors name the
    /// offending key.
    pub(crate) fn validate(&self, storage: &TokenStorageSettings) -> Result<()> {
        const KEY: &str = "authentication.login_protection";
        if self.max_failures == 0 {
            return Err(Error::config(
                format!("{KEY}.max_failures"),
                "must be at least 1 (turn the protection off with enabled = false)",
            ));
        }
        positive(&format!("{KEY}.window"), self.window)?;
        positive(&format!("{KEY}.base_delay"), self.base_delay)?;
        if self.max_delay < self.base_delay {
            return Err(Error::config(
                format!("{KEY}.max_delay"),
                "shorter than base_delay",
            ));
        }
        backend_names(KEY, &self.table, &self.key_prefix, storage)
    }
}

fn positive(key: &str, value: Duration) -> Result<()> {
    if value.is_zero() {
        return Err(Error::config(key, "must be longer than zero"));
    }
    Ok(())
}

/// The table and key prefix of a section that shares the token storage's backend.
pub(super) fn backend_names(
    section: &str,
    table: &str,
    prefix: &str,
    storage: &TokenStorageSettings,
) -> Result<()> {
    if !list::is_sql_identifier(table) {
        return Err(Error::config(
            format!("{section}.table"),
            format!("{table:?} is not a plain SQL identifier (letters, digits, _)"),
        ));
    }
    let tokens = storage.key_prefix.as_str();
    if prefix.is_empty() || prefix.starts_with(tokens) || tokens.starts_with(prefix) {
        return Err(Error::config(
            format!("{section}.key_prefix"),
            format!(
                "{prefix:?} overlaps jwt.token_storage.key_prefix {tokens:?}: give a \
                 non-empty prefix of which neither starts with the other"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    fn error_key(text: &str) -> String {
        match Settings::from_toml_str(text) {
            Err(Error::Config { key, .. }) => key,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_valid_and_documented() {
        let settings = Settings::default();
        assert!(settings
            .session
            .validate(&settings.jwt.token_storage)
            .is_ok());
        let session = SessionSettings {
            secure: false,
            ..SessionSettings::default()
        };
        assert_eq!(session.effective_cookie_name(), "portcullis_session");
        assert_eq!(SameSite::Strict.attribute(), "Strict");
    }

    #[test]
    fn the_environment_reaches_both_tables() {
        use crate::settings::SettingsSource;
        let env = [
            ("PORTCULLIS_SESSION__IDLE_TIMEOUT", "20"),
            ("PORTCULLIS_SESSION__KEY_PREFIX", "123"),
            (
                "PORTCULLIS_AUTHENTICATION__LOGIN_PROTECTION__MAX_FAILURES",
                "3",
            ),
            (
                "PORTCULLIS_AUTHENTICATION__LOGIN_PROTECTION__ENABLED",
                "off",
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let settings = Settings::load_with_env(SettingsSource::Defaults, env).unwrap();
        assert_eq!(settings.session.idle_timeout, Duration::from_secs(20 * 60));
        assert_eq!(settings.session.key_prefix, "123");
        let protection = &settings.authentication.login_protection;
        assert_eq!((protection.max_failures, protection.enabled), (3, false));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("[session]\ncookie_name = 'a b'", "session.cookie_name"),
            ("[session]\ncookie_name = '__Host-x'", "session.cookie_name"),
            (
                "[session]\nsame_site = 'none'\nsecure = false",
                "session.same_site",
            ),
            ("[session]\nidle_timeout = 0", "session.idle_timeout"),
            (
                "[session]\nabsolute_timeout = '10m'\nidle_timeout = '20m'",
                "session.absolute_timeout",
            ),
            ("[session]\ntable = 'a-b'", "session.table"),
            ("[session]\nkey_prefix = 'cbjwt_s'", "session.key_prefix"),
            (
                "[authentication.login_protection]\nmax_failures = 0",
                "authentication.login_protection.max_failures",
            ),
            (
                "[authentication.login_protection]\nbase_delay = '0s'",
                "authentication.login_protection.base_delay",
            ),
            (
                "[authentication.login_protection]\nbase_delay = 5",
                "authentication.login_protection.base_delay",
            ),
            (
                "[authentication.login_protection]\nmax_delay = '1s'\nbase_delay = '2s'",
                "authentication.login_protection.max_delay",
            ),
            (
                "[authentication.login_protection]\nkey_prefix = ''",
                "authentication.login_protection.key_prefix",
            ),
        ] {
            assert_eq!(error_key(text), key, "{text}");
        }
    }
}
