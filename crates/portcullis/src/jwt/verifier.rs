//! Verification of compact tokens.
//!
//! 1. **Size**: longer than the limit (default 8 KiB) → refused before any decoding.
//! 2. **Shape**: exactly three segments; header and signature are strict base64url.
//! 3. **Header**: JSON object without repeated members, `crit`, `b64` or embedded/remote keys;
//!    `kid` picks the key; `alg` must equal the picked key's algorithm, byte for byte.
//! 4. **Signature**: verified over the raw `header.payload` bytes, before any payload JSON is
//!    parsed; HMAC tags compared in constant time.
//! 5. **Claims**: the payload is decoded and parsed once, then checked as
//!    [`Validation`] describes (`exp` first, token type last).
//!
//! ```
//! use portcullis::jwt::{Algorithm, JwtVerifier, SigningKey, TokenBuilder, Validation};
//! use portcullis::{Error, InvalidToken};
//!
//! let key = SigningKey::from_secret(Algorithm::HS256, &[9; 32]).unwrap();
//! let verifier = JwtVerifier::new(
//!     vec![key.verifying_key().unwrap()],
//!     Validation::new("me"),
//! ).unwrap();
//!
//! let token = TokenBuilder::new("me", "42").sign(&key).unwrap();
//! assert_eq!(verifier.verify(&token).unwrap().sub(), Some("42"));
//!
//! let mut tampered = token.clone();
//! tampered.pop();
//! tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
//! assert!(matches!(
//!     verifier.verify(&tampered),
//!     Err(Error::TokenInvalid { reason: InvalidToken::BadSignature | InvalidToken::BadBase64 { .. } })
//! ));
//!
//! let refresh = TokenBuilder::new("me", "42").refresh().sign(&key).unwrap();
//! assert!(verifier.verify(&refresh).is_err()); // a refresh token is no access token
//! assert!(verifier.verify_refresh(&refresh).is_ok());
//! ```

use std::borrow::Cow;

use super::algorithm::Algorithm;
use super::b64;
use super::claims::{Claims, TokenType};
use super::header::{self, Header};
use super::keys::VerifyingKey;
use super::payload::RawClaims;
use super::validation::{now, Validation};
use crate::{Error, InvalidToken, Result};

/// Decoded headers longer than this go to the heap; typical headers are under 100 bytes.
const HEADER_STACK: usize = 512;
/// Decoded payloads up to this size stay on the stack.
const PAYLOAD_STACK: usize = 1024;
/// The longest signature of any supported key (RSA-8192).
const MAX_SIGNATURE: usize = 1024;

/// Verifies tokens against a fixed set of keys and a [`Validation`].
#[derive(Debug, Clone)]
pub struct JwtVerifier {
    keys: Vec<VerifyingKey>,
    validation: Validation,
    /// Headers whose parse is known in advance (base64url text → algorithm and kid): the one
    /// portcullis signs with for each key, and `{"typ":"JWT","alg":…}` as other libraries
    /// write it. A token carrying one byte for byte skips decoding and parsing its header.
    known_headers: Vec<(String, Algorithm, Option<String>)>,
}

/// A token whose signature verified; its claims are not checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedJws {
    /// The algorithm of the key that verified it.
    pub algorithm: Algorithm,
    /// The `kid` from the header, if any.
    pub kid: Option<String>,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// A compact token cut into its parts.
struct Parts<'t> {
    header: &'t str,
    payload: &'t str,
    signature: &'t str,
    signing_input: &'t [u8],
}

