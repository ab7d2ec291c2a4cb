//! Users and where they come from: the traits the JWT service and the firewall's validators
//! rely on (cbsecurity's `IAuthUser` and `IUserService`).
//!
//! ```
//! use portcullis::auth::AuthUser;
//!
//! struct User { id: u64, roles: Vec<String>, permissions: Vec<String> }
//!
//! impl AuthUser for User {
//!     fn id(&self) -> String { self.id.to_string() }
//!     fn roles(&self) -> &[String] { &self.roles }
//!     fn permissions(&self) -> &[String] { &self.permissions }
//! }
//!
//! let user = User { id: 1, roles: vec!["Admin".into()], permissions: vec![] };
//! assert!(user.has_role("admin")); // case-insensitive, as cbsecurity
//! assert!(!user.has_permission("orders:read"));
//! ```

mod basic;
mod basic_logout;
mod identity;
mod password;
mod security;
pub(crate) mod service;
mod throttle;

use async_trait::async_trait;

pub use self::basic::{BasicAuthUsers, BasicUser, VERIFIED_TTL};
pub use self::basic_logout::{basic_logout_endpoint, BASIC_LOGOUT_PATH};
pub use self::identity::Identity;
pub use self::password::{
    legacy_digest, Argon2Params, PasswordHasher, PasswordScheme, Verification,
};
pub use self::security::{create_password, PermissionList, Security, NOT_AUTHORIZED};
pub use self::service::{basic_credentials, AuthService, BasicAuthService, Login};
#[cfg(feature = "storage-memory")]
pub use self::throttle::MemoryAttemptStore;
#[cfg(feature = "storage-redis")]
pub use self::throttle::RedisAttemptStore;
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
pub use self::throttle::SqlAttemptStore;
pub use self::throttle::{
    normalise as normalise_username, AttemptStore, Attempts, LockoutScope, LoginThrottle,
    MAX_USERNAME_CHARS,
};

use crate::Result;

/// An authenticated user: an id, roles and permissions.
///
/// Object-safe, so events and request extensions can carry any user type.
pub trait AuthUser: Send + Sync + 'static {
    /// The user's stable id: the `sub` of their tokens.
    fn id(&self) -> String;

    /// The user's login name. Default: the id.
    fn username(&self) -> String {
        self.id()
    }

    /// The user's roles. Default: none.
    fn roles(&self) -> &[String] {
        &[]
    }

    /// The user's permissions. Default: none.
    fn permissions(&self) -> &[String] {
        &[]
    }

    /// Whether the user has `role`, ignoring ASCII case (cbsecurity's Authorizable).
    fn has_role(&self, role: &str) -> bool {
        self.roles().iter().any(|r| r.eq_ignore_ascii_case(role))
    }

    /// Whether the user has `permission`, ignoring ASCII case.
    fn has_permission(&self, permission: &str) -> bool {
        self.permissions()
            .iter()
            .any(|p| p.eq_ignore_ascii_case(permission))
    }
}

/// Where users are looked up (cbsecurity's `IUserService`).
#[async_trait]
pub trait UserService: Send + Sync + 'static {
    /// The user type this service returns.
    type User: AuthUser + Clone;

    /// Whether `password` is `username`'s password. Implementations must take the same time
    /// whether or not the user exists, and compare in constant time.
    async fn is_valid_credentials(&self, username: &str, password: &str) -> Result<bool>;

    /// The user named `username`.
    async fn retrieve_user_by_username(&self, username: &str) -> Result<Option<Self::User>>;

    /// The user whose id is `id` (a token's `sub`).
    async fn retrieve_user_by_id(&self, id: &str) -> Result<Option<Self::User>>;

    /// The user named `username` if `password` is theirs. The default checks the
    /// credentials, then loads the user.
    async fn authenticate(&self, username: &str, password: &str) -> Result<Option<Self::User>> {
        if self.is_valid_credentials(username, password).await? {
            self.retrieve_user_by_username(username).await
        } else {
            Ok(None)
        }
    }
}

#[async_trait]
impl<S: UserService + ?Sized> UserService for std::sync::Arc<S> {
    type User = S::User;

    async fn is_valid_credentials(&self, username: &str, password: &str) -> Result<bool> {
        (**self).is_valid_credentials(username, password).await
    }

    async fn retrieve_user_by_username(&self, username: &str) -> Result<Option<Self::User>> {
        (**self).retrieve_user_by_username(username).await
    }

    async fn retrieve_user_by_id(&self, id: &str) -> Result<Option<Self::User>> {
        (**self).retrieve_user_by_id(id).await
    }

    async fn authenticate(&self, username: &str, password: &str) -> Result<Option<Self::User>> {
        (**self).authenticate(username, password).await
    }
}

/// The authenticated user of the current request, as put into the request's extensions by
/// the JWT layer or the firewall; also the axum extractor for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser<U>(pub U);
