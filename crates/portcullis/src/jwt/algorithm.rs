//! The JWS algorithms portcullis signs and verifies with (RFC 7518 §3, RFC 8037).
//!
//! ```
//! use portcullis::jwt::Algorithm;
//!
//! let alg: Algorithm = "es512".parse().unwrap();
//! assert_eq!(alg, Algorithm::ES512);
//! assert_eq!(alg.as_str(), "ES512");
//! assert!("none".parse::<Algorithm>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A JWS signature algorithm. `none` does not exist here: an unsigned token cannot be
/// represented, let alone accepted.
///
/// A key is bound to exactly one algorithm when it is loaded; a token's header never chooses
/// the algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC with SHA-256. Secret of at least 32 bytes.
    HS256,
    /// HMAC with SHA-384. Secret of at least 48 bytes.
    HS384,
    /// HMAC with SHA-512 (cbsecurity's default). Secret of at least 64 bytes.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256. RSA key of at least 2048 bits.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 and MGF1-SHA-256, salt of 32 bytes.
    PS256,
    /// RSASSA-PSS with SHA-384 and MGF1-SHA-384, salt of 48 bytes.
    PS384,
    /// RSASSA-PSS with SHA-512 and MGF1-SHA-512, salt of 64 bytes.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// ECDSA on P-521 with SHA-512.
    ES512,
    /// EdDSA on Ed25519 (RFC 8037).
    EdDSA,
}

/// The kind of key an [`Algorithm`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    /// A shared secret (`kty: oct`).
    Hmac,
    /// An RSA key pair (`kty: RSA`).
    Rsa,
    /// An elliptic-curve key pair on the given curve (`kty: EC`).
    Ec(Curve),
    /// An Ed25519 key pair (`kty: OKP`, `crv: Ed25519`).
    Ed25519,
}

/// A NIST curve used by ECDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// P-256 (secp256r1).
    P256,
    /// P-384 (secp384r1).
    P384,
    /// P-521 (secp521r1).
    P521,
}

impl Curve {
    /// The JWK `crv` name: `P-256`, `P-384` or `P-521`.
    pub fn jwk_name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    /// The byte length of one coordinate (and of the private scalar).
    pub fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The algorithm that signs with this curve.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Curve::P256 => Algorithm::ES256,
            Curve::P384 => Algorithm::ES384,
            Curve::P521 => Algorithm::ES512,
        }
    }
}

impl Algorithm {
    /// Every supported algorithm, in registry order.
    pub const ALL: [Algorithm; 13] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::EdDSA,
    ];

    /// The registered JWS name, exactly as it appears in a token header.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// The kind of key this algorithm needs.
    pub fn family(self) -> KeyFamily {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => KeyFamily::Hmac,
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => KeyFamily::Rsa,
            Algorithm::ES256 => KeyFamily::Ec(Curve::P256),
            Algorithm::ES384 => KeyFamily::Ec(Curve::P384),
            Algorithm::ES512 => KeyFamily::Ec(Curve::P521),
            Algorithm::EdDSA => KeyFamily::Ed25519,
        }
    }

    /// Whether this is an HMAC algorithm (a shared secret signs and verifies).
    pub fn is_hmac(self) -> bool {
        self.family() == KeyFamily::Hmac
    }

    /// For HMAC algorithms, the shortest secret accepted: the hash output length
    /// (RFC 7518 §3.2). `None` for asymmetric algorithms.
    pub fn min_secret_len(self) -> Option<usize> {
        match self {
            Algorithm::HS256 => Some(32),
            Algorithm::HS384 => Some(48),
            Algorithm::HS512 => Some(64),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    /// Parses a registered name, ignoring ASCII case (`hs512` is `HS512`). Use this for
    /// settings and command lines; a token header is compared byte for byte instead.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|alg| alg.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::config(
                    "algorithm",
                    format!(
                        "{s:?} is not a supported JWS algorithm (use one of {})",
                        Algorithm::ALL.map(Algorithm::as_str).join(", ")
                    ),
                )
            })
    }
}

impl serde::Serialize for Algorithm {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Algorithm {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(|err: Error| match err {
            Error::Config { reason, .. } => serde::de::Error::custom(reason),
            other => serde::de::Error::custom(other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>().unwrap(), alg);
        }
    }

    #[test]
    fn none_and_unknown_are_refused() {
        for name in ["none", "NONE", "ES521", "ES224", "A256GCM", "RS1", ""] {
            let err = name.parse::<Algorithm>().unwrap_err();
            assert!(
                err.to_string().contains("not a supported JWS algorithm"),
                "{name}"
            );
        }
    }

    #[test]
    fn hmac_minimum_lengths_follow_rfc7518() {
        assert_eq!(Algorithm::HS256.min_secret_len(), Some(32));
        assert_eq!(Algorithm::HS384.min_secret_len(), Some(48));
        assert_eq!(Algorithm::HS512.min_secret_len(), Some(64));
        assert_eq!(Algorithm::ES512.min_secret_len(), None);
        assert_eq!(Algorithm::ES512.family(), KeyFamily::Ec(Curve::P521));
    }
}
