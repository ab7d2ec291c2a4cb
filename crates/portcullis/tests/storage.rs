//! The token storage suite, run once per driver: memory, SQLite (a temporary file),
//! PostgreSQL and Redis (real servers, started by `scripts/test.sh`; their URLs come from
//! `PORTCULLIS_TEST_POSTGRES_URL` and `PORTCULLIS_TEST_REDIS_URL`, and these tests fail
//! without them unless `PORTCULLIS_SKIP_SERVICES=1`).
//!
//! Every test works in a namespace of its own (table, key prefix or file), so they run side
//! by side on the same servers.
//!
//! The memory and SQLite drivers are the default features; PostgreSQL and Redis tests are
//! compiled with `storage-postgres` / `storage-redis` (`scripts/test.sh` uses
//! `--all-features`).
#![cfg(all(feature = "storage-memory", feature = "storage-sqlite"))]

#[path = "storage/backends.rs"]
mod backends;
#[path = "storage/faults.rs"]
mod faults;
#[cfg(any(feature = "storage-postgres", feature = "storage-redis"))]
#[path = "storage/proxy.rs"]
mod proxy;
#[path = "storage/suite.rs"]
mod suite;

use std::sync::Arc;
use std::time::Duration;

use backends::Backend;
use portcullis::settings::{StorageDriver, TokenStorageSettings};
use portcullis::storage::{from_settings, TokenStorage};
use portcullis::Error;

/// One `#[tokio::test]` per suite function, in a module per driver.
macro_rules! suite {
    ($driver:ident: $($test:ident),* $(,)?) => {
        mod $driver {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(backend) = crate::backends::Backend::$driver() {
                        crate::suite::$test(&backend).await;
                    }
                }
            )*
        }
    };
}

macro_rules! suite_for {
    ($driver:ident) => {
            suite!($driver:
                records_round_trip,
                odd_values_are_data,
                everything_expires_at_its_time,
                clear_all_removes_only_this_storages_tokens,
                keys_are_sorted_and_counted,
                epochs_only_move_forward,
                check_agrees_with_the_individual_calls,
                families_change_by_compare_and_swap,
                concurrent_swaps_have_one_winner,
                sweep_removes_what_expired,
            );
    };
}

suite_for!(memory);
suite_for!(sqlite);
#[cfg(feature = "storage-postgres")]
suite_for!(postgres);
#[cfg(feature = "storage-redis")]
suite_for!(redis);

/// Restart, outage and driver-specific tests.
mod durable {
    use super::*;

    macro_rules! restart {
        ($($(#[$cfg:meta])? $name:ident => $driver:ident),*) => {
            $(
                $(#[$cfg])?
                #[tokio::test]
                async fn $name() {
                    if let Some(backend) = Backend::$driver() {
                        faults::restart_keeps_data(&backend).await;
                    }
                }
            )*
        };
    }

    restart!(
        sqlite_restart_keeps_data => sqlite,
        #[cfg(feature = "storage-postgres")]
        postgres_restart_keeps_data => postgres,
        #[cfg(feature = "storage-redis")]
        redis_restart_keeps_data => redis
    );

    /// A port on which nothing listens.
    #[cfg(any(feature = "storage-postgres", feature = "storage-redis"))]
    async fn closed_port() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    }

    fn assert_unavailable_at_connect<T>(result: portcullis::Result<T>, secret: &str) {
        match result {
            Err(Error::Unavailable { what, reason }) => {
                assert_eq!(what, "token storage");
                assert!(!reason.contains(secret), "{reason}");
            }
            Err(other) => panic!("expected Error::Unavailable, got {other:?}"),
            Ok(_) => panic!("expected Error::Unavailable, got a storage"),
        }
    }

    #[cfg(feature = "storage-postgres")]
    #[tokio::test]
    async fn postgres_unreachable_at_connect_is_unavailable() {
        let Some(backend) = Backend::postgres() else {
            return;
        };
        let url = format!(
            "postgres://portcullis:pa55word@127.0.0.1:{}/portcullis",
            closed_port().await
        );
        let started = std::time::Instant::now();
        let result = backend.open_at(&url, &backend.namespace).await;
        assert_unavailable_at_connect(result, "pa55word");
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[cfg(feature = "storage-redis")]
    #[tokio::test]
    async fn redis_unreachable_at_connect_is_unavailable() {
        let Some(backend) = Backend::redis() else {
            return;
        };
        let url = format!("redis://:pa55word@127.0.0.1:{}/0", closed_port().await);
        let result = backend.open_at(&url, &backend.namespace).await;
        assert_unavailable_at_connect(result, "pa55word");
    }

    #[cfg(any(feature = "storage-postgres", feature = "storage-redis"))]
    /// The server goes away under a connected driver: every call fails closed; when it
    /// comes back, the driver recovers by itself.
    async fn outage_and_recovery(backend: Backend) {
        let mut relay = proxy::Proxy::start(proxy::authority(&backend.url)).await;
        let url = proxy::via(&backend.url, relay.port);
        let storage = backend.open_at(&url, &backend.namespace).await.unwrap();
        storage
            .set(suite::token("j", "s", suite::later()))
            .await
            .unwrap();
        assert!(storage.exists("j").await.unwrap());

        relay.cut().await;
        faults::every_call_is_unavailable(&storage).await;

        relay.restore().await;
        let mut recovered = false;
        for _ in 0..50 {
            if let Ok(found) = storage.exists("j").await {
                assert!(found, "the record is still there");
                recovered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(recovered, "{} did not recover", storage.name());
    }

    #[cfg(feature = "storage-postgres")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_outage_is_unavailable_then_recovers() {
        if let Some(backend) = Backend::postgres() {
            outage_and_recovery(backend).await;
        }
    }

    #[cfg(feature = "storage-redis")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_outage_is_unavailable_then_recovers() {
        if let Some(backend) = Backend::redis() {
            outage_and_recovery(backend).await;
        }
    }

    #[tokio::test]
    async fn sqlite_in_a_missing_directory_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}",
            dir.path().join("missing/deeper/tokens.db").display()
        );
        let backend = Backend::sqlite().unwrap();
        let result = backend.open_at(&url, &backend.namespace).await;
        assert_unavailable_at_connect(result, "missing/deeper");
    }

