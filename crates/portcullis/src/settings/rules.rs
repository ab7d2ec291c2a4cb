//! Firewall rules as written in settings and rule files: [`RuleSpec`], [`RulesSettings`].
//!
//! A [`RuleSpec`] is one rule of cbsecurity's template (spec §2.1). Its keys are read
//! case-insensitively and in either snake_case or cbsecurity's camelCase (`secureList`,
//! `whiteList`, `overrideEvent`, `useSSL`, `httpMethods`, `allowedIPs`), so a cbsecurity JSON
//! or XML rule file loads unchanged. List-valued keys take a comma string or an array. Keys
//! that are not part of the template are kept in [`RuleSpec::extra`] for custom validators.
//!
//! `firewall.rules` is either a table ([`RulesSettings`]) or, as a shorthand, an array of
//! rules (then every other key takes its default and the array is `inline`).
//!
//! ```
//! use portcullis::settings::{Action, MatchTarget, RuleSpec};
//!
//! let rule: RuleSpec = serde_json::from_value(serde_json::json!({
//!     "secureList": "^admin", "roles": "admin", "action": "Block",
//!     "match": "url", "useSSL": "true", "httpMethods": "get,post", "team": "ops"
//! })).unwrap();
//! assert_eq!(rule.securelist, vec!["^admin"]);
//! assert_eq!(rule.action, Some(Action::Block));
//! assert_eq!(rule.match_target(), MatchTarget::Url);
//! assert_eq!(rule.use_ssl, Some(true));
//! assert_eq!(rule.http_methods, vec!["GET", "POST"]);
//! assert_eq!(rule.extra["team"], "ops");
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::firewall::Action;
use super::keyword::{self, keyword_enum};
use super::list;
use super::properties::{folded, Properties};
use super::suggest;
use crate::{Error, Result};

keyword_enum! {
    /// What a rule's patterns are matched against (rule key `match`).
    ///
    /// Default: [`MatchTarget::Route`]. cbsecurity's `event` (its default) is read as `route`.
    #[derive(Default)]
    pub enum MatchTarget ("a match target") {
        /// The matched route (cbsecurity: the event, `handler.action`). cbsecurity's `event`
        /// is accepted as an alias.
        #[default]
        Route = "route" | "event",
        /// The request path.
        Url = "url",
    }
}

/// One firewall rule as configured (cbsecurity's rule template, spec §2.1).
///
/// Every field is "not given" by default (empty list, `None`); the firewall fills what a rule
/// leaves out from `firewall.rules.defaults` (see [`RuleSpec::apply_defaults`]) and then from
/// the global settings. Patterns are not compiled here: the firewall compiles and checks them
/// when it is built.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RuleSpec {
    /// `id`: the rule's identity in logs and the visualizer. Default: none (the firewall
    /// assigns a fresh UUID, as cbsecurity does). Integers (database ids) are read as text.
    pub id: Option<String>,
    /// `whitelist` (`whiteList`): patterns; a match skips **this rule only**. Default: empty.
    pub whitelist: Vec<String>,
    /// `securelist` (`secureList`): patterns; a match makes the rule apply. Required in every
    /// rule of `inline`. Default: empty.
    pub securelist: Vec<String>,
    /// `match`: `route` (alias `event`) or `url`. Default: none, meaning
    /// [`MatchTarget::Route`] (see [`RuleSpec::match_target`]). Unlike cbsecurity, an unknown
    /// value is an error instead of silently meaning `event`.
    pub match_target: Option<MatchTarget>,
    /// `roles`: any-of list of roles (validator-specific). Default: empty.
    pub roles: Vec<String>,
    /// `permissions`: any-of list of permissions (validator-specific). Default: empty.
    pub permissions: Vec<String>,
    /// `redirect`: explicit redirect target; when set the action is `redirect`. Default: none.
    pub redirect: Option<String>,
    /// `override` (`overrideEvent`): explicit override target; when set the action is
    /// `override`, unless `redirect` is also set (redirect wins, as in cbsecurity).
    /// Default: none.
    pub override_event: Option<String>,
    /// `use_ssl` (`useSSL`): force https on this rule's redirect. Accepts booleans and the
    /// strings `true/false/yes/no/1/0` (XML sources give strings). Default: none (= false).
    pub use_ssl: Option<bool>,
    /// `action`: `redirect | override | block` (case-insensitive); none or `""` = the module
    /// or global default action. Default: none.
    pub action: Option<Action>,
    /// `module`: the contributing module's name. Default: none.
    pub module: Option<String>,
    /// `http_methods` (`httpMethods`): **allowed** methods, upper-cased; empty or `*` = all.
    /// A request with another method is denied (not passed to later rules). Default: all.
    pub http_methods: Vec<String>,
    /// `allowed_ips` (`allowedIPs`): **allowed** client addresses; portcullis accepts CIDR
    /// ranges where cbsecurity compared exact strings. Empty or `*` = all. Default: all.
    pub allowed_ips: Vec<IpNet>,
    /// Every other key, kept as given for custom validators. Default: empty. A key that is
    /// one or two letters away from a template key (e.g. `rols`) is refused at validation as
    /// a likely typo.
    pub extra: BTreeMap<String, Value>,
}

