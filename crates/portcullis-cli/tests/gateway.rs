//! `portcullis serve` end to end: the binary runs as a child process in front of a real axum
//! upstream, and every test talks to it over real HTTP (and WebSocket) as a client would.
//! Signals make them Unix-only.
#![cfg(unix)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};

mod gateway_harness;
use gateway_harness::*;

// ---------------------------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_use_refresh_logout_and_reuse() {
    let (upstream, _) = start_upstream().await;
    let gateway = Gateway::start(&settings(upstream, "")).await;
    let http = client();

    // Wrong password and unknown user: the same 401 and the same body.
    let mut bodies = Vec::new();
    for (username, password) in [("ann", "wrong"), ("nobody", "ann-password")] {
        let response = http
            .post(gateway.url("/portcullis/login"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        bodies.push(response.text().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1]);
    let body: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(body["error"], true);
    assert_eq!(body["messages"], json!(["Invalid Credentials"]));

    // A form works as well as JSON; a body that is neither is refused.
    let form = http
        .post(gateway.url("/portcullis/login"))
        .form(&[("username", "ann"), ("password", "ann-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let plain = http
        .post(gateway.url("/portcullis/login"))
        .body("ann:ann-password")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Use: the rule on /api/ lets the token through, not its absence.
    let pair = login(&gateway, "ann", "ann-password").await;
    let access = text(&pair["access_token"]).to_owned();
    let refresh = text(&pair["refresh_token"]).to_owned();
    assert_eq!(get_api(&http, &gateway, &access).await, StatusCode::OK);
    let refused = http.get(gateway.url("/api/orders")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // me: the user and the claims.
    let me: Value = http
        .get(gateway.url("/portcullis/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["username"], "ann");
    assert_eq!(me["data"]["roles"], json!(["admin"]));
    assert_eq!(me["data"]["claims"]["sub"], "ann");

    // Refresh: a new pair; the old access token is spent.
    let refreshed = refresh_with(&http, &gateway, &refresh).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed: Value = refreshed.json().await.unwrap();
    let new_access = text(&refreshed["data"]["access_token"]).to_owned();
    let new_refresh = text(&refreshed["data"]["refresh_token"]).to_owned();
    assert_eq!(
        get_api(&http, &gateway, &access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(get_api(&http, &gateway, &new_access).await, StatusCode::OK);

    // Reusing the rotated refresh token is theft: refused, and the whole login session with
    // it (the new pair too).
    let reuse = refresh_with(&http, &gateway, &refresh).await;
    assert_eq!(
        reuse.status(),
        StatusCode::UNAUTHORIZED,
        "reused refresh token"
    );
    assert_eq!(
        get_api(&http, &gateway, &new_access).await,
        StatusCode::UNAUTHORIZED
    );
    let after_theft = refresh_with(&http, &gateway, &new_refresh).await;
    assert_eq!(after_theft.status(), StatusCode::UNAUTHORIZED);

    // Logout revokes the presented token and its session; reusing it fails everywhere.
    let pair = login(&gateway, "ann", "ann-password").await;
    let access = text(&pair["access_token"]).to_owned();
    let refresh = text(&pair["refresh_token"]).to_owned();
    assert_eq!(get_api(&http, &gateway, &access).await, StatusCode::OK);
    let logout = http
        .post(gateway.url("/portcullis/logout"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::OK);
    assert_eq!(
        get_api(&http, &gateway, &access).await,
        StatusCode::UNAUTHORIZED
    );
    let me = http
        .get(gateway.url("/portcullis/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "me after logout");
    let refresh_after_logout = refresh_with(&http, &gateway, &refresh).await;
    assert_eq!(refresh_after_logout.status(), StatusCode::UNAUTHORIZED);
    let logout = http
        .post(gateway.url("/portcullis/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        logout.status(),
        StatusCode::UNAUTHORIZED,
        "logout without a token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_endpoints_are_never_proxied() {
    let (upstream, _) = start_upstream().await;
    let gateway = Gateway::start(&settings(upstream, "")).await;
    let http = client();
    let health = http
        .get(gateway.url("/portcullis/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "up");
    for path in ["/portcullis", "/portcullis/admin", "/portcullis/login/x"] {
        let response = http.get(gateway.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], true, "{path} is answered by the gateway");
    }
    let register = http
        .post(gateway.url("/portcullis/register"))
        .json(&json!({ "username": "eve", "password": "a long enough password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        register.status(),
        StatusCode::NOT_FOUND,
        "registration is off"
    );
    // Basic credentials identify a caller at /portcullis/me too.
    let me = http
        .get(gateway.url("/portcullis/me"))
        .basic_auth("bob", Some("bob-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<Value>().await.unwrap()["data"]["id"], "bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_headers_reach_the_upstream_and_cannot_be_spoofed() {
    let (upstream, _) = start_upstream().await;
    let gateway = Gateway::start(&settings(upstream, "")).await;
    let http = client();
    let forged = [
        ("x-portcullis-user-id", "ann"),
        ("X-Portcullis-Username", "ann"),
        ("x-portcullis-roles", "admin"),
        ("x-portcullis-permissions", "orders:read"),
        ("x-portcullis-scopes", "orders:read"),
    ];

    // A guest forging every identity header: the upstream sees none of them.
    let mut request = http.get(gateway.url("/public/page"));
    for (name, value) in forged {
        request = request.header(name, value);
    }
    let seen = upstream_headers(request.send().await.unwrap()).await;
    for (name, _) in forged {
        assert!(
            !seen.contains_key(&name.to_ascii_lowercase()),
            "{name} reached the upstream"
        );
    }

    // Bob (no roles) forging ann's identity: the upstream sees bob, with his roles (none).
    let bob = login(&gateway, "bob", "bob-password").await;
    let access = text(&bob["access_token"]);
    let mut request = http
        .get(gateway.url("/api/me?token=abc&keep=1"))
        .bearer_auth(access)
        .header("x-auth-token", access)
        .header("connection", "x-hop")
        .header("x-hop", "secret")
        .header("x-forwarded-for", "6.6.6.6")
        .header("forwarded", "for=6.6.6.6")
        .header("x-forwarded-host", "evil.example");
    for (name, value) in forged {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["query"], "keep=1",
        "the token parameter is not forwarded"
    );
    let seen: HashMap<String, String> = serde_json::from_value(body["headers"].clone()).unwrap();
    assert_eq!(seen["x-portcullis-user-id"], "bob");
    assert_eq!(seen["x-portcullis-username"], "bob");
    assert_eq!(seen["x-portcullis-roles"], "");
    assert_eq!(seen["x-portcullis-permissions"], "");
    for name in ["authorization", "x-auth-token", "x-hop", "connection"] {
        assert!(!seen.contains_key(name), "{name} reached the upstream");
    }
    // Forwarding headers from an untrusted client are replaced, not extended.
    assert_eq!(seen["x-forwarded-for"], "127.0.0.1");
    let host = gateway.base.trim_start_matches("http://");
    assert_eq!(seen["x-forwarded-host"], host);
    assert_eq!(seen["x-forwarded-proto"], "http");
    assert_eq!(
        seen["forwarded"],
        format!("for=127.0.0.1;host=\"{host}\";proto=http")
    );
    assert_eq!(seen["host"], upstream.to_string());

    // Roles from the user store: ann is admin.
    let ann = login(&gateway, "ann", "ann-password").await;
    let seen = upstream_headers(
        http.get(gateway.url("/admin/panel"))
            .bearer_auth(text(&ann["access_token"]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(seen["x-portcullis-roles"], "admin");
    assert_eq!(seen["x-portcullis-scopes"], "orders:read");
    let bob_admin = http
        .get(gateway.url("/admin/panel"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(bob_admin.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_wrap_every_answer_and_hosts_are_checked() {
    let (upstream, _) = start_upstream().await;
    let gateway = Gateway::start(&settings(upstream, "")).await;
    for (path, status) in [
        ("/public", StatusCode::OK),
        ("/api/x", StatusCode::UNAUTHORIZED),
        ("/portcullis/health", StatusCode::OK),
    ] {
        let response = client().get(gateway.url(path)).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
        assert_eq!(
            response.headers()["x-frame-options"],
            "SAMEORIGIN",
            "{path}"
        );
    }

    let checked = format!(
        "{}\n[security_headers.host_header_validation]\nenabled = true\nallowed_hosts = \"app.example\"\n",
        settings(upstream, "")
    );
    let gateway = Gateway::start(&checked).await;
    let wrong_host = client().get(gateway.url("/public")).send().await.unwrap();
    assert_eq!(wrong_host.status(), StatusCode::FORBIDDEN);
    let right_host = client()
        .get(gateway.url("/public"))
        .header("host", "app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(right_host.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_header_names_and_token_forwarding_are_configurable() {
    let (upstream, _) = start_upstream().await;
    let extra = r#"forward_token = true
        identity_headers = { user_id = "x-user", roles = "x-groups" }"#;
    let gateway = Gateway::start(&settings(upstream, extra)).await;
    let ann = login(&gateway, "ann", "ann-password").await;
    let access = text(&ann["access_token"]);
    let seen = upstream_headers(
        client()
            .get(gateway.url("/api/x"))
            .bearer_auth(access)
            .header("x-user", "forged")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(seen["x-user"], "ann");
    assert_eq!(seen["x-groups"], "admin");
    assert_eq!(seen["x-portcullis-username"], "ann");
    assert!(!seen.contains_key("x-portcullis-user-id"));
    assert_eq!(seen["authorization"], format!("Bearer {access}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_pass_through_with_a_token_in_the_query() {
    let (upstream, _) = start_upstream().await;
    let gateway = Gateway::start(&settings(upstream, "")).await;
    let ws_base = gateway.base.replace("http://", "ws://");

    // Without a token the handshake is refused before it reaches the upstream.
    let refused = tokio_tungstenite::connect_async(format!("{ws_base}/ws/chat?room=1")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
        other => panic!("expected a refused handshake, got {other:?}"),
    }
    let forged = tokio_tungstenite::connect_async(format!("{ws_base}/ws/chat?token=forged")).await;
    assert!(
        matches!(forged, Err(tokio_tungstenite::tungstenite::Error::Http(ref r)) if r.status() == StatusCode::UNAUTHORIZED),
        "a forged token is refused"
    );

    // With a token: the upstream sees the identity, not the token; messages flow both ways.
    let ann = login(&gateway, "ann", "ann-password").await;
    let url = format!(
        "{ws_base}/ws/chat?room=1&token={}",
        text(&ann["access_token"])
    );
    let (mut socket, response) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let first = socket.next().await.unwrap().unwrap();
    let saw: Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert_eq!(saw["query"], "room=1");
    assert_eq!(saw["headers"]["x-portcullis-user-id"], "ann");
    assert!(saw["headers"].get("authorization").is_none());
    for message in ["hello", "again"] {
        socket
            .send(tokio_tungstenite::tungstenite::Message::text(message))
            .await
            .unwrap();
        let answer = socket.next().await.unwrap().unwrap();
        assert_eq!(answer.to_text().unwrap(), format!("echo: {message}"));
    }
    socket.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_rules_without_dropping_requests_in_flight() {
    let (upstream, feeds) = start_upstream().await;
    let mut gateway = Gateway::start(&settings(upstream, "")).await;
    let http = client();
    let open = http
        .get(gateway.url("/reports/today"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        open.status(),
        StatusCode::OK,
        "no rule covers /reports/ yet"
    );

    // A streaming response is in flight...
    let feed = feeds.stream();
    let mut streaming = http.get(gateway.url("/stream")).send().await.unwrap();
    assert_eq!(streaming.status(), StatusCode::OK);
    feed.send(Bytes::from_static(b"first ")).unwrap();
    assert_eq!(streaming.chunk().await.unwrap().unwrap(), "first ");

    // ...when the rules file changes and the gateway is told to reload.
    let rules = RULES.replacen(
        "[",
        r#"[ { "id": "reports", "secureList": "^/reports/", "match": "url", "roles": "auditor" },"#,
        1,
    );
    std::fs::write(gateway.path("rules.json"), rules).unwrap();
    gateway.signal(libc::SIGHUP);
    let reloaded = line_with(&mut gateway.stderr, "reloaded").await;
    assert!(reloaded.contains("4 rules"), "{reloaded}");

    let closed = http
        .get(gateway.url("/reports/today"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        closed.status(),
        StatusCode::UNAUTHORIZED,
        "the new rule applies"
    );
    feed.send(Bytes::from_static(b"second")).unwrap();
    drop(feed);
    let mut rest = Vec::new();
    while let Some(chunk) = streaming.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert_eq!(rest, b"second", "the request in flight finished");

    // A broken rules file is refused and the rules in force are kept.
    std::fs::write(gateway.path("rules.json"), "[ not json").unwrap();
    gateway.signal(libc::SIGHUP);
    line_with(&mut gateway.stderr, "reload refused").await;
    let still = http
        .get(gateway.url("/reports/today"))
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), StatusCode::UNAUTHORIZED);
    assert!(gateway.child.try_wait().unwrap().is_none(), "still running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_basic_auth_users_without_dropping_requests_in_flight() {
    let (upstream, feeds) = start_upstream().await;
    // Basic credentials, on /api/ (rules.json) and on /stream.
    let before = settings(upstream, "")
        .replace("validator = \"jwt\"", "validator = \"basic\"")
        .replace(
            "rules = { provider",
            "rules = { inline = [ { id = \"stream\", secureList = \"^/stream\", match = \"url\" } ], provider",
        );
    assert!(before.contains("\"basic\"") && before.contains("^/stream"));
    let mut gateway = Gateway::start(&before).await;
    let http = client();
    let api = gateway.url("/api/orders");
    let as_bob = |password: &'static str| http.get(&api).basic_auth("bob", Some(password)).send();
    assert_eq!(
        as_bob("bob-password").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        as_bob("bob-new-password").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // A streaming response is in flight, let through with bob's old password...
    let feed = feeds.stream();
    let mut streaming = http
        .get(gateway.url("/stream"))
        .basic_auth("bob", Some("bob-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(streaming.status(), StatusCode::OK);
    feed.send(Bytes::from_static(b"first ")).unwrap();
    assert_eq!(streaming.chunk().await.unwrap().unwrap(), "first ");

    // ...when bob's password changes in the settings file and the gateway is told to reload.
    let after = before.replace("plain:bob-password", "plain:bob-new-password");
    assert_ne!(after, before);
    std::fs::write(gateway.path("portcullis.toml"), after).unwrap();
    gateway.signal(libc::SIGHUP);
    line_with(&mut gateway.stderr, "reloaded").await;

    // Basic credentials and the login endpoint: the old password is refused, the new one
    // accepted.
    assert_eq!(
        as_bob("bob-password").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        as_bob("bob-new-password").await.unwrap().status(),
        StatusCode::OK
    );
    let old = http
        .post(gateway.url("/portcullis/login"))
        .json(&json!({ "username": "bob", "password": "bob-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    login(&gateway, "bob", "bob-new-password").await;
    // ann, unchanged, still gets in.
    let ann = http
        .get(gateway.url("/api/orders"))
        .basic_auth("ann", Some("ann-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(ann.status(), StatusCode::OK);

    // The request in flight finished with what it started with.
    feed.send(Bytes::from_static(b"second")).unwrap();
    drop(feed);
    let mut rest = Vec::new();
    while let Some(chunk) = streaming.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert_eq!(rest, b"second", "the request in flight finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight_then_exits() {
    let (upstream, feeds) = start_upstream().await;
    let mut gateway = Gateway::start(&settings(upstream, "")).await;
    let feed = feeds.stream();
    let mut streaming = client().get(gateway.url("/stream")).send().await.unwrap();
    feed.send(Bytes::from_static(b"before ")).unwrap();
    assert_eq!(streaming.chunk().await.unwrap().unwrap(), "before ");

    gateway.signal(libc::SIGTERM);
    line_with(&mut gateway.stderr, "shutting down").await;
    // The listener closes just after that line: a request may still slip in (and is then
    // served in full), but soon new connections are refused while the stream goes on.
    let refused = async {
        while client().get(gateway.url("/public")).send().await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(PATIENCE, refused)
        .await
        .expect("no new connection after SIGTERM");

    feed.send(Bytes::from_static(b"after")).unwrap();
    drop(feed);
    let mut rest = Vec::new();
    while let Some(chunk) = streaming.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert_eq!(rest, b"after");
    let status = gateway.exit_status().await;
    assert!(status.success(), "{status:?}");
    line_with(&mut gateway.stdout, "stopped").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_and_bodies_are_refused() {
    let (upstream, _) = start_upstream().await;
    let gateway = Gateway::start(&settings(upstream, "")).await;
    let http = client();

    let big_header = http
        .get(gateway.url("/public"))
        .header("x-padding", "a".repeat(5000))
        .send()
        .await
        .unwrap();
    assert_eq!(
        big_header.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );

    let declared = http
        .post(gateway.url("/upload"))
        .body(vec![b'x'; 2048])
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(declared.json::<Value>().await.unwrap()["error"], true);

    // A chunked body (no Content-Length) is cut off once it passes the limit.
    let chunks: Vec<Result<Bytes, Infallible>> =
        (0..8).map(|_| Ok(Bytes::from(vec![b'y'; 512]))).collect();
    let streamed = http
        .post(gateway.url("/upload"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let fits = http
        .post(gateway.url("/upload"))
        .body(vec![b'z'; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(fits.status(), StatusCode::OK);
    assert_eq!(fits.text().await.unwrap(), "1000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_silent_upstream_gets_short_answers() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let down = Gateway::start(&settings(closed, "")).await;
    let response = client().get(down.url("/public")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], true);
    assert!(text(&body["messages"][0]).starts_with("Bad Gateway"));

    let (upstream, _) = start_upstream().await;
    let silent = Gateway::start(&settings(upstream, "request_timeout = \"300ms\"")).await;
    let response = client().get(silent.url("/slow")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
}

/// What the demo's echo upstream answers to `GET /api/orders` with `access`.
async fn echo_as(gateway: &Gateway, access: &str) -> Value {
    let response = client()
        .get(gateway.url("/api/orders"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_without_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = Gateway::spawn(
        command(&["serve", "--demo", "--listen", "127.0.0.1:0"]),
        dir,
    )
    .await;
    let credentials = line_with(&mut gateway.stdout, "demo / ").await;
    assert!(credentials.contains("demo-password"));
    line_with(&mut gateway.stdout, "curl -s http://").await;

    let demo = login(&gateway, "demo", "demo-password").await;
    let access = text(&demo["access_token"]);
    let echoed = echo_as(&gateway, access).await;
    assert_eq!(echoed["identity"]["username"], "demo");
    assert_eq!(
        echoed["identity"]["user_id"].as_str().unwrap().len(),
        36,
        "a UUID"
    );
    assert_eq!(echoed["identity"]["scopes"], "orders:read");
    assert!(echoed["headers"].get("authorization").is_none());
    let admin = client()
        .get(gateway.url("/admin"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), StatusCode::FORBIDDEN);

    // The demo's SQL user store takes registrations.
    let register = |username: &str, password: &str| {
        client()
            .post(gateway.url("/portcullis/register"))
            .json(&json!({ "username": username, "password": password }))
            .send()
    };
    let created = register("zoe", "zoe-password").await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let zoe = text(&created["data"]["access_token"]);
    assert_eq!(echo_as(&gateway, zoe).await["identity"]["username"], "zoe");
    let taken = register("Zoe", "another-password").await.unwrap();
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let short = register("yan", "short").await.unwrap();
    assert_eq!(short.status(), StatusCode::BAD_REQUEST);
    login(&gateway, "zoe", "zoe-password").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_logins_back_off_with_429() {
    let (upstream, _) = start_upstream().await;
    let gateway = Gateway::start(&settings(upstream, "")).await;
    let attempt = |password: &'static str| {
        client()
            .post(gateway.url("/portcullis/login"))
            .json(&json!({ "username": "bob", "password": password }))
            .send()
    };
    for _ in 0..2 {
        assert_eq!(
            attempt("guess").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked: even the right password waits, and the client is told how long.
    let locked = attempt("bob-password").await.unwrap();
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 600, "{retry_after}");
    // Another username is not affected.
    login(&gateway, "ann", "ann-password").await;
}

#[test]
fn bad_settings_stop_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let cases = [
        (
            write("no-upstream.toml", "[jwt]\nsecret_key = \"x\""),
            "gateway.upstream",
        ),
        (
            write(
                "route-rule.toml",
                "[gateway]\nupstream = \"http://127.0.0.1:9\"\n[firewall]\ndefault_authentication_action = \"block\"\ndefault_authorization_action = \"block\"\nrules = [ { id = \"r\", secureList = \"^/a\" } ]",
            ),
            ".match",
        ),
        (
            write(
                "user-service.toml",
                "[gateway]\nupstream = \"http://127.0.0.1:9\"\n[authentication]\nuser_service = \"ldap\"",
            ),
            "authentication.user_service",
        ),
    ];
    for (path, key) in cases {
        let output = command(&["serve", "--config", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", path.display());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(key), "{}: {stderr}", path.display());
    }
}

/// The annotated `portcullis.toml` of `docs/gateway.md` loads, and a gateway builds from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_settings_load() {
    let toml = documented_toml(include_str!("../../../docs/gateway.md"), "gateway-example");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.json"), RULES).unwrap();
    let (upstream, _) = start_upstream().await;
    let toml = toml
        .replace(
            "sqlite:///var/lib/portcullis/tokens.db",
            "sqlite://tokens.db",
        )
        .replace("http://10.0.0.5:3000", &format!("http://{upstream}"))
        .replace("secret_key = \"\"", &format!("secret_key = \"{SECRET}\""));
    std::fs::write(dir.path().join("portcullis.toml"), toml).unwrap();
    let config = dir.path().join("portcullis.toml");
    let mut command = command(&[
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    command.current_dir(dir.path());
    let gateway = Gateway::spawn(command, tempfile::tempdir().unwrap()).await;
    let (status, report) = health(&gateway).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    for check in ["token_storage", "users", "login_protection", "upstream"] {
        assert_eq!(report["checks"][check]["status"], "up", "{check}: {report}");
    }
    let module = client().get(gateway.url("/admin/x")).send().await.unwrap();
    assert_eq!(
        module.status(),
        StatusCode::UNAUTHORIZED,
        "the admin module applies"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_users_pass_and_the_logout_endpoint_makes_browsers_forget_them() {
    let (upstream, _) = start_upstream().await;
    let gateway = Gateway::start(&settings_with(upstream, "basic", "")).await;
    let http = client();

    let guest = http.get(gateway.url("/api/orders")).send().await.unwrap();
    assert_eq!(guest.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        guest.headers()["www-authenticate"],
        r#"Basic realm="portcullis", charset="UTF-8""#
    );
    let wrong = http
        .get(gateway.url("/api/orders"))
        .basic_auth("ann", Some("bob-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let ann = http
        .get(gateway.url("/admin/users"))
        .basic_auth("ann", Some("ann-password"))
        .send()
        .await
        .unwrap();
    let seen = upstream_headers(ann).await;
    assert_eq!(seen["x-portcullis-username"], "ann");
    assert_eq!(seen["x-portcullis-roles"], "admin");
    let bob = http
        .get(gateway.url("/admin/users"))
        .basic_auth("bob", Some("bob-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(bob.status(), StatusCode::FORBIDDEN);

    // Any method; the credentials the browser still sends are not looked at.
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let logout = http
            .request(method, gateway.url("/portcullis/basicauth/logout"))
            .basic_auth("ann", Some("ann-password"))
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), StatusCode::UNAUTHORIZED);
        let headers = logout.headers();
        assert_eq!(
            headers["www-authenticate"],
            r#"Basic realm="portcullis", charset="UTF-8""#
        );
        assert_eq!(
            headers["cache-control"],
            "no-cache, must-revalidate, max-age=0"
        );
        assert_eq!(headers["clear-site-data"], r#""cache""#);
        assert_eq!(logout.text().await.unwrap(), "<h1>Logout Successful!</h1>");
    }
    let json = http
        .get(gateway.url("/portcullis/basicauth/logout"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        json.json::<Value>().await.unwrap(),
        json!({ "error": false, "messages": ["Logout Successful!"] })
    );
}
