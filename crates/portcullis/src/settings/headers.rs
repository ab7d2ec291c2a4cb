//! Response security headers and request host/IP checks (`security_headers`, spec §5).
//!
//! Values follow the RFCs rather than cbsecurity's output: HSTS is `max-age=N;
//! includeSubDomains; preload` (cbsecurity wrote `max-age: N;`), and `X-XSS-Protection`
//! defaults to `0` (cbsecurity sent `1; block`). Partial tables are completed key by key from
//! the defaults.
//!
//! ```
//! use portcullis::settings::{FrameOptions, Settings, XssMode};
//!
//! let settings = Settings::from_toml_str(r#"
//!     [security_headers.frame_options]
//!     value = "deny"
//!     [security_headers.hsts]
//!     include_sub_domains = true
//! "#).unwrap();
//! let headers = &settings.security_headers;
//! assert_eq!(headers.frame_options.value, FrameOptions::Deny);
//! assert!(headers.frame_options.enabled); // completed from the defaults
//! assert_eq!(headers.hsts.header_value(), "max-age=31536000; includeSubDomains");
//! assert_eq!(headers.xss_protection.mode.header_value(), "0");
//! assert_eq!(XssMode::Block.header_value(), "1; mode=block");
//! ```

use std::collections::BTreeMap;
use std::fmt;

use ipnet::IpNet;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use super::keyword::keyword_enum;
use super::list;
use crate::{Error, Result};

keyword_enum! {
    /// `X-Frame-Options` values. `ALLOW-FROM` is obsolete and refused: use the CSP
    /// `frame-ancestors` directive instead.
    #[derive(Default)]
    pub enum FrameOptions ("an X-Frame-Options value") {
        /// `DENY`: never framed.
        Deny = "DENY",
        /// `SAMEORIGIN`: framed by the same origin only. The default.
        #[default]
        SameOrigin = "SAMEORIGIN",
    }
}

keyword_enum! {
    /// `Referrer-Policy` values (W3C Referrer Policy).
    #[derive(Default)]
    pub enum ReferrerPolicy ("a referrer policy") {
        /// `no-referrer`.
        NoReferrer = "no-referrer",
        /// `no-referrer-when-downgrade`.
        NoReferrerWhenDowngrade = "no-referrer-when-downgrade",
        /// `origin`.
        Origin = "origin",
        /// `origin-when-cross-origin`.
        OriginWhenCrossOrigin = "origin-when-cross-origin",
        /// `same-origin`. The default.
        #[default]
        SameOrigin = "same-origin",
        /// `strict-origin`.
        StrictOrigin = "strict-origin",
        /// `strict-origin-when-cross-origin`.
        StrictOriginWhenCrossOrigin = "strict-origin-when-cross-origin",
        /// `unsafe-url`: sends full URLs to every site; unsafe.
        UnsafeUrl = "unsafe-url",
    }
}

keyword_enum! {
    /// `X-XSS-Protection` modes.
    ///
    /// The default is `0`: the browsers' XSS auditors are gone or harmful, and OWASP
    /// recommends `0`. cbsecurity's default mode `block` produced the malformed `1; block`
    /// (\[BUG\]); here `block` means the well-formed `1; mode=block`.
    #[derive(Default)]
    pub enum XssMode ("an X-XSS-Protection mode") {
        /// Header value `0`: auditor off. The default.
        #[default]
        Off = "0" | "off" | "disabled",
        /// Header value `1`: filter (sanitise) the page.
        On = "1" | "on",
        /// Header value `1; mode=block`: block the page. cbsecurity's `block`.
        Block = "block" | "1; mode=block" | "1;mode=block" | "mode=block",
    }
}

impl XssMode {
    /// The header value this mode sends.
    pub const fn header_value(self) -> &'static str {
        match self {
            XssMode::Off => "0",
            XssMode::On => "1",
            XssMode::Block => "1; mode=block",
        }
    }
}

keyword_enum! {
    /// `Cross-Origin-Opener-Policy` values.
    #[derive(Default)]
    pub enum CrossOriginOpenerPolicy ("a Cross-Origin-Opener-Policy value") {
        /// `same-origin`. The default (as helmet).
        #[default]
        SameOrigin = "same-origin",
        /// `same-origin-allow-popups`.
        SameOriginAllowPopups = "same-origin-allow-popups",
        /// `noopener-allow-popups`.
        NoopenerAllowPopups = "noopener-allow-popups",
        /// `unsafe-none`.
        UnsafeNone = "unsafe-none",
    }
}