/// The template keys, canonical spelling first, with the folded spellings they accept.
const RULE_KEYS: &[(&str, &[&str])] = &[
    ("id", &["id"]),
    ("whitelist", &["whitelist"]),
    ("securelist", &["securelist"]),
    ("match", &["match"]),
    ("roles", &["roles"]),
    ("permissions", &["permissions"]),
    ("redirect", &["redirect"]),
    ("override", &["override", "overrideevent"]),
    ("use_ssl", &["usessl"]),
    ("action", &["action"]),
    ("module", &["module"]),
    ("http_methods", &["httpmethods"]),
    ("allowed_ips", &["allowedips"]),
];

fn rule_key(key: &str) -> Option<&'static str> {
    let key = folded(key);
    RULE_KEYS
        .iter()
        .find(|(_, spellings)| spellings.contains(&key.as_str()))
        .map(|(canonical, _)| *canonical)
}

impl RuleSpec {
    /// What the rule matches against: the `match` key, or [`MatchTarget::Route`].
    pub fn match_target(&self) -> MatchTarget {
        self.match_target.unwrap_or_default()
    }

    /// `true` if the rule allows every HTTP method.
    pub fn allows_any_method(&self) -> bool {
        self.http_methods.is_empty()
    }

    /// `true` if the rule allows every client address.
    pub fn allows_any_ip(&self) -> bool {
        self.allowed_ips.is_empty()
    }

    /// Fills every key this rule left empty from `defaults` (spec §2.3, the intended
    /// semantics; cbsecurity's `defaults` could only add non-template keys **\[BUG\]**).
    /// `id` is never taken from defaults. Extra keys are added when absent.
    pub fn apply_defaults(&mut self, defaults: &RuleSpec) {
        fn list<T: Clone>(own: &mut Vec<T>, default: &[T]) {
            if own.is_empty() {
                own.extend_from_slice(default);
            }
        }
        fn option<T: Clone>(own: &mut Option<T>, default: &Option<T>) {
            if own.is_none() {
                own.clone_from(default);
            }
        }
        list(&mut self.whitelist, &defaults.whitelist);
        list(&mut self.securelist, &defaults.securelist);
        option(&mut self.match_target, &defaults.match_target);
        list(&mut self.roles, &defaults.roles);
        list(&mut self.permissions, &defaults.permissions);
        option(&mut self.redirect, &defaults.redirect);
        option(&mut self.override_event, &defaults.override_event);
        option(&mut self.use_ssl, &defaults.use_ssl);
        option(&mut self.action, &defaults.action);
        option(&mut self.module, &defaults.module);
        list(&mut self.http_methods, &defaults.http_methods);
        list(&mut self.allowed_ips, &defaults.allowed_ips);
        for (key, value) in &defaults.extra {
            self.extra
                .entry(key.clone())
                .or_insert_with(|| value.clone());
        }
    }

