//! Where the gateway's users come from: any [`UserService`] that also says how it reloads and
//! whether it can register users ([`GatewayUsers`]): the `basic_auth` users of the settings
//! ([`SettingsUsers`], re-read on reload, never registering), or the SQL user store
//! ([`SqlUserStore`](crate::users::SqlUserStore), registering when
//! `users.allow_registration` is on).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! use portcullis::auth::UserService;
//! use portcullis::gateway::{GatewayUsers, SettingsUsers};
//! use portcullis::settings::Settings;
//!
//! let before = Settings::from_toml_str("[basic_auth.users.ann]\npassword = \"plain:first password\"")?;
//! let users = SettingsUsers::from_settings(&before)?;
//! assert!(users.is_valid_credentials("ann", "first password").await?);
//!
//! let after = Settings::from_toml_str("[basic_auth.users.ann]\npassword = \"plain:second password\"")?;
//! users.reload(&after).await?;
//! assert!(!users.is_valid_credentials("ann", "first password").await?);
//! assert!(users.is_valid_credentials("ann", "second password").await?);
//! assert!(!users.can_register());
//! # Ok(()) }
//! ```

use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;

use crate::auth::{BasicAuthUsers, BasicUser, UserService};
use crate::settings::Settings;
use crate::{Error, Result};

/// A user store the gateway can run on.
#[async_trait]
pub trait GatewayUsers: UserService {
    /// Takes the re-read settings after a reload (SIGHUP). Default: nothing changes.
    async fn reload(&self, settings: &Settings) -> Result<()> {
        let _ = settings;
        Ok(())
    }

    /// One cheap round trip to the store's backend, for `/portcullis/health`. Default: `Ok`
    /// (users held in memory).
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the backend cannot be reached.
    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    /// Whether [`GatewayUsers::register`] can add users (`POST /portcullis/register` is 404
    /// otherwise). Default: no.
    fn can_register(&self) -> bool {
        false
    }

    /// Adds the user `username` with `password` (self-service registration), checking both
    /// against the store's own rules.
    ///
    /// # Errors
    /// [`Error::UserExists`] for a taken name (409), [`Error::InvalidInput`] for a value the
    /// store refuses (400); the default refuses with [`Error::NotAuthorized`].
    async fn register(&self, username: &str, password: &str) -> Result<Self::User> {
        let _ = (username, password);
        Err(Error::NotAuthorized {
            message: "registration is disabled".to_owned(),
        })
    }
}

#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
#[async_trait]
impl GatewayUsers for crate::users::SqlUserStore {
    /// [`SqlUserStore::ping`](crate::users::SqlUserStore::ping): reads the schema version.
    async fn ping(&self) -> Result<()> {
        crate::users::SqlUserStore::ping(self).await
    }

    /// `users.allow_registration`.
    fn can_register(&self) -> bool {
        self.registration_allowed()
    }

    /// [`SqlUserStore::register`](crate::users::SqlUserStore::register): the username and
    /// password rules of `users`, the default roles and permissions.
    async fn register(&self, username: &str, password: &str) -> Result<Self::User> {
        crate::users::SqlUserStore::register(self, crate::users::NewUser::new(username, password))
            .await
    }
}

/// The `basic_auth.users` of the settings, replaced as a whole on reload.
pub struct SettingsUsers {
    current: ArcSwap<BasicAuthUsers>,
}

impl SettingsUsers {
    /// The users of `settings.basic_auth` (`plain:` passwords are hashed now).
    ///
    /// # Errors
    /// [`Error::Config`] naming the user whose password is unusable.
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        Ok(SettingsUsers {
            current: ArcSwap::from_pointee(BasicAuthUsers::from_settings(&settings.basic_auth)?),
        })
    }

    /// The users in force now.
    pub fn current(&self) -> Arc<BasicAuthUsers> {
        self.current.load_full()
    }
}

impl std::fmt::Debug for SettingsUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SettingsUsers")
            .field(&self.current.load())
            .finish()
    }
}

#[async_trait]
impl UserService for SettingsUsers {
    type User = BasicUser;

    async fn is_valid_credentials(&self, username: &str, password: &str) -> Result<bool> {
        self.current()
            .is_valid_credentials(username, password)
            .await
    }

    async fn retrieve_user_by_username(&self, username: &str) -> Result<Option<BasicUser>> {
        self.current().retrieve_user_by_username(username).await
    }

    async fn retrieve_user_by_id(&self, id: &str) -> Result<Option<BasicUser>> {
        self.current().retrieve_user_by_id(id).await
    }
}

#[async_trait]
impl GatewayUsers for SettingsUsers {
    /// Re-reads `basic_auth` (hashing `plain:` passwords off the async workers) and swaps the
    /// users in; requests in flight finish with the users they started with.
    async fn reload(&self, settings: &Settings) -> Result<()> {
        let basic_auth = settings.basic_auth.clone();
        let users = tokio::task::spawn_blocking(move || BasicAuthUsers::from_settings(&basic_auth))
            .await
            .map_err(|_| Error::config("basic_auth.users", "reading the users failed"))??;
        self.current.store(Arc::new(users));
        Ok(())
    }
}
