//! [`RequestLimitsLayer`]: bounds on what a client may send, checked before anything else
//! reads the request.
//!
//! 1. The request head — method, target, version and every header line — is measured; above
//!    `max_header_size` bytes the request is refused with **431**.
//! 2. A `Content-Length` above `max_body_size` is refused with **413** before any byte of the
//!    body is read.
//! 3. Any other body is wrapped so that it fails once more than `max_body_size` bytes have
//!    streamed through; the reverse proxy answers that failure with 413 too (see
//!    [`body_too_large`]). Bodies are never buffered here.
//!
//! Refusals carry a [`Rejection`](crate::response::Rejection) in their extensions.
//!
//! ```
//! use std::convert::Infallible;
//! use axum::body::Body;
//! use http::{Request, Response, StatusCode};
//! use portcullis::gateway::RequestLimitsLayer;
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let ok = service_fn(|_: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::empty())) });
//! let service = RequestLimitsLayer::new(1024, 2048).layer(ok);
//!
//! let big_header = Request::builder().header("x-big", "a".repeat(3000)).body(Body::empty()).unwrap();
//! assert_eq!(service.clone().oneshot(big_header).await.unwrap().status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
//!
//! let big_body = Request::builder().header("content-length", "1025").body(Body::empty()).unwrap();
//! assert_eq!(service.clone().oneshot(big_body).await.unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);
//!
//! assert_eq!(service.oneshot(Request::new(Body::empty())).await.unwrap().status(), StatusCode::OK);
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use http::header::CONTENT_LENGTH;
use http::{Request, StatusCode};
use http_body_util::{LengthLimitError, Limited};
use tower_layer::Layer;
use tower_service::Service;

use crate::response::reject;

/// Refuses requests whose head or body is too large.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimitsLayer {
    max_body_size: u64,
    max_header_size: usize,
}

impl RequestLimitsLayer {
    /// Bodies up to `max_body_size` bytes, heads up to `max_header_size` bytes
    /// (`gateway.max_body_size`, `gateway.max_header_size`).
    pub fn new(max_body_size: u64, max_header_size: usize) -> Self {
        RequestLimitsLayer {
            max_body_size,
            max_header_size,
        }
    }
}

impl<S> Layer<S> for RequestLimitsLayer {
    type Service = RequestLimits<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestLimits {
            inner,
            limits: *self,
        }
    }
}

/// The service made by [`RequestLimitsLayer`].
#[derive(Debug, Clone)]
pub struct RequestLimits<S> {
    inner: S,
    limits: RequestLimitsLayer,
}

/// The future of [`RequestLimits`].
pub type ResponseFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

impl<S> Service<Request<Body>> for RequestLimits<S>
where
    S: Service<Request<Body>, Response = Response>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let limits = self.limits;
        if head_size(&request) > limits.max_header_size {
            let refusal = reject(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "header_too_large",
                format!(
                    "Request Header Fields Too Large: the request head exceeds {} bytes",
                    limits.max_header_size
                ),
            );
            return Box::pin(std::future::ready(Ok(refusal)));
        }
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|length| length > limits.max_body_size) {
            return Box::pin(std::future::ready(Ok(too_large(Some(
                limits.max_body_size,
            )))));
        }
        let limit = usize::try_from(limits.max_body_size).unwrap_or(usize::MAX);
        let request = request.map(|body| Body::new(Limited::new(body, limit)));
        Box::pin(self.inner.call(request))
    }
}

/// The 413 refusal for bodies above `limit` bytes (or the configured limit).
pub(crate) fn too_large(limit: Option<u64>) -> Response {
    let limit = limit.map_or_else(|| "the limit".to_owned(), |l| format!("{l} bytes"));
    reject(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("Payload Too Large: the request body exceeds {limit}"),
    )
}

/// Whether `error` (or one of its sources) is a body that grew past the limit this layer set.
pub fn body_too_large(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<LengthLimitError>() {
            return true;
        }
        current = error.source();
    }
    false
}

/// The size of the request head as sent over HTTP/1.1.
fn head_size<B>(request: &Request<B>) -> usize {
    let target = request
        .uri()
        .path_and_query()
        .map_or(1, |p| p.as_str().len());
    let line = request.method().as_str().len() + target + " HTTP/1.1\r\n".len() + 1;
    request.headers().iter().fold(line, |total, (name, value)| {
        total + name.as_str().len() + value.len() + ": \r\n".len()
    })
}
