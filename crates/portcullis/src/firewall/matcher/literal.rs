//! Required literals: strings one of which every match of a pattern contains.
//!
//! For a parsed pattern this module computes *literal sets*: sets of folded strings
//! ([`super::fold`]) such that the folded text of every match contains at least one string
//! of the set. A pattern can have several such sets (`^/api/.*/export$` has `{"/api/"}` and
//! `{"/export"}`); the index later picks the most selective one. A pattern with no set (`.*`,
//! `^/[a-z]+/$`) must be checked on every request.
//!
//! Per node of the syntax tree:
//!
//! * a literal is *exact*: every match folds to it; a class of few chars is exact with the
//!   folded chars as alternatives (`(?i)a` → `{"a"}`, `[xy]` → `{"x", "y"}`);
//! * an empty match or a look-around (`^`, `$`, `\b`) is exact `{""}`;
//! * a concatenation joins the exact sets of neighbouring items (cross product, bounded), and
//!   every maximal run so joined is a literal set of the whole;
//! * a repetition with a minimum of at least one keeps its body's sets; an optional part
//!   (`?`, `*`, `{0,n}`) yields nothing;
//! * an alternation has the union of one set per branch (if every branch has one).
//!
//! ```text
//! (?i)^/API/v2/orders/       → {"/api/v2/orders/"}
//! ^/static/.*\.(css|js)$     → {"/static/"}, {".css", ".js"}, {"css", "js"}
//! admin|manage               → {"admin", "manage"}
//! ^/[0-9]+/$                 → {"/"}          (a weak set: the index prefers others)
//! .*                         → none
//! ```

use regex_syntax::hir::{Class, Hir, HirKind, Look};

use super::fold::fold_char;

/// The most strings in one set.
const MAX_SET: usize = 16;
/// The longest literal kept, in bytes; a run reaching it is closed.
const MAX_LEN: usize = 256;
/// The most chars of a class looked into.
const MAX_CLASS_CHARS: u32 = 64;
/// The most distinct folded chars a class may stand for.
const MAX_CLASS_VALUES: usize = 4;
/// The most sets kept per node.
const MAX_SETS: usize = 8;

/// A set of folded strings, sorted and without duplicates.
pub(crate) type LiteralSet = Vec<String>;

/// What is known about the matches of one node.
struct Info {
    /// Every match folds to one of these (small and finite), or nothing is known.
    exact: Option<LiteralSet>,
    /// Sets of non-empty strings, one of which every match contains.
    sets: Vec<LiteralSet>,
}

impl Info {
    fn exact(set: LiteralSet) -> Info {
        Info {
            exact: Some(set),
            sets: Vec::new(),
        }
    }

    fn unknown() -> Info {
        Info {
            exact: None,
            sets: Vec::new(),
        }
    }

    /// Every set this node guarantees, its exact set included.
    fn all_sets(self) -> Vec<LiteralSet> {
        let mut sets = self.sets;
        if let Some(exact) = self.exact {
            add_set(&mut sets, exact);
        }
        sets
    }
}

/// The literal sets of a parsed pattern, best first (longest shortest string).
pub(crate) fn literal_sets(hir: &Hir) -> Vec<LiteralSet> {
    info(hir).all_sets()
}

/// For a pattern starting with `^`: the folded strings every match starts with (the
/// longest run of exact items after the anchor), if there are such non-empty strings.
pub(crate) fn anchored_prefixes(hir: &Hir) -> Option<LiteralSet> {
    let HirKind::Concat(items) = hir.kind() else {
        return None;
    };
    let (first, rest) = items.split_first()?;
    if !matches!(first.kind(), HirKind::Look(Look::Start)) {
        return None;
    }
    let mut run = vec![String::new()];
    for item in rest {
        let Some(exact) = info(item).exact else {
            break;
        };
        match cross(&run, &exact) {
            Some(joined) => run = joined,
            None => break,
        }
    }
    run.iter().all(|s| !s.is_empty()).then_some(run)
}

/// A pattern that is a plain case-insensitive literal search, with its folded literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plain {
    /// `^s` or `^s.*`: matches exactly the targets that start with `s` (folded).
    Prefix(String),
    /// `s`, `.*s`, `s.*`: matches exactly the targets that contain `s` (folded).
    Contains(String),
}

/// A repetition that may match nothing (`.*`, `x?`).
fn is_optional(hir: &Hir) -> bool {
    matches!(hir.kind(), HirKind::Repetition(r) if r.min == 0)
}

