//! What a verified token must satisfy beyond its signature, checked in this order:
//!
//! 1. `exp` — a NumericDate; the token is expired when `now >= exp + leeway`
//!    (RFC 7519 §4.1.4; cbsecurity accepted `exp == now`). Expiry is reported before any
//!    other claim problem, as cbsecurity does.
//! 2. `nbf` — when present, a NumericDate with `nbf <= now + leeway`.
//! 3. `iss` — present and byte-for-byte equal to the configured issuer.
//! 4. `aud` — when an audience is configured, present and containing it.
//! 5. required claims — the configured ones, then `jti`, `iss`, `iat`, `sub`, `exp`, `scope`
//!    (cbsecurity's list); presence only.
//! 6. token type — an access token where access is expected, a refresh token for refresh.
//! 7. every other registered claim has its JSON type (`iat` a number, `sub` a string, …).
//!
//! ```
//! use std::time::Duration;
//! use portcullis::jwt::Validation;
//!
//! let validation = Validation::new("https://id.example.com")
//!     .audience("orders-api")
//!     .leeway(Duration::from_secs(30))
//!     .require(["tenant"]);
//! assert_eq!(validation.required_claims()[0], "tenant");
//! assert_eq!(validation.required_claims().len(), 7);
//! ```

use std::time::Duration;

use super::claims::{Claims, TokenType};
use super::payload::{RawClaims, Slot, A_BOOLEAN, A_NUMERIC_DATE, A_STRING, A_STRING_OR_LIST};
use crate::{Error, InvalidToken, Result};

/// The claims every token must carry unless told otherwise (cbsecurity's list).
pub const DEFAULT_REQUIRED_CLAIMS: [&str; 6] = ["jti", "iss", "iat", "sub", "exp", "scope"];

/// The default limit on a token's length in bytes.
pub const DEFAULT_MAX_TOKEN_SIZE: usize = 8 * 1024;

/// Claim checks applied after the signature verifies. See the module docs for the order.
#[derive(Debug, Clone)]
pub struct Validation {
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) leeway: i64,
    pub(crate) required: Vec<String>,
    pub(crate) max_token_size: usize,
}

impl Validation {
    /// Checks for tokens from `issuer`, with cbsecurity's required claims, no audience, no
    /// leeway and an 8 KiB size limit.
    pub fn new(issuer: impl Into<String>) -> Self {
        Validation {
            issuer: Some(issuer.into()),
            audience: None,
            leeway: 0,
            required: DEFAULT_REQUIRED_CLAIMS.map(String::from).to_vec(),
            max_token_size: DEFAULT_MAX_TOKEN_SIZE,
        }
    }

    /// Requires `aud` to contain `audience`. Default: `aud` is not checked.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Tolerance for clock skew on `exp` and `nbf`. Default 0. Each second of leeway keeps an
    /// expired (or revoked-by-expiry) token usable for one more second: keep it small.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// Adds claims that must be present, checked before the default ones
    /// (cbsecurity's `requiredClaims`).
    pub fn require<I, S>(mut self, claims: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut configured: Vec<String> = claims.into_iter().map(Into::into).collect();
        configured.retain(|claim| !DEFAULT_REQUIRED_CLAIMS.contains(&claim.as_str()));
        configured.append(&mut self.required);
        self.required = configured;
        self
    }

    /// Tokens longer than `bytes` are refused before any decoding. Default 8 KiB. Raising it
    /// lets every unauthenticated request make the server decode that much.
    pub fn max_token_size(mut self, bytes: usize) -> Self {
        self.max_token_size = bytes;
        self
    }

    /// The claims that must be present, in the order they are checked.
    pub fn required_claims(&self) -> &[String] {
        &self.required
    }

    /// The issuer tokens must name, if it is checked.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// Applies every check to a parsed payload, at time `now` (Unix seconds).
    ///
    /// `expected: None` accepts either token type (cbsecurity's `decode`).
    pub(crate) fn check(
        &self,
        raw: RawClaims,
        expected: Option<TokenType>,
        now: i64,
    ) -> Result<Claims> {
        let invalid = |reason| Err(Error::invalid(reason));
        match raw.exp {
            Slot::WrongType => return invalid(type_error("exp", A_NUMERIC_DATE)),
            Slot::Present(exp) if now >= exp.saturating_add(self.leeway) => {
                return Err(Error::TokenExpired)
            }
            _ => {}
        }
        match raw.nbf {
            Slot::WrongType => return invalid(type_error("nbf", A_NUMERIC_DATE)),
            Slot::Present(nbf) if nbf > now.saturating_add(self.leeway) => {
                return invalid(InvalidToken::NotYetValid)
            }
            _ => {}
        }
        if let Some(issuer) = &self.issuer {
            match &raw.iss {
                Slot::WrongType => return invalid(type_error("iss", A_STRING)),
                Slot::Absent => return invalid(missing("iss")),
                Slot::Present(iss) if iss != issuer => return invalid(InvalidToken::WrongIssuer),
                Slot::Present(_) => {}
            }
        }
        if let Some(audience) = &self.audience {
            match &raw.aud {
                Slot::WrongType => return invalid(type_error("aud", A_STRING_OR_LIST)),
                Slot::Absent => return invalid(missing("aud")),
                Slot::Present(list) if !list.iter().any(|aud| aud == audience) => {
                    return invalid(InvalidToken::WrongAudience)
                }
                Slot::Present(_) => {}
            }
        }
        if let Some(claim) = self.required.iter().find(|claim| !raw.has(claim)) {
            return invalid(missing(claim));
        }
        if let Slot::WrongType = raw.cbsecurity_refresh {
            return invalid(type_error("cbsecurity_refresh", A_BOOLEAN));
        }
        let claims = raw.into_claims().map_err(Error::invalid)?;
        let conflicting = claims.token_use.as_deref() == Some("access")
            && claims.cbsecurity_refresh == Some(true);
        if let Some(expected) = expected {
            if conflicting || claims.token_type() != expected {
                return invalid(InvalidToken::WrongTokenType {
                    expected: expected.as_str(),
                });
            }
        } else if conflicting {
            return invalid(InvalidToken::ClaimType {
                claim: "token_use",
                expected: "consistent with cbsecurity_refresh",
            });
        }
        Ok(claims)
    }
}

