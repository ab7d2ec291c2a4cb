//! The gateway's own endpoints, under `/portcullis/`. Firewall rules do not apply to them:
//! they are public by nature (log in, register, refresh, health) or authenticate the request
//! themselves (`me`, `logout`). Every other path under `/portcullis/` is 404 and never
//! reaches the upstream.
//!
//! | endpoint | answers (`authentication.provider` `jwt`) | with `session` |
//! |---|---|---|
//! | `POST /portcullis/login` | `username` + `password` as JSON or a form → 200 with the token (pair) in `data`; 401 `Invalid Credentials` for an unknown user and a wrong password alike; 429 with `Retry-After` while the username or address is backing off (`authentication.login_protection`) | the session id rotated and the user logged into it: a form → 303 to the safe `_securedURL` / `redirect` target (else `/`), JSON → 200 with the user; a failed form login → 303 back to the form's page (`Referer`, same origin) with `error=invalid_credentials` or `error=locked`, else as for JSON |
//! | `POST /portcullis/register` | the same body → 201 with a token (pair) for the new user; 409 when the name is taken, 400 when the user store refuses the name or password; 404 unless the user store registers (`users.allow_registration`) | the new user logged into the session: a form → 303, JSON → 201 with the user |
//! | `POST /portcullis/logout` | revokes the presented access token and its login session → 200; 401 without a valid token | ends the session (a guest's too): a form → 303 to the safe `redirect` target (else `/`), JSON → 200; a bearer token without a session user is revoked as with `jwt` |
//! | `POST /portcullis/refreshtoken` | the library's refresh endpoint ([`refresh_endpoint`]) | |
//! | `GET /portcullis/me` | the caller (bearer token, or Basic credentials) and the token's claims → 200; 401 otherwise | the session's user first (`claims` null) |
//! | `GET /portcullis/csrf/generate[/{key}]` | with `csrf.enable_endpoint`: the caller's CSRF token as text; 401 for a guest | |
//! | `GET` or `HEAD /portcullis/health` | 200 `{"status": "up", "checks": {…}}` when token storage, the users, login protection and the upstream answer; 503 with `"status": "down"` and the failed checks otherwise ([`health`](super::health)) | |
//!
//! Bodies are cbsecurity's envelope (`{"error", "messages", "data"}`), at most 16 KiB. With
//! `csrf.enable_auto_verifier`, login, register and logout posted as forms need the caller's
//! CSRF token (see [`browser`](super::browser)).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, REFERER};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::GatewayAuth;
use super::browser::Browser;
use super::health::Health;
use super::GatewayUsers;
use crate::auth::{basic_credentials, AuthService, AuthUser, Identity, Login, LoginThrottle};
use crate::firewall::action::SECURED_URL_PARAMETER;
use crate::jwt::{refresh_endpoint, Claims, JwtService, JwtSubject};
use crate::net::{ClientInfo, TrustedProxies};
use crate::response::{data_response, error_response, reject};
use crate::Error;

/// The prefix of the gateway's own endpoints.
pub const ENDPOINTS_PREFIX: &str = "/portcullis";

/// The largest body the endpoints read.
const MAX_BODY: usize = 16 * 1024;
/// The longest username accepted, in bytes.
const MAX_USERNAME: usize = 256;
/// The longest password accepted, in bytes (hashing cost grows with it).
const MAX_PASSWORD: usize = 1024;
/// The longest redirect target considered, in bytes; longer ones are replaced by `/`.
const MAX_TARGET: usize = 2048;
/// The form field (and JSON key, and query parameter) naming where to go after a login or
/// logout, when `_securedURL` does not.
const REDIRECT_PARAMETER: &str = "redirect";

/// What the endpoints work with.
pub(crate) struct Endpoints<U> {
    pub(crate) jwt: JwtService<U>,
    pub(crate) auth: Arc<GatewayAuth<U>>,
    pub(crate) users: Arc<dyn GatewayUsers<User = U>>,
    pub(crate) throttle: LoginThrottle,
    pub(crate) proxies: TrustedProxies,
    pub(crate) health: Arc<Health>,
}

impl<U> Clone for Endpoints<U> {
    fn clone(&self) -> Self {
        Endpoints {
            jwt: self.jwt.clone(),
            auth: self.auth.clone(),
            users: self.users.clone(),
            throttle: self.throttle.clone(),
            proxies: self.proxies.clone(),
            health: self.health.clone(),
        }
    }
}

