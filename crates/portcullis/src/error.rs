//! The one error type of the `portcullis` crate.
//!
//! Every fallible call in the crate returns [`Error`]. Its variants are the cases a caller
//! needs to tell apart (cbsecurity's exception names, see `DESIGN.md`), and its messages say
//! what went wrong in words a person can act on. No message ever contains a token, a secret
//! or a password.
//!
//! ```
//! use portcullis::{Error, InvalidToken};
//!
//! let err = Error::TokenInvalid { reason: InvalidToken::BadSignature };
//! assert_eq!(err.to_string(), "token is invalid: bad signature");
//! assert_eq!(err.kind(), "invalid");
//! ```

use std::fmt;

/// Everything that can go wrong in portcullis.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No token was sent with the request (cbsecurity `TokenNotFoundException`).
    #[error("token not found: send it as `Authorization: Bearer <token>` or in the configured auth header")]
    TokenNotFound,

    /// The token's `exp` lies in the past (cbsecurity `TokenExpiredException`).
    ///
    /// Reported before any claim check, so an expired token is always reported as expired.
    #[error("token has expired")]
    TokenExpired,

    /// The token is malformed, badly signed or fails a claim check
    /// (cbsecurity `TokenInvalidException`).
    #[error("token is invalid: {reason}")]
    TokenInvalid {
        /// Why the token was refused.
        reason: InvalidToken,
    },

    /// The token is well-formed and correctly signed but token storage refuses it: it was
    /// revoked, rotated or is unknown (cbsecurity `TokenRejectionException`).
    #[error("token was rejected: {reason}")]
    TokenRejected {
        /// Why storage refused the token.
        reason: String,
    },

    /// The token is valid but its subject is not a known user (cbsecurity
    /// `InvalidTokenUser`).
    #[error("the token's subject is not a known user")]
    UnknownUser,

    /// Refresh tokens are not enabled (`jwt.enable_refresh_tokens`; cbsecurity
    /// `RefreshTokensNotActive`).
    #[error("refresh tokens are not enabled (jwt.enable_refresh_tokens)")]
    RefreshTokensNotActive,

    /// The current user lacks what a check requires (cbsecurity `NotAuthorized`); 403.
    #[error("{message}")]
    NotAuthorized {
        /// The message shown, default `Not authorized!`.
        message: String,
    },

    /// A check needs a user and nobody is logged in (cbauth `NoUserLoggedIn`); 401.
    #[error("no user is logged in")]
    NoUserLoggedIn,

    /// A username/password pair did not match (cbauth `InvalidCredentials`).
    #[error("invalid credentials")]
    InvalidCredentials,

    /// A user of that name already exists in the user store; 409.
    #[error("user {username:?} already exists")]
    UserExists {
        /// The name asked for.
        username: String,
    },

    /// No user of that name exists in the user store; 404.
    #[error("user {username:?} does not exist")]
    UserNotFound {
        /// The name asked for.
        username: String,
    },

    /// A value given to portcullis (a username, a password, a role) is not acceptable; 400.
    /// The message never contains a password.
    #[error("{field}: {reason}")]
    InvalidInput {
        /// What the value is, e.g. `username`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// Too many failed logins for this username or from this client: attempts are refused
    /// until the back-off ends (login protection); 429 with `Retry-After`.
    #[error("too many failed logins: try again in {} s", whole_seconds(*retry_after))]
    LoginLocked {
        /// How long until the next attempt is accepted.
        retry_after: std::time::Duration,
    },

    /// A setting or a key is unusable. Raised at start-up, never at the first request.
    #[error("{key}: {reason}")]
    Config {
        /// The setting's path, e.g. `jwt.expiration`, or what was being loaded.
        key: String,
        /// What is wrong with it and, where possible, how to fix it.
        reason: String,
    },

    /// A backend the request depends on (token storage, user store) could not be reached.
    /// The request is refused: portcullis fails closed.
    #[error("{what} is unavailable: {reason}")]
    Unavailable {
        /// Which backend, e.g. `token storage`.
        what: &'static str,
        /// The backend's error, without secrets.
        reason: String,
    },

    /// An I/O error while reading a settings, key or rules file.
    #[error("{path}: {source}")]
    Io {
        /// The file that could not be read.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Builds a [`Error::Config`] for the setting at `key`.
    pub fn config(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// Re-labels a configuration error raised while loading a key with the setting (or
    /// argument) the key came from; other errors are returned unchanged.
    pub fn for_setting(self, key: impl Into<String>) -> Self {
        match self {
            Error::Config { reason, .. } => Error::Config {
                key: key.into(),
                reason,
            },
            other => other,
        }
    }

    /// Builds a [`Error::TokenInvalid`].
    pub fn invalid(reason: InvalidToken) -> Self {
        Error::TokenInvalid { reason }
    }

    /// A short, stable, lower-case name for the error's kind, for logs, metrics and the CLI:
    /// `not_found`, `expired`, `invalid`, `rejected`, `unknown_user`, `refresh_disabled`,
    /// `not_authorized`, `not_logged_in`, `invalid_credentials`, `user_exists`,
    /// `user_not_found`, `invalid_input`, `login_locked`, `config`, `unavailable` or `io`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::TokenNotFound => "not_found",
            Error::TokenExpired => "expired",
            Error::TokenInvalid { .. } => "invalid",
            Error::TokenRejected { .. } => "rejected",
            Error::UnknownUser => "unknown_user",
            Error::RefreshTokensNotActive => "refresh_disabled",
            Error::NotAuthorized { .. } => "not_authorized",
            Error::NoUserLoggedIn => "not_logged_in",
            Error::InvalidCredentials => "invalid_credentials",
            Error::UserExists { .. } => "user_exists",
            Error::UserNotFound { .. } => "user_not_found",
            Error::InvalidInput { .. } => "invalid_input",
            Error::LoginLocked { .. } => "login_locked",
            Error::Config { .. } => "config",
            Error::Unavailable { .. } => "unavailable",
            Error::Io { .. } => "io",
        }
    }
}

