//! The example API over real HTTP: every firewall behaviour of cbsecurity's spec §2–§3 and the
//! helpers of §9, with portcullis's fixes. Clients never follow redirects; a second client
//! connects from 127.0.0.2, the example's trusted proxy.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use portcullis::events::{EventBus, SecurityEvent};
use portcullis::firewall::Module;
use portcullis::settings::{ModuleFirewallSettings, Settings};
use portcullis_example_api::{build, serve, App, SETTINGS};
use reqwest::header::{HeaderMap, ACCEPT, LOCATION, WWW_AUTHENTICATE};
use reqwest::redirect::Policy;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::Value;

struct Server {
    base: String,
    port: u16,
    app: App,
    events: Arc<Mutex<Vec<SecurityEvent>>>,
    client: Client,
    proxy: Client,
}

async fn start(edit: impl FnOnce(&mut Settings)) -> Server {
    let mut settings = Settings::from_toml_str(SETTINGS).unwrap();
    edit(&mut settings);
    let events = Arc::new(Mutex::new(Vec::new()));
    let log = events.clone();
    let bus =
        EventBus::new().on(move |event: &SecurityEvent| log.lock().unwrap().push(event.clone()));
    let app = build(settings, bus).await.unwrap();
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(serve(listener, app.router.clone()));
    let client = Client::builder().redirect(Policy::none()).build().unwrap();
    let proxy = Client::builder()
        .redirect(Policy::none())
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .unwrap();
    Server {
        base: format!("http://127.0.0.1:{port}"),
        port,
        app,
        events,
        client,
        proxy,
    }
}

async fn server() -> Server {
    start(|_| {}).await
}

