//! `portcullis serve` for browser apps, end to end: cookie sessions
//! (`authentication.provider = "session"`), CSRF tokens for the upstream's forms, Fetch
//! Metadata checks and the security event log. The binary runs as a child process in front of
//! a real axum upstream (the harness's echo), and the tests are a browser's requests over real
//! HTTP, cookies carried by hand so every `Set-Cookie` is checked.
#![cfg(unix)]

use std::collections::HashMap;

use reqwest::header::{ACCEPT, COOKIE, LOCATION, REFERER, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

mod gateway_harness;
use gateway_harness::*;

/// The session cookie's name with the default `session.secure = true`.
const SESSION: &str = "__Host-portcullis_session";
/// The header the upstream reads the CSRF token from.
const TOKEN_HEADER: &str = "x-portcullis-csrf-token";

/// A gateway for a server-rendered app: sessions, the auto verifier (webhooks excluded), the
/// token endpoint, Fetch Metadata, and a module `/app` whose guests are sent to `/login`.
fn browser_settings(upstream: std::net::SocketAddr) -> String {
    settings_with(
        upstream,
        "auth",
        r#"
        [authentication]
        provider = "session"

        [csrf]
        enable_auto_verifier = true
        enable_endpoint = true
        verify_excludes = "^/hooks/"
        fetch_metadata = { enabled = true }

        [firewall.modules.app]
        entry_point = "/app"
        invalid_authentication_event = "/login"
        default_authentication_action = "redirect"
        rules = { inline = [ { id = "app", secureList = "^/app", match = "url" } ] }
        "#,
    )
}

/// The `Set-Cookie` of `response` for cookie `name`, whole.
fn set_cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|cookie| cookie.starts_with(&format!("{name}=")))
}

/// The `name=value` part of a `Set-Cookie` value.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

fn location(response: &Response) -> &str {
    response.headers()[LOCATION].to_str().unwrap()
}

/// What a browser tab holds: its session cookie.
struct Tab<'a> {
    gateway: &'a Gateway,
    http: Client,
    cookie: Option<String>,
}

impl<'a> Tab<'a> {
    fn new(gateway: &'a Gateway) -> Self {
        Tab {
            gateway,
            http: client(),
            cookie: None,
        }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.with_cookie(self.http.get(self.gateway.url(path)))
            .header(ACCEPT, "text/html")
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.with_cookie(self.http.post(self.gateway.url(path)))
    }

    fn with_cookie(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie {
            Some(cookie) => request.header(COOKIE, cookie),
            None => request,
        }
    }

    /// Takes the session cookie a response sets, if any; returns its `Set-Cookie`.
    fn keep(&mut self, response: &Response) -> Option<String> {
        let cookie = set_cookie(response, SESSION)?;
        self.cookie = Some(pair(&cookie));
        Some(cookie)
    }

    /// Opens a page of the upstream; the headers it received.
    async fn page(&mut self, path: &str) -> HashMap<String, String> {
        let response = self.get(path).send().await.unwrap();
        self.keep(&response);
        upstream_headers(response).await
    }

