//! [`SqlUserStore`]: users in SQLite or PostgreSQL, over the token storage's connection pool.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use super::input;
use super::schema::{Names, Statements, SCHEMA_VERSION};
use super::user::{with_granted, with_revoked, Credential};
use super::{Access, NewUser, StoredUser};
use crate::auth::{PasswordHasher, PasswordScheme, UserService, Verification};
use crate::settings::{Settings, UsersDriver, UsersSettings};
use crate::storage::clock;
use crate::storage::failure::Redactor;
use crate::storage::sql::dialect::Dialect;
use crate::storage::sql::pool::{with_pool, Pool};
use crate::storage::sql::sql;
use crate::{Error, Result};

/// The `what` of the store's [`Error::Unavailable`].
const WHAT: &str = "user store";

/// The longest imported hash accepted (PHC strings and digests are far shorter).
const MAX_HASH: usize = 512;

/// How many times a grant or revocation is retried when the user changes meanwhile.
const CHANGE_ATTEMPTS: usize = 8;

/// A user row: id, username, hash, roles, permissions, first name, last name, email,
/// disabled, created, updated.
type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    bool,
    i64,
    i64,
);

/// A user as read, with what the store needs besides: the hash and the stored texts of the
/// roles and permissions (the compare-and-swap keys of their updates).
struct Record {
    user: StoredUser,
    hash: String,
    roles: String,
    permissions: String,
}

/// What the settings allow.
struct Policy {
    min_password: usize,
    max_password: usize,
    allow_registration: bool,
    default_roles: Vec<String>,
    default_permissions: Vec<String>,
}

struct Inner {
    pool: Pool,
    sql: Statements,
    redactor: Redactor,
    hasher: PasswordHasher,
    policy: Policy,
}

/// Users in a SQL database: SQLite (a file, the default; feature `storage-sqlite`) or
/// PostgreSQL (feature `storage-postgres`), configured by the `users` settings. See the
/// [module documentation](super) for the model and an example.
///
/// Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct SqlUserStore {
    inner: Arc<Inner>,
}

impl SqlUserStore {
    /// Connects to the store of `settings.users`, a relative SQLite `path` being taken from
    /// the current directory. See [`from_settings_in`](Self::from_settings_in).
    ///
    /// # Errors
    /// As [`from_settings_in`](Self::from_settings_in).
    pub async fn from_settings(settings: &Settings) -> Result<Self> {
        Self::from_settings_in(settings, Path::new(".")).await
    }

    /// Connects to the store of `settings.users`, a relative SQLite `path` being taken from
    /// `base` (the settings file's directory), and applies the pending migrations
    /// (`users.auto_migrate`) or checks that there are none.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key when a `users` setting is unusable (e.g. the SQLite
    /// file's directory does not exist, or the driver's feature is not compiled in);
    /// [`Error::Unavailable`] when the database cannot be reached, the migrations fail, or
    /// the schema is not current while `auto_migrate` is off.
    pub async fn from_settings_in(settings: &Settings, base: &Path) -> Result<Self> {
        let users = &settings.users;
        users.validate()?;
        let (url, key) = match users.driver {
            UsersDriver::Sqlite => (sqlite_url(users, base)?, "users.path"),
            UsersDriver::Postgres => {
                let url = users.url.expose_str().unwrap_or_default().to_owned();
                (url, "users.url")
            }
        };
        let redactor = Redactor::for_url(&url);
        let pool = Pool::open(&url, &redactor).map_err(|e| e.for_setting(key))?;
        let sql = Statements::new(pool.dialect(), &Names::new(&users.table, &users.schema));
        let store = SqlUserStore {
            inner: Arc::new(Inner {
                sql,
                redactor,
                hasher: users.hasher()?,
                policy: Policy {
                    min_password: users.min_password_length,
                    max_password: users.max_password_length,
                    allow_registration: users.allow_registration,
                    default_roles: users.default_roles.clone(),
                    default_permissions: users.default_permissions.clone(),
                },
                pool,
            }),
        };
        let ready = if users.auto_migrate {
            store.migrate().await
        } else {
            store.check_schema().await
        };
        if let Err(err) = ready {
            store.inner.pool.close().await;
            return Err(err);
        }
        Ok(store)
    }

