//! The JWT section (`jwt`, spec §1.7, plus portcullis keys) and its token storage.
//!
//! ```
//! use std::time::Duration;
//! use portcullis::settings::{Algorithm, Settings, StorageDriver};
//!
//! let settings = Settings::from_toml_str(r#"
//!     [jwt]
//!     secret_key = "a-long-random-secret-of-at-least-64-bytes-for-hs512-aaaaaaaaaaaaaaaaaaa"
//!     algorithm = "hs256"
//!     expiration = "15m"
//!     token_storage = { driver = "cachebox" }
//! "#).unwrap();
//! let jwt = &settings.jwt;
//! assert_eq!(jwt.algorithm, Algorithm::HS256);
//! assert_eq!(jwt.expiration, Duration::from_secs(900));
//! assert_eq!(jwt.token_storage.driver, StorageDriver::Memory);
//! assert_eq!(jwt.effective_issuer(), "portcullis");
//! assert!(!format!("{jwt:?}").contains("a-long-random-secret"));
//! ```

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::duration;
use super::keyword::keyword_enum;
use super::list;
use super::load::path_error;
use super::properties::Properties;
use super::secret::{Secret, REDACTED};
pub use crate::jwt::Algorithm;
use crate::{Error, Result};

/// Where a signing or verification key comes from.
///
/// Written as one string: inline PEM if it starts with `-----BEGIN`, inline JWK JSON if it
/// starts with `{` (a JWK Set `{"keys": [...]}` only in `verification_keys`), otherwise a
/// file path. Inline material is shown as `"<redacted>"` by `Debug` and serialization.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum KeySource {
    /// A file holding PEM, DER or JWK JSON, read when the JWT service starts. A relative
    /// path is relative to the process's working directory.
    File(PathBuf),
    /// PEM text given inline.
    Pem(Secret),
    /// A JWK, or a JWK Set, given inline.
    Jwk(Value),
}

impl KeySource {
    /// Reads a key source from its settings string.
    ///
    /// # Errors
    /// A message when the text is empty, the redaction placeholder, or JSON that is not a
    /// JWK (an object with `kty`) or a JWK Set (an object with a `keys` array).
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("empty: give a file path, inline PEM or inline JWK JSON".to_owned());
        }
        if trimmed == REDACTED {
            return Err(
                "\"<redacted>\" is the placeholder printed in place of a key, not a key".to_owned(),
            );
        }
        if trimmed.starts_with("-----BEGIN") {
            return Ok(KeySource::Pem(Secret::new(trimmed)));
        }
        if trimmed.starts_with('{') {
            let value: Value = serde_json::from_str(trimmed)
                .map_err(|e| format!("inline JWK is not valid JSON: {e}"))?;
            let is_jwk = value.get("kty").is_some_and(Value::is_string);
            let is_set = value.get("keys").is_some_and(Value::is_array);
            if !is_jwk && !is_set {
                return Err(
                    "inline JSON is neither a JWK (with \"kty\") nor a JWK Set (with \"keys\")"
                        .to_owned(),
                );
            }
            return Ok(KeySource::Jwk(value));
        }
        Ok(KeySource::File(PathBuf::from(trimmed)))
    }

    /// `true` for an inline JWK Set.
    pub fn is_jwk_set(&self) -> bool {
        matches!(self, KeySource::Jwk(value) if value.get("keys").is_some())
    }

    /// The key material: the file's exact bytes, or the inline PEM / JWK JSON.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file when it cannot be read.
    pub fn bytes(&self) -> Result<Secret> {
        match self {
            KeySource::File(path) => {
                std::fs::read(path)
                    .map(Secret::from_bytes)
                    .map_err(|source| Error::Io {
                        path: path.display().to_string(),
                        source,
                    })
            }
            KeySource::Pem(pem) => Ok(pem.clone()),
            KeySource::Jwk(value) => Ok(Secret::from_bytes(value.to_string())),
        }
    }
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::File(path) => f.debug_tuple("File").field(path).finish(),
            KeySource::Pem(_) => f.debug_tuple("Pem").field(&REDACTED).finish(),
            KeySource::Jwk(_) => f.debug_tuple("Jwk").field(&REDACTED).finish(),
        }
    }
}

