//! How portcullis answers when it refuses a request or serves one of its endpoints.
//!
//! Every body is cbsecurity's JSON envelope, `{"error": bool, "messages": [..], "data": ..}`;
//! every refusal also carries a [`Rejection`] in the response's extensions, so logs and metrics
//! layers further out can read why without parsing the body (tower-http style).
//!
//! | error | status |
//! |---|---|
//! | token not found, expired, invalid, rejected (revoked); unknown user; nobody logged in; bad credentials | 401, with `WWW-Authenticate: Bearer` |
//! | not authorized (`Security::secure` and friends) | 403 |
//! | refresh tokens not enabled; no such user (user store) | 404 |
//! | a user of that name exists already (user store) | 409 |
//! | an unacceptable username, password, role… | 400 |
//! | too many failed logins (login protection) | 429, with `Retry-After` (seconds) |
//! | token storage or another backend unreachable | 503 (fail closed) |
//! | anything else | 500, with a generic message |
//!
//! ```
//! use portcullis::response::{error_response, Rejection};
//! use portcullis::Error;
//!
//! let response = error_response(&Error::TokenExpired);
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.extensions().get::<Rejection>().unwrap().kind, "expired");
//! assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
//! ```

use axum::response::{IntoResponse, Response};
use axum::Json;
use http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::Error;

/// Why portcullis refused a request; found in the refusal's response extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The status sent.
    pub status: StatusCode,
    /// The error kind, as [`Error::kind`] names it.
    pub kind: &'static str,
    /// The message sent.
    pub message: String,
}

/// cbsecurity's response envelope.
#[derive(Debug, Serialize)]
pub struct Envelope<T: Serialize> {
    /// Whether this is an error.
    pub error: bool,
    /// Human-readable messages.
    pub messages: Vec<String>,
    /// The payload, `null` for errors.
    pub data: T,
}

/// A successful envelope response with `data`. `Cache-Control: no-store` is set, as token
/// responses require (RFC 6749 §5.1).
pub fn data_response<T: Serialize>(status: StatusCode, message: &str, data: T) -> Response {
    let envelope = Envelope {
        error: false,
        messages: vec![message.to_owned()],
        data,
    };
    let mut response = (status, Json(envelope)).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A refusal: `status`, the envelope with `message`, and the [`Rejection`] extension.
pub fn reject(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Response {
    let message = message.into();
    let envelope = Envelope {
        error: true,
        messages: vec![message.clone()],
        data: Value::Null,
    };
    refusal((status, Json(envelope)).into_response(), kind, message)
}

/// `response` marked as a refusal: not cached, with its [`Rejection`].
fn refusal(mut response: Response, kind: &'static str, message: String) -> Response {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let status = response.status();
    response.extensions_mut().insert(Rejection {
        status,
        kind,
        message,
    });
    response
}

/// A refusal in the client's format: the JSON envelope of [`reject`] when `json` (the client
/// asked for JSON), else `message` as `text/plain`; both carry the [`Rejection`] extension.
pub fn refuse(json: bool, status: StatusCode, kind: &'static str, message: &str) -> Response {
    if json {
        return reject(status, kind, message);
    }
    refusal(
        (status, message.to_owned()).into_response(),
        kind,
        message.to_owned(),
    )
}

/// The status an error is answered with.
pub fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::TokenNotFound
        | Error::TokenExpired
        | Error::TokenInvalid { .. }
        | Error::TokenRejected { .. }
        | Error::UnknownUser
        | Error::NoUserLoggedIn
        | Error::InvalidCredentials => StatusCode::UNAUTHORIZED,
        Error::NotAuthorized { .. } => StatusCode::FORBIDDEN,
        Error::RefreshTokensNotActive | Error::UserNotFound { .. } => StatusCode::NOT_FOUND,
        Error::UserExists { .. } => StatusCode::CONFLICT,
        Error::InvalidInput { .. } => StatusCode::BAD_REQUEST,
        Error::LoginLocked { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The response for `error`: status, message and, for 401, a `WWW-Authenticate: Bearer`
/// challenge (with `error="invalid_token"` when a token was presented, RFC 6750 §3).
pub fn error_response(error: &Error) -> Response {
    let status = status_of(error);
    let message = match status {
        StatusCode::INTERNAL_SERVER_ERROR => {
            tracing::error!(error = %error, "portcullis failed to handle a request");
            "internal error".to_owned()
        }
        StatusCode::SERVICE_UNAVAILABLE => {
            tracing::warn!(error = %error, "refusing a request: a backend is unavailable");
            error.to_string()
        }
        _ => error.to_string(),
    };
    let mut response = reject(status, error.kind(), message);
    if status == StatusCode::UNAUTHORIZED {
        let challenge = match error {
            Error::TokenNotFound | Error::InvalidCredentials | Error::NoUserLoggedIn => {
                "Bearer realm=\"portcullis\""
            }
            _ => "Bearer realm=\"portcullis\", error=\"invalid_token\"",
        };
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    if let Error::LoginLocked { retry_after } = error {
        let seconds = crate::error::whole_seconds(*retry_after);
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

impl IntoResponse for Error {
    /// [`error_response`]: handlers may return `Result<_, portcullis::Error>`.
    fn into_response(self) -> Response {
        error_response(&self)
    }
}