    fn fail(&self, context: &str, err: impl std::fmt::Display) -> Error {
        unavailable(format!(
            "{context}: {}",
            self.inner.redactor.scrub(&err.to_string())
        ))
    }

    /// Applies the pending migrations in one transaction, which concurrent start-ups take in
    /// turns (PostgreSQL: an advisory lock; SQLite: `BEGIN IMMEDIATE`).
    async fn migrate(&self) -> Result<()> {
        let statements = &self.inner.sql;
        let dialect = self.inner.pool.dialect();
        let begin = match dialect {
            #[cfg(feature = "storage-sqlite")]
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            #[cfg(feature = "storage-postgres")]
            Dialect::Postgres => "BEGIN",
        };
        let lock = dialect.ddl_lock();
        let found = with_pool!(&self.inner.pool, pool => async {
            let mut tx = pool.begin_with(begin).await?;
            if let Some(lock) = lock {
                sqlx::query(lock).execute(&mut *tx).await?;
            }
            for statement in &statements.prepare {
                sqlx::query(sql(statement)).execute(&mut *tx).await?;
            }
            let found: i64 = sqlx::query_scalar(sql(&statements.version)).fetch_one(&mut *tx).await?;
            if found > SCHEMA_VERSION {
                return Ok(found); // rolled back on drop
            }
            for migration in statements.migrations.iter().filter(|m| m.version > found) {
                for statement in &migration.statements {
                    sqlx::query(sql(statement)).execute(&mut *tx).await?;
                }
                sqlx::query(sql(&statements.record))
                    .bind(migration.version)
                    .bind(migration.description)
                    .bind(clock::now())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await.map(|()| found)
        }
        .await);
        let found = found.map_err(|e| self.fail("cannot migrate the user tables", e))?;
        if found > SCHEMA_VERSION {
            return Err(newer_schema(found));
        }
        Ok(())
    }

    /// Fails unless the schema is at [`SCHEMA_VERSION`].
    async fn check_schema(&self) -> Result<()> {
        let statement = &self.inner.sql.version;
        let found = with_pool!(&self.inner.pool, pool => {
            sqlx::query_scalar::<_, i64>(sql(statement)).fetch_one(pool).await
        });
        let found = found.map_err(|e| {
            self.fail(
                "the user tables are missing or unreadable, and users.auto_migrate is off \
                 (run `portcullis users migrate`)",
                e,
            )
        })?;
        match found {
            SCHEMA_VERSION => Ok(()),
            older if older < SCHEMA_VERSION => Err(unavailable(format!(
                "the user tables are at schema version {older}, this build needs \
                 {SCHEMA_VERSION}, and users.auto_migrate is off (run `portcullis users migrate`)"
            ))),
            newer => Err(newer_schema(newer)),
        }
    }

    /// Closes every connection; later calls fail with [`Error::Unavailable`].
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    /// One round trip that reads the store's tables (the schema version), for health checks.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the database does not answer or the tables cannot be read.
    pub async fn ping(&self) -> Result<()> {
        let statement = &self.inner.sql.version;
        let read = with_pool!(&self.inner.pool, pool => {
            sqlx::query_scalar::<_, i64>(sql(statement)).fetch_one(pool).await
        });
        read.map(drop)
            .map_err(|e| self.fail("cannot read the user tables", e))
    }

    /// Whether self-registration is allowed (`users.allow_registration`).
    pub fn registration_allowed(&self) -> bool {
        self.inner.policy.allow_registration
    }

    /// The hasher of new passwords (`users.argon2`), e.g. to tell which stored hashes are
    /// current.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    fn record(&self, row: Row) -> Result<Record> {
        let (id, username, hash, roles, permissions, first_name, last_name, email) =
            (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7);
        let (disabled, created_at, updated_at) = (row.8, row.9, row.10);
        let list = |text: &str| {
            serde_json::from_str::<Vec<String>>(text).map_err(|e| {
                unavailable(format!("the stored roles of user {id} are unreadable: {e}"))
            })
        };
        let user = StoredUser {
            roles: list(&roles)?,
            permissions: list(&permissions)?,
            id,
            username,
            first_name,
            last_name,
            email,
            disabled,
            created_at,
            updated_at,
            password_scheme: self.inner.hasher.scheme(&hash),
        };
        Ok(Record {
            user,
            hash,
            roles,
            permissions,
        })
    }

