//! [`SessionLayer`]: a cookie session on every request.
//!
//! 1. The session cookie's first well-formed value is looked up in the store (as its
//!    SHA-256). A live session — used within `idle_timeout`, begun within
//!    `absolute_timeout` — is the request's; anything else starts a fresh one with a new id
//!    (and a stale cookie is removed unless the fresh session is sent).
//! 2. The [`Session`] and its [`SessionId`] go into the request's extensions and the inner
//!    service runs.
//! 3. On the way out the session is saved when it changed, was rotated, was asked to be kept,
//!    or was last saved long enough ago that its idle timeout needs pushing back (at most once
//!    a minute, or every tenth of `idle_timeout` if that is shorter). A session the client has
//!    no cookie for gets `Set-Cookie`.
//! 4. A store that cannot be reached fails the request with 503: a session is never
//!    guessed, and a login never answered as done when it was not saved.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{routing::post, Router};
//! use portcullis::session::{MemorySessionStore, Session, SessionLayer};
//! use portcullis::settings::SessionSettings;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let store = Arc::new(MemorySessionStore::new());
//! let app = Router::new()
//!     .route("/quiet", post(|| async { "nothing stored" }))
//!     .route("/cart", post(|session: Session| async move { session.insert("cart", [7]).unwrap() }))
//!     .layer(SessionLayer::new(&SessionSettings::default(), store));
//!
//! let post = |uri| http::Request::post(uri).body(axum::body::Body::empty()).unwrap();
//! let quiet = app.clone().oneshot(post("/quiet")).await.unwrap();
//! assert_eq!(quiet.status(), 200);
//! assert!(quiet.headers().get("set-cookie").is_none()); // an untouched session is not kept
//! let cart = app.oneshot(post("/cart")).await.unwrap();
//! assert_eq!(cart.status(), 200);
//! assert!(cart.headers().get("set-cookie").is_some());
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::Response;
use http::header::SET_COOKIE;
use http::{HeaderMap, Request};
use tower_layer::Layer;
use tower_service::Service;

use super::{cookie, Session, SessionRecord, SessionStore, State};
use crate::clock::{millis, Clock, SystemClock};
use crate::response::error_response;
use crate::settings::{SessionSettings, Settings};
use crate::Result;

/// The longest a used session goes without being saved (its `last_seen` pushed back).
const TOUCH_AT_MOST_EVERY: Duration = Duration::from_secs(60);

/// What the layer and every session of it share.
#[derive(Clone)]
pub(super) struct Shared {
    pub(super) store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    settings: SessionSettings,
}

impl Shared {
    pub(super) fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    fn idle_ms(&self) -> i64 {
        millis(self.settings.idle_timeout)
    }

    fn absolute_ms(&self) -> i64 {
        millis(self.settings.absolute_timeout)
    }

    /// Whether `record` is live at `now`.
    fn is_live(&self, record: &SessionRecord, now: i64) -> bool {
        now < record.last_seen.saturating_add(self.idle_ms())
            && now < record.created_at.saturating_add(self.absolute_ms())
            && now < record.expires_at
    }
}

/// Gives every request of the service it wraps a cookie [`Session`] (see the module docs).
#[derive(Clone)]
pub struct SessionLayer {
    shared: Arc<Shared>,
}

impl SessionLayer {
    /// Sessions configured by `settings`, kept in `store`.
    pub fn new(settings: &SessionSettings, store: Arc<dyn SessionStore>) -> Self {
        SessionLayer {
            shared: Arc::new(Shared {
                store,
                clock: Arc::new(SystemClock),
                settings: settings.clone(),
            }),
        }
    }

    /// Sessions configured by `settings.session`, in the store
    /// [`store_from_settings`](super::store_from_settings) connects (the backend of
    /// `jwt.token_storage`).
    ///
    /// # Errors
    /// As [`store_from_settings`](super::store_from_settings).
    pub async fn from_settings(settings: &Settings) -> Result<Self> {
        let store = super::store_from_settings(settings).await?;
        Ok(SessionLayer::new(&settings.session, store))
    }

    /// Reads the time from `clock` (tests: a [`ManualClock`](crate::clock::ManualClock)).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        let mut shared = (*self.shared).clone();
        shared.clock = clock;
        self.shared = Arc::new(shared);
        self
    }

    /// The store sessions are kept in.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.shared.store
    }
}

impl std::fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLayer")
            .field("store", &self.shared.store.name())
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service made by [`SessionLayer`].
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// The future of [`SessionService`].
pub type ResponseFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

impl<S, B> Service<Request<B>> for SessionService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let shared = self.shared.clone();
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let session = match Session::open(shared, &parts.headers).await {
                Ok(session) => session,
                Err(error) => return Ok(error_response(&error)),
            };
            parts.extensions.insert(session.id());
            parts.extensions.insert(session.clone());
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            if let Err(error) = session.finish(response.headers_mut()).await {
                return Ok(error_response(&error));
            }
            Ok(response)
        })
    }
}

impl Session {
    /// The session the request's cookie names, or a fresh one.
    async fn open(shared: Arc<Shared>, headers: &HeaderMap) -> Result<Session> {
        let now = shared.now();
        let name = shared.settings.effective_cookie_name();
        let mut state = State::fresh(now)?;
        if let Some(id) = cookie::find(headers, &name) {
            match shared.store.load(&cookie::store_key(&id), now).await? {
                Some(record) if shared.is_live(&record, now) => {
                    state.id = id;
                    state.record = record;
                    state.stored = true;
                }
                _ => state.clear_cookie = true,
            }
        }
        Ok(Session {
            state: Arc::new(Mutex::new(state)),
            shared,
        })
    }

    /// Saves the session if it needs it and sets the response's cookie.
    async fn finish(&self, headers: &mut HeaderMap) -> Result<()> {
        let shared = &self.shared;
        let now = shared.now();
        let touch_every = millis(TOUCH_AT_MOST_EVERY.min(shared.settings.idle_timeout / 10));
        let (save, cookie) = {
            let mut state = self.lock();
            let due = state.stored && now - state.record.last_seen >= touch_every;
            let save = state.changed || due || (!state.stored && state.keep);
            if save {
                let record = &mut state.record;
                record.last_seen = now;
                record.expires_at = now
                    .saturating_add(shared.idle_ms())
                    .min(record.created_at.saturating_add(shared.absolute_ms()));
            }
            let cookie = if save && !state.stored {
                Some(Some(state.id.clone()))
            } else if state.clear_cookie && !state.stored {
                Some(None)
            } else {
                None
            };
            let save = save.then(|| (cookie::store_key(&state.id), state.record.clone()));
            state.changed = false;
            state.stored |= save.is_some();
            (save, cookie)
        };
        if let Some((key, record)) = save {
            shared.store.save(&key, &record).await?;
        }
        if let Some(id) = cookie {
            headers.append(
                SET_COOKIE,
                cookie::set_cookie(&shared.settings, id.as_ref()),
            );
        }
        Ok(())
    }
}
