//! [`Csrf`]: the request's CSRF helpers for handlers (cbcsrf's `csrfToken`, `csrfVerify`,
//! `csrf()`, `csrfRotate`), put into every request by [`CsrfLayer`](super::CsrfLayer).
//!
//! 1. The request's binding is its session, else its authenticated user, else the guest's
//!    anonymous binding cookie (see [`CsrfBinding`]).
//! 2. A guest without that cookie gets one the first time a token is made for them: 256
//!    random bits, `HttpOnly; SameSite=Lax; Path=/`, named `__Host-portcullis-csrf` with
//!    `Secure` over HTTPS and `portcullis-csrf` over plain HTTP (the `__Host-` prefix needs
//!    `Secure`). Pre-login forms (login, sign-up) work that way.
//!
//! ```
//! use axum::{routing::get, Router, response::Html};
//! use portcullis::csrf::{Csrf, CsrfLayer};
//! use portcullis::settings::Settings;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let app = Router::new()
//!     .route("/form", get(|csrf: Csrf| async move {
//!         Ok::<_, portcullis::Error>(Html(format!(
//!             "<form method=post action=/save>{}<button>Save</button></form>",
//!             csrf.hidden_field().await?
//!         )))
//!     }))
//!     .layer(CsrfLayer::from_settings(&Settings::default()).await?);
//! let request = http::Request::get("/form").body(axum::body::Body::empty()).unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! let cookie = response.headers()["set-cookie"].to_str().unwrap();
//! assert!(cookie.starts_with("portcullis-csrf=") && cookie.contains("HttpOnly"));
//! # Ok(()) }
//! ```

use std::sync::{Arc, Mutex};

use http::request::Parts;
use http::HeaderValue;

use super::tokens::{random_value, CsrfBinding, CsrfTokens, DEFAULT_KEY};
use crate::auth::Identity;
use crate::session::{Session, SessionId};
use crate::{Error, Result};

/// The name of the form field the auto verifier reads (cbcsrf's).
pub const FORM_FIELD: &str = "csrf";

/// The header the auto verifier reads (cbcsrf's).
pub const HEADER: &str = "x-csrf-token";

/// The anonymous binding cookie over HTTPS.
pub const SECURE_COOKIE: &str = "__Host-portcullis-csrf";

/// The anonymous binding cookie over plain HTTP.
pub const PLAIN_COOKIE: &str = "portcullis-csrf";

/// The request's CSRF helpers (see the module docs). As an extractor it fails with 500 when
/// no [`CsrfLayer`](super::CsrfLayer) is applied to the route.
#[derive(Clone, Debug)]
pub struct Csrf {
    tokens: CsrfTokens,
    state: Arc<Mutex<State>>,
    secure: bool,
    /// The session the tokens are bound to: kept once a token is made for it.
    session: Option<Session>,
}

#[derive(Debug, Default)]
struct State {
    binding: Option<CsrfBinding>,
    /// A new anonymous cookie value to send with the response.
    new_cookie: Option<String>,
}

crate::extension::extension_extractor!(
    Csrf,
    missing: Error::config(
        "csrf",
        "a handler asked for CSRF tokens, but no portcullis::csrf::CsrfLayer is applied to the route",
    )
);