/// The router of the gateway's endpoints; `browser` adds the CSRF checks and the token
/// endpoint to the form endpoints.
pub(crate) fn router<U>(endpoints: Endpoints<U>, browser: &Browser) -> Router
where
    U: AuthUser + JwtSubject + Clone,
{
    let jwt = endpoints.jwt.clone();
    let forms = Router::new()
        .route("/portcullis/login", post(login::<U>))
        .route("/portcullis/register", post(register::<U>))
        .route("/portcullis/logout", post(logout::<U>))
        .with_state(endpoints.clone());
    let forms = browser
        .forms(forms)
        .layer(from_fn_with_state(endpoints.auth.clone(), identify::<U>));
    Router::new()
        .route("/portcullis/me", get(me::<U>))
        // `get` answers HEAD too, without the body.
        .route("/portcullis/health", get(health::<U>))
        .route("/portcullis", any(not_found))
        .route("/portcullis/{*rest}", any(not_found))
        .with_state(endpoints)
        .merge(forms)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .merge(refresh_endpoint(jwt))
}

/// Puts the caller (session user, else bearer token) into the request, so that CSRF tokens
/// bind as they do for the upstream and the token endpoint knows the user. Best effort: a
/// backend failure leaves the request a guest.
async fn identify<U>(
    State(auth): State<Arc<GatewayAuth<U>>>,
    request: Request,
    next: Next,
) -> Response
where
    U: AuthUser + JwtSubject + Clone,
{
    let (mut parts, body) = request.into_parts();
    if let Err(error) = auth.current_user(&mut parts).await {
        tracing::warn!(%error, "could not identify the caller; treating it as a guest");
    }
    next.run(Request::from_parts(parts, body)).await
}

async fn not_found() -> Response {
    reject(
        StatusCode::NOT_FOUND,
        "not_found",
        "Not Found: no such portcullis endpoint",
    )
}

async fn health<U>(State(endpoints): State<Endpoints<U>>) -> Response {
    let report = endpoints.health.report().await;
    let status = if report.is_up() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = (status, Json(&*report)).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A login or registration body: the credentials and where to go afterwards.
#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
    #[serde(default, rename = "_securedURL")]
    secured_url: Option<String>,
    #[serde(default)]
    redirect: Option<String>,
}

impl Credentials {
    /// The target the client asked for: `_securedURL`, else `redirect` (unchecked).
    fn target(&self) -> Option<&str> {
        self.secured_url.as_deref().or(self.redirect.as_deref())
    }
}

/// Why a body was refused: status, error kind, message.
struct Refusal(StatusCode, &'static str, &'static str);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        reject(self.0, self.1, self.2)
    }
}

/// The request's media type, lower-cased.
fn content_type(parts: &Parts) -> String {
    parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Whether the body is a URL-encoded form (a browser's form post).
fn is_form(parts: &Parts) -> bool {
    content_type(parts).starts_with("application/x-www-form-urlencoded")
}

/// The credentials of a JSON or form body, bounded; the refusal otherwise. The target
/// comes from the body, else from the query.
fn credentials(parts: &Parts, body: &[u8]) -> Result<Credentials, Refusal> {
    let content_type = content_type(parts);
    let parsed = if content_type.starts_with("application/json") {
        serde_json::from_slice::<Credentials>(body).ok()
    } else if is_form(parts) {
        let field = |name: &str| {
            form_urlencoded::parse(body)
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        field("username")
            .zip(field("password"))
            .map(|(username, password)| Credentials {
                username,
                password,
                secured_url: None,
                redirect: None,
            })
    } else {
        return Err(Refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send username and password as JSON or as a form",
        ));
    };
    let Some(mut credentials) = parsed else {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "send username and password as JSON or as a form",
        ));
    };
    if credentials.username.len() > MAX_USERNAME || credentials.password.len() > MAX_PASSWORD {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "username or password too long",
        ));
    }
    if credentials.target().is_none() {
        credentials.secured_url = requested_target(parts, body);
    }
    Ok(credentials)
}