impl Server {
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(Method::GET, path).header(ACCEPT, "text/html")
    }

    async fn token(&self, user: &str) -> String {
        let response = self
            .client
            .post(format!("{}/login", self.base))
            .json(&serde_json::json!({"username": user, "password": format!("{user}-password")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "login of {user}");
        response.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn as_user(&self, user: &str, method: Method, path: &str) -> Response {
        let token = self.token(user).await;
        self.request(method, path)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    fn event_names(&self) -> Vec<&'static str> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.name())
            .collect()
    }
}

fn location(response: &Response) -> &str {
    response.headers()[LOCATION].to_str().unwrap()
}

async fn json(response: Response) -> Value {
    response.json().await.unwrap()
}

/// The body of the `/denied` override target: which rule refused, and why.
async fn denied_by(response: Response) -> (Option<String>, Vec<String>) {
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response.headers().get(LOCATION).is_none(),
        "an override is not a redirect"
    );
    let body = json(response).await;
    let rule = body["rule"].as_str().map(str::to_owned);
    let messages = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    (rule, messages)
}

#[tokio::test]
async fn requests_no_rule_applies_to_pass() {
    let s = server().await;
    assert_eq!(
        s.get("/public/info").send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        s.get("/no/such/page").send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert!(s.event_names().is_empty());
}

#[tokio::test]
async fn authentication_failures_redirect_browsers_and_answer_json_clients_with_401() {
    let s = server().await;
    let browser = s.get("/orders/?page=2").send().await.unwrap();
    assert_eq!(browser.status(), StatusCode::FOUND);
    let expected = format!(
        "/login?_securedURL=http%3A%2F%2F127.0.0.1%3A{}%2Forders%2F%3Fpage%3D2",
        s.port
    );
    assert_eq!(location(&browser), expected);
    let login = s.get(&expected).send().await.unwrap().text().await.unwrap();
    assert!(login.contains(&format!("http://127.0.0.1:{}/orders/?page=2", s.port)));

    let api = s
        .request(Method::GET, "/orders/")
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        api.headers()[WWW_AUTHENTICATE],
        "Bearer realm=\"portcullis\""
    );
    let body = json(api).await;
    assert_eq!(body["error"], true);
    assert!(body["messages"][0]
        .as_str()
        .unwrap()
        .starts_with("not_found"));
}

#[tokio::test]
async fn permissions_come_from_the_token_scope_and_roles_from_the_user() {
    let s = server().await;
    assert_eq!(
        s.as_user("bob", Method::GET, "/orders/").await.status(),
        StatusCode::OK
    );
    let (rule, messages) = denied_by(s.as_user("carol", Method::GET, "/orders/").await).await;
    assert_eq!(rule.as_deref(), Some("orders"));
    assert_eq!(
        messages,
        ["Not authorized: needs a permission of [orders:read]"]
    );
    // Roles, any of: an auditor and an admin pass, an authenticated user without them is blocked.
    assert_eq!(
        s.as_user("carol", Method::GET, "/reports/summary")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        s.as_user("alice", Method::GET, "/reports/summary")
            .await
            .status(),
        StatusCode::OK
    );
    let blocked = s.as_user("bob", Method::GET, "/reports/summary").await;
    assert_eq!(blocked.status(), StatusCode::FORBIDDEN);
    assert_eq!(blocked.text().await.unwrap(), "<h1>Forbidden</h1>");
    let guest = s.get("/reports/summary").send().await.unwrap();
    assert_eq!(
        guest.status(),
        StatusCode::UNAUTHORIZED,
        "block: 401 for authentication"
    );
    assert_eq!(
        guest.headers()[WWW_AUTHENTICATE],
        "Bearer realm=\"portcullis\""
    );
}

#[tokio::test]
async fn method_lists_are_enforced_after_the_match_not_used_to_match() {
    let s = server().await;
    let (rule, messages) = denied_by(s.as_user("bob", Method::POST, "/orders/").await).await;
    assert_eq!(rule.as_deref(), Some("orders"));
    assert_eq!(messages, ["Detected HTTP Method is not allowed"]);
    assert_eq!(
        s.as_user("alice", Method::POST, "/orders/new")
            .await
            .status(),
        StatusCode::CREATED
    );
    // GET /orders/new matches `orders-new` (POST only): refused, not passed to `orders`.
    let (rule, _) = denied_by(s.as_user("alice", Method::GET, "/orders/new").await).await;
    assert_eq!(rule.as_deref(), Some("orders-new"));
}

#[tokio::test]
async fn ip_lists_take_cidr_and_believe_forwarding_only_from_trusted_proxies() {
    let s = server().await;
    let token = s.token("alice").await;
    let direct = s
        .request(Method::GET, "/internal/status")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), StatusCode::FORBIDDEN);
    let spoofed = s
        .request(Method::GET, "/internal/status")
        .bearer_auth(&token)
        .header("x-forwarded-for", "192.0.2.5")
        .send()
        .await
        .unwrap();
    assert_eq!(
        spoofed.status(),
        StatusCode::FORBIDDEN,
        "127.0.0.1 is not a trusted proxy"
    );
    let proxied = s
        .proxy
        .get(format!("{}/internal/status", s.base))
        .bearer_auth(&token)
        .header("x-forwarded-for", "6.6.6.6, 192.0.2.5")
        .send()
        .await
        .unwrap();
    assert_eq!(
        proxied.status(),
        StatusCode::OK,
        "the rightmost untrusted hop is in 192.0.2.0/24"
    );

    let whoami = |client: &Client, xff: &str| {
        client
            .get(format!("{}/whoami", s.base))
            .header("x-forwarded-for", xff.to_owned())
            .send()
    };
    assert_eq!(
        whoami(&s.client, "192.0.2.9")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "127.0.0.1"
    );
    assert_eq!(
        whoami(&s.proxy, "192.0.2.9")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "192.0.2.9"
    );
}

