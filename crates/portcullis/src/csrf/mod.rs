//! CSRF protection (cbcsrf, spec §1.3 and §6, with its weaknesses fixed; feature `csrf`).
//!
//! Two mechanisms, each switched on by the `csrf` settings:
//!
//! 1. **Synchronizer tokens** — [`CsrfTokens`] (256-bit random tokens bound to the
//!    session, the user or an anonymous cookie, named keys, expiry, rotation) over a
//!    [`CsrfStore`] (process memory, or with `csrf.storage = "shared"` the SQL or Redis
//!    backend of `jwt.token_storage`, shared by every instance), [`Csrf`] (the
//!    extractor handlers use: `token`, `verify`, `hidden_field`, `rotate`),
//!    [`CsrfLayer`] (puts [`Csrf`] into requests and, with `enable_auto_verifier`, refuses
//!    unsafe requests without the right token) and [`endpoint`]
//!    (`GET /portcullis/csrf/generate/{key}` for authenticated script clients).
//! 2. **Fetch Metadata / Origin checks** — [`FetchMetadataLayer`]: refuses state-changing
//!    cross-site requests without any token, from what the browser says about their origin.
//!    Good for JSON APIs called from your own pages.
//!
//! Refusals are 403 with a short body (JSON for JSON clients), never a 500. Call
//! [`Csrf::on_authentication_change`] (or [`CsrfTokens::on_authentication_change`]) at login
//! and logout: tokens issued before are then refused (`enable_auth_token_rotator`).
//!
//! Order: session layer → firewall (identifies the user) → [`CsrfLayer`] → routes, so tokens
//! bind to the session or user. With `Router::layer` that is:
//!
//! ```
//! use axum::{routing::{get, post}, Router};
//! use portcullis::csrf::{endpoint, Csrf, CsrfLayer, FetchMetadataLayer};
//! use portcullis::settings::Settings;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let settings = Settings::from_toml_str(r#"
//!     [csrf]
//!     enable_auto_verifier = true
//!     verify_excludes = "^/webhooks/"
//!     fetch_metadata = { enabled = true }
//! "#)?;
//! let app = Router::new()
//!     .route("/login", get(|csrf: Csrf| async move { csrf.hidden_field().await }))
//!     .route("/login", post(|csrf: Csrf| async move {
//!         // … check the password, start the session …
//!         csrf.on_authentication_change().await;
//!         "welcome"
//!     }))
//!     .route("/webhooks/payment", post(|| async { "ok" }))
//!     .merge(endpoint(&settings.csrf))
//!     .layer(CsrfLayer::from_settings(&settings).await?)
//!     .layer(FetchMetadataLayer::from_settings(&settings));
//! // let app = firewall.protect(app); and the session layer outside it.
//!
//! let hook = http::Request::post("/webhooks/payment").body(axum::body::Body::empty()).unwrap();
//! assert_eq!(app.clone().oneshot(hook).await.unwrap().status(), 200);
//! let forged = http::Request::post("/login")
//!     .header("sec-fetch-site", "cross-site")
//!     .body(axum::body::Body::empty()).unwrap();
//! assert_eq!(app.oneshot(forged).await.unwrap().status(), 403);
//! # Ok(()) }
//! ```

mod context;
mod endpoint;
mod fetch_metadata;
mod layer;
mod store;
mod tokens;

pub use self::context::{Csrf, FORM_FIELD, HEADER, PLAIN_COOKIE, SECURE_COOKIE};
pub use self::endpoint::{endpoint, ENDPOINT_PATH};
pub use self::fetch_metadata::{FetchMetadata, FetchMetadataLayer};
pub use self::layer::{CsrfExempt, CsrfLayer, CsrfService, ResponseFuture};
#[cfg(feature = "storage-redis")]
pub use self::store::RedisCsrfStore;
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
pub use self::store::SqlCsrfStore;
pub use self::store::{store_from_settings, CsrfBucket, CsrfStore, MemoryCsrfStore, StoredToken};
pub use self::tokens::{
    is_valid_key, CsrfBinding, CsrfTokens, DEFAULT_KEY, MAX_KEYS_PER_BINDING, MAX_KEY_LENGTH,
};
