//! [`SecurityHeadersLayer`]: cbsecurity's response security headers, RFC-correct.
//!
//! 1. The headers are compiled once from [`SecurityHeadersSettings`] (or the builder): every
//!    name and value is checked when the layer is built, never at a request.
//! 2. For each request, whether it came over HTTPS is decided from the request URI's scheme,
//!    or `X-Forwarded-Proto` from a trusted proxy ([`TrustedProxies`]), or
//!    [`SecurityHeadersBuilder::assume_https`] for servers terminating TLS themselves.
//! 3. With a CSP nonce, 128 random bits (base64) are drawn and put into the request's
//!    extensions as [`CspNonce`] for the handler to use in its `<script nonce="…">` tags.
//! 4. The inner service answers; on **every** response — its own, redirects, and 4xx/5xx from
//!    layers inside — the headers are added: `X-Frame-Options`, `X-XSS-Protection`,
//!    `X-Content-Type-Options`, `Referrer-Policy`, `Strict-Transport-Security` (HTTPS only),
//!    `Content-Security-Policy` (or `-Report-Only`, with the nonce substituted),
//!    `Cross-Origin-Opener-Policy`, `Cross-Origin-Resource-Policy`, `Permissions-Policy`,
//!    `Origin-Agent-Cluster`, then the custom headers.
//! 5. A header the inner service already set is kept (a handler knows better what one page
//!    needs, e.g. a page that may be framed), unless `replace_existing` is set.
//!
//! ```
//! use axum::{routing::get, Router};
//! use portcullis::headers::SecurityHeadersLayer;
//! use portcullis::settings::Settings;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let settings = Settings::from_toml_str(r#"
//!     [security_headers.content_security_policy]
//!     enabled = true
//!     policy = "default-src 'self'; script-src 'self'"
//!     nonce = true
//! "#)?;
//! let app = Router::new()
//!     .route("/", get(|nonce: portcullis::headers::CspNonce| async move {
//!         format!("<script nonce=\"{}\">go()</script>", nonce.as_str())
//!     }))
//!     .layer(SecurityHeadersLayer::from_settings(&settings.security_headers)?);
//!
//! let response = app.oneshot(http::Request::new(axum::body::Body::empty())).await.unwrap();
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["x-frame-options"], "SAMEORIGIN");
//! assert_eq!(response.headers()["x-xss-protection"], "0");
//! assert!(response.headers().get("strict-transport-security").is_none()); // plain HTTP
//! let csp = response.headers()["content-security-policy"].to_str().unwrap();
//! assert!(csp.starts_with("default-src 'self'; script-src 'self' 'nonce-"));
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_REPORT_ONLY, REFERRER_POLICY,
    STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS, X_XSS_PROTECTION,
};
use http::{HeaderName, HeaderValue, Request};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::net::TrustedProxies;
use crate::settings::{FrameOptions, HstsSettings, SecurityHeadersSettings};
use crate::{Error, Result};

/// The placeholder a policy may contain where the nonce goes, e.g.
/// `script-src 'nonce-{nonce}'`. Without one, the nonce source is appended to the
/// `script-src` and `style-src` directives.
pub const NONCE_PLACEHOLDER: &str = "{nonce}";

const KEY: &str = "security_headers";

/// The request's CSP nonce (base64, 128 random bits), present when the layer adds nonces.
/// Use it in `<script nonce="…">` and `<style nonce="…">`; it is already HTML-safe.
///
/// As an extractor it fails with 500 when the layer adds no nonce (a configuration mistake);
/// extract `Option<CspNonce>` to tolerate that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CspNonce(Arc<str>);

impl CspNonce {
    /// The nonce.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn generate() -> Result<Self> {
        let bytes = crate::random::bytes::<16>()?;
        Ok(CspNonce(
            base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .into(),
        ))
    }
}

crate::extension::extension_extractor!(
    CspNonce,
    missing: Error::config(
        "security_headers.content_security_policy.nonce",
        "a handler asked for the CSP nonce, but the security headers layer adds none",
    )
);

/// The compiled policy: the text around the places the nonce goes.
#[derive(Debug, Clone)]
struct Csp {
    name: HeaderName,
    /// `pieces[0] nonce pieces[1] nonce …`; one piece when there is no nonce.
    pieces: Vec<String>,
}

