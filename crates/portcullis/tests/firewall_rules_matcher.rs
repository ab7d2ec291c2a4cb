//! The indexed [`RuleMatcher`] against the naive reference loop ([`NaiveMatcher`]), on random
//! rule sets and targets: they must pick the same rule every time.
//!
//! The generator mixes anchored prefixes, unanchored literals, classes, repetitions,
//! alternations, inline flags, case variants (including `K` KELVIN SIGN and `ſ` LONG S, which
//! `(?i)` matches with ASCII `k` and `s`), whitelists, both target kinds, requests without a
//! route, and substring mode with regex metacharacters.

use std::sync::atomic::{AtomicUsize, Ordering};

use portcullis::firewall::matcher::{NaiveMatcher, RuleMatcher, Targets};
use portcullis::firewall::Rule;
use portcullis::settings::RuleSpec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;

/// How many random rule sets the main property runs in regex mode (a third of that in
/// substring mode): fewer in a debug build, where compiling regexes is slow.
/// `PORTCULLIS_MATCHER_CASES` overrides it, e.g. `PORTCULLIS_MATCHER_CASES=30000 cargo test
/// --release -p portcullis --test firewall_rules_matcher` (about 3 CPU minutes).
const CASES: u32 = if cfg!(debug_assertions) { 600 } else { 6000 };

fn cases() -> u32 {
    std::env::var("PORTCULLIS_MATCHER_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CASES)
}

const ATOMS: &[&str] = &[
    "/",
    "/",
    "/api",
    "/admin",
    "admin",
    "/v2",
    "v2",
    "orders",
    "/orders/",
    "s",
    "S",
    "k",
    "K",
    "\u{17F}",
    "\u{212A}",
    "é",
    "É",
    "x",
    "css",
    "\\.",
    "-",
    "[a-z]",
    "[0-9]",
    "[ks]",
    "\\d",
    "\\w",
    ".",
    "[^/]",
    "(admin)?",
    "x*",
    "[a-z]+",
    ".*",
    "s{2}",
    "(ab)+",
    "(css|js)",
    "(admin|api)",
    "(?-i:A)",
    "(|x)",
    "\\b",
    "/static/.*",
    "[/]",
];

const TEXT: &[&str] = &[
    "/",
    "/",
    "/",
    "api",
    "admin",
    "ADMIN",
    "Admin",
    "v2",
    "orders",
    "s",
    "S",
    "k",
    "K",
    "\u{17F}",
    "\u{212A}",
    "é",
    "É",
    "x",
    "css",
    "js",
    ".",
    "-",
    "badminton",
    "1",
    "42",
    "ab",
    "static",
    "A",
    "a",
    "\u{17F}tatic",
    "\u{212A}it",
    "\n",
];

const SUBSTRINGS: &[&str] = &[
    "/", "api", "admin", "Admin", "s", "K", "\u{17F}", "\u{212A}", "é", "É", ".", "*", "(", "[",
    "?", "$", "^", "|", "\\", "css", "v2", "/orders/",
];

fn regex_pattern() -> impl Strategy<Value = String> {
    let atom = || prop::sample::select(ATOMS).prop_map(str::to_owned);
    (
        any::<bool>(),
        prop::collection::vec(atom(), 1..4),
        prop::option::weighted(0.2, prop::collection::vec(atom(), 1..3)),
        prop::bool::weighted(0.25),
    )
        .prop_map(|(start, body, alternative, end)| {
            let mut pattern = String::new();
            if start {
                pattern.push('^');
            }
            pattern.push_str(&body.concat());
            if let Some(alternative) = alternative {
                pattern.push('|');
                pattern.push_str(&alternative.concat());
            }
            if end {
                pattern.push('$');
            }
            pattern
        })
}

fn substring_pattern() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(SUBSTRINGS), 1..4).prop_map(|parts| parts.concat())
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TEXT), 0..7).prop_map(|parts| parts.concat())
}

#[derive(Debug, Clone)]
struct RuleInput {
    url: bool,
    securelist: Vec<String>,
    whitelist: Vec<String>,
}

fn rules(use_regex: bool) -> impl Strategy<Value = Vec<RuleInput>> {
    let pattern = move || {
        if use_regex {
            regex_pattern().boxed()
        } else {
            substring_pattern().boxed()
        }
    };
    let rule = (
        prop::bool::weighted(0.7),
        prop::collection::vec(pattern(), 1..4),
        prop::collection::vec(pattern(), 0..3),
        prop::bool::weighted(0.6),
    )
        .prop_map(|(url, securelist, whitelist, no_whitelist)| RuleInput {
            url,
            securelist,
            whitelist: if no_whitelist { Vec::new() } else { whitelist },
        });
    prop::collection::vec(rule, 0..12)
}

fn build(inputs: &[RuleInput]) -> Vec<Rule> {
    inputs
        .iter()
        .map(|input| {
            let spec: RuleSpec = serde_json::from_value(json!({
                "securelist": input.securelist,
                "whitelist": input.whitelist,
                "match": if input.url { "url" } else { "route" },
            }))
            .expect("generated rules parse");
            Rule::new(spec).expect("generated rules are valid")
        })
        .collect()
}

struct Tally {
    hits: AtomicUsize,
    misses: AtomicUsize,
    skipped_first: AtomicUsize,
}

static TALLY: Tally = Tally {
    hits: AtomicUsize::new(0),
    misses: AtomicUsize::new(0),
    skipped_first: AtomicUsize::new(0),
};

