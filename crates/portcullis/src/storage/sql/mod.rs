//! [`SqlStorage`]: token storage in SQLite (feature `storage-sqlite`, the embedded default)
//! or PostgreSQL (feature `storage-postgres`).
//!
//! ```
//! use portcullis::settings::SqlStorageProperties;
//! use portcullis::storage::{SqlStorage, StoredToken, TokenStorage};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let mut props = SqlStorageProperties::default();
//! props.url = "sqlite::memory:".into(); // or sqlite://tokens.db, postgres://…
//! let storage = SqlStorage::connect(&props).await?;
//! assert_eq!(storage.name(), "sqlite");
//! storage.set(StoredToken {
//!     jti: "j1".into(),
//!     token: "eyJ…".into(),
//!     subject: "user-7".into(),
//!     issued_at: 1_700_000_000,
//!     expires_at: 4_000_000_000,
//! }).await?;
//! assert_eq!(storage.keys().await?, ["j1"]);
//! # Ok(()) }
//! ```

pub(crate) mod dialect;
pub(crate) mod pool;
mod statements;
mod sweeper;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::AssertSqlSafe;

use self::pool::{with_pool, Pool};
use self::statements::{Statements, Tables};
use super::clock;
use super::failure::{unavailable, Redactor};
use super::{FamilyState, Probe, Standing, StoredToken, TokenStorage, ALL_SUBJECTS};
use crate::settings::SqlStorageProperties;
use crate::{Error, Result};

/// Token storage in a SQL database: SQLite (feature `storage-sqlite`, the embedded default:
/// a file, created on first use) or PostgreSQL (feature `storage-postgres`, shared by several
/// instances).
///
/// Three tables, created when missing if `auto_create` (the default):
///
/// * `<table>` (default `cbsecurity_tokens`), cbsecurity's token table: `id` VARCHAR(36)
///   primary key (a random UUID), `cache_key` VARCHAR(255) (the `jti`, unique index
///   `<table>_cache_key`), `expiration` and `issued` (UTC dates), `token` TEXT, `subject`
///   VARCHAR(255);
/// * `<table>_revocations`: `scope` (a subject or `*`) primary key, `revoked_before`,
///   `expiration`;
/// * `<table>_families`: `family` primary key, `subject`, `version` (the compare-and-swap
///   key), `revoked`, `state` (the [`FamilyState`] as JSON), `expiration`.
///
/// [`TokenStorage::check`] is one statement; [`TokenStorage::swap_family`] is one
/// conditional `UPDATE` (or `INSERT … ON CONFLICT`). Expired rows are invisible at once and
/// deleted by [`SqlStorage::spawn_sweeper`]'s periodic task. Times are stored in UTC.
///
/// Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct SqlStorage {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    sql: Statements,
    redactor: Redactor,
    /// How often the sweeper runs.
    frequency: Duration,
    /// How long expired token rows are kept, in seconds.
    keep_expired: i64,
}

/// A statement's text, for sqlx (identifiers were validated when it was written).
pub(crate) fn sql(text: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(Arc::clone(text))
}

impl SqlStorage {
    /// Connects to the database `props.url` and, if `props.auto_create`, creates the
    /// tables that are missing (in one transaction).
    ///
    /// A SQLite URL without `mode=` creates the file (`sqlite://path?mode=rwc`); files use
    /// WAL journaling. `sqlite::memory:` keeps the database in memory for the storage's
    /// lifetime.
    ///
    /// # Errors
    /// [`Error::Config`] on `url`, `table` or `schema` when they are unusable;
    /// [`Error::Unavailable`] when the database cannot be reached or the tables cannot be
    /// created (or, without `auto_create`, are missing).
    pub async fn connect(props: &SqlStorageProperties) -> Result<Self> {
        let url = props.url.expose_str().ok_or_else(|| {
            Error::config(
                super::failure::URL_KEY,
                "the database URL is not valid UTF-8",
            )
        })?;
        let redactor = Redactor::for_url(url);
        let pool = Pool::open(url, &redactor)?;
        let tables = Tables::new(pool.dialect(), props)?;
        let storage = SqlStorage {
            inner: Arc::new(Inner {
                sql: Statements::new(pool.dialect(), &tables),
                pool,
                redactor,
                frequency: props.rotation_frequency,
                keep_expired: i64::from(props.rotation_days) * 86_400,
            }),
        };
        let prepared = if props.auto_create {
            storage.create_tables().await
        } else {
            storage.probe_tables().await
        };
        if let Err(err) = prepared {
            storage.inner.pool.close().await;
            return Err(err);
        }
        Ok(storage)
    }

    fn fail(&self, context: &str, err: impl std::fmt::Display) -> Error {
        self.inner.redactor.unavailable(context, err)
    }