#[tokio::test]
async fn redirects_to_absolute_https_urls_and_forced_https() {
    let s = server().await;
    let legacy = s.get("/legacy/page").send().await.unwrap();
    assert_eq!(legacy.status(), StatusCode::FOUND);
    assert!(
        location(&legacy).starts_with("https://sso.example.com/login?_securedURL=http%3A%2F%2F"),
        "cbsecurity's ^http?: treated https URLs as events: {}",
        location(&legacy)
    );
    let account = s.get("/account/settings").send().await.unwrap();
    assert!(
        location(&account).starts_with(&format!("https://127.0.0.1:{}/login?_securedURL=", s.port)),
        "{}",
        location(&account)
    );
}

#[tokio::test]
async fn a_whitelist_skips_its_rule_only() {
    let s = server().await;
    // `docs` is whitelisted for /docs/public/, so `docs-public` (any signed-in user) applies.
    assert_eq!(
        s.get("/docs/public/intro").send().await.unwrap().status(),
        StatusCode::FOUND
    );
    assert_eq!(
        s.as_user("bob", Method::GET, "/docs/public/intro")
            .await
            .status(),
        StatusCode::OK
    );
    let (rule, _) = denied_by(s.as_user("bob", Method::GET, "/docs/private/plan").await).await;
    assert_eq!(rule.as_deref(), Some("docs"));
    assert_eq!(
        s.as_user("alice", Method::GET, "/docs/private/plan")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn route_rules_match_the_route_template() {
    let s = server().await;
    let (rule, _) = denied_by(s.as_user("bob", Method::GET, "/users/42").await).await;
    assert_eq!(rule.as_deref(), Some("users"));
    let alice = s.as_user("alice", Method::GET, "/users/42").await;
    assert_eq!(alice.text().await.unwrap(), "user 42");
}

#[tokio::test]
async fn url_matching_ignores_case_and_normalises_the_path() {
    let s = server().await;
    for path in [
        "/ORDERS/",
        "/%6Frders/",
        "//orders/",
        "/public/%2E%2E/orders/",
    ] {
        let response = s.get(path).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::FOUND,
            "{path} must meet the orders rule"
        );
    }
}

#[tokio::test]
async fn an_override_answers_with_the_target_route_in_the_same_request() {
    let s = server().await;
    let response = s.as_user("bob", Method::GET, "/vip/lounge").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = json(response).await;
    assert_eq!(body["rule"], "vip");
    assert_eq!(body["messages"][0], "Not authorized: needs a role of [vip]");
    assert_eq!(
        body["secured_url"],
        format!("http://127.0.0.1:{}/vip/lounge", s.port)
    );
    // JSON clients get a 403 envelope instead.
    let token = s.token("bob").await;
    let api = s
        .request(Method::GET, "/vip/lounge")
        .bearer_auth(token)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(api).await["error"], true);
}

