//! The settings tree: everything a deployment can change, modelled on cbsecurity's settings.
//!
//! Sections and keys mirror cbsecurity's, in snake_case (`customAuthHeader` →
//! `jwt.custom_auth_header`), with cbsecurity's defaults except where cbsecurity was unsafe
//! or wrong (each such default says so, and `docs/settings.md` lists them all). Every section
//! and sub-table may be partial: missing keys take their defaults. A misspelt key is an
//! error naming it, and [`Settings::validate`] checks what serde cannot (cross-field rules),
//! so a bad setting fails at start-up with the key's path — never at the first request.
//!
//! | section | type |
//! |---|---|
//! | `authentication` | [`AuthenticationSettings`] |
//! | `basic_auth` | [`BasicAuthSettings`] |
//! | `csrf` | [`CsrfSettings`] |
//! | `firewall` | [`FirewallSettings`] (rules: [`RulesSettings`], [`RuleSpec`]) |
//! | `visualizer` | [`VisualizerSettings`] |
//! | `security_headers` | [`SecurityHeadersSettings`] |
//! | `jwt` | [`JwtSettings`] |
//! | `gateway` | [`GatewaySettings`] |
//! | `users` | [`UsersSettings`] |
//! | `session` | [`SessionSettings`] (and `authentication.login_protection`: [`LoginProtectionSettings`]) |
//!
//! Durations take cbsecurity's whole minutes or literals such as `90s`, `15m`, `1d`
//! ([`duration`]). Secrets are held in [`Secret`] and never printed.
//!
//! # Environment overrides
//!
//! `PORTCULLIS_<SECTION>__<KEY>[__<SUBKEY>…]` sets any key (levels separated by a double
//! underscore, lower-cased), e.g. `PORTCULLIS_JWT__SECRET_KEY` or
//! `PORTCULLIS_JWT__TOKEN_STORAGE__DRIVER=redis`. Text keys take the value verbatim; other
//! values are read as TOML when they parse, else as text. The environment beats the file;
//! `JWT_SECRET` fills `jwt.secret_key` only when nothing else set it. See
//! [`Settings::load_with_env`].
//!
//! ```
//! use std::time::Duration;
//! use portcullis::settings::{Action, Settings, SettingsSource};
//!
//! let file = r#"
//!     [jwt]
//!     expiration = 30            # minutes, as in cbsecurity
//!     refresh_expiration = "14d"
//!     enable_refresh_tokens = true
//!
//!     [firewall]
//!     invalid_authentication_event = "/login"
//!     default_authorization_action = "block"
//!     rules = [ { secureList = "^/admin", roles = "admin", match = "url" } ]
//! "#;
//! let env = [("PORTCULLIS_JWT__SECRET_KEY".to_owned(), "from-the-environment".to_owned())];
//! let settings = Settings::load_with_env(SettingsSource::Toml(file.into()), env).unwrap();
//! assert_eq!(settings.jwt.expiration, Duration::from_secs(30 * 60));
//! assert_eq!(settings.firewall.default_authorization_action, Action::Block);
//! assert_eq!(settings.jwt.secret_key.expose(), b"from-the-environment");
//! assert!(!format!("{settings:?}").contains("from-the-environment"));
//! ```

mod auth;
mod csrf;
pub mod duration;
mod env;
mod firewall;
mod gateway;
mod headers;
mod jwt;
mod keyword;
mod list;
mod load;
mod properties;
mod rules;
mod secret;
mod session;
mod suggest;
mod users;
mod visualizer;

use serde::{Deserialize, Serialize};

