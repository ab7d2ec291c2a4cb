//! `JwtService` over every storage driver (memory, SQLite, PostgreSQL, Redis) in both modes
//! (allowlist, denylist): issue, revoke, rotate, detect reuse, the overlap window, logout
//! everywhere, restarts, and storage failures.
//!
//! PostgreSQL and Redis come from `scripts/test.sh` (`PORTCULLIS_TEST_*_URL`).

#[path = "storage/backends.rs"]
#[allow(dead_code)] // the storage suite uses the rest
mod backends;
mod common;
#[cfg(any(feature = "storage-postgres", feature = "storage-redis"))]
#[path = "storage/proxy.rs"]
mod proxy;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use backends::Backend;
use common::users::{User, Users};
use portcullis::events::{EventBus, SecurityEvent};
use portcullis::jwt::{JwtService, TokenPair, SESSION_CLAIM};
use portcullis::settings::Settings;
use portcullis::storage::TokenStorage;
use portcullis::{Error, InvalidToken};
use serde_json::Map;

const BASE: &str = r#"
[jwt]
issuer = "https://id.test"
algorithm = "HS256"
secret_key = "a test secret that is long enough for HS256!!"
enable_refresh_tokens = true
"#;

/// The events a service announced, by name.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<&'static str>>>);

impl Seen {
    fn count(&self, name: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|n| **n == name)
            .count()
    }
}

struct Harness {
    jwt: JwtService<User>,
    users: Users,
    seen: Seen,
    storage: Arc<dyn TokenStorage>,
}

async fn harness_on(storage: Arc<dyn TokenStorage>, mode: &str, extra: &str) -> Harness {
    let toml = format!("{BASE}{extra}\n[jwt.token_storage]\nmode = \"{mode}\"\n");
    let settings = Settings::from_toml_str(&toml).unwrap();
    let users = Users::sample();
    let seen = Seen::default();
    let log = seen.clone();
    let events =
        EventBus::new().on(move |event: &SecurityEvent| log.0.lock().unwrap().push(event.name()));
    let jwt = JwtService::builder(settings.jwt, users.clone())
        .storage(storage.clone())
        .events(events)
        .build()
        .await
        .unwrap();
    Harness {
        jwt,
        users,
        seen,
        storage,
    }
}

async fn harness(backend: &Backend, mode: &str, extra: &str) -> Harness {
    harness_on(backend.open().await, mode, extra).await
}

impl Harness {
    async fn login(&self, who: &str) -> TokenPair {
        self.jwt
            .from_user(&self.users.get(who), Map::new(), Map::new())
            .await
            .unwrap()
    }
}

fn refresh_of(pair: &TokenPair) -> &str {
    pair.refresh_token
        .as_deref()
        .expect("refresh tokens are enabled")
}

fn rejected<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(Error::TokenRejected { reason }) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

async fn revoke_then_use(backend: &Backend, mode: &str) {
    let h = harness(backend, mode, "").await;
    let pair = h.login("1").await;
    let claims = h.jwt.parse_token(&pair.access_token).await.unwrap();
    assert_eq!(claims.sub(), Some("1"));
    assert!(claims.get(SESSION_CLAIM).is_some());
    assert!(h.jwt.invalidate(&pair.access_token).await.unwrap());
    rejected(h.jwt.parse_token(&pair.access_token).await);
    // Invalidating a session's token ends the session: its refresh token is dead too.
    rejected(h.jwt.refresh_token(refresh_of(&pair)).await);
    assert_eq!(h.seen.count("jwt_invalidation"), 1);
    assert_eq!(h.seen.count("jwt_storage_rejection"), 1);
    // Another session of the same user is untouched.
    let other = h.login("1").await;
    assert!(h.jwt.parse_token(&other.access_token).await.is_ok());
}

async fn rotate_then_reuse(backend: &Backend, mode: &str) {
    let h = harness(backend, mode, "refresh_reuse_overlap = \"0s\"").await;
    let first = h.login("1").await;
    let second = h.jwt.refresh_token(refresh_of(&first)).await.unwrap();
    assert_ne!(refresh_of(&first), refresh_of(&second));
    assert!(h.jwt.parse_token(&second.access_token).await.is_ok());
    // The access token issued with the spent refresh token is revoked (revoke_access_on_refresh).
    rejected(h.jwt.parse_token(&first.access_token).await);
    // Reuse of the spent refresh token revokes the whole family: the thief and the victim lose it.
    let reason = rejected(h.jwt.refresh_token(refresh_of(&first)).await);
    assert!(reason.contains("reuse detected"), "{reason}");
    assert_eq!(h.seen.count("refresh_reuse_detected"), 1);
    rejected(h.jwt.refresh_token(refresh_of(&second)).await);
    rejected(h.jwt.parse_token(&second.access_token).await);
}

