//! The JWT layer, extractors and refresh endpoint over real HTTP: an axum server on a
//! loopback port, a real client.

#[path = "storage/backends.rs"]
#[allow(dead_code)]
mod backends;
mod common;
#[path = "storage/proxy.rs"]
#[allow(dead_code)]
mod proxy;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use common::users::{User, Users};
use portcullis::auth::CurrentUser;
use portcullis::jwt::{refresh_endpoint, Claims, Jwt, JwtAuthLayer, JwtService, TokenPair};
use portcullis::settings::Settings;
use portcullis::storage::{MemoryStorage, TokenStorage};
use reqwest::{Client, StatusCode};
use serde_json::{json, Map, Value};

const BASE: &str = r#"
[jwt]
issuer = "https://id.test"
algorithm = "HS256"
secret_key = "a test secret that is long enough for HS256!!"
enable_refresh_tokens = true
refresh_reuse_overlap = "0s"
"#;

async fn me(CurrentUser(user): CurrentUser<User>, claims: Claims, token: Jwt) -> Json<Value> {
    Json(json!({
        "id": user.id,
        "scope": claims.scope(),
        "token_length": token.as_str().len(),
    }))
}

async fn guest(user: Option<CurrentUser<User>>) -> String {
    user.map_or("guest".into(), |CurrentUser(u)| u.username)
}

struct Server {
    base: String,
    jwt: JwtService<User>,
    users: Users,
    storage: Arc<dyn TokenStorage>,
    client: Client,
}

async fn serve_on(extra: &str, storage: Arc<dyn TokenStorage>) -> Server {
    let settings = Settings::from_toml_str(&format!("{BASE}{extra}")).unwrap();
    let users = Users::sample();
    let jwt = JwtService::builder(settings.jwt, users.clone())
        .storage(storage.clone())
        .build()
        .await
        .unwrap();
    let app = Router::new()
        .route("/me", get(me))
        .layer(JwtAuthLayer::new(jwt.clone()))
        .route("/guest", get(guest))
        .merge(refresh_endpoint(jwt.clone()));
    let base = common::server::serve(app).await;
    Server {
        base,
        jwt,
        users,
        storage,
        client: Client::new(),
    }
}

async fn serve(extra: &str) -> Server {
    serve_on(extra, Arc::new(MemoryStorage::new())).await
}

impl Server {
    async fn login(&self, id: &str) -> TokenPair {
        self.jwt
            .from_user(&self.users.get(id), Map::new(), Map::new())
            .await
            .unwrap()
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.base))
    }

    fn refresh(&self) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}/portcullis/refreshtoken", self.base))
    }
}

async fn body(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

#[tokio::test]
async fn tokens_are_found_in_the_custom_header_and_bearer_only() {
    let server = serve("").await;
    let pair = server.login("1").await;

    let none = server.get("/me").send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.headers()["www-authenticate"],
        "Bearer realm=\"portcullis\""
    );
    assert_eq!(none.headers()["cache-control"], "no-store");
    let envelope = body(none).await;
    assert_eq!(envelope["error"], true);
    assert!(envelope["messages"][0]
        .as_str()
        .unwrap()
        .starts_with("token not found"));

    let bearer = server
        .get("/me")
        .bearer_auth(&pair.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
    let me = body(bearer).await;
    assert_eq!(me["id"], "1");
    assert_eq!(me["scope"], "orders:read");
    assert_eq!(me["token_length"], pair.access_token.len());

    let custom = server
        .get("/me")
        .header("x-auth-token", &pair.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(custom.status(), StatusCode::OK);

    let basic = server
        .get("/me")
        .header("authorization", format!("Basic {}", pair.access_token))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);

    let bad = server.get("/me").bearer_auth("a.b.c").send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert!(bad.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));

    // Outside the layer the extractor is optional.
    let guest = server
        .get("/guest")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(guest, "guest");
}

