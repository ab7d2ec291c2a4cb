//! The firewall section (`firewall`, spec §1.4 and §1.9): validator, actions, rules, logs.
//!
//! ```
//! use portcullis::settings::{Action, Settings, ValidatorKind};
//!
//! let settings = Settings::from_toml_str(r#"
//!     [firewall]
//!     validator = "JwtAuthValidator@cbsecurity"
//!     default_authentication_action = "Block"
//!     invalid_authorization_event = "/forbidden"
//!     rules = [ { secureList = "^admin", roles = "admin" } ]
//! "#).unwrap();
//! assert_eq!(settings.firewall.validator, ValidatorKind::Jwt);
//! assert_eq!(settings.firewall.default_authentication_action, Action::Block);
//! assert_eq!(settings.firewall.rules.inline[0].roles, vec!["admin"]);
//! ```

use std::collections::BTreeMap;
use std::fmt;

use ipnet::IpNet;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::keyword::{self, keyword_enum};
use super::list;
use super::rules::{self, ModuleRulesSettings, RuleSpec, RulesSettings};
use super::secret::Secret;
use crate::{Error, Result};

keyword_enum! {
    /// What the firewall does when access is denied.
    pub enum Action ("an action") {
        /// Send the client to a target (HTTP redirect).
        Redirect = "redirect",
        /// Serve a target route instead, in the same request.
        Override = "override",
        /// Answer 401 at once.
        Block = "block",
    }
}

/// Which validator decides whether a rule or guard lets a request through.
///
/// cbsecurity's ids are accepted and normalised: `AuthValidator@cbsecurity` (and the
/// deprecated `CBAuthValidator@cbsecurity`) → `auth`, `JwtAuthValidator@cbsecurity` → `jwt`,
/// `BasicAuthValidator@cbsecurity` → `basic`. Any other non-empty name is a custom validator
/// registered in code under that name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ValidatorKind {
    /// The authentication-service validator (cbsecurity `AuthValidator`). The default.
    #[default]
    Auth,
    /// The JWT validator (cbsecurity `JwtAuthValidator`).
    Jwt,
    /// The HTTP Basic validator (cbsecurity `BasicAuthValidator`).
    Basic,
    /// A validator registered in code under this name.
    Custom(String),
}

impl ValidatorKind {
    /// Reads a validator name (case-insensitive for the built-in ones); `None` if blank.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim();
        let lower = name.to_ascii_lowercase();
        let kind = match lower.as_str() {
            "" => return None,
            "auth"
            | "authvalidator"
            | "authvalidator@cbsecurity"
            | "cbauthvalidator"
            | "cbauthvalidator@cbsecurity" => ValidatorKind::Auth,
            "jwt" | "jwtvalidator" | "jwtauthvalidator" | "jwtauthvalidator@cbsecurity" => {
                ValidatorKind::Jwt
            }
            "basic" | "basicauth" | "basicauthvalidator" | "basicauthvalidator@cbsecurity" => {
                ValidatorKind::Basic
            }
            _ => ValidatorKind::Custom(name.to_owned()),
        };
        Some(kind)
    }

    /// The canonical name: `auth`, `jwt`, `basic`, or the custom name.
    pub fn as_str(&self) -> &str {
        match self {
            ValidatorKind::Auth => "auth",
            ValidatorKind::Jwt => "jwt",
            ValidatorKind::Basic => "basic",
            ValidatorKind::Custom(name) => name,
        }
    }
}

impl fmt::Display for ValidatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ValidatorKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

struct ValidatorVisitor;

impl<'de> Visitor<'de> for ValidatorVisitor {
    type Value = Option<ValidatorKind>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a validator name (auth, jwt, basic or a custom name)")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
        Ok(ValidatorKind::parse(name))
    }
}

impl<'de> Deserialize<'de> for ValidatorKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(ValidatorVisitor)?.ok_or_else(|| {
            de::Error::custom("empty: name a validator (auth, jwt, basic or a custom name)")
        })
    }
}

/// A module's validator: `""` means "use the global one".
fn optional_validator<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ValidatorKind>, D::Error> {
    d.deserialize_str(ValidatorVisitor)
}

