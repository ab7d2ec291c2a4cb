//! [`SessionAuthService`]: the user logged into the request's [`Session`] (cbauth's
//! `AuthenticationService`, for the firewall's `AuthValidator`).
//!
//! 1. `current_user`: the session's user id is loaded with the [`UserService`] once per
//!    request and put into the request as [`CurrentUser`](crate::auth::CurrentUser) and
//!    [`Identity`](crate::auth::Identity). A user that no longer exists logs the session
//!    out (cbauth cleared the id too).
//! 2. `login`: the session id is rotated — the id the client had before stops working —
//!    then the user id is stored; [`SecurityEvent::Login`] carries both ids.
//! 3. `logout`: the session is destroyed and the cookie removed; [`SecurityEvent::Logout`]
//!    carries the id that ended.
//! 4. Both discard the request's CSRF tokens when a `CsrfLayer` (feature `csrf`)
//!    runs outside the handler (cbcsrf's auth token rotator, `csrf.enable_auth_token_rotator`):
//!    a token issued before the login or logout is refused after it.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{routing::post, Router};
//! use http::request::Parts;
//! use portcullis::auth::{AuthService, BasicAuthUsers};
//! use portcullis::session::{MemorySessionStore, SessionAuthService, SessionLayer};
//! use portcullis::settings::Settings;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let settings = Settings::from_toml_str("[basic_auth.users.alice]\npassword = 'plain:secret'")?;
//! let auth = Arc::new(SessionAuthService::new(BasicAuthUsers::from_settings(&settings.basic_auth)?));
//! let login = post(move |mut parts: Parts| async move {
//!     auth.authenticate(&mut parts, "alice", "secret").await.map(|login| login.user.username)
//! });
//! let layer = SessionLayer::new(&settings.session, Arc::new(MemorySessionStore::new()));
//! let app = Router::new().route("/login", login).layer(layer);
//!
//! let request = http::Request::post("/login").body(axum::body::Body::empty()).unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! let cookie = response.headers()["set-cookie"].to_str().unwrap();
//! assert!(cookie.starts_with("__Host-portcullis_session="));
//! # Ok(()) }
//! ```

use async_trait::async_trait;
use http::request::Parts;

use super::Session;
use crate::auth::service::{
    announce_login, authentication_changed, cached_user, clear_current_user, set_current_user,
};
use crate::auth::{AuthService, AuthUser, Login, UserService};
use crate::events::{EventBus, SecurityEvent};
use crate::Result;

/// Logs users into the request's cookie [`Session`] (needs [`SessionLayer`](super::SessionLayer)
/// outside the routes that use it).
pub struct SessionAuthService<S> {
    users: S,
    events: EventBus,
}

impl<S: UserService> SessionAuthService<S> {
    /// Users are looked up in `users`.
    pub fn new(users: S) -> Self {
        SessionAuthService {
            users,
            events: EventBus::new(),
        }
    }

    /// Announces logins and logouts on `events`.
    pub fn events(mut self, events: EventBus) -> Self {
        self.events = events;
        self
    }
}

/// The request's session.
fn session(parts: &Parts) -> Result<Session> {
    parts
        .extensions
        .get::<Session>()
        .cloned()
        .ok_or_else(super::no_session)
}

#[async_trait]
impl<S: UserService> AuthService for SessionAuthService<S> {
    type User = S::User;

    fn users(&self) -> &dyn UserService<User = S::User> {
        &self.users
    }

    /// The session's user. A request outside [`SessionLayer`](super::SessionLayer) is a
    /// guest.
    async fn current_user(&self, parts: &mut Parts) -> Result<Option<S::User>> {
        if let Some(user) = cached_user::<S::User>(parts) {
            return Ok(Some(user));
        }
        let Some(session) = parts.extensions.get::<Session>().cloned() else {
            tracing::debug!("no session on this request: add SessionLayer; treated as a guest");
            return Ok(None);
        };
        let Some(id) = session.user_id() else {
            return Ok(None);
        };
        match self.users.retrieve_user_by_id(&id).await? {
            Some(user) => {
                set_current_user(parts, &user, std::iter::empty::<String>());
                Ok(Some(user))
            }
            None => {
                session.set_user_id(None);
                Ok(None)
            }
        }
    }

    /// Rotates the session id, then stores `user`'s id in the session.
    async fn login(&self, parts: &mut Parts, user: S::User) -> Result<Login<S::User>> {
        let session = session(parts)?;
        let previous = session.rotate().await?;
        session.set_user_id(Some(user.id()));
        let current = session.id();
        parts.extensions.insert(current.clone());
        set_current_user(parts, &user, std::iter::empty::<String>());
        authentication_changed(parts).await;
        announce_login(&self.events, &user, Some(previous), Some(current));
        Ok(Login::new(user))
    }

    /// Destroys the session.
    async fn logout(&self, parts: &mut Parts) -> Result<()> {
        let session = session(parts)?;
        let ended = session.id();
        let user_id = clear_current_user::<S::User>(parts).or_else(|| session.user_id());
        session.destroy().await?;
        parts.extensions.insert(session.id());
        authentication_changed(parts).await;
        if !self.events.is_empty() {
            self.events.emit(SecurityEvent::Logout {
                user_id,
                session: Some(ended),
            });
        }
        Ok(())
    }
}
