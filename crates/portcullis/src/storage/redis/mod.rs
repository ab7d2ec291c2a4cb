//! [`RedisStorage`]: token storage in Redis 7 or later (feature `storage-redis`).
//!
//! ```no_run
//! use portcullis::storage::{Probe, RedisStorage, TokenStorage};
//!
//! # async fn run() -> portcullis::Result<()> {
//! let storage = RedisStorage::connect("redis://127.0.0.1:6379", "cbjwt_").await?;
//! let standing = storage.check(Probe { jti: "j1", subject: "user-7", family: None }).await?;
//! assert!(!standing.recorded);
//! # Ok(()) }
//! ```

mod keys;
mod record;
mod scripts;

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, RedisResult};

use self::keys::KeySpace;
use super::clock;
use super::failure::{unavailable, Redactor};
use super::{FamilyState, Probe, Standing, StoredToken, TokenStorage, ALL_SUBJECTS};
use crate::{Error, Result};

/// How long connecting, and each command, may take before the call fails closed.
const TIMEOUT: Duration = Duration::from_secs(3);
/// Keys asked for per `SCAN` step, and deleted per `UNLINK`.
const BATCH: usize = 500;

/// Token storage in Redis 7 or later (feature `storage-redis`), shared by every instance
/// that uses the same server and prefix.
///
/// Keys (`key_prefix` defaults to cbsecurity's `cbjwt_`):
///
/// * `prefix + jti` — a token record (JSON: token, subject, issued and expiry times), set with
///   `EXAT` to the token's expiry, so Redis forgets it exactly then;
/// * `prefix + "epoch:" + scope` — a revocation epoch (decimal Unix seconds), kept until its
///   `keep_until`; moved forward by a Lua script, never back;
/// * `prefix + "family:" + id` — a refresh family ([`FamilyState`] as JSON), kept until the
///   family's expiry; changed by a Lua compare-and-swap on its version.
///
/// [`TokenStorage::check`] is one `MGET`. [`TokenStorage::clear_all`], `keys` and `size`
/// `SCAN` the prefix and touch token records only: epochs, families and every key outside
/// the prefix stay (cbsecurity's cache storage emptied the whole cache). Two storages that
/// share a Redis database need prefixes of which neither starts with the other.
///
/// The connection is a `ConnectionManager`: one multiplexed connection, re-established in
/// the background after a failure. While Redis is unreachable every call fails with
/// [`Error::Unavailable`] within a few seconds.
///
/// Cloning is cheap and shares the connection.
#[derive(Clone)]
pub struct RedisStorage {
    conn: ConnectionManager,
    keys: KeySpace,
    redactor: Redactor,
}

/// An expiry for `SET … EXAT`, which refuses zero and negative times.
fn exat(time: i64) -> i64 {
    clock::clamp(time).max(1)
}

