//! JSON Web Tokens: keys, issuance and verification.
//!
//! * [`SigningKey`] / [`VerifyingKey`] — loaded once from a secret, PEM or JWK, each bound to
//!   one [`Algorithm`]; weak or mismatched keys are refused at load.
//! * [`TokenBuilder`] — issues tokens with `iss`, `iat`, `sub`, `exp`, `jti`, `scope`, custom
//!   and computed claims, and the token type, in cbsecurity's order of precedence.
//! * [`JwtVerifier`] — verifies compact tokens: size, shape, header, signature over the raw
//!   bytes, then the claims as [`Validation`] sets out. The token never chooses the algorithm
//!   or the key.
//! * [`dangerous`] — decoding without verification, for debugging.
//!
//! All cryptography is aws-lc-rs (the library behind rustls); the JOSE framing is portcullis's
//! own, so that keys are prepared once and the signature is checked before any JSON is parsed.
//!
//! ```
//! use portcullis::jwt::{Algorithm, JwtVerifier, SigningKey, TokenBuilder, Validation};
//! use portcullis::Error;
//!
//! let signer = SigningKey::from_secret(Algorithm::HS512, &[42; 64]).unwrap();
//! let verifier = JwtVerifier::new(
//!     vec![signer.verifying_key().unwrap()],
//!     Validation::new("https://id.example.com"),
//! ).unwrap();
//!
//! let expired = TokenBuilder::new("https://id.example.com", "42")
//!     .issued_at(1_000_000)
//!     .sign(&signer)
//!     .unwrap();
//! assert!(matches!(verifier.verify(&expired), Err(Error::TokenExpired)));
//! ```

mod algorithm;
mod b64;
mod builder;
mod claims;
mod config;
pub mod dangerous;
mod header;
mod json;
mod keys;
mod payload;
mod raw;
mod service;
mod subject;
mod validation;
mod verifier;
mod web;

pub use self::web::{refresh_endpoint, JwtAuth, JwtAuthLayer, ResponseFuture, REFRESH_PATH};
pub use algorithm::{Algorithm, Curve, KeyFamily};
pub use builder::{ClaimFn, IssuedToken, TokenBuilder, DEFAULT_ACCESS_LIFETIME};
pub use claims::{Claims, TokenType};
pub use config::JwtKeys;
pub use keys::{SigningKey, VerifyingKey};
pub use payload::{CBSECURITY_REFRESH, TOKEN_USE};
pub use raw::Jwt;
pub use service::{
    bearer_token, Authenticated, JwtService, JwtServiceBuilder, TokenPair, SESSION_CLAIM,
};
pub use subject::JwtSubject;
pub use validation::{Validation, DEFAULT_MAX_TOKEN_SIZE, DEFAULT_REQUIRED_CLAIMS};
pub use verifier::{JwtVerifier, VerifiedJws};
