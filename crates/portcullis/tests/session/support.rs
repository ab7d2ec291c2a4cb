//! The app the session and login-protection tests run over real HTTP, on each backend.
//!
//! `POST /login` (JSON credentials) runs `SessionAuthService::authenticate` under a
//! `LoginThrottle`; `POST /logout` logs out; `GET /visit` counts visits in the session;
//! `GET /me` and `GET /admin` are guarded by firewall rules through
//! `AuthValidator<SessionAuthService<Users>>`. The session layer wraps everything, the firewall
//! sits inside it. The client keeps cookies like a browser.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::header::{COOKIE, RETRY_AFTER, SET_COOKIE};
use http::request::Parts;
use http::StatusCode;
use portcullis::auth::{AuthService, AuthUser, CurrentUser, LoginThrottle};
use portcullis::clock::{Clock, ManualClock};
use portcullis::events::{EventBus, SecurityEvent};
use portcullis::firewall::sources::RuleAssembly;
use portcullis::firewall::{AuthValidator, Firewall, FirewallLayer};
use portcullis::net::ClientInfo;
use portcullis::session::{Session, SessionAuthService, SessionLayer};
use portcullis::settings::Settings;
use serde::Deserialize;
use serde_json::json;

use crate::backends::{Backend, Kind};
use crate::common::users::{User, Users};

/// One `#[tokio::test]` per backend for each scenario, in a module per scenario.
macro_rules! on_every_backend {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn memory() {
                    super::$scenario(crate::backends::Backend::memory().unwrap()).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$scenario(crate::backends::Backend::sqlite().unwrap()).await;
                }
                #[cfg(feature = "storage-postgres")]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(backend) = crate::backends::Backend::postgres() {
                        super::$scenario(backend).await;
                    }
                }
                #[cfg(feature = "storage-redis")]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn redis() {
                    if let Some(backend) = crate::backends::Backend::redis() {
                        super::$scenario(backend).await;
                    }
                }
            }
        )*
    };
}
pub(crate) use on_every_backend;

/// Settings that put sessions and login counters on `backend`, in this test's own table or
/// key prefix, with firewall rules guarding `/me` (any user) and `/admin` (role `admin`).
pub fn settings(backend: &Backend) -> Settings {
    let ns = &backend.namespace;
    let storage = storage_toml(backend.kind, &backend.url);
    let text = format!(
        "[jwt.token_storage]\n{storage}\n\
         [session]\ntable = '{ns}_s'\nkey_prefix = '{ns}_s:'\n\
         [authentication.login_protection]\ntable = '{ns}_l'\nkey_prefix = '{ns}_l:'\n\
         [firewall]\ndefault_authentication_action = 'block'\n\
         default_authorization_action = 'block'\n\
         rules = [\n\
           {{ secureList = '^/me', match = 'url' }},\n\
           {{ secureList = '^/admin', roles = 'admin', match = 'url' }},\n\
         ]\n"
    );
    Settings::from_toml_str(&text).expect("test settings load")
}

/// The body of `[jwt.token_storage]` for a backend of `kind` at `url` (e.g. through a relay).
pub fn storage_toml(kind: Kind, url: &str) -> String {
    match kind {
        Kind::Memory => "driver = 'memory'".to_owned(),
        Kind::Sqlite => format!("driver = 'sql'\nproperties = {{ url = '{url}' }}"),
        #[cfg(feature = "storage-postgres")]
        Kind::Postgres => format!("driver = 'sql'\nproperties = {{ url = '{url}' }}"),
        #[cfg(feature = "storage-redis")]
        Kind::Redis => format!("driver = 'redis'\nproperties = {{ url = '{url}' }}"),
    }
}

/// The events an app announced, by name, with the details the tests check.
#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<SecurityEvent>>>);

impl Seen {
    pub fn bus(&self) -> EventBus {
        let seen = self.clone();
        EventBus::new().on(move |event: &SecurityEvent| seen.0.lock().unwrap().push(event.clone()))
    }

    pub fn all(&self) -> Vec<SecurityEvent> {
        self.0.lock().unwrap().clone()
    }
}

/// One running instance of the app.
pub struct App {
    pub base: String,
    pub clock: Arc<ManualClock>,
    pub events: Seen,
    pub users: Users,
}

