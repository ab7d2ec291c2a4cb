//! The token payload as parsed, before validation: each registered claim is absent, present
//! with the right JSON type, or present with a wrong one. Wrong types are recorded rather
//! than failing the parse, so that validation can report problems in its fixed order
//! (an expired token is reported as expired even if another claim is malformed) and never
//! skips a malformed claim.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::claims::Claims;
use super::json::Name;
use crate::InvalidToken;

/// A registered claim as found in the payload.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Slot<T> {
    Absent,
    Present(T),
    WrongType,
}

impl<T> Slot<T> {
    /// Present with the right type, or absent; a wrong type is an error naming the claim.
    pub(crate) fn checked(
        self,
        claim: &'static str,
        expected: &'static str,
    ) -> Result<Option<T>, InvalidToken> {
        match self {
            Slot::Absent => Ok(None),
            Slot::Present(value) => Ok(Some(value)),
            Slot::WrongType => Err(InvalidToken::ClaimType { claim, expected }),
        }
    }

    /// Whether the claim appears at all.
    pub(crate) fn is_present(&self) -> bool {
        !matches!(self, Slot::Absent)
    }
}

/// What each registered claim must be, for error messages.
pub(crate) const A_STRING: &str = "a string";
pub(crate) const A_NUMERIC_DATE: &str = "a number of seconds since 1970 (NumericDate)";
pub(crate) const A_STRING_OR_LIST: &str = "a string or an array of strings";
pub(crate) const A_BOOLEAN: &str = "a boolean";
pub(crate) const A_TOKEN_USE: &str = "\"access\" or \"refresh\"";

/// The payload, parsed.
#[derive(Debug)]
pub(crate) struct RawClaims {
    pub(crate) iss: Slot<String>,
    pub(crate) sub: Slot<String>,
    pub(crate) jti: Slot<String>,
    pub(crate) scope: Slot<String>,
    pub(crate) iat: Slot<i64>,
    pub(crate) exp: Slot<i64>,
    pub(crate) nbf: Slot<i64>,
    pub(crate) aud: Slot<Vec<String>>,
    pub(crate) token_use: Slot<String>,
    pub(crate) cbsecurity_refresh: Slot<bool>,
    pub(crate) extra: Map<String, Value>,
}

impl RawClaims {
    /// Parses payload JSON. Anything but one JSON object, or a repeated claim, is refused.
    pub(crate) fn parse(json: &[u8]) -> Result<Self, InvalidToken> {
        // UTF-8 is checked once for the whole payload; parsing text then skips per-string checks.
        let text = std::str::from_utf8(json).map_err(|err| InvalidToken::BadJson {
            segment: "payload",
            detail: err.to_string(),
        })?;
        let mut deserializer = serde_json::Deserializer::from_str(text);
        deserializer
            .deserialize_map(RawVisitor)
            .and_then(|raw| deserializer.end().map(|()| raw))
            .map_err(|err| InvalidToken::BadJson {
                segment: "payload",
                detail: err.to_string(),
            })
    }

    /// Reads a payload built in memory (token issuance).
    pub(crate) fn from_map(map: Map<String, Value>) -> Result<Self, InvalidToken> {
        Value::Object(map)
            .deserialize_map(RawVisitor)
            .map_err(|err| InvalidToken::BadJson {
                segment: "payload",
                detail: err.to_string(),
            })
    }

    /// Whether a claim named `name` appears (registered or not).
    pub(crate) fn has(&self, name: &str) -> bool {
        match name {
            "iss" => self.iss.is_present(),
            "sub" => self.sub.is_present(),
            "jti" => self.jti.is_present(),
            "scope" => self.scope.is_present(),
            "iat" => self.iat.is_present(),
            "exp" => self.exp.is_present(),
            "nbf" => self.nbf.is_present(),
            "aud" => self.aud.is_present(),
            TOKEN_USE => self.token_use.is_present(),
            CBSECURITY_REFRESH => self.cbsecurity_refresh.is_present(),
            other => self.extra.contains_key(other),
        }
    }

