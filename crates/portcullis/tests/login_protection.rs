//! Login protection over real HTTP, on every backend: memory, SQLite (a temporary file),
//! PostgreSQL and Redis (real servers; URLs from `PORTCULLIS_TEST_POSTGRES_URL` /
//! `PORTCULLIS_TEST_REDIS_URL`, which `scripts/test.sh` sets — these tests fail without them
//! unless `PORTCULLIS_SKIP_SERVICES=1`).
//!
//! `POST /login` runs `SessionAuthService::authenticate` under `LoginThrottle::attempt`, on
//! an injected clock: after `max_failures` failures each attempt waits a doubling delay and
//! is answered 429 with `Retry-After` meanwhile; the lockout is announced; a success clears
//! the username's count; the address is counted across usernames; two instances on one
//! database or Redis server share their counts.
#![cfg(all(feature = "storage-memory", feature = "storage-sqlite"))]

#[allow(dead_code)]
#[path = "storage/backends.rs"]
mod backends;
mod common;
#[path = "session/support.rs"]
mod support;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::StatusCode;
use portcullis::auth::{LockoutScope, LoginThrottle};
use portcullis::clock::{Clock, ManualClock};
use portcullis::events::SecurityEvent;
use portcullis::settings::Settings;

use backends::Backend;
use support::{start, start_with_clock, Browser};

support::on_every_backend!(
    failures_lock_the_username_with_a_doubling_delay,
    a_success_clears_the_usernames_count,
    the_address_is_counted_across_usernames,
    counts_are_forgotten_after_the_window,
    concurrent_failures_each_count_once,
);

/// Three failures per username, 1s doubling up to 4s; ten per address.
fn settings(backend: &Backend) -> Settings {
    let mut settings = support::settings(backend);
    let protection = &mut settings.authentication.login_protection;
    protection.max_failures = 3;
    protection.max_failures_per_ip = 10;
    protection.base_delay = Duration::from_secs(1);
    protection.max_delay = Duration::from_secs(4);
    settings.validate().unwrap();
    settings
}

const LOOPBACK: &str = "127.0.0.1";

/// The lockouts announced, as (username, scope, failures, seconds until the lock ends).
fn lockouts(events: &[SecurityEvent], now: SystemTime) -> Vec<(String, LockoutScope, u64, u64)> {
    events
        .iter()
        .filter_map(|event| match event {
            SecurityEvent::LoginLockout {
                username,
                ip,
                by,
                failures,
                until,
            } => {
                assert_eq!(*ip, Some(LOOPBACK.parse::<IpAddr>().unwrap()));
                let left = until.duration_since(now).unwrap_or_default();
                Some((username.clone(), *by, *failures, left.as_secs()))
            }
            _ => None,
        })
        .collect()
}

async fn failures_lock_the_username_with_a_doubling_delay(backend: Backend) {
    let app = start(&settings(&backend)).await;
    let browser = Browser::new();
    let now = || SystemTime::UNIX_EPOCH + Duration::from_millis(app.clock.now_ms() as u64);
    // The username is counted however it is written.
    for name in ["alice", "ALICE", " Alice "] {
        let reply = browser.login(&app, name, "wrong").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}");
    }
    let start = now();
    assert_eq!(
        lockouts(&app.events.all(), start),
        [("alice".to_owned(), LockoutScope::Username, 3, 1)]
    );

    // Locked: even the right password is refused, unchecked and uncounted.
    let locked = browser.login(&app, "alice", "alice-password").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(locked.retry_after.as_deref(), Some("1"));
    assert!(
        locked.body.contains("too many failed logins"),
        "{}",
        locked.body
    );
    assert!(locked.set_cookies.is_empty());
    // Another username from the same address is not locked.
    assert_eq!(
        browser.login(&app, "bob", "bob-password").await.status,
        StatusCode::OK
    );

    let mut expected = vec![];
    for (failures, wait) in [(4, "2"), (5, "4"), (6, "4")] {
        app.clock.advance(Duration::from_millis(999));
        let still = browser.login(&app, "alice", "wrong").await;
        assert_eq!(still.status, StatusCode::TOO_MANY_REQUESTS);
        app.clock.advance(Duration::from_millis(4_001));
        let failed = browser.login(&app, "alice", "wrong").await;
        assert_eq!(
            failed.status,
            StatusCode::UNAUTHORIZED,
            "failure {failures}"
        );
        let refused = browser.login(&app, "alice", "alice-password").await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            refused.retry_after.as_deref(),
            Some(wait),
            "after {failures}"
        );
        expected.push(failures);
    }
    let announced: Vec<u64> = lockouts(&app.events.all(), now())
        .into_iter()
        .skip(1)
        .map(|(_, _, failures, _)| failures)
        .collect();
    assert_eq!(announced, expected);
    let failures = app
        .events
        .all()
        .iter()
        .filter(
            |e| matches!(e, SecurityEvent::LoginFailure { username, .. } if username == "alice"),
        )
        .count();
    assert_eq!(failures, 6);
    let debug = format!("{:?}", app.events.all());
    assert!(
        !debug.contains("wrong") && !debug.contains("alice-password"),
        "{debug}"
    );
}