    /// The CSRF token the upstream gets to render `path`'s forms with.
    async fn token(&mut self, path: &str) -> String {
        let headers = self.page(path).await;
        headers
            .get(TOKEN_HEADER)
            .cloned()
            .unwrap_or_else(|| panic!("no {TOKEN_HEADER} in {headers:?}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_login_opens_a_session_the_upstream_sees_and_logout_ends_it() {
    let (upstream, _) = start_upstream().await;
    let gateway = Gateway::start(&browser_settings(upstream)).await;
    let mut tab = Tab::new(&gateway);

    // A guest is sent to the login page, with where they were going.
    let refused = tab.get("/app/orders?page=2").send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FOUND);
    let to_login = location(&refused).to_owned();
    assert!(to_login.starts_with("/login?_securedURL="), "{to_login}");
    let secured_url = url_param(&to_login, "_securedURL");
    assert!(secured_url.ends_with("/app/orders?page=2"), "{secured_url}");
    assert!(set_cookie(&refused, SESSION).is_none(), "nothing kept yet");

    // The login page: the upstream gets a token for its form, whatever the client sent
    // under that name; the guest's session is kept for it.
    let response = tab
        .get(&to_login)
        .header(TOKEN_HEADER, "forged")
        .send()
        .await
        .unwrap();
    let guest_cookie = tab.keep(&response).expect("the guest's session is kept");
    let seen = upstream_headers(response).await;
    let before_login = seen[TOKEN_HEADER].clone();
    assert_eq!(before_login.len(), 43);
    assert!(!seen.contains_key("x-portcullis-user-id"));
    assert!(
        !seen.get("cookie").is_some_and(|c| c.contains(SESSION)),
        "the session cookie is a credential: {seen:?}"
    );
    let guest = tab.cookie.clone().unwrap();
    assert!(guest_cookie.ends_with("; Path=/; HttpOnly; Secure; SameSite=Lax"));

    // The form posts back: the session id changes and the browser goes where it was going.
    let login = tab
        .post("/portcullis/login")
        .form(&[
            ("username", "ann"),
            ("password", "ann-password"),
            ("csrf", &before_login),
            ("_securedURL", &secured_url),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&login), "/app/orders?page=2");
    let session_cookie = tab.keep(&login).expect("a new session cookie");
    let value = pair(&session_cookie);
    assert_ne!(value, guest, "login rotates the session id (fixation)");
    assert_eq!(value.len(), SESSION.len() + 1 + 43);
    assert_eq!(
        &session_cookie[value.len()..],
        "; Path=/; HttpOnly; Secure; SameSite=Lax"
    );

    // The upstream learns who it is from the identity headers, not from the cookie.
    let seen = tab.page("/app/orders?page=2").await;
    assert_eq!(seen["x-portcullis-user-id"], "ann");
    assert_eq!(seen["x-portcullis-username"], "ann");
    assert_eq!(seen["x-portcullis-roles"], "admin");
    assert_eq!(seen["x-portcullis-permissions"], "orders:read");
    assert!(!seen.contains_key("cookie"), "{seen:?}");
    assert_ne!(
        seen[TOKEN_HEADER], before_login,
        "a token of the new session"
    );
    // Rules with roles apply to session users as to any.
    assert_eq!(
        tab.get("/admin/panel").send().await.unwrap().status(),
        StatusCode::OK
    );

    // me, from the session.
    let me: Value = tab
        .get("/portcullis/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["username"], "ann");
    assert_eq!(me["data"]["roles"], json!(["admin"]));
    assert_eq!(me["data"]["claims"], Value::Null);

    // The id from before the login opens nothing.
    let old = client()
        .get(gateway.url("/portcullis/me"))
        .header(COOKIE, &guest)
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);

    // Logout (a form, with its token) ends the session and removes the cookie.
    let token = tab.token("/app/account").await;
    let logout = tab
        .post("/portcullis/logout")
        .form(&[("csrf", token.as_str()), ("redirect", "//evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&logout), "/", "never an open redirect");
    let removed = set_cookie(&logout, SESSION).expect("the cookie is removed");
    assert!(removed.contains("Max-Age=0"), "{removed}");
    let ended = tab.cookie.clone().unwrap();
    for path in ["/portcullis/me", "/app/orders"] {
        let after = client()
            .get(gateway.url(path))
            .header(COOKIE, &ended)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(
            after.status(),
            StatusCode::UNAUTHORIZED,
            "{path} after logout"
        );
    }
}

/// The value of query parameter `name` in `url`, decoded.
fn url_param(url: &str, name: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    let pairs: HashMap<String, String> = query
        .split('&')
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect();
    pairs[name].clone()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_tokens_guard_what_reaches_the_upstream() {
    let (upstream, _) = start_upstream().await;
    let gateway = Gateway::start(&browser_settings(upstream)).await;
    let mut tab = Tab::new(&gateway);
    let before_login = tab.token("/login").await;

    // A guest's form post without the token, or with a made-up one, is refused.
    let missing = tab
        .post("/contact")
        .form(&[("text", "hi")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert_eq!(missing.text().await.unwrap(), "CSRF token missing");
    let wrong = tab
        .post("/contact")
        .header("x-csrf-token", "x".repeat(43))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    // With the token the upstream received, it passes (in a form field as in a header).
    let passed = tab
        .post("/contact")
        .form(&[("csrf", before_login.as_str()), ("text", "hi")])
        .send()
        .await
        .unwrap();
    assert_eq!(passed.status(), StatusCode::OK);

    // The login form needs it too.
    let forged = tab
        .post("/portcullis/login")
        .form(&[("username", "ann"), ("password", "ann-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let login = tab
        .post("/portcullis/login")
        .form(&[
            ("username", "ann"),
            ("password", "ann-password"),
            ("csrf", &before_login),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&login), "/");
    tab.keep(&login).unwrap();

    // A token from before the login is refused after it; the new one passes.
    let stale = tab
        .post("/api/orders")
        .header("x-csrf-token", &before_login)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::FORBIDDEN);
    assert_eq!(stale.text().await.unwrap(), "CSRF token invalid");
    let token = tab.token("/app/orders").await;
    let post = tab
        .post("/api/orders")
        .header("x-csrf-token", &token)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::OK);
    let echoed: Value = post.json().await.unwrap();
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["headers"]["x-portcullis-username"], "ann");

    // Excluded paths need no token.
    let hook = client()
        .post(gateway.url("/hooks/payment"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), StatusCode::OK);

    // The endpoint gives the token to authenticated users only: the same the upstream got.
    let guest = client()
        .get(gateway.url("/portcullis/csrf/generate"))
        .send()
        .await
        .unwrap();
    assert_eq!(guest.status(), StatusCode::UNAUTHORIZED);
    let generated = tab.get("/portcullis/csrf/generate").send().await.unwrap();
    assert_eq!(generated.status(), StatusCode::OK);
    assert_eq!(generated.headers()["cache-control"], "no-store");
    assert_eq!(generated.text().await.unwrap(), token);
    let named = tab
        .get("/portcullis/csrf/generate/checkout")
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), StatusCode::OK);
    let named = named.text().await.unwrap();
    assert!(named.len() == 43 && named != token, "a token of its own");

    // JSON logins need no token (no other site can send JSON without a preflight).
    let json_login = client()
        .post(gateway.url("/portcullis/login"))
        .json(&json!({ "username": "bob", "password": "bob-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(json_login.status(), StatusCode::OK);
    assert!(set_cookie(&json_login, SESSION).is_some());
    let body: Value = json_login.json().await.unwrap();
    assert_eq!(body["data"]["username"], "bob");
    assert_eq!(body["data"]["redirect"], "/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_metadata_refuses_cross_site_posts() {
    let (upstream, _) = start_upstream().await;
    let gateway = Gateway::start(&browser_settings(upstream)).await;
    let post = |path: &str, site: &str| {
        client()
            .post(gateway.url(path))
            .header("sec-fetch-site", site)
            .form(&[("username", "ann"), ("password", "ann-password")])
            .send()
    };
    // Excluded from the token check, the webhook still refuses a cross-site form.
    let cross = post("/hooks/payment", "cross-site").await.unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    assert_eq!(cross.text().await.unwrap(), "Cross-site request refused");
    assert_eq!(
        post("/hooks/payment", "same-origin")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // The login too: no login CSRF.
    assert_eq!(
        post("/portcullis/login", "cross-site")
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    // Safe methods are never refused…
    let get = client()
        .get(gateway.url("/hooks/payment"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::OK);
    // …but a WebSocket handshake is not a safe GET: it would carry the session cookie into
    // another site's connection.
    let handshake = client()
        .get(gateway.url("/chat"))
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example")
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(handshake.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_form_logins_go_back_to_the_form_and_lockouts_are_logged() {
    let (upstream, _) = start_upstream().await;
    let mut gateway = Gateway::start(&browser_settings(upstream)).await;
    let page = gateway.url("/login?_securedURL=%2Fapp&error=old");
    let (token, cookie) = {
        let mut tab = Tab::new(&gateway);
        let token = tab.token("/login").await;
        (token, tab.cookie.unwrap())
    };
    let attempt = |password: &str, referer: Option<&str>| {
        let request = client()
            .post(gateway.url("/portcullis/login"))
            .header(COOKIE, &cookie)
            .form(&[
                ("username", "Bob"),
                ("password", password),
                ("csrf", token.as_str()),
            ]);
        match referer {
            Some(referer) => request.header(REFERER, referer),
            None => request,
        }
        .send()
    };

    // From the login page: back to it, with the reason, the rest of its query kept.
    let failed = attempt("first-guess", Some(&page)).await.unwrap();
    assert_eq!(failed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&failed),
        "/login?_securedURL=%2Fapp&error=invalid_credentials"
    );
    // Without a page of this origin to go back to: 401.
    let failed = attempt("second-guess", Some("https://evil.example/login"))
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let body: Value = failed.json().await.unwrap();
    assert_eq!(body["messages"], json!(["Invalid Credentials"]));

    // Two failures lock the username: even the right password waits.
    let locked = attempt("bob-password", Some(&page)).await.unwrap();
    assert_eq!(locked.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&locked), "/login?_securedURL=%2Fapp&error=locked");

    // The security event log says so, on stderr, without the passwords.
    let failure = line_with(&mut gateway.stderr, "event=\"login_failure\"").await;
    assert!(failure.contains("user=\"bob\""), "{failure}");
    let lockout = line_with(&mut gateway.stderr, "event=\"login_lockout\"").await;
    assert!(lockout.contains("WARN"), "{lockout}");
    assert!(lockout.contains("portcullis::security"), "{lockout}");
    assert!(lockout.contains("user=\"bob\""), "{lockout}");
    assert!(lockout.contains("ip=127.0.0.1"), "{lockout}");
    assert!(lockout.contains("failures=2"), "{lockout}");
    for line in [&failure, &lockout] {
        assert!(!line.contains("guess") && !line.contains(&token), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_clients_need_no_csrf_token() {
    let (upstream, _) = start_upstream().await;
    let gateway = Gateway::start(&settings(
        upstream,
        "\n[csrf]\nenable_auto_verifier = true\n",
    ))
    .await;
    let http = client();
    // A JSON login needs no token and issues tokens (provider jwt).
    let pair = login(&gateway, "ann", "ann-password").await;
    let access = text(&pair["access_token"]).to_owned();
    // A browser never adds Authorization by itself: such requests are not checked.
    let post = http
        .post(gateway.url("/api/orders"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    let seen = upstream_headers(post).await;
    assert_eq!(seen["x-portcullis-username"], "ann");
    assert!(
        !seen.contains_key(TOKEN_HEADER),
        "no token is made for them"
    );
    // A guest's form is.
    let guest = http
        .post(gateway.url("/contact"))
        .form(&[("text", "hi")])
        .send()
        .await
        .unwrap();
    assert_eq!(guest.status(), StatusCode::FORBIDDEN);
}

#[test]
fn an_unknown_provider_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portcullis.toml");
    std::fs::write(
        &path,
        "[gateway]\nupstream = \"http://127.0.0.1:9\"\n[authentication]\nprovider = \"ldap\"",
    )
    .unwrap();
    let output = command(&["serve", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("authentication.provider"), "{stderr}");
    assert!(
        stderr.contains("\"session\""),
        "names the choices: {stderr}"
    );
}

/// Redis's URL from `PORTCULLIS_TEST_REDIS_URL` (set by `scripts/test.sh`); `None` (skip)
/// only when `PORTCULLIS_SKIP_SERVICES=1`.
fn redis_url() -> Option<String> {
    match std::env::var("PORTCULLIS_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("PORTCULLIS_SKIP_SERVICES").as_deref() == Ok("1") => {
            eprintln!("PORTCULLIS_TEST_REDIS_URL is not set: skipped");
            None
        }
        _ => panic!(
            "PORTCULLIS_TEST_REDIS_URL is not set: run scripts/test.sh, or set \
             PORTCULLIS_SKIP_SERVICES=1 to skip this test"
        ),
    }
}

/// Sessions live in the store of `jwt.token_storage.driver`: on Redis, two gateways share
/// them — a login on one is a login on the other, and so is a logout. With
/// `csrf.storage = "shared"` so do CSRF tokens: a token made through one gateway is accepted
/// by the other, and the health report checks the token store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_on_redis_are_shared_by_every_instance() {
    let Some(url) = redis_url() else { return };
    let (upstream, _) = start_upstream().await;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let namespace = format!("gwb{}x{nanos}", std::process::id());
    let settings = settings_with(
        upstream,
        "auth",
        &format!(
            r#"
            [authentication]
            provider = "session"
            [session]
            key_prefix = "{namespace}_session_"
            [csrf]
            enable_auto_verifier = true
            storage = "shared"
            key_prefix = "{namespace}_csrf_"
            [jwt.token_storage]
            driver = "redis"
            key_prefix = "{namespace}_tokens_"
            properties = {{ url = "{url}" }}
            "#
        ),
    );
    let one = Gateway::start(&settings).await;
    let two = Gateway::start(&settings).await;

    let login = client()
        .post(one.url("/portcullis/login"))
        .json(&json!({ "username": "ann", "password": "ann-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = pair(&set_cookie(&login, SESSION).unwrap());
    let me = |gateway: &Gateway| {
        client()
            .get(gateway.url("/portcullis/me"))
            .header(COOKIE, &cookie)
            .send()
    };
    let on_two = me(&two).await.unwrap();
    assert_eq!(on_two.status(), StatusCode::OK);
    let body: Value = on_two.json().await.unwrap();
    assert_eq!(body["data"]["username"], "ann");

    // The token the upstream got through one is good on two; without it two refuses.
    let page = client()
        .get(one.url("/orders/new"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    let token = upstream_headers(page).await[TOKEN_HEADER].clone();
    let post = |token: &str| {
        client()
            .post(two.url("/orders"))
            .header(COOKIE, &cookie)
            .header("x-csrf-token", token)
            .form(&[("item", "tea")])
            .send()
    };
    let accepted = post(&token).await.unwrap();
    let seen = upstream_headers(accepted).await;
    assert_eq!(seen["x-portcullis-username"], "ann");
    assert_eq!(
        seen[TOKEN_HEADER], token,
        "two hands the upstream the same token"
    );
    let forged = post(&"x".repeat(43)).await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let (_, report) = health(&two).await;
    assert_eq!(report["checks"]["csrf"]["status"], "up", "{report}");

    let logout = client()
        .post(two.url("/portcullis/logout"))
        .header(COOKIE, &cookie)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::OK);
    assert_eq!(me(&one).await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

/// The annotated browser setup of `docs/gateway.md` loads, and a user logs in through it: a
/// guest is sent to the login page, the form logs in, the upstream sees the user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_browser_setup_works() {
    let doc = include_str!("../../../docs/gateway.md");
    let start = doc.find("<!-- gateway-browser-example:start -->").unwrap();
    let end = doc.find("<!-- gateway-browser-example:end -->").unwrap();
    let block = &doc[start..end];
    let toml = &block[block.find("```toml\n").unwrap() + 8..block.rfind("```").unwrap()];
    let (upstream, _) = start_upstream().await;
    let toml = toml
        .replace("http://10.0.0.5:3000", &format!("http://{upstream}"))
        .replace("secret_key = \"\"", &format!("secret_key = \"{SECRET}\""));
    let redis = "redis://cache.internal:6379/0";
    let toml = match redis_url() {
        Some(url) => toml.replace(redis, &url),
        None => toml
            .replace("driver = \"redis\"", "driver = \"memory\"")
            .replace(&format!("properties = {{ url = \"{redis}\" }}"), ""),
    };
    let toml = format!("{toml}\n[basic_auth.users.ann]\npassword = \"plain:ann-password\"\n");
    let gateway = Gateway::start(&toml).await;
    let mut tab = Tab::new(&gateway);

    let refused = tab.get("/account").send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FOUND);
    let to_login = location(&refused).to_owned();
    assert!(to_login.starts_with("/login?_securedURL="), "{to_login}");
    let token = tab.token(&to_login).await;
    let login = tab
        .post("/portcullis/login")
        .form(&[
            ("username", "ann"),
            ("password", "ann-password"),
            ("csrf", token.as_str()),
            ("_securedURL", url_param(&to_login, "_securedURL").as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&login), "/account");
    tab.keep(&login).unwrap();
    let seen = tab.page("/account").await;
    assert_eq!(seen["x-portcullis-username"], "ann");
}
