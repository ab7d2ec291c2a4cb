//! Problems in a rule list, and why a request gets the rule it gets (for
//! `portcullis rules check` and the visualizer).
//!
//! [`RuleAnalysis::report`] lists, per rule:
//!
//! * **unanchored** patterns (warning; info in substring mode, where every pattern is
//!   unanchored by design): a regex with neither `^` nor `$` is searched anywhere, so `admin`
//!   also matches `/badminton/`, and a whitelist `login` skips its rule for
//!   `/admin/login-as-root/`;
//! * patterns that **never match** (warning; an error when no securelist pattern of the rule
//!   can match, as the rule then never applies). Detected, for every target (urls and route
//!   templates both start with `/`): a `^`-anchored pattern whose every match starts with a
//!   character other than `/` (`^admin`). For url targets only, which end in `/` and contain
//!   no `//`, `?`, `#`, `.`/`..` segment or escaped unreserved character: a `$`-anchored
//!   pattern whose every match ends with a character other than `/` (`^/admin$`), and a
//!   pattern every match of which contains one of those sequences (`//`, `\?x=1`, `%2e`);
//! * rules **shadowed** by earlier rules (warning): every securelist pattern `q` of the rule
//!   is *covered* by a securelist pattern `p` of an earlier rule of the same target kind that
//!   has no whitelist — so whenever this rule could apply, an earlier one does. `p` covers `q`
//!   when (a) both parse to the same expression (`^/Admin/` and `^/admin/`), or (b) `p`
//!   matches every target (`.*`, `^`), or (c) `p` is a plain literal `s` (optionally with
//!   leading/trailing `.*`) and every match of `q` contains `s` (`admin` covers
//!   `^/admin/users/`), or (d) `p` is `^` + a plain literal `s` (optionally + `.*`), `q` is
//!   `^`-anchored and every match of `q` starts with `s` (`^/api/` covers
//!   `^/api/v2/orders/`, `^/api/v[12]/`). This is sound (a reported rule really is
//!   unreachable) but not complete: `^/a[bc]/` covering `^/ab/` is not detected;
//! * rules **checked on every request** (info): a securelist pattern without a literal the
//!   index can use, other than `/` which every target contains (`^/[a-z]+/$`), which adds
//!   its regex search to every request.
//!
//! [`RuleAnalysis::explain`] tells which rule applies to a request and which earlier rules
//! were skipped by their whitelist (with the patterns that decided).
//!
//! ```
//! use portcullis::firewall::analysis::{Problem, RuleAnalysis};
//! use portcullis::firewall::{Rule, Targets};
//! use portcullis::settings::RuleSpec;
//!
//! let rule = |json: serde_json::Value| Rule::new(serde_json::from_value::<RuleSpec>(json).unwrap()).unwrap();
//! let rules = [
//!     rule(serde_json::json!({"id": "api", "secureList": "^/api/", "match": "url"})),
//!     rule(serde_json::json!({"id": "orders", "secureList": "^/api/v2/orders/", "match": "url"})),
//!     rule(serde_json::json!({"id": "admin", "secureList": "^/admin$", "match": "url"})),
//! ];
//! let analysis = RuleAnalysis::new(&rules, true).unwrap();
//! let report = analysis.report();
//! assert!(matches!(report.rule("orders").unwrap().problems[0], Problem::Shadowed { .. }));
//! assert!(matches!(report.rule("admin").unwrap().problems[0], Problem::NeverMatches { .. }));
//! assert!(report.has_errors()); // rule "admin" can never apply
//!
//! let explanation = analysis.explain(&Targets::new("/api/v2/orders/7/", None));
//! assert_eq!(explanation.applies.unwrap().id, "api");
//! ```

use std::collections::HashMap;
use std::fmt;

use aho_corasick::AhoCorasick;
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Hir, Look};
use serde::Serialize;

use super::matcher::{
    anchored_prefixes, compile_list, pattern_literals, plain_literal, Pattern, Plain, Targets,
};
use super::Rule;
use crate::settings::MatchTarget;
use crate::Result;

/// How serious a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing (a cost, a style).
    Info,
    /// Probably not what the author meant.
    Warning,
    /// The rule cannot work as written.
    Error,
}

/// Which list of a rule a pattern belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum List {
    /// `securelist`.
    Securelist,
    /// `whitelist`.
    Whitelist,
}

impl fmt::Display for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            List::Securelist => "securelist",
            List::Whitelist => "whitelist",
        })
    }
}

/// An earlier rule, by position and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    /// The rule's position in the list (from 0).
    pub index: usize,
    /// The rule's id.
    pub id: String,
}

