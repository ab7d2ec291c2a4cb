//! Validators decide a request once a rule or a guard applies (cbsecurity's
//! `ISecurityValidator`).
//!
//! A validator answers with a [`Verdict`]: `authentication` while the caller is unknown,
//! `authorization` once known. `Err` means a backend could not answer: the request is refused
//! with 503, never let through.
//!
//! | validator | identifies by | roles | permissions |
//! |---|---|---|---|
//! | [`AuthValidator`] | its [`AuthService`](crate::auth::AuthService) (session, token, …) | the user's | the user's |
//! | [`JwtValidator`] | the access token (with auto-refresh) | the user's | the token's `scope` **or** the user's |
//! | [`BasicAuthValidator`] | `Authorization: Basic`; refusals always carry the Basic challenge | the user's | the user's |
//! | [`AnyOf`] | the first of its validators that allows | | |
//!
//! Lists are any-of, as in cbsecurity: with both roles and permissions, one matching role
//! **or** one matching permission passes. (cbsecurity's JWT validator ignored roles; here roles
//! are checked against the user.) A guard's value is a list of permissions.

mod any;
mod auth;
mod basic;
mod jwt;

use async_trait::async_trait;
use http::request::Parts;
use http::HeaderValue;

pub use self::any::AnyOf;
pub use self::auth::AuthValidator;
pub use self::basic::BasicAuthValidator;
pub use self::jwt::JwtValidator;
use super::{Rule, Secured, Verdict, VerdictKind};
use crate::auth::AuthUser;
use crate::Result;

/// Decides requests that a rule or a guard applies to.
#[async_trait]
pub trait SecurityValidator: Send + Sync + 'static {
    /// A short name for logs and the visualizer, e.g. `jwt`.
    fn name(&self) -> &str;

    /// Decides a request that `rule` applies to (cbsecurity's `ruleValidator`).
    async fn validate_rule(&self, rule: &Rule, parts: &mut Parts) -> Result<Verdict>;

    /// Decides a request that a route guard protects (cbsecurity's `annotationValidator`).
    async fn validate_guard(&self, guard: &Secured, parts: &mut Parts) -> Result<Verdict>;

    /// Puts the request's user, if any, into its extensions, for requests no rule or guard
    /// decides. Best effort: a failure leaves the request a guest. Default: nothing.
    async fn identify(&self, parts: &mut Parts) {
        let _ = parts;
    }

    /// The `WWW-Authenticate` challenge sent with a 401 block. Default: none.
    fn challenge(&self) -> Option<HeaderValue> {
        None
    }
}

/// The roles and permissions a rule or guard asks for (any of each).
#[derive(Debug, Clone, Copy)]
pub struct Requirements<'a> {
    /// Roles, any of which passes.
    pub roles: &'a [String],
    /// Permissions, any of which passes.
    pub permissions: &'a [String],
}

impl<'a> Requirements<'a> {
    /// What `rule` asks for.
    pub fn of_rule(rule: &'a Rule) -> Self {
        Requirements {
            roles: rule.roles(),
            permissions: rule.permissions(),
        }
    }

    /// What `guard` asks for: its permissions.
    pub fn of_guard(guard: &'a Secured) -> Self {
        Requirements {
            roles: &[],
            permissions: guard.permissions(),
        }
    }

    /// Whether nothing beyond authentication is asked.
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.permissions.is_empty()
    }

    /// The authorization verdict for `user`; `granted` may grant permissions the user does
    /// not hold (a token's scopes).
    pub fn judge(&self, user: &dyn AuthUser, granted: impl Fn(&str) -> bool) -> Verdict {
        if self.is_empty()
            || self.roles.iter().any(|role| user.has_role(role))
            || self
                .permissions
                .iter()
                .any(|p| user.has_permission(p) || granted(p))
        {
            return Verdict::allow(VerdictKind::Authorization);
        }
        let mut wanted = Vec::new();
        if !self.roles.is_empty() {
            wanted.push(format!("a role of [{}]", self.roles.join(", ")));
        }
        if !self.permissions.is_empty() {
            wanted.push(format!("a permission of [{}]", self.permissions.join(", ")));
        }
        Verdict::deny(
            VerdictKind::Authorization,
            format!("Not authorized: needs {}", wanted.join(" or ")),
        )
    }
}

/// The refusal for a request without a user.
pub(crate) fn not_logged_in() -> Verdict {
    Verdict::deny(VerdictKind::Authentication, "Not logged in")
}
