//! Cookie sessions over real HTTP, on every backend: memory, SQLite (a temporary file),
//! PostgreSQL and Redis (real servers; URLs from `PORTCULLIS_TEST_POSTGRES_URL` /
//! `PORTCULLIS_TEST_REDIS_URL`, which `scripts/test.sh` sets — these tests fail without them
//! unless `PORTCULLIS_SKIP_SERVICES=1`).
//!
//! An axum app on 127.0.0.1:0 behind `SessionLayer` and the firewall with
//! `AuthValidator<SessionAuthService<_>>`, and a client that keeps cookies: login opens the
//! guarded routes, the session id is rotated at login (fixation), logout destroys the
//! session, idle and absolute timeouts end it (on an injected clock), and ids the server did
//! not issue are never adopted.
#![cfg(all(feature = "storage-memory", feature = "storage-sqlite"))]

#[allow(dead_code)]
#[path = "storage/backends.rs"]
mod backends;
mod common;
#[path = "session/support.rs"]
mod support;

use std::time::Duration;

use http::StatusCode;
use portcullis::clock::Clock;
use portcullis::events::SecurityEvent;
use portcullis::session::{store_from_settings, SessionRecord};

use backends::Backend;
use support::{settings, start, Browser};

const COOKIE: &str = "__Host-portcullis_session";

support::on_every_backend!(
    login_opens_guarded_routes,
    login_rotates_the_session_id,
    logout_destroys_the_session,
    idle_sessions_expire,
    busy_sessions_end_at_the_absolute_timeout,
    ids_the_server_did_not_issue_are_never_adopted,
    a_deleted_user_is_logged_out,
    the_store_keeps_records_until_they_expire,
);

async fn login_opens_guarded_routes(backend: Backend) {
    let app = start(&settings(&backend)).await;
    let alice = Browser::new();
    assert_eq!(
        alice.get(&app, "/me").await.status,
        StatusCode::UNAUTHORIZED
    );

    let login = alice.login(&app, "alice", "alice-password").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body, r#"{"user":"1"}"#);
    let [cookie] = &login.set_cookies[..] else {
        panic!("one Set-Cookie expected: {:?}", login.set_cookies);
    };
    let id = alice.cookie(COOKIE).expect("the session cookie");
    assert!(id.len() >= 43, "at least 256 bits in base64url: {id}");
    assert_eq!(
        *cookie,
        format!("{COOKIE}={id}; Path=/; HttpOnly; Secure; SameSite=Lax")
    );

    let me = alice.get(&app, "/me").await;
    assert_eq!((me.status, me.body.as_str()), (StatusCode::OK, "1"));
    assert_eq!(alice.get(&app, "/admin").await.status, StatusCode::OK);
    assert!(
        me.set_cookies.is_empty(),
        "a known session is not re-sent: {:?}",
        me.set_cookies
    );

    let bob = Browser::new();
    assert_eq!(
        bob.login(&app, "bob", "bob-password").await.status,
        StatusCode::OK
    );
    assert_eq!(bob.get(&app, "/me").await.body, "2");
    assert_eq!(bob.get(&app, "/admin").await.status, StatusCode::FORBIDDEN);

    let wrong = Browser::new();
    let refused = wrong.login(&app, "alice", "not-her-password").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(
        refused.set_cookies.is_empty(),
        "no session for a failed login"
    );
}