/// One problem of one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Problem {
    /// The pattern has neither `^` nor `$`: it matches wherever it occurs in the target.
    Unanchored {
        /// The list the pattern is in.
        list: List,
        /// The pattern.
        pattern: String,
        /// `true` in substring mode (`use_regex = false`), where this is by design.
        substring: bool,
    },
    /// The pattern cannot match any target of its rule.
    NeverMatches {
        /// The list the pattern is in.
        list: List,
        /// The pattern.
        pattern: String,
        /// Why.
        why: String,
        /// `true` if no securelist pattern of the rule can match: the rule never applies.
        rule_never_applies: bool,
    },
    /// Earlier rules apply to every target this rule's securelist matches.
    Shadowed {
        /// The earlier rules, one per securelist pattern (repeated rules listed once).
        by: Vec<RuleRef>,
    },
    /// A securelist pattern has no literal to index (other than `/`, which every target
    /// contains): the rule is checked on every request.
    AlwaysChecked {
        /// The pattern.
        pattern: String,
    },
}

impl Problem {
    /// How serious the problem is.
    pub fn severity(&self) -> Severity {
        match self {
            Problem::Unanchored {
                substring: true, ..
            }
            | Problem::AlwaysChecked { .. } => Severity::Info,
            Problem::NeverMatches {
                rule_never_applies: true,
                ..
            } => Severity::Error,
            _ => Severity::Warning,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unanchored {
                list,
                pattern,
                substring,
            } => {
                write!(
                    f,
                    "{list} pattern {pattern:?} matches anywhere in the target"
                )?;
                if *substring {
                    f.write_str(" (substring mode)")
                } else {
                    f.write_str(" (`admin` also matches `/badminton/`): anchor it with ^")
                }
            }
            Problem::NeverMatches {
                list,
                pattern,
                why,
                rule_never_applies,
            } => {
                write!(f, "{list} pattern {pattern:?} never matches: {why}")?;
                if *rule_never_applies {
                    f.write_str("; the rule never applies")?;
                }
                Ok(())
            }
            Problem::Shadowed { by } => {
                let rules: Vec<String> = by
                    .iter()
                    .map(|r| format!("{} (id {:?})", r.index, r.id))
                    .collect();
                write!(
                    f,
                    "never applies: earlier rule(s) {} apply to everything its securelist \
                     matches",
                    rules.join(", ")
                )
            }
            Problem::AlwaysChecked { pattern } => write!(
                f,
                "securelist pattern {pattern:?} has no literal to index (other than `/`): the \
                 rule is checked on every request"
            ),
        }
    }
}

/// The problems of one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleReport {
    /// The rule's position in the list (from 0).
    pub index: usize,
    /// The rule's id.
    pub id: String,
    /// Where the rule was declared.
    pub origin: String,
    /// What is wrong, worst first.
    pub problems: Vec<Problem>,
}

/// The problems of a rule list: only rules with problems are listed, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The rules with problems.
    pub rules: Vec<RuleReport>,
}

impl Report {
    /// The report of the rule with this id, if it has problems.
    pub fn rule(&self, id: &str) -> Option<&RuleReport> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The most serious problem's severity, `None` if there is none.
    pub fn worst(&self) -> Option<Severity> {
        self.rules
            .iter()
            .flat_map(|r| &r.problems)
            .map(Problem::severity)
            .max()
    }

    /// `true` if some rule cannot work as written.
    pub fn has_errors(&self) -> bool {
        self.worst() == Some(Severity::Error)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rules.is_empty() {
            return f.write_str("no problems found\n");
        }
        for rule in &self.rules {
            writeln!(
                f,
                "rule {} (id {:?}, {}):",
                rule.index, rule.id, rule.origin
            )?;
            for problem in &rule.problems {
                let severity = match problem.severity() {
                    Severity::Info => "info",
                    Severity::Warning => "warning",
                    Severity::Error => "error",
                };
                writeln!(f, "  {severity}: {problem}")?;
            }
        }
        Ok(())
    }
}

/// A rule skipped by its whitelist during [`RuleAnalysis::explain`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The rule's position (from 0).
    pub index: usize,
    /// The rule's id.
    pub id: String,
    /// The whitelist pattern that matched.
    pub whitelist: String,
    /// The securelist pattern that would have matched, if any (a whitelist skips its rule
    /// even when the securelist would not match).
    pub securelist: Option<String>,
}

/// The rule that applies, with the pattern that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// The rule's position (from 0).
    pub index: usize,
    /// The rule's id.
    pub id: String,
    /// The securelist pattern that matched.
    pub securelist: String,
}

