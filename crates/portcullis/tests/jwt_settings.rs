//! The JWT keys and checks built from settings: every key form, and every mistake named by
//! its setting at start-up.

mod common;

use common::fixture;
use portcullis::jwt::{Algorithm, JwtKeys, TokenBuilder};
use portcullis::settings::Settings;
use portcullis::{Error, InvalidToken};

fn keys_path(relative: &str) -> String {
    format!("{}/tests/keys/{relative}", env!("CARGO_MANIFEST_DIR"))
}

fn jwt_keys(toml: &str) -> Result<JwtKeys, Error> {
    let settings = Settings::from_toml_str(toml)?;
    JwtKeys::from_settings(&settings.jwt)
}

#[test]
fn an_empty_secret_is_generated_per_process() {
    let first = JwtKeys::from_settings(&Settings::default().jwt).unwrap();
    let second = JwtKeys::from_settings(&Settings::default().jwt).unwrap();
    let token = TokenBuilder::new("portcullis", "1")
        .sign(first.signer().unwrap())
        .unwrap();
    assert!(first.verifier().verify(&token).is_ok());
    assert!(matches!(
        second.verifier().verify(&token),
        Err(Error::TokenInvalid {
            reason: InvalidToken::BadSignature
        })
    ));
    assert_eq!(first.signer().unwrap().algorithm(), Algorithm::HS512);
}

#[test]
fn asymmetric_keys_from_files_and_inline_text() {
    let keys = jwt_keys(&format!(
        "[jwt]\nissuer = 'https://id'\nalgorithm = 'ES256'\nsigning_key = '{}'\nverification_keys = ['{}', '{}']",
        keys_path("ec/p256.pkcs8.pem"),
        keys_path("ec/p256.cert.pem"),
        keys_path("ec/p256.spki.pem"),
    ))
    .unwrap();
    let token = TokenBuilder::new("https://id", "1")
        .sign(keys.signer().unwrap())
        .unwrap();
    assert!(keys.verifier().verify(&token).is_ok());
    assert_eq!(keys.verifier().keys().len(), 2);

    // Inline PEM, verification-only (no signing key).
    let pem = fixture("rsa/rsa2048.spki.pem");
    let verify_only = jwt_keys(&format!(
        "[jwt]\nalgorithm = 'RS256'\nverification_keys = '''{pem}'''"
    ))
    .unwrap();
    assert!(verify_only.signer().is_none());
}

#[test]
fn key_mistakes_name_the_setting() {
    let cases = [
        (
            format!(
                "[jwt]\nalgorithm = 'HS512'\nsecret_key = '{}'",
                "x".repeat(40)
            ),
            "jwt.secret_key",
            "at least 64 bytes",
        ),
        (
            format!(
                "[jwt]\nalgorithm = 'ES256'\nsigning_key = '{}'",
                keys_path("ec/p384.pkcs8.pem")
            ),
            "jwt.signing_key",
            "cannot be used with ES256",
        ),
        (
            format!(
                "[jwt]\nalgorithm = 'RS256'\nverification_keys = ['{}', '{}']",
                keys_path("rsa/rsa2048.spki.pem"),
                keys_path("refused/rsa1024.pkcs8.pem")
            ),
            "jwt.verification_keys[1]",
            "at least 2048",
        ),
        (
            "[jwt]\nalgorithm = 'RS256'\nsigning_key = '/nonexistent/key.pem'".to_owned(),
            "jwt.signing_key",
            "/nonexistent/key.pem",
        ),
    ];
    for (toml, key, reason) in cases {
        match jwt_keys(&toml) {
            Err(Error::Config {
                key: got,
                reason: why,
            }) => {
                assert_eq!(got, key, "{toml}");
                assert!(why.contains(reason), "{why}");
            }
            other => panic!("{toml}: {other:?}"),
        }
    }
}

#[test]
fn claim_settings_reach_the_verifier() {
    let keys = jwt_keys(
        "[jwt]\nissuer = 'https://id'\nalgorithm = 'HS256'\nsecret_key = 'an example secret that is long enough for HS256'\n\
         required_claims = ['tenant']\naudience = 'orders'\nmax_token_size = 1024",
    )
    .unwrap();
    let signer = keys.signer().unwrap();
    let without_tenant = TokenBuilder::new("https://id", "1")
        .audience("orders")
        .sign(signer)
        .unwrap();
    assert!(keys
        .verifier()
        .verify(&without_tenant)
        .unwrap_err()
        .to_string()
        .contains("`tenant`"));
    let wrong_audience = TokenBuilder::new("https://id", "1")
        .claim("tenant", "a")
        .audience("web")
        .sign(signer)
        .unwrap();
    assert!(keys
        .verifier()
        .verify(&wrong_audience)
        .unwrap_err()
        .to_string()
        .contains("wrong audience"));
    let good = TokenBuilder::new("https://id", "1")
        .claim("tenant", "a")
        .audience("orders")
        .sign(signer)
        .unwrap();
    assert!(keys.verifier().verify(&good).is_ok());
    let big = TokenBuilder::new("https://id", "1")
        .claim("tenant", "x".repeat(1100))
        .audience("orders")
        .sign(signer)
        .unwrap();
    assert!(matches!(
        keys.verifier().verify(&big),
        Err(Error::TokenInvalid {
            reason: InvalidToken::TooLarge { limit: 1024 }
        })
    ));
}
