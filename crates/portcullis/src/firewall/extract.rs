//! Extractors for what the firewall decided: the rule that applied and the verdict
//! (cbsecurity's `cbSecurity_matchedRule` and `cbSecurity_validatorResults`), and the refused
//! URL of an overridden request.
//!
//! ```no_run
//! use portcullis::firewall::{MatchedRule, VerdictOf};
//! use portcullis::firewall::SecuredUrl;
//!
//! // An override target (a login page) sees why it is answering.
//! async fn login(rule: Option<MatchedRule>, verdict: Option<VerdictOf>, back: Option<SecuredUrl>) -> String {
//!     format!("{:?} {:?} {:?}", rule.map(|r| r.0.id().to_owned()), verdict.map(|v| v.0.allow), back)
//! }
//! ```

use std::sync::Arc;

use super::action::SecuredUrl;
use super::{Rule, Verdict};
use crate::extension::extension_extractor;
use crate::Error;

/// The rule that applied to this request.
#[derive(Debug, Clone)]
pub struct MatchedRule(pub Arc<Rule>);

/// The verdict of the validator that decided this request.
#[derive(Debug, Clone)]
pub struct VerdictOf(pub Verdict);

/// The refusal when a firewall extractor finds nothing: the route is not behind the firewall.
fn not_behind_the_firewall(what: &str) -> Error {
    Error::config(
        "firewall",
        format!("no {what} on this request: is the route behind the firewall?"),
    )
}

extension_extractor!(MatchedRule, missing: not_behind_the_firewall("matched rule"));
extension_extractor!(VerdictOf, missing: not_behind_the_firewall("verdict"));
extension_extractor!(SecuredUrl, missing: not_behind_the_firewall("refused URL"));
