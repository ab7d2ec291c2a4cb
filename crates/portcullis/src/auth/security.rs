//! cbsecurity's authorization helpers (`cbSecure()`, spec §9) as an axum extractor over the
//! request's [`CurrentUser`].
//!
//! | cbsecurity | portcullis | empty list |
//! |---|---|---|
//! | `has(perms)` | [`Security::has`] — any of | `false` |
//! | `all(perms)` | [`Security::all`] — all of | `true` |
//! | `none(perms)` | [`Security::none`] — none of | `true` |
//! | `sameUser(user)` | [`Security::same_user`] | |
//! | `secure(perms, msg)` / `guard` | [`Security::secure`], [`Security::secure_with`] → `Err(NotAuthorized)` unless `has` | |
//! | `secureAll` / `secureNone` | [`Security::secure_all`] / [`Security::secure_none`] | |
//! | `secureWhen(ctx)` | [`Security::secure_when`] — refuses when the condition is **true** | |
//! | `secureSameUser(user)` | [`Security::secure_same_user`] | |
//! | `when` / `whenAll` / `whenNone` | [`Security::when`] / [`Security::when_all`] / [`Security::when_none`] | |
//! | `isLoggedIn()` / `guest()` | [`Security::is_logged_in`] / [`Security::guest`] | |
//! | `createPassword()` | [`create_password`] — from the OS CSPRNG (cbsecurity's was not) | |
//!
//! Checks that need a user return [`Error::NoUserLoggedIn`] (401) for a guest; refusals are
//! [`Error::NotAuthorized`] (403). Both are responses: `?` them out of a handler. Permission
//! lists are a comma string (`"a, b"`), a slice or a vector; matching ignores ASCII case.
//!
//! ```
//! use portcullis::auth::{AuthUser, CurrentUser, Security};
//!
//! #[derive(Clone)]
//! struct User { id: String, permissions: Vec<String> }
//! impl AuthUser for User {
//!     fn id(&self) -> String { self.id.clone() }
//!     fn permissions(&self) -> &[String] { &self.permissions }
//! }
//!
//! let user = User { id: "7".into(), permissions: vec!["orders:read".into()] };
//! let security = Security::new(Some(user.clone()));
//! assert!(security.has("orders:read, orders:write"));
//! assert!(!security.all("orders:read, orders:write"));
//! assert!(security.secure("orders:write").is_err());
//! assert!(security.secure_same_user(&user).is_ok());
//! assert!(Security::<User>::new(None).guest());
//! ```

use axum::extract::FromRequestParts;
use http::request::Parts;

use super::{AuthUser, CurrentUser};
use crate::{Error, Result};

/// The message of a refusal without one of its own (cbsecurity's default).
pub const NOT_AUTHORIZED: &str = "Not authorized!";

/// A list of permissions: a comma string, a slice or a vector of strings.
pub trait PermissionList {
    /// The permissions, trimmed, without empty ones.
    fn permissions(&self) -> Vec<&str>;
}

impl PermissionList for str {
    fn permissions(&self) -> Vec<&str> {
        self.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect()
    }
}

impl PermissionList for &str {
    fn permissions(&self) -> Vec<&str> {
        (**self).permissions()
    }
}

impl<S: AsRef<str>> PermissionList for [S] {
    fn permissions(&self) -> Vec<&str> {
        self.iter()
            .map(AsRef::as_ref)
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect()
    }
}

impl<S: AsRef<str>, const N: usize> PermissionList for [S; N] {
    fn permissions(&self) -> Vec<&str> {
        self[..].permissions()
    }
}

impl<S: AsRef<str>> PermissionList for Vec<S> {
    fn permissions(&self) -> Vec<&str> {
        self[..].permissions()
    }
}

/// The authorization helpers for the current request's user (or guest).
#[derive(Debug, Clone)]
pub struct Security<U> {
    user: Option<U>,
}

impl<U: AuthUser> Security<U> {
    /// Helpers for `user` (`None`: a guest).
    pub fn new(user: Option<U>) -> Self {
        Security { user }
    }

    /// The current user.
    pub fn user(&self) -> Option<&U> {
        self.user.as_ref()
    }

    /// Whether a user is logged in.
    pub fn is_logged_in(&self) -> bool {
        self.user.is_some()
    }

    /// Whether nobody is logged in.
    pub fn guest(&self) -> bool {
        self.user.is_none()
    }

