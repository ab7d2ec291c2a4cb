//! The security gateway (feature `gateway`): one [`Settings`] tree turned into the whole
//! stack in front of an upstream service — what `portcullis serve` runs, and what an axum app
//! can mount itself.
//!
//! A request goes through, in order:
//!
//! 1. [`HeadersLayer`] from `security_headers`: security headers
//!    on every response (refusals included), HTTPS redirect, host and IP validation;
//! 2. [`RequestLimitsLayer`]: 431 for an oversized head, 413 for an oversized body;
//! 3. with `csrf.fetch_metadata.enabled`, the [Fetch Metadata](crate::csrf::FetchMetadataLayer)
//!    check: a cross-site state-changing request gets 403;
//! 4. with `authentication.provider = "session"`, the [session
//!    layer](crate::session::SessionLayer) (store on the `jwt.token_storage` backend);
//! 5. the gateway's own endpoints under `/portcullis/` (login — under the login throttle of
//!    `authentication.login_protection` —, register, logout, refresh, me, [`health`], the CSRF
//!    token endpoint, the Basic-auth logout
//!    [`BASIC_LOGOUT_PATH`](crate::auth::BASIC_LOGOUT_PATH) — see [`ENDPOINTS_PREFIX`]),
//!    answered here and never proxied; the provider decides whether a login issues tokens or
//!    opens a session;
//! 6. the [`Firewall`] built from `firewall` (rules from every source, modules, validators
//!    `jwt`, `auth` — the provider's: the session's user, else a bearer token — and `basic`
//!    over the same users and token storage), which refuses, redirects or lets the request on
//!    with the caller's [`Identity`](crate::auth::Identity);
//! 7. with `csrf.enable_auto_verifier`, the [CSRF layer](crate::csrf::CsrfLayer): a
//!    state-changing request without the caller's token gets 403 (requests identified by a
//!    bearer token in a header are exempt);
//! 8. [`IdentityHeadersLayer`]: client-sent identity headers removed, the caller's set — and
//!    the CSRF token header, for the upstream's forms;
//! 9. [`ReverseProxy`]: the request streamed to `gateway.upstream` — plain HTTP, or TLS for
//!    an `https` upstream ([`tls`]) — WebSocket upgrades included, the answer streamed back.
//!
//! The firewall and the users can be replaced while the gateway runs ([`Gateway::reload`], on
//! SIGHUP): the next request uses the new ones, requests in flight finish with the old ones,
//! no connection is dropped. Other sections need a restart.
//!
//! Rules in a gateway match URLs (`match = "url"`): there are no routes to match, so a rule
//! matching routes is refused at start-up instead of never applying.
//!
//! ```
//! use axum::body::Body;
//! use http::{Request, StatusCode};
//! use portcullis::gateway::Gateway;
//! use portcullis::settings::Settings;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = Settings::from_toml_str(r#"
//!     [gateway]
//!     upstream = "http://127.0.0.1:9"
//!     [jwt]
//!     secret_key = "a long random secret of at least 64 bytes, e.g. from `portcullis gen-secret`"
//!     [firewall]
//!     validator = "jwt"
//!     default_authentication_action = "block"
//!     default_authorization_action = "block"
//!     rules = [ { secureList = "^/api/", match = "url" } ]
//!     [basic_auth.users.ann]
//!     password = "plain:correct horse battery"
//! "#)?;
//! let gateway = Gateway::from_settings(settings).await?;
//! let app = gateway.service();   // or: gateway.serve(listener, shutdown).await
//!
//! // Nobody listens on port 9: the health check says the upstream is down.
//! let health = Request::get("/portcullis/health").body(Body::empty())?;
//! assert_eq!(app.clone().oneshot(health).await?.status(), StatusCode::SERVICE_UNAVAILABLE);
//! // No token: refused by the rule before the upstream is contacted.
//! let api = Request::get("/api/orders").body(Body::empty())?;
//! assert_eq!(app.clone().oneshot(api).await?.status(), StatusCode::UNAUTHORIZED);
//! // Nothing under /portcullis/ is proxied.
//! let unknown = Request::get("/portcullis/nothing").body(Body::empty())?;
//! assert_eq!(app.oneshot(unknown).await?.status(), StatusCode::NOT_FOUND);
//! # Ok(()) }
//! ```

mod auth;
mod browser;
mod endpoints;
pub mod health;
mod identity;
mod limits;
mod proxy;
pub mod tls;
mod users;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::response::Response;
use axum::Router;
use http::Request;
use tower::ServiceExt as _;
use tower_layer::Layer;
use tower_service::Service;

