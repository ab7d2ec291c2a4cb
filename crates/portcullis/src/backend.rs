//! Where the session store and the login throttle keep their state: the backend that
//! `jwt.token_storage.driver` selects, reached with `jwt.token_storage.properties`, in a table
//! or under a key prefix of their own.
//!
//! ```text
//! driver   sessions                          failed-login counters
//! memory   moka cache, per-entry expiry      moka cache, per-entry expiry
//! sql      table session.table               table authentication.login_protection.table
//! redis    session.key_prefix + key          authentication.login_protection.key_prefix + key
//! ```
//!
//! Every SQL table has an `expiration` column (Unix milliseconds): a row past it is invisible
//! at once and deleted by a periodic sweep every `rotation_frequency`. Redis and moka forget
//! entries themselves.

#[cfg(feature = "storage-memory")]
pub(crate) use self::in_memory::{expiring_cache, Timed};
#[cfg(feature = "storage-redis")]
pub(crate) use self::in_redis::RedisConn;
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
pub(crate) use self::in_sql::{statement, SqlTable};
#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
pub(crate) use crate::storage::sql::pool::with_pool;

use crate::settings::{StorageDriver, TokenStorageSettings};
use crate::{Error, Result};

/// The backend a store follows, with what it needs to connect.
pub(crate) enum Selected {
    /// Process memory.
    #[cfg(feature = "storage-memory")]
    Memory,
    /// A SQL database.
    #[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
    Sql(crate::settings::SqlStorageProperties),
    /// A Redis server at this URL.
    #[cfg(feature = "storage-redis")]
    Redis(String),
}

const DRIVER_KEY: &str = "jwt.token_storage.driver";

/// The backend `storage.driver` names, for the store of `what` (e.g. `sessions`).
///
/// # Errors
/// [`Error::Config`] for a custom driver (the store must then be given in code), a driver
/// whose feature is not compiled in, or bad properties.
pub(crate) fn select(storage: &TokenStorageSettings, what: &str) -> Result<Selected> {
    match &storage.driver {
        #[cfg(feature = "storage-memory")]
        StorageDriver::Memory => Ok(Selected::Memory),
        #[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
        StorageDriver::Sql => Ok(Selected::Sql(storage.sql()?)),
        #[cfg(feature = "storage-redis")]
        StorageDriver::Redis => {
            let props = storage.redis()?;
            let url = props.url.expose_str().ok_or_else(|| {
                Error::config(
                    crate::storage::failure::URL_KEY,
                    "the Redis URL is not valid UTF-8",
                )
            })?;
            Ok(Selected::Redis(url.to_owned()))
        }
        StorageDriver::Custom(name) => Err(Error::config(
            DRIVER_KEY,
            format!(
                "{name:?} is a custom token storage driver, which the {what} cannot follow: \
                 build their store in code"
            ),
        )),
        #[allow(unreachable_patterns)] // when every driver is compiled in
        other => Err(Error::config(
            DRIVER_KEY,
            format!(
                "the {} driver is not compiled in: enable the `{}` feature of portcullis",
                other.as_str(),
                match other {
                    StorageDriver::Sql => "storage-sqlite` or `storage-postgres",
                    StorageDriver::Redis => "storage-redis",
                    _ => "storage-memory",
                }
            ),
        )),
    }
}

/// `value` as JSON, for a store of `what`.
#[cfg(any(
    feature = "storage-redis",
    feature = "storage-sqlite",
    feature = "storage-postgres"
))]
pub(crate) fn to_json<T: serde::Serialize>(value: &T, what: &'static str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Unavailable {
        what,
        reason: format!("cannot encode a record: {e}"),
    })
}

/// A record of a store of `what`, read back from JSON.
#[cfg(any(
    feature = "storage-redis",
    feature = "storage-sqlite",
    feature = "storage-postgres"
))]
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    json: &str,
    what: &'static str,
) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::Unavailable {
        what,
        reason: format!("a stored record is unreadable: {e}"),
    })
}

#[cfg(feature = "storage-memory")]
mod in_memory {
    use std::time::{Duration, Instant};

    use moka::future::Cache;
    use moka::Expiry;

