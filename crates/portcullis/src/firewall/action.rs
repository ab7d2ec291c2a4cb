//! What happens to a refused request (spec §2.8, with its defects fixed).
//!
//! 1. The action: a rule's explicit `override` target makes it `override`, its `redirect`
//!    target makes it `redirect` (redirect wins); else the rule's `action`; else the module's,
//!    else the global `default_<kind>_action`. A validator's `block` kind, or a challenge it
//!    must send (Basic auth), always blocks.
//! 2. Clients asking for JSON get a JSON 401/403 instead of a redirect or override
//!    (`firewall.json_responses`, default on).
//! 3. `redirect`: 302 to the target — a path, or an absolute `http(s)://` URL (cbsecurity's
//!    `^http?:` missed `https:`) — with the refused URL in the `_securedURL` query parameter so
//!    the login page can send the user back; a path target becomes an `https://` URL when
//!    `firewall.rules.use_ssl`, the rule's `use_ssl`, or the request itself is secure.
//! 4. `override`: the target route answers in the same request (no redirect), as a `GET` with
//!    the original headers and query; the refused request's body is not replayed.
//! 5. `block`: 401 with a `WWW-Authenticate` challenge fitting the validator, or 403; HTML for
//!    browsers, the JSON envelope for API clients.
//!
//! Every refusal carries a [`Rejection`] in its extensions.

use axum::response::{Html, IntoResponse, Response};
use http::header::{ACCEPT, LOCATION, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderValue, StatusCode};

use super::{Rule, Verdict, VerdictKind};
use crate::net::ClientInfo;
use crate::response::{reject, Rejection};
use crate::settings::Action;

/// The query parameter carrying the refused URL on a redirect.
pub const SECURED_URL_PARAMETER: &str = "_securedURL";

/// The URL the client was refused at, absolute when the host is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecuredUrl(pub String);

impl SecuredUrl {
    /// The refused URL of a request.
    pub fn of(parts: &Parts, client: &ClientInfo) -> Self {
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        match &client.host {
            Some(host) => {
                let scheme = if client.secure { "https" } else { "http" };
                SecuredUrl(format!("{scheme}://{host}{path}"))
            }
            None => SecuredUrl(path.to_owned()),
        }
    }
}

/// What to do with a refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Redirect to the target.
    Redirect(String),
    /// Answer with the target route.
    Override(String),
    /// Refuse with 401/403.
    Block,
}

impl Resolved {
    /// The action's name, for logs and events.
    pub fn action(&self) -> Action {
        match self {
            Resolved::Redirect(_) => Action::Redirect,
            Resolved::Override(_) => Action::Override,
            Resolved::Block => Action::Block,
        }
    }
}

/// The configured defaults for one kind of refusal (module over global).
#[derive(Debug, Clone, Copy)]
pub struct Defaults<'a> {
    /// The default action.
    pub action: Action,
    /// The default redirect/override target.
    pub target: &'a str,
}

/// Picks the action for a refusal (step 1 of the module docs).
pub fn resolve(verdict: &Verdict, rule: Option<&Rule>, defaults: Defaults<'_>) -> Resolved {
    if verdict.kind == VerdictKind::Block || verdict.challenge {
        return Resolved::Block;
    }
    if let Some(rule) = rule {
        if let Some(target) = rule.redirect() {
            return Resolved::Redirect(target.to_owned());
        }
        if let Some(target) = rule.override_event() {
            return Resolved::Override(target.to_owned());
        }
    }
    let action = rule.and_then(Rule::action).unwrap_or(defaults.action);
    match action {
        Action::Redirect => Resolved::Redirect(defaults.target.to_owned()),
        Action::Override => Resolved::Override(defaults.target.to_owned()),
        Action::Block => Resolved::Block,
    }
}

/// Whether the client prefers JSON: `Accept` lists JSON and not HTML.
pub fn wants_json(parts: &Parts) -> bool {
    let accept = parts
        .headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase();
    (accept.contains("application/json") || accept.contains("+json"))
        && !accept.contains("text/html")
}

/// The 401/403 response for a refusal.
pub fn block(verdict: &Verdict, json: bool, challenge: Option<HeaderValue>) -> Response {
    let authentication = verdict.kind != VerdictKind::Authorization;
    let (status, kind, title) = if authentication {
        (StatusCode::UNAUTHORIZED, "authentication", "Unauthorized")
    } else {
        (StatusCode::FORBIDDEN, "authorization", "Forbidden")
    };
    let message = verdict
        .messages
        .first()
        .cloned()
        .unwrap_or_else(|| title.to_owned());
    let mut response = if json {
        reject(status, kind, message)
    } else {
        let mut response = (status, Html(format!("<h1>{title}</h1>"))).into_response();
        response.extensions_mut().insert(Rejection {
            status,
            kind,
            message,
        });
        response
    };
    response.headers_mut().extend(verdict.headers.clone());
    if authentication && !response.headers().contains_key(WWW_AUTHENTICATE) {
        if let Some(challenge) = challenge {
            response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
        }
    }
    response
}

/// The 302 response for a redirect to `target` (step 3 of the module docs).
pub fn redirect(
    target: &str,
    secured: &SecuredUrl,
    https: bool,
    client: &ClientInfo,
    kind: &'static str,
) -> Response {
    let absolute = target.starts_with("http://") || target.starts_with("https://");
    let base = match (&client.host, absolute, https) {
        (Some(host), false, true) => format!("https://{host}{target}"),
        _ => target.to_owned(),
    };
    let separator = if base.contains('?') { '&' } else { '?' };
    let encoded: String = form_urlencoded::byte_serialize(secured.0.as_bytes()).collect();
    let location = format!("{base}{separator}{SECURED_URL_PARAMETER}={encoded}");
    let mut response = StatusCode::FOUND.into_response();
    match HeaderValue::from_str(&location) {
        Ok(value) => {
            response.headers_mut().insert(LOCATION, value);
        }
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
    response.extensions_mut().insert(Rejection {
        status: StatusCode::FOUND,
        kind,
        message: format!("redirected to {target}"),
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(accept: &str) -> Parts {
        http::Request::builder()
            .header(ACCEPT, accept)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[test]
    fn json_is_wanted_only_without_html() {
        assert!(wants_json(&parts("application/json")));
        assert!(wants_json(&parts("application/problem+json, */*")));
        assert!(!wants_json(&parts(
            "text/html,application/xhtml+xml,application/json;q=0.9"
        )));
        assert!(!wants_json(&parts("*/*")));
    }

    #[test]
    fn redirects_carry_the_refused_url_and_upgrade_to_https() {
        let client = ClientInfo {
            ip: None,
            host: Some("app.example".into()),
            secure: false,
        };
        let secured = SecuredUrl("http://app.example/admin?x=1&y=2".into());
        let plain = redirect("/login", &secured, false, &client, "authentication");
        assert_eq!(plain.status(), StatusCode::FOUND);
        assert_eq!(
            plain.headers()[LOCATION],
            "/login?_securedURL=http%3A%2F%2Fapp.example%2Fadmin%3Fx%3D1%26y%3D2"
        );
        let forced = redirect("/login?next=1", &secured, true, &client, "authentication");
        assert!(forced.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("https://app.example/login?next=1&_securedURL="));
        let external = redirect(
            "https://sso.example/auth",
            &secured,
            true,
            &client,
            "authentication",
        );
        assert!(external.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("https://sso.example/auth?_securedURL="));
    }
}
