//! Route guards: cbsecurity's `secured` annotations, as layers and as a handler attribute.
//!
//! * [`secured`]`("…")` — a layer for a route (`MethodRouter::layer`, `Router::route_layer`);
//!   [`secured`]`("…").group()` — for a whole router (a group of routes). Guards cascade: the
//!   router's guard runs first and, if it refuses, the route's is not asked.
//! * `#[secured("…")]` (crate `portcullis-macros`, re-exported as
//!   `portcullis::secured` with the `macros` feature) — the same on a handler, through the
//!   [`Guarded`] extractor.
//!
//! The value: `false`/`no`/`0` open; `""`/`secured`/`true` a logged-in user; otherwise a
//! comma list of permissions, any of which passes ([`Secured`]). With
//! `firewall.handler_annotation_security = false` every guard is open.
//!
//! Guards ask the firewall's validator and, when they refuse, follow the same flow as rules:
//! events, interceptors, redirect / override / block. They need the
//! [`FirewallLayer`](crate::firewall::FirewallLayer) outside them; without it a guarded route
//! answers 500 — it never opens.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use portcullis::firewall::{Firewall, FirewallLayer};
//! use portcullis::guard::secured;
//!
//! fn app(firewall: Firewall) -> Router {
//!     let admin = Router::new()
//!         .route("/users", get(|| async { "users" }))
//!         .route("/audit", get(|| async { "audit" }).layer(secured("audit:read")))
//!         .layer(secured("admin").group());
//!     Router::new()
//!         .nest("/admin", admin)
//!         .route("/me", get(|| async { "me" }).layer(secured("true")))
//!         .layer(FirewallLayer::new(firewall))
//! }
//! ```

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{Request, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use crate::firewall::engine::Outcome;
use crate::firewall::layer::{OverrideTo, PendingHeaders};
use crate::firewall::{Firewall, GuardLevel, Secured, SecuredUrl, VerdictOf};
use crate::response::error_response;
use crate::Error;

/// A guard layer for a route; see the module docs.
pub fn secured(value: &str) -> SecuredLayer {
    SecuredLayer {
        guard: Arc::new(Secured::parse(value)),
        level: GuardLevel::Route,
    }
}

/// A layer enforcing one guard.
#[derive(Debug, Clone)]
pub struct SecuredLayer {
    guard: Arc<Secured>,
    level: GuardLevel,
}

impl SecuredLayer {
    /// Marks the guard as a router's (a group of routes; cbsecurity's handler annotation).
    pub fn group(mut self) -> Self {
        self.level = GuardLevel::Router;
        self
    }
}

impl<S> Layer<S> for SecuredLayer {
    type Service = SecuredService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecuredService {
            inner,
            guard: self.guard.clone(),
            level: self.level,
        }
    }
}

/// The service made by [`SecuredLayer`].
#[derive(Debug, Clone)]
pub struct SecuredService<S> {
    inner: S,
    guard: Arc<Secured>,
    level: GuardLevel,
}

/// The future of [`SecuredService`].
pub type ResponseFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

impl<S, B> Service<Request<B>> for SecuredService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let guard = self.guard.clone();
        let level = self.level;
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            match enforce(&guard, level, &mut parts).await {
                Ok(()) => inner.call(Request::from_parts(parts, body)).await,
                Err(response) => Ok(response),
            }
        })
    }
}

/// Asks the firewall about `guard`; `Err` holds the refusal to send.
async fn enforce(guard: &Secured, level: GuardLevel, parts: &mut Parts) -> Result<(), Response> {
    let Some(firewall) = parts.extensions.get::<Firewall>().cloned() else {
        return Err(error_response(&Error::config(
            "firewall",
            "a secured route is not behind the FirewallLayer; refusing rather than opening it",
        )));
    };
    match firewall.check_guard(guard, level, parts).await {
        Outcome::Pass(headers) => {
            if let Some(pending) = parts.extensions.get::<PendingHeaders>() {
                pending.add(headers);
            }
            Ok(())
        }
        Outcome::Respond(response) => Err(response),
        Outcome::Override(target) => {
            let mut response = StatusCode::FORBIDDEN.into_response();
            response.extensions_mut().insert(OverrideTo {
                target,
                verdict: parts.extensions.get::<VerdictOf>().cloned(),
                secured: parts.extensions.get::<SecuredUrl>().cloned(),
            });
            Err(response)
        }
    }
}

/// The value of a handler's guard, as a type (made by `#[secured("…")]`).
pub trait GuardSpec: Send + Sync + 'static {
    /// The guard's value, e.g. `"admin"`.
    const VALUE: &'static str;
}

/// An extractor enforcing the guard `G` before the handler runs (what `#[secured("…")]`
/// adds as the handler's first argument).
pub struct Guarded<G>(PhantomData<G>);

impl<S: Send + Sync, G: GuardSpec> FromRequestParts<S> for Guarded<G> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        enforce(&Secured::parse(G::VALUE), GuardLevel::Route, parts).await?;
        Ok(Guarded(PhantomData))
    }
}