    /// A cached value and how long it lives from when it is written.
    #[derive(Debug, Clone)]
    pub(crate) struct Timed<V> {
        /// The value.
        pub(crate) value: V,
        lifetime: Duration,
    }

    impl<V> Timed<V> {
        /// `value`, written at `now` and living until `until` (Unix ms, by the caller's
        /// clock: moka counts the lifetime on its own).
        pub(crate) fn new(value: V, now: i64, until: i64) -> Self {
            let left = u64::try_from(until.saturating_sub(now)).unwrap_or(0);
            Timed {
                value,
                lifetime: Duration::from_millis(left),
            }
        }
    }

    struct OwnLifetime;

    impl<V> Expiry<String, Timed<V>> for OwnLifetime {
        fn expire_after_create(
            &self,
            _: &String,
            value: &Timed<V>,
            _: Instant,
        ) -> Option<Duration> {
            Some(value.lifetime)
        }

        fn expire_after_update(
            &self,
            _: &String,
            value: &Timed<V>,
            _: Instant,
            _: Option<Duration>,
        ) -> Option<Duration> {
            Some(value.lifetime)
        }
    }

    /// A cache whose entries leave at the end of their own lifetime, never earlier: no
    /// capacity, no eviction (an evicted counter or session would silently be forgotten).
    pub(crate) fn expiring_cache<V: Clone + Send + Sync + 'static>() -> Cache<String, Timed<V>> {
        Cache::builder().expire_after(OwnLifetime).build()
    }
}

#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
mod in_sql {
    use std::sync::Arc;
    use std::time::Duration;

    use sqlx::AssertSqlSafe;

    use crate::clock::{Clock, SystemClock};
    use crate::settings::SqlStorageProperties;
    use crate::storage::failure::Redactor;
    use crate::storage::sql::dialect::Dialect;
    use crate::storage::sql::pool::{with_pool, Pool};
    use crate::{Error, Result};

    /// A statement's text, for sqlx (identifiers were checked before it was written).
    pub(crate) fn statement(text: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
        AssertSqlSafe(Arc::clone(text))
    }

    /// One table of a store, in the database of `jwt.token_storage`.
    pub(crate) struct SqlTable {
        pool: Pool,
        name: String,
        redactor: Redactor,
        what: &'static str,
        purge: Arc<str>,
        /// Reads the table without returning a row: whether it is there and readable.
        probe: Arc<str>,
    }

    fn quote(name: &str) -> String {
        format!("\"{name}\"")
    }

    impl SqlTable {
        /// Connects to `props.url` and, if `props.auto_create`, creates the table `table`
        /// with `columns` (which must include `expiration BIGINT NOT NULL`) when missing;
        /// starts the sweep of expired rows every `props.rotation_frequency`, which ends with
        /// the table.
        ///
        /// # Errors
        /// [`Error::Config`] on a bad URL, table or schema; [`Error::Unavailable`] when the
        /// database cannot be reached or the table cannot be created (or is missing).
        pub(crate) async fn open(
            props: &SqlStorageProperties,
            table: &str,
            columns: &str,
            what: &'static str,
        ) -> Result<Arc<Self>> {
            if !crate::settings::is_sql_identifier(table) {
                return Err(Error::config(
                    what,
                    format!("{table:?} is not a plain SQL identifier"),
                ));
            }
            let url = props.url.expose_str().ok_or_else(|| {
                Error::config(
                    crate::storage::failure::URL_KEY,
                    "the database URL is not valid UTF-8",
                )
            })?;
            let redactor = Redactor::for_url(url);
            let pool = Pool::open(url, &redactor)?;
            let schema = schema(pool.dialect(), &props.schema)?;
            let name = match &schema {
                Some(schema) => format!("{schema}.{}", quote(table)),
                None => quote(table),
            };
            let table = Arc::new(SqlTable {
                purge: format!("DELETE FROM {name} WHERE expiration <= $1").into(),
                probe: format!("SELECT 1 FROM {name} WHERE 1 = 0").into(),
                pool,
                name,
                redactor,
                what,
            });
            let prepared = if props.auto_create {
                table.create(schema.as_deref(), columns).await
            } else {
                table
                    .execute(&table.probe, "the table is missing (auto_create is off)")
                    .await
            };
            if let Err(err) = prepared {
                table.pool.close().await;
                return Err(err);
            }
            table.spawn_sweeper(props.rotation_frequency);
            Ok(table)
        }

