//! Where failed logins are counted: [`AttemptStore`], and its memory, SQL and Redis drivers.
//!
//! A count is one atomic step in every driver, so that instances sharing a database or a
//! Redis server count every failure exactly once:
//!
//! ```text
//! memory   moka entry computed under the key's lock
//! sql      INSERT … ON CONFLICT (counter_key) DO UPDATE SET failures = failures + 1 … RETURNING failures
//! redis    a Lua script: HINCRBY the hash, set its last failure, PEXPIREAT its expiry
//! ```
//!
//! A count whose expiry has passed starts again from one, whether or not the backend has
//! deleted it yet.
//!
//! ```
//! use portcullis::auth::{AttemptStore, MemoryAttemptStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let store = MemoryAttemptStore::new();
//! let now = 1_900_000_000_000; // Unix ms
//! assert_eq!(store.record_failure("user:alice", now, now + 60_000).await?, 1);
//! assert_eq!(store.record_failure("user:alice", now + 5, now + 60_005).await?, 2);
//! assert_eq!(store.get("user:alice", now + 10).await?.unwrap().failures, 2);
//! assert!(store.get("user:alice", now + 60_005).await?.is_none()); // expired
//! # Ok(()) }
//! ```

use std::sync::Arc;

use async_trait::async_trait;

use crate::backend;
use crate::settings::Settings;
use crate::Result;

/// What login protection errors call the backend.
#[cfg(any(
    feature = "storage-redis",
    feature = "storage-sqlite",
    feature = "storage-postgres"
))]
const WHAT: &str = "login protection storage";

/// The failures counted under one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    /// How many failures, since the count began.
    pub failures: u64,
    /// When the last one happened (Unix ms).
    pub last_failure: i64,
}

/// Where failed logins are counted. Keys are `user:<username>` and `ip:<address>`.
///
/// Implement it to count elsewhere. Every method must be safe to call concurrently, and must
/// return [`Error::Unavailable`](crate::Error::Unavailable) rather than a guess when the
/// backend cannot answer: the login is then refused.
#[async_trait]
pub trait AttemptStore: Send + Sync + 'static {
    /// A short name for logs, e.g. `memory`, `sqlite`, `postgres`, `redis`.
    fn name(&self) -> &'static str;

    /// The count under `key`, unless it expired at or before `now` (Unix ms).
    async fn get(&self, key: &str, now: i64) -> Result<Option<Attempts>>;

    /// Counts one failure under `key` at `now` — from zero if the count is missing or
    /// expired —, keeps the count until `keep_until` (Unix ms), and returns the new number
    /// of failures. Atomic: concurrent calls each count once.
    async fn record_failure(&self, key: &str, now: i64, keep_until: i64) -> Result<u64>;

    /// Forgets the count under `key`.
    async fn reset(&self, key: &str) -> Result<()>;

    /// One cheap round trip to the backend, for health checks: `Ok` when it answers now.
    /// The built-in drivers read their table without returning a row (SQL) or send `PING`
    /// (Redis); memory always answers.
    /// The default reads a count that never exists.
    ///
    /// # Errors
    /// [`Error::Unavailable`](crate::Error::Unavailable) when the backend cannot be reached.
    async fn ping(&self) -> Result<()> {
        self.get("ping:", 0).await.map(drop)
    }
}

/// See [`LoginThrottle::store_from_settings`](super::LoginThrottle::store_from_settings).
#[cfg_attr(
    not(any(
        feature = "storage-memory",
        feature = "storage-sqlite",
        feature = "storage-postgres",
        feature = "storage-redis"
    )),
    allow(unreachable_code, unused_imports, unused_variables)
)]
pub(super) async fn from_settings(settings: &Settings) -> Result<Arc<dyn AttemptStore>> {
    let protection = &settings.authentication.login_protection;
    Ok(
        match backend::select(&settings.jwt.token_storage, "login protection")? {
            #[cfg(feature = "storage-memory")]
            backend::Selected::Memory => Arc::new(MemoryAttemptStore::new()),
            #[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
            backend::Selected::Sql(props) => {
                Arc::new(SqlAttemptStore::connect(&props, &protection.table).await?)
            }
            #[cfg(feature = "storage-redis")]
            backend::Selected::Redis(url) => {
                Arc::new(RedisAttemptStore::connect(&url, &protection.key_prefix).await?)
            }
        },
    )
}

