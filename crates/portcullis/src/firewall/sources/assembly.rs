//! [`RuleAssembly`]: the one ordered rule list, from settings, modules and providers
//! (spec §2.4, with portcullis's fixes).
//!
//! Order of the list:
//!
//! 1. **module rules**, the most recently registered module first; within a module, its
//!    inline rules, then its provider's rules (cbsecurity let the provider's rules *replace*
//!    the inline ones); all of them tagged with the module's name (cbsecurity left provider
//!    rules untagged, so they survived the module's unloading);
//! 2. the global **inline** rules, in order;
//! 3. the global **provider's** rules, in order.
//!
//! Defaults: a module's rules take the module's `defaults`, then the global `defaults`; the
//! global rules take the global `defaults`. A default fills any standard key a rule left
//! empty (cbsecurity's could only add non-standard keys, spec §2.3).
//!
//! ```
//! use portcullis::firewall::sources::RuleAssembly;
//! use portcullis::settings::FirewallSettings;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let settings: FirewallSettings = toml::from_str(r#"
//!     rules.defaults = { roles = "user" }
//!     rules.inline = [ { secureList = "^/global/" } ]
//!     modules.blog.rules = { defaults = { roles = "writer" }, inline = [ { secureList = "^/blog/" } ] }
//!     modules.shop.rules = [ { secureList = "^/shop/", roles = "buyer" } ]
//! "#).unwrap();
//! // Modules are registered in name order unless registered again: `shop` last, so first.
//! let rules = RuleAssembly::new(&settings).load().await?;
//! let order: Vec<_> = rules.iter().map(|r| (r.module(), r.roles()[0].as_str())).collect();
//! assert_eq!(order, [(Some("shop"), "buyer"), (Some("blog"), "writer"), (None, "user")]);
//! // Registering in mount order puts the last mounted module first.
//! let rules = RuleAssembly::new(&settings)
//!     .module("shop", &settings.modules["shop"].rules)
//!     .module("blog", &settings.modules["blog"].rules)
//!     .load()
//!     .await?;
//! assert_eq!(rules[0].module(), Some("blog"));
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{file, RuleProvider};
use crate::firewall::{Rule, RuleOrigin};
use crate::settings::{
    FirewallSettings, ModuleRulesSettings, RuleProvider as ProviderSettings, RuleSource, RuleSpec,
    RulesSettings,
};
use crate::{Error, Result};

/// Builds the ordered rule list from rule settings, modules and registered providers.
#[derive(Clone)]
pub struct RuleAssembly<'a> {
    rules: &'a RulesSettings,
    /// Modules in registration order (the last registered comes first in the list).
    modules: Vec<(String, &'a ModuleRulesSettings)>,
    providers: HashMap<String, Arc<dyn RuleProvider>>,
    base_dir: Option<PathBuf>,
}

impl std::fmt::Debug for RuleAssembly<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut providers: Vec<&String> = self.providers.keys().collect();
        providers.sort();
        f.debug_struct("RuleAssembly")
            .field(
                "modules",
                &self.modules.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("providers", &providers)
            .field("base_dir", &self.base_dir)
            .finish_non_exhaustive()
    }
}

/// What a block of rules is normalised with.
struct Block<'s> {
    /// The settings key of the rule settings (`firewall.rules`, `firewall.modules.x.rules`).
    key: String,
    defaults: Vec<&'s RuleSpec>,
    module: Option<&'s str>,
}

impl<'a> RuleAssembly<'a> {
    /// The firewall's rules: `firewall.rules`, and every module of `firewall.modules`,
    /// registered in name order (register them again with [`RuleAssembly::module`] in the
    /// order they are mounted to change that).
    pub fn new(firewall: &'a FirewallSettings) -> Self {
        let mut assembly = RuleAssembly::from_rules(&firewall.rules);
        for (name, module) in &firewall.modules {
            assembly = assembly.module(name, &module.rules);
        }
        assembly
    }

    /// Only the global rule settings, no module.
    pub fn from_rules(rules: &'a RulesSettings) -> Self {
        RuleAssembly {
            rules,
            modules: Vec::new(),
            providers: HashMap::new(),
            base_dir: None,
        }
    }

    /// Registers a module (cbsecurity's module registration): its rules come before those
    /// of every module registered earlier. Registering a name again moves it to the front
    /// with the new settings.
    #[must_use]
    pub fn module(mut self, name: &str, rules: &'a ModuleRulesSettings) -> Self {
        self.modules.retain(|(known, _)| known != name);
        self.modules.push((name.to_owned(), rules));
        self
    }

