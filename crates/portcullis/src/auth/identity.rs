//! The request's user as plain data, whatever the user type: what the gateway forwards as
//! identity headers, what CSRF tokens are bound to, what firewall logs record.
//!
//! Whoever authenticates a request (the JWT service, the basic-auth service, the session
//! provider) puts an [`Identity`] into the request's extensions beside the typed
//! [`CurrentUser`](super::CurrentUser). Read it with the extractor, or with
//! `parts.extensions.get::<Identity>()`.
//!
//! ```
//! use portcullis::auth::{AuthUser, Identity};
//!
//! struct User { id: u64, roles: Vec<String> }
//! impl AuthUser for User {
//!     fn id(&self) -> String { self.id.to_string() }
//!     fn username(&self) -> String { format!("user{}", self.id) }
//!     fn roles(&self) -> &[String] { &self.roles }
//! }
//!
//! let identity = Identity::of(&User { id: 7, roles: vec!["admin".into()] }, ["orders:read"]);
//! assert_eq!(identity.id(), "7");
//! assert_eq!(identity.username(), "user7");
//! assert_eq!(identity.roles(), ["admin"]);
//! assert_eq!(identity.scopes(), ["orders:read"]);
//! ```

use std::sync::Arc;

use super::AuthUser;

/// The authenticated user of a request, as plain data. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity(Arc<Inner>);

#[derive(Debug, PartialEq, Eq)]
struct Inner {
    id: String,
    username: String,
    roles: Vec<String>,
    permissions: Vec<String>,
    scopes: Vec<String>,
}

impl Identity {
    /// The identity of `user`, granted `scopes` (a token's `scope` claim; none for basic
    /// auth and sessions).
    pub fn of<U: AuthUser + ?Sized, S: Into<String>>(
        user: &U,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        Identity(Arc::new(Inner {
            id: user.id(),
            username: user.username(),
            roles: user.roles().to_vec(),
            permissions: user.permissions().to_vec(),
            scopes: scopes.into_iter().map(Into::into).collect(),
        }))
    }

    /// The user's id (a token's `sub`).
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// The user's login name ([`AuthUser::username`]).
    pub fn username(&self) -> &str {
        &self.0.username
    }

    /// The user's roles.
    pub fn roles(&self) -> &[String] {
        &self.0.roles
    }

    /// The user's permissions.
    pub fn permissions(&self) -> &[String] {
        &self.0.permissions
    }

    /// The scopes the request's token grants (empty without a token).
    pub fn scopes(&self) -> &[String] {
        &self.0.scopes
    }
}

crate::extension::extension_extractor!(Identity, missing: crate::Error::NoUserLoggedIn);