#[cfg(feature = "storage-memory")]
pub use self::memory::MemoryAttemptStore;
#[cfg(feature = "storage-redis")]
pub use self::redis::RedisAttemptStore;
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
pub use self::sql::SqlAttemptStore;

#[cfg(feature = "storage-memory")]
mod memory {
    use moka::future::Cache;
    use moka::ops::compute::{CompResult, Op};

    use super::*;
    use crate::backend::{expiring_cache, Timed};

    /// A count and when it expires (Unix ms).
    type Entry = Timed<(Attempts, i64)>;

    /// Failed logins counted in process memory (feature `storage-memory`): for one
    /// instance; counts are lost at a restart. Each count leaves at its expiry, never
    /// earlier.
    pub struct MemoryAttemptStore {
        counts: Cache<String, Entry>,
    }

    impl MemoryAttemptStore {
        /// An empty store.
        pub fn new() -> Self {
            MemoryAttemptStore {
                counts: expiring_cache(),
            }
        }
    }

    impl Default for MemoryAttemptStore {
        fn default() -> Self {
            MemoryAttemptStore::new()
        }
    }

    #[async_trait]
    impl AttemptStore for MemoryAttemptStore {
        fn name(&self) -> &'static str {
            "memory"
        }

        async fn get(&self, key: &str, now: i64) -> Result<Option<Attempts>> {
            let entry = self.counts.get(key).await;
            Ok(entry
                .map(|e| e.value)
                .filter(|(_, keep_until)| now < *keep_until)
                .map(|(attempts, _)| attempts))
        }

        async fn record_failure(&self, key: &str, now: i64, keep_until: i64) -> Result<u64> {
            // `and_compute_with` runs calls on one key one after the other.
            let result = self
                .counts
                .entry_by_ref(key)
                .and_compute_with(|current| {
                    let before = current
                        .map(|e| e.into_value().value)
                        .filter(|(_, until)| now < *until)
                        .map_or(0, |(attempts, _)| attempts.failures);
                    let attempts = Attempts {
                        failures: before.saturating_add(1),
                        last_failure: now,
                    };
                    let entry = Timed::new((attempts, keep_until), now, keep_until);
                    std::future::ready(Op::Put(entry))
                })
                .await;
            Ok(match result {
                CompResult::Inserted(e) | CompResult::ReplacedWith(e) => {
                    e.into_value().value.0.failures
                }
                // `Op::Put` always stores.
                _ => 1,
            })
        }

        async fn reset(&self, key: &str) -> Result<()> {
            self.counts.invalidate(key).await;
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

    const COLUMNS: &str = "counter_key VARCHAR(255) NOT NULL PRIMARY KEY, \
                           failures BIGINT NOT NULL, last_failure BIGINT NOT NULL, \
                           expiration BIGINT NOT NULL";

    /// Failed logins counted in a SQL table (SQLite or PostgreSQL, features
    /// `storage-sqlite`, `storage-postgres`), shared by every instance on the same
    /// database: `counter_key` primary key, `failures`, `last_failure` and `expiration`
    /// (Unix milliseconds). A count is one upsert.
    pub struct SqlAttemptStore {
        table: Arc<SqlTable>,
        get: Arc<str>,
        count: Arc<str>,
        reset: Arc<str>,
    }

    impl SqlAttemptStore {
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
            Ok(SqlAttemptStore {
                get: format!(
                    "SELECT failures, last_failure FROM {name} \
                     WHERE counter_key = $1 AND expiration > $2"
                )
                .into(),
                count: format!(
                    "INSERT INTO {name} AS cur (counter_key, failures, last_failure, expiration) \
                     VALUES ($1, 1, $2, $3) \
                     ON CONFLICT (counter_key) DO UPDATE SET \
                     failures = CASE WHEN cur.expiration > $2 THEN cur.failures + 1 ELSE 1 END, \
                     last_failure = $2, expiration = $3 \
                     RETURNING failures"
                )
                .into(),
                reset: format!("DELETE FROM {name} WHERE counter_key = $1").into(),
                table,
            })
        }
    }

    #[async_trait]
    impl AttemptStore for SqlAttemptStore {
        fn name(&self) -> &'static str {
            self.table.driver()
        }

