//! axum integration for the JWT service: extractors, a layer that requires a valid access
//! token (with optional auto-refresh), and the refresh endpoint.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use portcullis::auth::CurrentUser;
//! use portcullis::jwt::{refresh_endpoint, Claims, JwtAuthLayer, JwtService, JwtSubject};
//! # use portcullis::auth::{AuthUser, UserService};
//! # #[derive(Clone)] struct User; impl AuthUser for User { fn id(&self) -> String { "1".into() } }
//! # impl JwtSubject for User { fn jwt_subject(&self) -> String { self.id() } }
//!
//! async fn me(CurrentUser(user): CurrentUser<User>, claims: Claims) -> String {
//!     format!("{} with scopes {:?}", user.id(), claims.scope())
//! }
//!
//! fn app(jwt: JwtService<User>) -> Router {
//!     Router::new()
//!         .route("/me", get(me))
//!         .layer(JwtAuthLayer::new(jwt.clone()))   // 401 without a valid token
//!         .merge(refresh_endpoint(jwt))            // POST /portcullis/refreshtoken
//! }
//! ```

mod extract;
mod layer;
mod refresh;

pub use self::layer::{JwtAuth, JwtAuthLayer, ResponseFuture};
pub use self::refresh::{refresh_endpoint, REFRESH_PATH};
