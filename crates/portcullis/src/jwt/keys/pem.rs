//! PEM documents to key material: PKCS#8 private keys (`PRIVATE KEY`), SPKI public keys
//! (`PUBLIC KEY`) and X.509 certificates (`CERTIFICATE`, whose public key is used; the
//! certificate itself is not validated — the key is pinned by configuration).
//!
//! Legacy forms (`RSA PRIVATE KEY`, `EC PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`) are refused
//! with the `openssl` command that converts them.

use pkcs8::der::{Decode, Encode};
use pkcs8::ObjectIdentifier;
use spki::SubjectPublicKeyInfoRef;

use super::material::{key_error, rsa_private_from_pkcs8, EcPrivate, Material};
use crate::jwt::algorithm::Curve;
use crate::Result;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// Reads the first PEM document in `text` into key material.
pub(crate) fn material_from_pem(text: &str) -> Result<Material> {
    let start = text
        .find("-----BEGIN ")
        .ok_or_else(|| key_error("no PEM document found (expected -----BEGIN ...-----)"))?;
    let (label, der) = pkcs8::der::pem::decode_vec(text[start..].trim_end().as_bytes())
        .map_err(|err| key_error(format!("the PEM document is malformed: {err}")))?;
    match label {
        "PRIVATE KEY" => material_from_pkcs8(&der),
        "PUBLIC KEY" => material_from_spki(&der),
        "CERTIFICATE" => {
            let cert = x509_cert::Certificate::from_der(&der)
                .map_err(|err| key_error(format!("the certificate is malformed: {err}")))?;
            let spki = cert
                .tbs_certificate()
                .subject_public_key_info()
                .to_der()
                .map_err(|err| key_error(format!("the certificate's public key: {err}")))?;
            material_from_spki(&spki)
        }
        "RSA PRIVATE KEY" | "EC PRIVATE KEY" => Err(key_error(format!(
            "{label} (PKCS#1/SEC1) is not accepted; convert it to PKCS#8 with \
             `openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.p8.pem`"
        ))),
        "ENCRYPTED PRIVATE KEY" => Err(key_error(
            "encrypted private keys are not accepted; decrypt it with \
             `openssl pkcs8 -in key.pem -out key.p8.pem` and protect the file instead",
        )),
        "RSA PUBLIC KEY" => Err(key_error(
            "RSA PUBLIC KEY (PKCS#1) is not accepted; convert it to SPKI with \
             `openssl rsa -RSAPublicKey_in -in key.pem -pubout`",
        )),
        other => Err(key_error(format!(
            "a PEM {other:?} is not a key; expected PRIVATE KEY, PUBLIC KEY or CERTIFICATE"
        ))),
    }
}

/// Reads a DER PKCS#8 `PrivateKeyInfo`.
pub(crate) fn material_from_pkcs8(der: &[u8]) -> Result<Material> {
    let info = pkcs8::PrivateKeyInfoRef::try_from(der)
        .map_err(|err| key_error(format!("not a PKCS#8 private key: {err}")))?;
    let oid = info.algorithm.oid;
    if oid == RSA_ENCRYPTION {
        let key = pkcs1::RsaPrivateKeyRef::from_der(info.private_key.as_bytes())
            .map_err(|err| key_error(format!("the RSA private key is malformed: {err}")))?;
        rsa_private_from_pkcs8(der, key.modulus.as_bytes(), key.public_exponent.as_bytes())
    } else if oid == EC_PUBLIC_KEY {
        let curve = curve_of(info.algorithm.parameters_oid().ok())?;
        Ok(Material::EcPrivate {
            curve,
            source: EcPrivate::Pkcs8(der.to_vec()),
        })
    } else if oid == ED25519 {
        aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(Material::Ed25519Private)
            .map_err(|err| key_error(format!("the Ed25519 private key is unusable: {err}")))
    } else {
        Err(unsupported_oid(oid))
    }
}

/// Reads a DER `SubjectPublicKeyInfo`.
pub(crate) fn material_from_spki(der: &[u8]) -> Result<Material> {
    let info = SubjectPublicKeyInfoRef::try_from(der)
        .map_err(|err| key_error(format!("not an SPKI public key: {err}")))?;
    let oid = info.algorithm.oid;
    let bits = info
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| key_error("the public key bit string has unused bits"))?;
    if oid == RSA_ENCRYPTION {
        let key = pkcs1::RsaPublicKeyRef::from_der(bits)
            .map_err(|err| key_error(format!("the RSA public key is malformed: {err}")))?;
        Ok(Material::RsaPublic {
            n: key.modulus.as_bytes().to_vec(),
            e: key.public_exponent.as_bytes().to_vec(),
        })
    } else if oid == EC_PUBLIC_KEY {
        let curve = curve_of(info.algorithm.parameters_oid().ok())?;
        Ok(Material::EcPublic {
            curve,
            point: bits.to_vec(),
        })
    } else if oid == ED25519 {
        Ok(Material::Ed25519Public { x: bits.to_vec() })
    } else {
        Err(unsupported_oid(oid))
    }
}

fn curve_of(parameters: Option<ObjectIdentifier>) -> Result<Curve> {
    match parameters {
        Some(SECP256R1) => Ok(Curve::P256),
        Some(SECP384R1) => Ok(Curve::P384),
        Some(SECP521R1) => Ok(Curve::P521),
        Some(other) => Err(key_error(format!(
            "the EC curve {other} is not supported (use P-256, P-384 or P-521)"
        ))),
        None => Err(key_error("the EC key does not name its curve")),
    }
}

fn unsupported_oid(oid: ObjectIdentifier) -> crate::Error {
    if oid == RSASSA_PSS {
        key_error(
            "RSASSA-PSS-only keys (OID 1.2.840.113549.1.1.10) are not supported; \
             use a plain rsaEncryption key for PS256/PS384/PS512",
        )
    } else {
        key_error(format!(
            "key algorithm {oid} is not supported (RSA, EC P-256/P-384/P-521 or Ed25519)"
        ))
    }
}
