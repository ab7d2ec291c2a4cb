//! Where CSRF tokens are kept: [`CsrfStore`], and its memory, SQL and Redis drivers.
//!
//! A store holds one [`CsrfBucket`] per binding, keyed by the binding's SHA-256 digest (hex),
//! never the session id, user id or cookie it stands for:
//!
//! ```text
//! memory   a moka cache entry, dropped when unused for rotation_timeout (a day if 0)
//! sql      table csrf.table: id (the key) | tokens (JSON) | expiration (Unix ms)
//! redis    SET csrf.key_prefix + key <tokens JSON> PXAT expiration
//! ```
//!
//! With `csrf.storage = "shared"`, [`store_from_settings`] follows the backend
//! `jwt.token_storage.driver` selects, as sessions and login protection do, so that a token
//! made by one instance verifies on every other.
//!
//! ```
//! use portcullis::csrf::{CsrfBucket, CsrfStore, MemoryCsrfStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let store = MemoryCsrfStore::new(100, std::time::Duration::from_secs(60));
//! assert_eq!(store.name(), "memory");
//! assert!(store.load("0f1e…", 1_900_000_000_000).await?.is_none());
//! store.save("0f1e…", &CsrfBucket::default(), 1_900_000_060_000).await?;
//! assert!(store.load("0f1e…", 1_900_000_000_000).await?.is_some());
//! store.delete("0f1e…").await?;
//! assert!(store.load("0f1e…", 1_900_000_000_000).await?.is_none());
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::backend;
use crate::settings::{CsrfStorage, Settings};
use crate::Result;

/// What CSRF storage errors call the backend.
#[cfg(any(
    feature = "storage-redis",
    feature = "storage-sqlite",
    feature = "storage-postgres"
))]
const WHAT: &str = "csrf token storage";

/// One token as stored: its value (what the client must present), when it was made and
/// when it expires (Unix ms; `None`: never). Its `Debug` hides the value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredToken {
    /// The token.
    pub token: String,
    /// When it was made (Unix ms).
    pub created: i64,
    /// When it expires (Unix ms); `None` when `rotation_timeout` is `0`.
    pub expires: Option<i64>,
}

impl StoredToken {
    /// Whether the token is still valid at `now` (Unix ms).
    pub fn is_live(&self, now: i64) -> bool {
        self.expires.is_none_or(|expires| now < expires)
    }
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("token", &"<redacted>")
            .field("created", &self.created)
            .field("expires", &self.expires)
            .finish()
    }
}

/// The tokens of one binding, by key name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsrfBucket {
    /// The tokens, by key name.
    pub tokens: BTreeMap<String, StoredToken>,
}

/// Where CSRF tokens are kept. `key` is always a binding's SHA-256 digest in hex.
///
/// Implement it to keep tokens elsewhere. Every method must be safe to call concurrently and
/// return [`Error::Unavailable`](crate::Error::Unavailable) rather than a guess when the
/// backend cannot answer: the verifier then refuses the request.
#[async_trait]
pub trait CsrfStore: Send + Sync + 'static {
    /// A short name for logs, e.g. `memory`, `sqlite`, `postgres`, `redis`.
    fn name(&self) -> &'static str;

    /// The bucket stored under `key`, if the store still holds it. `now` (Unix ms, the
    /// caller's clock) lets a store that keeps expired entries until a sweep hide them (SQL).
    /// Each token carries its own expiry, which [`CsrfTokens`](super::CsrfTokens) checks.
    async fn load(&self, key: &str, now: i64) -> Result<Option<CsrfBucket>>;

    /// Stores `bucket` under `key`, replacing what was there. The store may forget it once
    /// `expires_at` (Unix ms: when its last token expires, or a day after it was saved when
    /// tokens never expire) has passed.
    async fn save(&self, key: &str, bucket: &CsrfBucket, expires_at: i64) -> Result<()>;

    /// Forgets the bucket under `key`.
    async fn delete(&self, key: &str) -> Result<()>;

    /// One cheap round trip to the backend, for health checks: `Ok` when it answers now.
    /// The built-in drivers read their table without returning a row (SQL) or send `PING`
    /// (Redis); memory always answers. The default loads a bucket that never exists.
    ///
    /// # Errors
    /// [`Error::Unavailable`](crate::Error::Unavailable) when the backend cannot be reached.
    async fn ping(&self) -> Result<()> {
        self.load("ping", 0).await.map(drop)
    }
}