/// The firewall's database log (`firewall.logs`, spec §8.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct LogsSettings {
    /// `enabled`: write a row for every firewall decision worth auditing. Default: `false`.
    pub enabled: bool,
    /// `dsn`: the database URL (e.g. `postgres://user:pass@host/db`); empty = the library's
    /// default database (`sqlite://portcullis.db`). Held as a [`Secret`] because a URL may
    /// carry a password. cbsecurity named a ColdBox datasource here. Default: `""`.
    pub dsn: Secret,
    /// `schema`: optional schema prefix; a plain SQL identifier. Default: `""`.
    pub schema: String,
    /// `table`: the log table; a plain SQL identifier, required when enabled.
    /// Default: `cbsecurity_logs`.
    pub table: String,
    /// `auto_create`: create the table when missing. Default: `true`.
    pub auto_create: bool,
}

impl Default for LogsSettings {
    fn default() -> Self {
        LogsSettings {
            enabled: false,
            dsn: Secret::default(),
            schema: String::new(),
            table: "cbsecurity_logs".to_owned(),
            auto_create: true,
        }
    }
}

/// A module's firewall settings (`firewall.modules.<name>`, spec §1.9). Empty values mean
/// "use the global setting".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ModuleFirewallSettings {
    /// `entry_point`: the path prefix the module's routes are nested under (portcullis
    /// addition; cbsecurity resolved a module from the event). Default: `""` = `/<name>`.
    pub entry_point: String,
    /// `validator`: the module's validator; `""` = the global one. Default: `""`.
    #[serde(
        deserialize_with = "optional_validator",
        skip_serializing_if = "Option::is_none"
    )]
    pub validator: Option<ValidatorKind>,
    /// `invalid_authentication_event`: the module's target for authentication failures;
    /// `""` = the global one. Default: `""`.
    pub invalid_authentication_event: String,
    /// `default_authentication_action`: the module's action for authentication failures;
    /// `""` = the global one. Default: `""`.
    #[serde(
        deserialize_with = "keyword::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_authentication_action: Option<Action>,
    /// `invalid_authorization_event`: the module's target for authorization failures;
    /// `""` = the global one. Default: `""`.
    pub invalid_authorization_event: String,
    /// `default_authorization_action`: the module's action for authorization failures;
    /// `""` = the global one. Default: `""`.
    #[serde(
        deserialize_with = "keyword::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_authorization_action: Option<Action>,
    /// `rules`: the module's rules (table or array shorthand). They come before the global
    /// rules. Default: none.
    #[serde(deserialize_with = "rules::array_or_table")]
    pub rules: ModuleRulesSettings,
}

/// The firewall section (`firewall`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct FirewallSettings {
    /// `auto_load_firewall`: install the global firewall when the security layer is built.
    /// Default: `true`. Turning it off leaves only route guards: rules are not enforced.
    pub auto_load_firewall: bool,
    /// `validator`: the global validator. Default: `auth` (cbsecurity
    /// `AuthValidator@cbsecurity`).
    pub validator: ValidatorKind,
    /// `handler_annotation_security`: enforce route guards (cbsecurity's `secured`
    /// annotations). Default: `true`. Turning it off disables every guard: unsafe unless
    /// rules cover the same routes.
    pub handler_annotation_security: bool,
    /// `invalid_authentication_event`: where authentication failures go (a route path or an
    /// absolute `http(s)://` URL). Default: `""`. Must be set at start-up when the default
    /// action is `redirect` or `override` and some rule can use it (cbsecurity failed only at
    /// the first denied request).
    pub invalid_authentication_event: String,
    /// `default_authentication_action`: `redirect | override | block` (case-insensitive).
    /// Default: `redirect`.
    pub default_authentication_action: Action,
    /// `invalid_authorization_event`: where authorization failures go. Default: `""`; same
    /// start-up requirement as `invalid_authentication_event`.
    pub invalid_authorization_event: String,
    /// `default_authorization_action`: `redirect | override | block` (case-insensitive).
    /// Default: `redirect`.
    pub default_authorization_action: Action,
    /// `rules`: the rule settings, a table or an array of rules (shorthand for `inline`).
    /// Default: no rules.
    #[serde(deserialize_with = "rules::array_or_table")]
    pub rules: RulesSettings,
    /// `logs`: the firewall's database log. Default: disabled.
    pub logs: LogsSettings,
    /// `trusted_proxies`: addresses or CIDR ranges of reverse proxies whose
    /// `X-Forwarded-For` may be believed (portcullis addition). Default: none, so the client
    /// address is the peer address. cbsecurity trusted forwarding headers from anyone
    /// (\[WEAK\]); listing a range wider than your proxies lets clients spoof their address.
    #[serde(deserialize_with = "list::ip_nets")]
    pub trusted_proxies: Vec<IpNet>,
    /// `modules`: per-module firewall settings, by module (nested router) name.
    /// Default: none.
    pub modules: BTreeMap<String, ModuleFirewallSettings>,
    /// `json_responses`: a client that asks for JSON (`Accept` preferring `application/json`)
    /// gets a 401/403 JSON envelope instead of a redirect or override (portcullis addition).
    /// Default: `true`. Turning it off sends API clients HTML login pages.
    pub json_responses: bool,
}

