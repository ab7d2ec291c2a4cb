//! One rule pattern, compiled: its regular expression and its syntax tree.
//!
//! With `use_regex = true` a pattern is a regular expression searched anywhere in the target;
//! with `false` it is a plain substring, compiled as the escaped regex, so both modes share
//! one definition of "case-insensitive": Unicode simple case folding (`regex`'s `(?i)`).
//! Patterns are bounded so that a rule file cannot exhaust memory or the stack: at most
//! [`MAX_PATTERN_LEN`] bytes, [`NEST_LIMIT`] levels of nesting, and a compiled program of at
//! most [`SIZE_LIMIT`] bytes.
//!
//! ```text
//! "^/admin/"  (regex)      → (?i)^/admin/
//! "a.b"       (substring)  → (?i)a\.b
//! ```

use regex::{Regex, RegexBuilder};
use regex_syntax::hir::Hir;
use regex_syntax::ParserBuilder;

use crate::firewall::Rule;
use crate::Result;

/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 4096;
/// The deepest nesting of groups and repetitions accepted.
pub const NEST_LIMIT: u32 = 64;
/// The largest compiled program accepted for one pattern, in bytes.
pub const SIZE_LIMIT: usize = 1 << 20;

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    /// The regex the target is searched with.
    pub(crate) regex: Regex,
    /// The parsed expression, with the same flags as `regex`.
    pub(crate) hir: Hir,
}

/// The regex source a pattern stands for in the given mode.
pub(crate) fn source(pattern: &str, use_regex: bool) -> std::borrow::Cow<'_, str> {
    if use_regex {
        std::borrow::Cow::Borrowed(pattern)
    } else {
        std::borrow::Cow::Owned(regex::escape(pattern))
    }
}

impl Pattern {
    /// Compiles `pattern`; the error says what is wrong with it.
    pub(crate) fn compile(pattern: &str, use_regex: bool) -> Result<Pattern, String> {
        if pattern.len() > MAX_PATTERN_LEN {
            return Err(format!(
                "longer than {MAX_PATTERN_LEN} bytes: split it into several patterns"
            ));
        }
        let source = source(pattern, use_regex);
        let hir = parser()
            .parse(&source)
            .map_err(|err| format!("not a valid regular expression: {}", one_line(&err)))?;
        let regex = RegexBuilder::new(&source)
            .case_insensitive(true)
            .nest_limit(NEST_LIMIT)
            .size_limit(SIZE_LIMIT)
            .build()
            .map_err(|err| format!("not a usable regular expression: {}", one_line(&err)))?;
        Ok(Pattern { regex, hir })
    }
}

/// The parsed expression of a plain case-insensitive literal, as a substring pattern of
/// that text parses.
pub(crate) fn literal_hir(literal: &str) -> Option<Hir> {
    parser().parse(&regex::escape(literal)).ok()
}

/// The parser, with the flags every pattern is compiled with.
fn parser() -> regex_syntax::Parser {
    ParserBuilder::new()
        .case_insensitive(true)
        .nest_limit(NEST_LIMIT)
        .build()
}

/// Compiles the patterns of one of a rule's lists (`securelist` or `whitelist`); an error
/// names the rule, the list and the pattern.
pub(crate) fn compile_list(rule: &Rule, list: &str, use_regex: bool) -> Result<Vec<Pattern>> {
    let patterns = match list {
        "whitelist" => rule.whitelist(),
        _ => rule.securelist(),
    };
    patterns
        .iter()
        .enumerate()
        .map(|(index, pattern)| {
            Pattern::compile(pattern, use_regex).map_err(|reason| {
                rule.config_error(
                    &format!("{list}[{index}]"),
                    format!("{pattern:?} is {reason}"),
                )
            })
        })
        .collect()
}

/// A parser error on one line (the parser draws the pattern with a caret underneath).
fn one_line(err: &dyn std::fmt::Display) -> String {
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    match lines.iter().rposition(|line| line.starts_with("error:")) {
        Some(at) => lines[at..].join(" "),
        None => lines.join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        let p = Pattern::compile("^/ADMIN/", true).unwrap();
        assert!(p.regex.is_match("/admin/users/"));
        let p = Pattern::compile("a.b", false).unwrap();
        assert!(p.regex.is_match("xA.By") && !p.regex.is_match("axb"));
    }

    #[test]
    fn bad_patterns_say_why() {
        let err = Pattern::compile("(admin", true).unwrap_err();
        assert!(
            err.starts_with("not a valid regular expression: error: unclosed group"),
            "{err}"
        );
        assert!(!err.contains('\n'));
        assert!(Pattern::compile(&"a".repeat(MAX_PATTERN_LEN + 1), true)
            .unwrap_err()
            .starts_with("longer than"));
        assert!(
            Pattern::compile(&format!("{}a{}", "(".repeat(100), ")".repeat(100)), true).is_err()
        );
        let err = Pattern::compile(r"\w{1000}", true).unwrap_err();
        assert!(err.contains("size limit"), "{err}");
    }
}
