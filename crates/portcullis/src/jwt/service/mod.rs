//! `JwtService`: cbsecurity's JWT operations over the keys, token storage, the user service
//! and the event bus.
//!
//! | cbsecurity | portcullis |
//! |---|---|
//! | `attempt(username, password)` | [`JwtService::attempt`] |
//! | `fromUser(user, claims, refreshClaims)` | [`JwtService::from_user`] |
//! | `encode` / `verify` / `decode` | [`JwtService::encode`] / [`JwtService::verify`] / [`JwtService::decode`] |
//! | `parseToken()` | [`JwtService::parse_token`], [`JwtService::parse_request`] |
//! | `authenticate(payload)` | [`JwtService::authenticate`] |
//! | `logout` / `invalidate` / `invalidateAll` | [`JwtService::logout`] / [`JwtService::invalidate`] / [`JwtService::invalidate_all`] (+ [`JwtService::invalidate_subject`]) |
//! | `isTokenInStorage` | [`JwtService::is_token_in_storage`] |
//! | `refreshToken` | [`JwtService::refresh_token`] |
//!
//! Issued tokens carry `sid`, the id of their login session (refresh family) when refresh
//! tokens are enabled, so that revoking the session revokes its access tokens too.

mod discovery;
mod parse;
mod refresh;
mod revoke;

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Claims, IssuedToken, JwtKeys, JwtSubject, SigningKey, TokenBuilder};
use crate::auth::{AuthUser, UserService};
use crate::events::{EventBus, SecurityEvent};
use crate::settings::JwtSettings;
use crate::storage::{FamilyState, TokenStorage};
use crate::{Error, Result};

pub use self::discovery::bearer_token;

/// The claim naming a token's login session (its refresh family).
pub const SESSION_CLAIM: &str = "sid";

/// What a login or a refresh returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenPair {
    /// The access token.
    pub access_token: String,
    /// The refresh token, when refresh tokens are enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// The access token's lifetime in seconds.
    pub expires_in: u64,
}

/// A request's verified token, its claims and its user.
#[derive(Debug, Clone)]
pub struct Authenticated<U> {
    /// The raw token.
    pub token: super::Jwt,
    /// Its verified claims.
    pub claims: Claims,
    /// The user its subject names.
    pub user: U,
}

/// The JWT service. Cheap to clone; every clone shares keys, storage and listeners.
pub struct JwtService<U> {
    inner: Arc<Inner<U>>,
}

struct Inner<U> {
    settings: JwtSettings,
    keys: JwtKeys,
    storage: Option<Arc<dyn TokenStorage>>,
    users: Arc<dyn UserService<User = U>>,
    events: EventBus,
}

impl<U> Clone for JwtService<U> {
    fn clone(&self) -> Self {
        JwtService {
            inner: self.inner.clone(),
        }
    }
}

/// Builds a [`JwtService`].
pub struct JwtServiceBuilder<U> {
    settings: JwtSettings,
    users: Arc<dyn UserService<User = U>>,
    storage: Option<Arc<dyn TokenStorage>>,
    events: EventBus,
}

impl<U> JwtServiceBuilder<U>
where
    U: AuthUser + JwtSubject + Clone,
{
    /// Uses `storage` instead of the driver `jwt.token_storage` names (your own driver, or
    /// one shared with other services).
    pub fn storage(mut self, storage: Arc<dyn TokenStorage>) -> Self {
        self.storage = Some(storage);
        self
    }

    /// Delivers the service's events to `events`' listeners.
    pub fn events(mut self, events: EventBus) -> Self {
        self.events = events;
        self
    }

    /// Loads the keys and connects token storage (when `jwt.token_storage.enabled`). Every
    /// mistake in the settings fails here, naming its key.
    pub async fn build(self) -> Result<JwtService<U>> {
        let keys = JwtKeys::from_settings(&self.settings)?;
        let storage = if self.settings.token_storage.enabled {
            match self.storage {
                Some(storage) => Some(storage),
                None => Some(crate::storage::from_settings(&self.settings.token_storage).await?),
            }
        } else {
            None
        };
        Ok(JwtService {
            inner: Arc::new(Inner {
                settings: self.settings,
                keys,
                storage,
                users: self.users,
                events: self.events,
            }),
        })
    }
}

