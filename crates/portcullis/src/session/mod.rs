//! Cookie sessions for browser apps.
//!
//! The session layer puts the request's [`SessionId`] into its extensions; other layers (the
//! CSRF tokens, the session authentication service) key their state by it.
//!
//! ```
//! use portcullis::session::SessionId;
//!
//! let id = SessionId::new("3q2-7w");
//! assert_eq!(id.as_str(), "3q2-7w");
//! ```

use std::sync::Arc;

/// The id of the request's session, as issued in the session cookie. Never log it: it is a
/// bearer credential.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId(Arc<str>);

impl SessionId {
    /// A session id.
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        SessionId(id.into())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}
