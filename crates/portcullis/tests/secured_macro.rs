//! `#[secured]` on handlers, over real HTTP: an axum server behind the `FirewallLayer`, the
//! `auth` validator over the `basic_auth` users, every refusal a block (401 / 403).

mod common;

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use portcullis::auth::{BasicAuthService, BasicAuthUsers, BasicUser, UserService};
use portcullis::firewall::{AuthValidator, Firewall, FirewallLayer};
use portcullis::secured;
use portcullis::settings::Settings;
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const SETTINGS: &str = r#"
[basic_auth.users.alice]
password = "plain:wonderland"
permissions = ["reports:read"]

[basic_auth.users.bob]
password = "plain:builder"
permissions = ["orders:read"]

[firewall]
default_authentication_action = "block"
default_authorization_action = "block"
"#;

const ALICE: Option<(&str, &str)> = Some(("alice", "wonderland"));
const BOB: Option<(&str, &str)> = Some(("bob", "builder"));
const GUEST: Option<(&str, &str)> = None;

/// Any logged-in user.
#[secured]
async fn me() -> &'static str {
    "me"
}

/// `reports:read`, with extractors of its own after the guard.
#[secured("reports:read")]
async fn report(State(title): State<&'static str>, Path(id): Path<u32>) -> String {
    format!("{title} {id}")
}

/// `reports:read`, reading a JSON body.
#[secured("reports:read")]
async fn create(Json(body): Json<Value>) -> Json<Value> {
    Json(body)
}

/// Open.
#[secured("false")]
async fn open() -> &'static str {
    "open"
}

fn routes() -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/reports/{id}", get(report))
        .route("/reports", post(create))
        .route("/open", get(open))
        .with_state("report")
}

struct Server {
    base: String,
    client: Client,
}

/// Serves `app` on a free loopback port.
async fn serve(app: Router) -> Server {
    Server {
        base: common::server::serve(app).await,
        client: Client::new(),
    }
}

/// The `basic_auth` users of `SETTINGS`, read once for every test: their `plain:` passwords
/// are hashed with Argon2id, which is slow in a debug build.
#[derive(Clone)]
struct Users(Arc<BasicAuthUsers>);

impl Users {
    fn shared(settings: &Settings) -> Self {
        static USERS: OnceLock<Arc<BasicAuthUsers>> = OnceLock::new();
        Users(
            USERS
                .get_or_init(|| {
                    Arc::new(BasicAuthUsers::from_settings(&settings.basic_auth).unwrap())
                })
                .clone(),
        )
    }
}

#[async_trait]
impl UserService for Users {
    type User = BasicUser;

    async fn is_valid_credentials(
        &self,
        username: &str,
        password: &str,
    ) -> portcullis::Result<bool> {
        self.0.is_valid_credentials(username, password).await
    }

    async fn retrieve_user_by_username(
        &self,
        username: &str,
    ) -> portcullis::Result<Option<BasicUser>> {
        self.0.retrieve_user_by_username(username).await
    }

    async fn retrieve_user_by_id(&self, id: &str) -> portcullis::Result<Option<BasicUser>> {
        self.0.retrieve_user_by_id(id).await
    }
}

/// The routes behind a firewall built from `SETTINGS` plus `extra` firewall keys.
async fn guarded(extra: &str) -> Server {
    let settings = Settings::from_toml_str(&format!("{SETTINGS}{extra}")).unwrap();
    let users = Users::shared(&settings);
    let firewall = Firewall::builder(settings.firewall)
        .validator(
            "auth",
            Arc::new(AuthValidator::new(
                BasicAuthService::new(users, "test").unwrap(),
            )),
        )
        .build()
        .unwrap();
    serve(routes().layer(FirewallLayer::new(firewall))).await
}

impl Server {
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        user: Option<(&str, &str)>,
    ) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match user {
            Some((name, password)) => request.basic_auth(name, Some(password)),
            None => request,
        }
    }

    /// The status and body of a GET.
    async fn get(&self, path: &str, user: Option<(&str, &str)>) -> (StatusCode, String) {
        let response = self
            .request(reqwest::Method::GET, path, user)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// The status and body of a POST of `body` as JSON.
    async fn post_json(&self, body: &str, user: Option<(&str, &str)>) -> (StatusCode, String) {
        let response = self
            .request(reqwest::Method::POST, "/reports", user)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }
}

#[tokio::test]
async fn a_guest_is_refused_by_guarded_handlers_and_passes_the_open_one() {
    let server = guarded("").await;
    for path in ["/me", "/reports/7"] {
        let response = server
            .request(reqwest::Method::GET, path, GUEST)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        let challenge = response.headers().get(WWW_AUTHENTICATE).unwrap();
        assert!(challenge
            .to_str()
            .unwrap()
            .starts_with("Basic realm=\"test\""));
        assert_eq!(response.text().await.unwrap(), "<h1>Unauthorized</h1>");
    }
    assert_eq!(
        server.get("/open", GUEST).await,
        (StatusCode::OK, "open".into())
    );
    assert_eq!(
        server.get("/me", Some(("alice", "looking-glass"))).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_user_with_the_permission_reaches_the_handlers() {
    let server = guarded("").await;
    assert_eq!(
        server.get("/me", ALICE).await,
        (StatusCode::OK, "me".into())
    );
    assert_eq!(
        server.get("/reports/7", ALICE).await,
        (StatusCode::OK, "report 7".into())
    );
    assert_eq!(
        server.get("/open", ALICE).await,
        (StatusCode::OK, "open".into())
    );
    let (status, body) = server.post_json(r#"{"title":"q3"}"#, ALICE).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"title": "q3"})
    );
}

#[tokio::test]
async fn a_user_without_the_permission_is_forbidden() {
    let server = guarded("").await;
    assert_eq!(server.get("/me", BOB).await, (StatusCode::OK, "me".into()));
    assert_eq!(
        server.get("/reports/7", BOB).await,
        (StatusCode::FORBIDDEN, "<h1>Forbidden</h1>".into())
    );
    assert_eq!(
        server.post_json(r#"{"title":"q3"}"#, BOB).await.0,
        StatusCode::FORBIDDEN
    );
}

/// The guard is the first argument, so it runs before the handler's own extractors: a
/// refused request gets the 401/403, not their rejections (400 for the path, 400/415 for
/// the body).
#[tokio::test]
async fn the_guard_runs_before_the_other_extractors() {
    let server = guarded("").await;
    assert_eq!(
        server.get("/reports/seven", GUEST).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.get("/reports/seven", BOB).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        server.post_json("not json", GUEST).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.post_json("not json", BOB).await.0,
        StatusCode::FORBIDDEN
    );
    // Once the guard passes, the handler's extractors answer as usual.
    assert_eq!(
        server.get("/reports/seven", ALICE).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        server.post_json("not json", ALICE).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn without_handler_annotation_security_every_guard_is_open() {
    let server = guarded("handler_annotation_security = false\n").await;
    assert_eq!(
        server.get("/me", GUEST).await,
        (StatusCode::OK, "me".into())
    );
    assert_eq!(
        server.get("/reports/7", GUEST).await,
        (StatusCode::OK, "report 7".into())
    );
    assert_eq!(
        server.get("/reports/7", BOB).await,
        (StatusCode::OK, "report 7".into())
    );
    assert_eq!(
        server.get("/open", GUEST).await,
        (StatusCode::OK, "open".into())
    );
}

#[tokio::test]
async fn without_the_firewall_layer_a_guarded_handler_never_opens() {
    let server = serve(routes()).await;
    assert_eq!(
        server.get("/me", ALICE).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        server.get("/reports/7", GUEST).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}
