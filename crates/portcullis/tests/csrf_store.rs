//! CSRF tokens on every backend (`csrf.storage = "shared"`): memory, SQLite (a temporary
//! file), PostgreSQL and Redis (real servers; URLs from `PORTCULLIS_TEST_POSTGRES_URL` /
//! `PORTCULLIS_TEST_REDIS_URL`, which `scripts/test.sh` sets — these tests fail without them
//! unless `PORTCULLIS_SKIP_SERVICES=1`).
//!
//! Two token services stand for two instances on one backend: a token made through one
//! verifies through the other, a rotation on one is seen by the other, tokens expire at
//! `rotation_timeout`. With memory each instance keeps its own. When the server goes away
//! (a relay cut), an app's auto verifier refuses a token it accepted a moment before.
#![cfg(all(feature = "storage-memory", feature = "storage-sqlite"))]

#[allow(dead_code)]
#[path = "storage/backends.rs"]
mod backends;
mod common;
#[allow(dead_code)]
#[path = "storage/proxy.rs"]
mod proxy;
#[path = "session/support.rs"]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use portcullis::csrf::{CsrfBinding, CsrfTokens, DEFAULT_KEY};
use portcullis::settings::{CsrfStorage, Settings};

use backends::{Backend, Kind};

support::on_every_backend!(
    a_token_made_on_one_instance_verifies_on_the_other,
    a_rotation_on_one_instance_is_seen_by_the_other,
    tokens_expire_at_the_rotation_timeout,
);

/// Settings with CSRF tokens in the shared backend of `kind` at `url`, under `ns`.
fn settings_at(kind: Kind, url: &str, ns: &str) -> Settings {
    let text = format!(
        "[jwt.token_storage]\n{}\n\
         [csrf]\nenable_auto_verifier = true\nstorage = 'shared'\n\
         table = '{ns}_c'\nkey_prefix = '{ns}_c:'\n",
        support::storage_toml(kind, url)
    );
    let settings = Settings::from_toml_str(&text).expect("test settings load");
    assert_eq!(settings.csrf.storage, CsrfStorage::Shared);
    settings
}

fn settings(backend: &Backend) -> Settings {
    settings_at(backend.kind, &backend.url, &backend.namespace)
}

/// Two instances' token services on `backend`, reading the time from `clock`.
async fn two_instances(
    backend: &Backend,
    clock: impl Fn() -> SystemTime + Clone + Send + Sync + 'static,
) -> (CsrfTokens, CsrfTokens) {
    let settings = settings(backend);
    let a = CsrfTokens::from_settings(&settings).await.unwrap();
    let b = CsrfTokens::from_settings(&settings).await.unwrap();
    (a.with_clock(clock.clone()), b.with_clock(clock))
}

fn system_clock() -> SystemTime {
    SystemTime::now()
}

/// Whether `backend` shares tokens between instances (every backend but memory).
fn shares(backend: &Backend) -> bool {
    backend.kind != Kind::Memory
}

async fn a_token_made_on_one_instance_verifies_on_the_other(backend: Backend) {
    let (a, b) = two_instances(&backend, system_clock).await;
    let alice = CsrfBinding::user("alice");
    let token = a.generate(&alice, DEFAULT_KEY, false).await.unwrap();
    assert_eq!(token.len(), 43);
    assert_eq!(
        b.verify(&alice, DEFAULT_KEY, &token).await,
        shares(&backend)
    );
    if !shares(&backend) {
        return;
    }
    assert_eq!(
        b.generate(&alice, DEFAULT_KEY, false).await.unwrap(),
        token,
        "the other instance hands out the same live token"
    );
    assert!(
        !b.verify(&CsrfBinding::user("mallory"), DEFAULT_KEY, &token)
            .await
    );
    assert!(!b.verify(&alice, "checkout", &token).await);
    let named = b.generate(&alice, "checkout", false).await.unwrap();
    assert!(a.verify(&alice, "checkout", &named).await);
    assert!(
        a.verify(&alice, DEFAULT_KEY, &token).await,
        "keys live side by side"
    );
    let forced = a.generate(&alice, DEFAULT_KEY, true).await.unwrap();
    assert!(!b.verify(&alice, DEFAULT_KEY, &token).await, "replaced");
    assert!(b.verify(&alice, DEFAULT_KEY, &forced).await);
}