async fn login_rotates_the_session_id(backend: Backend) {
    let app = start(&settings(&backend)).await;
    let victim = Browser::new();
    assert_eq!(victim.get(&app, "/visit").await.body, "1");
    let before = victim.cookie(COOKIE).expect("a session before login");

    assert_eq!(
        victim.login(&app, "alice", "alice-password").await.status,
        StatusCode::OK
    );
    let after = victim.cookie(COOKIE).unwrap();
    assert_ne!(before, after, "the id changes at login");
    assert_eq!(
        victim.get(&app, "/visit").await.body,
        "2",
        "the values survive the rotation"
    );
    assert_eq!(victim.get(&app, "/me").await.status, StatusCode::OK);

    // Whoever knew (or planted) the pre-login id gets nothing with it.
    let attacker = Browser::new();
    attacker.set_cookie(COOKIE, &before);
    assert_eq!(
        attacker.get(&app, "/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(attacker.get(&app, "/visit").await.body, "1");
    assert_ne!(attacker.cookie(COOKIE).unwrap(), before);

    let logins: Vec<_> = app
        .events
        .all()
        .into_iter()
        .filter_map(|event| match event {
            SecurityEvent::Login {
                user,
                previous_session,
                session,
            } => Some((user.id(), previous_session, session)),
            _ => None,
        })
        .collect();
    let [(user, Some(previous), Some(current))] = &logins[..] else {
        panic!("one login event with both ids: {logins:?}");
    };
    assert_eq!(user, "1");
    assert_eq!(previous.as_str(), before);
    assert_eq!(current.as_str(), after);
    assert!(!format!("{:?}", app.events.all()).contains(&after));
}

async fn logout_destroys_the_session(backend: Backend) {
    let app = start(&settings(&backend)).await;
    let alice = Browser::new();
    alice.login(&app, "alice", "alice-password").await;
    let id = alice.cookie(COOKIE).unwrap();

    let logout = alice.post(&app, "/logout").await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert_eq!(
        logout.set_cookies,
        [format!(
            "{COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
        )]
    );
    assert_eq!(alice.cookie(COOKIE), None);
    assert_eq!(
        alice.get(&app, "/me").await.status,
        StatusCode::UNAUTHORIZED
    );

    let replay = Browser::new();
    replay.set_cookie(COOKIE, &id);
    assert_eq!(
        replay.get(&app, "/me").await.status,
        StatusCode::UNAUTHORIZED
    );

    let ended = app.events.all().into_iter().find_map(|event| match event {
        SecurityEvent::Logout { user_id, session } => Some((user_id, session)),
        _ => None,
    });
    let (user_id, session) = ended.expect("a logout event");
    assert_eq!(user_id.as_deref(), Some("1"));
    assert_eq!(session.unwrap().as_str(), id);
}

async fn idle_sessions_expire(backend: Backend) {
    let mut settings = settings(&backend);
    settings.session.idle_timeout = Duration::from_secs(10 * 60);
    let app = start(&settings).await;
    let alice = Browser::new();
    alice.login(&app, "alice", "alice-password").await;

    app.clock.advance(Duration::from_secs(9 * 60));
    assert_eq!(alice.get(&app, "/me").await.status, StatusCode::OK);
    // Used 9 minutes after login: idle for 9 more minutes is still within the timeout.
    app.clock.advance(Duration::from_secs(9 * 60));
    assert_eq!(alice.get(&app, "/me").await.status, StatusCode::OK);

    app.clock.advance(Duration::from_secs(10 * 60));
    let expired = alice.get(&app, "/me").await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(
        expired.set_cookies[0].contains("Max-Age=0"),
        "the stale cookie is removed: {:?}",
        expired.set_cookies
    );
}

async fn busy_sessions_end_at_the_absolute_timeout(backend: Backend) {
    let mut settings = settings(&backend);
    settings.session.idle_timeout = Duration::from_secs(10 * 60);
    settings.session.absolute_timeout = Duration::from_secs(25 * 60);
    settings.validate().unwrap();
    let app = start(&settings).await;
    let alice = Browser::new();
    alice.login(&app, "alice", "alice-password").await;
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(8 * 60));
        assert_eq!(alice.get(&app, "/me").await.status, StatusCode::OK);
    }
    app.clock.advance(Duration::from_secs(2 * 60));
    assert_eq!(
        alice.get(&app, "/me").await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn ids_the_server_did_not_issue_are_never_adopted(backend: Backend) {
    let app = start(&settings(&backend)).await;
    let planted = "A".repeat(43);
    for value in [planted.as_str(), "short", "../../etc/passwd"] {
        let browser = Browser::new();
        browser.set_cookie(COOKIE, value);
        let visit = browser.get(&app, "/visit").await;
        assert_eq!(visit.body, "1");
        let issued = browser.cookie(COOKIE).unwrap();
        assert_ne!(issued, value);
        assert_eq!(issued.len(), 43);
    }
    // Without the `__Host-` prefix, the cookie is not the session cookie.
    let browser = Browser::new();
    browser.login(&app, "alice", "alice-password").await;
    let id = browser.cookie(COOKIE).unwrap();
    let unprefixed = Browser::new();
    unprefixed.set_cookie("portcullis_session", &id);
    assert_eq!(
        unprefixed.get(&app, "/me").await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn a_deleted_user_is_logged_out(backend: Backend) {
    let app = start(&settings(&backend)).await;
    let alice = Browser::new();
    alice.login(&app, "alice", "alice-password").await;
    assert_eq!(alice.get(&app, "/me").await.status, StatusCode::OK);
    app.users.remove("1");
    assert_eq!(
        alice.get(&app, "/me").await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn the_store_keeps_records_until_they_expire(backend: Backend) {
    let store = store_from_settings(&settings(&backend)).await.unwrap();
    store.ping().await.unwrap();
    let now = portcullis::clock::SystemClock.now_ms();
    let mut record: SessionRecord = serde_json::from_value(serde_json::json!({
        "user_id": "7",
        "data": { "cart": [1, 2], "csrf": "x" },
        "created_at": now,
        "last_seen": now,
        "expires_at": now + 60_000,
    }))
    .unwrap();
    let debug = format!("{record:?}");
    assert!(
        debug.contains("csrf") && !debug.contains("\"x\""),
        "values are not shown: {debug}"
    );
    let key = "0".repeat(64);
    assert_eq!(store.load(&key, now).await.unwrap(), None);
    store.save(&key, &record).await.unwrap();
    assert_eq!(
        store.load(&key, now + 59_999).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(store.load(&key, now + 60_000).await.unwrap(), None);

    record.user_id = None;
    record.expires_at = now + 120_000;
    store.save(&key, &record).await.unwrap();
    assert_eq!(store.load(&key, now + 60_000).await.unwrap(), Some(record));
    store.delete(&key).await.unwrap();
    assert_eq!(store.load(&key, now).await.unwrap(), None);
}

/// CSRF tokens are bound to the session id; a guest's new session is kept (and its cookie
/// sent) once a token is made for it, so the token still verifies at the next request.
#[cfg(feature = "csrf")]
#[tokio::test]
async fn csrf_tokens_of_a_guest_survive_through_the_session() {
    use std::sync::Arc;

    use axum::routing::{get, post};
    use axum::Router;
    use portcullis::csrf::{Csrf, CsrfLayer};
    use portcullis::session::{MemorySessionStore, SessionLayer};
    use portcullis::settings::Settings;
    use tower::ServiceExt;

    let settings = Settings::from_toml_str("csrf.enable_auto_verifier = true").unwrap();
    let app = Router::new()
        .route(
            "/form",
            get(|csrf: Csrf| async move { csrf.token("default").await }),
        )
        .route("/save", post(|| async { "saved" }))
        .layer(CsrfLayer::from_settings(&settings).await.unwrap())
        .layer(SessionLayer::new(
            &settings.session,
            Arc::new(MemorySessionStore::new()),
        ));
    let form = http::Request::get("/form")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.clone().oneshot(form).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with(COOKIE)),
        "the session is kept: {cookies:?}"
    );
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    let token = String::from_utf8(body.to_vec()).unwrap();

    let save = http::Request::post("/save")
        .header("cookie", cookies.join("; "))
        .header("x-csrf-token", token)
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.oneshot(save).await.unwrap().status(), StatusCode::OK);
}

/// `SessionAuthService` rotates the CSRF tokens by itself: the tokens of the session before
/// the login are discarded from the store (not merely unreachable through the old id), and
/// those of the session that logs out too. With `enable_auth_token_rotator = false` they stay.
#[cfg(feature = "csrf")]
#[tokio::test]
async fn session_logins_and_logouts_discard_csrf_tokens_by_themselves() {
    use std::sync::Arc;

    use axum::routing::{get, post};
    use axum::Router;
    use http::request::Parts;
    use portcullis::auth::AuthService;
    use portcullis::csrf::{Csrf, CsrfBinding, CsrfLayer, DEFAULT_KEY};
    use portcullis::session::{MemorySessionStore, SessionAuthService, SessionId, SessionLayer};
    use portcullis::settings::Settings;

    use crate::common::users::Users;

    for rotator in [true, false] {
        let settings = Settings::from_toml_str(&format!(
            "[csrf]\nenable_auto_verifier = true\nenable_auth_token_rotator = {rotator}"
        ))
        .unwrap();
        let csrf = CsrfLayer::from_settings(&settings).await.unwrap();
        let tokens = csrf.tokens().clone();
        let auth = Arc::new(SessionAuthService::new(Users::sample()));
        let logout = auth.clone();
        let app = Router::new()
            .route(
                "/form",
                get(|csrf: Csrf| async move { csrf.token(DEFAULT_KEY).await }),
            )
            .route(
                "/login",
                post(move |mut parts: Parts| async move {
                    let login = auth.authenticate(&mut parts, "alice", "alice-password");
                    login.await.map(|login| login.user.id)
                }),
            )
            .route(
                "/logout",
                post(move |mut parts: Parts| async move { logout.logout(&mut parts).await }),
            )
            .layer(csrf)
            .layer(SessionLayer::new(
                &settings.session,
                Arc::new(MemorySessionStore::new()),
            ));
        let base = crate::common::server::serve(app).await;
        let http = reqwest::Client::new();
        let session_of = |response: &reqwest::Response| {
            let cookie = response.headers()["set-cookie"].to_str().unwrap();
            let value = cookie.split(';').next().unwrap();
            value.split_once('=').unwrap().1.to_owned()
        };
        let token_of = |id: &str| {
            let request = http
                .get(format!("{base}/form"))
                .header("cookie", format!("{COOKIE}={id}"));
            async move { request.send().await.unwrap().text().await.unwrap() }
        };
        let form = http.get(format!("{base}/form")).send().await.unwrap();
        let guest = session_of(&form);
        let before = form.text().await.unwrap();

        let login = http
            .post(format!("{base}/login"))
            .header("cookie", format!("{COOKIE}={guest}"))
            .header("x-csrf-token", &before)
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), StatusCode::OK);
        let user = session_of(&login);
        let guest_binding = CsrfBinding::session(&SessionId::new(guest.as_str()));
        assert_eq!(
            tokens.verify(&guest_binding, DEFAULT_KEY, &before).await,
            !rotator,
            "rotator {rotator}: the guest session's token after the login"
        );

        let during = token_of(&user).await;
        let logout = http
            .post(format!("{base}/logout"))
            .header("cookie", format!("{COOKIE}={user}"))
            .header("x-csrf-token", &during)
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), StatusCode::OK);
        let user_binding = CsrfBinding::session(&SessionId::new(user.as_str()));
        assert_eq!(
            tokens.verify(&user_binding, DEFAULT_KEY, &during).await,
            !rotator,
            "rotator {rotator}: the ended session's token after the logout"
        );
    }
}
