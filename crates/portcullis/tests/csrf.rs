//! CSRF tokens, the auto verifier, the token endpoint and the Fetch Metadata checks over real
//! HTTP: an axum server on 127.0.0.1 with a stand-in session layer (cookie `sid` →
//! `SessionId`) and a stand-in authentication layer (header `x-user` → `Identity`) outside
//! the `CsrfLayer`, and a clock the tests move.
#![cfg(feature = "csrf")]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Form, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use common::users::Users;
use http::request::Parts;
use portcullis::auth::{AuthService, AuthUser, BasicAuthService, Identity};
use portcullis::csrf::{endpoint, Csrf, CsrfExempt, CsrfLayer, CsrfTokens, FetchMetadataLayer};
use portcullis::session::SessionId;
use portcullis::settings::Settings;
use reqwest::StatusCode;

struct User(String);

impl AuthUser for User {
    fn id(&self) -> String {
        self.0.clone()
    }
}

/// Stand-in for the session layer: cookie `sid=<id>` becomes the request's `SessionId`.
async fn session(mut request: Request, next: Next) -> Response {
    let sid = request
        .headers()
        .get("cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').find_map(|c| c.trim().strip_prefix("sid=")))
        .map(str::to_owned);
    if let Some(sid) = sid {
        request.extensions_mut().insert(SessionId::new(sid));
    }
    next.run(request).await
}

/// Stand-in for authentication: header `x-user: <id>` becomes the request's `Identity`.
async fn authenticate(mut request: Request, next: Next) -> Response {
    let user = request
        .headers()
        .get("x-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(user) = user {
        let identity = Identity::of(&User(user), Vec::<String>::new());
        request.extensions_mut().insert(identity);
    }
    next.run(request).await
}

/// Marks `/marked/…` requests exempt, from outside the CSRF layer.
async fn mark(mut request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/marked/") {
        request.extensions_mut().insert(CsrfExempt);
    }
    next.run(request).await
}

#[derive(serde::Deserialize)]
struct Comment {
    text: String,
}

struct Server {
    base: String,
    client: reqwest::Client,
    minutes: Arc<AtomicU64>,
}

async fn serve(toml: &str) -> Server {
    let settings = Settings::from_toml_str(toml).expect("valid settings");
    let minutes = Arc::new(AtomicU64::new(0));
    let clock = minutes.clone();
    let tokens = CsrfTokens::new(&settings.csrf).with_clock(move || {
        SystemTime::UNIX_EPOCH
            + Duration::from_secs(1_700_000_000 + 60 * clock.load(Ordering::SeqCst))
    });
    let mut csrf = CsrfLayer::new(tokens)
        .auto_verify(settings.csrf.enable_auto_verifier)
        .exempt("/hooks/{id}")
        .trusted_proxies(portcullis::net::TrustedProxies::new(
            settings.firewall.trusted_proxies.iter().copied(),
        ));
    for pattern in &settings.csrf.verify_excludes {
        csrf = csrf.exclude(pattern).unwrap();
    }
    let app = Router::new()
        .route(
            "/form",
            get(|csrf: Csrf| async move { csrf.hidden_field().await }),
        )
        .route(
            "/token",
            get(|csrf: Csrf| async move { csrf.token("default").await }),
        )
        .route(
            "/token/{key}",
            get(
                |csrf: Csrf, axum::extract::Path(key): axum::extract::Path<String>| async move {
                    csrf.token(&key).await
                },
            ),
        )
        .route(
            "/comment",
            post(|Form(comment): Form<Comment>| async move { format!("saved: {}", comment.text) }),
        )
        .route("/submit", post(|| async { "ok" }).put(|| async { "ok" }))
        .route(
            "/transfer",
            post(|csrf: Csrf, headers: http::HeaderMap| async move {
                let token = headers
                    .get("x-transfer-token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if csrf.verify("transfer", token).await {
                    (StatusCode::OK, "moved")
                } else {
                    (StatusCode::FORBIDDEN, "no")
                }
            }),
        )
        .route(
            "/login",
            post(|csrf: Csrf| async move {
                csrf.on_authentication_change().await;
                "welcome"
            }),
        )
        .route(
            "/logout",
            post(|csrf: Csrf| async move {
                csrf.on_authentication_change().await;
                "bye"
            }),
        )
        .route(
            "/auth/login",
            post(|mut parts: Parts| async move {
                let auth = BasicAuthService::new(Users::sample(), "test").unwrap();
                let user = Users::sample().get("1");
                auth.login(&mut parts, user).await.map(|_| "welcome")
            }),
        )
        .route(
            "/auth/logout",
            post(|mut parts: Parts| async move {
                let auth = BasicAuthService::new(Users::sample(), "test").unwrap();
                auth.logout(&mut parts).await.map(|()| "bye")
            }),
        )
        .route("/webhooks/payment", post(|| async { "hook" }))
        .route("/api/items/{id}", post(|| async { "item" }))
        .route("/hooks/{id}", post(|| async { "hook" }))
        .route("/marked/x", post(|| async { "marked" }))
        .merge(endpoint(&settings.csrf))
        .layer(csrf)
        .layer(middleware::from_fn(mark))
        .layer(FetchMetadataLayer::from_settings(&settings))
        .layer(middleware::from_fn(authenticate))
        .layer(middleware::from_fn(session));
    let base = common::server::serve(app).await;
    Server {
        base,
        client: reqwest::Client::new(),
        minutes,
    }
}

