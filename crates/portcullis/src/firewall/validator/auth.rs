//! [`AuthValidator`]: the user from an [`AuthService`], checked against roles and permissions
//! (cbsecurity's default `AuthValidator@cbsecurity`).
//!
//! 1. No user → `authentication` refusal.
//! 2. A user → `authorization`: allowed when nothing is required, or any role matches
//!    (`has_role`), or any permission matches (`has_permission`).
//! 3. A guard's value is permissions; `secured` / `true` asks only for a user (cbsecurity
//!    looked for a permission named `true`).

use async_trait::async_trait;
use http::request::Parts;
use http::HeaderValue;

use super::{not_logged_in, Requirements, SecurityValidator};
use crate::auth::AuthService;
use crate::firewall::{Rule, Secured, Verdict};
use crate::Result;

/// Validates with the user an [`AuthService`] finds.
pub struct AuthValidator<A> {
    auth: A,
}

impl<A: AuthService> AuthValidator<A> {
    /// A validator asking `auth` who the request is.
    pub fn new(auth: A) -> Self {
        AuthValidator { auth }
    }

    /// The auth service.
    pub fn auth(&self) -> &A {
        &self.auth
    }

    pub(crate) async fn check(
        &self,
        wanted: Requirements<'_>,
        parts: &mut Parts,
    ) -> Result<Verdict> {
        match self.auth.current_user(parts).await? {
            None => Ok(not_logged_in()),
            Some(user) => Ok(wanted.judge(&user, |_| false)),
        }
    }
}

#[async_trait]
impl<A: AuthService> SecurityValidator for AuthValidator<A> {
    fn name(&self) -> &str {
        "auth"
    }

    async fn validate_rule(&self, rule: &Rule, parts: &mut Parts) -> Result<Verdict> {
        self.check(Requirements::of_rule(rule), parts).await
    }

    async fn validate_guard(&self, guard: &Secured, parts: &mut Parts) -> Result<Verdict> {
        self.check(Requirements::of_guard(guard), parts).await
    }

    async fn identify(&self, parts: &mut Parts) {
        if let Err(error) = self.auth.current_user(parts).await {
            tracing::warn!(%error, "could not identify the request's user; treating it as a guest");
        }
    }

    fn challenge(&self) -> Option<HeaderValue> {
        self.auth.challenge()
    }
}