    /// Whether the user has **any** of the permissions (`false` for none given, or a guest).
    pub fn has(&self, permissions: impl PermissionList) -> bool {
        self.user.as_ref().is_some_and(|u| {
            permissions
                .permissions()
                .iter()
                .any(|p| u.has_permission(p))
        })
    }

    /// Whether the user has **all** of them (`true` for none given; `false` for a guest).
    pub fn all(&self, permissions: impl PermissionList) -> bool {
        self.user.as_ref().is_some_and(|u| {
            permissions
                .permissions()
                .iter()
                .all(|p| u.has_permission(p))
        })
    }

    /// Whether the user has **none** of them (`true` for none given; `false` for a guest).
    pub fn none(&self, permissions: impl PermissionList) -> bool {
        self.user.as_ref().is_some_and(|u| {
            !permissions
                .permissions()
                .iter()
                .any(|p| u.has_permission(p))
        })
    }

    /// Whether `other` is the current user (same id).
    pub fn same_user(&self, other: &dyn AuthUser) -> bool {
        self.user.as_ref().is_some_and(|u| u.id() == other.id())
    }

    /// Refuses unless the user has any of the permissions.
    pub fn secure(&self, permissions: impl PermissionList) -> Result<&Self> {
        self.secure_with(permissions, NOT_AUTHORIZED)
    }

    /// [`Security::secure`] with a message of your own.
    pub fn secure_with(&self, permissions: impl PermissionList, message: &str) -> Result<&Self> {
        self.require(|s| s.has(permissions), message)
    }

    /// Refuses unless the user has all of the permissions.
    pub fn secure_all(&self, permissions: impl PermissionList, message: &str) -> Result<&Self> {
        self.require(|s| s.all(permissions), message)
    }

    /// Refuses if the user has any of the permissions.
    pub fn secure_none(&self, permissions: impl PermissionList, message: &str) -> Result<&Self> {
        self.require(|s| s.none(permissions), message)
    }

    /// Refuses when `condition(user)` is **true** (cbsecurity's `secureWhen`).
    pub fn secure_when(&self, condition: impl FnOnce(&U) -> bool, message: &str) -> Result<&Self> {
        let user = self.user.as_ref().ok_or(Error::NoUserLoggedIn)?;
        if condition(user) {
            return Err(not_authorized(message));
        }
        Ok(self)
    }

    /// Refuses unless `other` is the current user.
    pub fn secure_same_user(&self, other: &dyn AuthUser) -> Result<&Self> {
        self.require(|s| s.same_user(other), NOT_AUTHORIZED)
    }

    /// Runs `granted` with the user when they have any of the permissions, else `refused`
    /// (with the user, if any).
    pub fn when<R>(
        &self,
        permissions: impl PermissionList,
        granted: impl FnOnce(&U) -> R,
        refused: impl FnOnce(Option<&U>) -> R,
    ) -> R {
        self.branch(self.has(permissions), granted, refused)
    }

    /// [`Security::when`] with all of the permissions.
    pub fn when_all<R>(
        &self,
        permissions: impl PermissionList,
        granted: impl FnOnce(&U) -> R,
        refused: impl FnOnce(Option<&U>) -> R,
    ) -> R {
        self.branch(self.all(permissions), granted, refused)
    }

    /// [`Security::when`] with none of the permissions.
    pub fn when_none<R>(
        &self,
        permissions: impl PermissionList,
        granted: impl FnOnce(&U) -> R,
        refused: impl FnOnce(Option<&U>) -> R,
    ) -> R {
        self.branch(self.none(permissions), granted, refused)
    }

    fn branch<R>(
        &self,
        ok: bool,
        granted: impl FnOnce(&U) -> R,
        refused: impl FnOnce(Option<&U>) -> R,
    ) -> R {
        match (&self.user, ok) {
            (Some(user), true) => granted(user),
            (user, _) => refused(user.as_ref()),
        }
    }

    fn require(&self, check: impl FnOnce(&Self) -> bool, message: &str) -> Result<&Self> {
        if self.user.is_none() {
            return Err(Error::NoUserLoggedIn);
        }
        if check(self) {
            Ok(self)
        } else {
            Err(not_authorized(message))
        }
    }
}

fn not_authorized(message: &str) -> Error {
    Error::NotAuthorized {
        message: message.to_owned(),
    }
}

