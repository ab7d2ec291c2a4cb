//! [`ReverseProxy`]: the service that passes a request on to the upstream and streams the
//! answer back.
//!
//! 1. The target is the upstream's base path joined with the request's path; the query is
//!    kept, less the `token` parameter (and one named like `jwt.custom_auth_header`) unless
//!    `gateway.forward_token` is on.
//! 2. Hop-by-hop headers (RFC 9110 §7.6.1: `Connection` and every header it names,
//!    `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`,
//!    `Proxy-Authenticate`, `Proxy-Authorization`) are removed both ways. The caller's
//!    credentials (`Authorization`, the token headers) are removed unless
//!    `gateway.forward_token` is on.
//! 3. `X-Forwarded-For`, `X-Forwarded-Host`, `X-Forwarded-Proto` and `Forwarded` (RFC 7239)
//!    are set from the client as the firewall determined it: values sent by a client that is
//!    not a trusted proxy are replaced, a trusted proxy's chain is extended with its address.
//!    `Host` becomes the upstream's authority unless `gateway.preserve_host` is on.
//! 4. Bodies stream both ways; nothing is buffered.
//! 5. A WebSocket (or any `Upgrade`) request is passed on with its upgrade headers; when the
//!    upstream answers `101`, both connections are upgraded and bytes copied between them
//!    until either side closes.
//! 6. An `https://` upstream is reached over TLS ([`tls`](super::tls): Mozilla's roots plus
//!    `gateway.upstream_ca_file`, SNI from the upstream's host), upgrades included.
//! 7. Failures are short JSON refusals: **502** when the upstream cannot be reached (connect
//!    error, TLS failure such as an untrusted certificate, or `gateway.connect_timeout`) or
//!    breaks off, **504** when it does not start
//!    answering within `gateway.request_timeout`, **413** when the request body grew past the
//!    limit while streaming.
//!
//! ```
//! use axum::body::Body;
//! use axum::Router;
//! use http::{Request, StatusCode};
//! use portcullis::gateway::ReverseProxy;
//! use portcullis::net::TrustedProxies;
//! use portcullis::settings::Settings;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // An upstream that says whether it was sent a token.
//! let upstream = Router::new().fallback(|request: Request<Body>| async move {
//!     if request.headers().contains_key("authorization") { StatusCode::IM_A_TEAPOT } else { StatusCode::OK }
//! });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let address = listener.local_addr()?;
//! tokio::spawn(async move { axum::serve(listener, upstream).await });
//!
//! let settings = Settings::from_toml_str(&format!("[gateway]\nupstream = \"http://{address}\""))?;
//! let proxy = ReverseProxy::new(&settings.gateway, &settings.jwt, TrustedProxies::default())?;
//! let request = Request::get("/anything?token=abc").header("authorization", "Bearer abc").body(Body::empty())?;
//! assert_eq!(proxy.clone().oneshot(request).await?.status(), StatusCode::OK);
//!
//! // Nobody listens on port 9 of the loopback: 502.
//! let down = Settings::from_toml_str("[gateway]\nupstream = \"http://127.0.0.1:9\"")?;
//! let proxy = ReverseProxy::new(&down.gateway, &down.jwt, TrustedProxies::default())?;
//! let response = proxy.oneshot(Request::get("/").body(Body::empty())?).await?;
//! assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
//! # Ok(()) }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use http::header::{AUTHORIZATION, CONNECTION, FORWARDED, HOST, UPGRADE};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, Uri, Version};
use hyper::upgrade::OnUpgrade;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tower::ServiceExt as _;
use tower_service::Service;

use super::limits::{body_too_large, too_large};
use super::tls;
use crate::net::{ClientInfo, TrustedProxies};
use crate::response::reject;
use crate::settings::{GatewaySettings, JwtSettings};
use crate::Result;

/// The query parameter a WebSocket client sends its token in (the O2 WebUi convention).
const TOKEN_PARAMETER: &str = "token";

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Hop-by-hop headers besides those `Connection` names.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
];

/// Passes requests on to the upstream. Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct ReverseProxy {
    inner: Arc<Inner>,
}

