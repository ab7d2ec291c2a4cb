//! `GET /portcullis/health` end to end: `portcullis serve` runs as a child process, and what it
//! depends on — the upstream, Redis, PostgreSQL — is reached through TCP relays that a test
//! cuts, so the gateway sees it go down (and come back) while the real servers keep running
//! for the other tests. Redis and PostgreSQL come from `scripts/services.sh`
//! (`PORTCULLIS_TEST_REDIS_URL`, `PORTCULLIS_TEST_POSTGRES_URL`).
#![cfg(unix)]

use std::net::SocketAddr;

use reqwest::StatusCode;
use serde_json::{json, Value};

mod gateway_harness;
use gateway_harness::*;

#[path = "../../portcullis/tests/storage/proxy.rs"]
mod proxy;
use proxy::{via, Proxy};

/// The status of every check in `report`, by name.
fn statuses(report: &Value) -> Value {
    let checks = report["checks"].as_object().expect("checks");
    checks
        .iter()
        .map(|(name, check)| (name.clone(), check["status"].clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_the_upstream_and_answers_head() {
    let (upstream, _) = start_upstream().await;
    let mut relay = Proxy::start(&upstream.to_string()).await;
    let relayed = format!("127.0.0.1:{}", relay.port).parse().unwrap();
    let gateway = Gateway::start(&settings(relayed, "")).await;

    let response = client()
        .get(gateway.url("/portcullis/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["status"], "up");
    // Memory token storage, the basic_auth users, login protection (memory), the upstream.
    assert_eq!(
        statuses(&report),
        json!({ "token_storage": "up", "users": "up", "login_protection": "up", "upstream": "up" })
    );
    let head = client()
        .head(gateway.url("/portcullis/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.bytes().await.unwrap().is_empty());

    // The upstream goes away: 503 naming it, and nothing else.
    relay.cut().await;
    let report = health_becomes(&gateway, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(report["status"], "down");
    assert_eq!(
        report["checks"]["upstream"],
        json!({ "status": "down", "reason": "unreachable" })
    );
    assert_eq!(
        statuses(&report),
        json!({ "token_storage": "up", "users": "up", "login_protection": "up", "upstream": "down" })
    );
    assert!(
        !report.to_string().contains("127.0.0.1"),
        "no address in {report}"
    );
    let head = client()
        .head(gateway.url("/portcullis/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Back: up again.
    relay.restore().await;
    health_becomes(&gateway, StatusCode::OK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_redis_token_storage_when_redis_is_cut() {
    let Some(mut redis) = RedisBehindRelay::start().await else {
        return;
    };
    // Token storage and login protection in Redis.
    let gateway = Gateway::start(&redis.settings(settings(redis.upstream, ""), "", "")).await;

    let (status, report) = health(&gateway).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["checks"]["token_storage"]["status"], "up");
    assert_eq!(report["checks"]["login_protection"]["status"], "up");
    let pair = login(&gateway, "ann", "ann-password").await;
    let access = text(&pair["access_token"]).to_owned();
    let http = client();
    assert_eq!(get_api(&http, &gateway, &access).await, StatusCode::OK);

    redis.relay.cut().await;
    let report = health_becomes(&gateway, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(
        statuses(&report),
        json!({ "token_storage": "down", "users": "up", "login_protection": "down", "upstream": "up" })
    );
    let reason = &report["checks"]["token_storage"]["reason"];
    assert!(reason == "unreachable" || reason == "timed out", "{report}");
    assert!(!report.to_string().contains("redis"), "no URL in {report}");
    // Meanwhile requests that need storage fail closed.
    assert_eq!(
        get_api(&http, &gateway, &access).await,
        StatusCode::SERVICE_UNAVAILABLE
    );

    redis.relay.restore().await;
    health_becomes(&gateway, StatusCode::OK).await;
    assert_eq!(get_api(&http, &gateway, &access).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_the_postgres_user_store_and_token_storage_when_postgres_is_cut() {
    let Some(url) = server_url("PORTCULLIS_TEST_POSTGRES_URL") else {
        return;
    };
    let (upstream, _) = start_upstream().await;
    let mut relay = Proxy::start(proxy::authority(&url)).await;
    let ns = namespace();
    let postgres = via(&url, relay.port);
    let settings = format!(
        "{}\n[authentication]\nuser_service = \"users\"\n\
         [users]\ndriver = \"postgres\"\nurl = \"{postgres}\"\nschema = \"{ns}\"\n\
         [jwt.token_storage]\ndriver = \"sql\"\n\
         properties = {{ url = \"{postgres}\", schema = \"{ns}\" }}\n",
        settings(upstream, "connect_timeout = \"2s\"")
    );
    let gateway = Gateway::start(&settings).await;
    let (status, report) = health(&gateway).await;
    assert_eq!(status, StatusCode::OK, "{report}");

    relay.cut().await;
    let report = health_becomes(&gateway, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(
        statuses(&report),
        json!({ "token_storage": "down", "users": "down", "login_protection": "down", "upstream": "up" })
    );
    assert!(
        !report.to_string().contains("postgres"),
        "no URL in {report}"
    );

    relay.restore().await;
    health_becomes(&gateway, StatusCode::OK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_the_session_and_csrf_stores_when_the_gateway_keeps_them() {
    let Some(mut redis) = RedisBehindRelay::start().await else {
        return;
    };
    let ns = redis.ns.clone();
    // Cookie sessions, CSRF tokens, token storage and login protection all in Redis.
    let settings = redis.settings(
        settings_with(redis.upstream, "auth", ""),
        "[authentication]\nprovider = \"session\"\n\n",
        &format!(
            "[session]\nkey_prefix = \"{ns}_session_\"\n\
             [csrf]\nenable_auto_verifier = true\nstorage = \"shared\"\nkey_prefix = \"{ns}_csrf_\"\n"
        ),
    );
    let gateway = Gateway::start(&settings).await;

    let (status, report) = health(&gateway).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["checks"]["sessions"]["status"], "up");
    assert_eq!(report["checks"]["csrf"]["status"], "up");

    redis.relay.cut().await;
    let report = health_becomes(&gateway, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(
        statuses(&report),
        json!({
            "token_storage": "down", "users": "up", "login_protection": "down",
            "sessions": "down", "csrf": "down", "upstream": "up"
        })
    );
    redis.relay.restore().await;
    health_becomes(&gateway, StatusCode::OK).await;
}

/// The test Redis reached through a relay the test can cut, an upstream, and key prefixes
/// of the test's own; `None` without a test Redis.
struct RedisBehindRelay {
    upstream: SocketAddr,
    relay: Proxy,
    ns: String,
    url: String,
}

impl RedisBehindRelay {
    async fn start() -> Option<Self> {
        let url = server_url("PORTCULLIS_TEST_REDIS_URL")?;
        let (upstream, _) = start_upstream().await;
        let relay = Proxy::start(proxy::authority(&url)).await;
        let url = via(&url, relay.port);
        Some(RedisBehindRelay {
            upstream,
            relay,
            ns: namespace(),
            url,
        })
    }

    /// `base` with token storage and login protection in this Redis; `before_protection`
    /// goes just before `[authentication.login_protection]`, `sections` at the end.
    fn settings(&self, base: String, before_protection: &str, sections: &str) -> String {
        let (ns, url) = (&self.ns, &self.url);
        base.replace(
            "[authentication.login_protection]",
            &format!(
                "{before_protection}[authentication.login_protection]\nkey_prefix = \"{ns}_lp_\""
            ),
        ) + &format!(
            "\n{sections}[jwt.token_storage]\ndriver = \"redis\"\nkey_prefix = \"{ns}_jwt_\"\n\
             properties = {{ url = \"{url}\" }}\n"
        )
    }
}
