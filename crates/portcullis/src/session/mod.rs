//! Cookie sessions for browser apps: what cbauth's session storage is to cbsecurity.
//!
//! [`SessionLayer`] gives every request a [`Session`] (the extractor) and its [`SessionId`];
//! [`SessionAuthService`] logs users into it, for the firewall's
//! [`AuthValidator`](crate::firewall::AuthValidator).
//!
//! 1. The session id is 256 bits from the OS CSPRNG, sent in a cookie that is `HttpOnly`,
//!    `SameSite=Lax` and, with `session.secure` (the default), `Secure` and named with the
//!    `__Host-` prefix.
//! 2. A request whose cookie names no live session — unknown, expired, malformed — gets a
//!    fresh session with a new id: a client never chooses its id.
//! 3. A session lives `session.idle_timeout` after its last use and at most
//!    `session.absolute_timeout` after it began.
//! 4. Stores ([`SessionStore`]) keep the SHA-256 of the id, never the id. A new session is
//!    stored, and its cookie sent, only once something is put into it (or
//!    [`Session::keep`] asks for it).
//! 5. Logging in rotates the id (the old one stops working at once, against session
//!    fixation) and logging out destroys the session; both announce it with
//!    [`SecurityEvent::Login`](crate::events::SecurityEvent::Login) /
//!    [`Logout`](crate::events::SecurityEvent::Logout), carrying the ids, for anything keyed
//!    by the session (CSRF tokens).
//!
//! ```
//! use std::sync::Arc;
//! use axum::{routing::get, Router};
//! use portcullis::session::{MemorySessionStore, Session, SessionLayer};
//! use portcullis::settings::SessionSettings;
//! use tower::ServiceExt;
//!
//! async fn visit(session: Session) -> String {
//!     let visits = session.get::<u32>("visits").unwrap_or(0) + 1;
//!     session.insert("visits", visits).unwrap();
//!     visits.to_string()
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let layer = SessionLayer::new(&SessionSettings::default(), Arc::new(MemorySessionStore::new()));
//! let app = Router::new().route("/", get(visit)).layer(layer);
//!
//! let response = app.clone().oneshot(http::Request::new(axum::body::Body::empty())).await.unwrap();
//! assert_eq!(response.status(), 200);
//! let cookie = response.headers()["set-cookie"].to_str().unwrap();
//! assert!(cookie.starts_with("__Host-portcullis_session="));
//! assert!(cookie.ends_with("; Path=/; HttpOnly; Secure; SameSite=Lax"));
//!
//! // The cookie brings the session back.
//! let id = cookie.split(';').next().unwrap();
//! let again = http::Request::builder().header("cookie", id).body(axum::body::Body::empty()).unwrap();
//! let response = app.oneshot(again).await.unwrap();
//! let body = axum::body::to_bytes(response.into_body(), 16).await.unwrap();
//! assert_eq!(&body[..], b"2");
//! # }
//! ```

mod auth;
mod cookie;
mod layer;
mod store;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use self::auth::SessionAuthService;
pub use self::layer::{ResponseFuture, SessionLayer, SessionService};
#[cfg(feature = "storage-memory")]
pub use self::store::MemorySessionStore;
#[cfg(feature = "storage-redis")]
pub use self::store::RedisSessionStore;
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
pub use self::store::SqlSessionStore;
pub use self::store::{store_from_settings, SessionStore};

use self::layer::Shared;
use crate::{Error, Result};

/// The most data a session holds, as JSON: sessions are for small values (ids, flags, a
/// CSRF token), not documents.
pub const MAX_SESSION_DATA: usize = 16 * 1024;

/// The id of the request's session, as issued in the session cookie. Never log it: it is a
/// bearer credential (its `Debug` is redacted).
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

crate::extension::extension_extractor!(SessionId, missing: no_session());

/// What a [`SessionStore`] keeps for one session. Times are Unix milliseconds.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionRecord {
    /// The id of the user logged into the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The values put into the session.
    #[serde(default)]
    pub data: Map<String, Value>,
    /// When the session began.
    pub created_at: i64,
    /// When the session was last used (and saved).
    pub last_seen: i64,
    /// When the session ends unless used again: the earlier of the idle and the absolute
    /// timeout.
    pub expires_at: i64,
}

impl SessionRecord {
    /// An empty session beginning at `now`.
    fn new(now: i64) -> Self {
        SessionRecord {
            user_id: None,
            data: Map::new(),
            created_at: now,
            last_seen: now,
            expires_at: now,
        }
    }
}

