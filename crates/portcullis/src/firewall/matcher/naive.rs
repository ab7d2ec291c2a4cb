//! [`NaiveMatcher`]: the reference matcher, one regex search per pattern in rule order.
//!
//! It is spec §2.6 written down as directly as possible, and the definition the fast
//! [`RuleMatcher`](super::RuleMatcher) is tested against (on random rule sets) and
//! benchmarked next to. Its cost grows with the number of rules: do not use it to serve.
//!
//! ```
//! use portcullis::firewall::matcher::{NaiveMatcher, Targets};
//! use portcullis::firewall::Rule;
//! use portcullis::settings::RuleSpec;
//!
//! let spec: RuleSpec = serde_json::from_value(serde_json::json!(
//!     {"secureList": "^/admin/", "whiteList": "^/admin/login/", "match": "url"}
//! )).unwrap();
//! let naive = NaiveMatcher::new(&[Rule::new(spec).unwrap()], true).unwrap();
//! assert_eq!(naive.first_applying(&Targets::new("/admin/users/", None)), Some(0));
//! assert_eq!(naive.first_applying(&Targets::new("/admin/login/", None)), None);
//! ```

use regex::Regex;

use super::pattern::compile_list;
use super::Targets;
use crate::firewall::Rule;
use crate::settings::MatchTarget;
use crate::Result;

/// The reference matcher (spec §2.6, literally).
#[derive(Debug, Clone)]
pub struct NaiveMatcher {
    rules: Vec<NaiveRule>,
}

#[derive(Debug, Clone)]
struct NaiveRule {
    target: MatchTarget,
    whitelist: Vec<Regex>,
    securelist: Vec<Regex>,
}

impl NaiveMatcher {
    /// Compiles every pattern of `rules`, in order. `use_regex` is `rules.use_regex`.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) naming the rule and the pattern that does
    /// not compile.
    pub fn new(rules: &[Rule], use_regex: bool) -> Result<Self> {
        let rules = rules
            .iter()
            .map(|rule| {
                let regexes = |list| -> Result<Vec<Regex>> {
                    let patterns = compile_list(rule, list, use_regex)?;
                    Ok(patterns.into_iter().map(|p| p.regex).collect())
                };
                Ok(NaiveRule {
                    target: rule.match_target(),
                    whitelist: regexes("whitelist")?,
                    securelist: regexes("securelist")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(NaiveMatcher { rules })
    }

    /// The index of the first rule that applies to `targets`: for each rule in order, a
    /// whitelist match skips it, else a securelist match makes it apply.
    pub fn first_applying(&self, targets: &Targets<'_>) -> Option<usize> {
        for (index, rule) in self.rules.iter().enumerate() {
            let target = match rule.target {
                MatchTarget::Url => targets.url,
                MatchTarget::Route => match targets.route {
                    Some(route) => route,
                    None => continue,
                },
            };
            if rule.whitelist.iter().any(|re| re.is_match(target)) {
                continue;
            }
            if rule.securelist.iter().any(|re| re.is_match(target)) {
                return Some(index);
            }
        }
        None
    }
}