impl Csp {
    fn value(&self, nonce: Option<&CspNonce>) -> Option<HeaderValue> {
        let mut text = String::new();
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                text.push_str(nonce.map_or("", CspNonce::as_str));
            }
            text.push_str(piece);
        }
        HeaderValue::from_str(&text).ok()
    }
}

/// Splits `policy` where the nonce goes: at each placeholder, or after the sources of each
/// `script-src` / `style-src` directive (as `'nonce-…'`). `None` if there is no such place.
fn nonce_pieces(policy: &str) -> Option<Vec<String>> {
    if policy.contains(NONCE_PLACEHOLDER) {
        return Some(policy.split(NONCE_PLACEHOLDER).map(str::to_owned).collect());
    }
    let mut pieces = vec![String::new()];
    let directives: Vec<&str> = policy.split(';').collect();
    for (i, directive) in directives.iter().enumerate() {
        let current = pieces.last_mut()?;
        if i > 0 {
            current.push(';');
        }
        let name = directive.split_whitespace().next().unwrap_or("");
        let trimmed = directive.trim_end();
        current.push_str(trimmed);
        if name.eq_ignore_ascii_case("script-src") || name.eq_ignore_ascii_case("style-src") {
            current.push_str(" 'nonce-");
            pieces.push("'".to_owned());
            pieces.last_mut()?.push_str(&directive[trimmed.len()..]);
        } else {
            current.push_str(&directive[trimmed.len()..]);
        }
    }
    (pieces.len() > 1).then_some(pieces)
}

/// Whether a policy offers a place for the nonce (used by settings validation).
pub(crate) fn policy_takes_nonce(policy: &str) -> bool {
    nonce_pieces(policy).is_some()
}

#[derive(Debug)]
struct Compiled {
    headers: Vec<(HeaderName, HeaderValue)>,
    hsts: Option<HeaderValue>,
    csp: Option<Csp>,
    nonce: bool,
    replace_existing: bool,
}

fn value(key: &str, text: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(text).map_err(|_| {
        Error::config(
            format!("{KEY}.{key}"),
            "contains characters not allowed in a header",
        )
    })
}

impl Compiled {
    fn new(settings: &SecurityHeadersSettings) -> Result<Self> {
        settings.validate()?;
        let mut headers = Vec::new();
        let mut add = |name: HeaderName, key: &str, text: &str| -> Result<()> {
            headers.push((name, value(key, text)?));
            Ok(())
        };
        let s = settings;
        if !s.enabled {
            return Ok(Compiled {
                headers: Vec::new(),
                hsts: None,
                csp: None,
                nonce: false,
                replace_existing: false,
            });
        }
        if s.frame_options.enabled {
            add(
                X_FRAME_OPTIONS,
                "frame_options",
                s.frame_options.value.as_str(),
            )?;
        }
        if s.xss_protection.enabled {
            let mode = s.xss_protection.mode.header_value();
            add(X_XSS_PROTECTION, "xss_protection", mode)?;
        }
        if s.content_type_options.enabled {
            add(X_CONTENT_TYPE_OPTIONS, "content_type_options", "nosniff")?;
        }
        if s.referrer_policy.enabled {
            add(
                REFERRER_POLICY,
                "referrer_policy",
                s.referrer_policy.policy.as_str(),
            )?;
        }
        let coop = &s.cross_origin_opener_policy;
        if coop.enabled {
            let name = HeaderName::from_static("cross-origin-opener-policy");
            add(name, "cross_origin_opener_policy", coop.value.as_str())?;
        }
        let corp = &s.cross_origin_resource_policy;
        if corp.enabled {
            let name = HeaderName::from_static("cross-origin-resource-policy");
            add(name, "cross_origin_resource_policy", corp.value.as_str())?;
        }
        if s.permissions_policy.enabled {
            let name = HeaderName::from_static("permissions-policy");
            add(
                name,
                "permissions_policy.value",
                &s.permissions_policy.value,
            )?;
        }
        if s.origin_agent_cluster.enabled {
            let name = HeaderName::from_static("origin-agent-cluster");
            add(
                name,
                "origin_agent_cluster",
                s.origin_agent_cluster.value.as_str(),
            )?;
        }
        for (name, text) in &s.custom_headers {
            let key = format!("custom_headers.{name}");
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::config(format!("{KEY}.{key}"), "not a header name"))?;
            add(name, &key, text)?;
        }
        let hsts = s
            .hsts
            .enabled
            .then(|| value("hsts", &s.hsts.header_value()))
            .transpose()?;
        let policy = &s.content_security_policy;
        let csp = if policy.enabled {
            let name = if policy.report_only {
                CONTENT_SECURITY_POLICY_REPORT_ONLY
            } else {
                CONTENT_SECURITY_POLICY
            };
            let pieces = if policy.nonce {
                nonce_pieces(&policy.policy).ok_or_else(|| {
                    Error::config(
                        format!("{KEY}.content_security_policy.nonce"),
                        "the policy has no script-src or style-src directive and no {nonce} \
                         placeholder to put the nonce in",
                    )
                })?
            } else {
                vec![policy.policy.clone()]
            };
            let csp = Csp { name, pieces };
            if csp.value(None).is_none() {
                return Err(Error::config(
                    format!("{KEY}.content_security_policy.policy"),
                    "contains characters not allowed in a header",
                ));
            }
            Some(csp)
        } else {
            None
        };
        Ok(Compiled {
            headers,
            hsts,
            nonce: csp.is_some() && policy.nonce,
            csp,
            replace_existing: s.replace_existing,
        })
    }

    fn apply(&self, response: &mut Response, secure: bool, nonce: Option<&CspNonce>) {
        let replace = self.replace_existing;
        let headers = response.headers_mut();
        let mut put = |name: &HeaderName, value: HeaderValue| {
            if replace || !headers.contains_key(name) {
                headers.insert(name.clone(), value);
            }
        };
        for (name, value) in &self.headers {
            put(name, value.clone());
        }
        if secure {
            if let Some(hsts) = &self.hsts {
                put(&STRICT_TRANSPORT_SECURITY, hsts.clone());
            }
        }
        if let Some(csp) = &self.csp {
            if let Some(value) = csp.value(nonce) {
                put(&csp.name, value);
            }
        }
    }
}

