//! [`CsrfLayer`]: the per-request [`Csrf`] helpers and cbcsrf's auto verifier, done right.
//!
//! 1. Every request gets a [`Csrf`] in its extensions, bound to its session, user or
//!    anonymous cookie (apply the layer inside the session layer and the firewall, so both
//!    are known).
//! 2. With the auto verifier on (`enable_auto_verifier`), requests other than `GET`, `HEAD`,
//!    `OPTIONS` and `TRACE` are verified unless exempt: a `verify_excludes` pattern
//!    (case-insensitive, unanchored) matches the path or the route template
//!    (`MatchedPath`: apply the layer with `Router::layer`), the route template was
//!    exempted with [`CsrfLayer::exempt`], or a [`CsrfExempt`] marker is in the request's
//!    extensions (put there by a layer outside this one).
//! 3. The token is the `x-csrf-token` header, else the `csrf` field of a URL-encoded form
//!    body: the body is read up to `max_form_size` (413 beyond) and handed on intact to the
//!    handler. Tokens in the query string are not read (URLs leak).
//! 4. No token → **403** `CSRF token missing` (kind `csrf_missing`); not the live `default`
//!    token of the binding (wrong, expired, another session's, rotated) → **403**
//!    `CSRF token invalid` (kind `csrf_invalid`). JSON clients get the JSON envelope, others
//!    text; cbcsrf threw exceptions that became 500s.
//! 5. After the handler, a new anonymous binding cookie is set if one was made.
//!
//! The verifier is off under no condition other than the settings (cbcsrf skipped it under
//! its test controller).
//!
//! ```
//! use axum::{routing::{get, post}, Router};
//! use portcullis::csrf::{Csrf, CsrfLayer};
//! use portcullis::settings::Settings;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let settings = Settings::from_toml_str("csrf.enable_auto_verifier = true")?;
//! let app = Router::new()
//!     .route("/token", get(|csrf: Csrf| async move { csrf.token("default").await }))
//!     .route("/save", post(|| async { "saved" }))
//!     .layer(CsrfLayer::from_settings(&settings).await?);
//!
//! let forged = http::Request::post("/save").body(axum::body::Body::empty()).unwrap();
//! assert_eq!(app.clone().oneshot(forged).await.unwrap().status(), 403);
//!
//! let response = app.clone()
//!     .oneshot(http::Request::get("/token").body(axum::body::Body::empty()).unwrap())
//!     .await.unwrap();
//! let cookie = response.headers()["set-cookie"].to_str().unwrap();
//! let cookie = cookie.split(';').next().unwrap().to_owned();
//! let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
//! let token = String::from_utf8(body.to_vec()).unwrap();
//!
//! let post = http::Request::post("/save")
//!     .header("cookie", cookie)
//!     .header("x-csrf-token", token)
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! assert_eq!(app.oneshot(post).await.unwrap().status(), 200);
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::MatchedPath;
use axum::response::Response;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, SET_COOKIE};
use http::request::Parts;
use http::{Method, Request, StatusCode};
use regex::{Regex, RegexBuilder};
use tower_layer::Layer;
use tower_service::Service;

use super::context::{Csrf, FORM_FIELD, HEADER};
use super::tokens::{CsrfTokens, DEFAULT_KEY};
use crate::firewall::action::wants_json;
use crate::net::TrustedProxies;
use crate::response::refuse;
use crate::settings::{CsrfSettings, Settings};
use crate::{Error, Result};

/// The longest token read from a request; longer values are refused unread.
const MAX_TOKEN_LENGTH: usize = 256;

/// A marker in a request's extensions: the auto verifier skips the request. Insert it from a
/// layer outside the [`CsrfLayer`] (e.g. for a webhook receiver that authenticates its
/// callers by signature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsrfExempt;

#[derive(Debug, Clone)]
struct Config {
    tokens: CsrfTokens,
    auto_verify: bool,
    excludes: Vec<Regex>,
    exempt_routes: Vec<String>,
    max_form_size: usize,
    proxies: TrustedProxies,
}

/// Puts [`Csrf`] into requests and verifies tokens (see the module docs).
#[derive(Debug, Clone)]
pub struct CsrfLayer {
    config: Arc<Config>,
}

impl CsrfLayer {
    /// A layer for `tokens`, with the auto verifier on, no exclusions and a 2 MiB form limit.
    pub fn new(tokens: CsrfTokens) -> Self {
        CsrfLayer {
            config: Arc::new(Config {
                tokens,
                auto_verify: true,
                excludes: Vec::new(),
                exempt_routes: Vec::new(),
                max_form_size: CsrfSettings::default().max_form_size,
                proxies: TrustedProxies::default(),
            }),
        }
    }

    /// The layer `settings.csrf` describes, with a new token service on the store
    /// `csrf.storage` selects ([`CsrfTokens::from_settings`]); forwarded schemes are
    /// believed from `settings.firewall.trusted_proxies`.
    ///
    /// # Errors
    /// [`Error::Config`] naming an unusable `csrf` key or token storage setting;
    /// [`Error::Unavailable`] when a shared store cannot be reached.
    pub async fn from_settings(settings: &Settings) -> Result<Self> {
        let csrf = &settings.csrf;
        csrf.validate()?;
        csrf.validate_backend(&settings.jwt.token_storage)?;
        let mut layer = CsrfLayer::new(CsrfTokens::from_settings(settings).await?)
            .auto_verify(csrf.enable_auto_verifier)
            .max_form_size(csrf.max_form_size)
            .trusted_proxies(TrustedProxies::new(
                settings.firewall.trusted_proxies.iter().copied(),
            ));
        for pattern in &csrf.verify_excludes {
            layer = layer.exclude(pattern)?;
        }
        Ok(layer)
    }

