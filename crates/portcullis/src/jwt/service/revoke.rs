//! What token storage means in each mode, and the revocation operations.
//!
//! * **allowlist** (cbsecurity): every issued token is recorded; a token without a record is
//!   revoked; revoking deletes the record.
//! * **denylist**: nothing is written when a token is issued; revoking records the `jti`
//!   until the token's `exp`; a token with a record is revoked.
//!
//! In both modes a subject's revocation epoch revokes every token of that subject issued
//! before it (and the `*` epoch every token), and a revoked login session (`sid`) revokes
//! its tokens.

use super::{JwtService, SESSION_CLAIM};
use crate::auth::AuthUser;
use crate::events::SecurityEvent;
use crate::jwt::{validation, Claims, JwtSubject};
use crate::storage::{Probe, StorageMode, StoredToken, ALL_SUBJECTS};
use crate::{Error, Result};

impl<U> JwtService<U>
where
    U: AuthUser + JwtSubject + Clone,
{
    /// Revokes `token` (of either type) so that it is refused from now on (cbsecurity's
    /// `invalidate`). A token that belongs to a login session ends that session too.
    /// Returns whether storage changed; `false` when storage is disabled.
    pub async fn invalidate(&self, token: &str) -> Result<bool> {
        let claims = self.decode(token)?;
        let changed = self.revoke_claims(&claims).await?;
        if let Some(session) = claims.get(SESSION_CLAIM).and_then(|v| v.as_str()) {
            self.revoke_session(session).await?;
        }
        if changed && !self.inner.events.is_empty() {
            self.inner
                .events
                .emit(SecurityEvent::JwtInvalidation { claims });
        }
        Ok(changed)
    }

    /// Ends the session `token` belongs to: the token, its refresh family and the family's
    /// access tokens are revoked (cbsecurity's `logout`, which needs a valid token).
    pub async fn logout(&self, token: &str) -> Result<()> {
        self.invalidate(token).await.map(|_| ())
    }

    /// Revokes every token `subject` holds, in every session, issued up to now: log out
    /// everywhere, after a password change. One write, in either mode.
    pub async fn invalidate_subject(&self, subject: &str) -> Result<()> {
        let Some(storage) = &self.inner.storage else {
            return Err(storage_disabled());
        };
        storage
            .revoke_before(subject, validation::now(), self.epoch_lifetime())
            .await?;
        if !self.inner.events.is_empty() {
            self.inner
                .events
                .emit(SecurityEvent::JwtSubjectInvalidation {
                    subject: subject.to_owned(),
                });
        }
        Ok(())
    }

    /// Revokes every token issued up to now (cbsecurity's `invalidateAll`). In allowlist
    /// mode the records are deleted as well.
    pub async fn invalidate_all(&self) -> Result<()> {
        let Some(storage) = &self.inner.storage else {
            return Err(storage_disabled());
        };
        storage
            .revoke_before(ALL_SUBJECTS, validation::now(), self.epoch_lifetime())
            .await?;
        if self.inner.settings.token_storage.mode == StorageMode::Allowlist {
            storage.clear_all().await?;
        }
        if !self.inner.events.is_empty() {
            self.inner
                .events
                .emit(SecurityEvent::JwtInvalidateAllTokens);
        }
        Ok(())
    }

    /// Whether storage holds a record of `token` (cbsecurity's `isTokenInStorage`). In
    /// allowlist mode a record means "still valid", in denylist mode "revoked". `false` when
    /// storage is disabled.
    pub async fn is_token_in_storage(&self, token: &str) -> Result<bool> {
        let claims = self.decode(token)?;
        match &self.inner.storage {
            Some(storage) => storage.exists(claims.jti().unwrap_or_default()).await,
            None => Ok(false),
        }
    }

    /// Records a newly issued token when the mode asks for it.
    pub(super) async fn remember(&self, claims: &Claims, token: &str) -> Result<()> {
        match &self.inner.storage {
            Some(storage) if self.inner.settings.token_storage.mode == StorageMode::Allowlist => {
                storage.set(record(claims, token)).await
            }
            _ => Ok(()),
        }
    }

    /// Revokes one token by its claims; whether storage changed.
    pub(super) async fn revoke_claims(&self, claims: &Claims) -> Result<bool> {
        let jti = claims.jti().unwrap_or_default();
        let expires_at = claims.exp().unwrap_or_default();
        self.revoke_jti(jti, claims.sub().unwrap_or_default(), expires_at)
            .await
    }

    /// Revokes the token `jti` (of `subject`, valid until `expires_at`).
    pub(super) async fn revoke_jti(
        &self,
        jti: &str,
        subject: &str,
        expires_at: i64,
    ) -> Result<bool> {
        let Some(storage) = &self.inner.storage else {
            return Ok(false);
        };
        match self.inner.settings.token_storage.mode {
            StorageMode::Allowlist => storage.clear(jti).await,
            StorageMode::Denylist => {
                if expires_at <= validation::now() {
                    return Ok(false);
                }
                storage
                    .set(StoredToken {
                        jti: jti.to_owned(),
                        token: String::new(),
                        subject: subject.to_owned(),
                        issued_at: validation::now(),
                        expires_at,
                    })
                    .await
                    .map(|()| true)
            }
        }
    }

    /// Revokes a login session: its family is marked revoked, and with it every access
    /// token carrying its `sid`.
    pub(super) async fn revoke_session(&self, session: &str) -> Result<()> {
        let Some(storage) = &self.inner.storage else {
            return Ok(());
        };
        for _ in 0..super::refresh::MAX_SWAP_ATTEMPTS {
            let Some(mut family) = storage.family(session).await? else {
                return Ok(());
            };
            if family.revoked {
                return Ok(());
            }
            let expected = family.version;
            family.revoke();
            if storage.swap_family(Some(expected), &family).await? {
                return Ok(());
            }
        }
        Err(super::refresh::contention())
    }

    /// Checks an access token's claims against storage; a revoked token is
    /// [`Error::TokenRejected`].
    pub(super) async fn check_standing(&self, claims: &Claims) -> Result<()> {
        let Some(storage) = &self.inner.storage else {
            return Ok(());
        };
        let session = claims.get(SESSION_CLAIM).and_then(|v| v.as_str());
        let standing = storage
            .check(Probe {
                jti: claims.jti().unwrap_or_default(),
                subject: claims.sub().unwrap_or_default(),
                family: session,
            })
            .await?;
        let issued_at = claims.iat().unwrap_or(i64::MIN);
        let reason = match self.inner.settings.token_storage.mode {
            StorageMode::Allowlist if !standing.recorded => Some("not found in storage"),
            StorageMode::Denylist if standing.recorded => Some("revoked"),
            _ if standing
                .revoked_before
                .is_some_and(|epoch| issued_at < epoch) =>
            {
                Some("revoked with every token of its subject")
            }
            _ if standing.family_revoked => Some("its session was revoked"),
            _ => None,
        };
        match reason {
            None => Ok(()),
            Some(reason) => {
                if !self.inner.events.is_empty() {
                    self.inner.events.emit(SecurityEvent::JwtStorageRejection {
                        claims: claims.clone(),
                        reason: reason.to_owned(),
                    });
                }
                Err(Error::TokenRejected {
                    reason: reason.to_owned(),
                })
            }
        }
    }

    /// How long a revocation epoch must be kept: as long as a token issued just before it
    /// could live.
    fn epoch_lifetime(&self) -> i64 {
        let settings = &self.inner.settings;
        let longest = settings.expiration.max(settings.refresh_expiration);
        validation::now() + i64::try_from(longest.as_secs()).unwrap_or(i64::MAX / 2)
    }
}

fn record(claims: &Claims, token: &str) -> StoredToken {
    StoredToken {
        jti: claims.jti().unwrap_or_default().to_owned(),
        token: token.to_owned(),
        subject: claims.sub().unwrap_or_default().to_owned(),
        issued_at: claims.iat().unwrap_or_default(),
        expires_at: claims.exp().unwrap_or_default(),
    }
}

fn storage_disabled() -> Error {
    Error::config(
        "jwt.token_storage.enabled",
        "token storage is disabled: tokens cannot be revoked before they expire",
    )
}
