//! The signing key and the verifier, built once from the `jwt` settings.
//!
//! * HS256/384/512: `jwt.secret_key_file` (exact bytes) or `jwt.secret_key` (UTF-8, with
//!   `JWT_SECRET` as its default). When neither is set, a random secret of the hash's length
//!   is generated and a warning logged, as cbsecurity does: tokens then die with the process
//!   and are not shared between instances — set a secret for anything but a trial.
//! * RS*, PS*, ES*, EdDSA: `jwt.signing_key` (PEM or JWK, file or inline) signs;
//!   `jwt.verification_keys` verify (default: the signing key's public half).
//!
//! Every key problem fails here, at start-up, naming the setting.
//!
//! ```
//! use portcullis::jwt::{JwtKeys, TokenBuilder};
//! use portcullis::settings::Settings;
//!
//! let settings = Settings::from_toml_str(r#"
//!     [jwt]
//!     issuer = "https://id.example.com"
//!     algorithm = "HS256"
//!     secret_key = "an example secret that is long enough for HS256"
//! "#).unwrap();
//! let keys = JwtKeys::from_settings(&settings.jwt).unwrap();
//! let signer = keys.signer().unwrap();
//! let token = TokenBuilder::new("https://id.example.com", "42").sign(signer).unwrap();
//! assert!(keys.verifier().verify(&token).is_ok());
//!
//! let short = Settings::from_toml_str("[jwt]\nalgorithm = 'HS512'\nsecret_key = 'short'").unwrap();
//! let err = JwtKeys::from_settings(&short.jwt).unwrap_err();
//! assert!(err.to_string().starts_with("jwt.secret_key: the HS512 secret is 5 bytes"));
//! ```

use super::{JwtVerifier, SigningKey, Validation, VerifyingKey};
use crate::settings::{JwtSettings, KeySource};
use crate::{Error, Result};

/// The keys and claim checks the `jwt` settings describe.
#[derive(Debug)]
pub struct JwtKeys {
    signer: Option<SigningKey>,
    verifier: JwtVerifier,
}

impl JwtKeys {
    /// Loads and checks every key the settings name.
    pub fn from_settings(jwt: &JwtSettings) -> Result<Self> {
        let alg = jwt.algorithm;
        let (signer, verifying) = if alg.is_hmac() {
            let (secret, key) = hmac_secret(jwt, alg.min_secret_len().unwrap_or(64))?;
            let signer = SigningKey::from_secret(alg, &secret).map_err(|e| e.for_setting(key))?;
            let verifying = vec![signer.verifying_key()?];
            (Some(signer), verifying)
        } else {
            let signer = jwt
                .signing_key
                .as_ref()
                .map(|source| {
                    SigningKey::from_text(alg, &key_text(source, "jwt.signing_key")?)
                        .map_err(|e| e.for_setting("jwt.signing_key"))
                })
                .transpose()?;
            let mut verifying = Vec::new();
            for (i, source) in jwt.verification_keys.iter().enumerate() {
                let setting = format!("jwt.verification_keys[{i}]");
                let keys = VerifyingKey::from_text(alg, &key_text(source, &setting)?)
                    .map_err(|e| e.for_setting(&setting))?;
                verifying.extend(keys);
            }
            if verifying.is_empty() {
                let signer = signer.as_ref().ok_or_else(|| {
                    Error::config(
                        "jwt.verification_keys",
                        format!("{alg} needs jwt.signing_key or jwt.verification_keys"),
                    )
                })?;
                verifying.push(signer.verifying_key()?);
            }
            (signer, verifying)
        };
        let mut validation = Validation::new(jwt.effective_issuer())
            .require(jwt.required_claims.iter().cloned())
            .leeway(jwt.leeway)
            .max_token_size(jwt.max_token_size);
        if let Some(audience) = &jwt.audience {
            validation = validation.audience(audience.clone());
        }
        let verifier = JwtVerifier::new(verifying, validation)
            .map_err(|e| e.for_setting("jwt.verification_keys"))?;
        Ok(JwtKeys { signer, verifier })
    }

    /// The key tokens are signed with; `None` for a verify-only deployment (asymmetric
    /// algorithm with only `verification_keys`).
    pub fn signer(&self) -> Option<&SigningKey> {
        self.signer.as_ref()
    }

    /// The verifier with its keys and claim checks.
    pub fn verifier(&self) -> &JwtVerifier {
        &self.verifier
    }
}

/// The configured HMAC secret and the setting it came from, or a generated one.
fn hmac_secret(jwt: &JwtSettings, len: usize) -> Result<(Vec<u8>, &'static str)> {
    if jwt.secret_key_file.is_some() {
        return Ok((jwt.hmac_secret()?.expose().to_vec(), "jwt.secret_key_file"));
    }
    if !jwt.secret_key.is_empty() {
        return Ok((jwt.secret_key.expose().to_vec(), "jwt.secret_key"));
    }
    let mut secret = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut secret).map_err(|_| {
        Error::config(
            "jwt.secret_key",
            "the system random number generator failed",
        )
    })?;
    tracing::warn!(
        "jwt.secret_key is empty: using a random secret generated for this process. Tokens \
         will not survive a restart nor verify on another instance; set jwt.secret_key, \
         jwt.secret_key_file or JWT_SECRET (`portcullis gen-secret` makes one)"
    );
    Ok((secret, "jwt.secret_key"))
}

/// The text of a PEM or JWK key source.
fn key_text(source: &KeySource, setting: &str) -> Result<String> {
    let bytes = source.bytes().map_err(|err| match err {
        Error::Io { path, source } => Error::config(setting, format!("{path}: {source}")),
        other => other,
    })?;
    String::from_utf8(bytes.expose().to_vec())
        .map_err(|_| Error::config(setting, "the key is neither PEM nor JWK text (not UTF-8)"))
}