impl Serialize for KeySource {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            KeySource::File(path) => path.serialize(s),
            KeySource::Pem(_) | KeySource::Jwk(_) => s.serialize_str(REDACTED),
        }
    }
}

impl<'de> Deserialize<'de> for KeySource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        KeySource::parse(&text).map_err(de::Error::custom)
    }
}

/// `verification_keys`: one key source or an array of them.
fn key_sources<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<KeySource>, D::Error> {
    struct Sources;
    impl<'de> Visitor<'de> for Sources {
        type Value = Vec<KeySource>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a key (path, PEM or JWK) or an array of keys")
        }
        fn visit_str<E: de::Error>(self, text: &str) -> std::result::Result<Self::Value, E> {
            KeySource::parse(text).map(|k| vec![k]).map_err(E::custom)
        }
        fn visit_seq<A: SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut keys = Vec::new();
            while let Some(key) = seq.next_element::<KeySource>()? {
                keys.push(key);
            }
            Ok(keys)
        }
    }
    d.deserialize_any(Sources)
}

/// Which token storage driver keeps issued (or revoked) token ids.
///
/// cbsecurity's `cachebox` is read as `memory` and `db` as `sql`; any other non-empty name is
/// a custom driver registered in code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum StorageDriver {
    /// In-process memory (cbsecurity `cachebox`). The default; not shared between instances.
    #[default]
    Memory,
    /// A SQL database (SQLite by default; PostgreSQL) (cbsecurity `db`).
    Sql,
    /// Redis.
    Redis,
    /// A driver registered in code under this name.
    Custom(String),
}

impl StorageDriver {
    /// Reads a driver name (case-insensitive for the built-in ones); `None` if blank.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim();
        Some(match name.to_ascii_lowercase().as_str() {
            "" => return None,
            "memory" | "cachebox" => StorageDriver::Memory,
            "sql" | "db" => StorageDriver::Sql,
            "redis" => StorageDriver::Redis,
            _ => StorageDriver::Custom(name.to_owned()),
        })
    }

    /// The canonical name: `memory`, `sql`, `redis` or the custom name.
    pub fn as_str(&self) -> &str {
        match self {
            StorageDriver::Memory => "memory",
            StorageDriver::Sql => "sql",
            StorageDriver::Redis => "redis",
            StorageDriver::Custom(name) => name,
        }
    }
}

impl Serialize for StorageDriver {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StorageDriver {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        StorageDriver::parse(&name).ok_or_else(|| {
            de::Error::custom("empty: name a driver (memory, sql, redis or a custom name)")
        })
    }
}

keyword_enum! {
    /// What token storage records.
    #[derive(Default)]
    pub enum StorageMode ("a token storage mode") {
        /// Every issued token is recorded; a token not in storage is refused (cbsecurity's
        /// behaviour). Revocation = deletion; emptying storage logs everybody out. The default.
        #[default]
        Allowlist = "allowlist" | "allow-list" | "allow_list",
        /// Only revoked tokens are recorded; a token in storage is refused. Losing storage
        /// un-revokes tokens until they expire.
        Denylist = "denylist" | "deny-list" | "deny_list",
    }
}

/// Token storage (`jwt.token_storage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct TokenStorageSettings {
    /// `enabled`: check every token against storage. Default: `true`. Disabling it makes
    /// logout and revocation impossible before a token expires.
    pub enabled: bool,
    /// `key_prefix`: prefix of every storage key (memory, redis). Default: `cbjwt_`.
    pub key_prefix: String,
    /// `driver`: `memory` (cbsecurity `cachebox`), `sql` (`db`), `redis`, or a custom
    /// driver's name. Default: `memory`.
    pub driver: StorageDriver,
    /// `mode`: `allowlist` or `denylist`. Default: `allowlist`.
    pub mode: StorageMode,
    /// `properties`: driver settings. sql: `url` (default `sqlite://portcullis.db`),
    /// `table` (`cbsecurity_tokens`), `schema` (`""`), `auto_create` (`true`),
    /// `rotation_days` (`7`), `rotation_frequency` (`60` minutes); redis: `url` (default
    /// `redis://127.0.0.1:6379`); memory: `cache_name` (accepted from cbsecurity, ignored).
    /// cbsecurity's camelCase spellings are accepted. Default: empty.
    pub properties: Properties,
}