    fn config(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// The token store, for code outside requests (e.g. rotating at logout elsewhere).
    pub fn tokens(&self) -> &CsrfTokens {
        &self.config.tokens
    }

    /// Turns the auto verifier on or off (the [`Csrf`] helpers are there either way).
    #[must_use]
    pub fn auto_verify(mut self, on: bool) -> Self {
        self.config().auto_verify = on;
        self
    }

    /// Skips verification where `pattern` (case-insensitive, unanchored) matches the path or
    /// the route template (`verify_excludes`).
    ///
    /// # Errors
    /// [`Error::Config`] (`csrf.verify_excludes`) if `pattern` is not a regular expression.
    pub fn exclude(mut self, pattern: &str) -> Result<Self> {
        let regex = RegexBuilder::new(pattern)
            .case_insensitive(true)
            .build()
            .map_err(|e| {
                Error::config(
                    "csrf.verify_excludes",
                    format!("{pattern:?} is not a regular expression: {e}"),
                )
            })?;
        self.config().excludes.push(regex);
        Ok(self)
    }

    /// Skips verification on the route with this template, exactly as written in
    /// `Router::route` (e.g. `/webhooks/{id}`): the per-route opt-out.
    #[must_use]
    pub fn exempt(mut self, route: impl Into<String>) -> Self {
        self.config().exempt_routes.push(route.into());
        self
    }

    /// The largest URL-encoded body read for the `csrf` field (`max_form_size`).
    #[must_use]
    pub fn max_form_size(mut self, bytes: usize) -> Self {
        self.config().max_form_size = bytes;
        self
    }

    /// Believes `X-Forwarded-Proto` from these proxies, for the binding cookie's `Secure`.
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.config().proxies = proxies;
        self
    }
}

impl<S> Layer<S> for CsrfLayer {
    type Service = CsrfService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CsrfService {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service made by [`CsrfLayer`].
#[derive(Debug, Clone)]
pub struct CsrfService<S> {
    inner: S,
    config: Arc<Config>,
}

/// The future of [`CsrfService`].
pub type ResponseFuture<E> = Pin<Box<dyn Future<Output = std::result::Result<Response, E>> + Send>>;

impl Config {
    fn is_exempt(&self, parts: &Parts) -> bool {
        if matches!(
            parts.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        ) || parts.extensions.get::<CsrfExempt>().is_some()
        {
            return true;
        }
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        if route.is_some_and(|route| self.exempt_routes.iter().any(|r| r == route)) {
            return true;
        }
        self.excludes.iter().any(|regex| {
            regex.is_match(parts.uri.path()) || route.is_some_and(|route| regex.is_match(route))
        })
    }

    /// Checks the request's token; on success the body to hand on, else the refusal.
    async fn verify(
        &self,
        csrf: &Csrf,
        parts: &Parts,
        body: Body,
    ) -> std::result::Result<Body, Response> {
        let json = wants_json(parts);
        let refused = |kind, message| refuse(json, StatusCode::FORBIDDEN, kind, message);
        let (token, body) = match parts.headers.get(HEADER) {
            Some(value) => (value.to_str().ok().map(str::to_owned), body),
            None if is_form(parts) => {
                let bytes = self.read_form(parts, body).await.map_err(|status| {
                    refuse(
                        json,
                        status,
                        "csrf_body",
                        "Form body too large or unreadable",
                    )
                })?;
                let token = form_urlencoded::parse(&bytes)
                    .find(|(name, _)| name == FORM_FIELD)
                    .map(|(_, value)| value.into_owned());
                (token, Body::from(bytes))
            }
            None => (None, body),
        };
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(refused("csrf_missing", "CSRF token missing"));
        };
        if token.len() > MAX_TOKEN_LENGTH || !csrf.verify(DEFAULT_KEY, &token).await {
            return Err(refused("csrf_invalid", "CSRF token invalid"));
        }
        Ok(body)
    }

    async fn read_form(
        &self,
        parts: &Parts,
        body: Body,
    ) -> std::result::Result<axum::body::Bytes, StatusCode> {
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|length| length > self.max_form_size as u64) {
            return Err(StatusCode::PAYLOAD_TOO_LARGE);
        }
        axum::body::to_bytes(body, self.max_form_size)
            .await
            .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE)
    }
}

fn is_form(parts: &Parts) -> bool {
    parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

impl<S> Service<Request<Body>> for CsrfService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let config = self.config.clone();
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let (mut parts, mut body) = request.into_parts();
            let secure = config.proxies.client(&parts).secure;
            let csrf = Csrf::for_request(config.tokens.clone(), &parts, secure);
            parts.extensions.insert(csrf.clone());
            if config.auto_verify && !config.is_exempt(&parts) {
                body = match config.verify(&csrf, &parts, body).await {
                    Ok(body) => body,
                    Err(refusal) => return Ok(refusal),
                };
            }
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            if let Some(cookie) = csrf.set_cookie() {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
            Ok(response)
        })
    }
}