impl<U> JwtService<U>
where
    U: AuthUser + JwtSubject + Clone,
{
    /// Starts building a service from the `jwt` settings and the service users come from.
    pub fn builder(
        settings: JwtSettings,
        users: impl UserService<User = U>,
    ) -> JwtServiceBuilder<U> {
        JwtServiceBuilder {
            settings,
            users: Arc::new(users),
            storage: None,
            events: EventBus::new(),
        }
    }

    /// The settings the service was built from.
    pub fn settings(&self) -> &JwtSettings {
        &self.inner.settings
    }

    /// The token storage, when enabled.
    pub fn storage(&self) -> Option<&Arc<dyn TokenStorage>> {
        self.inner.storage.as_ref()
    }

    /// The service users are looked up in.
    pub fn users(&self) -> &Arc<dyn UserService<User = U>> {
        &self.inner.users
    }

    /// The event bus.
    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    /// Checks `username`'s `password` with the user service and issues tokens for the user
    /// (cbsecurity's `attempt`). Wrong credentials → [`Error::InvalidCredentials`].
    pub async fn attempt(&self, username: &str, password: &str) -> Result<TokenPair> {
        let user = self
            .inner
            .users
            .authenticate(username, password)
            .await?
            .ok_or(Error::InvalidCredentials)?;
        self.from_user(&user, Map::new(), Map::new()).await
    }

    /// Issues an access token for `user` — and, when refresh tokens are enabled, a refresh
    /// token starting a new login session (cbsecurity's `fromUser`). `custom` claims go into
    /// both tokens; `refresh_custom` claims into the refresh token only, overriding `custom`.
    pub async fn from_user(
        &self,
        user: &U,
        custom: Map<String, Value>,
        refresh_custom: Map<String, Value>,
    ) -> Result<TokenPair> {
        let now = super::validation::now();
        let settings = &self.inner.settings;
        if !settings.enable_refresh_tokens {
            let access = self.issue(user, custom, None, now, false, None)?;
            self.record_issued(user, &access, false).await?;
            return Ok(self.pair(access.token, None));
        }
        let session = crate::random::hex128()?;
        let access = self.issue(user, custom.clone(), Some(&session), now, false, None)?;
        let mut refresh_claims = custom;
        refresh_claims.extend(refresh_custom);
        let refresh = self.issue(user, refresh_claims, Some(&session), now, true, None)?;
        if let Some(storage) = &self.inner.storage {
            let mut family = FamilyState::new(
                &session,
                user.id(),
                refresh.claims.jti().unwrap_or_default(),
                &refresh.token,
                now,
                refresh.claims.exp().unwrap_or(now),
            );
            family.access_jti = access.claims.jti().map(str::to_owned);
            family.access_expires_at = access.claims.exp().unwrap_or(now);
            if !storage.swap_family(None, &family).await? {
                return Err(Error::Unavailable {
                    what: "token storage",
                    reason: "a login session with the same id already exists".into(),
                });
            }
        }
        self.record_issued(user, &access, false).await?;
        self.record_issued(user, &refresh, true).await?;
        Ok(self.pair(access.token, Some(refresh.token)))
    }

    /// Signs `payload` as is: no claim added, nothing stored, no event (cbsecurity's
    /// `encode`).
    pub fn encode(&self, payload: &Map<String, Value>) -> Result<String> {
        self.signer()?.sign(payload)
    }

    /// Whether `token` decodes (cbsecurity's `verify`): signature, time claims, issuer and
    /// required claims; not storage, not the user.
    pub fn verify(&self, token: &str) -> bool {
        self.decode(token).is_ok()
    }

    /// The claims of a token of either type, checked as [`JwtService::verify`] says
    /// (cbsecurity's `decode`).
    pub fn decode(&self, token: &str) -> Result<Claims> {
        self.inner.keys.verifier().decode(token)
    }

    /// The signing key; a verify-only deployment cannot issue tokens.
    fn signer(&self) -> Result<&SigningKey> {
        self.inner.keys.signer().ok_or_else(|| {
            Error::config(
                "jwt.signing_key",
                "this service only verifies tokens: configure a signing key to issue them",
            )
        })
    }

    /// Builds and signs one token for `user`.
    fn issue(
        &self,
        user: &U,
        custom: Map<String, Value>,
        session: Option<&str>,
        now: i64,
        refresh: bool,
        expires_at: Option<i64>,
    ) -> Result<IssuedToken> {
        let settings = &self.inner.settings;
        let lifetime = if refresh {
            settings.refresh_expiration
        } else {
            settings.expiration
        };
        let mut builder = TokenBuilder::for_subject(settings.effective_issuer(), user)
            .issued_at(now)
            .expires_in(lifetime)
            .claims(custom);
        if let Some(audience) = &settings.audience {
            builder = builder.audience(audience.clone());
        }
        if let Some(session) = session {
            builder = builder.claim(SESSION_CLAIM, session);
        }
        if let Some(expires_at) = expires_at {
            builder = builder.claim("exp", expires_at);
        }
        if refresh {
            builder = builder.refresh();
        }
        builder.issue(self.signer()?)
    }

    /// Records an issued token (allowlist mode) and announces it.
    async fn record_issued(&self, user: &U, issued: &IssuedToken, refresh: bool) -> Result<()> {
        self.remember(&issued.claims, &issued.token).await?;
        if !self.inner.events.is_empty() {
            self.inner.events.emit(SecurityEvent::JwtCreation {
                token: super::Jwt::new(issued.token.as_str()),
                claims: issued.claims.clone(),
                user: Arc::new(user.clone()),
                refresh,
            });
        }
        Ok(())
    }

    fn pair(&self, access_token: String, refresh_token: Option<String>) -> TokenPair {
        TokenPair {
            access_token,
            refresh_token,
            token_type: "Bearer",
            expires_in: self.inner.settings.expiration.as_secs(),
        }
    }
}
