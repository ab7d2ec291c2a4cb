//! Security headers, host and IP validation and HTTPS redirects (cbsecurity's security
//! headers interceptor, spec §5; feature `headers`).
//!
//! Four tower layers, usable on their own or together through [`HeadersLayer`], which builds
//! all of them from the settings tree in the order a request meets them:
//!
//! 1. [`SecurityHeadersLayer`] (outermost) — adds the response headers to **every** response,
//!    including the redirects and 403s of the checks below and errors from anything inside
//!    (cbsecurity skipped redirects);
//! 2. [`HttpsRedirectLayer`] — plain HTTP → 301/308 to HTTPS (spec §5.1 step 1);
//! 3. [`HostValidationLayer`] — `Host` not allowed → 403 (step 2);
//! 4. [`IpValidationLayer`] — client address not allowed → 403 (step 3).
//!
//! The checks run before anything that identifies the user or matches rules: put
//! [`HeadersLayer`] outside the firewall (cbsecurity ran them after its rules, so a rule could
//! redirect a request for a forbidden host). Forwarded headers are believed only from
//! `firewall.trusted_proxies`; host and IP validation believe them only with
//! `security_headers.trust_upstream` as well.
//!
//! ```
//! use std::net::SocketAddr;
//! use axum::{extract::ConnectInfo, routing::get, Router};
//! use portcullis::events::EventBus;
//! use portcullis::headers::HeadersLayer;
//! use portcullis::settings::Settings;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let settings = Settings::from_toml_str(r#"
//!     [security_headers.host_header_validation]
//!     enabled = true
//!     allowed_hosts = "app.example.com"
//! "#)?;
//! let app = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(HeadersLayer::from_settings(&settings, EventBus::new())?);
//!
//! let mut request = http::Request::get("/").header("host", "evil.example")
//!     .body(axum::body::Body::empty()).unwrap();
//! request.extensions_mut().insert(ConnectInfo("192.0.2.1:4000".parse::<SocketAddr>().unwrap()));
//! let response = app.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 403);
//! assert_eq!(response.headers()["x-content-type-options"], "nosniff"); // on refusals too
//! # Ok(()) }
//! ```

mod allow_list;
mod check;
mod host_validation;
mod https_redirect;
mod ip_validation;
mod security_headers;

use tower_layer::Layer;

pub use self::allow_list::{AllowList, AllowListLayer};
pub use self::check::{Checked, RequestCheck, ResponseFuture as CheckFuture};
pub use self::host_validation::{HostValidation, HostValidationLayer};
pub use self::https_redirect::{HttpsRedirect, HttpsRedirectLayer};
pub use self::ip_validation::{IpValidation, IpValidationLayer};
pub(crate) use self::security_headers::policy_takes_nonce;
pub use self::security_headers::{
    CspNonce, ResponseFuture, SecurityHeaders, SecurityHeadersBuilder, SecurityHeadersLayer,
    NONCE_PLACEHOLDER,
};

use crate::events::EventBus;
use crate::net::TrustedProxies;
use crate::settings::Settings;
use crate::Result;

/// The four layers of this module built from the settings tree, in spec order (see the
/// module docs). With `security_headers.enabled = false` it adds nothing and checks nothing.
#[derive(Debug, Clone)]
pub struct HeadersLayer {
    headers: SecurityHeadersLayer,
    redirect: HttpsRedirectLayer,
    host: HostValidationLayer,
    ip: IpValidationLayer,
}

/// The service made by [`HeadersLayer`].
pub type HeadersService<S> = SecurityHeaders<HttpsRedirect<HostValidation<IpValidation<S>>>>;

impl HeadersLayer {
    /// The layers `settings.security_headers` describe, believing forwarded headers from
    /// `settings.firewall.trusted_proxies`; host and IP refusals are announced on `events`.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) naming the key of an unusable setting.
    pub fn from_settings(settings: &Settings, events: EventBus) -> Result<Self> {
        let section = &settings.security_headers;
        let proxies = TrustedProxies::new(settings.firewall.trusted_proxies.iter().copied());
        let upstream = if section.trust_upstream {
            proxies.clone()
        } else {
            TrustedProxies::default()
        };
        let mut redirect = HttpsRedirectLayer::from_settings(&section.secure_ssl_redirects)
            .trusted_proxies(proxies.clone());
        let mut host = HostValidationLayer::from_settings(&section.host_header_validation)
            .trusted_proxies(upstream.clone())
            .events(events.clone());
        let mut ip = IpValidationLayer::from_settings(&section.ip_validation)
            .trusted_proxies(upstream)
            .events(events);
        if !section.enabled {
            redirect = HttpsRedirectLayer::from_settings(&Default::default());
            host = HostValidationLayer::from_settings(&Default::default());
            ip = IpValidationLayer::from_settings(&Default::default());
        }
        Ok(HeadersLayer {
            headers: SecurityHeadersBuilder::new(section.clone())
                .trusted_proxies(proxies)
                .build()?,
            redirect,
            host,
            ip,
        })
    }
}

impl<S> Layer<S> for HeadersLayer {
    type Service = HeadersService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let inner = self.ip.layer(inner);
        let inner = self.host.layer(inner);
        let inner = self.redirect.layer(inner);
        self.headers.layer(inner)
    }
}
