//! [`endpoint`]: `GET /portcullis/csrf/generate/{key}`, a token for script clients
//! (cbcsrf's `/cbcsrf/generate/:key?`).
//!
//! 1. Off (`enable_endpoint = false`, the default): the router has no route, so the path is
//!    a 404 as in cbcsrf.
//! 2. The caller must be authenticated (an [`Identity`] in the request: apply the firewall or
//!    your authentication outside); otherwise 401.
//! 3. The key is optional (`default`); an invalid key name is a 400.
//! 4. The body is the token as `text/plain`, with `Cache-Control: no-store`.
//!
//! The router needs the [`CsrfLayer`](super::CsrfLayer): merge it into your app before
//! applying the layer.
//!
//! ```
//! use axum::Router;
//! use portcullis::csrf::{endpoint, CsrfLayer};
//! use portcullis::settings::Settings;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let settings = Settings::from_toml_str("csrf.enable_endpoint = true")?;
//! let app = Router::new()
//!     .merge(endpoint(&settings.csrf))
//!     .layer(CsrfLayer::from_settings(&settings).await?);
//! let anonymous = http::Request::get("/portcullis/csrf/generate/checkout")
//!     .body(axum::body::Body::empty()).unwrap();
//! assert_eq!(app.oneshot(anonymous).await.unwrap().status(), 401);
//! # Ok(()) }
//! ```

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::StatusCode;

use super::context::Csrf;
use super::tokens::{is_valid_key, DEFAULT_KEY};
use crate::auth::Identity;
use crate::response::refuse;
use crate::settings::CsrfSettings;

/// Where the endpoint is served.
pub const ENDPOINT_PATH: &str = "/portcullis/csrf/generate";

/// The token endpoint's routes (none when `enable_endpoint` is off).
pub fn endpoint<S: Clone + Send + Sync + 'static>(settings: &CsrfSettings) -> Router<S> {
    if !settings.enable_endpoint {
        return Router::new();
    }
    Router::new()
        .route(
            ENDPOINT_PATH,
            get(|_: Identity, csrf: Csrf| generate(csrf, DEFAULT_KEY.to_owned())),
        )
        .route(
            &format!("{ENDPOINT_PATH}/{{key}}"),
            get(|_: Identity, csrf: Csrf, Path(key): Path<String>| generate(csrf, key)),
        )
}

async fn generate(csrf: Csrf, key: String) -> Response {
    if !is_valid_key(&key) {
        return refuse(
            false,
            StatusCode::BAD_REQUEST,
            "csrf_key",
            "Invalid CSRF key: use 1 to 64 letters, digits, '_', '-', '.' or ':'",
        );
    }
    match csrf.token(&key).await {
        Ok(token) => (
            [
                (CONTENT_TYPE, "text/plain; charset=utf-8"),
                (CACHE_CONTROL, "no-store"),
            ],
            token,
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}
