//! Loading keys from the fixture files: every algorithm round-trips with every accepted key
//! form, and every refused key is refused at load with a message that says why.

mod common;

use common::{fixture, fixture_bytes, key_name, key_pair, verifier};
use portcullis::jwt::{Algorithm, JwtVerifier, SigningKey, TokenBuilder, Validation, VerifyingKey};
use portcullis::{Error, InvalidToken};

#[test]
fn every_algorithm_signs_and_verifies_with_every_public_form() {
    for alg in Algorithm::ALL {
        let (signer, public) = key_pair(alg);
        let token = TokenBuilder::new("me", "42").sign(&signer).unwrap();
        let mut verifiers = vec![
            ("spki/secret", public),
            ("derived", signer.verifying_key().unwrap()),
        ];
        if !alg.is_hmac() {
            let name = key_name(alg);
            let private = fixture(&format!("{name}.pkcs8.pem"));
            verifiers.push((
                "private pem",
                VerifyingKey::from_pem(alg, &private).unwrap(),
            ));
            if alg != Algorithm::EdDSA && !name.contains("3072") {
                let cert = fixture(&format!("{name}.cert.pem"));
                verifiers.push(("certificate", VerifyingKey::from_pem(alg, &cert).unwrap()));
            }
        }
        for (form, key) in verifiers {
            let claims = verifier(key).verify(&token);
            assert_eq!(
                claims
                    .map(|c| c.sub().map(str::to_owned))
                    .ok()
                    .flatten()
                    .as_deref(),
                Some("42"),
                "{alg} via {form}"
            );
        }
    }
}

#[test]
fn a_token_does_not_verify_under_another_key_of_the_same_algorithm() {
    let (rsa2048, _) = key_pair(Algorithm::RS256);
    let other =
        VerifyingKey::from_pem(Algorithm::RS256, &fixture("rsa/rsa3072.pkcs8.pem")).unwrap();
    let token = TokenBuilder::new("me", "42").sign(&rsa2048).unwrap();
    assert!(matches!(
        verifier(other).verify(&token),
        Err(Error::TokenInvalid {
            reason: InvalidToken::BadSignature
        })
    ));
}

#[test]
fn a_key_that_does_not_fit_its_algorithm_is_refused_naming_what_fits() {
    let cases = [
        (
            Algorithm::ES256,
            "ec/p384.spki.pem",
            "an EC P-384 public key cannot be used with ES256 (it fits ES384)",
        ),
        (
            Algorithm::RS256,
            "ec/p256.pkcs8.pem",
            "an EC P-256 private key cannot be used with RS256",
        ),
        (
            Algorithm::EdDSA,
            "rsa/rsa2048.spki.pem",
            "an RSA public key cannot be used with EdDSA",
        ),
        (
            Algorithm::ES512,
            "ed25519/ed25519.spki.pem",
            "an Ed25519 public key cannot be used with ES512",
        ),
    ];
    for (alg, file, expected) in cases {
        let err = VerifyingKey::from_pem(alg, &fixture(file))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{alg} {file}: {err}");
    }
    // A public key cannot sign.
    let err = SigningKey::from_pem(Algorithm::RS256, &fixture("rsa/rsa2048.spki.pem")).unwrap_err();
    assert!(err.to_string().contains("cannot sign"), "{err}");
    // PEM text is never an HMAC secret: that is the HS/RS key-confusion attack.
    let err =
        VerifyingKey::from_pem(Algorithm::HS256, &fixture("rsa/rsa2048.spki.pem")).unwrap_err();
    assert!(
        err.to_string().contains("cannot be used with HS256"),
        "{err}"
    );
}