async fn a_success_clears_the_usernames_count(backend: Backend) {
    let app = start(&settings(&backend)).await;
    let browser = Browser::new();
    for _ in 0..2 {
        browser.login(&app, "alice", "wrong").await;
    }
    assert_eq!(
        browser.login(&app, "alice", "alice-password").await.status,
        StatusCode::OK
    );
    // Counting starts again: two more failures do not lock.
    for _ in 0..2 {
        assert_eq!(
            browser.login(&app, "alice", "wrong").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        browser.login(&app, "alice", "alice-password").await.status,
        StatusCode::OK
    );
    assert!(lockouts(&app.events.all(), SystemTime::UNIX_EPOCH).is_empty());
}

async fn the_address_is_counted_across_usernames(backend: Backend) {
    let mut settings = settings(&backend);
    settings.authentication.login_protection.max_failures_per_ip = 4;
    let app = start(&settings).await;
    let browser = Browser::new();
    for name in ["u1", "u2", "u3", "u4"] {
        assert_eq!(
            browser.login(&app, name, "guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = browser.login(&app, "bob", "bob-password").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(locked.retry_after.as_deref(), Some("1"));
    let by_address: Vec<_> = lockouts(&app.events.all(), SystemTime::UNIX_EPOCH)
        .into_iter()
        .map(|(name, by, failures, _)| (name, by, failures))
        .collect();
    assert_eq!(by_address, [("u4".to_owned(), LockoutScope::Ip, 4)]);

    // A success does not clear the address's count.
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(
        browser.login(&app, "bob", "bob-password").await.status,
        StatusCode::OK
    );
    assert_eq!(
        browser.login(&app, "u5", "guess").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        browser
            .login(&app, "bob", "bob-password")
            .await
            .retry_after
            .as_deref(),
        Some("2")
    );
}

async fn counts_are_forgotten_after_the_window(backend: Backend) {
    let mut settings = settings(&backend);
    settings.authentication.login_protection.window = Duration::from_secs(600);
    let app = start(&settings).await;
    let browser = Browser::new();
    for _ in 0..2 {
        browser.login(&app, "alice", "wrong").await;
    }
    app.clock.advance(Duration::from_secs(601));
    // Two more failures count from one again, so the third still does not lock.
    for _ in 0..2 {
        browser.login(&app, "alice", "wrong").await;
    }
    assert_eq!(
        browser.login(&app, "alice", "alice-password").await.status,
        StatusCode::OK
    );
}

async fn concurrent_failures_each_count_once(backend: Backend) {
    let store = LoginThrottle::store_from_settings(&settings(&backend))
        .await
        .unwrap();
    store.ping().await.unwrap();
    let now = ManualClock::new().now_ms();
    let counts = (0..20).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .record_failure("user:carol", now, now + 60_000)
                .await
                .unwrap()
        })
    });
    let mut seen = BTreeSet::new();
    for count in counts {
        seen.insert(count.await.unwrap());
    }
    assert_eq!(seen, (1..=20).collect());
    let attempts = store.get("user:carol", now + 1).await.unwrap().unwrap();
    assert_eq!((attempts.failures, attempts.last_failure), (20, now));
    store.reset("user:carol").await.unwrap();
    assert_eq!(store.get("user:carol", now + 1).await.unwrap(), None);
}

/// Two instances of the app on one backend and one clock, their requests alternating.
async fn two_instances_share_the_counts(backend: Backend) {
    let settings = settings(&backend);
    let clock = Arc::new(ManualClock::new());
    let first = start_with_clock(&settings, clock.clone()).await;
    let second = start_with_clock(&settings, clock).await;
    let browser = Browser::new();
    for app in [&first, &second, &first] {
        assert_eq!(
            browser.login(app, "alice", "wrong").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    for app in [&second, &first] {
        let locked = browser.login(app, "alice", "alice-password").await;
        assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(
        lockouts(&first.events.all(), SystemTime::UNIX_EPOCH).len(),
        1
    );
    assert!(lockouts(&second.events.all(), SystemTime::UNIX_EPOCH).is_empty());
}

mod shared {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::two_instances_share_the_counts(super::Backend::sqlite().unwrap()).await;
    }

    #[cfg(feature = "storage-postgres")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(backend) = super::Backend::postgres() {
            super::two_instances_share_the_counts(backend).await;
        }
    }

    #[cfg(feature = "storage-redis")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis() {
        if let Some(backend) = super::Backend::redis() {
            super::two_instances_share_the_counts(backend).await;
        }
    }
}

/// With the protection off, nothing is counted or refused, and nothing is connected.
#[tokio::test]
async fn disabled_protection_lets_every_attempt_through() {
    let backend = Backend::memory().unwrap();
    let mut settings = settings(&backend);
    settings.authentication.login_protection.enabled = false;
    settings.jwt.token_storage.driver = portcullis::settings::StorageDriver::Custom("x".into());
    let throttle = LoginThrottle::from_settings(&settings).await.unwrap();
    for _ in 0..10 {
        throttle.record_failure("alice", None).await.unwrap();
    }
    throttle.check("alice", None).await.unwrap();
}

/// An unreachable backend refuses at start-up, naming what failed and hiding the password.
#[cfg(feature = "storage-postgres")]
#[tokio::test]
async fn an_unreachable_backend_fails_closed() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut settings = settings(&backend);
    settings.jwt.token_storage.properties = toml::from_str(&format!(
        "url = 'postgres://portcullis:pa55word@127.0.0.1:{port}/portcullis'"
    ))
    .unwrap();
    match LoginThrottle::from_settings(&settings).await {
        Err(portcullis::Error::Unavailable { what, reason }) => {
            assert_eq!(what, "login protection storage");
            assert!(!reason.contains("pa55word"), "{reason}");
        }
        other => panic!("expected Error::Unavailable, got {other:?}"),
    }
}
