//! The connection pool: one enum over sqlx's typed SQLite and PostgreSQL pools.
//!
//! [`with_pool!`] runs the same code on whichever pool is in use, so the driver's queries
//! are written once and compiled once per enabled backend — with each backend's own
//! connection options (SQLite: create the file, WAL, busy timeout; PostgreSQL: application
//! name) and without `sqlx::Any`'s run-time conversion of every argument and row.
//!
//! ```text
//! with_pool!(&pool, p => sqlx::query(sql).bind(jti).fetch_one(p).await)
//!   ≡ match &pool { Pool::Sqlite(p) => …, Pool::Postgres(p) => … }   (one arm per enabled feature)
//! ```

use std::str::FromStr;
use std::time::Duration;

use super::dialect::Dialect;
use crate::storage::failure::Redactor;
use crate::{Error, Result};

/// How long a query waits for a free (or new) connection before the request fails closed.
pub(crate) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long SQLite waits for another writer's lock before failing.
#[cfg(feature = "storage-sqlite")]
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection idle for longer than this is pinged before use (one extra round trip,
/// only then): a database restart is noticed without pinging on every query.
const PING_AFTER_IDLE: Duration = Duration::from_secs(30);

/// A pool of connections to one database.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    /// SQLite.
    #[cfg(feature = "storage-sqlite")]
    Sqlite(sqlx::SqlitePool),
    /// PostgreSQL.
    #[cfg(feature = "storage-postgres")]
    Postgres(sqlx::PgPool),
}

/// Runs `$body` with `$pool` bound to the typed pool inside `$value` (a `&Pool`).
macro_rules! with_pool {
    ($value:expr, $pool:ident => $body:expr) => {
        match $value {
            #[cfg(feature = "storage-sqlite")]
            $crate::storage::sql::pool::Pool::Sqlite($pool) => $body,
            #[cfg(feature = "storage-postgres")]
            $crate::storage::sql::pool::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

impl Pool {
    /// The dialect this pool speaks.
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            #[cfg(feature = "storage-sqlite")]
            Pool::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "storage-postgres")]
            Pool::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Opens a pool for `url` (`sqlite:…`, `postgres://…` or `postgresql://…`). Connections
    /// are made lazily: the first statement reports an unreachable database.
    ///
    /// # Errors
    /// [`Error::Config`] on `url` when the scheme is unknown, its driver's feature is not
    /// compiled in, or the URL does not parse.
    pub(crate) fn open(url: &str, redactor: &Redactor) -> Result<Self> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => open_sqlite(url, redactor),
            "postgres" | "postgresql" => open_postgres(url, redactor),
            _ => Err(Error::config(
                crate::storage::failure::URL_KEY,
                "unsupported database: give a sqlite:// or postgres:// URL",
            )),
        }
    }

    /// Closes every connection.
    pub(crate) async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

/// Pool options shared by both backends.
fn options<DB: sqlx::Database>(max_connections: u32) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

#[cfg(feature = "storage-sqlite")]
fn open_sqlite(url: &str, redactor: &Redactor) -> Result<Pool> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

    let query = url.split_once('?').map_or("", |(_, query)| query);
    let in_memory = url.contains(":memory:") || query.contains("mode=memory");
    let mut connect = SqliteConnectOptions::from_str(url)
        .map_err(|e| redactor.bad_url(e))?
        .busy_timeout(BUSY_TIMEOUT);
    if !query.contains("mode=") {
        // `sqlite://path` means `sqlite://path?mode=rwc`: the file is created on first use.
        connect = connect.create_if_missing(true);
    }
    let pool = if in_memory {
        // An in-memory database lives as long as one connection to it: keep exactly one.
        options(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(connect)
    } else {
        let connect = connect
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        options(4).connect_lazy_with(connect)
    };
    Ok(Pool::Sqlite(pool))
}

#[cfg(not(feature = "storage-sqlite"))]
fn open_sqlite(_: &str, _: &Redactor) -> Result<Pool> {
    Err(missing_feature("SQLite", "storage-sqlite"))
}

#[cfg(feature = "storage-postgres")]
fn open_postgres(url: &str, redactor: &Redactor) -> Result<Pool> {
    let connect = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| redactor.bad_url(e))?
        .application_name("portcullis");
    Ok(Pool::Postgres(options(10).connect_lazy_with(connect)))
}

#[cfg(not(feature = "storage-postgres"))]
fn open_postgres(_: &str, _: &Redactor) -> Result<Pool> {
    Err(missing_feature("PostgreSQL", "storage-postgres"))
}

#[cfg(not(all(feature = "storage-sqlite", feature = "storage-postgres")))]
fn missing_feature(database: &str, feature: &str) -> Error {
    Error::config(
        crate::storage::failure::URL_KEY,
        format!(
            "{database} support is not compiled in: enable the `{feature}` feature of portcullis"
        ),
    )
}
