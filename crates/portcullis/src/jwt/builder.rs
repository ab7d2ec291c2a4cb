//! Issuing tokens with the standard claims.
//!
//! The payload is built in cbsecurity's order of precedence, later steps overriding earlier
//! ones (spec §4.2):
//!
//! 1. base claims: `iss`, `iat` (now), `sub`, `exp` (`iat` + lifetime), `jti` (128 bits from
//!    the operating system's CSPRNG, hex), `scope` (space-delimited), and `nbf` / `aud` when
//!    set;
//! 2. the subject's custom claims ([`JwtSubject::jwt_custom_claims`]), given that payload;
//! 3. custom claims given to the builder ([`TokenBuilder::claim`], [`TokenBuilder::claims`]);
//! 4. computed claims ([`TokenBuilder::computed_claim`]), each called with the payload so far,
//!    in the order they were added (cbsecurity's closures).
//!
//! The token-type claims come last and cannot be overridden: `token_use` is `"access"` or
//! `"refresh"`, and refresh tokens also carry `cbsecurity_refresh: true`. A payload in which
//! a registered claim has the wrong type (say `exp` as a string) is refused, not signed.
//!
//! ```
//! use std::time::Duration;
//! use portcullis::jwt::{Algorithm, SigningKey, TokenBuilder};
//! use serde_json::json;
//!
//! let key = SigningKey::from_secret(Algorithm::HS512, &[5; 64]).unwrap();
//! let issued = TokenBuilder::new("https://id.example.com", "42")
//!     .expires_in(Duration::from_secs(15 * 60))
//!     .scope(["orders:read"])
//!     .claim("tenant", "acme")
//!     .computed_claim("audit", |payload| json!(format!("{}@{}", payload["sub"], payload["iat"])))
//!     .issue(&key)
//!     .unwrap();
//! let claims = &issued.claims;
//! assert_eq!(claims.exp().unwrap() - claims.iat().unwrap(), 900);
//! assert_eq!(claims.jti().unwrap().len(), 32);
//! assert_eq!(claims.get("tenant"), Some(&json!("acme")));
//! ```

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

use super::claims::{Claims, TokenType};
use super::keys::SigningKey;
use super::payload::{RawClaims, CBSECURITY_REFRESH, TOKEN_USE};
use super::subject::JwtSubject;
use super::validation::now;
use crate::{Error, Result};

/// The default lifetime of an access token: 60 minutes (cbsecurity `jwt.expiration`).
pub const DEFAULT_ACCESS_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// A claim computed from the payload at issue time.
pub type ClaimFn = Box<dyn Fn(&Map<String, Value>) -> Value + Send + Sync>;

/// Builds the claims of one token and signs it. See the module docs for the precedence.
pub struct TokenBuilder<'u> {
    issuer: String,
    subject: String,
    scopes: Vec<String>,
    lifetime: Duration,
    issued_at: Option<i64>,
    not_before: Option<i64>,
    audience: Option<Value>,
    token_type: TokenType,
    user: Option<&'u dyn JwtSubject>,
    custom: Map<String, Value>,
    computed: Vec<(String, ClaimFn)>,
}

/// A signed token and the claims it carries.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The compact token.
    pub token: String,
    /// Its claims, exactly as signed.
    pub claims: Claims,
}

impl<'u> TokenBuilder<'u> {
    /// An access token for `subject` from `issuer`, valid for [`DEFAULT_ACCESS_LIFETIME`],
    /// with an empty `scope`.
    pub fn new(issuer: impl Into<String>, subject: impl Into<String>) -> Self {
        TokenBuilder {
            issuer: issuer.into(),
            subject: subject.into(),
            scopes: Vec::new(),
            lifetime: DEFAULT_ACCESS_LIFETIME,
            issued_at: None,
            not_before: None,
            audience: None,
            token_type: TokenType::Access,
            user: None,
            custom: Map::new(),
            computed: Vec::new(),
        }
    }

    /// A token for `user`: its id as `sub`, its scopes as `scope`, and its custom claims
    /// (step 2 of the precedence, computed from the base payload when the token is built).
    pub fn for_subject(issuer: impl Into<String>, user: &'u dyn JwtSubject) -> Self {
        let mut builder = Self::new(issuer, user.jwt_subject()).scope(user.jwt_scopes());
        builder.user = Some(user);
        builder
    }

