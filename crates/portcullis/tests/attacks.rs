//! Hostile tokens: each is correctly formed where it needs to be (often correctly signed by
//! the attacker or even by the real key) and must still be refused, without a panic.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{fixture, key_pair, verifier};
use portcullis::jwt::{dangerous, Algorithm, JwtVerifier, SigningKey, TokenBuilder, Validation};
use portcullis::{Error, InvalidToken};
use serde_json::json;

fn b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

fn valid_payload() -> String {
    let now = 2_000_000_000_i64 - 10;
    json!({"iss":"me","sub":"42","iat":now,"exp":now + 3600,"jti":"j","scope":""}).to_string()
}

/// `header.payload` signed with `key`, whatever the header says.
fn forge(key: &SigningKey, header: &str, payload: &str) -> String {
    dangerous::sign_compact(key, &b64(header), &b64(payload)).unwrap()
}

fn reason(result: Result<portcullis::jwt::Claims, Error>) -> InvalidToken {
    match result {
        Err(Error::TokenInvalid { reason }) => reason,
        other => panic!("expected an invalid token, got {other:?}"),
    }
}

#[test]
fn alg_none_in_any_spelling_is_refused() {
    let (_, public) = key_pair(Algorithm::HS256);
    let verifier = verifier(public);
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let header = b64(&json!({"alg": alg, "typ": "JWT"}).to_string());
        for signature in ["", "AAAA"] {
            let token = format!("{header}.{}.{signature}", b64(&valid_payload()));
            assert!(
                matches!(
                    reason(verifier.verify(&token)),
                    InvalidToken::AlgorithmMismatch { .. } | InvalidToken::BadBase64 { .. }
                ),
                "alg {alg:?} signature {signature:?}"
            );
        }
    }
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_refused() {
    // The classic key confusion: the attacker knows the RSA public key and uses its PEM bytes
    // as an HMAC secret, hoping the verifier takes the algorithm from the header.
    let public_pem = fixture("rsa/rsa2048.spki.pem");
    let attacker = SigningKey::from_secret(Algorithm::HS256, public_pem.as_bytes()).unwrap();
    let token = forge(
        &attacker,
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &valid_payload(),
    );
    let (_, rsa_public) = key_pair(Algorithm::RS256);
    assert!(matches!(
        reason(verifier(rsa_public).verify(&token)),
        InvalidToken::AlgorithmMismatch {
            expected: "RS256",
            ..
        }
    ));
}

#[test]
fn ecdsa_zero_signatures_are_refused() {
    let (signer, public) = key_pair(Algorithm::ES256);
    let verifier = verifier(public);
    let token = TokenBuilder::new("me", "42").sign(&signer).unwrap();
    let input = token.rsplit_once('.').unwrap().0;
    for signature in [
        vec![0u8; 64],
        vec![0u8; 2],
        vec![],
        [vec![0u8; 32], vec![1u8; 32]].concat(),
    ] {
        let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&signature));
        assert_eq!(reason(verifier.verify(&forged)), InvalidToken::BadSignature);
    }
}

#[test]
fn changing_any_character_of_a_valid_token_breaks_it() {
    for alg in [Algorithm::HS256, Algorithm::ES256, Algorithm::EdDSA] {
        let (signer, public) = key_pair(alg);
        let verifier = verifier(public);
        let token = TokenBuilder::new("me", "42")
            .claim("role", "user")
            .sign(&signer)
            .unwrap();
        assert!(verifier.verify(&token).is_ok());
        for (i, c) in token.char_indices() {
            if c == '.' {
                continue;
            }
            let replacement = if c == 'A' { 'B' } else { 'A' };
            let mut tampered = token.clone();
            tampered.replace_range(i..i + 1, &replacement.to_string());
            assert!(
                verifier.verify(&tampered).is_err(),
                "{alg}: position {i} accepted"
            );
        }
    }
}

#[test]
fn duplicate_header_members_are_refused_even_when_signed() {
    let (signer, public) = key_pair(Algorithm::HS256);
    let verifier = verifier(public);
    for header in [
        r#"{"alg":"HS256","alg":"none"}"#,
        r#"{"alg":"none","alg":"HS256"}"#,
        r#"{"alg":"HS256","kid":"a","kid":"b"}"#,
    ] {
        let token = forge(&signer, header, &valid_payload());
        assert!(
            matches!(reason(verifier.verify(&token)), InvalidToken::BadJson { segment: "header", ref detail } if detail.contains("duplicate")),
            "{header}"
        );
    }
}