impl Default for FirewallSettings {
    fn default() -> Self {
        FirewallSettings {
            auto_load_firewall: true,
            validator: ValidatorKind::Auth,
            handler_annotation_security: true,
            invalid_authentication_event: String::new(),
            default_authentication_action: Action::Redirect,
            invalid_authorization_event: String::new(),
            default_authorization_action: Action::Redirect,
            rules: RulesSettings::default(),
            logs: LogsSettings::default(),
            trusted_proxies: Vec::new(),
            modules: BTreeMap::new(),
            json_responses: true,
        }
    }
}

/// The kind of denial whose target is being checked.
#[derive(Clone, Copy)]
enum Failure {
    Authentication,
    Authorization,
}

impl Failure {
    fn name(self) -> &'static str {
        match self {
            Failure::Authentication => "authentication",
            Failure::Authorization => "authorization",
        }
    }
}

/// The default action and target in force for a list of rules, with where each is set.
struct Fallback<'a> {
    action: Action,
    action_key: String,
    event: &'a str,
    event_key: String,
}

impl FirewallSettings {
    /// Checks the firewall section; errors name the offending key.
    pub(crate) fn validate(&self) -> Result<()> {
        self.validate_logs()?;
        for (key, event) in [
            (
                "invalid_authentication_event",
                &self.invalid_authentication_event,
            ),
            (
                "invalid_authorization_event",
                &self.invalid_authorization_event,
            ),
        ] {
            if !list::is_header_value(event) {
                return Err(Error::config(
                    format!("firewall.{key}"),
                    "contains control characters",
                ));
            }
        }
        self.rules
            .defaults
            .validate("firewall.rules.defaults", false)?;
        validate_rule_list(&self.rules.inline, "firewall.rules.inline")?;
        self.rules.provider.resolve("firewall.rules.provider")?;
        for (name, module) in &self.modules {
            let key = format!("firewall.modules.{name}");
            if name.trim().is_empty() {
                return Err(Error::config(key, "a module needs a name"));
            }
            module
                .rules
                .defaults
                .validate(&format!("{key}.rules.defaults"), false)?;
            validate_rule_list(&module.rules.inline, &format!("{key}.rules.inline"))?;
            module
                .rules
                .provider
                .resolve(&format!("{key}.rules.provider"))?;
        }
        for failure in [Failure::Authentication, Failure::Authorization] {
            self.check_targets(failure)?;
        }
        Ok(())
    }

    fn validate_logs(&self) -> Result<()> {
        let logs = &self.logs;
        if logs.enabled && logs.table.trim().is_empty() {
            return Err(Error::config(
                "firewall.logs.table",
                "empty: the firewall log needs a table name",
            ));
        }
        for (key, name) in [("table", &logs.table), ("schema", &logs.schema)] {
            if !name.is_empty() && !list::is_sql_identifier(name) {
                return Err(Error::config(
                    format!("firewall.logs.{key}"),
                    format!("{name:?} is not a plain SQL identifier (letters, digits, _)"),
                ));
            }
        }
        Ok(())
    }

