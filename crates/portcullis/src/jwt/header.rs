//! The JOSE header of a compact token, parsed without trusting anything in it.
//!
//! Only `alg` and `kid` are read. A header that lists critical extensions (`crit`, or the
//! RFC 7797 `b64` member), or carries or points to a key (`jwk`, `jku`, `x5c`, `x5u`), is
//! refused: portcullis implements no extension and takes keys from settings only. Repeated
//! members are refused.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};

use super::json::{Name, SeenNames};
use crate::InvalidToken;

/// The header members portcullis reads.
pub(crate) struct Header<'a> {
    /// The algorithm the token claims; compared byte for byte with the key's.
    pub(crate) alg: Cow<'a, str>,
    /// The key id, used to pick among several verification keys.
    pub(crate) kid: Option<Cow<'a, str>>,
}

/// What the visitor found, before the refusals are decided.
struct Raw<'a> {
    alg: Option<Cow<'a, str>>,
    kid: Option<Cow<'a, str>>,
    critical: bool,
    embedded_key: Option<&'static str>,
}

/// Parses the decoded header JSON.
pub(crate) fn parse(json: &[u8]) -> Result<Header<'_>, InvalidToken> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let raw = de::Deserializer::deserialize_map(&mut deserializer, HeaderVisitor)
        .and_then(|raw| deserializer.end().map(|()| raw))
        .map_err(|err| InvalidToken::BadJson {
            segment: "header",
            detail: err.to_string(),
        })?;
    if raw.critical {
        return Err(InvalidToken::UnsupportedCritical);
    }
    if let Some(member) = raw.embedded_key {
        return Err(InvalidToken::EmbeddedKey { member });
    }
    let alg = raw.alg.ok_or_else(|| InvalidToken::BadJson {
        segment: "header",
        detail: "no `alg` member".into(),
    })?;
    Ok(Header { alg, kid: raw.kid })
}

/// Header members that carry or point to a key.
const KEY_MEMBERS: [&str; 4] = ["jwk", "jku", "x5c", "x5u"];

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Raw<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut raw = Raw {
            alg: None,
            kid: None,
            critical: false,
            embedded_key: None,
        };
        let mut seen = SeenNames::default();
        while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
            seen.insert(name.clone())?;
            match name.as_ref() {
                "alg" => raw.alg = Some(map.next_value::<Name<'de>>()?.0),
                "kid" => raw.kid = Some(map.next_value::<Name<'de>>()?.0),
                "crit" | "b64" => {
                    raw.critical = true;
                    map.next_value::<IgnoredAny>()?;
                }
                other => {
                    if let Some(member) = KEY_MEMBERS.iter().find(|m| **m == other) {
                        raw.embedded_key.get_or_insert(member);
                    }
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_alg_and_kid() {
        let header = parse(br#"{"typ":"JWT","alg":"HS256","kid":"k1"}"#)
            .ok()
            .unwrap();
        assert_eq!(header.alg, "HS256");
        assert_eq!(header.kid.as_deref(), Some("k1"));
    }

    #[test]
    fn refusals() {
        let cases: [(&[u8], &str); 8] = [
            (br#"{"alg":"HS256","alg":"none"}"#, "duplicate member `alg`"),
            (br#"{"alg":"HS256","crit":["exp"]}"#, "critical"),
            (br#"{"alg":"HS256","b64":false}"#, "critical"),
            (br#"{"alg":"ES256","jwk":{"kty":"EC"}}"#, "`jwk`"),
            (br#"{"alg":"RS256","jku":"https://evil"}"#, "`jku`"),
            (br#"{"typ":"JWT"}"#, "no `alg`"),
            (br#"{"alg":256}"#, "not a valid JSON object"),
            (br#"["alg"]"#, "not a valid JSON object"),
        ];
        for (json, expected) in cases {
            let err = parse(json).err().unwrap().to_string();
            assert!(
                err.contains(expected),
                "{err} for {}",
                String::from_utf8_lossy(json)
            );
        }
    }
}
