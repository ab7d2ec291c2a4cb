//! [`RuleMatcher`]: finds the first rule that applies to a request, at a cost that does not
//! grow with the number of rules.
//!
//! # Semantics (spec §2.6)
//!
//! Rules are taken in list order. A rule's patterns are matched against its target
//! ([`Targets`]: the canonical request path for `match = "url"`, the route template
//! otherwise; a route rule cannot apply to a request that matched no route). With
//! `use_regex = true` a pattern is a regular expression searched anywhere in the target,
//! case-insensitively; with `false` it is a case-insensitive substring. If a whitelist
//! pattern matches, the rule is skipped (this rule only: later rules are still tried); else,
//! if a securelist pattern matches, the rule **applies** and matching stops. If no rule
//! applies, rules let the request through. The IP and method lists are enforced after a match
//! by the pipeline ([`Rule::ip_allowed`], [`Rule::methods_allow`]); they do not take part here.
//!
//! # Algorithm
//!
//! At build time:
//!
//! 1. compile every pattern (errors name the rule and the pattern) and parse it into a syntax
//!    tree with the same flags;
//! 2. extract from each securelist pattern the literal sets every match must contain
//!    (`literal`: anchored prefixes, inner required substrings, alternations), folded
//!    to one case (`fold`);
//! 3. per target kind, choose for each pattern its most selective set, and put all chosen
//!    literals into one Aho-Corasick automaton mapping each literal to the rules using it; a
//!    rule with a pattern without any literal is checked on every request; a pattern that is
//!    a plain literal search (`^/api/v2/`, `admin`, `^/static/.*`) is marked so that finding
//!    its literal (at the start of the target, for `^`) counts as a match (`index`).
//!
//! Per request:
//!
//! 4. fold the url target (borrowed when it is already lower-case ASCII) and run one
//!    overlapping Aho-Corasick pass over it (and one over the route template, if route rules
//!    exist and a route matched): the literals present give the candidate rules, some already
//!    confirmed, to which the always-checked rules are added;
//! 5. sort the candidates into rule order;
//! 6. for each candidate in order: unless it is confirmed, search its securelist regexes in
//!    its target; if the securelist matches and no whitelist regex matches, that rule is the
//!    answer;
//! 7. if no candidate applies, no rule applies.
//!
//! A rule that is not a candidate cannot have a matching securelist pattern, so it cannot
//! apply, and whether its whitelist matches does not matter; the result is therefore the same
//! as the naive loop's ([`NaiveMatcher`]), which the property tests check on random rule sets.
//!
//! ```
//! use portcullis::firewall::matcher::{RuleMatcher, Targets};
//! use portcullis::firewall::Rule;
//! use portcullis::settings::RuleSpec;
//!
//! let rule = |json: serde_json::Value| Rule::new(serde_json::from_value::<RuleSpec>(json).unwrap()).unwrap();
//! let rules = [
//!     rule(serde_json::json!({"secureList": "^/admin/", "whiteList": "^/admin/login/", "match": "url"})),
//!     rule(serde_json::json!({"secureList": "^/admin/", "match": "url", "roles": "audit"})),
//!     rule(serde_json::json!({"secureList": "^/users/\\{id\\}$"})),
//! ];
//! let matcher = RuleMatcher::new(&rules, true).unwrap();
//! let url = Targets::url_target("/ADMIN");
//! assert_eq!(matcher.first_applying(&Targets::new(&url, None)), Some(0));
//! let url = Targets::url_target("/admin/login");
//! assert_eq!(matcher.first_applying(&Targets::new(&url, None)), Some(1));
//! assert_eq!(matcher.first_applying(&Targets::new("/users/7/", Some("/users/{id}"))), Some(2));
//! assert_eq!(matcher.first_applying(&Targets::new("/users/7/", None)), None);
//! ```

mod fold;
mod index;
mod literal;
pub mod naive;
mod pattern;
mod target;

use std::cell::RefCell;

use regex::Regex;

use self::index::{decode, Candidate, Index, IndexInput, PatternInput};
use self::literal::literal_sets;
use crate::firewall::Rule;
use crate::settings::MatchTarget;
use crate::{Error, Result};

pub use self::naive::NaiveMatcher;
pub use self::pattern::{MAX_PATTERN_LEN, NEST_LIMIT, SIZE_LIMIT};
pub use self::target::Targets;

pub(crate) use self::literal::{anchored_prefixes, plain_literal, LiteralSet, Plain};
pub(crate) use self::pattern::{compile_list, Pattern};

