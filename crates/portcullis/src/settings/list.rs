//! Value shapes shared by many settings: comma lists, loose booleans, IP ranges, optional text.
//!
//! cbsecurity writes lists as comma-delimited strings (`"admin, editor"`); TOML users write
//! arrays. Both are accepted wherever a list is expected: elements are trimmed and empty ones
//! dropped. In an array, an element may contain commas (useful for regular expressions such as
//! `a{1,3}`); in a string it cannot.
//!
//! ```
//! use portcullis::settings::RuleSpec;
//!
//! let from_string: RuleSpec = serde_json::from_value(serde_json::json!({
//!     "secureList": "^admin, ,^api ", "roles": "admin,editor"
//! })).unwrap();
//! let from_array: RuleSpec = serde_json::from_value(serde_json::json!({
//!     "securelist": ["^admin", "^api"], "roles": ["admin", "editor"]
//! })).unwrap();
//! assert_eq!(from_string.securelist, vec!["^admin", "^api"]);
//! assert_eq!(from_string, from_array);
//! ```

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

struct ListVisitor;

impl<'de> Visitor<'de> for ListVisitor {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a comma-separated string or an array of strings")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            let item = item.trim();
            if !item.is_empty() {
                items.push(item.to_owned());
            }
        }
        Ok(items)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
}

/// A list given as a comma string or an array; elements trimmed, empties dropped.
pub(crate) fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    d.deserialize_any(ListVisitor)
}

/// Parses one IP address or CIDR range; a bare address becomes a one-address range.
pub(crate) fn parse_ip_net(text: &str) -> Result<IpNet, String> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{text:?} is not an IP address or CIDR range (e.g. 10.0.0.0/8, ::1)"))
}

/// A list of IP addresses or CIDR ranges. `*` is refused: it would allow every address.
pub(crate) fn ip_nets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    strings(d)?
        .iter()
        .map(|item| {
            if item == "*" {
                Err(de::Error::custom(
                    "`*` is not accepted here: list addresses or CIDR ranges",
                ))
            } else {
                parse_ip_net(item).map_err(de::Error::custom)
            }
        })
        .collect()
}

/// A list of IP addresses or CIDR ranges where `*` (cbsecurity's default) means "any":
/// the result is then empty.
pub(crate) fn ip_nets_or_any<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    let items = strings(d)?;
    if items.iter().any(|item| item == "*") {
        if items.len() > 1 {
            return Err(de::Error::custom(
                "`*` (any address) cannot be combined with other addresses",
            ));
        }
        return Ok(Vec::new());
    }
    items
        .iter()
        .map(|item| parse_ip_net(item).map_err(de::Error::custom))
        .collect()
}

struct FlagVisitor;

impl<'de> Visitor<'de> for FlagVisitor {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a boolean (true/false, yes/no, 1/0)")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Some(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        match value {
            0 => Ok(Some(false)),
            1 => Ok(Some(true)),
            _ => Err(E::custom(format!(
                "{value} is not a boolean (use true or false)"
            ))),
        }
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        match value {
            0 => Ok(Some(false)),
            1 => Ok(Some(true)),
            _ => Err(E::custom(format!(
                "{value} is not a boolean (use true or false)"
            ))),
        }
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        let word = text.trim();
        if word.is_empty() {
            return Ok(None);
        }
        for (yes, no) in [("true", "false"), ("yes", "no"), ("1", "0"), ("on", "off")] {
            if word.eq_ignore_ascii_case(yes) {
                return Ok(Some(true));
            }
            if word.eq_ignore_ascii_case(no) {
                return Ok(Some(false));
            }
        }
        Err(E::custom(format!(
            "{text:?} is not a boolean (use true or false)"
        )))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A boolean that may also arrive as text (XML rule files) or as 0/1 (database columns).
/// An empty string or null means "not given".
pub(crate) fn loose_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_any(FlagVisitor)
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        let text = text.trim();
        Ok((!text.is_empty()).then(|| text.to_owned()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Optional text: an empty (or blank) string or null is `None`; integers (database ids) are
/// taken as their decimal text. Surrounding white space is trimmed.
pub(crate) fn optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(TextVisitor)
}

/// `true` if `name` is a valid HTTP header name / method token (RFC 9110 `token`).
pub(crate) fn is_http_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `true` if `value` can be sent as an HTTP header value (visible ASCII, spaces and tabs; no
/// line breaks or other control characters).
pub(crate) fn is_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80)
}

/// `true` if `name` is a plain SQL identifier (letters, digits, `_`; not starting with a
/// digit; at most 63 characters), safe to put into a statement.
pub(crate) fn is_sql_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_from_strings_and_arrays() {
        assert_eq!(strings(json!(" a, ,b ,")).unwrap(), vec!["a", "b"]);
        assert_eq!(
            strings(json!([" a", "", "b{1,2}"])).unwrap(),
            vec!["a", "b{1,2}"]
        );
        assert!(strings(json!(null)).unwrap().is_empty());
        assert!(strings(json!(3)).is_err());
    }

    #[test]
    fn ip_lists() {
        let nets = ip_nets(json!("10.1.2.3/8, ::1")).unwrap();
        assert_eq!(nets[0].to_string(), "10.0.0.0/8");
        assert_eq!(nets[1].to_string(), "::1/128");
        assert!(ip_nets(json!("*")).is_err());
        assert!(ip_nets_or_any(json!("*")).unwrap().is_empty());
        assert!(ip_nets_or_any(json!("*, 10.0.0.1")).is_err());
        let err = ip_nets(json!(["10.0.0.0/33"])).unwrap_err().to_string();
        assert!(
            err.contains("\"10.0.0.0/33\" is not an IP address"),
            "{err}"
        );
    }

    #[test]
    fn loose_booleans() {
        for (value, expected) in [
            (json!(true), Some(true)),
            (json!("YES"), Some(true)),
            (json!("0"), Some(false)),
            (json!(1), Some(true)),
            (json!("false"), Some(false)),
            (json!(""), None),
            (json!(null), None),
        ] {
            assert_eq!(loose_bool(value.clone()).unwrap(), expected, "{value}");
        }
        assert!(loose_bool(json!("maybe")).is_err());
        assert!(loose_bool(json!(2)).is_err());
    }

    #[test]
    fn optional_texts() {
        assert_eq!(optional_text(json!("  ")).unwrap(), None);
        assert_eq!(optional_text(json!(" x ")).unwrap(), Some("x".into()));
        assert_eq!(optional_text(json!(42)).unwrap(), Some("42".into()));
        assert!(optional_text(json!(true)).is_err());
    }

    #[test]
    fn http_tokens_and_values() {
        assert!(is_http_token("x-auth-token"));
        assert!(!is_http_token("x auth"));
        assert!(!is_http_token(""));
        assert!(is_header_value("max-age=1; preload"));
        assert!(!is_header_value("a\r\nSet-Cookie: x"));
    }

    #[test]
    fn sql_identifiers() {
        assert!(is_sql_identifier("cbsecurity_logs"));
        assert!(!is_sql_identifier("1logs"));
        assert!(!is_sql_identifier("logs; drop table x"));
        assert!(!is_sql_identifier(""));
    }
}
