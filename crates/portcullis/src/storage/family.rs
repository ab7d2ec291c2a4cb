//! Refresh-token families and their rotation rules.
//!
//! A family is the chain of refresh tokens descending from one login. Each refresh presents
//! the family's current refresh token and gets the next one; the presented token is then
//! spent. Presenting a spent token means two parties hold the same chain — one of them a
//! thief — so the whole family is revoked, except in one benign case: within the overlap
//! window right after a rotation, the immediately previous token is accepted **once** more
//! (two tabs refreshing together, a response lost on the way) and gets the current token
//! back instead of a new one, so the chain does not fork.
//!
//! The family's absolute expiry is fixed at login: rotation never extends it.

use serde::{Deserialize, Serialize};

/// The stored state of one refresh family.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyState {
    /// The family id (the `fam` claim of its tokens).
    pub family: String,
    /// The subject the family belongs to.
    pub subject: String,
    /// Incremented at every change; the compare-and-swap key.
    pub version: u64,
    /// The `jti` of the refresh token that may be presented next.
    pub current_jti: String,
    /// That refresh token, handed back to a request that presents the previous one within
    /// the overlap window.
    pub current_token: String,
    /// The `jti` of the refresh token rotated last.
    pub previous_jti: Option<String>,
    /// When the last rotation happened, Unix seconds.
    pub rotated_at: i64,
    /// Whether the previous token was already accepted once within the overlap window.
    pub grace_used: bool,
    /// The access token issued together with the current refresh token, and its expiry.
    pub access_jti: Option<String>,
    /// `exp` of that access token.
    pub access_expires_at: i64,
    /// When the family ends, Unix seconds: fixed at login.
    pub expires_at: i64,
    /// Whether the family was revoked (reuse detected, logout).
    pub revoked: bool,
}

/// The refresh (and access) token a rotation would issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextRefresh {
    /// The new refresh token's `jti`.
    pub jti: String,
    /// The new refresh token.
    pub token: String,
    /// The `jti` of the access token issued with it.
    pub access_jti: Option<String>,
    /// That access token's `exp`.
    pub access_expires_at: i64,
}

/// What presenting a refresh token to its family did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// It was the current token: the family moved on to the next one. The access token
    /// issued with the presented refresh token is returned, so it can be revoked.
    Rotated {
        /// The previous access token's `jti` and `exp`.
        revoked_access: Option<(String, i64)>,
    },
    /// It was the previous token, presented again within the overlap window: accepted this
    /// once; the caller hands back `current_token` instead of a new refresh token.
    Grace {
        /// The family's current refresh token.
        current_token: String,
    },
    /// It was a spent token: the family is now revoked.
    Reused,
    /// The family was already revoked or has expired.
    Revoked,
}

impl FamilyState {
    /// A new family at login, whose first refresh token is `jti`.
    pub fn new(
        family: impl Into<String>,
        subject: impl Into<String>,
        jti: impl Into<String>,
        token: impl Into<String>,
        now: i64,
        expires_at: i64,
    ) -> Self {
        FamilyState {
            family: family.into(),
            subject: subject.into(),
            version: 0,
            current_jti: jti.into(),
            current_token: token.into(),
            previous_jti: None,
            rotated_at: now,
            grace_used: false,
            access_jti: None,
            access_expires_at: 0,
            expires_at,
            revoked: false,
        }
    }

    /// Applies the rotation rules for `presented` at time `now`, with an overlap window of
    /// `overlap` seconds (the previous token is accepted while `now - rotated_at < overlap`;
    /// 0 disables the window); on success the family moves to `next`. The version is incremented
    /// whenever the state changes.
    pub fn rotate(
        &mut self,
        presented: &str,
        next: &NextRefresh,
        now: i64,
        overlap: i64,
    ) -> Rotation {
        if self.revoked || now >= self.expires_at {
            return Rotation::Revoked;
        }
        if presented == self.current_jti {
            let revoked_access = self
                .access_jti
                .take()
                .map(|jti| (jti, self.access_expires_at));
            self.previous_jti = Some(std::mem::replace(&mut self.current_jti, next.jti.clone()));
            self.current_token = next.token.clone();
            self.access_jti = next.access_jti.clone();
            self.access_expires_at = next.access_expires_at;
            self.rotated_at = now;
            self.grace_used = false;
            self.version += 1;
            return Rotation::Rotated { revoked_access };
        }
        let is_previous = self.previous_jti.as_deref() == Some(presented);
        if is_previous && !self.grace_used && now - self.rotated_at < overlap {
            self.grace_used = true;
            self.version += 1;
            return Rotation::Grace {
                current_token: self.current_token.clone(),
            };
        }
        self.revoked = true;
        self.version += 1;
        Rotation::Reused
    }

