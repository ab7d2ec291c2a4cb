//! Extractors for what the JWT layer (or the firewall) put into the request's extensions:
//! the raw token ([`Jwt`]), its [`Claims`] and the [`CurrentUser`]. Missing means the
//! request was not authenticated: 401. Wrap in `Option` for routes open to guests.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::Response;
use http::request::Parts;

use crate::auth::CurrentUser;
use crate::jwt::{Claims, Jwt};
use crate::response::error_response;
use crate::Error;

/// Implements the required and the optional extractor for an extension type.
macro_rules! extension_extractor {
    ($type:ty $(, $generic:ident)?) => {
        impl<S: Send + Sync $(, $generic: Clone + Send + Sync + 'static)?> FromRequestParts<S> for $type {
            type Rejection = Response;

            async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
                parts
                    .extensions
                    .get::<Self>()
                    .cloned()
                    .ok_or_else(|| error_response(&Error::TokenNotFound))
            }
        }

        impl<S: Send + Sync $(, $generic: Clone + Send + Sync + 'static)?> OptionalFromRequestParts<S> for $type {
            type Rejection = std::convert::Infallible;

            async fn from_request_parts(
                parts: &mut Parts,
                _: &S,
            ) -> Result<Option<Self>, Self::Rejection> {
                Ok(parts.extensions.get::<Self>().cloned())
            }
        }
    };
}

extension_extractor!(Jwt);
extension_extractor!(Claims);
extension_extractor!(CurrentUser<U>, U);
