//! Where rules come from, and how they are assembled into the one ordered rule list
//! (spec §2.2–§2.4).
//!
//! | `rules.provider.source` | reads | properties |
//! |---|---|---|
//! | `""` | nothing | |
//! | `json`, or a path containing `.json` | a JSON array of rule objects (cbsecurity's format) | `file` |
//! | `xml`, or a path containing `.xml` | `<rules>` with `<rule>` children; each child element of a rule is a key, its trimmed text the value | `file` |
//! | `db` (feature `rules-sql` with `storage-sqlite` and/or `storage-postgres`) | the rows of a SQL table; columns are rule keys | `dsn` (or `url`), `table`, optional `schema`, `order_by`, `sql` |
//! | `model` | a [`RuleProvider`] registered in code under a name | `model` |
//!
//! Every problem is a start-up error ([`Error::Config`]) naming the
//! source and, for a bad rule, its position and id: a missing file names the path, invalid
//! JSON or XML gives the line and column, a missing property names it, an unknown source lists
//! the known ones.
//!
//! [`RuleAssembly`] builds the list: module rules first (the most recently registered module
//! first; each module's provider rules **after** its inline rules and tagged with the module,
//! where cbsecurity replaced them and left them untagged), then the global inline rules, then
//! the global provider's rules. Every rule, whatever its source — a provider's rows included
//! (cbsecurity skipped those, spec §2.2) — is normalised the same way: module defaults, then
//! global defaults, fill every standard key it left empty; it gets an id; it is checked.
//!
//! ```
//! use std::sync::Arc;
//! use async_trait::async_trait;
//! use portcullis::firewall::sources::{rule_from_row, RuleAssembly, RuleProvider};
//! use portcullis::settings::{FirewallSettings, RuleSpec};
//!
//! /// Rules kept somewhere only the application knows.
//! struct Directory;
//!
//! #[async_trait]
//! impl RuleProvider for Directory {
//!     async fn rules(&self) -> portcullis::Result<Vec<RuleSpec>> {
//!         let row = serde_json::json!({"SECURELIST": "^/reports/", "MATCH": "url", "ROLES": "auditor"});
//!         Ok(vec![rule_from_row(row)?])
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let settings: FirewallSettings = toml::from_str(r#"
//!     rules.defaults = { action = "block" }
//!     rules.inline = [ { secureList = "^/admin/", match = "url" } ]
//!     rules.provider = { source = "model", properties = { model = "directory" } }
//! "#).unwrap();
//! let rules = RuleAssembly::new(&settings)
//!     .provider("directory", Arc::new(Directory))
//!     .load()
//!     .await?;
//! assert_eq!(rules.len(), 2);
//! assert_eq!(rules[1].roles(), ["auditor"]);
//! assert_eq!(rules[1].action(), Some(portcullis::settings::Action::Block)); // defaults apply
//! # Ok(()) }
//! ```

mod assembly;
mod file;
#[cfg(all(
    feature = "rules-sql",
    any(feature = "storage-sqlite", feature = "storage-postgres")
))]
mod sql;

use async_trait::async_trait;
use serde_json::Value;

use crate::settings::RuleSpec;
use crate::{Error, Result};

pub use self::assembly::RuleAssembly;
pub use self::file::{MAX_FILE_LEN, MAX_XML_NODES};

/// A source of rules written in code (cbsecurity's `model` source): register it on a
/// [`RuleAssembly`] under the name `rules.provider.properties.model` gives.
///
/// The rules it returns are normalised like any other (defaults, id, module, checks).
#[async_trait]
pub trait RuleProvider: Send + Sync {
    /// Loads the rules, in order. Called once, when the rule list is assembled.
    ///
    /// # Errors
    /// Whatever stops the rules from loading; start-up fails with it.
    async fn rules(&self) -> Result<Vec<RuleSpec>>;
}

/// Reads one rule from a row-like object (a database row, a JSON object): keys are rule
/// keys in any spelling, values are strings, numbers, booleans or null — what a query
/// returns. The result is then normalised like every other rule.
///
/// # Errors
/// [`Error::Config`] saying which key has an unusable value.
pub fn rule_from_row(row: Value) -> Result<RuleSpec> {
    serde_json::from_value(row).map_err(|err| Error::config("rule", err.to_string()))
}