impl JwtVerifier {
    /// A verifier for `keys` (at least one). Keys with the same `kid` and sets that mix
    /// HMAC secrets with public keys are refused: either invites key confusion.
    pub fn new(keys: Vec<VerifyingKey>, validation: Validation) -> Result<Self> {
        if keys.is_empty() {
            return Err(Error::config("key", "no verification key is configured"));
        }
        let secrets = keys.iter().filter(|k| k.algorithm().is_hmac()).count();
        if secrets > 0 && secrets < keys.len() {
            return Err(Error::config(
                "key",
                "HMAC secrets and public keys cannot verify side by side; use one kind",
            ));
        }
        for (i, key) in keys.iter().enumerate() {
            if let Some(kid) = key.kid() {
                if keys[..i].iter().any(|other| other.kid() == Some(kid)) {
                    return Err(Error::config(
                        "key",
                        format!("two verification keys have kid {kid:?}"),
                    ));
                }
            }
        }
        let mut known_headers: Vec<(String, Algorithm, Option<String>)> = Vec::new();
        for key in &keys {
            let alg = key.algorithm();
            let kid = key.kid().map(str::to_owned);
            let reversed = format!(r#"{{"typ":"JWT","alg":"{alg}"}}"#);
            for (text, kid) in [
                (super::keys::header_b64(alg, kid.as_deref()), kid.clone()),
                (super::keys::header_b64(alg, None), None),
                (b64::encode(reversed.as_bytes()), None),
            ] {
                if !known_headers.iter().any(|(known, ..)| *known == text) {
                    known_headers.push((text, alg, kid));
                }
            }
        }
        Ok(JwtVerifier {
            keys,
            validation,
            known_headers,
        })
    }

    /// Verifies an access token now: signature and every claim check.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        self.verify_at(token, TokenType::Access, now())
    }

    /// Verifies a refresh token now: signature and every claim check, and it must be a refresh
    /// token.
    pub fn verify_refresh(&self, token: &str) -> Result<Claims> {
        self.verify_at(token, TokenType::Refresh, now())
    }

    /// Verifies a token of either type now: every check but the token type (cbsecurity's
    /// `decode`, used to revoke whatever token is presented).
    pub fn decode(&self, token: &str) -> Result<Claims> {
        self.verify_inner(token, None, now())
    }

    /// Verifies a token of the `expected` type as of `now` (Unix seconds).
    pub fn verify_at(&self, token: &str, expected: TokenType, now: i64) -> Result<Claims> {
        self.verify_inner(token, Some(expected), now)
    }

    fn verify_inner(&self, token: &str, expected: Option<TokenType>, now: i64) -> Result<Claims> {
        let parts = self.split(token)?;
        self.check_signature(&parts)?;
        let mut stack = [0u8; PAYLOAD_STACK];
        let payload = decode_small(parts.payload, "payload", &mut stack)?;
        let raw = RawClaims::parse(&payload).map_err(Error::invalid)?;
        self.validation.check(raw, expected, now)
    }

    /// Verifies the signature only (the JWS layer), returning the payload bytes unparsed.
    /// The claims, including `exp`, are **not** checked.
    pub fn verify_signature(&self, token: &str) -> Result<VerifiedJws> {
        let parts = self.split(token)?;
        let key = self.check_signature(&parts)?;
        Ok(VerifiedJws {
            algorithm: key.algorithm(),
            kid: key.kid().map(str::to_owned),
            payload: decode_segment(parts.payload, "payload")?,
        })
    }

    /// The claim checks this verifier applies.
    pub fn validation(&self) -> &Validation {
        &self.validation
    }