/// Why a request gets the rule it gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The url target matched against.
    pub url: String,
    /// The route target, if a route matched.
    pub route: Option<String>,
    /// Earlier rules skipped by their whitelist, in order.
    pub skipped: Vec<Skipped>,
    /// The rule that applies; `None`: no rule applies and rules let the request through.
    pub applies: Option<Applied>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "url target: {}", self.url)?;
        match &self.route {
            Some(route) => writeln!(f, "route target: {route}")?,
            None => writeln!(f, "route target: none (no route matched)")?,
        }
        for skip in &self.skipped {
            write!(
                f,
                "skipped rule {} (id {:?}): whitelist {:?} matches",
                skip.index, skip.id, skip.whitelist
            )?;
            match &skip.securelist {
                Some(pattern) => writeln!(f, " (its securelist {pattern:?} would have)")?,
                None => writeln!(f, " (its securelist would not have matched anyway)")?,
            }
        }
        match &self.applies {
            Some(rule) => writeln!(
                f,
                "applies: rule {} (id {:?}), securelist {:?} matches",
                rule.index, rule.id, rule.securelist
            ),
            None => writeln!(f, "no rule applies: the rules let the request through"),
        }
    }
}

/// A rule list compiled for analysis.
#[derive(Debug)]
pub struct RuleAnalysis<'r> {
    rules: &'r [Rule],
    use_regex: bool,
    compiled: Vec<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    securelist: Vec<Pattern>,
    whitelist: Vec<Pattern>,
}

