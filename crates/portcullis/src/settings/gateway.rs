//! The security gateway (`gateway`): where `portcullis serve` listens, the service it protects,
//! what the service learns about the caller, and the limits and timeouts of the proxy.
//!
//! Nothing here is required to load settings: `gateway.upstream` is checked when the gateway
//! starts (a library user who never runs the gateway leaves the section out).
//!
//! ```
//! use std::time::Duration;
//! use portcullis::settings::Settings;
//!
//! let settings = Settings::from_toml_str(r#"
//!     [gateway]
//!     listen = "0.0.0.0:8080"
//!     upstream = "http://127.0.0.1:3000"
//!     request_timeout = "1m"
//!     identity_headers = { user_id = "x-user" }
//! "#).unwrap();
//! let gateway = &settings.gateway;
//! assert_eq!(gateway.listen.port(), 8080);
//! assert_eq!(gateway.request_timeout, Duration::from_secs(60));
//! assert_eq!(gateway.identity_headers.user_id, "x-user");
//! assert_eq!(gateway.identity_headers.roles, "x-portcullis-roles");
//! assert!(Settings::from_toml_str("[gateway]\nupstream = \"ftp://files\"").is_err());
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderName, Uri};
use serde::{Deserialize, Serialize};

use super::duration;
use crate::{Error, Result};

/// The `gateway` section: the reverse proxy `portcullis serve` runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct GatewaySettings {
    /// `listen`: the address the gateway accepts connections on. Default: `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// `upstream`: the protected service, `http://host[:port][/base-path]` or
    /// `https://host[:port][/base-path]`. Requests are sent to the base path joined with the
    /// request's path. Default: `""`; required to serve.
    pub upstream: String,
    /// `upstream_ca_file`: a PEM file of CA certificates trusted for an `https` upstream, in
    /// addition to Mozilla's roots (for a private CA); relative to the settings file's
    /// directory. Only with an `https` upstream. Default: none.
    pub upstream_ca_file: Option<PathBuf>,
    /// `preserve_host`: send the client's `Host` to the upstream instead of the upstream's
    /// own authority. Default: `false`.
    pub preserve_host: bool,
    /// `forward_token`: pass the caller's credentials (`Authorization`, the token headers,
    /// the `token` query parameter) on to the upstream. Default: `false`: the upstream
    /// learns who the caller is from the identity headers only.
    pub forward_token: bool,
    /// `identity_headers`: the names of the headers carrying the caller's identity to the
    /// upstream. Any such header sent by the client is removed first.
    pub identity_headers: IdentityHeaderNames,
    /// `connect_timeout`: how long connecting to the upstream may take before the client gets
    /// 502; a literal with a unit. Default: `5s`.
    #[serde(with = "duration::literal")]
    pub connect_timeout: Duration,
    /// `request_timeout`: how long the upstream may take to start answering (its response
    /// headers) before the client gets 504; bodies then stream without a limit. A literal
    /// with a unit. Default: `30s`.
    #[serde(with = "duration::literal")]
    pub request_timeout: Duration,
    /// `shutdown_timeout`: on SIGTERM/SIGINT, how long requests in flight may take to finish
    /// before the gateway exits anyway; a literal with a unit. Default: `30s`.
    #[serde(with = "duration::literal")]
    pub shutdown_timeout: Duration,
    /// `max_body_size`: the largest request body accepted, in bytes; larger ones get 413.
    /// Default: `10485760` (10 MiB).
    pub max_body_size: u64,
    /// `max_header_size`: the largest request head (request line and headers) accepted, in
    /// bytes (1024..=1048576); larger ones get 431. Default: `16384`.
    pub max_header_size: usize,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            upstream: String::new(),
            upstream_ca_file: None,
            preserve_host: false,
            forward_token: false,
            identity_headers: IdentityHeaderNames::default(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(30),
            max_body_size: 10 * 1024 * 1024,
            max_header_size: 16 * 1024,
        }
    }
}

