//! [`FetchMetadataLayer`]: token-less CSRF protection from the browser's own report of where
//! a request comes from (`csrf.fetch_metadata`; a portcullis addition).
//!
//! For requests other than `GET`, `HEAD`, `OPTIONS` and `TRACE` — and for WebSocket
//! handshakes (`GET` with `Upgrade: websocket`), which carry the browser's cookies into a
//! connection that can change state (cross-site WebSocket hijacking):
//!
//! 1. `Sec-Fetch-Site: same-origin` or `none` (typed by the user) → allowed;
//!    `same-site`, `cross-site` or anything else → allowed only if `Origin` is one of
//!    `allowed_origins`, else refused.
//! 2. Without `Sec-Fetch-Site` (older browsers), `Origin` decides: the request's own origin
//!    (its scheme and host, forwarded ones believed from trusted proxies only) or an allowed
//!    one → allowed; another, or `null` → refused.
//! 3. Neither header → allowed: the request does not come from a browser that could be
//!    tricked (a browser sends at least one of them on every cross-site `POST`).
//! 4. Refused → **403** `Cross-site request refused` (kind `cross_site`), JSON for JSON
//!    clients.
//!
//! ```
//! use axum::{routing::post, Router};
//! use portcullis::csrf::FetchMetadataLayer;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = Router::new()
//!     .route("/api/orders", post(|| async { "created" }))
//!     .layer(FetchMetadataLayer::new().allow_origin("https://partner.example"));
//! let post = |site: &str, origin: &str| http::Request::post("/api/orders")
//!     .header("host", "shop.example")
//!     .header("sec-fetch-site", site)
//!     .header("origin", origin)
//!     .body(axum::body::Body::empty()).unwrap();
//! assert_eq!(app.clone().oneshot(post("same-origin", "http://shop.example")).await.unwrap().status(), 200);
//! assert_eq!(app.clone().oneshot(post("cross-site", "https://evil.example")).await.unwrap().status(), 403);
//! assert_eq!(app.oneshot(post("cross-site", "https://partner.example")).await.unwrap().status(), 200);
//! # }
//! ```

use std::sync::Arc;

use axum::response::Response;
use http::header::{ORIGIN, UPGRADE};
use http::request::Parts;
use http::{Method, StatusCode};
use tower_layer::Layer;

use crate::firewall::action::wants_json;
use crate::headers::{Checked, RequestCheck};
use crate::net::TrustedProxies;
use crate::response::refuse;
use crate::settings::Settings;

/// Refuses state-changing cross-site requests (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct FetchMetadataLayer {
    enabled: bool,
    allowed: Arc<Vec<String>>,
    proxies: TrustedProxies,
}

/// The service made by [`FetchMetadataLayer`].
pub type FetchMetadata<S> = Checked<S, FetchMetadataLayer>;

/// `origin` lower-cased, without the default port of its scheme.
fn normalise(origin: &str) -> String {
    let origin = origin.trim().to_ascii_lowercase();
    for (scheme, port) in [("http://", ":80"), ("https://", ":443")] {
        if origin.starts_with(scheme) {
            if let Some(bare) = origin.strip_suffix(port) {
                return bare.to_owned();
            }
        }
    }
    origin
}

impl FetchMetadataLayer {
    /// Same-origin requests only.
    pub fn new() -> Self {
        FetchMetadataLayer {
            enabled: true,
            ..FetchMetadataLayer::default()
        }
    }

    /// The layer `settings.csrf.fetch_metadata` describes (it lets everything through when
    /// disabled), believing forwarded hosts and schemes from `firewall.trusted_proxies`.
    pub fn from_settings(settings: &Settings) -> Self {
        let section = &settings.csrf.fetch_metadata;
        let mut layer = FetchMetadataLayer::new().trusted_proxies(TrustedProxies::new(
            settings.firewall.trusted_proxies.iter().copied(),
        ));
        layer.enabled = section.enabled;
        for origin in &section.allowed_origins {
            layer = layer.allow_origin(origin);
        }
        layer
    }

    /// Also allows requests from `origin` (`scheme://host[:port]`).
    #[must_use]
    pub fn allow_origin(mut self, origin: &str) -> Self {
        Arc::make_mut(&mut self.allowed).push(normalise(origin));
        self
    }

    /// Believes `X-Forwarded-Host` / `X-Forwarded-Proto` from these proxies when working
    /// out the request's own origin.
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    fn allows(&self, parts: &Parts) -> bool {
        let origin = parts
            .headers
            .get(ORIGIN)
            .map(|v| v.to_str().map(normalise).unwrap_or_default());
        let allowed = |origin: &str| self.allowed.iter().any(|allowed| allowed == origin);
        let site = parts.headers.get("sec-fetch-site").map(|v| v.as_bytes());
        match site {
            Some(b"same-origin" | b"none") => true,
            Some(_) => origin.is_some_and(|origin| allowed(&origin)),
            None => match origin {
                None => true,
                Some(origin) => {
                    let client = self.proxies.client(parts);
                    let scheme = if client.secure { "https" } else { "http" };
                    let own = client
                        .host
                        .map(|host| normalise(&format!("{scheme}://{host}")));
                    own.as_deref() == Some(origin.as_str()) || allowed(&origin)
                }
            },
        }
    }
}

/// Whether the request asks to become a WebSocket.
fn is_websocket_handshake(parts: &Parts) -> bool {
    parts
        .headers
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
}

impl<S> Layer<S> for FetchMetadataLayer {
    type Service = FetchMetadata<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Checked::new(inner, self.clone())
    }
}

impl RequestCheck for FetchMetadataLayer {
    fn check(&self, parts: &Parts) -> Option<Response> {
        let safe = matches!(
            parts.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        ) && !is_websocket_handshake(parts);
        if !self.enabled || safe || self.allows(parts) {
            return None;
        }
        Some(refuse(
            wants_json(parts),
            StatusCode::FORBIDDEN,
            "cross_site",
            "Cross-site request refused",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_are_dropped() {
        assert_eq!(normalise("HTTPS://App.Example:443"), "https://app.example");
        assert_eq!(normalise("http://app.example:80"), "http://app.example");
        assert_eq!(
            normalise("http://app.example:8080"),
            "http://app.example:8080"
        );
        assert_eq!(
            normalise("https://app.example:80"),
            "https://app.example:80"
        );
    }
}