const VERIFY: &str = r#"
    [csrf]
    enable_auto_verifier = true
    enable_endpoint = true
    verify_excludes = ["^/webhooks/", '^/api/items/\{id\}$']
"#;

impl Server {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, path)
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::POST, path)
    }

    /// The default token of session `sid`.
    async fn token(&self, sid: &str) -> String {
        let response = self
            .get("/token")
            .header("cookie", format!("sid={sid}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// POSTs to `/submit` in session `sid` with `token` in the header; the status.
    async fn submit(&self, sid: &str, token: &str) -> StatusCode {
        self.post("/submit")
            .header("cookie", format!("sid={sid}"))
            .header("x-csrf-token", token)
            .send()
            .await
            .unwrap()
            .status()
    }

    fn advance(&self, minutes: u64) {
        self.minutes.fetch_add(minutes, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn missing_and_wrong_tokens_are_403_never_500() {
    let server = serve(VERIFY).await;
    let missing = server
        .post("/submit")
        .header("cookie", "sid=a")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 403);
    assert_eq!(missing.text().await.unwrap(), "CSRF token missing");

    let json = server
        .post("/submit")
        .header("cookie", "sid=a")
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 403);
    assert!(json.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: serde_json::Value = json.json().await.unwrap();
    assert_eq!(body["error"], true);
    assert_eq!(body["messages"][0], "CSRF token missing");

    let token = server.token("a").await;
    let wrong = server
        .post("/submit")
        .header("cookie", "sid=a")
        .header("x-csrf-token", "A".repeat(43))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    assert_eq!(wrong.text().await.unwrap(), "CSRF token invalid");
    assert_eq!(
        server.submit("a", &token.to_lowercase()).await,
        403,
        "case matters"
    );
    assert_eq!(server.submit("a", &"x".repeat(10_000)).await, 403);
    assert_eq!(server.submit("a", &token).await, 200);
    assert_eq!(
        server.submit("a", &token).await,
        200,
        "verifying does not consume"
    );
}

#[tokio::test]
async fn right_tokens_pass_in_the_form_and_in_the_header() {
    let server = serve(VERIFY).await;
    let token = server.token("a").await;
    assert_eq!(token.len(), 43);

    let form = server
        .post("/comment")
        .header("cookie", "sid=a")
        .form(&[("text", "hello world"), ("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    assert_eq!(
        form.text().await.unwrap(),
        "saved: hello world",
        "the handler reads the whole form after the verifier"
    );

    let header = server
        .request(reqwest::Method::PUT, "/submit")
        .header("cookie", "sid=a")
        .header("x-csrf-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(header.status(), 200);

    let bad_form = server
        .post("/comment")
        .header("cookie", "sid=a")
        .form(&[("text", "x"), ("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_form.status(), 403);

    let too_large = server
        .post("/comment")
        .header("cookie", "sid=a")
        .form(&[
            ("text", "x".repeat(3 * 1024 * 1024)),
            ("csrf", token.clone()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), 413);

    let in_query = server
        .post(&format!("/submit?csrf={token}"))
        .header("cookie", "sid=a")
        .send()
        .await
        .unwrap();
    assert_eq!(in_query.status(), 403, "tokens are not read from URLs");
}

#[tokio::test]
async fn tokens_expire_after_the_rotation_timeout() {
    let server = serve(&format!("{VERIFY}\nrotation_timeout = 30")).await;
    let token = server.token("a").await;
    server.advance(29);
    assert_eq!(server.submit("a", &token).await, 200);
    server.advance(1);
    assert_eq!(server.submit("a", &token).await, 403, "expired");
    let fresh = server.token("a").await;
    assert_ne!(fresh, token);
    assert_eq!(server.submit("a", &fresh).await, 200);

    let never = serve(&format!("{VERIFY}\nrotation_timeout = 0")).await;
    let token = never.token("a").await;
    never.advance(60 * 24 * 365);
    assert_eq!(never.submit("a", &token).await, 200);
}

#[tokio::test]
async fn another_session_s_token_is_refused() {
    let server = serve(VERIFY).await;
    let alice = server.token("alice-session").await;
    let mallory = server.token("mallory-session").await;
    assert_ne!(alice, mallory);
    assert_eq!(server.submit("alice-session", &mallory).await, 403);
    assert_eq!(server.submit("mallory-session", &alice).await, 403);
    assert_eq!(server.submit("alice-session", &alice).await, 200);
}

#[tokio::test]
async fn named_keys_are_verified_by_handlers() {
    let server = serve(VERIFY).await;
    let transfer = server
        .get("/token/transfer")
        .header("cookie", "sid=a")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let default = server.token("a").await;
    assert_ne!(transfer, default);
    let send = |token: &str| {
        server
            .post("/transfer")
            .header("cookie", "sid=a")
            .header("x-csrf-token", &default)
            .header("x-transfer-token", token)
            .send()
    };
    assert_eq!(send(&transfer).await.unwrap().status(), 200);
    assert_eq!(send(&default).await.unwrap().status(), 403);
}

#[tokio::test]
async fn exclusions_opt_outs_and_safe_methods_need_no_token() {
    let server = serve(VERIFY).await;
    for path in ["/webhooks/payment", "/api/items/5", "/hooks/7", "/marked/x"] {
        let response = server.post(path).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    for method in [
        reqwest::Method::GET,
        reqwest::Method::HEAD,
        reqwest::Method::OPTIONS,
    ] {
        let response = server
            .request(method.clone(), "/token")
            .send()
            .await
            .unwrap();
        assert_ne!(response.status(), 403, "{method}");
    }
    let not_excluded = server.post("/submit").send().await.unwrap();
    assert_eq!(not_excluded.status(), 403);

    let off = serve("").await;
    assert_eq!(
        off.post("/submit").send().await.unwrap().status(),
        200,
        "the auto verifier is off by default"
    );
}

#[tokio::test]
async fn login_and_logout_rotate_the_tokens() {
    let server = serve(VERIFY).await;
    let before = server.token("s").await;
    let login = server
        .post("/login")
        .header("cookie", "sid=s")
        .header("x-csrf-token", &before)
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    assert_eq!(server.submit("s", &before).await, 403, "rotated at login");

    let after = server.token("s").await;
    assert_ne!(after, before);
    assert_eq!(server.submit("s", &after).await, 200);
    let logout = server
        .post("/logout")
        .header("cookie", "sid=s")
        .header("x-csrf-token", &after)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    assert_eq!(server.submit("s", &after).await, 403, "rotated at logout");

    let kept = serve(&format!("{VERIFY}\nenable_auth_token_rotator = false")).await;
    let token = kept.token("s").await;
    let login = kept
        .post("/login")
        .header("cookie", "sid=s")
        .header("x-csrf-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    assert_eq!(kept.submit("s", &token).await, 200, "rotator off");
}

/// No handler code: every `AuthService`'s `login` and `logout` rotate the request's tokens
/// (here `BasicAuthService`, with the stand-in session keeping its id).
#[tokio::test]
async fn auth_services_rotate_the_tokens_by_themselves() {
    let server = serve(VERIFY).await;
    for path in ["/auth/login", "/auth/logout"] {
        let before = server.token("s").await;
        let changed = server
            .post(path)
            .header("cookie", "sid=s")
            .header("x-csrf-token", &before)
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 200, "{path}");
        assert_eq!(server.submit("s", &before).await, 403, "rotated at {path}");
        let after = server.token("s").await;
        assert_eq!(server.submit("s", &after).await, 200);
    }

    let kept = serve(&format!("{VERIFY}\nenable_auth_token_rotator = false")).await;
    let token = kept.token("s").await;
    let login = kept
        .post("/auth/login")
        .header("cookie", "sid=s")
        .header("x-csrf-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    assert_eq!(kept.submit("s", &token).await, 200, "rotator off");
}

#[tokio::test]
async fn guests_get_an_anonymous_binding_cookie() {
    let server = serve(VERIFY).await;
    let page = server.get("/form").send().await.unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("portcullis-csrf="), "{cookie}");
    assert!(
        cookie.ends_with("; Path=/; HttpOnly; SameSite=Lax"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let html = page.text().await.unwrap();
    let token = html
        .split("value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert!(html.starts_with("<input type=\"hidden\" name=\"csrf\" id=\"csrf\""));

    let again = server
        .get("/token")
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert!(
        again.headers().get("set-cookie").is_none(),
        "the cookie is set once"
    );
    assert_eq!(again.text().await.unwrap(), token);

    let with_cookie = server
        .post("/submit")
        .header("cookie", &pair)
        .header("x-csrf-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), 200);
    let without_cookie = server
        .post("/submit")
        .header("x-csrf-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(without_cookie.status(), 403);
    let other_guest = server
        .post("/submit")
        .header("cookie", format!("portcullis-csrf={}", "B".repeat(43)))
        .header("x-csrf-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(other_guest.status(), 403);

    let https = serve(&format!(
        "[firewall]\ntrusted_proxies = [\"127.0.0.1/32\"]\n{VERIFY}"
    ))
    .await;
    let page = https
        .get("/form")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("__Host-portcullis-csrf="), "{cookie}");
    assert!(
        cookie.ends_with("; Path=/; HttpOnly; SameSite=Lax; Secure"),
        "{cookie}"
    );
}

#[tokio::test]
async fn the_endpoint_serves_authenticated_users_only() {
    let server = serve(VERIFY).await;
    let anonymous = server
        .get("/portcullis/csrf/generate/checkout")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let response = server
        .get("/portcullis/csrf/generate")
        .header("x-user", "42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let token = response.text().await.unwrap();
    assert_eq!(token.len(), 43);
    let as_user = |user: &'static str, token: String| {
        server
            .post("/submit")
            .header("x-user", user)
            .header("x-csrf-token", token)
            .send()
    };
    assert_eq!(as_user("42", token.clone()).await.unwrap().status(), 200);
    assert_eq!(as_user("43", token).await.unwrap().status(), 403);

    let named = server
        .get("/portcullis/csrf/generate/checkout")
        .header("x-user", "42")
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), 200);
    let invalid = server
        .get("/portcullis/csrf/generate/bad%20key")
        .header("x-user", "42")
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 400);

    let disabled = serve("csrf.enable_auto_verifier = true").await;
    let response = disabled
        .get("/portcullis/csrf/generate")
        .header("x-user", "42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn fetch_metadata_refuses_cross_site_unsafe_requests() {
    let server = serve(
        r#"
        [csrf.fetch_metadata]
        enabled = true
        allowed_origins = ["https://partner.example"]
        "#,
    )
    .await;
    let own = server.base.clone();
    let cases: &[(&[(&str, &str)], u16)] = &[
        (&[("sec-fetch-site", "same-origin")], 200),
        (&[("sec-fetch-site", "none")], 200),
        (&[("sec-fetch-site", "same-site")], 403),
        (&[("sec-fetch-site", "cross-site")], 403),
        (
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://evil.example"),
            ],
            403,
        ),
        (
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://partner.example"),
            ],
            200,
        ),
        (&[("origin", own.as_str())], 200),
        (&[("origin", "http://evil.example")], 403),
        (&[("origin", "null")], 403),
        (&[], 200),
    ];
    for (headers, status) in cases {
        let mut request = server.post("/submit");
        for (name, value) in *headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), *status, "{headers:?}");
        if *status == 403 {
            assert_eq!(response.text().await.unwrap(), "Cross-site request refused");
        }
    }
    let safe = server
        .get("/token")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(safe.status(), 200, "safe methods pass");
    for (site, status) in [("cross-site", 403), ("same-origin", 200)] {
        let handshake = server
            .get("/token")
            .header("sec-fetch-site", site)
            .header("upgrade", "websocket")
            .send()
            .await
            .unwrap();
        assert_eq!(handshake.status(), status, "a {site} WebSocket handshake");
    }

    let off = serve("").await;
    let response = off
        .post("/submit")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "off by default");
}