    /// Checks one rule; `key` is its path (e.g. `firewall.rules.inline[2]`). A rule of a
    /// rule list must have a `securelist`; partial rules (`defaults`, the visualizer's
    /// `security_rule`) need not.
    pub(crate) fn validate(&self, key: &str, needs_securelist: bool) -> Result<()> {
        if needs_securelist && self.securelist.is_empty() {
            return Err(Error::config(
                format!("{key}.securelist"),
                "missing: every rule needs a securelist (the patterns it applies to)",
            ));
        }
        for (name, target) in [
            ("redirect", &self.redirect),
            ("override", &self.override_event),
        ] {
            if let Some(target) = target {
                if !list::is_header_value(target) {
                    return Err(Error::config(
                        format!("{key}.{name}"),
                        "contains control characters",
                    ));
                }
            }
        }
        for name in self.extra.keys() {
            let canonical = RULE_KEYS.iter().map(|(canonical, _)| *canonical);
            if let Some(meant) = suggest::closest(name, canonical) {
                return Err(Error::config(
                    format!("{key}.{name}"),
                    format!(
                        "unknown rule key (did you mean `{meant}`?); keys outside the rule \
                         template are only for custom validators"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Wrappers that give each template key its value shape inside the rule visitor.
struct Text(Option<String>);
struct Strings(Vec<String>);
struct Methods(Vec<String>);
struct Ips(Vec<IpNet>);
struct Flag(Option<bool>);
struct OptionalAction(Option<Action>);
struct OptionalMatch(Option<MatchTarget>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        list::optional_text(d).map(Text)
    }
}

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        list::strings(d).map(Strings)
    }
}

impl<'de> Deserialize<'de> for Methods {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let methods = list::strings(d)?;
        if methods.iter().any(|m| m == "*") {
            if methods.len() > 1 {
                return Err(de::Error::custom(
                    "`*` (every method) cannot be combined with other methods",
                ));
            }
            return Ok(Methods(Vec::new()));
        }
        methods
            .into_iter()
            .map(|method| {
                if list::is_http_token(&method) {
                    Ok(method.to_ascii_uppercase())
                } else {
                    Err(de::Error::custom(format!(
                        "{method:?} is not an HTTP method"
                    )))
                }
            })
            .collect::<Result<_, _>>()
            .map(Methods)
    }
}

impl<'de> Deserialize<'de> for Ips {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        list::ip_nets_or_any(d).map(Ips)
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        list::loose_bool(d).map(Flag)
    }
}

impl<'de> Deserialize<'de> for OptionalAction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        keyword::optional(d).map(OptionalAction)
    }
}

impl<'de> Deserialize<'de> for OptionalMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        keyword::optional(d).map(OptionalMatch)
    }
}

struct RuleVisitor;

impl<'de> Visitor<'de> for RuleVisitor {
    type Value = RuleSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a rule (a table of rule keys)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RuleSpec, A::Error> {
        let mut rule = RuleSpec::default();
        let mut seen: BTreeMap<&'static str, String> = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let Some(canonical) = rule_key(&key) else {
                let value = map.next_value::<Value>()?;
                rule.extra.insert(key, value);
                continue;
            };
            if let Some(first) = seen.insert(canonical, key.clone()) {
                return Err(de::Error::custom(format!(
                    "`{first}` and `{key}` are the same rule key: give it once"
                )));
            }
            match canonical {
                "id" => rule.id = map.next_value::<Text>()?.0,
                "whitelist" => rule.whitelist = map.next_value::<Strings>()?.0,
                "securelist" => rule.securelist = map.next_value::<Strings>()?.0,
                "match" => rule.match_target = map.next_value::<OptionalMatch>()?.0,
                "roles" => rule.roles = map.next_value::<Strings>()?.0,
                "permissions" => rule.permissions = map.next_value::<Strings>()?.0,
                "redirect" => rule.redirect = map.next_value::<Text>()?.0,
                "override" => rule.override_event = map.next_value::<Text>()?.0,
                "use_ssl" => rule.use_ssl = map.next_value::<Flag>()?.0,
                "action" => rule.action = map.next_value::<OptionalAction>()?.0,
                "module" => rule.module = map.next_value::<Text>()?.0,
                "http_methods" => rule.http_methods = map.next_value::<Methods>()?.0,
                _ => rule.allowed_ips = map.next_value::<Ips>()?.0,
            }
        }
        Ok(rule)
    }
}

impl<'de> Deserialize<'de> for RuleSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RuleVisitor)
    }
}