    /// The verification keys.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    fn split<'t>(&self, token: &'t str) -> Result<Parts<'t>> {
        if token.len() > self.validation.max_token_size {
            return Err(Error::invalid(InvalidToken::TooLarge {
                limit: self.validation.max_token_size,
            }));
        }
        let mut segments = token.splitn(4, '.');
        match (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) {
            (Some(header), Some(payload), Some(signature), None) if !header.is_empty() => {
                Ok(Parts {
                    header,
                    payload,
                    signature,
                    signing_input: &token.as_bytes()[..header.len() + 1 + payload.len()],
                })
            }
            _ => Err(Error::invalid(InvalidToken::Malformed)),
        }
    }

    /// Parses the header, picks the key and verifies the signature; returns the key used.
    fn check_signature(&self, parts: &Parts<'_>) -> Result<&VerifyingKey> {
        let known = self
            .known_headers
            .iter()
            .find(|(text, ..)| text.as_str() == parts.header);
        let (mut stack, json, parsed);
        let header: &Header<'_> = match known {
            Some((_, alg, kid)) => {
                parsed = Header {
                    alg: Cow::Borrowed(alg.as_str()),
                    kid: kid.as_deref().map(Cow::Borrowed),
                };
                &parsed
            }
            None => {
                stack = [0u8; HEADER_STACK];
                json = decode_small(parts.header, "header", &mut stack)?;
                parsed = header::parse(json.as_ref()).map_err(Error::invalid)?;
                &parsed
            }
        };

        // Every signature but RSA's fits 132 bytes (ES512): only RSA needs the large buffer.
        let mut small = [0u8; 132];
        let mut large;
        let decoded = b64::decoded_len(parts.signature.len());
        let buffer: &mut [u8] = if decoded <= small.len() {
            &mut small
        } else if decoded <= MAX_SIGNATURE {
            large = [0u8; MAX_SIGNATURE];
            &mut large
        } else {
            return Err(Error::invalid(InvalidToken::BadSignature));
        };
        let signature = b64::decode_into(parts.signature.as_bytes(), buffer)
            .map(|len| &buffer[..len])
            .ok_or_else(|| {
                Error::invalid(InvalidToken::BadBase64 {
                    segment: "signature",
                })
            })?;

        let chosen = self.key_for_kid(header.kid.as_deref())?;
        let alg = header.alg.as_ref();
        let mut candidates = self
            .keys
            .iter()
            .filter(|key| chosen.is_none_or(|chosen| std::ptr::eq(chosen, *key)))
            .filter(|key| key.algorithm().as_str() == alg)
            .peekable();
        if candidates.peek().is_none() {
            return Err(self.algorithm_mismatch(header, chosen));
        }
        candidates
            .find(|key| key.verify(parts.signing_input, signature))
            .ok_or_else(|| Error::invalid(InvalidToken::BadSignature))
    }

    /// The key a header's `kid` names: the key with that kid, or the only key when it has no
    /// kid. `None` when the header has no kid (every key of the right algorithm is tried).
    fn key_for_kid(&self, kid: Option<&str>) -> Result<Option<&VerifyingKey>> {
        let Some(kid) = kid else { return Ok(None) };
        match self.keys.iter().find(|key| key.kid() == Some(kid)) {
            Some(key) => Ok(Some(key)),
            None => match self.keys.as_slice() {
                [only] if only.kid().is_none() => Ok(Some(only)),
                _ => Err(Error::invalid(InvalidToken::UnknownKeyId)),
            },
        }
    }

    fn algorithm_mismatch(&self, header: &Header<'_>, chosen: Option<&VerifyingKey>) -> Error {
        let mut found: String = header.alg.chars().take(16).collect();
        if header.alg.chars().count() > 16 {
            found.push('…');
        }
        Error::invalid(InvalidToken::AlgorithmMismatch {
            expected: chosen.unwrap_or(&self.keys[0]).algorithm().as_str(),
            found,
        })
    }
}

fn decode_segment(text: &str, segment: &'static str) -> Result<Vec<u8>> {
    b64::decode(text.as_bytes()).ok_or_else(|| Error::invalid(InvalidToken::BadBase64 { segment }))
}

/// Decodes a segment into `stack` when it fits, else onto the heap.
fn decode_small<'b>(
    text: &str,
    segment: &'static str,
    stack: &'b mut [u8],
) -> Result<Cow<'b, [u8]>> {
    if b64::decoded_len(text.len()) <= stack.len() {
        let len = b64::decode_into(text.as_bytes(), stack)
            .ok_or_else(|| Error::invalid(InvalidToken::BadBase64 { segment }))?;
        Ok(Cow::Borrowed(&stack[..len]))
    } else {
        decode_segment(text, segment).map(Cow::Owned)
    }
}
