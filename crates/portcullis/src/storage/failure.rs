//! Backend failures as [`Error::Unavailable`], with credentials scrubbed from the message.
//!
//! A backend's error text may quote the connection URL it was given, and that URL may carry
//! a password (`postgres://user:secret@host/db`, `redis://:secret@host`). A [`Redactor`] is
//! built from the URL once, at connect, and replaces the URL and its password wherever they
//! appear before the text goes into an error.
//!
//! ```text
//! url:     postgres://app:s3cret@db:5432/auth
//! backend: error connecting to postgres://app:s3cret@db:5432/auth
//! error:   token storage is unavailable: cannot create the token tables: error connecting to <redacted>
//! ```

use std::fmt::Display;

use crate::Error;

/// The `what` of every storage [`Error::Unavailable`].
pub(crate) const WHAT: &str = "token storage";

/// The setting every driver's URL comes from, for [`Error::Config`].
pub(crate) const URL_KEY: &str = "jwt.token_storage.properties.url";

/// A storage [`Error::Unavailable`] carrying `reason` (which must hold no secret).
pub(crate) fn unavailable(reason: impl Display) -> Error {
    Error::Unavailable {
        what: WHAT,
        reason: reason.to_string(),
    }
}

/// Removes a connection URL's credentials from text.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for the URL `url`: hides the whole URL, its password (as written and
    /// percent-decoded) and a `password=` query parameter.
    pub(crate) fn for_url(url: &str) -> Self {
        let mut secrets = vec![url.to_owned()];
        if let Some(password) = userinfo_password(url) {
            secrets.push(percent_decode(password));
            secrets.push(password.to_owned());
        }
        if let Some(query) = url.split_once('?').map(|(_, q)| q) {
            for pair in query.split('&') {
                if let Some(("password", value)) = pair.split_once('=') {
                    secrets.push(percent_decode(value));
                    secrets.push(value.to_owned());
                }
            }
        }
        secrets.retain(|s| !s.is_empty());
        // Longest first, so that the URL is replaced whole before its password.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every secret replaced by `<redacted>`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "<redacted>");
            }
        }
        out
    }

    /// A storage [`Error::Unavailable`] for a backend error, scrubbed.
    pub(crate) fn unavailable(&self, context: &str, err: impl Display) -> Error {
        unavailable(format!("{context}: {}", self.scrub(&err.to_string())))
    }

    /// An [`Error::Config`] on the URL setting for a backend error, scrubbed.
    pub(crate) fn bad_url(&self, err: impl Display) -> Error {
        Error::config(URL_KEY, self.scrub(&err.to_string()))
    }
}

/// The password of `scheme://user:password@host…`, if any.
fn userinfo_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    userinfo.split_once(':').map(|(_, password)| password)
}

/// `%41` → `A`; invalid escapes are kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_urls_are_scrubbed() {
        let url = "postgres://app:s3cr%40t@db.local:5432/tokens?sslmode=disable";
        let redactor = Redactor::for_url(url);
        let message = format!("cannot reach {url}; auth s3cr@t failed; raw s3cr%40t");
        let scrubbed = redactor.scrub(&message);
        assert!(!scrubbed.contains("s3cr"), "{scrubbed}");
        assert_eq!(
            scrubbed,
            "cannot reach <redacted>; auth <redacted> failed; raw <redacted>"
        );
        let err = redactor.unavailable("connect", message);
        assert!(matches!(err, Error::Unavailable { what: WHAT, .. }));
        assert!(!err.to_string().contains("s3cr"));
    }

    #[test]
    fn query_passwords_and_redis_urls() {
        let redactor = Redactor::for_url("postgres://h/db?user=a&password=hunter2");
        assert_eq!(redactor.scrub("pw hunter2"), "pw <redacted>");
        let redactor = Redactor::for_url("redis://:topsecret@127.0.0.1:6379/0");
        assert_eq!(redactor.scrub("bad topsecret"), "bad <redacted>");
        let plain = Redactor::for_url("sqlite://tokens.db");
        assert_eq!(plain.scrub("no such table"), "no such table");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
