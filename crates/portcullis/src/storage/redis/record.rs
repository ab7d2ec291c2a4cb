//! The JSON values stored under Redis keys.
//!
//! ```text
//! cbjwt_3f2b8c1e  →  {"token":"eyJ…","subject":"user-7","issued_at":1900000000,"expires_at":1900003600}
//! cbjwt_epoch:*   →  1900000000
//! ```

use serde::{Deserialize, Serialize};

use crate::storage::failure::unavailable;
use crate::storage::StoredToken;
use crate::Result;

/// A token record; its `jti` is the key.
#[derive(Serialize, Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    token: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    subject: std::borrow::Cow<'a, str>,
    issued_at: i64,
    expires_at: i64,
}

/// The stored form of `token`.
pub(super) fn encode_token(token: &StoredToken) -> Result<String> {
    serde_json::to_string(&Record {
        token: token.token.as_str().into(),
        subject: token.subject.as_str().into(),
        issued_at: token.issued_at,
        expires_at: token.expires_at,
    })
    .map_err(|e| unavailable(format!("cannot encode the token record: {e}")))
}

/// The record of `jti` from its stored form.
pub(super) fn decode_token(jti: &str, json: &str) -> Result<StoredToken> {
    let record: Record<'_> = serde_json::from_str(json)
        .map_err(|e| unavailable(format!("a stored token record is unreadable: {e}")))?;
    Ok(StoredToken {
        jti: jti.to_owned(),
        token: record.token.into_owned(),
        subject: record.subject.into_owned(),
        issued_at: record.issued_at,
        expires_at: record.expires_at,
    })
}

/// The one field of a stored family that a request's check needs.
#[derive(Deserialize)]
struct Revoked {
    revoked: bool,
}

/// Whether the stored family `json` is revoked.
pub(super) fn family_revoked(json: &str) -> Result<bool> {
    serde_json::from_str::<Revoked>(json)
        .map(|f| f.revoked)
        .map_err(|e| unavailable(format!("a stored refresh family is unreadable: {e}")))
}

/// A revocation epoch from its stored form (decimal Unix seconds).
pub(super) fn decode_epoch(text: &str) -> Result<i64> {
    text.parse()
        .map_err(|_| unavailable("a stored revocation epoch is not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_garbage_is_an_error() {
        let token = StoredToken {
            jti: "j".into(),
            token: "t\"x".into(),
            subject: "s".into(),
            issued_at: 1,
            expires_at: 2,
        };
        let json = encode_token(&token).unwrap();
        assert_eq!(decode_token("j", &json).unwrap(), token);
        assert!(decode_token("j", "{").is_err());
        assert!(family_revoked(r#"{"revoked":true,"version":3}"#).unwrap());
        assert!(family_revoked("[]").is_err());
        assert_eq!(decode_epoch("17").unwrap(), 17);
        assert!(decode_epoch("x").is_err());
    }
}