    /// The record `statement` finds with `key`.
    async fn find(&self, statement: &Arc<str>, key: &str) -> Result<Option<Record>> {
        let row = with_pool!(&self.inner.pool, pool => {
            sqlx::query_as::<_, Row>(sql(statement)).bind(key).fetch_optional(pool).await
        });
        let row = row.map_err(|e| self.fail("cannot read the user", e))?;
        row.map(|row| self.record(row)).transpose()
    }

    /// The record of `username`; `None` too when the name cannot be a username.
    async fn find_by_name(&self, username: &str) -> Result<Option<Record>> {
        if input::username(username).is_err() {
            return Ok(None);
        }
        let key = input::username_key(username);
        self.find(&self.inner.sql.by_name, &key).await
    }

    /// The record of `username`, or [`Error::UserNotFound`].
    async fn existing(&self, username: &str) -> Result<Record> {
        self.find_by_name(username)
            .await?
            .ok_or_else(|| not_found(username))
    }

    /// The user named `username` (ignoring ASCII case), disabled or not.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the database cannot answer.
    pub async fn get(&self, username: &str) -> Result<Option<StoredUser>> {
        Ok(self.find_by_name(username).await?.map(|r| r.user))
    }

    /// The user whose id is `id`, disabled or not.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the database cannot answer.
    pub async fn get_by_id(&self, id: &str) -> Result<Option<StoredUser>> {
        if id.is_empty() || id.len() > 36 {
            return Ok(None);
        }
        Ok(self.find(&self.inner.sql.by_id, id).await?.map(|r| r.user))
    }

    /// Every user, sorted by username (ignoring ASCII case). No password material.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the database cannot answer.
    pub async fn list(&self) -> Result<Vec<StoredUser>> {
        let statement = &self.inner.sql.all;
        let rows = with_pool!(&self.inner.pool, pool => {
            sqlx::query_as::<_, Row>(sql(statement)).fetch_all(pool).await
        });
        let rows = rows.map_err(|e| self.fail("cannot list the users", e))?;
        let mut users = rows
            .into_iter()
            .map(|row| self.record(row).map(|r| r.user))
            .collect::<Result<Vec<_>>>()?;
        users.sort_by_cached_key(|u| input::username_key(&u.username));
        Ok(users)
    }

