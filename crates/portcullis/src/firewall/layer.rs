//! [`FirewallLayer`]: the firewall in front of a router.
//!
//! 1. The request's targets are computed once: the normalised path (`match = "url"`) and the
//!    axum route template (`match = "route"`, from `MatchedPath`: apply the layer with
//!    `Router::layer` so routing has happened).
//! 2. The first applying rule is found (whitelists skip their rule) and its validator asked;
//!    then the rule's IP and method lists are enforced.
//! 3. Allowed: the request goes on with [`MatchedRule`](super::MatchedRule),
//!    [`VerdictOf`](super::VerdictOf) and the current user in its extensions; headers the
//!    validator asked for (a refreshed token pair) are added to the response. No rule applies:
//!    the user is identified if possible and the request goes on.
//! 4. Refused: the invalid-access flow ([`action`](super::action)) — a redirect, a block, or an
//!    override, which this layer answers by calling the inner service again with the target
//!    route. An override whose target is refused too is blocked, never looped.
//! 5. Route guards inside ([`secured`](crate::guard::secured)) reach the firewall through the
//!    request's extensions and use the same flow.
//!
//! A validator that cannot reach its backend makes the request fail with 503; nothing is let
//! through on doubt.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use axum::Router;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use http::request::Parts;
use http::{HeaderMap, Method, Request, Uri};
use tower::ServiceExt as _;
use tower_layer::Layer;
use tower_service::Service;

use super::engine::{Firewall, Outcome};

/// Puts a [`Firewall`] in front of a service.
///
/// Most apps use [`Firewall::protect`], which also tells the layer where override targets
/// live. With `Router::layer` the layer wraps each route separately, so an override needs the
/// router: give it with [`FirewallLayer::overrides_to`]. Without one, overrides are sent to the
/// wrapped service itself — right only when the layer wraps the whole router from outside.
#[derive(Clone)]
pub struct FirewallLayer {
    firewall: Firewall,
    overrides: Option<Router>,
}

impl FirewallLayer {
    /// A layer enforcing `firewall`.
    pub fn new(firewall: Firewall) -> Self {
        FirewallLayer {
            firewall,
            overrides: None,
        }
    }

    /// Answers overrides with `router` (the routes, without this layer: rules are not applied
    /// again to an override target, its route guards are).
    pub fn overrides_to(mut self, router: Router) -> Self {
        self.overrides = Some(router);
        self
    }
}

impl<S> Layer<S> for FirewallLayer {
    type Service = FirewallService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FirewallService {
            inner,
            firewall: self.firewall.clone(),
            overrides: self.overrides.clone(),
        }
    }
}

/// The service made by [`FirewallLayer`].
#[derive(Clone)]
pub struct FirewallService<S> {
    inner: S,
    firewall: Firewall,
    overrides: Option<Router>,
}

impl Firewall {
    /// `router` behind this firewall: rules on every route, guards working, overrides answered
    /// by the router's own routes.
    pub fn protect(&self, router: Router) -> Router {
        router
            .clone()
            .layer(FirewallLayer::new(self.clone()).overrides_to(router))
    }
}

/// The future of [`FirewallService`].
pub type ResponseFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

/// Marks the request an override dispatched, so a refusal of it is blocked, not overridden
/// again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OverrideDispatch;

/// Carried by a guard's response when the guard resolved to an override: the firewall layer
/// answers with the target route instead, telling it what the guard decided.
#[derive(Debug, Clone)]
pub(crate) struct OverrideTo {
    pub(crate) target: String,
    pub(crate) verdict: Option<super::VerdictOf>,
    pub(crate) secured: Option<super::SecuredUrl>,
}

impl<S> Service<Request<Body>> for FirewallService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let firewall = self.firewall.clone();
        let overrides = self.overrides.clone();
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            parts.extensions.insert(firewall.clone());
            let outcome = firewall.check_rules(&mut parts).await;
            let headers = match outcome {
                Outcome::Pass(headers) => headers,
                Outcome::Respond(response) => return Ok(response),
                Outcome::Override(target) => {
                    return dispatch_override(&firewall, overrides, &mut inner, &parts, &target)
                        .await;
                }
            };
            let keep = (firewall.may_override()
                && parts.extensions.get::<OverrideDispatch>().is_none())
            .then(|| copy_parts(&parts));
            let pending = PendingHeaders::default();
            parts.extensions.insert(pending.clone());
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            if let Some(to) = response.extensions_mut().remove::<OverrideTo>() {
                let Some(mut original) = keep else {
                    return Ok(response);
                };
                if let Some(verdict) = to.verdict {
                    original.extensions.insert(verdict);
                }
                if let Some(secured) = to.secured {
                    original.extensions.insert(secured);
                }
                return dispatch_override(&firewall, overrides, &mut inner, &original, &to.target)
                    .await;
            }
            response.headers_mut().extend(headers);
            response.headers_mut().extend(pending.take());
            Ok(response)
        })
    }
}

/// Headers a guard inside asks to add to the response (a refreshed token pair): guards run
/// before the handler and cannot touch the response themselves.
#[derive(Debug, Clone, Default)]
pub(crate) struct PendingHeaders(Arc<Mutex<HeaderMap>>);

impl PendingHeaders {
    /// Adds headers to the response.
    pub(crate) fn add(&self, headers: HeaderMap) {
        if let Ok(mut pending) = self.0.lock() {
            pending.extend(headers);
        }
    }

    fn take(&self) -> HeaderMap {
        self.0
            .lock()
            .map(|mut pending| std::mem::take(&mut *pending))
            .unwrap_or_default()
    }
}

fn copy_parts(parts: &Parts) -> Parts {
    let mut request = Request::new(());
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.headers_mut() = parts.headers.clone();
    *request.extensions_mut() = parts.extensions.clone();
    request.into_parts().0
}

/// Answers a refused request with the route at `target`: a `GET` with the original query,
/// headers and extensions (the refused rule and verdict included), no body.
async fn dispatch_override<S>(
    firewall: &Firewall,
    overrides: Option<Router>,
    inner: &mut S,
    parts: &Parts,
    target: &str,
) -> Result<Response, S::Error>
where
    S: Service<Request<Body>, Response = Response>,
{
    if parts.extensions.get::<OverrideDispatch>().is_some() {
        return Ok(firewall.block_override(parts));
    }
    let uri = match (target.split_once('?'), parts.uri.query()) {
        (None, Some(query)) => format!("{target}?{query}"),
        _ => target.to_owned(),
    };
    let Ok(uri) = uri.parse::<Uri>() else {
        return Ok(firewall.block_override(parts));
    };
    let mut request = Request::new(Body::empty());
    *request.method_mut() = Method::GET;
    *request.uri_mut() = uri;
    *request.headers_mut() = parts.headers.clone();
    for name in [CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING] {
        request.headers_mut().remove(name);
    }
    *request.extensions_mut() = parts.extensions.clone();
    request.extensions_mut().insert(OverrideDispatch);
    // Routing state of the refused route must not leak into the target's routing.
    request
        .extensions_mut()
        .remove::<axum::extract::MatchedPath>();
    let mut response = match overrides {
        Some(router) => match router.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        None => inner.call(request).await?,
    };
    if response.extensions_mut().remove::<OverrideTo>().is_some() {
        return Ok(firewall.block_override(parts));
    }
    Ok(response)
}