/// The literal sets of a compiled pattern (for the analysis).
pub(crate) fn pattern_literals(pattern: &Pattern) -> Vec<LiteralSet> {
    literal_sets(&pattern.hir)
}

/// An ordered rule list compiled for matching. Build it once; share it (it is `Send + Sync`).
#[derive(Debug)]
pub struct RuleMatcher {
    rules: Vec<CompiledRule>,
    url: Index,
    route: Index,
}

#[derive(Debug)]
struct CompiledRule {
    target: MatchTarget,
    securelist: Vec<Regex>,
    whitelist: Vec<Regex>,
}

/// Per-thread scratch space, so that a request does not allocate once warmed up.
#[derive(Default)]
struct Scratch {
    seen: Vec<u32>,
    candidates: Vec<Candidate>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl RuleMatcher {
    /// Compiles `rules` (in order; the first applying rule wins). `use_regex` is
    /// `rules.use_regex`: patterns are regular expressions, else substrings.
    ///
    /// # Errors
    /// [`Error::Config`] naming the rule and the pattern that does not compile or exceeds
    /// the limits ([`MAX_PATTERN_LEN`], [`NEST_LIMIT`], [`SIZE_LIMIT`]).
    pub fn new(rules: &[Rule], use_regex: bool) -> Result<Self> {
        let mut compiled = Vec::with_capacity(rules.len());
        let mut url = IndexInput::new();
        let mut route = IndexInput::new();
        for (number, rule) in rules.iter().enumerate() {
            let number = u32::try_from(number)
                .map_err(|_| Error::config("firewall.rules", "more than 2^32 rules"))?;
            let securelist = compile_list(rule, "securelist", use_regex)?;
            let whitelist = compile_list(rule, "whitelist", use_regex)?;
            if !securelist.is_empty() {
                let patterns = securelist
                    .iter()
                    .map(|pattern| PatternInput {
                        sets: pattern_literals(pattern),
                        plain: plain_literal(&pattern.hir),
                    })
                    .collect();
                match rule.match_target() {
                    MatchTarget::Url => url.push((number, patterns)),
                    MatchTarget::Route => route.push((number, patterns)),
                }
            }
            compiled.push(CompiledRule {
                target: rule.match_target(),
                securelist: securelist.into_iter().map(|p| p.regex).collect(),
                whitelist: whitelist.into_iter().map(|p| p.regex).collect(),
            });
        }
        let index = |input: &IndexInput| {
            Index::build(input).map_err(|reason| {
                Error::config(
                    "firewall.rules",
                    format!("cannot index the rules: {reason}"),
                )
            })
        };
        Ok(RuleMatcher {
            rules: compiled,
            url: index(&url)?,
            route: index(&route)?,
        })
    }

    /// The index (in the list given to [`RuleMatcher::new`]) of the first rule that applies
    /// to `targets`, or `None` if none does.
    pub fn first_applying(&self, targets: &Targets<'_>) -> Option<usize> {
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => self.search(targets, &mut scratch),
            Err(_) => self.search(targets, &mut Scratch::default()),
        })
    }

    fn search(&self, targets: &Targets<'_>, scratch: &mut Scratch) -> Option<usize> {
        let Scratch { seen, candidates } = scratch;
        candidates.clear();
        if !self.url.is_empty() {
            let folded = fold::fold_str(targets.url);
            self.url.candidates(&folded, seen, candidates);
        }
        if let (Some(route), false) = (targets.route, self.route.is_empty()) {
            let folded = fold::fold_str(route);
            self.route.candidates(&folded, seen, candidates);
        }
        candidates.sort_unstable();
        let mut last = None;
        for &candidate in candidates.iter() {
            let (number, confirmed) = decode(candidate);
            if last == Some(number) {
                continue; // the confirmed form came first
            }
            last = Some(number);
            let Some(rule) = self.rules.get(number) else {
                continue;
            };
            let target = match rule.target {
                MatchTarget::Url => targets.url,
                MatchTarget::Route => match targets.route {
                    Some(route) => route,
                    None => continue,
                },
            };
            if (confirmed || rule.securelist.iter().any(|re| re.is_match(target)))
                && !rule.whitelist.iter().any(|re| re.is_match(target))
            {
                return Some(number);
            }
        }
        None
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// `true` if there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// How many rules are checked on every request because a securelist pattern of theirs
    /// has no literal to index (see [`crate::firewall::analysis`]); keep it small.
    pub fn always_checked(&self) -> usize {
        self.url.always_len() + self.route.always_len()
    }
}
