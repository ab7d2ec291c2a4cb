//! [`IpValidationLayer`]: requests from client addresses outside `allowed_ips` are refused
//! (`security_headers.ip_validation`, spec §5.1 step 3).
//!
//! 1. The client's address is the TCP peer (serve with
//!    `into_make_service_with_connect_info::<SocketAddr>()`); with `trust_upstream`, the
//!    first untrusted address of `X-Forwarded-For`, read right to left through trusted
//!    proxies ([`TrustedProxies::client_ip`]). cbsecurity took the header's first element,
//!    which the client writes.
//! 2. It must lie in one of the allowed networks (CIDR; cbsecurity compared exact strings).
//! 3. Not allowed, or unknown (no peer recorded — fail closed):
//!    [`SecurityEvent::FirewallBlock`] with [`FirewallBlock::IpValidation`], then **403**
//!    `Invalid IP` (text, or the JSON envelope for JSON clients), with a
//!    [`Rejection`](crate::response::Rejection) of kind `invalid_ip`.
//!
//! ```
//! use std::net::SocketAddr;
//! use axum::{extract::ConnectInfo, routing::get, Router};
//! use portcullis::headers::IpValidationLayer;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(IpValidationLayer::new(["10.0.0.0/8".parse().unwrap()]));
//! let from = |peer: &str| {
//!     let mut request = http::Request::new(axum::body::Body::empty());
//!     request.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
//!     request
//! };
//! assert_eq!(app.clone().oneshot(from("10.1.2.3:5000")).await.unwrap().status(), 200);
//! assert_eq!(app.oneshot(from("192.0.2.1:5000")).await.unwrap().status(), 403);
//! # }
//! ```

use std::sync::Arc;

use axum::response::Response;
use http::request::Parts;
use http::StatusCode;
use ipnet::IpNet;
use tower_layer::Layer;

use super::check::{Checked, RequestCheck};
use crate::events::{EventBus, FirewallBlock, SecurityEvent};
use crate::firewall::action::wants_json;
use crate::net::TrustedProxies;
use crate::response::refuse;
use crate::settings::IpValidationSettings;

/// Refuses requests from addresses not allowed (see the module docs).
#[derive(Debug, Clone)]
pub struct IpValidationLayer {
    config: Option<Arc<IpValidationSettings>>,
    proxies: TrustedProxies,
    events: EventBus,
}

/// The service made by [`IpValidationLayer`].
pub type IpValidation<S> = Checked<S, IpValidationLayer>;

impl IpValidationLayer {
    /// Allows clients in `networks` only.
    pub fn new(networks: impl IntoIterator<Item = IpNet>) -> Self {
        let config = IpValidationSettings {
            enabled: true,
            allowed_ips: networks.into_iter().collect(),
        };
        IpValidationLayer::from_settings(&config)
    }

    /// As `settings` say: a layer that lets everything through when they are disabled.
    pub fn from_settings(settings: &IpValidationSettings) -> Self {
        IpValidationLayer {
            config: settings.enabled.then(|| Arc::new(settings.clone())),
            proxies: TrustedProxies::default(),
            events: EventBus::default(),
        }
    }

    /// Believes `X-Forwarded-For` from these proxies (cbsecurity's `trust_upstream`).
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

impl<S> Layer<S> for IpValidationLayer {
    type Service = IpValidation<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Checked::new(inner, self.clone())
    }
}

impl RequestCheck for IpValidationLayer {
    fn check(&self, parts: &Parts) -> Option<Response> {
        let config = self.config.as_ref()?;
        let ip = self.proxies.client_ip(parts);
        let allowed = ip.is_some_and(|ip| config.allowed_ips.iter().any(|net| net.contains(&ip)));
        if allowed {
            return None;
        }
        tracing::warn!(ip = ?ip, "client address refused");
        if !self.events.is_empty() {
            self.events
                .emit(SecurityEvent::FirewallBlock(FirewallBlock::IpValidation {
                    config: config.clone(),
                    incoming_ip: ip,
                }));
        }
        Some(refuse(
            wants_json(parts),
            StatusCode::FORBIDDEN,
            "invalid_ip",
            "Invalid IP",
        ))
    }
}
