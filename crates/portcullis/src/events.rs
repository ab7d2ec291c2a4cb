//! Security events and their listeners (cbsecurity's `cbSecurity_on…` interception points).
//!
//! Every event is one [`SecurityEvent`] variant carrying cbsecurity's data. Listeners are
//! registered on an [`EventBus`] (the services' builders take one):
//!
//! 1. **sync listeners** run inline, in registration order, when the event happens; a panic
//!    is caught and logged, never reaching the request. Keep them quick.
//! 2. **async listeners** are spawned on the tokio runtime and never delay the request; each
//!    run is cut off after [`LISTENER_TIMEOUT`].
//!
//! Events carry tokens as [`Jwt`], whose `Debug` hides the token, so logging
//! an event never logs a credential. [`log_event`] is a listener writing every event as one
//! structured `tracing` line (what `portcullis serve` logs).
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use portcullis::events::{EventBus, SecurityEvent};
//!
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let log = seen.clone();
//! let bus = EventBus::new()
//!     .on(move |event: &SecurityEvent| log.lock().unwrap().push(event.name()))
//!     .on(|_: &SecurityEvent| panic!("a broken listener"));
//! bus.emit(SecurityEvent::JwtInvalidateAllTokens);
//! assert_eq!(*seen.lock().unwrap(), ["jwt_invalidate_all_tokens"]);
//! ```

mod log;

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::auth::{AuthUser, LockoutScope};
use crate::jwt::{Claims, Jwt};
use crate::session::SessionId;
use crate::settings::{HostHeaderValidationSettings, IpValidationSettings};

pub use self::log::{log_event, LOG_TARGET};

/// How long an async listener may run before it is cut off.
pub const LISTENER_TIMEOUT: Duration = Duration::from_secs(10);

/// Something security-relevant that happened.
#[derive(Clone)]
#[non_exhaustive]
pub enum SecurityEvent {
    /// A token was issued (`cbSecurity_onJWTCreation`).
    JwtCreation {
        /// The token.
        token: Jwt,
        /// Its claims.
        claims: Claims,
        /// The user it was issued to.
        user: Arc<dyn AuthUser>,
        /// Whether it is a refresh token.
        refresh: bool,
    },
    /// A token was revoked (`cbSecurity_onJWTInvalidation`).
    JwtInvalidation {
        /// The token's claims.
        claims: Claims,
    },
    /// Every token of one subject was revoked (log out everywhere; portcullis addition).
    JwtSubjectInvalidation {
        /// The subject.
        subject: String,
    },
    /// A token's subject was loaded as a user (`cbSecurity_onJWTValidAuthentication`).
    JwtValidAuthentication {
        /// The token's claims.
        claims: Claims,
        /// The user.
        user: Arc<dyn AuthUser>,
    },
    /// A valid token's subject is not a known user (`cbSecurity_onJWTInvalidUser`).
    JwtInvalidUser {
        /// The token's claims.
        claims: Claims,
    },
    /// A token lacks a required claim or has one of the wrong type
    /// (`cbSecurity_onJWTInvalidClaims`).
    JwtInvalidClaims {
        /// The token.
        token: Jwt,
        /// What is wrong.
        reason: String,
    },
    /// An expired token was presented (`cbSecurity_onJWTExpiration`).
    JwtExpiration {
        /// The token.
        token: Jwt,
    },
    /// Token storage refused a valid token: revoked or unknown
    /// (`cbSecurity_onJWTStorageRejection`).
    JwtStorageRejection {
        /// The token's claims.
        claims: Claims,
        /// Why storage refused it.
        reason: String,
    },
    /// A request's token was verified and accepted (`cbSecurity_onJWTValidParsing`).
    JwtValidParsing {
        /// The token's claims.
        claims: Claims,
    },
    /// Every token was revoked (`cbSecurity_onJWTInvalidateAllTokens`).
    JwtInvalidateAllTokens,
    /// A rule or guard refused an unauthenticated request (`cbSecurity_onInvalidAuthentication`).
    InvalidAuthentication(Box<crate::firewall::InvalidAccess>),
    /// A rule or guard refused an authenticated request (`cbSecurity_onInvalidAuthorization`).
    InvalidAuthorization(Box<crate::firewall::InvalidAccess>),
    /// Host header or IP validation refused a request (`cbSecurity_onFirewallBlock`); the 403
    /// is always sent.
    FirewallBlock(FirewallBlock),
    /// An already-rotated refresh token was presented again: its family (the login session)
    /// was revoked (portcullis addition).
    RefreshReuseDetected {
        /// The family (`sid`) that was revoked.
        family: String,
        /// Its subject.
        subject: String,
        /// The `jti` of the reused refresh token.
        jti: String,
    },
    /// A user logged in through an [`AuthService`](crate::auth::AuthService) (cbauth's
    /// `postLogin`). With sessions, the session id changed at login: listeners keyed by the
    /// session (CSRF tokens) drop what they kept for `previous_session`.
    Login {
        /// The user.
        user: Arc<dyn AuthUser>,
        /// The session id before the login, now void (sessions only).
        previous_session: Option<SessionId>,
        /// The session id after the login (sessions only).
        session: Option<SessionId>,
    },
    /// A user logged out (cbauth's `postLogout`).
    Logout {
        /// The user's id, when a user was logged in.
        user_id: Option<String>,
        /// The session that ended (sessions only).
        session: Option<SessionId>,
    },
    /// A login failed on wrong credentials (cbauth's `onInvalidCredentials`), as counted by
    /// login protection.
    LoginFailure {
        /// The username tried, normalised (trimmed, lower case).
        username: String,
        /// The client's address, when known.
        ip: Option<IpAddr>,
        /// The username's failures so far, this one included.
        failures: u64,
    },
    /// A failed login locked a username or a client address out: further attempts are
    /// refused until `until` (portcullis addition).
    LoginLockout {
        /// The username tried, normalised.
        username: String,
        /// The client's address, when known.
        ip: Option<IpAddr>,
        /// Which counter locked.
        by: LockoutScope,
        /// That counter's failures.
        failures: u64,
        /// When attempts are accepted again.
        until: SystemTime,
    },
}