/// `duration` in whole seconds, rounded up, at least 1: what `Retry-After` says.
pub(crate) fn whole_seconds(duration: std::time::Duration) -> u64 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    secs.max(1)
}

/// Why a token was found invalid. Part of [`Error::TokenInvalid`].
///
/// The variants follow the order in which verification checks them: size and shape, header,
/// signature, time claims, issuer and audience, required claims, token type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidToken {
    /// The token is longer than the configured limit (default 8 KiB).
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Not three base64url segments separated by dots.
    Malformed,
    /// A segment is not strict, unpadded base64url.
    BadBase64 {
        /// `header`, `payload` or `signature`.
        segment: &'static str,
    },
    /// The header or payload is not a JSON object, or has a duplicate member.
    BadJson {
        /// `header` or `payload`.
        segment: &'static str,
        /// What the JSON parser objected to.
        detail: String,
    },
    /// The header's `alg` is not the algorithm bound to the key.
    AlgorithmMismatch {
        /// The algorithm the key is bound to (one of several, when several keys apply).
        expected: &'static str,
        /// What the token claimed, shortened.
        found: String,
    },
    /// The header lists a critical extension (`crit`) that portcullis does not implement.
    UnsupportedCritical,
    /// The header carries or points to a key (`jwk`, `jku`, `x5c`, `x5u`): keys come from
    /// settings only.
    EmbeddedKey {
        /// The offending header member.
        member: &'static str,
    },
    /// The header's `kid` names no configured verification key.
    UnknownKeyId,
    /// The signature does not verify with the configured key.
    BadSignature,
    /// `nbf` lies in the future.
    NotYetValid,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` does not contain the configured audience.
    WrongAudience,
    /// A required claim is absent.
    MissingClaim {
        /// The claim's name.
        claim: String,
    },
    /// A registered claim has the wrong JSON type (e.g. `exp` as a string).
    ClaimType {
        /// The claim's name.
        claim: &'static str,
        /// The expected type, e.g. `a number of seconds`.
        expected: &'static str,
    },
    /// A refresh token was presented where an access token is expected, or the reverse.
    WrongTokenType {
        /// `access` or `refresh`.
        expected: &'static str,
    },
}

impl fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidToken::TooLarge { limit } => write!(f, "token is larger than {limit} bytes"),
            InvalidToken::Malformed => f.write_str("not a compact JWS (three base64url segments)"),
            InvalidToken::BadBase64 { segment } => write!(f, "{segment} is not base64url"),
            InvalidToken::BadJson { segment, detail } => {
                write!(f, "{segment} is not a valid JSON object: {detail}")
            }
            InvalidToken::AlgorithmMismatch { expected, found } => {
                write!(
                    f,
                    "algorithm {found:?} is not accepted (expected {expected})"
                )
            }
            InvalidToken::UnsupportedCritical => {
                f.write_str("header lists critical extensions (crit) that are not supported")
            }
            InvalidToken::EmbeddedKey { member } => {
                write!(
                    f,
                    "header member `{member}` is refused: keys come from settings only"
                )
            }
            InvalidToken::UnknownKeyId => f.write_str("no verification key has this kid"),
            InvalidToken::BadSignature => f.write_str("bad signature"),
            InvalidToken::NotYetValid => f.write_str("token is not valid yet (nbf)"),
            InvalidToken::WrongIssuer => f.write_str("wrong issuer"),
            InvalidToken::WrongAudience => f.write_str("wrong audience"),
            InvalidToken::MissingClaim { claim } => {
                write!(f, "token does not contain the `{claim}` claim")
            }
            InvalidToken::ClaimType { claim, expected } => {
                write!(f, "claim `{claim}` must be {expected}")
            }
            InvalidToken::WrongTokenType { expected } => {
                let article = if expected.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                write!(f, "not {article} {expected} token")
            }
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_error_names_the_key() {
        let err = Error::config("jwt.expiration", "\"abc\" is not a duration");
        assert_eq!(err.to_string(), "jwt.expiration: \"abc\" is not a duration");
        assert_eq!(err.kind(), "config");
    }

    #[test]
    fn invalid_reasons_read_well() {
        let err = Error::invalid(InvalidToken::MissingClaim {
            claim: "sub".into(),
        });
        assert_eq!(
            err.to_string(),
            "token is invalid: token does not contain the `sub` claim"
        );
        let err = Error::invalid(InvalidToken::WrongTokenType { expected: "access" });
        assert_eq!(err.to_string(), "token is invalid: not an access token");
    }
}
