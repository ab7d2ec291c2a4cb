//! Where sessions are kept: [`SessionStore`], and its memory, SQL and Redis drivers.
//!
//! Every driver is keyed by the SHA-256 of the session id (hex), never the id, and forgets a
//! session at its `expires_at`:
//!
//! ```text
//! memory   a moka cache entry living until expires_at
//! sql      table session.table: id (the key) | user_id | record (JSON) | expiration (Unix ms)
//! redis    SET session.key_prefix + key <record JSON> PXAT expires_at
//! ```
//!
//! ```
//! use portcullis::session::{MemorySessionStore, SessionStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let store = MemorySessionStore::new();
//! assert_eq!(store.name(), "memory");
//! assert!(store.load("0f1e…", 1_900_000_000_000).await?.is_none());
//! # Ok(()) }
//! ```

use std::sync::Arc;

use async_trait::async_trait;

use super::SessionRecord;
use crate::backend;
use crate::settings::Settings;
use crate::Result;

/// What session storage errors call the backend.
#[cfg(any(
    feature = "storage-redis",
    feature = "storage-sqlite",
    feature = "storage-postgres"
))]
const WHAT: &str = "session storage";

/// Where sessions are kept. `key` is always the SHA-256 of a session id in hex.
///
/// Implement it to keep sessions elsewhere. Every method must be safe to call concurrently and
/// return [`Error::Unavailable`](crate::Error::Unavailable) rather than a guess when the
/// backend cannot answer: the request then fails with 503.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// A short name for logs, e.g. `memory`, `sqlite`, `postgres`, `redis`.
    fn name(&self) -> &'static str;

    /// The session stored under `key`, if it has not expired at `now` (Unix ms).
    async fn load(&self, key: &str, now: i64) -> Result<Option<SessionRecord>>;

    /// Stores `record` under `key` until its `expires_at`; it was saved at its `last_seen`.
    async fn save(&self, key: &str, record: &SessionRecord) -> Result<()>;

    /// Forgets the session under `key`.
    async fn delete(&self, key: &str) -> Result<()>;

    /// One cheap round trip to the backend, for health checks: `Ok` when it answers now.
    /// The built-in drivers read their table without returning a row (SQL) or send `PING`
    /// (Redis); memory always answers.
    /// The default loads a session that never exists.
    ///
    /// # Errors
    /// [`Error::Unavailable`](crate::Error::Unavailable) when the backend cannot be reached.
    async fn ping(&self) -> Result<()> {
        self.load("ping", 0).await.map(drop)
    }
}

/// The session store on the backend `jwt.token_storage.driver` selects, with
/// `jwt.token_storage.properties`: [`MemorySessionStore`], [`SqlSessionStore`] on table
/// `session.table`, or [`RedisSessionStore`] under `session.key_prefix`.
///
/// # Errors
/// [`Error::Config`](crate::Error::Config) for a custom driver (give your own store to
/// [`SessionLayer::new`](super::SessionLayer::new)), a driver not compiled in, or bad
/// properties; [`Error::Unavailable`](crate::Error::Unavailable) when the backend cannot be
/// reached.
#[cfg_attr(
    not(any(
        feature = "storage-memory",
        feature = "storage-sqlite",
        feature = "storage-postgres",
        feature = "storage-redis"
    )),
    allow(unreachable_code, unused_imports, unused_variables)
)]
pub async fn store_from_settings(settings: &Settings) -> Result<Arc<dyn SessionStore>> {
    Ok(
        match backend::select(&settings.jwt.token_storage, "sessions")? {
            #[cfg(feature = "storage-memory")]
            backend::Selected::Memory => Arc::new(MemorySessionStore::new()),
            #[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
            backend::Selected::Sql(props) => {
                Arc::new(SqlSessionStore::connect(&props, &settings.session.table).await?)
            }
            #[cfg(feature = "storage-redis")]
            backend::Selected::Redis(url) => {
                Arc::new(RedisSessionStore::connect(&url, &settings.session.key_prefix).await?)
            }
        },
    )
}

#[cfg(any(
    feature = "storage-redis",
    feature = "storage-sqlite",
    feature = "storage-postgres"
))]
fn decode(json: &str) -> Result<SessionRecord> {
    backend::from_json(json, WHAT)
}

#[cfg(feature = "storage-memory")]
pub use self::memory::MemorySessionStore;
#[cfg(feature = "storage-redis")]
pub use self::redis::RedisSessionStore;
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
pub use self::sql::SqlSessionStore;

#[cfg(feature = "storage-memory")]
mod memory {
    use moka::future::Cache;

    use super::*;
    use crate::backend::{expiring_cache, Timed};

    /// Sessions in process memory (feature `storage-memory`): for one instance, tests and
    /// development; every session is lost at a restart. No capacity limit: a session leaves
    /// at its expiry, never earlier (only sessions something was put into are stored).
    pub struct MemorySessionStore {
        sessions: Cache<String, Timed<Arc<SessionRecord>>>,
    }

    impl MemorySessionStore {
        /// An empty store.
        pub fn new() -> Self {
            MemorySessionStore {
                sessions: expiring_cache(),
            }
        }
    }

    impl Default for MemorySessionStore {
        fn default() -> Self {
            MemorySessionStore::new()
        }
    }

    #[async_trait]
    impl SessionStore for MemorySessionStore {
        fn name(&self) -> &'static str {
            "memory"
        }

        async fn load(&self, key: &str, now: i64) -> Result<Option<SessionRecord>> {
            let entry = self.sessions.get(key).await;
            Ok(entry
                .filter(|e| now < e.value.expires_at)
                .map(|e| (*e.value).clone()))
        }