        async fn get(&self, key: &str, now: i64) -> Result<Option<Attempts>> {
            let row = with_pool!(self.table.pool(), pool => {
                sqlx::query_as::<_, (i64, i64)>(statement(&self.get))
                    .bind(key)
                    .bind(now)
                    .fetch_optional(pool)
                    .await
            });
            let row = row.map_err(|e| self.table.fail("cannot read the login failures", e))?;
            Ok(row.map(|(failures, last_failure)| Attempts {
                failures: u64::try_from(failures).unwrap_or(0),
                last_failure,
            }))
        }

        async fn record_failure(&self, key: &str, now: i64, keep_until: i64) -> Result<u64> {
            let failures = with_pool!(self.table.pool(), pool => {
                sqlx::query_scalar::<_, i64>(statement(&self.count))
                    .bind(key)
                    .bind(now)
                    .bind(keep_until)
                    .fetch_one(pool)
                    .await
            });
            let failures =
                failures.map_err(|e| self.table.fail("cannot count the login failure", e))?;
            Ok(u64::try_from(failures).unwrap_or(0))
        }

        async fn reset(&self, key: &str) -> Result<()> {
            self.table
                .execute_for(&self.reset, key, "cannot clear the login failures")
                .await
        }

        async fn ping(&self) -> Result<()> {
            self.table.ping().await
        }
    }
}

#[cfg(feature = "storage-redis")]
mod redis {
    use std::sync::LazyLock;

    use ::redis::Script;

    use super::*;
    use crate::backend::RedisConn;

    /// Counts one failure: `KEYS[1]` the count (a hash: `n` failures, `last` and `exp` in
    /// Unix ms); `ARGV[1]` now, `ARGV[2]` keep until. Returns the new count.
    static RECORD_FAILURE: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            r"
local now = tonumber(ARGV[1])
local exp = tonumber(redis.call('HGET', KEYS[1], 'exp'))
local n = 1
if exp and exp > now then
  n = redis.call('HINCRBY', KEYS[1], 'n', 1)
else
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'n', 1)
end
redis.call('HSET', KEYS[1], 'last', ARGV[1], 'exp', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return n
",
        )
    });

    /// Failed logins counted in Redis (feature `storage-redis`), shared by every instance
    /// on the same server: `key_prefix + key` is a hash (`n`, `last`, `exp`) expiring at
    /// its `exp`; a count is one Lua script.
    pub struct RedisAttemptStore {
        redis: RedisConn,
    }

    impl RedisAttemptStore {
        /// Connects to `url` with keys under `key_prefix`.
        ///
        /// # Errors
        /// [`Error::Config`](crate::Error::Config) on a URL that does not parse;
        /// [`Error::Unavailable`](crate::Error::Unavailable) when Redis cannot be reached.
        pub async fn connect(url: &str, key_prefix: &str) -> Result<Self> {
            Ok(RedisAttemptStore {
                redis: RedisConn::connect(url, key_prefix, WHAT).await?,
            })
        }
    }

    #[async_trait]
    impl AttemptStore for RedisAttemptStore {
        fn name(&self) -> &'static str {
            "redis"
        }

        async fn get(&self, key: &str, now: i64) -> Result<Option<Attempts>> {
            let mut command = ::redis::cmd("HMGET");
            command
                .arg(self.redis.key(key))
                .arg("n")
                .arg("last")
                .arg("exp");
            let (failures, last, exp): (Option<u64>, Option<i64>, Option<i64>) = self
                .redis
                .run("cannot read the login failures", &command)
                .await?;
            Ok(match (failures, last, exp) {
                (Some(failures), Some(last_failure), Some(exp)) if now < exp => Some(Attempts {
                    failures,
                    last_failure,
                }),
                _ => None,
            })
        }

        async fn record_failure(&self, key: &str, now: i64, keep_until: i64) -> Result<u64> {
            RECORD_FAILURE
                .key(self.redis.key(key))
                .arg(now)
                .arg(keep_until.max(1))
                .invoke_async(&mut self.redis.conn())
                .await
                .map_err(|e| self.redis.fail("cannot count the login failure", e))
        }

        async fn reset(&self, key: &str) -> Result<()> {
            self.redis
                .unlink(key, "cannot clear the login failures")
                .await
        }

        async fn ping(&self) -> Result<()> {
            self.redis.ping().await
        }
    }
}