#[tokio::test]
async fn query_tokens_only_when_allowed_or_on_websocket_upgrades() {
    let strict = serve("").await;
    let pair = strict.login("1").await;
    let url = format!("/me?token={}", pair.access_token);
    assert_eq!(
        strict.get(&url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let upgrade = strict
        .get(&url)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .send()
        .await
        .unwrap();
    assert_eq!(
        upgrade.status(),
        StatusCode::OK,
        "browsers cannot set headers on WebSockets"
    );

    let lax = serve("allow_query_token = true").await;
    let pair = lax.login("1").await;
    let url = format!("/me?x-auth-token={}", pair.access_token);
    assert_eq!(lax.get(&url).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn revoked_tokens_are_refused() {
    let server = serve("").await;
    let pair = server.login("1").await;
    server.jwt.logout(&pair.access_token).await.unwrap();
    let response = server
        .get("/me")
        .bearer_auth(&pair.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(body(response).await["messages"][0]
        .as_str()
        .unwrap()
        .contains("rejected"));
}

#[tokio::test]
async fn the_refresh_endpoint_answers_every_case() {
    let server = serve("").await;
    let pair = server.login("1").await;

    let missing = server.refresh().send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);

    let garbage = server
        .refresh()
        .header("x-refresh-token", "x.y.z")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);

    let access_as_refresh = server
        .refresh()
        .header("x-refresh-token", &pair.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(access_as_refresh.status(), StatusCode::UNAUTHORIZED);

    let ok = server
        .refresh()
        .header("x-refresh-token", pair.refresh_token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()["cache-control"], "no-store");
    let envelope = body(ok).await;
    assert_eq!(envelope["error"], false);
    assert_eq!(envelope["data"]["token_type"], "Bearer");
    assert_eq!(envelope["data"]["expires_in"], 3600);
    let rotated = envelope["data"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let access = envelope["data"]["access_token"].as_str().unwrap();
    assert_eq!(
        server
            .get("/me")
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // The form field works too.
    let by_form = server
        .refresh()
        .form(&[("x-refresh-token", rotated.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(by_form.status(), StatusCode::OK);

    // Reusing a spent token: 401 (cbsecurity answered 500), and the session is gone.
    let reused = server
        .refresh()
        .header("x-refresh-token", &rotated)
        .send()
        .await
        .unwrap();
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED);
    assert!(body(reused).await["messages"][0]
        .as_str()
        .unwrap()
        .contains("reuse detected"));

    // Unknown subject: 401, not 500.
    let bob = server.login("2").await;
    server.users.remove("2");
    let unknown = server
        .refresh()
        .header("x-refresh-token", bob.refresh_token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_expired_refresh_token_is_401() {
    let server = serve("expiration = \"1s\"\nrefresh_expiration = \"2s\"").await;
    let pair = server.login("1").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = server
        .refresh()
        .header("x-refresh-token", pair.refresh_token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        expired.status(),
        StatusCode::UNAUTHORIZED,
        "cbsecurity answered 400"
    );
    assert_eq!(body(expired).await["messages"][0], "token has expired");
}

#[tokio::test]
async fn the_refresh_endpoint_is_404_when_disabled() {
    for (extra, message) in [
        (
            "enable_refresh_endpoint = false",
            "Refresh Token Endpoint Disabled",
        ),
        ("", "Refresh Tokens Not Active"),
    ] {
        let settings = if extra.is_empty() {
            BASE.replace(
                "enable_refresh_tokens = true",
                "enable_refresh_tokens = false",
            )
        } else {
            format!("{BASE}{extra}")
        };
        let server = serve_on_settings(&settings).await;
        let response = server
            .refresh()
            .header("x-refresh-token", "x.y.z")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(body(response).await["messages"][0], message);
    }
}

async fn serve_on_settings(toml: &str) -> Server {
    // `serve_on` appends to BASE; this variant takes the whole document.
    let mut server = serve_on("", Arc::new(MemoryStorage::new())).await;
    let settings = Settings::from_toml_str(toml).unwrap();
    let jwt = JwtService::builder(settings.jwt, server.users.clone())
        .storage(server.storage.clone())
        .build()
        .await
        .unwrap();
    let app = refresh_endpoint(jwt.clone());
    server.base = common::server::serve(app).await;
    server.jwt = jwt;
    server
}

#[tokio::test]
async fn auto_refresh_rotates_in_band_but_never_revives_a_revoked_token() {
    let server = serve("expiration = \"1s\"\nenable_auto_refresh_validator = true").await;
    let pair = server.login("1").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refreshed = server
        .get("/me")
        .bearer_auth(&pair.access_token)
        .header("x-refresh-token", pair.refresh_token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let access = refreshed.headers()["x-auth-token"]
        .to_str()
        .unwrap()
        .to_owned();
    let refresh = refreshed.headers()["x-refresh-token"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(access, pair.access_token);
    assert_eq!(body(refreshed).await["id"], "1");
    assert_eq!(
        server
            .get("/me")
            .bearer_auth(&access)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // A missing access token with a valid refresh token is refreshed too.
    let no_access = server
        .get("/me")
        .header("x-refresh-token", &refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(no_access.status(), StatusCode::OK);
    let refresh = no_access.headers()["x-refresh-token"]
        .to_str()
        .unwrap()
        .to_owned();

    // Revoke just the access token (its session stays): no auto-refresh for it.
    let fresh = server
        .jwt
        .decode(no_access.headers()["x-auth-token"].to_str().unwrap())
        .unwrap();
    server.storage.clear(fresh.jti().unwrap()).await.unwrap();
    let revoked = server
        .get("/me")
        .header(
            "x-auth-token",
            no_access.headers()["x-auth-token"].to_str().unwrap(),
        )
        .header("x-refresh-token", &refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
    assert!(revoked.headers().get("x-auth-token").is_none());
}

/// `/fw/me` behind the firewall, secured by a rule and the JWT validator of `jwt`; the base
/// URL.
#[cfg(feature = "storage-redis")]
async fn firewalled(jwt: &JwtService<User>) -> String {
    use portcullis::firewall::sources::RuleAssembly;
    use portcullis::firewall::{Firewall, FirewallLayer, JwtValidator};
    let settings = Settings::from_toml_str(
        r#"
        [firewall]
        validator = "jwt"
        default_authentication_action = "block"
        default_authorization_action = "block"
        [[firewall.rules.inline]]
        secure_list = "^/fw/"
        "#,
    )
    .unwrap();
    let firewall = Firewall::builder(settings.firewall.clone())
        .validator("jwt", Arc::new(JwtValidator::new(jwt.clone())))
        .load_rules(RuleAssembly::new(&settings.firewall))
        .await
        .unwrap()
        .build()
        .unwrap();
    let app = Router::new()
        .route("/fw/me", get(|| async { "through" }))
        .layer(FirewallLayer::new(firewall));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[cfg(feature = "storage-redis")]
#[tokio::test]
async fn storage_down_is_503_never_a_pass() {
    let Some(backend) = backends::Backend::redis() else {
        return;
    };
    let mut relay = proxy::Proxy::start(proxy::authority(&backend.url)).await;
    let storage = backend
        .open_at(&proxy::via(&backend.url, relay.port), &backend.namespace)
        .await
        .unwrap();
    let server = serve_on("", storage).await;
    let pair = server.login("1").await;
    assert_eq!(
        server
            .get("/me")
            .bearer_auth(&pair.access_token)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    relay.cut().await;
    let down = server
        .get("/me")
        .bearer_auth(&pair.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.headers()["retry-after"], "5");
    let behind_firewall = firewalled(&server.jwt).await;
    let refused = server
        .client
        .get(format!("{behind_firewall}/fw/me"))
        .bearer_auth(&pair.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "a firewall rule whose validator cannot reach storage refuses, it never passes"
    );
    let refresh = server
        .refresh()
        .header("x-refresh-token", pair.refresh_token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), StatusCode::SERVICE_UNAVAILABLE);
}
