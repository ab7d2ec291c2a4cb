//! `GET /portcullis/health` (and `HEAD`): whether the gateway can serve, checked now.
//!
//! Each check is one cheap round trip to what the gateway needs, all run at once, each
//! within `gateway.connect_timeout`:
//!
//! | check | when | what |
//! |---|---|---|
//! | `token_storage` | `jwt.token_storage.enabled` | [`TokenStorage::ping`](crate::storage::TokenStorage::ping): the token check statement for a token that does not exist (SQLite, PostgreSQL: reads the three tables), `PING` (Redis); memory is always up |
//! | `users` | always | [`GatewayUsers::ping`]: the SQL user store reads its schema version; the `basic_auth` users are always up |
//! | `login_protection` | `authentication.login_protection.enabled` | [`AttemptStore::ping`](crate::auth::AttemptStore::ping) on the throttle's own connection |
//! | `sessions` | `authentication.provider = "session"` | [`SessionStore::ping`](crate::session::SessionStore::ping) on the session store's own connection |
//! | `csrf` | the CSRF layer is on (`csrf.enable_auto_verifier` or `csrf.enable_endpoint`) and `csrf.storage = "shared"` | [`CsrfStore::ping`](crate::csrf::CsrfStore::ping) on the token store's own connection |
//! | `upstream` | always | a TCP connection to `gateway.upstream` (and the TLS handshake for `https`), then closed |
//!
//! The answer is 200 `{"status": "up", "checks": {"upstream": {"status": "up"}, …}}` when
//! every check passes, else 503 with the same shape, `"status": "down"`, and each failed
//! check as `{"status": "down", "reason": "…"}` — a short reason from a fixed vocabulary
//! (`unreachable`, `timed out`, `tls handshake failed`, `failed`); the details (scrubbed of
//! credentials) go to the log, never to the client.
//!
//! A report is reused for [`CACHE_FOR`] (one second), and one check runs at a time: however
//! often the endpoint is called, the backends see at most one round of checks per second.
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
//! // Nobody listens on port 9 of the loopback: the upstream is down.
//! let settings = Settings::from_toml_str(r#"
//!     [gateway]
//!     upstream = "http://127.0.0.1:9"
//!     [jwt]
//!     secret_key = "a long random secret of at least 64 bytes, e.g. from `portcullis gen-secret`"
//! "#)?;
//! let gateway = Gateway::from_settings(settings).await?;
//! let report = gateway.health().await;
//! assert!(!report.is_up());
//! assert_eq!(report.check("upstream").unwrap().reason(), Some("unreachable"));
//! assert!(report.check("token_storage").unwrap().is_up()); // memory
//!
//! let request = Request::get("/portcullis/health").body(Body::empty())?;
//! let response = gateway.service().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::browser::Browser;
use super::{GatewayUsers, ReverseProxy};
use crate::auth::{AuthUser, LoginThrottle};
use crate::jwt::{JwtService, JwtSubject};
use crate::Error;

/// How long a health report is reused before the checks run again.
pub const CACHE_FOR: Duration = Duration::from_secs(1);

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
#[non_exhaustive]
pub enum CheckStatus {
    /// The check passed.
    Up,
    /// The check failed, for a short reason (`unreachable`, `timed out`, …).
    Down {
        /// Why, in a few words that reveal nothing about the backend.
        reason: &'static str,
    },
}

impl CheckStatus {
    /// Whether the check passed.
    pub fn is_up(&self) -> bool {
        matches!(self, CheckStatus::Up)
    }

    /// Why the check failed; `None` when it passed.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            CheckStatus::Up => None,
            CheckStatus::Down { reason } => Some(reason),
        }
    }
}

/// What `/portcullis/health` answers: every check by name, and whether all passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    status: &'static str,
    checks: BTreeMap<&'static str, CheckStatus>,
}

impl HealthReport {
    fn new(checks: BTreeMap<&'static str, CheckStatus>) -> Self {
        let up = checks.values().all(CheckStatus::is_up);
        HealthReport {
            status: if up { "up" } else { "down" },
            checks,
        }
    }

    /// Whether every check passed.
    pub fn is_up(&self) -> bool {
        self.status == "up"
    }

    /// The outcome of the check `name` (`token_storage`, `users`, `login_protection`,
    /// `sessions`, `csrf`, `upstream`), if it ran.
    pub fn check(&self, name: &str) -> Option<CheckStatus> {
        self.checks.get(name).copied()
    }

