//! Who the caller is: `authentication` (spec §1.1) and `basic_auth` (spec §1.2, §7).
//!
//! Basic-auth passwords are stored as hashes. `argon2id` is the default for new hashes;
//! cbsecurity's unsalted `SHA-512` × `hash_iterations` digests are accepted for migration.
//! A plaintext password must be marked with the prefix `plain:` (it is hashed when the user
//! store is built); an unmarked value that is not a recognised hash is refused at load, so a
//! typo in a hash never becomes a password.
//!
//! ```
//! use portcullis::settings::{Settings, StoredPassword};
//!
//! let settings = Settings::from_toml_str(r#"
//!     [basic_auth.users.alice]
//!     password = "plain:correct horse"
//!     roles = "admin, editor"
//!     firstName = "Alice"
//!     team = "ops"
//! "#).unwrap();
//! let alice = &settings.basic_auth.users["alice"];
//! assert_eq!(alice.roles, vec!["admin", "editor"]);
//! assert_eq!(alice.first_name, "Alice");
//! assert_eq!(alice.extra["team"], "ops");
//! assert!(matches!(alice.stored_password(), Some(StoredPassword::Plaintext(_))));
//! assert!(!format!("{settings:?}").contains("correct horse"));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::keyword::keyword_enum;
use super::list;
use super::properties::folded;
use super::secret::Secret;
use crate::{Error, Result};

/// The `authentication` section: which services identify users.
///
/// Services are Rust values given to the security layer in code; these names select among
/// the registered ones and label them in logs and the visualizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AuthenticationSettings {
    /// `provider`: name of the authentication service. Default: `""` = the one registered
    /// in code. (cbsecurity's default `authenticationService@cbauth` names a CFML service and
    /// has no meaning here.) The gateway knows `""` or `"jwt"` (logins issue tokens) and
    /// `"session"` (logins open a cookie session, for browser apps); it refuses any other
    /// name at start-up.
    pub provider: String,
    /// `user_service`: name of the user service. Default: `""` = the one registered in code,
    /// or the `basic_auth` user store when the firewall validator is `basic` (as cbsecurity
    /// filled it in).
    pub user_service: String,
    /// `user_extension_name`: the name under which the current user is exposed to handlers
    /// and logs (cbsecurity `prcUserVariable`). Default: `oCurrentUser`.
    pub user_extension_name: String,
    /// `login_protection`: failed logins counted per username and client address, with
    /// back-off and lockout. Default: on, 5 failures, then 1s doubling up to 15 minutes.
    pub login_protection: super::LoginProtectionSettings,
}

impl Default for AuthenticationSettings {
    fn default() -> Self {
        AuthenticationSettings {
            provider: String::new(),
            user_service: String::new(),
            user_extension_name: "oCurrentUser".to_owned(),
            login_protection: super::LoginProtectionSettings::default(),
        }
    }
}

impl AuthenticationSettings {
    /// Checks the section; errors name the offending key.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.user_extension_name.trim().is_empty() {
            return Err(Error::config(
                "authentication.user_extension_name",
                "empty: name the slot that holds the current user",
            ));
        }
        Ok(())
    }
}

keyword_enum! {
    /// How basic-auth passwords are hashed.
    #[derive(Default)]
    pub enum HashAlgorithm ("a password hash algorithm") {
        /// Argon2id (salted, memory-hard). The default for new hashes.
        #[default]
        Argon2id = "argon2id",
        /// cbsecurity's default: unsalted SHA-512 applied `hash_iterations` times, upper-case
        /// hex. Accepted for migration only: fast to brute-force.
        Sha512 = "SHA-512" | "sha512",
        /// Unsalted SHA-384 × `hash_iterations` (migration only).
        Sha384 = "SHA-384" | "sha384",
        /// Unsalted SHA-256 × `hash_iterations` (migration only).
        Sha256 = "SHA-256" | "sha256",
    }
}

impl HashAlgorithm {
    /// The digest length in bytes of a legacy SHA algorithm; `None` for argon2id.
    pub const fn digest_len(self) -> Option<usize> {
        match self {
            HashAlgorithm::Argon2id => None,
            HashAlgorithm::Sha512 => Some(64),
            HashAlgorithm::Sha384 => Some(48),
            HashAlgorithm::Sha256 => Some(32),
        }
    }
}

/// What a basic-auth user's `password` value holds (see [`BasicAuthUser::stored_password`]).
/// Its `Debug` never shows the value.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoredPassword<'a> {
    /// An argon2id PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
    Argon2id(&'a str),
    /// A hex digest made with the legacy `hash_algorithm` × `hash_iterations`.
    Digest(&'a str),
    /// A plaintext password (the text after `plain:`), to be hashed at start-up.
    Plaintext(&'a str),
}

impl fmt::Debug for StoredPassword<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            StoredPassword::Argon2id(_) => "Argon2id",
            StoredPassword::Digest(_) => "Digest",
            StoredPassword::Plaintext(_) => "Plaintext",
        };
        f.debug_tuple(kind).field(&super::secret::REDACTED).finish()
    }
}