/// The store `csrf.storage` asks for: with `memory`, a [`MemoryCsrfStore`] of up to
/// `bindings` bindings, each dropped when unused for `idle`; with `shared`, the store on the
/// backend `jwt.token_storage.driver` selects (with `jwt.token_storage.properties`):
/// [`MemoryCsrfStore`], [`SqlCsrfStore`] on table `csrf.table`, or [`RedisCsrfStore`] under
/// `csrf.key_prefix`.
///
/// # Errors
/// [`Error::Config`](crate::Error::Config) for a custom driver (give your own store to
/// [`CsrfTokens::with_store`](super::CsrfTokens::with_store)), a driver not compiled in, or
/// bad properties; [`Error::Unavailable`](crate::Error::Unavailable) when the backend cannot
/// be reached.
#[cfg_attr(
    not(any(
        feature = "storage-sqlite",
        feature = "storage-postgres",
        feature = "storage-redis"
    )),
    allow(unreachable_code, unused_variables)
)]
pub async fn store_from_settings(
    settings: &Settings,
    bindings: u64,
    idle: std::time::Duration,
) -> Result<Arc<dyn CsrfStore>> {
    let memory = || Arc::new(MemoryCsrfStore::new(bindings, idle)) as Arc<dyn CsrfStore>;
    if settings.csrf.storage == CsrfStorage::Memory {
        return Ok(memory());
    }
    Ok(
        match backend::select(&settings.jwt.token_storage, "CSRF tokens")? {
            #[cfg(feature = "storage-memory")]
            backend::Selected::Memory => memory(),
            #[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
            backend::Selected::Sql(props) => {
                Arc::new(SqlCsrfStore::connect(&props, &settings.csrf.table).await?)
            }
            #[cfg(feature = "storage-redis")]
            backend::Selected::Redis(url) => {
                Arc::new(RedisCsrfStore::connect(&url, &settings.csrf.key_prefix).await?)
            }
        },
    )
}

pub use self::memory::MemoryCsrfStore;
#[cfg(feature = "storage-redis")]
pub use self::redis::RedisCsrfStore;
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
pub use self::sql::SqlCsrfStore;

mod memory {
    use std::time::Duration;

    use moka::future::Cache;

    use super::*;

    /// Tokens in process memory (always available; the default, `csrf.storage = "memory"`):
    /// each instance has its own, lost at a restart. Holds up to a number of bindings (the
    /// least recently used leave first) and drops a bucket unused (neither read nor
    /// written) for its idle time; the `expires_at` given to `save` is not used.
    pub struct MemoryCsrfStore {
        buckets: Cache<String, Arc<CsrfBucket>>,
    }

    impl MemoryCsrfStore {
        /// An empty store of up to `bindings` bindings, each dropped when unused for `idle`.
        pub fn new(bindings: u64, idle: Duration) -> Self {
            MemoryCsrfStore {
                buckets: Cache::builder()
                    .max_capacity(bindings)
                    .time_to_idle(idle)
                    .build(),
            }
        }
    }

    #[async_trait]
    impl CsrfStore for MemoryCsrfStore {
        fn name(&self) -> &'static str {
            "memory"
        }

        async fn load(&self, key: &str, _now: i64) -> Result<Option<CsrfBucket>> {
            Ok(self.buckets.get(key).await.map(|bucket| (*bucket).clone()))
        }

        async fn save(&self, key: &str, bucket: &CsrfBucket, _expires_at: i64) -> Result<()> {
            self.buckets
                .insert(key.to_owned(), Arc::new(bucket.clone()))
                .await;
            Ok(())
        }

