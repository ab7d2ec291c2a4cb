//! The gateway's own endpoints, under `/portcullis/`. Firewall rules do not apply to them:
//! they are public by nature (log in, register, refresh, health) or authenticate the request
//! themselves (`me`, `logout`). Every other path under `/portcullis/` is 404 and never
//! reaches the upstream.
//!
//! | endpoint | answers |
//! |---|---|
//! | `POST /portcullis/login` | `username` + `password` as JSON or a form → 200 with the token (pair) in `data`; 401 `Invalid Credentials` for an unknown user and a wrong password alike; 429 with `Retry-After` while the username or address is backing off (`authentication.login_protection`) |
//! | `POST /portcullis/register` | the same body → 201 with a token (pair) for the new user; 409 when the name is taken, 400 when the user store refuses the name or password; 404 unless the user store registers (`users.allow_registration`) |
//! | `POST /portcullis/logout` | revokes the presented access token and its login session → 200; 401 without a valid token |
//! | `POST /portcullis/refreshtoken` | the library's refresh endpoint ([`refresh_endpoint`]) |
//! | `GET /portcullis/me` | the caller (bearer token, or Basic credentials) and the token's claims → 200; 401 otherwise |
//! | `GET` or `HEAD /portcullis/health` | 200 `{"status": "up", "checks": {…}}` when token storage, the users, login protection and the upstream answer; 503 with `"status": "down"` and the failed checks otherwise ([`health`](super::health)) |
//!
//! Bodies are cbsecurity's envelope (`{"error", "messages", "data"}`), at most 16 KiB.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::request::Parts;
use http::HeaderValue;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::health::Health;
use super::GatewayUsers;
use crate::auth::{basic_credentials, AuthUser, Identity, LoginThrottle};
use crate::jwt::{refresh_endpoint, Claims, JwtService, JwtSubject};
use crate::net::TrustedProxies;
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

/// What the endpoints work with.
pub(crate) struct Endpoints<U> {
    pub(crate) jwt: JwtService<U>,
    pub(crate) users: Arc<dyn GatewayUsers<User = U>>,
    pub(crate) throttle: LoginThrottle,
    pub(crate) proxies: TrustedProxies,
    pub(crate) health: Arc<Health>,
}

impl<U> Clone for Endpoints<U> {
    fn clone(&self) -> Self {
        Endpoints {
            jwt: self.jwt.clone(),
            users: self.users.clone(),
            throttle: self.throttle.clone(),
            proxies: self.proxies.clone(),
            health: self.health.clone(),
        }
    }
}

/// The router of the gateway's endpoints.
pub(crate) fn router<U>(endpoints: Endpoints<U>) -> Router
where
    U: AuthUser + JwtSubject + Clone,
{
    let jwt = endpoints.jwt.clone();
    Router::new()
        .route("/portcullis/login", post(login::<U>))
        .route("/portcullis/register", post(register::<U>))
        .route("/portcullis/logout", post(logout::<U>))
        .route("/portcullis/me", get(me::<U>))
        // `get` answers HEAD too, without the body.
        .route("/portcullis/health", get(health::<U>))
        .route("/portcullis", any(not_found))
        .route("/portcullis/{*rest}", any(not_found))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(endpoints)
        .merge(refresh_endpoint(jwt))
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

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// Why a body was refused: status, error kind, message.
struct Refusal(StatusCode, &'static str, &'static str);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        reject(self.0, self.1, self.2)
    }
}

/// The credentials of a JSON or form body, bounded; the refusal otherwise.
fn credentials(parts: &Parts, body: &[u8]) -> Result<Credentials, Refusal> {
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let parsed = if content_type.starts_with("application/json") {
        serde_json::from_slice::<Credentials>(body).ok()
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let mut username = None;
        let mut password = None;
        for (key, value) in form_urlencoded::parse(body) {
            match key.as_ref() {
                "username" => username = Some(value.into_owned()),
                "password" => password = Some(value.into_owned()),
                _ => {}
            }
        }
        username
            .zip(password)
            .map(|(username, password)| Credentials { username, password })
    } else {
        return Err(Refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send username and password as JSON or as a form",
        ));
    };
    let Some(credentials) = parsed else {
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
    Ok(credentials)
}

/// 401 `Invalid Credentials`, the same for an unknown user and a wrong password.
fn invalid_credentials() -> Response {
    reject(
        StatusCode::UNAUTHORIZED,
        Error::InvalidCredentials.kind(),
        "Invalid Credentials",
    )
}

async fn login<U>(State(endpoints): State<Endpoints<U>>, parts: Parts, body: Bytes) -> Response
where
    U: AuthUser + JwtSubject + Clone,
{
    let credentials = match credentials(&parts, &body) {
        Ok(credentials) => credentials,
        Err(refusal) => return refusal.into_response(),
    };
    let ip = endpoints.proxies.client_ip(&parts);
    let login = endpoints
        .jwt
        .attempt(&credentials.username, &credentials.password);
    match endpoints
        .throttle
        .attempt(&credentials.username, ip, login)
        .await
    {
        Ok(tokens) => data_response(StatusCode::OK, "Logged in", tokens),
        Err(Error::InvalidCredentials) => invalid_credentials(),
        Err(error) => error_response(&error),
    }
}

async fn register<U>(State(endpoints): State<Endpoints<U>>, parts: Parts, body: Bytes) -> Response
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
    match endpoints.jwt.from_user(&user, Map::new(), Map::new()).await {
        Ok(tokens) => data_response(StatusCode::CREATED, "Registered", tokens),
        Err(error) => error_response(&error),
    }
}

async fn logout<U>(State(endpoints): State<Endpoints<U>>, parts: Parts) -> Response
where
    U: AuthUser + JwtSubject + Clone,
{
    let Some(token) = endpoints.jwt.discover_token(&parts) else {
        return error_response(&Error::TokenNotFound);
    };
    match endpoints.jwt.logout(token.as_str()).await {
        Ok(()) => data_response(
            StatusCode::OK,
            "Logged out: the token and its login session are revoked",
            Value::Null,
        ),
        Err(error) => error_response(&error),
    }
}

async fn me<U>(State(endpoints): State<Endpoints<U>>, mut parts: Parts) -> Response
where
    U: AuthUser + JwtSubject + Clone,
{
    let (identity, claims): (Identity, Option<Claims>) =
        if endpoints.jwt.discover_token(&parts).is_some() {
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
