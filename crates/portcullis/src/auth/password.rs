//! Password hashing and verification.
//!
//! 1. **New hashes** are Argon2id (RFC 9106) in PHC form, with OWASP's parameters by default:
//!    19 MiB of memory, 2 passes, 1 lane ([`Argon2Params::default`]), a 16-byte random salt.
//! 2. **Verification** also accepts, so users can migrate without a reset:
//!    bcrypt (`$2a$`, `$2b$`, `$2y$`) and cbsecurity's legacy unsalted digest — SHA-512 (or
//!    SHA-384/256) applied `hash_iterations` times, upper- or lower-case hex. cbsecurity's
//!    engines disagree by one iteration (Lucee N, Adobe 1 + N): both counts are accepted.
//! 3. A successful verification of anything but Argon2id with the current parameters reports
//!    [`Verification::NeedsRehash`]: store [`PasswordHasher::hash`] of the password then.
//! 4. Digests are compared in constant time; a verification for an unknown user
//!    ([`PasswordHasher::verify_nobody`]) runs a full Argon2id verification too, so a wrong
//!    username costs the same time as a wrong password.
//!
//! ```
//! use portcullis::auth::{PasswordHasher, Verification};
//!
//! let hasher = PasswordHasher::default();
//! let hash = hasher.hash("correct horse battery staple").unwrap();
//! assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
//! assert_eq!(hasher.verify("correct horse battery staple", &hash), Verification::Valid);
//! assert_eq!(hasher.verify("wrong", &hash), Verification::Invalid);
//!
//! // cbsecurity's SHA-512 × 5, upper-case hex: accepted, and flagged for rehashing.
//! let legacy = portcullis::auth::legacy_digest("secret", portcullis::settings::HashAlgorithm::Sha512, 5);
//! assert_eq!(hasher.verify("secret", &legacy), Verification::NeedsRehash);
//! ```

use std::fmt;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest;

use crate::settings::HashAlgorithm;
use crate::{Error, Result};

/// Argon2id cost parameters (the settings table `users.argon2`; missing keys take the
/// defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Argon2Params {
    /// Memory in KiB. Default 19456 (19 MiB). Lower it and an attacker's GPU does more
    /// guesses per second.
    pub memory_kib: u32,
    /// Passes over the memory. Default 2.
    pub iterations: u32,
    /// Lanes. Default 1.
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Argon2Params {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password matches and the hash is current.
    Valid,
    /// The password matches but the hash is legacy or weaker than current: store a new hash.
    NeedsRehash,
    /// The password does not match (or the stored value is not a hash portcullis knows).
    Invalid,
}

/// What kind of hash a stored password is ([`PasswordHasher::scheme`]). Never the hash itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PasswordScheme {
    /// Argon2id with the hasher's parameters: nothing to do.
    Argon2id,
    /// Argon2 with other parameters (or the `i`/`d` variants): rehashed at the next login.
    Argon2Outdated,
    /// bcrypt: rehashed at the next login.
    Bcrypt,
    /// cbsecurity's unsalted hex digest: rehashed at the next login.
    LegacyDigest,
    /// Nothing the hasher can verify: no password matches it.
    Unknown,
}

impl PasswordScheme {
    /// Whether a successful login replaces the hash with a current Argon2id one.
    pub fn needs_rehash(self) -> bool {
        matches!(
            self,
            PasswordScheme::Argon2Outdated | PasswordScheme::Bcrypt | PasswordScheme::LegacyDigest
        )
    }
}

impl Verification {
    /// Whether the password matched.
    pub fn is_valid(self) -> bool {
        !matches!(self, Verification::Invalid)
    }
}

/// Hashes and verifies passwords. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Argon2Params,
    argon2: Argon2<'static>,
    legacy: (HashAlgorithm, u32),
    decoy: String,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new(Argon2Params::default(), HashAlgorithm::Sha512, 5)
            .unwrap_or_else(|_| unreachable!("the default Argon2 parameters are valid"))
    }
}