    async fn create_tables(&self) -> Result<()> {
        let lock = self.inner.pool.dialect().ddl_lock();
        let created = with_pool!(&self.inner.pool, pool => async {
            let mut tx = pool.begin().await?;
            if let Some(lock) = lock {
                sqlx::query(lock).execute(&mut *tx).await?;
            }
            for statement in &self.inner.sql.create {
                sqlx::query(sql(statement)).execute(&mut *tx).await?;
            }
            tx.commit().await
        }
        .await);
        created.map_err(|e| self.fail("cannot create the token tables", e))
    }

    async fn probe_tables(&self) -> Result<()> {
        for statement in &self.inner.sql.probe {
            with_pool!(&self.inner.pool, pool => {
                sqlx::query(sql(statement)).execute(pool).await.map(drop)
            })
            .map_err(|e| {
                self.fail(
                    "the token tables are missing or unreadable (auto_create is off)",
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// Deletes token rows that expired at or before `tokens_before`, and epochs and
    /// families that expired at or before `others_before`; how many rows went.
    async fn purge(&self, tokens_before: i64, others_before: i64) -> Result<u64> {
        let sql_text = &self.inner.sql;
        let mut removed = 0;
        for (statement, before) in [
            (&sql_text.purge_tokens, tokens_before),
            (&sql_text.purge_revocations, others_before),
            (&sql_text.purge_families, others_before),
        ] {
            let done = with_pool!(&self.inner.pool, pool => {
                sqlx::query(sql(statement))
                    .bind(clock::clamp(before))
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected())
            });
            removed += done.map_err(|e| self.fail("sweep failed", e))?;
        }
        Ok(removed)
    }

    /// Closes every connection of the pool; later calls fail with
    /// [`Error::Unavailable`].
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }
}

impl std::fmt::Debug for SqlStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStorage")
            .field("dialect", &self.inner.pool.dialect())
            .field("rotation_frequency", &self.inner.frequency)
            .finish_non_exhaustive()
    }
}

fn version(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| unavailable("family version out of range"))
}

