//! Extractors for what the security layers put into a request's extensions.

/// Implements `FromRequestParts` and `OptionalFromRequestParts` for a type stored in the
/// request's extensions: required, a missing value is answered with `$missing` (an
/// [`Error`](crate::Error)); optional, it is `None`.
macro_rules! extension_extractor {
    ($type:ty, missing: $missing:expr $(, $generic:ident)?) => {
        impl<S: Send + Sync $(, $generic: Clone + Send + Sync + 'static)?>
            axum::extract::FromRequestParts<S> for $type
        {
            type Rejection = axum::response::Response;

            async fn from_request_parts(
                parts: &mut http::request::Parts,
                _: &S,
            ) -> Result<Self, Self::Rejection> {
                parts
                    .extensions
                    .get::<Self>()
                    .cloned()
                    .ok_or_else(|| crate::response::error_response(&$missing))
            }
        }

        impl<S: Send + Sync $(, $generic: Clone + Send + Sync + 'static)?>
            axum::extract::OptionalFromRequestParts<S> for $type
        {
            type Rejection = std::convert::Infallible;

            async fn from_request_parts(
                parts: &mut http::request::Parts,
                _: &S,
            ) -> Result<Option<Self>, Self::Rejection> {
                Ok(parts.extensions.get::<Self>().cloned())
            }
        }
    };
}

pub(crate) use extension_extractor;