fn check(use_regex: bool, inputs: &[RuleInput], targets: &[(String, Option<String>)]) {
    let rules = build(inputs);
    let naive = NaiveMatcher::new(&rules, use_regex).expect("generated patterns compile");
    let fast = RuleMatcher::new(&rules, use_regex).expect("generated patterns compile");
    for (url, route) in targets {
        // Raw strings and canonical url targets both: the matcher must agree on any input.
        let canonical = Targets::url_target(url);
        for url in [url.as_str(), &canonical] {
            let targets = Targets::new(url, route.as_deref());
            let expected = naive.first_applying(&targets);
            let found = fast.first_applying(&targets);
            assert_eq!(
                found, expected,
                "use_regex={use_regex} url={url:?} route={route:?}\nrules: {inputs:#?}"
            );
            match expected {
                Some(_) => TALLY.hits.fetch_add(1, Ordering::Relaxed),
                None => TALLY.misses.fetch_add(1, Ordering::Relaxed),
            };
            if expected.is_some_and(|i| i > 0) {
                TALLY.skipped_first.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn targets() -> impl Strategy<Value = Vec<(String, Option<String>)>> {
    prop::collection::vec(
        (text(), prop::option::weighted(0.7, text()))
            .prop_map(|(url, route)| (format!("/{url}"), route.map(|route| format!("/{route}")))),
        2..12,
    )
}

#[test]
fn indexed_matcher_equals_the_naive_loop() {
    for use_regex in [true, false] {
        let cases = if use_regex { cases() } else { cases() / 3 };
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&(rules(use_regex), targets()), |(inputs, targets)| {
                check(use_regex, &inputs, &targets);
                Ok(())
            })
            .unwrap();
    }
    let hits = TALLY.hits.load(Ordering::Relaxed);
    let misses = TALLY.misses.load(Ordering::Relaxed);
    let later = TALLY.skipped_first.load(Ordering::Relaxed);
    eprintln!(
        "{} regex + {} substring rule sets: {hits} hits ({later} on a later rule), {misses} misses",
        cases(),
        cases() / 3
    );
    // The generator must exercise both outcomes, and rules after the first.
    let total = hits + misses;
    assert!(
        hits * 5 > total && misses * 10 > total,
        "{hits} hits, {misses} misses"
    );
    assert!(later * 10 > hits, "{later} of {hits} hits on a later rule");
}

/// Many rules of the realistic kind (as in the benchmark), many targets.
#[test]
fn large_realistic_rule_sets_agree() {
    let mut inputs = Vec::new();
    for i in 0..2000 {
        let securelist = match i % 5 {
            0 => vec![format!("^/api/v{}/orders{i}/", i % 3)],
            1 => vec![format!("^/static{i}/.*\\.(css|js)$")],
            2 => vec![format!("admin{i}"), format!("^/x{i}/")],
            3 => vec![format!("^/users/[0-9]+/item{i}/")],
            _ => vec![format!("^/shop/{i}/(cart|checkout)/")],
        };
        let whitelist = if i % 7 == 0 {
            vec![format!("^/api/v{}/orders{i}/public/", i % 3)]
        } else {
            Vec::new()
        };
        inputs.push(RuleInput {
            url: i % 11 != 0,
            securelist,
            whitelist,
        });
    }
    inputs.push(RuleInput {
        url: true,
        securelist: vec!["^/[a-z]+/$".into()],
        whitelist: Vec::new(),
    });
    let mut targets = Vec::new();
    for i in (0..2100).step_by(7) {
        for url in [
            format!("/api/v{}/orders{i}/", i % 3),
            format!("/api/v{}/orders{i}/public/x/", i % 3),
            format!("/static{i}/app.min.JS/"),
            format!("/x/badmin{i}x/"),
            format!("/users/{i}/item{i}/"),
            format!("/shop/{i}/checkout/"),
            format!("/nothing{i}/here/"),
            "/plain/".to_owned(),
        ] {
            targets.push((url, Some(format!("/route{i}"))));
        }
    }
    check(true, &inputs, &targets);
}

/// Route rules never apply to a request that matched no route, even with a whitelist.
#[test]
fn route_rules_need_a_route() {
    let inputs = [RuleInput {
        url: false,
        securelist: vec![".*".into()],
        whitelist: vec!["^/public".into()],
    }];
    let rules = build(&inputs);
    let fast = RuleMatcher::new(&rules, true).unwrap();
    assert_eq!(fast.first_applying(&Targets::new("/x/", None)), None);
    assert_eq!(
        fast.first_applying(&Targets::new("/x/", Some("/x"))),
        Some(0)
    );
    assert_eq!(
        fast.first_applying(&Targets::new("/x/", Some("/public/{*p}"))),
        None
    );
    assert_eq!(fast.always_checked(), 1);
}

proptest! {
    #![proptest_config(Config { cases: 2000, failure_persistence: None, ..Config::default() })]

    /// The url target is canonical: normalising it again changes nothing, it starts and ends
    /// with `/`, and it has no empty or dot segment and no escaped unreserved character.
    #[test]
    fn url_targets_are_canonical(path in "(/|//|\\.|\\.\\.|%2[eE]|%41|%2F|%|a|B|é|\\?q|#f){0,12}") {
        let url = Targets::url_target(&path).into_owned();
        prop_assert_eq!(Targets::url_target(&url), url.as_str());
        prop_assert!(url.starts_with('/') && url.ends_with('/'));
        prop_assert!(!url.contains("//") && !url.contains("/./") && !url.contains("/../"));
        prop_assert!(!url.contains("%2e") && !url.contains("%2E") && !url.contains("%41"));
        prop_assert!(!url.contains(['?', '#']));
    }
}