impl Serialize for RuleSpec {
    /// Writes the keys that are set, in snake_case, then the extra keys.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if let Some(id) = &self.id {
            map.serialize_entry("id", id)?;
        }
        for (key, items) in [
            ("whitelist", &self.whitelist),
            ("securelist", &self.securelist),
        ] {
            if !items.is_empty() {
                map.serialize_entry(key, items)?;
            }
        }
        if let Some(target) = self.match_target {
            map.serialize_entry("match", &target)?;
        }
        for (key, items) in [("roles", &self.roles), ("permissions", &self.permissions)] {
            if !items.is_empty() {
                map.serialize_entry(key, items)?;
            }
        }
        for (key, text) in [
            ("redirect", &self.redirect),
            ("override", &self.override_event),
        ] {
            if let Some(text) = text {
                map.serialize_entry(key, text)?;
            }
        }
        if let Some(use_ssl) = self.use_ssl {
            map.serialize_entry("use_ssl", &use_ssl)?;
        }
        if let Some(action) = self.action {
            map.serialize_entry("action", &action)?;
        }
        if let Some(module) = &self.module {
            map.serialize_entry("module", module)?;
        }
        if !self.http_methods.is_empty() {
            map.serialize_entry("http_methods", &self.http_methods)?;
        }
        if !self.allowed_ips.is_empty() {
            map.serialize_entry("allowed_ips", &self.allowed_ips)?;
        }
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// An external rule source (`rules.provider`, spec §2.2).
///
/// Default: no source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RuleProvider {
    /// `source`: `""` (none), `json`, `xml`, `db` or `model` (case-insensitive), or a path
    /// containing `.json` / `.xml` (then `properties.file` is that path). Default: `""`.
    pub source: String,
    /// `properties`: the source's settings: `file` (json, xml), `table` and optionally `url`,
    /// `schema`, `order_by` (db), `model` (model: the name of a rule provider registered in
    /// code). Default: empty.
    pub properties: Properties,
}

/// Where a [`RuleProvider`] reads its rules from, as resolved by [`RuleProvider::resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleSource {
    /// A JSON file holding an array of rules.
    Json(PathBuf),
    /// An XML file: `<rules>` with `<rule>` children.
    Xml(PathBuf),
    /// A database table whose rows are rules.
    Db {
        /// The table's name.
        table: String,
    },
    /// A rule provider registered in code under this name (cbsecurity's `model`).
    Model {
        /// The provider's name.
        name: String,
    },
}

impl RuleProvider {
    /// `true` if a source is configured.
    pub fn is_configured(&self) -> bool {
        !self.source.trim().is_empty()
    }

    /// Resolves the source and checks its required properties; `key` is where this provider
    /// sits (e.g. `firewall.rules.provider`) and prefixes error keys. `Ok(None)` when no
    /// source is configured.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown source or a missing property (cbsecurity's
    /// `Security.InvalidRuleSource` / `Security.MissingSourceProperty`).
    pub fn resolve(&self, key: &str) -> Result<Option<RuleSource>> {
        let source = self.source.trim();
        if source.is_empty() {
            return Ok(None);
        }
        let lower = source.to_ascii_lowercase();
        let text = |name: &str| -> Result<String> {
            match self.properties.get(name) {
                Some(Value::String(value)) if !value.trim().is_empty() => {
                    Ok(value.trim().to_owned())
                }
                Some(_) => Err(Error::config(
                    format!("{key}.properties.{name}"),
                    "must be a non-empty string",
                )),
                None => Err(Error::config(
                    format!("{key}.properties.{name}"),
                    format!("missing: the {lower} rule source needs it"),
                )),
            }
        };
        let resolved = if lower.contains(".json") {
            RuleSource::Json(PathBuf::from(source))
        } else if lower.contains(".xml") {
            RuleSource::Xml(PathBuf::from(source))
        } else {
            match lower.as_str() {
                "json" => RuleSource::Json(PathBuf::from(text("file")?)),
                "xml" => RuleSource::Xml(PathBuf::from(text("file")?)),
                "db" => {
                    let table = text("table")?;
                    if !list::is_sql_identifier(&table) {
                        return Err(Error::config(
                            format!("{key}.properties.table"),
                            format!("{table:?} is not a plain SQL table name"),
                        ));
                    }
                    RuleSource::Db { table }
                }
                "model" => RuleSource::Model {
                    name: text("model")?,
                },
                _ => {
                    return Err(Error::config(
                        format!("{key}.source"),
                        format!(
                            "{source:?} is not a rule source (use json, xml, db, model, or a \
                             path to a .json or .xml file)"
                        ),
                    ))
                }
            }
        };
        Ok(Some(resolved))
    }
}