    /// Converts to [`Claims`], refusing any registered claim of the wrong type.
    pub(crate) fn into_claims(self) -> Result<Claims, InvalidToken> {
        let token_use = self.token_use.checked(TOKEN_USE, A_TOKEN_USE)?;
        if token_use
            .as_deref()
            .is_some_and(|t| t != "access" && t != "refresh")
        {
            return Err(InvalidToken::ClaimType {
                claim: TOKEN_USE,
                expected: A_TOKEN_USE,
            });
        }
        Ok(Claims {
            exp: self.exp.checked("exp", A_NUMERIC_DATE)?,
            nbf: self.nbf.checked("nbf", A_NUMERIC_DATE)?,
            iss: self.iss.checked("iss", A_STRING)?,
            aud: self.aud.checked("aud", A_STRING_OR_LIST)?,
            iat: self.iat.checked("iat", A_NUMERIC_DATE)?,
            sub: self.sub.checked("sub", A_STRING)?,
            jti: self.jti.checked("jti", A_STRING)?,
            scope: self.scope.checked("scope", A_STRING)?,
            token_use,
            cbsecurity_refresh: self
                .cbsecurity_refresh
                .checked(CBSECURITY_REFRESH, A_BOOLEAN)?,
            extra: self.extra,
        })
    }
}

/// The claim naming a token's type: `"access"` or `"refresh"`.
pub const TOKEN_USE: &str = "token_use";
/// cbsecurity's refresh-token marker, kept so its refresh tokens are recognised.
pub const CBSECURITY_REFRESH: &str = "cbsecurity_refresh";

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawClaims;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawClaims, A::Error> {
        let mut raw = RawClaims {
            iss: Slot::Absent,
            sub: Slot::Absent,
            jti: Slot::Absent,
            scope: Slot::Absent,
            iat: Slot::Absent,
            exp: Slot::Absent,
            nbf: Slot::Absent,
            aud: Slot::Absent,
            token_use: Slot::Absent,
            cbsecurity_refresh: Slot::Absent,
            extra: Map::new(),
        };
        // Each registered claim is stored once; a second occurrence is refused.
        macro_rules! once {
            ($slot:expr, $value:expr, $name:expr) => {{
                if $slot.is_present() {
                    return Err(duplicate(&$name));
                }
                $slot = $value;
            }};
        }
        while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
            match name.as_ref() {
                "iss" => once!(raw.iss, map.next_value::<Scalar>()?.string(), name),
                "sub" => once!(
                    raw.sub,
                    map.next_value::<Scalar>()?.string_or_integer(),
                    name
                ),
                "jti" => once!(raw.jti, map.next_value::<Scalar>()?.string(), name),
                "scope" => once!(raw.scope, map.next_value::<Scalar>()?.string(), name),
                "iat" => once!(raw.iat, map.next_value::<Scalar>()?.numeric_date(), name),
                "exp" => once!(raw.exp, map.next_value::<Scalar>()?.numeric_date(), name),
                "nbf" => once!(raw.nbf, map.next_value::<Scalar>()?.numeric_date(), name),
                "aud" => once!(raw.aud, map.next_value::<Scalar>()?.string_list(), name),
                TOKEN_USE => once!(raw.token_use, map.next_value::<Scalar>()?.string(), name),
                CBSECURITY_REFRESH => once!(
                    raw.cbsecurity_refresh,
                    map.next_value::<Scalar>()?.boolean(),
                    name
                ),
                _ => {
                    let value = map.next_value::<Value>()?;
                    if raw.extra.insert(name.clone().into_owned(), value).is_some() {
                        return Err(duplicate(&name));
                    }
                }
            }
        }
        Ok(raw)
    }
}

fn duplicate<E: de::Error>(name: &str) -> E {
    E::custom(format_args!("duplicate member `{name}`"))
}

/// The shape of a registered claim's value, read without failing on a wrong type.
enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    StrList(Vec<String>),
    Other,
}

