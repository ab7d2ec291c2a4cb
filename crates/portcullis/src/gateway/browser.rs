//! What browser apps behind the gateway need: cookie sessions (`authentication.provider =
//! "session"`), CSRF tokens and Fetch Metadata checks (`csrf`), and the CSRF token header
//! the upstream renders its forms with.
//!
//! 1. [`SessionLayer`] (store on the `jwt.token_storage` backend) around everything, inside
//!    [`FetchMetadataLayer`] (`csrf.fetch_metadata.enabled`), which refuses cross-site
//!    state-changing requests before any session is loaded.
//! 2. One [`CsrfLayer`] (one token store) around what reaches the upstream, inside the
//!    firewall, and around the gateway's form endpoints (login, register, logout), when
//!    `csrf.enable_auto_verifier` or `csrf.enable_endpoint` is on; the token endpoint when
//!    `csrf.enable_endpoint`.
//! 3. Not checked by the auto verifier (they cannot be forged by another site):
//!    * requests identified by a token in a header (`Authorization: Bearer`,
//!      `jwt.custom_auth_header`) without a user in their session — a browser never adds
//!      such a header by itself;
//!    * JSON bodies sent to the gateway's own endpoints — another site cannot send
//!      `Content-Type: application/json` without a CORS preflight, which the gateway does not
//!      answer.
//! 4. The token header (`gateway.identity_headers.csrf_token`): removed from every client
//!    request; with the auto verifier on, set to the caller's current `default` token. A
//!    guest's first request (no stored session, no user, no binding cookie) gets one only when
//!    it asks for HTML (a page that may hold a form), so scripts and crawlers do not each make
//!    a session.
//! 5. The session cookie is a credential: it is removed from the `Cookie` header the
//!    upstream gets, unless `gateway.forward_token` (the client's other cookies pass).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::header::{ACCEPT, CONTENT_TYPE, COOKIE};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::auth::Provider;
use crate::auth::Identity;
use crate::csrf::{
    endpoint, Csrf, CsrfExempt, CsrfLayer, CsrfStore, FetchMetadataLayer, DEFAULT_KEY,
};
use crate::jwt::{bearer_token, Jwt};
use crate::session::{Session, SessionLayer, SessionStore};
use crate::settings::{CsrfSettings, CsrfStorage, Settings};
use crate::{Error, Result};

/// The browser layers of one gateway (see the module docs). Cheap to clone.
#[derive(Clone)]
pub(crate) struct Browser {
    sessions: Option<SessionLayer>,
    fetch_metadata: Option<FetchMetadataLayer>,
    csrf: Option<CsrfLayer>,
    /// The `csrf` section, for the token endpoint.
    settings: Arc<CsrfSettings>,
    upstream: Arc<UpstreamHeaders>,
    auth_header: Arc<HeaderName>,
}

/// What the upstream's request headers get (module docs, steps 4 and 5).
struct UpstreamHeaders {
    /// The CSRF token header.
    token_header: HeaderName,
    /// Set it (the auto verifier is on); else only remove what clients send.
    send_token: bool,
    /// The session cookie's name, to remove from `Cookie`.
    session_cookie: Option<String>,
}

impl Browser {
    /// The layers `settings` and `provider` ask for; the session store is connected here.
    ///
    /// # Errors
    /// [`Error::Config`] naming a bad `csrf`, `session`, `jwt.custom_auth_header` or
    /// `gateway.identity_headers.csrf_token` value; [`Error::Unavailable`] when the session
    /// store cannot be reached.
    pub(crate) async fn from_settings(settings: &Settings, provider: Provider) -> Result<Self> {
        let csrf = &settings.csrf;
        let sessions = match provider {
            Provider::Session => Some(SessionLayer::from_settings(settings).await?),
            Provider::Jwt => None,
        };
        let tokens = csrf.enable_auto_verifier || csrf.enable_endpoint;
        let header = |key: &str, name: &str| {
            HeaderName::try_from(name)
                .map_err(|_| Error::config(key, format!("{name:?} is not a header name")))
        };
        Ok(Browser {
            sessions,
            fetch_metadata: csrf
                .fetch_metadata
                .enabled
                .then(|| FetchMetadataLayer::from_settings(settings)),
            csrf: match tokens {
                true => Some(CsrfLayer::from_settings(settings).await?),
                false => None,
            },
            settings: Arc::new(csrf.clone()),
            upstream: Arc::new(UpstreamHeaders {
                token_header: header(
                    "gateway.identity_headers.csrf_token",
                    &settings.gateway.identity_headers.csrf_token,
                )?,
                send_token: csrf.enable_auto_verifier,
                session_cookie: (provider == Provider::Session && !settings.gateway.forward_token)
                    .then(|| settings.session.effective_cookie_name()),
            }),
            auth_header: Arc::new(header(
                "jwt.custom_auth_header",
                &settings.jwt.custom_auth_header,
            )?),
        })
    }

    /// The session store, when the gateway keeps sessions (for the health check).
    pub(crate) fn session_store(&self) -> Option<&Arc<dyn SessionStore>> {
        self.sessions.as_ref().map(SessionLayer::store)
    }

