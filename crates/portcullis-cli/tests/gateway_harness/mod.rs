//! The harness of the gateway tests: a real axum upstream that records what reached it, and
//! `portcullis serve` run as a child process. Each test file uses what it needs.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, Request, State};
use axum::http::HeaderMap;
use axum::routing::{any, get};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Client, StatusCode};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

/// How long to wait for the gateway to say something before the test fails (a guard against
/// hanging, never a measurement).
pub const PATIENCE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The upstream: an axum server recording what reached it.

/// A chunked response body the test feeds, for in-flight requests.
pub type Feed = mpsc::UnboundedSender<Bytes>;

#[derive(Clone, Default)]
pub struct Upstream {
    /// Feeds waiting for `/stream` requests, in order.
    pub streams: Arc<Mutex<Vec<mpsc::UnboundedReceiver<Bytes>>>>,
}

impl Upstream {
    /// A feed for the next `/stream` request.
    pub fn stream(&self) -> Feed {
        let (feed, body) = mpsc::unbounded_channel();
        self.streams.lock().unwrap().push(body);
        feed
    }
}

/// What the upstream saw: method, path, query and headers.
pub fn seen(request: &Request) -> Value {
    json!({
        "method": request.method().as_str(),
        "path": request.uri().path(),
        "query": request.uri().query(),
        "headers": headers(request.headers()),
    })
}

pub fn headers(headers: &HeaderMap) -> Value {
    let mut all = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match all.get_mut(name.as_str()) {
            Some(Value::String(existing)) => *existing = format!("{existing}|{value}"),
            _ => {
                all.insert(name.as_str().to_owned(), Value::from(value));
            }
        }
    }
    Value::Object(all)
}

pub async fn echo(request: Request) -> Json<Value> {
    Json(seen(&request))
}

/// A response that streams what the test feeds, until the feed is dropped.
pub async fn stream(State(upstream): State<Upstream>) -> Body {
    let body = upstream.streams.lock().unwrap().remove(0);
    let chunks = futures_util::stream::unfold(body, |mut body| async move {
        body.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), body))
    });
    Body::from_stream(chunks)
}

/// Counts the bytes of the request body.
pub async fn upload(body: Bytes) -> String {
    body.len().to_string()
}

/// Never answers.
pub async fn slow() -> &'static str {
    std::future::pending::<()>().await;
    "never"
}

