//! [`IdentityHeadersLayer`]: tells the service behind a proxy who the caller is, in request
//! headers that the caller cannot forge.
//!
//! 1. Every configured identity header (`gateway.identity_headers`, default
//!    `x-portcullis-user-id`, `-username`, `-roles`, `-permissions`, `-scopes`) is removed from
//!    the request, whatever the client sent, in every spelling and repetition.
//! 2. When the request carries an [`Identity`] (put there by the JWT service, the basic-auth
//!    service or the session provider, through the firewall), each header is set from it: the
//!    id, the username, and the roles, permissions and scopes as comma-separated lists.
//!    Values are UTF-8 with `%`, `,` and every byte that is not visible ASCII percent-encoded,
//!    so a list item never splits and a header never breaks.
//! 3. A guest's request reaches the inner service with none of the headers.
//!
//! Apply it inside the firewall (the layer only reads what the firewall decided) and right in
//! front of the proxy.
//!
//! ```
//! use std::convert::Infallible;
//! use axum::body::Body;
//! use http::{Request, Response, StatusCode};
//! use portcullis::auth::{AuthUser, Identity};
//! use portcullis::gateway::IdentityHeadersLayer;
//! use portcullis::settings::IdentityHeaderNames;
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! struct User;
//! impl AuthUser for User {
//!     fn id(&self) -> String { "42".into() }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let upstream = service_fn(|request: Request<Body>| async move {
//!     let id = request.headers().get("x-portcullis-user-id").cloned();
//!     let status = if id.as_ref().is_some_and(|v| v == "42") { StatusCode::OK } else { StatusCode::FORBIDDEN };
//!     Ok::<_, Infallible>(Response::builder().status(status).body(Body::empty()).unwrap())
//! });
//! let service = IdentityHeadersLayer::new(&IdentityHeaderNames::default()).unwrap().layer(upstream);
//!
//! // A forged header is dropped: a guest gets 403 from this upstream.
//! let forged = Request::builder().header("x-portcullis-user-id", "42").body(Body::empty()).unwrap();
//! assert_eq!(service.clone().oneshot(forged).await.unwrap().status(), StatusCode::FORBIDDEN);
//!
//! // An authenticated request carries the identity.
//! let mut request = Request::new(Body::empty());
//! request.extensions_mut().insert(Identity::of(&User, ["orders:read"]));
//! assert_eq!(service.oneshot(request).await.unwrap().status(), StatusCode::OK);
//! # }
//! ```

use std::fmt::Write as _;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderName, HeaderValue, Request};
use tower_layer::Layer;
use tower_service::Service;

use crate::auth::Identity;
use crate::settings::IdentityHeaderNames;
use crate::{Error, Result};

/// The identity headers, in the order of [`IdentityHeaderNames::entries`].
#[derive(Debug, Clone)]
struct Names {
    user_id: HeaderName,
    username: HeaderName,
    roles: HeaderName,
    permissions: HeaderName,
    scopes: HeaderName,
}

/// Replaces client-sent identity headers with the request's [`Identity`].
#[derive(Debug, Clone)]
pub struct IdentityHeadersLayer {
    names: Arc<Names>,
}

impl IdentityHeadersLayer {
    /// A layer writing the headers `names` names.
    ///
    /// # Errors
    /// [`Error::Config`] naming `gateway.identity_headers.<key>` for a name that is not a
    /// header name.
    pub fn new(names: &IdentityHeaderNames) -> Result<Self> {
        let parse = |key: &str, name: &str| {
            HeaderName::try_from(name).map_err(|_| {
                Error::config(
                    format!("gateway.identity_headers.{key}"),
                    format!("{name:?} is not a header name"),
                )
            })
        };
        Ok(IdentityHeadersLayer {
            names: Arc::new(Names {
                user_id: parse("user_id", &names.user_id)?,
                username: parse("username", &names.username)?,
                roles: parse("roles", &names.roles)?,
                permissions: parse("permissions", &names.permissions)?,
                scopes: parse("scopes", &names.scopes)?,
            }),
        })
    }
}

impl<S> Layer<S> for IdentityHeadersLayer {
    type Service = IdentityHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        IdentityHeaders {
            inner,
            names: self.names.clone(),
        }
    }
}

/// The service made by [`IdentityHeadersLayer`].
#[derive(Debug, Clone)]
pub struct IdentityHeaders<S> {
    inner: S,
    names: Arc<Names>,
}

impl<S, B> Service<Request<B>> for IdentityHeaders<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let names = &self.names;
        let headers = request.headers_mut();
        for name in [
            &names.user_id,
            &names.username,
            &names.roles,
            &names.permissions,
            &names.scopes,
        ] {
            headers.remove(name);
        }
        if let Some(identity) = request.extensions().get::<Identity>().cloned() {
            let values = [
                (&names.user_id, encode([identity.id()])),
                (&names.username, encode([identity.username()])),
                (&names.roles, encode(identity.roles())),
                (&names.permissions, encode(identity.permissions())),
                (&names.scopes, encode(identity.scopes())),
            ];
            for (name, value) in values {
                request.headers_mut().insert(name.clone(), value);
            }
        }
        self.inner.call(request)
    }
}

/// The items, percent-encoded as the module docs say, joined with commas.
fn encode<T: AsRef<str>>(items: impl IntoIterator<Item = T>) -> HeaderValue {
    let mut out = String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for byte in item.as_ref().bytes() {
            if byte.is_ascii_graphic() && byte != b'%' && byte != b',' {
                out.push(char::from(byte));
            } else {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    // Only visible ASCII remains, which is always a valid header value.
    HeaderValue::from_str(&out).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn values_cannot_split_or_break_a_header() {
        assert_eq!(encode(["admin", "ops"]), "admin,ops");
        assert_eq!(encode(["a,b", "100%"]), "a%2Cb,100%25");
        assert_eq!(encode(["José Ñ"]), "Jos%C3%A9%20%C3%91");
        assert_eq!(encode(["evil\r\nx-admin: 1"]), "evil%0D%0Ax-admin:%201");
        assert_eq!(encode(Vec::<String>::new()), "");
    }
}
