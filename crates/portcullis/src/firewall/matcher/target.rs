//! [`Targets`]: what a request's rules are matched against, computed once per request.
//!
//! * The **url** target is the request path in a canonical form: percent-encoded unreserved
//!   characters (`A-Z a-z 0-9 - . _ ~`) decoded, dot segments (`.`, `..`) removed, empty
//!   segments (`//`) dropped, the query string cut off, and a trailing `/` added:
//!
//!   | path | url target |
//!   |---|---|
//!   | `/admin` | `/admin/` |
//!   | `/%61dmin` | `/admin/` |
//!   | `//admin//users` | `/admin/users/` |
//!   | `/public/../admin/` | `/admin/` |
//!   | `/files/%2e%2e/admin` | `/admin/` |
//!   | `/a%2Fb?x=1` | `/a%2Fb/` (a reserved escape stays) |
//!
//! * The **route** target is the template of the route that matched (axum's `MatchedPath`,
//!   e.g. `/users/{id}`), or `None` when no route matched; then rules matching routes cannot
//!   apply.
//!
//! # Why the url is normalised
//!
//! The firewall decides on the canonical path; the request itself is forwarded untouched.
//! Every spelling of a path that resolves to the same resource (an RFC 3986 normaliser,
//! a reverse proxy's upstream, a static file server) gets the same url target, so a rule
//! written for the resource, such as `^/admin/`, meets all of them: `/%61dmin/`, `//admin/`,
//! `/public/../admin/` and `/admin` (cbsecurity's trailing slash) can no longer step around
//! it, and a whitelist such as `^/public/` can no longer be borrowed by `/public/../admin/`.
//! What normalising takes away is only the aliasing syntax itself: a pattern looking for
//! `%2e`, `..` or `//` no longer sees them (refuse such paths before the firewall if you want
//! to). Note also that axum does not resolve dot segments itself: a wildcard route
//! (`/files/{*path}`) receives `/files/../admin` with `path = "../admin"`, while the url
//! target is `/admin/`; match such routes by their route template, or refuse `..` paths.
//!
//! ```
//! use portcullis::firewall::matcher::Targets;
//!
//! let url = Targets::url_target("//Admin/./%75sers/..");
//! assert_eq!(url, "/Admin/");
//! let targets = Targets { url: &url, route: Some("/admin/{*rest}") };
//! assert_eq!(targets.route, Some("/admin/{*rest}"));
//! assert_eq!(Targets::url_target("/api/v2/"), "/api/v2/"); // borrowed: already canonical
//! ```

use std::borrow::Cow;

/// The two strings a request's rules are matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets<'a> {
    /// The request path as a url target ([`Targets::url_target`]).
    pub url: &'a str,
    /// The matched route's template, `None` if no route matched.
    pub route: Option<&'a str>,
}

impl<'a> Targets<'a> {
    /// Targets from a url target (already normalised) and a route template.
    pub fn new(url: &'a str, route: Option<&'a str>) -> Self {
        Targets { url, route }
    }

    /// The url target of a request path (see the module documentation). Borrows when the
    /// path is already canonical.
    pub fn url_target(path: &str) -> Cow<'_, str> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        if is_canonical(path) {
            return Cow::Borrowed(path);
        }
        let decoded = decode_unreserved(path);
        let mut segments: Vec<&str> = Vec::new();
        for segment in decoded.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    segments.pop();
                }
                _ => segments.push(segment),
            }
        }
        let mut url = String::with_capacity(decoded.len() + 2);
        url.push('/');
        for segment in segments {
            url.push_str(segment);
            url.push('/');
        }
        Cow::Owned(url)
    }
}

/// `true` if normalising would not change `path`.
fn is_canonical(path: &str) -> bool {
    let Some(inner) = path.strip_prefix('/') else {
        return false;
    };
    if inner.is_empty() {
        return true;
    }
    let Some(inner) = inner.strip_suffix('/') else {
        return false;
    };
    !path.contains('%')
        && inner
            .split('/')
            .all(|segment| !matches!(segment, "" | "." | ".."))
}

/// The value of an ASCII hex digit.
fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes of unreserved characters (RFC 3986 §2.3); others are kept.
fn decode_unreserved(path: &str) -> Cow<'_, str> {
    if !path.contains('%') {
        return Cow::Borrowed(path);
    }
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut rest = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                let c = char::from(high * 16 + low);
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~') {
                    out.push_str(&path[rest..i]);
                    out.push(c);
                    i += 3;
                    rest = i;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&path[rest..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        for (path, url) in [
            ("", "/"),
            ("/", "/"),
            ("/admin", "/admin/"),
            ("admin", "/admin/"),
            ("/%61dmin", "/admin/"),
            ("/%61%44MIN/", "/aDMIN/"),
            ("//admin//users", "/admin/users/"),
            ("/public/../admin/", "/admin/"),
            ("/files/%2e%2E/admin", "/admin/"),
            ("/../../etc/passwd", "/etc/passwd/"),
            ("/a/./b/.", "/a/b/"),
            ("/a/...", "/a/.../"),
            ("/a%2Fb?x=1", "/a%2Fb/"),
            ("/a#frag", "/a/"),
            ("/%", "/%/"),
            ("/%4", "/%4/"),
            ("/%zz/%7e", "/%zz/~/"),
            ("/%252e%252e/", "/%252e%252e/"),
            ("/é/", "/é/"),
        ] {
            assert_eq!(Targets::url_target(path), url, "{path}");
        }
    }

    #[test]
    fn borrows_canonical_paths() {
        assert!(matches!(Targets::url_target("/api/v2/"), Cow::Borrowed(_)));
        assert!(matches!(Targets::url_target("/"), Cow::Borrowed(_)));
        assert!(matches!(
            Targets::url_target("/api/v2/?q"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(Targets::url_target("/api"), Cow::Owned(_)));
    }
}
