//! [`from_settings`]: the driver named by `jwt.token_storage`, connected.

use std::sync::Arc;

use super::TokenStorage;
use crate::settings::{StorageDriver, TokenStorageSettings};
use crate::{Error, Result};

/// Connects the driver that `settings.driver` names, with its `properties`.
///
/// * `memory` → `MemoryStorage` (feature `storage-memory`);
/// * `sql` → `SqlStorage` on `properties.url` (features
///   `storage-sqlite`, `storage-postgres`), with its sweeper started on the current tokio
///   runtime (it stops when the storage is dropped);
/// * `redis` → `RedisStorage` on `properties.url`, keys under
///   `key_prefix` (feature `storage-redis`).
///
/// # Errors
/// [`Error::Config`] for a custom driver name (build that driver yourself and hand your
/// own `Arc<dyn TokenStorage>` to the builder), for a driver whose feature is not compiled
/// in, and for bad properties; [`Error::Unavailable`] when the backend cannot be reached.
///
/// ```
/// use portcullis::settings::TokenStorageSettings;
/// use portcullis::storage::from_settings;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> portcullis::Result<()> {
/// let storage = from_settings(&TokenStorageSettings::default()).await?;
/// assert_eq!(storage.name(), "memory");
/// # Ok(()) }
/// ```
pub async fn from_settings(settings: &TokenStorageSettings) -> Result<Arc<dyn TokenStorage>> {
    match &settings.driver {
        StorageDriver::Memory => memory(),
        StorageDriver::Sql => sql(settings).await,
        StorageDriver::Redis => redis(settings).await,
        StorageDriver::Custom(name) => Err(Error::config(
            DRIVER_KEY,
            format!(
                "{name:?} is not a built-in driver (memory, sql, redis): build your driver \
                 and pass your own Arc<dyn TokenStorage> to the builder"
            ),
        )),
    }
}

const DRIVER_KEY: &str = "jwt.token_storage.driver";

#[cfg(feature = "storage-memory")]
fn memory() -> Result<Arc<dyn TokenStorage>> {
    Ok(Arc::new(super::MemoryStorage::new()))
}

#[cfg(not(feature = "storage-memory"))]
fn memory() -> Result<Arc<dyn TokenStorage>> {
    Err(not_compiled("memory", "storage-memory"))
}

#[cfg(any(feature = "storage-sqlite", feature = "storage-postgres"))]
async fn sql(settings: &TokenStorageSettings) -> Result<Arc<dyn TokenStorage>> {
    let storage = Arc::new(super::SqlStorage::connect(&settings.sql()?).await?);
    // Detached on purpose: it holds a weak reference and ends with the storage.
    drop(Arc::clone(&storage).spawn_sweeper());
    Ok(storage)
}

#[cfg(not(any(feature = "storage-sqlite", feature = "storage-postgres")))]
async fn sql(_: &TokenStorageSettings) -> Result<Arc<dyn TokenStorage>> {
    Err(not_compiled("sql", "storage-sqlite` or `storage-postgres"))
}

#[cfg(feature = "storage-redis")]
async fn redis(settings: &TokenStorageSettings) -> Result<Arc<dyn TokenStorage>> {
    let props = settings.redis()?;
    let url = props.url.expose_str().ok_or_else(|| {
        Error::config(super::failure::URL_KEY, "the Redis URL is not valid UTF-8")
    })?;
    Ok(Arc::new(
        super::RedisStorage::connect(url, &settings.key_prefix).await?,
    ))
}

#[cfg(not(feature = "storage-redis"))]
async fn redis(_: &TokenStorageSettings) -> Result<Arc<dyn TokenStorage>> {
    Err(not_compiled("redis", "storage-redis"))
}

#[cfg(not(all(
    feature = "storage-memory",
    feature = "storage-redis",
    any(feature = "storage-sqlite", feature = "storage-postgres")
)))]
fn not_compiled(driver: &str, feature: &str) -> Error {
    Error::config(
        DRIVER_KEY,
        format!(
            "the {driver} driver is not compiled in: enable the `{feature}` feature of portcullis"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn custom_drivers_are_built_in_code() {
        let settings = TokenStorageSettings {
            driver: StorageDriver::Custom("vault".into()),
            ..TokenStorageSettings::default()
        };
        match from_settings(&settings).await {
            Err(Error::Config { key, reason }) => {
                assert_eq!(key, DRIVER_KEY);
                assert!(reason.contains("Arc<dyn TokenStorage>"), "{reason}");
            }
            Err(other) => panic!("{other:?}"),
            Ok(storage) => panic!("got {}", storage.name()),
        }
    }
}