        async fn save(&self, key: &str, record: &SessionRecord) -> Result<()> {
            let entry = Timed::new(
                Arc::new(record.clone()),
                record.last_seen,
                record.expires_at,
            );
            self.sessions.insert(key.to_owned(), entry).await;
            Ok(())
        }

        async fn delete(&self, key: &str) -> Result<()> {
            self.sessions.invalidate(key).await;
            Ok(())
        }

        async fn ping(&self) -> Result<()> {
            Ok(())
        }
    }
}

#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
mod sql {
    use super::*;
    use crate::backend::{statement, with_pool, SqlTable};
    use crate::settings::SqlStorageProperties;

    const COLUMNS: &str = "id VARCHAR(64) NOT NULL PRIMARY KEY, user_id VARCHAR(255), \
                           record TEXT NOT NULL, expiration BIGINT NOT NULL";

    /// Sessions in a SQL table (SQLite or PostgreSQL, features `storage-sqlite`,
    /// `storage-postgres`), shared by every instance on the same database: `id` (the
    /// SHA-256 of the session id, hex) primary key, `user_id`, `record` (JSON),
    /// `expiration` (Unix milliseconds). Expired rows are invisible at once and deleted every
    /// `rotation_frequency`.
    pub struct SqlSessionStore {
        table: Arc<SqlTable>,
        load: Arc<str>,
        save: Arc<str>,
        delete: Arc<str>,
    }

    impl SqlSessionStore {
        /// Connects to the database of `props` (the token storage's properties: `url`,
        /// `schema`, `auto_create`, `rotation_frequency`), creating `table` when missing if
        /// `auto_create`.
        ///
        /// # Errors
        /// [`Error::Config`](crate::Error::Config) on a bad URL, table or schema; [`Error::Unavailable`](crate::Error::Unavailable) when the
        /// database cannot be reached or the table cannot be created.
        pub async fn connect(props: &SqlStorageProperties, table: &str) -> Result<Self> {
            let table = SqlTable::open(props, table, COLUMNS, WHAT).await?;
            let name = table.name();
            Ok(SqlSessionStore {
                load: format!("SELECT record FROM {name} WHERE id = $1 AND expiration > $2").into(),
                save: format!(
                    "INSERT INTO {name} (id, user_id, record, expiration) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, \
                     record = excluded.record, expiration = excluded.expiration"
                )
                .into(),
                delete: format!("DELETE FROM {name} WHERE id = $1").into(),
                table,
            })
        }
    }

    #[async_trait]
    impl SessionStore for SqlSessionStore {
        fn name(&self) -> &'static str {
            self.table.driver()
        }

        async fn load(&self, key: &str, now: i64) -> Result<Option<SessionRecord>> {
            let row = self
                .table
                .fetch_text(&self.load, key, now, "cannot read the session")
                .await?;
            row.as_deref().map(decode).transpose()
        }

        async fn save(&self, key: &str, record: &SessionRecord) -> Result<()> {
            let json = backend::to_json(record, WHAT)?;
            let done = with_pool!(self.table.pool(), pool => {
                sqlx::query(statement(&self.save))
                    .bind(key)
                    .bind(record.user_id.as_deref())
                    .bind(json.as_str())
                    .bind(record.expires_at)
                    .execute(pool)
                    .await
                    .map(drop)
            });
            done.map_err(|e| self.table.fail("cannot save the session", e))
        }

        async fn delete(&self, key: &str) -> Result<()> {
            self.table
                .execute_for(&self.delete, key, "cannot delete the session")
                .await
        }

        async fn ping(&self) -> Result<()> {
            self.table.ping().await
        }
    }
}

#[cfg(feature = "storage-redis")]
mod redis {
    use super::*;
    use crate::backend::RedisConn;

    /// Sessions in Redis (feature `storage-redis`), shared by every instance on the same
    /// server: `key_prefix + key` holds the record as JSON, set to expire at its
    /// `expires_at` (`PXAT`), so Redis forgets it exactly then.
    pub struct RedisSessionStore {
        redis: RedisConn,
    }

    impl RedisSessionStore {
        /// Connects to `url` with keys under `key_prefix`.
        ///
        /// # Errors
        /// [`Error::Config`](crate::Error::Config) on a URL that does not parse; [`Error::Unavailable`](crate::Error::Unavailable) when Redis
        /// cannot be reached.
        pub async fn connect(url: &str, key_prefix: &str) -> Result<Self> {
            Ok(RedisSessionStore {
                redis: RedisConn::connect(url, key_prefix, WHAT).await?,
            })
        }
    }

    #[async_trait]
    impl SessionStore for RedisSessionStore {
        fn name(&self) -> &'static str {
            "redis"
        }

        async fn load(&self, key: &str, now: i64) -> Result<Option<SessionRecord>> {
            let value = self.redis.get(key, "cannot read the session").await?;
            let record = value.as_deref().map(decode).transpose()?;
            Ok(record.filter(|r| now < r.expires_at))
        }

        async fn save(&self, key: &str, record: &SessionRecord) -> Result<()> {
            let json = backend::to_json(record, WHAT)?;
            self.redis
                .set_until(key, &json, record.expires_at, "cannot save the session")
                .await
        }

        async fn delete(&self, key: &str) -> Result<()> {
            self.redis.unlink(key, "cannot delete the session").await
        }

        async fn ping(&self) -> Result<()> {
            self.redis.ping().await
        }
    }
}