/// Plain TCP for an `http` upstream, TCP then TLS for an `https` one.
type Connector = HttpsConnector<HttpConnector>;

struct Inner {
    client: Client<Connector, Body>,
    connector: Connector,
    connect_timeout: Duration,
    scheme: Scheme,
    authority: Authority,
    base_path: String,
    preserve_host: bool,
    forward_token: bool,
    request_timeout: Duration,
    proxies: TrustedProxies,
    credential_headers: Vec<HeaderName>,
    token_parameters: [String; 2],
}

impl ReverseProxy {
    /// A proxy to `gateway.upstream`, with the token header names of `jwt` and the trusted
    /// proxies `proxies` (`firewall.trusted_proxies`).
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) naming `gateway.upstream` when it is missing or
    /// unusable, or `gateway.upstream_ca_file` when that file is (a relative path is taken
    /// from the current directory here; the gateway resolves it against the settings
    /// file's).
    pub fn new(
        gateway: &GatewaySettings,
        jwt: &JwtSettings,
        proxies: TrustedProxies,
    ) -> Result<Self> {
        let upstream = gateway.upstream_uri()?;
        let parts = upstream.into_parts();
        let (Some(scheme), Some(authority)) = (parts.scheme, parts.authority) else {
            return Err(crate::Error::config(
                "gateway.upstream",
                "must be http(s)://host[:port][/path]",
            ));
        };
        let base_path = parts
            .path_and_query
            .map(|p| p.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(gateway.connect_timeout));
        http.set_nodelay(true);
        // The TLS layer takes https URIs; plain ones pass through.
        http.enforce_http(false);
        let tls = tls::client_config(gateway.upstream_ca_file.as_deref())?;
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(connector.clone());
        let mut credential_headers = vec![AUTHORIZATION];
        for name in [&jwt.custom_auth_header, &jwt.custom_refresh_header] {
            if let Ok(name) = HeaderName::try_from(name.as_str()) {
                credential_headers.push(name);
            }
        }
        Ok(ReverseProxy {
            inner: Arc::new(Inner {
                client,
                connector,
                connect_timeout: gateway.connect_timeout,
                scheme,
                authority,
                base_path,
                preserve_host: gateway.preserve_host,
                forward_token: gateway.forward_token,
                request_timeout: gateway.request_timeout,
                proxies,
                credential_headers,
                token_parameters: [TOKEN_PARAMETER.to_owned(), jwt.custom_auth_header.clone()],
            }),
        })
    }
}

impl ReverseProxy {
    /// Opens a connection to the upstream — TCP, and the TLS handshake for `https` —
    /// within `gateway.connect_timeout`, then closes it: whether the upstream can be
    /// reached now. The failure is a short reason for `/portcullis/health` (`unreachable`,
    /// `tls handshake failed`, `timed out`); the details go to the log.
    pub(crate) async fn probe(&self) -> std::result::Result<(), &'static str> {
        let inner = &self.inner;
        let uri = Uri::builder()
            .scheme(inner.scheme.clone())
            .authority(inner.authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|_| "unusable address")?;
        let connect = inner.connector.clone().oneshot(uri);
        match tokio::time::timeout(inner.connect_timeout, connect).await {
            Ok(Ok(_connection)) => Ok(()),
            Ok(Err(error)) => {
                tracing::warn!(%error, "health: the upstream cannot be reached");
                if tls::is_tls_failure(&*error) {
                    Err("tls handshake failed")
                } else {
                    Err("unreachable")
                }
            }
            Err(_) => {
                tracing::warn!("health: connecting to the upstream timed out");
                Err("timed out")
            }
        }
    }
}

impl std::fmt::Debug for ReverseProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReverseProxy")
            .field("upstream", &self.inner.authority)
            .finish_non_exhaustive()
    }
}

/// The future of [`ReverseProxy`].
pub type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl Service<Request<Body>> for ReverseProxy {
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move { Ok(inner.forward(request).await) })
    }
}

