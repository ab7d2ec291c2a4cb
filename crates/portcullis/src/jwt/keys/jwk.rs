//! JSON Web Keys (RFC 7517) and JWK Sets to key material.
//!
//! A JWK's own `alg` binds it: it must name a supported signature algorithm and agree with the
//! configured one. `use` other than `sig`, `key_ops` without the operation at hand, multi-prime
//! RSA (`oth`), unknown `kty`/`crv`, wrongly sized coordinates, and sets that mix shared
//! secrets with public keys or repeat a `kid` are all refused (Wycheproof's JWK cases).

use serde::Deserialize;

use super::material::{key_error, rsa_private_from_components, EcPrivate, Material};
use crate::jwt::algorithm::{Algorithm, Curve};
use crate::jwt::b64;
use crate::Result;

/// What a key will be used for; checked against `use` and `key_ops`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Sign,
    Verify,
}

/// One JWK as it appears in JSON. Only members portcullis reads are named.
#[derive(Deserialize)]
pub(crate) struct Jwk {
    kty: String,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    kid: Option<String>,
    crv: Option<String>,
    k: Option<String>,
    n: Option<String>,
    e: Option<String>,
    d: Option<String>,
    p: Option<String>,
    q: Option<String>,
    dp: Option<String>,
    dq: Option<String>,
    qi: Option<String>,
    x: Option<String>,
    y: Option<String>,
    oth: Option<serde_json::Value>,
}

/// A JWK read and checked: its material, the algorithm it is bound to, and its `kid`.
pub(crate) struct LoadedJwk {
    pub(crate) material: Material,
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
}

/// Parses JSON that is either one JWK or a JWK Set (`{"keys": [...]}`).
pub(crate) fn parse_keys(json: &str) -> Result<Vec<Jwk>> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|err| key_error(format!("the JWK is not valid JSON: {err}")))?;
    let keys = match value.get("keys") {
        Some(serde_json::Value::Array(keys)) => keys.clone(),
        Some(_) => return Err(key_error("a JWK Set's `keys` must be an array")),
        None => vec![value],
    };
    if keys.is_empty() {
        return Err(key_error("the JWK Set has no keys"));
    }
    keys.into_iter()
        .map(|key| {
            serde_json::from_value::<Jwk>(key)
                .map_err(|err| key_error(format!("the JWK is malformed: {err}")))
        })
        .collect()
}

/// Loads every key of a parsed set for `op`, each bound to its own `alg` or, when it has
/// none, to `default_alg`. Refuses sets mixing secrets with asymmetric keys and repeated kids.
pub(crate) fn load_set(
    keys: Vec<Jwk>,
    default_alg: Option<Algorithm>,
    op: Operation,
) -> Result<Vec<LoadedJwk>> {
    let loaded = keys
        .into_iter()
        .map(|jwk| load(jwk, default_alg, op))
        .collect::<Result<Vec<_>>>()?;
    let secrets = loaded.iter().filter(|k| k.alg.is_hmac()).count();
    if secrets > 0 && secrets < loaded.len() {
        return Err(key_error(
            "the key set mixes shared secrets with public keys; keep HMAC secrets and \
             asymmetric keys apart (a verifier holding both invites key confusion)",
        ));
    }
    let mut kids: Vec<&str> = loaded.iter().filter_map(|k| k.kid.as_deref()).collect();
    kids.sort_unstable();
    if let Some(pair) = kids.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(key_error(format!(
            "the key set has two keys with kid {:?}",
            pair[0]
        )));
    }
    Ok(loaded)
}

/// Checks one JWK's metadata and reads its material.
pub(crate) fn load(jwk: Jwk, default_alg: Option<Algorithm>, op: Operation) -> Result<LoadedJwk> {
    if let Some(use_) = jwk.use_.as_deref() {
        if use_ != "sig" {
            return Err(key_error(format!(
                "the JWK is marked \"use\": {use_:?}; only \"sig\" keys sign or verify"
            )));
        }
    }
    if let Some(ops) = &jwk.key_ops {
        let needed = match op {
            Operation::Sign => "sign",
            Operation::Verify => "verify",
        };
        if !ops.iter().any(|o| o == needed) {
            return Err(key_error(format!(
                "the JWK's key_ops {ops:?} do not include {needed:?}"
            )));
        }
    }
    let alg = match (jwk.alg.as_deref(), default_alg) {
        (Some(name), configured) => {
            let own = Algorithm::ALL
                .into_iter()
                .find(|alg| alg.as_str() == name)
                .ok_or_else(|| {
                    key_error(format!(
                        "the JWK's alg {name:?} is not a supported signature algorithm"
                    ))
                })?;
            if let Some(configured) = configured.filter(|c| *c != own) {
                return Err(key_error(format!(
                    "the JWK is bound to {own} but {configured} is configured"
                )));
            }
            own
        }
        (None, Some(configured)) => configured,
        (None, None) => {
            return Err(key_error(
                "the JWK has no alg and no algorithm is configured for it",
            ))
        }
    };
    let kid = jwk.kid.clone();
    let material = material(jwk, alg)?;
    Ok(LoadedJwk { material, alg, kid })
}