/// `gateway.identity_headers`: the header names the upstream reads the caller's identity
/// from. Values are UTF-8, with `%`, `,` and anything but visible ASCII percent-encoded; lists
/// are comma-separated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct IdentityHeaderNames {
    /// `user_id`: the user's id (a token's `sub`). Default: `x-portcullis-user-id`.
    pub user_id: String,
    /// `username`: the login name. Default: `x-portcullis-username`.
    pub username: String,
    /// `roles`: the roles. Default: `x-portcullis-roles`.
    pub roles: String,
    /// `permissions`: the permissions. Default: `x-portcullis-permissions`.
    pub permissions: String,
    /// `scopes`: the token's scopes. Default: `x-portcullis-scopes`.
    pub scopes: String,
    /// `csrf_token`: the current CSRF token of the caller (key `default`), for the upstream
    /// to put into its forms; sent only while `csrf.enable_auto_verifier` is on, and removed
    /// from client requests always. Default: `x-portcullis-csrf-token`.
    pub csrf_token: String,
}

impl Default for IdentityHeaderNames {
    fn default() -> Self {
        IdentityHeaderNames {
            user_id: "x-portcullis-user-id".to_owned(),
            username: "x-portcullis-username".to_owned(),
            roles: "x-portcullis-roles".to_owned(),
            permissions: "x-portcullis-permissions".to_owned(),
            scopes: "x-portcullis-scopes".to_owned(),
            csrf_token: "x-portcullis-csrf-token".to_owned(),
        }
    }
}

impl IdentityHeaderNames {
    /// `(key, name)` of every identity header, in a fixed order (not `csrf_token`, which
    /// carries no identity: see [`IdentityHeaderNames::all`]).
    pub fn entries(&self) -> [(&'static str, &str); 5] {
        [
            ("user_id", &self.user_id),
            ("username", &self.username),
            ("roles", &self.roles),
            ("permissions", &self.permissions),
            ("scopes", &self.scopes),
        ]
    }

    /// `(key, name)` of every header of the section: the identity headers, then
    /// `csrf_token`.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.entries()
            .into_iter()
            .chain([("csrf_token", self.csrf_token.as_str())])
    }
}

/// Headers with a meaning of their own, which an identity header must not take over.
const RESERVED: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "transfer-encoding",
    "keep-alive",
    "content-length",
    "content-type",
    "content-encoding",
];

fn is_reserved(name: &HeaderName) -> bool {
    RESERVED.contains(&name.as_str())
}

/// The largest accepted `gateway.max_header_size`.
const MAX_HEADER_LIMIT: usize = 1024 * 1024;

impl GatewaySettings {
    /// Checks the section; errors name the offending key.
    pub(crate) fn validate(&self) -> Result<()> {
        if !self.upstream.is_empty() {
            let upstream = self.upstream_uri()?;
            if self.upstream_ca_file.is_some() && upstream.scheme_str() != Some("https") {
                return Err(Error::config(
                    "gateway.upstream_ca_file",
                    "applies to an https:// upstream only: remove it or use https",
                ));
            }
        }
        if self
            .upstream_ca_file
            .as_ref()
            .is_some_and(|path| path.as_os_str().is_empty())
        {
            return Err(Error::config(
                "gateway.upstream_ca_file",
                "empty: give the path of a PEM file, or leave the key out",
            ));
        }
        let mut seen: Vec<HeaderName> = Vec::new();
        for (key, name) in self.identity_headers.all() {
            let key = format!("gateway.identity_headers.{key}");
            let parsed = HeaderName::try_from(name)
                .map_err(|_| Error::config(&key, format!("{name:?} is not a header name")))?;
            if is_reserved(&parsed) {
                return Err(Error::config(
                    key,
                    format!("{name:?} is a standard header: choose a name of your own"),
                ));
            }
            if seen.contains(&parsed) {
                return Err(Error::config(key, format!("{name:?} is used twice")));
            }
            seen.push(parsed);
        }
        for (key, value) in [
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
        ] {
            if value.is_zero() {
                return Err(Error::config(format!("gateway.{key}"), "must be > 0"));
            }
        }
        if self.max_body_size == 0 {
            return Err(Error::config("gateway.max_body_size", "must be > 0"));
        }
        if !(1024..=MAX_HEADER_LIMIT).contains(&self.max_header_size) {
            return Err(Error::config(
                "gateway.max_header_size",
                format!(
                    "{} is outside 1024..={MAX_HEADER_LIMIT} bytes",
                    self.max_header_size
                ),
            ));
        }
        Ok(())
    }