        /// The quoted, schema-qualified table name.
        pub(crate) fn name(&self) -> &str {
            &self.name
        }

        /// The connection pool.
        pub(crate) fn pool(&self) -> &Pool {
            &self.pool
        }

        /// The driver's name: `sqlite` or `postgres`.
        pub(crate) fn driver(&self) -> &'static str {
            self.pool.dialect().name()
        }

        /// An [`Error::Unavailable`] for a database error, credentials scrubbed.
        pub(crate) fn fail(&self, context: &str, err: impl std::fmt::Display) -> Error {
            Error::Unavailable {
                what: self.what,
                reason: format!("{context}: {}", self.redactor.scrub(&err.to_string())),
            }
        }

        async fn execute(&self, text: &Arc<str>, context: &str) -> Result<()> {
            with_pool!(&self.pool, pool => {
                sqlx::query(statement(text)).execute(pool).await.map(drop)
            })
            .map_err(|e| self.fail(context, e))
        }

        async fn create(&self, schema: Option<&str>, columns: &str) -> Result<()> {
            let lock = self.pool.dialect().ddl_lock();
            let mut statements = Vec::new();
            if let Some(schema) = schema {
                statements.push(format!("CREATE SCHEMA IF NOT EXISTS {schema}"));
            }
            statements.push(format!(
                "CREATE TABLE IF NOT EXISTS {} ({columns})",
                self.name
            ));
            let created = with_pool!(&self.pool, pool => async {
                let mut tx = pool.begin().await?;
                if let Some(lock) = lock {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                for text in statements {
                    sqlx::query(AssertSqlSafe(text)).execute(&mut *tx).await?;
                }
                tx.commit().await
            }
            .await);
            created.map_err(|e| self.fail("cannot create the table", e))
        }

        /// Runs `text` with the one parameter `key`.
        pub(crate) async fn execute_for(
            &self,
            text: &Arc<str>,
            key: &str,
            context: &str,
        ) -> Result<()> {
            with_pool!(&self.pool, pool => {
                sqlx::query(statement(text)).bind(key).execute(pool).await.map(drop)
            })
            .map_err(|e| self.fail(context, e))
        }

        /// The text column `text` (a query with the parameters `key` and `now`) selects, if
        /// a row matches.
        pub(crate) async fn fetch_text(
            &self,
            text: &Arc<str>,
            key: &str,
            now: i64,
            context: &str,
        ) -> Result<Option<String>> {
            with_pool!(&self.pool, pool => {
                sqlx::query_scalar::<_, String>(statement(text))
                    .bind(key)
                    .bind(now)
                    .fetch_optional(pool)
                    .await
            })
            .map_err(|e| self.fail(context, e))
        }

        /// One round trip that reads the table (no row returned), for health checks.
        pub(crate) async fn ping(&self) -> Result<()> {
            self.execute(&self.probe, "the table cannot be read").await
        }

        /// Deletes the rows that expired at or before `now_ms`.
        async fn purge(&self, now_ms: i64) -> Result<u64> {
            with_pool!(&self.pool, pool => {
                sqlx::query(statement(&self.purge))
                    .bind(now_ms)
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected())
            })
            .map_err(|e| self.fail("sweep failed", e))
        }

        fn spawn_sweeper(self: &Arc<Self>, every: Duration) {
            let table = Arc::downgrade(self);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let Some(table) = table.upgrade() else {
                        break;
                    };
                    match table.purge(SystemClock.now_ms()).await {
                        Ok(removed) => tracing::debug!(removed, what = table.what, "sweep"),
                        Err(err) => tracing::warn!(error = %err, "sweep failed"),
                    }
                }
            });
        }
    }

    /// The quoted schema, if one applies: PostgreSQL only (a SQLite schema is an attached
    /// database: only `main`, the default, is accepted).
    fn schema(dialect: Dialect, schema: &str) -> Result<Option<String>> {
        const KEY: &str = "jwt.token_storage.properties.schema";
        if schema.is_empty() {
            return Ok(None);
        }
        if !crate::settings::is_sql_identifier(schema) {
            return Err(Error::config(KEY, "not a plain SQL identifier"));
        }
        match dialect {
            #[cfg(feature = "storage-sqlite")]
            Dialect::Sqlite if schema == "main" => Ok(None),
            #[cfg(feature = "storage-sqlite")]
            Dialect::Sqlite => Err(Error::config(
                KEY,
                "a SQLite schema is an attached database: leave it empty",
            )),
            #[cfg(feature = "storage-postgres")]
            Dialect::Postgres => Ok(Some(quote(schema))),
        }
    }
}

