//! Environment overrides: `PORTCULLIS_<SECTION>__<KEY>[__<SUBKEY>…]=value`, and `JWT_SECRET`.
//!
//! * A double underscore separates levels; each level is lower-cased to its snake_case key:
//!   `PORTCULLIS_JWT__TOKEN_STORAGE__DRIVER=redis` sets `jwt.token_storage.driver`.
//! * For a key whose value is text (e.g. `jwt.secret_key`, `jwt.issuer`, durations), the
//!   value is taken verbatim, so `PORTCULLIS_JWT__SECRET_KEY=12345` is the text `12345`.
//!   For a boolean key, `true/false/yes/no/1/0` in any case. Otherwise the value is read as a
//!   TOML value when it parses (`42`, `true`, `["a", "b"]`, `{ driver = "sql" }`) and as text
//!   when it does not (`10.0.0.0/8, 192.168.0.0/16`).
//! * Variables without a double underscore (e.g. `PORTCULLIS_CONFIG`) are not settings and
//!   are ignored. Map keys set this way are lower-case.
//! * The environment beats the file. `JWT_SECRET` (cbsecurity's variable) fills
//!   `jwt.secret_key` only when neither the file nor `PORTCULLIS_JWT__SECRET_KEY` set it,
//!   `jwt.secret_key_file` is not set and the algorithm is an HMAC one.
//!
//! ```
//! use portcullis::settings::{Settings, SettingsSource, StorageDriver};
//!
//! let env = [
//!     ("PORTCULLIS_JWT__TOKEN_STORAGE__DRIVER".to_owned(), "redis".to_owned()),
//!     ("PORTCULLIS_JWT__EXPIRATION".to_owned(), "15m".to_owned()),
//!     ("JWT_SECRET".to_owned(), "from-jwt-secret".to_owned()),
//! ];
//! let settings = Settings::load_with_env(SettingsSource::Defaults, env).unwrap();
//! assert_eq!(settings.jwt.token_storage.driver, StorageDriver::Redis);
//! assert_eq!(settings.jwt.expiration.as_secs(), 900);
//! assert_eq!(settings.jwt.secret_key.expose(), b"from-jwt-secret");
//! ```

use serde_json::Value as Shape;
use toml::{Table, Value};

use crate::{Error, Result};

/// The prefix of every settings variable.
pub const PREFIX: &str = "PORTCULLIS_";

/// cbsecurity's variable for the JWT secret.
pub const JWT_SECRET: &str = "JWT_SECRET";

/// An override that was applied: the variable and the dotted key it set.
#[derive(Debug, Clone)]
pub(crate) struct Applied {
    pub(crate) var: String,
    pub(crate) key: String,
}

/// Reads a variable's value the way the target key expects (see the module docs).
fn value_for(raw: &str, shape: Option<&Shape>) -> Value {
    match shape {
        Some(Shape::String(_)) => return Value::String(raw.to_owned()),
        Some(Shape::Bool(_)) => {
            let word = raw.trim().to_ascii_lowercase();
            match word.as_str() {
                "true" | "yes" | "1" | "on" => return Value::Boolean(true),
                "false" | "no" | "0" | "off" => return Value::Boolean(false),
                _ => {}
            }
        }
        _ => {}
    }
    match format!("value = {raw}").parse::<Table>() {
        Ok(mut table) if table.len() == 1 => table
            .remove("value")
            .unwrap_or_else(|| Value::String(raw.to_owned())),
        _ => Value::String(raw.to_owned()),
    }
}

/// Sets `path` in `table` to `value`, creating tables on the way.
fn set(table: &mut Table, path: &[String], value: Value, var: &str) -> Result<()> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut current = table;
    for (depth, segment) in parents.iter().enumerate() {
        let entry = current
            .entry(segment.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        current = match entry {
            Value::Table(inner) => inner,
            other => {
                let key = path[..=depth].join(".");
                let kind = other.type_str();
                let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                return Err(Error::config(
                    key,
                    format!(
                        "is {article} {kind} in the settings, so {var} cannot set a key inside \
                         it; write it as a table"
                    ),
                ));
            }
        };
    }
    current.insert(last.clone(), value);
    Ok(())
}