impl PasswordHasher {
    /// A hasher making Argon2id hashes with `params`, and accepting legacy digests made with
    /// `legacy` × `iterations` (cbsecurity's `basic_auth.hash_algorithm` and
    /// `hash_iterations`; `HashAlgorithm::Argon2id` means no legacy digest).
    pub fn new(params: Argon2Params, legacy: HashAlgorithm, iterations: u32) -> Result<Self> {
        let argon2_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|err| Error::config("passwords.argon2", err.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params);
        let mut hasher = PasswordHasher {
            params,
            argon2,
            legacy: (legacy, iterations),
            decoy: String::new(),
        };
        hasher.decoy = hasher.hash("portcullis decoy password")?;
        Ok(hasher)
    }

    /// A new Argon2id hash of `password`, in PHC form.
    pub fn hash(&self, password: &str) -> Result<String> {
        let mut salt = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt)
            .map_err(|_| Error::config("passwords", "the system random number generator failed"))?;
        self.argon2
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| Error::config("passwords", format!("hashing failed: {err}")))
    }

    /// Checks `password` against `stored` (Argon2id, bcrypt or a legacy digest).
    pub fn verify(&self, password: &str, stored: &str) -> Verification {
        if stored.starts_with("$argon2") {
            let matches = self
                .argon2
                .verify_password(password.as_bytes(), stored)
                .is_ok();
            return match (matches, self.is_current(stored)) {
                (false, _) => Verification::Invalid,
                (true, true) => Verification::Valid,
                (true, false) => Verification::NeedsRehash,
            };
        }
        if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
            return match bcrypt::verify(password, stored) {
                Ok(true) => Verification::NeedsRehash,
                _ => Verification::Invalid,
            };
        }
        self.verify_legacy(password, stored)
    }

    /// Spends the time of a real verification and fails: for a username that does not exist.
    pub fn verify_nobody(&self, password: &str) -> Verification {
        let _ = self
            .argon2
            .verify_password(password.as_bytes(), self.decoy.as_str());
        Verification::Invalid
    }

    /// What kind of hash `stored` is: a well-formed Argon2 PHC string (current or not), a
    /// bcrypt hash, a hex digest of the legacy algorithm's length, or unknown.
    pub fn scheme(&self, stored: &str) -> PasswordScheme {
        if stored.starts_with("$argon2") {
            return match argon2::PasswordHash::new(stored) {
                Ok(_) if self.is_current(stored) => PasswordScheme::Argon2id,
                Ok(_) => PasswordScheme::Argon2Outdated,
                Err(_) => PasswordScheme::Unknown,
            };
        }
        let bcrypt = ["$2a$", "$2b$", "$2y$"]
            .iter()
            .any(|p| stored.starts_with(p));
        if bcrypt && stored.len() == 60 {
            return PasswordScheme::Bcrypt;
        }
        let hex_len = self.legacy.0.digest_len().map(|n| n * 2);
        if hex_len == Some(stored.len()) && decode_hex(stored).is_some() {
            return PasswordScheme::LegacyDigest;
        }
        PasswordScheme::Unknown
    }

    /// Whether an Argon2 PHC string was made with the current algorithm and parameters.
    fn is_current(&self, stored: &str) -> bool {
        let wanted = format!(
            "$argon2id$v=19$m={},t={},p={}$",
            self.params.memory_kib, self.params.iterations, self.params.parallelism
        );
        stored.starts_with(&wanted)
    }

    fn verify_legacy(&self, password: &str, stored: &str) -> Verification {
        let (algorithm, iterations) = self.legacy;
        let Some(expected) = decode_hex(stored) else {
            return self.verify_nobody(password);
        };
        let counts = [iterations, iterations + 1];
        let matched = counts.iter().fold(false, |found, &n| {
            let digest = legacy_digest_bytes(password, algorithm, n);
            let equal = !digest.is_empty() && verify_slices_are_equal(&digest, &expected).is_ok();
            found | equal
        });
        if matched {
            Verification::NeedsRehash
        } else {
            Verification::Invalid
        }
    }
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .field("legacy", &self.legacy)
            .finish_non_exhaustive()
    }
}

