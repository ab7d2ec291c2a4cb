//! The rule firewall: rules, where they come from, and the matcher that picks the rule that
//! applies to a request (cbsecurity's firewall, spec §2).
//!
//! * [`Rule`] — one normalised rule (defaults applied, id assigned, module tagged);
//! * [`sources`] — rules from settings, JSON and XML files, a SQL table or your own
//!   [`RuleProvider`], assembled into one ordered list;
//! * [`matcher`] — [`RuleMatcher`], the compiled list: the first applying rule for a
//!   request's [`Targets`], in constant time in the number of rules;
//! * [`analysis`] — problems in a rule list (unanchored patterns, patterns that cannot match,
//!   shadowed rules) and the explanation of one decision.
//!
//! ```
//! use portcullis::firewall::{RuleMatcher, Targets};
//! use portcullis::firewall::sources::RuleAssembly;
//! use portcullis::settings::Settings;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! let settings = Settings::from_toml_str(r#"
//!     [firewall]
//!     default_authentication_action = "block"
//!     default_authorization_action = "block"
//!     rules = [
//!         { secureList = "^/admin/", whiteList = "^/admin/login/", match = "url", roles = "admin" },
//!         { secureList = "^/api/", match = "url" },
//!     ]
//! "#)?;
//! let rules = RuleAssembly::new(&settings.firewall).load().await?;
//! let matcher = RuleMatcher::new(&rules, settings.firewall.rules.use_regex)?;
//! let url = Targets::url_target("/Admin/users");
//! let applying = matcher.first_applying(&Targets::new(&url, None));
//! assert_eq!(applying.map(|i| rules[i].roles()), Some(&["admin".to_owned()][..]));
//! # Ok(()) }
//! ```

pub mod action;
pub mod analysis;
pub mod decision;
pub(crate) mod engine;
mod extract;
pub(crate) mod layer;
pub mod matcher;
mod rule;
mod ruleset;
mod secured;
pub mod sources;
pub mod validator;
mod verdict;

pub use self::action::SecuredUrl;
pub use self::engine::{Firewall, FirewallBuilder, GuardLevel, Interceptor, InvalidAccess};
pub use self::extract::{MatchedRule, VerdictOf};
pub use self::layer::{FirewallLayer, FirewallService, ResponseFuture};
pub use self::matcher::{RuleMatcher, Targets};
pub use self::rule::{Rule, RuleOrigin};
pub use self::ruleset::{Module, RuleSet};
pub use self::secured::Secured;
pub use self::sources::RuleProvider;
pub use self::validator::{
    AnyOf, AuthValidator, BasicAuthValidator, JwtValidator, SecurityValidator,
};
pub use self::verdict::{Verdict, VerdictKind};
