//! Signing and verification keys, each bound to one [`Algorithm`] when it is loaded.
//!
//! Keys are read from HMAC secrets, PEM (PKCS#8 private keys, SPKI public keys, X.509
//! certificates) and JWK / JWK Set JSON, and checked once: an HMAC secret shorter than the
//! hash, RSA under 2048 bits (or with a bad exponent or the ROCA fingerprint), an EC point not
//! on its curve and a key that does not fit its algorithm are all refused at load. Parsing,
//! HMAC pad precomputation and public-key decoding happen here, never per token.
//!
//! ```
//! use portcullis::jwt::{Algorithm, SigningKey, VerifyingKey};
//!
//! let secret = b"a shared secret of at least thirty-two bytes!";
//! let signer = SigningKey::from_secret(Algorithm::HS256, secret).unwrap();
//! assert_eq!(signer.algorithm(), Algorithm::HS256);
//!
//! // Too short for HS512 (64 bytes needed): refused when loaded, not when used.
//! let err = VerifyingKey::from_secret(Algorithm::HS512, secret).unwrap_err();
//! assert!(err.to_string().contains("at least 64 bytes"));
//! ```

mod jwk;
mod material;
mod pem;
mod roca;

use std::fmt;

use self::jwk::Operation;
use self::material::{key_error, Material, Signer, Verifier, MAX_SIGNATURE_LEN};
use crate::jwt::algorithm::Algorithm;
use crate::jwt::b64;
use crate::Result;

/// A private key (or shared secret) that signs tokens with one algorithm.
///
/// The token header is computed once per key: `{"alg":…,"typ":"JWT"}` plus `kid` when set.
pub struct SigningKey {
    alg: Algorithm,
    kid: Option<String>,
    signer: Signer,
    header_b64: String,
}

/// A public key (or shared secret) that verifies tokens with one algorithm.
///
/// Cloning is cheap: the parsed key is reference-counted by aws-lc.
#[derive(Clone)]
pub struct VerifyingKey {
    alg: Algorithm,
    kid: Option<String>,
    verifier: Verifier,
}

impl SigningKey {
    /// A key for HS256/384/512 from the secret's bytes. The secret must be at least as long
    /// as the hash output (32, 48 or 64 bytes).
    ///
    /// cbsecurity takes `jwt.secret_key` as UTF-8 text: pass `text.as_bytes()`.
    pub fn from_secret(alg: Algorithm, secret: &[u8]) -> Result<Self> {
        Self::bind(alg, None, Material::Secret(secret.to_vec()))
    }

    /// A key from a PEM `PRIVATE KEY` (PKCS#8) document.
    pub fn from_pem(alg: Algorithm, pem: &str) -> Result<Self> {
        Self::bind(alg, None, pem::material_from_pem(pem)?)
    }

    /// A key from a private JWK (or a JWK Set holding exactly one key). The JWK's `alg`, if
    /// any, must equal `alg` when one is given; its `kid` is kept and put in token headers.
    pub fn from_jwk(json: &str, alg: Option<Algorithm>) -> Result<Self> {
        let mut keys = jwk::parse_keys(json)?;
        if keys.len() != 1 {
            return Err(key_error(format!(
                "a signing key must be one JWK; this set has {} keys",
                keys.len()
            )));
        }
        let loaded = jwk::load(keys.remove(0), alg, Operation::Sign)?;
        Self::bind(loaded.alg, loaded.kid, loaded.material)
    }

    /// A key from PEM or JWK text, told apart by its first character (`{` for JWK).
    pub fn from_text(alg: Algorithm, text: &str) -> Result<Self> {
        if text.trim_start().starts_with('{') {
            Self::from_jwk(text, Some(alg))
        } else {
            Self::from_pem(alg, text)
        }
    }

    /// Sets the `kid` put in every token header (key rotation: verifiers pick the key by it).
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self.header_b64 = header_b64(self.alg, self.kid.as_deref());
        self
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id put in token headers, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The matching verification key (the public half, or the same secret), with the same
    /// `kid`.
    pub fn verifying_key(&self) -> Result<VerifyingKey> {
        Ok(VerifyingKey {
            alg: self.alg,
            kid: self.kid.clone(),
            verifier: self.signer.verifier(self.alg)?,
        })
    }

    /// Signs the JSON `payload` as is, returning the compact token. No claim is added or
    /// checked: this is cbsecurity's `encode()`. To issue tokens with the standard claims use
    /// [`TokenBuilder`](crate::jwt::TokenBuilder).
    pub fn sign(&self, payload: &impl serde::Serialize) -> Result<String> {
        let json = serde_json::to_vec(payload)
            .map_err(|err| key_error(format!("the payload cannot be serialised: {err}")))?;
        self.sign_bytes(&json)
    }

