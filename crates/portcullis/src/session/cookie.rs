//! The session cookie: ids, reading `Cookie`, writing `Set-Cookie`, and the store key.
//!
//! ```text
//! id         32 bytes from the OS CSPRNG, base64url without padding: 43 characters
//! store key  SHA-256 of the id, lower-case hex: a leaked store holds no usable id
//! cookie     __Host-portcullis_session=<id>; Path=/; HttpOnly; Secure; SameSite=Lax
//! ```

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

use super::SessionId;
use crate::settings::SessionSettings;
use crate::Result;

/// The length of a session id.
const ID_LEN: usize = 43;

/// A new session id: 256 bits from the CSPRNG.
pub(crate) fn new_id() -> Result<SessionId> {
    Ok(SessionId::new(
        URL_SAFE_NO_PAD.encode(crate::random::bytes::<32>()?),
    ))
}

/// Whether `value` could be an id this module issued (anything else is never looked up).
fn is_well_formed(value: &str) -> bool {
    value.len() == ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The key the session is stored under: the id's SHA-256, hex.
pub(crate) fn store_key(id: &SessionId) -> String {
    let hash = digest::digest(&digest::SHA256, id.as_str().as_bytes());
    hash.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The first well-formed value of the cookie `name` in the request's `Cookie` headers.
pub(crate) fn find(headers: &HeaderMap, name: &str) -> Option<SessionId> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && is_well_formed(value))
        .map(|(_, value)| SessionId::new(value))
}

/// The `Set-Cookie` value that gives the client `id`, or (`None`) removes its cookie.
pub(crate) fn set_cookie(settings: &SessionSettings, id: Option<&SessionId>) -> HeaderValue {
    let name = settings.effective_cookie_name();
    let mut cookie = match id {
        Some(id) => format!("{name}={}; Path=/", id.as_str()),
        None => format!("{name}=; Path=/; Max-Age=0"),
    };
    if settings.http_only {
        cookie.push_str("; HttpOnly");
    }
    if settings.secure {
        cookie.push_str("; Secure");
    }
    cookie.push_str("; SameSite=");
    cookie.push_str(settings.same_site.attribute());
    // Validated at load: the name is a token, the id base64url.
    HeaderValue::try_from(cookie)
        .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_long_random_and_found_only_when_well_formed() {
        let id = new_id().unwrap();
        assert_eq!(id.as_str().len(), ID_LEN);
        assert_ne!(id, new_id().unwrap());
        assert_eq!(store_key(&id).len(), 64);
        assert_ne!(store_key(&id), id.as_str());

        let mut headers = HeaderMap::new();
        let cookie = format!("a=b; s=short; s={}; s=other", id.as_str());
        headers.insert(COOKIE, cookie.parse().unwrap());
        assert_eq!(find(&headers, "s"), Some(id.clone()));
        assert_eq!(find(&headers, "a"), None);
        let evil = format!("s={}!", &id.as_str()[..42]);
        headers.insert(COOKIE, evil.parse().unwrap());
        assert_eq!(find(&headers, "s"), None);
    }

    #[test]
    fn cookies_carry_the_configured_attributes() {
        let id = SessionId::new("x".repeat(ID_LEN));
        let settings = SessionSettings::default();
        assert_eq!(
            set_cookie(&settings, Some(&id)),
            format!(
                "__Host-portcullis_session={}; Path=/; HttpOnly; Secure; SameSite=Lax",
                id.as_str()
            )
            .as_str()
        );
        let plain = SessionSettings {
            secure: false,
            http_only: false,
            ..SessionSettings::default()
        };
        assert_eq!(
            set_cookie(&plain, None),
            "portcullis_session=; Path=/; Max-Age=0; SameSite=Lax"
        );
    }
}
