//! An axum API behind portcullis, built from `portcullis.toml`:
//!
//! * users in the SQL user store (in memory here, seeded with alice, bob and carol);
//! * JWT login (`POST /login`), registration (`POST /register`), refresh
//!   (`POST /portcullis/refreshtoken`), logout (`POST /logout`), `GET /me` — cbsecurity's JWT
//!   flows;
//! * firewall rules for orders, reports, internal pages, legacy and account areas, docs,
//!   users, a VIP lounge and a honeypot (see `portcullis.toml`);
//! * two modules: `/admin` (its rules default to role `admin`, refusals blocked) and `/ops`
//!   (its own Basic-auth validator);
//! * route guards: `/profile` (any signed-in user), `/billing` (a group guard, and a stricter
//!   guard on `/billing/export`), `/open` (an open guard);
//! * cbsecurity's helpers at `/security/check`, the client's address at `/whoami`;
//! * an interceptor answering refused honeypot requests itself.
//!
//! `tests/http.rs` drives it over real HTTP.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use portcullis::auth::{CurrentUser, Security};
use portcullis::events::EventBus;
use portcullis::firewall::sources::RuleAssembly;
use portcullis::firewall::{
    AuthValidator, BasicAuthValidator, Firewall, JwtValidator, MatchedRule, SecuredUrl, VerdictOf,
};
use portcullis::guard::secured;
use portcullis::jwt::{refresh_endpoint, Claims, Jwt, JwtService};
use portcullis::net::ClientInfo;
use portcullis::settings::Settings;
use portcullis::users::{NewUser, SqlUserStore, StoredUser};
use portcullis::Error;
use serde::Deserialize;
use serde_json::{json, Value};

/// The example's settings file.
pub const SETTINGS: &str = include_str!("../portcullis.toml");

/// The users the example starts with: name, roles, permissions. Each one's password is
/// `<name>-password`.
pub const SEED_USERS: [(&str, &[&str], &[&str]); 3] = [
    (
        "alice",
        &["admin"],
        &[
            "orders:read",
            "orders:write",
            "users:read",
            "billing:read",
            "billing:export",
        ],
    ),
    ("bob", &[], &["orders:read", "billing:read"]),
    ("carol", &["auditor"], &[]),
];