impl<'r> RuleAnalysis<'r> {
    /// Compiles the rules' patterns. `use_regex` is `rules.use_regex`.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) naming the rule and the pattern that does
    /// not compile, as [`RuleMatcher::new`](super::RuleMatcher::new) would.
    pub fn new(rules: &'r [Rule], use_regex: bool) -> Result<Self> {
        let compiled = rules
            .iter()
            .map(|rule| {
                Ok(Compiled {
                    securelist: compile_list(rule, "securelist", use_regex)?,
                    whitelist: compile_list(rule, "whitelist", use_regex)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(RuleAnalysis {
            rules,
            use_regex,
            compiled,
        })
    }

    /// Every problem found, per rule.
    pub fn report(&self) -> Report {
        let shadows = self.shadows();
        let mut report = Report::default();
        for (index, (rule, compiled)) in self.rules.iter().zip(&self.compiled).enumerate() {
            let mut problems = self.pattern_problems(rule, compiled);
            if let Some(by) = shadows.get(&index) {
                problems.push(Problem::Shadowed { by: by.clone() });
            }
            problems.sort_by_key(|p| std::cmp::Reverse(p.severity()));
            if !problems.is_empty() {
                report.rules.push(RuleReport {
                    index,
                    id: rule.id().to_owned(),
                    origin: rule.origin().to_string(),
                    problems,
                });
            }
        }
        report
    }

    fn pattern_problems(&self, rule: &Rule, compiled: &Compiled) -> Vec<Problem> {
        let url = rule.match_target() == MatchTarget::Url;
        let mut problems = Vec::new();
        let mut never = Vec::new();
        for (list, texts, patterns) in [
            (List::Securelist, rule.securelist(), &compiled.securelist),
            (List::Whitelist, rule.whitelist(), &compiled.whitelist),
        ] {
            for (text, pattern) in texts.iter().zip(patterns) {
                let looks = pattern.hir.properties();
                let anchored = looks.look_set_prefix().contains(Look::Start)
                    || looks.look_set_suffix().contains(Look::End);
                if !anchored {
                    problems.push(Problem::Unanchored {
                        list,
                        pattern: text.clone(),
                        substring: !self.use_regex,
                    });
                }
                if let Some(why) = never_matches(pattern, url) {
                    never.push((list, text.clone(), why));
                }
                let indexable = pattern_literals(pattern)
                    .iter()
                    .any(|set| set.iter().all(|s| s != "/"));
                if list == List::Securelist && !indexable {
                    problems.push(Problem::AlwaysChecked {
                        pattern: text.clone(),
                    });
                }
            }
        }
        let dead = never
            .iter()
            .filter(|(l, ..)| *l == List::Securelist)
            .count();
        let rule_never_applies = dead > 0 && dead == rule.securelist().len();
        for (list, pattern, why) in never {
            problems.push(Problem::NeverMatches {
                rule_never_applies: rule_never_applies && list == List::Securelist,
                list,
                pattern,
                why,
            });
        }
        problems
    }

    /// The shadowed rules, with the earlier rules covering them.
    fn shadows(&self) -> HashMap<usize, Vec<RuleRef>> {
        let mut out = HashMap::new();
        for kind in [MatchTarget::Url, MatchTarget::Route] {
            let covers = Covers::build(self, kind);
            for (index, (rule, compiled)) in self.rules.iter().zip(&self.compiled).enumerate() {
                if rule.match_target() != kind || compiled.securelist.is_empty() {
                    continue;
                }
                let by: Option<Vec<usize>> = compiled
                    .securelist
                    .iter()
                    .map(|q| covers.earliest_cover(q, index))
                    .collect();
                if let Some(mut by) = by {
                    by.sort_unstable();
                    by.dedup();
                    let by = by
                        .into_iter()
                        .map(|i| RuleRef {
                            index: i,
                            id: self.rules[i].id().to_owned(),
                        })
                        .collect();
                    out.insert(index, by);
                }
            }
        }
        out
    }

    /// Which rule applies to `targets`, and which earlier rules were skipped by their
    /// whitelist. Same result as the matcher; slower (it tries every rule in order).
    pub fn explain(&self, targets: &Targets<'_>) -> Explanation {
        let first = |patterns: &[Pattern], texts: &[String], target: &str| {
            patterns
                .iter()
                .zip(texts)
                .find(|(p, _)| p.regex.is_match(target))
                .map(|(_, text)| text.clone())
        };
        let mut skipped = Vec::new();
        let mut applies = None;
        for (index, (rule, compiled)) in self.rules.iter().zip(&self.compiled).enumerate() {
            let target = match rule.match_target() {
                MatchTarget::Url => targets.url,
                MatchTarget::Route => match targets.route {
                    Some(route) => route,
                    None => continue,
                },
            };
            let secure = first(&compiled.securelist, rule.securelist(), target);
            if let Some(whitelist) = first(&compiled.whitelist, rule.whitelist(), target) {
                skipped.push(Skipped {
                    index,
                    id: rule.id().to_owned(),
                    whitelist,
                    securelist: secure,
                });
                continue;
            }
            if let Some(securelist) = secure {
                applies = Some(Applied {
                    index,
                    id: rule.id().to_owned(),
                    securelist,
                });
                break;
            }
        }
        Explanation {
            url: targets.url.to_owned(),
            route: targets.route.map(str::to_owned),
            skipped,
            applies,
        }
    }
}

/// Why a pattern can never match a target (`url`: a url target, else a route template).
fn never_matches(pattern: &Pattern, url: bool) -> Option<String> {
    let hir = &pattern.hir;
    let looks = hir.properties();
    if looks.look_set_prefix().contains(Look::Start) {
        if let Some(first) = edge_chars(hir, ExtractKind::Prefix) {
            if !first.contains(&'/') {
                return Some(
                    "it is anchored with ^ but does not start with `/`, and every target does"
                        .to_owned(),
                );
            }
        }
    }
    if url && looks.look_set_suffix().contains(Look::End) {
        if let Some(last) = edge_chars(hir, ExtractKind::Suffix) {
            if !last.contains(&'/') {
                return Some(
                    "it is anchored with $ but does not end with `/`, and every url target \
                     does (one is added): end it with `/$` or drop the `$`"
                        .to_owned(),
                );
            }
        }
    }
    if url {
        let impossible = pattern_literals(pattern)
            .into_iter()
            .find(|set| set.iter().all(|s| impossible_in_url(s)));
        if let Some(set) = impossible {
            return Some(format!(
                "every match contains one of {set:?}, which a url target never contains \
                 (`//`, `?`, `#`, `.` and `..` segments and escaped unreserved characters are \
                 normalised away)"
            ));
        }
    }
    None
}

/// The first (prefix) or last (suffix) chars every match can have, if known and finite.
fn edge_chars(hir: &Hir, kind: ExtractKind) -> Option<Vec<char>> {
    let suffix = matches!(kind, ExtractKind::Suffix);
    let seq = Extractor::new().kind(kind).extract(hir);
    let literals = seq.literals()?;
    let mut chars = Vec::new();
    for literal in literals {
        let text = std::str::from_utf8(literal.as_bytes()).ok()?;
        let c = if suffix {
            text.chars().next_back()?
        } else {
            text.chars().next()?
        };
        chars.push(c);
    }
    (!chars.is_empty()).then_some(chars)
}

/// `true` if a folded string can never occur in a folded url target.
fn impossible_in_url(s: &str) -> bool {
    if s.contains("//") || s.contains(['?', '#']) || s.contains("/./") || s.contains("/../") {
        return true;
    }
    let bytes = s.as_bytes();
    bytes.windows(3).any(|w| {
        w[0] == b'%'
            && match (hex(w[1]), hex(w[2])) {
                (Some(h), Some(l)) => {
                    let c = char::from(h * 16 + l);
                    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
                }
                _ => false,
            }
    })
}

fn hex(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// The earlier whitelist-free rules' securelist patterns of one target kind, indexed by the
/// four covering cases.
struct Covers {
    /// The first rule with a pattern matching every target.
    everything: Option<usize>,
    /// The first rule with each expression (printed).
    same: HashMap<String, usize>,
    /// The first rule with each anchored plain literal.
    prefixes: HashMap<String, usize>,
    /// Unanchored plain literals, with the first rule of each.
    contained: Vec<(String, usize)>,
    contained_automaton: Option<AhoCorasick>,
}

impl Covers {
    fn build(analysis: &RuleAnalysis<'_>, kind: MatchTarget) -> Covers {
        let mut covers = Covers {
            everything: None,
            same: HashMap::new(),
            prefixes: HashMap::new(),
            contained: Vec::new(),
            contained_automaton: None,
        };
        let mut contained: HashMap<String, usize> = HashMap::new();
        for (index, (rule, compiled)) in analysis.rules.iter().zip(&analysis.compiled).enumerate() {
            if rule.match_target() != kind || !rule.whitelist().is_empty() {
                continue;
            }
            for p in &compiled.securelist {
                let props = p.hir.properties();
                if props.minimum_len() == Some(0) && props.look_set().is_empty() {
                    covers.everything.get_or_insert(index);
                }
                covers.same.entry(p.hir.to_string()).or_insert(index);
                match plain_literal(&p.hir) {
                    Some(Plain::Prefix(literal)) => {
                        covers.prefixes.entry(literal).or_insert(index);
                    }
                    Some(Plain::Contains(literal)) => {
                        contained.entry(literal).or_insert(index);
                    }
                    None => {}
                }
            }
        }
        covers.contained = contained.into_iter().collect();
        covers.contained.sort();
        if !covers.contained.is_empty() {
            let literals: Vec<&str> = covers.contained.iter().map(|(s, _)| s.as_str()).collect();
            covers.contained_automaton = AhoCorasick::new(literals).ok();
        }
        covers
    }

    /// The earliest rule before `before` covering pattern `q`.
    fn earliest_cover(&self, q: &Pattern, before: usize) -> Option<usize> {
        let mut best: Option<usize> = None;
        let mut consider = |candidate: Option<usize>| {
            if let Some(i) = candidate.filter(|&i| i < before) {
                best = Some(best.map_or(i, |b| b.min(i)));
            }
        };
        consider(self.everything);
        consider(self.same.get(&q.hir.to_string()).copied());
        consider(self.prefix_cover(&q.hir, before));
        consider(self.contained_cover(q, before));
        best
    }

    /// An anchored literal `s` (before `before`) that every match of `q` starts with.
    fn prefix_cover(&self, q: &Hir, before: usize) -> Option<usize> {
        let prefixes = anchored_prefixes(q)?;
        let mut common: &str = prefixes.first()?;
        for prefix in &prefixes {
            common = common_prefix(common, prefix);
        }
        common
            .char_indices()
            .map(|(at, c)| &common[..at + c.len_utf8()])
            .filter_map(|prefix| self.prefixes.get(prefix).copied())
            .filter(|&i| i < before)
            .min()
    }

    /// An unanchored literal `s` (before `before`) contained in every string of one of
    /// `q`'s literal sets.
    fn contained_cover(&self, q: &Pattern, before: usize) -> Option<usize> {
        let automaton = self.contained_automaton.as_ref()?;
        let mut best: Option<usize> = None;
        for set in pattern_literals(q) {
            let mut common: Option<Vec<usize>> = None;
            for text in &set {
                let mut found: Vec<usize> = automaton
                    .find_overlapping_iter(text.as_str())
                    .map(|m| m.pattern().as_usize())
                    .collect();
                found.sort_unstable();
                found.dedup();
                common = Some(match common {
                    None => found,
                    Some(prev) => prev.into_iter().filter(|i| found.contains(i)).collect(),
                });
            }
            for literal in common.unwrap_or_default() {
                let (_, rule) = self.contained[literal];
                if rule < before {
                    best = Some(best.map_or(rule, |b| b.min(rule)));
                }
            }
        }
        best
    }
}

fn common_prefix<'a>(a: &'a str, b: &str) -> &'a str {
    let end = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or_else(|| a.len().min(b.len()), |((at, _), _)| at);
    &a[..end]
}