/// Adds the security headers to every response (see the module docs).
#[derive(Debug, Clone)]
pub struct SecurityHeadersLayer {
    compiled: Arc<Compiled>,
    proxies: TrustedProxies,
    assume_https: bool,
}

impl SecurityHeadersLayer {
    /// The layer for `settings` (`security_headers`). Forwarded schemes are believed from no
    /// proxy: add yours with [`SecurityHeadersBuilder::trusted_proxies`], or build the whole
    /// chain from the settings tree with [`HeadersLayer`](super::HeadersLayer).
    ///
    /// # Errors
    /// [`Error::Config`] naming the key of an unusable value.
    pub fn from_settings(settings: &SecurityHeadersSettings) -> Result<Self> {
        SecurityHeadersBuilder::new(settings.clone()).build()
    }

    /// A builder starting from the defaults (`SecurityHeadersSettings::default()`).
    pub fn builder() -> SecurityHeadersBuilder {
        SecurityHeadersBuilder::new(SecurityHeadersSettings::default())
    }
}

/// Builds a [`SecurityHeadersLayer`] in code.
///
/// ```
/// use portcullis::headers::SecurityHeadersLayer;
/// use portcullis::settings::FrameOptions;
///
/// let layer = SecurityHeadersLayer::builder()
///     .frame_options(Some(FrameOptions::Deny))
///     .hsts(Some((63_072_000, true, true)))
///     .content_security_policy("default-src 'self'")
///     .report_only(true)
///     .header("x-powered-by-nothing", "1")
///     .build()
///     .unwrap();
/// # let _ = layer;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SecurityHeadersBuilder {
    settings: SecurityHeadersSettings,
    proxies: TrustedProxies,
    assume_https: bool,
}

impl SecurityHeadersBuilder {
    /// A builder starting from `settings`.
    pub fn new(settings: SecurityHeadersSettings) -> Self {
        SecurityHeadersBuilder {
            settings,
            proxies: TrustedProxies::default(),
            assume_https: false,
        }
    }

    /// `X-Frame-Options`: `Some(value)`, or `None` to send none.
    pub fn frame_options(mut self, value: Option<FrameOptions>) -> Self {
        self.settings.frame_options.enabled = value.is_some();
        if let Some(value) = value {
            self.settings.frame_options.value = value;
        }
        self
    }

    /// `Strict-Transport-Security`: `Some((max_age_seconds, include_sub_domains, preload))`,
    /// or `None` to send none.
    pub fn hsts(mut self, value: Option<(u64, bool, bool)>) -> Self {
        match value {
            Some((max_age, include_sub_domains, preload)) => {
                let hsts = &mut self.settings.hsts;
                *hsts = HstsSettings::default();
                hsts.max_age = max_age;
                hsts.include_sub_domains = include_sub_domains;
                hsts.preload = preload;
            }
            None => self.settings.hsts.enabled = false,
        }
        self
    }