/// The running parts of the app, for `main` and the tests.
#[derive(Clone)]
pub struct App {
    /// The router, firewall included.
    pub router: Router,
    /// The JWT service.
    pub jwt: JwtService<StoredUser>,
    /// The firewall (register modules at run time with it).
    pub firewall: Firewall,
    /// How many times the honeypot's handler ran (it never should).
    pub honeypot_hits: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct AppState {
    jwt: JwtService<StoredUser>,
    users: Arc<SqlUserStore>,
    honeypot_hits: Arc<AtomicUsize>,
}

/// Builds the app from `settings`, delivering security events to `events`.
pub async fn build(settings: Settings, events: EventBus) -> portcullis::Result<App> {
    let users = Arc::new(SqlUserStore::from_settings(&settings).await?);
    for (name, roles, permissions) in SEED_USERS {
        let user = NewUser::new(name, format!("{name}-password"))
            .roles(roles.iter().copied())
            .permissions(permissions.iter().copied());
        users.add(user).await?;
    }
    let jwt = JwtService::builder(settings.jwt.clone(), users.clone())
        .events(events.clone())
        .build()
        .await?;
    let firewall = Firewall::builder(settings.firewall.clone())
        .validator("jwt", Arc::new(JwtValidator::new(jwt.clone())))
        .validator("auth", Arc::new(AuthValidator::new(jwt.clone())))
        .validator(
            "basic",
            Arc::new(BasicAuthValidator::new(users.clone(), "Operations")?),
        )
        .events(events)
        .on_invalid_access(|access| {
            let honeypot = access.rule.as_ref().is_some_and(|r| r.id() == "honeypot");
            honeypot.then(|| {
                (StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS, "nothing here").into_response()
            })
        })
        .load_rules(RuleAssembly::new(&settings.firewall))
        .await?
        .build()?;
    let honeypot_hits = Arc::new(AtomicUsize::new(0));
    let state = AppState {
        jwt: jwt.clone(),
        users,
        honeypot_hits: honeypot_hits.clone(),
    };
    let billing = Router::new()
        .route("/invoices", get(|| async { "invoices" }))
        .route(
            "/export",
            get(|| async { "export" }).layer(secured("billing:export")),
        )
        .layer(secured("billing:read").group());
    let admin = Router::new().route("/dashboard", get(|| async { "admin dashboard" }));
    let ops = Router::new().route("/health", get(ops_health));
    let router = Router::new()
        .route("/public/info", get(|| async { "public" }))
        .route("/login", get(login_page).post(login))
        .route("/register", post(register))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/denied", get(denied))
        .route(
            "/orders/",
            get(|| async { "orders" }).post(|| async { "posted" }),
        )
        .route(
            "/orders/new",
            post(|| async { (StatusCode::CREATED, "created") }),
        )
        .route("/reports/summary", get(|| async { "report" }))
        .route("/internal/status", get(|| async { "internal" }))
        .route("/legacy/page", get(|| async { "legacy" }))
        .route("/account/settings", get(|| async { "account" }))
        .route("/docs/public/intro", get(|| async { "intro" }))
        .route("/docs/private/plan", get(|| async { "plan" }))
        .route("/users/{id}", get(user))
        .route("/vip/lounge", get(|| async { "lounge" }))
        .route("/honeypot", get(honeypot))
        .route("/profile", get(profile).layer(secured("true")))
        .route("/open", get(|| async { "open" }).layer(secured("false")))
        .route("/security/check", get(security_check))
        .route("/whoami", get(whoami))
        .nest("/billing", billing)
        .nest("/admin", admin)
        .nest("/ops", ops)
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
        .with_state(state)
        .merge(refresh_endpoint(jwt.clone()));
    let router = firewall.protect(router);
    Ok(App {
        router,
        jwt,
        firewall,
        honeypot_hits,
    })
}

/// Serves `router` on `listener` with the client's address available to the firewall.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn login(State(state): State<AppState>, Json(credentials): Json<Credentials>) -> Response {
    match state
        .jwt
        .attempt(&credentials.username, &credentials.password)
        .await
    {
        Ok(pair) => Json(pair).into_response(),
        Err(Error::InvalidCredentials) => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": true, "messages": ["Invalid Credentials"]})),
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

/// Self-service sign-up: the user store's rules decide (409 for a taken name, 400 for a short
/// password); the new user is logged in at once.
async fn register(
    State(state): State<AppState>,
    Json(credentials): Json<Credentials>,
) -> Result<Response, Error> {
    let user = state
        .users
        .register(NewUser::new(credentials.username, credentials.password))
        .await?;
    let pair = state
        .jwt
        .from_user(&user, serde_json::Map::new(), serde_json::Map::new())
        .await?;
    Ok((StatusCode::CREATED, Json(pair)).into_response())
}

#[derive(Deserialize)]
struct Back {
    #[serde(rename = "_securedURL")]
    secured_url: Option<String>,
}

async fn login_page(Query(back): Query<Back>) -> Html<String> {
    let back = back
        .secured_url
        .unwrap_or_default()
        .replace(['<', '>', '"', '&'], "");
    Html(format!("<h1>Log in</h1><p>then back to: {back}</p>"))
}

async fn logout(State(state): State<AppState>, token: Jwt) -> Result<StatusCode, Error> {
    state.jwt.logout(token.as_str()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(CurrentUser(user): CurrentUser<StoredUser>, claims: Claims) -> Json<Value> {
    Json(json!({ "username": user.username, "roles": user.roles, "scope": claims.scope() }))
}

/// The override target for authorization failures: it sees why it answers.
async fn denied(
    rule: Option<MatchedRule>,
    verdict: Option<VerdictOf>,
    back: Option<SecuredUrl>,
) -> Response {
    let body = json!({
        "rule": rule.map(|r| r.0.id().to_owned()),
        "messages": verdict.map(|v| v.0.messages).unwrap_or_default(),
        "secured_url": back.map(|b| b.0),
    });
    (StatusCode::FORBIDDEN, Json(body)).into_response()
}

async fn user(Path(id): Path<String>) -> String {
    format!("user {id}")
}

async fn honeypot(State(state): State<AppState>) -> &'static str {
    state.honeypot_hits.fetch_add(1, Ordering::SeqCst);
    "you should never see this"
}

async fn profile(CurrentUser(user): CurrentUser<StoredUser>) -> String {
    format!("profile of {}", user.username)
}

async fn ops_health(CurrentUser(user): CurrentUser<StoredUser>) -> String {
    format!("ok, {}", user.username)
}

#[derive(Deserialize)]
struct Check {
    permissions: String,
    #[serde(default)]
    secure: bool,
}

/// cbsecurity's helpers on the current user.
async fn security_check(
    security: Security<StoredUser>,
    Query(check): Query<Check>,
) -> Result<Json<Value>, Error> {
    let list = check.permissions.as_str();
    if check.secure {
        security.secure(list)?;
    }
    Ok(Json(json!({
        "has": security.has(list),
        "all": security.all(list),
        "none": security.none(list),
        "guest": security.guest(),
        "branch": security.when(list, |u| format!("granted to {}", u.username), |_| "refused".to_owned()),
    })))
}

async fn whoami(client: ClientInfo) -> String {
    client
        .ip
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}