impl Default for TokenStorageSettings {
    fn default() -> Self {
        TokenStorageSettings {
            enabled: true,
            key_prefix: "cbjwt_".to_owned(),
            driver: StorageDriver::Memory,
            mode: StorageMode::Allowlist,
            properties: Properties::default(),
        }
    }
}

/// The `sql` driver's properties, read by [`TokenStorageSettings::sql`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct SqlStorageProperties {
    /// `url`: the database URL. Default: `sqlite://portcullis.db`.
    pub url: Secret,
    /// `table`: a plain SQL identifier. Default: `cbsecurity_tokens`.
    pub table: String,
    /// `schema`: optional schema; a plain SQL identifier. Default: `""`.
    pub schema: String,
    /// `auto_create`: create the table when missing. Default: `true`.
    pub auto_create: bool,
    /// `rotation_days`: rows expired for longer than this many days are deleted.
    /// Default: `7`.
    pub rotation_days: u32,
    /// `rotation_frequency`: how often the clean-up runs. Default: 60 minutes.
    #[serde(with = "duration::minutes")]
    pub rotation_frequency: Duration,
}

impl Default for SqlStorageProperties {
    fn default() -> Self {
        SqlStorageProperties {
            url: Secret::new("sqlite://portcullis.db"),
            table: "cbsecurity_tokens".to_owned(),
            schema: String::new(),
            auto_create: true,
            rotation_days: 7,
            rotation_frequency: Duration::from_secs(3600),
        }
    }
}

/// The `redis` driver's properties, read by [`TokenStorageSettings::redis`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RedisStorageProperties {
    /// `url`: the Redis URL. Default: `redis://127.0.0.1:6379`.
    pub url: Secret,
}

impl Default for RedisStorageProperties {
    fn default() -> Self {
        RedisStorageProperties {
            url: Secret::new("redis://127.0.0.1:6379"),
        }
    }
}

/// The memory driver's properties: only cbsecurity's `cache_name`, which is ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemoryStorageProperties {
    #[serde(rename = "cache_name")]
    _cache_name: Option<Value>,
}

/// `autoCreate` → `auto_create`; snake_case keys are unchanged.
fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    let mut previous: Option<char> = None;
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            if previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit()) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
        previous = Some(c);
    }
    out
}

const PROPERTIES_KEY: &str = "jwt.token_storage.properties";

impl TokenStorageSettings {
    fn typed<T: for<'de> Deserialize<'de>>(&self, driver: &str) -> Result<T> {
        let mut map = serde_json::Map::new();
        for (key, value) in self.properties.iter() {
            let key = snake_case(key);
            if key == "dsn" && driver == "sql" {
                return Err(Error::config(
                    format!("{PROPERTIES_KEY}.dsn"),
                    "cbsecurity's datasource name has no meaning here: give the database as \
                     `url` (e.g. postgres://user:pass@host/db)",
                ));
            }
            map.insert(key, value.clone());
        }
        serde_path_to_error::deserialize(Value::Object(map)).map_err(|err| {
            let message = err.inner().to_string();
            let what = format!("property for the {driver} driver");
            path_error(PROPERTIES_KEY, &err.path().to_string(), &message, &what)
        })
    }

