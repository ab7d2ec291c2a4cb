//! Where a command's key comes from: `--secret`, `--secret-file`, `--key` or `JWT_SECRET`.

use std::path::PathBuf;

use clap::Args;
use portcullis::jwt::{Algorithm, SigningKey, VerifyingKey};

use crate::Failure;

/// The key arguments shared by `token create` and `token verify`.
#[derive(Args)]
#[group(multiple = false)]
pub(crate) struct KeyArgs {
    /// HMAC secret, taken as its UTF-8 bytes (as cbsecurity's `jwt.secret_key`).
    #[arg(long, value_name = "S")]
    secret: Option<String>,
    /// HMAC secret file, taken as its exact bytes (no trimming).
    #[arg(long, value_name = "F")]
    secret_file: Option<PathBuf>,
    /// Key file: PEM (PKCS#8 private key to sign; SPKI public key, certificate or private key
    /// to verify) or JWK / JWK Set JSON.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
}

/// The environment variable read for HMAC secrets when no key argument is given.
const JWT_SECRET: &str = "JWT_SECRET";

/// Either key bytes for HMAC or the text of a key file.
enum Source {
    Secret(Vec<u8>),
    KeyText(String),
}

impl KeyArgs {
    fn source(&self, alg: Algorithm) -> Result<Source, Failure> {
        if let Some(secret) = &self.secret {
            return Ok(Source::Secret(secret.as_bytes().to_vec()));
        }
        if let Some(path) = &self.secret_file {
            let bytes = std::fs::read(path)
                .map_err(|e| Failure::usage(format!("--secret-file {}: {e}", path.display())))?;
            return Ok(Source::Secret(bytes));
        }
        if let Some(path) = &self.key {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::usage(format!("--key {}: {e}", path.display())))?;
            return Ok(Source::KeyText(text));
        }
        match std::env::var(JWT_SECRET) {
            Ok(secret) if alg.is_hmac() && !secret.is_empty() => {
                Ok(Source::Secret(secret.into_bytes()))
            }
            _ => Err(Failure::usage(format!(
                "give --secret, --secret-file or --key{}",
                if alg.is_hmac() {
                    " (or set JWT_SECRET)"
                } else {
                    ""
                }
            ))),
        }
    }

    /// The key to sign with.
    pub(crate) fn signing_key(&self, alg: Algorithm) -> Result<SigningKey, Failure> {
        match self.source(alg)? {
            Source::Secret(bytes) => SigningKey::from_secret(alg, &bytes),
            Source::KeyText(text) => SigningKey::from_text(alg, &text),
        }
        .map_err(|err| Failure::usage(self.describe(err)))
    }

    /// The key(s) to verify with.
    pub(crate) fn verifying_keys(&self, alg: Algorithm) -> Result<Vec<VerifyingKey>, Failure> {
        match self.source(alg)? {
            Source::Secret(bytes) => VerifyingKey::from_secret(alg, &bytes).map(|k| vec![k]),
            Source::KeyText(text) => VerifyingKey::from_text(alg, &text),
        }
        .map_err(|err| Failure::usage(self.describe(err)))
    }

    /// A key error labelled with the argument it came from.
    fn describe(&self, err: portcullis::Error) -> String {
        let flag = if self.key.is_some() {
            "--key"
        } else if self.secret_file.is_some() {
            "--secret-file"
        } else if self.secret.is_some() {
            "--secret"
        } else {
            JWT_SECRET
        };
        match err {
            portcullis::Error::Config { reason, .. } => format!("{flag}: {reason}"),
            other => format!("{flag}: {other}"),
        }
    }
}
