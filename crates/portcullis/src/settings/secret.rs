//! [`Secret`]: a setting that must never be printed.
//!
//! Signing secrets, passwords (and password hashes) and connection strings that may carry a
//! password are held in a `Secret`. Its `Debug` and its serialization show `"<redacted>"` (or
//! `""` when it is empty), so `format!("{settings:?}")` and the visualizer never leak it.
//! Reading the redacted placeholder back is refused, so a printed settings file cannot be
//! loaded with `"<redacted>"` as a real secret.
//!
//! ```
//! use portcullis::settings::Secret;
//!
//! let secret = Secret::new("s3cr3t");
//! assert_eq!(format!("{secret:?}"), "\"<redacted>\"");
//! assert_eq!(secret.expose(), b"s3cr3t");
//! assert_eq!(serde_json::to_string(&secret).unwrap(), "\"<redacted>\"");
//! assert!(serde_json::from_str::<Secret>("\"<redacted>\"").is_err());
//! ```

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The text that stands for a secret in debug output and serialization.
pub const REDACTED: &str = "<redacted>";

/// A secret setting value: bytes that `Debug` and `Serialize` never reveal.
///
/// Default: empty. Equality is a plain (not constant-time) comparison, meant for comparing
/// settings; never use it to check a credential.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret holding the UTF-8 bytes of `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into().into_bytes())
    }

    /// A secret holding `bytes` exactly (e.g. read from a key file).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }

    /// The secret's bytes. Keep them out of logs and error messages.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret as text, if it is valid UTF-8. Keep it out of logs and error messages.
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// `true` if the secret holds no bytes (i.e. it was not set).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of bytes in the secret.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    fn shown(&self) -> &'static str {
        if self.is_empty() {
            ""
        } else {
            REDACTED
        }
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Secret::new(text)
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Secret::new(text)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.shown())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.shown())
    }
}

struct SecretVisitor;

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Secret, E> {
        if text == REDACTED {
            return Err(E::custom(
                "\"<redacted>\" is the placeholder printed in place of a secret, not a secret: \
                 set the real value",
            ));
        }
        Ok(Secret::new(text))
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(SecretVisitor)
    }
}

/// Replaces the password of a `scheme://user:password@host/…` URL with `<redacted>`;
/// other text is returned unchanged.
pub(crate) fn redact_url(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return text.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:{REDACTED}@{host}{tail}"),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_secret_shows_empty() {
        assert_eq!(format!("{:?}", Secret::default()), "\"\"");
        assert_eq!(serde_json::to_string(&Secret::default()).unwrap(), "\"\"");
        assert!(Secret::default().is_empty());
    }

    #[test]
    fn bytes_and_text() {
        let secret = Secret::from_bytes(vec![0xff, 0x00]);
        assert_eq!(secret.len(), 2);
        assert_eq!(secret.expose_str(), None);
        assert_eq!(Secret::from("é").expose_str(), Some("é"));
        assert!(!format!("{secret:?}").contains("255"));
    }

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/x?sslmode=require"),
            "postgres://app:<redacted>@db:5432/x?sslmode=require"
        );
        assert_eq!(redact_url("redis://db:6379"), "redis://db:6379");
        assert_eq!(
            redact_url("sqlite://portcullis.db"),
            "sqlite://portcullis.db"
        );
        assert_eq!(redact_url("user@host"), "user@host");
    }
}
