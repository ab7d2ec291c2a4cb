//! `portcullis serve --demo`: the gateway with nothing to configure.
//!
//! * an echo upstream on a free loopback port, answering every request with what it received:
//!   method, path, query, the identity headers and every other header — so you can see that
//!   the caller's token never reaches it and forged identity headers are dropped;
//! * the SQL user store in SQLite, seeded with `demo` (permission `orders:read`) and `admin`
//!   (role `admin`); registration open (`POST /portcullis/register`);
//! * rules: `/api/` needs a signed-in user, `/admin` the role `admin`; everything else is
//!   public;
//! * refresh tokens on; users and token storage in SQLite in a temporary directory, removed on
//!   exit; a fresh random JWT secret per run.

use std::net::SocketAddr;

use axum::extract::Request;
use axum::Json;
use portcullis::settings::{IdentityHeaderNames, Settings};
use portcullis::users::{NewUser, SqlUserStore};
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
        let directory = self.dir.path().display().to_string().replace('\\', "/");
        let toml = format!(
            r#"
            [gateway]
            upstream = "http://{upstream}"

            [jwt]
            issuer = "portcullis-demo"
            secret_key = "{secret}"
            enable_refresh_tokens = true
            token_storage = {{ driver = "sql", properties = {{ url = "sqlite://{directory}/tokens.db" }} }}

            [authentication]
            user_service = "users"

            [users]
            path = "{directory}/users.db"
            allow_registration = true

            [firewall]
            validator = "jwt"
            default_authentication_action = "block"
            default_authorization_action = "block"
            rules = [
                {{ id = "admin", secureList = "^/admin", match = "url", roles = "admin" }},
                {{ id = "api", secureList = "^/api/", match = "url" }},
            ]
            "#,
            upstream = self.upstream,
        );
        Settings::from_toml_str(&toml).map_err(|e| Failure::usage(e.to_string()))
    }

    /// Adds the demo users to the store.
    pub(crate) async fn seed(&self, users: &SqlUserStore) -> Result<(), Failure> {
        let [(demo, demo_password, _), (admin, admin_password, _)] = USERS;
        let seeded = [
            NewUser::new(demo, demo_password).permissions(["orders:read"]),
            NewUser::new(admin, admin_password).roles(["admin"]),
        ];
        for user in seeded {
            users
                .add(user)
                .await
                .map_err(|e| Failure::usage(format!("cannot seed the demo users: {e}")))?;
        }
        Ok(())
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
             New users: POST /portcullis/register with a username and a password (8+ characters).\n\
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