keyword_enum! {
    /// `Cross-Origin-Resource-Policy` values.
    #[derive(Default)]
    pub enum CrossOriginResourcePolicy ("a Cross-Origin-Resource-Policy value") {
        /// `same-origin`. The default (as helmet).
        #[default]
        SameOrigin = "same-origin",
        /// `same-site`.
        SameSite = "same-site",
        /// `cross-origin`.
        CrossOrigin = "cross-origin",
    }
}

keyword_enum! {
    /// `Origin-Agent-Cluster` values.
    #[derive(Default)]
    pub enum OriginAgentCluster ("an Origin-Agent-Cluster value") {
        /// `?1`: ask for an origin-keyed agent cluster. The default (as helmet).
        #[default]
        On = "?1",
        /// `?0`.
        Off = "?0",
    }
}

/// `Content-Security-Policy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ContentSecurityPolicySettings {
    /// `enabled`. Default: `false`.
    pub enabled: bool,
    /// `policy`: the policy text; required when enabled. Default: `""`.
    pub policy: String,
    /// `report_only`: send `Content-Security-Policy-Report-Only` instead (portcullis
    /// addition). Default: `false`.
    pub report_only: bool,
    /// `nonce`: add a fresh per-response nonce (portcullis addition): at each `{nonce}` in
    /// the policy, else as `'nonce-…'` after the sources of `script-src` and `style-src`
    /// (one of them is then required). Default: `false`.
    pub nonce: bool,
}

/// `X-Content-Type-Options: nosniff`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ContentTypeOptionsSettings {
    /// `enabled`. Default: `true`.
    pub enabled: bool,
}

impl Default for ContentTypeOptionsSettings {
    fn default() -> Self {
        ContentTypeOptionsSettings { enabled: true }
    }
}

/// `X-Frame-Options`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct FrameOptionsSettings {
    /// `enabled`. Default: `true`.
    pub enabled: bool,
    /// `value`: `DENY` or `SAMEORIGIN` (case-insensitive). Default: `SAMEORIGIN`.
    pub value: FrameOptions,
}

impl Default for FrameOptionsSettings {
    fn default() -> Self {
        FrameOptionsSettings {
            enabled: true,
            value: FrameOptions::SameOrigin,
        }
    }
}

/// A number of seconds given as an integer or as digits in a string (cbsecurity wrote
/// `"31536000"`).
fn seconds<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
    struct Seconds;
    impl Visitor<'_> for Seconds {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number of seconds")
        }
        fn visit_u64<E: de::Error>(self, value: u64) -> std::result::Result<u64, E> {
            Ok(value)
        }
        fn visit_i64<E: de::Error>(self, value: i64) -> std::result::Result<u64, E> {
            u64::try_from(value)
                .map_err(|_| E::custom(format!("{value} is negative: use a number of seconds")))
        }
        fn visit_str<E: de::Error>(self, text: &str) -> std::result::Result<u64, E> {
            text.trim()
                .parse()
                .map_err(|_| E::custom(format!("{text:?} is not a whole number of seconds")))
        }
    }
    d.deserialize_any(Seconds)
}

/// `Strict-Transport-Security`. Sent over HTTPS only (RFC 6797 §7.2; cbsecurity also sent it
/// over plain HTTP).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct HstsSettings {
    /// `enabled`. Default: `true`.
    pub enabled: bool,
    /// `max_age`: seconds browsers remember to use HTTPS. Default: `31536000` (one year).
    /// Lowering it after deployment does not shorten what browsers already remember.
    #[serde(deserialize_with = "seconds")]
    pub max_age: u64,
    /// `include_sub_domains`: apply to every subdomain. Default: `false`. Unsafe if any
    /// subdomain still serves plain HTTP.
    pub include_sub_domains: bool,
    /// `preload`: ask to be preloaded into browsers. Default: `false`. Requires
    /// `include_sub_domains` and `max_age` ≥ 31536000; hard to undo.
    pub preload: bool,
}

impl Default for HstsSettings {
    fn default() -> Self {
        HstsSettings {
            enabled: true,
            max_age: 31_536_000,
            include_sub_domains: false,
            preload: false,
        }
    }
}

impl HstsSettings {
    /// The header value, e.g. `max-age=31536000; includeSubDomains; preload`.
    pub fn header_value(&self) -> String {
        let mut value = format!("max-age={}", self.max_age);
        if self.include_sub_domains {
            value.push_str("; includeSubDomains");
        }
        if self.preload {
            value.push_str("; preload");
        }
        value
    }
}

