//! [`Rule`]: one firewall rule after normalisation, ready for the matcher and the pipeline.
//!
//! A [`RuleSpec`] is what a source wrote; a [`Rule`] is that spec with the `defaults` filled in
//! (spec §2.3 as intended: a default fills every standard key the rule left empty), an `id`
//! (the given one or a fresh random UUID v4), the contributing module, and where it came from
//! ([`RuleOrigin`]) so that every later error can name it.
//!
//! ```
//! use std::net::IpAddr;
//! use http::Method;
//! use portcullis::firewall::Rule;
//! use portcullis::settings::{Action, MatchTarget, RuleSpec};
//!
//! let spec: RuleSpec = serde_json::from_value(serde_json::json!({
//!     "secureList": "^/admin/", "match": "url", "httpMethods": "GET,POST",
//!     "allowedIPs": "10.0.0.0/8", "overrideEvent": "/login"
//! })).unwrap();
//! let rule = Rule::new(spec).unwrap();
//! assert_eq!(rule.id().len(), 36); // a fresh UUID v4
//! assert_eq!(rule.match_target(), MatchTarget::Url);
//! assert!(rule.methods_allow(&Method::POST) && !rule.methods_allow(&Method::DELETE));
//! assert!(rule.ip_allowed("10.1.2.3".parse::<IpAddr>().unwrap()));
//! assert!(rule.ip_allowed("::ffff:10.1.2.3".parse::<IpAddr>().unwrap()));
//! assert!(!rule.ip_allowed("192.0.2.1".parse::<IpAddr>().unwrap()));
//! assert_eq!(rule.action(), Some(Action::Override));
//! assert_eq!(rule.override_event(), Some("/login"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use http::Method;
use ipnet::IpNet;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::settings::{Action, MatchTarget, RuleSpec};
use crate::{Error, Result};

/// Where a rule was declared; names the rule in every error and in the rules report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleOrigin {
    /// A rule in the settings, at this key (e.g. `firewall.rules.inline[3]`).
    Settings {
        /// The rule's settings path.
        key: String,
    },
    /// A rule read from a source (a file, a table, a provider registered in code).
    Source {
        /// The source's name: a file path, `db table rules`, `provider "ldap"`.
        source: String,
        /// The rule's position in the source, counting from 1.
        number: usize,
    },
    /// A rule built in code with [`Rule::new`].
    Code,
}

impl RuleOrigin {
    /// The key an error about a rule's `field` is reported under: `<settings key>.<field>`
    /// for a settings rule, `<source>: rule <n> (id "<id>")` for a source rule (the field is
    /// then named in the message), `rule "<id>"` for a rule built in code. `id` is the id the
    /// rule was given, if any (a drawn id would not help anyone find the rule).
    pub fn key(&self, id: Option<&str>, field: &str) -> String {
        match (self, id) {
            (RuleOrigin::Settings { key }, _) if field.is_empty() => key.clone(),
            (RuleOrigin::Settings { key }, _) => format!("{key}.{field}"),
            (RuleOrigin::Source { source, number }, Some(id)) => {
                format!("{source}: rule {number} (id {id:?})")
            }
            (RuleOrigin::Source { source, number }, None) => format!("{source}: rule {number}"),
            (RuleOrigin::Code, Some(id)) => format!("rule {id:?}"),
            (RuleOrigin::Code, None) => "rule".to_owned(),
        }
    }
}

impl fmt::Display for RuleOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleOrigin::Settings { key } => f.write_str(key),
            RuleOrigin::Source { source, number } => write!(f, "{source}: rule {number}"),
            RuleOrigin::Code => f.write_str("code"),
        }
    }
}

/// One normalised firewall rule (cbsecurity's rule template, spec §2.1, after §2.3).
///
/// Built by the rule sources ([`crate::firewall::sources`]) or by [`Rule::new`]. The rule's
/// [`RuleSpec`] always has its `id` set and, for a module's rule, its `module`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    spec: RuleSpec,
    id: String,
    /// `true` if the id came from the source (not drawn).
    named: bool,
    origin: RuleOrigin,
}

impl Rule {
    /// A rule built in code: checks it (a `securelist` is required) and gives it a fresh id
    /// when it has none. No defaults are applied.
    ///
    /// # Errors
    /// [`Error::Config`] if the rule has no `securelist` or an unusable value;
    /// [`Error::Unavailable`] if the system's random generator fails.
    pub fn new(spec: RuleSpec) -> Result<Self> {
        Rule::normalise(spec, &[], None, RuleOrigin::Code)
    }