#[derive(Clone)]
struct AppState {
    auth: Arc<SessionAuthService<Users>>,
    throttle: LoginThrottle,
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn login(
    State(app): State<AppState>,
    client: ClientInfo,
    mut parts: Parts,
    Json(credentials): Json<Credentials>,
) -> Response {
    let Credentials { username, password } = credentials;
    let attempt = app.auth.authenticate(&mut parts, &username, &password);
    match app.throttle.attempt(&username, client.ip, attempt).await {
        Ok(login) => Json(json!({ "user": login.user.id() })).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn logout(State(app): State<AppState>, mut parts: Parts) -> Response {
    match app.auth.logout(&mut parts).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.into_response(),
    }
}

async fn visit(session: Session) -> String {
    let visits = session.get::<u32>("visits").unwrap_or(0) + 1;
    session.insert("visits", visits).unwrap();
    visits.to_string()
}

async fn me(CurrentUser(user): CurrentUser<User>) -> String {
    user.id
}

/// Starts an instance of the app configured by `settings`, on a clock of its own.
pub async fn start(settings: &Settings) -> App {
    start_with_clock(settings, Arc::new(ManualClock::new())).await
}

/// Starts an instance of the app configured by `settings`, reading `clock`.
pub async fn start_with_clock(settings: &Settings, clock: Arc<ManualClock>) -> App {
    let events = Seen::default();
    let users = Users::sample();
    let auth = Arc::new(SessionAuthService::new(users.clone()).events(events.bus()));
    let throttle = LoginThrottle::from_settings(settings)
        .await
        .expect("the login counters' backend is reachable")
        .clock(clock.clone() as Arc<dyn Clock>)
        .events(events.bus());
    let sessions = SessionLayer::from_settings(settings)
        .await
        .expect("the session backend is reachable")
        .clock(clock.clone());
    let firewall = Firewall::builder(settings.firewall.clone())
        .validator("auth", Arc::new(AuthValidator::new(auth.clone())))
        .load_rules(RuleAssembly::new(&settings.firewall))
        .await
        .expect("the rules load")
        .build()
        .expect("the firewall builds");
    let app = Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/visit", get(visit))
        .route("/me", get(me))
        .route("/admin", get(me))
        .with_state(AppState { auth, throttle })
        .layer(FirewallLayer::new(firewall))
        .layer(sessions);
    App {
        base: crate::common::server::serve(app).await,
        clock,
        events,
        users,
    }
}

/// What a request got back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub set_cookies: Vec<String>,
    pub retry_after: Option<String>,
    pub body: String,
}

/// A browser: an HTTP client that keeps the cookies it is given (by name; `Max-Age=0`
/// removes one). It sends cookies over plain HTTP even when they are `Secure`, as a browser
/// does for `localhost`.
#[derive(Default)]
pub struct Browser {
    http: reqwest::Client,
    pub cookies: Mutex<BTreeMap<String, String>>,
}

impl Browser {
    pub fn new() -> Self {
        Browser::default()
    }

    /// The value of the cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    /// Replaces the cookie `name` (what an attacker who planted or kept an id would do).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let cookies = self
            .cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = if cookies.is_empty() {
            request
        } else {
            request.header(COOKIE, cookies)
        };
        let response = request
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        let status = response.status();
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        for cookie in &set_cookies {
            let (pair, attributes) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let mut jar = self.cookies.lock().unwrap();
            if attributes.contains("Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), value.to_owned());
            }
        }
        Reply {
            status,
            set_cookies,
            retry_after,
            body: response.text().await.unwrap(),
        }
    }

    pub async fn get(&self, app: &App, path: &str) -> Reply {
        self.send(self.http.get(format!("{}{path}", app.base)))
            .await
    }

    pub async fn post(&self, app: &App, path: &str) -> Reply {
        self.send(self.http.post(format!("{}{path}", app.base)))
            .await
    }

    pub async fn login(&self, app: &App, username: &str, password: &str) -> Reply {
        let body = json!({ "username": username, "password": password }).to_string();
        let request = self
            .http
            .post(format!("{}/login", app.base))
            .header("content-type", "application/json")
            .body(body);
        self.send(request).await
    }
}