pub use auth::{
    AuthenticationSettings, BasicAuthSettings, BasicAuthUser, HashAlgorithm, StoredPassword,
    PLAINTEXT_PREFIX,
};
pub use csrf::{CsrfSettings, CsrfStorage, FetchMetadataSettings};
pub use env::{JWT_SECRET, PREFIX as ENV_PREFIX};
pub use firewall::{Action, FirewallSettings, LogsSettings, ModuleFirewallSettings, ValidatorKind};
pub use gateway::{GatewaySettings, IdentityHeaderNames};
pub use headers::{
    ContentSecurityPolicySettings, ContentTypeOptionsSettings, CrossOriginOpenerPolicy,
    CrossOriginOpenerPolicySettings, CrossOriginResourcePolicy, CrossOriginResourcePolicySettings,
    FrameOptions, FrameOptionsSettings, HostHeaderValidationSettings, HstsSettings,
    IpValidationSettings, OriginAgentCluster, OriginAgentClusterSettings,
    PermissionsPolicySettings, ReferrerPolicy, ReferrerPolicySettings, SecureSslRedirectsSettings,
    SecurityHeadersSettings, XssMode, XssProtectionSettings,
};
pub use jwt::{
    Algorithm, JwtSettings, KeySource, RedisStorageProperties, SqlStorageProperties, StorageDriver,
    StorageMode, TokenStorageSettings, DEFAULT_ISSUER,
};
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
pub(crate) use list::is_sql_identifier;
pub use load::SettingsSource;
pub use properties::Properties;
pub use rules::{
    MatchTarget, ModuleRulesSettings, RuleProvider, RuleSource, RuleSpec, RulesSettings,
};
pub use secret::{Secret, REDACTED};
pub use session::{LoginProtectionSettings, SameSite, SessionSettings, HOST_PREFIX};
pub use users::{UsersDriver, UsersSettings};
pub use visualizer::VisualizerSettings;

use crate::{Error, Result};

/// The whole settings tree. `Settings::default()` is cbsecurity's defaults (with
/// portcullis's safer choices where documented).
///
/// Sections not listed here (the gateway) will be added as new fields; every section
/// defaults when absent, so existing files keep loading.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Settings {
    /// `authentication`: which services identify users. Default: the ones registered in
    /// code.
    pub authentication: AuthenticationSettings,
    /// `basic_auth`: HTTP Basic users kept in settings. Default: none, argon2id.
    pub basic_auth: BasicAuthSettings,
    /// `csrf`: CSRF tokens and the auto verifier. Default: verifier off.
    pub csrf: CsrfSettings,
    /// `firewall`: validator, default actions, rules, logs. Default: `auth` validator, no
    /// rules.
    pub firewall: FirewallSettings,
    /// `visualizer`: the security panel. Default: off.
    pub visualizer: VisualizerSettings,
    /// `security_headers`: response headers and host/IP/SSL checks. Default: on.
    pub security_headers: SecurityHeadersSettings,
    /// `jwt`: tokens, keys, refresh and storage. Default: HS512, 60 minutes.
    pub jwt: JwtSettings,
    /// `gateway`: the reverse proxy `portcullis serve` runs. Default: listen on
    /// `127.0.0.1:8080`, no upstream.
    pub gateway: GatewaySettings,
    /// `users`: the SQL user store. Default: SQLite `portcullis.db`, no registration.
    pub users: UsersSettings,
    /// `session`: the cookie session of browser clients. Default: `__Host-` cookie, 30
    /// minutes idle, 12 hours at most.
    pub session: SessionSettings,
}

impl Settings {
    /// Checks the rules serde cannot: cross-field requirements within and between sections.
    /// The loaders call it; call it yourself after changing settings in code.
    ///
    /// # Errors
    /// The first problem found, as [`Error::Config`] naming the key.
    pub fn validate(&self) -> Result<()> {
        self.authentication.validate()?;
        self.basic_auth.validate()?;
        self.csrf.validate()?;
        self.firewall.validate()?;
        self.visualizer.validate()?;
        self.security_headers.validate()?;
        self.jwt.validate()?;
        self.gateway.validate()?;
        self.users.validate()?;
        self.authentication
            .login_protection
            .validate(&self.jwt.token_storage)?;
        self.session.validate(&self.jwt.token_storage)?;
        self.csrf.validate_backend(&self.jwt.token_storage)?;
        if self.security_headers.trust_upstream && self.firewall.trusted_proxies.is_empty() {
            return Err(Error::config(
                "security_headers.trust_upstream",
                "forwarding headers are believed only from firewall.trusted_proxies, which is \
                 empty: list your proxies there, or set trust_upstream = false",
            ));
        }
        Ok(())
    }
}
