//! The user store (`users`): which database, which table, who may register, how passwords
//! are hashed. Read by [`SqlUserStore`](crate::users::SqlUserStore) and the `portcullis
//! users` command.
//!
//! ```
//! use portcullis::settings::{Settings, UsersDriver};
//!
//! let settings = Settings::from_toml_str(r#"
//!     [users]
//!     driver = "postgres"
//!     url = "postgres://app:s3cret@db/auth"
//!     allow_registration = true
//!     default_roles = "member"
//!     argon2 = { memory_kib = 47104, iterations = 1 }
//! "#).unwrap();
//! assert_eq!(settings.users.driver, UsersDriver::Postgres);
//! assert_eq!(settings.users.default_roles, ["member"]);
//! assert_eq!(settings.users.argon2.parallelism, 1); // the default
//! assert!(!format!("{settings:?}").contains("s3cret"));
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::keyword::keyword_enum;
use super::list;
use super::secret::Secret;
use super::HashAlgorithm;
use crate::auth::{Argon2Params, PasswordHasher};
use crate::users::input;
use crate::{Error, Result};

keyword_enum! {
    /// The database of the user store.
    #[derive(Default)]
    pub enum UsersDriver ("a user store driver") {
        /// SQLite, a file (bundled: nothing to install). The default.
        #[default]
        Sqlite = "sqlite",
        /// PostgreSQL, shared by several instances.
        Postgres = "postgres" | "postgresql",
    }
}

/// The largest Argon2 memory cost accepted, in KiB (1 GiB): every login allocates it.
const MAX_ARGON2_MEMORY_KIB: u32 = 1024 * 1024;

/// The `users` section: the SQL user store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct UsersSettings {
    /// `driver`: `sqlite` or `postgres`. Default: `sqlite`.
    pub driver: UsersDriver,
    /// `path`: the SQLite file, relative to the settings file's directory; `:memory:` keeps
    /// the users in memory (for trials). SQLite only. Default: `portcullis.db`.
    pub path: PathBuf,
    /// `url`: the PostgreSQL URL, `postgres://user:password@host/db`; never printed.
    /// PostgreSQL only, and required there. Default: `""`.
    pub url: Secret,
    /// `schema`: the PostgreSQL schema of the tables, a plain SQL identifier; `""` = the
    /// connection's search path. Default: `""`.
    pub schema: String,
    /// `table`: the users table, a plain SQL identifier of at most 52 characters (the store
    /// also creates `<table>_migrations`). Default: `portcullis_users`.
    pub table: String,
    /// `auto_migrate`: create and upgrade the tables at start-up. Off, start-up fails when
    /// the schema is not current (run `portcullis users migrate`). Default: `true`.
    pub auto_migrate: bool,
    /// `allow_registration`: whether people may create their own account
    /// ([`SqlUserStore::register`](crate::users::SqlUserStore::register)). Default: `false`.
    pub allow_registration: bool,
    /// `default_roles`: the roles of a self-registered user. Default: none.
    #[serde(deserialize_with = "list::strings")]
    pub default_roles: Vec<String>,
    /// `default_permissions`: the permissions of a self-registered user. Default: none.
    #[serde(deserialize_with = "list::strings")]
    pub default_permissions: Vec<String>,
    /// `min_password_length`: in characters. Default: `8`.
    pub min_password_length: usize,
    /// `max_password_length`: in characters, at most 4096; longer passwords are refused
    /// before any hashing. Default: `1024`.
    pub max_password_length: usize,
    /// `argon2`: the cost of new hashes (`memory_kib`, `iterations`, `parallelism`).
    /// Hashes made with other costs are upgraded at the user's next login. Default: OWASP's
    /// 19456 KiB, 2 passes, 1 lane.
    pub argon2: Argon2Params,
    /// `legacy_hash_algorithm`: the digest of imported cbsecurity hex hashes (`SHA-512`,
    /// `SHA-384`, `SHA-256`), or `argon2id` to accept none. Default: `SHA-512`.
    pub legacy_hash_algorithm: HashAlgorithm,
    /// `legacy_hash_iterations`: how many times that digest was applied. Default: `5`.
    pub legacy_hash_iterations: u32,
}

impl Default for UsersSettings {
    fn default() -> Self {
        UsersSettings {
            driver: UsersDriver::Sqlite,
            path: PathBuf::from("portcullis.db"),
            url: Secret::default(),
            schema: String::new(),
            table: "portcullis_users".to_owned(),
            auto_migrate: true,
            allow_registration: false,
            default_roles: Vec::new(),
            default_permissions: Vec::new(),
            min_password_length: 8,
            max_password_length: 1024,
            argon2: Argon2Params::default(),
            legacy_hash_algorithm: HashAlgorithm::Sha512,
            legacy_hash_iterations: 5,
        }
    }
}

impl UsersSettings {
    /// The SQLite file, with a relative `path` taken from `base` (the settings file's
    /// directory); `None` for `:memory:`.
    pub fn sqlite_file(&self, base: &Path) -> Option<PathBuf> {
        (self.path != Path::new(":memory:")).then(|| base.join(&self.path))
    }

    /// The password hasher these settings describe.
    ///
    /// # Errors
    /// [`Error::Config`] on `users.argon2` when the parameters are unusable.
    pub fn hasher(&self) -> Result<PasswordHasher> {
        PasswordHasher::new(
            self.argon2,
            self.legacy_hash_algorithm,
            self.legacy_hash_iterations,
        )
        .map_err(|e| e.for_setting("users.argon2"))
    }