    /// Signs raw payload bytes under this key's header.
    pub(crate) fn sign_bytes(&self, payload: &[u8]) -> Result<String> {
        let mut payload_b64 = String::with_capacity(payload.len() * 4 / 3 + 4);
        b64::encode_into(payload, &mut payload_b64);
        self.sign_input(&self.header_b64, &payload_b64)
    }

    /// Signs `header_b64.payload_b64` and returns the compact token.
    pub(crate) fn sign_input(&self, header_b64: &str, payload_b64: &str) -> Result<String> {
        let capacity =
            header_b64.len() + payload_b64.len() + self.signer.signature_len() * 4 / 3 + 8;
        let mut token = String::with_capacity(capacity);
        token.push_str(header_b64);
        token.push('.');
        token.push_str(payload_b64);
        let mut signature = [0u8; MAX_SIGNATURE_LEN];
        let len = self.signer.sign(token.as_bytes(), &mut signature)?;
        token.push('.');
        b64::encode_into(&signature[..len], &mut token);
        Ok(token)
    }

    fn bind(alg: Algorithm, kid: Option<String>, material: Material) -> Result<Self> {
        let signer = material.into_signer(alg)?;
        Ok(SigningKey {
            header_b64: header_b64(alg, kid.as_deref()),
            alg,
            kid,
            signer,
        })
    }
}

impl VerifyingKey {
    /// A key for HS256/384/512 from the secret's bytes (the same secret that signs).
    pub fn from_secret(alg: Algorithm, secret: &[u8]) -> Result<Self> {
        Self::bind(alg, None, Material::Secret(secret.to_vec()))
    }

    /// A key from PEM: a `PUBLIC KEY` (SPKI), a `CERTIFICATE` (its public key; the certificate
    /// is not validated, the key is pinned) or a `PRIVATE KEY` (its public half).
    pub fn from_pem(alg: Algorithm, pem: &str) -> Result<Self> {
        Self::bind(alg, None, pem::material_from_pem(pem)?)
    }

    /// A key from one JWK (public or private). See [`VerifyingKey::from_jwk_set`] for sets.
    pub fn from_jwk(json: &str, alg: Option<Algorithm>) -> Result<Self> {
        let mut keys = Self::from_jwk_set(json, alg)?;
        if keys.len() != 1 {
            return Err(key_error(format!(
                "expected one JWK; this set has {} keys",
                keys.len()
            )));
        }
        Ok(keys.remove(0))
    }

    /// Every key of a JWK Set (or a single JWK). Each key is bound to its own `alg`, or to
    /// `default_alg` when it has none. Sets that mix shared secrets with public keys, or repeat
    /// a `kid`, are refused.
    pub fn from_jwk_set(json: &str, default_alg: Option<Algorithm>) -> Result<Vec<Self>> {
        jwk::load_set(jwk::parse_keys(json)?, default_alg, Operation::Verify)?
            .into_iter()
            .map(|loaded| Self::bind(loaded.alg, loaded.kid, loaded.material))
            .collect()
    }

    /// Keys from PEM or JWK / JWK Set text, told apart by the first character (`{` for JSON).
    pub fn from_text(alg: Algorithm, text: &str) -> Result<Vec<Self>> {
        if text.trim_start().starts_with('{') {
            Self::from_jwk_set(text, Some(alg))
        } else {
            Ok(vec![Self::from_pem(alg, text)?])
        }
    }

    /// Sets the key id tokens must name (header `kid`) to be verified by this key.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether `signature` is valid over `input`.
    pub(crate) fn verify(&self, input: &[u8], signature: &[u8]) -> bool {
        self.verifier.verify(input, signature)
    }

    fn bind(alg: Algorithm, kid: Option<String>, material: Material) -> Result<Self> {
        Ok(VerifyingKey {
            verifier: material.into_verifier(alg)?,
            alg,
            kid,
        })
    }
}

/// The base64url header portcullis signs with: `{"alg":…,"kid":…,"typ":"JWT"}`.
pub(crate) fn header_b64(alg: Algorithm, kid: Option<&str>) -> String {
    let header = match kid {
        Some(kid) => serde_json::json!({ "alg": alg.as_str(), "typ": "JWT", "kid": kid }),
        None => serde_json::json!({ "alg": alg.as_str(), "typ": "JWT" }),
    };
    b64::encode(header.to_string().as_bytes())
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}
