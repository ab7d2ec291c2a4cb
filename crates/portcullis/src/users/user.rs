//! The user store's values: [`StoredUser`] (what is read), [`NewUser`] (what is added) and
//! [`Access`] (roles and permissions granted or revoked).

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::auth::{AuthUser, PasswordScheme};
use crate::jwt::JwtSubject;
use crate::settings::REDACTED;

/// A user of the store. Carries no password material: only which kind of hash is stored.
///
/// As an [`AuthUser`], its id is the UUID and its roles and permissions are the stored
/// ones. As a [`JwtSubject`] it follows cbsecurity's `JwtSubject` delegate, like
/// [`BasicUser`](crate::auth::BasicUser): `sub` is the id, `scope` the permissions, and a
/// `role` claim holds the roles, comma-joined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StoredUser {
    /// A random UUID (version 4), fixed at creation: the `sub` of the user's tokens.
    pub id: String,
    /// The login name, as given at creation (unique ignoring ASCII case).
    pub username: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Permissions.
    pub permissions: Vec<String>,
    /// First name (may be empty).
    pub first_name: String,
    /// Last name (may be empty).
    pub last_name: String,
    /// Email address, if given.
    pub email: Option<String>,
    /// A disabled user cannot log in, and is not found by the [`UserService`] lookups, so
    /// their tokens stop working too.
    ///
    /// [`UserService`]: crate::auth::UserService
    pub disabled: bool,
    /// When the user was added, in Unix seconds.
    pub created_at: i64,
    /// When the user last changed (password, roles, state), in Unix seconds.
    pub updated_at: i64,
    /// The kind of the stored password hash; anything but `argon2id` is upgraded at the
    /// user's next login.
    pub password_scheme: PasswordScheme,
}

impl AuthUser for StoredUser {
    fn id(&self) -> String {
        self.id.clone()
    }

    fn username(&self) -> String {
        self.username.clone()
    }

    fn roles(&self) -> &[String] {
        &self.roles
    }

    fn permissions(&self) -> &[String] {
        &self.permissions
    }
}

impl JwtSubject for StoredUser {
    fn jwt_subject(&self) -> String {
        self.id.clone()
    }

    /// The permissions (cbsecurity's `getJwtScopes()`).
    fn jwt_scopes(&self) -> Vec<String> {
        self.permissions.clone()
    }

    /// `role`: the roles, comma-joined (cbsecurity's `getJwtCustomClaims()`).
    fn jwt_custom_claims(&self, _: &Map<String, Value>) -> Map<String, Value> {
        Map::from_iter([("role".to_owned(), Value::from(self.roles.join(",")))])
    }
}

/// The password of a [`NewUser`]: text to hash, or a hash to import.
#[derive(Clone)]
pub(crate) enum Credential {
    /// A password, hashed with Argon2id when the user is added.
    Password(String),
    /// An existing hash (Argon2, bcrypt, cbsecurity's hex digest), stored as given.
    Hash(String),
}

/// A user to add to the store ([`SqlUserStore::add`](super::SqlUserStore::add)). Its
/// `Debug` never shows the password.
///
/// ```
/// use portcullis::users::NewUser;
///
/// let bob = NewUser::new("bob", "correct horse battery staple")
///     .roles(["editor"])
///     .permissions(["posts:write"])
///     .first_name("Bob")
///     .email("bob@example.com");
/// assert!(!format!("{bob:?}").contains("horse"));
/// ```
#[derive(Clone)]
pub struct NewUser {
    pub(crate) username: String,
    pub(crate) credential: Credential,
    pub(crate) roles: Vec<String>,
    pub(crate) permissions: Vec<String>,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) email: Option<String>,
}

impl NewUser {
    fn with(username: String, credential: Credential) -> Self {
        NewUser {
            username,
            credential,
            roles: Vec::new(),
            permissions: Vec::new(),
            first_name: String::new(),
            last_name: String::new(),
            email: None,
        }
    }

