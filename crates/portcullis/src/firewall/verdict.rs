//! What a validator decides about a request (cbsecurity's `{allow, type, messages}`).
//!
//! ```
//! use portcullis::firewall::{Verdict, VerdictKind};
//!
//! let denied = Verdict::deny(VerdictKind::Authorization, "Detected IP is not allowed");
//! assert!(!denied.allow);
//! assert_eq!(denied.kind.as_str(), "authorization");
//! assert!(Verdict::allow(VerdictKind::Authentication).allow);
//! ```

use http::HeaderMap;
use serde::Serialize;

/// Why a request was (or would have been) refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictKind {
    /// The caller is not authenticated: 401, or the authentication action.
    Authentication,
    /// The caller is authenticated but not allowed: 403, or the authorization action.
    Authorization,
    /// The validator asks for a block whatever the configured action (cbsecurity's `block`
    /// type, whose action lookup was broken).
    Block,
}

impl VerdictKind {
    /// `authentication`, `authorization` or `block`.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Authentication => "authentication",
            VerdictKind::Authorization => "authorization",
            VerdictKind::Block => "block",
        }
    }
}

/// A validator's decision.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Whether the request may pass.
    pub allow: bool,
    /// `authentication` while the caller is unknown, `authorization` once known.
    pub kind: VerdictKind,
    /// Why, for logs, events and JSON responses.
    pub messages: Vec<String>,
    /// Headers the response must carry: a `WWW-Authenticate` challenge on refusal, a
    /// refreshed token pair on success.
    #[serde(skip)]
    pub headers: HeaderMap,
    /// The validator's challenge must reach the client: refuse with 401 and the headers,
    /// whatever the configured action (a redirect would hide a Basic prompt from browsers).
    #[serde(skip)]
    pub challenge: bool,
}

impl Verdict {
    /// Allows the request.
    pub fn allow(kind: VerdictKind) -> Self {
        Verdict {
            allow: true,
            kind,
            messages: Vec::new(),
            headers: HeaderMap::new(),
            challenge: false,
        }
    }

    /// Refuses the request for `message`.
    pub fn deny(kind: VerdictKind, message: impl Into<String>) -> Self {
        Verdict {
            allow: false,
            kind,
            messages: vec![message.into()],
            headers: HeaderMap::new(),
            challenge: false,
        }
    }

    /// Refuses an unauthenticated request with a challenge that must reach the client.
    pub fn challenge(message: impl Into<String>, headers: HeaderMap) -> Self {
        Verdict {
            headers,
            challenge: true,
            ..Verdict::deny(VerdictKind::Authentication, message)
        }
    }
}