/// The prefix that marks a plaintext basic-auth password.
pub const PLAINTEXT_PREFIX: &str = "plain:";

/// One basic-auth user (`basic_auth.users.<username>`).
///
/// Keys are read case-insensitively and in cbsecurity's camelCase (`firstName`); keys other
/// than the ones below are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct BasicAuthUser {
    /// `password`: an argon2id PHC string, a hex digest (legacy SHA `hash_algorithm`), or
    /// plaintext prefixed with `plain:`. Required. Never printed. Plaintext in a settings
    /// file is readable by whoever reads the file: prefer a hash
    /// (`portcullis hash-password`).
    pub password: Secret,
    /// `roles`: comma string or array. Default: none.
    pub roles: Vec<String>,
    /// `permissions`: comma string or array. Default: none.
    pub permissions: Vec<String>,
    /// `first_name` (`firstName`). Default: `""`.
    pub first_name: String,
    /// `last_name` (`lastName`). Default: `""`.
    pub last_name: String,
    /// Every other key, kept as given. Default: empty.
    pub extra: BTreeMap<String, Value>,
}

impl BasicAuthUser {
    /// What the `password` value holds, or `None` if it is not a recognised form.
    pub fn stored_password(&self) -> Option<StoredPassword<'_>> {
        let text = self.password.expose_str()?;
        if let Some(plain) = text.strip_prefix(PLAINTEXT_PREFIX) {
            return Some(StoredPassword::Plaintext(plain));
        }
        if text.starts_with("$argon2id$") && text.split('$').count() >= 5 {
            return Some(StoredPassword::Argon2id(text));
        }
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some(StoredPassword::Digest(text));
        }
        None
    }
}

struct UserVisitor;

impl<'de> Visitor<'de> for UserVisitor {
    type Value = BasicAuthUser;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table with at least a password")
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<BasicAuthUser, A::Error> {
        let mut user = BasicAuthUser::default();
        let mut has_password = false;
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let canonical = folded(&key);
            if let Some(first) = seen.insert(canonical.clone(), key.clone()) {
                return Err(de::Error::custom(format!(
                    "`{first}` and `{key}` are the same key: give it once"
                )));
            }
            match canonical.as_str() {
                "password" => {
                    user.password = map.next_value()?;
                    has_password = true;
                }
                "roles" => user.roles = map.next_value::<Strings>()?.0,
                "permissions" => user.permissions = map.next_value::<Strings>()?.0,
                "firstname" => user.first_name = map.next_value::<String>()?,
                "lastname" => user.last_name = map.next_value::<String>()?,
                _ => {
                    let value = map.next_value::<Value>()?;
                    user.extra.insert(key, value);
                }
            }
        }
        if !has_password {
            return Err(de::Error::custom(
                "missing `password` (an argon2id hash, or plaintext prefixed with `plain:`)",
            ));
        }
        Ok(user)
    }
}

struct Strings(Vec<String>);

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        list::strings(d).map(Strings)
    }
}

impl<'de> Deserialize<'de> for BasicAuthUser {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_map(UserVisitor)
    }
}

