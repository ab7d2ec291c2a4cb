//! The claims of a verified (or freshly issued) token.
//!
//! Registered claims are typed (`iss`, `sub`, `jti`, `scope`, `iat`, `exp`, `nbf`, `aud`,
//! and the token-type markers `token_use` / `cbsecurity_refresh`); every other claim is kept
//! as JSON and read with [`Claims::get`] or [`Claims::custom`].
//!
//! ```
//! use portcullis::jwt::{Algorithm, SigningKey, TokenBuilder, TokenType};
//!
//! let key = SigningKey::from_secret(Algorithm::HS256, &[1; 32]).unwrap();
//! let issued = TokenBuilder::new("https://id.example.com", "42")
//!     .scope(["orders:read", "orders:write"])
//!     .claim("role", "admin")
//!     .issue(&key)
//!     .unwrap();
//! let claims = issued.claims;
//! assert_eq!(claims.sub(), Some("42"));
//! assert!(claims.has_scope("ORDERS:READ")); // case-insensitive, as cbsecurity
//! assert_eq!(claims.custom::<String>("role").unwrap().as_deref(), Some("admin"));
//! assert_eq!(claims.token_type(), TokenType::Access);
//! ```

use serde::de::DeserializeOwned;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::payload::{CBSECURITY_REFRESH, TOKEN_USE};
use crate::{Error, InvalidToken};

/// Whether a token grants access or only the right to get new tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// An access token: accepted by the firewall, validators and guards.
    Access,
    /// A refresh token: accepted only by the refresh operation.
    Refresh,
}

impl TokenType {
    /// `"access"` or `"refresh"`, the value of the `token_use` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Access => "access",
            TokenType::Refresh => "refresh",
        }
    }
}

/// The claims of a token. Built by verification or issuance; never from unchecked input.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    pub(crate) iss: Option<String>,
    pub(crate) sub: Option<String>,
    pub(crate) jti: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) iat: Option<i64>,
    pub(crate) exp: Option<i64>,
    pub(crate) nbf: Option<i64>,
    pub(crate) aud: Option<Vec<String>>,
    pub(crate) token_use: Option<String>,
    pub(crate) cbsecurity_refresh: Option<bool>,
    pub(crate) extra: Map<String, Value>,
}

impl Claims {
    /// `iss`: who issued the token.
    pub fn iss(&self) -> Option<&str> {
        self.iss.as_deref()
    }

    /// `sub`: the user's id. A numeric `sub` (as cbsecurity issues) reads as its decimal text.
    pub fn sub(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// `jti`: the token's unique id, the key of token storage.
    pub fn jti(&self) -> Option<&str> {
        self.jti.as_deref()
    }

    /// `scope`: the space-delimited scopes, as sent.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The scopes, one by one.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.as_deref().unwrap_or("").split_whitespace()
    }

    /// Whether `scope` lists `wanted`, ignoring ASCII case (cbsecurity compares
    /// case-insensitively; keep scope names distinct in more than case).
    pub fn has_scope(&self, wanted: &str) -> bool {
        self.scopes().any(|s| s.eq_ignore_ascii_case(wanted))
    }

    /// `iat`: when the token was issued, in Unix seconds.
    pub fn iat(&self) -> Option<i64> {
        self.iat
    }

    /// `exp`: when the token expires, in Unix seconds.
    pub fn exp(&self) -> Option<i64> {
        self.exp
    }

    /// `nbf`: when the token becomes valid, in Unix seconds.
    pub fn nbf(&self) -> Option<i64> {
        self.nbf
    }

    /// `aud`: the audiences (a single string reads as a list of one).
    pub fn audience(&self) -> &[String] {
        self.aud.as_deref().unwrap_or(&[])
    }

    /// The token's type: refresh when `token_use` is `"refresh"` or `cbsecurity_refresh` is
    /// `true`, access otherwise.
    pub fn token_type(&self) -> TokenType {
        if self.token_use.as_deref() == Some("refresh") || self.cbsecurity_refresh == Some(true) {
            TokenType::Refresh
        } else {
            TokenType::Access
        }
    }

    /// A claim outside the registered set, as JSON.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.extra.get(name)
    }

    /// A claim outside the registered set, deserialised into `T`; `Ok(None)` when absent.
    pub fn custom<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, Error> {
        self.extra
            .get(name)
            .map(|value| {
                T::deserialize(value).map_err(|err| {
                    Error::invalid(InvalidToken::BadJson {
                        segment: "payload",
                        detail: format!("claim `{name}`: {err}"),
                    })
                })
            })
            .transpose()
    }

    /// Every claim outside the registered set.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// All claims as one JSON object, as they appear in the token.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let strings = [
            ("iss", &self.iss),
            ("sub", &self.sub),
            ("jti", &self.jti),
            ("scope", &self.scope),
        ];
        for (name, value) in strings {
            if let Some(value) = value {
                map.serialize_entry(name, value)?;
            }
        }
        for (name, value) in [("iat", self.iat), ("exp", self.exp), ("nbf", self.nbf)] {
            if let Some(value) = value {
                map.serialize_entry(name, &value)?;
            }
        }
        if let Some(aud) = &self.aud {
            map.serialize_entry("aud", aud)?;
        }
        if let Some(token_use) = &self.token_use {
            map.serialize_entry(TOKEN_USE, token_use)?;
        }
        if let Some(refresh) = self.cbsecurity_refresh {
            map.serialize_entry(CBSECURITY_REFRESH, &refresh)?;
        }
        for (name, value) in &self.extra {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}
