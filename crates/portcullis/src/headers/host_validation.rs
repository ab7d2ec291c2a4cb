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

use http::request::Parts;

use super::allow_list::{AllowList, AllowListLayer};
use super::check::Checked;
use crate::events::FirewallBlock;
use crate::net::TrustedProxies;
use crate::settings::HostHeaderValidationSettings;

/// Refuses requests for hosts not allowed (see the module docs).
pub type HostValidationLayer = AllowListLayer<HostHeaderValidationSettings>;

/// The service made by [`HostValidationLayer`].
pub type HostValidation<S> = Checked<S, HostValidationLayer>;

impl HostValidationLayer {
    /// Allows `hosts` only (`host` or `host:port`, as clients send them).
    pub fn new<H: Into<String>>(hosts: impl IntoIterator<Item = H>) -> Self {
        AllowListLayer::from_settings(&HostHeaderValidationSettings {
            enabled: true,
            allowed_hosts: hosts.into_iter().map(Into::into).collect(),
        })
    }
}

impl AllowList for HostHeaderValidationSettings {
    const REFUSAL: (&'static str, &'static str) = ("invalid_host", "Invalid host");

    fn enabled(&self) -> bool {
        self.enabled
    }

    fn refuses(self: &Arc<Self>, proxies: &TrustedProxies, parts: &Parts) -> Option<FirewallBlock> {
        let host = proxies.client(parts).host;
        let allowed = host.as_deref().is_some_and(|host| {
            self.allowed_hosts
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(host))
        });
        (!allowed).then(|| FirewallBlock::HostHeader {
            config: self.clone(),
            incoming_host: host,
        })
    }
}
