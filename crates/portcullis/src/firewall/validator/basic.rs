//! [`BasicAuthValidator`]: `Authorization: Basic` credentials (cbsecurity's
//! `BasicAuthValidator@cbsecurity`), with its defects fixed.
//!
//! 1. Missing or wrong credentials → 401 with `WWW-Authenticate: Basic realm="…",
//!    charset="UTF-8"` and `Cache-Control: no-cache, must-revalidate, max-age=0`, **always**:
//!    a configured redirect would keep the browser from ever prompting (cbsecurity's bug).
//! 2. Right credentials → roles and permissions as [`AuthValidator`](super::AuthValidator)
//!    (cbsecurity's role branch crashed).

use async_trait::async_trait;
use http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue};

use super::{AuthValidator, Requirements, SecurityValidator};
use crate::auth::{BasicAuthService, UserService};
use crate::firewall::{Rule, Secured, Verdict, VerdictKind};
use crate::Result;

/// Validates Basic credentials against a [`UserService`].
pub struct BasicAuthValidator<S> {
    inner: AuthValidator<BasicAuthService<S>>,
}

impl<S: UserService> BasicAuthValidator<S> {
    /// Checks credentials with `users`; `realm` is shown in the browser's prompt.
    pub fn new(users: S, realm: &str) -> Result<Self> {
        Ok(BasicAuthValidator {
            inner: AuthValidator::new(BasicAuthService::new(users, realm)?),
        })
    }

    async fn check(&self, wanted: Requirements<'_>, parts: &mut Parts) -> Result<Verdict> {
        let verdict = self.inner.check(wanted, parts).await?;
        if verdict.allow || verdict.kind != VerdictKind::Authentication {
            return Ok(verdict);
        }
        let mut headers = HeaderMap::new();
        headers.insert(WWW_AUTHENTICATE, self.inner.auth().basic_challenge());
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("no-cache, must-revalidate, max-age=0"),
        );
        Ok(Verdict::challenge("Please enter your credentials", headers))
    }
}

#[async_trait]
impl<S: UserService> SecurityValidator for BasicAuthValidator<S> {
    fn name(&self) -> &str {
        "basic"
    }

    async fn validate_rule(&self, rule: &Rule, parts: &mut Parts) -> Result<Verdict> {
        self.check(Requirements::of_rule(rule), parts).await
    }

    async fn validate_guard(&self, guard: &Secured, parts: &mut Parts) -> Result<Verdict> {
        self.check(Requirements::of_guard(guard), parts).await
    }

    async fn identify(&self, parts: &mut Parts) {
        self.inner.identify(parts).await;
    }

    fn challenge(&self) -> Option<HeaderValue> {
        Some(self.inner.auth().basic_challenge())
    }
}