/// The global rule settings (`firewall.rules`).
///
/// Written either as this table or, as a shorthand, as an array of rules (= `inline`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RulesSettings {
    /// `use_regex`: patterns are case-insensitive regular expressions searched anywhere in
    /// the target (unanchored: anchor with `^`); `false` = case-insensitive substrings.
    /// Default: `true`.
    pub use_regex: bool,
    /// `use_ssl`: force https on every firewall redirect. Default: `false`.
    pub use_ssl: bool,
    /// `defaults`: a partial rule whose keys fill every key a rule leaves empty. portcullis
    /// applies them to standard keys too (cbsecurity's \[BUG\] made them add only extra keys).
    /// Default: empty.
    pub defaults: RuleSpec,
    /// `inline`: the rules declared in settings, in order (first applying rule wins).
    /// Default: none.
    pub inline: Vec<RuleSpec>,
    /// `provider`: an external rule source, appended after `inline`. Default: none.
    pub provider: RuleProvider,
}

impl Default for RulesSettings {
    fn default() -> Self {
        RulesSettings {
            use_regex: true,
            use_ssl: false,
            defaults: RuleSpec::default(),
            inline: Vec::new(),
            provider: RuleProvider::default(),
        }
    }
}

/// A module's rule settings (`firewall.modules.<name>.rules`, spec §1.9): `defaults`,
/// `inline` and `provider`, or an array of rules as a shorthand. Pattern style and SSL
/// forcing come from the global [`RulesSettings`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ModuleRulesSettings {
    /// `defaults`: fills keys the module's rules leave empty, before the global defaults.
    /// Default: empty.
    pub defaults: RuleSpec,
    /// `inline`: the module's rules, tagged with the module's name. Default: none.
    pub inline: Vec<RuleSpec>,
    /// `provider`: an external source for the module's rules. Unlike cbsecurity (\[BUG\]) its
    /// rules are added after `inline` instead of replacing them. Default: none.
    pub provider: RuleProvider,
}

impl RulesSettings {
    /// `true` if any rule is configured (inline or through a provider).
    pub fn is_empty(&self) -> bool {
        self.inline.is_empty() && !self.provider.is_configured()
    }
}

impl ModuleRulesSettings {
    /// `true` if any rule is configured (inline or through a provider).
    pub fn is_empty(&self) -> bool {
        self.inline.is_empty() && !self.provider.is_configured()
    }
}

/// Rule settings that can be written as an array of inline rules.
pub(crate) trait FromInline {
    fn from_inline(inline: Vec<RuleSpec>) -> Self;
}

impl FromInline for RulesSettings {
    fn from_inline(inline: Vec<RuleSpec>) -> Self {
        RulesSettings {
            inline,
            ..RulesSettings::default()
        }
    }
}

impl FromInline for ModuleRulesSettings {
    fn from_inline(inline: Vec<RuleSpec>) -> Self {
        ModuleRulesSettings {
            inline,
            ..ModuleRulesSettings::default()
        }
    }
}

struct ArrayOrTable<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de> + FromInline> Visitor<'de> for ArrayOrTable<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of rule settings, or an array of rules")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        Vec::<RuleSpec>::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(T::from_inline)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

