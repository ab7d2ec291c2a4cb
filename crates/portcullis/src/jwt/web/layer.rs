//! [`JwtAuthLayer`]: every request must carry a valid access token.
//!
//! 1. The token is discovered and parsed ([`JwtService::parse_request`]): signature, claims,
//!    token type, token storage, user. On success the token, claims and user go into the
//!    request's extensions and the inner service runs.
//! 2. On an expired, invalid or missing access token ([`JwtService::authenticate_request`]), when
//!    `jwt.enable_auto_refresh_validator` is on and the request carries a refresh token, the
//!    pair is rotated in-band: the request proceeds with the new access token and the
//!    response carries the new pair in the `x-auth-token` / `x-refresh-token` headers (the
//!    configured names). A **revoked** access token is never auto-refreshed.
//! 3. Otherwise the request is refused: 401 (with the reason), or 503 when token storage is
//!    unreachable — never let through.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::response::Response;
use http::Request;
use tower_layer::Layer;
use tower_service::Service;

use crate::auth::AuthUser;
use crate::jwt::{JwtService, JwtSubject};
use crate::response::error_response;

/// Requires a valid access token on every request of the service it wraps.
pub struct JwtAuthLayer<U> {
    jwt: JwtService<U>,
}

impl<U> JwtAuthLayer<U> {
    /// A layer checking tokens with `jwt`.
    pub fn new(jwt: JwtService<U>) -> Self {
        JwtAuthLayer { jwt }
    }
}

impl<U> Clone for JwtAuthLayer<U> {
    fn clone(&self) -> Self {
        JwtAuthLayer {
            jwt: self.jwt.clone(),
        }
    }
}

impl<S, U> Layer<S> for JwtAuthLayer<U> {
    type Service = JwtAuth<S, U>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth {
            inner,
            jwt: self.jwt.clone(),
        }
    }
}

/// The service made by [`JwtAuthLayer`].
pub struct JwtAuth<S, U> {
    inner: S,
    jwt: JwtService<U>,
}

impl<S: Clone, U> Clone for JwtAuth<S, U> {
    fn clone(&self) -> Self {
        JwtAuth {
            inner: self.inner.clone(),
            jwt: self.jwt.clone(),
        }
    }
}

/// The future of [`JwtAuth`].
pub type ResponseFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

impl<S, U, B> Service<Request<B>> for JwtAuth<S, U>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
    U: AuthUser + JwtSubject + Clone,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let jwt = self.jwt.clone();
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            match jwt.authenticate_request(&mut parts).await {
                Ok((_, refreshed)) => {
                    let mut response = inner.call(Request::from_parts(parts, body)).await?;
                    if let Some(pair) = refreshed {
                        response.headers_mut().extend(jwt.pair_headers(&pair));
                    }
                    Ok(response)
                }
                Err(error) => Ok(error_response(&error)),
            }
        })
    }
}