/// A connection manager for `client` that fails within [`TIMEOUT`] (shared with the session
/// store and the login throttle, which use the same server).
pub(crate) async fn manager(client: redis::Client) -> RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(TIMEOUT))
        .set_response_timeout(Some(TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(TIMEOUT);
    ConnectionManager::new_with_config(client, config).await
}

impl RedisStorage {
    /// Connects to `url` (`redis://[:password@]host[:port][/db]`, `rediss://` is not
    /// compiled in) with keys under `key_prefix`.
    ///
    /// # Errors
    /// [`Error::Config`] on `url` when it does not parse; [`Error::Unavailable`] when Redis
    /// cannot be reached.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<Self> {
        let redactor = Redactor::for_url(url);
        let client = redis::Client::open(url).map_err(|e| redactor.bad_url(e))?;
        let conn = manager(client)
            .await
            .map_err(|e| redactor.unavailable("cannot connect to Redis", e))?;
        Ok(RedisStorage {
            conn,
            keys: KeySpace::new(key_prefix),
            redactor,
        })
    }

    fn fail(&self, context: &str, err: redis::RedisError) -> Error {
        self.redactor.unavailable(context, err)
    }

    /// Runs `command` and maps its failure.
    async fn run<T: redis::FromRedisValue>(
        &self,
        context: &str,
        command: &redis::Cmd,
    ) -> Result<T> {
        let mut conn = self.conn.clone();
        let result: RedisResult<T> = command.query_async(&mut conn).await;
        result.map_err(|e| self.fail(context, e))
    }

    /// Every live token record's key and `jti` under the prefix.
    async fn scan_tokens(&self) -> Result<Vec<(String, String)>> {
        let pattern = self.keys.pattern();
        let mut cursor: u64 = 0;
        let mut found = Vec::new();
        loop {
            let mut command = redis::cmd("SCAN");
            command
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(BATCH);
            let (next, keys): (u64, Vec<Vec<u8>>) =
                self.run("cannot list the tokens", &command).await?;
            for key in keys {
                // Keys written by this storage are UTF-8; anything else is not ours.
                let Ok(key) = String::from_utf8(key) else {
                    continue;
                };
                if let Some(jti) = self.keys.jti_of(&key) {
                    let jti = jti.to_owned();
                    found.push((key, jti));
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        // SCAN may return a key more than once.
        found.sort_unstable_by(|a, b| a.1.cmp(&b.1));
        found.dedup();
        Ok(found)
    }
}

impl std::fmt::Debug for RedisStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStorage")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TokenStorage for RedisStorage {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn set(&self, token: StoredToken) -> Result<()> {
        let value = record::encode_token(&token)?;
        let mut command = redis::cmd("SET");
        command
            .arg(self.keys.token(&token.jti))
            .arg(value)
            .arg("EXAT")
            .arg(exat(token.expires_at));
        // An expiry already past makes Redis delete the key, as for any expired record.
        self.run::<()>("cannot record the token", &command).await
    }

    async fn exists(&self, jti: &str) -> Result<bool> {
        let mut conn = self.conn.clone();
        conn.exists(self.keys.token(jti))
            .await
            .map_err(|e| self.fail("cannot look the token up", e))
    }

    async fn get(&self, jti: &str) -> Result<Option<StoredToken>> {
        let mut conn = self.conn.clone();
        let value: Option<String> = conn
            .get(self.keys.token(jti))
            .await
            .map_err(|e| self.fail("cannot read the token", e))?;
        value
            .map(|json| record::decode_token(jti, &json))
            .transpose()
    }

    async fn clear(&self, jti: &str) -> Result<bool> {
        let mut conn = self.conn.clone();
        let removed: u64 = conn
            .unlink(self.keys.token(jti))
            .await
            .map_err(|e| self.fail("cannot delete the token", e))?;
        Ok(removed > 0)
    }

    async fn clear_all(&self) -> Result<u64> {
        let found = self.scan_tokens().await?;
        let mut removed = 0;
        for batch in found.chunks(BATCH) {
            let mut command = redis::cmd("UNLINK");
            for (key, _) in batch {
                command.arg(key);
            }
            removed += self
                .run::<u64>("cannot delete the tokens", &command)
                .await?;
        }
        Ok(removed)
    }

    async fn keys(&self) -> Result<Vec<String>> {
        let found = self.scan_tokens().await?;
        Ok(found.into_iter().map(|(_, jti)| jti).collect())
    }

    async fn size(&self) -> Result<u64> {
        Ok(self.scan_tokens().await?.len() as u64)
    }

    async fn sweep(&self, _now: i64) -> Result<u64> {
        // Redis expires every key itself, at its EXAT.
        Ok(0)
    }

    async fn revoke_before(&self, scope: &str, before: i64, keep_until: i64) -> Result<()> {
        let mut conn = self.conn.clone();
        scripts::REVOKE_BEFORE
            .key(self.keys.epoch(scope))
            .arg(clock::clamp(before))
            .arg(exat(keep_until))
            .invoke_async::<()>(&mut conn)
            .await
            .map_err(|e| self.fail("cannot record the revocation", e))
    }

    async fn revoked_before(&self, scope: &str) -> Result<Option<i64>> {
        let mut conn = self.conn.clone();
        let value: Option<String> = conn
            .get(self.keys.epoch(scope))
            .await
            .map_err(|e| self.fail("cannot read the revocation", e))?;
        value.as_deref().map(record::decode_epoch).transpose()
    }

    async fn family(&self, family: &str) -> Result<Option<FamilyState>> {
        let mut conn = self.conn.clone();
        let value: Option<String> = conn
            .get(self.keys.family(family))
            .await
            .map_err(|e| self.fail("cannot read the refresh family", e))?;
        value.as_deref().map(FamilyState::from_json).transpose()
    }

    async fn swap_family(&self, expected: Option<u64>, state: &FamilyState) -> Result<bool> {
        let json = state.to_json()?;
        let expected = expected.map_or_else(String::new, |v| v.to_string());
        let mut conn = self.conn.clone();
        let stored: i64 = scripts::SWAP_FAMILY
            .key(self.keys.family(&state.family))
            .arg(expected)
            .arg(json)
            .arg(exat(state.expires_at))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.fail("cannot store the refresh family", e))?;
        Ok(stored == 1)
    }

    async fn ping(&self) -> Result<()> {
        self.run::<()>("Redis does not answer", &redis::cmd("PING"))
            .await
    }

    async fn check(&self, probe: Probe<'_>) -> Result<Standing> {
        let mut command = redis::cmd("MGET");
        command
            .arg(self.keys.token(probe.jti))
            .arg(self.keys.epoch(probe.subject))
            .arg(self.keys.epoch(ALL_SUBJECTS));
        if let Some(family) = probe.family {
            command.arg(self.keys.family(family));
        }
        let asked = 3 + usize::from(probe.family.is_some());
        let values: Vec<Option<String>> = self.run("cannot check the token", &command).await?;
        if values.len() != asked {
            return Err(unavailable(format!(
                "MGET returned {} values for {asked} keys",
                values.len()
            )));
        }
        let mut values = values.into_iter();
        let recorded = values.next().flatten().is_some();
        let own = values.next().flatten();
        let all = values.next().flatten();
        let family = values.next().flatten();
        let own = own.as_deref().map(record::decode_epoch).transpose()?;
        let all = all.as_deref().map(record::decode_epoch).transpose()?;
        let family_revoked = match family {
            Some(json) => record::family_revoked(&json)?,
            None => false,
        };
        Ok(Standing {
            recorded,
            revoked_before: own.max(all),
            family_revoked,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_are_what_set_exat_accepts() {
        assert_eq!(exat(0), 1);
        assert_eq!(exat(-7), 1);
        assert_eq!(exat(i64::MAX), clock::MAX_TIME);
        assert_eq!(exat(1_900_000_000), 1_900_000_000);
    }
}
