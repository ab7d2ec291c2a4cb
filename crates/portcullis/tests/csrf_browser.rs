//! CSRF protection in a real browser: headless Chromium driven through chromedriver by
//! fantoccini (WebDriver).
//!
//! * The app (`http://127.0.0.1:<a>`) serves a form with its token in a hidden field:
//!   submitting it passes. A JSON-free "API" form posting to a route protected by the Fetch
//!   Metadata checks alone passes too.
//! * An attacker site on another origin and site (`http://127.0.0.2:<b>`) serves pages that
//!   auto-post forms to the app: the token route refuses (403, the browser sends a forged
//!   token and no binding cookie), and so does the route protected by Fetch Metadata alone
//!   (403, the browser says `Sec-Fetch-Site: cross-site`).
//!
//! The statuses are read from the app's own record of what it answered. Chromium and
//! chromedriver come from Debian (`apt-get install chromium chromium-driver`, done by
//! `scripts/test.sh`); without them the test is skipped with a message, except under CI
//! (`CI` set), where it fails.
#![cfg(feature = "csrf")]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{Html, Response};
use axum::routing::{get, post};
use axum::Router;
use fantoccini::{Client, ClientBuilder, Locator};
use portcullis::csrf::{Csrf, CsrfLayer, FetchMetadataLayer};
use portcullis::settings::Settings;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

type Log = Arc<Mutex<Vec<(String, String, u16)>>>;

/// The application: forms, a token route and a Fetch Metadata route, with every answer logged.
async fn application(log: Log) -> String {
    let settings = Settings::from_toml_str(
        r#"
        [csrf]
        enable_auto_verifier = true
        verify_excludes = "^/api/"
        fetch_metadata = { enabled = true }
        "#,
    )
    .unwrap();
    let form = |csrf: Csrf| async move {
        let field = csrf.hidden_field().await?;
        Ok::<_, portcullis::Error>(Html(format!(
            "<!doctype html><title>form</title>\
             <form method=post action=/transfer>{field}\
             <input name=amount value=10><button id=go>Send</button></form>"
        )))
    };
    let api_form = || async {
        Html(
            "<!doctype html><title>api</title>\
             <form method=post action=/api/orders><input name=item value=1>\
             <button id=go>Order</button></form>",
        )
    };
    let record = move |request: Request, next: Next| {
        let log = log.clone();
        async move {
            let method = request.method().to_string();
            let path = request.uri().path().to_owned();
            let response: Response = next.run(request).await;
            log.lock()
                .unwrap()
                .push((method, path, response.status().as_u16()));
            response
        }
    };
    // The API route relies on Fetch Metadata alone (excluded from the token verifier); the
    // form route on its token alone.
    let api = Router::new()
        .route(
            "/api/orders",
            post(|| async { Html("<p id=result>ordered</p>") }),
        )
        .layer(FetchMetadataLayer::from_settings(&settings));
    let app = Router::new()
        .route("/form", get(form))
        .route(
            "/transfer",
            post(|| async { Html("<p id=result>transferred</p>") }),
        )
        .route("/api-form", get(api_form))
        .merge(api)
        .layer(CsrfLayer::from_settings(&settings).await.unwrap())
        .layer(middleware::from_fn(record));
    common::server::serve(app).await
}

/// The attacker's site: pages that post a form to the application as soon as they load.
async fn attacker(target: String) -> String {
    let page = |action: String, fields: &'static str| {
        Html(format!(
            "<!doctype html><title>win a prize</title>\
             <form id=f method=post action=\"{action}\">{fields}</form>\
             <script>document.getElementById('f').submit()</script>"
        ))
    };
    let transfer = format!("{target}/transfer");
    let orders = format!("{target}/api/orders");
    let app = Router::new()
        .route(
            "/transfer",
            get(move || {
                let action = transfer.clone();
                async move {
                    page(
                        action,
                        "<input name=csrf value=forged><input name=amount value=9999>",
                    )
                }
            }),
        )
        .route(
            "/order",
            get(move || {
                let action = orders.clone();
                async move { page(action, "<input name=item value=666>") }
            }),
        );
    common::server::serve_on("127.0.0.2", app).await
}

/// chromedriver on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    let driver = Driver { child, url };
    for _ in 0..200 {
        if reqwest::get(format!("{}/status", driver.url)).await.is_ok() {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("chromedriver did not answer within 10 s");
}

async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Waits until the application has answered `method path`; returns the status.
async fn answered(log: &Log, method: &str, path: &str) -> u16 {
    for _ in 0..200 {
        let found = log
            .lock()
            .unwrap()
            .iter()
            .find(|(m, p, _)| m == method && p == path)
            .map(|(_, _, status)| *status);
        if let Some(status) = found {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the application never received {method} {path}");
}

/// Waits until the page's text contains `text`.
async fn shows(client: &Client, text: &str) {
    for _ in 0..100 {
        if let Ok(body) = client.find(Locator::Css("body")).await {
            if body.text().await.is_ok_and(|t| t.contains(text)) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the page never showed {text:?}: {:?}",
        client.source().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_pass_and_cross_site_posts_are_refused_in_chromium() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMIUM} and {CHROMEDRIVER} are required under CI (scripts/test.sh installs them)"
        );
        eprintln!(
            "SKIPPED: the browser test needs {CHROMIUM} and {CHROMEDRIVER} \
             (apt-get install chromium chromium-driver)"
        );
        return;
    }
    let log = Log::default();
    let app = application(log.clone()).await;
    let evil = attacker(app.clone()).await;
    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver, profile.path()).await;

    // (page visited, button to click or none for auto-posting pages, route posted to,
    // status the application answered, text the browser shows)
    let steps = [
        // The application's own form, with its hidden token: accepted.
        (
            format!("{app}/form"),
            Some("go"),
            "/transfer",
            200,
            "transferred",
        ),
        // A same-origin form to the route protected by Fetch Metadata alone: accepted.
        (
            format!("{app}/api-form"),
            Some("go"),
            "/api/orders",
            200,
            "ordered",
        ),
        // The attacker's auto-posting page, with a forged token (and, cross-site, without
        // the SameSite=Lax binding cookie): refused by the token check.
        (
            format!("{evil}/transfer"),
            None,
            "/transfer",
            403,
            "CSRF token invalid",
        ),
        // The same attack on the token-less route: refused by the Fetch Metadata check.
        (
            format!("{evil}/order"),
            None,
            "/api/orders",
            403,
            "Cross-site request refused",
        ),
    ];
    for (page, button, route, status, text) in steps {
        log.lock().unwrap().clear();
        client.goto(&page).await.unwrap();
        if let Some(button) = button {
            let button = client.find(Locator::Id(button)).await.unwrap();
            button.click().await.unwrap();
        }
        assert_eq!(answered(&log, "POST", route).await, status, "{page}");
        shows(&client, text).await;
    }

    client.close().await.unwrap();
}