    /// Registers a rule provider under `name`, for `source = "model"` with
    /// `properties.model = name`.
    #[must_use]
    pub fn provider(mut self, name: &str, provider: Arc<dyn RuleProvider>) -> Self {
        self.providers.insert(name.to_owned(), provider);
        self
    }

    /// The directory relative rule file paths are resolved against (e.g. the settings
    /// file's directory). Default: the working directory.
    #[must_use]
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(dir.into());
        self
    }

    /// Loads every source and returns the normalised rules, in order.
    ///
    /// # Errors
    /// [`Error::Config`] for the first unusable source or rule, naming it.
    pub async fn load(&self) -> Result<Vec<Rule>> {
        let mut rules = Vec::new();
        for (name, module) in self.modules.iter().rev() {
            let block = Block {
                key: format!("firewall.modules.{name}.rules"),
                defaults: vec![&module.defaults, &self.rules.defaults],
                module: Some(name),
            };
            self.load_block(&block, &module.inline, &module.provider, &mut rules)
                .await?;
        }
        let block = Block {
            key: "firewall.rules".to_owned(),
            defaults: vec![&self.rules.defaults],
            module: None,
        };
        self.load_block(&block, &self.rules.inline, &self.rules.provider, &mut rules)
            .await?;
        Ok(rules)
    }

    async fn load_block(
        &self,
        block: &Block<'_>,
        inline: &[RuleSpec],
        provider: &ProviderSettings,
        out: &mut Vec<Rule>,
    ) -> Result<()> {
        for (index, spec) in inline.iter().enumerate() {
            let origin = RuleOrigin::Settings {
                key: format!("{}.inline[{index}]", block.key),
            };
            out.push(Rule::normalise(
                spec.clone(),
                &block.defaults,
                block.module,
                origin,
            )?);
        }
        let key = format!("{}.provider", block.key);
        let Some(source) = provider.resolve(&key)? else {
            return Ok(());
        };
        let (name, specs) = self.read_source(&key, provider, source).await?;
        for (index, spec) in specs.into_iter().enumerate() {
            let origin = RuleOrigin::Source {
                source: name.clone(),
                number: index + 1,
            };
            out.push(Rule::normalise(
                spec,
                &block.defaults,
                block.module,
                origin,
            )?);
        }
        Ok(())
    }

    /// Reads a provider's rules; returns the source's name for messages and the rules.
    async fn read_source(
        &self,
        key: &str,
        provider: &ProviderSettings,
        source: RuleSource,
    ) -> Result<(String, Vec<RuleSpec>)> {
        match source {
            RuleSource::Json(path) => {
                let shown = path.display().to_string();
                let text = file::read(key, &self.resolve(&path), &shown)?;
                Ok((shown.clone(), file::parse_json(&shown, &text)?))
            }
            RuleSource::Xml(path) => {
                let shown = path.display().to_string();
                let text = file::read(key, &self.resolve(&path), &shown)?;
                Ok((shown.clone(), file::parse_xml(&shown, &text)?))
            }
            RuleSource::Db { table } => {
                let specs = read_table(key, provider, &table).await?;
                Ok((format!("db table {table}"), specs))
            }
            RuleSource::Model { name } => {
                let Some(found) = self.providers.get(&name) else {
                    let mut known: Vec<&str> = self.providers.keys().map(String::as_str).collect();
                    known.sort_unstable();
                    return Err(Error::config(
                        format!("{key}.properties.model"),
                        format!(
                            "no rule provider named {name:?} is registered (registered: {}); \
                             register it with RuleAssembly::provider",
                            if known.is_empty() {
                                "none".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ),
                    ));
                };
                let specs = found.rules().await.map_err(|err| match err {
                    Error::Config { key: inner, reason } => Error::config(
                        format!("{key}.properties.model"),
                        format!("provider {name:?}: {inner}: {reason}"),
                    ),
                    other => other,
                })?;
                Ok((format!("provider {name:?}"), specs))
            }
        }
    }

    fn resolve(&self, path: &Path) -> PathBuf {
        match &self.base_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }
}

#[cfg(all(
    feature = "rules-sql",
    any(feature = "storage-sqlite", feature = "storage-postgres")
))]
async fn read_table(key: &str, provider: &ProviderSettings, table: &str) -> Result<Vec<RuleSpec>> {
    super::sql::load(key, &provider.properties, table).await
}

#[cfg(not(all(
    feature = "rules-sql",
    any(feature = "storage-sqlite", feature = "storage-postgres")
)))]
async fn read_table(key: &str, _: &ProviderSettings, _: &str) -> Result<Vec<RuleSpec>> {
    Err(Error::config(
        format!("{key}.source"),
        "the db rule source is not compiled in: enable the `rules-sql` feature of portcullis \
         with `storage-sqlite` and/or `storage-postgres`",
    ))
}
