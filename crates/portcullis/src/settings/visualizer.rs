//! The security panel (`visualizer`, spec §1.5, §8.3).
//!
//! ```
//! use portcullis::settings::Settings;
//!
//! let settings = Settings::from_toml_str(r#"
//!     [visualizer]
//!     enabled = true
//!     secured = true
//!     security_rule = { roles = "admin" }
//! "#).unwrap();
//! assert_eq!(settings.visualizer.security_rule.roles, vec!["admin"]);
//! ```

use serde::{Deserialize, Serialize};

use super::rules::RuleSpec;
use crate::Result;

/// The visualizer section (`visualizer`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct VisualizerSettings {
    /// `enabled`: serve the panel at `/cbsecurity` (404 otherwise). Default: `false`.
    pub enabled: bool,
    /// `secured`: protect the panel with a rule placed before all global rules (action
    /// `block`). Default: `false`. Unsafe with `enabled`: without it anyone can read the
    /// settings (secrets redacted), rules and firewall log.
    pub secured: bool,
    /// `security_rule`: extra keys for that rule (e.g. `roles`, `permissions`); a partial
    /// rule. Default: empty.
    pub security_rule: RuleSpec,
}

impl VisualizerSettings {
    /// Checks the section; errors name the offending key.
    pub(crate) fn validate(&self) -> Result<()> {
        self.security_rule
            .validate("visualizer.security_rule", false)
    }
}