impl Inner {
    async fn forward(&self, request: Request<Body>) -> Response {
        let (mut parts, body) = request.into_parts();
        let client = parts
            .extensions
            .get::<ClientInfo>()
            .cloned()
            .unwrap_or_else(|| self.proxies.client(&parts));
        let peer = TrustedProxies::peer(&parts);
        let upgrade = upgrade_protocol(&parts.headers);
        let on_upgrade = upgrade
            .is_some()
            .then(|| parts.extensions.remove::<OnUpgrade>())
            .flatten();

        let mut headers = std::mem::take(&mut parts.headers);
        remove_hop_by_hop(&mut headers);
        if !self.forward_token {
            for name in &self.credential_headers {
                headers.remove(name);
            }
        }
        if let Some(protocol) = &upgrade {
            headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(UPGRADE, protocol.clone());
        }
        self.set_forwarded(&mut headers, &client, peer);
        if !self.preserve_host || !headers.contains_key(HOST) {
            if let Ok(host) = HeaderValue::from_str(self.authority.as_str()) {
                headers.insert(HOST, host);
            }
        }

        let Some(uri) = self.target(&parts.uri) else {
            return reject(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "Bad Request: unusable URL",
            );
        };
        let mut outgoing = Request::new(body);
        *outgoing.method_mut() = parts.method.clone();
        *outgoing.uri_mut() = uri;
        *outgoing.version_mut() = Version::HTTP_11;
        *outgoing.headers_mut() = headers;

        let sent = tokio::time::timeout(self.request_timeout, self.client.request(outgoing)).await;
        let mut response = match sent {
            Err(_) => {
                tracing::warn!(
                    path = parts.uri.path(),
                    "the upstream did not answer in time"
                );
                return reject(
                    StatusCode::GATEWAY_TIMEOUT,
                    "gateway_timeout",
                    "Gateway Timeout: the upstream service did not answer in time",
                );
            }
            Ok(Err(error)) => return self.failure(&error, parts.uri.path()),
            Ok(Ok(response)) => response,
        };

        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            return match on_upgrade {
                Some(client_side) => tunnel(client_side, response),
                None => reject(
                    StatusCode::BAD_GATEWAY,
                    "bad_gateway",
                    "Bad Gateway: the upstream switched protocols unasked",
                ),
            };
        }
        remove_hop_by_hop(response.headers_mut());
        response.map(Body::new)
    }

    /// The 502 (or 413) for a failed exchange.
    fn failure(&self, error: &hyper_util::client::legacy::Error, path: &str) -> Response {
        if body_too_large(error) {
            return too_large(None);
        }
        if error.is_connect() {
            if tls::is_tls_failure(error) {
                tracing::warn!(
                    %error,
                    path,
                    "the upstream's TLS handshake failed: is its certificate trusted \
                     (gateway.upstream_ca_file) and issued for its host?"
                );
            } else {
                tracing::warn!(%error, path, "the upstream cannot be reached");
            }
            return reject(
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                "Bad Gateway: the upstream service cannot be reached",
            );
        }
        tracing::warn!(%error, path, "the upstream exchange failed");
        reject(
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            "Bad Gateway: the upstream service did not answer properly",
        )
    }

    /// The upstream URI for a request URI.
    fn target(&self, uri: &Uri) -> Option<Uri> {
        let mut target = String::with_capacity(self.base_path.len() + 64);
        target.push_str(&self.base_path);
        target.push_str(uri.path());
        if let Some(query) = uri.query() {
            let query = if self.forward_token {
                query.to_owned()
            } else {
                strip_parameters(query, &self.token_parameters)
            };
            if !query.is_empty() {
                target.push('?');
                target.push_str(&query);
            }
        }
        let path_and_query = PathAndQuery::try_from(target).ok()?;
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
            .ok()
    }

    /// Sets `X-Forwarded-*` and `Forwarded` (step 3 of the module docs).
    fn set_forwarded(&self, headers: &mut HeaderMap, client: &ClientInfo, peer: Option<IpAddr>) {
        let from_proxy = peer.is_some_and(|peer| self.proxies.trusts(peer));
        let proto = if client.secure { "https" } else { "http" };
        let peer_text = peer.map(|ip| ip.to_string());

        let chain = |headers: &HeaderMap, name: &HeaderName, element: &str| -> Option<String> {
            let existing: Vec<&str> = headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            if from_proxy && !existing.is_empty() {
                Some(format!("{}, {element}", existing.join(", ")))
            } else {
                Some(element.to_owned())
            }
        };

        let forwarded_for = peer_text
            .as_deref()
            .and_then(|peer| chain(headers, &X_FORWARDED_FOR, peer));
        let mut element = String::new();
        if let Some(peer) = peer {
            match peer {
                IpAddr::V4(v4) => element.push_str(&format!("for={v4}")),
                IpAddr::V6(v6) => element.push_str(&format!("for=\"[{v6}]\"")),
            }
        }
        if let Some(host) = &client.host {
            let host: String = host.chars().filter(|c| *c != '"' && *c != '\\').collect();
            if !element.is_empty() {
                element.push(';');
            }
            element.push_str(&format!("host=\"{host}\""));
        }
        if !element.is_empty() {
            element.push(';');
        }
        element.push_str("proto=");
        element.push_str(proto);
        let forwarded = chain(headers, &FORWARDED, &element);

        for name in [
            &X_FORWARDED_FOR,
            &X_FORWARDED_HOST,
            &X_FORWARDED_PROTO,
            &FORWARDED,
        ] {
            headers.remove(name);
        }
        let values = [
            (X_FORWARDED_FOR, forwarded_for),
            (X_FORWARDED_HOST, client.host.clone()),
            (X_FORWARDED_PROTO, Some(proto.to_owned())),
            (FORWARDED, forwarded),
        ];
        for (name, value) in values {
            if let Some(Ok(value)) = value.map(HeaderValue::try_from) {
                headers.insert(name, value);
            }
        }
    }
}