/// `deserialize_with` for rule settings: a table, or an array of rules (the shorthand).
pub(crate) fn array_or_table<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + FromInline,
{
    d.deserialize_any(ArrayOrTable(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(value: Value) -> RuleSpec {
        serde_json::from_value(value).expect("a valid rule")
    }

    #[test]
    fn keys_in_any_spelling() {
        let a = rule(json!({"SECURELIST": "x", "OverrideEvent": "o", "allowed_ips": "10.0.0.1"}));
        let b = rule(json!({"secure_list": ["x"], "override": "o", "allowedIPs": ["10.0.0.1/32"]}));
        assert_eq!(a, b);
        assert_eq!(a.override_event.as_deref(), Some("o"));
    }

    #[test]
    fn database_style_values() {
        let r = rule(json!({
            "id": 7, "secureList": "x", "useSSL": 1, "match": "event", "action": "",
            "module": "", "httpMethods": "*", "allowedIPs": "*", "redirect": null
        }));
        assert_eq!(r.id.as_deref(), Some("7"));
        assert_eq!(r.use_ssl, Some(true));
        assert_eq!(r.match_target, Some(MatchTarget::Route));
        assert_eq!(r.action, None);
        assert_eq!(r.module, None);
        assert!(r.allows_any_method() && r.allows_any_ip());
        assert_eq!(r.redirect, None);
    }

    #[test]
    fn duplicate_spellings_are_refused() {
        let err = serde_json::from_value::<RuleSpec>(json!({"secureList": "a", "securelist": "b"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("are the same rule key"), "{err}");
    }

    #[test]
    fn bad_values_are_refused() {
        for value in [
            json!({"match": "path"}),
            json!({"action": "deny"}),
            json!({"useSSL": "sure"}),
            json!({"httpMethods": "GET POST"}),
            json!({"allowedIPs": "10.0.0.300"}),
            json!({"roles": 5}),
            json!("not a table"),
        ] {
            assert!(
                serde_json::from_value::<RuleSpec>(value.clone()).is_err(),
                "{value}"
            );
        }
    }

    #[test]
    fn serializes_set_keys_only() {
        let r = rule(json!({"secureList": "^a", "roles": "x,y", "useSSL": "no", "team": 1}));
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"securelist": ["^a"], "roles": ["x", "y"], "use_ssl": false, "team": 1})
        );
        assert_eq!(rule(serde_json::to_value(&r).unwrap()), r);
    }

    #[test]
    fn defaults_fill_empty_keys_only() {
        let mut r = rule(json!({"secureList": "^a", "roles": "mine"}));
        let defaults = rule(json!({
            "id": "d", "roles": "theirs", "action": "block", "useSSL": true, "team": "ops"
        }));
        r.apply_defaults(&defaults);
        assert_eq!(r.roles, vec!["mine"]);
        assert_eq!(r.action, Some(Action::Block));
        assert_eq!(r.use_ssl, Some(true));
        assert_eq!(r.id, None);
        assert_eq!(r.extra["team"], "ops");
    }

    #[test]
    fn validation() {
        assert!(rule(json!({"roles": "a"})).validate("r", true).is_err());
        assert!(rule(json!({"roles": "a"})).validate("r", false).is_ok());
        let err = rule(json!({"secureList": "a", "rols": "x"}))
            .validate("firewall.rules.inline[0]", true)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "firewall.rules.inline[0].rols: unknown rule key (did you mean `roles`?); keys \
             outside the rule template are only for custom validators"
        );
        assert!(rule(json!({"secureList": "a", "tenant": "x"}))
            .validate("r", true)
            .is_ok());
        assert!(rule(json!({"secureList": "a", "redirect": "/a\r\nX: y"}))
            .validate("r", true)
            .is_err());
    }

    #[test]
    fn providers_resolve() {
        let provider = |value: Value| -> RuleProvider { serde_json::from_value(value).unwrap() };
        let key = "firewall.rules.provider";
        assert_eq!(provider(json!({})).resolve(key).unwrap(), None);
        assert_eq!(
            provider(json!({"source": "config/rules.json"}))
                .resolve(key)
                .unwrap(),
            Some(RuleSource::Json("config/rules.json".into()))
        );
        assert_eq!(
            provider(json!({"source": "XML", "properties": {"file": "r.xml"}}))
                .resolve(key)
                .unwrap(),
            Some(RuleSource::Xml("r.xml".into()))
        );
        assert_eq!(
            provider(json!({"source": "db", "properties": {"table": "rules"}}))
                .resolve(key)
                .unwrap(),
            Some(RuleSource::Db {
                table: "rules".into()
            })
        );
        let err = provider(json!({"source": "json"}))
            .resolve(key)
            .unwrap_err();
        assert_eq!(
            err.to_string().split(':').next(),
            Some("firewall.rules.provider.properties.file")
        );
        let err = provider(json!({"source": "ldap"}))
            .resolve(key)
            .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("firewall.rules.provider.source:"));
        assert!(
            provider(json!({"source": "db", "properties": {"table": "x; drop"}}))
                .resolve(key)
                .is_err()
        );
    }

    #[test]
    fn array_shorthand() {
        let rules: RulesSettings =
            array_or_table(json!([{"secureList": "a"}, {"secureList": "b"}])).unwrap();
        assert_eq!(rules.inline.len(), 2);
        assert!(rules.use_regex);
        let rules: ModuleRulesSettings =
            array_or_table(json!({"inline": [{"secureList": "a"}]})).unwrap();
        assert_eq!(rules.inline.len(), 1);
        assert!(array_or_table::<_, RulesSettings>(json!({"inlne": []})).is_err());
    }
}
