//! Who the current request is (cbsecurity's `IAuthService`, made request-scoped).
//!
//! cbsecurity's auth service answers "is someone logged in, and who" from the session. Here
//! an [`AuthService`] answers it from the request: a bearer token ([`JwtService`]), a Basic
//! `Authorization` header ([`BasicAuthService`]), a session cookie (the session provider). The
//! firewall's `AuthValidator` asks it; an error means a backend failed and the request is
//! refused with 503, while "nobody" is `Ok(None)`.
//!
//! ```
//! use portcullis::auth::{basic_credentials};
//! use http::HeaderMap;
//!
//! let mut headers = HeaderMap::new();
//! // "alice:pass:word" — the password keeps its colon (cbsecurity truncated it).
//! headers.insert("authorization", "Basic YWxpY2U6cGFzczp3b3Jk".parse().unwrap());
//! assert_eq!(basic_credentials(&headers), Some(("alice".into(), "pass:word".into())));
//! ```

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::header::AUTHORIZATION;
use http::request::Parts;
use http::{HeaderMap, HeaderValue};

use super::{AuthUser, CurrentUser, Identity, UserService};
use crate::jwt::{JwtService, JwtSubject};
use crate::{Error, Result};

/// Identifies the user of a request.
#[async_trait]
pub trait AuthService: Send + Sync + 'static {
    /// The user type.
    type User: AuthUser + Clone;

    /// The user this request is authenticated as, or `None` for a guest. Implementations
    /// should put the user into the request's extensions as [`CurrentUser`] (and may cache
    /// there). `Err` only when a backend cannot answer.
    async fn current_user(&self, parts: &mut Parts) -> Result<Option<Self::User>>;

    /// The `WWW-Authenticate` challenge of a 401 from this service.
    fn challenge(&self) -> HeaderValue {
        HeaderValue::from_static("Bearer realm=\"portcullis\"")
    }
}

#[async_trait]
impl<U> AuthService for JwtService<U>
where
    U: AuthUser + JwtSubject + Clone,
{
    type User = U;

    /// The user of the request's access token; a missing, expired, invalid or revoked token
    /// is a guest. Token storage being unreachable is an error.
    async fn current_user(&self, parts: &mut Parts) -> Result<Option<U>> {
        if let Some(CurrentUser(user)) = parts.extensions.get::<CurrentUser<U>>() {
            return Ok(Some(user.clone()));
        }
        match self.parse_request(parts).await {
            Ok(authenticated) => Ok(Some(authenticated.user)),
            Err(error @ Error::Unavailable { .. }) => Err(error),
            Err(_) => Ok(None),
        }
    }
}

/// Identifies requests by their `Authorization: Basic` credentials, checked by a
/// [`UserService`].
pub struct BasicAuthService<S> {
    users: S,
    realm: HeaderValue,
}

impl<S: UserService> BasicAuthService<S> {
    /// Checks credentials with `users`; `realm` is shown by browsers in the login prompt.
    pub fn new(users: S, realm: &str) -> Result<Self> {
        let realm = realm.replace(['"', '\\'], "");
        let challenge = format!("Basic realm=\"{realm}\", charset=\"UTF-8\"");
        Ok(BasicAuthService {
            users,
            realm: HeaderValue::from_str(&challenge)
                .map_err(|_| Error::config("basic_auth.realm", "not a valid header value"))?,
        })
    }

    /// The user service.
    pub fn users(&self) -> &S {
        &self.users
    }
}

#[async_trait]
impl<S: UserService> AuthService for BasicAuthService<S> {
    type User = S::User;

    async fn current_user(&self, parts: &mut Parts) -> Result<Option<S::User>> {
        if let Some(CurrentUser(user)) = parts.extensions.get::<CurrentUser<S::User>>() {
            return Ok(Some(user.clone()));
        }
        let Some((username, password)) = basic_credentials(&parts.headers) else {
            return Ok(None);
        };
        let user = self.users.authenticate(&username, &password).await?;
        if let Some(user) = &user {
            parts.extensions.insert(CurrentUser(user.clone()));
            parts
                .extensions
                .insert(Identity::of(user, std::iter::empty::<String>()));
        }
        Ok(user)
    }

    /// `Basic realm="…", charset="UTF-8"` (RFC 7617; cbsecurity sent single quotes).
    fn challenge(&self) -> HeaderValue {
        self.realm.clone()
    }
}

/// The username and password of an `Authorization: Basic` header (RFC 7617): the scheme is
/// checked (case-insensitively), the credentials must be base64 UTF-8, and the password is
/// everything after the **first** colon.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (username, password) = text.split_once(':')?;
    Some((username.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_strict() {
        let mut headers = HeaderMap::new();
        for (value, expected) in [
            ("basic dXNlcjpwdw==", Some(("user", "pw"))),
            ("Basic dXNlcjo=", Some(("user", ""))),
            ("Bearer dXNlcjpwdw==", None),
            ("Basic !!!", None),
            ("Basic dXNlcg==", None), // no colon
            ("dXNlcjpwdw==", None),
        ] {
            headers.insert(AUTHORIZATION, value.parse().unwrap());
            let got = basic_credentials(&headers);
            let expected = expected.map(|(u, p)| (u.to_owned(), p.to_owned()));
            assert_eq!(got, expected, "{value}");
        }
    }
}
