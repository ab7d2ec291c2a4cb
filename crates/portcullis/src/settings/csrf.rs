//! CSRF protection (`csrf`, spec §1.3 and §6). Unlike cbsecurity, where this block was
//! ignored in favour of cbcsrf's own settings (\[BUG\]), these settings are authoritative.
//!
//! ```
//! use std::time::Duration;
//! use portcullis::settings::Settings;
//!
//! let settings = Settings::from_toml_str(r#"
//!     [csrf]
//!     enable_auto_verifier = true
//!     verify_excludes = "^api\\., ^webhooks\\."
//!     rotation_timeout = "2h"
//!     fetch_metadata = { enabled = true, allowed_origins = ["https://app.example.com"] }
//! "#).unwrap();
//! assert_eq!(settings.csrf.verify_excludes, vec!["^api\\.", "^webhooks\\."]);
//! assert_eq!(settings.csrf.rotation_timeout, Duration::from_secs(7200));
//! assert!(settings.csrf.enable_auth_token_rotator);
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration;
use super::list;
use super::session::backend_names;
use super::TokenStorageSettings;
use crate::{Error, Result};

/// Fetch Metadata checks (portcullis addition): refuse state-changing cross-site requests
/// using the `Sec-Fetch-Site` header (and `Origin` when it is missing).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct FetchMetadataSettings {
    /// `enabled`. Default: `false`.
    pub enabled: bool,
    /// `allowed_origins`: other origins allowed to send state-changing requests, written
    /// `scheme://host[:port]`; comma string or array. Default: none (same origin only).
    #[serde(deserialize_with = "list::strings")]
    pub allowed_origins: Vec<String>,
}

/// The CSRF section (`csrf`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct CsrfSettings {
    /// `enable_auto_verifier`: verify a token on every request except GET, HEAD and OPTIONS.
    /// Default: `false` (then routes must verify explicitly).
    pub enable_auto_verifier: bool,
    /// `verify_excludes`: routes the auto verifier skips, as case-insensitive unanchored
    /// regular expressions; comma string or array. Default: none. A loose pattern exempts
    /// more than you meant: anchor with `^`.
    #[serde(deserialize_with = "list::strings")]
    pub verify_excludes: Vec<String>,
    /// `rotation_timeout`: token lifetime; minutes or a literal; `0` = never expires.
    /// Default: 30 minutes.
    #[serde(with = "duration::minutes")]
    pub rotation_timeout: Duration,
    /// `enable_endpoint`: serve `GET /portcullis/csrf/generate/{key}` (cbcsrf:
    /// `/cbcsrf/generate/{key}`) to authenticated users. Default: `false`.
    pub enable_endpoint: bool,
    /// `enable_auth_token_rotator`: discard the session's tokens at login and logout.
    /// Default: `true` (as cbsecurity; cbcsrf alone defaulted to `false`).
    pub enable_auth_token_rotator: bool,
    /// `fetch_metadata`: Fetch Metadata checks. Default: disabled.
    pub fetch_metadata: FetchMetadataSettings,
    /// `max_form_size`: the largest URL-encoded form body, in bytes, the auto verifier reads
    /// to find the `csrf` field (portcullis addition); larger bodies are refused with 413.
    /// Default: `2097152` (2 MiB, axum's default body limit).
    pub max_form_size: usize,
    /// `storage`: where tokens are kept (portcullis addition): `memory` (this process only:
    /// several instances need sticky sessions) or `shared` (the backend
    /// `jwt.token_storage.driver` selects, as sessions and login protection: SQL or Redis
    /// make tokens valid on every instance). Default: `memory`.
    pub storage: CsrfStorage,
    /// `table`: the tokens table (storage `shared`, driver `sql`), a plain SQL identifier in
    /// the token storage's `schema`. Default: `portcullis_csrf_tokens`.
    pub table: String,
    /// `key_prefix`: the prefix of token keys (storage `shared`, driver `redis`); neither it
    /// nor the token storage's `key_prefix` may start with the other. Default:
    /// `portcullis_csrf_`.
    pub key_prefix: String,
}

/// Where CSRF tokens are kept (`csrf.storage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CsrfStorage {
    /// In this process (a moka cache): no round trip, but each instance has its own tokens.
    #[default]
    Memory,
    /// In the backend `jwt.token_storage.driver` selects, shared by every instance on it.
    Shared,
}

impl Default for CsrfSettings {
    fn default() -> Self {
        CsrfSettings {
            enable_auto_verifier: false,
            verify_excludes: Vec::new(),
            rotation_timeout: Duration::from_secs(30 * 60),
            enable_endpoint: false,
            enable_auth_token_rotator: true,
            fetch_metadata: FetchMetadataSettings::default(),
            max_form_size: 2 * 1024 * 1024,
            storage: CsrfStorage::Memory,
            table: "portcullis_csrf_tokens".to_owned(),
            key_prefix: "portcullis_csrf_".to_owned(),
        }
    }
}

/// `true` if `origin` is `http(s)://host[:port]` with nothing after the authority.
fn is_origin(origin: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !authority.is_empty()
        && !authority.contains(['/', '?', '#', '@', ' '])
        && list::is_header_value(authority)
}

impl CsrfSettings {
    /// Checks `table` and `key_prefix` against the token storage whose backend a `shared`
    /// store uses; errors name the offending key.
    pub(crate) fn validate_backend(&self, storage: &TokenStorageSettings) -> Result<()> {
        match self.storage {
            CsrfStorage::Memory => Ok(()),
            CsrfStorage::Shared => backend_names("csrf", &self.table, &self.key_prefix, storage),
        }
    }

    /// Checks the section; errors name the offending key.
    pub(crate) fn validate(&self) -> Result<()> {
        for pattern in &self.verify_excludes {
            if let Err(error) = regex::RegexBuilder::new(pattern)
                .case_insensitive(true)
                .build()
            {
                return Err(Error::config(
                    "csrf.verify_excludes",
                    format!("{pattern:?} is not a regular expression: {error}"),
                ));
            }
        }
        if self.max_form_size == 0 {
            return Err(Error::config(
                "csrf.max_form_size",
                "0 would refuse every form: give a size in bytes",
            ));
        }
        for origin in &self.fetch_metadata.allowed_origins {
            if !is_origin(origin) {
                return Err(Error::config(
                    "csrf.fetch_metadata.allowed_origins",
                    format!(
                        "{origin:?} is not an origin (write scheme://host[:port], without a \
                         path or trailing slash)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert!(is_origin("https://app.example.com"));
        assert!(is_origin("http://localhost:8080"));
        assert!(!is_origin("https://app.example.com/"));
        assert!(!is_origin("app.example.com"));
        assert!(!is_origin("ftp://x"));
        let csrf: CsrfSettings =
            toml::from_str("fetch_metadata = { allowed_origins = 'https://a.example/x' }").unwrap();
        let err = csrf.validate().unwrap_err();
        assert!(
            matches!(err, Error::Config { ref key, .. } if key == "csrf.fetch_metadata.allowed_origins")
        );
    }

    #[test]
    fn zero_means_never() {
        let csrf: CsrfSettings = toml::from_str("rotation_timeout = 0").unwrap();
        assert!(csrf.rotation_timeout.is_zero());
    }
}
