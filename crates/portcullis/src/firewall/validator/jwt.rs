//! [`JwtValidator`]: the request's access token (cbsecurity's `JwtAuthValidator@cbsecurity`).
//!
//! 1. The token is parsed with auto-refresh ([`JwtService::authenticate_request`]); any token
//!    problem is an `authentication` refusal whose message names the error kind
//!    (`expired: token has expired`); token storage being unreachable is an error (503).
//! 2. Roles are checked against the user (cbsecurity ignored them); a permission passes when it
//!    is in the token's `scope` (case-insensitive) **or** the user has it.
//! 3. An auto-refreshed pair is announced in the response headers.

use async_trait::async_trait;
use http::request::Parts;
use http::HeaderValue;

use super::{Requirements, SecurityValidator};
use crate::auth::AuthUser;
use crate::firewall::{Rule, Secured, Verdict, VerdictKind};
use crate::jwt::{JwtService, JwtSubject};
use crate::{Error, Result};

/// Validates with the request's access token.
pub struct JwtValidator<U> {
    jwt: JwtService<U>,
}

impl<U: AuthUser + JwtSubject + Clone> JwtValidator<U> {
    /// A validator checking tokens with `jwt`.
    pub fn new(jwt: JwtService<U>) -> Self {
        JwtValidator { jwt }
    }

    async fn check(&self, wanted: Requirements<'_>, parts: &mut Parts) -> Result<Verdict> {
        match self.jwt.authenticate_request(parts).await {
            Ok((authenticated, refreshed)) => {
                let claims = &authenticated.claims;
                let mut verdict = wanted.judge(&authenticated.user, |p| claims.has_scope(p));
                if let Some(pair) = refreshed {
                    verdict.headers.extend(self.jwt.pair_headers(&pair));
                }
                Ok(verdict)
            }
            Err(error @ Error::Unavailable { .. }) => Err(error),
            Err(error) => Ok(Verdict::deny(
                VerdictKind::Authentication,
                format!("{}: {error}", error.kind()),
            )),
        }
    }
}

#[async_trait]
impl<U: AuthUser + JwtSubject + Clone> SecurityValidator for JwtValidator<U> {
    fn name(&self) -> &str {
        "jwt"
    }

    async fn validate_rule(&self, rule: &Rule, parts: &mut Parts) -> Result<Verdict> {
        self.check(Requirements::of_rule(rule), parts).await
    }

    async fn validate_guard(&self, guard: &Secured, parts: &mut Parts) -> Result<Verdict> {
        self.check(Requirements::of_guard(guard), parts).await
    }

    async fn identify(&self, parts: &mut Parts) {
        if let Err(error) = self.jwt.parse_request(parts).await {
            if matches!(error, Error::Unavailable { .. }) {
                tracing::warn!(%error, "could not identify the request's user; treating it as a guest");
            }
        }
    }

    fn challenge(&self) -> Option<HeaderValue> {
        Some(HeaderValue::from_static("Bearer realm=\"portcullis\""))
    }
}