    /// The `sql` driver's properties with their defaults.
    ///
    /// # Errors
    /// [`Error::Config`] naming the property (`jwt.token_storage.properties.<name>`) when one
    /// is unknown, has the wrong type, or is not a plain SQL identifier (`table`, `schema`).
    pub fn sql(&self) -> Result<SqlStorageProperties> {
        let props: SqlStorageProperties = self.typed("sql")?;
        for (key, name) in [("table", &props.table), ("schema", &props.schema)] {
            let required = key == "table";
            if (required || !name.is_empty()) && !list::is_sql_identifier(name) {
                return Err(Error::config(
                    format!("{PROPERTIES_KEY}.{key}"),
                    format!("{name:?} is not a plain SQL identifier (letters, digits, _)"),
                ));
            }
        }
        if props.url.is_empty() {
            return Err(Error::config(
                format!("{PROPERTIES_KEY}.url"),
                "empty: give the database URL",
            ));
        }
        if props.rotation_frequency.is_zero() {
            return Err(Error::config(
                format!("{PROPERTIES_KEY}.rotation_frequency"),
                "must be longer than zero",
            ));
        }
        Ok(props)
    }

    /// The `redis` driver's properties with their defaults.
    ///
    /// # Errors
    /// [`Error::Config`] naming the property when one is unknown or has the wrong type.
    pub fn redis(&self) -> Result<RedisStorageProperties> {
        let props: RedisStorageProperties = self.typed("redis")?;
        if props.url.is_empty() {
            return Err(Error::config(
                format!("{PROPERTIES_KEY}.url"),
                "empty: give the Redis URL",
            ));
        }
        Ok(props)
    }

    fn validate(&self) -> Result<()> {
        match self.driver {
            StorageDriver::Sql => self.sql().map(drop),
            StorageDriver::Redis => self.redis().map(drop),
            StorageDriver::Memory => self.typed::<MemoryStorageProperties>("memory").map(drop),
            StorageDriver::Custom(_) => Ok(()),
        }
    }
}

/// The JWT section (`jwt`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct JwtSettings {
    /// `issuer`: the `iss` claim written and the only one accepted. Default: `""`, meaning
    /// `portcullis` (see [`JwtSettings::effective_issuer`]). cbsecurity derived it from the
    /// host of the first request (\[WEAK\]); set it explicitly when several services share a
    /// key.
    pub issuer: String,
    /// `secret_key`: the HMAC secret (HS* algorithms), as UTF-8 bytes like cbsecurity.
    /// Default: `""`, then the environment variable `JWT_SECRET` (as cbsecurity). Never
    /// printed. Empty at JWT start-up: a random secret is generated for the process and a
    /// warning logged, as cbsecurity does — tokens then die with the process and are not
    /// shared between instances. A short secret weakens every token: use at least as many random bytes as
    /// the hash (32 for HS256, 64 for HS512).
    pub secret_key: Secret,
    /// `secret_key_file`: read the HMAC secret from this file, bytes exactly as stored (no
    /// trimming). Exclusive with `secret_key`. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key_file: Option<PathBuf>,
    /// `signing_key`: the private key for RS*/PS*/ES*/EdDSA: a file path, inline PEM
    /// (`-----BEGIN…`) or inline JWK JSON (`{…}`). Default: none (verification only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<KeySource>,
    /// `verification_keys`: public keys accepted for asymmetric algorithms (same forms, plus
    /// JWK Sets); one string or an array. Default: none (the signing key's public half).
    #[serde(deserialize_with = "key_sources")]
    pub verification_keys: Vec<KeySource>,
    /// `custom_auth_header`: header searched for the access token besides
    /// `Authorization: Bearer`. Default: `x-auth-token`.
    pub custom_auth_header: String,
    /// `expiration`: access token lifetime; minutes or a literal. Default: 60 minutes.
    #[serde(with = "duration::minutes")]
    pub expiration: Duration,
    /// `enable_refresh_tokens`: issue refresh tokens with access tokens. Default: `false`.
    pub enable_refresh_tokens: bool,
    /// `refresh_expiration`: refresh token lifetime; must exceed `expiration` when refresh
    /// tokens are enabled. Default: 10080 minutes (7 days).
    #[serde(with = "duration::minutes")]
    pub refresh_expiration: Duration,
    /// `custom_refresh_header`: header for refresh tokens (also the response header of
    /// auto-refresh). Default: `x-refresh-token`.
    pub custom_refresh_header: String,
    /// `enable_auto_refresh_validator`: the JWT validator refreshes expired access tokens
    /// transparently; requires `enable_refresh_tokens`. Default: `false`.
    pub enable_auto_refresh_validator: bool,
    /// `enable_refresh_endpoint`: serve `POST /cbsecurity/refreshtoken`. Default: `true`.
    pub enable_refresh_endpoint: bool,
    /// `algorithm`: HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512 or EdDSA;
    /// case-insensitive. Default: `HS512`.
    pub algorithm: Algorithm,
    /// `required_claims`: claims every token must carry, besides the standard ones; comma
    /// string or array. Default: none.
    #[serde(deserialize_with = "list::strings")]
    pub required_claims: Vec<String>,
    /// `audience`: the `aud` written and required (portcullis addition). Default: none.
    #[serde(
        deserialize_with = "list::optional_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub audience: Option<String>,
    /// `leeway`: clock skew allowed on `exp`/`nbf`; a literal with a unit (`30s`), since a
    /// bare number would mean minutes. Must be shorter than `expiration`. Default: `0s`.
    #[serde(with = "duration::literal")]
    pub leeway: Duration,
    /// `max_token_size`: longest token accepted, in bytes (256..=65536). Default: `8192`.
    pub max_token_size: usize,
    /// `allow_query_token`: also accept the token from the query string. Default: `false`.
    /// Unsafe: URLs end up in logs, history and `Referer` headers (cbsecurity accepted it).
    pub allow_query_token: bool,
    /// `revoke_access_on_refresh`: refreshing revokes the access token issued with the
    /// refresh token (cbsecurity left it valid). Default: `true`.
    pub revoke_access_on_refresh: bool,
    /// `refresh_reuse_overlap`: how long a just-rotated refresh token may be presented again
    /// (concurrent requests) before reuse counts as theft; a literal with a unit.
    /// Default: `10s`.
    #[serde(with = "duration::literal")]
    pub refresh_reuse_overlap: Duration,
    /// `token_storage`: where issued tokens are recorded. Default: enabled, memory,
    /// allowlist.
    pub token_storage: TokenStorageSettings,
}