pub use self::endpoints::ENDPOINTS_PREFIX;
pub use self::health::{CheckStatus, HealthReport};
pub use self::identity::{IdentityHeaders, IdentityHeadersLayer};
pub use self::limits::{body_too_large, RequestLimits, RequestLimitsLayer};
pub use self::proxy::ReverseProxy;
pub use self::users::{GatewayUsers, SettingsUsers};

use self::auth::{GatewayAuth, Provider};
use self::browser::Browser;
use self::endpoints::Endpoints;
use self::health::Health;
use crate::auth::{basic_logout_endpoint, AuthUser, BasicUser, LoginThrottle};
use crate::events::EventBus;
use crate::firewall::sources::RuleAssembly;
use crate::firewall::{AuthValidator, BasicAuthValidator, Firewall, JwtValidator};
use crate::headers::HeadersLayer;
use crate::jwt::{JwtService, JwtSubject};
use crate::net::TrustedProxies;
use crate::settings::{MatchTarget, Settings, ValidatorKind};
use crate::storage::TokenStorage;
use crate::{Error, Result};

/// The realm of the Basic challenge the `basic` validator sends.
const BASIC_REALM: &str = "portcullis";

/// The assembled gateway. Cheap to clone; clones share everything.
pub struct Gateway<U> {
    inner: Arc<Inner<U>>,
}