    /// Adds `user`: its password is hashed with Argon2id (or its imported hash checked), and
    /// it gets a new random id.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the field when a value is out of bounds (see
    /// [`input`](super#bounds)); [`Error::UserExists`] when the name is taken (ignoring
    /// ASCII case); [`Error::Unavailable`] when the database cannot answer.
    pub async fn add(&self, user: NewUser) -> Result<StoredUser> {
        input::username(&user.username)?;
        input::grants("roles", &user.roles)?;
        input::grants("permissions", &user.permissions)?;
        input::person_name("first_name", &user.first_name)?;
        input::person_name("last_name", &user.last_name)?;
        if let Some(email) = &user.email {
            input::email(email)?;
        }
        let hash = match user.credential {
            Credential::Password(password) => self.hash(password).await?,
            Credential::Hash(hash) => {
                let scheme = self.inner.hasher.scheme(&hash);
                if hash.len() > MAX_HASH || scheme == PasswordScheme::Unknown {
                    return Err(Error::InvalidInput {
                        field: "password_hash",
                        reason: "not an Argon2 PHC string, a bcrypt hash, or a hex digest of \
                                 users.legacy_hash_algorithm"
                            .to_owned(),
                    });
                }
                hash
            }
        };
        let id = crate::random::uuid_v4()?;
        let now = clock::now();
        let statement = &self.inner.sql.insert;
        let (roles, permissions) = (json(&user.roles), json(&user.permissions));
        let inserted = with_pool!(&self.inner.pool, pool => {
            sqlx::query(sql(statement))
                .bind(id.as_str())
                .bind(user.username.as_str())
                .bind(hash.as_str())
                .bind(roles.as_str())
                .bind(permissions.as_str())
                .bind(user.first_name.as_str())
                .bind(user.last_name.as_str())
                .bind(user.email.as_deref())
                .bind(now)
                .execute(pool)
                .await
                .map(drop)
        });
        match inserted {
            Ok(()) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(Error::UserExists {
                    username: user.username,
                })
            }
            Err(e) => return Err(self.fail("cannot add the user", e)),
        }
        Ok(StoredUser {
            id,
            username: user.username,
            roles: user.roles,
            permissions: user.permissions,
            first_name: user.first_name,
            last_name: user.last_name,
            email: user.email,
            disabled: false,
            created_at: now,
            updated_at: now,
            password_scheme: self.inner.hasher.scheme(&hash),
        })
    }

    /// Self-registration (a gateway's `POST /register`): adds `user` with the roles and
    /// permissions of `users.default_roles` and `users.default_permissions`.
    ///
    /// # Errors
    /// [`Error::NotAuthorized`] when `users.allow_registration` is off;
    /// [`Error::InvalidInput`] when `user` sets roles or permissions or carries a hash
    /// instead of a password; otherwise as [`add`](Self::add) ([`Error::UserExists`] for a
    /// taken name).
    pub async fn register(&self, user: NewUser) -> Result<StoredUser> {
        let policy = &self.inner.policy;
        if !policy.allow_registration {
            return Err(Error::NotAuthorized {
                message: "registration is disabled (users.allow_registration)".to_owned(),
            });
        }
        if !user.roles.is_empty() || !user.permissions.is_empty() {
            return Err(Error::InvalidInput {
                field: "roles",
                reason: "a registered user gets users.default_roles and default_permissions"
                    .to_owned(),
            });
        }
        if matches!(user.credential, Credential::Hash(_)) {
            return Err(Error::InvalidInput {
                field: "password",
                reason: "registration takes a password, not a hash".to_owned(),
            });
        }
        let user = user
            .roles(policy.default_roles.iter().cloned())
            .permissions(policy.default_permissions.iter().cloned());
        self.add(user).await
    }

    /// Removes the user named `username`.
    ///
    /// # Errors
    /// [`Error::UserNotFound`]; [`Error::Unavailable`] when the database cannot answer.
    pub async fn remove(&self, username: &str) -> Result<()> {
        input::username(username).map_err(|_| not_found(username))?;
        let key = input::username_key(username);
        let statement = &self.inner.sql.delete;
        let removed = with_pool!(&self.inner.pool, pool => {
            sqlx::query(sql(statement))
                .bind(key.as_str())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        });
        let removed = removed.map_err(|e| self.fail("cannot remove the user", e))?;
        if removed == 0 {
            return Err(not_found(username));
        }
        Ok(())
    }

    /// Sets the password of `username` (hashed with Argon2id).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the password's length is out of bounds;
    /// [`Error::UserNotFound`]; [`Error::Unavailable`] when the database cannot answer.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<()> {
        input::username(username).map_err(|_| not_found(username))?;
        let hash = self.hash(password.to_owned()).await?;
        let key = input::username_key(username);
        let statement = &self.inner.sql.set_password;
        let changed = with_pool!(&self.inner.pool, pool => {
            sqlx::query(sql(statement))
                .bind(key.as_str())
                .bind(hash.as_str())
                .bind(clock::now())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        });
        let changed = changed.map_err(|e| self.fail("cannot set the password", e))?;
        if changed == 0 {
            return Err(not_found(username));
        }
        Ok(())
    }

    /// Gives `username` the roles and permissions of `access` they lack; returns the user.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a malformed name or more than 256 of either;
    /// [`Error::UserNotFound`]; [`Error::Unavailable`] when the database cannot answer.
    pub async fn grant(&self, username: &str, access: &Access) -> Result<StoredUser> {
        self.change_access(username, access, with_granted).await
    }

    /// Takes the roles and permissions of `access` from `username` (those they have);
    /// returns the user.
    ///
    /// # Errors
    /// As [`grant`](Self::grant).
    pub async fn revoke(&self, username: &str, access: &Access) -> Result<StoredUser> {
        self.change_access(username, access, with_revoked).await
    }

    /// Applies `change` to the user's roles and permissions by compare-and-swap, so that
    /// concurrent changes are never lost.
    async fn change_access(
        &self,
        username: &str,
        access: &Access,
        change: fn(&[String], &[String]) -> Vec<String>,
    ) -> Result<StoredUser> {
        input::grants("roles", &access.roles)?;
        input::grants("permissions", &access.permissions)?;
        let statement = &self.inner.sql.set_access;
        for _ in 0..CHANGE_ATTEMPTS {
            let record = self.existing(username).await?;
            let mut user = record.user;
            let roles = change(&user.roles, &access.roles);
            let permissions = change(&user.permissions, &access.permissions);
            if roles == user.roles && permissions == user.permissions {
                return Ok(user);
            }
            input::grants("roles", &roles)?;
            input::grants("permissions", &permissions)?;
            let now = clock::now();
            let (new_roles, new_permissions) = (json(&roles), json(&permissions));
            let changed = with_pool!(&self.inner.pool, pool => {
                sqlx::query(sql(statement))
                    .bind(user.id.as_str())
                    .bind(record.roles.as_str())
                    .bind(record.permissions.as_str())
                    .bind(new_roles.as_str())
                    .bind(new_permissions.as_str())
                    .bind(now)
                    .execute(pool)
                    .await
                    .map(|done| done.rows_affected())
            });
            let changed = changed.map_err(|e| self.fail("cannot change the user's access", e))?;
            if changed == 1 {
                user.roles = roles;
                user.permissions = permissions;
                user.updated_at = now;
                return Ok(user);
            }
        }
        Err(unavailable(
            "the user's roles kept changing under concurrent updates: try again",
        ))
    }

    /// Disables `username`: they can no longer log in, and their tokens stop working
    /// (the [`UserService`] lookups no longer find them). Returns the user.
    ///
    /// # Errors
    /// [`Error::UserNotFound`]; [`Error::Unavailable`] when the database cannot answer.
    pub async fn disable(&self, username: &str) -> Result<StoredUser> {
        self.set_disabled(username, true).await
    }

    /// Enables `username` again. Returns the user.
    ///
    /// # Errors
    /// As [`disable`](Self::disable).
    pub async fn enable(&self, username: &str) -> Result<StoredUser> {
        self.set_disabled(username, false).await
    }

    async fn set_disabled(&self, username: &str, disabled: bool) -> Result<StoredUser> {
        input::username(username).map_err(|_| not_found(username))?;
        let key = input::username_key(username);
        let statement = &self.inner.sql.set_disabled;
        let row = with_pool!(&self.inner.pool, pool => {
            sqlx::query_as::<_, Row>(sql(statement))
                .bind(key.as_str())
                .bind(disabled)
                .bind(clock::now())
                .fetch_optional(pool)
                .await
        });
        let row = row.map_err(|e| self.fail("cannot change the user", e))?;
        let row = row.ok_or_else(|| not_found(username))?;
        Ok(self.record(row)?.user)
    }

    /// An Argon2id hash of `password`, made off the async workers, once its length is
    /// checked.
    async fn hash(&self, password: String) -> Result<String> {
        let policy = &self.inner.policy;
        input::password(&password, policy.min_password, policy.max_password)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || inner.hasher.hash(&password))
            .await
            .map_err(|_| unavailable("the password hashing task failed"))?
    }

    /// Replaces the hash `old` of `user` by a current one, unless it changed meanwhile.
    async fn rehash(&self, user: &mut StoredUser, old: &str, new: &str) {
        let statement = &self.inner.sql.rehash;
        let now = clock::now();
        let done = with_pool!(&self.inner.pool, pool => {
            sqlx::query(sql(statement))
                .bind(user.id.as_str())
                .bind(old)
                .bind(new)
                .bind(now)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        });
        match done {
            Ok(1) => {
                user.password_scheme = PasswordScheme::Argon2id;
                user.updated_at = now;
            }
            Ok(_) => {} // the password changed meanwhile: keep the new one
            Err(e) => tracing::warn!(
                user = %user.id,
                error = %self.inner.redactor.scrub(&e.to_string()),
                "could not upgrade a password hash; it will be retried at the next login"
            ),
        }
    }
}