/// Host header validation: requests for other hosts are refused with 403.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct HostHeaderValidationSettings {
    /// `enabled`. Default: `false`.
    pub enabled: bool,
    /// `allowed_hosts`: host names (with `:port` when clients send one), compared
    /// case-insensitively; comma string or array. Required when enabled (cbsecurity silently
    /// did nothing when it was empty or `*`). Default: none.
    #[serde(deserialize_with = "list::strings")]
    pub allowed_hosts: Vec<String>,
}

/// Client IP validation: requests from other addresses are refused with 403.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct IpValidationSettings {
    /// `enabled`. Default: `false`.
    pub enabled: bool,
    /// `allowed_ips`: addresses or CIDR ranges (cbsecurity: exact strings only). Required
    /// when enabled. Default: none.
    #[serde(deserialize_with = "list::ip_nets")]
    pub allowed_ips: Vec<IpNet>,
}

/// `Referrer-Policy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ReferrerPolicySettings {
    /// `enabled`. Default: `true`.
    pub enabled: bool,
    /// `policy`: one of the W3C values. Default: `same-origin`.
    pub policy: ReferrerPolicy,
}

impl Default for ReferrerPolicySettings {
    fn default() -> Self {
        ReferrerPolicySettings {
            enabled: true,
            policy: ReferrerPolicy::SameOrigin,
        }
    }
}

/// Redirect plain-HTTP requests to HTTPS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct SecureSslRedirectsSettings {
    /// `enabled`. Default: `false`. `X-Forwarded-Proto` is believed only from
    /// `firewall.trusted_proxies` (cbsecurity believed it from anyone).
    pub enabled: bool,
    /// `https_port`: the port of the redirect target; the request's own port is dropped
    /// (portcullis addition). Default: `443` (no port in the URL).
    pub https_port: u16,
}

impl Default for SecureSslRedirectsSettings {
    fn default() -> Self {
        SecureSslRedirectsSettings {
            enabled: false,
            https_port: 443,
        }
    }
}

/// `X-XSS-Protection`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct XssProtectionSettings {
    /// `enabled`. Default: `true`.
    pub enabled: bool,
    /// `mode`: `0`, `1` or `block`. Default: `0` (cbsecurity: `block`, sent as `1; block`).
    pub mode: XssMode,
}

impl Default for XssProtectionSettings {
    fn default() -> Self {
        XssProtectionSettings {
            enabled: true,
            mode: XssMode::Off,
        }
    }
}

/// `Cross-Origin-Opener-Policy` (portcullis addition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct CrossOriginOpenerPolicySettings {
    /// `enabled`. Default: `true`.
    pub enabled: bool,
    /// `value`. Default: `same-origin`. Breaks pop-up based sign-in flows that need the
    /// opener; use `same-origin-allow-popups` then.
    pub value: CrossOriginOpenerPolicy,
}

impl Default for CrossOriginOpenerPolicySettings {
    fn default() -> Self {
        CrossOriginOpenerPolicySettings {
            enabled: true,
            value: CrossOriginOpenerPolicy::SameOrigin,
        }
    }
}

/// `Cross-Origin-Resource-Policy` (portcullis addition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct CrossOriginResourcePolicySettings {
    /// `enabled`. Default: `true`.
    pub enabled: bool,
    /// `value`. Default: `same-origin`. Other sites can then not embed your responses
    /// (images, scripts); use `cross-origin` for public assets.
    pub value: CrossOriginResourcePolicy,
}

impl Default for CrossOriginResourcePolicySettings {
    fn default() -> Self {
        CrossOriginResourcePolicySettings {
            enabled: true,
            value: CrossOriginResourcePolicy::SameOrigin,
        }
    }
}

/// `Permissions-Policy` (portcullis addition).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct PermissionsPolicySettings {
    /// `enabled`. Default: `false` (helmet does not send it either).
    pub enabled: bool,
    /// `value`: the policy, e.g. `camera=(), geolocation=()`; required when enabled.
    /// Default: `""`.
    pub value: String,
}

/// `Origin-Agent-Cluster` (portcullis addition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct OriginAgentClusterSettings {
    /// `enabled`. Default: `true`.
    pub enabled: bool,
    /// `value`: `?1` or `?0`. Default: `?1`.
    pub value: OriginAgentCluster,
}

impl Default for OriginAgentClusterSettings {
    fn default() -> Self {
        OriginAgentClusterSettings {
            enabled: true,
            value: OriginAgentCluster::On,
        }
    }
}