impl Default for JwtSettings {
    fn default() -> Self {
        JwtSettings {
            issuer: String::new(),
            secret_key: Secret::default(),
            secret_key_file: None,
            signing_key: None,
            verification_keys: Vec::new(),
            custom_auth_header: "x-auth-token".to_owned(),
            expiration: Duration::from_secs(60 * 60),
            enable_refresh_tokens: false,
            refresh_expiration: Duration::from_secs(10_080 * 60),
            custom_refresh_header: "x-refresh-token".to_owned(),
            enable_auto_refresh_validator: false,
            enable_refresh_endpoint: true,
            algorithm: Algorithm::HS512,
            required_claims: Vec::new(),
            audience: None,
            leeway: Duration::ZERO,
            max_token_size: 8192,
            allow_query_token: false,
            revoke_access_on_refresh: true,
            refresh_reuse_overlap: Duration::from_secs(10),
            token_storage: TokenStorageSettings::default(),
        }
    }
}

/// The issuer used when `jwt.issuer` is empty.
pub const DEFAULT_ISSUER: &str = "portcullis";

impl JwtSettings {
    /// The issuer in force: `issuer`, or [`DEFAULT_ISSUER`] when it is empty.
    pub fn effective_issuer(&self) -> &str {
        if self.issuer.is_empty() {
            DEFAULT_ISSUER
        } else {
            &self.issuer
        }
    }