/// Applies every `PORTCULLIS_…__…` variable to `table`, in name order. `shape` is the
/// serialized default settings, used to tell text keys from others.
pub(crate) fn apply(
    table: &mut Table,
    vars: &[(String, String)],
    shape: &Shape,
) -> Result<Vec<Applied>> {
    let mut applied = Vec::new();
    let mut ours: Vec<&(String, String)> = vars
        .iter()
        .filter(|(name, _)| name.starts_with(PREFIX) && name.contains("__"))
        .collect();
    ours.sort_by(|a, b| a.0.cmp(&b.0));
    for (var, raw) in ours {
        let path: Vec<String> = var[PREFIX.len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        if path.iter().any(String::is_empty) {
            return Err(Error::config(
                var.clone(),
                "malformed settings variable: write PORTCULLIS_SECTION__KEY[__SUBKEY…]",
            ));
        }
        let target = path
            .iter()
            .try_fold(shape, |node, segment| node.get(segment.as_str()));
        set(table, &path, value_for(raw, target), var)?;
        applied.push(Applied {
            var: var.clone(),
            key: path.join("."),
        });
    }
    Ok(applied)
}

/// Fills `jwt.secret_key` from `JWT_SECRET` when nothing else set a secret (see the module
/// docs). Returns the override when it applied.
pub(crate) fn apply_jwt_secret(table: &mut Table, vars: &[(String, String)]) -> Option<Applied> {
    let secret = vars
        .iter()
        .rev()
        .find(|(name, _)| name == JWT_SECRET)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())?;
    let jwt = table
        .entry("jwt".to_owned())
        .or_insert_with(|| Value::Table(Table::new()))
        .as_table_mut()?;
    let has_secret = jwt
        .get("secret_key")
        .is_some_and(|value| value.as_str() != Some(""));
    let hmac = jwt
        .get("algorithm")
        .and_then(Value::as_str)
        .is_none_or(|name| name.trim().to_ascii_lowercase().starts_with("hs"));
    if has_secret || jwt.contains_key("secret_key_file") || !hmac {
        return None;
    }
    jwt.insert("secret_key".to_owned(), Value::String(secret.clone()));
    Some(Applied {
        var: JWT_SECRET.to_owned(),
        key: "jwt.secret_key".to_owned(),
    })
}

/// The process environment as UTF-8 pairs. A settings variable whose value is not UTF-8 is
/// an error; other non-UTF-8 variables are not ours and are skipped.
pub(crate) fn process_vars() -> Result<Vec<(String, String)>> {
    let mut vars = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Ok(name) = name.into_string() else {
            continue;
        };
        let ours = name.starts_with(PREFIX) || name == JWT_SECRET;
        match value.into_string() {
            Ok(value) => vars.push((name, value)),
            Err(_) if ours => {
                return Err(Error::config(name, "the value is not valid UTF-8"));
            }
            Err(_) => {}
        }
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn values_follow_the_shape() {
        assert_eq!(
            value_for("12345", Some(&json!(""))),
            Value::String("12345".into())
        );
        assert_eq!(value_for("12345", None), Value::Integer(12345));
        assert_eq!(value_for("YES", Some(&json!(false))), Value::Boolean(true));
        assert_eq!(
            value_for("maybe", Some(&json!(false))),
            Value::String("maybe".into())
        );
        assert_eq!(
            value_for("[\"a\", \"b\"]", Some(&json!([]))),
            Value::Array(vec![Value::String("a".into()), Value::String("b".into())])
        );
        assert_eq!(
            value_for("a, b", Some(&json!([]))),
            Value::String("a, b".into())
        );
        assert_eq!(
            value_for("1\nother = 2", None),
            Value::String("1\nother = 2".into())
        );
    }

    #[test]
    fn nested_keys_and_order() {
        let mut table = Table::new();
        let applied = apply(
            &mut table,
            &vars(&[
                ("PORTCULLIS_JWT__TOKEN_STORAGE__DRIVER", "redis"),
                (
                    "PORTCULLIS_JWT__TOKEN_STORAGE",
                    "{ driver = 'sql', enabled = false }",
                ),
                ("PORTCULLIS_CONFIG", "ignored.toml"),
                ("OTHER", "x"),
            ]),
            &json!({}),
        )
        .unwrap();
        assert_eq!(applied.len(), 2);
        assert_eq!(applied[1].key, "jwt.token_storage.driver");
        let storage = &table["jwt"]["token_storage"];
        assert_eq!(storage["driver"].as_str(), Some("redis"));
        assert_eq!(storage["enabled"].as_bool(), Some(false));
    }

    #[test]
    fn malformed_and_blocked_paths() {
        let mut table = Table::new();
        let err = apply(
            &mut table,
            &vars(&[("PORTCULLIS_JWT____X", "1")]),
            &json!({}),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Config { ref key, .. } if key == "PORTCULLIS_JWT____X"));
        let mut table: Table = "[firewall]\nrules = []".parse().unwrap();
        let err = apply(
            &mut table,
            &vars(&[("PORTCULLIS_FIREWALL__RULES__USE_REGEX", "false")]),
            &json!({}),
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::Config { ref key, .. } if key == "firewall.rules"),
            "{err}"
        );
    }

    #[test]
    fn jwt_secret_only_fills_a_gap() {
        let env = vars(&[("JWT_SECRET", "env")]);
        let mut table = Table::new();
        assert!(apply_jwt_secret(&mut table, &env).is_some());
        assert_eq!(table["jwt"]["secret_key"].as_str(), Some("env"));
        for text in [
            "[jwt]\nsecret_key = 'file'",
            "[jwt]\nsecret_key_file = 'k'",
            "[jwt]\nalgorithm = 'RS256'",
        ] {
            let mut table: Table = text.parse().unwrap();
            assert!(apply_jwt_secret(&mut table, &env).is_none(), "{text}");
        }
        let mut table: Table = "[jwt]\nsecret_key = ''".parse().unwrap();
        assert!(apply_jwt_secret(&mut table, &env).is_some());
        let mut table = Table::new();
        assert!(apply_jwt_secret(&mut table, &vars(&[("JWT_SECRET", "")])).is_none());
    }
}
