//! Who the current request is, and logging in and out (cbsecurity's `IAuthService`, made
//! request-scoped).
//!
//! cbsecurity's auth service answers "is someone logged in, and who" from the session. Here
//! an [`AuthService`] answers it from the request: a bearer token ([`JwtService`]), a Basic
//! `Authorization` header ([`BasicAuthService`]), a session cookie
//! ([`SessionAuthService`](crate::session::SessionAuthService)). The firewall's
//! `AuthValidator` asks it; an error means a backend failed and the request is refused with
//! 503, while "nobody" is `Ok(None)`.
//!
//! | cbsecurity / cbauth | [`AuthService`] | JWT | basic | session |
//! |---|---|---|---|---|
//! | `getUser()` | [`current_user`](AuthService::current_user) | the token's subject | the header's user | the session's user |
//! | `isLoggedIn()` | [`is_logged_in`](AuthService::is_logged_in) | | | |
//! | `authenticate(u, p)` | [`authenticate`](AuthService::authenticate) → [`Login`] | + token pair | | + id rotated |
//! | `login(user)` | [`login`](AuthService::login) → [`Login`] | issues a token pair | nothing to keep | stores the user id, rotates the session id |
//! | `logout()` | [`logout`](AuthService::logout) | revokes the presented token | nothing to forget | destroys the session |
//! | `getUserService()` | [`users`](AuthService::users) | | | |
//!
//! Every provider's `login` and `logout` also discards the request's CSRF tokens when a
//! `CsrfLayer` (feature `csrf`) runs outside the handler (cbcsrf's auth token rotator,
//! `csrf.enable_auth_token_rotator`).
//!
//! The trait is object-safe: a provider chosen at run time is an
//! `Arc<dyn AuthService<User = U>>`, which is itself an [`AuthService`] (so the firewall's
//! `AuthValidator` takes it). Login throttling is separate:
//! [`LoginThrottle::attempt`](super::LoginThrottle::attempt) wraps
//! [`authenticate`](AuthService::authenticate).
//!
//! ```
//! use std::sync::Arc;
//! use portcullis::auth::{AuthService, BasicAuthService, BasicAuthUsers, BasicUser};
//! use portcullis::settings::Settings;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let settings = Settings::from_toml_str("[basic_auth.users.alice]\npassword = 'plain:secret'")?;
//! let users = BasicAuthUsers::from_settings(&settings.basic_auth)?;
//! let auth: Arc<dyn AuthService<User = BasicUser>> = Arc::new(BasicAuthService::new(users, "app")?);
//!
//! let (mut parts, ()) = http::Request::new(()).into_parts();
//! let login = auth.authenticate(&mut parts, "alice", "secret").await?;
//! assert_eq!(login.user.username, "alice");
//! assert!(auth.is_logged_in(&mut parts).await?);
//! assert!(auth.authenticate(&mut parts, "alice", "guess").await.is_err());
//! # Ok(()) }
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::header::AUTHORIZATION;
use http::request::Parts;
use http::{HeaderMap, HeaderValue};
use serde_json::Map;

use super::{AuthUser, CurrentUser, Identity, UserService};
use crate::events::SecurityEvent;
use crate::jwt::{JwtService, JwtSubject, TokenPair};
use crate::{Error, Result};

/// What a login produced.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Login<U> {
    /// The user now logged in.
    pub user: U,
    /// The tokens the client must present from now on (JWT); `None` when the login is kept
    /// in the session, or the client sends its credentials every time (basic auth).
    pub tokens: Option<TokenPair>,
}

impl<U> Login<U> {
    /// A login kept on the server side (or not kept at all).
    pub fn new(user: U) -> Self {
        Login { user, tokens: None }
    }
}