#[async_trait]
impl UserService for SqlUserStore {
    type User = StoredUser;

    async fn is_valid_credentials(&self, username: &str, password: &str) -> Result<bool> {
        Ok(self.authenticate(username, password).await?.is_some())
    }

    /// The enabled user named `username`.
    async fn retrieve_user_by_username(&self, username: &str) -> Result<Option<StoredUser>> {
        Ok(self.get(username).await?.filter(|u| !u.disabled))
    }

    /// The enabled user whose id is `id`.
    async fn retrieve_user_by_id(&self, id: &str) -> Result<Option<StoredUser>> {
        Ok(self.get_by_id(id).await?.filter(|u| !u.disabled))
    }

    /// Checks the password in constant time and returns the user when it matches and the
    /// user is enabled. An unknown or disabled user costs a full verification too. A
    /// password longer than `users.max_password_length` is refused unhashed. A hash that
    /// is not current Argon2id is replaced at once (only if it did not change meanwhile).
    async fn authenticate(&self, username: &str, password: &str) -> Result<Option<StoredUser>> {
        let max = self.inner.policy.max_password;
        if password.chars().take(max + 1).count() > max {
            return Ok(None);
        }
        let record = self.find_by_name(username).await?;
        let stored = record.as_ref().map(|r| r.hash.clone());
        let upgrade = record.as_ref().is_some_and(|r| !r.user.disabled);
        let inner = Arc::clone(&self.inner);
        let password = password.to_owned();
        // Argon2id takes tens of milliseconds of CPU: keep it off the async workers.
        let (verification, new_hash) = tokio::task::spawn_blocking(move || {
            let verification = match &stored {
                Some(hash) => inner.hasher.verify(&password, hash),
                None => inner.hasher.verify_nobody(&password),
            };
            let new_hash = (upgrade && verification == Verification::NeedsRehash)
                .then(|| inner.hasher.hash(&password).ok())
                .flatten();
            (verification, new_hash)
        })
        .await
        .map_err(|_| unavailable("the password verification task failed"))?;
        let Some(Record { mut user, hash, .. }) = record else {
            return Ok(None);
        };
        if !verification.is_valid() || user.disabled {
            return Ok(None);
        }
        if let Some(new_hash) = new_hash {
            self.rehash(&mut user, &hash, &new_hash).await;
        }
        Ok(Some(user))
    }
}