    /// `Content-Security-Policy`: the policy text (enables the header).
    pub fn content_security_policy(mut self, policy: impl Into<String>) -> Self {
        self.settings.content_security_policy.enabled = true;
        self.settings.content_security_policy.policy = policy.into();
        self
    }

    /// Sends the policy as `Content-Security-Policy-Report-Only`.
    pub fn report_only(mut self, report_only: bool) -> Self {
        self.settings.content_security_policy.report_only = report_only;
        self
    }

    /// Adds a fresh nonce per request to the policy (see [`CspNonce`]).
    pub fn nonce(mut self, nonce: bool) -> Self {
        self.settings.content_security_policy.nonce = nonce;
        self
    }

    /// A custom header added to every response.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings
            .custom_headers
            .insert(name.into(), value.into());
        self
    }

    /// Replaces headers the inner service set itself (default: they are kept).
    pub fn replace_existing(mut self, replace: bool) -> Self {
        self.settings.replace_existing = replace;
        self
    }

    /// Believes `X-Forwarded-Proto` from these proxies (`firewall.trusted_proxies`).
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// Treats every request as HTTPS: for servers that terminate TLS themselves (HTTP/1.1
    /// request URIs carry no scheme).
    pub fn assume_https(mut self, https: bool) -> Self {
        self.assume_https = https;
        self
    }

    /// Checks the headers and builds the layer.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting of an unusable value.
    pub fn build(self) -> Result<SecurityHeadersLayer> {
        Ok(SecurityHeadersLayer {
            compiled: Arc::new(Compiled::new(&self.settings)?),
            proxies: self.proxies,
            assume_https: self.assume_https,
        })
    }
}

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeaders {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`SecurityHeadersLayer`].
#[derive(Debug, Clone)]
pub struct SecurityHeaders<S> {
    inner: S,
    layer: SecurityHeadersLayer,
}

impl<S, B> Service<Request<B>> for SecurityHeaders<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        let layer = &self.layer;
        let secure = layer.assume_https || layer.proxies.client(&parts).secure;
        let compiled = layer.compiled.clone();
        let mut nonce = None;
        if compiled.nonce {
            match CspNonce::generate() {
                Ok(fresh) => {
                    parts.extensions.insert(fresh.clone());
                    nonce = Some(fresh);
                }
                Err(error) => {
                    // No nonce, no page: a policy without it would block the page's scripts.
                    let mut response = error.into_response();
                    compiled.apply(&mut response, secure, None);
                    return ResponseFuture {
                        kind: Kind::Failed {
                            response: Some(response),
                        },
                    };
                }
            }
        }
        ResponseFuture {
            kind: Kind::Inner {
                future: self.inner.call(Request::from_parts(parts, body)),
                compiled,
                secure,
                nonce,
            },
        }
    }
}

pin_project! {
    /// The future of [`SecurityHeaders`].
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProjection]
    enum Kind<F> {
        Inner {
            #[pin]
            future: F,
            compiled: Arc<Compiled>,
            secure: bool,
            nonce: Option<CspNonce>,
        },
        Failed {
            response: Option<Response>,
        },
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProjection::Inner {
                future,
                compiled,
                secure,
                nonce,
            } => {
                let mut response = std::task::ready!(future.poll(cx))?;
                compiled.apply(&mut response, *secure, nonce.as_ref());
                Poll::Ready(Ok(response))
            }
            KindProjection::Failed { response } => super::check::answered(response),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_go_into_script_and_style_sources() {
        let pieces =
            nonce_pieces("default-src 'self'; script-src 'self'; style-src 'self' ").unwrap();
        assert_eq!(
            pieces.join("N"),
            "default-src 'self'; script-src 'self' 'nonce-N'; style-src 'self' 'nonce-N' "
        );
        let placeholder = nonce_pieces("script-src 'nonce-{nonce}' 'strict-dynamic'").unwrap();
        assert_eq!(
            placeholder.join("N"),
            "script-src 'nonce-N' 'strict-dynamic'"
        );
        assert!(nonce_pieces("default-src 'self'").is_none());
    }

    #[test]
    fn nonces_are_fresh_base64() {
        let a = CspNonce::generate().unwrap();
        let b = CspNonce::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 24);
    }
}