impl SecurityEvent {
    /// The event's name in snake case, e.g. `jwt_creation`.
    pub fn name(&self) -> &'static str {
        match self {
            SecurityEvent::JwtCreation { .. } => "jwt_creation",
            SecurityEvent::JwtInvalidation { .. } => "jwt_invalidation",
            SecurityEvent::JwtSubjectInvalidation { .. } => "jwt_subject_invalidation",
            SecurityEvent::JwtValidAuthentication { .. } => "jwt_valid_authentication",
            SecurityEvent::JwtInvalidUser { .. } => "jwt_invalid_user",
            SecurityEvent::JwtInvalidClaims { .. } => "jwt_invalid_claims",
            SecurityEvent::JwtExpiration { .. } => "jwt_expiration",
            SecurityEvent::JwtStorageRejection { .. } => "jwt_storage_rejection",
            SecurityEvent::JwtValidParsing { .. } => "jwt_valid_parsing",
            SecurityEvent::JwtInvalidateAllTokens => "jwt_invalidate_all_tokens",
            SecurityEvent::RefreshReuseDetected { .. } => "refresh_reuse_detected",
            SecurityEvent::InvalidAuthentication(_) => "invalid_authentication",
            SecurityEvent::InvalidAuthorization(_) => "invalid_authorization",
            SecurityEvent::Login { .. } => "login",
            SecurityEvent::Logout { .. } => "logout",
            SecurityEvent::LoginFailure { .. } => "login_failure",
            SecurityEvent::LoginLockout { .. } => "login_lockout",
            SecurityEvent::FirewallBlock(_) => "firewall_block",
        }
    }
}

impl fmt::Debug for SecurityEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct(self.name());
        match self {
            SecurityEvent::JwtCreation {
                claims,
                user,
                refresh,
                ..
            } => out
                .field("jti", &claims.jti())
                .field("user", &user.id())
                .field("refresh", refresh),
            SecurityEvent::JwtInvalidation { claims }
            | SecurityEvent::JwtInvalidUser { claims }
            | SecurityEvent::JwtValidParsing { claims } => {
                out.field("jti", &claims.jti()).field("sub", &claims.sub())
            }
            SecurityEvent::JwtValidAuthentication { claims, user } => {
                out.field("jti", &claims.jti()).field("user", &user.id())
            }
            SecurityEvent::JwtStorageRejection { claims, reason } => {
                out.field("jti", &claims.jti()).field("reason", reason)
            }
            SecurityEvent::JwtInvalidClaims { reason, .. } => out.field("reason", reason),
            SecurityEvent::JwtSubjectInvalidation { subject } => out.field("subject", subject),
            SecurityEvent::RefreshReuseDetected {
                family,
                subject,
                jti,
            } => out
                .field("family", family)
                .field("subject", subject)
                .field("jti", jti),
            SecurityEvent::InvalidAuthentication(access)
            | SecurityEvent::InvalidAuthorization(access) => out
                .field("path", &access.uri.path())
                .field("rule", &access.rule.as_ref().map(|r| r.id().to_owned()))
                .field("action", &access.action.as_str()),
            SecurityEvent::Login {
                user,
                previous_session,
                session,
            } => out
                .field("user", &user.id())
                .field("rotated", &previous_session.is_some())
                .field("session", &session.is_some()),
            SecurityEvent::Logout { user_id, session } => out
                .field("user", user_id)
                .field("session", &session.is_some()),
            SecurityEvent::LoginFailure {
                username,
                ip,
                failures,
            } => out
                .field("username", username)
                .field("ip", ip)
                .field("failures", failures),
            SecurityEvent::LoginLockout {
                username,
                ip,
                by,
                failures,
                until,
            } => out
                .field("username", username)
                .field("ip", ip)
                .field("by", by)
                .field("failures", failures)
                .field("until", until),
            SecurityEvent::FirewallBlock(block) => match block {
                FirewallBlock::HostHeader { incoming_host, .. } => out
                    .field("type", &block.kind())
                    .field("incoming_host", incoming_host),
                FirewallBlock::IpValidation { incoming_ip, .. } => out
                    .field("type", &block.kind())
                    .field("incoming_ip", incoming_ip),
            },
            SecurityEvent::JwtExpiration { .. } | SecurityEvent::JwtInvalidateAllTokens => &mut out,
        };
        out.finish_non_exhaustive()
    }
}