#[cfg(feature = "storage-redis")]
mod in_redis {
    use ::redis::aio::ConnectionManager;
    use ::redis::{Cmd, FromRedisValue};

    use crate::storage::failure::Redactor;
    use crate::{Error, Result};

    /// A connection to the Redis server of `jwt.token_storage`, for keys under one prefix.
    pub(crate) struct RedisConn {
        conn: ConnectionManager,
        redactor: Redactor,
        what: &'static str,
        prefix: String,
    }

    impl RedisConn {
        /// Connects to `url`, for keys under `prefix`.
        ///
        /// # Errors
        /// [`Error::Config`] on a URL that does not parse; [`Error::Unavailable`] when the
        /// server cannot be reached.
        pub(crate) async fn connect(url: &str, prefix: &str, what: &'static str) -> Result<Self> {
            let redactor = Redactor::for_url(url);
            let client = ::redis::Client::open(url).map_err(|e| redactor.bad_url(e))?;
            match crate::storage::redis::manager(client).await {
                Ok(conn) => Ok(RedisConn {
                    conn,
                    redactor,
                    what,
                    prefix: prefix.to_owned(),
                }),
                Err(err) => Err(Error::Unavailable {
                    what,
                    reason: format!(
                        "cannot connect to Redis: {}",
                        redactor.scrub(&err.to_string())
                    ),
                }),
            }
        }

        /// A handle on the shared connection.
        pub(crate) fn conn(&self) -> ConnectionManager {
            self.conn.clone()
        }

        /// The Redis key of `key`: the prefix, then `key`.
        pub(crate) fn key(&self, key: &str) -> String {
            format!("{}{key}", self.prefix)
        }

        /// Runs `command`; a failure is [`Error::Unavailable`] saying `context`.
        pub(crate) async fn run<T: FromRedisValue>(
            &self,
            context: &str,
            command: &Cmd,
        ) -> Result<T> {
            let result = command.query_async(&mut self.conn()).await;
            result.map_err(|e| self.fail(context, e))
        }

        /// `PING`, for health checks.
        pub(crate) async fn ping(&self) -> Result<()> {
            self.run("Redis does not answer", &::redis::cmd("PING"))
                .await
        }

        /// The text under `key` (under the prefix), if any.
        pub(crate) async fn get(&self, key: &str, context: &str) -> Result<Option<String>> {
            let mut command = ::redis::cmd("GET");
            command.arg(self.key(key));
            self.run(context, &command).await
        }

        /// Stores `value` under `key` (under the prefix) until `until` (Unix ms, `PXAT`).
        pub(crate) async fn set_until(
            &self,
            key: &str,
            value: &str,
            until: i64,
            context: &str,
        ) -> Result<()> {
            let mut command = ::redis::cmd("SET");
            command
                .arg(self.key(key))
                .arg(value)
                .arg("PXAT")
                .arg(until.max(1));
            self.run(context, &command).await
        }

        /// Deletes `key` (under the prefix).
        pub(crate) async fn unlink(&self, key: &str, context: &str) -> Result<()> {
            let mut command = ::redis::cmd("UNLINK");
            command.arg(self.key(key));
            self.run(context, &command).await
        }

        /// An [`Error::Unavailable`] for a Redis error, credentials scrubbed.
        pub(crate) fn fail(&self, context: &str, err: impl std::fmt::Display) -> Error {
            Error::Unavailable {
                what: self.what,
                reason: format!("{context}: {}", self.redactor.scrub(&err.to_string())),
            }
        }
    }
}