/// Recognises a plain literal search (see [`Plain`]). Exact: the part after the anchor must
/// parse to the very expression `(?i)` gives the folded literal, so every position accepts
/// exactly the chars that fold to the literal's char there, and a target matches if and only
/// if its folded text starts with (contains) the literal.
pub(crate) fn plain_literal(hir: &Hir) -> Option<Plain> {
    let items: Vec<&Hir> = match hir.kind() {
        HirKind::Concat(items) => items.iter().collect(),
        _ => vec![hir],
    };
    let mut items = &items[..];
    while let Some((last, rest)) = items.split_last() {
        if !is_optional(last) {
            break;
        }
        items = rest;
    }
    let anchored = matches!(
        items.first().map(|h| h.kind()),
        Some(HirKind::Look(Look::Start))
    );
    if anchored {
        items = &items[1..];
    } else {
        while let Some((first, rest)) = items.split_first() {
            if !is_optional(first) {
                break;
            }
            items = rest;
        }
    }
    let body = Hir::concat(items.iter().map(|h| (*h).clone()).collect());
    let mut exact = info(&body).exact?;
    if exact.len() != 1 {
        return None;
    }
    let literal = exact.pop()?;
    if literal.is_empty() || super::pattern::literal_hir(&literal)? != body {
        return None;
    }
    Some(if anchored {
        Plain::Prefix(literal)
    } else {
        Plain::Contains(literal)
    })
}

/// How good a set is alone: the length of its shortest string (longer is more selective),
/// then fewer strings.
fn score(set: &LiteralSet) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = set.iter().map(String::len).min().unwrap_or(0);
    (shortest, std::cmp::Reverse(set.len()))
}

/// Adds a usable set (non-empty strings only), keeping the best [`MAX_SETS`].
fn add_set(sets: &mut Vec<LiteralSet>, set: LiteralSet) {
    if set.is_empty() || set.iter().any(String::is_empty) || sets.contains(&set) {
        return;
    }
    sets.push(set);
    sets.sort_by_key(|set| std::cmp::Reverse(score(set)));
    sets.truncate(MAX_SETS);
}

fn info(hir: &Hir) -> Info {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Info::exact(vec![String::new()]),
        HirKind::Literal(literal) => match std::str::from_utf8(&literal.0) {
            Ok(text) if text.len() <= MAX_LEN => {
                Info::exact(vec![text.chars().map(fold_char).collect()])
            }
            _ => Info::unknown(),
        },
        HirKind::Class(class) => class_values(class).map_or_else(Info::unknown, Info::exact),
        HirKind::Repetition(repetition) => {
            if repetition.min == 0 {
                return Info::unknown();
            }
            let body = info(&repetition.sub);
            let once = repetition.min == 1 && repetition.max == Some(1);
            let exact = if once { body.exact.clone() } else { None };
            Info {
                exact,
                sets: body.all_sets(),
            }
        }
        HirKind::Capture(capture) => info(&capture.sub),
        HirKind::Concat(items) => concat(items),
        HirKind::Alternation(branches) => alternation(branches),
    }
}

/// The folded chars a class stands for, if they are few.
fn class_values(class: &Class) -> Option<LiteralSet> {
    let mut values: Vec<char> = Vec::new();
    let mut count = 0u32;
    let mut add = |start: u32, end: u32, values: &mut Vec<char>| -> Option<()> {
        count += end - start + 1;
        if count > MAX_CLASS_CHARS {
            return None;
        }
        for c in (start..=end).filter_map(char::from_u32) {
            let folded = fold_char(c);
            if !values.contains(&folded) {
                values.push(folded);
            }
        }
        (values.len() <= MAX_CLASS_VALUES).then_some(())
    };
    match class {
        Class::Unicode(class) => {
            for range in class.iter() {
                add(
                    u32::from(range.start()),
                    u32::from(range.end()),
                    &mut values,
                )?;
            }
        }
        Class::Bytes(class) => {
            for range in class.iter() {
                if !range.end().is_ascii() {
                    return None;
                }
                add(
                    u32::from(range.start()),
                    u32::from(range.end()),
                    &mut values,
                )?;
            }
        }
    }
    let mut set: LiteralSet = values.into_iter().map(String::from).collect();
    set.sort();
    Some(set)
}

