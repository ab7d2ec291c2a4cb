//! Refreshing: a refresh token buys a new pair, once.
//!
//! 1. Refresh tokens must be enabled; the token must verify **as a refresh token**.
//! 2. Storage is consulted: a subject or global revocation epoch, or a revoked session,
//!    refuses it.
//! 3. The subject must still be a known user.
//! 4. With storage and a session (`sid`), the session's family decides
//!    ([`FamilyState::rotate`](crate::storage::FamilyState::rotate)): the current token rotates
//!    to a new pair; the previous one, again within `jwt.refresh_reuse_overlap`, gets a new
//!    access token and the current refresh token back; anything else is reuse — the session is
//!    revoked, with its access tokens, and [`SecurityEvent::RefreshReuseDetected`] announced.
//!    The new refresh token never outlives the session's original expiry.
//! 5. Without storage (or for cbsecurity refresh tokens without `sid`) a new pair is issued and
//!    the presented token revoked, as cbsecurity does.
//!
//! With `jwt.revoke_access_on_refresh` (default on) the access token issued together with
//! the presented refresh token is revoked as well.

use serde_json::Map;

use super::{JwtService, TokenPair, SESSION_CLAIM};
use crate::auth::AuthUser;
use crate::events::SecurityEvent;
use crate::jwt::{validation, Claims, JwtSubject, TokenType};
use crate::storage::{NextRefresh, Rotation, StorageMode, TokenStorage};
use crate::{Error, Result};

/// How often a compare-and-swap on a family is retried before giving up.
pub(super) const MAX_SWAP_ATTEMPTS: usize = 8;

/// The error when a family keeps changing under us.
pub(super) fn contention() -> Error {
    Error::Unavailable {
        what: "token storage",
        reason: "the login session changed concurrently too often; try again".into(),
    }
}

impl<U> JwtService<U>
where
    U: AuthUser + JwtSubject + Clone,
{
    /// Exchanges a refresh token for a new pair (cbsecurity's `refreshToken`, with rotation
    /// and reuse detection). Every refusal is an error a client can act on
    /// ([`Error::TokenExpired`], [`Error::TokenInvalid`], [`Error::TokenRejected`],
    /// [`Error::UnknownUser`]); a storage failure is [`Error::Unavailable`].
    pub async fn refresh_token(&self, refresh_token: &str) -> Result<TokenPair> {
        if !self.inner.settings.enable_refresh_tokens {
            return Err(Error::RefreshTokensNotActive);
        }
        let claims = self.verified(refresh_token, TokenType::Refresh)?;
        let session = claims
            .get(SESSION_CLAIM)
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        match (&self.inner.storage, session) {
            (Some(storage), Some(session)) => {
                self.check_epochs(&claims).await?;
                let user = self.authenticate(&claims).await?;
                self.rotate(storage.as_ref(), &session, &claims, &user)
                    .await
            }
            _ => {
                self.check_standing(&claims).await?;
                let user = self.authenticate(&claims).await?;
                let pair = self.from_user(&user, Map::new(), Map::new()).await?;
                self.revoke_claims(&claims).await?;
                Ok(pair)
            }
        }
    }

    /// Refuses a refresh token that a subject or global epoch revoked. (Its session is judged
    /// by the family itself.)
    async fn check_epochs(&self, claims: &Claims) -> Result<()> {
        let Some(storage) = &self.inner.storage else {
            return Ok(());
        };
        let subject = claims.sub().unwrap_or_default();
        let own = storage.revoked_before(subject).await?;
        let all = storage.revoked_before(crate::storage::ALL_SUBJECTS).await?;
        let issued_at = claims.iat().unwrap_or(i64::MIN);
        if own.max(all).is_some_and(|epoch| issued_at < epoch) {
            return Err(Error::TokenRejected {
                reason: "revoked with every token of its subject".into(),
            });
        }
        Ok(())
    }

    /// Presents the refresh token to its family and issues what the family allows.
    async fn rotate(
        &self,
        storage: &dyn TokenStorage,
        session: &str,
        claims: &Claims,
        user: &U,
    ) -> Result<TokenPair> {
        let presented = claims.jti().unwrap_or_default();
        let overlap =
            i64::try_from(self.inner.settings.refresh_reuse_overlap.as_secs()).unwrap_or(i64::MAX);
        for _ in 0..MAX_SWAP_ATTEMPTS {
            let Some(state) = storage.family(session).await? else {
                return Err(Error::TokenRejected {
                    reason: "its session is unknown or has ended".into(),
                });
            };
            if Some(state.subject.as_str()) != claims.sub() {
                return Err(Error::TokenRejected {
                    reason: "its session belongs to another subject".into(),
                });
            }
            let now = validation::now();
            let access = self.issue(user, Map::new(), Some(session), now, false, None)?;
            let refresh_exp = (now
                + i64::try_from(self.inner.settings.refresh_expiration.as_secs())
                    .unwrap_or(i64::MAX / 2))
            .min(state.expires_at);
            let refresh = self.issue(
                user,
                Map::new(),
                Some(session),
                now,
                true,
                Some(refresh_exp),
            )?;
            let next = NextRefresh {
                jti: refresh.claims.jti().unwrap_or_default().to_owned(),
                token: refresh.token.clone(),
                access_jti: access.claims.jti().map(str::to_owned),
                access_expires_at: access.claims.exp().unwrap_or(now),
            };
            let mut changed = state.clone();
            let outcome = changed.rotate(presented, &next, now, overlap);
            if changed != state && !storage.swap_family(Some(state.version), &changed).await? {
                continue;
            }
            return match outcome {
                Rotation::Rotated { revoked_access } => {
                    self.record_issued(user, &access, false).await?;
                    self.record_issued(user, &refresh, true).await?;
                    self.revoke_claims(claims).await?;
                    if let Some((jti, expires_at)) = revoked_access {
                        if self.inner.settings.revoke_access_on_refresh {
                            self.revoke_jti(&jti, &state.subject, expires_at).await?;
                        }
                    }
                    if !self.inner.events.is_empty() {
                        self.inner.events.emit(SecurityEvent::JwtInvalidation {
                            claims: claims.clone(),
                        });
                    }
                    Ok(self.pair(access.token, Some(refresh.token)))
                }
                Rotation::Grace { current_token } => {
                    self.record_issued(user, &access, false).await?;
                    Ok(self.pair(access.token, Some(current_token)))
                }
                Rotation::Reused => {
                    if let Some(access_jti) = &changed.access_jti {
                        self.revoke_jti(access_jti, &state.subject, changed.access_expires_at)
                            .await?;
                    }
                    if self.inner.settings.token_storage.mode == StorageMode::Allowlist {
                        storage.clear(&changed.current_jti).await?;
                    }
                    tracing::warn!(
                        session,
                        subject = state.subject.as_str(),
                        "refresh token reuse detected: the session was revoked"
                    );
                    if !self.inner.events.is_empty() {
                        self.inner.events.emit(SecurityEvent::RefreshReuseDetected {
                            family: session.to_owned(),
                            subject: state.subject.clone(),
                            jti: presented.to_owned(),
                        });
                    }
                    Err(Error::TokenRejected {
                        reason: "refresh token reuse detected; the session was revoked".into(),
                    })
                }
                Rotation::Revoked => Err(Error::TokenRejected {
                    reason: "its session was revoked or has ended".into(),
                }),
            };
        }
        Err(contention())
    }
}