/// `_securedURL`, else `redirect`, from a form body, else from the query string
/// (unchecked).
fn requested_target(parts: &Parts, body: &[u8]) -> Option<String> {
    let find = |pairs: &[u8], name: &str| {
        form_urlencoded::parse(pairs)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    let either = |pairs: &[u8]| {
        find(pairs, SECURED_URL_PARAMETER).or_else(|| find(pairs, REDIRECT_PARAMETER))
    };
    let from_body = if is_form(parts) { either(body) } else { None };
    from_body.or_else(|| either(parts.uri.query()?.as_bytes()))
}

/// `target` as a path of the gateway's own origin, or `None`: a path (`/…`, not `//…` nor
/// `/\…`), or an absolute URL of the request's own scheme and host (the firewall's
/// `_securedURL`), reduced to its path and query. Another host, a scheme-relative URL,
/// spaces, control or non-ASCII characters: `None` — never an open redirect.
fn local_path(target: &str, client: &ClientInfo) -> Option<String> {
    let target = target.trim();
    if target.is_empty()
        || target.len() > MAX_TARGET
        || !target.bytes().all(|b| b.is_ascii_graphic())
        || target.contains('\\')
    {
        return None;
    }
    let path = if target.starts_with('/') {
        target
    } else {
        let host = client.host.as_deref()?;
        let scheme = if client.secure { "https" } else { "http" };
        let origin = format!("{scheme}://{host}");
        let head = target.get(..origin.len())?;
        if !head.eq_ignore_ascii_case(&origin) {
            return None;
        }
        match &target[origin.len()..] {
            "" => "/",
            rest => rest,
        }
    };
    if !path.starts_with('/') || path.starts_with("//") {
        return None;
    }
    let parsed: http::uri::PathAndQuery = path.parse().ok()?;
    Some(parsed.as_str().to_owned())
}

/// Where to send a browser after a login or logout: the safe target, else `/`.
fn local_target(target: Option<&str>, client: &ClientInfo) -> String {
    target
        .and_then(|target| local_path(target, client))
        .unwrap_or_else(|| "/".to_owned())
}

/// 303 See Other to `location` (a checked local path), not cached.
fn see_other(location: &str) -> Response {
    let Ok(location) = HeaderValue::from_str(location) else {
        return see_other("/");
    };
    (
        StatusCode::SEE_OTHER,
        [
            (LOCATION, location),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}

/// 401 `Invalid Credentials`, the same for an unknown user and a wrong password.
fn invalid_credentials() -> Response {
    reject(
        StatusCode::UNAUTHORIZED,
        Error::InvalidCredentials.kind(),
        "Invalid Credentials",
    )
}

/// The user as the session endpoints answer it.
fn user_data(user: &impl AuthUser, redirect: &str) -> Value {
    json!({
        "id": user.id(),
        "username": user.username(),
        "roles": user.roles(),
        "permissions": user.permissions(),
        "redirect": redirect,
    })
}

/// The answer to a successful login or registration.
fn logged_in<U: AuthUser>(
    login: Login<U>,
    form: bool,
    target: Option<&str>,
    client: &ClientInfo,
    status: StatusCode,
    message: &str,
) -> Response {
    if let Some(tokens) = login.tokens {
        return data_response(status, message, tokens);
    }
    let target = local_target(target, client);
    if form {
        return see_other(&target);
    }
    data_response(status, message, user_data(&login.user, &target))
}

/// A failed form login with sessions: back to the form's page (its `Referer`, when of the
/// gateway's own origin) with `error=<reason>` in the query, instead of a bare 401.
fn back_to_form(parts: &Parts, client: &ClientInfo, error: &Error) -> Option<Response> {
    let reason = match error {
        Error::InvalidCredentials => "invalid_credentials",
        Error::LoginLocked { .. } => "locked",
        _ => return None,
    };
    let referer = parts.headers.get(REFERER)?.to_str().ok()?;
    let page = local_path(referer, client)?;
    let (path, query) = page.split_once('?').unwrap_or((&page, ""));
    let mut kept = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key != "error" {
            kept.append_pair(&key, &value);
        }
    }
    kept.append_pair("error", reason);
    Some(see_other(&format!("{path}?{}", kept.finish())))
}

async fn login<U>(State(endpoints): State<Endpoints<U>>, mut parts: Parts, body: Bytes) -> Response
where
    U: AuthUser + JwtSubject + Clone,
{
    let credentials = match credentials(&parts, &body) {
        Ok(credentials) => credentials,
        Err(refusal) => return refusal.into_response(),
    };
    let client = endpoints.proxies.client(&parts);
    let form = is_form(&parts);
    let attempt =
        endpoints
            .auth
            .authenticate(&mut parts, &credentials.username, &credentials.password);
    let error = match endpoints
        .throttle
        .attempt(&credentials.username, client.ip, attempt)
        .await
    {
        Ok(login) => {
            let target = credentials.target();
            return logged_in(login, form, target, &client, StatusCode::OK, "Logged in");
        }
        Err(error) => error,
    };
    if form && endpoints.auth.is_session() {
        if let Some(response) = back_to_form(&parts, &client, &error) {
            return response;
        }
    }
    match error {
        Error::InvalidCredentials => invalid_credentials(),
        error => error_response(&error),
    }
}

async fn register<U>(
    State(endpoints): State<Endpoints<U>>,
    mut parts: Parts,
    body: Bytes,
) -> Response
where
    U: AuthUser + JwtSubject + Clone,
{
    if !endpoints.users.can_register() {
        return reject(
            StatusCode::NOT_FOUND,
            "disabled",
            "Registration is disabled",
        );
    }
    let credentials = match credentials(&parts, &body) {
        Ok(credentials) => credentials,
        Err(refusal) => return refusal.into_response(),
    };
    let registered = endpoints
        .users
        .register(&credentials.username, &credentials.password)
        .await;
    let user = match registered {
        Ok(user) => user,
        Err(error) => return error_response(&error),
    };
    let client = endpoints.proxies.client(&parts);
    match endpoints.auth.login(&mut parts, user).await {
        Ok(login) => logged_in(
            login,
            is_form(&parts),
            credentials.target(),
            &client,
            StatusCode::CREATED,
            "Registered",
        ),
        Err(error) => error_response(&error),
    }
}

async fn logout<U>(State(endpoints): State<Endpoints<U>>, mut parts: Parts, body: Bytes) -> Response
where
    U: AuthUser + JwtSubject + Clone,
{
    if let Err(error) = endpoints.auth.logout(&mut parts).await {
        return error_response(&error);
    }
    if !endpoints.auth.is_session() {
        return data_response(
            StatusCode::OK,
            "Logged out: the token and its login session are revoked",
            Value::Null,
        );
    }
    if is_form(&parts) {
        let client = endpoints.proxies.client(&parts);
        let target = requested_target(&parts, &body);
        return see_other(&local_target(target.as_deref(), &client));
    }
    data_response(StatusCode::OK, "Logged out", Value::Null)
}

async fn me<U>(State(endpoints): State<Endpoints<U>>, mut parts: Parts) -> Response
where
    U: AuthUser + JwtSubject + Clone,
{
    let session_user = match endpoints.auth.session_user(&mut parts).await {
        Ok(user) => user,
        Err(error) => return error_response(&error),
    };
    let (identity, claims): (Identity, Option<Claims>) = if let Some(user) = session_user {
        (Identity::of(&user, std::iter::empty::<String>()), None)
    } else if endpoints.jwt.discover_token(&parts).is_some() {
        match endpoints.jwt.parse_request(&mut parts).await {
            Ok(authenticated) => (
                Identity::of(&authenticated.user, authenticated.claims.scopes()),
                Some(authenticated.claims),
            ),
            Err(error) => return error_response(&error),
        }
    } else if let Some((username, password)) = basic_credentials(&parts.headers) {
        match endpoints.users.authenticate(&username, &password).await {
            Ok(Some(user)) => (Identity::of(&user, std::iter::empty::<String>()), None),
            Ok(None) => return invalid_credentials(),
            Err(error) => return error_response(&error),
        }
    } else {
        return error_response(&Error::TokenNotFound);
    };
    let data = json!({
        "id": identity.id(),
        "username": identity.username(),
        "roles": identity.roles(),
        "permissions": identity.permissions(),
        "scopes": identity.scopes(),
        "claims": claims,
    });
    data_response(StatusCode::OK, "Authenticated", data).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(host: &str, secure: bool) -> ClientInfo {
        let mut parts = http::Request::get("/")
            .header("host", host)
            .body(())
            .unwrap()
            .into_parts()
            .0;
        if secure {
            parts.uri = format!("https://{host}/").parse().unwrap();
        }
        TrustedProxies::default().client(&parts)
    }

    #[test]
    fn only_same_origin_paths_are_redirect_targets() {
        let app = client("app.example:8080", false);
        for (target, expected) in [
            ("/orders?page=2", Some("/orders?page=2")),
            ("/", Some("/")),
            ("http://app.example:8080/admin?x=1", Some("/admin?x=1")),
            ("HTTP://APP.EXAMPLE:8080/a", Some("/a")),
            ("http://app.example:8080", Some("/")),
            ("//evil.example/", None),
            ("/\\evil.example/", None),
            ("https://evil.example/", None),
            ("http://app.example:8080.evil.example/", None),
            ("http://app.example:8080@evil.example/", None),
            ("https://app.example:8080/", None), // another scheme: another origin
            ("javascript:alert(1)", None),
            ("orders", None),
            ("/a b", None),
            ("/a\r\nSet-Cookie:x", None),
            ("/caf\u{e9}", None),
            ("", None),
        ] {
            assert_eq!(local_path(target, &app).as_deref(), expected, "{target:?}");
        }
        assert_eq!(local_target(Some("//evil.example"), &app), "/");
        assert_eq!(local_target(None, &app), "/");
        let long = format!("/{}", "a".repeat(MAX_TARGET));
        assert_eq!(local_path(&long, &app), None);
    }
}
