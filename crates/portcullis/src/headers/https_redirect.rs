//! [`HttpsRedirectLayer`]: plain-HTTP requests are redirected to the same URL on HTTPS
//! (`security_headers.secure_ssl_redirects`, spec §5.1 step 1).
//!
//! 1. Whether the request is secure comes from [`TrustedProxies::client`]: the URI's scheme,
//!    or `X-Forwarded-Proto: https` **from a trusted proxy only** (cbsecurity believed it, and
//!    `X-Scheme`, from anyone). A secure request passes.
//! 2. The target is `https://` + the request's host without its port (plus
//!    `https_port` when it is not 443) + the path and query, unchanged.
//! 3. `GET` and `HEAD` get **301**; every other method **308**, so browsers repeat the
//!    method and body (cbsecurity: 302 for all, which turns a `POST` into a `GET`).
//! 4. A request naming no usable host gets 400: there is nowhere to redirect it.
//!
//! ```
//! use axum::{routing::any, Router};
//! use portcullis::headers::HttpsRedirectLayer;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = Router::new()
//!     .route("/{*path}", any(|| async { "secure" }))
//!     .layer(HttpsRedirectLayer::new());
//! let get = http::Request::get("/a?b=1").header("host", "example.com:8080");
//! let response = app.clone().oneshot(get.body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(response.status(), 301);
//! assert_eq!(response.headers()["location"], "https://example.com/a?b=1");
//!
//! let post = http::Request::post("/form").header("host", "example.com");
//! let response = app.oneshot(post.body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(response.status(), 308);
//! # }
//! ```

use std::str::FromStr;

use axum::response::{IntoResponse, Response};
use http::header::LOCATION;
use http::request::Parts;
use http::uri::Authority;
use http::{HeaderValue, Method, StatusCode};
use tower_layer::Layer;

use super::check::{Checked, RequestCheck};
use crate::firewall::action::wants_json;
use crate::net::TrustedProxies;
use crate::response::{refuse, Rejection};
use crate::settings::SecureSslRedirectsSettings;

/// Redirects plain-HTTP requests to HTTPS (see the module docs).
#[derive(Debug, Clone)]
pub struct HttpsRedirectLayer {
    enabled: bool,
    https_port: u16,
    proxies: TrustedProxies,
}

/// The service made by [`HttpsRedirectLayer`].
pub type HttpsRedirect<S> = Checked<S, HttpsRedirectLayer>;

impl Default for HttpsRedirectLayer {
    fn default() -> Self {
        HttpsRedirectLayer::new()
    }
}

impl HttpsRedirectLayer {
    /// Redirects to port 443; believes no forwarded scheme.
    pub fn new() -> Self {
        HttpsRedirectLayer {
            enabled: true,
            https_port: 443,
            proxies: TrustedProxies::default(),
        }
    }

    /// As `settings` say: a layer that lets everything through when they are disabled.
    pub fn from_settings(settings: &SecureSslRedirectsSettings) -> Self {
        HttpsRedirectLayer {
            enabled: settings.enabled,
            ..HttpsRedirectLayer::new().https_port(settings.https_port)
        }
    }

    /// The port of the redirect target (443 is left out of the URL).
    #[must_use]
    pub fn https_port(mut self, port: u16) -> Self {
        self.https_port = port;
        self
    }

    /// Believes `X-Forwarded-Proto` and `X-Forwarded-Host` from these proxies
    /// (`firewall.trusted_proxies`).
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// `https://host[:port]/path?query` for the request, if it names a usable host.
    fn location(&self, parts: &Parts, host: &str) -> Option<HeaderValue> {
        let authority = Authority::from_str(host).ok()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let location = match self.https_port {
            443 => format!("https://{}{path}", authority.host()),
            port => format!("https://{}:{port}{path}", authority.host()),
        };
        HeaderValue::from_str(&location).ok()
    }
}

impl<S> Layer<S> for HttpsRedirectLayer {
    type Service = HttpsRedirect<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Checked::new(inner, self.clone())
    }
}

impl RequestCheck for HttpsRedirectLayer {
    fn check(&self, parts: &Parts) -> Option<Response> {
        if !self.enabled {
            return None;
        }
        let client = self.proxies.client(parts);
        if client.secure {
            return None;
        }
        let Some(location) = client.host.and_then(|host| self.location(parts, &host)) else {
            return Some(refuse(
                wants_json(parts),
                StatusCode::BAD_REQUEST,
                "invalid_host",
                "Bad request: no valid host to redirect to HTTPS",
            ));
        };
        let status = if matches!(parts.method, Method::GET | Method::HEAD) {
            StatusCode::MOVED_PERMANENTLY
        } else {
            StatusCode::PERMANENT_REDIRECT
        };
        let mut response = (status, [(LOCATION, location)]).into_response();
        response.extensions_mut().insert(Rejection {
            status,
            kind: "non_ssl",
            message: "redirected to HTTPS".to_owned(),
        });
        Some(response)
    }
}