impl<U> Clone for Gateway<U> {
    fn clone(&self) -> Self {
        Gateway {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<U> {
    jwt: JwtService<U>,
    auth: Arc<GatewayAuth<U>>,
    users: Arc<dyn GatewayUsers<User = U>>,
    events: EventBus,
    base_dir: Option<PathBuf>,
    /// The settings in force: `firewall` and `basic_auth` change on reload.
    settings: Mutex<Settings>,
    firewall: ArcSwap<Firewall>,
    router: ArcSwap<Router>,
    /// Everything but the firewall, which is rebuilt on reload.
    endpoints: Router,
    proxied: Router,
    browser: Browser,
    limits: RequestLimitsLayer,
    headers: HeadersLayer,
    health: Arc<Health>,
}

/// Builds a [`Gateway`].
pub struct GatewayBuilder<U> {
    settings: Settings,
    users: Arc<dyn GatewayUsers<User = U>>,
    events: EventBus,
    storage: Option<Arc<dyn TokenStorage>>,
    base_dir: Option<PathBuf>,
}

impl<U> GatewayBuilder<U>
where
    U: AuthUser + JwtSubject + Clone,
{
    /// Delivers the JWT service's and the firewall's events to `events`' listeners.
    pub fn events(mut self, events: EventBus) -> Self {
        self.events = events;
        self
    }

    /// Uses `storage` for tokens instead of the driver `jwt.token_storage` names.
    pub fn storage(mut self, storage: Arc<dyn TokenStorage>) -> Self {
        self.storage = Some(storage);
        self
    }

    /// Resolves relative rule file paths against `dir` (the settings file's directory).
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(dir.into());
        self
    }

    /// Connects token storage (and the session store), loads the rules and assembles the
    /// stack. Every mistake in the settings fails here, naming its key: a missing
    /// `gateway.upstream`, an unreadable `gateway.upstream_ca_file` (relative to the base
    /// directory), a rule matching routes, an unknown `authentication.provider`.
    pub async fn build(self) -> Result<Gateway<U>> {
        let settings = self.settings;
        let provider = Provider::from_settings(&settings)?;
        if provider == Provider::Session && settings.firewall.validator != ValidatorKind::Auth {
            tracing::warn!(
                "authentication.provider = \"session\": only the firewall's `auth` validator \
                 identifies session users; firewall.validator is not `auth`"
            );
        }
        let gateway = &settings.gateway;
        let proxies = TrustedProxies::new(settings.firewall.trusted_proxies.iter().copied());
        let proxy = match (&gateway.upstream_ca_file, &self.base_dir) {
            (Some(file), Some(dir)) if file.is_relative() => {
                let mut resolved = gateway.clone();
                resolved.upstream_ca_file = Some(dir.join(file));
                ReverseProxy::new(&resolved, &settings.jwt, proxies.clone())?
            }
            _ => ReverseProxy::new(gateway, &settings.jwt, proxies.clone())?,
        };
        let identity = IdentityHeadersLayer::new(&gateway.identity_headers)?;
        let mut jwt = JwtService::builder(settings.jwt.clone(), self.users.clone())
            .events(self.events.clone());
        if let Some(storage) = self.storage {
            jwt = jwt.storage(storage);
        }
        let jwt = jwt.build().await?;
        let throttle = LoginThrottle::from_settings(&settings)
            .await?
            .events(self.events.clone());
        let auth = Arc::new(GatewayAuth::new(
            provider,
            jwt.clone(),
            self.users.clone(),
            self.events.clone(),
        ));
        let browser = Browser::from_settings(&settings, provider).await?;
        let health = Arc::new(health::gateway_checks(
            gateway.connect_timeout,
            &jwt,
            &self.users,
            &throttle,
            &browser,
            &proxy,
        ));
        let endpoints = endpoints::router(
            Endpoints {
                jwt: jwt.clone(),
                auth: auth.clone(),
                users: self.users.clone(),
                throttle,
                proxies: proxies.clone(),
                health: health.clone(),
            },
            &browser,
        )
        .merge(basic_logout_endpoint(BASIC_REALM)?);
        let proxied = browser.proxied(Router::new().fallback_service(identity.layer(proxy)));
        let limits = RequestLimitsLayer::new(gateway.max_body_size, gateway.max_header_size);
        let headers = HeadersLayer::from_settings(&settings, self.events.clone())?;
        let parts = Parts {
            jwt: &jwt,
            auth: &auth,
            users: &self.users,
            events: &self.events,
            base_dir: self.base_dir.as_ref(),
        };
        let firewall = parts.firewall(&settings).await?;
        let router = assemble(&endpoints, &proxied, &browser, limits, &headers, &firewall);
        Ok(Gateway {
            inner: Arc::new(Inner {
                jwt,
                auth,
                users: self.users,
                events: self.events,
                base_dir: self.base_dir,
                settings: Mutex::new(settings),
                firewall: ArcSwap::from_pointee(firewall),
                router: ArcSwap::from_pointee(router),
                endpoints,
                proxied,
                browser,
                limits,
                headers,
                health,
            }),
        })
    }
}

/// What building a firewall needs.
struct Parts<'a, U> {
    jwt: &'a JwtService<U>,
    auth: &'a Arc<GatewayAuth<U>>,
    users: &'a Arc<dyn GatewayUsers<User = U>>,
    events: &'a EventBus,
    base_dir: Option<&'a PathBuf>,
}

impl<U> Parts<'_, U>
where
    U: AuthUser + JwtSubject + Clone,
{
    /// The firewall `settings.firewall` describes, with the gateway's validators.
    async fn firewall(&self, settings: &Settings) -> Result<Firewall> {
        let mut assembly = RuleAssembly::new(&settings.firewall);
        if let Some(dir) = self.base_dir {
            assembly = assembly.base_dir(dir.clone());
        }
        let builder = Firewall::builder(settings.firewall.clone())
            .validator("jwt", Arc::new(JwtValidator::new(self.jwt.clone())))
            // The provider's: the session's user, else a bearer token.
            .validator("auth", Arc::new(AuthValidator::new(self.auth.clone())))
            .validator(
                "basic",
                Arc::new(BasicAuthValidator::new(self.users.clone(), BASIC_REALM)?),
            )
            .events(self.events.clone());
        let builder = if settings.firewall.auto_load_firewall {
            builder.load_rules(assembly).await?
        } else {
            builder
        };
        let firewall = builder.build()?;
        let ruleset = firewall.ruleset();
        let module_rules = ruleset.modules().iter().flat_map(|m| m.rules.iter());
        for rule in ruleset.rules().iter().map(|r| &**r).chain(module_rules) {
            if rule.match_target() == MatchTarget::Route {
                return Err(Error::config(
                    rule.error_key("match"),
                    "the gateway has no routes to match: set match = \"url\"",
                ));
            }
        }
        Ok(firewall)
    }
}

/// The stack of the module docs, around the firewall in force.
fn assemble(
    endpoints: &Router,
    proxied: &Router,
    browser: &Browser,
    limits: RequestLimitsLayer,
    headers: &HeadersLayer,
    firewall: &Firewall,
) -> Router {
    let app = endpoints.clone().merge(firewall.protect(proxied.clone()));
    browser.outer(app).layer(limits).layer(headers.clone())
}

impl Gateway<BasicUser> {
    /// The gateway of `settings`, with the `basic_auth` users of the settings (re-read on
    /// reload) and token storage from `jwt.token_storage`.
    pub async fn from_settings(settings: Settings) -> Result<Self> {
        let users = Arc::new(SettingsUsers::from_settings(&settings)?);
        Gateway::builder(settings, users).build().await
    }
}

/// What [`Gateway::reload`] applied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reloaded {
    /// The global rules now in force.
    pub rules: usize,
    /// The modules now registered.
    pub modules: usize,
    /// Sections that changed but need a restart to take effect (`jwt`, `gateway`, …).
    pub needs_restart: Vec<&'static str>,
}

