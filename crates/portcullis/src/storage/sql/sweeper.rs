//! The periodic clean-up of expired rows (cbsecurity's `rotationFrequency` task).
//!
//! The first run comes `rotation_frequency` after the sweeper starts, the next one
//! `rotation_frequency` after the previous run ends. Each run deletes token rows that
//! expired more than `rotation_days` ago (cbsecurity kept them that long), and epochs and
//! families as soon as they have expired. The task holds only a weak reference: it ends by
//! itself when the storage is dropped, or at once when its handle is aborted.
//!
//! ```text
//! rotation_frequency = 60 min, rotation_days = 7
//! t+60m: delete tokens expired before now-7d, epochs and families expired before now
//! t+120m (after the previous run ends): again …
//! ```

use std::sync::Arc;

use tokio::task::JoinHandle;

use super::SqlStorage;
use crate::storage::clock;

impl SqlStorage {
    /// Starts the periodic sweep on the current tokio runtime. Stop it with
    /// [`JoinHandle::abort`]; it also stops once the storage is dropped. A failed run is
    /// logged (`tracing` warning) and retried at the next period.
    ///
    /// # Panics
    /// Outside a tokio runtime, like `tokio::spawn`.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use portcullis::settings::SqlStorageProperties;
    /// use portcullis::storage::SqlStorage;
    ///
    /// # async fn run() -> portcullis::Result<()> {
    /// let storage = Arc::new(SqlStorage::connect(&SqlStorageProperties::default()).await?);
    /// let sweeper = Arc::clone(&storage).spawn_sweeper();
    /// // … serve requests …
    /// sweeper.abort();
    /// # Ok(()) }
    /// ```
    pub fn spawn_sweeper(self: Arc<Self>) -> JoinHandle<()> {
        let every = self.inner.frequency;
        let keep = self.inner.keep_expired;
        let storage = Arc::downgrade(&self.inner);
        drop(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = storage.upgrade() else {
                    break;
                };
                let storage = SqlStorage { inner };
                let now = clock::now();
                match storage.purge(now.saturating_sub(keep), now).await {
                    Ok(removed) => tracing::debug!(removed, "token storage sweep"),
                    Err(err) => tracing::warn!(error = %err, "token storage sweep failed"),
                }
            }
        })
    }
}
