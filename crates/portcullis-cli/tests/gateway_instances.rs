//! Several `portcullis serve` processes sharing PostgreSQL (users, and token storage) or
//! PostgreSQL and Redis (users; token storage and login protection in Redis), as
//! `docs/gateway.md` ("Several instances on PostgreSQL and Redis") describes: whatever one
//! instance does to a token, a user or a login count, the other sees at once.
//!
//! Real servers from `scripts/services.sh` (`PORTCULLIS_TEST_POSTGRES_URL`,
//! `PORTCULLIS_TEST_REDIS_URL`); each test works in a PostgreSQL schema and under Redis key
//! prefixes of its own, so runs never collide.
#![cfg(unix)]

use std::net::SocketAddr;

use reqwest::StatusCode;
use serde_json::{json, Value};

mod gateway_harness;
use gateway_harness::*;

/// Where the instances keep tokens and login counts (users are always in PostgreSQL).
enum Tokens {
    /// Token storage and login protection in PostgreSQL tables.
    Postgres,
    /// Token storage and login protection in Redis, at this URL.
    Redis(String),
}

/// The settings every instance runs with: the harness's (same keys, rules, login
/// protection), the SQL user store in PostgreSQL with registration open, and `tokens`.
fn shared_settings(upstream: SocketAddr, postgres: &str, tokens: &Tokens) -> String {
    let ns = namespace();
    let mut settings = settings(upstream, "");
    settings.push_str(&format!(
        "\n[authentication]\nuser_service = \"users\"\n\
         [users]\ndriver = \"postgres\"\nurl = \"{postgres}\"\nschema = \"{ns}\"\n\
         allow_registration = true\n"
    ));
    match tokens {
        Tokens::Postgres => settings.push_str(&format!(
            "[jwt.token_storage]\ndriver = \"sql\"\n\
             properties = {{ url = \"{postgres}\", schema = \"{ns}\" }}\n"
        )),
        Tokens::Redis(redis) => {
            settings = settings.replace(
                "[authentication.login_protection]",
                &format!("[authentication.login_protection]\nkey_prefix = \"{ns}_lp_\""),
            );
            settings.push_str(&format!(
                "[jwt.token_storage]\ndriver = \"redis\"\nkey_prefix = \"{ns}_jwt_\"\n\
                 properties = {{ url = \"{redis}\" }}\n"
            ));
        }
    }
    settings
}