    fn global_fallback(&self, failure: Failure) -> Fallback<'_> {
        let (action, event) = match failure {
            Failure::Authentication => (
                self.default_authentication_action,
                &self.invalid_authentication_event,
            ),
            Failure::Authorization => (
                self.default_authorization_action,
                &self.invalid_authorization_event,
            ),
        };
        Fallback {
            action,
            action_key: format!("firewall.default_{}_action", failure.name()),
            event,
            event_key: format!("firewall.invalid_{}_event", failure.name()),
        }
    }

    /// A denial resolved to `redirect` or `override` needs a target: checked here, at
    /// start-up, for every rule that could produce one.
    fn check_targets(&self, failure: Failure) -> Result<()> {
        let global = self.global_fallback(failure);
        let defaults = [&self.rules.defaults];
        check_rule_targets(
            &self.rules.inline,
            "firewall.rules.inline",
            &defaults,
            &global,
            failure,
        )?;
        check_provider_target(
            self.rules.provider.is_configured(),
            "firewall.rules.provider",
            &global,
        )?;
        for (name, module) in &self.modules {
            let key = format!("firewall.modules.{name}");
            let (action, event) = match failure {
                Failure::Authentication => (
                    module.default_authentication_action,
                    &module.invalid_authentication_event,
                ),
                Failure::Authorization => (
                    module.default_authorization_action,
                    &module.invalid_authorization_event,
                ),
            };
            let mut fallback = Fallback {
                action: global.action,
                action_key: global.action_key.clone(),
                event: global.event,
                event_key: global.event_key.clone(),
            };
            if let Some(action) = action {
                fallback.action = action;
                fallback.action_key = format!("{key}.default_{}_action", failure.name());
            }
            if !event.is_empty() {
                fallback.event = event;
                fallback.event_key = format!("{key}.invalid_{}_event", failure.name());
            }
            let defaults = [&module.rules.defaults, &self.rules.defaults];
            check_rule_targets(
                &module.rules.inline,
                &format!("{key}.rules.inline"),
                &defaults,
                &fallback,
                failure,
            )?;
            check_provider_target(
                module.rules.provider.is_configured(),
                &format!("{key}.rules.provider"),
                &fallback,
            )?;
        }
        Ok(())
    }
}

fn validate_rule_list(rules: &[RuleSpec], key: &str) -> Result<()> {
    rules
        .iter()
        .enumerate()
        .try_for_each(|(index, rule)| rule.validate(&format!("{key}[{index}]"), true))
}

fn check_rule_targets(
    rules: &[RuleSpec],
    key: &str,
    defaults: &[&RuleSpec],
    fallback: &Fallback<'_>,
    failure: Failure,
) -> Result<()> {
    for (index, rule) in rules.iter().enumerate() {
        let mut rule = rule.clone();
        for layer in defaults {
            rule.apply_defaults(layer);
        }
        if rule.redirect.is_some() || rule.override_event.is_some() {
            continue;
        }
        let action = rule.action.unwrap_or(fallback.action);
        if action == Action::Block || !fallback.event.trim().is_empty() {
            continue;
        }
        let event_key = &fallback.event_key;
        return Err(match rule.action {
            Some(action) => Error::config(
                format!("{key}[{index}].action"),
                format!(
                    "is {action} but the rule has no target and `{event_key}` is empty: set \
                     `{action}` on the rule, set `{event_key}`, or use block"
                ),
            ),
            None => Error::config(
                event_key.clone(),
                format!(
                    "empty, but `{}` is {action} and rule {key}[{index}] can deny {}: set a \
                     target (a route path or URL) or make the action block",
                    fallback.action_key,
                    failure.name()
                ),
            ),
        });
    }
    Ok(())
}

