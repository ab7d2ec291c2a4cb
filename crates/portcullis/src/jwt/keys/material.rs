//! Key material as read from PEM, DER or JWK, before it is bound to an algorithm, and the
//! checks every key passes whatever format it came in: the right family for the algorithm,
//! HMAC secrets at least as long as the hash, RSA of 2048 to 8192 bits with a sane public
//! exponent and without the ROCA fingerprint, EC points on their curve.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm, Ed25519KeyPair,
    KeyPair as _, ParsedPublicKey, RsaEncoding, RsaKeyPair, RsaParameters, RsaPublicKeyComponents,
    RsaSubjectPublicKey,
};
use aws_lc_rs::{hmac, rsa};

use super::roca::has_roca_fingerprint;
use crate::jwt::algorithm::{Algorithm, Curve, KeyFamily};
use crate::{Error, Result};

/// The smallest RSA modulus accepted, in bits (RFC 7518 §3.3).
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits (aws-lc's limit).
pub(crate) const MAX_RSA_BITS: usize = 8192;
/// The longest signature any supported key makes (RSA-8192).
pub(crate) const MAX_SIGNATURE_LEN: usize = MAX_RSA_BITS / 8;

/// Key material of any supported kind, not yet bound to an algorithm.
pub(crate) enum Material {
    /// A shared secret for HMAC.
    Secret(Vec<u8>),
    /// An RSA public key: modulus and exponent, big-endian.
    RsaPublic { n: Vec<u8>, e: Vec<u8> },
    /// An RSA private key (its public half is `n`, `e`).
    RsaPrivate {
        n: Vec<u8>,
        e: Vec<u8>,
        pair: RsaKeyPair,
    },
    /// An EC public key: the SEC1 point (`04 ‖ x ‖ y` or compressed).
    EcPublic { curve: Curve, point: Vec<u8> },
    /// An EC private key.
    EcPrivate { curve: Curve, source: EcPrivate },
    /// An Ed25519 public key (32 bytes).
    Ed25519Public { x: Vec<u8> },
    /// An Ed25519 private key.
    Ed25519Private(Ed25519KeyPair),
}

/// Where an EC private key comes from; turned into a key pair once the curve is confirmed.
pub(crate) enum EcPrivate {
    /// A PKCS#8 document.
    Pkcs8(Vec<u8>),
    /// A JWK private scalar `d` and public point.
    Scalar { d: Vec<u8>, point: Vec<u8> },
}

/// A key ready to sign.
pub(crate) enum Signer {
    Hmac(Box<hmac::Key>),
    Rsa(RsaKeyPair, &'static dyn RsaEncoding),
    Ecdsa(EcdsaKeyPair, Curve),
    Ed25519(Ed25519KeyPair),
}

/// A key ready to verify.
#[derive(Clone)]
pub(crate) enum Verifier {
    Hmac(Box<hmac::Key>),
    Public(ParsedPublicKey),
}

impl Material {
    /// The family of algorithm this material can serve.
    pub(crate) fn family(&self) -> KeyFamily {
        match self {
            Material::Secret(_) => KeyFamily::Hmac,
            Material::RsaPublic { .. } | Material::RsaPrivate { .. } => KeyFamily::Rsa,
            Material::EcPublic { curve, .. } | Material::EcPrivate { curve, .. } => {
                KeyFamily::Ec(*curve)
            }
            Material::Ed25519Public { .. } | Material::Ed25519Private(_) => KeyFamily::Ed25519,
        }
    }

    /// Whether this is a private key (or a secret, which both signs and verifies).
    pub(crate) fn is_private(&self) -> bool {
        matches!(
            self,
            Material::Secret(_)
                | Material::RsaPrivate { .. }
                | Material::EcPrivate { .. }
                | Material::Ed25519Private(_)
        )
    }

    /// Words for messages, e.g. "an EC P-384 public key".
    pub(crate) fn describe(&self) -> String {
        let half = if self.is_private() {
            "private"
        } else {
            "public"
        };
        match self.family() {
            KeyFamily::Hmac => "a shared secret".to_string(),
            KeyFamily::Rsa => format!("an RSA {half} key"),
            KeyFamily::Ec(curve) => format!("an EC {} {half} key", curve.jwk_name()),
            KeyFamily::Ed25519 => format!("an Ed25519 {half} key"),
        }
    }

    /// Refuses material that does not fit `alg` or is too weak for any algorithm.
    fn check(&self, alg: Algorithm) -> Result<()> {
        if self.family() != alg.family() {
            return Err(key_error(format!(
                "{} cannot be used with {alg}{}",
                self.describe(),
                suggestion(self.family())
            )));
        }
        match self {
            Material::Secret(secret) => {
                let min = alg.min_secret_len().unwrap_or(0);
                if secret.len() < min {
                    return Err(key_error(format!(
                        "the {alg} secret is {} bytes; it must be at least {min} bytes \
                         (RFC 7518 §3.2). Generate one with `portcullis gen-secret`",
                        secret.len()
                    )));
                }
                Ok(())
            }
            Material::RsaPublic { n, e } | Material::RsaPrivate { n, e, .. } => {
                check_rsa_public(n, e)
            }
            _ => Ok(()),
        }
    }

    /// Binds the material to `alg` as a signing key. Public keys cannot sign.
    pub(crate) fn into_signer(self, alg: Algorithm) -> Result<Signer> {
        self.check(alg)?;
        match self {
            Material::Secret(secret) => Ok(Signer::Hmac(Box::new(hmac::Key::new(
                hmac_alg(alg),
                &secret,
            )))),
            Material::RsaPrivate { pair, .. } => Ok(Signer::Rsa(pair, rsa_encoding(alg))),
            Material::EcPrivate { curve, source } => {
                Ok(Signer::Ecdsa(ec_pair(curve, source)?, curve))
            }
            Material::Ed25519Private(pair) => Ok(Signer::Ed25519(pair)),
            public => Err(key_error(format!(
                "{} cannot sign: give the private key",
                public.describe()
            ))),
        }
    }

    /// Binds the material to `alg` as a verification key. A private key verifies with its
    /// public half.
    pub(crate) fn into_verifier(self, alg: Algorithm) -> Result<Verifier> {
        self.check(alg)?;
        let parsed = match self {
            Material::Secret(secret) => {
                return Ok(Verifier::Hmac(Box::new(hmac::Key::new(
                    hmac_alg(alg),
                    &secret,
                ))))
            }
            Material::RsaPublic { n, e } | Material::RsaPrivate { n, e, .. } => {
                RsaPublicKeyComponents {
                    n: strip_zeros(&n),
                    e: strip_zeros(&e),
                }
                .to_parsed_public_key(rsa_parameters(alg))
                .map_err(|err| key_error(format!("the RSA public key is unusable: {err}")))?
            }
            Material::EcPublic { curve, point } => ParsedPublicKey::new(ec_verify(curve), &point)
                .map_err(|_| {
                key_error(format!("the point is not on curve {}", curve.jwk_name()))
            })?,
            Material::EcPrivate { curve, source } => {
                let pair = ec_pair(curve, source)?;
                ParsedPublicKey::new(ec_verify(curve), pair.public_key().as_ref())
                    .map_err(|_| key_error("the EC key's public point is invalid"))?
            }
            Material::Ed25519Public { x } => ParsedPublicKey::new(&signature::ED25519, &x)
                .map_err(|_| key_error("not a valid Ed25519 public key"))?,
            Material::Ed25519Private(pair) => {
                ParsedPublicKey::new(&signature::ED25519, pair.public_key().as_ref())
                    .map_err(|_| key_error("not a valid Ed25519 public key"))?
            }
        };
        Ok(Verifier::Public(parsed))
    }
}

impl Signer {
    /// The length of this key's signatures, in bytes.
    pub(crate) fn signature_len(&self) -> usize {
        match self {
            Signer::Hmac(key) => key.algorithm().digest_algorithm().output_len(),
            Signer::Rsa(pair, _) => pair.public_modulus_len(),
            Signer::Ecdsa(_, curve) => 2 * curve.coordinate_len(),
            Signer::Ed25519(_) => 64,
        }
    }

    /// Signs `input` into `out` (at least [`MAX_SIGNATURE_LEN`] bytes), returning the
    /// signature's length.
    pub(crate) fn sign(&self, input: &[u8], out: &mut [u8]) -> Result<usize> {
        let failed = |_| Error::config("key", "the signing operation failed");
        let mut copy = |bytes: &[u8]| {
            out[..bytes.len()].copy_from_slice(bytes);
            Ok(bytes.len())
        };
        match self {
            Signer::Hmac(key) => copy(hmac::sign(key, input).as_ref()),
            Signer::Rsa(pair, encoding) => {
                let len = pair.public_modulus_len();
                pair.sign(*encoding, &SystemRandom::new(), input, &mut out[..len])
                    .map_err(failed)?;
                Ok(len)
            }
            Signer::Ecdsa(pair, _) => copy(
                pair.sign(&SystemRandom::new(), input)
                    .map_err(failed)?
                    .as_ref(),
            ),
            Signer::Ed25519(pair) => copy(pair.sign(input).as_ref()),
        }
    }

    /// The verification key matching this signing key, bound to `alg`.
    pub(crate) fn verifier(&self, alg: Algorithm) -> Result<Verifier> {
        let parsed = match self {
            Signer::Hmac(key) => return Ok(Verifier::Hmac(key.clone())),
            Signer::Rsa(pair, _) => {
                let public: &RsaSubjectPublicKey = pair.public_key();
                RsaPublicKeyComponents {
                    n: public.modulus().big_endian_without_leading_zero(),
                    e: public.exponent().big_endian_without_leading_zero(),
                }
                .to_parsed_public_key(rsa_parameters(alg))
            }
            Signer::Ecdsa(pair, curve) => {
                ParsedPublicKey::new(ec_verify(*curve), pair.public_key())
            }
            Signer::Ed25519(pair) => ParsedPublicKey::new(&signature::ED25519, pair.public_key()),
        };
        parsed
            .map(Verifier::Public)
            .map_err(|err| key_error(format!("the public half of the key is unusable: {err}")))
    }
}

impl Verifier {
    /// Whether `signature` is valid for `input`. HMAC tags are compared in constant time.
    pub(crate) fn verify(&self, input: &[u8], signature: &[u8]) -> bool {
        match self {
            Verifier::Hmac(key) => hmac::verify(key, input, signature).is_ok(),
            Verifier::Public(key) => key.verify_sig(input, signature).is_ok(),
        }
    }
}

/// Builds an RSA private key from a PKCS#8 document whose modulus and exponent are `n`, `e`
/// (checked first, so a weak key gets the precise reason).
pub(crate) fn rsa_private_from_pkcs8(pkcs8: &[u8], n: &[u8], e: &[u8]) -> Result<Material> {
    check_rsa_public(n, e)?;
    let pair = RsaKeyPair::from_pkcs8(pkcs8)
        .map_err(|err| key_error(format!("the RSA private key is unusable: {err}")))?;
    rsa_private_from_pair(pair)
}

/// Builds an RSA private key from its JWK components.
pub(crate) fn rsa_private_from_components(
    n: &[u8],
    e: &[u8],
    private: [&[u8]; 6],
) -> Result<Material> {
    check_rsa_public(n, e)?;
    let [d, p, q, dp, dq, qi] = private;
    let components = rsa::KeyPairComponents {
        public_key: RsaPublicKeyComponents {
            n: strip_zeros(n),
            e: strip_zeros(e),
        },
        d,
        p,
        q,
        dP: dp,
        dQ: dq,
        qInv: qi,
    };
    let pair = RsaKeyPair::from_components(&components)
        .map_err(|err| key_error(format!("the RSA private key is inconsistent: {err}")))?;
    rsa_private_from_pair(pair)
}

fn rsa_private_from_pair(pair: RsaKeyPair) -> Result<Material> {
    let public: &RsaSubjectPublicKey = pair.public_key();
    let (n, e) = (
        public.modulus().big_endian_without_leading_zero().to_vec(),
        public.exponent().big_endian_without_leading_zero().to_vec(),
    );
    Ok(Material::RsaPrivate { n, e, pair })
}

/// Refuses RSA keys that are too small or too large, have a bad public exponent, or carry the
/// ROCA fingerprint.
fn check_rsa_public(n: &[u8], e: &[u8]) -> Result<()> {
    let n = strip_zeros(n);
    let e = strip_zeros(e);
    let bits = bit_len(n);
    if bits < MIN_RSA_BITS {
        return Err(key_error(format!(
            "the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required (RFC 7518 §3.3)"
        )));
    }
    if bits > MAX_RSA_BITS {
        return Err(key_error(format!(
            "the RSA key has {bits} bits; at most {MAX_RSA_BITS} are supported"
        )));
    }
    let e_bits = bit_len(e);
    if e_bits < 2 || e.last().is_some_and(|b| b & 1 == 0) || e_bits > 33 {
        return Err(key_error(
            "the RSA public exponent must be odd, greater than 1 and at most 33 bits (use 65537)",
        ));
    }
    if has_roca_fingerprint(n) {
        return Err(key_error(
            "the RSA modulus carries the ROCA fingerprint (CVE-2017-15361): \
             the key was made by a flawed generator and its private key can be recovered; \
             replace it",
        ));
    }
    Ok(())
}

fn ec_pair(curve: Curve, source: EcPrivate) -> Result<EcdsaKeyPair> {
    let alg = ec_sign(curve);
    match source {
        EcPrivate::Pkcs8(der) => EcdsaKeyPair::from_pkcs8(alg, &der),
        EcPrivate::Scalar { d, point } => {
            EcdsaKeyPair::from_private_key_and_public_key(alg, &d, &point)
        }
    }
    .map_err(|err| {
        key_error(format!(
            "the EC {} private key is unusable: {err}",
            curve.jwk_name()
        ))
    })
}

/// A configuration error about a key; the caller relabels it with the setting's path.
pub(crate) fn key_error(reason: impl Into<String>) -> Error {
    Error::config("key", reason)
}

fn suggestion(family: KeyFamily) -> String {
    let fits: Vec<&str> = Algorithm::ALL
        .into_iter()
        .filter(|alg| alg.family() == family)
        .map(Algorithm::as_str)
        .collect();
    format!(" (it fits {})", fits.join(", "))
}

pub(crate) fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn bit_len(big_endian: &[u8]) -> usize {
    let n = strip_zeros(big_endian);
    match n.first() {
        Some(&top) => n.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    }
}

fn hmac_alg(alg: Algorithm) -> hmac::Algorithm {
    match alg {
        Algorithm::HS256 => hmac::HMAC_SHA256,
        Algorithm::HS384 => hmac::HMAC_SHA384,
        _ => hmac::HMAC_SHA512,
    }
}

fn rsa_parameters(alg: Algorithm) -> &'static RsaParameters {
    match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        _ => &signature::RSA_PSS_2048_8192_SHA512,
    }
}

