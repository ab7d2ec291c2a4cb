//! The few places where SQLite and PostgreSQL SQL differ.
//!
//! Times are bound and read as Unix seconds (`i64`) and converted in SQL, so no date type
//! crosses the driver boundary and both databases store a real, UTC date column: SQLite
//! `DATETIME` holding `YYYY-MM-DD HH:MM:SS` text in UTC (it sorts and compares correctly as
//! text), PostgreSQL `TIMESTAMPTZ` (an absolute instant).
//!
//! ```text
//!                  SQLite                                   PostgreSQL
//! column type      DATETIME                                 TIMESTAMPTZ
//! $1 → date        datetime($1, 'unixepoch')                to_timestamp($1)
//! date → seconds   CAST(strftime('%s', d) AS INTEGER)       CAST(EXTRACT(EPOCH FROM d) AS BIGINT)
//! larger of two    MAX(a, b)                                GREATEST(a, b)
//! ```

/// Which SQL the statements are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite 3.35 or later (bundled).
    #[cfg(feature = "storage-sqlite")]
    Sqlite,
    /// PostgreSQL 12 or later.
    #[cfg(feature = "storage-postgres")]
    Postgres,
}

impl Dialect {
    /// The driver's name, as [`TokenStorage::name`](crate::storage::TokenStorage::name).
    pub(crate) fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "storage-sqlite")]
            Dialect::Sqlite => "sqlite",
            #[cfg(feature = "storage-postgres")]
            Dialect::Postgres => "postgres",
        }
    }

    /// The column type of a UTC date and time.
    pub(crate) fn timestamp(self) -> &'static str {
        match self {
            #[cfg(feature = "storage-sqlite")]
            Dialect::Sqlite => "DATETIME",
            #[cfg(feature = "storage-postgres")]
            Dialect::Postgres => "TIMESTAMPTZ",
        }
    }

    /// The date of the Unix seconds in the parameter `param`.
    pub(crate) fn at(self, param: &str) -> String {
        match self {
            #[cfg(feature = "storage-sqlite")]
            Dialect::Sqlite => format!("datetime({param}, 'unixepoch')"),
            #[cfg(feature = "storage-postgres")]
            Dialect::Postgres => format!("to_timestamp({param})"),
        }
    }

    /// The Unix seconds of the date expression `date` (NULL stays NULL).
    pub(crate) fn seconds(self, date: &str) -> String {
        match self {
            #[cfg(feature = "storage-sqlite")]
            Dialect::Sqlite => format!("CAST(strftime('%s', {date}) AS INTEGER)"),
            #[cfg(feature = "storage-postgres")]
            Dialect::Postgres => format!("CAST(EXTRACT(EPOCH FROM {date}) AS BIGINT)"),
        }
    }

    /// The larger of two values.
    pub(crate) fn greatest(self, a: &str, b: &str) -> String {
        match self {
            #[cfg(feature = "storage-sqlite")]
            Dialect::Sqlite => format!("MAX({a}, {b})"),
            #[cfg(feature = "storage-postgres")]
            Dialect::Postgres => format!("GREATEST({a}, {b})"),
        }
    }

    /// A statement that serialises concurrent schema creation by several instances, run in
    /// the same transaction as the `CREATE … IF NOT EXISTS` statements.
    pub(crate) fn ddl_lock(self) -> Option<&'static str> {
        match self {
            #[cfg(feature = "storage-sqlite")]
            Dialect::Sqlite => None,
            // Two `CREATE TABLE IF NOT EXISTS` racing in PostgreSQL can both pass the check
            // and one then fails on the catalog's unique index; a transaction-scoped
            // advisory lock (key: the ASCII bytes of "portcull") makes them take turns.
            #[cfg(feature = "storage-postgres")]
            Dialect::Postgres => Some("SELECT pg_advisory_xact_lock(8101820098873224300)"),
        }
    }
}
