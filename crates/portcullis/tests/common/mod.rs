//! Helpers shared by the integration tests: fixture keys by algorithm.
#![allow(dead_code)] // each test binary uses a different subset

pub mod server;
pub mod users;

use std::path::PathBuf;

use portcullis::jwt::{Algorithm, JwtVerifier, SigningKey, Validation, VerifyingKey};

/// The text of a fixture file under `tests/keys/`.
pub fn fixture(relative: &str) -> String {
    std::fs::read_to_string(fixture_path(relative)).unwrap()
}

/// The bytes of a fixture file under `tests/keys/`.
pub fn fixture_bytes(relative: &str) -> Vec<u8> {
    std::fs::read(fixture_path(relative)).unwrap()
}

fn fixture_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/keys")
        .join(relative)
}

/// The fixture key name (without `.pkcs8.pem` / `.spki.pem`) for an asymmetric algorithm.
pub fn key_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => "rsa/rsa2048",
        Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => "rsa/rsa3072",
        Algorithm::ES256 => "ec/p256",
        Algorithm::ES384 => "ec/p384",
        Algorithm::ES512 => "ec/p521",
        Algorithm::EdDSA => "ed25519/ed25519",
        _ => unreachable!("HMAC has no PEM fixture"),
    }
}

/// A signing key and its public counterpart (from the SPKI file) for `alg`.
pub fn key_pair(alg: Algorithm) -> (SigningKey, VerifyingKey) {
    if alg.is_hmac() {
        let secret = fixture_bytes("hmac/hs512.secret");
        return (
            SigningKey::from_secret(alg, &secret).unwrap(),
            VerifyingKey::from_secret(alg, &secret).unwrap(),
        );
    }
    let name = key_name(alg);
    (
        SigningKey::from_pem(alg, &fixture(&format!("{name}.pkcs8.pem"))).unwrap(),
        VerifyingKey::from_pem(alg, &fixture(&format!("{name}.spki.pem"))).unwrap(),
    )
}

/// A verifier for tokens from issuer `me` with one key.
pub fn verifier(key: VerifyingKey) -> JwtVerifier {
    JwtVerifier::new(vec![key], Validation::new("me")).unwrap()
}