async fn overlap_window(backend: &Backend, mode: &str) {
    let h = harness(backend, mode, "refresh_reuse_overlap = \"30s\"").await;
    let first = h.login("1").await;
    let second = h.jwt.refresh_token(refresh_of(&first)).await.unwrap();
    // A second tab presents the same (now previous) token: accepted once, and handed the
    // current refresh token so both tabs stay on one chain.
    let tab = h.jwt.refresh_token(refresh_of(&first)).await.unwrap();
    assert_eq!(refresh_of(&tab), refresh_of(&second));
    assert!(h.jwt.parse_token(&tab.access_token).await.is_ok());
    // A third presentation is theft.
    rejected(h.jwt.refresh_token(refresh_of(&first)).await);
    rejected(h.jwt.parse_token(&tab.access_token).await);
}

async fn families_do_not_outlive_their_login(backend: &Backend, mode: &str) {
    let h = harness(backend, mode, "refresh_expiration = \"2h\"").await;
    let first = h.login("1").await;
    let original = h.jwt.decode(refresh_of(&first)).unwrap().exp().unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = h.jwt.refresh_token(refresh_of(&first)).await.unwrap();
    let claims = h.jwt.decode(refresh_of(&second)).unwrap();
    assert_eq!(
        claims.exp(),
        Some(original),
        "rotation must not extend the session"
    );
    assert!(claims.iat().unwrap() > h.jwt.decode(refresh_of(&first)).unwrap().iat().unwrap());
}

async fn logout_everywhere(backend: &Backend, mode: &str) {
    let h = harness(backend, mode, "").await;
    let laptop = h.login("1").await;
    let phone = h.login("1").await;
    let bob = h.login("2").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    h.jwt.invalidate_subject("1").await.unwrap();
    for pair in [&laptop, &phone] {
        rejected(h.jwt.parse_token(&pair.access_token).await);
        rejected(h.jwt.refresh_token(refresh_of(pair)).await);
    }
    assert!(h.jwt.parse_token(&bob.access_token).await.is_ok());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = h.login("1").await;
    assert!(
        h.jwt.parse_token(&fresh.access_token).await.is_ok(),
        "a later login works"
    );
    assert_eq!(h.seen.count("jwt_subject_invalidation"), 1);
}

async fn invalidate_all(backend: &Backend, mode: &str) {
    let h = harness(backend, mode, "").await;
    let alice = h.login("1").await;
    let bob = h.login("2").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    h.jwt.invalidate_all().await.unwrap();
    for pair in [&alice, &bob] {
        rejected(h.jwt.parse_token(&pair.access_token).await);
        rejected(h.jwt.refresh_token(refresh_of(pair)).await);
    }
    if mode == "allowlist" {
        assert_eq!(h.storage.size().await.unwrap(), 0);
    }
    assert_eq!(h.seen.count("jwt_invalidate_all_tokens"), 1);
}

async fn modes_write_what_they_should(backend: &Backend, mode: &str) {
    let h = harness(backend, mode, "").await;
    let pair = h.login("1").await;
    let in_storage = h.jwt.is_token_in_storage(&pair.access_token).await.unwrap();
    assert_eq!(
        in_storage,
        mode == "allowlist",
        "issuing writes a record only in allowlist mode"
    );
    h.jwt.invalidate(&pair.access_token).await.unwrap();
    let in_storage = h.jwt.is_token_in_storage(&pair.access_token).await.unwrap();
    assert_eq!(
        in_storage,
        mode == "denylist",
        "revoking writes a record only in denylist mode"
    );
}

async fn token_types_and_users(backend: &Backend, mode: &str) {
    let h = harness(backend, mode, "").await;
    let pair = h.login("2").await;
    let wrong_type = |r: Result<_, Error>| {
        matches!(
            r,
            Err(Error::TokenInvalid {
                reason: InvalidToken::WrongTokenType { .. }
            })
        )
    };
    assert!(wrong_type(
        h.jwt.parse_token(refresh_of(&pair)).await.map(|_| ())
    ));
    assert!(wrong_type(
        h.jwt.refresh_token(&pair.access_token).await.map(|_| ())
    ));
    h.users.remove("2");
    assert!(matches!(
        h.jwt.refresh_token(refresh_of(&pair)).await,
        Err(Error::UnknownUser)
    ));
    let claims = h.jwt.parse_token(&pair.access_token).await.unwrap();
    assert!(matches!(
        h.jwt.authenticate(&claims).await,
        Err(Error::UnknownUser)
    ));
    assert_eq!(h.seen.count("jwt_invalid_user"), 2);
}

