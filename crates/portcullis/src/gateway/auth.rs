//! The gateway's login service, chosen by `authentication.provider`: what its login, logout,
//! register and me endpoints use, and what the firewall's `auth` validator asks.
//!
//! | `provider` | login gives | `auth` validator identifies |
//! |---|---|---|
//! | `""`, `"jwt"` | a token pair | the bearer token |
//! | `"session"` | a cookie session (id rotated at login) | the session's user, else a bearer token |
//!
//! With sessions, bearer tokens keep working — for scripts and services calling the same
//! upstream with tokens from `portcullis token create` or from another instance — and the
//! `jwt` validator still reads tokens only. The session wins when a request has both.

use std::sync::Arc;

use async_trait::async_trait;
use http::request::Parts;
use http::HeaderValue;

use super::GatewayUsers;
use crate::auth::{AuthService, AuthUser, Login, UserService};
use crate::events::EventBus;
use crate::jwt::{JwtService, JwtSubject};
use crate::session::{Session, SessionAuthService};
use crate::settings::Settings;
use crate::{Error, Result};

/// The login services the gateway knows (`authentication.provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provider {
    /// Logins issue tokens.
    Jwt,
    /// Logins open a cookie session.
    Session,
}

impl Provider {
    /// The provider `authentication.provider` names (case-insensitive).
    ///
    /// # Errors
    /// [`Error::Config`] naming `authentication.provider` and the choices for any other name.
    pub(crate) fn from_settings(settings: &Settings) -> Result<Self> {
        let name = settings.authentication.provider.trim();
        match name.to_ascii_lowercase().as_str() {
            "" | "jwt" => Ok(Provider::Jwt),
            "session" => Ok(Provider::Session),
            _ => Err(Error::config(
                "authentication.provider",
                format!(
                    "{name:?} is not a login service the gateway knows: use \"jwt\" (logins \
                     issue tokens, the default) or \"session\" (cookie sessions, for browser apps)"
                ),
            )),
        }
    }
}

/// The gateway's [`AuthService`] (see the module docs).
pub(crate) struct GatewayAuth<U> {
    jwt: JwtService<U>,
    sessions: Option<SessionAuthService<Arc<dyn GatewayUsers<User = U>>>>,
}

impl<U> GatewayAuth<U>
where
    U: AuthUser + JwtSubject + Clone,
{
    /// The service of `provider`, announcing logins and logouts on `events`.
    pub(crate) fn new(
        provider: Provider,
        jwt: JwtService<U>,
        users: Arc<dyn GatewayUsers<User = U>>,
        events: EventBus,
    ) -> Self {
        let sessions =
            (provider == Provider::Session).then(|| SessionAuthService::new(users).events(events));
        GatewayAuth { jwt, sessions }
    }

    /// Whether logins open sessions.
    pub(crate) fn is_session(&self) -> bool {
        self.sessions.is_some()
    }

    /// The user logged into the request's session (none without sessions).
    pub(crate) async fn session_user(&self, parts: &mut Parts) -> Result<Option<U>> {
        match &self.sessions {
            Some(sessions) => sessions.current_user(parts).await,
            None => Ok(None),
        }
    }
}

#[async_trait]
impl<U> AuthService for GatewayAuth<U>
where
    U: AuthUser + JwtSubject + Clone,
{
    type User = U;

    fn users(&self) -> &dyn UserService<User = U> {
        AuthService::users(&self.jwt)
    }

    /// The session's user, else the bearer token's.
    async fn current_user(&self, parts: &mut Parts) -> Result<Option<U>> {
        if let Some(user) = self.session_user(parts).await? {
            return Ok(Some(user));
        }
        AuthService::current_user(&self.jwt, parts).await
    }

    /// Into the session (id rotated), or a token pair.
    async fn login(&self, parts: &mut Parts, user: U) -> Result<Login<U>> {
        match &self.sessions {
            Some(sessions) => sessions.login(parts, user).await,
            None => AuthService::login(&self.jwt, parts, user).await,
        }
    }

    /// Ends the session; a request identified by a bearer token alone (no user in its
    /// session) revokes the token instead. Logging a guest's session out succeeds.
    async fn logout(&self, parts: &mut Parts) -> Result<()> {
        let Some(sessions) = &self.sessions else {
            return AuthService::logout(&self.jwt, parts).await;
        };
        let session_has_user = parts
            .extensions
            .get::<Session>()
            .is_some_and(|session| session.user_id().is_some());
        if !session_has_user && self.jwt.discover_token(parts).is_some() {
            return AuthService::logout(&self.jwt, parts).await;
        }
        sessions.logout(parts).await
    }

    fn challenge(&self) -> Option<HeaderValue> {
        AuthService::challenge(&self.jwt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_are_named_or_refused_naming_the_key() {
        let provider = |name: &str| {
            let toml = format!("[authentication]\nprovider = {name:?}");
            Provider::from_settings(&Settings::from_toml_str(&toml).unwrap())
        };
        assert_eq!(provider("").unwrap(), Provider::Jwt);
        assert_eq!(provider("JWT").unwrap(), Provider::Jwt);
        assert_eq!(provider("session").unwrap(), Provider::Session);
        let error = provider("authenticationService@cbauth").unwrap_err();
        assert!(
            matches!(&error, Error::Config { key, .. } if key == "authentication.provider"),
            "{error}"
        );
        assert!(error.to_string().contains("\"session\""), "{error}");
    }
}
