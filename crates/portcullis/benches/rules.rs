//! Rule matching: the literal-indexed `RuleMatcher` next to the naive one-regex-per-pattern
//! loop (`NaiveMatcher`), in the same run, at 10, 100, 1 000 and 10 000 rules.
//!
//! Rules are realistic: anchored path prefixes (`^/api/v2/orders17/`), unanchored literals
//! (`report-17`), wildcards (`^/static17/.*\.(css|js)/$`), route templates
//! (`^/users/\{id\}/posts17$`) and whitelists. Requests: a hit on an early rule, a hit on a
//! late rule (a plain prefix, confirmed by the literal index alone), a hit on a late wildcard
//! rule (its regex runs), and a miss. Run with `cargo bench -p portcullis --bench rules`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use portcullis::firewall::matcher::{NaiveMatcher, RuleMatcher, Targets};
use portcullis::firewall::Rule;
use portcullis::settings::RuleSpec;
use serde_json::{json, Value};

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
const RESOURCES: [&str; 6] = [
    "orders", "users", "invoices", "reports", "products", "teams",
];

/// Rule `i` of a list; every kind recurs with period 10.
fn rule_json(i: usize) -> Value {
    let resource = RESOURCES[i % RESOURCES.len()];
    let version = 1 + i % 3;
    match i % 10 {
        0..=4 => {
            json!({"securelist": [format!("^/api/v{version}/{resource}{i}/")], "match": "url"})
        }
        5 => json!({"securelist": [format!("report-{i}")], "match": "url"}),
        6 => json!({"securelist": [format!(r"^/static{i}/.*\.(css|js)/$")], "match": "url"}),
        7 => json!({"securelist": [format!(r"^/users/\{{id\}}/posts{i}$")]}),
        8 => json!({
            "securelist": [format!("^/admin/{resource}{i}/")],
            "whitelist": [format!("^/admin/{resource}{i}/public/")],
            "match": "url"
        }),
        _ => json!({
            "securelist": [format!("^/shop/{resource}{i}/"), format!("^/cart/{i}/")],
            "roles": "buyer",
            "match": "url"
        }),
    }
}

fn rules(n: usize) -> Vec<Rule> {
    (0..n)
        .map(|i| {
            let spec: RuleSpec = serde_json::from_value(rule_json(i)).expect("bench rule");
            Rule::new(spec).expect("bench rule")
        })
        .collect()
}

/// A url target that rule `i` (of kind 0..=4, an api prefix) applies to.
fn api_url(i: usize) -> String {
    let resource = RESOURCES[i % RESOURCES.len()];
    format!("/api/v{}/{resource}{i}/42/items/", 1 + i % 3)
}

/// The last rule before `n` of a kind (`i % 10` in `kinds`).
fn late_rule(n: usize, kinds: std::ops::RangeInclusive<usize>) -> usize {
    (0..n)
        .rev()
        .find(|i| kinds.contains(&(i % 10)))
        .unwrap_or(0)
}

/// The process's resident memory in KiB (Linux; 0 elsewhere).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let route = "/users/{id}";
    for n in SIZES {
        let rules = rules(n);
        let (before, start) = (rss_kib(), Instant::now());
        let matcher = RuleMatcher::new(&rules, true).expect("bench rules compile");
        let (built, after) = (start.elapsed(), rss_kib());
        let naive = NaiveMatcher::new(&rules, true).expect("bench rules compile");
        eprintln!(
            "{n} rules: RuleMatcher built in {built:.1?}, about {} KiB, {} checked on every \
             request",
            after.saturating_sub(before),
            matcher.always_checked()
        );
        let late = late_rule(n, 0..=4);
        let wildcard = late_rule(n, 6..=6);
        let cases = [
            ("hit_early", api_url(1)),
            ("hit_late", api_url(late)),
            (
                "hit_late_regex",
                format!("/static{wildcard}/css/app.min.CSS/"),
            ),
            ("miss", "/api/v2/nothing/here/at/all/".to_owned()),
        ];
        for (name, url) in &cases {
            let targets = Targets::new(url, Some(route));
            let expected = naive.first_applying(&targets);
            assert_eq!(matcher.first_applying(&targets), expected, "{name} at {n}");
            match *name {
                "hit_early" => assert_eq!(expected, Some(1)),
                "hit_late" => assert_eq!(expected, Some(late)),
                "hit_late_regex" => assert_eq!(expected, Some(wildcard)),
                _ => assert_eq!(expected, None),
            }
        }

        let mut group = c.benchmark_group(format!("rules/{n}"));
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        for (name, url) in &cases {
            let targets = Targets::new(url, Some(route));
            group.bench_with_input(BenchmarkId::new("matcher", name), &targets, |b, t| {
                b.iter(|| matcher.first_applying(black_box(t)))
            });
        }
        if n >= 1_000 {
            // Milliseconds per request at 10 000 rules: few samples.
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(if n >= 10_000 { 4 } else { 2 }));
        }
        for (name, url) in &cases {
            let targets = Targets::new(url, Some(route));
            group.bench_with_input(BenchmarkId::new("naive", name), &targets, |b, t| {
                b.iter(|| naive.first_applying(black_box(t)))
            });
        }
        group.finish();
    }

    let mut group = c.benchmark_group("url_target");
    for path in [
        "/api/v2/orders/42/",
        "/api/v2/orders/42",
        "//api/./v2/%6Frders/../x",
    ] {
        group.bench_with_input(BenchmarkId::from_parameter(path), path, |b, p| {
            b.iter(|| Targets::url_target(black_box(p)).len())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
