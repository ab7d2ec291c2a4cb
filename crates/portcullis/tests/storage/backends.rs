//! The backends the suite runs on, each in a namespace of its own (a table, a key prefix, a
//! temporary file), so that tests run side by side on one server.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use portcullis::settings::SqlStorageProperties;
#[cfg(feature = "storage-redis")]
use portcullis::storage::RedisStorage;
use portcullis::storage::{MemoryStorage, SqlStorage, TokenStorage};
use tempfile::TempDir;

/// Set by `scripts/test.sh` (through `scripts/services.sh`).
#[cfg(feature = "storage-redis")]
pub const REDIS_URL: &str = "PORTCULLIS_TEST_REDIS_URL";
/// Set by `scripts/test.sh` (through `scripts/services.sh`).
#[cfg(feature = "storage-postgres")]
pub const POSTGRES_URL: &str = "PORTCULLIS_TEST_POSTGRES_URL";
/// `1` skips the tests that need a server when its URL is not set.
#[cfg(any(feature = "storage-postgres", feature = "storage-redis"))]
pub const SKIP: &str = "PORTCULLIS_SKIP_SERVICES";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Memory,
    Sqlite,
    #[cfg(feature = "storage-postgres")]
    Postgres,
    #[cfg(feature = "storage-redis")]
    Redis,
}

/// One backend and the namespace of one test in it.
pub struct Backend {
    pub kind: Kind,
    /// The database or server URL (empty for memory).
    pub url: String,
    /// The table name or key prefix of this test.
    pub namespace: String,
    _dir: Option<TempDir>,
}

/// A namespace no other test uses: `t<pid>x<n>x<random>`.
fn namespace() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("t{}x{n}x{nanos:09}", std::process::id())
}

#[cfg(any(feature = "storage-postgres", feature = "storage-redis"))]
/// The URL in `variable`; `None` (skip) only when PORTCULLIS_SKIP_SERVICES=1.
pub fn server_url(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var(SKIP).as_deref() == Ok("1") => {
            eprintln!("{variable} is not set and {SKIP}=1: skipped");
            None
        }
        _ => panic!(
            "{variable} is not set: run scripts/test.sh, which starts private Redis and \
             PostgreSQL servers and sets it (or set {SKIP}=1 to skip these tests)"
        ),
    }
}

impl Backend {
    pub fn memory() -> Option<Backend> {
        Some(Backend::new(Kind::Memory, String::new(), None))
    }

    pub fn sqlite() -> Option<Backend> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("tokens.db").display());
        Some(Backend::new(Kind::Sqlite, url, Some(dir)))
    }

    #[cfg(feature = "storage-postgres")]
    pub fn postgres() -> Option<Backend> {
        server_url(POSTGRES_URL).map(|url| Backend::new(Kind::Postgres, url, None))
    }

    #[cfg(feature = "storage-redis")]
    pub fn redis() -> Option<Backend> {
        server_url(REDIS_URL).map(|url| Backend::new(Kind::Redis, url, None))
    }

    fn new(kind: Kind, url: String, dir: Option<TempDir>) -> Backend {
        Backend {
            kind,
            url,
            namespace: namespace(),
            _dir: dir,
        }
    }

    /// Whether the backend keeps expired entries until a sweep (SQL) rather than
    /// forgetting them itself.
    pub fn keeps_expired_rows(&self) -> bool {
        match self.kind {
            Kind::Memory => false,
            Kind::Sqlite => true,
            #[cfg(feature = "storage-postgres")]
            Kind::Postgres => true,
            #[cfg(feature = "storage-redis")]
            Kind::Redis => false,
        }
    }

    /// A storage on this test's namespace.
    pub async fn open(&self) -> Arc<dyn TokenStorage> {
        self.open_at(&self.url, &self.namespace)
            .await
            .expect("the backend is reachable")
    }

    /// A second storage in the same backend, on another namespace (table, prefix).
    pub async fn open_sibling(&self) -> Arc<dyn TokenStorage> {
        self.open_at(&self.url, &format!("{}sib", self.namespace))
            .await
            .expect("the backend is reachable")
    }

    /// A storage on `namespace` of the backend at `url`.
    pub async fn open_at(
        &self,
        url: &str,
        namespace: &str,
    ) -> portcullis::Result<Arc<dyn TokenStorage>> {
        Ok(match self.kind {
            Kind::Memory => Arc::new(MemoryStorage::new()),
            Kind::Sqlite => Arc::new(self.sql_at(url, namespace).await?),
            #[cfg(feature = "storage-postgres")]
            Kind::Postgres => Arc::new(self.sql_at(url, namespace).await?),
            #[cfg(feature = "storage-redis")]
            Kind::Redis => Arc::new(RedisStorage::connect(url, &format!("{namespace}_")).await?),
        })
    }

    /// The SQL driver itself (for its sweeper).
    pub async fn sql_at(&self, url: &str, namespace: &str) -> portcullis::Result<SqlStorage> {
        SqlStorage::connect(&self.sql_props(url, namespace)).await
    }

    pub fn sql_props(&self, url: &str, namespace: &str) -> SqlStorageProperties {
        let mut props = SqlStorageProperties::default();
        props.url = url.into();
        props.table = namespace.to_owned();
        props
    }
}