impl std::fmt::Debug for SqlUserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlUserStore")
            .field("dialect", &self.inner.pool.dialect())
            .field("hasher", &self.inner.hasher)
            .finish_non_exhaustive()
    }
}

/// The SQLite URL of `settings.path` taken from `base`, with the characters sqlx would read
/// as URL syntax escaped.
fn sqlite_url(settings: &UsersSettings, base: &Path) -> Result<String> {
    let Some(file) = settings.sqlite_file(base) else {
        return Ok("sqlite::memory:".to_owned());
    };
    let text = file
        .to_str()
        .ok_or_else(|| Error::config("users.path", "not valid UTF-8"))?;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(Error::config(
                "users.path",
                format!("{}: the directory does not exist", dir.display()),
            ));
        }
    }
    let escaped = text
        .replace('%', "%25")
        .replace('?', "%3F")
        .replace('#', "%23");
    Ok(format!("sqlite://{escaped}"))
}

fn json(names: &[String]) -> String {
    serde_json::Value::from(names).to_string()
}

fn unavailable(reason: impl Into<String>) -> Error {
    Error::Unavailable {
        what: WHAT,
        reason: reason.into(),
    }
}

fn newer_schema(found: i64) -> Error {
    unavailable(format!(
        "the user tables are at schema version {found}, newer than this build knows \
         ({SCHEMA_VERSION}): upgrade portcullis"
    ))
}

fn not_found(username: &str) -> Error {
    Error::UserNotFound {
        username: username.to_owned(),
    }
}