/// Says what the upgrade request carried, then echoes every text message.
pub async fn websocket(
    upgrade: WebSocketUpgrade,
    RawQuery(query): RawQuery,
    request_headers: HeaderMap,
) -> axum::response::Response {
    let saw = json!({ "query": query, "headers": headers(&request_headers) });
    upgrade.on_upgrade(move |socket: WebSocket| async move {
        let (mut send, mut receive) = socket.split();
        if send.send(Message::text(saw.to_string())).await.is_err() {
            return;
        }
        while let Some(Ok(message)) = receive.next().await {
            if let Message::Text(text) = message {
                if send
                    .send(Message::text(format!("echo: {}", text.as_str())))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    })
}

/// The upstream's routes, over `upstream`'s feeds.
pub fn upstream_app(upstream: Upstream) -> Router {
    Router::new()
        .route("/stream", get(stream))
        .route("/upload", any(upload))
        .route("/slow", get(slow))
        .route("/ws/{*rest}", get(websocket))
        .fallback(echo)
        .with_state(upstream)
}

/// Starts the upstream on a free loopback port.
pub async fn start_upstream() -> (SocketAddr, Upstream) {
    let upstream = Upstream::default();
    let app = upstream_app(upstream.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, upstream)
}

// ---------------------------------------------------------------------------------------------
// The gateway: the binary, run as a child process.

pub const SECRET: &str =
    "gateway tests: a secret long enough for HS512, never use it anywhere else!";

/// The rules of the test gateway, written to `rules.json` beside its settings.
pub const RULES: &str = r#"[
  { "id": "api", "secureList": "^/api/", "match": "url" },
  { "id": "admin", "secureList": "^/admin", "match": "url", "roles": "admin" },
  { "id": "ws", "secureList": "^/ws/", "match": "url" }
]"#;

/// The test gateway's settings for the upstream at `upstream` over plain HTTP, firewall
/// validator `jwt`; `extra` lines go into `[gateway]` (sections may follow them).
pub fn settings(upstream: SocketAddr, extra: &str) -> String {
    settings_with(upstream, "jwt", extra)
}

/// [`settings`] with the firewall validator `validator`.
pub fn settings_with(upstream: SocketAddr, validator: &str, extra: &str) -> String {
    settings_at(&format!("http://{upstream}"), validator, extra)
}

/// [`settings`] for the upstream URL `upstream` (`http://…` or `https://…`).
pub fn settings_for(upstream: &str, extra: &str) -> String {
    settings_at(upstream, "jwt", extra)
}

/// The settings of the test gateway: upstream URL, firewall validator, extra `[gateway]` lines.
fn settings_at(upstream: &str, validator: &str, extra: &str) -> String {
    format!(
        r#"
        [gateway]
        upstream = "{upstream}"
        max_body_size = 1024
        max_header_size = 4096
        {extra}

        [jwt]
        issuer = "gateway-tests"
        secret_key = "{SECRET}"
        enable_refresh_tokens = true
        # A rotated refresh token presented again is reuse at once (no grace for races).
        refresh_reuse_overlap = "0s"

        [firewall]
        validator = "{validator}"
        default_authentication_action = "block"
        default_authorization_action = "block"
        rules = {{ provider = {{ source = "json", properties = {{ file = "rules.json" }} }} }}

        # Two failed logins of one username, then ten minutes of back-off.
        [authentication.login_protection]
        max_failures = 2
        base_delay = "10m"

        [basic_auth.users.ann]
        password = "plain:ann-password"
        roles = "admin"
        permissions = ["orders:read"]

        [basic_auth.users.bob]
        password = "plain:bob-password"
        "#
    )
}

pub struct Gateway {
    pub child: Child,
    pub base: String,
    pub stdout: mpsc::UnboundedReceiver<String>,
    pub stderr: mpsc::UnboundedReceiver<String>,
    pub dir: tempfile::TempDir,
}

/// Sends every line of `pipe` to a channel.
pub fn lines(pipe: impl std::io::Read + Send + 'static) -> mpsc::UnboundedReceiver<String> {
    let (send, receive) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            if send.send(line).is_err() {
                return;
            }
        }
    });
    receive
}

/// The next line containing `needle`.
pub async fn line_with(lines: &mut mpsc::UnboundedReceiver<String>, needle: &str) -> String {
    let wait = async {
        while let Some(line) = lines.recv().await {
            if line.contains(needle) {
                return line;
            }
        }
        panic!("the gateway ended without printing {needle:?}");
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("the gateway did not print {needle:?}"))
}

pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command
        .args(args)
        .env_remove("JWT_SECRET")
        .env_remove("PORTCULLIS_CONFIG")
        .env("PORTCULLIS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

impl Gateway {
    /// Runs `portcullis serve --config <dir>/portcullis.toml` with `settings` and [`RULES`].
    pub async fn start(settings: &str) -> Gateway {
        Gateway::start_with(settings, &[]).await
    }

    /// [`Gateway::start`] with more `(name, contents)` files beside the settings.
    pub async fn start_with(settings: &str, files: &[(&str, &[u8])]) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        for (name, contents) in files {
            std::fs::write(dir.path().join(name), contents).unwrap();
        }
        std::fs::write(dir.path().join("portcullis.toml"), settings).unwrap();
        std::fs::write(dir.path().join("rules.json"), RULES).unwrap();
        let config = dir.path().join("portcullis.toml");
        let config = config.to_str().unwrap();
        Gateway::spawn(
            command(&["serve", "--config", config, "--listen", "127.0.0.1:0"]),
            dir,
        )
        .await
    }

    pub async fn spawn(mut command: Command, dir: tempfile::TempDir) -> Gateway {
        let mut child = command.spawn().unwrap();
        let mut stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        let listening = line_with(&mut stdout, "listening on http://").await;
        let base = listening
            .rsplit_once("listening on ")
            .unwrap()
            .1
            .trim()
            .to_owned();
        Gateway {
            child,
            base,
            stdout,
            stderr,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `signal` (e.g. `libc::SIGHUP`) to the gateway process.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) takes plain integers; the pid is our own child, still running.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "kill({pid}, {signal})");
    }

    /// Waits for the process to exit.
    pub async fn exit_status(&mut self) -> ExitStatus {
        let wait = async {
            loop {
                if let Some(status) = self.child.try_wait().unwrap() {
                    return status;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(PATIENCE, wait)
            .await
            .expect("the gateway did not exit")
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that never follows redirects and never reuses connections between tests.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Logs in with JSON and returns the `data` of the answer: the token pair.
pub async fn login(gateway: &Gateway, username: &str, password: &str) -> Value {
    let response = client()
        .post(gateway.url("/portcullis/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "login of {username}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], false);
    body["data"].clone()
}

pub async fn refresh_with(http: &Client, gateway: &Gateway, refresh: &str) -> reqwest::Response {
    http.post(gateway.url("/portcullis/refreshtoken"))
        .header("x-refresh-token", refresh)
        .send()
        .await
        .unwrap()
}

/// The status of `GET /api/orders` with `access`.
pub async fn get_api(http: &Client, gateway: &Gateway, access: &str) -> StatusCode {
    http.get(gateway.url("/api/orders"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
}

pub fn text(value: &Value) -> &str {
    value.as_str().unwrap()
}

/// The headers the upstream saw, from an echoed response.
pub async fn upstream_headers(response: reqwest::Response) -> HashMap<String, String> {
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    serde_json::from_value(body["headers"].clone()).unwrap()
}

/// `GET /portcullis/health`: the status and the report.
pub async fn health(gateway: &Gateway) -> (StatusCode, Value) {
    let response = client()
        .get(gateway.url("/portcullis/health"))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// Asks `/portcullis/health` until it answers `status` (reports are reused for a second, and
/// a backend takes a moment to notice a cut), and returns that report.
pub async fn health_becomes(gateway: &Gateway, status: StatusCode) -> Value {
    let wait = async {
        loop {
            let (now, report) = health(gateway).await;
            if now == status {
                return report;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("/portcullis/health never answered {status}"))
}

// ---------------------------------------------------------------------------------------------
// Real PostgreSQL and Redis servers, for the tests that need them.

/// `1` skips the tests that need a server when its URL is not set.
pub const SKIP: &str = "PORTCULLIS_SKIP_SERVICES";

/// The server URL in `variable` (`PORTCULLIS_TEST_POSTGRES_URL`, `PORTCULLIS_TEST_REDIS_URL`,
/// set by `scripts/services.sh`); `None` (skip) only when PORTCULLIS_SKIP_SERVICES=1.
pub fn server_url(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var(SKIP).as_deref() == Ok("1") => {
            eprintln!("{variable} is not set and {SKIP}=1: skipped");
            None
        }
        _ => panic!(
            "{variable} is not set: source scripts/services.sh and run services_start, which \
             starts private Redis and PostgreSQL servers and sets it (or set {SKIP}=1 to skip \
             these tests)"
        ),
    }
}

/// A name no other test uses, for a schema, a table or a key prefix: `t<pid>x<n>x<nanos>`.
pub fn namespace() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("t{}x{n}x{nanos:09}", std::process::id())
}

/// The TOML block of `doc` between `<!-- {name}:start -->` and `<!-- {name}:end -->`.
pub fn documented_toml(doc: &str, name: &str) -> String {
    let start = doc
        .find(&format!("<!-- {name}:start -->"))
        .unwrap_or_else(|| panic!("no {name}:start marker"));
    let end = doc
        .find(&format!("<!-- {name}:end -->"))
        .unwrap_or_else(|| panic!("no {name}:end marker"));
    let block = &doc[start..end];
    block[block.find("```toml\n").unwrap() + 8..block.rfind("```").unwrap()].to_owned()
}