        async fn delete(&self, key: &str) -> Result<()> {
            self.buckets.invalidate(key).await;
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

    const COLUMNS: &str = "id VARCHAR(64) NOT NULL PRIMARY KEY, tokens TEXT NOT NULL, \
                           expiration BIGINT NOT NULL";

    /// Tokens in a SQL table (SQLite or PostgreSQL, features `storage-sqlite`,
    /// `storage-postgres`), shared by every instance on the same database: `id` (the
    /// binding's SHA-256 digest, hex) primary key, `tokens` (JSON), `expiration` (Unix
    /// milliseconds). Expired rows are invisible at once and deleted every
    /// `rotation_frequency`.
    pub struct SqlCsrfStore {
        table: Arc<SqlTable>,
        load: Arc<str>,
        save: Arc<str>,
        delete: Arc<str>,
    }

    impl SqlCsrfStore {
        /// Connects to the database of `props` (the token storage's properties: `url`,
        /// `schema`, `auto_create`, `rotation_frequency`), creating `table` when missing if
        /// `auto_create`.
        ///
        /// # Errors
        /// [`Error::Config`](crate::Error::Config) on a bad URL, table or schema;
        /// [`Error::Unavailable`](crate::Error::Unavailable) when the database cannot be
        /// reached or the table cannot be created.
        pub async fn connect(props: &SqlStorageProperties, table: &str) -> Result<Self> {
            let table = SqlTable::open(props, table, COLUMNS, WHAT).await?;
            let name = table.name();
            Ok(SqlCsrfStore {
                load: format!("SELECT tokens FROM {name} WHERE id = $1 AND expiration > $2").into(),
                save: format!(
                    "INSERT INTO {name} (id, tokens, expiration) VALUES ($1, $2, $3) \
                     ON CONFLICT (id) DO UPDATE SET tokens = excluded.tokens, \
                     expiration = excluded.expiration"
                )
                .into(),
                delete: format!("DELETE FROM {name} WHERE id = $1").into(),
                table,
            })
        }
    }

    #[async_trait]
    impl CsrfStore for SqlCsrfStore {
        fn name(&self) -> &'static str {
            self.table.driver()
        }

        async fn load(&self, key: &str, now: i64) -> Result<Option<CsrfBucket>> {
            let row = self
                .table
                .fetch_text(&self.load, key, now, "cannot read the CSRF tokens")
                .await?;
            row.as_deref()
                .map(|json| backend::from_json(json, WHAT))
                .transpose()
        }

        async fn save(&self, key: &str, bucket: &CsrfBucket, expires_at: i64) -> Result<()> {
            let json = backend::to_json(bucket, WHAT)?;
            let done = with_pool!(self.table.pool(), pool => {
                sqlx::query(statement(&self.save))
                    .bind(key)
                    .bind(json.as_str())
                    .bind(expires_at)
                    .execute(pool)
                    .await
                    .map(drop)
            });
            done.map_err(|e| self.table.fail("cannot save the CSRF tokens", e))
        }

        async fn delete(&self, key: &str) -> Result<()> {
            self.table
                .execute_for(&self.delete, key, "cannot delete the CSRF tokens")
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

    /// Tokens in Redis (feature `storage-redis`), shared by every instance on the same
    /// server: `key_prefix + key` holds the bucket as JSON, set to expire at its expiration
    /// (`PXAT`).
    pub struct RedisCsrfStore {
        redis: RedisConn,
    }

    impl RedisCsrfStore {
        /// Connects to `url` with keys under `key_prefix`.
        ///
        /// # Errors
        /// [`Error::Config`](crate::Error::Config) on a URL that does not parse;
        /// [`Error::Unavailable`](crate::Error::Unavailable) when Redis cannot be reached.
        pub async fn connect(url: &str, key_prefix: &str) -> Result<Self> {
            Ok(RedisCsrfStore {
                redis: RedisConn::connect(url, key_prefix, WHAT).await?,
            })
        }
    }

    #[async_trait]
    impl CsrfStore for RedisCsrfStore {
        fn name(&self) -> &'static str {
            "redis"
        }

        async fn load(&self, key: &str, _now: i64) -> Result<Option<CsrfBucket>> {
            // Redis forgets the bucket at its expiration itself (PXAT).
            let value = self.redis.get(key, "cannot read the CSRF tokens").await?;
            value
                .as_deref()
                .map(|json| backend::from_json(json, WHAT))
                .transpose()
        }

        async fn save(&self, key: &str, bucket: &CsrfBucket, expires_at: i64) -> Result<()> {
            let json = backend::to_json(bucket, WHAT)?;
            self.redis
                .set_until(key, &json, expires_at, "cannot save the CSRF tokens")
                .await
        }

        async fn delete(&self, key: &str) -> Result<()> {
            self.redis
                .unlink(key, "cannot delete the CSRF tokens")
                .await
        }

        async fn ping(&self) -> Result<()> {
            self.redis.ping().await
        }
    }
}
