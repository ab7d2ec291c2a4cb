//! [`IpValidationLayer`]: requests from client addresses outside `allowed_ips` are refused
//! (`security_headers.ip_validation`, spec §5.1 step 3).
//!
//! 1. The client's address is the TCP peer (serve with
//!    `into_make_service_with_connect_info::<SocketAddr>()`); with `trust_upstream`, the
//!    first untrusted address of `X-Forwarded-For`, read right to left through trusted
//!    proxies ([`TrustedProxies::client_ip`]). cbsecurity took the header's first element,
//!    which the client writes.
//! 2. It must lie in one of the allowed networks (CIDR; cbsecurity compared exact strings).
//! 3. Not allowed, or unknown (no peer recorded — fail closed):
//!    [`SecurityEvent::FirewallBlock`] with [`FirewallBlock::IpValidation`], then **403**
//!    `Invalid IP` (text, or the JSON envelope for JSON clients), with a
//!    [`Rejection`](crate::response::Rejection) of kind `invalid_ip`.
//!
//! ```
//! use std::net::SocketAddr;
//! use axum::{extract::ConnectInfo, routing::get, Router};
//! use portcullis::headers::IpValidationLayer;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(IpValidationLayer::new(["10.0.0.0/8".parse().unwrap()]));
//! let from = |peer: &str| {
//!     let mut request = http::Request::new(axum::body::Body::empty());
//!     request.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
//!     request
//! };
//! assert_eq!(app.clone().oneshot(from("10.1.2.3:5000")).await.unwrap().status(), 200);
//! assert_eq!(app.oneshot(from("192.0.2.1:5000")).await.unwrap().status(), 403);
//! # }
//! ```

use std::sync::Arc;

use http::request::Parts;
use ipnet::IpNet;

use super::allow_list::{AllowList, AllowListLayer};
use super::check::Checked;
use crate::events::FirewallBlock;
use crate::net::TrustedProxies;
use crate::settings::IpValidationSettings;

/// Refuses requests from addresses not allowed (see the module docs).
pub type IpValidationLayer = AllowListLayer<IpValidationSettings>;

/// The service made by [`IpValidationLayer`].
pub type IpValidation<S> = Checked<S, IpValidationLayer>;

impl IpValidationLayer {
    /// Allows clients in `networks` only.
    pub fn new(networks: impl IntoIterator<Item = IpNet>) -> Self {
        AllowListLayer::from_settings(&IpValidationSettings {
            enabled: true,
            allowed_ips: networks.into_iter().collect(),
        })
    }
}

impl AllowList for IpValidationSettings {
    const REFUSAL: (&'static str, &'static str) = ("invalid_ip", "Invalid IP");

    fn enabled(&self) -> bool {
        self.enabled
    }

    fn refuses(self: &Arc<Self>, proxies: &TrustedProxies, parts: &Parts) -> Option<FirewallBlock> {
        let ip = proxies.client_ip(parts);
        let allowed = ip.is_some_and(|ip| self.allowed_ips.iter().any(|net| net.contains(&ip)));
        (!allowed).then(|| FirewallBlock::IpValidation {
            config: self.clone(),
            incoming_ip: ip,
        })
    }
}
