//! The Basic-auth logout endpoint (cbsecurity's `BasicAuth.logout`, spec §7.3).
//!
//! A browser keeps Basic credentials and sends them again by itself; the only way to make it
//! forget them is to answer a request that carried them with a 401 and a fresh challenge.
//! So the endpoint:
//!
//! 1. answers any method on [`BASIC_LOGOUT_PATH`];
//! 2. with **401**, `WWW-Authenticate: Basic realm="…", charset="UTF-8"` (the realm of the
//!    validator, so the browser ties it to the same credentials),
//!    `Cache-Control: no-cache, must-revalidate, max-age=0` and `Clear-Site-Data: "cache"`
//!    (the credential cache of browsers that honour it);
//! 3. and a short body, `<h1>Logout Successful!</h1>` — or JSON for clients that ask for it.
//!
//! Nothing is stored for a Basic-auth user, so there is nothing else to forget; the endpoint
//! never looks at the credentials the request carries.
//!
//! ```
//! use axum::body::Body;
//! use http::{header, Request, StatusCode};
//! use portcullis::auth::{basic_logout_endpoint, BASIC_LOGOUT_PATH};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let app = basic_logout_endpoint("portcullis")?;
//! let request = Request::post(BASIC_LOGOUT_PATH).body(Body::empty())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(
//!     response.headers()[header::WWW_AUTHENTICATE],
//!     "Basic realm=\"portcullis\", charset=\"UTF-8\""
//! );
//! # Ok(()) }
//! ```

use axum::response::{Html, IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::json;

use super::service::basic_challenge;
use crate::firewall::action::wants_json;
use crate::Result;

/// Where [`basic_logout_endpoint`] answers (cbsecurity: `/cbsecurity/basicauth/logout`).
pub const BASIC_LOGOUT_PATH: &str = "/portcullis/basicauth/logout";

/// What the endpoint says, as cbsecurity did.
const LOGGED_OUT: &str = "Logout Successful!";

/// A router answering [`BASIC_LOGOUT_PATH`] (any method) with the 401 that makes a browser
/// drop its cached Basic credentials for `realm`; merge it into your app next to the
/// routes a [`BasicAuthValidator`](crate::firewall::BasicAuthValidator) of the same realm
/// protects.
///
/// # Errors
/// [`Error::Config`](crate::Error::Config) naming `basic_auth.realm` if the realm cannot be
/// sent in a header.
pub fn basic_logout_endpoint(realm: &str) -> Result<Router> {
    let challenge = basic_challenge(realm)?;
    Ok(Router::new().route(
        BASIC_LOGOUT_PATH,
        any(move |parts: Parts| {
            let challenge = challenge.clone();
            async move { logged_out(&parts, challenge) }
        }),
    ))
}

/// The 401 of the logout endpoint.
fn logged_out(request: &Parts, challenge: HeaderValue) -> Response {
    let mut response = if wants_json(request) {
        Json(json!({ "error": false, "messages": [LOGGED_OUT] })).into_response()
    } else {
        Html(format!("<h1>{LOGGED_OUT}</h1>")).into_response()
    };
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    let headers = response.headers_mut();
    headers.insert(WWW_AUTHENTICATE, challenge);
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, must-revalidate, max-age=0"),
    );
    headers.insert(
        HeaderName::from_static("clear-site-data"),
        HeaderValue::from_static("\"cache\""),
    );
    response
}
