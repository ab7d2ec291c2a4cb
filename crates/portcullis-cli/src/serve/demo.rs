//! `portcullis serve --demo`: the gateway with nothing to configure.
//!
//! * an echo upstream on a free loopback port, answering every request with what it received:
//!   method, path, query, the identity headers and every other header — so you can see that
//!   the caller's token never reaches it and forged identity headers are dropped;
//! * two users, `demo` (permission `orders:read`) and `admin` (role `admin`), in `basic_auth`;
//! * rules: `/api/` needs a signed-in user, `/admin` the role `admin`; everything else is
//!   public;
//! * refresh tokens on; token storage in SQLite in a temporary directory, removed on exit; a
//!   fresh random JWT secret per run.

use std::net::SocketAddr;

use axum::extract::Request;
use axum::Json;
use portcullis::settings::{IdentityHeaderNames, Settings};
use serde_json::{json, Map, Value};

use crate::Failure;

/// The demo users: name, password, what they may do.
pub(crate) const USERS: [(&str, &str, &str); 2] = [
    ("demo", "demo-password", "permission orders:read"),
    ("admin", "admin-password", "role admin"),
];

/// The running demo's upstream and temporary directory (removed when dropped).
pub(crate) struct Demo {
    upstream: SocketAddr,
    dir: tempfile::TempDir,
}

impl Demo {
    /// Starts the echo upstream.
    pub(crate) async fn start() -> Result<Self, Failure> {
        let dir = tempfile::Builder::new()
            .prefix("portcullis-demo-")
            .tempdir()
            .map_err(|e| Failure::usage(format!("cannot create a temporary directory: {e}")))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Failure::usage(format!("cannot start the echo upstream: {e}")))?;
        let upstream = listener
            .local_addr()
            .map_err(|e| Failure::usage(format!("cannot start the echo upstream: {e}")))?;
        let echo = axum::Router::new().fallback(echo);
        tokio::spawn(async move { axum::serve(listener, echo).await });
        Ok(Demo { upstream, dir })
    }

    /// The demo's settings.
    pub(crate) fn settings(&self) -> Result<Settings, Failure> {
        let secret = crate::secret::random_secret(64)?;
        let database = self.dir.path().join("tokens.db");
        let toml = format!(
            r#"
            [gateway]
            upstream = "http://{upstream}"

            [jwt]
            issuer = "portcullis-demo"
            secret_key = "{secret}"
            enable_refresh_tokens = true
            token_storage = {{ driver = "sql", properties = {{ url = "sqlite://{database}" }} }}

            [firewall]
            validator = "jwt"
            default_authentication_action = "block"
            default_authorization_action = "block"
            rules = [
                {{ id = "admin", secureList = "^/admin", match = "url", roles = "admin" }},
                {{ id = "api", secureList = "^/api/", match = "url" }},
            ]

            [basic_auth.users.{demo}]
            password = "plain:{demo_password}"
            permissions = ["orders:read"]

            [basic_auth.users.{admin}]
            password = "plain:{admin_password}"
            roles = "admin"
            "#,
            upstream = self.upstream,
            database = database.display().to_string().replace('\\', "/"),
            demo = USERS[0].0,
            demo_password = USERS[0].1,
            admin = USERS[1].0,
            admin_password = USERS[1].1,
        );
        Settings::from_toml_str(&toml).map_err(|e| Failure::usage(e.to_string()))
    }

    /// What to print once the gateway listens on `address`.
    pub(crate) fn banner(&self, address: SocketAddr) -> String {
        let mut text = String::from("\ndemo users:\n");
        for (name, password, grants) in USERS {
            text.push_str(&format!("  {name} / {password}   ({grants})\n"));
        }
        let (name, password, _) = USERS[0];
        text.push_str(&format!(
            "\ntry it:\n  TOKEN=$(curl -s -X POST http://{address}/portcullis/login \\\n      \
             -H 'content-type: application/json' \\\n      \
             -d '{{\"username\":\"{name}\",\"password\":\"{password}\"}}' \\\n      \
             | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n  \
             curl -s http://{address}/api/orders -H \"Authorization: Bearer $TOKEN\"\n\n\
             rules: /api/ needs a signed-in user, /admin the role admin; the rest is public.\n\
             The echo upstream shows what reached it. Stop with Ctrl-C."
        ));
        text
    }
}

/// The echo upstream: what it received, as JSON.
async fn echo(request: Request) -> Json<Value> {
    let names = IdentityHeaderNames::default();
    let headers = request.headers();
    let mut identity = Map::new();
    for (key, name) in names.entries() {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            identity.insert(key.to_owned(), Value::from(value));
        }
    }
    let mut all = Map::new();
    for (name, value) in headers {
        all.insert(
            name.as_str().to_owned(),
            Value::from(String::from_utf8_lossy(value.as_bytes()).into_owned()),
        );
    }
    Json(json!({
        "upstream": "portcullis demo echo",
        "method": request.method().as_str(),
        "path": request.uri().path(),
        "query": request.uri().query(),
        "identity": identity,
        "headers": all,
    }))
}
