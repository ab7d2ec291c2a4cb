//! The `AuthService` trait over its three providers — JWT, basic auth and sessions — each
//! chosen by name at run time as an `Arc<dyn AuthService<User = User>>`, behind the firewall's
//! `AuthValidator`, over real HTTP: `POST /login` (authenticate), `GET /me` (a rule needs a
//! user), `POST /logout`.

#![cfg(feature = "storage-memory")]

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::users::{User, Users};
use http::header::{COOKIE, SET_COOKIE, WWW_AUTHENTICATE};
use http::request::Parts;
use http::StatusCode;
use portcullis::auth::{AuthService, BasicAuthService, CurrentUser};
use portcullis::events::{EventBus, SecurityEvent};
use portcullis::firewall::sources::RuleAssembly;
use portcullis::firewall::{AuthValidator, Firewall, FirewallLayer};
use portcullis::jwt::JwtService;
use portcullis::session::{MemorySessionStore, SessionAuthService, SessionLayer};
use portcullis::settings::Settings;
use reqwest::RequestBuilder;
use serde_json::{json, Value};

const SETTINGS: &str = r#"
[jwt]
secret_key = "a test secret that is long enough for HS512, which wants sixty-four bytes!"

[session]
secure = false

[firewall]
default_authentication_action = "block"
default_authorization_action = "block"
rules = [ { secureList = "^/me", match = "url" } ]
"#;

type Auth = Arc<dyn AuthService<User = User>>;

/// The provider named `name`, as a deployment would pick it from its settings.
async fn provider(name: &str, settings: &Settings, users: Users, events: EventBus) -> Auth {
    match name {
        "jwt" => Arc::new(
            JwtService::builder(settings.jwt.clone(), users)
                .events(events)
                .build()
                .await
                .unwrap(),
        ),
        "basic" => Arc::new(BasicAuthService::new(users, "test").unwrap()),
        "session" => Arc::new(SessionAuthService::new(users).events(events)),
        other => panic!("no provider {other}"),
    }
}

async fn login(State(auth): State<Auth>, mut parts: Parts, Json(body): Json<Value>) -> Response {
    let (username, password) = (body["username"].as_str(), body["password"].as_str());
    let login = auth
        .authenticate(&mut parts, username.unwrap(), password.unwrap())
        .await;
    match login {
        Ok(login) => Json(json!({ "user": login.user.id, "tokens": login.tokens })).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn logout(State(auth): State<Auth>, mut parts: Parts) -> Response {
    match auth.logout(&mut parts).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.into_response(),
    }
}

async fn me(CurrentUser(user): CurrentUser<User>) -> String {
    user.id
}

struct App {
    base: String,
    client: reqwest::Client,
    events: Arc<Mutex<Vec<&'static str>>>,
}

async fn serve(name: &str) -> App {
    let settings = Settings::from_toml_str(SETTINGS).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let events = EventBus::new().on(move |event: &SecurityEvent| {
        if matches!(
            event,
            SecurityEvent::Login { .. } | SecurityEvent::Logout { .. }
        ) {
            log.lock().unwrap().push(event.name());
        }
    });
    let auth = provider(name, &settings, Users::sample(), events).await;
    let firewall = Firewall::builder(settings.firewall.clone())
        .validator("auth", Arc::new(AuthValidator::new(auth.clone())))
        .load_rules(RuleAssembly::new(&settings.firewall))
        .await
        .unwrap()
        .build()
        .unwrap();
    let app = Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .with_state(auth)
        .layer(FirewallLayer::new(firewall))
        .layer(SessionLayer::new(
            &settings.session,
            Arc::new(MemorySessionStore::new()),
        ));
    App {
        base: common::server::serve(app).await,
        client: reqwest::Client::new(),
        events: seen,
    }
}

impl App {
    fn post(&self, path: &str) -> RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .header("accept", "application/json")
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.client
            .get(format!("{}{path}", self.base))
            .header("accept", "application/json")
    }

    async fn login(&self, password: &str) -> reqwest::Response {
        self.post("/login")
            .json(&json!({ "username": "alice", "password": password }))
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn jwt_login_issues_tokens_and_logout_revokes_them() {
    let app = serve("jwt").await;
    let refused = app.login("wrong").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let body: Value = app.login("alice-password").await.json().await.unwrap();
    assert_eq!(body["user"], "1");
    let token = body["tokens"]["access_token"].as_str().unwrap().to_owned();
    let me = app.get("/me").bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.text().await.unwrap(), "1");

    let guest = app.get("/me").send().await.unwrap();
    assert_eq!(guest.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        guest.headers()[WWW_AUTHENTICATE],
        "Bearer realm=\"portcullis\""
    );

    let logout = app
        .post("/logout")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let revoked = app.get("/me").bearer_auth(&token).send().await.unwrap();
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
    let again = app.post("/logout").send().await.unwrap();
    assert_eq!(
        again.status(),
        StatusCode::UNAUTHORIZED,
        "no token to log out"
    );
    assert_eq!(*app.events.lock().unwrap(), ["login", "logout"]);
}

#[tokio::test]
async fn basic_login_checks_the_credentials_and_keeps_nothing() {
    let app = serve("basic").await;
    assert_eq!(app.login("wrong").await.status(), StatusCode::UNAUTHORIZED);
    let login = app.login("alice-password").await;
    assert!(login.headers().get(SET_COOKIE).is_none());
    let body: Value = login.json().await.unwrap();
    assert_eq!(body, json!({ "user": "1", "tokens": null }));

    let me = app.get("/me").basic_auth("alice", Some("alice-password"));
    assert_eq!(me.send().await.unwrap().text().await.unwrap(), "1");
    let guest = app.get("/me").send().await.unwrap();
    assert_eq!(guest.status(), StatusCode::UNAUTHORIZED);
    let challenge = guest.headers()[WWW_AUTHENTICATE].to_str().unwrap();
    assert_eq!(challenge, "Basic realm=\"test\", charset=\"UTF-8\"");
    let logout = app.post("/logout").send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn session_login_keeps_the_user_in_the_cookie_session() {
    let app = serve("session").await;
    assert_eq!(app.login("wrong").await.status(), StatusCode::UNAUTHORIZED);
    let login = app.login("alice-password").await;
    let cookie = login.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("portcullis_session="), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "session.secure = false: {cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();

    let me = app.get("/me").header(COOKIE, &pair).send().await.unwrap();
    assert_eq!(me.text().await.unwrap(), "1");
    let guest = app.get("/me").send().await.unwrap();
    assert_eq!(guest.status(), StatusCode::UNAUTHORIZED);
    assert!(
        guest.headers().get(WWW_AUTHENTICATE).is_none(),
        "cookie sessions have no challenge scheme"
    );

    let logout = app
        .post("/logout")
        .header(COOKIE, &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let after = app.get("/me").header(COOKIE, &pair).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(*app.events.lock().unwrap(), ["login", "logout"]);
}