    /// Normalises a rule as read from a source: fills what it left empty from each of
    /// `defaults` in turn (the first wins), tags it with `module` (a module's rules always
    /// carry the module's name), assigns an id when it has none, and checks it.
    pub(crate) fn normalise(
        mut spec: RuleSpec,
        defaults: &[&RuleSpec],
        module: Option<&str>,
        origin: RuleOrigin,
    ) -> Result<Self> {
        for layer in defaults {
            spec.apply_defaults(layer);
        }
        if let Some(module) = module {
            spec.module = Some(module.to_owned());
        }
        let named = spec.id.is_some();
        let key = origin.key(spec.id.as_deref(), "");
        spec.validate(&key, true)
            .map_err(|err| match (&origin, err) {
                // A source rule's key already names the rule; keep the field in the message.
                (RuleOrigin::Settings { .. }, err) => err,
                (_, Error::Config { key: field, reason }) => {
                    let field = field.strip_prefix(&key).unwrap_or(&field);
                    let field = field.trim_start_matches('.');
                    Error::config(key.clone(), format!("{field}: {reason}"))
                }
                (_, other) => other,
            })?;
        let id = match &spec.id {
            Some(id) => id.clone(),
            None => random_uuid()?,
        };
        spec.id = Some(id.clone());
        Ok(Rule {
            spec,
            id,
            named,
            origin,
        })
    }

    /// The rule's identity in logs and the visualizer.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the rule was declared.
    pub fn origin(&self) -> &RuleOrigin {
        &self.origin
    }

    /// The key an error about this rule's `field` (e.g. `securelist`) is reported under.
    pub fn error_key(&self, field: &str) -> String {
        self.origin
            .key(self.named.then_some(self.id.as_str()), field)
    }

    /// A configuration error about this rule's `field` (e.g. `securelist[1]`): the field is
    /// part of the key for a settings rule, of the message otherwise.
    pub(crate) fn config_error(&self, field: &str, reason: impl std::fmt::Display) -> Error {
        match &self.origin {
            RuleOrigin::Settings { .. } => Error::config(self.error_key(field), reason.to_string()),
            _ => Error::config(self.error_key(field), format!("{field}: {reason}")),
        }
    }

    /// The normalised rule as a [`RuleSpec`] (with `id` set).
    pub fn spec(&self) -> &RuleSpec {
        &self.spec
    }

    /// The module that contributed the rule, if any.
    pub fn module(&self) -> Option<&str> {
        self.spec.module.as_deref()
    }

    /// The patterns that skip this rule.
    pub fn whitelist(&self) -> &[String] {
        &self.spec.whitelist
    }

    /// The patterns that make this rule apply.
    pub fn securelist(&self) -> &[String] {
        &self.spec.securelist
    }

    /// What the patterns are matched against.
    pub fn match_target(&self) -> MatchTarget {
        self.spec.match_target()
    }

    /// The roles the validator asks for (any of them).
    pub fn roles(&self) -> &[String] {
        &self.spec.roles
    }

    /// The permissions the validator asks for (any of them).
    pub fn permissions(&self) -> &[String] {
        &self.spec.permissions
    }

    /// Keys outside the template, for custom validators.
    pub fn extra(&self) -> &BTreeMap<String, Value> {
        &self.spec.extra
    }

    /// `true` if the rule allows requests with `method` (an empty `http_methods` allows all).
    /// Methods are compared ignoring case, as cbsecurity does.
    pub fn methods_allow(&self, method: &Method) -> bool {
        self.spec.allows_any_method()
            || self
                .spec
                .http_methods
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(method.as_str()))
    }

    /// `true` if the rule allows requests from `ip` (an empty `allowed_ips` allows all).
    /// Entries are CIDR ranges; an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is checked
    /// as the IPv4 address it carries.
    pub fn ip_allowed(&self, ip: IpAddr) -> bool {
        if self.spec.allows_any_ip() {
            return true;
        }
        let mapped = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.spec
            .allowed_ips
            .iter()
            .any(|net| net.contains(&ip) || mapped.is_some_and(|v4| net.contains(&v4)))
    }

    /// The rule's action: `redirect` when it has a redirect target, else `override` when it
    /// has an override target (redirect wins, as in cbsecurity), else its `action` key;
    /// `None` means the module's or global default action.
    pub fn action(&self) -> Option<Action> {
        if self.spec.redirect.is_some() {
            Some(Action::Redirect)
        } else if self.spec.override_event.is_some() {
            Some(Action::Override)
        } else {
            self.spec.action
        }
    }

    /// The rule's action, or `default` when it has none.
    pub fn action_or(&self, default: Action) -> Action {
        self.action().unwrap_or(default)
    }

    /// The rule's explicit redirect target.
    pub fn redirect(&self) -> Option<&str> {
        self.spec.redirect.as_deref()
    }

    /// The rule's explicit override target.
    pub fn override_event(&self) -> Option<&str> {
        self.spec.override_event.as_deref()
    }

    /// `true` if the rule forces https on its redirect (the global `rules.use_ssl` is
    /// separate).
    pub fn use_ssl(&self) -> bool {
        self.spec.use_ssl.unwrap_or(false)
    }
}