#[test]
fn duplicate_claims_are_refused_even_when_signed() {
    let (signer, public) = key_pair(Algorithm::HS256);
    let payload = valid_payload().replacen('{', r#"{"sub":"admin","#, 1);
    let token = forge(&signer, r#"{"alg":"HS256"}"#, &payload);
    assert!(matches!(
        reason(verifier(public).verify(&token)),
        InvalidToken::BadJson {
            segment: "payload",
            ..
        }
    ));
}

#[test]
fn critical_extensions_and_embedded_keys_are_refused_even_when_signed() {
    let (signer, public) = key_pair(Algorithm::HS256);
    let verifier = verifier(public);
    let token = forge(
        &signer,
        r#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
        &valid_payload(),
    );
    assert_eq!(
        reason(verifier.verify(&token)),
        InvalidToken::UnsupportedCritical
    );
    for member in ["jwk", "jku", "x5c", "x5u"] {
        let header = json!({"alg":"HS256", member: "x"}).to_string();
        let token = forge(&signer, &header, &valid_payload());
        assert!(
            matches!(
                reason(verifier.verify(&token)),
                InvalidToken::EmbeddedKey { .. }
            ),
            "{member}"
        );
    }
}

#[test]
fn oversized_tokens_are_refused_before_decoding() {
    let (signer, public) = key_pair(Algorithm::HS256);
    let big = TokenBuilder::new("me", "42")
        .claim("blob", "x".repeat(9000))
        .sign(&signer)
        .unwrap();
    assert_eq!(
        reason(verifier(public.clone()).verify(&big)),
        InvalidToken::TooLarge { limit: 8192 }
    );
    let roomy = JwtVerifier::new(
        vec![public],
        Validation::new("me").max_token_size(16 * 1024),
    )
    .unwrap();
    assert!(roomy.verify(&big).is_ok());
    // Garbage of any size is refused by length alone.
    assert!(matches!(
        reason(roomy.verify(&"a".repeat(1 << 20))),
        InvalidToken::TooLarge { .. }
    ));
}

#[test]
fn wrongly_typed_claims_are_refused_even_when_signed() {
    let (signer, public) = key_pair(Algorithm::HS256);
    let verifier = verifier(public);
    let cases = [
        (
            json!({"iss":"me","sub":"42","iat":1,"exp":"4102444800","jti":"j","scope":""}),
            "exp",
        ),
        (
            json!({"iss":"me","sub":"42","iat":1,"exp":4102444800_i64,"nbf":[0],"jti":"j","scope":""}),
            "nbf",
        ),
        (
            json!({"iss":"me","sub":"42","iat":"1","exp":4102444800_i64,"jti":"j","scope":""}),
            "iat",
        ),
        (
            json!({"iss":["me"],"sub":"42","iat":1,"exp":4102444800_i64,"jti":"j","scope":""}),
            "iss",
        ),
        (
            json!({"iss":"me","sub":"42","iat":1,"exp":4102444800_i64,"jti":"j","scope":["a"]}),
            "scope",
        ),
    ];
    for (payload, claim) in cases {
        let token = forge(&signer, r#"{"alg":"HS256"}"#, &payload.to_string());
        assert!(
            matches!(reason(verifier.verify(&token)), InvalidToken::ClaimType { claim: c, .. } if c == claim),
            "{claim}"
        );
    }
}

#[test]
fn deeply_nested_json_is_an_error_not_a_crash() {
    let (signer, public) = key_pair(Algorithm::HS256);
    let payload = format!(r#"{{"deep":{}{}}}"#, "[".repeat(3000), "]".repeat(3000));
    let token = forge(&signer, r#"{"alg":"HS256"}"#, &payload);
    assert!(matches!(
        reason(verifier(public).verify(&token)),
        InvalidToken::BadJson { .. }
    ));
}

#[test]
fn random_input_is_refused_without_panicking() {
    let (_, public) = key_pair(Algorithm::HS256);
    let verifier = verifier(public);
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \x00\xff";
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 300) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|i| alphabet[((state >> (i % 56)) as usize + i) % alphabet.len()])
            .collect();
        let text = String::from_utf8_lossy(&bytes);
        assert!(verifier.verify(&text).is_err());
    }
}
