//! The refresh endpoint, `POST /portcullis/refreshtoken` (cbsecurity's
//! `POST /cbsecurity/refreshtoken`).
//!
//! | situation | status |
//! |---|---|
//! | `jwt.enable_refresh_endpoint` or `jwt.enable_refresh_tokens` off | 404 |
//! | no refresh token in the `x-refresh-token` header or form field | 400 |
//! | invalid, expired, revoked, reused, or its user unknown | 401 (never 500) |
//! | token storage unreachable | 503 |
//! | refreshed | 200, `{"error": false, "messages": [..], "data": {"access_token", "refresh_token", "token_type": "Bearer", "expires_in"}}` |

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::StatusCode;

use crate::auth::AuthUser;
use crate::jwt::{JwtService, JwtSubject};
use crate::response::{data_response, error_response, reject};

/// The path of the refresh endpoint.
pub const REFRESH_PATH: &str = "/portcullis/refreshtoken";

/// The largest form body the endpoint reads.
const MAX_FORM: usize = 16 * 1024;

/// A router serving the refresh endpoint with `jwt`.
pub fn refresh_endpoint<U>(jwt: JwtService<U>) -> Router
where
    U: AuthUser + JwtSubject + Clone,
{
    Router::new()
        .route(REFRESH_PATH, post(refresh::<U>))
        .layer(DefaultBodyLimit::max(MAX_FORM))
        .with_state(jwt)
}

async fn refresh<U>(State(jwt): State<JwtService<U>>, parts: Parts, body: Bytes) -> Response
where
    U: AuthUser + JwtSubject + Clone,
{
    let settings = jwt.settings();
    if !settings.enable_refresh_endpoint {
        return reject(
            StatusCode::NOT_FOUND,
            "disabled",
            "Refresh Token Endpoint Disabled",
        );
    }
    if !settings.enable_refresh_tokens {
        return reject(
            StatusCode::NOT_FOUND,
            "disabled",
            "Refresh Tokens Not Active",
        );
    }
    let token = jwt
        .discover_refresh_token(&parts)
        .map(|t| t.as_str().to_owned())
        .or_else(|| form_token(&parts, &body, &settings.custom_refresh_header));
    let Some(token) = token else {
        return reject(
            StatusCode::BAD_REQUEST,
            "not_found",
            format!(
                "The refresh token was not passed in the {} header or form field",
                settings.custom_refresh_header
            ),
        );
    };
    match jwt.refresh_token(&token).await {
        Ok(pair) => data_response(
            StatusCode::OK,
            "Tokens refreshed! The passed in refresh token has been invalidated",
            pair,
        ),
        Err(error) => error_response(&error),
    }
}

/// The refresh token from an `application/x-www-form-urlencoded` body.
fn form_token(parts: &Parts, body: &[u8], field: &str) -> Option<String> {
    let is_form = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return None;
    }
    form_urlencoded::parse(body)
        .find(|(key, value)| key == field && !value.is_empty())
        .map(|(_, value)| value.into_owned())
}