    #[tokio::test]
    async fn sqlite_closed_pool_is_unavailable() {
        let backend = Backend::sqlite().unwrap();
        let sql = backend
            .sql_at(&backend.url, &backend.namespace)
            .await
            .unwrap();
        sql.close().await;
        let storage: Arc<dyn TokenStorage> = Arc::new(sql);
        faults::every_call_is_unavailable(&storage).await;
        faults::sweep_is_unavailable(&storage).await;
    }

    #[tokio::test]
    async fn sqlite_locked_by_another_writer_is_unavailable() {
        use sqlx::Connection;

        let backend = Backend::sqlite().unwrap();
        let storage = backend.open().await;
        storage
            .set(suite::token("j", "s", suite::later()))
            .await
            .unwrap();
        // Another process holds the write lock for longer than the busy timeout.
        let mut other = sqlx::SqliteConnection::connect(&backend.url).await.unwrap();
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut other)
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let state = suite::family("f", "s", suite::later());
        let (set, revoke, swap) = tokio::join!(
            storage.set(suite::token("k", "s", suite::later())),
            storage.revoke_before("s", 1, suite::later()),
            storage.swap_family(None, &state),
        );
        for (what, result) in [("set", set), ("revoke_before", revoke)] {
            assert!(
                matches!(result, Err(Error::Unavailable { .. })),
                "{what}: {result:?}"
            );
        }
        assert!(matches!(swap, Err(Error::Unavailable { .. })), "{swap:?}");
        assert!(started.elapsed() < Duration::from_secs(30));
        sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
        // Lock released: writes work again.
        storage
            .set(suite::token("k", "s", suite::later()))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn sqlite_file_replaced_by_garbage_is_unavailable() {
        let backend = Backend::sqlite().unwrap();
        let storage = backend.open().await;
        storage
            .set(suite::token("j", "s", suite::later()))
            .await
            .unwrap();
        let path = backend.url.trim_start_matches("sqlite://").to_owned();
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{path}{suffix}");
            if std::path::Path::new(&file).exists() {
                std::fs::write(&file, vec![0x5a; 64 * 1024]).unwrap();
            }
        }
        faults::every_call_is_unavailable(&storage).await;
    }

    /// The SQL sweeper deletes rows expired for longer than `rotation_days`, on its own
    /// schedule, and stops when asked.
    async fn sweeper_runs_on_its_own(backend: Backend) {
        let mut props = backend.sql_props(&backend.url, &backend.namespace);
        props.rotation_frequency = Duration::from_millis(200);
        props.rotation_days = 0;
        let storage = Arc::new(
            portcullis::storage::SqlStorage::connect(&props)
                .await
                .unwrap(),
        );
        let past = suite::now() - 60;
        storage.set(suite::token("old", "s", past)).await.unwrap();
        storage
            .set(suite::token("live", "s", suite::later()))
            .await
            .unwrap();
        let sweeper = Arc::clone(&storage).spawn_sweeper();
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        assert_eq!(
            storage.sweep(suite::now()).await.unwrap(),
            0,
            "already swept"
        );
        assert_eq!(storage.keys().await.unwrap(), ["live"]);
        sweeper.abort();
        assert!(sweeper.await.unwrap_err().is_cancelled());

        // Rows expired for less than rotation_days stay until then.
        props.rotation_days = 1;
        let storage = Arc::new(
            portcullis::storage::SqlStorage::connect(&props)
                .await
                .unwrap(),
        );
        storage
            .set(suite::token("recent", "s", past))
            .await
            .unwrap();
        let sweeper = Arc::clone(&storage).spawn_sweeper();
        tokio::time::sleep(Duration::from_millis(600)).await;
        // The sweeper ends by itself once the storage is gone.
        let swept = storage.sweep(suite::now()).await.unwrap();
        assert_eq!(swept, 1, "the recently expired row was kept by the sweeper");
        drop(storage);
        tokio::time::timeout(Duration::from_secs(5), sweeper)
            .await
            .expect("the sweeper ends with its storage")
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_sweeper_runs_on_its_own() {
        sweeper_runs_on_its_own(Backend::sqlite().unwrap()).await;
    }

    #[cfg(feature = "storage-postgres")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_sweeper_runs_on_its_own() {
        if let Some(backend) = Backend::postgres() {
            sweeper_runs_on_its_own(backend).await;
        }
    }

    #[cfg(feature = "storage-postgres")]
    #[tokio::test]
    async fn postgres_tables_live_in_their_schema() {
        let Some(backend) = Backend::postgres() else {
            return;
        };
        let mut props = backend.sql_props(&backend.url, &backend.namespace);
        props.schema = format!("{}s", backend.namespace);
        let storage = portcullis::storage::SqlStorage::connect(&props)
            .await
            .unwrap();
        storage
            .set(suite::token("j", "s", suite::later()))
            .await
            .unwrap();
        // The same table name without the schema is another table.
        let public = backend.open().await;
        assert!(!public.exists("j").await.unwrap());
        assert!(storage.exists("j").await.unwrap());
    }

    #[tokio::test]
    async fn missing_tables_without_auto_create_are_unavailable() {
        let backend = Backend::sqlite().unwrap();
        let mut props = backend.sql_props(&backend.url, &backend.namespace);
        props.auto_create = false;
        let result = portcullis::storage::SqlStorage::connect(&props).await;
        assert!(
            matches!(result, Err(Error::Unavailable { .. })),
            "{result:?}"
        );
        // Once created, the same settings connect.
        backend.open().await;
        assert!(portcullis::storage::SqlStorage::connect(&props)
            .await
            .is_ok());
    }
}