/// After a restart (a new driver and service on the same backend namespace), revocations
/// and sessions are still there.
async fn restart_keeps_revocations(backend: &Backend, mode: &str) {
    let (revoked, kept) = {
        let h = harness(backend, mode, "refresh_reuse_overlap = \"0s\"").await;
        let revoked = h.login("1").await;
        h.jwt.invalidate(&revoked.access_token).await.unwrap();
        (revoked, h.login("2").await)
    };
    let h = harness(backend, mode, "refresh_reuse_overlap = \"0s\"").await;
    rejected(h.jwt.parse_token(&revoked.access_token).await);
    rejected(h.jwt.refresh_token(refresh_of(&revoked)).await);
    assert!(h.jwt.parse_token(&kept.access_token).await.is_ok());
    assert!(h.jwt.refresh_token(refresh_of(&kept)).await.is_ok());
}

#[cfg(any(feature = "storage-postgres", feature = "storage-redis"))]
/// With the backend cut off, every operation is `Unavailable`: never a pass, never a panic.
async fn storage_down_fails_closed(backend: &Backend, mode: &str) {
    let mut cut = proxy::Proxy::start(proxy::authority(&backend.url)).await;
    let url = proxy::via(&backend.url, cut.port);
    let storage = backend.open_at(&url, &backend.namespace).await.unwrap();
    let h = harness_on(storage, mode, "").await;
    let pair = h.login("1").await;
    cut.cut().await;
    let unavailable = |r: Result<(), Error>| matches!(r, Err(Error::Unavailable { .. }));
    assert!(unavailable(
        h.jwt.parse_token(&pair.access_token).await.map(|_| ())
    ));
    assert!(unavailable(
        h.jwt.refresh_token(refresh_of(&pair)).await.map(|_| ())
    ));
    assert!(unavailable(
        h.jwt.invalidate(&pair.access_token).await.map(|_| ())
    ));
    assert!(unavailable(
        h.jwt
            .from_user(&h.users.get("1"), Map::new(), Map::new())
            .await
            .map(|_| ())
    ));
    cut.restore().await;
    assert!(
        h.jwt.parse_token(&pair.access_token).await.is_ok(),
        "recovers when the backend is back"
    );
}

macro_rules! scenarios {
    ($backend:ident, $mode:literal, $module:ident) => {
        mod $module {
            use super::*;

            fn backend() -> Option<Backend> {
                Backend::$backend()
            }

            scenarios!(@each $mode, revoke_then_use, rotate_then_reuse, overlap_window,
                families_do_not_outlive_their_login, logout_everywhere, invalidate_all,
                modes_write_what_they_should, token_types_and_users);
        }
    };
    (@each $mode:literal, $($scenario:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                if let Some(backend) = backend() {
                    super::$scenario(&backend, $mode).await;
                }
            }
        )*
    };
}

scenarios!(memory, "allowlist", memory_allowlist);
scenarios!(memory, "denylist", memory_denylist);
scenarios!(sqlite, "allowlist", sqlite_allowlist);
scenarios!(sqlite, "denylist", sqlite_denylist);
#[cfg(feature = "storage-postgres")]
scenarios!(postgres, "allowlist", postgres_allowlist);
#[cfg(feature = "storage-postgres")]
scenarios!(postgres, "denylist", postgres_denylist);
#[cfg(feature = "storage-redis")]
scenarios!(redis, "allowlist", redis_allowlist);
#[cfg(feature = "storage-redis")]
scenarios!(redis, "denylist", redis_denylist);

macro_rules! durable {
    ($backend:ident, $module:ident) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn restart_keeps_revocations_allowlist() {
                if let Some(backend) = Backend::$backend() {
                    super::restart_keeps_revocations(&backend, "allowlist").await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn restart_keeps_revocations_denylist() {
                if let Some(backend) = Backend::$backend() {
                    super::restart_keeps_revocations(&backend, "denylist").await;
                }
            }
        }
    };
}

durable!(sqlite, sqlite_durable);
#[cfg(feature = "storage-postgres")]
durable!(postgres, postgres_durable);
#[cfg(feature = "storage-redis")]
durable!(redis, redis_durable);

#[cfg(any(feature = "storage-postgres", feature = "storage-redis"))]
macro_rules! outage {
    ($backend:ident, $module:ident) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn storage_down_fails_closed() {
                if let Some(backend) = Backend::$backend() {
                    super::storage_down_fails_closed(&backend, "allowlist").await;
                    super::storage_down_fails_closed(&backend, "denylist").await;
                }
            }
        }
    };
}

#[cfg(feature = "storage-postgres")]
outage!(postgres, postgres_outage);
#[cfg(feature = "storage-redis")]
outage!(redis, redis_outage);
