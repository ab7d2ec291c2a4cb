//! What the firewall would do with a request, decided from settings alone — for
//! `portcullis rules explain` and for tests of rule files.
//!
//! 1. The rules are matched as the firewall matches them ([`RuleAnalysis::explain`]): rules
//!    skipped by their whitelist are listed, then the rule that applies, if any.
//! 2. The validator's part is played by the given user's roles and permissions, as
//!    [`AuthValidator`](super::AuthValidator) decides (a JWT validator would also accept
//!    permissions from the token's `scope`); no user is an authentication failure, which a
//!    Basic validator answers with a challenge.
//! 3. The rule's IP list, then its method list, are enforced.
//! 4. A refusal gets the action the request's module (by entry point) or the global settings
//!    give it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> portcullis::Result<()> {
//! use portcullis::firewall::decision::{decide, Question};
//! use portcullis::firewall::sources::RuleAssembly;
//! use portcullis::settings::Settings;
//!
//! let settings = Settings::from_toml_str(r#"
//!     [firewall]
//!     invalid_authentication_event = "/login"
//!     default_authorization_action = "block"
//!     rules = [ { secureList = "^/admin/", match = "url", roles = "admin" } ]
//! "#)?;
//! let rules = RuleAssembly::new(&settings.firewall).load().await?;
//! let decision = decide(&settings.firewall, &rules, &Question::new(http::Method::GET, "/admin/x"))?;
//! assert_eq!(decision.explanation.applies.as_ref().map(|a| a.index), Some(0));
//! assert!(decision.to_string().contains("redirect to /login"));
//! # Ok(()) }
//! ```

use std::fmt;
use std::net::IpAddr;

use http::Method;
use serde::Serialize;

use super::action::{self, Resolved};
use super::analysis::{Explanation, RuleAnalysis};
use super::engine::defaults_for;
use super::validator::{not_logged_in, Requirements};
use super::{Rule, Targets, Verdict, VerdictKind};
use crate::auth::AuthUser;
use crate::settings::{FirewallSettings, ValidatorKind};
use crate::Result;

/// The request to decide about.
pub struct Question<'a> {
    /// The method.
    pub method: Method,
    /// The path (and no query).
    pub path: &'a str,
    /// The route template it would match, for `match = "route"` rules.
    pub route: Option<&'a str>,
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// The user, or `None` for a guest.
    pub user: Option<&'a dyn AuthUser>,
}

impl<'a> Question<'a> {
    /// A guest's request without a known address or route.
    pub fn new(method: Method, path: &'a str) -> Self {
        Question {
            method,
            path,
            route: None,
            ip: None,
            user: None,
        }
    }
}

/// What the firewall would do.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// Which rules were skipped and which applies.
    pub explanation: Explanation,
    /// The module the request belongs to, by entry point.
    pub module: Option<String>,
    /// The verdict, when a rule applies.
    pub verdict: Option<Verdict>,
    /// The action, when the verdict refuses.
    #[serde(skip)]
    pub action: Option<Resolved>,
}

/// Decides `question` against `rules` (as loaded from `settings`).
pub fn decide(
    settings: &FirewallSettings,
    rules: &[Rule],
    question: &Question<'_>,
) -> Result<Decision> {
    let analysis = RuleAnalysis::new(rules, settings.rules.use_regex)?;
    let url = Targets::url_target(question.path);
    let explanation = analysis.explain(&Targets::new(&url, question.route));
    let module = settings
        .modules
        .iter()
        .map(|(name, m)| {
            let entry = if m.entry_point.is_empty() {
                format!("/{name}")
            } else {
                m.entry_point.trim_end_matches('/').to_owned()
            };
            (name, m, entry)
        })
        .filter(|(_, _, entry)| {
            url.strip_prefix(entry.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
        .max_by_key(|(_, _, entry)| entry.len())
        .map(|(name, m, _)| (name.clone(), m));
    let Some(applied) = &explanation.applies else {
        return Ok(Decision {
            explanation,
            module: module.map(|(name, _)| name),
            verdict: None,
            action: None,
        });
    };
    let rule = &rules[applied.index];
    let mut verdict = match question.user {
        None => not_logged_in(),
        Some(user) => Requirements::of_rule(rule).judge(user, |_| false),
    };
    if !rule.spec().allows_any_ip() && !question.ip.is_some_and(|ip| rule.ip_allowed(ip)) {
        verdict = Verdict::deny(VerdictKind::Authorization, "Detected IP is not allowed");
    }
    if !rule.methods_allow(&question.method) {
        verdict = Verdict::deny(
            VerdictKind::Authorization,
            "Detected HTTP Method is not allowed",
        );
    }
    let validator = module
        .as_ref()
        .and_then(|(_, m)| m.validator.clone())
        .unwrap_or_else(|| settings.validator.clone());
    if validator == ValidatorKind::Basic && verdict.kind == VerdictKind::Authentication {
        verdict.challenge = !verdict.allow;
    }
    let action = (!verdict.allow).then(|| {
        let defaults = defaults_for(
            settings,
            module.as_ref().map(|(_, m)| *m),
            verdict.kind == VerdictKind::Authorization,
        );
        action::resolve(&verdict, Some(rule), defaults)
    });
    Ok(Decision {
        explanation,
        module: module.map(|(name, _)| name),
        verdict: Some(verdict),
        action,
    })
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.explanation)?;
        if let Some(module) = &self.module {
            writeln!(f, "module: {module}")?;
        }
        let Some(verdict) = &self.verdict else {
            return Ok(());
        };
        let outcome = if verdict.allow { "allowed" } else { "refused" };
        write!(f, "verdict: {outcome} ({})", verdict.kind.as_str())?;
        match verdict.messages.first() {
            Some(message) => writeln!(f, ": {message}")?,
            None => writeln!(f)?,
        }
        match &self.action {
            Some(Resolved::Redirect(target)) => writeln!(f, "action: redirect to {target} (302)"),
            Some(Resolved::Override(target)) => {
                writeln!(
                    f,
                    "action: override with {target} (its response, same request)"
                )
            }
            Some(Resolved::Block) => {
                let status = if verdict.kind == VerdictKind::Authorization {
                    403
                } else {
                    401
                };
                writeln!(f, "action: block ({status})")
            }
            None => Ok(()),
        }
    }
}