impl<S: Send + Sync, U: AuthUser + Clone> FromRequestParts<S> for Security<U> {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Security::new(
            parts
                .extensions
                .get::<CurrentUser<U>>()
                .map(|CurrentUser(u)| u.clone()),
        ))
    }
}

/// Letters (52), digits (10) and cbsecurity's 26 symbols.
const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const DIGITS: &str = "0123456789";
const SYMBOLS: &str = "~!#$%^&*()-_.,<>?/\\{}[]|:;";

/// A random password of `length` characters, each drawn uniformly from the enabled classes
/// with the operating system's CSPRNG (cbsecurity's `createPassword`, which used a
/// non-cryptographic generator). No class is guaranteed to appear, as in cbsecurity.
pub fn create_password(
    length: usize,
    letters: bool,
    digits: bool,
    symbols: bool,
) -> Result<String> {
    let mut alphabet = String::new();
    for (enabled, class) in [(letters, LETTERS), (digits, DIGITS), (symbols, SYMBOLS)] {
        if enabled {
            alphabet.push_str(class);
        }
    }
    let alphabet = alphabet.as_bytes();
    if alphabet.is_empty() {
        return Err(Error::config(
            "create_password",
            "enable at least one character class",
        ));
    }
    // Rejection sampling: bytes at or above the largest multiple of the alphabet size are
    // drawn again, so every character is equally likely.
    let limit = 256 - 256 % alphabet.len();
    let mut password = String::with_capacity(length);
    let mut buffer = [0u8; 64];
    while password.len() < length {
        aws_lc_rs::rand::fill(&mut buffer).map_err(|_| {
            Error::config(
                "create_password",
                "the system random number generator failed",
            )
        })?;
        for &byte in &buffer {
            if usize::from(byte) < limit && password.len() < length {
                password.push(char::from(alphabet[usize::from(byte) % alphabet.len()]));
            }
        }
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug)]
    struct User(Vec<String>);
    impl AuthUser for User {
        fn id(&self) -> String {
            "u".into()
        }
        fn permissions(&self) -> &[String] {
            &self.0
        }
    }

    #[test]
    fn empty_lists_follow_cbsecurity() {
        let security = Security::new(Some(User(vec!["A".into()])));
        assert!(!security.has(""));
        assert!(security.all(""));
        assert!(security.none(""));
        assert!(security.has(["a"]), "case-insensitive");
        assert!(security.none(vec!["b".to_owned()]));
    }

    #[test]
    fn guests_fail_every_check_with_401_first() {
        let guest = Security::<User>::new(None);
        assert!(!guest.has("a") && !guest.all("") && !guest.none(""));
        assert!(matches!(guest.secure("a"), Err(Error::NoUserLoggedIn)));
        assert!(matches!(
            guest.secure_when(|_| false, "x"),
            Err(Error::NoUserLoggedIn)
        ));
        assert_eq!(
            guest.when("a", |_| 1, |u| if u.is_none() { 2 } else { 3 }),
            2
        );
    }

    #[test]
    fn secure_variants_refuse_with_their_message() {
        let security = Security::new(Some(User(vec!["read".into()])));
        assert!(security.secure("read").is_ok());
        match security.secure_with("write", "writers only") {
            Err(Error::NotAuthorized { message }) => assert_eq!(message, "writers only"),
            other => panic!("{other:?}"),
        }
        assert!(security.secure_all("read, write", "x").is_err());
        assert!(security.secure_none("read", "x").is_err());
        assert!(security.secure_when(|u| u.0.is_empty(), "x").is_ok());
        assert!(
            security.secure_when(|u| !u.0.is_empty(), "x").is_err(),
            "true refuses"
        );
    }

    #[test]
    fn passwords_use_only_the_enabled_classes_and_differ() {
        let digits = create_password(200, false, true, false).unwrap();
        assert_eq!(digits.len(), 200);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        let all = create_password(32, true, true, true).unwrap();
        assert_ne!(all, create_password(32, true, true, true).unwrap());
        assert!(all
            .chars()
            .all(|c| LETTERS.contains(c) || DIGITS.contains(c) || SYMBOLS.contains(c)));
        assert!(create_password(8, false, false, false).is_err());
        assert_eq!(SYMBOLS.len(), 26, "cbsecurity's symbol set");
    }
}