impl Scalar {
    fn string(self) -> Slot<String> {
        match self {
            Scalar::Str(s) => Slot::Present(s),
            _ => Slot::WrongType,
        }
    }

    /// cbsecurity puts numeric user ids in `sub`; they are read as their decimal text.
    fn string_or_integer(self) -> Slot<String> {
        match self {
            Scalar::Str(s) => Slot::Present(s),
            Scalar::Int(i) => Slot::Present(i.to_string()),
            _ => Slot::WrongType,
        }
    }

    /// NumericDate (RFC 7519 §2): seconds, possibly fractional; fractions are dropped.
    fn numeric_date(self) -> Slot<i64> {
        match self {
            Scalar::Int(i) => Slot::Present(i),
            // Saturating conversion: out-of-range values clamp to the i64 range.
            Scalar::Float(f) if f.is_finite() => Slot::Present(f.floor() as i64),
            _ => Slot::WrongType,
        }
    }

    fn string_list(self) -> Slot<Vec<String>> {
        match self {
            Scalar::Str(s) => Slot::Present(vec![s]),
            Scalar::StrList(list) => Slot::Present(list),
            _ => Slot::WrongType,
        }
    }

    fn boolean(self) -> Slot<bool> {
        match self {
            Scalar::Bool(b) => Slot::Present(b),
            _ => Slot::WrongType,
        }
    }
}

impl<'de> de::Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(i64::try_from(v).map_or(Scalar::Float(v as f64), Scalar::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        let mut list = Some(Vec::new());
        while let Some(element) = seq.next_element::<Scalar>()? {
            match (element, list.as_mut()) {
                (Scalar::Str(s), Some(list)) => list.push(s),
                _ => list = None,
            }
        }
        Ok(list.map_or(Scalar::Other, Scalar::StrList))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_claims_are_typed_and_others_kept() {
        let raw = RawClaims::parse(
            br#"{"iss":"me","sub":42,"exp":1.9e9,"aud":["a","b"],"role":"admin","cbsecurity_refresh":true}"#,
        )
        .ok()
        .unwrap();
        assert_eq!(raw.iss, Slot::Present("me".into()));
        assert_eq!(raw.sub, Slot::Present("42".into()));
        assert_eq!(raw.exp, Slot::Present(1_900_000_000));
        assert_eq!(raw.aud, Slot::Present(vec!["a".into(), "b".into()]));
        assert_eq!(raw.cbsecurity_refresh, Slot::Present(true));
        assert_eq!(raw.extra.get("role"), Some(&Value::from("admin")));
        assert!(raw.has("role") && raw.has("exp") && !raw.has("nbf"));
    }

    #[test]
    fn wrong_types_are_recorded_not_skipped() {
        let raw = RawClaims::parse(
            br#"{"exp":"1900000000","nbf":null,"iat":true,"aud":[1],"sub":{"id":1},"cbsecurity_refresh":"true"}"#,
        )
        .ok()
        .unwrap();
        assert_eq!(raw.exp, Slot::WrongType);
        assert_eq!(raw.nbf, Slot::WrongType);
        assert_eq!(raw.iat, Slot::WrongType);
        assert_eq!(raw.aud, Slot::WrongType);
        assert_eq!(raw.sub, Slot::WrongType);
        assert_eq!(raw.cbsecurity_refresh, Slot::WrongType);
        let err = raw.into_claims().err().unwrap();
        assert_eq!(
            err,
            InvalidToken::ClaimType {
                claim: "exp",
                expected: A_NUMERIC_DATE
            }
        );
    }

    #[test]
    fn duplicates_and_non_objects_are_refused() {
        for json in [
            &br#"{"exp":1,"exp":2}"#[..],
            br#"{"role":"a","role":"b"}"#,
            br#"[1]"#,
            br#""text""#,
            br#"{"a":1} trailing"#,
            b"",
        ] {
            assert!(
                RawClaims::parse(json).is_err(),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }
}