/// The security headers section (`security_headers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct SecurityHeadersSettings {
    /// `enabled`: the whole section; `false` sends no header and skips the host/IP/SSL
    /// checks. Default: `true`.
    pub enabled: bool,
    /// `replace_existing`: replace a header the application already set on a response
    /// (portcullis addition). Default: `false` — the application's own value is kept, so one
    /// page can e.g. allow framing.
    pub replace_existing: bool,
    /// `trust_upstream`: host and IP validation read `X-Forwarded-Host` / `X-Forwarded-For`
    /// — but only from `firewall.trusted_proxies`. Default: `false`. cbsecurity trusted them
    /// from any client, which lets a client choose the value being checked.
    pub trust_upstream: bool,
    /// `content_security_policy`. Default: disabled.
    pub content_security_policy: ContentSecurityPolicySettings,
    /// `content_type_options`. Default: enabled.
    pub content_type_options: ContentTypeOptionsSettings,
    /// `custom_headers`: header name → value, added to every response. Default: none.
    pub custom_headers: BTreeMap<String, String>,
    /// `frame_options`. Default: enabled, `SAMEORIGIN`.
    pub frame_options: FrameOptionsSettings,
    /// `hsts`. Default: enabled, one year, no subdomains, no preload.
    pub hsts: HstsSettings,
    /// `host_header_validation`. Default: disabled.
    pub host_header_validation: HostHeaderValidationSettings,
    /// `ip_validation`. Default: disabled.
    pub ip_validation: IpValidationSettings,
    /// `referrer_policy`. Default: enabled, `same-origin`.
    pub referrer_policy: ReferrerPolicySettings,
    /// `secure_ssl_redirects`. Default: disabled.
    pub secure_ssl_redirects: SecureSslRedirectsSettings,
    /// `xss_protection`. Default: enabled, `0`.
    pub xss_protection: XssProtectionSettings,
    /// `cross_origin_opener_policy`. Default: enabled, `same-origin`.
    pub cross_origin_opener_policy: CrossOriginOpenerPolicySettings,
    /// `cross_origin_resource_policy`. Default: enabled, `same-origin`.
    pub cross_origin_resource_policy: CrossOriginResourcePolicySettings,
    /// `permissions_policy`. Default: disabled.
    pub permissions_policy: PermissionsPolicySettings,
    /// `origin_agent_cluster`. Default: enabled, `?1`.
    pub origin_agent_cluster: OriginAgentClusterSettings,
}

impl Default for SecurityHeadersSettings {
    fn default() -> Self {
        SecurityHeadersSettings {
            enabled: true,
            replace_existing: false,
            trust_upstream: false,
            content_security_policy: ContentSecurityPolicySettings::default(),
            content_type_options: ContentTypeOptionsSettings::default(),
            custom_headers: BTreeMap::new(),
            frame_options: FrameOptionsSettings::default(),
            hsts: HstsSettings::default(),
            host_header_validation: HostHeaderValidationSettings::default(),
            ip_validation: IpValidationSettings::default(),
            referrer_policy: ReferrerPolicySettings::default(),
            secure_ssl_redirects: SecureSslRedirectsSettings::default(),
            xss_protection: XssProtectionSettings::default(),
            cross_origin_opener_policy: CrossOriginOpenerPolicySettings::default(),
            cross_origin_resource_policy: CrossOriginResourcePolicySettings::default(),
            permissions_policy: PermissionsPolicySettings::default(),
            origin_agent_cluster: OriginAgentClusterSettings::default(),
        }
    }
}

const PREFIX: &str = "security_headers";

fn header_text(key: &str, value: &str, enabled: bool) -> Result<()> {
    if enabled && value.trim().is_empty() {
        return Err(Error::config(
            format!("{PREFIX}.{key}"),
            "empty, but the header is enabled: set a value or disable it",
        ));
    }
    if !list::is_header_value(value) {
        return Err(Error::config(
            format!("{PREFIX}.{key}"),
            "contains line breaks or control characters",
        ));
    }
    Ok(())
}