/// Identifies the user of a request, and logs users in and out.
#[async_trait]
pub trait AuthService: Send + Sync + 'static {
    /// The user type.
    type User: AuthUser + Clone;

    /// The service users are looked up in (cbsecurity's `getUserService()`).
    fn users(&self) -> &dyn UserService<User = Self::User>;

    /// The user this request is authenticated as, or `None` for a guest. Implementations
    /// put the user into the request's extensions as [`CurrentUser`] and [`Identity`] (and
    /// may cache there). `Err` only when a backend cannot answer.
    async fn current_user(&self, parts: &mut Parts) -> Result<Option<Self::User>>;

    /// Whether a user is logged in (cbsecurity's `isLoggedIn()`).
    async fn is_logged_in(&self, parts: &mut Parts) -> Result<bool> {
        Ok(self.current_user(parts).await?.is_some())
    }

    /// Checks `username` and `password` with [`AuthService::users`] and logs the user in
    /// (cbauth's `authenticate`). Wrong credentials are [`Error::InvalidCredentials`].
    async fn authenticate(
        &self,
        parts: &mut Parts,
        username: &str,
        password: &str,
    ) -> Result<Login<Self::User>> {
        let user = self.users().authenticate(username, password).await?;
        let user = user.ok_or(Error::InvalidCredentials)?;
        self.login(parts, user).await
    }

    /// Logs `user` in for this request's client, whose credentials were checked already
    /// (cbauth's `login`), and makes it the request's [`CurrentUser`].
    async fn login(&self, parts: &mut Parts, user: Self::User) -> Result<Login<Self::User>>;

    /// Logs the request's client out (cbauth's `logout`); the request is a guest afterwards.
    async fn logout(&self, parts: &mut Parts) -> Result<()>;

    /// The `WWW-Authenticate` challenge of a 401 from this service, if its scheme has one.
    fn challenge(&self) -> Option<HeaderValue> {
        None
    }
}

/// An [`AuthService`] behind a pointer (`Arc<dyn AuthService<User = U>>`) is one.
macro_rules! delegate_auth_service {
    ($pointer:ident) => {
        #[async_trait]
        impl<A: AuthService + ?Sized> AuthService for $pointer<A> {
            type User = A::User;

            fn users(&self) -> &dyn UserService<User = Self::User> {
                (**self).users()
            }

            async fn current_user(&self, parts: &mut Parts) -> Result<Option<Self::User>> {
                (**self).current_user(parts).await
            }

            async fn is_logged_in(&self, parts: &mut Parts) -> Result<bool> {
                (**self).is_logged_in(parts).await
            }

            async fn authenticate(
                &self,
                parts: &mut Parts,
                username: &str,
                password: &str,
            ) -> Result<Login<Self::User>> {
                (**self).authenticate(parts, username, password).await
            }

            async fn login(
                &self,
                parts: &mut Parts,
                user: Self::User,
            ) -> Result<Login<Self::User>> {
                (**self).login(parts, user).await
            }

            async fn logout(&self, parts: &mut Parts) -> Result<()> {
                (**self).logout(parts).await
            }

            fn challenge(&self) -> Option<HeaderValue> {
                (**self).challenge()
            }
        }
    };
}

delegate_auth_service!(Arc);
delegate_auth_service!(Box);

/// The user an earlier call put into the request, if any.
pub(crate) fn cached_user<U: Clone + Send + Sync + 'static>(parts: &Parts) -> Option<U> {
    let CurrentUser(user) = parts.extensions.get::<CurrentUser<U>>()?;
    Some(user.clone())
}

/// Makes `user` the request's user: [`CurrentUser`] and [`Identity`] (granted `scopes`).
pub(crate) fn set_current_user<U: AuthUser + Clone, S: Into<String>>(
    parts: &mut Parts,
    user: &U,
    scopes: impl IntoIterator<Item = S>,
) {
    parts.extensions.insert(CurrentUser(user.clone()));
    parts.extensions.insert(Identity::of(user, scopes));
}

/// Makes the request a guest's; the id of the user it had, if any.
pub(crate) fn clear_current_user<U: AuthUser + Clone>(parts: &mut Parts) -> Option<String> {
    parts.extensions.remove::<Identity>();
    let user = parts.extensions.remove::<CurrentUser<U>>();
    user.map(|CurrentUser(user)| user.id())
}

#[async_trait]
impl<U> AuthService for JwtService<U>
where
    U: AuthUser + JwtSubject + Clone,
{
    type User = U;

    fn users(&self) -> &dyn UserService<User = U> {
        &**JwtService::users(self)
    }

    /// The user of the request's access token; a missing, expired, invalid or revoked token
    /// is a guest. Token storage being unreachable is an error.
    async fn current_user(&self, parts: &mut Parts) -> Result<Option<U>> {
        if let Some(user) = cached_user::<U>(parts) {
            return Ok(Some(user));
        }
        match self.parse_request(parts).await {
            Ok(authenticated) => Ok(Some(authenticated.user)),
            Err(error @ Error::Unavailable { .. }) => Err(error),
            Err(_) => Ok(None),
        }
    }

    /// Issues a token pair for `user` ([`JwtService::from_user`]).
    async fn login(&self, parts: &mut Parts, user: U) -> Result<Login<U>> {
        let tokens = self.from_user(&user, Map::new(), Map::new()).await?;
        set_current_user(parts, &user, user.jwt_scopes());
        authentication_changed(parts).await;
        announce_login(self.events(), &user, None, None);
        Ok(Login {
            user,
            tokens: Some(tokens),
        })
    }

    /// Revokes the request's access token and its login session ([`JwtService::logout`]);
    /// without a valid token, [`Error::TokenNotFound`] or the token's error.
    async fn logout(&self, parts: &mut Parts) -> Result<()> {
        let token = self.discover_token(parts).ok_or(Error::TokenNotFound)?;
        let subject = self.decode(token.as_str())?.sub().map(str::to_owned);
        JwtService::logout(self, token.as_str()).await?;
        clear_current_user::<U>(parts);
        authentication_changed(parts).await;
        let events = self.events();
        if !events.is_empty() {
            events.emit(SecurityEvent::Logout {
                user_id: subject,
                session: None,
            });
        }
        Ok(())
    }

    fn challenge(&self) -> Option<HeaderValue> {
        Some(HeaderValue::from_static("Bearer realm=\"portcullis\""))
    }
}