    /// Checks the section; errors name the offending key.
    pub(crate) fn validate(&self) -> Result<()> {
        let ident = |key: &str, value: &str, max: usize| -> Result<()> {
            if list::is_sql_identifier(value) && value.len() <= max {
                Ok(())
            } else {
                Err(Error::config(
                    format!("users.{key}"),
                    format!(
                        "{value:?} is not a plain SQL identifier (letters, digits, _) of at \
                         most {max} characters"
                    ),
                ))
            }
        };
        ident("table", &self.table, input::MAX_TABLE)?;
        match self.driver {
            UsersDriver::Sqlite => {
                if !self.url.is_empty() {
                    return Err(Error::config(
                        "users.url",
                        "only used with driver = \"postgres\"; SQLite takes `path`",
                    ));
                }
                if !self.schema.is_empty() {
                    return Err(Error::config(
                        "users.schema",
                        "only used with driver = \"postgres\"",
                    ));
                }
                if self.path.as_os_str().is_empty() {
                    return Err(Error::config(
                        "users.path",
                        "empty: name the SQLite file (or `:memory:`)",
                    ));
                }
            }
            UsersDriver::Postgres => {
                let url = self.url.expose_str().unwrap_or_default();
                let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
                if !matches!(scheme, "postgres" | "postgresql") {
                    return Err(Error::config(
                        "users.url",
                        "required with driver = \"postgres\": postgres://user:password@host/db",
                    ));
                }
                if !self.schema.is_empty() {
                    ident("schema", &self.schema, 63)?;
                }
            }
        }
        for (key, field, values) in [
            ("users.default_roles", "roles", &self.default_roles),
            (
                "users.default_permissions",
                "permissions",
                &self.default_permissions,
            ),
        ] {
            input::grants(field, values).map_err(|e| match e {
                Error::InvalidInput { reason, .. } => Error::config(key, reason),
                other => other,
            })?;
        }
        let (min, max) = (self.min_password_length, self.max_password_length);
        if min == 0 || min > max || max > input::PASSWORD_CAP {
            return Err(Error::config(
                "users.max_password_length",
                format!(
                    "need 1 <= min_password_length ({min}) <= max_password_length ({max}) <= {}",
                    input::PASSWORD_CAP
                ),
            ));
        }
        if self.argon2.memory_kib > MAX_ARGON2_MEMORY_KIB {
            return Err(Error::config(
                "users.argon2.memory_kib",
                format!("at most {MAX_ARGON2_MEMORY_KIB} KiB (1 GiB): every login allocates it"),
            ));
        }
        argon2::Params::new(
            self.argon2.memory_kib,
            self.argon2.iterations,
            self.argon2.parallelism,
            None,
        )
        .map_err(|e| Error::config("users.argon2", e.to_string()))?;
        if self.legacy_hash_iterations == 0 {
            return Err(Error::config(
                "users.legacy_hash_iterations",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_key(toml_text: &str) -> String {
        let settings: UsersSettings = toml::from_str(toml_text).expect("parses");
        match settings.validate() {
            Err(Error::Config { key, .. }) => key,
            other => panic!("expected a config error for {toml_text:?}, got {other:?}"),
        }
    }

    #[test]
    fn defaults_validate() {
        UsersSettings::default().validate().unwrap();
        let settings = UsersSettings::default();
        assert_eq!(
            settings.sqlite_file(Path::new("/etc/app")),
            Some(PathBuf::from("/etc/app/portcullis.db"))
        );
        let memory: UsersSettings = toml::from_str("path = ':memory:'").unwrap();
        assert_eq!(memory.sqlite_file(Path::new("/etc/app")), None);
    }

    #[test]
    fn validation_names_keys() {
        for (text, key) in [
            ("table = 'users; drop'", "users.table"),
            (
                &format!("table = '{}'", "t".repeat(53)) as &str,
                "users.table",
            ),
            ("url = 'postgres://x/y'", "users.url"),
            ("schema = 'auth'", "users.schema"),
            ("path = ''", "users.path"),
            ("driver = 'postgres'", "users.url"),
            ("driver = 'postgres'\nurl = 'mysql://x/y'", "users.url"),
            (
                "driver = 'postgres'\nurl = 'postgres://x/y'\nschema = 'a.b'",
                "users.schema",
            ),
            ("default_roles = 'a b'", "users.default_roles"),
            ("default_permissions = ['x,y']", "users.default_permissions"),
            ("min_password_length = 0", "users.max_password_length"),
            ("max_password_length = 5000", "users.max_password_length"),
            (
                "min_password_length = 20\nmax_password_length = 10",
                "users.max_password_length",
            ),
            ("argon2 = { memory_kib = 4 }", "users.argon2"),
            (
                "argon2 = { memory_kib = 2000000 }",
                "users.argon2.memory_kib",
            ),
            ("argon2 = { iterations = 0 }", "users.argon2"),
            ("legacy_hash_iterations = 0", "users.legacy_hash_iterations"),
        ] {
            assert_eq!(error_key(text), key, "{text}");
        }
        assert!(toml::from_str::<UsersSettings>("driver = 'mysql'").is_err());
        assert!(toml::from_str::<UsersSettings>("argon2 = { memory = 1 }").is_err());
        let pg: UsersSettings =
            toml::from_str("driver = 'PostgreSQL'\nurl = 'postgresql://h/db'\nschema = 'auth'")
                .unwrap();
        pg.validate().unwrap();
    }

    #[test]
    fn the_url_is_never_printed() {
        let pg: UsersSettings =
            toml::from_str("driver = 'postgres'\nurl = 'postgres://u:hunter2@h/db'").unwrap();
        assert!(!format!("{pg:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&pg).unwrap().contains("hunter2"));
    }
}