    /// The upstream as a URI: `http` or `https` scheme, an authority, no query.
    ///
    /// # Errors
    /// [`Error::Config`] naming `gateway.upstream` when it is empty or not such a URL.
    pub fn upstream_uri(&self) -> Result<Uri> {
        let key = "gateway.upstream";
        if self.upstream.is_empty() {
            return Err(Error::config(
                key,
                "required: the URL of the service behind the gateway, e.g. http://127.0.0.1:3000",
            ));
        }
        let uri: Uri = self
            .upstream
            .parse()
            .map_err(|_| Error::config(key, format!("{:?} is not a URL", self.upstream)))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(Error::config(
                key,
                format!("{:?} must start with http:// or https://", self.upstream),
            ));
        }
        if uri.authority().is_none() || uri.query().is_some() {
            return Err(Error::config(
                key,
                format!(
                    "{:?} must be http(s)://host[:port][/path], without a query",
                    self.upstream
                ),
            ));
        }
        Ok(uri)
    }
}

#[cfg(test)]
mod tests {
    use crate::settings::Settings;

    fn error_key(toml: &str) -> String {
        match Settings::from_toml_str(&format!("[gateway]\n{toml}")) {
            Err(crate::Error::Config { key, .. }) => key,
            other => panic!("{toml}: {other:?}"),
        }
    }

    #[test]
    fn bad_values_name_their_key() {
        assert_eq!(
            error_key("upstream = \"localhost:3000\""),
            "gateway.upstream"
        );
        assert_eq!(error_key("upstream = \"ftp://a\""), "gateway.upstream");
        assert_eq!(
            error_key("upstream = \"http://a\"\nupstream_ca_file = \"ca.pem\""),
            "gateway.upstream_ca_file"
        );
        assert_eq!(
            error_key("upstream = \"https://a\"\nupstream_ca_file = \"\""),
            "gateway.upstream_ca_file"
        );
        assert_eq!(error_key("upstream = \"http://a/?q\""), "gateway.upstream");
        assert_eq!(error_key("listen = \"nowhere\""), "gateway.listen");
        assert_eq!(error_key("request_timeout = 5"), "gateway.request_timeout");
        assert_eq!(
            error_key("connect_timeout = \"0s\""),
            "gateway.connect_timeout"
        );
        assert_eq!(error_key("max_header_size = 10"), "gateway.max_header_size");
        assert_eq!(error_key("max_body_size = 0"), "gateway.max_body_size");
        assert_eq!(
            error_key("identity_headers = { roles = \"bad name\" }"),
            "gateway.identity_headers.roles"
        );
        assert_eq!(
            error_key("identity_headers = { roles = \"Authorization\" }"),
            "gateway.identity_headers.roles"
        );
        assert_eq!(
            error_key("identity_headers = { roles = \"x-portcullis-username\" }"),
            "gateway.identity_headers.roles"
        );
        assert_eq!(
            error_key("identity_headers = { csrf_token = \"x-portcullis-roles\" }"),
            "gateway.identity_headers.csrf_token"
        );
        assert_eq!(
            error_key("identity_headers = { csrf_token = \"cookie\" }"),
            "gateway.identity_headers.csrf_token"
        );
        assert_eq!(error_key("upstreams = \"http://a\""), "gateway.upstreams");
    }

    #[test]
    fn an_empty_upstream_loads_but_cannot_serve() {
        let settings = Settings::from_toml_str("").unwrap();
        let err = settings.gateway.upstream_uri().unwrap_err();
        assert!(err.to_string().starts_with("gateway.upstream: required"));
        let ok =
            Settings::from_toml_str("[gateway]\nupstream = \"http://127.0.0.1:9/base\"").unwrap();
        assert_eq!(ok.gateway.upstream_uri().unwrap().path(), "/base");
    }
}