/// cbcsrf's auth token rotator, run by every provider's `login` and `logout`: when a
/// `CsrfLayer` (feature `csrf`) runs outside the handler, the request's CSRF tokens
/// are discarded (unless `csrf.enable_auth_token_rotator` is off), so a token issued before
/// the change is refused after it.
#[cfg(feature = "csrf")]
pub(crate) async fn authentication_changed(parts: &Parts) {
    let csrf = parts.extensions.get::<crate::csrf::Csrf>().cloned();
    if let Some(csrf) = csrf {
        csrf.on_authentication_change().await;
    }
}

/// Without the `csrf` feature there are no CSRF tokens to rotate.
#[cfg(not(feature = "csrf"))]
pub(crate) async fn authentication_changed(_: &Parts) {}

/// Announces a login on `events`.
pub(crate) fn announce_login<U: AuthUser + Clone>(
    events: &crate::events::EventBus,
    user: &U,
    previous_session: Option<crate::session::SessionId>,
    session: Option<crate::session::SessionId>,
) {
    if !events.is_empty() {
        events.emit(SecurityEvent::Login {
            user: Arc::new(user.clone()),
            previous_session,
            session,
        });
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
        Ok(BasicAuthService {
            users,
            realm: basic_challenge(realm)?,
        })
    }

    /// The `Basic realm="…", charset="UTF-8"` challenge (RFC 7617; cbsecurity sent single
    /// quotes).
    pub fn basic_challenge(&self) -> HeaderValue {
        self.realm.clone()
    }
}

#[async_trait]
impl<S: UserService> AuthService for BasicAuthService<S> {
    type User = S::User;

    fn users(&self) -> &dyn UserService<User = S::User> {
        &self.users
    }

    async fn current_user(&self, parts: &mut Parts) -> Result<Option<S::User>> {
        if let Some(user) = cached_user::<S::User>(parts) {
            return Ok(Some(user));
        }
        let Some((username, password)) = basic_credentials(&parts.headers) else {
            return Ok(None);
        };
        let user = self.users.authenticate(&username, &password).await?;
        if let Some(user) = &user {
            set_current_user(parts, user, std::iter::empty::<String>());
        }
        Ok(user)
    }

    /// Makes `user` the request's user. Nothing is kept: the client sends its credentials
    /// with every request.
    async fn login(&self, parts: &mut Parts, user: S::User) -> Result<Login<S::User>> {
        set_current_user(parts, &user, std::iter::empty::<String>());
        authentication_changed(parts).await;
        Ok(Login::new(user))
    }

    /// Makes the request a guest's. Nothing is kept to forget: answer with 401 and
    /// [`AuthService::challenge`] so that the browser drops the credentials it caches
    /// (cbsecurity's `BasicAuth.logout`).
    async fn logout(&self, parts: &mut Parts) -> Result<()> {
        clear_current_user::<S::User>(parts);
        authentication_changed(parts).await;
        Ok(())
    }

    fn challenge(&self) -> Option<HeaderValue> {
        Some(self.basic_challenge())
    }
}

/// The `Basic realm="…", charset="UTF-8"` challenge for `realm` (quotes and backslashes
/// dropped from it).
pub(crate) fn basic_challenge(realm: &str) -> Result<HeaderValue> {
    let realm = realm.replace(['"', '\\'], "");
    HeaderValue::from_str(&format!("Basic realm=\"{realm}\", charset=\"UTF-8\""))
        .map_err(|_| Error::config("basic_auth.realm", "not a valid header value"))
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
