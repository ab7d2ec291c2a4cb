//! Security headers, HTTPS redirects and host/IP validation over real HTTP: an axum server on
//! 127.0.0.1 behind `HeadersLayer::from_settings`, a reqwest client that never follows
//! redirects. The peer is always 127.0.0.1; "trusted proxy" means
//! `firewall.trusted_proxies = ["127.0.0.1/32"]`.
#![cfg(feature = "headers")]

mod common;

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::Router;
use portcullis::events::{EventBus, FirewallBlock, SecurityEvent};
use portcullis::headers::{CspNonce, HeadersLayer};
use portcullis::settings::Settings;

struct Server {
    base: String,
    client: reqwest::Client,
    events: Arc<Mutex<Vec<FirewallBlock>>>,
}

async fn serve(toml: &str) -> Server {
    let settings = Settings::from_toml_str(toml).expect("valid settings");
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let bus = EventBus::new().on(move |event: &SecurityEvent| {
        if let SecurityEvent::FirewallBlock(block) = event {
            seen.lock().unwrap().push(block.clone());
        }
    });
    let app = Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/echo", any(|| async { "echo" }))
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/framed",
            get(|| async { ([("x-frame-options", "DENY")], "mine").into_response() }),
        )
        .route(
            "/nonce",
            get(|nonce: CspNonce| async move { nonce.as_str().to_owned() }),
        )
        .layer(HeadersLayer::from_settings(&settings, bus).expect("valid layer"));
    let base = common::server::serve(app).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Server {
        base,
        client,
        events,
    }
}