async fn a_rotation_on_one_instance_is_seen_by_the_other(backend: Backend) {
    let (a, b) = two_instances(&backend, system_clock).await;
    let bob = CsrfBinding::anonymous("bob's cookie");
    let carol = CsrfBinding::anonymous("carol's cookie");
    let token = a.generate(&bob, DEFAULT_KEY, false).await.unwrap();
    let other = a.generate(&carol, DEFAULT_KEY, false).await.unwrap();
    b.on_authentication_change(&bob).await.unwrap();
    assert_eq!(
        a.verify(&bob, DEFAULT_KEY, &token).await,
        !shares(&backend),
        "rotated on every instance sharing the backend"
    );
    assert!(
        a.verify(&carol, DEFAULT_KEY, &other).await,
        "only bob's tokens"
    );
    a.rotate(&bob).await.unwrap();
    assert!(!a.verify(&bob, DEFAULT_KEY, &token).await);
    let fresh = a.generate(&bob, DEFAULT_KEY, false).await.unwrap();
    assert_ne!(fresh, token);
    assert_eq!(b.verify(&bob, DEFAULT_KEY, &fresh).await, shares(&backend));
}

async fn tokens_expire_at_the_rotation_timeout(backend: Backend) {
    // Real time plus an offset the test moves: Redis expires keys on its own clock.
    let start = SystemTime::now();
    let offset = Arc::new(AtomicU64::new(0));
    let moved = offset.clone();
    let clock = move || start + Duration::from_secs(moved.load(Ordering::SeqCst));
    let (a, b) = two_instances(&backend, clock).await;
    let dave = CsrfBinding::user("dave");
    let token = a.generate(&dave, DEFAULT_KEY, false).await.unwrap();
    offset.store(29 * 60, Ordering::SeqCst); // the default timeout is 30 minutes
    assert!(a.verify(&dave, DEFAULT_KEY, &token).await);
    assert_eq!(b.verify(&dave, DEFAULT_KEY, &token).await, shares(&backend));
    offset.store(30 * 60, Ordering::SeqCst);
    assert!(!a.verify(&dave, DEFAULT_KEY, &token).await, "expired");
    assert!(!b.verify(&dave, DEFAULT_KEY, &token).await, "expired");
    let next = b.generate(&dave, DEFAULT_KEY, false).await.unwrap();
    assert_ne!(next, token, "an expired token is replaced");
    assert_eq!(a.verify(&dave, DEFAULT_KEY, &next).await, shares(&backend));
}

#[test]
fn shared_storage_checks_its_names_at_start_up() {
    let text = "[csrf]\nstorage = 'shared'\ntable = 'no such table'\n";
    let error = Settings::from_toml_str(text).unwrap_err().to_string();
    assert!(error.contains("csrf.table"), "{error}");
    let text = "[jwt.token_storage]\nkey_prefix = 'portcullis_csrf'\n[csrf]\nstorage = 'shared'\n";
    let error = Settings::from_toml_str(text).unwrap_err().to_string();
    assert!(error.contains("csrf.key_prefix"), "{error}");
    // Memory does not use them.
    Settings::from_toml_str("[csrf]\ntable = 'no such table'\n").unwrap();
}

#[cfg(any(feature = "storage-postgres", feature = "storage-redis"))]
mod outage {
    use axum::routing::{get, post};
    use axum::Router;
    use portcullis::csrf::{Csrf, CsrfLayer};
    use reqwest::StatusCode;

    use super::*;
    use crate::common::server::serve;

    /// An app whose tokens are kept behind a relay: the verifier accepts a token, then,
    /// with the server cut off, refuses it (403) and cannot make one (503); when the server
    /// is back, the token is accepted again.
    async fn verifier_fails_closed(backend: Backend) {
        let mut relay = proxy::Proxy::start(proxy::authority(&backend.url)).await;
        let url = proxy::via(&backend.url, relay.port);
        let settings = settings_at(backend.kind, &url, &backend.namespace);
        let app = Router::new()
            .route(
                "/token",
                get(|csrf: Csrf| async move { csrf.token(DEFAULT_KEY).await }),
            )
            .route("/save", post(|| async { "saved" }))
            .layer(CsrfLayer::from_settings(&settings).await.unwrap());
        let base = serve(app).await;
        let client = reqwest::Client::new();

        let response = client.get(format!("{base}/token")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        let token = response.text().await.unwrap();
        let save = || {
            client
                .post(format!("{base}/save"))
                .header("cookie", &cookie)
                .header("x-csrf-token", &token)
                .send()
        };
        assert_eq!(save().await.unwrap().status(), StatusCode::OK);

        relay.cut().await;
        let refused = save().await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "fails closed");
        assert_eq!(refused.text().await.unwrap(), "CSRF token invalid");
        let made = client
            .get(format!("{base}/token"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!made.text().await.unwrap().contains(&token));

        relay.restore().await;
        let mut accepted = false;
        for _ in 0..50 {
            if save().await.unwrap().status() == StatusCode::OK {
                accepted = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            accepted,
            "the token is accepted again once the server is back"
        );
    }

    #[cfg(feature = "storage-postgres")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_cut_fails_closed() {
        if let Some(backend) = Backend::postgres() {
            verifier_fails_closed(backend).await;
        }
    }

    #[cfg(feature = "storage-redis")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_cut_fails_closed() {
        if let Some(backend) = Backend::redis() {
            verifier_fails_closed(backend).await;
        }
    }
}
