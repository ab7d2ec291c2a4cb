//! JWT signing and verification: portcullis against the `jsonwebtoken` crate, in the same run.
//!
//! Run with `cargo bench -p portcullis --bench jwt` (see `docs/performance.md`).
//!
//! # What is measured
//!
//! One realistic access token — `iss`, `iat`, `sub`, `exp` (far future), `jti`, a `scope` of
//! five scopes and two custom claims (`tenant`, `role`); about 400 bytes compact with HS256 —
//! is signed and verified for HS256, HS512, RS256, ES256 and EdDSA:
//!
//! * `verify/<ALG>`: `portcullis` ([`JwtVerifier::verify`]) and `jsonwebtoken`
//!   ([`jsonwebtoken::decode`]) verify **the same token string**; for RS256, ES256 and EdDSA a
//!   third function, `aws-lc-rs primitive`, is the bare signature check
//!   ([`ParsedPublicKey::verify_sig`]) over the same signing input with a pre-parsed key and
//!   pre-decoded signature: the floor any JOSE library on aws-lc-rs can reach, so the cost of
//!   portcullis's framing (split, base64, header, payload JSON, claim checks) is the gap to it.
//! * `sign/<ALG>`: both sign the same typed claims struct: `portcullis` with
//!   [`SigningKey::sign`], `jsonwebtoken` with [`jsonwebtoken::encode`] and a default header.
//!
//! # Why it is fair
//!
//! * **Full verification on both sides.** portcullis checks the signature, `exp`, `nbf`, the
//!   issuer, its required claims (`jti iss iat sub exp scope`) and the token type.
//!   jsonwebtoken gets a [`jsonwebtoken::Validation`] with the same single algorithm, the same
//!   issuer, `required_spec_claims` = `exp iss sub` (the only ones of that list it knows),
//!   leeway 0, `nbf` checked when present, and decodes into a typed struct whose fields are
//!   all required (so a missing `jti`, `iat` or `scope` fails there too).
//! * **Keys are prepared outside the timed loop on both sides**: portcullis's
//!   [`SigningKey`] / [`JwtVerifier`], jsonwebtoken's `EncodingKey` / `DecodingKey` and its
//!   `Validation`, the primitive's [`ParsedPublicKey`]. jsonwebtoken redoes some key work on
//!   every call (building the HMAC key, parsing the RSA/EC/Ed25519 public or private key):
//!   that is its design, and what a caller of it pays, so it is inside the measurement.
//!   jsonwebtoken's keys come from the same PEM files, turned into the DER it expects exactly
//!   as its own `from_*_pem` functions do (the inner PKCS#1 of a PKCS#8 RSA key, the bit
//!   string of an SPKI public key).
//! * **No silent error path.** Before any timing, each side's token is verified by the other
//!   side (and by the primitive), the decoded claims are compared with what was signed, and an
//!   expired copy of the token must be refused by both verifiers.
//! * Both libraries use the same aws-lc-rs build (jsonwebtoken with its `aws_lc_rs` backend).

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::signature::{self as lc, ParsedPublicKey};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use portcullis::jwt::{Algorithm, JwtVerifier, SigningKey, Validation, VerifyingKey};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "https://id.example.com";
const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys");

/// The token's claims, as a typed struct on both sides. Every field is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    iat: i64,
    sub: String,
    exp: i64,
    jti: String,
    scope: String,
    tenant: String,
    role: String,
}

impl AccessClaims {
    fn realistic() -> Self {
        AccessClaims {
            iss: ISSUER.into(),
            iat: 1_767_225_600,
            sub: "usr_7f3c9a125b4e".into(),
            exp: 4_102_444_800, // 2100-01-01
            jti: "c5a1e9f04b7d4e2a9f6b3c8d1e0a7f52".into(),
            scope: "orders:read orders:write invoices:read customers:read reports:export".into(),
            tenant: "acme-eu".into(),
            role: "admin".into(),
        }
    }
}

