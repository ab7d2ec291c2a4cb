//! `portcullis gen-secret`: a random secret from the operating system's CSPRNG.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use clap::Args;

use crate::Failure;

/// Arguments of `gen-secret`.
#[derive(Args)]
pub(crate) struct GenSecret {
    /// Length of the secret in bytes (at least 32, the minimum for HS256; 64 suits HS512).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(32..=4096))]
    bytes: u16,
}

/// Prints `bytes` random bytes as base64url (no padding).
pub(crate) fn run(args: &GenSecret) -> Result<String, Failure> {
    random_secret(usize::from(args.bytes))
}

/// `bytes` random bytes as base64url (no padding).
pub(crate) fn random_secret(bytes: usize) -> Result<String, Failure> {
    let mut secret = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut secret)
        .map_err(|_| Failure::usage("the system random number generator failed"))?;
    Ok(URL_SAFE_NO_PAD.encode(secret))
}