    /// A user named `username` whose password is `password` (hashed with Argon2id when
    /// added; its length must be within `users.min_password_length` and
    /// `users.max_password_length`).
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::with(username.into(), Credential::Password(password.into()))
    }

    /// A user whose password hash is imported as is, to migrate users from another system:
    /// an Argon2 PHC string, a bcrypt hash, or a cbsecurity hex digest made with
    /// `users.legacy_hash_algorithm` × `legacy_hash_iterations`. Anything but current
    /// Argon2id is upgraded at the user's first login.
    pub fn with_hash(username: impl Into<String>, hash: impl Into<String>) -> Self {
        Self::with(username.into(), Credential::Hash(hash.into()))
    }

    /// Sets the roles.
    pub fn roles<S: Into<String>>(mut self, roles: impl IntoIterator<Item = S>) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the permissions.
    pub fn permissions<S: Into<String>>(
        mut self,
        permissions: impl IntoIterator<Item = S>,
    ) -> Self {
        self.permissions = permissions.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the first name.
    pub fn first_name(mut self, name: impl Into<String>) -> Self {
        self.first_name = name.into();
        self
    }

    /// Sets the last name.
    pub fn last_name(mut self, name: impl Into<String>) -> Self {
        self.last_name = name.into();
        self
    }

    /// Sets the email address; an empty one means none.
    pub fn email(mut self, address: impl Into<String>) -> Self {
        let address = address.into();
        self.email = (!address.is_empty()).then_some(address);
        self
    }

    /// The username.
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let credential = match self.credential {
            Credential::Password(_) => "password",
            Credential::Hash(_) => "hash",
        };
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field(credential, &REDACTED)
            .field("roles", &self.roles)
            .field("permissions", &self.permissions)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("email", &self.email)
            .finish()
    }
}

/// Roles and permissions to grant or revoke
/// ([`SqlUserStore::grant`](super::SqlUserStore::grant),
/// [`revoke`](super::SqlUserStore::revoke)). Names compare ignoring ASCII case, as
/// [`AuthUser::has_role`] does.
///
/// ```
/// use portcullis::users::Access;
///
/// let access = Access::roles(["admin"]).and_permissions(["orders:read"]);
/// assert_eq!(access.roles, ["admin"]);
/// assert_eq!(access.permissions, ["orders:read"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Roles.
    pub roles: Vec<String>,
    /// Permissions.
    pub permissions: Vec<String>,
}

impl Access {
    /// These roles, no permissions.
    pub fn roles<S: Into<String>>(roles: impl IntoIterator<Item = S>) -> Self {
        Access {
            roles: roles.into_iter().map(Into::into).collect(),
            permissions: Vec::new(),
        }
    }

    /// These permissions, no roles.
    pub fn permissions<S: Into<String>>(permissions: impl IntoIterator<Item = S>) -> Self {
        Access::default().and_permissions(permissions)
    }

    /// These permissions too.
    pub fn and_permissions<S: Into<String>>(
        mut self,
        permissions: impl IntoIterator<Item = S>,
    ) -> Self {
        self.permissions
            .extend(permissions.into_iter().map(Into::into));
        self
    }

    /// Whether there is nothing to grant or revoke.
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.permissions.is_empty()
    }
}

/// `current` with every name of `added` it lacks (ignoring ASCII case) appended.
pub(crate) fn with_granted(current: &[String], added: &[String]) -> Vec<String> {
    let mut out = current.to_vec();
    for name in added {
        if !out.iter().any(|have| have.eq_ignore_ascii_case(name)) {
            out.push(name.clone());
        }
    }
    out
}

/// `current` without the names of `removed` (ignoring ASCII case).
pub(crate) fn with_revoked(current: &[String], removed: &[String]) -> Vec<String> {
    current
        .iter()
        .filter(|have| !removed.iter().any(|name| name.eq_ignore_ascii_case(have)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn grants_and_revocations_ignore_case_and_keep_order() {
        let current = names(&["admin", "Editor"]);
        assert_eq!(
            with_granted(&current, &names(&["editor", "viewer", "ADMIN", "viewer"])),
            names(&["admin", "Editor", "viewer"])
        );
        assert_eq!(
            with_revoked(&current, &names(&["EDITOR", "absent"])),
            names(&["admin"])
        );
    }

    #[test]
    fn stored_users_are_jwt_subjects_like_basic_users() {
        let user = StoredUser {
            id: "0b7c…".into(),
            username: "Bob".into(),
            roles: names(&["admin", "editor"]),
            permissions: names(&["orders:read"]),
            first_name: String::new(),
            last_name: String::new(),
            email: None,
            disabled: false,
            created_at: 0,
            updated_at: 0,
            password_scheme: PasswordScheme::Argon2id,
        };
        assert_eq!(user.jwt_subject(), "0b7c…");
        assert_eq!(user.jwt_scopes(), ["orders:read"]);
        assert_eq!(user.jwt_custom_claims(&Map::new())["role"], "admin,editor");
        assert!(user.has_role("ADMIN"));
        assert_eq!(AuthUser::username(&user), "Bob");
        let json = serde_json::to_value(&user).unwrap();
        assert_eq!(json["password_scheme"], "argon2id");
    }
}
