//! Calls that skip a safety check. Each is useful for debugging or migration and wrong on a
//! request path; the name of this module is the warning.
//!
//! ```
//! use portcullis::jwt::{dangerous, Algorithm, SigningKey, TokenBuilder};
//!
//! let key = SigningKey::from_secret(Algorithm::HS256, &[1; 32]).unwrap();
//! let token = TokenBuilder::new("me", "42").sign(&key).unwrap();
//! let unverified = dangerous::decode_unverified(&token).unwrap();
//! assert_eq!(unverified.header["alg"], "HS256");
//! assert_eq!(unverified.payload["sub"], "42");
//! ```

use serde_json::Value;

use super::b64;
use super::validation::{Validation, DEFAULT_MAX_TOKEN_SIZE};
use crate::{Error, InvalidToken, Result};

/// A token's header and payload, **not verified**: anyone could have written them.
#[derive(Debug, Clone, PartialEq)]
pub struct Unverified {
    /// The JOSE header.
    pub header: Value,
    /// The payload, when it is JSON (else a JSON string holding its base64url text).
    pub payload: Value,
}

/// Decodes a compact token's header and payload without checking the signature or any claim.
/// Never base a decision on the result.
pub fn decode_unverified(token: &str) -> Result<Unverified> {
    if token.len() > DEFAULT_MAX_TOKEN_SIZE {
        return Err(Error::invalid(InvalidToken::TooLarge {
            limit: DEFAULT_MAX_TOKEN_SIZE,
        }));
    }
    let segments: Vec<&str> = token.split('.').collect();
    let [header, payload, _signature] = segments[..] else {
        return Err(Error::invalid(InvalidToken::Malformed));
    };
    let json = |text: &str, segment: &'static str| -> Result<Value> {
        let bytes = b64::decode(text.as_bytes())
            .ok_or(Error::invalid(InvalidToken::BadBase64 { segment }))?;
        serde_json::from_slice(&bytes).map_err(|err| {
            Error::invalid(InvalidToken::BadJson {
                segment,
                detail: err.to_string(),
            })
        })
    };
    Ok(Unverified {
        header: json(header, "header")?,
        payload: json(payload, "payload").unwrap_or_else(|_| Value::String(payload.to_owned())),
    })
}

/// The same checks without comparing `iss` to an expected issuer (`iss` may still be a
/// required claim). Safe only when no other issuer can hold the verification keys.
pub fn any_issuer(mut validation: Validation) -> Validation {
    validation.issuer = None;
    validation
}

/// Signs the exact signing input `header_b64.payload_b64` with `key`, whatever the header
/// says — its `alg` need not match the key. For reproducing published vectors and for
/// crafting hostile tokens in tests; tokens for use come from
/// [`TokenBuilder`](super::TokenBuilder).
pub fn sign_compact(
    key: &super::SigningKey,
    header_b64: &str,
    payload_b64: &str,
) -> Result<String> {
    key.sign_input(header_b64, payload_b64)
}