#[test]
fn refused_keys_say_why() {
    let cases = [
        (
            "refused/rsa1024.pkcs8.pem",
            Algorithm::RS256,
            "has 1024 bits; at least 2048",
        ),
        (
            "refused/rsa2048.pkcs1.pem",
            Algorithm::RS256,
            "openssl pkcs8 -topk8",
        ),
        (
            "refused/p256.sec1.pem",
            Algorithm::ES256,
            "openssl pkcs8 -topk8",
        ),
        (
            "refused/secp256k1.pkcs8.pem",
            Algorithm::ES256,
            "curve 1.3.132.0.10 is not supported",
        ),
        (
            "refused/rsa2048.encrypted.pem",
            Algorithm::RS256,
            "encrypted private keys are not accepted",
        ),
    ];
    for (file, alg, expected) in cases {
        let err = SigningKey::from_pem(alg, &fixture(file)).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{file}");
        assert!(err.to_string().contains(expected), "{file}: {err}");
    }
    let err = VerifyingKey::from_pem(Algorithm::RS256, "not a key").unwrap_err();
    assert!(err.to_string().contains("no PEM document"), "{err}");
}

#[test]
fn hmac_secrets_shorter_than_the_hash_are_refused() {
    let secret = fixture_bytes("hmac/hs512.secret");
    for (alg, min) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        assert!(
            SigningKey::from_secret(alg, &secret[..min]).is_ok(),
            "{alg}"
        );
        let err = SigningKey::from_secret(alg, &secret[..min - 1]).unwrap_err();
        assert!(
            err.to_string().contains(&format!("at least {min} bytes")),
            "{err}"
        );
        assert!(VerifyingKey::from_secret(alg, b"").is_err());
    }
}

#[test]
fn key_rotation_picks_the_key_by_kid() {
    let old = SigningKey::from_pem(Algorithm::RS256, &fixture("rsa/rsa2048.pkcs8.pem"))
        .unwrap()
        .with_kid("2025");
    let new = SigningKey::from_pem(Algorithm::RS256, &fixture("rsa/rsa3072.pkcs8.pem"))
        .unwrap()
        .with_kid("2026");
    let verifier = JwtVerifier::new(
        vec![old.verifying_key().unwrap(), new.verifying_key().unwrap()],
        Validation::new("me"),
    )
    .unwrap();
    for key in [&old, &new] {
        let token = TokenBuilder::new("me", "1").sign(key).unwrap();
        assert!(verifier.verify(&token).is_ok(), "{:?}", key.kid());
    }
    let stranger = SigningKey::from_pem(Algorithm::RS256, &fixture("rsa/rsa2048.pkcs8.pem"))
        .unwrap()
        .with_kid("2024");
    let token = TokenBuilder::new("me", "1").sign(&stranger).unwrap();
    assert!(matches!(
        verifier.verify(&token),
        Err(Error::TokenInvalid {
            reason: InvalidToken::UnknownKeyId
        })
    ));
    // Two keys with one kid, or secrets beside public keys, cannot be configured.
    let twice = JwtVerifier::new(
        vec![old.verifying_key().unwrap(), old.verifying_key().unwrap()],
        Validation::new("me"),
    );
    assert!(twice
        .unwrap_err()
        .to_string()
        .contains("two verification keys have kid"));
    let mixed = JwtVerifier::new(
        vec![old.verifying_key().unwrap(), key_pair(Algorithm::HS256).1],
        Validation::new("me"),
    );
    assert!(mixed.is_err());
}

#[test]
fn jwk_and_pem_text_are_told_apart() {
    let jwks = r#"{"keys":[{"kty":"oct","kid":"a","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"},
                          {"kty":"oct","kid":"b","alg":"HS256","k":"hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"}]}"#;
    let keys = VerifyingKey::from_text(Algorithm::HS256, jwks).unwrap();
    assert_eq!(
        keys.iter().map(|k| k.kid().unwrap()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let pem = VerifyingKey::from_text(Algorithm::ES256, &fixture("ec/p256.cert.pem")).unwrap();
    assert_eq!(pem.len(), 1);
    // A JWK bound to another algorithm than the configured one is refused.
    let err = VerifyingKey::from_text(Algorithm::HS512, jwks).unwrap_err();
    assert!(
        err.to_string()
            .contains("bound to HS256 but HS512 is configured"),
        "{err}"
    );
}
