//! Interoperability with an independent implementation, the `jsonwebtoken` crate: tokens made
//! by either verify in the other, for every algorithm both support (jsonwebtoken has no ES512).

mod common;

use common::{fixture, fixture_bytes, key_name, key_pair, verifier};
use jsonwebtoken as jwt;
use portcullis::jwt::{Algorithm, TokenBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Claims {
    iss: String,
    sub: String,
    iat: i64,
    exp: i64,
    jti: String,
    scope: String,
    tenant: String,
}

fn theirs(alg: Algorithm) -> jwt::Algorithm {
    alg.as_str().parse().unwrap()
}

fn their_keys(alg: Algorithm) -> (jwt::EncodingKey, jwt::DecodingKey) {
    if alg.is_hmac() {
        let secret = fixture_bytes("hmac/hs512.secret");
        return (
            jwt::EncodingKey::from_secret(&secret),
            jwt::DecodingKey::from_secret(&secret),
        );
    }
    let name = key_name(alg);
    let private = fixture(&format!("{name}.pkcs8.pem"));
    let public = fixture(&format!("{name}.spki.pem"));
    match alg {
        Algorithm::EdDSA => (
            jwt::EncodingKey::from_ed_pem(private.as_bytes()).unwrap(),
            jwt::DecodingKey::from_ed_pem(public.as_bytes()).unwrap(),
        ),
        Algorithm::ES256 | Algorithm::ES384 => (
            jwt::EncodingKey::from_ec_pem(private.as_bytes()).unwrap(),
            jwt::DecodingKey::from_ec_pem(public.as_bytes()).unwrap(),
        ),
        _ => (
            jwt::EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
            jwt::DecodingKey::from_rsa_pem(public.as_bytes()).unwrap(),
        ),
    }
}

fn supported_by_both() -> impl Iterator<Item = Algorithm> {
    Algorithm::ALL
        .into_iter()
        .filter(|alg| *alg != Algorithm::ES512)
}

#[test]
fn tokens_from_portcullis_verify_in_jsonwebtoken() {
    for alg in supported_by_both() {
        let (signer, _) = key_pair(alg);
        let token = TokenBuilder::new("me", "42")
            .scope(["a", "b"])
            .claim("tenant", "acme")
            .sign(&signer)
            .unwrap();
        let (_, decoding) = their_keys(alg);
        let mut validation = jwt::Validation::new(theirs(alg));
        validation.set_issuer(&["me"]);
        let data = jwt::decode::<Claims>(&token, &decoding, &validation)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(
            (data.claims.sub.as_str(), data.claims.scope.as_str()),
            ("42", "a b"),
            "{alg}"
        );
        assert_eq!(data.claims.tenant, "acme");
    }
}

#[test]
fn tokens_from_jsonwebtoken_verify_in_portcullis() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for alg in supported_by_both() {
        let claims = Claims {
            iss: "me".into(),
            sub: "42".into(),
            iat: now,
            exp: now + 600,
            jti: format!("jti-{alg}"),
            scope: "orders:read".into(),
            tenant: "acme".into(),
        };
        let (encoding, _) = their_keys(alg);
        let token = jwt::encode(&jwt::Header::new(theirs(alg)), &claims, &encoding).unwrap();
        let (_, public) = key_pair(alg);
        let verified = verifier(public)
            .verify(&token)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(verified.jti(), Some(claims.jti.as_str()), "{alg}");
        assert!(verified.has_scope("orders:read"));
        assert_eq!(
            verified.custom::<String>("tenant").unwrap().as_deref(),
            Some("acme")
        );
    }
}