/// The protocol a request asks to upgrade to, when it asks (`Connection: upgrade` with an
/// `Upgrade` header).
fn upgrade_protocol(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    asks.then(|| headers.get(UPGRADE).cloned()).flatten()
}

/// Removes hop-by-hop headers, including those `Connection` names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| HeaderName::try_from(token.trim()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// `query` without the parameters named in `names`; the other parameters are kept byte for
/// byte.
fn strip_parameters(query: &str, names: &[String]) -> String {
    query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            let decoded: String = form_urlencoded::parse(key.as_bytes())
                .map(|(k, _)| k.into_owned())
                .next()
                .unwrap_or_default();
            !names.iter().any(|name| name.eq_ignore_ascii_case(&decoded))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Answers the client with the upstream's `101` and copies bytes between the two upgraded
/// connections.
fn tunnel(client_side: OnUpgrade, mut upstream: http::Response<hyper::body::Incoming>) -> Response {
    let upstream_side = hyper::upgrade::on(&mut upstream);
    tokio::spawn(async move {
        let (client, upstream) = match tokio::join!(client_side, upstream_side) {
            (Ok(client), Ok(upstream)) => (client, upstream),
            _ => {
                tracing::debug!("an upgraded connection could not be established");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut upstream = TokioIo::new(upstream);
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    });
    let (parts, _) = upstream.into_parts();
    Response::from_parts(parts, Body::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_parameters_are_stripped_and_the_rest_kept_verbatim() {
        let names = ["token".to_owned(), "x-auth-token".to_owned()];
        assert_eq!(
            strip_parameters("a=1&token=abc&b=%20x+y&X-Auth-Token=z", &names),
            "a=1&b=%20x+y"
        );
        assert_eq!(strip_parameters("token=abc", &names), "");
        assert_eq!(strip_parameters("tok%65n=abc&tokens=1", &names), "tokens=1");
    }

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_names_go() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, x-secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("te", "trailers"),
            ("proxy-authorization", "Basic eA=="),
            ("x-kept", "yes"),
        ] {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["x-kept"], "yes");
    }

    #[test]
    fn upgrades_need_connection_upgrade() {
        let mut headers = HeaderMap::new();
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        assert_eq!(upgrade_protocol(&headers), None);
        headers.insert(CONNECTION, HeaderValue::from_static("keep-alive, Upgrade"));
        assert_eq!(upgrade_protocol(&headers).unwrap(), "websocket");
    }
}