impl Serialize for Rule {
    /// Every template key, in snake_case, for logs and the visualizer: `id`, `origin`,
    /// `whitelist`, `securelist`, `match`, `roles`, `permissions`, `redirect`, `override`,
    /// `use_ssl`, `action` (the effective one, `null` = default), `module`, `http_methods`
    /// and `allowed_ips` (empty = any), then the extra keys.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let spec = &self.spec;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("origin", &self.origin.to_string())?;
        map.serialize_entry("whitelist", &spec.whitelist)?;
        map.serialize_entry("securelist", &spec.securelist)?;
        map.serialize_entry("match", &self.match_target())?;
        map.serialize_entry("roles", &spec.roles)?;
        map.serialize_entry("permissions", &spec.permissions)?;
        map.serialize_entry("redirect", &spec.redirect)?;
        map.serialize_entry("override", &spec.override_event)?;
        map.serialize_entry("use_ssl", &self.use_ssl())?;
        map.serialize_entry("action", &self.action())?;
        map.serialize_entry("module", &spec.module)?;
        map.serialize_entry("http_methods", &spec.http_methods)?;
        let ips: Vec<String> = spec.allowed_ips.iter().map(IpNet::to_string).collect();
        map.serialize_entry("allowed_ips", &ips)?;
        for (key, value) in &spec.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A random UUID (version 4) in its 36-character text form, from aws-lc-rs's generator.
fn random_uuid() -> Result<String> {
    use std::fmt::Write as _;

    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| Error::Unavailable {
        what: "the random generator",
        reason: "could not draw a rule id".to_owned(),
    })?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let mut text = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        let _ = write!(text, "{byte:02x}");
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: Value) -> RuleSpec {
        serde_json::from_value(value).expect("a valid rule")
    }

    #[test]
    fn ids_are_kept_or_drawn() {
        let given = Rule::new(spec(json!({"id": "admin", "secureList": "x"}))).unwrap();
        assert_eq!(given.id(), "admin");
        let a = Rule::new(spec(json!({"secureList": "x"}))).unwrap();
        let b = Rule::new(spec(json!({"secureList": "x"}))).unwrap();
        assert_ne!(a.id(), b.id());
        assert_eq!(&a.id()[14..15], "4");
        assert!(matches!(&a.id()[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(a.spec().id.as_deref(), Some(a.id()));
    }

    #[test]
    fn defaults_fill_standard_keys_and_modules_tag() {
        let module_defaults = spec(json!({"roles": "editor"}));
        let global = spec(json!({"roles": "user", "action": "block", "team": "ops"}));
        let rule = Rule::normalise(
            spec(json!({"secureList": "^/a", "module": "other"})),
            &[&module_defaults, &global],
            Some("blog"),
            RuleOrigin::Code,
        )
        .unwrap();
        assert_eq!(rule.roles(), ["editor"]);
        assert_eq!(rule.action(), Some(Action::Block));
        assert_eq!(rule.action_or(Action::Redirect), Action::Block);
        assert_eq!(rule.module(), Some("blog"));
        assert_eq!(rule.extra()["team"], "ops");
    }

    #[test]
    fn redirect_wins_over_override() {
        let rule = Rule::new(spec(json!({
            "secureList": "x", "redirect": "/r", "overrideEvent": "/o", "action": "block"
        })))
        .unwrap();
        assert_eq!(rule.action(), Some(Action::Redirect));
        assert_eq!(rule.redirect(), Some("/r"));
        let plain = Rule::new(spec(json!({"secureList": "x"}))).unwrap();
        assert_eq!(plain.action(), None);
        assert_eq!(plain.action_or(Action::Override), Action::Override);
        assert!(!plain.use_ssl());
    }

    #[test]
    fn any_method_and_ip_when_unset() {
        let rule = Rule::new(spec(json!({"secureList": "x", "httpMethods": "*"}))).unwrap();
        assert!(rule.methods_allow(&Method::from_bytes(b"PURGE").unwrap()));
        assert!(rule.ip_allowed("2001:db8::1".parse().unwrap()));
        let rule = Rule::new(spec(
            json!({"secureList": "x", "allowedIPs": "2001:db8::/32"}),
        ))
        .unwrap();
        assert!(rule.ip_allowed("2001:db8::7".parse().unwrap()));
        assert!(!rule.ip_allowed("2001:db9::7".parse().unwrap()));
        assert!(!rule.ip_allowed("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn errors_name_the_rule() {
        let err = Rule::normalise(
            spec(json!({"roles": "a"})),
            &[],
            None,
            RuleOrigin::Settings {
                key: "firewall.rules.inline[3]".into(),
            },
        )
        .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("firewall.rules.inline[3].securelist: missing"));
        let err = Rule::normalise(
            spec(json!({"id": "admin", "roles": "a"})),
            &[],
            None,
            RuleOrigin::Source {
                source: "rules.json".into(),
                number: 4,
            },
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("rules.json: rule 4 (id \"admin\"): securelist: missing"),
            "{err}"
        );
    }

    #[test]
    fn serializes_the_whole_template() {
        let rule = Rule::new(spec(json!({"id": "r1", "secureList": "^/a", "team": 1}))).unwrap();
        let value = serde_json::to_value(&rule).unwrap();
        assert_eq!(value["id"], "r1");
        assert_eq!(value["match"], "route");
        assert_eq!(value["http_methods"], json!([]));
        assert_eq!(value["action"], Value::Null);
        assert_eq!(value["team"], 1);
        assert_eq!(value["origin"], "code");
    }
}