    /// The HMAC secret: the bytes of `secret_key_file` when set, else `secret_key`.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file when it cannot be read; [`Error::Config`] when the
    /// secret is empty.
    pub fn hmac_secret(&self) -> Result<Secret> {
        if let Some(path) = &self.secret_key_file {
            let bytes = std::fs::read(path).map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })?;
            if bytes.is_empty() {
                return Err(Error::config(
                    "jwt.secret_key_file",
                    format!("{} is empty", path.display()),
                ));
            }
            return Ok(Secret::from_bytes(bytes));
        }
        if self.secret_key.is_empty() {
            return Err(Error::config(
                "jwt.secret_key",
                "empty: set jwt.secret_key, jwt.secret_key_file, PORTCULLIS_JWT__SECRET_KEY or \
                 JWT_SECRET",
            ));
        }
        Ok(self.secret_key.clone())
    }

    /// Checks the section; errors name the offending key.
    pub(crate) fn validate(&self) -> Result<()> {
        self.validate_keys()?;
        if self.expiration.is_zero() {
            return Err(Error::config("jwt.expiration", "must be longer than zero"));
        }
        if self.leeway >= self.expiration {
            return Err(Error::config(
                "jwt.leeway",
                format!(
                    "{} is not shorter than jwt.expiration ({}): expired tokens would stay valid",
                    duration::format(self.leeway),
                    duration::format(self.expiration)
                ),
            ));
        }
        if self.enable_refresh_tokens && self.refresh_expiration <= self.expiration {
            return Err(Error::config(
                "jwt.refresh_expiration",
                format!(
                    "{} must be longer than jwt.expiration ({})",
                    duration::format(self.refresh_expiration),
                    duration::format(self.expiration)
                ),
            ));
        }
        if self.enable_auto_refresh_validator && !self.enable_refresh_tokens {
            return Err(Error::config(
                "jwt.enable_auto_refresh_validator",
                "needs jwt.enable_refresh_tokens = true",
            ));
        }
        if !(256..=65_536).contains(&self.max_token_size) {
            return Err(Error::config(
                "jwt.max_token_size",
                format!("{} is outside 256..=65536 bytes", self.max_token_size),
            ));
        }
        for (key, name) in [
            ("custom_auth_header", &self.custom_auth_header),
            ("custom_refresh_header", &self.custom_refresh_header),
        ] {
            if !list::is_http_token(name) {
                return Err(Error::config(
                    format!("jwt.{key}"),
                    format!("{name:?} is not a valid HTTP header name"),
                ));
            }
        }
        if self
            .custom_auth_header
            .eq_ignore_ascii_case(&self.custom_refresh_header)
        {
            return Err(Error::config(
                "jwt.custom_refresh_header",
                "is the same header as jwt.custom_auth_header",
            ));
        }
        self.token_storage.validate()
    }

    fn validate_keys(&self) -> Result<()> {
        let algorithm = self.algorithm;
        if algorithm.is_hmac() {
            if !self.secret_key.is_empty() && self.secret_key_file.is_some() {
                return Err(Error::config(
                    "jwt.secret_key_file",
                    "set either jwt.secret_key or jwt.secret_key_file, not both",
                ));
            }
            if self.signing_key.is_some() {
                return Err(Error::config(
                    "jwt.signing_key",
                    format!(
                        "{algorithm} signs with jwt.secret_key; signing_key is for \
                             asymmetric algorithms (RS*, PS*, ES*, EdDSA)"
                    ),
                ));
            }
            if !self.verification_keys.is_empty() {
                return Err(Error::config(
                    "jwt.verification_keys",
                    format!(
                        "{algorithm} verifies with jwt.secret_key; verification_keys are \
                             for asymmetric algorithms (RS*, PS*, ES*, EdDSA)"
                    ),
                ));
            }
            return Ok(());
        }
        for (key, set) in [
            ("secret_key", !self.secret_key.is_empty()),
            ("secret_key_file", self.secret_key_file.is_some()),
        ] {
            if set {
                return Err(Error::config(
                    format!("jwt.{key}"),
                    format!(
                        "{algorithm} does not use a shared secret: give jwt.signing_key \
                             and/or jwt.verification_keys"
                    ),
                ));
            }
        }
        if self.signing_key.as_ref().is_some_and(KeySource::is_jwk_set) {
            return Err(Error::config(
                "jwt.signing_key",
                "a JWK Set is only accepted in jwt.verification_keys: give one private key",
            ));
        }
        if self.signing_key.is_none() && self.verification_keys.is_empty() {
            return Err(Error::config(
                "jwt.signing_key",
                format!(
                    "{algorithm} needs jwt.signing_key (to issue tokens) and/or \
                         jwt.verification_keys (to verify them)"
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(toml_text: &str) -> JwtSettings {
        toml::from_str(toml_text).expect("valid jwt settings")
    }

    fn error_key(toml_text: &str) -> String {
        match jwt(toml_text).validate() {
            Err(Error::Config { key, .. }) => key,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn algorithms() {
        assert_eq!("eddsa".parse::<Algorithm>().ok(), Some(Algorithm::EdDSA));
        assert_eq!("ps384".parse::<Algorithm>().ok(), Some(Algorithm::PS384));
        assert!("none".parse::<Algorithm>().is_err());
        assert!(Algorithm::HS384.is_hmac());
        assert!(!Algorithm::ES256.is_hmac());
        assert_eq!(
            jwt("algorithm = 'rs256'\nsigning_key = 'k.pem'")
                .algorithm
                .as_str(),
            "RS256"
        );
    }

    #[test]
    fn key_sources_by_form() {
        assert_eq!(
            KeySource::parse("keys/a.pem"),
            Ok(KeySource::File("keys/a.pem".into()))
        );
        let pem = KeySource::parse("-----BEGIN PRIVATE KEY-----\nMC4C\n-----END PRIVATE KEY-----")
            .unwrap();
        assert!(matches!(pem, KeySource::Pem(_)));
        assert_eq!(format!("{pem:?}"), "Pem(\"<redacted>\")");
        let jwk =
            KeySource::parse(r#"{"kty":"OKP","crv":"Ed25519","x":"abc","d":"secret"}"#).unwrap();
        assert!(!format!("{jwk:?}").contains("secret"));
        assert!(KeySource::parse(r#"{"keys":[]}"#).unwrap().is_jwk_set());
        assert!(KeySource::parse(r#"{"kty":"#).is_err());
        assert!(KeySource::parse(r#"{"a":1}"#).is_err());
        assert!(KeySource::parse(" ").is_err());
        assert!(KeySource::parse("<redacted>").is_err());
        let keys = jwt("algorithm = 'ES256'\nverification_keys = 'pub.pem'").verification_keys;
        assert_eq!(keys, vec![KeySource::File("pub.pem".into())]);
    }

    #[test]
    fn key_bytes() {
        let pem = KeySource::parse("-----BEGIN PUBLIC KEY-----").unwrap();
        assert_eq!(pem.bytes().unwrap().expose(), b"-----BEGIN PUBLIC KEY-----");
        let err = KeySource::File("/nonexistent/portcullis/key.pem".into())
            .bytes()
            .unwrap_err();
        assert!(
            matches!(err, Error::Io { ref path, .. } if path.contains("key.pem")),
            "{err}"
        );
    }

    #[test]
    fn hmac_secret_sources() {
        let mut settings = JwtSettings::default();
        assert!(
            matches!(settings.hmac_secret(), Err(Error::Config { ref key, .. }) if key == "jwt.secret_key")
        );
        settings.secret_key = Secret::new("abc");
        assert_eq!(settings.hmac_secret().unwrap().expose(), b"abc");
        settings.secret_key_file = Some("/nonexistent/portcullis/secret".into());
        assert!(matches!(settings.hmac_secret(), Err(Error::Io { .. })));
    }

    #[test]
    fn key_rules_per_algorithm() {
        assert_eq!(error_key("signing_key = 'a.pem'"), "jwt.signing_key");
        assert_eq!(
            error_key("verification_keys = ['a.pem']"),
            "jwt.verification_keys"
        );
        assert_eq!(
            error_key("secret_key = 'a'\nsecret_key_file = 'b'"),
            "jwt.secret_key_file"
        );
        assert_eq!(error_key("algorithm = 'RS256'"), "jwt.signing_key");
        assert_eq!(
            error_key("algorithm = 'RS256'\nsecret_key = 'x'\nsigning_key = 'k.pem'"),
            "jwt.secret_key"
        );
        assert_eq!(
            error_key("algorithm = 'ES256'\nsigning_key = '{\"keys\": []}'"),
            "jwt.signing_key"
        );
        assert!(
            jwt("algorithm = 'ES256'\nverification_keys = ['a.pem', '{\"keys\": []}']")
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn lifetimes_and_limits() {
        assert_eq!(error_key("expiration = 0"), "jwt.expiration");
        assert_eq!(
            error_key("enable_refresh_tokens = true\nexpiration = '8d'"),
            "jwt.refresh_expiration"
        );
        assert!(jwt("expiration = '8d'").validate().is_ok());
        assert_eq!(
            error_key("enable_auto_refresh_validator = true"),
            "jwt.enable_auto_refresh_validator"
        );
        assert_eq!(error_key("max_token_size = 100"), "jwt.max_token_size");
        assert_eq!(error_key("max_token_size = 65537"), "jwt.max_token_size");
        assert_eq!(error_key("leeway = '2h'"), "jwt.leeway");
        assert_eq!(
            error_key("custom_auth_header = 'x auth'"),
            "jwt.custom_auth_header"
        );
        assert_eq!(
            error_key("custom_refresh_header = 'X-Auth-Token'"),
            "jwt.custom_refresh_header"
        );
    }

    #[test]
    fn storage_drivers() {
        for (name, driver) in [
            ("cachebox", StorageDriver::Memory),
            ("DB", StorageDriver::Sql),
            ("redis", StorageDriver::Redis),
            ("Vault", StorageDriver::Custom("Vault".into())),
        ] {
            assert_eq!(StorageDriver::parse(name), Some(driver));
        }
        assert!(toml::from_str::<TokenStorageSettings>("driver = ''").is_err());
        assert_eq!(
            toml::from_str::<TokenStorageSettings>("mode = 'deny-list'")
                .unwrap()
                .mode,
            StorageMode::Denylist
        );
    }

    #[test]
    fn sql_properties() {
        let storage: TokenStorageSettings = toml::from_str(
            "driver = 'db'\nproperties = { table = 'tokens', autoCreate = false, rotationFrequency = '2h', url = 'postgres://u:pw@h/db' }",
        )
        .unwrap();
        let sql = storage.sql().unwrap();
        assert_eq!(sql.table, "tokens");
        assert!(!sql.auto_create);
        assert_eq!(sql.rotation_days, 7);
        assert_eq!(sql.rotation_frequency, Duration::from_secs(7200));
        assert_eq!(sql.url.expose_str(), Some("postgres://u:pw@h/db"));
        assert!(!format!("{storage:?}{sql:?}").contains("pw@"));
        assert_eq!(
            TokenStorageSettings::default().sql().unwrap(),
            SqlStorageProperties::default()
        );
    }

    #[test]
    fn bad_storage_properties_name_the_property() {
        for (text, key) in [
            (
                "driver = 'sql'\nproperties = { rotation_days = 'x' }",
                "jwt.token_storage.properties.rotation_days",
            ),
            (
                "driver = 'sql'\nproperties = { tabel = 'x' }",
                "jwt.token_storage.properties.tabel",
            ),
            (
                "driver = 'sql'\nproperties = { table = 'a-b' }",
                "jwt.token_storage.properties.table",
            ),
            (
                "driver = 'sql'\nproperties = { dsn = 'x' }",
                "jwt.token_storage.properties.dsn",
            ),
            (
                "driver = 'redis'\nproperties = { url = '' }",
                "jwt.token_storage.properties.url",
            ),
            (
                "properties = { table = 'x' }",
                "jwt.token_storage.properties.table",
            ),
        ] {
            let storage: TokenStorageSettings = toml::from_str(text).unwrap();
            match storage.validate() {
                Err(Error::Config { key: found, .. }) => assert_eq!(found, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let storage: TokenStorageSettings =
            toml::from_str("properties = { cacheName = 'default' }").unwrap();
        assert!(storage.validate().is_ok());
        let storage: TokenStorageSettings =
            toml::from_str("driver = 'mine'\nproperties = { anything = 1 }").unwrap();
        assert!(storage.validate().is_ok());
    }

    #[test]
    fn snake_case_keys() {
        assert_eq!(snake_case("rotationDays"), "rotation_days");
        assert_eq!(snake_case("auto_create"), "auto_create");
        assert_eq!(snake_case("URL"), "url");
        assert_eq!(snake_case("cacheName"), "cache_name");
    }
}