fn material(jwk: Jwk, alg: Algorithm) -> Result<Material> {
    match jwk.kty.as_str() {
        "oct" => {
            let k = required(&jwk.k, "k")?;
            if k.is_empty() {
                return Err(key_error("the JWK's secret `k` is empty"));
            }
            Ok(Material::Secret(k))
        }
        "RSA" => {
            if jwk.oth.is_some() {
                return Err(key_error("multi-prime RSA keys (oth) are not supported"));
            }
            let n = required(&jwk.n, "n")?;
            let e = required(&jwk.e, "e")?;
            match &jwk.d {
                None => Ok(Material::RsaPublic { n, e }),
                Some(_) => {
                    let d = required(&jwk.d, "d")?;
                    let p = required(&jwk.p, "p")?;
                    let q = required(&jwk.q, "q")?;
                    let dp = required(&jwk.dp, "dp")?;
                    let dq = required(&jwk.dq, "dq")?;
                    let qi = required(&jwk.qi, "qi")?;
                    rsa_private_from_components(&n, &e, [&d, &p, &q, &dp, &dq, &qi])
                }
            }
        }
        "EC" => {
            let crv = required_str(&jwk.crv, "crv")?;
            let curve = [Curve::P256, Curve::P384, Curve::P521]
                .into_iter()
                .find(|c| c.jwk_name() == crv)
                .ok_or_else(|| key_error(format!("the EC curve {crv:?} is not supported")))?;
            if alg.family() != crate::jwt::algorithm::KeyFamily::Ec(curve) {
                return Err(key_error(format!(
                    "an EC {crv} key cannot be used with {alg}"
                )));
            }
            let size = curve.coordinate_len();
            let x = sized(&jwk.x, "x", size)?;
            let y = sized(&jwk.y, "y", size)?;
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            match &jwk.d {
                None => Ok(Material::EcPublic { curve, point }),
                Some(_) => Ok(Material::EcPrivate {
                    curve,
                    source: EcPrivate::Scalar {
                        d: sized(&jwk.d, "d", size)?,
                        point,
                    },
                }),
            }
        }
        "OKP" => {
            let crv = required_str(&jwk.crv, "crv")?;
            if crv != "Ed25519" {
                return Err(key_error(format!(
                    "the OKP curve {crv:?} is not supported (only Ed25519)"
                )));
            }
            let x = sized(&jwk.x, "x", 32)?;
            match &jwk.d {
                None => Ok(Material::Ed25519Public { x }),
                Some(_) => {
                    let d = sized(&jwk.d, "d", 32)?;
                    aws_lc_rs::signature::Ed25519KeyPair::from_seed_and_public_key(&d, &x)
                        .map(Material::Ed25519Private)
                        .map_err(|_| key_error("the Ed25519 private and public keys disagree"))
                }
            }
        }
        other => Err(key_error(format!(
            "JWK kty {other:?} is not supported (oct, RSA, EC or OKP)"
        ))),
    }
}

fn required_str<'a>(field: &'a Option<String>, name: &str) -> Result<&'a str> {
    field
        .as_deref()
        .ok_or_else(|| key_error(format!("the JWK lacks `{name}`")))
}

fn required(field: &Option<String>, name: &str) -> Result<Vec<u8>> {
    b64::decode(required_str(field, name)?.as_bytes())
        .ok_or_else(|| key_error(format!("the JWK's `{name}` is not base64url")))
}

fn sized(field: &Option<String>, name: &str, len: usize) -> Result<Vec<u8>> {
    let bytes = required(field, name)?;
    if bytes.len() != len {
        return Err(key_error(format!(
            "the JWK's `{name}` is {} bytes; this curve needs {len}",
            bytes.len()
        )));
    }
    Ok(bytes)
}