    /// The token's lifetime: `exp` = `iat` + `lifetime`.
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The scopes, joined with single spaces into `scope`.
    pub fn scope<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `aud` to one audience.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(Value::String(audience.into()));
        self
    }

    /// Sets `nbf`: the token is not valid before `unix_seconds`.
    pub fn not_before(mut self, unix_seconds: i64) -> Self {
        self.not_before = Some(unix_seconds);
        self
    }

    /// Sets `iat` instead of the current time (tests, replays of a fixed clock).
    pub fn issued_at(mut self, unix_seconds: i64) -> Self {
        self.issued_at = Some(unix_seconds);
        self
    }

    /// Makes this a refresh token (`token_use: "refresh"`, `cbsecurity_refresh: true`).
    pub fn refresh(mut self) -> Self {
        self.token_type = TokenType::Refresh;
        self
    }

    /// Makes this a token of the given type.
    pub fn token_type(mut self, token_type: TokenType) -> Self {
        self.token_type = token_type;
        self
    }

    /// Adds one custom claim (step 3). It may override a base claim, `exp` included.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.custom.insert(name.into(), value.into());
        self
    }

    /// Adds custom claims (step 3).
    pub fn claims(mut self, claims: Map<String, Value>) -> Self {
        self.custom.extend(claims);
        self
    }

    /// Adds a claim computed from the payload so far (step 4).
    pub fn computed_claim<F>(mut self, name: impl Into<String>, compute: F) -> Self
    where
        F: Fn(&Map<String, Value>) -> Value + Send + Sync + 'static,
    {
        self.computed.push((name.into(), Box::new(compute)));
        self
    }

    /// The final payload, without signing it.
    pub fn build(&self) -> Result<Map<String, Value>> {
        let iat = self.issued_at.unwrap_or_else(now);
        let lifetime = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX);
        let mut payload = Map::new();
        payload.insert("iss".into(), Value::from(self.issuer.as_str()));
        payload.insert("iat".into(), Value::from(iat));
        payload.insert("sub".into(), Value::from(self.subject.as_str()));
        payload.insert("exp".into(), Value::from(iat.saturating_add(lifetime)));
        payload.insert("jti".into(), Value::from(crate::random::hex128()?));
        payload.insert("scope".into(), Value::from(self.scopes.join(" ")));
        if let Some(nbf) = self.not_before {
            payload.insert("nbf".into(), Value::from(nbf));
        }
        if let Some(aud) = &self.audience {
            payload.insert("aud".into(), aud.clone());
        }
        if let Some(user) = self.user {
            let claims = user.jwt_custom_claims(&payload);
            payload.extend(claims);
        }
        payload.extend(self.custom.clone());
        for (name, compute) in &self.computed {
            let value = compute(&payload);
            payload.insert(name.clone(), value);
        }
        for reserved in [TOKEN_USE, CBSECURITY_REFRESH] {
            if payload.contains_key(reserved) {
                return Err(Error::config(
                    "claims",
                    format!("the `{reserved}` claim is set by portcullis and cannot be given"),
                ));
            }
        }
        payload.insert(TOKEN_USE.into(), Value::from(self.token_type.as_str()));
        if self.token_type == TokenType::Refresh {
            payload.insert(CBSECURITY_REFRESH.into(), Value::Bool(true));
        }
        Ok(payload)
    }

    /// Builds and signs the token, returning it with its claims.
    pub fn issue(&self, key: &SigningKey) -> Result<IssuedToken> {
        let payload = self.build()?;
        let json = serde_json::to_vec(&payload)
            .map_err(|err| Error::config("claims", format!("cannot serialise claims: {err}")))?;
        let claims = RawClaims::from_map(payload)
            .and_then(RawClaims::into_claims)
            .map_err(|reason| Error::config("claims", reason.to_string()))?;
        Ok(IssuedToken {
            token: key.sign_bytes(&json)?,
            claims,
        })
    }

    /// Builds and signs the token.
    pub fn sign(&self, key: &SigningKey) -> Result<String> {
        self.issue(key).map(|issued| issued.token)
    }
}

impl fmt::Debug for TokenBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBuilder")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("token_type", &self.token_type)
            .finish_non_exhaustive()
    }
}
