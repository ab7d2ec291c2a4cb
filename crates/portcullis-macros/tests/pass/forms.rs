//! Every accepted form compiles into an axum handler, without a warning, and keeps what was
//! written around it.
#![deny(warnings, missing_docs)]

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use portcullis::guard::GuardSpec;
use portcullis::secured;

/// Any logged-in user.
#[secured]
pub async fn me() -> &'static str {
    "me"
}

/// Any of two permissions, with other extractors after the guard.
#[secured("reports:read, reports:admin")]
#[must_use]
pub(crate) async fn report(State(prefix): State<String>, Path(id): Path<u32>) -> String {
    format!("{prefix}{id}")
}

/// Open.
#[secured("false")]
async fn open() -> &'static str {
    "open"
}

/// A raw string, generics and a where-clause.
#[secured(r"admin")]
async fn echo<T>(body: T) -> T
where
    T: Send + 'static,
{
    body
}

/// A raw identifier as the handler's name.
#[secured("true")]
async fn r#type() {}

fn main() {
    assert_eq!(<__Secured_me as GuardSpec>::VALUE, "");
    assert_eq!(
        <__Secured_report as GuardSpec>::VALUE,
        "reports:read, reports:admin"
    );
    assert_eq!(<__Secured_open as GuardSpec>::VALUE, "false");
    assert_eq!(<__Secured_echo as GuardSpec>::VALUE, "admin");
    assert_eq!(<__Secured_type as GuardSpec>::VALUE, "true");
    assert_eq!(std::mem::size_of::<__Secured_me>(), 0);

    // In a block, too.
    #[secured("audit")]
    async fn audit() -> &'static str {
        "audit"
    }

    let _app: Router = Router::new()
        .route("/me", get(me))
        .route("/reports/{id}", get(report))
        .route("/open", get(open))
        .route("/echo", post(echo::<String>))
        .route("/type", get(r#type))
        .route("/audit", get(audit))
        .with_state("report ".to_owned());
}