    /// Marks the family revoked (logout, reuse).
    pub fn revoke(&mut self) {
        self.revoked = true;
        self.version += 1;
    }
}

impl std::fmt::Debug for FamilyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FamilyState")
            .field("family", &self.family)
            .field("subject", &self.subject)
            .field("version", &self.version)
            .field("current_jti", &self.current_jti)
            .field("current_token", &"<redacted>")
            .field("previous_jti", &self.previous_jti)
            .field("rotated_at", &self.rotated_at)
            .field("grace_used", &self.grace_used)
            .field("access_jti", &self.access_jti)
            .field("expires_at", &self.expires_at)
            .field("revoked", &self.revoked)
            .finish()
    }
}

/// The stored form of a family for the SQL and Redis drivers.
#[cfg(any(
    feature = "storage-sqlite",
    feature = "storage-postgres",
    feature = "storage-redis"
))]
mod stored {
    use super::FamilyState;
    use crate::storage::failure::unavailable;
    use crate::Result;

    impl FamilyState {
        /// The state as stored by the SQL and Redis drivers (JSON).
        pub(crate) fn to_json(&self) -> Result<String> {
            serde_json::to_string(self)
                .map_err(|e| unavailable(format!("cannot encode the refresh family: {e}")))
        }

        /// A state stored by [`FamilyState::to_json`]; unreadable is an outage, never a guess.
        pub(crate) fn from_json(json: &str) -> Result<Self> {
            serde_json::from_str(json)
                .map_err(|e| unavailable(format!("a stored refresh family is unreadable: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(jti: &str) -> NextRefresh {
        NextRefresh {
            jti: jti.into(),
            token: format!("token-{jti}"),
            access_jti: Some(format!("a-{jti}")),
            access_expires_at: 5_000,
        }
    }

    fn family() -> FamilyState {
        FamilyState::new("f", "s", "r1", "token-r1", 1_000, 10_000)
    }

    #[test]
    fn rotation_returns_the_sibling_access_token_to_revoke() {
        let mut f = family();
        assert_eq!(
            f.rotate("r1", &next("r2"), 1_100, 10),
            Rotation::Rotated {
                revoked_access: None
            }
        );
        assert_eq!(
            f.rotate("r2", &next("r3"), 1_200, 10),
            Rotation::Rotated {
                revoked_access: Some(("a-r2".into(), 5_000))
            }
        );
        assert_eq!(f.version, 2);
        assert_eq!(f.current_jti, "r3");
    }

    #[test]
    fn the_previous_token_is_accepted_once_and_only_within_the_window() {
        let mut f = family();
        f.rotate("r1", &next("r2"), 1_100, 10);
        assert_eq!(
            f.rotate("r1", &next("x"), 1_109, 10),
            Rotation::Grace {
                current_token: "token-r2".into()
            }
        );
        assert_eq!(f.current_jti, "r2", "grace does not fork the chain");
        assert_eq!(f.rotate("r1", &next("x"), 1_111, 10), Rotation::Reused);
        assert!(f.revoked);
        assert_eq!(
            f.rotate("r2", &next("r3"), 1_112, 10),
            Rotation::Revoked,
            "revoked stays revoked"
        );

        let mut late = family();
        late.rotate("r1", &next("r2"), 1_100, 10);
        assert_eq!(
            late.rotate("r1", &next("x"), 1_110, 10),
            Rotation::Reused,
            "after the window"
        );

        let mut none = family();
        none.rotate("r1", &next("r2"), 1_100, 0);
        assert_eq!(
            none.rotate("r1", &next("x"), 1_100, 0),
            Rotation::Reused,
            "a zero window accepts nothing"
        );
    }

    #[test]
    fn older_tokens_and_expired_families_are_refused() {
        let mut f = family();
        f.rotate("r1", &next("r2"), 1_100, 10);
        f.rotate("r2", &next("r3"), 1_200, 10);
        assert_eq!(
            f.rotate("r1", &next("x"), 1_201, 10),
            Rotation::Reused,
            "two generations back"
        );
        let mut old = family();
        assert_eq!(
            old.rotate("r1", &next("r2"), 10_000, 10),
            Rotation::Revoked,
            "absolute expiry"
        );
    }
}