impl Serialize for BasicAuthUser {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("password", &self.password)?;
        map.serialize_entry("roles", &self.roles)?;
        map.serialize_entry("permissions", &self.permissions)?;
        map.serialize_entry("first_name", &self.first_name)?;
        map.serialize_entry("last_name", &self.last_name)?;
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The `basic_auth` section: HTTP Basic users kept in settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct BasicAuthSettings {
    /// `hash_algorithm`: `argon2id` for new hashes, or cbsecurity's `SHA-512` (also
    /// `SHA-384`, `SHA-256`) to verify legacy hex digests. Default: `argon2id` (cbsecurity:
    /// `SHA-512`, unsalted and fast — unsafe for real passwords).
    pub hash_algorithm: HashAlgorithm,
    /// `hash_iterations`: how many times a legacy SHA digest is applied (cbsecurity on
    /// Lucee: N in total). Not used by argon2id, whose cost is inside each hash.
    /// Default: `5`.
    pub hash_iterations: u32,
    /// `users`: username → user. Usernames must not contain `:`. Default: none.
    pub users: BTreeMap<String, BasicAuthUser>,
}

impl Default for BasicAuthSettings {
    fn default() -> Self {
        BasicAuthSettings {
            hash_algorithm: HashAlgorithm::Argon2id,
            hash_iterations: 5,
            users: BTreeMap::new(),
        }
    }
}

impl BasicAuthSettings {
    /// Checks the section; errors name the offending key.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.hash_iterations == 0 {
            return Err(Error::config(
                "basic_auth.hash_iterations",
                "must be at least 1",
            ));
        }
        for (name, user) in &self.users {
            let key = format!("basic_auth.users.{name}");
            if name.is_empty() || name.contains(':') || name.chars().any(char::is_control) {
                return Err(Error::config(
                    key,
                    "a username must be non-empty, without `:` or control characters",
                ));
            }
            let key = format!("{key}.password");
            match user.stored_password() {
                None => {
                    return Err(Error::config(
                        key,
                        "not a recognised password: write an argon2id hash ($argon2id$…, see \
                         `portcullis hash-password`), a hex digest when hash_algorithm is \
                         SHA-*, or plaintext prefixed with `plain:`",
                    ))
                }
                Some(StoredPassword::Plaintext("")) => {
                    return Err(Error::config(key, "empty plaintext password"))
                }
                Some(StoredPassword::Digest(hex)) => {
                    let Some(len) = self.hash_algorithm.digest_len() else {
                        return Err(Error::config(
                            key,
                            "a hex digest needs basic_auth.hash_algorithm = \"SHA-512\" (or \
                             SHA-384 / SHA-256); argon2id hashes start with $argon2id$",
                        ));
                    };
                    if hex.len() != len * 2 {
                        return Err(Error::config(
                            key,
                            format!(
                                "a {} digest has {} hex digits, this one has {}",
                                self.hash_algorithm,
                                len * 2,
                                hex.len()
                            ),
                        ));
                    }
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(toml_text: &str) -> BasicAuthSettings {
        toml::from_str(toml_text).expect("valid basic auth settings")
    }

    fn error_key(toml_text: &str) -> String {
        match basic(toml_text).validate() {
            Err(Error::Config { key, .. }) => key,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn password_forms() {
        let user = |password: &str| BasicAuthUser {
            password: Secret::new(password),
            ..BasicAuthUser::default()
        };
        assert!(matches!(
            user("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").stored_password(),
            Some(StoredPassword::Argon2id(_))
        ));
        assert!(matches!(
            user("ABCDEF01").stored_password(),
            Some(StoredPassword::Digest(_))
        ));
        assert_eq!(
            user("plain:pw").stored_password(),
            Some(StoredPassword::Plaintext("pw"))
        );
        assert_eq!(user("hunter2").stored_password(), None);
        assert_eq!(user("$argon2id$x").stored_password(), None);
        assert_eq!(
            format!("{:?}", user("plain:pw").stored_password()),
            "Some(Plaintext(\"<redacted>\"))"
        );
    }

    #[test]
    fn users_load_with_cbsecurity_keys() {
        let settings = basic(
            "hash_algorithm = 'sha-512'\n[users.bob]\nPassword = 'plain:x'\npermissions = ['read', ' write ']\nLastName = 'B'",
        );
        assert_eq!(settings.hash_algorithm, HashAlgorithm::Sha512);
        let bob = &settings.users["bob"];
        assert_eq!(bob.permissions, vec!["read", "write"]);
        assert_eq!(bob.last_name, "B");
        assert!(toml::from_str::<BasicAuthSettings>("[users.bob]\nroles = 'a'").is_err());
        assert!(toml::from_str::<BasicAuthSettings>("hash_algorithm = 'MD5'").is_err());
    }

    #[test]
    fn validation_names_keys() {
        assert_eq!(
            error_key("[users.bob]\npassword = 'hunter2'"),
            "basic_auth.users.bob.password"
        );
        assert_eq!(
            error_key("[users.bob]\npassword = 'plain:'"),
            "basic_auth.users.bob.password"
        );
        assert_eq!(
            error_key("[users.bob]\npassword = 'abcd'"),
            "basic_auth.users.bob.password"
        );
        assert_eq!(
            error_key("hash_algorithm = 'SHA-256'\n[users.bob]\npassword = 'abcd'"),
            "basic_auth.users.bob.password"
        );
        assert_eq!(
            error_key("[users.'a:b']\npassword = 'plain:x'"),
            "basic_auth.users.a:b"
        );
        assert_eq!(
            error_key("hash_iterations = 0"),
            "basic_auth.hash_iterations"
        );
        let digest = "A".repeat(128);
        assert!(basic(&format!(
            "hash_algorithm = 'SHA-512'\n[users.bob]\npassword = '{digest}'"
        ))
        .validate()
        .is_ok());
    }

    #[test]
    fn serialization_hides_passwords() {
        let settings = basic("[users.bob]\npassword = 'plain:topsecret'\nteam = 'ops'");
        let text = serde_json::to_string(&settings).unwrap();
        assert!(!text.contains("topsecret"), "{text}");
        assert!(text.contains("\"team\":\"ops\""), "{text}");
    }
}
