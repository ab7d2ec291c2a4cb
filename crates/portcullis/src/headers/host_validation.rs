//! [`HostValidationLayer`]: requests for hosts not in `allowed_hosts` are refused
//! (`security_headers.host_header_validation`, spec §5.1 step 2).
//!
//! 1. The host is the `Host` header (or the HTTP/2 authority), port included as sent; with
//!    `trust_upstream`, `X-Forwarded-Host` **from a trusted proxy** ([`TrustedProxies`])
//!    replaces it (cbsecurity believed it from any client, who could then pick the host
//!    being checked).
//! 2. It is compared case-insensitively and exactly with each allowed host.
//! 3. Not allowed, or missing: [`SecurityEvent::FirewallBlock`] with
//!    [`FirewallBlock::HostHeader`], then **403** `Invalid host` (text, or the JSON envelope
//!    for JSON clients), with a [`Rejection`](crate::response::Rejection) of kind
//!    `invalid_host`. The inner service is not called.
//!
//! ```
//! use axum::{routing::get, Router};
//! use portcullis::headers::HostValidationLayer;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(HostValidationLayer::new(["app.example.com"]));
//! let request = |host| http::Request::get("/").header("host", host)
//!     .body(axum::body::Body::empty()).unwrap();
//! assert_eq!(app.clone().oneshot(request("APP.example.com")).await.unwrap().status(), 200);
//! assert_eq!(app.oneshot(request("evil.example")).await.unwrap().status(), 403);
//! # }
//! ```

use std::sync::Arc;

use axum::response::Response;
use http::request::Parts;
use http::StatusCode;
use tower_layer::Layer;

use super::check::{Checked, RequestCheck};
use crate::events::{EventBus, FirewallBlock, SecurityEvent};
use crate::firewall::action::wants_json;
use crate::net::TrustedProxies;
use crate::response::refuse;
use crate::settings::HostHeaderValidationSettings;

/// Refuses requests for hosts not allowed (see the module docs).
#[derive(Debug, Clone)]
pub struct HostValidationLayer {
    config: Option<Arc<HostHeaderValidationSettings>>,
    proxies: TrustedProxies,
    events: EventBus,
}

/// The service made by [`HostValidationLayer`].
pub type HostValidation<S> = Checked<S, HostValidationLayer>;

impl HostValidationLayer {
    /// Allows `hosts` only (`host` or `host:port`, as clients send them).
    pub fn new<H: Into<String>>(hosts: impl IntoIterator<Item = H>) -> Self {
        let config = HostHeaderValidationSettings {
            enabled: true,
            allowed_hosts: hosts.into_iter().map(Into::into).collect(),
        };
        HostValidationLayer::from_settings(&config)
    }

    /// As `settings` say: a layer that lets everything through when they are disabled.
    pub fn from_settings(settings: &HostHeaderValidationSettings) -> Self {
        HostValidationLayer {
            config: settings.enabled.then(|| Arc::new(settings.clone())),
            proxies: TrustedProxies::default(),
            events: EventBus::default(),
        }
    }

    /// Believes `X-Forwarded-Host` from these proxies (cbsecurity's `trust_upstream`).
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// Announces refusals as [`SecurityEvent::FirewallBlock`] on `events`.
    #[must_use]
    pub fn events(mut self, events: EventBus) -> Self {
        self.events = events;
        self
    }
}

impl<S> Layer<S> for HostValidationLayer {
    type Service = HostValidation<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Checked::new(inner, self.clone())
    }
}

impl RequestCheck for HostValidationLayer {
    fn check(&self, parts: &Parts) -> Option<Response> {
        let config = self.config.as_ref()?;
        let host = self.proxies.client(parts).host;
        let allowed = host.as_deref().is_some_and(|host| {
            config
                .allowed_hosts
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(host))
        });
        if allowed {
            return None;
        }
        tracing::warn!(
            host = host.as_deref().unwrap_or("none"),
            "invalid host refused"
        );
        if !self.events.is_empty() {
            self.events
                .emit(SecurityEvent::FirewallBlock(FirewallBlock::HostHeader {
                    config: config.clone(),
                    incoming_host: host,
                }));
        }
        Some(refuse(
            wants_json(parts),
            StatusCode::FORBIDDEN,
            "invalid_host",
            "Invalid host",
        ))
    }
}