    /// The CSRF token store, when the gateway keeps tokens in the shared backend
    /// (`csrf.storage = "shared"`, for the health check).
    pub(crate) fn csrf_store(&self) -> Option<&Arc<dyn CsrfStore>> {
        self.csrf
            .as_ref()
            .filter(|_| self.settings.storage == CsrfStorage::Shared)
            .map(|layer| layer.tokens().store())
    }

    /// What reaches the upstream, inside the firewall: the token-client exemption, the CSRF
    /// layer, the token header and the session cookie's removal.
    pub(crate) fn proxied(&self, router: Router) -> Router {
        let router = router.layer(from_fn_with_state(self.upstream.clone(), upstream_headers));
        let Some(csrf) = &self.csrf else {
            return router;
        };
        router
            .layer(csrf.clone())
            .layer(from_fn_with_state(self.exemption(false), exempt))
    }

    /// The gateway's form endpoints (and the token endpoint): the exemptions and the CSRF
    /// layer. The caller must be identified outside.
    pub(crate) fn forms(&self, router: Router) -> Router {
        let Some(csrf) = &self.csrf else {
            return router;
        };
        router
            .merge(endpoint(&self.settings))
            .layer(csrf.clone())
            .layer(from_fn_with_state(self.exemption(true), exempt))
    }

    /// Around everything: Fetch Metadata outside the sessions.
    pub(crate) fn outer(&self, router: Router) -> Router {
        let router = match &self.sessions {
            Some(sessions) => router.layer(sessions.clone()),
            None => router,
        };
        match &self.fetch_metadata {
            Some(fetch_metadata) => router.layer(fetch_metadata.clone()),
            None => router,
        }
    }

    fn exemption(&self, json: bool) -> Arc<Exemption> {
        Arc::new(Exemption {
            auth_header: self.auth_header.clone(),
            json,
        })
    }
}

/// Which requests the auto verifier skips (module docs, step 3).
struct Exemption {
    auth_header: Arc<HeaderName>,
    /// JSON bodies too (the gateway's own endpoints).
    json: bool,
}

impl Exemption {
    fn applies(&self, parts: &Parts) -> bool {
        let token_client = parts.extensions.get::<Jwt>().is_some()
            && (parts.headers.contains_key(&*self.auth_header)
                || bearer_token(&parts.headers).is_some())
            && parts
                .extensions
                .get::<Session>()
                .is_none_or(|session| session.user_id().is_none());
        token_client || (self.json && is_json(parts))
    }
}

fn is_json(parts: &Parts) -> bool {
    parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

async fn exempt(State(exemption): State<Arc<Exemption>>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    if exemption.applies(&parts) {
        parts.extensions.insert(CsrfExempt);
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Whether the request asks for HTML.
fn wants_html(parts: &Parts) -> bool {
    parts
        .headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"))
}

/// Whether the request's CSRF binding exists beyond this request: a user, a stored session,
/// or (without sessions) an anonymous binding cookie.
fn is_established(parts: &Parts, csrf: &Csrf) -> bool {
    parts.extensions.get::<Identity>().is_some()
        || match parts.extensions.get::<Session>() {
            Some(session) => !session.is_new(),
            None => csrf.binding().is_some(),
        }
}

/// Removes the cookie `name` from the request's `Cookie` headers, keeping the others byte for
/// byte.
fn strip_cookie(headers: &mut HeaderMap, name: &str) {
    let values: Vec<HeaderValue> = headers.get_all(COOKIE).iter().cloned().collect();
    if values.is_empty() {
        return;
    }
    headers.remove(COOKIE);
    for value in values {
        let kept: Vec<&[u8]> = value
            .as_bytes()
            .split(|&b| b == b';')
            .map(<[u8]>::trim_ascii)
            .filter(|pair| {
                let key = pair.split(|&b| b == b'=').next().unwrap_or_default();
                !pair.is_empty() && key.trim_ascii() != name.as_bytes()
            })
            .collect();
        if let Ok(value) = HeaderValue::from_bytes(&kept.join(&b"; "[..])) {
            if !value.is_empty() {
                headers.append(COOKIE, value);
            }
        }
    }
}

async fn upstream_headers(
    State(upstream): State<Arc<UpstreamHeaders>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    parts.headers.remove(&upstream.token_header);
    if let Some(name) = &upstream.session_cookie {
        strip_cookie(&mut parts.headers, name);
    }
    let csrf = parts.extensions.get::<Csrf>().cloned();
    let exempt = parts.extensions.get::<CsrfExempt>().is_some();
    if let Some(csrf) = csrf.filter(|_| upstream.send_token && !exempt) {
        if is_established(&parts, &csrf) || wants_html(&parts) {
            let token = match csrf.token(DEFAULT_KEY).await {
                Ok(token) => token,
                Err(error) => return error.into_response(),
            };
            // Tokens are base64url: always a valid header value.
            if let Ok(value) = HeaderValue::from_str(&token) {
                parts.headers.insert(upstream.token_header.clone(), value);
            }
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_session_cookie_is_removed() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; sid=secret;b=2"));
        headers.append(COOKIE, HeaderValue::from_static("sid=again"));
        headers.append(COOKIE, HeaderValue::from_static("sidecar=3; theme=dark"));
        strip_cookie(&mut headers, "sid");
        let left: Vec<&str> = headers
            .get_all(COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(left, ["a=1; b=2", "sidecar=3; theme=dark"]);
    }
}