fn rsa_encoding(alg: Algorithm) -> &'static dyn RsaEncoding {
    match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_SHA384,
        _ => &signature::RSA_PSS_SHA512,
    }
}

fn ec_verify(curve: Curve) -> &'static EcdsaVerificationAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
        Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED,
    }
}

fn ec_sign(curve: Curve) -> &'static EcdsaSigningAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_length_ignores_leading_zero_bytes() {
        assert_eq!(bit_len(&[0, 0, 1]), 1);
        assert_eq!(bit_len(&[0x80, 0]), 16);
        assert_eq!(bit_len(&[]), 0);
    }

    #[test]
    fn short_secrets_are_refused_with_the_rule() {
        let err = Material::Secret(vec![1; 31])
            .into_verifier(Algorithm::HS256)
            .err()
            .unwrap();
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
        assert!(Material::Secret(vec![1; 32])
            .into_verifier(Algorithm::HS256)
            .is_ok());
        assert!(Material::Secret(vec![1; 63])
            .into_signer(Algorithm::HS512)
            .is_err());
    }

    #[test]
    fn family_mismatch_names_what_fits() {
        let err = Material::Secret(vec![1; 64])
            .into_verifier(Algorithm::RS256)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "key: a shared secret cannot be used with RS256 (it fits HS256, HS384, HS512)"
        );
    }

    #[test]
    fn rsa_exponent_rules() {
        let n = [0xc5u8; 256];
        assert!(check_rsa_public(&n, &[1]).is_err(), "e = 1");
        assert!(check_rsa_public(&n, &[4]).is_err(), "even e");
        assert!(check_rsa_public(&n, &[1, 0, 1]).is_ok(), "65537");
        assert!(
            check_rsa_public(&n[..128], &[1, 0, 1]).is_err(),
            "1024 bits"
        );
    }
}