/// The data of [`SecurityEvent::FirewallBlock`] (spec §2.10): which check refused the request,
/// its settings, and the value it refused.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FirewallBlock {
    /// The host the client asked for is not allowed (cbsecurity type `hostheader`).
    HostHeader {
        /// The `security_headers.host_header_validation` settings.
        config: Arc<HostHeaderValidationSettings>,
        /// The host checked (`None`: the request named none; cbsecurity's `none`).
        incoming_host: Option<String>,
    },
    /// The client's address is not allowed (cbsecurity type `ipvalidation`).
    IpValidation {
        /// The `security_headers.ip_validation` settings.
        config: Arc<IpValidationSettings>,
        /// The address checked (`None`: unknown, the server recorded no peer).
        incoming_ip: Option<IpAddr>,
    },
}

impl FirewallBlock {
    /// cbsecurity's `type`: `hostheader` or `ipvalidation`.
    pub fn kind(&self) -> &'static str {
        match self {
            FirewallBlock::HostHeader { .. } => "hostheader",
            FirewallBlock::IpValidation { .. } => "ipvalidation",
        }
    }
}

/// A boxed future returned by an async listener.
pub type ListenerFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

type SyncListener = Arc<dyn Fn(&SecurityEvent) + Send + Sync>;
type AsyncListener = Arc<dyn Fn(SecurityEvent) -> ListenerFuture + Send + Sync>;

/// The listeners of security events. Cheap to clone; shared by every service built with it.
#[derive(Clone, Default)]
pub struct EventBus {
    sync: Vec<SyncListener>,
    asynchronous: Vec<AsyncListener>,
}

impl EventBus {
    /// A bus without listeners.
    pub fn new() -> Self {
        EventBus::default()
    }

    /// Adds a listener run inline when an event happens.
    pub fn on<F>(mut self, listener: F) -> Self
    where
        F: Fn(&SecurityEvent) + Send + Sync + 'static,
    {
        self.sync.push(Arc::new(listener));
        self
    }

    /// Adds a listener spawned on the tokio runtime for each event.
    pub fn on_async<F, Fut>(mut self, listener: F) -> Self
    where
        F: Fn(SecurityEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.asynchronous
            .push(Arc::new(move |event| Box::pin(listener(event))));
        self
    }

    /// Whether any listener is registered (events are not even built otherwise).
    pub fn is_empty(&self) -> bool {
        self.sync.is_empty() && self.asynchronous.is_empty()
    }

    /// Delivers `event` to every listener. Never fails and never panics.
    pub fn emit(&self, event: SecurityEvent) {
        for listener in &self.sync {
            if std::panic::catch_unwind(AssertUnwindSafe(|| listener(&event))).is_err() {
                tracing::error!(event = event.name(), "a security event listener panicked");
            }
        }
        if self.asynchronous.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                event = event.name(),
                "async security event listeners need a tokio runtime; skipped"
            );
            return;
        };
        for listener in &self.asynchronous {
            let run = listener(event.clone());
            let name = event.name();
            runtime.spawn(async move {
                if tokio::time::timeout(LISTENER_TIMEOUT, run).await.is_err() {
                    tracing::warn!(event = name, "a security event listener timed out");
                }
            });
        }
    }
}

impl fmt::Debug for EventBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBus")
            .field("sync", &self.sync.len())
            .field("async", &self.asynchronous.len())
            .finish()
    }
}
