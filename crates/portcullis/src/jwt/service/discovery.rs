//! Where a request's tokens are looked for (spec §4.3, tightened).
//!
//! Access token, first found wins:
//! 1. the header `jwt.custom_auth_header` (default `x-auth-token`);
//! 2. `Authorization: Bearer <token>` (scheme case-insensitive; any other scheme is ignored,
//!    never passed on as a token as cbsecurity did);
//! 3. the query parameter `token` (or one named like the custom header) — only when
//!    `jwt.allow_query_token` is on, or on a WebSocket upgrade request, where browsers cannot
//!    set headers. URLs end up in logs and `Referer` headers: keep it off otherwise.
//!
//! Refresh token: the header `jwt.custom_refresh_header` (default `x-refresh-token`).
//!
//! A value that is not visible ASCII is ignored. Tokens are never logged.
//!
//! ```
//! use portcullis::jwt::bearer_token;
//! use http::HeaderMap;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("authorization", "bearer abc.def.ghi".parse().unwrap());
//! assert_eq!(bearer_token(&headers), Some("abc.def.ghi"));
//! headers.insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
//! assert_eq!(bearer_token(&headers), None);
//! ```

use http::header::{AUTHORIZATION, UPGRADE};
use http::request::Parts;
use http::HeaderMap;

use super::JwtService;
use crate::auth::AuthUser;
use crate::jwt::{Jwt, JwtSubject};

/// The query parameter names accepted for an access token, besides the custom header's name.
const QUERY_PARAMETER: &str = "token";

/// The token of an `Authorization: Bearer` header, if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim_start();
    (!token.is_empty()).then_some(token)
}

/// The trimmed, non-empty value of header `name`.
fn header_token<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let token = headers.get(name)?.to_str().ok()?.trim();
    (!token.is_empty()).then_some(token)
}

/// The value of query parameter `name`, percent-decoded.
fn query_token(query: &str, names: [&str; 2]) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, value)| names.contains(&key.as_ref()) && !value.is_empty())
        .map(|(_, value)| value.into_owned())
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

impl<U> JwtService<U>
where
    U: AuthUser + JwtSubject + Clone,
{
    /// The request's access token, looked for as the module docs say.
    pub fn discover_token(&self, parts: &Parts) -> Option<Jwt> {
        let settings = &self.inner.settings;
        let headers = &parts.headers;
        if let Some(token) =
            header_token(headers, &settings.custom_auth_header).or_else(|| bearer_token(headers))
        {
            return Some(Jwt::new(token));
        }
        if settings.allow_query_token || is_websocket_upgrade(headers) {
            let query = parts.uri.query()?;
            return query_token(query, [QUERY_PARAMETER, &settings.custom_auth_header])
                .map(Jwt::new);
        }
        None
    }

    /// The request's refresh token (header `jwt.custom_refresh_header`).
    pub fn discover_refresh_token(&self, parts: &Parts) -> Option<Jwt> {
        header_token(&parts.headers, &self.inner.settings.custom_refresh_header).map(Jwt::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_rules() {
        let mut headers = HeaderMap::new();
        for (value, expected) in [
            ("Bearer a.b.c", Some("a.b.c")),
            ("BEARER   a.b.c ", Some("a.b.c")),
            ("Bearer", None),
            ("Bearer ", None),
            ("Basic a.b.c", None),
            ("Bearera.b.c", None),
        ] {
            headers.insert(AUTHORIZATION, value.parse().unwrap());
            assert_eq!(bearer_token(&headers), expected, "{value:?}");
        }
    }

    #[test]
    fn query_tokens_are_percent_decoded() {
        assert_eq!(
            query_token("a=1&token=x%2Ey.z", ["token", "x-auth-token"]).as_deref(),
            Some("x.y.z")
        );
        assert_eq!(query_token("token=", ["token", "x"]), None);
        assert_eq!(
            query_token("x-auth-token=t", ["token", "x-auth-token"]).as_deref(),
            Some("t")
        );
    }
}