#[async_trait]
impl TokenStorage for SqlStorage {
    fn name(&self) -> &'static str {
        self.inner.pool.dialect().name()
    }

    async fn set(&self, token: StoredToken) -> Result<()> {
        let id = crate::random::uuid_v4()?;
        let statement = &self.inner.sql.set;
        let done = with_pool!(&self.inner.pool, pool => {
            sqlx::query(sql(statement))
                .bind(id.as_str())
                .bind(token.jti.as_str())
                .bind(clock::clamp(token.expires_at))
                .bind(clock::clamp(token.issued_at))
                .bind(token.token.as_str())
                .bind(token.subject.as_str())
                .execute(pool)
                .await
                .map(drop)
        });
        done.map_err(|e| self.fail("cannot record the token", e))
    }

    async fn exists(&self, jti: &str) -> Result<bool> {
        let statement = &self.inner.sql.exists;
        let found = with_pool!(&self.inner.pool, pool => {
            sqlx::query_scalar::<_, bool>(sql(statement))
                .bind(jti)
                .bind(clock::now())
                .fetch_one(pool)
                .await
        });
        found.map_err(|e| self.fail("cannot look the token up", e))
    }

    async fn get(&self, jti: &str) -> Result<Option<StoredToken>> {
        let statement = &self.inner.sql.get;
        let row = with_pool!(&self.inner.pool, pool => {
            sqlx::query_as::<_, (String, String, i64, i64)>(sql(statement))
                .bind(jti)
                .bind(clock::now())
                .fetch_optional(pool)
                .await
        });
        let row = row.map_err(|e| self.fail("cannot read the token", e))?;
        Ok(
            row.map(|(token, subject, issued_at, expires_at)| StoredToken {
                jti: jti.to_owned(),
                token,
                subject,
                issued_at,
                expires_at,
            }),
        )
    }

    async fn clear(&self, jti: &str) -> Result<bool> {
        let statement = &self.inner.sql.clear;
        let expiries = with_pool!(&self.inner.pool, pool => {
            sqlx::query_scalar::<_, i64>(sql(statement))
                .bind(jti)
                .fetch_all(pool)
                .await
        });
        let expiries = expiries.map_err(|e| self.fail("cannot delete the token", e))?;
        let now = clock::now();
        Ok(expiries.into_iter().any(|at| clock::is_live(at, now)))
    }

    async fn clear_all(&self) -> Result<u64> {
        let now = clock::now();
        let statement = &self.inner.sql.clear_live;
        let removed = with_pool!(&self.inner.pool, pool => {
            sqlx::query(sql(statement))
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        });
        let removed = removed.map_err(|e| self.fail("cannot delete the tokens", e))?;
        // The expired rows go too (they were invisible already).
        let statement = &self.inner.sql.purge_tokens;
        with_pool!(&self.inner.pool, pool => {
            sqlx::query(sql(statement)).bind(now).execute(pool).await.map(drop)
        })
        .map_err(|e| self.fail("cannot delete the tokens", e))?;
        Ok(removed)
    }

    async fn keys(&self) -> Result<Vec<String>> {
        let statement = &self.inner.sql.keys;
        let keys = with_pool!(&self.inner.pool, pool => {
            sqlx::query_scalar::<_, String>(sql(statement))
                .bind(clock::now())
                .fetch_all(pool)
                .await
        });
        let mut keys = keys.map_err(|e| self.fail("cannot list the tokens", e))?;
        // Sorted here, byte-wise, rather than by the database's collation.
        keys.sort_unstable();
        Ok(keys)
    }

    async fn size(&self) -> Result<u64> {
        let statement = &self.inner.sql.size;
        let count = with_pool!(&self.inner.pool, pool => {
            sqlx::query_scalar::<_, i64>(sql(statement))
                .bind(clock::now())
                .fetch_one(pool)
                .await
        });
        let count = count.map_err(|e| self.fail("cannot count the tokens", e))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn sweep(&self, now: i64) -> Result<u64> {
        self.purge(now, now).await
    }

    async fn revoke_before(&self, scope: &str, before: i64, keep_until: i64) -> Result<()> {
        let statement = &self.inner.sql.revoke;
        let done = with_pool!(&self.inner.pool, pool => {
            sqlx::query(sql(statement))
                .bind(scope)
                .bind(clock::clamp(before))
                .bind(clock::clamp(keep_until))
                .bind(clock::now())
                .execute(pool)
                .await
                .map(drop)
        });
        done.map_err(|e| self.fail("cannot record the revocation", e))
    }

    async fn revoked_before(&self, scope: &str) -> Result<Option<i64>> {
        let statement = &self.inner.sql.revoked_before;
        let before = with_pool!(&self.inner.pool, pool => {
            sqlx::query_scalar::<_, i64>(sql(statement))
                .bind(scope)
                .bind(clock::now())
                .fetch_optional(pool)
                .await
        });
        before.map_err(|e| self.fail("cannot read the revocation", e))
    }

    async fn family(&self, family: &str) -> Result<Option<FamilyState>> {
        let statement = &self.inner.sql.family;
        let state = with_pool!(&self.inner.pool, pool => {
            sqlx::query_scalar::<_, String>(sql(statement))
                .bind(family)
                .bind(clock::now())
                .fetch_optional(pool)
                .await
        });
        let state = state.map_err(|e| self.fail("cannot read the refresh family", e))?;
        state.as_deref().map(FamilyState::from_json).transpose()
    }

    async fn swap_family(&self, expected: Option<u64>, state: &FamilyState) -> Result<bool> {
        let json = state.to_json()?;
        let new_version = version(state.version)?;
        let expected = expected.map(version).transpose()?;
        let sql_text = &self.inner.sql;
        let statement = if expected.is_some() {
            &sql_text.swap_family
        } else {
            &sql_text.insert_family
        };
        let now = clock::now();
        let changed = with_pool!(&self.inner.pool, pool => {
            let query = sqlx::query(sql(statement))
                .bind(state.family.as_str())
                .bind(state.subject.as_str())
                .bind(new_version)
                .bind(state.revoked)
                .bind(json.as_str())
                .bind(clock::clamp(state.expires_at));
            let query = match expected {
                Some(expected) => query.bind(expected).bind(now),
                None => query.bind(now),
            };
            query.execute(pool).await.map(|r| r.rows_affected())
        });
        let changed = changed.map_err(|e| self.fail("cannot store the refresh family", e))?;
        Ok(changed == 1)
    }

    /// The statement of [`check`](TokenStorage::check), for a token that does not exist: one
    /// round trip that reads all three tables, as every request does.
    async fn ping(&self) -> Result<()> {
        let nothing = Probe {
            jti: "",
            subject: "",
            family: None,
        };
        self.check(nothing).await.map(drop)
    }

    async fn check(&self, probe: Probe<'_>) -> Result<Standing> {
        let statement = &self.inner.sql.check;
        let row = with_pool!(&self.inner.pool, pool => {
            sqlx::query_as::<_, (bool, Option<i64>, bool)>(sql(statement))
                .bind(probe.jti)
                .bind(probe.subject)
                .bind(probe.family)
                .bind(clock::now())
                .bind(ALL_SUBJECTS)
                .fetch_one(pool)
                .await
        });
        let (recorded, revoked_before, family_revoked) =
            row.map_err(|e| self.fail("cannot check the token", e))?;
        Ok(Standing {
            recorded,
            revoked_before,
            family_revoked,
        })
    }
}
