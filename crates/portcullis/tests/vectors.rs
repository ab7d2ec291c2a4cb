//! Published JOSE vectors: RFC 7515 Appendix A, RFC 7520 §4, RFC 8037, RFC 7797 and the
//! Wycheproof JWS, JWK and JWS-in-crypto sets (`tests/vectors/`, see its README).
//!
//! Every vector that applies to a supported algorithm must get its expected verdict. Each test
//! prints how many vectors applied and passed (`cargo test --test vectors -- --nocapture`).

use std::path::PathBuf;

use portcullis::jwt::{dangerous, Algorithm, JwtVerifier, SigningKey, Validation, VerifyingKey};
use portcullis::{Error, InvalidToken};
use serde_json::Value;

fn load(relative: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// Tally of one vector file: how many vectors applied, and the ones that failed.
struct Tally {
    name: &'static str,
    applied: usize,
    failures: Vec<String>,
}

impl Tally {
    fn new(name: &'static str) -> Self {
        Tally {
            name,
            applied: 0,
            failures: Vec::new(),
        }
    }

    /// Signs `compact`'s header and payload again with the JWK `key`: a deterministic
    /// algorithm must reproduce the published token byte for byte.
    fn resigned(
        &mut self,
        section: impl std::fmt::Display,
        key: &Value,
        alg: Algorithm,
        compact: &str,
    ) {
        let signer = SigningKey::from_jwk(&key.to_string(), Some(alg)).unwrap();
        let (header_b64, rest) = compact.split_once('.').unwrap();
        let (payload_b64, _) = rest.split_once('.').unwrap();
        let resigned = dangerous::sign_compact(&signer, header_b64, payload_b64).unwrap();
        self.expect(
            format!("{section} re-signed"),
            resigned == compact,
            &resigned,
        );
    }

    /// A Wycheproof test case's verdict: valid or not, as `expected`.
    fn wycheproof<T: std::fmt::Debug>(
        &mut self,
        test: &Value,
        expected: bool,
        result: &Result<T, Error>,
    ) {
        self.expect(
            format!("tcId {} ({})", test["tcId"], str_of(test, "comment")),
            result.is_ok() == expected,
            format!("expected valid={expected}, got {result:?}"),
        );
    }

    fn expect(&mut self, id: impl std::fmt::Display, ok: bool, detail: impl std::fmt::Display) {
        self.applied += 1;
        if !ok {
            self.failures.push(format!("{id}: {detail}"));
        }
    }

    fn finish(self) {
        println!(
            "{}: {} applied, {} passed",
            self.name,
            self.applied,
            self.applied - self.failures.len()
        );
        assert!(
            self.failures.is_empty(),
            "{} failures:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

/// A verifier (for the JWS layer only) holding the keys of `jwk`, or the load error.
fn jws_verifier(jwk: &Value, pinned: Option<Algorithm>) -> Result<JwtVerifier, Error> {
    let keys = VerifyingKey::from_jwk_set(&jwk.to_string(), pinned)?;
    JwtVerifier::new(keys, Validation::new("unused"))
}

fn verifies(jwk: &Value, pinned: Option<Algorithm>, token: &str) -> Result<Vec<u8>, Error> {
    jws_verifier(jwk, pinned)?
        .verify_signature(token)
        .map(|jws| jws.payload)
}

fn str_of<'v>(value: &'v Value, key: &str) -> &'v str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key}"))
}

/// Replaces the signature of `token` with `len` zero bytes (ECDSA r = s = 0).
fn zero_signature(token: &str, len: usize) -> String {
    use base64::Engine;
    let (input, _) = token.rsplit_once('.').unwrap();
    let zeros = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(vec![0u8; len]);
    format!("{input}.{zeros}")
}

#[test]
fn rfc7515_appendix_a() {
    let file = load("rfc/rfc7515_appendix_a.json");
    let mut tally = Tally::new("RFC 7515 appendix A");
    let cases = file["cases"].as_array().unwrap();
    let hmac_key = &cases[0]["key_jwk"];
    for case in cases {
        let section = str_of(case, "section");
        let Some(compact) = case["compact"].as_str() else {
            continue; // A.6 and A.7 are JSON serializations: data only.
        };
        match str_of(case, "expected") {
            "valid" => {
                let alg: Algorithm = str_of(case, "alg").parse().unwrap();
                let verify_key = if case["public_jwk"].is_null() {
                    &case["key_jwk"]
                } else {
                    &case["public_jwk"]
                };
                let result = verifies(verify_key, Some(alg), compact);
                let payload_ok = result
                    .as_ref()
                    .is_ok_and(|p| p == str_of(case, "payload").as_bytes());
                tally.expect(section, payload_ok, format!("{alg}: {result:?}"));

                // Deterministic algorithms reproduce the published bytes exactly.
                if matches!(alg, Algorithm::HS256 | Algorithm::RS256) {
                    tally.resigned(section, &case["key_jwk"], alg, compact);
                }
                // ECDSA r = s = 0 ("psychic signatures") never verifies.
                if let Some(len) = match alg {
                    Algorithm::ES256 => Some(64),
                    Algorithm::ES512 => Some(132),
                    _ => None,
                } {
                    let zeroed = zero_signature(compact, len);
                    let refused = matches!(
                        verifies(verify_key, Some(alg), &zeroed),
                        Err(Error::TokenInvalid {
                            reason: InvalidToken::BadSignature
                        })
                    );
                    tally.expect(format!("{section} r=s=0"), refused, "accepted");
                }
            }
            _ => {
                // A.5, alg "none": refused by a verifier configured with a key.
                let result = verifies(hmac_key, Some(Algorithm::HS256), compact);
                let refused = matches!(
                    result,
                    Err(Error::TokenInvalid {
                        reason: InvalidToken::AlgorithmMismatch { .. }
                    })
                );
                tally.expect(section, refused, format!("{result:?}"));
            }
        }
    }
    tally.finish();
}

#[test]
fn rfc7515_a1_is_expired_as_a_jwt() {
    let file = load("rfc/rfc7515_appendix_a.json");
    let case = &file["cases"][0];
    let keys =
        VerifyingKey::from_jwk_set(&case["key_jwk"].to_string(), Some(Algorithm::HS256)).unwrap();
    let verifier = JwtVerifier::new(keys, Validation::new("joe")).unwrap();
    // exp 1300819380 (March 2011) is reported before the missing claims.
    assert!(matches!(
        verifier.verify(str_of(case, "compact")),
        Err(Error::TokenExpired)
    ));
}

#[test]
fn rfc7520_section4() {
    let file = load("rfc/rfc7520_section4_jws.json");
    let mut tally = Tally::new("RFC 7520 section 4");
    let payload = str_of(&file, "payload");
    for example in file["examples"].as_array().unwrap() {
        let section = str_of(example, "section");
        // 4.8 has three signatures and no single algorithm: its JSON form is checked below
        // with the symmetric key.
        let alg: Algorithm = example["alg"].as_str().unwrap_or("HS256").parse().unwrap();
        let key = match example["key_ref"].as_str() {
            Some(name) => &file["keys"][name],
            None => &file["keys"]["3.5 Symmetric key (MAC)"],
        };
        if let Some(compact) = example["compact"].as_str() {
            let result = verifies(key, Some(alg), compact);
            let ok = result.as_ref().is_ok_and(|p| p == payload.as_bytes());
            tally.expect(section, ok, format!("{alg}: {result:?}"));
            if matches!(alg, Algorithm::RS256 | Algorithm::HS256) {
                tally.resigned(section, key, alg, compact);
            }
        }
        // The JSON serializations are not compact tokens: refused, whatever they hold.
        for form in ["general_json", "flattened_json"] {
            if example[form].is_null() {
                continue;
            }
            let result = verifies(key, Some(alg), &example[form].to_string());
            tally.expect(
                format!("{section} {form}"),
                matches!(
                    result,
                    Err(Error::TokenInvalid {
                        reason: InvalidToken::Malformed
                    })
                ),
                format!("{result:?}"),
            );
        }
    }
    tally.finish();
}

#[test]
fn rfc8037_eddsa() {
    let file = load("rfc/rfc8037_eddsa.json");
    let mut tally = Tally::new("RFC 8037");
    for case in file["cases"].as_array().unwrap() {
        let Some(compact) = case["compact"].as_str() else {
            continue;
        };
        let result = verifies(&case["public_jwk"], Some(Algorithm::EdDSA), compact);
        let ok = result
            .as_ref()
            .is_ok_and(|p| p == str_of(case, "payload").as_bytes());
        tally.expect("A.4 verify", ok, format!("{result:?}"));
        tally.resigned("A.4", &case["key_jwk"], Algorithm::EdDSA, compact);
    }
    tally.finish();
}

#[test]
fn rfc7797_unencoded_payload_is_refused() {
    let file = load("rfc/rfc7797_unencoded_payload.json");
    let mut tally = Tally::new("RFC 7797");
    for case in file["cases"].as_array().unwrap() {
        let section = str_of(case, "section");
        let result = verifies(
            &file["key_jwk"],
            Some(Algorithm::HS256),
            str_of(case, "compact"),
        );
        if str_of(case, "expected_for_portcullis").starts_with("valid") {
            tally.expect(section, result.is_ok(), format!("{result:?}"));
        } else {
            let refused = matches!(
                result,
                Err(Error::TokenInvalid {
                    reason: InvalidToken::UnsupportedCritical
                })
            );
            tally.expect(section, refused, format!("{result:?}"));
        }
    }
    tally.finish();
}

/// The expected verdict of a Wycheproof JWS case, corrected for the snapshot's known
/// mislabels (see `tests/vectors/README.md`).
fn wycheproof_expects_valid(test: &Value) -> bool {
    match test["tcId"].as_u64().unwrap() {
        367 | 370 => true,
        372 | 373 => false,
        _ => str_of(test, "result") == "valid",
    }
}

/// The key of a Wycheproof group (its public half when given) and the algorithm to pin:
/// the rfc7520 groups carry a wrong `alg` on the key, so it is dropped and the example's
/// algorithm pinned.
fn wycheproof_key(group: &Value, token: &str) -> (Value, Option<Algorithm>) {
    let mut key = if group["public"].is_null() {
        group["private"].clone()
    } else {
        group["public"].clone()
    };
    let mut pinned = None;
    if str_of(group, "comment").starts_with("rfc7520") {
        if let Some(obj) = key.as_object_mut() {
            obj.remove("alg");
        }
        let header = dangerous::decode_unverified(token).unwrap().header;
        pinned = Some(str_of(&header, "alg").parse().unwrap());
    }
    (key, pinned)
}

fn token_text(test: &Value) -> String {
    match &test["jws"] {
        Value::String(s) => s.clone(),
        other => other.to_string(), // the JsonSerialization case
    }
}

#[test]
fn wycheproof_json_web_signature() {
    let file = load("wycheproof/json_web_signature_test.json");
    let mut tally = Tally::new("Wycheproof json_web_signature");
    for group in file["testGroups"].as_array().unwrap() {
        for test in group["tests"].as_array().unwrap() {
            let token = token_text(test);
            let (key, pinned) = wycheproof_key(group, &token);
            let result = verifies(&key, pinned, &token);
            let expected = wycheproof_expects_valid(test);
            tally.wycheproof(test, expected, &result);
        }
    }
    tally.finish();
}

#[test]
fn wycheproof_json_web_key() {
    let file = load("wycheproof/json_web_key_test.json");
    let mut tally = Tally::new("Wycheproof json_web_key");
    for group in file["testGroups"].as_array().unwrap() {
        for test in group["tests"].as_array().unwrap() {
            let key = if group["public"].is_null() {
                &group["private"]
            } else {
                &group["public"]
            };
            // The key set is loaded with no configured algorithm: each key's alg binds it.
            let result = verifies(key, None, &token_text(test));
            let expected = str_of(test, "result") == "valid";
            tally.wycheproof(test, expected, &result);
        }
    }
    tally.finish();
}

#[test]
fn wycheproof_json_web_crypto_jws() {
    let file = load("wycheproof/json_web_crypto_test.json");
    let mut tally = Tally::new("Wycheproof json_web_crypto (JWS)");
    let mut jwe = 0;
    for group in file["testGroups"].as_array().unwrap() {
        for test in group["tests"].as_array().unwrap() {
            if test.get("jwe").is_some() {
                // JWE is not implemented; such a token is not a compact JWS and is refused.
                jwe += 1;
                let key = group["private"].clone();
                let refused =
                    verifies(&key, Some(Algorithm::HS256), &test["jwe"].to_string()).is_err();
                assert!(refused, "JWE tcId {} accepted as a JWS", test["tcId"]);
                continue;
            }
            let result = verifies(&group["private"], None, &token_text(test));
            let expected = str_of(test, "result") == "valid";
            tally.wycheproof(test, expected, &result);
        }
    }
    println!("Wycheproof json_web_crypto: {jwe} JWE vectors do not apply (refused as JWS)");
    tally.finish();
}