    /// Every check that ran, by name.
    pub fn checks(&self) -> impl Iterator<Item = (&'static str, CheckStatus)> + '_ {
        self.checks.iter().map(|(name, status)| (*name, *status))
    }
}

/// A check's future: `Err` carries the short reason.
type Outcome = Pin<Box<dyn Future<Output = Result<(), &'static str>> + Send>>;
/// Starts one check.
type Probe = Box<dyn Fn() -> Outcome + Send + Sync>;

/// The checks of one gateway, and the last report.
pub(crate) struct Health {
    checks: Vec<(&'static str, Probe)>,
    timeout: Duration,
    last: tokio::sync::Mutex<Option<(Instant, Arc<HealthReport>)>>,
}

impl Health {
    /// No checks yet; each will be given `timeout`.
    pub(crate) fn new(timeout: Duration) -> Self {
        Health {
            checks: Vec::new(),
            timeout,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Adds the check `name`, which runs the future `probe` makes.
    pub(crate) fn check<F>(
        mut self,
        name: &'static str,
        probe: impl Fn() -> F + Send + Sync + 'static,
    ) -> Self
    where
        F: Future<Output = Result<(), &'static str>> + Send + 'static,
    {
        self.checks
            .push((name, Box::new(move || Box::pin(probe()) as Outcome)));
        self
    }

    /// The report of the last second, or a new one. Callers arriving while the checks run
    /// wait for that round rather than starting another.
    pub(crate) async fn report(&self) -> Arc<HealthReport> {
        let mut last = self.last.lock().await;
        if let Some((at, report)) = last.as_ref() {
            if at.elapsed() < CACHE_FOR {
                return report.clone();
            }
        }
        let report = Arc::new(self.run().await);
        *last = Some((Instant::now(), report.clone()));
        report
    }

    /// Runs every check at once.
    async fn run(&self) -> HealthReport {
        let running: Vec<_> = self
            .checks
            .iter()
            .map(|(name, probe)| {
                let outcome = tokio::time::timeout(self.timeout, probe());
                (*name, tokio::spawn(outcome))
            })
            .collect();
        let mut checks = BTreeMap::new();
        for (name, handle) in running {
            let status = match handle.await {
                Ok(Ok(Ok(()))) => CheckStatus::Up,
                Ok(Ok(Err(reason))) => CheckStatus::Down { reason },
                Ok(Err(_)) => {
                    tracing::warn!(check = name, "health: the check timed out");
                    CheckStatus::Down {
                        reason: "timed out",
                    }
                }
                Err(_) => CheckStatus::Down { reason: "failed" },
            };
            checks.insert(name, status);
        }
        HealthReport::new(checks)
    }
}

/// The short reason for a backend's error (logged in full, credentials already scrubbed).
pub(crate) fn reason(check: &'static str, error: &Error) -> &'static str {
    tracing::warn!(check, %error, "health: check failed");
    match error {
        Error::Unavailable { .. } => "unreachable",
        _ => "failed",
    }
}

/// The checks of the module docs, over the gateway's own parts.
pub(crate) fn gateway_checks<U: AuthUser + JwtSubject + Clone>(
    timeout: Duration,
    jwt: &JwtService<U>,
    users: &Arc<dyn GatewayUsers<User = U>>,
    throttle: &LoginThrottle,
    browser: &Browser,
    proxy: &ReverseProxy,
) -> Health {
    let mut health = Health::new(timeout);
    if let Some(storage) = jwt.storage() {
        let storage = storage.clone();
        health = health.check("token_storage", move || {
            let storage = storage.clone();
            async move {
                storage
                    .ping()
                    .await
                    .map_err(|e| reason("token_storage", &e))
            }
        });
    }
    let users = users.clone();
    health = health.check("users", move || {
        let users = users.clone();
        async move { users.ping().await.map_err(|e| reason("users", &e)) }
    });
    if let Some(store) = throttle.store() {
        let store = store.clone();
        health = health.check("login_protection", move || {
            let store = store.clone();
            async move {
                store
                    .ping()
                    .await
                    .map_err(|e| reason("login_protection", &e))
            }
        });
    }
    if let Some(store) = browser.session_store() {
        let store = store.clone();
        health = health.check("sessions", move || {
            let store = store.clone();
            async move { store.ping().await.map_err(|e| reason("sessions", &e)) }
        });
    }
    if let Some(store) = browser.csrf_store() {
        let store = store.clone();
        health = health.check("csrf", move || {
            let store = store.clone();
            async move { store.ping().await.map_err(|e| reason("csrf", &e)) }
        });
    }
    let proxy = proxy.clone();
    health.check("upstream", move || {
        let proxy = proxy.clone();
        async move { proxy.probe().await }
    })
}