/// The status of `GET /api/orders` on `gateway` with `access`, and the username the upstream
/// was told.
async fn api_as(gateway: &Gateway, access: &str) -> (StatusCode, Option<String>) {
    let response = client()
        .get(gateway.url("/api/orders"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let status = response.status();
    // Refusals are the firewall's (HTML to a client that does not ask for JSON).
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap_or_default();
    let username = body["headers"]["x-portcullis-username"]
        .as_str()
        .map(str::to_owned);
    (status, username)
}

async fn login_status(gateway: &Gateway, username: &str, password: &str) -> StatusCode {
    client()
        .post(gateway.url("/portcullis/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
}

/// Two instances, A and B, on the same backends: every promise of the docs, in turn.
async fn two_instances_agree(tokens: Tokens) {
    let Some(postgres) = server_url("PORTCULLIS_TEST_POSTGRES_URL") else {
        return;
    };
    let (upstream, _) = start_upstream().await;
    let settings = shared_settings(upstream, &postgres, &tokens);
    let a = Gateway::start(&settings).await;
    let b = Gateway::start(&settings).await;
    let http = client();
    for gateway in [&a, &b] {
        let (status, report) = health(gateway).await;
        assert_eq!(status, StatusCode::OK, "{report}");
    }

    // A user registered on A logs in on B.
    let registered = http
        .post(a.url("/portcullis/register"))
        .json(&json!({ "username": "carol", "password": "carol-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let taken = http
        .post(b.url("/portcullis/register"))
        .json(&json!({ "username": "Carol", "password": "another-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), StatusCode::CONFLICT, "B sees A's user");
    login(&b, "carol", "carol-password").await;

    // A token issued by A is accepted by B.
    let pair = login(&a, "carol", "carol-password").await;
    let access = text(&pair["access_token"]).to_owned();
    let refresh = text(&pair["refresh_token"]).to_owned();
    assert_eq!(
        api_as(&b, &access).await,
        (StatusCode::OK, Some("carol".to_owned()))
    );

    // A refresh token rotated on A cannot be reused on B: that is theft, and the whole login
    // session goes, on both.
    let rotated = refresh_with(&http, &a, &refresh).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.unwrap();
    let new_access = text(&rotated["data"]["access_token"]).to_owned();
    assert_eq!(api_as(&b, &new_access).await.0, StatusCode::OK);
    assert_eq!(
        api_as(&b, &access).await.0,
        StatusCode::UNAUTHORIZED,
        "the access token spent by the refresh on A"
    );
    let reused = refresh_with(&http, &b, &refresh).await;
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(api_as(&a, &new_access).await.0, StatusCode::UNAUTHORIZED);

    // Logout on A revokes the token on B.
    let pair = login(&a, "carol", "carol-password").await;
    let access = text(&pair["access_token"]).to_owned();
    assert_eq!(api_as(&b, &access).await.0, StatusCode::OK);
    let logout = http
        .post(a.url("/portcullis/logout"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::OK);
    assert_eq!(api_as(&b, &access).await.0, StatusCode::UNAUTHORIZED);

    // Failed logins on A count toward the lockout on B (two failures, then ten minutes).
    for _ in 0..2 {
        assert_eq!(
            login_status(&a, "carol", "wrong guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_status(&b, "carol", "carol-password").await,
        StatusCode::TOO_MANY_REQUESTS,
        "B counts A's failures"
    );
    assert_eq!(
        login_status(&a, "carol", "carol-password").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_share_users_tokens_and_login_counts() {
    two_instances_agree(Tokens::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_and_redis_share_users_tokens_and_login_counts() {
    let Some(redis) = server_url("PORTCULLIS_TEST_REDIS_URL") else {
        return;
    };
    two_instances_agree(Tokens::Redis(redis)).await;
}

/// Two instances from the settings block of the docs' section, with the URLs and the secret
/// from the environment as the docs show: one user, one token, one logout, seen by both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_instance_settings_share_users_and_tokens() {
    let Some(postgres) = server_url("PORTCULLIS_TEST_POSTGRES_URL") else {
        return;
    };
    let (upstream, _) = start_upstream().await;
    let toml = documented_toml(
        include_str!("../../../docs/gateway.md"),
        "instances-example",
    )
    .replace("http://10.0.1.20:3000", &format!("http://{upstream}"));
    assert!(toml.contains(&upstream.to_string()));
    let ns = namespace();
    let start = || {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("portcullis.toml");
        std::fs::write(&config, &toml).unwrap();
        let mut command = command(&[
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ]);
        command
            .env("PORTCULLIS_JWT__SECRET_KEY", SECRET)
            .env("PORTCULLIS_JWT__TOKEN_STORAGE__PROPERTIES__URL", &postgres)
            .env("PORTCULLIS_USERS__URL", &postgres)
            // This test's own schema, for the users, the tokens and the login counts.
            .env("PORTCULLIS_JWT__TOKEN_STORAGE__PROPERTIES__SCHEMA", &ns)
            .env("PORTCULLIS_USERS__SCHEMA", &ns);
        Gateway::spawn(command, dir)
    };
    let a = start().await;
    let b = start().await;
    for gateway in [&a, &b] {
        let (status, report) = health(gateway).await;
        assert_eq!(status, StatusCode::OK, "{report}");
    }

    let registered = client()
        .post(a.url("/portcullis/register"))
        .json(&json!({ "username": "dave", "password": "dave-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let pair = login(&b, "dave", "dave-password").await;
    let access = text(&pair["access_token"]).to_owned();
    assert_eq!(
        api_as(&a, &access).await,
        (StatusCode::OK, Some("dave".to_owned()))
    );
    let logout = client()
        .post(b.url("/portcullis/logout"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::OK);
    assert_eq!(api_as(&a, &access).await.0, StatusCode::UNAUTHORIZED);
}