#[tokio::test]
async fn modules_have_their_rules_defaults_actions_and_validators() {
    let s = server().await;
    // admin: the module's `defaults` fill the rule's empty roles (cbsecurity's defaults could
    // not), and its authorization action is block.
    let bob = s.as_user("bob", Method::GET, "/admin/dashboard").await;
    assert_eq!(bob.status(), StatusCode::FORBIDDEN);
    assert_eq!(bob.text().await.unwrap(), "<h1>Forbidden</h1>");
    assert_eq!(
        s.as_user("alice", Method::GET, "/admin/dashboard")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        s.get("/admin/dashboard").send().await.unwrap().status(),
        StatusCode::FOUND
    );

    // ops: Basic auth; its challenge is always sent, although the global action redirects.
    let guest = s.get("/ops/health").send().await.unwrap();
    assert_eq!(guest.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        guest.headers()[WWW_AUTHENTICATE],
        "Basic realm=\"Operations\", charset=\"UTF-8\""
    );
    assert_eq!(
        guest.headers()["cache-control"],
        "no-cache, must-revalidate, max-age=0"
    );
    let wrong = s
        .get("/ops/health")
        .basic_auth("alice", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = s
        .get("/ops/health")
        .basic_auth("alice", Some("alice-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(right.text().await.unwrap(), "ok, alice");
}

#[tokio::test]
async fn modules_register_and_leave_at_run_time_without_losing_requests() {
    let s = server().await;
    assert_eq!(
        s.get("/lab/x").send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let settings: ModuleFirewallSettings = toml::from_str(
        r#"
        default_authentication_action = "block"
        rules = [ { secureList = "^/lab/", match = "url" } ]
        "#,
    )
    .unwrap();
    let module = Module::from_settings("lab", settings, s.app.firewall.settings())
        .await
        .unwrap();
    assert_eq!(module.entry_point, "/lab");
    let hammer = {
        let client = s.client.clone();
        let url = format!("{}/lab/x", s.base);
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..200 {
                statuses.push(
                    client
                        .get(&url)
                        .send()
                        .await
                        .expect("no request is lost")
                        .status(),
                );
            }
            statuses
        })
    };
    s.app.firewall.register_module(module).unwrap();
    assert_eq!(
        s.app.firewall.ruleset().rules()[0].module(),
        Some("lab"),
        "the newest module first"
    );
    assert_eq!(
        s.get("/lab/x").send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(s.app.firewall.unregister_module("lab").unwrap());
    assert_eq!(
        s.get("/lab/x").send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    for status in hammer.await.unwrap() {
        assert!(
            matches!(status, StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED),
            "{status}"
        );
    }
}

#[tokio::test]
async fn guards_cascade_from_router_to_route() {
    let s = server().await;
    assert_eq!(
        s.get("/billing/invoices").send().await.unwrap().status(),
        StatusCode::FOUND
    );
    assert_eq!(
        s.as_user("bob", Method::GET, "/billing/invoices")
            .await
            .status(),
        StatusCode::OK
    );
    let (_, messages) = denied_by(s.as_user("carol", Method::GET, "/billing/invoices").await).await;
    assert_eq!(
        messages,
        ["Not authorized: needs a permission of [billing:read]"],
        "the group guard"
    );
    let (_, messages) = denied_by(s.as_user("bob", Method::GET, "/billing/export").await).await;
    assert_eq!(
        messages,
        ["Not authorized: needs a permission of [billing:export]"],
        "the route guard"
    );
    assert_eq!(
        s.as_user("alice", Method::GET, "/billing/export")
            .await
            .status(),
        StatusCode::OK
    );
    // `secured("true")` asks for a user, not for a permission named "true".
    assert_eq!(
        s.get("/profile").send().await.unwrap().status(),
        StatusCode::FOUND
    );
    let carol = s.as_user("carol", Method::GET, "/profile").await;
    assert_eq!(carol.text().await.unwrap(), "profile of carol");
    assert_eq!(
        s.get("/open").send().await.unwrap().status(),
        StatusCode::OK
    );
    let refusals = s
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            SecurityEvent::InvalidAuthorization(access) => access.guard,
            _ => None,
        })
        .count();
    assert_eq!(refusals, 2);
}

#[tokio::test]
async fn guards_are_off_when_annotation_security_is() {
    let s = start(|settings| settings.firewall.handler_annotation_security = false).await;
    assert_eq!(
        s.as_user("bob", Method::GET, "/billing/export")
            .await
            .status(),
        StatusCode::OK
    );
    // The guard no longer redirects the guest; the handler's own `CurrentUser` still needs a
    // user and answers 401.
    let guest = s.get("/profile").send().await.unwrap();
    assert_eq!(guest.status(), StatusCode::UNAUTHORIZED);
    assert!(guest.headers().get(LOCATION).is_none());
}

#[tokio::test]
async fn events_carry_the_refusal_and_interceptors_take_over_without_letting_through() {
    let s = server().await;
    let honeypot = s.get("/honeypot").send().await.unwrap();
    assert_eq!(honeypot.status(), StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS);
    assert_eq!(honeypot.text().await.unwrap(), "nothing here");
    assert_eq!(
        s.app.honeypot_hits.load(Ordering::SeqCst),
        0,
        "the handler never ran"
    );
    let _ = s.as_user("bob", Method::GET, "/vip/lounge").await;
    let events = s.events.lock().unwrap();
    let accesses: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SecurityEvent::InvalidAuthentication(a) => Some(("authentication", a)),
            SecurityEvent::InvalidAuthorization(a) => Some(("authorization", a)),
            _ => None,
        })
        .collect();
    assert_eq!(accesses.len(), 2);
    let (kind, first) = &accesses[0];
    assert_eq!(*kind, "authentication");
    assert_eq!(first.rule.as_ref().unwrap().id(), "honeypot");
    assert_eq!(first.ip, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(first.uri.path(), "/honeypot");
    let (kind, second) = &accesses[1];
    assert_eq!(*kind, "authorization");
    assert_eq!(second.action.as_str(), "override");
    assert_eq!(
        second.verdict.messages,
        ["Not authorized: needs a role of [vip]"]
    );
}

#[tokio::test]
async fn cbsecurity_helpers_answer_for_the_current_user() {
    let s = server().await;
    let body = json(
        s.as_user(
            "bob",
            Method::GET,
            "/security/check?permissions=orders:read,orders:write",
        )
        .await,
    )
    .await;
    assert_eq!(body["has"], true);
    assert_eq!(body["all"], false);
    assert_eq!(body["none"], false);
    assert_eq!(body["guest"], false);
    assert_eq!(body["branch"], "granted to bob");
    let refused = s
        .as_user(
            "bob",
            Method::GET,
            "/security/check?permissions=users:read&secure=true",
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(refused).await["messages"][0], "Not authorized!");
}

#[tokio::test]
async fn logout_revokes_and_refresh_rotates_through_the_firewall() {
    let s = server().await;
    let pair: Value = s
        .client
        .post(format!("{}/login", s.base))
        .json(&serde_json::json!({"username": "bob", "password": "bob-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = pair["access_token"].as_str().unwrap();
    let refreshed = s
        .client
        .post(format!("{}/portcullis/refreshtoken", s.base))
        .header("x-refresh-token", pair["refresh_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let fresh = json(refreshed).await["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        s.request(Method::GET, "/me")
            .bearer_auth(&fresh)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let logout = s
        .request(Method::POST, "/logout")
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let after: HeaderMap = s
        .get("/me")
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap()
        .headers()
        .clone();
    assert!(
        after[LOCATION].to_str().unwrap().starts_with("/login?"),
        "a revoked token is a guest"
    );
    let wrong = s
        .client
        .post(format!("{}/login", s.base))
        .json(&serde_json::json!({"username": "bob", "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(wrong).await["messages"][0], "Invalid Credentials");
    // The first access token was revoked by the rotation (revoke_access_on_refresh).
    let old = s.get("/me").bearer_auth(access).send().await.unwrap();
    assert_eq!(old.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn register_then_use_the_api_and_stay_out_of_the_admin_area() {
    let s = server().await;
    let register = |username: &str, password: &str| {
        s.client
            .post(format!("{}/register", s.base))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
    };
    let created = register("dave", "dave-password").await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let pair = json(created).await;
    let access = pair["access_token"].as_str().unwrap().to_owned();
    assert!(pair["refresh_token"].is_string());

    // The new user has the default permission (orders:read) and no role.
    let me = s
        .request(Method::GET, "/me")
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    let me = json(me).await;
    assert_eq!(me["username"], "dave");
    assert_eq!(me["scope"], "orders:read");
    let orders = s
        .request(Method::GET, "/orders/")
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(orders.status(), StatusCode::OK);
    let admin = s
        .request(Method::GET, "/admin/dashboard")
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), StatusCode::FORBIDDEN);

    // Taken names (ignoring case) and short passwords are refused.
    assert_eq!(
        register("Dave", "another-password").await.unwrap().status(),
        StatusCode::CONFLICT
    );
    assert_eq!(
        register("erin", "short").await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    // The registered user logs in like the seeded ones.
    assert!(!s.token("dave").await.is_empty());
}
