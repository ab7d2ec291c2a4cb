//! A compact token as text, kept out of logs.
//!
//! ```
//! use portcullis::jwt::Jwt;
//!
//! let token = Jwt::new("eyJhbGciOiJIUzI1NiJ9.e30.sig");
//! assert_eq!(token.as_str(), "eyJhbGciOiJIUzI1NiJ9.e30.sig");
//! assert_eq!(format!("{token:?}"), "Jwt(<redacted>)");
//! ```

use std::fmt;
use std::sync::Arc;

/// A compact token. `Debug` never shows it; read it with [`Jwt::as_str`]. Cheap to clone.
///
/// Also the extractor for the raw token of the current request (the firewall or the JWT
/// layer puts it in the request's extensions).
#[derive(Clone, PartialEq, Eq)]
pub struct Jwt(Arc<str>);

impl Jwt {
    /// Wraps a token.
    pub fn new(token: impl Into<Arc<str>>) -> Self {
        Jwt(token.into())
    }

    /// The token text. Do not log it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Jwt(<redacted>)")
    }
}