/// cbsecurity's legacy digest: `algorithm` applied `iterations` times to the password's UTF-8
/// bytes (each pass digests the previous raw digest), as upper-case hex. For migration tests
/// and tools; never store new passwords this way.
pub fn legacy_digest(password: &str, algorithm: HashAlgorithm, iterations: u32) -> String {
    legacy_digest_bytes(password, algorithm, iterations)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

fn legacy_digest_bytes(password: &str, algorithm: HashAlgorithm, iterations: u32) -> Vec<u8> {
    let algorithm = match algorithm {
        HashAlgorithm::Sha512 => &digest::SHA512,
        HashAlgorithm::Sha384 => &digest::SHA384,
        HashAlgorithm::Sha256 => &digest::SHA256,
        HashAlgorithm::Argon2id => return Vec::new(),
    };
    let mut value = password.as_bytes().to_vec();
    for _ in 0..iterations.max(1) {
        value = digest::digest(algorithm, &value).as_ref().to_vec();
    }
    value
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> PasswordHasher {
        let params = Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        PasswordHasher::new(params, HashAlgorithm::Sha512, 5).unwrap()
    }

    #[test]
    fn argon2_hashes_are_salted_and_checked_for_currency() {
        let hasher = fast();
        let a = hasher.hash("pw").unwrap();
        assert_ne!(a, hasher.hash("pw").unwrap(), "a fresh salt each time");
        assert_eq!(hasher.verify("pw", &a), Verification::Valid);
        let stronger = PasswordHasher::new(
            Argon2Params {
                memory_kib: 128,
                iterations: 1,
                parallelism: 1,
            },
            HashAlgorithm::Sha512,
            5,
        )
        .unwrap();
        assert_eq!(
            stronger.verify("pw", &a),
            Verification::NeedsRehash,
            "old parameters"
        );
        assert_eq!(stronger.verify("other", &a), Verification::Invalid);
    }

    #[test]
    fn legacy_digests_either_iteration_count_any_case() {
        let hasher = fast();
        for n in [5, 6] {
            let digest = legacy_digest("secret", HashAlgorithm::Sha512, n);
            assert_eq!(digest.len(), 128);
            assert_eq!(
                hasher.verify("secret", &digest),
                Verification::NeedsRehash,
                "{n}"
            );
            assert_eq!(
                hasher.verify("secret", &digest.to_lowercase()),
                Verification::NeedsRehash
            );
            assert_eq!(hasher.verify("Secret", &digest), Verification::Invalid);
        }
        assert_eq!(
            hasher.verify("secret", &legacy_digest("secret", HashAlgorithm::Sha512, 4)),
            Verification::Invalid
        );
        assert_eq!(hasher.verify("secret", "not a hash"), Verification::Invalid);
        assert_eq!(hasher.verify("secret", ""), Verification::Invalid);
    }

    #[test]
    fn one_sha512_pass_matches_a_known_digest() {
        // SHA-512("abc"), FIPS 180-2 appendix C.1.
        assert!(legacy_digest("abc", HashAlgorithm::Sha512, 1).starts_with("DDAF35A193617ABA"));
    }

    #[test]
    fn schemes_name_what_is_stored() {
        let hasher = fast();
        let current = hasher.hash("pw").unwrap();
        assert_eq!(hasher.scheme(&current), PasswordScheme::Argon2id);
        assert!(!hasher.scheme(&current).needs_rehash());
        let other = PasswordHasher::default().hash("pw").unwrap();
        assert_eq!(hasher.scheme(&other), PasswordScheme::Argon2Outdated);
        assert_eq!(
            hasher.scheme(&bcrypt::hash("pw", 4).unwrap()),
            PasswordScheme::Bcrypt
        );
        let digest = legacy_digest("pw", HashAlgorithm::Sha512, 5);
        assert_eq!(hasher.scheme(&digest), PasswordScheme::LegacyDigest);
        assert!(hasher.scheme(&digest).needs_rehash());
        let sha256 = legacy_digest("pw", HashAlgorithm::Sha256, 5);
        for unknown in [
            "",
            "hunter2",
            "$argon2id$broken",
            "$2b$04$short",
            sha256.as_str(),
        ] {
            assert_eq!(hasher.scheme(unknown), PasswordScheme::Unknown, "{unknown}");
        }
        let no_legacy = PasswordHasher::new(Argon2Params::default(), HashAlgorithm::Argon2id, 1);
        assert_eq!(no_legacy.unwrap().scheme(&digest), PasswordScheme::Unknown);
    }

    #[test]
    fn bcrypt_is_accepted_for_migration() {
        let stored = bcrypt::hash("pw", 4).unwrap();
        assert_eq!(fast().verify("pw", &stored), Verification::NeedsRehash);
        assert_eq!(fast().verify("no", &stored), Verification::Invalid);
    }
}
