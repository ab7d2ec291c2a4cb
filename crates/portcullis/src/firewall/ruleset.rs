//! The rules in force: global rules and registered modules, compiled into one ordered list
//! and one matcher. Registering or unregistering a module builds a new [`RuleSet`] and swaps
//! it in atomically; requests in flight finish with the set they started with.
//!
//! Order (spec §2.4, with its defects fixed): module rules first, the most recently
//! registered module's block first; then global rules (inline, then provider). A module's
//! provider rules are appended to its inline rules and tagged with the module, and they leave
//! with it.

use std::sync::Arc;

use super::matcher::{RuleMatcher, Targets};
use super::validator::SecurityValidator;
use super::Rule;
use crate::settings::{Action, ModuleFirewallSettings};
use crate::Result;

/// A module: a nested router with its own rules, validator, targets and actions.
#[derive(Clone)]
pub struct Module {
    /// The module's name (the `module` of its rules).
    pub name: String,
    /// The path prefix its routes are nested under, e.g. `/admin`.
    pub entry_point: String,
    /// Its firewall settings.
    pub settings: ModuleFirewallSettings,
    /// Its rules, already normalised (module defaults over global defaults).
    pub rules: Vec<Rule>,
    /// Its validator; `None` = the global one (or the one `settings.validator` names).
    pub validator: Option<Arc<dyn SecurityValidator>>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.name)
            .field("entry_point", &self.entry_point)
            .field("rules", &self.rules.len())
            .finish_non_exhaustive()
    }
}

impl Module {
    /// The module `firewall.modules.<name>` would describe: its rules loaded from every source
    /// its settings name, normalised with its `defaults` over the global ones; entry point
    /// `settings.entry_point`, or `/<name>`.
    pub async fn from_settings(
        name: &str,
        settings: ModuleFirewallSettings,
        global: &crate::settings::FirewallSettings,
    ) -> Result<Module> {
        // Only the global defaults: the global rules are not the module's to load.
        let defaults = crate::settings::RulesSettings {
            defaults: global.rules.defaults.clone(),
            ..crate::settings::RulesSettings::default()
        };
        let rules = super::sources::RuleAssembly::from_rules(&defaults)
            .module(name, &settings.rules)
            .load()
            .await?;
        Ok(Module::with_rules(name, settings, rules))
    }

    /// The module `name` with `settings` and its `rules`, already loaded and normalised.
    pub(crate) fn with_rules(
        name: &str,
        settings: ModuleFirewallSettings,
        rules: Vec<Rule>,
    ) -> Module {
        let entry_point = if settings.entry_point.is_empty() {
            format!("/{name}")
        } else {
            settings.entry_point.clone()
        };
        Module {
            name: name.to_owned(),
            entry_point,
            settings,
            rules,
            validator: None,
        }
    }

    /// Whether `path` belongs to this module (its entry point, segment-wise).
    pub fn contains(&self, path: &str) -> bool {
        let prefix = self.entry_point.trim_end_matches('/');
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

/// The compiled state the firewall decides with.
pub struct RuleSet {
    rules: Vec<Arc<Rule>>,
    overrides: bool,
    matcher: RuleMatcher,
    /// Modules, most recently registered first.
    modules: Vec<Arc<Module>>,
}

impl RuleSet {
    /// Compiles `global` rules after the rules of `modules` (most recent first).
    pub fn compile(global: &[Rule], modules: Vec<Arc<Module>>, use_regex: bool) -> Result<Self> {
        let ordered: Vec<Rule> = modules
            .iter()
            .flat_map(|m| m.rules.iter().cloned())
            .chain(global.iter().cloned())
            .collect();
        let matcher = RuleMatcher::new(&ordered, use_regex)?;
        let overrides = ordered
            .iter()
            .any(|r| r.override_event().is_some() || r.action() == Some(Action::Override))
            || modules.iter().any(|m| {
                [
                    m.settings.default_authentication_action,
                    m.settings.default_authorization_action,
                ]
                .contains(&Some(Action::Override))
            });
        Ok(RuleSet {
            overrides,
            rules: ordered.into_iter().map(Arc::new).collect(),
            matcher,
            modules,
        })
    }

    /// The first rule that applies to `targets`.
    pub fn first_applying(&self, targets: &Targets<'_>) -> Option<&Arc<Rule>> {
        self.matcher.first_applying(targets).map(|i| &self.rules[i])
    }

    /// Every rule, in order.
    pub fn rules(&self) -> &[Arc<Rule>] {
        &self.rules
    }

    /// The registered modules, most recent first.
    pub fn modules(&self) -> &[Arc<Module>] {
        &self.modules
    }

    /// The module a request path belongs to: the longest matching entry point.
    pub fn module_of(&self, path: &str) -> Option<&Arc<Module>> {
        self.modules
            .iter()
            .filter(|m| m.contains(path))
            .max_by_key(|m| m.entry_point.len())
    }

    /// Whether any rule or module can resolve to an override by itself (the global defaults
    /// are the firewall's to add).
    pub fn may_override(&self) -> bool {
        self.overrides
    }
}
