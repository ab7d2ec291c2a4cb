//! Who is on the other end: the client's IP address, the host it asked for and whether it
//! came over HTTPS — believing forwarding headers only from trusted proxies.
//!
//! cbsecurity's `getRealIP()` trusted `X-Forwarded-For` from anyone and took its **first**
//! element, which the client writes. Here:
//!
//! 1. the peer is the TCP peer (axum's `ConnectInfo<SocketAddr>`; serve with
//!    `into_make_service_with_connect_info::<SocketAddr>()`);
//! 2. if the peer is not in `firewall.trusted_proxies`, it is the client, and every
//!    `X-Forwarded-*` header is ignored;
//! 3. otherwise `X-Forwarded-For` is read **right to left**, skipping trusted proxies; the first
//!    untrusted address is the client (if every hop is trusted, the leftmost is; an unreadable
//!    element stops the walk at the last readable hop);
//! 4. `X-Forwarded-Host` / `X-Forwarded-Proto` are believed only from a trusted peer, likewise.
//!
//! A request without a known peer has no client IP (`None`): a rule limited to some
//! addresses then refuses it.
//!
//! ```
//! use std::net::{IpAddr, SocketAddr};
//! use axum::extract::ConnectInfo;
//! use portcullis::net::TrustedProxies;
//!
//! let proxies = TrustedProxies::new(["10.0.0.0/8".parse().unwrap()]);
//! let mut request = http::Request::builder()
//!     .header("x-forwarded-for", "203.0.113.9, 198.51.100.7, 10.0.0.2")
//!     .body(()).unwrap();
//! request.extensions_mut().insert(ConnectInfo("10.0.0.1:443".parse::<SocketAddr>().unwrap()));
//! let (parts, _) = request.into_parts();
//! // 10.0.0.2 is a trusted hop; 198.51.100.7 is the first untrusted one: the client.
//! assert_eq!(proxies.client_ip(&parts), Some("198.51.100.7".parse::<IpAddr>().unwrap()));
//!
//! // The same header from an untrusted peer is ignored.
//! let untrusted = TrustedProxies::new([]);
//! assert_eq!(untrusted.client_ip(&parts), Some("10.0.0.1".parse::<IpAddr>().unwrap()));
//! ```

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::header::HOST;
use http::request::Parts;
use http::HeaderMap;
use ipnet::IpNet;

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
}

/// Where the request came from, as far as can be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address, if known.
    pub ip: Option<IpAddr>,
    /// The host the client asked for (`X-Forwarded-Host` from a trusted proxy, else `Host`),
    /// port included as sent.
    pub host: Option<String>,
    /// Whether the client connected over HTTPS (the URI's scheme, or `X-Forwarded-Proto` from
    /// a trusted proxy).
    pub secure: bool,
}

impl TrustedProxies {
    /// Trusts the given networks (`firewall.trusted_proxies`).
    pub fn new(networks: impl IntoIterator<Item = IpNet>) -> Self {
        TrustedProxies {
            networks: networks.into_iter().collect(),
        }
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.networks.iter().any(|net| net.contains(&ip))
    }

    /// The TCP peer's address, if the server recorded it.
    pub fn peer(parts: &Parts) -> Option<IpAddr> {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| canonical(addr.ip()))
    }

    /// The client's address (see the module docs).
    pub fn client_ip(&self, parts: &Parts) -> Option<IpAddr> {
        let peer = Self::peer(parts)?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let elements: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for element in elements.iter().rev() {
            let Some(hop) = parse_hop(element) else {
                break; // an unreadable hop: trust nothing to its left
            };
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        Some(client)
    }

    /// Everything about the client in one call.
    pub fn client(&self, parts: &Parts) -> ClientInfo {
        let from_trusted = Self::peer(parts).is_some_and(|peer| self.trusts(peer));
        let forwarded = |name: &str| -> Option<String> {
            if !from_trusted {
                return None;
            }
            first_value(&parts.headers, name)
        };
        let host = forwarded("x-forwarded-host").or_else(|| {
            parts
                .headers
                .get(HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        });
        let secure = parts.uri.scheme_str() == Some("https")
            || forwarded("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"));
        ClientInfo {
            ip: self.client_ip(parts),
            host,
            secure,
        }
    }
}

/// The first comma-separated element of header `name`, trimmed.
fn first_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then(|| first.to_owned())
}

/// One `X-Forwarded-For` element: an address, possibly with a port or in brackets.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are their IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    /// What the firewall determined about the client (trusted proxies applied), or, outside
    /// the firewall, the TCP peer with every forwarding header ignored.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientInfo>()
            .cloned()
            .unwrap_or_else(|| TrustedProxies::default().client(parts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().uri("http://app.example/x");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder.body(()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        request.into_parts().0
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn forwarded_for_is_read_right_to_left_through_trusted_hops() {
        let proxies =
            TrustedProxies::new(["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()]);
        let spoofed = parts("10.1.1.1:1", &[("x-forwarded-for", "6.6.6.6, 203.0.113.5")]);
        assert_eq!(
            proxies.client_ip(&spoofed),
            ip("203.0.113.5"),
            "the client wrote 6.6.6.6"
        );
        let all_trusted = parts("10.1.1.1:1", &[("x-forwarded-for", "10.2.2.2, 10.3.3.3")]);
        assert_eq!(proxies.client_ip(&all_trusted), ip("10.2.2.2"));
        let split = parts(
            "[::1]:1",
            &[
                ("x-forwarded-for", "198.51.100.1"),
                ("x-forwarded-for", "10.0.0.9"),
            ],
        );
        assert_eq!(
            proxies.client_ip(&split),
            ip("198.51.100.1"),
            "repeated headers concatenate"
        );
        let none = parts("10.1.1.1:1", &[]);
        assert_eq!(proxies.client_ip(&none), ip("10.1.1.1"));
        let garbage = parts("10.1.1.1:1", &[("x-forwarded-for", "not-an-ip, 10.0.0.5")]);
        assert_eq!(
            proxies.client_ip(&garbage),
            ip("10.0.0.5"),
            "an unreadable hop stops the walk"
        );
        let ported = parts("10.1.1.1:1", &[("x-forwarded-for", "[2001:db8::1]:443")]);
        assert_eq!(proxies.client_ip(&ported), ip("2001:db8::1"));
        let mapped = parts("[::ffff:10.9.9.9]:1", &[("x-forwarded-for", "192.0.2.1")]);
        assert_eq!(
            proxies.client_ip(&mapped),
            ip("192.0.2.1"),
            "IPv4-mapped peers are IPv4"
        );
    }

    #[test]
    fn untrusted_peers_cannot_forward_anything() {
        let proxies = TrustedProxies::new(["10.0.0.0/8".parse().unwrap()]);
        let headers = [
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
            ("host", "app.example"),
        ];
        let client = proxies.client(&parts("203.0.113.7:5", &headers));
        assert_eq!(
            client,
            ClientInfo {
                ip: ip("203.0.113.7"),
                host: Some("app.example".into()),
                secure: false
            }
        );
        let trusted = proxies.client(&parts("10.0.0.1:5", &headers));
        assert_eq!(
            trusted,
            ClientInfo {
                ip: ip("1.2.3.4"),
                host: Some("evil.example".into()),
                secure: true
            }
        );
    }

    #[test]
    fn without_a_peer_there_is_no_client_ip() {
        let (parts, _) = http::Request::builder().body(()).unwrap().into_parts();
        assert_eq!(TrustedProxies::default().client_ip(&parts), None);
    }
}
