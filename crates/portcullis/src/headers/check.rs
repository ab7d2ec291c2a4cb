//! The service shared by the request checks ([`HttpsRedirect`](super::HttpsRedirect),
//! [`HostValidation`](super::HostValidation), [`IpValidation`](super::IpValidation)): each
//! looks at the request's head and either answers it itself or passes it on untouched.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::response::Response;
use http::request::Parts;
use http::Request;
use pin_project_lite::pin_project;
use tower_service::Service;

/// A check on a request's head: `Some(response)` answers the request instead of the inner
/// service.
pub trait RequestCheck: Clone + Send + Sync + 'static {
    /// The answer to a request that fails the check, or `None` to pass it on.
    fn check(&self, parts: &Parts) -> Option<Response>;
}

/// A service that runs a [`RequestCheck`] before its inner service.
#[derive(Debug, Clone)]
pub struct Checked<S, C> {
    inner: S,
    check: C,
}

impl<S, C> Checked<S, C> {
    pub(crate) fn new(inner: S, check: C) -> Self {
        Checked { inner, check }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, C, B> Service<Request<B>> for Checked<S, C>
where
    S: Service<Request<B>, Response = Response>,
    C: RequestCheck,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (parts, body) = request.into_parts();
        match self.check.check(&parts) {
            Some(response) => ResponseFuture {
                kind: Kind::Answered {
                    response: Some(response),
                },
            },
            None => ResponseFuture {
                kind: Kind::Inner {
                    future: self.inner.call(Request::from_parts(parts, body)),
                },
            },
        }
    }
}

pin_project! {
    /// The future of the request checks: the inner service's, or the check's own answer.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = Projected]
    enum Kind<F> {
        Inner {
            #[pin]
            future: F,
        },
        Answered {
            response: Option<Response>,
        },
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            Projected::Inner { future } => future.poll(cx),
            Projected::Answered { response } => answered(response),
        }
    }
}

/// The answer a layer made without calling its inner service, taken on the first poll.
pub(crate) fn answered<E>(response: &mut Option<Response>) -> Poll<Result<Response, E>> {
    match response.take() {
        Some(response) => Poll::Ready(Ok(response)),
        None => panic!("ResponseFuture polled after completion"),
    }
}