impl std::fmt::Debug for SessionRecord {
    /// Shows the user and the names of the values, not the values (they may be tokens).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("user_id", &self.user_id)
            .field("data", &self.data.keys().collect::<Vec<_>>())
            .field("created_at", &self.created_at)
            .field("last_seen", &self.last_seen)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The request's session: small values by name, and the logged-in user's id. Also the
/// axum extractor for it (a request outside [`SessionLayer`] is answered with 500).
///
/// Clones share the session; changes are saved when the response leaves the layer.
#[derive(Clone)]
pub struct Session {
    state: Arc<Mutex<State>>,
    shared: Arc<Shared>,
}

struct State {
    id: SessionId,
    record: SessionRecord,
    /// The store holds the session under `id` (the client has its cookie).
    stored: bool,
    /// Something changed that must be saved.
    changed: bool,
    /// Save the session even if nothing was put into it.
    keep: bool,
    /// The client's cookie names a session that is gone: remove it unless a new one is sent.
    clear_cookie: bool,
}

impl State {
    fn fresh(now: i64) -> Result<Self> {
        Ok(State {
            id: cookie::new_id()?,
            record: SessionRecord::new(now),
            stored: false,
            changed: false,
            keep: false,
            clear_cookie: false,
        })
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Session")
            .field("record", &state.record)
            .field("stored", &state.stored)
            .finish_non_exhaustive()
    }
}

fn no_session() -> Error {
    Error::config(
        "session",
        "this request has no session: add SessionLayer around the routes that use it",
    )
}

impl Session {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The session's current id.
    pub fn id(&self) -> SessionId {
        self.lock().id.clone()
    }

    /// Whether the session began with this request (the client has no cookie for it yet).
    pub fn is_new(&self) -> bool {
        !self.lock().stored
    }

    /// The value named `key`, if there is one of type `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let value = self.lock().record.data.get(key).cloned()?;
        serde_json::from_value(value).ok()
    }

    /// Puts `value` into the session under `key`, replacing any value there.
    ///
    /// # Errors
    /// [`Error::Config`] (answered with 500) if the value does not serialize to JSON, or the
    /// session's data would exceed [`MAX_SESSION_DATA`]; the session is then unchanged.
    pub fn insert<T: Serialize>(&self, key: impl Into<String>, value: T) -> Result<()> {
        let value = serde_json::to_value(value)
            .map_err(|e| Error::config("session", format!("a session value must be JSON: {e}")))?;
        let mut state = self.lock();
        let key = key.into();
        let previous = state.record.data.insert(key.clone(), value);
        let size = serde_json::to_string(&state.record.data).map_or(usize::MAX, |s| s.len());
        if size > MAX_SESSION_DATA {
            match previous {
                Some(previous) => state.record.data.insert(key, previous),
                None => state.record.data.remove(&key),
            };
            return Err(Error::config(
                "session",
                format!("session data would exceed {MAX_SESSION_DATA} bytes"),
            ));
        }
        state.changed = true;
        Ok(())
    }

    /// Removes the value named `key`; whether there was one.
    pub fn remove(&self, key: &str) -> bool {
        let mut state = self.lock();
        let removed = state.record.data.remove(key).is_some();
        state.changed |= removed;
        removed
    }

    /// The id of the user logged into the session.
    pub fn user_id(&self) -> Option<String> {
        self.lock().record.user_id.clone()
    }

    /// Logs `user_id` into the session, or (`None`) out of it. Only
    /// [`SessionAuthService`] calls it, after rotating the id.
    pub(crate) fn set_user_id(&self, user_id: Option<String>) {
        let mut state = self.lock();
        state.record.user_id = user_id;
        state.changed = true;
    }

    /// Stores the session (and sends its cookie) even if nothing is put into it: for
    /// state kept elsewhere under its [`SessionId`].
    pub fn keep(&self) {
        self.lock().keep = true;
    }

    /// Moves the session to a new id, keeping its values and user; the old id stops working
    /// at once. Do it whenever the session's privileges change (logging in does it).
    /// Returns the previous id.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the store cannot delete the old id.
    pub async fn rotate(&self) -> Result<SessionId> {
        let now = self.shared.now();
        let fresh = cookie::new_id()?;
        let (previous, stored) = {
            let mut state = self.lock();
            let previous = std::mem::replace(&mut state.id, fresh);
            let stored = std::mem::replace(&mut state.stored, false);
            state.record.created_at = now;
            state.changed = true;
            (previous, stored)
        };
        if stored {
            self.shared
                .store
                .delete(&cookie::store_key(&previous))
                .await?;
        }
        Ok(previous)
    }

    /// Ends the session: its values, its user and its id are gone at once, and the client's
    /// cookie is removed. The request goes on with a fresh, empty session.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the store cannot delete the session.
    pub async fn destroy(&self) -> Result<()> {
        let mut fresh = State::fresh(self.shared.now())?;
        let (old, stored) = {
            let mut state = self.lock();
            fresh.clear_cookie = state.stored || state.clear_cookie;
            let old = std::mem::replace(&mut *state, fresh);
            (old.id, old.stored)
        };
        if stored {
            self.shared.store.delete(&cookie::store_key(&old)).await?;
        }
        Ok(())
    }
}

crate::extension::extension_extractor!(Session, missing: no_session());