/// `from_settings` picks the driver named in the settings.
mod settings {
    use super::*;

    fn settings(driver: StorageDriver, properties: &str) -> TokenStorageSettings {
        let text = format!("driver = {:?}\nproperties = {properties}", driver.as_str());
        let mut settings: TokenStorageSettings = toml::from_str(&text).unwrap();
        settings.key_prefix = format!("{}_", backends_namespace());
        settings
    }

    fn backends_namespace() -> String {
        Backend::memory().unwrap().namespace
    }

    #[tokio::test]
    async fn memory_and_sqlite_by_name() {
        let storage = from_settings(&settings(StorageDriver::Memory, "{}"))
            .await
            .unwrap();
        assert_eq!(storage.name(), "memory");

        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let storage = from_settings(&settings(
            StorageDriver::Sql,
            &format!("{{ url = {url:?} }}"),
        ))
        .await
        .unwrap();
        assert_eq!(storage.name(), "sqlite");
        assert!(dir.path().join("t.db").exists(), "created on first use");
    }

    #[tokio::test]
    async fn postgres_and_redis_by_name() {
        #[cfg(feature = "storage-postgres")]
        if let Some(url) = backends::server_url(backends::POSTGRES_URL) {
            let table = backends_namespace();
            let props = format!("{{ url = {url:?}, table = {table:?} }}");
            let storage = from_settings(&settings(StorageDriver::Sql, &props))
                .await
                .unwrap();
            assert_eq!(storage.name(), "postgres");
        }
        #[cfg(feature = "storage-redis")]
        if let Some(url) = backends::server_url(backends::REDIS_URL) {
            let props = format!("{{ url = {url:?} }}");
            let storage = from_settings(&settings(StorageDriver::Redis, &props))
                .await
                .unwrap();
            assert_eq!(storage.name(), "redis");
        }
    }

    #[tokio::test]
    async fn bad_urls_are_configuration_errors() {
        for (driver, props) in [
            (StorageDriver::Sql, "{ url = 'mysql://h/db' }"),
            (StorageDriver::Sql, "{ url = 'sqlite://x.db?mode=bogus' }"),
            #[cfg(feature = "storage-redis")]
            (StorageDriver::Redis, "{ url = 'http://:pw@h' }"),
        ] {
            match from_settings(&settings(driver, props)).await {
                Err(Error::Config { key, reason }) => {
                    assert_eq!(key, "jwt.token_storage.properties.url", "{props}");
                    assert!(!reason.contains(":pw@"), "{reason}");
                }
                Err(other) => panic!("{props}: {other:?}"),
                Ok(storage) => panic!("{props}: got {}", storage.name()),
            }
        }
    }
}