impl SecurityHeadersSettings {
    /// Checks the section; errors name the offending key.
    pub(crate) fn validate(&self) -> Result<()> {
        let csp = &self.content_security_policy;
        header_text("content_security_policy.policy", &csp.policy, csp.enabled)?;
        #[cfg(feature = "headers")]
        if csp.enabled && csp.nonce && !crate::headers::policy_takes_nonce(&csp.policy) {
            return Err(Error::config(
                format!("{PREFIX}.content_security_policy.nonce"),
                "the policy has no script-src or style-src directive and no {nonce} \
                 placeholder to put the nonce in",
            ));
        }
        if self.secure_ssl_redirects.https_port == 0 {
            return Err(Error::config(
                format!("{PREFIX}.secure_ssl_redirects.https_port"),
                "0 is not a port",
            ));
        }
        let pp = &self.permissions_policy;
        header_text("permissions_policy.value", &pp.value, pp.enabled)?;
        for (name, value) in &self.custom_headers {
            if !list::is_http_token(name) {
                return Err(Error::config(
                    format!("{PREFIX}.custom_headers.{name}"),
                    "is not a valid HTTP header name",
                ));
            }
            header_text(&format!("custom_headers.{name}"), value, false)?;
        }
        let hsts = &self.hsts;
        if hsts.preload && (!hsts.include_sub_domains || hsts.max_age < 31_536_000) {
            return Err(Error::config(
                format!("{PREFIX}.hsts.preload"),
                "preloading requires include_sub_domains = true and max_age of at least \
                 31536000 (one year)",
            ));
        }
        let hosts = &self.host_header_validation;
        for host in &hosts.allowed_hosts {
            if host == "*" || host.contains(['/', ' ', '@']) || !list::is_header_value(host) {
                return Err(Error::config(
                    format!("{PREFIX}.host_header_validation.allowed_hosts"),
                    format!(
                        "{host:?} is not a host name (write e.g. example.com or \
                         example.com:8080; to allow every host, disable the check)"
                    ),
                ));
            }
        }
        if hosts.enabled && hosts.allowed_hosts.is_empty() {
            return Err(Error::config(
                format!("{PREFIX}.host_header_validation.allowed_hosts"),
                "empty, but host header validation is enabled: list the allowed hosts",
            ));
        }
        let ips = &self.ip_validation;
        if ips.enabled && ips.allowed_ips.is_empty() {
            return Err(Error::config(
                format!("{PREFIX}.ip_validation.allowed_ips"),
                "empty, but IP validation is enabled: list the allowed addresses or ranges",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(toml_text: &str) -> SecurityHeadersSettings {
        toml::from_str(toml_text).expect("valid header settings")
    }

    fn error_key(toml_text: &str) -> String {
        match headers(toml_text).validate() {
            Err(Error::Config { key, .. }) => key,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn header_values() {
        let hsts = HstsSettings {
            include_sub_domains: true,
            preload: true,
            ..HstsSettings::default()
        };
        assert_eq!(
            hsts.header_value(),
            "max-age=31536000; includeSubDomains; preload"
        );
        assert_eq!(headers("[hsts]\nmax_age = '600'").hsts.max_age, 600);
        assert_eq!(
            headers("xss_protection = { mode = '1; mode=block' }")
                .xss_protection
                .mode,
            XssMode::Block
        );
        assert_eq!(
            headers("xss_protection = { mode = 'BLOCK' }")
                .xss_protection
                .mode
                .header_value(),
            "1; mode=block"
        );
    }

    #[test]
    fn bad_values_fail_to_load() {
        for text in [
            "frame_options = { value = 'ALLOW-FROM https://x' }",
            "referrer_policy = { policy = 'nope' }",
            "xss_protection = { mode = '2' }",
            "hsts = { max_age = -1 }",
            "origin_agent_cluster = { value = '1' }",
            "ip_validation = { allowed_ips = '10.0.0.0/40' }",
            "hsts = { maxage = 1 }",
        ] {
            assert!(
                toml::from_str::<SecurityHeadersSettings>(text).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn validation_names_keys() {
        assert_eq!(
            error_key("content_security_policy = { enabled = true }"),
            "security_headers.content_security_policy.policy"
        );
        assert_eq!(
            error_key("hsts = { preload = true }"),
            "security_headers.hsts.preload"
        );
        assert_eq!(
            error_key("host_header_validation = { enabled = true, allowed_hosts = '' }"),
            "security_headers.host_header_validation.allowed_hosts"
        );
        assert_eq!(
            error_key("host_header_validation = { allowed_hosts = '*' }"),
            "security_headers.host_header_validation.allowed_hosts"
        );
        assert_eq!(
            error_key("ip_validation = { enabled = true }"),
            "security_headers.ip_validation.allowed_ips"
        );
        assert_eq!(
            error_key("custom_headers = { 'X Bad' = 'v' }"),
            "security_headers.custom_headers.X Bad"
        );
        assert_eq!(
            error_key("permissions_policy = { enabled = true }"),
            "security_headers.permissions_policy.value"
        );
        assert!(headers("custom_headers = { 'X-Ok' = 'v' }\nhost_header_validation = { enabled = true, allowed_hosts = 'example.com, api.example.com:8443' }").validate().is_ok());
    }
}