/// Every concatenation `a + b` for `a` in `left`, `b` in `right`, if within the bounds.
fn cross(left: &LiteralSet, right: &LiteralSet) -> Option<LiteralSet> {
    if left.len() * right.len() > MAX_SET {
        return None;
    }
    let mut out = Vec::with_capacity(left.len() * right.len());
    for a in left {
        for b in right {
            if a.len() + b.len() > MAX_LEN {
                return None;
            }
            out.push(format!("{a}{b}"));
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

fn concat(items: &[Hir]) -> Info {
    let mut sets = Vec::new();
    let mut run: LiteralSet = vec![String::new()];
    let mut whole = true;
    for item in items {
        let item = info(item);
        for set in item.sets {
            add_set(&mut sets, set);
        }
        match item.exact {
            Some(exact) => match cross(&run, &exact) {
                Some(joined) => run = joined,
                None => {
                    add_set(&mut sets, std::mem::replace(&mut run, exact));
                    whole = false;
                }
            },
            None => {
                add_set(&mut sets, std::mem::replace(&mut run, vec![String::new()]));
                whole = false;
            }
        }
    }
    let exact = whole.then(|| run.clone());
    add_set(&mut sets, run);
    Info { exact, sets }
}

fn alternation(branches: &[Hir]) -> Info {
    let infos: Vec<Info> = branches.iter().map(info).collect();
    let exact = infos
        .iter()
        .try_fold(Vec::new(), |mut union: LiteralSet, branch| {
            union.extend(branch.exact.as_ref()?.iter().cloned());
            Some(union)
        })
        .map(|mut union| {
            union.sort();
            union.dedup();
            union
        })
        .filter(|union| union.len() <= MAX_SET);
    let mut union: LiteralSet = Vec::new();
    let mut complete = true;
    for branch in infos {
        match branch.all_sets().into_iter().next() {
            Some(best) => union.extend(best),
            None => {
                complete = false;
                break;
            }
        }
    }
    union.sort();
    union.dedup();
    let mut sets = Vec::new();
    if complete && union.len() <= MAX_SET {
        add_set(&mut sets, union);
    }
    Info { exact, sets }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::matcher::pattern::Pattern;

    fn sets(pattern: &str) -> Vec<Vec<String>> {
        literal_sets(&Pattern::compile(pattern, true).unwrap().hir)
    }

    fn set(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn anchored_prefix_runs() {
        assert_eq!(sets("^/API/v2/Orders/"), [set(&["/api/v2/orders/"])]);
        assert_eq!(sets("^/kit/"), [set(&["/kit/"])]);
    }

    #[test]
    fn wildcards_and_alternations() {
        assert_eq!(
            sets(r"^/static/.*\.(css|js)$"),
            [
                set(&["/static/"]),
                set(&[".css", ".js"]),
                set(&["css", "js"])
            ]
        );
        assert_eq!(sets("admin|manage"), [set(&["admin", "manage"])]);
        assert_eq!(sets("^/[0-9]+/x$"), [set(&["/x"]), set(&["/"])]);
        assert!(sets(".*").is_empty());
        assert!(sets("^/(admin)?$").iter().all(|s| s == &set(&["/"])));
        assert!(sets("x|.*").is_empty());
    }

    #[test]
    fn small_classes_and_non_ascii() {
        assert_eq!(sets("^/v[12]/"), [set(&["/v1/", "/v2/"])]);
        assert_eq!(sets("é"), [set(&["É", "é"])]);
        assert_eq!(sets("(?-i)A"), [set(&["a"])]);
    }

    #[test]
    fn prefixes() {
        let prefixes = |p: &str| anchored_prefixes(&Pattern::compile(p, true).unwrap().hir);
        assert_eq!(
            prefixes("^/API/v[12]/x+"),
            Some(set(&["/api/v1/", "/api/v2/"]))
        );
        assert_eq!(prefixes("^/api/.*"), Some(set(&["/api/"])));
        assert_eq!(prefixes("/api/"), None);
        assert_eq!(prefixes("^.*"), None);
    }

    #[test]
    fn plain_literals() {
        let plain = |p: &str| plain_literal(&Pattern::compile(p, true).unwrap().hir);
        assert_eq!(plain("^/API/v2/"), Some(Plain::Prefix("/api/v2/".into())));
        assert_eq!(plain("^/api/.*"), Some(Plain::Prefix("/api/".into())));
        assert_eq!(plain(".*Admin.*"), Some(Plain::Contains("admin".into())));
        assert_eq!(plain("kit"), Some(Plain::Contains("kit".into())));
        assert_eq!(plain("^.*admin"), None);
        assert_eq!(plain("(?-i)admin"), None);
        assert_eq!(plain("é"), None);
        assert_eq!(plain("^/a/$"), None);
        assert_eq!(plain("^/v[12]/"), None);
        assert_eq!(plain(".*"), None);
    }

    #[test]
    fn repetitions() {
        assert_eq!(sets("(ab)+c"), [set(&["ab"]), set(&["c"])]);
        assert_eq!(sets("a{2}"), [set(&["a"])]);
        assert!(sets("(ab)*").is_empty());
    }
}