impl Server {
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        self.send(reqwest::Method::GET, path, headers).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    fn blocks(&self) -> Vec<FirewallBlock> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

const DEFAULT_HEADERS: [(&str, &str); 7] = [
    ("x-frame-options", "SAMEORIGIN"),
    ("x-xss-protection", "0"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("origin-agent-cluster", "?1"),
];

fn assert_default_headers(headers: &HeaderMap) {
    for (name, value) in DEFAULT_HEADERS {
        assert_eq!(header(headers, name), Some(value), "{name}");
    }
}

#[tokio::test]
async fn defaults_are_on_every_response() {
    let server = serve("").await;
    for (path, status) in [("/", 200), ("/missing", 404), ("/fail", 500)] {
        let response = server.get(path, &[]).await;
        assert_eq!(response.status(), status, "{path}");
        let headers = response.headers();
        assert_default_headers(headers);
        for absent in [
            "strict-transport-security",
            "content-security-policy",
            "content-security-policy-report-only",
            "permissions-policy",
        ] {
            assert!(headers.get(absent).is_none(), "{absent} on {path}");
        }
    }
}

#[tokio::test]
async fn configured_values_are_sent_as_configured() {
    let server = serve(
        r#"
        [security_headers]
        frame_options = { value = "deny" }
        xss_protection = { mode = "block" }
        referrer_policy = { policy = "no-referrer" }
        cross_origin_opener_policy = { value = "same-origin-allow-popups" }
        cross_origin_resource_policy = { value = "cross-origin" }
        origin_agent_cluster = { value = "?0" }
        permissions_policy = { enabled = true, value = "camera=(), geolocation=()" }
        content_type_options = { enabled = false }
        custom_headers = { "X-Team" = "platform", "Cache-Control" = "no-store" }
        "#,
    )
    .await;
    let response = server.get("/", &[]).await;
    let headers = response.headers();
    for (name, value) in [
        ("x-frame-options", "DENY"),
        ("x-xss-protection", "1; mode=block"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin-allow-popups"),
        ("cross-origin-resource-policy", "cross-origin"),
        ("origin-agent-cluster", "?0"),
        ("permissions-policy", "camera=(), geolocation=()"),
        ("x-team", "platform"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(header(headers, name), Some(value), "{name}");
    }
    assert!(headers.get("x-content-type-options").is_none());
}

#[tokio::test]
async fn hsts_only_over_https_from_a_trusted_proxy() {
    let hsts = r#"
        [security_headers.hsts]
        include_sub_domains = true
        preload = true
    "#;
    let trusted = serve(&format!(
        "[firewall]\ntrusted_proxies = [\"127.0.0.1/32\"]\n{hsts}"
    ))
    .await;
    let https = [("x-forwarded-proto", "https")];
    let response = trusted.get("/", &https).await;
    assert_eq!(
        header(response.headers(), "strict-transport-security"),
        Some("max-age=31536000; includeSubDomains; preload")
    );
    let plain = trusted.get("/", &[]).await;
    assert!(plain.headers().get("strict-transport-security").is_none());

    let untrusted = serve(hsts).await;
    let spoofed = untrusted.get("/", &https).await;
    assert!(
        spoofed.headers().get("strict-transport-security").is_none(),
        "X-Forwarded-Proto from an untrusted peer is ignored"
    );

    let short = serve(
        "[firewall]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[security_headers.hsts]\nmax_age = 600",
    )
    .await;
    let response = short.get("/", &https).await;
    assert_eq!(
        header(response.headers(), "strict-transport-security"),
        Some("max-age=600")
    );
}

#[tokio::test]
async fn csp_nonces_are_fresh_and_reach_the_handler() {
    let server = serve(
        r#"
        [security_headers.content_security_policy]
        enabled = true
        policy = "default-src 'self'; script-src 'self'; style-src 'self'"
        nonce = true
        "#,
    )
    .await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let response = server.get("/nonce", &[]).await;
        let csp = header(response.headers(), "content-security-policy")
            .unwrap()
            .to_owned();
        let nonce = response.text().await.unwrap();
        assert_eq!(nonce.len(), 24, "128 bits in base64");
        assert_eq!(
            csp,
            format!(
                "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'"
            )
        );
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1]);

    let report_only = serve(
        r#"
        [security_headers.content_security_policy]
        enabled = true
        policy = "default-src 'self'; report-uri /csp"
        report_only = true
        "#,
    )
    .await;
    let response = report_only.get("/", &[]).await;
    assert!(response.headers().get("content-security-policy").is_none());
    assert_eq!(
        header(response.headers(), "content-security-policy-report-only"),
        Some("default-src 'self'; report-uri /csp")
    );

    let without_nonce = serve("").await;
    let response = without_nonce.get("/nonce", &[]).await;
    assert_eq!(
        response.status(),
        500,
        "asking for a nonce the layer does not make is a configuration error"
    );
}

#[tokio::test]
async fn the_application_s_own_headers_are_kept_unless_replacing() {
    let keep = serve("").await;
    let response = keep.get("/framed", &[]).await;
    assert_eq!(header(response.headers(), "x-frame-options"), Some("DENY"));

    let replace = serve("security_headers.replace_existing = true").await;
    let response = replace.get("/framed", &[]).await;
    assert_eq!(
        header(response.headers(), "x-frame-options"),
        Some("SAMEORIGIN")
    );
}

#[tokio::test]
async fn host_validation_refuses_other_hosts_and_announces_it() {
    let server = serve(
        r#"
        [security_headers.host_header_validation]
        enabled = true
        allowed_hosts = "app.example, api.example:8443"
        "#,
    )
    .await;
    for host in ["app.example", "APP.EXAMPLE", "api.example:8443"] {
        let response = server.get("/", &[("host", host)]).await;
        assert_eq!(response.status(), 200, "{host}");
    }
    assert!(server.blocks().is_empty());

    let response = server.get("/", &[("host", "evil.example")]).await;
    assert_eq!(response.status(), 403);
    assert_default_headers(response.headers());
    assert_eq!(response.text().await.unwrap(), "Invalid host");
    let blocks = server.blocks();
    assert_eq!(blocks.len(), 1);
    match &blocks[0] {
        FirewallBlock::HostHeader {
            config,
            incoming_host,
        } => {
            assert_eq!(incoming_host.as_deref(), Some("evil.example"));
            assert_eq!(config.allowed_hosts, ["app.example", "api.example:8443"]);
        }
        other => panic!("unexpected block {other:?}"),
    }
    assert_eq!(blocks[0].kind(), "hostheader");

    let port_differs = server.get("/", &[("host", "api.example:443")]).await;
    assert_eq!(port_differs.status(), 403, "the port is part of the host");

    let json = server
        .get(
            "/",
            &[("host", "evil.example"), ("accept", "application/json")],
        )
        .await;
    assert_eq!(json.status(), 403);
    let body: serde_json::Value = json.json().await.unwrap();
    assert_eq!(body["error"], true);
    assert_eq!(body["messages"][0], "Invalid host");

    // X-Forwarded-Host from an untrusted peer is ignored, both ways.
    let spoofed = server
        .get(
            "/",
            &[
                ("host", "evil.example"),
                ("x-forwarded-host", "app.example"),
            ],
        )
        .await;
    assert_eq!(spoofed.status(), 403);
    let ignored = server
        .get(
            "/",
            &[
                ("host", "app.example"),
                ("x-forwarded-host", "evil.example"),
            ],
        )
        .await;
    assert_eq!(ignored.status(), 200);
}

#[tokio::test]
async fn host_validation_believes_trusted_proxies_only_with_trust_upstream() {
    let allowed = r#"
        [security_headers.host_header_validation]
        enabled = true
        allowed_hosts = "app.example"
    "#;
    let forwarded = [
        ("host", "internal:8080"),
        ("x-forwarded-host", "app.example"),
    ];

    let upstream = serve(&format!(
        "[firewall]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[security_headers]\ntrust_upstream = true\n{allowed}"
    ))
    .await;
    assert_eq!(upstream.get("/", &forwarded).await.status(), 200);
    let evil = [
        ("host", "app.example"),
        ("x-forwarded-host", "evil.example"),
    ];
    assert_eq!(upstream.get("/", &evil).await.status(), 403);

    let no_upstream = serve(&format!(
        "[firewall]\ntrusted_proxies = [\"127.0.0.1/32\"]\n{allowed}"
    ))
    .await;
    assert_eq!(
        no_upstream.get("/", &forwarded).await.status(),
        403,
        "without trust_upstream the Host header is checked"
    );
}

#[tokio::test]
async fn ip_validation_allows_networks_and_honours_trusted_proxies() {
    let allowed = serve(
        "[security_headers.ip_validation]\nenabled = true\nallowed_ips = \"10.0.0.0/8, 127.0.0.0/8\"",
    )
    .await;
    assert_eq!(allowed.get("/", &[]).await.status(), 200);

    let refused =
        serve("[security_headers.ip_validation]\nenabled = true\nallowed_ips = [\"10.0.0.0/8\"]")
            .await;
    let response = refused.get("/", &[("x-forwarded-for", "10.1.1.1")]).await;
    assert_eq!(
        response.status(),
        403,
        "X-Forwarded-For from an untrusted peer"
    );
    assert_default_headers(response.headers());
    assert_eq!(response.text().await.unwrap(), "Invalid IP");
    let blocks = refused.blocks();
    assert_eq!(blocks.len(), 1);
    match &blocks[0] {
        FirewallBlock::IpValidation {
            config,
            incoming_ip,
        } => {
            assert_eq!(*incoming_ip, Some("127.0.0.1".parse().unwrap()));
            assert_eq!(config.allowed_ips, ["10.0.0.0/8".parse().unwrap()]);
        }
        other => panic!("unexpected block {other:?}"),
    }
    assert_eq!(blocks[0].kind(), "ipvalidation");

    let upstream = serve(
        r#"
        [firewall]
        trusted_proxies = ["127.0.0.1/32"]
        [security_headers]
        trust_upstream = true
        ip_validation = { enabled = true, allowed_ips = ["10.0.0.0/8"] }
        "#,
    )
    .await;
    let through_proxy = [("x-forwarded-for", "10.1.1.1")];
    assert_eq!(upstream.get("/", &through_proxy).await.status(), 200);
    // The client wrote 10.9.9.9 before a real outside address: the rightmost untrusted wins.
    let spoofed = [("x-forwarded-for", "10.9.9.9, 203.0.113.5")];
    assert_eq!(upstream.get("/", &spoofed).await.status(), 403);
    assert_eq!(
        upstream.get("/", &[]).await.status(),
        403,
        "the proxy itself"
    );
}

#[tokio::test]
async fn plain_http_is_redirected_to_https() {
    let server = serve("security_headers.secure_ssl_redirects.enabled = true").await;
    let host = [("host", "app.example:8080")];
    for (method, status) in [
        (reqwest::Method::GET, 301),
        (reqwest::Method::HEAD, 301),
        (reqwest::Method::POST, 308),
        (reqwest::Method::PUT, 308),
        (reqwest::Method::DELETE, 308),
    ] {
        let response = server.send(method.clone(), "/echo?a=1&b=%20", &host).await;
        assert_eq!(response.status(), status, "{method}");
        assert_eq!(
            header(response.headers(), "location"),
            Some("https://app.example/echo?a=1&b=%20")
        );
        assert_default_headers(response.headers());
        assert!(response
            .headers()
            .get("strict-transport-security")
            .is_none());
    }

    let spoofed = server
        .get(
            "/",
            &[("host", "app.example"), ("x-forwarded-proto", "https")],
        )
        .await;
    assert_eq!(
        spoofed.status(),
        301,
        "X-Forwarded-Proto from an untrusted peer is ignored"
    );

    let behind_proxy = serve(
        "[firewall]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[security_headers.secure_ssl_redirects]\nenabled = true\nhttps_port = 8443",
    )
    .await;
    let https = behind_proxy
        .get("/", &[("x-forwarded-proto", "https")])
        .await;
    assert_eq!(https.status(), 200);
    assert!(https.headers().get("strict-transport-security").is_some());
    let plain = behind_proxy
        .get(
            "/a",
            &[("host", "internal"), ("x-forwarded-host", "app.example")],
        )
        .await;
    assert_eq!(plain.status(), 301);
    assert_eq!(
        header(plain.headers(), "location"),
        Some("https://app.example:8443/a")
    );
}

#[tokio::test]
async fn checks_run_in_spec_order_and_disabling_turns_everything_off() {
    let all = r#"
        secure_ssl_redirects = { enabled = true }
        host_header_validation = { enabled = true, allowed_hosts = "app.example" }
        ip_validation = { enabled = true, allowed_ips = "10.0.0.0/8" }
    "#;
    let server = serve(&format!("[security_headers]\n{all}")).await;
    let response = server.get("/", &[("host", "evil.example")]).await;
    assert_eq!(
        response.status(),
        301,
        "the SSL redirect comes first (spec 5.1)"
    );
    assert!(server.blocks().is_empty());

    let trusted = serve(&format!(
        "[firewall]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[security_headers]\n{all}"
    ))
    .await;
    let https = [("host", "evil.example"), ("x-forwarded-proto", "https")];
    assert_eq!(trusted.get("/", &https).await.status(), 403);
    let kinds: Vec<_> = trusted.blocks().iter().map(FirewallBlock::kind).collect();
    assert_eq!(
        kinds,
        ["hostheader"],
        "host before IP; the first refusal answers"
    );

    let off = serve(&format!("[security_headers]\nenabled = false\n{all}")).await;
    let response = off.get("/", &[("host", "evil.example")]).await;
    assert_eq!(response.status(), 200);
    for (name, _) in DEFAULT_HEADERS {
        assert!(response.headers().get(name).is_none(), "{name}");
    }
}
