//! [`Properties`]: a free-form table of driver or provider settings, printed without secrets.
//!
//! Token-storage drivers and rule providers take a table of their own settings
//! (`jwt.token_storage.properties`, `firewall.rules.provider.properties`). Values whose key
//! mentions `password`, `secret` or `token` are shown as `"<redacted>"`, and URLs lose their
//! password, in `Debug` and in serialization.
//!
//! ```
//! use portcullis::settings::Properties;
//!
//! let props: Properties = toml::from_str(
//!     "url = 'postgres://app:hunter2@db/app'\ntable = 'tokens'",
//! ).unwrap();
//! assert_eq!(props.get("table").and_then(|v| v.as_str()), Some("tokens"));
//! assert!(!format!("{props:?}").contains("hunter2"));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::secret::{redact_url, REDACTED};

/// A table of string keys to any values, as given in the settings file.
///
/// Default: empty. Keys keep the spelling they were given; [`Properties::get`] looks them up
/// ignoring case and `_`, so cbsecurity's `autoCreate` and `auto_create` are the same key.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Properties(BTreeMap<String, Value>);

/// A key reduced to lower case without `_` or `-`, for comparing spellings.
pub(crate) fn folded(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

impl Properties {
    /// The value under `key`, compared ignoring case, `_` and `-`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        let wanted = folded(key);
        self.0
            .iter()
            .find(|(name, _)| folded(name) == wanted)
            .map(|(_, value)| value)
    }

    /// Sets `key` to `value`, replacing an entry spelled the same way.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        self.0.insert(key.into(), value)
    }

    /// The entries in key order, as given.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }

    /// `true` if there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The entries as a map.
    pub fn as_map(&self) -> &BTreeMap<String, Value> {
        &self.0
    }

    /// The entries with secrets redacted, as printed and serialized.
    fn redacted(&self) -> BTreeMap<&str, Value> {
        self.0
            .iter()
            .map(|(key, value)| (key.as_str(), redact_value(key, value)))
            .collect()
    }
}

impl From<BTreeMap<String, Value>> for Properties {
    fn from(map: BTreeMap<String, Value>) -> Self {
        Properties(map)
    }
}

/// `true` if a key's name says its value is a credential.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let key = folded(key);
    ["password", "secret", "token", "credential", "apikey"]
        .iter()
        .any(|word| key.contains(word))
}

fn redact_value(key: &str, value: &Value) -> Value {
    match value {
        Value::String(text) if is_secret_key(key) && !text.is_empty() => {
            Value::String(REDACTED.to_owned())
        }
        Value::String(text) => Value::String(redact_url(text)),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact_value(k, v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| redact_value(key, v)).collect()),
        _ if is_secret_key(key) => Value::String(REDACTED.to_owned()),
        other => other.clone(),
    }
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.redacted()).finish()
    }
}

impl Serialize for Properties {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.redacted().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_ignores_spelling() {
        let props: Properties =
            serde_json::from_value(json!({"autoCreate": false, "rotation_days": 3})).unwrap();
        assert_eq!(props.get("auto_create"), Some(&json!(false)));
        assert_eq!(props.get("rotationDays"), Some(&json!(3)));
        assert_eq!(props.get("missing"), None);
        assert_eq!(props.len(), 2);
    }

    #[test]
    fn secrets_are_redacted() {
        let props: Properties = serde_json::from_value(json!({
            "password": "pw1", "api_token": 7, "nested": {"clientSecret": "pw2"},
            "url": "redis://u:pw3@h/0", "table": "t"
        }))
        .unwrap();
        let shown = format!("{props:?}") + &serde_json::to_string(&props).unwrap();
        for leaked in ["pw1", "pw2", "pw3", "7"] {
            assert!(!shown.contains(leaked), "{leaked} in {shown}");
        }
        assert!(shown.contains("\"t\""));
    }
}