impl<U> Gateway<U>
where
    U: AuthUser + JwtSubject + Clone,
{
    /// Starts building a gateway from `settings`, with users from `users`.
    pub fn builder(
        settings: Settings,
        users: Arc<dyn GatewayUsers<User = U>>,
    ) -> GatewayBuilder<U> {
        GatewayBuilder {
            settings,
            users,
            events: EventBus::new(),
            storage: None,
            base_dir: None,
        }
    }

    /// The JWT service (shared with the endpoints and validators).
    pub fn jwt(&self) -> &JwtService<U> {
        &self.inner.jwt
    }

    /// What `/portcullis/health` answers now: token storage, the users, login protection
    /// and the upstream, checked at most once per [`health::CACHE_FOR`].
    pub async fn health(&self) -> Arc<HealthReport> {
        self.inner.health.report().await
    }

    /// The firewall in force.
    pub fn firewall(&self) -> Arc<Firewall> {
        self.inner.firewall.load_full()
    }

    /// The whole stack in force, as a router; [`Gateway::service`] follows reloads.
    pub fn router(&self) -> Router {
        Router::clone(&self.inner.router.load())
    }

    /// The gateway as a service that always uses the stack in force.
    pub fn service(&self) -> GatewayService {
        let inner: Arc<dyn Current> = self.inner.clone();
        GatewayService { current: inner }
    }

    /// Applies re-read settings: a new firewall (rules from every source, modules) and the
    /// users reload. On any error nothing changes. Changes to other sections are reported in
    /// [`Reloaded::needs_restart`].
    pub async fn reload(&self, settings: Settings) -> Result<Reloaded> {
        let inner = &self.inner;
        let parts = Parts {
            jwt: &inner.jwt,
            auth: &inner.auth,
            users: &inner.users,
            events: &inner.events,
            base_dir: inner.base_dir.as_ref(),
        };
        let firewall = parts.firewall(&settings).await?;
        inner.users.reload(&settings).await?;
        let router = assemble(
            &inner.endpoints,
            &inner.proxied,
            &inner.browser,
            inner.limits,
            &inner.headers,
            &firewall,
        );
        let reloaded = Reloaded {
            rules: firewall.ruleset().rules().len(),
            modules: firewall.ruleset().modules().len(),
            needs_restart: self.changed_sections(&settings),
        };
        inner.firewall.store(Arc::new(firewall));
        inner.router.store(Arc::new(router));
        if let Ok(mut current) = inner.settings.lock() {
            current.firewall = settings.firewall;
            current.basic_auth = settings.basic_auth;
        }
        Ok(reloaded)
    }

    fn changed_sections(&self, next: &Settings) -> Vec<&'static str> {
        let Ok(current) = self.inner.settings.lock() else {
            return Vec::new();
        };
        let sections = [
            ("jwt", current.jwt != next.jwt),
            ("gateway", current.gateway != next.gateway),
            (
                "authentication",
                current.authentication != next.authentication,
            ),
            ("users", current.users != next.users),
            ("session", current.session != next.session),
            ("csrf", current.csrf != next.csrf),
            (
                "security_headers",
                current.security_headers != next.security_headers,
            ),
            ("visualizer", current.visualizer != next.visualizer),
        ];
        sections
            .into_iter()
            .filter_map(|(name, changed)| changed.then_some(name))
            .collect()
    }

    /// Serves the gateway on `listener` until `shutdown` completes, then lets requests in
    /// flight finish (graceful shutdown). The client's address reaches the firewall.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = Router::new().fallback_service(self.service());
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

/// Reads the stack in force.
trait Current: Send + Sync + 'static {
    fn current(&self) -> Router;
}

impl<U: Send + Sync + 'static> Current for Inner<U> {
    fn current(&self) -> Router {
        Router::clone(&self.router.load())
    }
}

/// The service made by [`Gateway::service`]: each request is answered by the stack in force
/// when it arrives.
#[derive(Clone)]
pub struct GatewayService {
    current: Arc<dyn Current>,
}

impl std::fmt::Debug for GatewayService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayService").finish_non_exhaustive()
    }
}

/// The future of [`GatewayService`].
pub type ResponseFuture = tower::util::Oneshot<Router, Request<Body>>;

impl Service<Request<Body>> for GatewayService {
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        self.current.current().oneshot(request)
    }
}