fn type_error(claim: &'static str, expected: &'static str) -> InvalidToken {
    InvalidToken::ClaimType { claim, expected }
}

fn missing(claim: &str) -> InvalidToken {
    InvalidToken::MissingClaim {
        claim: claim.to_owned(),
    }
}

/// The current time in Unix seconds.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str, now: i64) -> Result<Claims> {
        let raw = RawClaims::parse(json.as_bytes()).map_err(Error::invalid)?;
        Validation::new("me").check(raw, Some(TokenType::Access), now)
    }

    const FULL: &str = r#""jti":"j","iss":"me","iat":1,"sub":"s","scope":"""#;

    #[test]
    fn expiry_boundary_follows_rfc7519() {
        let token = format!(r#"{{{FULL},"exp":100}}"#);
        assert!(check(&token, 99).is_ok());
        assert!(matches!(check(&token, 100), Err(Error::TokenExpired)));
        let raw = RawClaims::parse(token.as_bytes()).unwrap();
        let lenient = Validation::new("me").leeway(Duration::from_secs(5));
        assert!(lenient.check(raw, Some(TokenType::Access), 104).is_ok());
    }

    #[test]
    fn expired_is_reported_before_issuer_and_missing_claims() {
        let err = check(r#"{"iss":"someone else","exp":10,"nbf":"x"}"#, 50).unwrap_err();
        assert!(matches!(err, Error::TokenExpired), "{err}");
    }

    #[test]
    fn order_of_the_other_checks() {
        let cases = [
            (r#"{"exp":"soon"}"#, "claim `exp` must be a number"),
            (r#"{"exp":100,"nbf":60}"#, "not valid yet"),
            (r#"{"exp":100,"iss":"you"}"#, "wrong issuer"),
            (r#"{"exp":100,"iss":7}"#, "claim `iss` must be a string"),
            (
                r#"{"exp":100,"iss":"me"}"#,
                "does not contain the `jti` claim",
            ),
        ];
        for (json, expected) in cases {
            let err = check(json, 50).unwrap_err().to_string();
            assert!(err.contains(expected), "{json}: {err}");
        }
        let late_type = r#"{"jti":"j","iss":"me","iat":"x","sub":"s","scope":"","exp":100}"#;
        let err = check(late_type, 50).unwrap_err().to_string();
        assert!(err.contains("claim `iat` must be a number"), "{err}");
    }

    #[test]
    fn token_types_are_enforced_both_ways() {
        let refresh = format!(r#"{{{FULL},"exp":100,"cbsecurity_refresh":true}}"#);
        let err = check(&refresh, 50).unwrap_err().to_string();
        assert!(err.contains("not an access token"), "{err}");
        let raw = RawClaims::parse(refresh.as_bytes()).unwrap();
        assert!(Validation::new("me")
            .check(raw, Some(TokenType::Refresh), 50)
            .is_ok());

        let access = format!(r#"{{{FULL},"exp":100}}"#);
        let raw = RawClaims::parse(access.as_bytes()).unwrap();
        let err = Validation::new("me")
            .check(raw, Some(TokenType::Refresh), 50)
            .unwrap_err();
        assert!(err.to_string().contains("not a refresh token"), "{err}");

        let conflicting =
            format!(r#"{{{FULL},"exp":100,"token_use":"access","cbsecurity_refresh":true}}"#);
        assert!(check(&conflicting, 50).is_err());
        let unknown = format!(r#"{{{FULL},"exp":100,"token_use":"id"}}"#);
        assert!(check(&unknown, 50)
            .unwrap_err()
            .to_string()
            .contains("token_use"));
    }

    #[test]
    fn audience_when_configured() {
        let validation = Validation::new("me").audience("api");
        let run = |json: String| {
            let raw = RawClaims::parse(json.as_bytes()).unwrap();
            validation.clone().check(raw, Some(TokenType::Access), 50)
        };
        assert!(run(format!(r#"{{{FULL},"exp":100,"aud":["web","api"]}}"#)).is_ok());
        assert!(run(format!(r#"{{{FULL},"exp":100,"aud":"api"}}"#)).is_ok());
        let err = run(format!(r#"{{{FULL},"exp":100,"aud":"web"}}"#)).unwrap_err();
        assert!(err.to_string().contains("wrong audience"));
        let err = run(format!(r#"{{{FULL},"exp":100}}"#)).unwrap_err();
        assert!(err.to_string().contains("`aud`"));
    }

    #[test]
    fn configured_required_claims_come_first() {
        let validation = Validation::new("me").require(["tenant", "sub"]);
        assert_eq!(
            validation.required_claims(),
            ["tenant", "jti", "iss", "iat", "sub", "exp", "scope"]
        );
    }
}