/// The value of cookie `name` in the request, if it looks like one we issued.
fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| {
            value.len() == 43
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl Csrf {
    /// The helpers for a request: bound to its session, user or anonymous cookie.
    pub(crate) fn for_request(tokens: CsrfTokens, parts: &Parts, secure: bool) -> Self {
        let binding = if let Some(session) = parts.extensions.get::<SessionId>() {
            Some(CsrfBinding::session(session))
        } else if let Some(identity) = parts.extensions.get::<Identity>() {
            Some(CsrfBinding::user(identity.id()))
        } else {
            let name = if secure { SECURE_COOKIE } else { PLAIN_COOKIE };
            cookie(parts, name).map(CsrfBinding::anonymous)
        };
        Csrf {
            tokens,
            state: Arc::new(Mutex::new(State {
                binding,
                new_cookie: None,
            })),
            secure,
            session: parts.extensions.get::<Session>().cloned(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What this request's tokens are bound to; `None` for a guest who has none yet.
    pub fn binding(&self) -> Option<CsrfBinding> {
        self.state().binding.clone()
    }

    /// The binding, made for a guest (with a new anonymous cookie) when there is none.
    fn binding_or_new(&self) -> Result<CsrfBinding> {
        if let Some(session) = &self.session {
            // A guest's new session is stored only when asked: tokens bound to it need it.
            session.keep();
        }
        let mut state = self.state();
        if let Some(binding) = &state.binding {
            return Ok(binding.clone());
        }
        let value = random_value()?;
        let binding = CsrfBinding::anonymous(&value);
        state.binding = Some(binding.clone());
        state.new_cookie = Some(value);
        Ok(binding)
    }

    /// The token of `key` (cbcsrf's `csrfToken(key)`): the live one, or a new one.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid key; [`Error::Unavailable`] if the random generator
    /// fails.
    pub async fn token(&self, key: &str) -> Result<String> {
        self.tokens
            .generate(&self.binding_or_new()?, key, false)
            .await
    }

    /// A new token of `key`, replacing the live one (cbcsrf's `csrfToken(key, true)`).
    ///
    /// # Errors
    /// As [`Csrf::token`].
    pub async fn new_token(&self, key: &str) -> Result<String> {
        self.tokens
            .generate(&self.binding_or_new()?, key, true)
            .await
    }

    /// Whether `token` is the live token of `key` (cbcsrf's `csrfVerify`). Use it for named
    /// keys; the auto verifier checks [`DEFAULT_KEY`].
    pub async fn verify(&self, key: &str, token: &str) -> bool {
        match self.binding() {
            Some(binding) => self.tokens.verify(&binding, key, token).await,
            None => false,
        }
    }

    /// `<input type="hidden" name="csrf" id="csrf" value="…">` with the default token, for
    /// forms the auto verifier checks (cbcsrf's `csrf()`).
    ///
    /// # Errors
    /// As [`Csrf::token`].
    pub async fn hidden_field(&self) -> Result<String> {
        let token = self.token(DEFAULT_KEY).await?;
        // Tokens are base64url: nothing to escape.
        Ok(format!(
            "<input type=\"hidden\" name=\"{FORM_FIELD}\" id=\"{FORM_FIELD}\" value=\"{token}\">"
        ))
    }

    /// Discards every token of this request's binding (cbcsrf's `csrfRotate`).
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the token store cannot be reached.
    pub async fn rotate(&self) -> Result<()> {
        match self.binding() {
            Some(binding) => self.tokens.rotate(&binding).await,
            None => Ok(()),
        }
    }

    /// Call from login and logout handlers (every [`AuthService`](crate::auth::AuthService)
    /// of portcullis calls it in `login` and `logout`): discards the tokens of the request's
    /// binding unless `enable_auth_token_rotator` is off. With a session, tokens made later in
    /// the request bind to the session's id as it is now (login rotates it, logout replaces
    /// the session).
    pub async fn on_authentication_change(&self) {
        if let Some(binding) = self.binding() {
            if let Err(error) = self.tokens.on_authentication_change(&binding).await {
                // The session id changes at login and logout, so tokens bound to the session
                // are out of reach anyway; tokens bound to a user or cookie may live on.
                tracing::warn!(%error, "csrf: tokens not rotated at an authentication change");
            }
        }
        if let Some(session) = &self.session {
            self.state().binding = Some(CsrfBinding::session(&session.id()));
        }
    }

    /// The `Set-Cookie` value for a binding cookie made during the request, if any.
    pub(crate) fn set_cookie(&self) -> Option<HeaderValue> {
        let value = self.state().new_cookie.take()?;
        let cookie = if self.secure {
            format!("{SECURE_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Secure")
        } else {
            format!("{PLAIN_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax")
        };
        HeaderValue::from_str(&cookie).ok()
    }
}