/// One algorithm, with every key prepared on every side.
struct Case {
    name: &'static str,
    signer: SigningKey,
    verifier: JwtVerifier,
    encoding: jsonwebtoken::EncodingKey,
    decoding: jsonwebtoken::DecodingKey,
    header: jsonwebtoken::Header,
    validation: jsonwebtoken::Validation,
    primitive: Option<ParsedPublicKey>,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{KEYS}/{path}")).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// The DER inside a PEM document.
fn pem_der(pem: &str) -> Vec<u8> {
    let text: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(text).expect("PEM body is base64")
}

/// One DER element at the start of `der`: (tag, contents, what follows).
fn tlv(der: &[u8]) -> (u8, &[u8], &[u8]) {
    let (len, head) = match der[1] {
        short if short < 0x80 => (usize::from(short), 2),
        0x81 => (usize::from(der[2]), 3),
        0x82 => ((usize::from(der[2]) << 8) | usize::from(der[3]), 4),
        other => panic!("unsupported DER length byte {other:#x}"),
    };
    (der[0], &der[head..head + len], &der[head + len..])
}

/// The key bits of an SPKI `PUBLIC KEY`: PKCS#1 for RSA, the point for EC, 32 bytes for Ed25519.
fn spki_key(der: &[u8]) -> Vec<u8> {
    let (_, spki, _) = tlv(der);
    let (_, _algorithm, rest) = tlv(spki);
    let (tag, bits, _) = tlv(rest);
    assert_eq!(tag, 0x03, "BIT STRING");
    bits[1..].to_vec()
}

/// The private key inside a PKCS#8 `PRIVATE KEY` (PKCS#1 `RSAPrivateKey` for RSA).
fn pkcs8_inner(der: &[u8]) -> Vec<u8> {
    let (_, info, _) = tlv(der);
    let (_, _version, rest) = tlv(info);
    let (_, _algorithm, rest) = tlv(rest);
    let (tag, key, _) = tlv(rest);
    assert_eq!(tag, 0x04, "OCTET STRING");
    key.to_vec()
}

fn validation(alg: jsonwebtoken::Algorithm) -> jsonwebtoken::Validation {
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    validation.leeway = 0;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation
}

fn hmac_case(name: &'static str, alg: Algorithm, jwt_alg: jsonwebtoken::Algorithm) -> Case {
    let secret = std::fs::read(format!("{KEYS}/hmac/hs512.secret")).expect("HMAC secret");
    let signer = SigningKey::from_secret(alg, &secret).expect("portcullis HMAC key");
    let key = VerifyingKey::from_secret(alg, &secret).expect("portcullis HMAC key");
    Case {
        name,
        signer,
        verifier: JwtVerifier::new(vec![key], Validation::new(ISSUER)).expect("verifier"),
        encoding: jsonwebtoken::EncodingKey::from_secret(&secret),
        decoding: jsonwebtoken::DecodingKey::from_secret(&secret),
        header: jsonwebtoken::Header::new(jwt_alg),
        validation: validation(jwt_alg),
        primitive: None,
    }
}

fn public_case(
    name: &'static str,
    alg: Algorithm,
    jwt_alg: jsonwebtoken::Algorithm,
    files: (&str, &str),
    primitive: &'static dyn lc::VerificationAlgorithm,
) -> Case {
    let (private_pem, public_pem) = (read(files.0), read(files.1));
    let signer = SigningKey::from_pem(alg, &private_pem).expect("portcullis private key");
    let key = VerifyingKey::from_pem(alg, &public_pem).expect("portcullis public key");
    let private_der = pem_der(&private_pem);
    let public_key = spki_key(&pem_der(&public_pem));
    use jsonwebtoken::{DecodingKey, EncodingKey};
    let (encoding, decoding) = match jwt_alg {
        jsonwebtoken::Algorithm::RS256 => (
            EncodingKey::from_rsa_der(&pkcs8_inner(&private_der)),
            DecodingKey::from_rsa_der(&public_key),
        ),
        jsonwebtoken::Algorithm::ES256 => (
            EncodingKey::from_ec_der(&private_der),
            DecodingKey::from_ec_der(&public_key),
        ),
        jsonwebtoken::Algorithm::EdDSA => (
            EncodingKey::from_ed_der(&private_der),
            DecodingKey::from_ed_der(&public_key),
        ),
        other => unreachable!("{other:?}"),
    };
    Case {
        name,
        signer,
        verifier: JwtVerifier::new(vec![key], Validation::new(ISSUER)).expect("verifier"),
        encoding,
        decoding,
        header: jsonwebtoken::Header::new(jwt_alg),
        validation: validation(jwt_alg),
        primitive: Some(ParsedPublicKey::new(primitive, &public_key).expect("primitive key")),
    }
}

fn cases() -> Vec<Case> {
    use jsonwebtoken::Algorithm as J;
    vec![
        hmac_case("HS256", Algorithm::HS256, J::HS256),
        hmac_case("HS512", Algorithm::HS512, J::HS512),
        public_case(
            "RS256",
            Algorithm::RS256,
            J::RS256,
            ("rsa/rsa2048.pkcs8.pem", "rsa/rsa2048.spki.pem"),
            &lc::RSA_PKCS1_2048_8192_SHA256,
        ),
        public_case(
            "ES256",
            Algorithm::ES256,
            J::ES256,
            ("ec/p256.pkcs8.pem", "ec/p256.spki.pem"),
            &lc::ECDSA_P256_SHA256_FIXED,
        ),
        public_case(
            "EdDSA",
            Algorithm::EdDSA,
            J::EdDSA,
            ("ed25519/ed25519.pkcs8.pem", "ed25519/ed25519.spki.pem"),
            &lc::ED25519,
        ),
    ]
}

/// The signing input and the decoded signature of a compact token.
fn split(token: &str) -> (&[u8], Vec<u8>) {
    let dot = token.rfind('.').expect("compact token");
    let signature = URL_SAFE_NO_PAD
        .decode(&token[dot + 1..])
        .expect("signature is base64url");
    (&token.as_bytes()[..dot], signature)
}

/// Proves, once and untimed, that every function measured takes its success path, and that
/// both verifiers do check `exp`.
fn cross_check(case: &Case, claims: &AccessClaims) -> String {
    let ours = case.signer.sign(claims).expect("portcullis signs");
    let theirs =
        jsonwebtoken::encode(&case.header, claims, &case.encoding).expect("jsonwebtoken signs");
    for token in [&ours, &theirs] {
        let verified = case
            .verifier
            .verify(token)
            .unwrap_or_else(|err| panic!("{}: portcullis refused {token}: {err}", case.name));
        let back: AccessClaims =
            serde_json::from_value(verified.to_json()).expect("claims round-trip");
        assert_eq!(&back, claims, "{}: portcullis claims", case.name);
        let decoded = jsonwebtoken::decode::<AccessClaims>(token, &case.decoding, &case.validation)
            .unwrap_or_else(|err| panic!("{}: jsonwebtoken refused {token}: {err}", case.name));
        assert_eq!(
            &decoded.claims, claims,
            "{}: jsonwebtoken claims",
            case.name
        );
        if let Some(key) = &case.primitive {
            let (input, signature) = split(token);
            key.verify_sig(input, &signature)
                .unwrap_or_else(|_| panic!("{}: primitive refused {token}", case.name));
        }
    }
    let expired = AccessClaims {
        exp: 1_000_000_000,
        ..claims.clone()
    };
    let expired = case.signer.sign(&expired).expect("portcullis signs");
    assert!(case.verifier.verify(&expired).is_err(), "{}", case.name);
    assert!(
        jsonwebtoken::decode::<AccessClaims>(&expired, &case.decoding, &case.validation).is_err(),
        "{}",
        case.name
    );
    eprintln!(
        "{}: token {} bytes (portcullis), {} bytes (jsonwebtoken)",
        case.name,
        ours.len(),
        theirs.len()
    );
    ours
}

fn jwt(c: &mut Criterion) {
    let claims = AccessClaims::realistic();
    for case in cases() {
        let token = cross_check(&case, &claims);

        let mut group = c.benchmark_group(format!("verify/{}", case.name));
        group.bench_function("portcullis", |b| {
            b.iter(|| case.verifier.verify(black_box(&token)).expect("verifies"))
        });
        group.bench_function("jsonwebtoken", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<AccessClaims>(
                    black_box(&token),
                    &case.decoding,
                    &case.validation,
                )
                .expect("verifies")
            })
        });
        if let Some(key) = &case.primitive {
            let (input, signature) = split(&token);
            group.bench_function("aws-lc-rs primitive", |b| {
                b.iter(|| {
                    key.verify_sig(black_box(input), black_box(&signature))
                        .expect("verifies")
                })
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("sign/{}", case.name));
        group.bench_function("portcullis", |b| {
            b.iter(|| case.signer.sign(black_box(&claims)).expect("signs"))
        });
        group.bench_function("jsonwebtoken", |b| {
            b.iter(|| {
                jsonwebtoken::encode(&case.header, black_box(&claims), &case.encoding)
                    .expect("signs")
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = jwt
}
criterion_main!(benches);