fn check_provider_target(configured: bool, key: &str, fallback: &Fallback<'_>) -> Result<()> {
    if configured && fallback.action != Action::Block && fallback.event.trim().is_empty() {
        return Err(Error::config(
            fallback.event_key.clone(),
            format!(
                "empty, but `{}` is {} and rules come from `{key}`: set a target (a route path \
                 or URL) or make the action block",
                fallback.action_key, fallback.action
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn firewall(toml_text: &str) -> FirewallSettings {
        toml::from_str(toml_text).expect("valid firewall settings")
    }

    #[test]
    fn validator_names() {
        for (name, kind) in [
            ("AuthValidator@cbsecurity", ValidatorKind::Auth),
            ("cbauthvalidator@cbsecurity", ValidatorKind::Auth),
            ("JWT", ValidatorKind::Jwt),
            ("JwtAuthValidator@cbsecurity", ValidatorKind::Jwt),
            ("BasicAuthValidator@cbsecurity", ValidatorKind::Basic),
            ("Mine@app", ValidatorKind::Custom("Mine@app".into())),
        ] {
            assert_eq!(ValidatorKind::parse(name), Some(kind));
        }
        assert_eq!(ValidatorKind::parse(" "), None);
        assert!(toml::from_str::<FirewallSettings>("validator = ''").is_err());
        let module: ModuleFirewallSettings = toml::from_str("validator = ''").unwrap();
        assert_eq!(module.validator, None);
    }

    #[test]
    fn no_rules_no_target_needed() {
        assert!(FirewallSettings::default().validate().is_ok());
    }

    #[test]
    fn redirect_default_needs_a_target_when_rules_exist() {
        let fw = firewall("rules = [ { secureList = '^admin' } ]");
        let err = fw.validate().unwrap_err().to_string();
        assert!(
            err.starts_with("firewall.invalid_authentication_event: empty, but"),
            "{err}"
        );
        let fw = firewall(
            "invalid_authentication_event = '/login'\nrules = [ { secureList = '^admin' } ]",
        );
        let err = fw.validate().unwrap_err().to_string();
        assert!(
            err.starts_with("firewall.invalid_authorization_event"),
            "{err}"
        );
    }

    #[test]
    fn rules_with_own_targets_or_block_pass() {
        let fw = firewall(
            "rules = [ { secureList = 'a', redirect = '/login' }, { secureList = 'b', action = 'block' } ]",
        );
        assert!(fw.validate().is_ok());
        let fw =
            firewall("[rules]\ndefaults = { action = 'block' }\ninline = [ { secureList = 'a' } ]");
        assert!(fw.validate().is_ok());
        let fw = firewall(
            "default_authentication_action = 'block'\ndefault_authorization_action = 'BLOCK'\nrules = [ { secureList = 'a' } ]",
        );
        assert!(fw.validate().is_ok());
    }

    #[test]
    fn explicit_rule_action_without_target_names_the_rule() {
        let fw = firewall(
            "default_authentication_action = 'block'\ndefault_authorization_action = 'block'\nrules = [ { secureList = 'a' }, { secureList = 'b', action = 'override' } ]",
        );
        let err = fw.validate().unwrap_err();
        assert!(
            matches!(&err, Error::Config { key, .. } if key == "firewall.rules.inline[1].action"),
            "{err}"
        );
    }

    #[test]
    fn modules_use_their_own_fallbacks() {
        let fw = firewall(
            "default_authentication_action = 'block'\ndefault_authorization_action = 'block'\n\
             [modules.api]\ndefault_authorization_action = 'redirect'\nrules = [ { secureList = 'x' } ]",
        );
        let err = fw.validate().unwrap_err();
        assert!(
            matches!(&err, Error::Config { key, .. } if key == "firewall.invalid_authorization_event"),
            "{err}"
        );
        let fw = firewall(
            "default_authentication_action = 'block'\n\
             [modules.api]\ninvalid_authorization_event = '/api/denied'\nrules = [ { secureList = 'x' } ]",
        );
        assert!(fw.validate().is_ok());
    }

    #[test]
    fn provider_rules_need_a_fallback_target() {
        let fw = firewall("[rules.provider]\nsource = 'rules.json'");
        let err = fw.validate().unwrap_err().to_string();
        assert!(
            err.contains("rules come from `firewall.rules.provider`"),
            "{err}"
        );
    }

    #[test]
    fn logs_are_checked() {
        let fw = firewall("[logs]\nenabled = true\ntable = ''");
        assert!(fw
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("firewall.logs.table"));
        let fw = firewall("[logs]\nschema = 'a b'");
        assert!(fw
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("firewall.logs.schema"));
    }
}
